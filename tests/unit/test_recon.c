/* test_recon: fills de-duplicated by fill_id, positions and cash rebuilt exactly,
 * mismatch detection against the broker snapshot (per watermark) and a final book,
 * and an end-to-end check against the exec engine's paper account on real prices. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec.h"
#include "recon/recon.h"

#define ONE 100000000LL

static Qt__V1__Fill mkfill(const char *id, const char *sym, Qt__V1__Side side, int64_t qty,
                           int64_t price, int64_t fee)
{
    Qt__V1__Fill f = QT__V1__FILL__INIT;
    f.fill_id = (char *)id;
    f.client_order_id = (char *)id;
    f.symbol = (char *)sym;
    f.side = side;
    f.qty = qty;
    f.price = price;
    f.fee = fee;
    return f;
}
static Qt__V1__Position mkpos(const char *sym, int64_t qty)
{
    Qt__V1__Position p = QT__V1__POSITION__INIT;
    p.account = (char *)"paper";
    p.symbol = (char *)sym;
    p.qty = qty;
    return p;
}

static void test_dedupe_and_rebuild(void **state)
{
    (void)state;
    recon_t *r = recon_new(100000 * ONE);
    /* BTC 4h opens 4333.32 and 4436.06 with 5 bps slippage (as exec would fill) */
    Qt__V1__Fill a = mkfill("QT-1502942400000-BTC_USDT-1", "BTC_USDT", QT__V1__SIDE__SIDE_BUY,
                            50000000LL, 433548666000LL, 216774333LL);
    Qt__V1__Fill b = mkfill("QT-1502956800000-BTC_USDT-1", "BTC_USDT", QT__V1__SIDE__SIDE_SELL,
                            20000000LL, 443384197000LL, 88676839LL);
    Qt__V1__Fill c = mkfill("QT-1502942400000-ETH_USDT-1", "ETH_USDT", QT__V1__SIDE__SIDE_SELL,
                            3 * ONE, 30779602500LL, 92338808LL);
    assert_int_equal(recon_on_fill(r, &a), 1);
    assert_int_equal(recon_on_fill(r, &a), 0);    /* exec replay */
    assert_int_equal(recon_on_fill(r, &b), 1);
    assert_int_equal(recon_on_fill(r, &c), 1);
    assert_int_equal(recon_on_fill(r, &b), 0);
    assert_int_equal(recon_fills_seen(r), 3);
    assert_int_equal(recon_duplicates(r), 2);
    assert_int_equal(recon_position(r, "BTC_USDT"), 30000000LL);
    assert_int_equal(recon_position(r, "ETH_USDT"), -3 * ONE);
    /* cash: 100000 - 2167.74333 - 2.16774333 + 886.768394 - 0.88676839 + 923.388075 - 0.92338808 */
    int64_t na = 216774333000LL, nb = 88676839400LL, nc = 92338807500LL;
    assert_int_equal(recon_cash(r), 100000 * ONE - na - 216774333LL + nb - 88676839LL + nc -
                                        92338808LL);
    /* invalid fills are refused and change nothing */
    Qt__V1__Fill bad = mkfill("X-1", "BTC_USDT", QT__V1__SIDE__SIDE_UNSPECIFIED, ONE, ONE, 0);
    assert_int_equal(recon_on_fill(r, &bad), -1);
    bad.side = QT__V1__SIDE__SIDE_BUY;
    bad.qty = 0;
    assert_int_equal(recon_on_fill(r, &bad), -1);
    bad.qty = ONE;
    bad.fee = -1;
    assert_int_equal(recon_on_fill(r, &bad), -1);
    bad.fee = 0;
    bad.fill_id = (char *)"";
    assert_int_equal(recon_on_fill(r, &bad), -1);
    bad.fill_id = (char *)"X-2";
    bad.price = INT64_MAX;
    bad.qty = INT64_MAX;
    assert_int_equal(recon_on_fill(r, &bad), -1);
    assert_int_equal(recon_fills_seen(r), 3);
    assert_int_equal(recon_position(r, "BTC_USDT"), 30000000LL);
    recon_destroy(&r);
    assert_null(r);
}

static void test_many_fills_hash_growth(void **state)
{
    (void)state;
    recon_t *r = recon_new(0);
    char id[64];
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < 5000; i++) {
            snprintf(id, sizeof id, "QT-%d-SOL_USDT-1", i);
            Qt__V1__Fill f = mkfill(id, "SOL_USDT", i % 2 ? QT__V1__SIDE__SIDE_SELL
                                                          : QT__V1__SIDE__SIDE_BUY,
                                    (i + 1) * 1000LL, ONE, 0);
            assert_int_equal(recon_on_fill(r, &f), pass == 0 ? 1 : 0);
        }
    assert_int_equal(recon_fills_seen(r), 5000);
    assert_int_equal(recon_duplicates(r), 5000);
    /* buys at even i (qty (i+1)*1000), sells at odd i: sum = -2500 * 1000 */
    assert_int_equal(recon_position(r, "SOL_USDT"), -2500000LL);
    recon_destroy(&r);
}

static void test_watermark_compare(void **state)
{
    (void)state;
    recon_t *r = recon_new(0);
    Qt__V1__Fill a = mkfill("A-1", "BTC_USDT", QT__V1__SIDE__SIDE_BUY, ONE, 1000 * ONE, 0);
    Qt__V1__Fill b = mkfill("B-1", "ETH_USDT", QT__V1__SIDE__SIDE_BUY, 2 * ONE, 100 * ONE, 0);
    recon_on_fill(r, &a);
    recon_on_fill(r, &b);
    /* the broker agrees (reported in any order) */
    Qt__V1__Position pe = mkpos("ETH_USDT", 2 * ONE), pb = mkpos("BTC_USDT", ONE);
    assert_int_equal(recon_on_position(r, &pe), 0);
    assert_int_equal(recon_on_position(r, &pb), 0);
    recon_report_t rep;
    assert_int_equal(recon_on_watermark(r, false, &rep), 0);
    assert_true(rep.ok);
    assert_int_equal(rep.mismatches, 0);
    assert_int_equal(rep.n_rebuilt, 2);
    assert_int_equal(rep.n_broker, 2);
    assert_string_equal(rep.broker[0].symbol, "BTC_USDT");
    assert_string_equal(rep.detail, "");
    assert_false(rep.final);
    recon_report_free(&rep);
    /* next watermark: the broker reports BTC 0.5 and an extra SOL; ETH missing */
    Qt__V1__Position half = mkpos("BTC_USDT", ONE / 2), sol = mkpos("SOL_USDT", 7);
    recon_on_position(r, &half);
    recon_on_position(r, &sol);
    assert_int_equal(recon_on_watermark(r, false, &rep), 0);
    assert_false(rep.ok);
    assert_int_equal(rep.mismatches, 3);
    assert_non_null(strstr(rep.detail, "BTC_USDT: rebuilt 1 != broker 0.5"));
    assert_non_null(strstr(rep.detail, "ETH_USDT: rebuilt 2 != broker 0"));
    assert_non_null(strstr(rep.detail, "SOL_USDT: rebuilt 0 != broker 0.00000007"));
    recon_pb_t pbv;
    assert_int_equal(recon_report_to_pb(&rep, &pbv), 0);
    assert_false(pbv.msg.ok);
    assert_int_equal(pbv.msg.mismatches, 3);
    assert_int_equal(pbv.msg.n_rebuilt, 2);
    assert_int_equal(pbv.msg.n_broker, 2);
    assert_string_equal(pbv.msg.broker[1]->symbol, "SOL_USDT");
    assert_int_equal(pbv.msg.rebuilt[1]->qty, 2 * ONE);
    recon_pb_free(&pbv);
    recon_report_free(&rep);
    /* the snapshot was cleared: an empty snapshot vs a non-empty book mismatches */
    assert_int_equal(recon_on_watermark(r, true, &rep), 0);
    assert_false(rep.ok);
    assert_int_equal(rep.mismatches, 2);
    assert_true(rep.final);
    /* final extra checks (Redis book and cash) add to the same report */
    recon_report_free(&rep);
    recon_on_position(r, &pb);
    recon_on_position(r, &pe);
    assert_int_equal(recon_on_watermark(r, true, &rep), 0);
    assert_true(rep.ok);
    recon_pos_t redis_book[2] = {{"BTC_USDT", ONE}, {"ETH_USDT", 2 * ONE}};
    recon_check_positions(r, &rep, redis_book, 2, "redis");
    recon_check_cash(r, &rep, -1200 * ONE, "redis");
    assert_true(rep.ok);
    redis_book[1].qty = ONE;
    recon_check_positions(r, &rep, redis_book, 2, "redis");
    recon_check_cash(r, &rep, 0, "redis");
    assert_false(rep.ok);
    assert_int_equal(rep.mismatches, 2);
    assert_non_null(strstr(rep.detail, "ETH_USDT: rebuilt 2 != redis 1"));
    assert_non_null(strstr(rep.detail, "cash: rebuilt -1200 != redis 0"));
    recon_report_free(&rep);
    Qt__V1__Position badp = mkpos("", 1);
    assert_int_equal(recon_on_position(r, &badp), -1);
    assert_int_equal(recon_selftest(false), 0);
    recon_destroy(&r);
}

/* --- end to end with the exec engine (memory store) on real BTC/ETH opens */
typedef struct {
    recon_t *r;
    size_t fills, positions, watermarks;
    bool all_ok;
} sink_t;
static int sink_publish(void *ctx, const char *z, const char *k, const char *key, qt_env_t *env)
{
    (void)z, (void)k, (void)key;
    sink_t *s = ctx;
    /* through the wire format, as recon would read it from Kafka */
    size_t len = qt__v1__envelope__get_packed_size(env);
    uint8_t *buf = malloc(len);
    qt__v1__envelope__pack(env, buf);
    Qt__V1__Envelope *e = qt__v1__envelope__unpack(NULL, len, buf);
    free(buf);
    if (e->body_case == QT__V1__ENVELOPE__BODY_FILL) {
        s->fills++;
        assert_int_equal(recon_on_fill(s->r, e->fill), 1);
        assert_int_equal(recon_on_fill(s->r, e->fill), 0); /* duplicated delivery */
    } else if (e->body_case == QT__V1__ENVELOPE__BODY_POSITION) {
        s->positions++;
        recon_on_position(s->r, e->position);
    } else if (e->body_case == QT__V1__ENVELOPE__BODY_WATERMARK) {
        s->watermarks++;
        recon_report_t rep;
        assert_int_equal(recon_on_watermark(s->r, e->watermark->end_of_stream, &rep), 0);
        s->all_ok = s->all_ok && rep.ok;
        recon_report_free(&rep);
    }
    qt__v1__envelope__free_unpacked(e, NULL);
    return 0;
}
static Qt__V1__KillSwitchTier ks_normal(void *c) { (void)c; return QT__V1__KILL_SWITCH_TIER__KS_NORMAL; }
static int64_t now0(void *c) { (void)c; return 1; }
static int done_ok(void *c, int64_t t, bool e, int64_t n) { (void)c, (void)t, (void)e, (void)n; return 0; }

static void test_end_to_end_with_exec(void **state)
{
    (void)state;
    /* BTC/ETH 4h opens from the Binance set, 2017-08-17 00:00 .. 2017-08-18 00:00 UTC */
    static const int64_t btc[7] = {426148000000LL, 433332000000LL, 443606000000LL,
                                   435233000000LL, 430756000000LL, 428508000000LL,
                                   429239000000LL};
    static const int64_t eth[7] = {30113000000LL, 30795000000LL, 30895000000LL, 30774000000LL,
                                   30160000000LL, 30200000000LL, 30140000000LL};
    sink_t s = {.r = recon_new(100000 * ONE), .all_ok = true};
    exec_io_t io = {sink_publish, ks_normal, now0, done_ok, &s};
    paper_config_t cfg;
    paper_config_defaults(&cfg);
    exec_store_t *st = exec_store_new_mem(cfg.initial_cash);
    exec_engine_t *e = exec_engine_new(&cfg, st, &io);
    int64_t off = 0;
    for (int i = 0; i < 7; i++) {
        int64_t t = 1502942400000LL + i * 14400000LL;
        Qt__V1__Bar b = QT__V1__BAR__INIT;
        b.symbol = (char *)"BTC_USDT";
        b.open_time_ms = t;
        b.open = btc[i];
        exec_engine_on_bar(e, &b);
        b.symbol = (char *)"ETH_USDT";
        b.open = eth[i];
        exec_engine_on_bar(e, &b);
        if (i == 6)
            break;
        const char *syms[2] = {"BTC_USDT", "ETH_USDT"};
        for (int k = 0; k < 2; k++) {
            char id[64];
            snprintf(id, sizeof id, "%lld-%s", (long long)t, syms[k]);
            Qt__V1__OrderIntent in = QT__V1__ORDER_INTENT__INIT;
            in.intent_id = id;
            in.symbol = (char *)syms[k];
            in.side = (i + k) % 3 == 2 ? QT__V1__SIDE__SIDE_SELL : QT__V1__SIDE__SIDE_BUY;
            in.qty = (k ? 1234567890LL : 12345678LL) * (i + 1);
            in.ref_price = 1;
            in.bar_time_ms = t;
            assert_int_equal(exec_engine_on_intent(e, off++, &in), 1);
        }
        Qt__V1__Watermark w = QT__V1__WATERMARK__INIT;
        w.event_time_ms = t;
        exec_engine_on_intents_watermark(e, off++, &w);
        assert_true(exec_engine_step(e) > 0);
    }
    assert_int_equal(s.fills, 10); /* the last batch waits for its next bar ... */
    assert_int_equal(s.watermarks, 5);
    assert_true(exec_engine_step(e) > 0); /* ... which was added at i == 6 */
    assert_int_equal(s.fills, 12);
    assert_int_equal(s.watermarks, 6);
    assert_true(s.all_ok);
    qt_fixed_t cash, pos;
    exec_store_cash(st, &cash);
    assert_int_equal(recon_cash(s.r), cash);
    exec_store_position(st, "ETH_USDT", &pos);
    assert_int_equal(recon_position(s.r, "ETH_USDT"), pos);
    assert_true(pos != 0);
    assert_int_equal(recon_duplicates(s.r), 12);
    exec_engine_destroy(&e);
    exec_store_destroy(&st);
    recon_destroy(&s.r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dedupe_and_rebuild),
        cmocka_unit_test(test_many_fills_hash_growth),
        cmocka_unit_test(test_watermark_compare),
        cmocka_unit_test(test_end_to_end_with_exec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
