/* Unit tests for the qt-risk core: exact fixed-point sizing on real Binance prices,
 * every limit with its reason code and numbers, kill-switch tiers (UNKNOWN fails
 * closed, FLATTEN_ALL closes everything), min trade notional, the estimated cash
 * (INSUFFICIENT_CASH, EQUITY_DEPLETED, sizing on equity through the June 2022 BTC
 * drop), the rebalance band at its exact boundary, duplicates, snapshot round trip
 * (format 2 with cash; format 1 refused), and a seeded property test over real price
 * paths: no approved intent ever breaks a limit, and the cash never goes negative and
 * equals its recomputation from the approved intents. Prices come from QT_DATA_DIR
 * (default ../shared/data). Expected numbers were computed independently with exact
 * integer arithmetic (half-to-even rounding), not by running the core. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/qt_testdata.h"
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

static qt_fixed_t close_at(const char *pair, int64_t t)
{
    qt_bars_t s;
    qt_testdata_load_4h(pair, &s);
    long i = qt_testdata_index_of(&s, t);
    assert_true(i >= 0);
    qt_fixed_t c = s.bars[i].close;
    qt_bars_free(&s);
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

/* The optimizer's target for 2022-10-11 04:00 (see test_optimizer) sized on the
 * initial 100000 USDT (equity = cash, nothing held): qty = floor_0.00001(weight *
 * equity / close). The weights sum to 1, so the cost estimate (15 bps of each buy)
 * leaves the last buy (XRP, smallest weight) short of cash: it is clipped to what the
 * remaining cash pays for, cost included (INSUFFICIENT_CASH). */
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
    /* Cash after the first four buys: 100000 - sum(notional + round(notional * 15 / 1e4))
     * = 100000 - (24999.998879 + 37.49999832) - (24999.980159 + 37.49997024)
     *   - (24999.9945088 + 37.49999176) - (16576.69507294 + 24.86504261) = 8285.96637733.
     * XRP wants 17211.49351 * 0.4894 = 8423.30492379 + 12.63495739 = 8435.93988118;
     * the cash pays for floor(8285.96637733 / (0.4894 * 1.0015)) = 16905.50887 XRP
     * (8273.55604098 + 12.41033406 = 8285.96637504), leaving 0.00000229. */
    const qt_fixed_t xrp_fit = 1690550887000LL;
    for (int i = 0; i < 5; i++) {
        const risk_decision_t *d = &res.decisions[i];
        assert_string_equal(d->symbol, order[i]);
        assert_true(d->approved);
        assert_int_equal(d->side, BUY);
        assert_int_equal(d->requested_qty, qty[i]);
        if (i == 4) {
            assert_int_equal(d->approved_qty, xrp_fit);
            assert_int_equal(d->n_reasons, 1);
            assert_string_equal(d->reasons[0].code, "INSUFFICIENT_CASH");
            assert_int_equal(d->reasons[0].value, 843593988118LL);
            assert_int_equal(d->reasons[0].limit, 828596637733LL);
            assert_int_equal(risk_position(r, order[i]), xrp_fit);
            continue;
        }
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
     * 16576.69507294 + 8273.55604098; cash what is left; equity = the two. */
    qt_fixed_t gross, equity;
    assert_true(risk_gross_exposure(r, &gross));
    assert_int_equal(gross, 2499999887900LL + 2499998015900LL + 2499999450880LL +
                                1657669507294LL + 827355604098LL);
    assert_int_equal(risk_cash(r), 229);
    assert_true(risk_equity(r, &equity));
    assert_int_equal(equity, gross + 229);
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

    /* Cash: 100000 - 19999.945959 - 29.99991894 (15 bps) = 79970.05412206; equity at
     * the same price: 99970.00008106. */
    assert_int_equal(risk_cash(r), 7997005412206LL);
    /* Next bar, same target and price: target 0.25 * 99970.00008106 / 19084.1 = 1.30959,
     * delta 0.2616 BTC = 4992.40056 <= 0.25 * 24992.346519 (rebalance band): no
     * decision, counted. */
    assert_int_equal(run(r, LAST_BAR + BAR_MS, &a, 1, KS_NORMAL, &res), RISK_OK);
    assert_int_equal(res.n_decisions, 0);
    assert_int_equal(res.skipped_band, 1);
    assert_int_equal(res.skipped_min_notional, 0);
    risk_result_free(&res);
    /* Weight 0.5: target 2.61919 BTC, delta 1.5712 is outside the band, but the
     * position is at the limit: the buy is rejected with the same code. */
    a.weight = 0.5;
    assert_int_equal(run(r, LAST_BAR + 2 * BAR_MS, &a, 1, KS_NORMAL, &res), RISK_OK);
    assert_int_equal(res.n_decisions, 1);
    d = &res.decisions[0];
    assert_false(d->approved);
    assert_int_equal(d->approved_qty, 0);
    assert_int_equal(d->requested_qty, 261919000 - 104799000);
    assert_string_equal(d->reasons[0].code, "MAX_POSITION_NOTIONAL");
    assert_int_equal(d->reasons[0].value, 4998488387900LL);   /* 2.61919 * 19084.1 */
    assert_int_equal(risk_position(r, "BTC_USDT"), 104799000);
    assert_int_equal(risk_cash(r), 7997005412206LL);   /* nothing approved */
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

    /* Cash: 100000 - (19999.833711 + 29.99975057) - (14999.9972853 + 22.49999593)
     * = 64947.6692572. */
    assert_int_equal(risk_cash(r), 6494766925720LL);

    /* t1: BTC leaves the target (closed at its last price, 19044.74), ETH keeps .15 at
     * a higher price, ADA comes in. Equity = 64947.6692572 + 1.05015 * 19044.74 +
     * 11.73369 * 1284.19 = 100015.7903293. Sells first: the BTC close frees a slot,
     * so ADA fits. ETH: target 0.15 * equity / 1284.19 = 11.68235, the trim of 0.05134
     * (65.93 USDT) is inside the rebalance band (0.25 * 15002.3570465): not traded. */
    risk_target_pos_t pos1[2] = {tp("ADA_USDT", 0.1, ADA_PX), tp("ETH_USDT", 0.15, ETH_PX)};
    assert_int_equal(run(r, t1, pos1, 2, KS_NORMAL, &res), RISK_OK);
    assert_int_equal(res.n_decisions, 2);
    assert_int_equal(res.skipped_band, 1);
    assert_string_equal(res.decisions[0].symbol, "BTC_USDT");
    assert_int_equal(res.decisions[0].side, SELL);
    assert_string_equal(res.decisions[0].intent_reason, "close");
    assert_int_equal(res.decisions[0].approved_qty, 105015000);
    assert_int_equal(res.decisions[0].ref_price, btc0);
    assert_string_equal(res.decisions[1].symbol, "ADA_USDT");
    assert_true(res.decisions[1].approved);
    /* floor(0.1 * 100015.7903293 / 0.3963) = 25237.39347 ADA. */
    assert_int_equal(res.decisions[1].approved_qty, 2523739347000LL);
    assert_int_equal(risk_position(r, "BTC_USDT"), 0);
    assert_int_equal(risk_position(r, "ETH_USDT"), 1173369000);
    assert_int_equal(risk_open_positions(r), 2);
    /* + (19999.833711 - 29.99975057) (BTC) - (10001.57903216 + 15.00236855) (ADA). */
    assert_int_equal(risk_cash(r), 7490092181692LL);
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

    /* t1: reduce BTC to .1, raise ETH to .25, open ADA at .1, sized on the equity at
     * t1 prices: 64947.6692572 cash + 1.05015 * 19084.1 + 11.73369 * 1284.19
     * = 100057.1242333. All three deltas are outside the rebalance band. */
    risk_target_pos_t p1[3] = {tp("ADA_USDT", 0.1, ADA_PX), tp("BTC_USDT", 0.1, BTC_PX),
                               tp("ETH_USDT", 0.25, ETH_PX)};
    const qt_fixed_t btc_target = 52429000;      /* 10005.71242333 / 19084.1 = 0.52429 */
    const qt_fixed_t eth_buy = 1947864000 - eth_held;   /* target 19.47864 */
    const qt_fixed_t ada_buy = 2524782342000LL;         /* 25247.82342 */

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
    /* 64947.6692572 + (10035.564826 - 15.05334724) - (9945.9873405 + 14.91898101)
     * - (10005.71242135 + 15.00856863) */
    assert_int_equal(risk_cash(n), 5498655342447LL);
    assert_int_equal(risk_cash(w), 5498655342447LL);
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
    assert_int_equal(d->approved_qty, 387247000);   /* 7.74495 / 2 -> 3.87247 */
    assert_string_equal(d->reasons[0].code, "KILL_SWITCH");
    assert_int_equal(d->reasons[0].value, 994598734050LL);   /* 7.74495 * 1284.19 */
    assert_int_equal(d->reasons[0].limit, 497298724930LL);   /* 3.87247 * 1284.19 */
    d = dec_for(&res, "ADA_USDT");
    assert_int_equal(d->approved_qty, 1262391171000LL);   /* 12623.91171 exactly half */
    assert_int_equal(risk_position(th, "ADA_USDT"), 1262391171000LL);
    assert_int_equal(risk_cash(th), 6497737351080LL);
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
        /* The notional that was asked for: 7.74495 ETH * 1284.19. */
        assert_int_equal(dec_for(&res, "ETH_USDT")->reasons[0].value, 994598734050LL);
        /* Only the BTC trim moved cash. */
        assert_int_equal(risk_cash(c), 7496818073596LL);
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
    /* All cash: 64947.6692572 + (20041.167615 - 30.06175142)
     * + (15068.2873611 - 22.60243104) = 100004.46005084. */
    assert_int_equal(risk_cash(f), 10000446005084LL);
    risk_result_free(&res);
    /* Still flat on the next bar, even with an empty target. */
    assert_int_equal(run(f, t1 + BAR_MS, NULL, 0, KS_FLATTEN, &res), RISK_OK);
    assert_int_equal(res.n_decisions, 0);
    risk_result_free(&res);
    risk_destroy(&f);
    risk_destroy(&base);
}

/* ---- cash and equity ----------------------------------------------------------- */

/* Sizing follows equity after losses: the real BTC drop of June 2022. Half the capital
 * goes into BTC at 30114.38; at 20459.65 the account is worth 83894.96, and a new
 * position (ETH, weight .3) is sized on that, not on the initial 100000. */
static void test_sizing_follows_equity(void **state)
{
    (void)state;
    const int64_t t3 = JUN18 + BAR_MS;
    qt_fixed_t b1 = close_at("BTC_USDT", JUN10), b2 = close_at("BTC_USDT", JUN18),
               e2 = close_at("ETH_USDT", JUN18), b3 = close_at("BTC_USDT", t3),
               e3 = close_at("ETH_USDT", t3);
    assert_int_equal(b1, 3011438000000LL);   /* 30114.38 */
    assert_int_equal(b2, 2045965000000LL);   /* 20459.65 */
    assert_int_equal(e2, 107947000000LL);    /* 1079.47 */
    assert_int_equal(b3, 1925858000000LL);   /* 19258.58 */
    assert_int_equal(e3, 100378000000LL);    /* 1003.78 */
    risk_config_t cfg;
    risk_config_defaults(&cfg);
    cfg.max_position_notional = cfg.max_gross_exposure;   /* 100000: only cash limits */
    cfg.risk_per_trade = 0.0;   /* fixed-fractional sizing off (test_fixed_fractional) */
    risk_t *r = risk_new(&cfg);
    assert_non_null(r);
    assert_int_equal(risk_cash(r), 100000 * S);
    risk_result_t res;
    risk_target_pos_t a = tp("BTC_USDT", 0.5, b1);
    assert_int_equal(run(r, JUN10, &a, 1, KS_NORMAL, &res), RISK_OK);
    assert_int_equal(res.n_decisions, 1);
    /* floor(50000 / 30114.38) = 1.66033 BTC = 49999.8085454, + 74.99971282 cost. */
    assert_int_equal(res.decisions[0].approved_qty, 166033000);
    assert_int_equal(risk_cash(r), 4992519174178LL);   /* 49925.19174178 */
    risk_result_free(&res);

    /* JUN18: equity = 49925.19174178 + 1.66033 * 20459.65 = 83894.96242628 (-16.1%).
     * BTC at .5 wants 2.05025 (+0.38992 = 7977.63 USDT): inside the band (0.25 *
     * 41947.48), not traded. ETH .3: floor(.3 * 83894.96242628 / 1079.47) = 23.31559
     * ETH, where the initial capital would have given 27.79141. */
    risk_target_pos_t p2[2] = {tp("BTC_USDT", 0.5, b2), tp("ETH_USDT", 0.3, e2)};
    qt_fixed_t equity;
    assert_int_equal(run(r, JUN18, p2, 2, KS_NORMAL, &res), RISK_OK);
    assert_int_equal(res.skipped_band, 1);
    assert_int_equal(res.n_decisions, 1);
    const risk_decision_t *d = &res.decisions[0];
    assert_string_equal(d->symbol, "ETH_USDT");
    assert_true(d->approved);
    assert_int_equal(d->requested_qty, 2331559000);
    assert_int_equal(d->approved_qty, 2331559000);
    assert_int_equal(d->n_reasons, 0);
    assert_int_equal(risk_cash(r), 2471895908457LL);   /* - 25168.72 - 37.75 cost */
    risk_result_free(&res);

    /* Next bar: BTC weight 0 (closed at 19258.58), ETH kept at .3: equity
     * 80098.28014617, target floor(.3 * equity / 1003.78) = 23.93899, inside the band. */
    risk_target_pos_t p3[2] = {tp("BTC_USDT", 0.0, b3), tp("ETH_USDT", 0.3, e3)};
    assert_int_equal(run(r, t3, p3, 2, KS_NORMAL, &res), RISK_OK);
    assert_int_equal(res.n_decisions, 1);
    assert_int_equal(res.skipped_band, 1);
    d = &res.decisions[0];
    assert_string_equal(d->symbol, "BTC_USDT");
    assert_int_equal(d->side, SELL);
    assert_int_equal(d->approved_qty, 166033000);
    /* + 1.66033 * 19258.58 - 15 bps = 31975.43324634 - 47.96314952. */
    assert_int_equal(risk_cash(r), 5664659381877LL);
    assert_true(risk_equity(r, &equity));
    assert_int_equal(equity, 8005031674897LL);   /* + 23.31559 * 1003.78 */
    assert_true(equity < cfg.capital);
    risk_result_free(&res);
    risk_destroy(&r);
}

/* A buy never makes cash_est negative: clipped to the cash (cost included), rejected
 * when nothing or less than min_trade_notional fits; a sell in the same target frees
 * cash for the buys after it. */
static void test_insufficient_cash(void **state)
{
    (void)state;
    const int64_t t0 = LAST_BAR - BAR_MS, t1 = LAST_BAR;
    qt_fixed_t btc0 = close_at("BTC_USDT", t0), eth0 = close_at("ETH_USDT", t0),
               ada0 = close_at("ADA_USDT", t0);
    assert_int_equal(btc0, 1904474000000LL);   /* 19044.74 */
    assert_int_equal(ada0, 39550000LL);        /* 0.3955 */
    risk_config_t cfg;
    risk_config_defaults(&cfg);
    cfg.max_gross_exposure = 1000000 * S;   /* only the cash binds here */
    cfg.max_position_notional = cfg.max_gross_exposure;
    cfg.risk_per_trade = 0.0;   /* fixed-fractional sizing off (test_fixed_fractional) */
    risk_t *r = risk_new(&cfg);
    assert_non_null(r);
    risk_result_t res;
    risk_target_pos_t p0[3] = {tp("ADA_USDT", 0.001, ada0), tp("BTC_USDT", 0.99, btc0),
                               tp("ETH_USDT", 0.0095, eth0)};
    assert_int_equal(run(r, t0, p0, 3, KS_NORMAL, &res), RISK_OK);
    assert_int_equal(res.n_decisions, 3);
    /* BTC: 5.19828 = 98999.8910472 + 148.49983657 cost; 851.60911623 left. */
    const risk_decision_t *d = &res.decisions[0];
    assert_string_equal(d->symbol, "BTC_USDT");
    assert_true(d->approved);
    assert_int_equal(d->approved_qty, 519828000);
    assert_int_equal(d->n_reasons, 0);
    /* ETH wants 0.74313 (950 USDT: 951.42009075 with cost): clipped to
     * floor(851.60911623 / (1278.37 * 1.0015)) = 0.66517 ETH (850.3333729 + 1.2755). */
    d = &res.decisions[1];
    assert_string_equal(d->symbol, "ETH_USDT");
    assert_true(d->approved);
    assert_int_equal(d->requested_qty, 74313000);
    assert_int_equal(d->approved_qty, 66517000);
    assert_int_equal(d->n_reasons, 1);
    assert_string_equal(d->reasons[0].code, "INSUFFICIENT_CASH");
    assert_int_equal(d->reasons[0].value, 95142009075LL);
    assert_int_equal(d->reasons[0].limit, 85160911623LL);
    /* ADA: 0.00024327 of cash buys 0.00061 ADA = 0.00024126 < 50: rejected. */
    d = &res.decisions[2];
    assert_string_equal(d->symbol, "ADA_USDT");
    assert_false(d->approved);
    assert_int_equal(d->approved_qty, 0);
    assert_int_equal(d->requested_qty, 25284450000LL);   /* 252.8445 ADA = 100 USDT */
    assert_int_equal(d->n_reasons, 2);
    assert_string_equal(d->reasons[0].code, "INSUFFICIENT_CASH");
    assert_int_equal(d->reasons[0].value, 10014999975LL);
    assert_int_equal(d->reasons[0].limit, 24327);
    assert_string_equal(d->reasons[1].code, "MIN_TRADE_NOTIONAL");
    assert_int_equal(d->reasons[1].value, 24126);
    assert_int_equal(d->reasons[1].limit, 50 * S);
    assert_int_equal(risk_cash(r), 24327);
    assert_int_equal(risk_position(r, "ADA_USDT"), 0);
    risk_result_free(&res);

    /* Out of cash: raising ETH to .3 at t1 (BTC stays inside its band) cannot buy even
     * one step (0.00001 ETH = 0.0128419 USDT > 0.00024327): rejected, one reason. */
    risk_t *c = clone(r, &cfg);
    risk_target_pos_t p1c[2] = {tp("BTC_USDT", 0.99, BTC_PX), tp("ETH_USDT", 0.3, ETH_PX)};
    assert_int_equal(run(c, t1, p1c, 2, KS_NORMAL, &res), RISK_OK);
    assert_int_equal(res.n_decisions, 1);
    assert_int_equal(res.skipped_band, 1);
    d = dec_for(&res, "ETH_USDT");
    assert_non_null(d);
    assert_false(d->approved);
    assert_int_equal(d->requested_qty, 2270957000);   /* 23.37474 - 0.66517 */
    assert_int_equal(d->n_reasons, 1);
    assert_string_equal(d->reasons[0].code, "INSUFFICIENT_CASH");
    assert_int_equal(d->reasons[0].value, 2920714780235LL);   /* 29163.40 + 43.75 cost */
    assert_int_equal(d->reasons[0].limit, 24327);
    assert_int_equal(risk_cash(c), 24327);
    risk_result_free(&res);
    risk_destroy(&c);

    /* t1: BTC down to .5, XRP .3 new. Equity 100058.70025357; the BTC sell
     * (2.57676 BTC: 49175.59327676 net of cost) comes first and pays for XRP in full:
     * floor(.3 * equity / 0.4894) = 61335.53346 XRP (30017.61007532 + 45.02641511).
     * ETH (target 0.7402, +96.35 USDT) is inside the band. */
    risk_target_pos_t p1[3] = {tp("BTC_USDT", 0.5, BTC_PX), tp("ETH_USDT", 0.0095, ETH_PX),
                               tp("XRP_USDT", 0.3, XRP_PX)};
    assert_int_equal(run(r, t1, p1, 3, KS_NORMAL, &res), RISK_OK);
    assert_int_equal(res.n_decisions, 2);
    assert_int_equal(res.skipped_band, 1);
    d = &res.decisions[0];
    assert_string_equal(d->symbol, "BTC_USDT");
    assert_int_equal(d->side, SELL);
    assert_int_equal(d->approved_qty, 519828000 - 262152000);
    d = &res.decisions[1];
    assert_string_equal(d->symbol, "XRP_USDT");
    assert_true(d->approved);
    assert_int_equal(d->approved_qty, 6133553346000LL);
    assert_int_equal(d->n_reasons, 0);
    assert_int_equal(risk_cash(r), 1903874655057LL);   /* 19038.74655057 */
    risk_result_free(&res);
    risk_destroy(&r);
}

/* equity_est <= 0 (a fully spent account with nothing held, restored from a
 * snapshot): every buy is rejected EQUITY_DEPLETED, nothing is sized. */
static void test_equity_depleted(void **state)
{
    (void)state;
    risk_config_t cfg;
    risk_config_defaults(&cfg);
    risk_t *r = risk_new(&cfg);
    assert_non_null(r);
    qt_buf_t b;
    qt_buf_init(&b);
    qt_buf_put_u32(&b, 2);
    qt_buf_put_i64(&b, LAST_BAR - BAR_MS);
    qt_buf_put_i64(&b, LAST_BAR - BAR_MS);
    qt_buf_put_i64(&b, 0);   /* cash_est */
    qt_buf_put_u32(&b, 0);
    qt_reader_t rd;
    qt_reader_init(&rd, b.data, b.len);
    assert_true(risk_load(r, &rd));
    qt_buf_free(&b);
    assert_int_equal(risk_cash(r), 0);
    risk_result_t res;
    risk_target_pos_t pos[2] = {tp("BTC_USDT", 0.5, BTC_PX), tp("ETH_USDT", 0.25, ETH_PX)};
    assert_int_equal(run(r, LAST_BAR, pos, 2, KS_NORMAL, &res), RISK_OK);
    assert_int_equal(res.n_decisions, 2);
    for (size_t i = 0; i < 2; i++) {
        const risk_decision_t *d = &res.decisions[i];
        assert_string_equal(d->symbol, i == 0 ? "BTC_USDT" : "ETH_USDT");
        assert_int_equal(d->side, BUY);
        assert_false(d->approved);
        assert_int_equal(d->requested_qty, 0);
        assert_int_equal(d->approved_qty, 0);
        assert_int_equal(d->n_reasons, 1);
        assert_string_equal(d->reasons[0].code, "EQUITY_DEPLETED");
        assert_int_equal(d->reasons[0].value, 0);
        assert_int_equal(d->reasons[0].limit, 0);
    }
    assert_int_equal(risk_open_positions(r), 0);
    assert_int_equal(risk_cash(r), 0);
    assert_int_equal(risk_last_target(r), LAST_BAR);
    risk_result_free(&res);
    risk_destroy(&r);
}

/* Rebalance band at the boundary, on real BTC closes (19044.74 then 19084.1).
 * Weight .378 buys 1.9848 BTC; equity at the next close is 100021.42172807. Weights
 * are chosen so the target is exactly 4/3 (buy) or 4/5 (sell) of the position: the
 * delta notional then equals 0.25 * target notional to the last 1e-8 (skipped); one
 * qty step further, it is traded. */
static void test_rebalance_band_boundary(void **state)
{
    (void)state;
    const int64_t t0 = LAST_BAR - BAR_MS, t1 = LAST_BAR;
    qt_fixed_t btc0 = close_at("BTC_USDT", t0);
    risk_config_t cfg;
    risk_config_defaults(&cfg);
    cfg.max_position_notional = cfg.max_gross_exposure;
    cfg.risk_per_trade = 0.0;   /* fixed-fractional sizing off (test_fixed_fractional) */
    assert_true(cfg.rebalance_band == 0.25);
    risk_t *base = risk_new(&cfg);
    assert_non_null(base);
    risk_result_t res;
    risk_target_pos_t a = tp("BTC_USDT", 0.378, btc0);
    assert_int_equal(run(base, t0, &a, 1, KS_NORMAL, &res), RISK_OK);
    assert_int_equal(res.n_decisions, 1);
    assert_int_equal(res.decisions[0].approved_qty, 198480000);   /* 1.9848 = 3 * 0.6616 */
    risk_result_free(&res);
    assert_int_equal(risk_cash(base), 6214330004807LL);

    struct {
        double w;
        qt_fixed_t target;
        bool traded;
    } cases[4] = {
        /* buy: target 2.6464 = 4 * 0.6616, delta 0.6616: 12626.04056 == 50504.16224 / 4 */
        {0.5049344109285591, 264640000, false},
        /* target 2.64641, delta 0.66161 = 12626.231401 > 12626.08827025 */
        {0.5049363189298322, 264641000, true},
        /* sell: target 1.58784 = 4 * 0.39696, delta 0.39696: 7575.624336 == 30302.497344 / 4 */
        {0.30296102815739007, 158784000, false},
        /* target 1.58783, delta 0.39697 = 7575.815177 > 7575.57662575 */
        {0.30295912015611687, 158783000, true},
    };
    for (int k = 0; k < 4; k++) {
        risk_t *c = clone(base, &cfg);
        risk_target_pos_t b = tp("BTC_USDT", cases[k].w, BTC_PX);
        assert_int_equal(run(c, t1, &b, 1, KS_NORMAL, &res), RISK_OK);
        if (!cases[k].traded) {
            assert_int_equal(res.n_decisions, 0);
            assert_int_equal(res.skipped_band, 1);
            assert_int_equal(risk_position(c, "BTC_USDT"), 198480000);
            assert_int_equal(risk_cash(c), 6214330004807LL);
        } else {
            assert_int_equal(res.n_decisions, 1);
            assert_int_equal(res.skipped_band, 0);
            assert_true(res.decisions[0].approved);
            assert_int_equal(res.decisions[0].side, k < 2 ? BUY : SELL);
            assert_int_equal(risk_position(c, "BTC_USDT"), cases[k].target);
        }
        risk_result_free(&res);
        risk_destroy(&c);
    }
    /* Closing fully (weight 0) is never held back by the band. */
    assert_int_equal(run(base, t1, NULL, 0, KS_NORMAL, &res), RISK_OK);
    assert_int_equal(res.n_decisions, 1);
    assert_int_equal(res.decisions[0].approved_qty, 198480000);
    assert_int_equal(risk_open_positions(base), 0);
    risk_result_free(&res);
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
    qt_bars_t ser[5];
    long end[5];
    for (int k = 0; k < 5; k++) {
        qt_testdata_load_4h(pairs[k], &ser[k]);
        end[k] = qt_testdata_index_of(&ser[k], LAST_BAR);
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
            assert_int_equal(risk_cash(b), risk_cash(a));
            assert_true(risk_cash(a) != cfg.capital);   /* the cash really round-trips */
            qt_fixed_t ga, gb;
            assert_true(risk_gross_exposure(a, &ga) && risk_gross_exposure(b, &gb));
            assert_int_equal(ga, gb);
        }
        risk_target_pos_t pos[5];
        int64_t t = 0;
        for (int k = 0; k < 5; k++) {
            long i = end[k] - 9 + bar;
            t = ser[k].bars[i].t_ms;
            pos[k] = tp(pairs[k], wts[bar % 5][k], ser[k].bars[i].close);
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
    assert_int_equal(risk_cash(a), risk_cash(b));
    qt_fixed_t eq;
    assert_true(risk_equity(a, &eq));
    assert_int_equal(eq, risk_cash(a));   /* flat: equity is the cash */

    /* Format 1 (no cash) is refused, and so is a negative cash; state unchanged. */
    for (int k = 0; k < 2; k++) {
        qt_buf_t buf;
        qt_buf_init(&buf);
        qt_buf_put_u32(&buf, k == 0 ? 1 : 2);
        qt_buf_put_i64(&buf, LAST_BAR + BAR_MS);
        qt_buf_put_i64(&buf, LAST_BAR + BAR_MS);
        if (k == 1)
            qt_buf_put_i64(&buf, -1);
        qt_buf_put_u32(&buf, 1);
        qt_buf_put_str(&buf, "BTC_USDT");
        qt_buf_put_i64(&buf, 100000000);
        qt_buf_put_i64(&buf, BTC_PX);
        qt_reader_t rd;
        qt_reader_init(&rd, buf.data, buf.len);
        assert_false(risk_load(b, &rd));
        qt_buf_free(&buf);
        assert_int_equal(risk_cash(b), risk_cash(a));
        assert_int_equal(risk_open_positions(b), 0);
        assert_int_equal(risk_last_target(b), risk_last_target(a));
    }
    risk_destroy(&a);
    risk_destroy(&b);
    for (int k = 0; k < 5; k++)
        qt_bars_free(&ser[k]);
}

/* ---- property: no intent ever breaks a limit ---------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

/* Cash moved by a fill of qty at px: notional +/- 15 bps, each rounded half to even. */
static qt_fixed_t notional_with_cost(qt_fixed_t qty, qt_fixed_t px, bool buy)
{
    __int128 p = (__int128)qty * px;   /* 1e-16 units */
    __int128 n = p / S, rem = p % S;
    if (rem * 2 > S || (rem * 2 == S && (n & 1)))
        n++;
    __int128 c = n * 15 / 10000, crem = n * 15 % 10000;
    if (crem * 2 > 10000 || (crem * 2 == 10000 && (c & 1)))
        c++;
    return (qt_fixed_t)(buy ? n + c : n - c);
}

static void test_property_limits(void **state)
{
    (void)state;
    enum { NP = 10, BARS = 1500 };
    const char *pairs[NP] = {"ADA_USDT", "BNB_USDT", "BTC_USDT", "DOGE_USDT", "ETH_USDT",
                             "LINK_USDT", "LTC_USDT", "SOL_USDT", "TRX_USDT", "XRP_USDT"};
    qt_bars_t ser[NP];
    long end[NP];
    for (int k = 0; k < NP; k++) {
        qt_testdata_load_4h(pairs[k], &ser[k]);
        end[k] = qt_testdata_index_of(&ser[k], LAST_BAR);
        assert_true(end[k] > BARS);
    }
    risk_config_t cfg;
    risk_config_defaults(&cfg);
    cfg.max_position_notional = 15000 * S;
    cfg.max_gross_exposure = 60000 * S;
    cfg.max_open_positions = 4;
    cfg.risk_per_trade = 0.0;   /* cash-limited buys must occur; FIXED_FRACTIONAL has its test */
    cfg.max_drawdown = 0.0;     /* the random churn through 2022 loses > 50%: MAX_DRAWDOWN
                                   would stop every buy (it has its own test) */
    risk_t *r = risk_new(&cfg);
    assert_non_null(r);
    qt_fixed_t ledger[NP] = {0};
    /* Cash recomputed from the approved intents alone: capital - buys - costs + sells,
     * cost = 15 bps of each notional rounded half to even (done here in __int128). */
    qt_fixed_t cash_ledger = cfg.capital;
    uint64_t rng = 42;
    const Qt__V1__KillSwitchTier tiers[7] = {KS_NORMAL, KS_NORMAL, KS_NORMAL, KS_WARN,
                                             KS_THROTTLE, KS_NO_NEW, KS_UNKNOWN};
    size_t approved_buys = 0, rejected = 0, sells = 0, clipped = 0;
    qt_fixed_t min_cash = INT64_MAX;
    size_t cash_limited = 0, band_skips = 0;
    for (int bar = 0; bar < BARS; bar++) {
        risk_target_pos_t pos[NP];
        size_t n = 0;
        int64_t t = 0;
        for (int k = 0; k < NP; k++) {
            long i = end[k] - (BARS - 1) + bar;
            t = ser[k].bars[i].t_ms;
            if (rng_next(&rng) % 3 == 0)
                continue;
            double w = (double)(rng_next(&rng) % 10001) / 20000.0;   /* [0, 0.5] */
            pos[n++] = tp(pairs[k], w, ser[k].bars[i].close);
        }
        for (int k = 1; k < NP; k++)
            assert_int_equal(ser[k].bars[end[k] - (BARS - 1) + bar].t_ms, t);
        Qt__V1__KillSwitchTier tier =
            (bar % 97 == 96) ? KS_FLATTEN : tiers[rng_next(&rng) % 7];
        risk_result_t res;
        assert_int_equal(run(r, t, pos, n, tier, &res), RISK_OK);
        bool any_buy = false;
        band_skips += res.skipped_band;
        for (size_t i = 0; i < res.n_decisions; i++) {
            const risk_decision_t *d = &res.decisions[i];
            for (size_t q = 0; q < d->n_reasons; q++)
                cash_limited += strcmp(d->reasons[q].code, "INSUFFICIENT_CASH") == 0;
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
            qt_fixed_t cash_move = notional_with_cost(d->approved_qty, d->ref_price,
                                                      d->side == BUY);
            cash_ledger += d->side == BUY ? -cash_move : cash_move;
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
        /* Never leveraged: the estimated cash is >= 0 after every target, and equals
         * the independent recomputation. */
        assert_true(risk_cash(r) >= 0);
        assert_int_equal(risk_cash(r), cash_ledger);
        if (risk_cash(r) < min_cash)
            min_cash = risk_cash(r);
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
    assert_true(cash_limited > 50);   /* the cash check really bound */
    assert_true(band_skips > 50);
    assert_true(min_cash >= 0);
    print_message("property: %zu buys, %zu sells, %zu rejected, %zu clipped, %zu cash-limited, "
                  "%zu band skips, min cash %.8f\n", approved_buys, sells, rejected, clipped,
                  cash_limited, band_skips, qt_fixed_to_double(min_cash));
    risk_destroy(&r);
    for (int k = 0; k < NP; k++)
        qt_bars_free(&ser[k]);
}

/* ---- pre-trade rules: each rejects with its code on real prices ------------------ */

/* One reason with exactly this code/value/limit on a rejected buy. */
static void assert_rejected(const risk_result_t *res, const char *sym, const char *code,
                            qt_fixed_t value, qt_fixed_t limit)
{
    const risk_decision_t *d = dec_for(res, sym);
    assert_non_null(d);
    assert_int_equal(d->side, BUY);
    assert_false(d->approved);
    assert_int_equal(d->approved_qty, 0);
    assert_int_equal(d->n_reasons, 1);
    assert_string_equal(d->reasons[0].code, code);
    assert_int_equal(d->reasons[0].value, value);
    assert_int_equal(d->reasons[0].limit, limit);
}

/* BTC 30114.38 (2022-06-10) -> 20459.65 (2022-06-18): |-9654.73| / 30114.38 = 3206 bps
 * > the 2000 bps band: the buy is refused; ETH (no reference yet) passes. */
static void test_price_band(void **state)
{
    (void)state;
    qt_fixed_t b1 = close_at("BTC_USDT", JUN10), b2 = close_at("BTC_USDT", JUN18),
               e2 = close_at("ETH_USDT", JUN18);
    risk_config_t cfg;
    risk_config_defaults(&cfg);
    assert_int_equal(cfg.price_band_bps, 2000);
    cfg.price_band_ref_max_age_ms = 9 * 86400000LL;   /* the reference is 8 days old */
    risk_t *r = risk_new(&cfg);
    risk_result_t res;
    risk_target_pos_t a = tp("BTC_USDT", 0.1, b1);
    assert_int_equal(run(r, JUN10, &a, 1, KS_NORMAL, &res), RISK_OK);
    assert_true(res.n_decisions == 1 && res.decisions[0].approved);
    risk_result_free(&res);
    risk_target_pos_t p2[2] = {tp("BTC_USDT", 0.3, b2), tp("ETH_USDT", 0.1, e2)};
    assert_int_equal(run(r, JUN18, p2, 2, KS_NORMAL, &res), RISK_OK);
    assert_rejected(&res, "BTC_USDT", RISK_CODE_PRICE_BAND, 3206 * S, 2000 * S);
    assert_true(dec_for(&res, "ETH_USDT")->approved);
    risk_result_free(&res);
    /* the pure rule at its boundary: exactly 20.00% passes, one ulp more does not */
    risk_reason_t why;
    assert_true(risk_check_price_band(&cfg, 100 * S, 120 * S, &why));
    assert_false(risk_check_price_band(&cfg, 100 * S, 120 * S + 1, &why));
    assert_string_equal(why.code, RISK_CODE_PRICE_BAND);
    assert_true(risk_check_price_band(&cfg, 0, 120 * S, &why));   /* no reference */
    risk_destroy(&r);
}

/* A stale-data alert blocks new exposure on its symbol until it clears; a target older
 * than the watermark by more than max_bar_age_ms blocks every buy. */
static void test_stale_data(void **state)
{
    (void)state;
    const int64_t t0 = LAST_BAR - BAR_MS, t1 = LAST_BAR;
    risk_config_t cfg;
    risk_config_defaults(&cfg);
    risk_t *r = risk_new(&cfg);
    risk_result_t res;
    assert_true(risk_on_alert(r, "ETH_USDT", "stale", true));
    assert_true(risk_on_alert(r, "BTC_USDT", "gap", true));   /* other kinds: ignored */
    assert_false(risk_on_alert(r, "BAD SYMBOL", "stale", true));
    assert_true(risk_stale(r, "ETH_USDT") && !risk_stale(r, "BTC_USDT"));
    risk_target_pos_t p0[2] = {tp("BTC_USDT", 0.2, close_at("BTC_USDT", t0)),
                               tp("ETH_USDT", 0.2, close_at("ETH_USDT", t0))};
    assert_int_equal(run(r, t0, p0, 2, KS_NORMAL, &res), RISK_OK);
    assert_true(dec_for(&res, "BTC_USDT")->approved);
    assert_rejected(&res, "ETH_USDT", RISK_CODE_STALE_DATA, 0, 0);
    risk_result_free(&res);
    assert_true(risk_on_alert(r, "ETH_USDT", "stale", false));
    risk_target_pos_t p1[2] = {tp("BTC_USDT", 0.2, BTC_PX), tp("ETH_USDT", 0.2, ETH_PX)};
    assert_int_equal(run(r, t1, p1, 2, KS_NORMAL, &res), RISK_OK);
    assert_true(dec_for(&res, "ETH_USDT")->approved);
    risk_result_free(&res);
    /* the state survives a restart */
    assert_true(risk_on_alert(r, "XRP_USDT", "stale", true));
    risk_t *c = clone(r, &cfg);
    assert_true(risk_stale(c, "XRP_USDT") && !risk_stale(c, "ETH_USDT"));
    risk_destroy(&c);
    risk_destroy(&r);

    /* bar age: the watermark of 2022-10-11 04:00 passed, then a target for 16:00 the
     * day before arrives: 12 h > 8 h */
    r = risk_new(&cfg);
    const int64_t old = LAST_BAR - 3 * BAR_MS;
    assert_true(risk_on_watermark(r, LAST_BAR));
    risk_target_pos_t p2 = tp("BTC_USDT", 0.2, close_at("BTC_USDT", old));
    assert_int_equal(run(r, old, &p2, 1, KS_NORMAL, &res), RISK_OK);
    assert_rejected(&res, "BTC_USDT", RISK_CODE_STALE_DATA, 43200000LL * S, 28800000LL * S);
    risk_result_free(&res);
    risk_destroy(&r);
}

/* Buy BTC at 30114.38 (06-10), close it at 20459.65 (06-18): proceeds 6783.64063193 <
 * basis 10014.78069433, a loss. The global cooldown (4 h) refuses the ETH buy of the
 * same target; 4 h later the symbol cooldown (8 h) still refuses BTC, ETH passes. */
static void test_cooldown(void **state)
{
    (void)state;
    risk_config_t cfg;
    risk_config_defaults(&cfg);
    cfg.cooldown_ms = 2 * BAR_MS;
    cfg.global_cooldown_ms = BAR_MS;
    risk_t *r = risk_new(&cfg);
    risk_result_t res;
    risk_target_pos_t a = tp("BTC_USDT", 0.1, close_at("BTC_USDT", JUN10));
    assert_int_equal(run(r, JUN10, &a, 1, KS_NORMAL, &res), RISK_OK);
    assert_int_equal(res.decisions[0].approved_qty, 33206000);
    risk_result_free(&res);
    risk_target_pos_t e[2] = {tp("BTC_USDT", 0.0, close_at("BTC_USDT", JUN18)),
                              tp("ETH_USDT", 0.1, close_at("ETH_USDT", JUN18))};
    assert_int_equal(run(r, JUN18, e, 2, KS_NORMAL, &res), RISK_OK);
    assert_int_equal(res.n_decisions, 2);
    assert_true(res.decisions[0].approved && res.decisions[0].side == SELL);   /* the close */
    assert_rejected(&res, "ETH_USDT", RISK_CODE_COOLDOWN, BAR_MS * S, BAR_MS * S);
    risk_result_free(&res);
    risk_trades_t tr;
    risk_trade_stats(r, &tr);
    assert_true(tr.losses == 1 && tr.wins == 0 &&
                tr.sum_loss == (double)(678364063193LL - 1001478069433LL) / 1001478069433.0);
    const int64_t t3 = JUN18 + BAR_MS;
    risk_target_pos_t p3[2] = {tp("BTC_USDT", 0.1, close_at("BTC_USDT", t3)),
                               tp("ETH_USDT", 0.1, close_at("ETH_USDT", t3))};
    risk_t *c = clone(r, &cfg);   /* cooldowns are part of the snapshot */
    assert_int_equal(run(c, t3, p3, 2, KS_NORMAL, &res), RISK_OK);
    assert_rejected(&res, "BTC_USDT", RISK_CODE_COOLDOWN, BAR_MS * S, 2 * BAR_MS * S);
    assert_true(dec_for(&res, "ETH_USDT")->approved);
    risk_result_free(&res);
    risk_destroy(&c);
    risk_destroy(&r);
}

/* 2022-06-13: 3.52663 BTC bought at 25520.05 (00:00, 90% of 100000) are worth
 * 79305.74 at 22487.41 (20:00): equity 89170.00113590, down 10829.99886410 > 10% of the
 * day's start (10000): the ETH buy is refused. */
static void test_daily_loss(void **state)
{
    (void)state;
    const int64_t d0 = 1655078400000LL, d5 = d0 + 5 * BAR_MS;
    risk_config_t cfg;
    risk_config_defaults(&cfg);
    cfg.max_position_notional = cfg.max_gross_exposure;
    cfg.risk_per_trade = 0.0;
    risk_t *r = risk_new(&cfg);
    risk_result_t res;
    risk_target_pos_t a = tp("BTC_USDT", 0.9, close_at("BTC_USDT", d0));
    assert_int_equal(run(r, d0, &a, 1, KS_NORMAL, &res), RISK_OK);
    assert_int_equal(res.decisions[0].approved_qty, 352663000);
    risk_result_free(&res);
    risk_target_pos_t p5[2] = {tp("BTC_USDT", 0.9, close_at("BTC_USDT", d5)),
                               tp("ETH_USDT", 0.05, close_at("ETH_USDT", d5))};
    assert_int_equal(run(r, d5, p5, 2, KS_NORMAL, &res), RISK_OK);
    assert_int_equal(res.n_decisions, 1);   /* BTC inside the rebalance band */
    assert_rejected(&res, "ETH_USDT", RISK_CODE_DAILY_LOSS, 1082999886410LL, 1000000000000LL);
    risk_result_free(&res);
    /* the next UTC day starts from the equity it opens with */
    const int64_t d6 = d0 + 6 * BAR_MS;
    risk_target_pos_t p6[2] = {tp("BTC_USDT", 0.9, close_at("BTC_USDT", d6)),
                               tp("ETH_USDT", 0.05, close_at("ETH_USDT", d6))};
    assert_int_equal(run(r, d6, p6, 2, KS_NORMAL, &res), RISK_OK);
    assert_true(dec_for(&res, "ETH_USDT")->approved);
    risk_result_free(&res);
    risk_destroy(&r);
}

/* 2.98860 BTC bought at 30114.38 (06-10, 90% of 100000); at 20459.65 (06-18) equity is
 * 71010.87416790, 28989.12583210 below the 100000 peak > 20%: buys refused. */
static void test_max_drawdown(void **state)
{
    (void)state;
    risk_config_t cfg;
    risk_config_defaults(&cfg);
    cfg.max_position_notional = cfg.max_gross_exposure;
    cfg.risk_per_trade = 0.0;
    cfg.max_drawdown = 0.2;
    risk_t *r = risk_new(&cfg);
    risk_result_t res;
    risk_target_pos_t a = tp("BTC_USDT", 0.9, close_at("BTC_USDT", JUN10));
    assert_int_equal(run(r, JUN10, &a, 1, KS_NORMAL, &res), RISK_OK);
    assert_int_equal(res.decisions[0].approved_qty, 298860000);
    risk_result_free(&res);
    risk_target_pos_t p2[2] = {tp("BTC_USDT", 0.9, close_at("BTC_USDT", JUN18)),
                               tp("ETH_USDT", 0.05, close_at("ETH_USDT", JUN18))};
    assert_int_equal(run(r, JUN18, p2, 2, KS_NORMAL, &res), RISK_OK);
    assert_rejected(&res, "ETH_USDT", RISK_CODE_MAX_DRAWDOWN, 2898912583210LL,
                    2000000000000LL);
    risk_result_free(&res);
    /* the peak survives a restart */
    risk_t *c = clone(r, &cfg);
    risk_target_pos_t p3 = tp("ETH_USDT", 0.05, close_at("ETH_USDT", JUN18 + BAR_MS));
    risk_target_pos_t p3b[2] = {tp("BTC_USDT", 0.9, close_at("BTC_USDT", JUN18 + BAR_MS)), p3};
    assert_int_equal(run(c, JUN18 + BAR_MS, p3b, 2, KS_NORMAL, &res), RISK_OK);
    assert_string_equal(dec_for(&res, "ETH_USDT")->reasons[0].code, RISK_CODE_MAX_DRAWDOWN);
    risk_result_free(&res);
    risk_destroy(&c);
    risk_destroy(&r);
}

/* At most 2 orders per 4 h: the third buy of the bar is refused (BNB, BTC, ETH at equal
 * weights go in symbol order); the next bar's window is empty again. */
static void test_order_rate(void **state)
{
    (void)state;
    const int64_t t0 = LAST_BAR - BAR_MS, t1 = LAST_BAR;
    risk_config_t cfg;
    risk_config_defaults(&cfg);
    cfg.max_orders_per_window = 2;
    risk_t *r = risk_new(&cfg);
    risk_result_t res;
    risk_target_pos_t p0[3] = {tp("BNB_USDT", 0.2, close_at("BNB_USDT", t0)),
                               tp("BTC_USDT", 0.2, close_at("BTC_USDT", t0)),
                               tp("ETH_USDT", 0.2, close_at("ETH_USDT", t0))};
    assert_int_equal(run(r, t0, p0, 3, KS_NORMAL, &res), RISK_OK);
    assert_true(dec_for(&res, "BNB_USDT")->approved && dec_for(&res, "BTC_USDT")->approved);
    assert_rejected(&res, "ETH_USDT", RISK_CODE_ORDER_RATE, 2 * S, 2 * S);
    risk_result_free(&res);
    risk_target_pos_t p1[3] = {tp("BNB_USDT", 0.2, BNB_PX), tp("BTC_USDT", 0.2, BTC_PX),
                               tp("ETH_USDT", 0.2, ETH_PX)};
    assert_int_equal(run(r, t1, p1, 3, KS_NORMAL, &res), RISK_OK);
    assert_true(dec_for(&res, "ETH_USDT")->approved);
    risk_result_free(&res);
    risk_destroy(&r);
}

/* Fixed-fractional: 2% of 100000 at risk with a 6.25% stop = at most 32000 per trade.
 * BTC at 19084.1, weight 0.5 wants 2.61998 (49999.960318): clipped to 1.67678. */
static void test_fixed_fractional(void **state)
{
    (void)state;
    risk_config_t cfg;
    risk_config_defaults(&cfg);
    assert_true(cfg.risk_per_trade == 0.02 && cfg.stop_distance == 0.0625);
    cfg.max_position_notional = cfg.max_gross_exposure;
    risk_t *r = risk_new(&cfg);
    risk_result_t res;
    risk_target_pos_t a = tp("BTC_USDT", 0.5, BTC_PX);
    assert_int_equal(run(r, LAST_BAR, &a, 1, KS_NORMAL, &res), RISK_OK);
    const risk_decision_t *d = &res.decisions[0];
    assert_true(d->approved);
    assert_int_equal(d->requested_qty, 261998000);
    assert_int_equal(d->approved_qty, 167678000);
    assert_int_equal(d->n_reasons, 1);
    assert_string_equal(d->reasons[0].code, RISK_CODE_FIXED_FRACTIONAL);
    assert_int_equal(d->reasons[0].value, 4999996031800LL);
    assert_int_equal(d->reasons[0].limit, 3200000000000LL);
    risk_result_free(&res);
    risk_destroy(&r);
}

/* Volatility targeting on DOGE: 25 targets listing DOGE at weight 0 (no trade) feed the
 * EWMA of its 4h log returns (up to 2022-10-11 00:00: sigma ~ 26% a year); then a buy
 * at weight 0.3 is clipped to equity * vol_target / sigma (vol_target 5%: ~19%). The
 * expected sigma is recomputed here from the closes. */
static void test_vol_target(void **state)
{
    (void)state;
    enum { N = 26 };
    qt_bars_t s;
    qt_testdata_load_4h("DOGE_USDT", &s);
    long end = qt_testdata_index_of(&s, LAST_BAR);
    assert_true(end >= N);
    risk_config_t cfg;
    risk_config_defaults(&cfg);
    cfg.vol_target = 0.05;
    risk_t *r = risk_new(&cfg);
    risk_result_t res;
    double var = 0.0, lambda = pow(0.5, 1.0 / cfg.vol_halflife);
    for (int k = 0; k < N - 1; k++) {
        const qt_bar_t *b = &s.bars[end - (N - 1) + k];
        risk_target_pos_t p = tp("DOGE_USDT", 0.0, b->close);
        assert_int_equal(run(r, b->t_ms, &p, 1, KS_NORMAL, &res), RISK_OK);
        assert_int_equal(res.n_decisions, 0);
        risk_result_free(&res);
        if (k > 0) {
            const qt_bar_t *a = b - 1;
            double lr = log((double)b->close / (double)a->close);
            double rate = lr * lr / (double)(b->t_ms - a->t_ms);
            var = k == 1 ? rate : lambda * var + (1.0 - lambda) * rate;
        }
    }
    double sigma = sqrt(var * 31557600000.0), got;
    uint32_t n;
    assert_true(risk_volatility(r, "DOGE_USDT", &got, &n));
    assert_int_equal(n, N - 2);
    assert_true(got == sigma);
    assert_true(0.05 / sigma < 0.3);   /* premise: the cap binds (calm Oct 2022: ~26%) */
    const qt_bar_t *last = &s.bars[end];
    risk_target_pos_t p = tp("DOGE_USDT", 0.3, last->close);
    assert_int_equal(run(r, last->t_ms, &p, 1, KS_NORMAL, &res), RISK_OK);
    const risk_decision_t *d = &res.decisions[0];
    qt_fixed_t max_notional;
    assert_true(qt_fixed_mul_ratio(100000 * S, 0.05 / sigma, &max_notional));
    qt_fixed_t want = (qt_fixed_t)(((__int128)max_notional * S) / last->close);
    want -= want % cfg.qty_step;
    assert_true(d->approved);
    assert_int_equal(d->approved_qty, want);
    assert_true(d->approved_qty < d->requested_qty);
    assert_int_equal(d->n_reasons, 1);
    assert_string_equal(d->reasons[0].code, RISK_CODE_VOL_TARGET);
    assert_int_equal(d->reasons[0].limit, max_notional);
    print_message("DOGE sigma %.4f: %.5f of %.5f DOGE (max notional %.2f)\n", sigma,
                  qt_fixed_to_double(d->approved_qty), qt_fixed_to_double(d->requested_qty),
                  qt_fixed_to_double(max_notional));
    risk_result_free(&res);
    /* the target just processed added one return; the estimate survives a restart */
    double after, restored;
    uint32_t n2;
    assert_true(risk_volatility(r, "DOGE_USDT", &after, &n) && n == N - 1 && after != sigma);
    risk_t *c = clone(r, &cfg);
    assert_true(risk_volatility(c, "DOGE_USDT", &restored, &n2) && restored == after &&
                n2 == N - 1);
    risk_destroy(&c);
    risk_destroy(&r);
    qt_bars_free(&s);
}

/* Kelly ceiling from realised trades: BTC bought 06-10 at 30114.38 and closed 06-18 at
 * 20459.65 (-32.26% on its cost basis), ETH bought 06-18 at 1079.47 and closed 08-14 at
 * 1985.82 (+83.41%): p = 0.5, b = 2.585, f* = 0.3066; at kelly_fraction 0.5 a position
 * may reach 15.33% of equity, so the BNB buy of the 08-14 target (weight 0.3) is
 * clipped. The expected cap is recomputed here from the decisions. */
static void test_kelly_ceiling(void **state)
{
    (void)state;
    const int64_t aug14 = 1660435200000LL;
    risk_config_t cfg;
    risk_config_defaults(&cfg);
    assert_true(cfg.kelly_fraction == 0.0);   /* off by default */
    cfg.kelly_fraction = 0.5;
    cfg.kelly_min_trades = 2;
    risk_t *r = risk_new(&cfg);
    risk_result_t res;
    qt_fixed_t btc1 = close_at("BTC_USDT", JUN10), btc2 = close_at("BTC_USDT", JUN18),
               eth1 = close_at("ETH_USDT", JUN18), eth2 = close_at("ETH_USDT", aug14),
               bnb = close_at("BNB_USDT", aug14);
    assert_int_equal(eth2, 198582000000LL);
    risk_target_pos_t a = tp("BTC_USDT", 0.1, btc1);
    assert_int_equal(run(r, JUN10, &a, 1, KS_NORMAL, &res), RISK_OK);
    qt_fixed_t q1 = res.decisions[0].approved_qty;
    risk_result_free(&res);
    risk_target_pos_t b[2] = {tp("BTC_USDT", 0.0, btc2), tp("ETH_USDT", 0.1, eth1)};
    assert_int_equal(run(r, JUN18, b, 2, KS_NORMAL, &res), RISK_OK);
    assert_int_equal(res.n_decisions, 2);   /* BTC closed, ETH bought (1 trade < 2) */
    const risk_decision_t *eb = dec_for(&res, "ETH_USDT");
    assert_true(eb->approved && eb->n_reasons == 0);
    qt_fixed_t q2 = eb->approved_qty;
    risk_result_free(&res);
    risk_trades_t tr;
    risk_trade_stats(r, &tr);
    assert_true(tr.wins == 0 && tr.losses == 1);
    /* the returns, from the cost estimate (15 bps) on both legs */
    qt_fixed_t n, c, basis1, basis2, proc1, proc2;
    assert_true(qt_fixed_mul(q1, btc1, &n) && qt_fixed_mul_bps(n, 15, &c));
    basis1 = n + c;
    assert_true(qt_fixed_mul(q1, btc2, &n) && qt_fixed_mul_bps(n, 15, &c));
    proc1 = n - c;
    assert_true(qt_fixed_mul(q2, eth1, &n) && qt_fixed_mul_bps(n, 15, &c));
    basis2 = n + c;
    assert_true(qt_fixed_mul(q2, eth2, &n) && qt_fixed_mul_bps(n, 15, &c));
    proc2 = n - c;
    double r1 = (double)(proc1 - basis1) / (double)basis1;
    double r2 = (double)(proc2 - basis2) / (double)basis2;
    assert_true(r1 < -0.32 && r1 > -0.33 && r2 > 0.83 && r2 < 0.84);
    double f = 0.5 - 0.5 / (r2 / -r1);
    qt_fixed_t equity = risk_cash(r) + n;   /* ETH valued at the 08-14 close */
    qt_fixed_t max_notional;
    assert_true(qt_fixed_mul_ratio(equity, 0.5 * f, &max_notional));
    qt_fixed_t want = (qt_fixed_t)(((__int128)max_notional * S) / bnb);
    want -= want % cfg.qty_step;

    /* ETH listed at weight 0: closed at this target's price (an unlisted symbol would be
     * closed at its last known price) */
    risk_target_pos_t p3[2] = {tp("BNB_USDT", 0.3, bnb), tp("ETH_USDT", 0.0, eth2)};
    assert_int_equal(run(r, aug14, p3, 2, KS_NORMAL, &res), RISK_OK);
    assert_int_equal(res.n_decisions, 2);   /* ETH closed (a win), BNB bought */
    const risk_decision_t *d = dec_for(&res, "BNB_USDT");
    assert_true(d->approved);
    assert_true(d->approved_qty < d->requested_qty);
    assert_int_equal(d->approved_qty, want);
    assert_int_equal(d->n_reasons, 1);
    assert_string_equal(d->reasons[0].code, RISK_CODE_KELLY_CEILING);
    assert_int_equal(d->reasons[0].limit, max_notional);
    print_message("Kelly f* %.4f: BNB %.5f of %.5f (max notional %.2f of equity %.2f)\n", f,
                  qt_fixed_to_double(d->approved_qty), qt_fixed_to_double(d->requested_qty),
                  qt_fixed_to_double(max_notional), qt_fixed_to_double(equity));
    risk_result_free(&res);
    risk_trade_stats(r, &tr);
    assert_true(tr.wins == 1 && tr.losses == 1 && tr.sum_win == r2 && tr.sum_loss == r1);
    /* the statistics survive a restart */
    risk_t *cl = clone(r, &cfg);
    risk_trades_t tc;
    risk_trade_stats(cl, &tc);
    assert_true(memcmp(&tc, &tr, sizeof tc) == 0);
    risk_destroy(&cl);
    /* no edge: all losses -> nothing may be bought */
    risk_trades_t lose = {.wins = 0, .losses = 3, .sum_win = 0.0, .sum_loss = -0.3};
    qt_fixed_t mq;
    risk_reason_t why;
    assert_false(risk_size_kelly(&cfg, 100000 * S, &lose, bnb, 0, 1000, &mq, &why));
    assert_int_equal(mq, 0);
    assert_string_equal(why.code, RISK_CODE_KELLY_CEILING);
    risk_destroy(&r);
}

/* configs/risk.yml holds exactly the built-in defaults (every key read, none drifting),
 * and a bad value is an error naming the key. */
static void test_config_file(void **state)
{
    (void)state;
    char err[512];
    qt_config_t *y = qt_config_load("configs/risk.yml", err, sizeof err);
    if (!y)
        fail_msg("%s", err);
    risk_config_t def, cfg;
    memset(&def, 0x5a, sizeof def);   /* same padding bytes in both */
    risk_config_defaults(&def);
    memset(&cfg, 0x5a, sizeof cfg);   /* every field must come from the file */
    cfg.kelly_fraction = -1.0;
    risk_config_read(y, &cfg);
    assert_null(qt_config_error(y));
    assert_null(risk_config_check(&cfg));
    assert_memory_equal(&cfg, &def, sizeof cfg);
    qt_config_destroy(&y);
    static const char bad[] = "version: 1\nlimits:\n  price_band_bps: -5\n";
    y = qt_config_parse(bad, sizeof bad - 1, "risk.yml", err, sizeof err);
    assert_non_null(y);
    risk_config_defaults(&cfg);
    risk_config_read(y, &cfg);
    assert_non_null(qt_config_error(y));
    assert_non_null(strstr(qt_config_error(y), "limits.price_band_bps"));
    qt_config_destroy(&y);
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
        cmocka_unit_test(test_sizing_follows_equity),
        cmocka_unit_test(test_insufficient_cash),
        cmocka_unit_test(test_equity_depleted),
        cmocka_unit_test(test_rebalance_band_boundary),
        cmocka_unit_test(test_duplicates_and_invalid),
        cmocka_unit_test(test_snapshot_round_trip),
        cmocka_unit_test(test_property_limits),
        cmocka_unit_test(test_price_band),
        cmocka_unit_test(test_stale_data),
        cmocka_unit_test(test_cooldown),
        cmocka_unit_test(test_daily_loss),
        cmocka_unit_test(test_max_drawdown),
        cmocka_unit_test(test_order_rate),
        cmocka_unit_test(test_fixed_fractional),
        cmocka_unit_test(test_vol_target),
        cmocka_unit_test(test_kelly_ceiling),
        cmocka_unit_test(test_config_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
