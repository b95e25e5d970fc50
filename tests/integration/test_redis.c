/* Integration: qt_redis against a real Redis (env QT_REDIS_HOST / QT_REDIS_PORT).
 * Fails loudly when the environment does not name a Redis. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "qt_metrics.h"
#include "qt_redis.h"

static const char *g_host;
static int g_port;

static qt_redis_t *client(qt_metrics_t *m)
{
    qt_redis_t *r = qt_redis_new(g_host, g_port, 1000, m);
    assert_non_null(r);
    return r;
}

static void test_ping_and_cmd(void **state)
{
    (void)state;
    qt_redis_t *r = client(NULL);
    assert_true(qt_redis_ping(r));
    redisReply *rep = qt_redis_cmd(r, "SET qt:test:hC2:%d %s", (int)getpid(), "v");
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    rep = qt_redis_cmd(r, "NOSUCHCOMMAND");
    assert_non_null(rep); /* error replies are returned, not treated as unreachable */
    assert_int_equal(rep->type, REDIS_REPLY_ERROR);
    freeReplyObject(rep);
    rep = qt_redis_cmd(r, "DEL qt:test:hC2:%d", (int)getpid());
    assert_non_null(rep);
    assert_int_equal(rep->integer, 1);
    freeReplyObject(rep);
    assert_int_equal(qt_redis_errors(r), 0);
    qt_redis_destroy(&r);
    assert_null(r);
}

static void test_lastgood_round_trip(void **state)
{
    (void)state;
    qt_redis_t *r = client(NULL);
    char name[64];
    snprintf(name, sizeof name, "T%d", (int)getpid());
    uint8_t data[300];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7); /* includes NUL bytes: binary-safe */
    uint8_t *got = NULL;
    size_t len = 99;
    assert_int_equal(qt_redis_lastgood_get(r, "bar", name, &got, &len), 0);
    assert_null(got);
    assert_int_equal(qt_redis_lastgood_set(r, "bar", name, data, sizeof data), 0);
    assert_int_equal(qt_redis_lastgood_get(r, "bar", name, &got, &len), 1);
    assert_int_equal(len, sizeof data);
    assert_memory_equal(got, data, sizeof data);
    free(got);
    /* empty value round-trips as found, length 0 */
    assert_int_equal(qt_redis_lastgood_set(r, "bar", name, NULL, 0), 0);
    assert_int_equal(qt_redis_lastgood_get(r, "bar", name, &got, &len), 1);
    assert_int_equal(len, 0);
    free(got);
    assert_int_equal(qt_redis_lastgood_set(r, "", name, data, 1), -1);
    redisReply *rep = qt_redis_cmd(r, "DEL qt:lastgood:bar:%s", name);
    freeReplyObject(rep);
    qt_redis_destroy(&r);
}

static void ks_del(qt_redis_t *r)
{
    redisReply *rep = qt_redis_cmd(r, "DEL qt:killswitch");
    assert_non_null(rep);
    freeReplyObject(rep);
}

static void ks_hset(qt_redis_t *r, const char *field, const char *value)
{
    redisReply *rep = qt_redis_cmd(r, "HSET qt:killswitch %s %s", field, value);
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
    freeReplyObject(rep);
}

/* The kill switch key is global: these tests own it while they run (the test stack is
 * private to the test run). */
static void test_killswitch_absent_fails_closed(void **state)
{
    (void)state;
    qt_redis_t *r = client(NULL);
    ks_del(r);
    Qt__V1__KillSwitch ks;
    assert_int_equal(qt_redis_killswitch_read(r, &ks), QT__V1__KILL_SWITCH_TIER__KS_NO_NEW);
    assert_int_equal(ks.tier, QT__V1__KILL_SWITCH_TIER__KS_NO_NEW);
    assert_int_equal(ks.version, 0);
    assert_non_null(strstr(ks.reason, "absent"));
    qt_ks_clear(&ks);
    assert_int_equal(qt_redis_killswitch_read(r, NULL), QT__V1__KILL_SWITCH_TIER__KS_NO_NEW);
    qt_redis_destroy(&r);
}

static void test_killswitch_write_read(void **state)
{
    (void)state;
    qt_redis_t *r = client(NULL);
    ks_del(r);
    uint64_t v = 0;
    assert_int_equal(qt_redis_killswitch_write(r, QT__V1__KILL_SWITCH_TIER__KS_NORMAL, "alice",
                                               "demo start", 1700000000123, &v),
                     0);
    assert_int_equal(v, 1);
    Qt__V1__KillSwitch ks;
    assert_int_equal(qt_redis_killswitch_read(r, &ks), QT__V1__KILL_SWITCH_TIER__KS_NORMAL);
    assert_int_equal(ks.version, 1);
    assert_string_equal(ks.set_by, "alice");
    assert_string_equal(ks.reason, "demo start");
    assert_int_equal(ks.set_at_ms, 1700000000123);
    qt_ks_clear(&ks);
    assert_int_equal(qt_redis_killswitch_write(r, QT__V1__KILL_SWITCH_TIER__KS_FLATTEN_ALL,
                                               "watchdog", "qt-exec heartbeat lost", 5, &v),
                     0);
    assert_int_equal(v, 2);
    assert_int_equal(qt_redis_killswitch_read(r, &ks), QT__V1__KILL_SWITCH_TIER__KS_FLATTEN_ALL);
    assert_int_equal(ks.version, 2);
    assert_string_equal(ks.set_by, "watchdog");
    qt_ks_clear(&ks);
    /* invalid writes are refused and change nothing */
    assert_int_equal(qt_redis_killswitch_write(r, QT__V1__KILL_SWITCH_TIER__KS_NORMAL, "", "x",
                                               1, &v),
                     -1);
    assert_int_equal(qt_redis_killswitch_write(r, QT__V1__KILL_SWITCH_TIER__KS_NORMAL, "a", "",
                                               1, &v),
                     -1);
    assert_int_equal(qt_redis_killswitch_write(r, QT__V1__KILL_SWITCH_TIER__KS_UNKNOWN, "a",
                                               "b", 1, &v),
                     -1);
    assert_int_equal(qt_redis_killswitch_write(r, (qt_ks_tier_t)42, "a", "b", 1, &v), -1);
    assert_int_equal(qt_redis_killswitch_read(r, &ks), QT__V1__KILL_SWITCH_TIER__KS_FLATTEN_ALL);
    assert_int_equal(ks.version, 2);
    qt_ks_clear(&ks);
    ks_del(r);
    qt_redis_destroy(&r);
}

static void test_killswitch_garbage_fails_closed(void **state)
{
    (void)state;
    qt_redis_t *r = client(NULL);
    static const struct {
        const char *field, *value;
    } bad[] = {
        {"tier", "normal-ish"}, {"tier", "UNKNOWN"}, {"tier", ""},     {"version", "x1"},
        {"version", "-1"},      {"version", ""},     {"set_at_ms", "1.5"},
        {"version", "99999999999999999999999"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ks_del(r);
        uint64_t v;
        assert_int_equal(qt_redis_killswitch_write(r, QT__V1__KILL_SWITCH_TIER__KS_NORMAL, "a",
                                                   "b", 1, &v),
                         0);
        assert_int_equal(qt_redis_killswitch_read(r, NULL), QT__V1__KILL_SWITCH_TIER__KS_NORMAL);
        ks_hset(r, bad[i].field, bad[i].value);
        Qt__V1__KillSwitch ks;
        assert_int_equal(qt_redis_killswitch_read(r, &ks), QT__V1__KILL_SWITCH_TIER__KS_NO_NEW);
        assert_int_equal(ks.tier, QT__V1__KILL_SWITCH_TIER__KS_NO_NEW);
        qt_ks_clear(&ks);
    }
    /* a missing field */
    ks_del(r);
    ks_hset(r, "tier", "NORMAL");
    assert_int_equal(qt_redis_killswitch_read(r, NULL), QT__V1__KILL_SWITCH_TIER__KS_NO_NEW);
    /* wrong type of key */
    ks_del(r);
    redisReply *rep = qt_redis_cmd(r, "SET qt:killswitch NORMAL");
    freeReplyObject(rep);
    assert_int_equal(qt_redis_killswitch_read(r, NULL), QT__V1__KILL_SWITCH_TIER__KS_NO_NEW);
    ks_del(r);
    qt_redis_destroy(&r);
}

static void test_unreachable_fails_closed(void **state)
{
    (void)state;
    /* A port nobody listens on: bind-free port = our Redis port + a large offset is not
     * guaranteed free, so use port 1 (privileged, never Redis in a test). */
    qt_metrics_t *m = qt_metrics_new("test");
    qt_redis_t *r = qt_redis_new("127.0.0.1", 1, 300, m);
    assert_false(qt_redis_ping(r));
    assert_null(qt_redis_cmd(r, "GET x"));
    Qt__V1__KillSwitch ks;
    assert_int_equal(qt_redis_killswitch_read(r, &ks), QT__V1__KILL_SWITCH_TIER__KS_NO_NEW);
    assert_non_null(strstr(ks.reason, "unreachable"));
    qt_ks_clear(&ks);
    uint8_t *b = NULL;
    size_t len = 0;
    assert_int_equal(qt_redis_lastgood_get(r, "bar", "x", &b, &len), -1);
    assert_int_equal(qt_redis_killswitch_write(r, QT__V1__KILL_SWITCH_TIER__KS_NORMAL, "a", "b",
                                               1, NULL),
                     -1);
    assert_int_equal(qt_redis_errors(r), 5);
    qt_counter_t *c = qt_metrics_find_counter(m, "qt_redis_errors_total", NULL);
    assert_non_null(c);
    assert_int_equal(qt_counter_value(c), 5);
    assert_int_equal(qt_redis_reconnects(r), 0);
    qt_redis_destroy(&r);
    qt_metrics_destroy(&m);
}

static void test_reconnect_after_client_kill(void **state)
{
    (void)state;
    qt_metrics_t *m = qt_metrics_new("test");
    qt_redis_t *r = client(m);
    qt_redis_t *admin = client(NULL);
    /* name our connection so only it is killed */
    redisReply *rep = qt_redis_cmd(r, "CLIENT SETNAME hC2victim%d", (int)getpid());
    assert_non_null(rep);
    freeReplyObject(rep);
    assert_true(qt_redis_ping(r));
    rep = qt_redis_cmd(r, "CLIENT ID");
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
    long long id = rep->integer;
    freeReplyObject(rep);

    rep = qt_redis_cmd(admin, "CLIENT KILL ID %lld", id);
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
    assert_int_equal(rep->integer, 1);
    freeReplyObject(rep);
    assert_int_equal(qt_redis_reconnects(r), 0);
    assert_true(qt_redis_ping(r)); /* I/O error, reconnect, retried: succeeds */
    assert_int_equal(qt_redis_reconnects(r), 1);
    assert_int_equal(qt_redis_errors(r), 0);
    qt_counter_t *c = qt_metrics_find_counter(m, "qt_redis_reconnects_total", NULL);
    assert_non_null(c);
    assert_int_equal(qt_counter_value(c), 1);
    /* the new connection is a different client */
    rep = qt_redis_cmd(r, "CLIENT ID");
    assert_non_null(rep);
    assert_true(rep->integer != id);
    freeReplyObject(rep);

    /* killed with TYPE normal (from another client): next command still works */
    rep = qt_redis_cmd(admin, "CLIENT KILL TYPE normal");
    assert_non_null(rep);
    assert_true(rep->integer >= 1);
    freeReplyObject(rep);
    assert_true(qt_redis_ping(r));
    assert_int_equal(qt_redis_reconnects(r), 2);
    qt_redis_destroy(&admin);
    qt_redis_destroy(&r);
    qt_metrics_destroy(&m);
}

static void test_selftest(void **state)
{
    (void)state;
    assert_int_equal(qt_redis_selftest(true), 0);
}

int main(void)
{
    g_host = getenv("QT_REDIS_HOST");
    const char *port = getenv("QT_REDIS_PORT");
    if (!g_host || !*g_host || !port || !*port) {
        fprintf(stderr, "test_redis: QT_REDIS_HOST and QT_REDIS_PORT must name a real Redis "
                        "(scripts/run-tests sets them)\n");
        return 1;
    }
    g_port = atoi(port);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selftest),
        cmocka_unit_test(test_ping_and_cmd),
        cmocka_unit_test(test_lastgood_round_trip),
        cmocka_unit_test(test_killswitch_absent_fails_closed),
        cmocka_unit_test(test_killswitch_write_read),
        cmocka_unit_test(test_killswitch_garbage_fails_closed),
        cmocka_unit_test(test_unreachable_fails_closed),
        cmocka_unit_test(test_reconnect_after_client_kill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
