/* test_exec: the qt-exec engine over the memory store (the backtest's store) with a
 * capturing publisher: next-bar fills, pending -> filled, expiry at end of stream,
 * kill-switch gating, replays after a "crash" (a new engine on the same store), and
 * batch completion + checkpoint offsets. Prices are real BTC/ETH 4h opens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec.h"

/* Real candles (Binance 4h, djienne set): first three BTC_USDT and ETH_USDT opens. */
#define T0 1502942400000LL
#define T1 1502956800000LL
#define T2 1502971200000LL
static const int64_t BTC_OPEN[3] = {426148000000LL, 433332000000LL, 443606000000LL};
static const int64_t ETH_OPEN[3] = {30113000000LL, 30795000000LL, 30895000000LL};

typedef struct {
    char zmq[64], kafka[32], key[64];
    Qt__V1__Envelope__BodyCase body;
    uint8_t *bytes;
    size_t len;
} pub_t;

typedef struct {
    pub_t pubs[256];
    size_t n;
    Qt__V1__KillSwitchTier tier;
    int64_t now;
    int batch_fail;        /* fail the next N batch_done calls */
    int64_t done_t[32], done_next[32];
    bool done_eos[32];
    size_t ndone;
} cap_t;

static int cap_publish(void *ctx, const char *zmq, const char *kafka, const char *key,
                       qt_env_t *env)
{
    cap_t *c = ctx;
    assert_true(c->n < 256);
    pub_t *p = &c->pubs[c->n++];
    snprintf(p->zmq, sizeof(p->zmq), "%s", zmq);
    snprintf(p->kafka, sizeof(p->kafka), "%s", kafka);
    snprintf(p->key, sizeof(p->key), "%s", key);
    p->body = env->body_case;
    p->len = qt__v1__envelope__get_packed_size(env);
    p->bytes = malloc(p->len);
    qt__v1__envelope__pack(env, p->bytes);
    return 0;
}
static Qt__V1__KillSwitchTier cap_ks(void *ctx) { return ((cap_t *)ctx)->tier; }
static int64_t cap_now(void *ctx) { return ((cap_t *)ctx)->now; }
static int cap_done(void *ctx, int64_t t, bool eos, int64_t next)
{
    cap_t *c = ctx;
    if (c->batch_fail > 0) {
        c->batch_fail--;
        return -1;
    }
    c->done_t[c->ndone] = t;
    c->done_eos[c->ndone] = eos;
    c->done_next[c->ndone] = next;
    c->ndone++;
    return 0;
}
static void cap_clear(cap_t *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->pubs[i].bytes);
    c->n = 0;
}
static Qt__V1__Envelope *cap_env(cap_t *c, size_t i)
{
    assert_true(i < c->n);
    Qt__V1__Envelope *e = qt__v1__envelope__unpack(NULL, c->pubs[i].len, c->pubs[i].bytes);
    assert_non_null(e);
    return e;
}
static size_t cap_count(cap_t *c, Qt__V1__Envelope__BodyCase body)
{
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++)
        k += c->pubs[i].body == body;
    return k;
}
static size_t cap_find(cap_t *c, Qt__V1__Envelope__BodyCase body, size_t nth)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->pubs[i].body == body && nth-- == 0)
            return i;
    fail_msg("no such event");
    return 0;
}

typedef struct {
    cap_t cap;
    exec_io_t io;
    exec_store_t *store;
    exec_engine_t *eng;
    paper_config_t cfg;
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof(*f));
    f->cap.tier = QT__V1__KILL_SWITCH_TIER__KS_NORMAL;
    f->cap.now = 1700000000000LL;
    f->io = (exec_io_t){cap_publish, cap_ks, cap_now, cap_done, &f->cap};
    paper_config_defaults(&f->cfg);
    f->store = exec_store_new_mem(f->cfg.initial_cash);
    assert_int_equal(exec_store_init(f->store), 0);
    f->eng = exec_engine_new(&f->cfg, f->store, &f->io);
    assert_non_null(f->eng);
    *state = f;
    return 0;
}
static int teardown(void **state)
{
    fx_t *f = *state;
    exec_engine_destroy(&f->eng);
    exec_store_destroy(&f->store);
    cap_clear(&f->cap);
    free(f);
    return 0;
}

static void bar(exec_engine_t *e, const char *sym, int64_t t, int64_t open)
{
    Qt__V1__Bar b = QT__V1__BAR__INIT;
    b.symbol = (char *)sym;
    b.interval = (char *)"4h";
    b.open_time_ms = t;
    b.open = b.high = b.low = b.close = open;
    assert_int_equal(exec_engine_on_bar(e, &b), 1);
}
static int intent(exec_engine_t *e, int64_t off, const char *sym, int64_t t, Qt__V1__Side side,
                  int64_t qty)
{
    char id[64];
    snprintf(id, sizeof(id), "%lld-%s", (long long)t, sym);
    Qt__V1__OrderIntent in = QT__V1__ORDER_INTENT__INIT;
    in.intent_id = id;
    in.symbol = (char *)sym;
    in.side = side;
    in.qty = qty;
    in.ref_price = 1;
    in.bar_time_ms = t;
    return exec_engine_on_intent(e, off, &in);
}
static void wm(exec_engine_t *e, int64_t off, int64_t t, bool eos)
{
    Qt__V1__Watermark w = QT__V1__WATERMARK__INIT;
    w.stream = (char *)"intents";
    w.event_time_ms = t;
    w.end_of_stream = eos;
    assert_int_equal(exec_engine_on_intents_watermark(e, off, &w), 1);
}
static void bars_eos(exec_engine_t *e)
{
    Qt__V1__Watermark w = QT__V1__WATERMARK__INIT;
    w.stream = (char *)"bars";
    w.end_of_stream = true;
    exec_engine_on_bars_watermark(e, &w);
}
static int64_t rdiv(__int128 num, int64_t den)
{
    __int128 q = num / den, r = num % den;
    if (r < 0) {
        r += den;
        q -= 1;
    }
    if (2 * r > den || (2 * r == den && (q & 1)))
        q += 1;
    return (int64_t)q;
}

static void test_fill_next_bar_open(void **state)
{
    fx_t *f = *state;
    for (int i = 0; i < 3; i++) {
        bar(f->eng, "BTC_USDT", T0 + i * 14400000LL, BTC_OPEN[i]);
        bar(f->eng, "ETH_USDT", T0 + i * 14400000LL, ETH_OPEN[i]);
    }
    const int64_t qb = 25000000LL, qe = 300000000LL; /* 0.25 BTC, 3 ETH */
    assert_int_equal(intent(f->eng, 0, "BTC_USDT", T0, QT__V1__SIDE__SIDE_BUY, qb), 1);
    assert_int_equal(intent(f->eng, 1, "ETH_USDT", T0, QT__V1__SIDE__SIDE_BUY, qe), 1);
    wm(f->eng, 2, T0, false);
    assert_true(exec_engine_step(f->eng) > 0);
    /* BTC: order, fill, report; ETH: order, fill, report; 2 positions; watermark */
    assert_int_equal(f->cap.n, 9);
    assert_int_equal(cap_count(&f->cap, QT__V1__ENVELOPE__BODY_ORDER), 2);
    assert_int_equal(cap_count(&f->cap, QT__V1__ENVELOPE__BODY_FILL), 2);
    assert_int_equal(cap_count(&f->cap, QT__V1__ENVELOPE__BODY_REPORT), 2);
    assert_int_equal(cap_count(&f->cap, QT__V1__ENVELOPE__BODY_POSITION), 2);
    assert_int_equal(f->cap.pubs[8].body, QT__V1__ENVELOPE__BODY_WATERMARK);

    /* expected (independent): price = open(T1) * 10005 / 1e4, notional, fee 10 bps */
    int64_t pb = rdiv((__int128)BTC_OPEN[1] * 10005, 10000);
    int64_t nb = rdiv((__int128)pb * qb, 100000000LL), fb = rdiv((__int128)nb * 10, 10000);
    int64_t pe = rdiv((__int128)ETH_OPEN[1] * 10005, 10000);
    int64_t ne = rdiv((__int128)pe * qe, 100000000LL), fe = rdiv((__int128)ne * 10, 10000);
    assert_int_equal(pb, 433548666000LL);
    Qt__V1__Envelope *e = cap_env(&f->cap, 0);
    assert_int_equal(e->body_case, QT__V1__ENVELOPE__BODY_ORDER);
    assert_string_equal(e->order->client_order_id, "QT-1502942400000-BTC_USDT");
    assert_string_equal(e->order->intent_id, "1502942400000-BTC_USDT");
    assert_string_equal(e->order->mode, "paper");
    assert_int_equal(e->order->qty, qb);
    assert_int_equal(e->order->created_ms, 1700000000000LL);
    assert_string_equal(f->cap.pubs[0].zmq, "exec.order");
    assert_string_equal(f->cap.pubs[0].kafka, "orders");
    assert_string_equal(f->cap.pubs[0].key, "BTC_USDT");
    qt__v1__envelope__free_unpacked(e, NULL);
    e = cap_env(&f->cap, 1);
    assert_int_equal(e->body_case, QT__V1__ENVELOPE__BODY_FILL);
    assert_string_equal(e->fill->fill_id, "QT-1502942400000-BTC_USDT-1");
    assert_int_equal(e->fill->price, pb);
    assert_int_equal(e->fill->qty, qb);
    assert_int_equal(e->fill->fee, fb);
    assert_int_equal(e->fill->fill_time_ms, T1);
    assert_int_equal(e->fill->intent_bar_time_ms, T0);
    assert_int_equal(e->event_time_ns, T1 * 1000000LL);
    assert_string_equal(f->cap.pubs[1].zmq, "exec.fill");
    assert_string_equal(f->cap.pubs[1].kafka, "fills");
    qt__v1__envelope__free_unpacked(e, NULL);
    e = cap_env(&f->cap, 2);
    assert_int_equal(e->report->status, QT__V1__ORDER_STATUS__ORDER_STATUS_FILLED);
    assert_int_equal(e->report->avg_price, pb);
    assert_int_equal(e->report->filled_qty, qb);
    qt__v1__envelope__free_unpacked(e, NULL);
    /* positions sorted by symbol, then the watermark */
    e = cap_env(&f->cap, 6);
    assert_string_equal(e->position->symbol, "BTC_USDT");
    assert_int_equal(e->position->qty, qb);
    qt__v1__envelope__free_unpacked(e, NULL);
    e = cap_env(&f->cap, 7);
    assert_string_equal(e->position->symbol, "ETH_USDT");
    assert_int_equal(e->position->qty, qe);
    assert_string_equal(f->cap.pubs[7].zmq, "exec.position");
    qt__v1__envelope__free_unpacked(e, NULL);
    e = cap_env(&f->cap, 8);
    assert_int_equal(e->watermark->event_time_ms, T0);
    assert_false(e->watermark->end_of_stream);
    assert_string_equal(f->cap.pubs[8].key, "watermark");
    qt__v1__envelope__free_unpacked(e, NULL);
    /* account */
    qt_fixed_t cash, pos;
    assert_int_equal(exec_store_cash(f->store, &cash), 0);
    assert_int_equal(cash, f->cfg.initial_cash - nb - fb - ne - fe);
    assert_int_equal(exec_store_position(f->store, "BTC_USDT", &pos), 0);
    assert_int_equal(pos, qb);
    /* checkpoint: everything before the watermark resolved -> next = 3 */
    assert_int_equal(f->cap.ndone, 1);
    assert_int_equal(f->cap.done_t[0], T0);
    assert_int_equal(f->cap.done_next[0], 3);
    assert_false(f->cap.done_eos[0]);
    assert_int_equal(exec_engine_unresolved(f->eng), 0);
    const exec_stats_t *st = exec_engine_stats(f->eng);
    assert_int_equal(st->orders, 2);
    assert_int_equal(st->fills, 2);
    assert_int_equal(st->batches, 1);

    /* sell it back on bar T1 -> fills at T2's open minus slippage */
    cap_clear(&f->cap);
    assert_int_equal(intent(f->eng, 3, "BTC_USDT", T1, QT__V1__SIDE__SIDE_SELL, qb), 1);
    wm(f->eng, 4, T1, false);
    assert_true(exec_engine_step(f->eng) > 0);
    int64_t ps = rdiv((__int128)BTC_OPEN[2] * 9995, 10000);
    int64_t ns = rdiv((__int128)ps * qb, 100000000LL), fs = rdiv((__int128)ns * 10, 10000);
    e = cap_env(&f->cap, cap_find(&f->cap, QT__V1__ENVELOPE__BODY_FILL, 0));
    assert_int_equal(e->fill->price, ps);
    assert_int_equal(e->fill->side, QT__V1__SIDE__SIDE_SELL);
    qt__v1__envelope__free_unpacked(e, NULL);
    assert_int_equal(exec_store_position(f->store, "BTC_USDT", &pos), 0);
    assert_int_equal(pos, 0);
    /* only ETH is still held: one Position event */
    assert_int_equal(cap_count(&f->cap, QT__V1__ENVELOPE__BODY_POSITION), 1);
    assert_int_equal(exec_store_cash(f->store, &cash), 0);
    assert_int_equal(cash, f->cfg.initial_cash - nb - fb - ne - fe + ns - fs);
    assert_int_equal(f->cap.done_next[1], 5);
}

static void test_pending_until_bar(void **state)
{
    fx_t *f = *state;
    bar(f->eng, "BTC_USDT", T0, BTC_OPEN[0]);
    assert_int_equal(intent(f->eng, 10, "BTC_USDT", T0, QT__V1__SIDE__SIDE_BUY, 100000000LL), 1);
    wm(f->eng, 11, T0, false);
    assert_true(exec_engine_step(f->eng) > 0);
    assert_int_equal(f->cap.n, 1); /* the order only */
    assert_int_equal(f->cap.pubs[0].body, QT__V1__ENVELOPE__BODY_ORDER);
    assert_int_equal(exec_engine_unresolved(f->eng), 1);
    assert_false(exec_engine_wants_intents(f->eng)); /* batch T0 open */
    assert_int_equal(f->cap.ndone, 0);
    assert_int_equal(exec_engine_step(f->eng), 0);   /* nothing new */
    qt_fixed_t pos;
    assert_int_equal(exec_store_position(f->store, "BTC_USDT", &pos), 0);
    assert_int_equal(pos, 0);
    /* an unrelated bar does not fill it */
    bar(f->eng, "ETH_USDT", T1, ETH_OPEN[1]);
    assert_int_equal(exec_engine_step(f->eng), 0);
    /* the next BTC bar arrives */
    bar(f->eng, "BTC_USDT", T1, BTC_OPEN[1]);
    assert_true(exec_engine_step(f->eng) > 0);
    assert_int_equal(cap_count(&f->cap, QT__V1__ENVELOPE__BODY_FILL), 1);
    assert_int_equal(exec_store_position(f->store, "BTC_USDT", &pos), 0);
    assert_int_equal(pos, 100000000LL);
    Qt__V1__Envelope *e = cap_env(&f->cap, cap_find(&f->cap, QT__V1__ENVELOPE__BODY_FILL, 0));
    assert_int_equal(e->fill->price, rdiv((__int128)BTC_OPEN[1] * 10005, 10000));
    qt__v1__envelope__free_unpacked(e, NULL);
    assert_true(exec_engine_wants_intents(f->eng));
    assert_int_equal(f->cap.ndone, 1);
    assert_int_equal(f->cap.done_next[0], 12);
}

static void test_expiry_at_end_of_stream(void **state)
{
    fx_t *f = *state;
    bar(f->eng, "ETH_USDT", T0, ETH_OPEN[0]);
    assert_int_equal(intent(f->eng, 0, "ETH_USDT", T0, QT__V1__SIDE__SIDE_BUY, 100000000LL), 1);
    wm(f->eng, 1, T0, true); /* intents ended */
    assert_int_equal(exec_engine_step(f->eng), 1); /* claimed only: bars not ended */
    assert_int_equal(f->cap.ndone, 0);
    bars_eos(f->eng);
    assert_true(exec_engine_step(f->eng) > 0);
    size_t r = cap_find(&f->cap, QT__V1__ENVELOPE__BODY_REPORT, 0);
    Qt__V1__Envelope *e = cap_env(&f->cap, r);
    assert_int_equal(e->report->status, QT__V1__ORDER_STATUS__ORDER_STATUS_EXPIRED);
    assert_string_equal(e->report->reason, "no next bar");
    assert_string_equal(e->report->client_order_id, "QT-1502942400000-ETH_USDT");
    qt__v1__envelope__free_unpacked(e, NULL);
    assert_int_equal(cap_count(&f->cap, QT__V1__ENVELOPE__BODY_FILL), 0);
    assert_int_equal(cap_count(&f->cap, QT__V1__ENVELOPE__BODY_POSITION), 0);
    assert_int_equal(f->cap.ndone, 1);
    assert_true(f->cap.done_eos[0]);
    e = cap_env(&f->cap, f->cap.n - 1);
    assert_true(e->watermark->end_of_stream);
    qt__v1__envelope__free_unpacked(e, NULL);
    exec_order_t o;
    assert_int_equal(exec_store_get(f->store, "QT-1502942400000-ETH_USDT", &o), 1);
    assert_int_equal(o.status, EXEC_ST_EXPIRED);
    qt_fixed_t cash;
    assert_int_equal(exec_store_cash(f->store, &cash), 0);
    assert_int_equal(cash, f->cfg.initial_cash);
    assert_int_equal(exec_engine_stats(f->eng)->expired, 1);
}

static void test_killswitch(void **state)
{
    fx_t *f = *state;
    for (int i = 0; i < 3; i++)
        bar(f->eng, "BTC_USDT", T0 + i * 14400000LL, BTC_OPEN[i]);
    const int64_t one = 100000000LL;
    /* NO_NEW with a flat book: a buy increases exposure -> REJECTED "kill switch" */
    f->cap.tier = QT__V1__KILL_SWITCH_TIER__KS_NO_NEW;
    intent(f->eng, 0, "BTC_USDT", T0 - 14400000LL, QT__V1__SIDE__SIDE_BUY, one);
    assert_true(exec_engine_step(f->eng) > 0);
    assert_int_equal(f->cap.n, 1);
    Qt__V1__Envelope *e = cap_env(&f->cap, 0);
    assert_int_equal(e->report->status, QT__V1__ORDER_STATUS__ORDER_STATUS_REJECTED);
    assert_string_equal(e->report->reason, "kill switch");
    qt__v1__envelope__free_unpacked(e, NULL);
    /* the decision is stored: replaying the intent under NORMAL still rejects */
    f->cap.tier = QT__V1__KILL_SWITCH_TIER__KS_NORMAL;
    exec_engine_t *e2 = exec_engine_new(&f->cfg, f->store, &f->io);
    cap_clear(&f->cap);
    intent(e2, 0, "BTC_USDT", T0 - 14400000LL, QT__V1__SIDE__SIDE_BUY, one);
    assert_int_equal(exec_engine_step(e2), 1);
    e = cap_env(&f->cap, 0);
    assert_int_equal(e->report->status, QT__V1__ORDER_STATUS__ORDER_STATUS_REJECTED);
    qt__v1__envelope__free_unpacked(e, NULL);
    assert_int_equal(exec_engine_stats(e2)->replays, 1);
    exec_engine_destroy(&e2);
    /* NORMAL: buy 2 fills */
    cap_clear(&f->cap);
    intent(f->eng, 1, "BTC_USDT", T0, QT__V1__SIDE__SIDE_BUY, 2 * one);
    assert_true(exec_engine_step(f->eng) > 0);
    qt_fixed_t pos;
    exec_store_position(f->store, "BTC_USDT", &pos);
    assert_int_equal(pos, 2 * one);
    /* NO_NEW: more buying rejected, selling 3 (flip to short) rejected, selling 1 passes */
    f->cap.tier = QT__V1__KILL_SWITCH_TIER__KS_NO_NEW;
    cap_clear(&f->cap);
    intent(f->eng, 2, "BTC_USDT", T1, QT__V1__SIDE__SIDE_BUY, one);
    intent(f->eng, 3, "BTC_USDT", T1 + 1, QT__V1__SIDE__SIDE_SELL, 3 * one);
    intent(f->eng, 4, "BTC_USDT", T1 + 2, QT__V1__SIDE__SIDE_SELL, one);
    assert_true(exec_engine_step(f->eng) > 0);
    assert_int_equal(cap_count(&f->cap, QT__V1__ENVELOPE__BODY_ORDER), 1);
    assert_int_equal(cap_count(&f->cap, QT__V1__ENVELOPE__BODY_FILL), 1);
    assert_int_equal(cap_count(&f->cap, QT__V1__ENVELOPE__BODY_REPORT), 3);
    exec_store_position(f->store, "BTC_USDT", &pos);
    assert_int_equal(pos, one);
    /* UNKNOWN (unreadable) and FLATTEN_ALL behave like NO_NEW */
    f->cap.tier = QT__V1__KILL_SWITCH_TIER__KS_UNKNOWN;
    intent(f->eng, 5, "BTC_USDT", T1 + 3, QT__V1__SIDE__SIDE_BUY, one);
    f->cap.tier = QT__V1__KILL_SWITCH_TIER__KS_FLATTEN_ALL;
    intent(f->eng, 6, "BTC_USDT", T1 + 4, QT__V1__SIDE__SIDE_SELL, one);
    assert_true(exec_engine_step(f->eng) > 0);
    exec_store_position(f->store, "BTC_USDT", &pos);
    /* step ran both under FLATTEN_ALL: buy rejected, sell (reduces to 0) filled */
    assert_int_equal(pos, 0);
    const exec_stats_t *st = exec_engine_stats(f->eng);
    assert_int_equal(st->rejected, 4);
    assert_int_equal(st->fills, 3);
    /* THROTTLE and WARN let new exposure through (risk throttles, not exec) */
    assert_true(exec_ks_allows(QT__V1__KILL_SWITCH_TIER__KS_THROTTLE, 0, QT__V1__SIDE__SIDE_BUY, 1));
    assert_true(exec_ks_allows(QT__V1__KILL_SWITCH_TIER__KS_WARN, 0, QT__V1__SIDE__SIDE_SELL, 1));
    assert_true(exec_ks_allows(QT__V1__KILL_SWITCH_TIER__KS_NO_NEW, -5, QT__V1__SIDE__SIDE_BUY, 5));
    assert_false(exec_ks_allows(QT__V1__KILL_SWITCH_TIER__KS_NO_NEW, -5, QT__V1__SIDE__SIDE_BUY, 6));
    assert_false(exec_ks_allows(QT__V1__KILL_SWITCH_TIER__KS_NO_NEW, -5, QT__V1__SIDE__SIDE_SELL, 1));
}

static void test_replay_after_restart(void **state)
{
    fx_t *f = *state;
    bar(f->eng, "BTC_USDT", T0, BTC_OPEN[0]);
    /* crash between claim and fill: engine A claims (NEW) and dies before the bar */
    intent(f->eng, 7, "BTC_USDT", T0, QT__V1__SIDE__SIDE_BUY, 50000000LL);
    wm(f->eng, 8, T0, false);
    assert_int_equal(exec_engine_step(f->eng), 1);
    assert_int_equal(exec_engine_stats(f->eng)->orders, 1);
    exec_engine_destroy(&f->eng);
    cap_clear(&f->cap);
    /* engine B: bars from the beginning, intents from the checkpoint (none: offset 7) */
    exec_engine_t *b = exec_engine_new(&f->cfg, f->store, &f->io);
    bar(b, "BTC_USDT", T0, BTC_OPEN[0]);
    bar(b, "BTC_USDT", T1, BTC_OPEN[1]);
    intent(b, 7, "BTC_USDT", T0, QT__V1__SIDE__SIDE_BUY, 50000000LL);
    wm(b, 8, T0, false);
    assert_true(exec_engine_step(b) > 0);
    const exec_stats_t *st = exec_engine_stats(b);
    assert_int_equal(st->orders, 0);   /* no second order */
    assert_int_equal(st->replays, 1);
    assert_int_equal(st->fills, 1);
    /* the re-published order is the same order (same id, same created_ms) */
    Qt__V1__Envelope *e = cap_env(&f->cap, 0);
    assert_string_equal(e->order->client_order_id, "QT-1502942400000-BTC_USDT");
    assert_int_equal(e->order->created_ms, 1700000000000LL);
    qt__v1__envelope__free_unpacked(e, NULL);
    size_t fi = cap_find(&f->cap, QT__V1__ENVELOPE__BODY_FILL, 0);
    uint8_t first[512];
    size_t flen = f->cap.pubs[fi].len;
    memcpy(first, f->cap.pubs[fi].bytes, flen);
    qt_fixed_t pos, cash;
    exec_store_position(f->store, "BTC_USDT", &pos);
    exec_store_cash(f->store, &cash);
    assert_int_equal(pos, 50000000LL);
    exec_engine_destroy(&b);
    /* engine C replays everything again: identical fill bytes, account untouched */
    cap_clear(&f->cap);
    f->cap.now += 999; /* a later wall clock must not change anything */
    exec_engine_t *c = exec_engine_new(&f->cfg, f->store, &f->io);
    bar(c, "BTC_USDT", T0, BTC_OPEN[0]);
    bar(c, "BTC_USDT", T1, BTC_OPEN[1]);
    intent(c, 7, "BTC_USDT", T0, QT__V1__SIDE__SIDE_BUY, 50000000LL);
    wm(c, 8, T0, false);
    assert_true(exec_engine_step(c) > 0);
    assert_int_equal(exec_engine_stats(c)->fills, 0);
    assert_int_equal(exec_engine_stats(c)->replays, 1);
    fi = cap_find(&f->cap, QT__V1__ENVELOPE__BODY_FILL, 0);
    assert_int_equal(f->cap.pubs[fi].len, flen);
    assert_memory_equal(f->cap.pubs[fi].bytes, first, flen);
    qt_fixed_t pos2, cash2;
    exec_store_position(f->store, "BTC_USDT", &pos2);
    exec_store_cash(f->store, &cash2);
    assert_int_equal(pos2, pos);
    assert_int_equal(cash2, cash);
    /* duplicates of offsets within one engine are dropped */
    assert_int_equal(intent(c, 7, "BTC_USDT", T0, QT__V1__SIDE__SIDE_BUY, 50000000LL), 0);
    exec_engine_destroy(&c);
}

static void test_invalid_and_batch_retry(void **state)
{
    fx_t *f = *state;
    Qt__V1__OrderIntent in = QT__V1__ORDER_INTENT__INIT;
    in.intent_id = (char *)"x";
    in.symbol = (char *)"BTC_USDT";
    in.side = QT__V1__SIDE__SIDE_BUY;
    in.qty = 0; /* invalid */
    assert_int_equal(exec_engine_on_intent(f->eng, 0, &in), 0);
    in.qty = 1;
    in.side = QT__V1__SIDE__SIDE_UNSPECIFIED;
    assert_int_equal(exec_engine_on_intent(f->eng, 1, &in), 0);
    in.side = QT__V1__SIDE__SIDE_SELL;
    in.symbol = (char *)"BAD SYMBOL";
    assert_int_equal(exec_engine_on_intent(f->eng, 2, &in), 0);
    assert_int_equal(exec_engine_stats(f->eng)->invalid, 3);
    /* an empty batch completes at once; a failing batch_done is retried */
    f->cap.batch_fail = 1;
    wm(f->eng, 3, T0, false);
    assert_int_equal(exec_engine_step(f->eng), -1);
    assert_int_equal(f->cap.ndone, 0);
    assert_int_equal(exec_engine_step(f->eng), 1);
    assert_int_equal(f->cap.ndone, 1);
    assert_int_equal(f->cap.done_next[0], 4);
    /* checkpoint payload */
    qt_buf_t b;
    qt_buf_init(&b);
    exec_ckpt_encode(&b, 4, T0);
    int64_t off, t;
    assert_true(exec_ckpt_decode(b.data, b.len, &off, &t));
    assert_int_equal(off, 4);
    assert_int_equal(t, T0);
    assert_false(exec_ckpt_decode(b.data, b.len - 1, &off, &t));
    b.data[0] ^= 0xff;
    assert_false(exec_ckpt_decode(b.data, b.len, &off, &t));
    qt_buf_free(&b);
    assert_int_equal(exec_selftest(false), 0);
    char buf[8];
    assert_int_equal(exec_client_order_id("12345678", buf, sizeof(buf)), -1);
    assert_int_equal(exec_status_parse("FILLED"), EXEC_ST_FILLED);
    assert_int_equal(exec_status_parse("nope"), EXEC_ST_NONE);
}

/* Mode seam: paper trades as without it, manual/off/live/invalid claim REJECTED with
 * their reason (manual hands the record to a human list, also on a replay),
 * unreadable claims nothing (retried), and the kill switch is checked first. */
typedef struct {
    exec_mode_t mode;
    char lines[8][600];
    size_t n;
    int fail;
} mode_cap_t;
static exec_mode_t mc_mode(void *ctx) { return ((mode_cap_t *)ctx)->mode; }
static int mc_manual(void *ctx, const exec_order_t *o)
{
    mode_cap_t *m = ctx;
    if (m->fail > 0) {
        m->fail--;
        return -1;
    }
    assert_true(m->n < 8);
    assert_int_equal(exec_manual_line(o, m->lines[m->n], sizeof m->lines[0]), 0);
    m->n++;
    return 0;
}
static const char *last_report_reason(cap_t *c, char *buf, size_t len)
{
    size_t n = cap_count(c, QT__V1__ENVELOPE__BODY_REPORT);
    assert_true(n > 0);
    Qt__V1__Envelope *e = cap_env(c, cap_find(c, QT__V1__ENVELOPE__BODY_REPORT, n - 1));
    assert_int_equal(e->report->status, QT__V1__ORDER_STATUS__ORDER_STATUS_REJECTED);
    snprintf(buf, len, "%s", e->report->reason);
    qt__v1__envelope__free_unpacked(e, NULL);
    return buf;
}

static void test_modes(void **state)
{
    fx_t *f = *state;
    mode_cap_t mc = {.mode = EXEC_MODE_PAPER};
    exec_mode_io_t mio = {mc_mode, mc_manual, &mc};
    exec_engine_set_mode_io(f->eng, &mio);
    for (int i = 0; i < 3; i++)
        bar(f->eng, "BTC_USDT", T0 + i * 14400000LL, BTC_OPEN[i]);
    /* paper: filled as usual */
    intent(f->eng, 0, "BTC_USDT", T0, QT__V1__SIDE__SIDE_BUY, 10000000LL);
    wm(f->eng, 1, T0, false);
    assert_true(exec_engine_step(f->eng) > 0);
    assert_int_equal(exec_engine_stats(f->eng)->fills, 1);
    assert_int_equal(cap_count(&f->cap, QT__V1__ENVELOPE__BODY_ORDER), 1);
    cap_clear(&f->cap);
    /* unreadable: nothing claimed, step fails, retried; then manual */
    mc.mode = EXEC_MODE_UNREADABLE;
    intent(f->eng, 2, "BTC_USDT", T1, QT__V1__SIDE__SIDE_SELL, 5000000LL);
    wm(f->eng, 3, T1, false);
    assert_int_equal(exec_engine_step(f->eng), -1);
    assert_int_equal(f->cap.n, 0);
    exec_order_t rec;
    assert_int_equal(exec_store_get(f->store, "QT-1502956800000-BTC_USDT", &rec), 0);
    mc.mode = EXEC_MODE_MANUAL;
    mc.fail = 1;   /* the human list cannot be written once: retried, then written */
    assert_int_equal(exec_engine_step(f->eng), -1);
    assert_int_equal(mc.n, 0);
    assert_true(exec_engine_step(f->eng) > 0);
    assert_int_equal(mc.n, 1);
    assert_string_equal(mc.lines[0],
                        "{\"client_order_id\":\"QT-1502956800000-BTC_USDT\","
                        "\"intent_id\":\"1502956800000-BTC_USDT\",\"symbol\":\"BTC_USDT\","
                        "\"side\":\"SELL\",\"qty\":\"0.05\",\"ref_price\":\"0.00000001\","
                        "\"bar_time_ms\":1502956800000,\"created_ms\":1700000000000,"
                        "\"command\":\"SELL 0.05 BTC_USDT at market, ref 0.00000001\"}");
    assert_int_equal(cap_count(&f->cap, QT__V1__ENVELOPE__BODY_ORDER), 0);
    assert_int_equal(cap_count(&f->cap, QT__V1__ENVELOPE__BODY_FILL), 0);
    char why[64];
    assert_string_equal(last_report_reason(&f->cap, why, sizeof why), "manual mode");
    assert_int_equal(exec_store_get(f->store, "QT-1502956800000-BTC_USDT", &rec), 1);
    assert_int_equal(rec.status, EXEC_ST_REJECTED);
    qt_fixed_t pos = 0;
    exec_store_position(f->store, "BTC_USDT", &pos);
    assert_int_equal(pos, 10000000LL);   /* untouched */
    /* replay in a new engine, now in paper: the stored decision stands, and the manual
     * line is handed over again (at-least-once) */
    exec_engine_t *b = exec_engine_new(&f->cfg, f->store, &f->io);
    mc.mode = EXEC_MODE_PAPER;
    exec_engine_set_mode_io(b, &mio);
    bar(b, "BTC_USDT", T1, BTC_OPEN[1]);
    bar(b, "BTC_USDT", T2, BTC_OPEN[2]);
    intent(b, 2, "BTC_USDT", T1, QT__V1__SIDE__SIDE_SELL, 5000000LL);
    wm(b, 3, T1, false);
    assert_true(exec_engine_step(b) > 0);
    assert_int_equal(exec_engine_stats(b)->replays, 1);
    assert_int_equal(exec_engine_stats(b)->fills, 0);
    assert_int_equal(mc.n, 2);
    assert_string_equal(mc.lines[1], mc.lines[0]);
    exec_engine_destroy(&b);
    /* off, live, invalid: rejected with their reason, nothing ordered */
    const struct {
        exec_mode_t m;
        const char *why;
    } cases[] = {{EXEC_MODE_OFF, "mode off"},
                 {EXEC_MODE_LIVE, "live mode: no live broker"},
                 {EXEC_MODE_INVALID, "mode invalid"}};
    int64_t off = 10;
    for (size_t i = 0; i < 3; i++) {
        cap_clear(&f->cap);
        mc.mode = cases[i].m;
        int64_t t = T2 + (int64_t)i * 14400000LL;
        intent(f->eng, off++, "BTC_USDT", t, QT__V1__SIDE__SIDE_BUY, 1000000LL);
        wm(f->eng, off++, t, false);
        assert_true(exec_engine_step(f->eng) > 0);
        assert_int_equal(cap_count(&f->cap, QT__V1__ENVELOPE__BODY_ORDER), 0);
        assert_string_equal(last_report_reason(&f->cap, why, sizeof why), cases[i].why);
    }
    assert_int_equal(mc.n, 2);
    /* the kill switch comes first: NO_NEW in manual mode is a kill-switch rejection and
     * no manual line */
    cap_clear(&f->cap);
    mc.mode = EXEC_MODE_MANUAL;
    f->cap.tier = QT__V1__KILL_SWITCH_TIER__KS_NO_NEW;
    intent(f->eng, off++, "ETH_USDT", T0, QT__V1__SIDE__SIDE_BUY, 1000000LL);
    wm(f->eng, off++, T2 + 3 * 14400000LL, false);
    assert_true(exec_engine_step(f->eng) > 0);
    assert_string_equal(last_report_reason(&f->cap, why, sizeof why), "kill switch");
    assert_int_equal(mc.n, 2);
    /* hostile ids cannot become a command line */
    exec_order_t o;
    memset(&o, 0, sizeof o);
    snprintf(o.coid, sizeof o.coid, "QT-\"x");
    snprintf(o.intent_id, sizeof o.intent_id, "x");
    snprintf(o.symbol, sizeof o.symbol, "BTC_USDT");
    o.qty = 1;
    char line[600];
    assert_int_equal(exec_manual_line(&o, line, sizeof line), -1);
    snprintf(o.coid, sizeof o.coid, "QT-x");
    assert_int_equal(exec_manual_line(&o, line, sizeof line), 0);
    assert_int_equal(exec_manual_line(&o, line, 20), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fill_next_bar_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_until_bar, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_at_end_of_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killswitch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_after_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_and_batch_retry, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
