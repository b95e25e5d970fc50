/* Tests for qt_metrics: exact exposition text, HELP/TYPE once per family, label and
 * help escaping, validity per `promtool check metrics` (and a structural checker that
 * runs always), JSON rendering, atomic updates under contention, the series bound, and
 * that programming errors (bad names/labels, kind clash) abort. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qt_metrics.h"

#define PROMTOOL "/usr/bin/promtool"

/* Pipes text into `promtool check metrics`; returns its exit status, or -1 when absent. */
static int promtool_check(const char *text)
{
    if (access(PROMTOOL, X_OK) != 0)
        return -1;
    FILE *p = popen(PROMTOOL " check metrics", "w");
    assert_non_null(p);
    fwrite(text, 1, strlen(text), p);
    int st = pclose(p);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

/* Structural check of the text format: every family has HELP then TYPE exactly once,
 * before its samples; samples belong to the last TYPE'd family; every sample carries
 * the service label; values parse. Returns the number of samples. */
static size_t structure_check(const char *text, const char *service)
{
    char seen[256][128];
    size_t nseen = 0, nsamples = 0;
    char cur[128] = "";
    char svc[160];
    snprintf(svc, sizeof svc, "{service=\"%s\"", service);
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        char line[2048];
        size_t len = (size_t)(nl - p);
        assert_true(len < sizeof line);
        memcpy(line, p, len);
        line[len] = '\0';
        if (strncmp(line, "# HELP ", 7) == 0) {
            char name[128];
            assert_int_equal(sscanf(line + 7, "%127s", name), 1);
            for (size_t i = 0; i < nseen; i++)
                if (strcmp(seen[i], name) == 0)
                    fail_msg("HELP for %s twice", name);
            assert_true(nseen < 256);
            snprintf(seen[nseen++], 128, "%s", name);
            snprintf(cur, sizeof cur, "%s", name);
            /* TYPE must follow */
            const char *next = nl + 1;
            char want[200];
            snprintf(want, sizeof want, "# TYPE %s ", name);
            assert_int_equal(strncmp(next, want, strlen(want)), 0);
        } else if (strncmp(line, "# TYPE ", 7) == 0) {
            char name[128], kind[32];
            assert_int_equal(sscanf(line + 7, "%127s %31s", name, kind), 2);
            assert_string_equal(name, cur);
            assert_true(strcmp(kind, "counter") == 0 || strcmp(kind, "gauge") == 0);
        } else {
            assert_true(cur[0] != '\0');
            assert_int_equal(strncmp(line, cur, strlen(cur)), 0);
            assert_int_equal(strncmp(line + strlen(cur), svc, strlen(svc)), 0);
            const char *sp = strrchr(line, ' ');
            assert_non_null(sp);
            assert_true(sp[-1] == '}');
            const char *v = sp + 1;
            if (strcmp(v, "NaN") && strcmp(v, "+Inf") && strcmp(v, "-Inf")) {
                char *end;
                strtod(v, &end);
                assert_true(*v && *end == '\0');
            }
            nsamples++;
        }
        p = nl + 1;
    }
    return nsamples;
}

static void test_selftest(void **state)
{
    (void)state;
    assert_int_equal(qt_metrics_selftest(false), 0);
}

static void test_render_exact_and_grouped(void **state)
{
    (void)state;
    qt_metrics_t *m = qt_metrics_new("qt-risk");
    qt_counter_t *r1 = qt_metrics_counter(m, "qt_rejects_total", "Rejected intents.",
                                          "code=\"MAX_GROSS\"");
    qt_gauge_t *g = qt_metrics_gauge(m, "qt_exposure_usd", "Gross exposure.", NULL);
    /* a second label set registered after another family: still grouped */
    qt_counter_t *r2 = qt_metrics_counter(m, "qt_rejects_total", "ignored", "code=\"COOLDOWN\"");
    qt_counter_t *r3 = qt_metrics_counter(m, "qt_rejects_total", NULL, NULL);
    qt_counter_add(r1, 3);
    qt_counter_inc(r2);
    qt_gauge_set(g, -1250.25);
    (void)r3;
    char *t = qt_metrics_render(m);
    assert_non_null(t);
    assert_string_equal(t, "# HELP qt_rejects_total Rejected intents.\n"
                           "# TYPE qt_rejects_total counter\n"
                           "qt_rejects_total{service=\"qt-risk\",code=\"MAX_GROSS\"} 3\n"
                           "qt_rejects_total{service=\"qt-risk\",code=\"COOLDOWN\"} 1\n"
                           "qt_rejects_total{service=\"qt-risk\"} 0\n"
                           "# HELP qt_exposure_usd Gross exposure.\n"
                           "# TYPE qt_exposure_usd gauge\n"
                           "qt_exposure_usd{service=\"qt-risk\"} -1250.25\n");
    assert_int_equal(structure_check(t, "qt-risk"), 4);
    int rc = promtool_check(t);
    assert_true(rc == 0 || rc == -1);
    free(t);
    qt_metrics_destroy(&m);
    assert_null(m);
    qt_metrics_destroy(&m);
    qt_metrics_destroy(NULL);
}

static void test_empty_registry(void **state)
{
    (void)state;
    qt_metrics_t *m = qt_metrics_new("qt-x");
    char *t = qt_metrics_render(m);
    assert_string_equal(t, "");
    free(t);
    char *j = qt_metrics_render_json(m);
    assert_string_equal(j, "{}");
    free(j);
    qt_metrics_destroy(&m);
}

static void test_escaping_and_special_values(void **state)
{
    (void)state;
    qt_metrics_t *m = qt_metrics_new("svc\"with\\odd\nname");
    qt_counter_t *c = qt_metrics_counter(m, "qt_bad_input_total", "Bad input\\dropped\nsee docs.",
                                         "reason=\"quote\\\"and\\\\slash\\nnl\",topic=\"md.bar\"");
    qt_counter_add(c, UINT64_MAX); /* full range renders as an integer */
    qt_gauge_t *gn = qt_metrics_gauge(m, "qt_nan_value", "NaN.", "k=\"a\"");
    qt_gauge_t *gi = qt_metrics_gauge(m, "qt_nan_value", "NaN.", "k=\"b\"");
    qt_gauge_t *gm = qt_metrics_gauge(m, "qt_nan_value", "NaN.", "k=\"c\"");
    qt_gauge_t *gt = qt_metrics_gauge(m, "qt_tiny_value", "Tiny.", NULL);
    qt_gauge_set(gn, NAN);
    qt_gauge_set(gi, INFINITY);
    qt_gauge_set(gm, -INFINITY);
    qt_gauge_set(gt, 1e-300);
    char *t = qt_metrics_render(m);
    assert_non_null(strstr(t, "# HELP qt_bad_input_total Bad input\\\\dropped\\nsee docs.\n"));
    assert_non_null(strstr(t, "qt_bad_input_total{service=\"svc\\\"with\\\\odd\\nname\","
                              "reason=\"quote\\\"and\\\\slash\\nnl\",topic=\"md.bar\"} "
                              "18446744073709551615\n"));
    assert_non_null(strstr(t, "k=\"a\"} NaN\n"));
    assert_non_null(strstr(t, "k=\"b\"} +Inf\n"));
    assert_non_null(strstr(t, "k=\"c\"} -Inf\n"));
    assert_non_null(strstr(t, "qt_tiny_value{service=\"svc\\\"with\\\\odd\\nname\"} 1e-300\n"));
    int rc = promtool_check(t);
    assert_true(rc == 0 || rc == -1);
    free(t);

    char *j = qt_metrics_render_json(m);
    json_error_t err;
    json_t *o = json_loads(j, 0, &err);
    assert_non_null(o);
    json_t *v = json_object_get(o, "qt_nan_value{k=\"a\"}");
    assert_true(json_is_null(v));
    assert_true(json_is_null(json_object_get(o, "qt_nan_value{k=\"b\"}")));
    assert_true(json_real_value(json_object_get(o, "qt_tiny_value")) == 1e-300);
    json_t *cv = json_object_get(o, "qt_bad_input_total{reason=\"quote\\\"and\\\\slash\\nnl\","
                                    "topic=\"md.bar\"}");
    assert_true(json_is_integer(cv));
    assert_true(json_integer_value(cv) == INT64_MAX); /* clamped: JSON ints are signed */
    json_decref(o);
    free(j);
    qt_metrics_destroy(&m);
}

static void test_promtool_realistic(void **state)
{
    (void)state;
    qt_metrics_t *m = qt_metrics_new("qt-ingest");
    const char *reasons[] = {"truncated", "nan_price", "out_of_order", "duplicate", "oversized"};
    for (size_t i = 0; i < 5; i++) {
        char l[64];
        snprintf(l, sizeof l, "reason=\"%s\"", reasons[i]);
        qt_counter_add(qt_metrics_counter(m, "qt_bars_rejected_total", "Bars dropped.", l), i);
    }
    qt_counter_add(qt_metrics_counter(m, "qt_bars_total", "Bars published.", "symbol=\"BTC_USDT\",interval=\"1m\""), 1440);
    qt_counter_add(qt_metrics_counter(m, "qt_bars_total", "Bars published.", "symbol=\"ETH_USDT\",interval=\"1m\""), 1439);
    qt_gauge_set(qt_metrics_gauge(m, "qt_last_bar_age_seconds", "Age of the last bar.", NULL), 12.5);
    qt_gauge_set(qt_metrics_gauge(m, "qt_up", "1 while running.", NULL), 1);
    char *t = qt_metrics_render(m);
    assert_int_equal(structure_check(t, "qt-ingest"), 9);
    int rc = promtool_check(t);
    if (rc == -1)
        print_message("promtool not found: structural check only\n");
    else
        assert_int_equal(rc, 0);
    /* and promtool really does reject broken text, so the check above means something */
    if (rc != -1) {
        assert_int_not_equal(promtool_check("# TYPE x counter\n# TYPE x counter\nx 1\n"), 0);
        assert_int_not_equal(promtool_check("qt_a_total{service=\"x} 1\n"), 0);
    }
    free(t);
    qt_metrics_destroy(&m);
}

static void test_same_pointer_and_find(void **state)
{
    (void)state;
    qt_metrics_t *m = qt_metrics_new("s");
    qt_counter_t *a = qt_metrics_counter(m, "qt_a_total", "A.", NULL);
    assert_ptr_equal(qt_metrics_counter(m, "qt_a_total", "A.", NULL), a);
    assert_ptr_equal(qt_metrics_counter(m, "qt_a_total", "A.", ""), a); /* "" == NULL */
    qt_counter_t *al = qt_metrics_counter(m, "qt_a_total", "A.", "x=\"1\"");
    assert_ptr_not_equal(al, a);
    qt_gauge_t *g = qt_metrics_gauge(m, "qt_g", "G.", "x=\"1\"");
    assert_ptr_equal(qt_metrics_find_counter(m, "qt_a_total", NULL), a);
    assert_ptr_equal(qt_metrics_find_counter(m, "qt_a_total", "x=\"1\""), al);
    assert_null(qt_metrics_find_counter(m, "qt_a_total", "x=\"2\""));
    assert_null(qt_metrics_find_counter(m, "qt_b_total", NULL));
    assert_null(qt_metrics_find_counter(m, "qt_g", "x=\"1\"")); /* a gauge */
    assert_null(qt_metrics_find_counter(m, NULL, NULL));
    assert_null(qt_metrics_find_counter(NULL, "qt_a_total", NULL));
    assert_ptr_equal(qt_metrics_find_gauge(m, "qt_g", "x=\"1\""), g);
    assert_null(qt_metrics_find_gauge(m, "qt_a_total", NULL));
    /* NULL-safe updates */
    qt_counter_inc(NULL);
    qt_counter_add(NULL, 3);
    qt_gauge_set(NULL, 1);
    qt_gauge_add(NULL, 1);
    assert_true(qt_counter_value(NULL) == 0);
    assert_true(qt_gauge_value(NULL) == 0.0);
    qt_gauge_set(g, 2.0);
    qt_gauge_add(g, -0.5);
    assert_true(qt_gauge_value(g) == 1.5);
    assert_null(qt_metrics_render(NULL));
    assert_null(qt_metrics_render_json(NULL));
    qt_metrics_destroy(&m);
}

typedef struct {
    qt_counter_t *c;
    qt_gauge_t *g;
} pair_t;

static void *hammer(void *arg)
{
    pair_t *p = arg;
    for (int i = 0; i < 100000; i++) {
        qt_counter_inc(p->c);
        qt_gauge_add(p->g, 1.0);
    }
    return NULL;
}

static void *renderer(void *arg)
{
    qt_metrics_t *m = arg;
    for (int i = 0; i < 200; i++) {
        char *t = qt_metrics_render(m);
        free(t);
        char *j = qt_metrics_render_json(m);
        free(j);
    }
    return NULL;
}

static void test_concurrent_updates(void **state)
{
    (void)state;
    qt_metrics_t *m = qt_metrics_new("s");
    pair_t p = {qt_metrics_counter(m, "qt_hits_total", "Hits.", NULL),
                qt_metrics_gauge(m, "qt_level", "Level.", NULL)};
    pthread_t t[8], r;
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &p), 0);
    assert_int_equal(pthread_create(&r, NULL, renderer, m), 0);
    /* registration concurrent with updates and rendering */
    for (int i = 0; i < 100; i++) {
        char l[32];
        snprintf(l, sizeof l, "i=\"%d\"", i);
        qt_counter_inc(qt_metrics_counter(m, "qt_more_total", "More.", l));
    }
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    pthread_join(r, NULL);
    assert_true(qt_counter_value(p.c) == 800000);
    assert_true(qt_gauge_value(p.g) == 800000.0);
    qt_metrics_destroy(&m);
}

static void test_series_bound(void **state)
{
    (void)state;
    qt_metrics_t *m = qt_metrics_new("s");
    qt_counter_t *first = NULL, *over1 = NULL, *over2 = NULL;
    for (int i = 0; i < 5000; i++) {
        char l[32];
        snprintf(l, sizeof l, "id=\"%d\"", i);
        qt_counter_t *c = qt_metrics_counter(m, "qt_ids_total", "Ids.", l);
        assert_non_null(c);
        qt_counter_inc(c);
        if (i == 0)
            first = c;
        if (i == 4096)
            over1 = c;
        if (i == 4999)
            over2 = c;
    }
    assert_ptr_equal(over1, over2); /* the sink */
    assert_ptr_not_equal(first, over1);
    assert_true(qt_counter_value(over1) == 5000 - 4096);
    /* existing series still resolve */
    assert_ptr_equal(qt_metrics_counter(m, "qt_ids_total", "Ids.", "id=\"0\""), first);
    assert_null(qt_metrics_find_counter(m, "qt_ids_total", "id=\"4500\""));
    qt_gauge_t *g = qt_metrics_gauge(m, "qt_new_gauge", "New.", NULL);
    assert_non_null(g);
    qt_gauge_set(g, 3);
    char *t = qt_metrics_render(m);
    assert_int_equal(structure_check(t, "s"), 4096);
    assert_null(strstr(t, "qt_new_gauge"));
    free(t);
    qt_metrics_destroy(&m);
}

/* Runs fn in a child and returns true when it died of SIGABRT. */
static bool aborts(void (*fn)(qt_metrics_t *))
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, 2);
        qt_metrics_t *m = qt_metrics_new("s");
        fn(m);
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
}

static void bad_prefix(qt_metrics_t *m) { qt_metrics_counter(m, "frames_total", "x", NULL); }
static void bad_suffix(qt_metrics_t *m) { qt_metrics_counter(m, "qt_frames", "x", NULL); }
static void bad_gauge_total(qt_metrics_t *m) { qt_metrics_gauge(m, "qt_frames_total", "x", NULL); }
static void bad_upper(qt_metrics_t *m) { qt_metrics_gauge(m, "qt_Frames", "x", NULL); }
static void bad_char(qt_metrics_t *m) { qt_metrics_gauge(m, "qt_a-b", "x", NULL); }
static void bad_null(qt_metrics_t *m) { qt_metrics_gauge(m, NULL, "x", NULL); }
static void bad_only_suffix(qt_metrics_t *m) { qt_metrics_counter(m, "qt_total", "x", NULL); }
static void bad_label_unquoted(qt_metrics_t *m) { qt_metrics_gauge(m, "qt_g", "x", "a=b"); }
static void bad_label_braces(qt_metrics_t *m) { qt_metrics_gauge(m, "qt_g", "x", "{a=\"b\"}"); }
static void bad_label_service(qt_metrics_t *m) { qt_metrics_gauge(m, "qt_g", "x", "service=\"b\""); }
static void bad_label_dup(qt_metrics_t *m) { qt_metrics_gauge(m, "qt_g", "x", "a=\"1\",a=\"2\""); }
static void bad_label_reserved(qt_metrics_t *m) { qt_metrics_gauge(m, "qt_g", "x", "__a=\"1\""); }
static void bad_label_newline(qt_metrics_t *m) { qt_metrics_gauge(m, "qt_g", "x", "a=\"1\n\""); }
static void bad_label_escape(qt_metrics_t *m) { qt_metrics_gauge(m, "qt_g", "x", "a=\"\\t\""); }
static void bad_label_trailing(qt_metrics_t *m) { qt_metrics_gauge(m, "qt_g", "x", "a=\"1\","); }
static void bad_label_open(qt_metrics_t *m) { qt_metrics_gauge(m, "qt_g", "x", "a=\"1"); }
static void bad_kind_clash(qt_metrics_t *m)
{
    qt_metrics_gauge(m, "qt_g", "x", NULL);
    qt_metrics_counter(m, "qt_g", "x", NULL);
}
static void good_ones(qt_metrics_t *m)
{
    qt_metrics_counter(m, "qt_a_total", "x", "a=\"\",b_2=\"x\\\\y\\\"z\\n\"");
    qt_metrics_gauge(m, "qt_g9_", "x", "A=\"1\"");
    qt_metrics_destroy(&m);
}

static void test_programming_errors_abort(void **state)
{
    (void)state;
    void (*bad[])(qt_metrics_t *) = {bad_prefix, bad_suffix, bad_gauge_total, bad_upper,
                                     bad_char, bad_null, bad_only_suffix, bad_label_unquoted,
                                     bad_label_braces, bad_label_service, bad_label_dup,
                                     bad_label_reserved, bad_label_newline, bad_label_escape,
                                     bad_label_trailing, bad_label_open, bad_kind_clash};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (!aborts(bad[i]))
            fail_msg("case %zu did not abort", i);
    assert_false(aborts(good_ones));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selftest),
        cmocka_unit_test(test_render_exact_and_grouped),
        cmocka_unit_test(test_empty_registry),
        cmocka_unit_test(test_escaping_and_special_values),
        cmocka_unit_test(test_promtool_realistic),
        cmocka_unit_test(test_same_pointer_and_find),
        cmocka_unit_test(test_concurrent_updates),
        cmocka_unit_test(test_series_bound),
        cmocka_unit_test(test_programming_errors_abort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
