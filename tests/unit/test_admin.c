/* Tests for qt_admin over real loopback HTTP (libcurl): endpoints and status codes
 * (200/404/405/503), content types, /status JSON, /metrics accepted by promtool,
 * port 0, a taken port, bad bind addresses, and concurrent clients. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qt_admin.h"
#include "qt_log.h"

#define PROMTOOL "/usr/bin/promtool"

typedef struct {
    char *data;
    size_t len;
} body_t;

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    body_t *b = ud;
    size_t add = size * n;
    char *nd = realloc(b->data, b->len + add + 1);
    if (!nd)
        return 0;
    memcpy(nd + b->len, p, add);
    b->data = nd;
    b->len += add;
    b->data[b->len] = '\0';
    return add;
}

typedef struct {
    long code;
    body_t body;
    char ctype[128];
    char allow[128];
} resp_t;

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    resp_t *r = ud;
    size_t len = size * n;
    if (len > 6 && strncasecmp(p, "Allow:", 6) == 0)
        snprintf(r->allow, sizeof r->allow, "%.*s", (int)(len - 6), p + 6);
    return len;
}

/* Performs method on path; returns the response (caller frees body). */
static resp_t http(uint16_t port, const char *method, const char *path)
{
    resp_t r;
    memset(&r, 0, sizeof r);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", (unsigned)port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "POST") == 0)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "x=1");
    else if (strcmp(method, "GET") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        fail_msg("curl %s %s: %s", method, url, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.code);
    char *ct = NULL;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    if (ct)
        snprintf(r.ctype, sizeof r.ctype, "%s", ct);
    curl_easy_cleanup(c);
    if (!r.body.data)
        r.body.data = calloc(1, 1);
    return r;
}

typedef struct {
    qt_metrics_t *m;
    qt_admin_t *a;
    uint16_t port;
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->m = qt_metrics_new("qt-test");
    qt_counter_add(qt_metrics_counter(f->m, "qt_frames_rejected_total", "Frames dropped.",
                                      "reason=\"truncated\""), 3);
    qt_counter_add(qt_metrics_counter(f->m, "qt_frames_rejected_total", "Frames dropped.",
                                      "reason=\"bad_json\""), 1);
    qt_gauge_set(qt_metrics_gauge(f->m, "qt_lag_seconds", "Lag.", NULL), 0.25);
    char err[256];
    f->a = qt_admin_new("qt-test", NULL, 0, f->m, err, sizeof err);
    if (!f->a) {
        fprintf(stderr, "admin: %s\n", err);
        return -1;
    }
    f->port = qt_admin_port(f->a);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    qt_admin_destroy(&f->a);
    qt_metrics_destroy(&f->m);
    free(f);
    return 0;
}

static void test_selftest(void **state)
{
    (void)state;
    assert_int_equal(qt_admin_selftest(false), 0);
}

static void test_port_zero_picks_port(void **state)
{
    fx_t *f = *state;
    assert_true(f->port != 0);
}

static void test_healthz(void **state)
{
    fx_t *f = *state;
    resp_t r = http(f->port, "GET", "/healthz");
    assert_int_equal(r.code, 200);
    assert_string_equal(r.body.data, "ok\n");
    assert_non_null(strstr(r.ctype, "text/plain"));
    free(r.body.data);
    qt_admin_set_healthy(f->a, false);
    r = http(f->port, "GET", "/healthz");
    assert_int_equal(r.code, 503);
    assert_string_equal(r.body.data, "unhealthy\n");
    free(r.body.data);
    qt_admin_set_healthy(f->a, true);
    r = http(f->port, "GET", "/healthz");
    assert_int_equal(r.code, 200);
    free(r.body.data);
}

static void test_readyz(void **state)
{
    fx_t *f = *state;
    resp_t r = http(f->port, "GET", "/readyz");
    assert_int_equal(r.code, 503); /* not ready until the service says so */
    assert_string_equal(r.body.data, "not ready\n");
    free(r.body.data);
    qt_admin_set_ready(f->a, true);
    r = http(f->port, "GET", "/readyz");
    assert_int_equal(r.code, 200);
    assert_string_equal(r.body.data, "ready\n");
    free(r.body.data);
    qt_admin_set_ready(f->a, false);
    r = http(f->port, "GET", "/readyz?x=1"); /* query strings do not change the route */
    assert_int_equal(r.code, 503);
    free(r.body.data);
}

static void test_metrics_promtool(void **state)
{
    fx_t *f = *state;
    resp_t r = http(f->port, "GET", "/metrics");
    assert_int_equal(r.code, 200);
    assert_non_null(strstr(r.ctype, "text/plain"));
    assert_non_null(strstr(r.ctype, "version=0.0.4"));
    assert_non_null(strstr(r.body.data,
        "qt_frames_rejected_total{service=\"qt-test\",reason=\"truncated\"} 3\n"));
    assert_non_null(strstr(r.body.data, "qt_lag_seconds{service=\"qt-test\"} 0.25\n"));
    /* updates are visible on the next scrape */
    qt_counter_inc(qt_metrics_find_counter(f->m, "qt_frames_rejected_total", "reason=\"bad_json\""));
    resp_t r2 = http(f->port, "GET", "/metrics");
    assert_non_null(strstr(r2.body.data,
        "qt_frames_rejected_total{service=\"qt-test\",reason=\"bad_json\"} 2\n"));
    if (access(PROMTOOL, X_OK) == 0) {
        FILE *p = popen(PROMTOOL " check metrics", "w");
        assert_non_null(p);
        fwrite(r2.body.data, 1, r2.body.len, p);
        int st = pclose(p);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    } else {
        print_message("promtool not found: skipped the promtool check\n");
    }
    free(r.body.data);
    free(r2.body.data);
}

static void test_status_json(void **state)
{
    fx_t *f = *state;
    qt_admin_set_ready(f->a, true);
    resp_t r = http(f->port, "GET", "/status");
    assert_int_equal(r.code, 200);
    assert_non_null(strstr(r.ctype, "application/json"));
    json_error_t e;
    json_t *o = json_loads(r.body.data, 0, &e);
    if (!o)
        fail_msg("bad JSON: %s (%s)", r.body.data, e.text);
    assert_string_equal(json_string_value(json_object_get(o, "service")), "qt-test");
    assert_true(json_is_true(json_object_get(o, "healthy")));
    assert_true(json_is_true(json_object_get(o, "ready")));
    assert_int_equal(json_integer_value(json_object_get(o, "pid")), getpid());
    json_t *m = json_object_get(o, "metrics");
    assert_true(json_is_object(m));
    assert_int_equal(json_integer_value(json_object_get(m, "qt_frames_rejected_total{reason=\"truncated\"}")), 3);
    assert_true(json_real_value(json_object_get(m, "qt_lag_seconds")) == 0.25);
    json_decref(o);
    free(r.body.data);
}

static void test_404_405(void **state)
{
    fx_t *f = *state;
    const char *paths[] = {"/", "/nope", "/metrics/", "/METRICS", "/status.json", "/healthz/x"};
    for (size_t i = 0; i < 6; i++) {
        resp_t r = http(f->port, "GET", paths[i]);
        if (r.code != 404)
            fail_msg("%s: %ld", paths[i], r.code);
        free(r.body.data);
    }
    const char *methods[] = {"POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
    for (size_t i = 0; i < 5; i++) {
        resp_t r = http(f->port, methods[i], "/metrics");
        if (r.code != 405)
            fail_msg("%s: %ld", methods[i], r.code);
        assert_non_null(strstr(r.allow, "GET"));
        free(r.body.data);
    }
    resp_t r = http(f->port, "POST", "/nope"); /* method is checked first */
    assert_int_equal(r.code, 405);
    free(r.body.data);
    r = http(f->port, "HEAD", "/healthz"); /* HEAD behaves like GET, without a body */
    assert_int_equal(r.code, 200);
    assert_int_equal(r.body.len, 0);
    free(r.body.data);
}

static void test_no_metrics_registry(void **state)
{
    (void)state;
    char err[256];
    qt_admin_t *a = qt_admin_new("qt-bare", "127.0.0.1", 0, NULL, err, sizeof err);
    assert_non_null(a);
    resp_t r = http(qt_admin_port(a), "GET", "/metrics");
    assert_int_equal(r.code, 200);
    assert_string_equal(r.body.data, "");
    free(r.body.data);
    r = http(qt_admin_port(a), "GET", "/status");
    json_t *o = json_loads(r.body.data, 0, NULL);
    assert_non_null(o);
    assert_true(json_is_object(json_object_get(o, "metrics")));
    assert_int_equal(json_object_size(json_object_get(o, "metrics")), 0);
    assert_true(json_is_false(json_object_get(o, "ready")));
    json_decref(o);
    free(r.body.data);
    qt_admin_destroy(&a);
    assert_null(a);
    qt_admin_destroy(&a);
    qt_admin_destroy(NULL);
}

static void test_port_taken_and_bad_addr(void **state)
{
    fx_t *f = *state;
    char err[256] = "";
    qt_admin_t *b = qt_admin_new("qt-dup", "127.0.0.1", f->port, NULL, err, sizeof err);
    assert_null(b);
    char want[64];
    snprintf(want, sizeof want, "127.0.0.1:%u", (unsigned)f->port);
    if (!strstr(err, want))
        fail_msg("error does not name the address: %s", err);
    err[0] = '\0';
    assert_null(qt_admin_new("x", "localhost", 0, NULL, err, sizeof err));
    assert_non_null(strstr(err, "invalid bind address 'localhost'"));
    assert_null(qt_admin_new("x", "300.1.1.1", 0, NULL, err, sizeof err));
    assert_null(qt_admin_new("x", "203.0.113.7", 0, NULL, err, sizeof err)); /* not ours */
    assert_true(err[0] != '\0');
    /* the original is still serving */
    resp_t r = http(f->port, "GET", "/healthz");
    assert_int_equal(r.code, 200);
    free(r.body.data);
    assert_int_equal(qt_admin_port(NULL), 0);
    qt_admin_set_ready(NULL, true); /* NULL-safe */
    qt_admin_set_healthy(NULL, true);
}

static void test_binds_loopback_only(void **state)
{
    fx_t *f = *state;
    /* the default bind is 127.0.0.1: the port is not reachable on another local address
     * (127.0.0.2 is loopback too but a different address) */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(f->port);
    inet_pton(AF_INET, "127.0.0.2", &a.sin_addr);
    int rc = connect(fd, (struct sockaddr *)&a, sizeof a);
    close(fd);
    assert_int_not_equal(rc, 0);
}

static void *client(void *arg)
{
    fx_t *f = arg;
    for (int i = 0; i < 25; i++) {
        resp_t r = http(f->port, "GET", i % 2 ? "/metrics" : "/status");
        if (r.code != 200) {
            free(r.body.data);
            return (void *)1;
        }
        free(r.body.data);
    }
    return NULL;
}

static void test_concurrent_clients(void **state)
{
    fx_t *f = *state;
    pthread_t t[6];
    for (int i = 0; i < 6; i++)
        assert_int_equal(pthread_create(&t[i], NULL, client, f), 0);
    for (int i = 0; i < 1000; i++)
        qt_counter_inc(qt_metrics_find_counter(f->m, "qt_frames_rejected_total", "reason=\"truncated\""));
    for (int i = 0; i < 6; i++) {
        void *ret;
        pthread_join(t[i], &ret);
        assert_null(ret);
    }
}

static void send_garbage(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    const char junk[] = "\x16\x03\x01 not http at all\r\n\r\n";
    assert_int_equal(write(fd, junk, sizeof junk - 1), (ssize_t)(sizeof junk - 1));
    /* read until the server closes: it logs before closing */
    char buf[2048];
    size_t len = 0;
    ssize_t n;
    while (len + 1 < sizeof buf && (n = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)n;
    close(fd);
    buf[len] = '\0';
    assert_null(strstr(buf, " 200 "));
}

static void test_garbage_request(void **state)
{
    fx_t *f = *state;
    char *logbuf = NULL;
    size_t loglen = 0;
    FILE *logf = open_memstream(&logbuf, &loglen);
    assert_non_null(logf);
    qt_log_shutdown(); /* fresh log-once set */
    qt_log_set_stream(logf);
    for (int i = 0; i < 3; i++)
        send_garbage(f->port);
    /* the server is still fine, and the bad request was counted */
    resp_t r = http(f->port, "GET", "/healthz");
    assert_int_equal(r.code, 200);
    free(r.body.data);
    qt_counter_t *errs = qt_metrics_find_counter(f->m, "qt_admin_http_errors_total", NULL);
    assert_non_null(errs);
    assert_true(qt_counter_value(errs) >= 3);
    /* logged once, not three times */
    fflush(logf);
    size_t lines = 0;
    for (const char *p = logbuf; (p = strstr(p, "\"admin_http_error\"")) != NULL; p++)
        lines++;
    assert_int_equal(lines, 1);
    qt_log_shutdown();
    fclose(logf);
    free(logbuf);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selftest),
        cmocka_unit_test_setup_teardown(test_port_zero_picks_port, setup, teardown),
        cmocka_unit_test_setup_teardown(test_healthz, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readyz, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_promtool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_404_405, setup, teardown),
        cmocka_unit_test(test_no_metrics_registry),
        cmocka_unit_test_setup_teardown(test_port_taken_and_bad_addr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_binds_loopback_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_request, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    qt_log_shutdown();
    return rc;
}
