/* Tests for qt_log: every line is one valid JSON object (checked with jansson) with
 * ts/level/service/event first, escaping of hostile values, level filtering, the
 * bounded log-once set, and no interleaving under concurrent writers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qt_log.h"

typedef struct {
    char *buf;
    size_t len;
    FILE *f;
    qt_clock_t *clk;
} cap_t;

static int setup(void **state)
{
    cap_t *c = calloc(1, sizeof *c);
    if (!c)
        return -1;
    c->f = open_memstream(&c->buf, &c->len);
    c->clk = qt_clock_new_sim(1795309323456789012LL); /* 2026-11-22T01:02:03.456789012Z */
    qt_log_shutdown();
    qt_log_init("qt-test", QT_LOG_DEBUG, c->clk);
    qt_log_set_stream(c->f);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    cap_t *c = *state;
    qt_log_shutdown();
    fclose(c->f);
    free(c->buf);
    qt_clock_destroy(&c->clk);
    free(c);
    return 0;
}

/* Splits the captured output into lines, parses each as JSON; returns the count. */
static size_t parse_lines(cap_t *c, json_t **out, size_t max)
{
    fflush(c->f);
    size_t n = 0;
    const char *p = c->buf ? c->buf : "";
    while (*p) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl); /* every line is terminated */
        json_error_t err;
        json_t *j = json_loadb(p, (size_t)(nl - p), JSON_REJECT_DUPLICATES, &err);
        if (!j)
            fail_msg("invalid JSON line: %.*s (%s)", (int)(nl - p), p, err.text);
        assert_true(json_is_object(j));
        if (n < max)
            out[n] = j;
        else
            json_decref(j);
        n++;
        p = nl + 1;
    }
    return n;
}

static void free_lines(json_t **l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        json_decref(l[i]);
}

static const char *sget(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    assert_non_null(v);
    assert_true(json_is_string(v));
    return json_string_value(v);
}

static void test_selftest(void **state)
{
    (void)state;
    assert_int_equal(qt_log_selftest(false), 0);
}

static void test_line_shape(void **state)
{
    cap_t *c = *state;
    qt_log_kv(QT_LOG_INFO, "intent_rejected", "symbol", "BTC_USDT", "code", "MAX_GROSS", NULL);
    json_t *l[4];
    assert_int_equal(parse_lines(c, l, 4), 1);
    assert_string_equal(sget(l[0], "ts"), "2026-11-22T01:02:03.456Z");
    assert_string_equal(sget(l[0], "level"), "info");
    assert_string_equal(sget(l[0], "service"), "qt-test");
    assert_string_equal(sget(l[0], "event"), "intent_rejected");
    assert_string_equal(sget(l[0], "symbol"), "BTC_USDT");
    assert_string_equal(sget(l[0], "code"), "MAX_GROSS");
    assert_int_equal(json_object_size(l[0]), 6);
    free_lines(l, 1);
    /* field order as documented: ts, level, service, event, then fields */
    const char *want = "{\"ts\":\"2026-11-22T01:02:03.456Z\",\"level\":\"info\","
                       "\"service\":\"qt-test\",\"event\":\"intent_rejected\","
                       "\"symbol\":\"BTC_USDT\",\"code\":\"MAX_GROSS\"}\n";
    assert_string_equal(c->buf, want);
}

static void test_ts_follows_clock(void **state)
{
    cap_t *c = *state;
    qt_clock_set(c->clk, 1795309323999999999LL);
    qt_log_kv(QT_LOG_INFO, "a", NULL);
    qt_clock_advance(c->clk, 1); /* crosses a second, minute, ... boundary */
    qt_log_kv(QT_LOG_INFO, "b", NULL);
    qt_clock_set(c->clk, 1798761599000000000LL); /* 2026-12-31T23:59:59.000Z */
    qt_log_kv(QT_LOG_INFO, "c", NULL);
    json_t *l[4];
    assert_int_equal(parse_lines(c, l, 4), 3);
    assert_string_equal(sget(l[0], "ts"), "2026-11-22T01:02:03.999Z"); /* truncated, not rounded */
    assert_string_equal(sget(l[1], "ts"), "2026-11-22T01:02:04.000Z");
    assert_string_equal(sget(l[2], "ts"), "2026-12-31T23:59:59.000Z");
    free_lines(l, 3);
}

static void test_levels(void **state)
{
    cap_t *c = *state;
    qt_log_init("qt-test", QT_LOG_WARN, c->clk);
    qt_log_kv(QT_LOG_DEBUG, "d", NULL);
    qt_log_kv(QT_LOG_INFO, "i", NULL);
    qt_logf(QT_LOG_INFO, "i2", "x=%d", 1);
    qt_log_kv(QT_LOG_WARN, "w", NULL);
    qt_log_kv(QT_LOG_ERROR, "e", NULL);
    qt_log_kv((qt_log_level_t)17, "bogus", NULL); /* invalid level: dropped */
    json_t *l[8];
    assert_int_equal(parse_lines(c, l, 8), 2);
    assert_string_equal(sget(l[0], "level"), "warn");
    assert_string_equal(sget(l[0], "event"), "w");
    assert_string_equal(sget(l[1], "level"), "error");
    free_lines(l, 2);

    qt_log_level_t lv = QT_LOG_ERROR;
    assert_int_equal(qt_log_level_parse("debug", &lv), 0);
    assert_int_equal(lv, QT_LOG_DEBUG);
    assert_int_equal(qt_log_level_parse("info", &lv), 0);
    assert_int_equal(lv, QT_LOG_INFO);
    assert_int_equal(qt_log_level_parse("warn", &lv), 0);
    assert_int_equal(lv, QT_LOG_WARN);
    assert_int_equal(qt_log_level_parse("error", &lv), 0);
    assert_int_equal(lv, QT_LOG_ERROR);
    assert_int_equal(qt_log_level_parse("warning", &lv), -1);
    assert_int_equal(qt_log_level_parse("", &lv), -1);
    assert_int_equal(qt_log_level_parse(NULL, &lv), -1);
    assert_int_equal(lv, QT_LOG_ERROR);
}

static void test_escaping_all_bytes(void **state)
{
    cap_t *c = *state;
    /* every ASCII byte 1..127 in a value and in a key */
    char ascii[128];
    for (int i = 1; i < 128; i++)
        ascii[i - 1] = (char)i;
    ascii[127] = '\0';
    qt_log_kv(QT_LOG_INFO, "ev\"\n", "k\x01\"", ascii, NULL);
    json_t *l[2];
    assert_int_equal(parse_lines(c, l, 2), 1);
    assert_string_equal(sget(l[0], "k\x01\""), ascii);
    assert_string_equal(sget(l[0], "event"), "ev\"\n");
    free_lines(l, 1);
    /* control characters use the \u00XX form; raw output has no raw control bytes */
    assert_non_null(strstr(c->buf, "\\u0001"));
    assert_non_null(strstr(c->buf, "\\u000a"));
    assert_non_null(strstr(c->buf, "\\u001f"));
    assert_non_null(strstr(c->buf, "\\u007f"));
    assert_non_null(strstr(c->buf, "\\\""));
    assert_non_null(strstr(c->buf, "\\\\"));
    for (size_t i = 0; i + 1 < c->len; i++)
        assert_true((unsigned char)c->buf[i] >= 0x20);
    assert_int_equal(c->buf[c->len - 1], '\n');
}

static void test_utf8_handling(void **state)
{
    cap_t *c = *state;
    qt_log_kv(QT_LOG_INFO, "u", "ok", "Zürich €5 𝄞", /* valid multi-byte kept as is */
              "bad", "a\xff" "b\xc0\xaf" "c\xed\xa0\x80" "d\xe2\x82", /* invalid/overlong/surrogate/truncated */
              NULL);
    json_t *l[2];
    assert_int_equal(parse_lines(c, l, 2), 1);
    assert_string_equal(sget(l[0], "ok"), "Zürich €5 𝄞");
    const char *bad = sget(l[0], "bad");
    assert_true(bad[0] == 'a');
    assert_non_null(strstr(bad, "\xEF\xBF\xBD")); /* U+FFFD */
    assert_null(strchr(bad, '\xff'));
    assert_non_null(strchr(bad, 'd'));
    free_lines(l, 1);
}

static void test_null_value_and_empty(void **state)
{
    cap_t *c = *state;
    qt_log_kv(QT_LOG_INFO, NULL, "k", NULL, "never", "read", NULL);
    qt_log_kv(QT_LOG_INFO, "", "", "", NULL);
    json_t *l[4];
    assert_int_equal(parse_lines(c, l, 4), 2);
    assert_string_equal(sget(l[0], "event"), "");
    assert_string_equal(sget(l[0], "k"), "");
    assert_null(json_object_get(l[0], "never"));
    assert_string_equal(sget(l[1], ""), "");
    free_lines(l, 2);
}

static void test_logf(void **state)
{
    cap_t *c = *state;
    qt_logf(QT_LOG_ERROR, "boom", "code=%d name=%s", 42, "x\"y");
    char big[3000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    qt_logf(QT_LOG_INFO, "big", "<%s>", big);
    json_t *l[4];
    assert_int_equal(parse_lines(c, l, 4), 2);
    assert_string_equal(sget(l[0], "msg"), "code=42 name=x\"y");
    assert_string_equal(sget(l[0], "level"), "error");
    const char *m = sget(l[1], "msg");
    assert_int_equal(strlen(m), 3001); /* not truncated */
    assert_true(m[0] == '<' && m[3000] == '>');
    free_lines(l, 2);
}

static void test_once(void **state)
{
    cap_t *c = *state;
    assert_true(qt_log_once(QT_LOG_WARN, "bad_frame:BTC", "frame_rejected", "n", "1", NULL));
    assert_false(qt_log_once(QT_LOG_WARN, "bad_frame:BTC", "frame_rejected", "n", "2", NULL));
    assert_true(qt_log_once(QT_LOG_WARN, "bad_frame:ETH", "frame_rejected", "n", "3", NULL));
    assert_false(qt_log_once(QT_LOG_WARN, NULL, "x", NULL));
    json_t *l[8];
    assert_int_equal(parse_lines(c, l, 8), 2);
    assert_string_equal(sget(l[0], "n"), "1");
    assert_string_equal(sget(l[1], "n"), "3");
    free_lines(l, 2);
}

static void test_once_bounded(void **state)
{
    cap_t *c = *state;
    qt_log_init("qt-test", QT_LOG_ERROR, c->clk); /* keep output small */
    char key[32];
    size_t claimed = 0;
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        if (qt_log_once(QT_LOG_INFO, key, "e", NULL))
            claimed++;
    }
    assert_int_equal(claimed, 4096);
    /* past the bound everything new is silent, old keys stay silent */
    qt_log_init("qt-test", QT_LOG_DEBUG, c->clk);
    assert_false(qt_log_once(QT_LOG_ERROR, "brand-new", "e", NULL));
    assert_false(qt_log_once(QT_LOG_ERROR, "k1", "e", NULL));
    json_t *l[2];
    assert_int_equal(parse_lines(c, l, 2), 0);
    /* shutdown clears the set */
    qt_log_shutdown();
    qt_log_init("qt-test", QT_LOG_DEBUG, c->clk);
    qt_log_set_stream(c->f);
    assert_true(qt_log_once(QT_LOG_ERROR, "k1", "e", NULL));
    assert_int_equal(parse_lines(c, l, 2), 1);
    free_lines(l, 1);
}

static void *writer(void *arg)
{
    char id[16];
    snprintf(id, sizeof id, "%d", (int)(intptr_t)arg);
    char payload[200];
    memset(payload, 'a' + (int)(intptr_t)arg, sizeof payload - 1);
    payload[sizeof payload - 1] = '\0';
    for (int i = 0; i < 500; i++)
        qt_log_kv(QT_LOG_INFO, "tick", "thread", id, "payload", payload, NULL);
    return NULL;
}

static void test_threads_no_interleave(void **state)
{
    cap_t *c = *state;
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&t[i], NULL, writer, (void *)(intptr_t)i), 0);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    static json_t *l[4000];
    assert_int_equal(parse_lines(c, l, 4000), 4000);
    int per[8] = {0};
    for (int i = 0; i < 4000; i++) {
        int id = atoi(sget(l[i], "thread"));
        assert_true(id >= 0 && id < 8);
        const char *p = sget(l[i], "payload");
        assert_int_equal(strlen(p), 199);
        assert_true(p[0] == 'a' + id && p[198] == 'a' + id);
        per[id]++;
    }
    for (int i = 0; i < 8; i++)
        assert_int_equal(per[i], 500);
    free_lines(l, 4000);
}

static void test_no_clock_uses_wall(void **state)
{
    cap_t *c = *state;
    qt_log_init("svc \"quoted\"", QT_LOG_INFO, NULL);
    qt_log_kv(QT_LOG_INFO, "wall", NULL);
    json_t *l[2];
    assert_int_equal(parse_lines(c, l, 2), 1);
    const char *ts = sget(l[0], "ts");
    assert_int_equal(strlen(ts), 24);
    assert_true(ts[4] == '-' && ts[10] == 'T' && ts[19] == '.' && ts[23] == 'Z');
    assert_true(strncmp(ts, "20", 2) == 0);
    assert_string_equal(sget(l[0], "service"), "svc \"quoted\"");
    free_lines(l, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selftest),
        cmocka_unit_test_setup_teardown(test_line_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ts_follows_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_levels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escaping_all_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_utf8_handling, setup, teardown),
        cmocka_unit_test_setup_teardown(test_null_value_and_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_once_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_no_interleave, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_clock_uses_wall, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
