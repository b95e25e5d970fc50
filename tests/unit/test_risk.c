/* Unit tests for the qt-risk core: exact fixed-point sizing on real Binance prices,
 * every limit with its reason code and numbers, kill-switch tiers (UNKNOWN fails
 * closed, FLATTEN_ALL closes everything), min trade notional, duplicates, snapshot
 * round trip, and a seeded property test over real price paths: no approved intent
 * ever breaks a limit. Prices come from QT_DATA_DIR (default ../shared/data). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qt_money.h"
#include "risk/risk.h"

#define KS_UNKNOWN QT__V1__KILL_SWITCH_TIER__KS_UNKNOWN
#define KS_NORMAL QT__V1__KILL_SWITCH_TIER__KS_NORMAL
#define KS_WARN QT__V1__KILL_SWITCH_TIER__KS_WARN
#define KS_THROTTLE QT__V1__KILL_SWITCH_TIER__KS_THROTTLE
#define KS_NO_NEW QT__V1__KILL_SWITCH_TIER__KS_NO_NEW
#define KS_FLATTEN QT__V1__KILL_SWITCH_TIER__KS_FLATTEN_ALL
#define BUY QT__V1__SIDE__SIDE_BUY
#define SELL QT__V1__SIDE__SIDE_SELL
#define S QT_FIXED_SCALE

/* ---- real data ---------------------------------------------------------------- */

typedef struct {
    int64_t *t;
    qt_fixed_t *close;
    size_t n;
} series_t;

static void series_free(series_t *s)
{
    free(s->t);
    free(s->close);
    memset(s, 0, sizeof *s);
}

/* Loads a freqtrade JSON file [[ms,o,h,l,c,v],...]; closes parsed exactly. */
static void load_pair(const char *pair, series_t *s)
{
    const char *dir = getenv("QT_DATA_DIR");
    char path[512];
    snprintf(path, sizeof path, "%s/raw/djienne-3EMA_SRSI_ATR-binance/4h/%s-4h.json",
             dir && *dir ? dir : "../shared/data", pair);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        fail();
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)len + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
    text[len] = '\0';
    fclose(f);
    size_t cap = (size_t)len / 40 + 16;
    memset(s, 0, sizeof *s);
    s->t = malloc(cap * sizeof *s->t);
    s->close = malloc(cap * sizeof *s->close);
    assert_true(s->t && s->close);
    const char *p = strchr(text, '[');
    assert_non_null(p);
    p++;
    while ((p = strchr(p, '[')) != NULL) {
        p++;
        const char *tok[6];
        size_t toklen[6];
        for (int k = 0; k < 6; k++) {
            while (*p == ' ' || *p == ',')
                p++;
            tok[k] = p;
            while (*p && strchr("0123456789.eE+-", *p))
                p++;
            toklen[k] = (size_t)(p - tok[k]);
            assert_true(toklen[k] > 0);
        }
        assert_true(s->n < cap);
        s->t[s->n] = strtoll(tok[0], NULL, 10);
        assert_int_equal(qt_fixed_parse_n(tok[4], toklen[4], &s->close[s->n]), QT_MONEY_OK);
        s->n++;
    }
    free(text);
    assert_true(s->n > 100);
}

static long index_of(const series_t *s, int64_t t)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->t[i] == t)
            return (long)i;
    return -1;
}

static qt_fixed_t close_at(const char *pair, int64_t t)
{
    series_t s;
    load_pair(pair, &s);
    long i = index_of(&s, t);
    assert_true(i >= 0);
    qt_fixed_t c = s.close[i];
    series_free(&s);
    return c;
}

#define LAST_BAR 1665460800000LL   /* 2022-10-11 04:00 UTC */
#define BAR_MS 14400000LL

/* Real closes at LAST_BAR (checked against the files in test_sizing_exact). */
#define BTC_PX 1908410000000LL   /* 19084.1 */
#define ETH_PX 128419000000LL    /* 1284.19 */
#define BNB_PX 27110000000LL     /* 271.1 */
#define ADA_PX 39630000LL        /* 0.3963 */
#define XRP_PX 48940000LL        /* 0.4894 */

/* ---- helpers ------------------------------------------------------------------- */

static risk_target_pos_t tp(const char *sym, double w, qt_fixed_t px)
{
    risk_target_pos_t p;
    memset(&p, 0, sizeof p);
    snprintf(p.symbol, sizeof p.symbol, "%s", sym);
    p.weight = w;
    p.ref_price = px;
    return p;
}

static risk_status_t run(risk_t *r, int64_t t, const risk_target_pos_t *pos, size_t n,
                         Qt__V1__KillSwitchTier tier, risk_result_t *res)
{
    risk_target_t tg = {.bar_time_ms = t, .positions = pos, .n_positions = n};
    return risk_on_target(r, &tg, tier, res);
}

static const risk_decision_t *dec_for(const risk_result_t *res, const char *sym)
{
    for (size_t i = 0; i < res->n_decisions; i++)
        if (strcmp(res->decisions[i].symbol, sym) == 0)
            return &res->decisions[i];
    return NULL;
}

static risk_t *clone(const risk_t *r, const risk_config_t *cfg)
{
    qt_buf_t b;
    qt_buf_init(&b);
    risk_save(r, &b);
    risk_t *c = risk_new(cfg);
    assert_non_null(c);
    qt_reader_t rd;
    qt_reader_init(&rd, b.data, b.len);
    assert_true(risk_load(c, &rd));
    qt_buf_free(&b);
    return c;
}

/* ---- sizing -------------------------------------------------------------------- */

/* The optimizer's target for 2022-10-11 04:00 (see test_optimizer) sized with
 * 100000 USDT: qty = floor_0.00001(weight * capital / close). */
static void test_sizing_exact(void **state)
{
    (void)state;
    assert_int_equal(close_at("BTC_USDT", LAST_BAR), BTC_PX);
    assert_int_equal(close_at("ETH_USDT", LAST_BAR), ETH_PX);
    assert_int_equal(close_at("BNB_USDT", LAST_BAR), BNB_PX);
    assert_int_equal(close_at("ADA_USDT", LAST_BAR), ADA_PX);
    assert_int_equal(close_at("XRP_USDT", LAST_BAR), XRP_PX);
    risk_config_t cfg;
    risk_config_defaults(&cfg);
    assert_null(risk_config_check(&cfg));
    risk_t *r = risk_new(&cfg);
    assert_non_null(r);
    risk_target_pos_t pos[5] = {
        tp("ADA_USDT", 0.1657669507408364, ADA_PX), tp("BNB_USDT", 0.25, BNB_PX),
        tp("BTC_USDT", 0.25, BTC_PX), tp("ETH_USDT", 0.25, ETH_PX),
        tp("XRP_USDT", 0.0842330492591636, XRP_PX),
    };
    risk_result_t res;
    assert_int_equal(run(r, LAST_BAR, pos, 5, KS_NORMAL, &res), RISK_OK);
    assert_int_equal(res.n_decisions, 5);
    /* Buys by descending weight, then symbol: BNB, BTC, ETH (0.25), ADA, XRP. */
    const char *order[5] = {"BNB_USDT", "BTC_USDT", "ETH_USDT", "ADA_USDT", "XRP_USDT"};
    const qt_fixed_t qty[5] = {9221689000LL,      /* 92.21689 BNB */
                               130999000LL,       /* 1.30999 BTC */
                               1946752000LL,      /* 19.46752 ETH */
                               4182865272000LL,   /* 41828.65272 ADA */
                               1721149351000LL};  /* 17211.49351 XRP */
    for (int i = 0; i < 5; i++) {
        const risk_decision_t *d = &res.decisions[i];
        assert_string_equal(d->symbol, order[i]);
        assert_true(d->approved);
        assert_int_equal(d->side, BUY);
        assert_int_equal(d->requested_qty, qty[i]);
        assert_int_equal(d->approved_qty, qty[i]);
        assert_int_equal(d->n_reasons, 0);
        assert_false(d->reduce_only);
        assert_int_equal(d->bar_time_ms, LAST_BAR);
        assert_int_equal(d->tier, KS_NORMAL);
        assert_string_equal(d->intent_reason, "rebalance");
        assert_int_equal(risk_position(r, order[i]), qty[i]);
    }
    assert_string_equal(res.decisions[1].intent_id, "1665460800000-BTC_USDT");
    assert_int_equal(res.decisions[1].ref_price, BTC_PX);
    /* Gross = sum of exact notionals: 24999.998879 + 24999.980159 + 24999.9945088 +
     * 16576.69507294 + 8423.30492379. */
    qt_fixed_t gross;
    assert_true(risk_gross_exposure(r, &gross));
    assert_int_equal(gross, 2499999887900LL + 2499998015900LL + 2499999450880LL +
                                1657669507294LL + 842330492379LL);
    assert_int_equal(risk_open_positions(r), 5);
    risk_result_free(&res);
    risk_destroy(&r);
}

/* Real BTC drop of June 2022: 30114.38 (06-10 00:00) -> 20459.65 (06-18 00:00). */
#define JUN10 1654819200000LL
#define JUN18 1655510400000LL

static void test_min_trade_notional(void **state)
{
    (void)state;
    qt_fixed_t p1 = close_at("BTC_USDT", JUN10), p2 = close_at("BTC_USDT", JUN18);
    assert_int_equal(p1, 3011438000000LL);
    assert_int_equal(p2, 2045965000000LL);
    risk_config_t cfg;
    risk_config_defaults(&cfg);
    risk_t *r = risk_new(&cfg);
    assert_non_null(r);
    risk_result_t res;
    /* 60 USDT of BTC at 30114.38: 0.00199 BTC (59.93 USDT >= 50). */
    risk_target_pos_t a = tp("BTC_USDT", 0.0006, p1);
    assert_int_equal(run(r, JUN10, &a, 1, KS_NORMAL, &res), RISK_OK);
    assert_int_equal(res.n_decisions, 1);
    assert_int_equal(res.decisions[0].approved_qty, 199000);
    risk_result_free(&res);
    /* Same weight at 20459.65: target 0.00293, delta 0.00094 = 19.232071 USDT < 50:
     * no decision, counted. */
    a.ref_price = p2;
    assert_int_equal(run(r, JUN18, &a, 1, KS_NORMAL, &res), RISK_OK);
    assert_int_equal(res.n_decisions, 0);
    assert_null(res.decisions);
    assert_int_equal(res.skipped_min_notional, 1);
    assert_int_equal(risk_position(r, "BTC_USDT"), 199000);
    /* The position is now worth 0.00199 * 20459.65 = 40.71 USDT < 50; a target without
     * BTC still closes it fully (closing is exempt from the minimum). */
    qt_fixed_t gross;
    assert_true(risk_gross_exposure(r, &gross));
    assert_int_equal(gross, 4071470350LL);
    assert_int_equal(run(r, JUN18 + BAR_MS, NULL, 0, KS_NORMAL, &res), RISK_OK);
    assert_int_equal(res.n_decisions, 1);
    const risk_decision_t *d = &res.decisions[0];
    assert_true(d->approved);
    assert_int_equal(d->side, SELL);
    assert_int_equal(d->approved_qty, 199000);
    assert_true(d->reduce_only);
    assert_string_equal(d->intent_reason, "close");
    assert_int_equal(d->ref_price, p2);   /* no target price: the last one known */
    assert_int_equal(risk_position(r, "BTC_USDT"), 0);
    assert_int_equal(risk_open_positions(r), 0);
    risk_result_free(&res);
    risk_destroy(&r);
}

/* ---- limits -------------------------------------------------------------------- */

static void test_max_position_notional(void **state)
{
    (void)state;
    risk_config_t cfg;
    risk_config_defaults(&cfg);
    cfg.max_position_notional = 20000 * S;
    risk_t *r = risk_new(&cfg);
    assert_non_null(r);
    risk_result_t res;
    risk_target_pos_t a = tp("BTC_USDT", 0.25, BTC_PX);
    assert_int_equal(run(r, LAST_BAR, &a, 1, KS_NORMAL, &res), RISK_OK);
    assert_int_equal(res.n_decisions, 1);
    const risk_decision_t *d = &res.decisions[0];
    assert_true(d->approved);
    assert_int_equal(d->requested_qty, 130999000);   /* 1.30999 */
    assert_int_equal(d->approved_qty, 104799000);    /* 1.04799: floor(20000/19084.1) */
    assert_int_equal(d->n_reasons, 1);
    assert_string_equal(d->reasons[0].code, "MAX_POSITION_NOTIONAL");
    assert_int_equal(d->reasons[0].value, 2499998015900LL);   /* 24999.980159 requested */
    assert_int_equal(d->reasons[0].limit, 20000 * S);
    qt_fixed_t gross;
    assert_true(risk_gross_exposure(r, &gross));
    assert_int_equal(gross, 1999994595900LL);   /* 19999.945959 <= 20000 */
    risk_result_free(&res);

    /* Next bar, same target: the position is at the limit; the extra buy is
     * rejected with the same code. */
    assert_int_equal(run(r, LAST_BAR + BAR_MS, &a, 1, KS_NORMAL, &res), RISK_OK);
    assert_int_equal(res.n_decisions, 1);
    d = &res.decisions[0];
    assert_false(d->approved);
    assert_int_equal(d->approved_qty, 0);
    assert_int_equal(d->requested_qty, 130999000 - 104799000);
    assert_string_equal(d->reasons[0].code, "MAX_POSITION_NOTIONAL");
    assert_int_equal(d->reasons[0].value, 2499998015900LL);
    assert_int_equal(risk_position(r, "BTC_USDT"), 104799000);
    risk_result_free(&res);
    risk_destroy(&r);
}

static void test_max_gross_exposure(void **state)
{
    (void)state;
    risk_config_t cfg;
    risk_config_defaults(&cfg);
    cfg.max_gross_exposure = 60000 * S;
    risk_t *r = risk_new(&cfg);
    assert_non_null(r);
    risk_result_t res;
    risk_target_pos_t pos[4] = {tp("XRP_USDT", 0.1, XRP_PX), tp("ETH_USDT", 0.25, ETH_PX),
                                tp("BTC_USDT", 0.25, BTC_PX), tp("BNB_USDT", 0.25, BNB_PX)};
    assert_int_equal(run(r, LAST_BAR, pos, 4, KS_NORMAL, &res), RISK_OK);
    assert_int_equal(res.n_decisions, 4);
    /* Equal weights in symbol order: BNB, BTC fit (49999.979038), ETH is clipped to the
     * 10000.020962 left: floor(10000.020962 / 1284.19) = 7.78702 ETH. XRP: nothing left. */
    assert_string_equal(res.decisions[0].symbol, "BNB_USDT");
    assert_true(res.decisions[0].approved);
    assert_string_equal(res.decisions[1].symbol, "BTC_USDT");
    assert_true(res.decisions[1].approved);
    const risk_decision_t *d = &res.decisions[2];
    assert_string_equal(d->symbol, "ETH_USDT");
    assert_true(d->approved);
    assert_int_equal(d->requested_qty, 1946752000);
    assert_int_equal(d->approved_qty, 778702000);
    assert_int_equal(d->n_reasons, 1);
    assert_string_equal(d->reasons[0].code, "MAX_GROSS_EXPOSURE");
    assert_int_equal(d->reasons[0].value, 7499997354680LL);   /* gross if fully bought */
    assert_int_equal(d->reasons[0].limit, 60000 * S);
    d = &res.decisions[3];
    assert_string_equal(d->symbol, "XRP_USDT");
    assert_false(d->approved);
    assert_int_equal(d->approved_qty, 0);
    assert_string_equal(d->reasons[0].code, "MAX_GROSS_EXPOSURE");
    assert_int_equal(d->reasons[0].limit, 60000 * S);
    assert_int_equal(risk_position(r, "XRP_USDT"), 0);
    qt_fixed_t gross;
    assert_true(risk_gross_exposure(r, &gross));
    assert_int_equal(gross, 5999999225180LL);   /* 59999.9922518 <= 60000 */
    risk_result_free(&res);
    risk_destroy(&r);
}

/* A clip leaving less than min_trade_notional rejects the buy. */
static void test_clip_below_minimum(void **state)
{
    (void)state;
    risk_config_t cfg;
    risk_config_defaults(&cfg);
    cfg.max_gross_exposure = 25030 * S;
    cfg.max_position_notional = 25030 * S;
    risk_t *r = risk_new(&cfg);
    assert_non_null(r);
    risk_result_t res;
    risk_target_pos_t pos[2] = {tp("BTC_USDT", 0.25, BTC_PX), tp("ETH_USDT", 0.2, ETH_PX)};
    assert_int_equal(run(r, LAST_BAR, pos, 2, KS_NORMAL, &res), RISK_OK);
    assert_int_equal(res.n_decisions, 2);
    assert_true(res.decisions[0].approved);   /* BTC 24999.980159 */
    const risk_decision_t *d = &res.decisions[1];
    /* ETH: 30.019841 of room -> 0.02337 ETH = 30.0115 USDT < 50 -> rejected. */
    assert_false(d->approved);
    assert_int_equal(d->n_reasons, 2);
    assert_string_equal(d->reasons[0].code, "MAX_GROSS_EXPOSURE");
    assert_string_equal(d->reasons[1].code, "MIN_TRADE_NOTIONAL");
    assert_int_equal(d->reasons[1].value, 3001152030LL);
    assert_int_equal(d->reasons[1].limit, 50 * S);
    assert_int_equal(risk_open_positions(r), 1);
    risk_result_free(&res);
    risk_destroy(&r);
}

static void test_max_open_positions_and_sells_first(void **state)
{
    (void)state;
    const int64_t t0 = LAST_BAR - BAR_MS, t1 = LAST_BAR;
    qt_fixed_t btc0 = close_at("BTC_USDT", t0), eth0 = close_at("ETH_USDT", t0),
               ada0 = close_at("ADA_USDT", t0);
    assert_int_equal(eth0, 127837000000LL);   /* 1278.37 */
    risk_config_t cfg;
    risk_config_defaults(&cfg);
    cfg.max_open_positions = 2;
    risk_t *r = risk_new(&cfg);
    assert_non_null(r);
    risk_result_t res;
    risk_target_pos_t pos[3] = {tp("ADA_USDT", 0.1, ada0), tp("BTC_USDT", 0.2, btc0),
                                tp("ETH_USDT", 0.15, eth0)};
    assert_int_equal(run(r, t0, pos, 3, KS_NORMAL, &res), RISK_OK);
    assert_int_equal(res.n_decisions, 3);
    assert_string_equal(res.decisions[0].symbol, "BTC_USDT");   /* weight .2 first */
    assert_string_equal(res.decisions[1].symbol, "ETH_USDT");
    assert_true(res.decisions[0].approved && res.decisions[1].approved);
    const risk_decision_t *d = &res.decisions[2];
    assert_string_equal(d->symbol, "ADA_USDT");
    assert_false(d->approved);
    assert_string_equal(d->reasons[0].code, "MAX_OPEN_POSITIONS");
    assert_int_equal(d->reasons[0].value, 3 * S);
    assert_int_equal(d->reasons[0].limit, 2 * S);
    assert_int_equal(res.decisions[1].approved_qty, 1173369000);   /* 15000/1278.37 */
    risk_result_free(&res);

    /* t1: BTC leaves the target, ETH keeps .15 at a higher price, ADA comes in.
     * Sells first (BTC close, ETH trim 11.73369 -> 11.68051), so ADA fits. */
    risk_target_pos_t pos1[2] = {tp("ADA_USDT", 0.1, ADA_PX), tp("ETH_USDT", 0.15, ETH_PX)};
    assert_int_equal(run(r, t1, pos1, 2, KS_NORMAL, &res), RISK_OK);
    assert_int_equal(res.n_decisions, 3);
    assert_string_equal(res.decisions[0].symbol, "BTC_USDT");
    assert_int_equal(res.decisions[0].side, SELL);
    assert_string_equal(res.decisions[0].intent_reason, "close");
    assert_string_equal(res.decisions[1].symbol, "ETH_USDT");
    assert_int_equal(res.decisions[1].side, SELL);
    assert_int_equal(res.decisions[1].approved_qty, 1173369000 - 1168051000);
    assert_true(res.decisions[1].reduce_only);
    assert_string_equal(res.decisions[2].symbol, "ADA_USDT");
    assert_true(res.decisions[2].approved);
    assert_int_equal(res.decisions[2].approved_qty, 2523340903000LL);   /* 25233.40903 */
    assert_int_equal(risk_position(r, "BTC_USDT"), 0);
    assert_int_equal(risk_position(r, "ETH_USDT"), 1168051000);
    assert_int_equal(risk_open_positions(r), 2);
    risk_result_free(&res);
    risk_destroy(&r);
}

/* ---- kill switch --------------------------------------------------------------- */

static void test_killswitch_tiers(void **state)
{
    (void)state;
    const int64_t t0 = LAST_BAR - BAR_MS, t1 = LAST_BAR;
    qt_fixed_t btc0 = close_at("BTC_USDT", t0), eth0 = close_at("ETH_USDT", t0);
    risk_config_t cfg;
    risk_config_defaults(&cfg);
    risk_t *base = risk_new(&cfg);
    assert_non_null(base);
    risk_result_t res;
    risk_target_pos_t p0[2] = {tp("BTC_USDT", 0.2, btc0), tp("ETH_USDT", 0.15, eth0)};
    assert_int_equal(run(base, t0, p0, 2, KS_NORMAL, &res), RISK_OK);
    assert_int_equal(res.n_decisions, 2);
    risk_result_free(&res);
    const qt_fixed_t btc_held = risk_position(base, "BTC_USDT");
    const qt_fixed_t eth_held = risk_position(base, "ETH_USDT");
    assert_int_equal(btc_held, 105015000);   /* 20000 / 19044.74 = 1.05015 */
    assert_int_equal(eth_held, 1173369000);

    /* t1: reduce BTC to .1, raise ETH to .25, open ADA at .1. */
    risk_target_pos_t p1[3] = {tp("ADA_USDT", 0.1, ADA_PX), tp("BTC_USDT", 0.1, BTC_PX),
                               tp("ETH_USDT", 0.25, ETH_PX)};
    const qt_fixed_t btc_target = 52399000;      /* 10000 / 19084.1 = 0.52399 */
    const qt_fixed_t eth_buy = 1946752000 - eth_held;
    const qt_fixed_t ada_buy = 2523340903000LL;

    /* NORMAL and WARN: identical decisions. */
    risk_result_t rn, rw;
    risk_t *n = clone(base, &cfg), *w = clone(base, &cfg);
    assert_int_equal(run(n, t1, p1, 3, KS_NORMAL, &rn), RISK_OK);
    assert_int_equal(run(w, t1, p1, 3, KS_WARN, &rw), RISK_OK);
    assert_int_equal(rn.n_decisions, 3);
    assert_int_equal(rw.n_decisions, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_true(rn.decisions[i].approved);
        assert_int_equal(rw.decisions[i].tier, KS_WARN);
        rw.decisions[i].tier = KS_NORMAL;
    }
    assert_memory_equal(rn.decisions, rw.decisions, 3 * sizeof *rn.decisions);
    assert_int_equal(dec_for(&rn, "BTC_USDT")->approved_qty, btc_held - btc_target);
    assert_int_equal(dec_for(&rn, "ETH_USDT")->approved_qty, eth_buy);
    assert_int_equal(dec_for(&rn, "ADA_USDT")->approved_qty, ada_buy);
    risk_result_free(&rn);
    risk_result_free(&rw);
    risk_destroy(&n);
    risk_destroy(&w);

    /* THROTTLE: sells untouched, buys halved (floored to the step). */
    risk_t *th = clone(base, &cfg);
    assert_int_equal(run(th, t1, p1, 3, KS_THROTTLE, &res), RISK_OK);
    assert_int_equal(res.n_decisions, 3);
    assert_int_equal(dec_for(&res, "BTC_USDT")->approved_qty, btc_held - btc_target);
    const risk_decision_t *d = dec_for(&res, "ETH_USDT");
    assert_true(d->approved);
    assert_int_equal(d->requested_qty, eth_buy);
    assert_int_equal(d->approved_qty, 386691000);   /* 7.73383 / 2 -> 3.86691 */
    assert_string_equal(d->reasons[0].code, "KILL_SWITCH");
    d = dec_for(&res, "ADA_USDT");
    assert_int_equal(d->approved_qty, 1261670451000LL);   /* 12616.704515 -> 12616.70451 */
    assert_int_equal(risk_position(th, "ADA_USDT"), 1261670451000LL);
    risk_result_free(&res);
    risk_destroy(&th);

    /* NO_NEW, UNKNOWN and an out-of-range tier: buys rejected, the sell passes. */
    const Qt__V1__KillSwitchTier closed[3] = {KS_NO_NEW, KS_UNKNOWN,
                                              (Qt__V1__KillSwitchTier)99};
    for (int k = 0; k < 3; k++) {
        risk_t *c = clone(base, &cfg);
        assert_int_equal(run(c, t1, p1, 3, closed[k], &res), RISK_OK);
        assert_int_equal(res.n_decisions, 3);
        d = &res.decisions[0];
        assert_string_equal(d->symbol, "BTC_USDT");
        assert_true(d->approved);
        assert_int_equal(d->side, SELL);
        assert_int_equal(d->approved_qty, btc_held - btc_target);
        for (int i = 1; i < 3; i++) {
            d = &res.decisions[i];
            assert_int_equal(d->side, BUY);
            assert_false(d->approved);
            assert_int_equal(d->approved_qty, 0);
            assert_int_equal(d->tier, closed[k]);
            assert_string_equal(d->reasons[0].code, "KILL_SWITCH");
            assert_int_equal(d->reasons[0].limit, 0);
        }
        /* The notional that was asked for: 7.73383 ETH * 1284.19. */
        assert_int_equal(dec_for(&res, "ETH_USDT")->reasons[0].value, 993170714770LL);
        assert_int_equal(risk_position(c, "ETH_USDT"), eth_held);
        assert_int_equal(risk_position(c, "ADA_USDT"), 0);
        assert_int_equal(risk_position(c, "BTC_USDT"), btc_target);
        risk_result_free(&res);
        risk_destroy(&c);
    }

    /* FLATTEN_ALL: every position closed in full (reduce_only), every buy rejected. */
    risk_t *f = clone(base, &cfg);
    assert_int_equal(run(f, t1, p1, 3, KS_FLATTEN, &res), RISK_OK);
    assert_int_equal(res.n_decisions, 3);
    assert_string_equal(res.decisions[0].symbol, "BTC_USDT");
    assert_string_equal(res.decisions[1].symbol, "ETH_USDT");
    for (int i = 0; i < 2; i++) {
        d = &res.decisions[i];
        assert_true(d->approved);
        assert_int_equal(d->side, SELL);
        assert_true(d->reduce_only);
        assert_string_equal(d->intent_reason, "flatten_all");
        assert_int_equal(d->approved_qty, i == 0 ? btc_held : eth_held);
    }
    d = &res.decisions[2];
    assert_string_equal(d->symbol, "ADA_USDT");
    assert_false(d->approved);
    assert_string_equal(d->reasons[0].code, "KILL_SWITCH");
    assert_int_equal(risk_open_positions(f), 0);
    risk_result_free(&res);
    /* Still flat on the next bar, even with an empty target. */
    assert_int_equal(run(f, t1 + BAR_MS, NULL, 0, KS_FLATTEN, &res), RISK_OK);
    assert_int_equal(res.n_decisions, 0);
    risk_result_free(&res);
    risk_destroy(&f);
    risk_destroy(&base);
}

/* ---- duplicates, invalid input, snapshot -------------------------------------- */

static void test_duplicates_and_invalid(void **state)
{
    (void)state;
    risk_config_t cfg;
    risk_config_defaults(&cfg);
    risk_t *r = risk_new(&cfg);
    assert_non_null(r);
    risk_result_t res;
    risk_target_pos_t a = tp("BTC_USDT", 0.25, BTC_PX);
    assert_int_equal(run(r, LAST_BAR, &a, 1, KS_NORMAL, &res), RISK_OK);
    risk_result_free(&res);
    assert_int_equal(risk_last_target(r), LAST_BAR);
    /* A replayed target (after an upstream crash) and an older one: dropped. */
    assert_int_equal(run(r, LAST_BAR, &a, 1, KS_NORMAL, &res), RISK_DUPLICATE);
    assert_int_equal(res.n_decisions, 0);
    assert_int_equal(run(r, LAST_BAR - BAR_MS, &a, 1, KS_NORMAL, &res), RISK_DUPLICATE);
    assert_int_equal(risk_position(r, "BTC_USDT"), 130999000);
    /* Watermarks: forwarded once per time. */
    assert_true(risk_on_watermark(r, LAST_BAR));
    assert_false(risk_on_watermark(r, LAST_BAR));
    assert_false(risk_on_watermark(r, LAST_BAR - 1));
    assert_int_equal(risk_last_watermark(r), LAST_BAR);

    const int64_t t = LAST_BAR + BAR_MS;
    risk_target_pos_t bad[6][2] = {
        {tp("ETH_USDT", -0.1, ETH_PX), tp("BTC_USDT", 0.1, BTC_PX)},
        {tp("ETH_USDT", 1.5, ETH_PX), tp("BTC_USDT", 0.1, BTC_PX)},
        {tp("ETH_USDT", NAN, ETH_PX), tp("BTC_USDT", 0.1, BTC_PX)},
        {tp("ETH_USDT", 0.1, 0), tp("BTC_USDT", 0.1, BTC_PX)},
        {tp("BTC_USDT", 0.1, BTC_PX), tp("BTC_USDT", 0.2, BTC_PX)},
        {tp("", 0.1, ETH_PX), tp("BTC_USDT", 0.1, BTC_PX)},
    };
    for (int k = 0; k < 6; k++) {
        assert_int_equal(run(r, t, bad[k], 2, KS_NORMAL, &res), RISK_INVALID);
        assert_int_equal(res.n_decisions, 0);
    }
    /* A price of 1e-8 with weight 1: 100000 / 0.00000001 does not fit in int64. */
    risk_target_pos_t huge = tp("SHIB_USDT", 1.0, 1);
    assert_int_equal(run(r, t, &huge, 1, KS_NORMAL, &res), RISK_INVALID);
    assert_int_equal(risk_last_target(r), LAST_BAR);
    assert_int_equal(risk_position(r, "BTC_USDT"), 130999000);
    assert_int_equal(risk_open_positions(r), 1);

    /* Config validation. */
    risk_config_t c2 = cfg;
    c2.qty_step = 0;
    assert_non_null(risk_config_check(&c2));
    assert_null(risk_new(&c2));
    c2 = cfg;
    c2.throttle_factor = 1.5;
    assert_non_null(risk_config_check(&c2));
    c2 = cfg;
    c2.max_position_notional = cfg.max_gross_exposure + 1;
    assert_non_null(risk_config_check(&c2));
    c2 = cfg;
    c2.max_open_positions = 0;
    assert_non_null(risk_config_check(&c2));
    risk_destroy(&r);
    assert_null(r);
    risk_destroy(&r);
}

static void test_snapshot_round_trip(void **state)
{
    (void)state;
    const char *pairs[5] = {"ADA_USDT", "BNB_USDT", "BTC_USDT", "ETH_USDT", "XRP_USDT"};
    series_t ser[5];
    long end[5];
    for (int k = 0; k < 5; k++) {
        load_pair(pairs[k], &ser[k]);
        end[k] = index_of(&ser[k], LAST_BAR);
        assert_true(end[k] > 20);
    }
    risk_config_t cfg;
    risk_config_defaults(&cfg);
    cfg.max_open_positions = 3;
    cfg.max_gross_exposure = 80000 * S;
    risk_t *a = risk_new(&cfg);
    assert_non_null(a);
    risk_t *b = NULL;
    risk_result_t ra, rb;
    const double wts[5][5] = {{.2, .2, .2, .2, .2},   {0, .25, .25, .25, .25},
                              {.25, 0, .25, .1, .25}, {.1, .1, .1, .1, .1},
                              {.25, .25, 0, 0, .25}};
    /* 10 bars: the first 5 on `a` only, then a is snapshotted into b and both see the
     * same 5 targets (with a changing kill switch): identical decisions. */
    const Qt__V1__KillSwitchTier tiers[10] = {KS_NORMAL, KS_NORMAL, KS_WARN, KS_NORMAL,
                                              KS_THROTTLE, KS_NORMAL, KS_THROTTLE, KS_NO_NEW,
                                              KS_NORMAL, KS_FLATTEN};
    for (int bar = 0; bar < 10; bar++) {
        if (bar == 5) {
            qt_buf_t buf;
            qt_buf_init(&buf);
            risk_save(a, &buf);
            b = risk_new(&cfg);
            assert_non_null(b);
            qt_reader_t rd;
            qt_reader_init(&rd, buf.data, buf.len - 3);   /* truncated: refused */
            assert_false(risk_load(b, &rd));
            assert_int_equal(risk_last_target(b), INT64_MIN);
            qt_reader_init(&rd, buf.data, buf.len);
            assert_true(risk_load(b, &rd));
            qt_buf_free(&buf);
            assert_int_equal(risk_open_positions(b), risk_open_positions(a));
            qt_fixed_t ga, gb;
            assert_true(risk_gross_exposure(a, &ga) && risk_gross_exposure(b, &gb));
            assert_int_equal(ga, gb);
        }
        risk_target_pos_t pos[5];
        int64_t t = 0;
        for (int k = 0; k < 5; k++) {
            long i = end[k] - 9 + bar;
            t = ser[k].t[i];
            pos[k] = tp(pairs[k], wts[bar % 5][k], ser[k].close[i]);
        }
        assert_int_equal(run(a, t, pos, 5, tiers[bar], &ra), RISK_OK);
        if (b) {
            assert_int_equal(run(b, t, pos, 5, tiers[bar], &rb), RISK_OK);
            assert_int_equal(ra.n_decisions, rb.n_decisions);
            assert_true(ra.n_decisions > 0);
            assert_memory_equal(ra.decisions, rb.decisions, ra.n_decisions * sizeof *ra.decisions);
            risk_result_free(&rb);
        }
        risk_result_free(&ra);
    }
    assert_int_equal(risk_open_positions(a), 0);   /* FLATTEN_ALL at the end */
    assert_int_equal(risk_open_positions(b), 0);
    risk_destroy(&a);
    risk_destroy(&b);
    for (int k = 0; k < 5; k++)
        series_free(&ser[k]);
}

/* ---- property: no intent ever breaks a limit ---------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

static void test_property_limits(void **state)
{
    (void)state;
    enum { NP = 10, BARS = 1500 };
    const char *pairs[NP] = {"ADA_USDT", "BNB_USDT", "BTC_USDT", "DOGE_USDT", "ETH_USDT",
                             "LINK_USDT", "LTC_USDT", "SOL_USDT", "TRX_USDT", "XRP_USDT"};
    series_t ser[NP];
    long end[NP];
    for (int k = 0; k < NP; k++) {
        load_pair(pairs[k], &ser[k]);
        end[k] = index_of(&ser[k], LAST_BAR);
        assert_true(end[k] > BARS);
    }
    risk_config_t cfg;
    risk_config_defaults(&cfg);
    cfg.max_position_notional = 15000 * S;
    cfg.max_gross_exposure = 60000 * S;
    cfg.max_open_positions = 4;
    risk_t *r = risk_new(&cfg);
    assert_non_null(r);
    qt_fixed_t ledger[NP] = {0};
    uint64_t rng = 42;
    const Qt__V1__KillSwitchTier tiers[7] = {KS_NORMAL, KS_NORMAL, KS_NORMAL, KS_WARN,
                                             KS_THROTTLE, KS_NO_NEW, KS_UNKNOWN};
    size_t approved_buys = 0, rejected = 0, sells = 0, clipped = 0;
    for (int bar = 0; bar < BARS; bar++) {
        risk_target_pos_t pos[NP];
        size_t n = 0;
        int64_t t = 0;
        for (int k = 0; k < NP; k++) {
            long i = end[k] - (BARS - 1) + bar;
            t = ser[k].t[i];
            if (rng_next(&rng) % 3 == 0)
                continue;
            double w = (double)(rng_next(&rng) % 10001) / 20000.0;   /* [0, 0.5] */
            pos[n++] = tp(pairs[k], w, ser[k].close[i]);
        }
        for (int k = 1; k < NP; k++)
            assert_int_equal(ser[k].t[end[k] - (BARS - 1) + bar], t);
        Qt__V1__KillSwitchTier tier =
            (bar % 97 == 96) ? KS_FLATTEN : tiers[rng_next(&rng) % 7];
        risk_result_t res;
        assert_int_equal(run(r, t, pos, n, tier, &res), RISK_OK);
        bool any_buy = false;
        for (size_t i = 0; i < res.n_decisions; i++) {
            const risk_decision_t *d = &res.decisions[i];
            int k = 0;
            while (k < NP && strcmp(pairs[k], d->symbol) != 0)
                k++;
            assert_true(k < NP);
            assert_true(d->requested_qty > 0);
            if (!d->approved) {
                assert_int_equal(d->approved_qty, 0);
                assert_true(d->n_reasons >= 1);
                rejected++;
                continue;
            }
            assert_true(d->approved_qty > 0 && d->approved_qty <= d->requested_qty);
            if (d->side == SELL) {
                assert_true(d->reduce_only);
                assert_true(d->approved_qty <= ledger[k]);
                ledger[k] -= d->approved_qty;
                sells++;
            } else {
                assert_int_equal(d->side, BUY);
                assert_true(tier == KS_NORMAL || tier == KS_WARN || tier == KS_THROTTLE);
                assert_int_equal(d->approved_qty % cfg.qty_step, 0);
                qt_fixed_t notional;
                assert_true(qt_fixed_mul(d->approved_qty, d->ref_price, &notional));
                assert_true(notional >= cfg.min_trade_notional);
                ledger[k] += d->approved_qty;
                qt_fixed_t pos_notional;
                assert_true(qt_fixed_mul(ledger[k], d->ref_price, &pos_notional));
                assert_true(pos_notional <= cfg.max_position_notional);
                if (d->approved_qty < d->requested_qty)
                    clipped++;
                any_buy = true;
                approved_buys++;
            }
        }
        /* The core's positions are exactly the sum of approved intents. */
        size_t open = 0;
        for (int k = 0; k < NP; k++) {
            assert_int_equal(risk_position(r, pairs[k]), ledger[k]);
            open += ledger[k] > 0;
        }
        assert_int_equal(risk_open_positions(r), open);
        assert_true(open <= cfg.max_open_positions);
        if (any_buy) {
            qt_fixed_t gross;
            assert_true(risk_gross_exposure(r, &gross));
            assert_true(gross <= cfg.max_gross_exposure);
        }
        if (tier == KS_FLATTEN)
            assert_int_equal(open, 0);
        risk_result_free(&res);
    }
    /* The walk exercised every path. */
    assert_true(approved_buys > 500);
    assert_true(rejected > 200);
    assert_true(sells > 500);
    assert_true(clipped > 50);
    risk_destroy(&r);
    for (int k = 0; k < NP; k++)
        series_free(&ser[k]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizing_exact),
        cmocka_unit_test(test_min_trade_notional),
        cmocka_unit_test(test_max_position_notional),
        cmocka_unit_test(test_max_gross_exposure),
        cmocka_unit_test(test_clip_below_minimum),
        cmocka_unit_test(test_max_open_positions_and_sells_first),
        cmocka_unit_test(test_killswitch_tiers),
        cmocka_unit_test(test_duplicates_and_invalid),
        cmocka_unit_test(test_snapshot_round_trip),
        cmocka_unit_test(test_property_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
