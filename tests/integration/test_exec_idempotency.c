/* test_exec_idempotency: invariant 1 (no lost intent, no duplicate order) against a
 * real Redis: the HSETNX claim + the one-script Lua fill, replays, and crashes
 * simulated between claim and fill and between fill and publish. Exactly one
 * position change, identical fills. Env QT_REDIS_HOST / QT_REDIS_PORT (fails when
 * unset). Uses Redis database 9 of that server, flushed at start. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec.h"

#define T0 1502942400000LL
#define T1 1502956800000LL
#define T2 1502971200000LL
/* BTC_USDT 4h opens (Binance) at T0, T1, T2 */
static const int64_t BTC_OPEN[3] = {426148000000LL, 433332000000LL, 443606000000LL};
#define INITIAL_CASH (100000LL * 100000000LL)

static redisContext *rc;

static redisReply *cmd_fn(void *ctx, int argc, const char **argv, const size_t *lens)
{
    return redisCommandArgv((redisContext *)ctx, argc, argv, lens);
}

static long long redis_int(const char *fmt, const char *a, const char *b)
{
    redisReply *r = b ? redisCommand(rc, fmt, a, b) : redisCommand(rc, fmt, a);
    assert_non_null(r);
    long long v = 0;
    if (r->type == REDIS_REPLY_STRING)
        v = strtoll(r->str, NULL, 10);
    else if (r->type == REDIS_REPLY_INTEGER)
        v = r->integer;
    else if (r->type != REDIS_REPLY_NIL)
        fail_msg("unexpected reply type %d", r->type);
    freeReplyObject(r);
    return v;
}

typedef struct {
    uint8_t *bytes[64];
    size_t len[64];
    Qt__V1__Envelope__BodyCase body[64];
    size_t n;
    size_t batches;
} cap_t;

static int cap_publish(void *ctx, const char *zmq, const char *kafka, const char *key,
                       qt_env_t *env)
{
    (void)zmq, (void)kafka, (void)key;
    cap_t *c = ctx;
    assert_true(c->n < 64);
    c->len[c->n] = qt__v1__envelope__get_packed_size(env);
    c->bytes[c->n] = malloc(c->len[c->n]);
    qt__v1__envelope__pack(env, c->bytes[c->n]);
    c->body[c->n] = env->body_case;
    c->n++;
    return 0;
}
static Qt__V1__KillSwitchTier cap_ks(void *ctx)
{
    (void)ctx;
    return QT__V1__KILL_SWITCH_TIER__KS_NORMAL;
}
static int64_t cap_now(void *ctx)
{
    (void)ctx;
    return 1700000000000LL;
}
static int cap_done(void *ctx, int64_t t, bool eos, int64_t next)
{
    (void)t, (void)eos, (void)next;
    ((cap_t *)ctx)->batches++;
    return 0;
}
static void cap_clear(cap_t *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->bytes[i]);
    c->n = 0;
}
static size_t cap_find(cap_t *c, Qt__V1__Envelope__BodyCase body)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->body[i] == body)
            return i;
    fail_msg("event not published");
    return 0;
}
static size_t cap_count(cap_t *c, Qt__V1__Envelope__BodyCase body)
{
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++)
        k += c->body[i] == body;
    return k;
}

static int setup(void **state)
{
    (void)state;
    const char *host = getenv("QT_REDIS_HOST"), *port = getenv("QT_REDIS_PORT");
    if (!host || !port) {
        fprintf(stderr, "QT_REDIS_HOST / QT_REDIS_PORT not set: this test needs a real Redis "
                        "(scripts/test-stack start DIR)\n");
        return -1;
    }
    rc = redisConnect(host, atoi(port));
    if (!rc || rc->err) {
        fprintf(stderr, "cannot connect to Redis %s:%s\n", host, port);
        return -1;
    }
    redisReply *r = redisCommand(rc, "SELECT 9");
    freeReplyObject(r);
    r = redisCommand(rc, "FLUSHDB");
    freeReplyObject(r);
    return 0;
}
static int teardown(void **state)
{
    (void)state;
    redisFree(rc);
    return 0;
}

typedef struct {
    cap_t cap;
    exec_io_t io;
    exec_store_t *store;
    exec_engine_t *eng;
    paper_config_t cfg;
} run_t;

/* A fresh engine (a restarted process) with a fresh store handle on the same Redis. */
static void run_start(run_t *r, int nbars)
{
    memset(r, 0, sizeof(*r));
    r->io = (exec_io_t){cap_publish, cap_ks, cap_now, cap_done, &r->cap};
    paper_config_defaults(&r->cfg);
    r->store = exec_store_new_redis(cmd_fn, rc, r->cfg.initial_cash);
    assert_int_equal(exec_store_init(r->store), 0);
    r->eng = exec_engine_new(&r->cfg, r->store, &r->io);
    for (int i = 0; i < nbars; i++) {
        Qt__V1__Bar b = QT__V1__BAR__INIT;
        b.symbol = (char *)"BTC_USDT";
        b.open_time_ms = T0 + i * 14400000LL;
        b.open = b.high = b.low = b.close = BTC_OPEN[i];
        assert_int_equal(exec_engine_on_bar(r->eng, &b), 1);
    }
}
static void run_stop(run_t *r)
{
    exec_engine_destroy(&r->eng);
    exec_store_destroy(&r->store);
    cap_clear(&r->cap);
}
static void feed(run_t *r, int64_t off, int64_t t, Qt__V1__Side side, int64_t qty)
{
    char id[64];
    snprintf(id, sizeof id, "%" PRId64 "-BTC_USDT", t);
    Qt__V1__OrderIntent in = QT__V1__ORDER_INTENT__INIT;
    in.intent_id = id;
    in.symbol = (char *)"BTC_USDT";
    in.side = side;
    in.qty = qty;
    in.ref_price = BTC_OPEN[0];
    in.bar_time_ms = t;
    assert_int_equal(exec_engine_on_intent(r->eng, off, &in), 1);
    Qt__V1__Watermark w = QT__V1__WATERMARK__INIT;
    w.event_time_ms = t;
    assert_int_equal(exec_engine_on_intents_watermark(r->eng, off + 1, &w), 1);
}
static int64_t rdiv(__int128 num, int64_t den)
{
    __int128 q = num / den, rem = num % den;
    if (2 * rem > den || (2 * rem == den && (q & 1)))
        q += 1;
    return (int64_t)q;
}
static void flush(void)
{
    redisReply *r = redisCommand(rc, "FLUSHDB");
    freeReplyObject(r);
}

/* The same intent processed twice by two processes: one position change, same fill. */
static void test_same_intent_twice(void **state)
{
    (void)state;
    flush();
    const int64_t qty = 50000000LL;
    run_t a;
    run_start(&a, 2);
    feed(&a, 0, T0, QT__V1__SIDE__SIDE_BUY, qty);
    assert_true(exec_engine_step(a.eng) > 0);
    assert_int_equal(a.cap.batches, 1);
    size_t fi = cap_find(&a.cap, QT__V1__ENVELOPE__BODY_FILL);
    size_t flen = a.cap.len[fi];
    uint8_t *first = malloc(flen);
    memcpy(first, a.cap.bytes[fi], flen);
    run_stop(&a);

    int64_t price = rdiv((__int128)BTC_OPEN[1] * 10005, 10000);
    int64_t notional = rdiv((__int128)price * qty, 100000000LL);
    int64_t fee = rdiv((__int128)notional * 10, 10000);
    assert_int_equal(redis_int("HGET qt:paper:pos %s", "BTC_USDT", NULL), qty);
    assert_int_equal(redis_int("GET %s", "qt:paper:cash", NULL), INITIAL_CASH - notional - fee);

    run_t b;
    run_start(&b, 2);
    feed(&b, 0, T0, QT__V1__SIDE__SIDE_BUY, qty);
    assert_true(exec_engine_step(b.eng) > 0);
    assert_int_equal(exec_engine_stats(b.eng)->orders, 0);
    assert_int_equal(exec_engine_stats(b.eng)->fills, 0);
    assert_int_equal(exec_engine_stats(b.eng)->replays, 1);
    fi = cap_find(&b.cap, QT__V1__ENVELOPE__BODY_FILL);
    assert_int_equal(b.cap.len[fi], flen);
    assert_memory_equal(b.cap.bytes[fi], first, flen);
    Qt__V1__Envelope *e = qt__v1__envelope__unpack(NULL, flen, first);
    assert_string_equal(e->fill->fill_id, "QT-1502942400000-BTC_USDT-1");
    assert_int_equal(e->fill->price, price);
    assert_int_equal(e->fill->fee, fee);
    qt__v1__envelope__free_unpacked(e, NULL);
    run_stop(&b);
    free(first);
    assert_int_equal(redis_int("HGET qt:paper:pos %s", "BTC_USDT", NULL), qty);
    assert_int_equal(redis_int("GET %s", "qt:paper:cash", NULL), INITIAL_CASH - notional - fee);
    redisReply *r = redisCommand(rc, "HGET qt:exec:order:%s status", "QT-1502942400000-BTC_USDT");
    assert_string_equal(r->str, "FILLED");
    freeReplyObject(r);
}

/* Crash after the claim, before the fill: the restarted process fills it once. */
static void test_crash_between_claim_and_fill(void **state)
{
    (void)state;
    flush();
    const int64_t qty = 30000000LL;
    run_t a;
    run_start(&a, 1); /* the next bar is not known yet */
    feed(&a, 5, T0, QT__V1__SIDE__SIDE_BUY, qty);
    assert_int_equal(exec_engine_step(a.eng), 1);
    assert_int_equal(cap_count(&a.cap, QT__V1__ENVELOPE__BODY_ORDER), 1);
    run_stop(&a); /* "kill -9" */
    redisReply *r = redisCommand(rc, "HGET qt:exec:order:%s status", "QT-1502942400000-BTC_USDT");
    assert_string_equal(r->str, "NEW");
    freeReplyObject(r);
    assert_int_equal(redis_int("HGET qt:paper:pos %s", "BTC_USDT", NULL), 0);

    run_t b;
    run_start(&b, 2);
    feed(&b, 5, T0, QT__V1__SIDE__SIDE_BUY, qty);
    assert_true(exec_engine_step(b.eng) > 0);
    assert_int_equal(exec_engine_stats(b.eng)->orders, 0); /* no second order */
    assert_int_equal(exec_engine_stats(b.eng)->replays, 1);
    assert_int_equal(exec_engine_stats(b.eng)->fills, 1);
    assert_int_equal(cap_count(&b.cap, QT__V1__ENVELOPE__BODY_FILL), 1);
    run_stop(&b);
    assert_int_equal(redis_int("HGET qt:paper:pos %s", "BTC_USDT", NULL), qty);
}

/* Crash after the Lua fill, before anything was published: the restart re-publishes
 * the stored fill, byte-identical to what the lost publish would have sent. */
static void test_crash_between_fill_and_publish(void **state)
{
    (void)state;
    flush();
    const int64_t qty = 20000000LL;
    paper_config_t cfg;
    paper_config_defaults(&cfg);
    exec_store_t *s = exec_store_new_redis(cmd_fn, rc, cfg.initial_cash);
    assert_int_equal(exec_store_init(s), 0);
    Qt__V1__OrderIntent in = QT__V1__ORDER_INTENT__INIT;
    in.intent_id = (char *)"1502942400000-BTC_USDT";
    in.symbol = (char *)"BTC_USDT";
    in.side = QT__V1__SIDE__SIDE_SELL;
    in.qty = qty;
    in.ref_price = BTC_OPEN[0];
    in.bar_time_ms = T0;
    exec_order_t o, stored;
    assert_true(exec_order_from_intent(&in, 1700000000000LL, &o, NULL));
    assert_int_equal(exec_store_claim(s, &o, &stored), 1);
    assert_int_equal(exec_store_claim(s, &o, &stored), 0); /* HSETNX: second claim loses */
    assert_int_equal(stored.status, EXEC_ST_NEW);
    paper_fill_calc_t f;
    assert_true(paper_fill_calc(&cfg, o.side, o.qty, BTC_OPEN[1], &f));
    o.status = EXEC_ST_FILLED;
    o.fill_price = f.price;
    o.fee = f.fee;
    o.fill_time_ms = T1;
    assert_int_equal(exec_fill_id(o.coid, o.fill_id, sizeof o.fill_id), 0);
    assert_int_equal(exec_store_fill(s, &o, f.qty_delta, f.cash_delta, &stored), 1);
    /* the fill the process would have published, then died */
    Qt__V1__Fill lost;
    exec_build_fill(&o, &lost);
    Qt__V1__Envelope env = QT__V1__ENVELOPE__INIT;
    env.schema_version = QT_SCHEMA_VERSION;
    env.event_time_ns = T1 * 1000000LL;
    env.body_case = QT__V1__ENVELOPE__BODY_FILL;
    env.fill = &lost;
    size_t lost_len = qt__v1__envelope__get_packed_size(&env);
    uint8_t *lost_bytes = malloc(lost_len);
    qt__v1__envelope__pack(&env, lost_bytes);
    /* a second fill attempt (another price!) is refused by the script */
    exec_order_t o2 = o;
    o2.fill_price += 12345;
    assert_int_equal(exec_store_fill(s, &o2, f.qty_delta, f.cash_delta, &stored), 0);
    assert_int_equal(stored.status, EXEC_ST_FILLED);
    assert_int_equal(stored.fill_price, f.price);
    exec_store_destroy(&s);
    assert_int_equal(redis_int("HGET qt:paper:pos %s", "BTC_USDT", NULL), -qty);
    int64_t cash = redis_int("GET %s", "qt:paper:cash", NULL);
    assert_int_equal(cash, INITIAL_CASH + f.notional - f.fee);

    run_t b;
    run_start(&b, 2);
    feed(&b, 0, T0, QT__V1__SIDE__SIDE_SELL, qty);
    assert_true(exec_engine_step(b.eng) > 0);
    assert_int_equal(exec_engine_stats(b.eng)->fills, 0);
    assert_int_equal(exec_engine_stats(b.eng)->replays, 1);
    size_t fi = cap_find(&b.cap, QT__V1__ENVELOPE__BODY_FILL);
    assert_int_equal(b.cap.len[fi], lost_len);
    assert_memory_equal(b.cap.bytes[fi], lost_bytes, lost_len);
    assert_int_equal(cap_count(&b.cap, QT__V1__ENVELOPE__BODY_FILL), 1);
    run_stop(&b);
    free(lost_bytes);
    assert_int_equal(redis_int("HGET qt:paper:pos %s", "BTC_USDT", NULL), -qty);
    assert_int_equal(redis_int("GET %s", "qt:paper:cash", NULL), cash);
}

/* The Lua fill is all-or-nothing: an overflowing position or cash leaves the order
 * NEW and the account untouched. */
static void test_fill_atomic_on_overflow(void **state)
{
    (void)state;
    flush();
    paper_config_t cfg;
    paper_config_defaults(&cfg);
    exec_store_t *s = exec_store_new_redis(cmd_fn, rc, cfg.initial_cash);
    assert_int_equal(exec_store_init(s), 0);
    Qt__V1__OrderIntent in = QT__V1__ORDER_INTENT__INIT;
    in.intent_id = (char *)"1502956800000-BTC_USDT";
    in.symbol = (char *)"BTC_USDT";
    in.side = QT__V1__SIDE__SIDE_BUY;
    in.qty = 100000000LL;
    in.ref_price = 1;
    in.bar_time_ms = T1;
    exec_order_t o, stored;
    assert_true(exec_order_from_intent(&in, 1, &o, NULL));
    assert_int_equal(exec_store_claim(s, &o, &stored), 1);
    o.fill_price = BTC_OPEN[2];
    o.fee = 1;
    o.fill_time_ms = T2;
    exec_fill_id(o.coid, o.fill_id, sizeof o.fill_id);
    /* position overflow: HINCRBY fails first */
    redisReply *r = redisCommand(rc, "HSET qt:paper:pos BTC_USDT %lld", (long long)(INT64_MAX - 5));
    freeReplyObject(r);
    assert_int_equal(exec_store_fill(s, &o, 100000000LL, -1000, &stored), -1);
    assert_int_equal(redis_int("HGET qt:paper:pos %s", "BTC_USDT", NULL), INT64_MAX - 5);
    assert_int_equal(redis_int("GET %s", "qt:paper:cash", NULL), INITIAL_CASH);
    /* cash overflow: INCRBY fails, the position change is undone */
    r = redisCommand(rc, "HSET qt:paper:pos BTC_USDT 7");
    freeReplyObject(r);
    r = redisCommand(rc, "SET qt:paper:cash %lld", (long long)(INT64_MIN + 10));
    freeReplyObject(r);
    assert_int_equal(exec_store_fill(s, &o, 100000000LL, -1000, &stored), -1);
    assert_int_equal(redis_int("HGET qt:paper:pos %s", "BTC_USDT", NULL), 7);
    assert_int_equal(redis_int("GET %s", "qt:paper:cash", NULL), INT64_MIN + 10);
    assert_int_equal(exec_store_get(s, o.coid, &stored), 1);
    assert_int_equal(stored.status, EXEC_ST_NEW);
    /* with sane values it fills exactly once */
    r = redisCommand(rc, "SET qt:paper:cash 0");
    freeReplyObject(r);
    assert_int_equal(exec_store_fill(s, &o, 100000000LL, -1000, &stored), 1);
    assert_int_equal(exec_store_fill(s, &o, 100000000LL, -1000, &stored), 0);
    assert_int_equal(redis_int("HGET qt:paper:pos %s", "BTC_USDT", NULL), 100000007LL);
    assert_int_equal(redis_int("GET %s", "qt:paper:cash", NULL), -1000);
    /* expire only moves NEW orders */
    snprintf(o.reason, sizeof o.reason, "no next bar");
    assert_int_equal(exec_store_expire(s, &o, &stored), 0);
    assert_int_equal(stored.status, EXEC_ST_FILLED);
    exec_position_t *pos = NULL;
    size_t n = 0;
    assert_int_equal(exec_store_positions(s, &pos, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(pos[0].symbol, "BTC_USDT");
    assert_int_equal(pos[0].qty, 100000007LL);
    free(pos);
    exec_store_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_intent_twice),
        cmocka_unit_test(test_crash_between_claim_and_fill),
        cmocka_unit_test(test_crash_between_fill_and_publish),
        cmocka_unit_test(test_fill_atomic_on_overflow),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
