/* Unit tests for the qt-optimizer core: inverse-volatility weights with a cap and
 * water-filling, batch bookkeeping (duplicates, stale signals, empty batches), state
 * snapshots, determinism; the QUBO selection (checked against brute force with an
 * independently rebuilt Ledoit-Wolf Σ), every QAOA path under the circuit breaker
 * (success, deadline, error, quality, breaker open / probe / re-open / close), the
 * weightings and kill -9 restarts. Market cases use real Binance 4h closes
 * (QT_DATA_DIR, default ../shared/data). */
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
#include "optimizer/optimizer.h"
#include "qt_covariance.h"
#include "qt_money.h"

/* ---- real data ---------------------------------------------------------------- */

/* Sample stddev of the 20 log returns ending at index i. */
static double vol20(const qt_bars_t *s, long i)
{
    double r[20], m = 0.0, v = 0.0;
    for (int k = 0; k < 20; k++) {
        r[k] = log(qt_fixed_to_double(s->bars[i - 19 + k].close) /
                   qt_fixed_to_double(s->bars[i - 20 + k].close));
        m += r[k];
    }
    m /= 20.0;
    for (int k = 0; k < 20; k++)
        v += (r[k] - m) * (r[k] - m);
    return sqrt(v / 19.0);
}

#define LAST_BAR 1665460800000LL   /* 2022-10-11 04:00 UTC, last common 4h bar */
#define BAR_MS 14400000LL

static optimizer_signal_t mksig(const char *sym, int64_t t, double score, double vol,
                                qt_fixed_t close, bool ready)
{
    optimizer_signal_t s;
    memset(&s, 0, sizeof s);
    snprintf(s.symbol, sizeof s.symbol, "%s", sym);
    s.bar_time_ms = t;
    s.score = score;
    s.volatility = vol;
    s.close = close;
    s.ready = ready;
    return s;
}

static double sum_w(const optimizer_target_t *t)
{
    double s = 0.0;
    for (size_t i = 0; i < t->n_positions; i++)
        s += t->positions[i].weight;
    return s;
}

static const optimizer_position_t *find_pos(const optimizer_target_t *t, const char *sym)
{
    for (size_t i = 0; i < t->n_positions; i++)
        if (strcmp(t->positions[i].symbol, sym) == 0)
            return &t->positions[i];
    return NULL;
}

static int cmp_symbol_test(const void *a, const void *b)
{
    return strcmp(((const optimizer_signal_t *)a)->symbol, ((const optimizer_signal_t *)b)->symbol);
}

static int cmp_score_desc_test(const void *a, const void *b)
{
    const optimizer_signal_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return strcmp(x->symbol, y->symbol);
}

/* ---- hand-checkable weights ---------------------------------------------------- */

/* vols 0.01/0.02/0.04/0.04 -> 1/vol = 100/50/25/25, raw weights .5/.25/.125/.125.
 * Cap 0.4: A capped at 0.4, the remaining 0.6 goes 2:1:1 -> B .3, C .15, D .15. */
static void test_hand_checked_cap(void **state)
{
    (void)state;
    optimizer_config_t cfg;
    optimizer_config_defaults(&cfg);
    cfg.max_weight = 0.4;
    optimizer_signal_t s[4] = {
        mksig("D", 1000, 0.5, 0.04, 4 * QT_FIXED_SCALE, true),
        mksig("B", 1000, 0.5, 0.02, 2 * QT_FIXED_SCALE, true),
        mksig("A", 1000, 0.5, 0.01, 1 * QT_FIXED_SCALE, true),
        mksig("C", 1000, 0.5, 0.04, 3 * QT_FIXED_SCALE, true),
    };
    optimizer_target_t t;
    assert_int_equal(optimizer_solve(&cfg, s, 4, 1000, &t), 0);
    assert_int_equal(t.n_positions, 4);
    assert_int_equal(t.bar_time_ms, 1000);
    assert_int_equal(t.signals, 4);
    assert_int_equal(t.capped, 1);
    const char *order[4] = {"A", "B", "C", "D"};
    const double want[4] = {0.4, 0.3, 0.15, 0.15};
    const qt_fixed_t px[4] = {1 * QT_FIXED_SCALE, 2 * QT_FIXED_SCALE, 3 * QT_FIXED_SCALE,
                              4 * QT_FIXED_SCALE};
    for (int i = 0; i < 4; i++) {
        assert_string_equal(t.positions[i].symbol, order[i]);
        assert_true(fabs(t.positions[i].weight - want[i]) < 1e-12);
        assert_int_equal(t.positions[i].ref_price, px[i]);
    }
    assert_true(fabs(sum_w(&t) - 1.0) < 1e-12);
    optimizer_target_free(&t);

    /* Default cap 0.25: A (.5) capped, then B (.375 of the rest) capped, C and D get
     * .25 each -> everything at the cap, sum exactly 1. */
    optimizer_config_defaults(&cfg);
    assert_int_equal(optimizer_solve(&cfg, s, 4, 1000, &t), 0);
    assert_int_equal(t.n_positions, 4);
    assert_int_equal(t.capped, 2);
    for (int i = 0; i < 4; i++)
        assert_true(fabs(t.positions[i].weight - 0.25) < 1e-12);
    optimizer_target_free(&t);

    /* No cap binding (cap 1): plain inverse vol .5/.25/.125/.125. */
    cfg.max_weight = 1.0;
    assert_int_equal(optimizer_solve(&cfg, s, 4, 1000, &t), 0);
    assert_int_equal(t.capped, 0);
    assert_true(fabs(t.positions[0].weight - 0.5) < 1e-12);
    assert_true(fabs(t.positions[1].weight - 0.25) < 1e-12);
    assert_true(fabs(t.positions[2].weight - 0.125) < 1e-12);
    assert_true(fabs(t.positions[3].weight - 0.125) < 1e-12);
    optimizer_target_free(&t);
}

/* Two names at cap 0.25 and gross 1: both capped, 0.5 stays in cash. Gross 0.6, cap 1:
 * weights scale to 0.6 in total. */
static void test_all_capped_and_gross(void **state)
{
    (void)state;
    optimizer_config_t cfg;
    optimizer_config_defaults(&cfg);
    optimizer_signal_t s[2] = {
        mksig("ETH_USDT", 7, 0.2, 0.03, 128419000000LL, true),
        mksig("BTC_USDT", 7, 0.9, 0.01, 1908410000000LL, true),
    };
    optimizer_target_t t;
    assert_int_equal(optimizer_solve(&cfg, s, 2, 7, &t), 0);
    assert_int_equal(t.n_positions, 2);
    assert_int_equal(t.capped, 2);
    assert_string_equal(t.positions[0].symbol, "BTC_USDT");
    assert_true(t.positions[0].weight == 0.25);
    assert_true(t.positions[1].weight == 0.25);
    assert_true(fabs(sum_w(&t) - 0.5) < 1e-15);
    optimizer_target_free(&t);

    cfg.gross_weight = 0.6;
    cfg.max_weight = 1.0;
    assert_int_equal(optimizer_solve(&cfg, s, 2, 7, &t), 0);
    /* 1/vol = 100 and 33.33: BTC 0.45, ETH 0.15. */
    assert_true(fabs(t.positions[0].weight - 0.45) < 1e-12);
    assert_true(fabs(t.positions[1].weight - 0.15) < 1e-12);
    optimizer_target_free(&t);
}

static void test_filters(void **state)
{
    (void)state;
    optimizer_config_t cfg;
    optimizer_config_defaults(&cfg);
    cfg.min_score = 0.1;
    optimizer_signal_t s[7] = {
        mksig("A", 5, 0.5, 0.02, QT_FIXED_SCALE, true),     /* kept */
        mksig("B", 5, 0.1, 0.02, QT_FIXED_SCALE, true),     /* score == min: out */
        mksig("C", 5, -0.7, 0.02, QT_FIXED_SCALE, true),    /* short signal: out */
        mksig("D", 5, 0.9, 0.0, QT_FIXED_SCALE, true),      /* vol 0: skipped */
        mksig("E", 5, 0.9, -0.01, QT_FIXED_SCALE, true),    /* vol < 0: skipped */
        mksig("F", 5, 0.9, 0.02, QT_FIXED_SCALE, false),    /* not ready */
        mksig("G", 5, 0.9, 0.02, 0, true),                  /* no price */
    };
    optimizer_target_t t;
    assert_int_equal(optimizer_solve(&cfg, s, 7, 5, &t), 0);
    assert_int_equal(t.signals, 7);
    assert_int_equal(t.below_score, 2);
    assert_int_equal(t.skipped_vol, 2);
    assert_int_equal(t.not_ready, 1);
    assert_int_equal(t.skipped_price, 1);
    /* Every priced symbol is listed (G has no price), sorted; only A has weight. */
    assert_int_equal(t.n_positions, 6);
    static const char *const listed[6] = {"A", "B", "C", "D", "E", "F"};
    for (size_t i = 0; i < 6; i++) {
        assert_string_equal(t.positions[i].symbol, listed[i]);
        assert_int_equal(t.positions[i].ref_price, QT_FIXED_SCALE);
        if (i > 0)
            assert_true(t.positions[i].weight == 0.0);
    }
    assert_true(t.positions[0].weight == 0.25);   /* single name: capped, rest is cash */
    optimizer_target_free(&t);

    /* Config validation. */
    optimizer_config_defaults(&cfg);
    assert_null(optimizer_config_check(&cfg));
    cfg.max_weight = 0.0;
    assert_non_null(optimizer_config_check(&cfg));
    assert_null(optimizer_new(&cfg));
    optimizer_config_defaults(&cfg);
    cfg.gross_weight = 1.5;
    assert_non_null(optimizer_config_check(&cfg));
    cfg.gross_weight = NAN;
    assert_non_null(optimizer_config_check(&cfg));
}

/* max_names keeps the highest scores (ties by symbol) and lists the rest at weight 0,
 * with their current price, so risk can close or value them. */
static void test_max_names(void **state)
{
    (void)state;
    optimizer_config_t cfg;
    optimizer_config_defaults(&cfg);
    cfg.max_names = 2;
    cfg.max_weight = 1.0;
    optimizer_signal_t s[5] = {
        mksig("E", 9, 0.3, 0.02, 5 * QT_FIXED_SCALE, true),
        mksig("D", 9, 0.8, 0.01, 4 * QT_FIXED_SCALE, true),   /* best score: selected */
        mksig("C", 9, 0.5, 0.04, 3 * QT_FIXED_SCALE, true),   /* tie with B: C loses */
        mksig("B", 9, 0.5, 0.02, 2 * QT_FIXED_SCALE, true),   /* tie, B < C: selected */
        mksig("A", 9, 0.1, 0.02, 1 * QT_FIXED_SCALE, true),
    };
    optimizer_target_t t;
    assert_int_equal(optimizer_solve(&cfg, s, 5, 9, &t), 0);
    assert_int_equal(t.beyond_max_names, 3);
    assert_int_equal(t.n_positions, 5);
    /* B (vol 0.02) and D (vol 0.01): weights 1/3 and 2/3 by inverse volatility. */
    static const double want[5] = {0.0, 1.0 / 3.0, 0.0, 2.0 / 3.0, 0.0};
    for (size_t i = 0; i < 5; i++) {
        char sym[2] = {(char)('A' + i), 0};
        assert_string_equal(t.positions[i].symbol, sym);
        assert_int_equal(t.positions[i].ref_price, (int64_t)(i + 1) * QT_FIXED_SCALE);
        assert_true(fabs(t.positions[i].weight - want[i]) < 1e-12);
    }
    optimizer_target_free(&t);
    cfg.max_names = 0;
    assert_non_null(optimizer_config_check(&cfg));
}

/* ---- real cross-section -------------------------------------------------------- */

static const char *PAIRS5[5] = {"BTC_USDT", "ETH_USDT", "BNB_USDT", "ADA_USDT", "XRP_USDT"};

static void test_real_cross_section(void **state)
{
    (void)state;
    optimizer_config_t cfg;
    optimizer_config_defaults(&cfg);
    optimizer_signal_t s[5];
    double vol[5];
    for (int k = 0; k < 5; k++) {
        qt_bars_t ser;
        qt_testdata_load_4h(PAIRS5[k], &ser);
        long i = qt_testdata_index_of(&ser, LAST_BAR);
        assert_true(i >= 20);
        vol[k] = vol20(&ser, i);
        s[k] = mksig(PAIRS5[k], LAST_BAR, 0.3, vol[k], ser.bars[i].close, true);
        qt_bars_free(&ser);
    }
    /* The realised vols of 2022-10-11 (sanity: BTC calmest, XRP wildest). */
    assert_true(fabs(vol[0] - 0.0025421675778527) < 1e-12);
    assert_true(fabs(vol[4] - 0.0161865216984386) < 1e-12);

    optimizer_target_t t;
    assert_int_equal(optimizer_solve(&cfg, s, 5, LAST_BAR, &t), 0);
    assert_int_equal(t.n_positions, 5);
    /* Sorted by symbol. */
    const char *order[5] = {"ADA_USDT", "BNB_USDT", "BTC_USDT", "ETH_USDT", "XRP_USDT"};
    for (int k = 0; k < 5; k++)
        assert_string_equal(t.positions[k].symbol, order[k]);
    /* Real closes as reference prices. */
    assert_int_equal(find_pos(&t, "BTC_USDT")->ref_price, 1908410000000LL);   /* 19084.1 */
    assert_int_equal(find_pos(&t, "ADA_USDT")->ref_price, 39630000LL);        /* 0.3963 */
    /* Three water-filling rounds: BTC (raw .40), then ETH, then BNB hit the cap. */
    assert_int_equal(t.capped, 3);
    assert_true(find_pos(&t, "BTC_USDT")->weight == 0.25);
    assert_true(find_pos(&t, "ETH_USDT")->weight == 0.25);
    assert_true(find_pos(&t, "BNB_USDT")->weight == 0.25);
    double ada = find_pos(&t, "ADA_USDT")->weight, xrp = find_pos(&t, "XRP_USDT")->weight;
    assert_true(fabs(ada - 0.1657669507408364) < 1e-12);
    assert_true(fabs(xrp - 0.0842330492591636) < 1e-12);
    /* Uncapped names: inverse-vol proportional. */
    assert_true(fabs(ada * vol[3] - xrp * vol[4]) < 1e-15);
    assert_true(fabs(sum_w(&t) - 1.0) < 1e-12);
    optimizer_target_free(&t);
}

static const char *PAIRS10[10] = {"BTC_USDT", "ETH_USDT", "BNB_USDT", "ADA_USDT",
                                  "XRP_USDT", "SOL_USDT", "DOGE_USDT", "LINK_USDT",
                                  "LTC_USDT", "TRX_USDT"};

/* 300 consecutive real 4h cross-sections of 10 pairs, presented in shuffled orders:
 * caps hold, weights sum to min(gross, n * cap), uncapped names are inverse-vol
 * proportional, capped names are never more volatile than uncapped ones, and the
 * result does not depend on the arrival order (bit-identical). */
static void test_real_rolling_properties(void **state)
{
    (void)state;
    qt_bars_t ser[10];
    long end[10];
    for (int k = 0; k < 10; k++) {
        qt_testdata_load_4h(PAIRS10[k], &ser[k]);
        end[k] = qt_testdata_index_of(&ser[k], LAST_BAR);
        assert_true(end[k] > 400);
    }
    optimizer_config_t cfg;
    optimizer_config_defaults(&cfg);
    cfg.max_weight = 0.15;
    uint64_t rng = 0x9E3779B97F4A7C15ULL;
    int checked = 0;
    for (int bar = 0; bar < 300; bar++) {
        optimizer_signal_t s[10];
        int64_t tbar = 0;
        for (int k = 0; k < 10; k++) {
            long i = end[k] - bar;
            tbar = ser[k].bars[i].t_ms;
            s[k] = mksig(PAIRS10[k], tbar, 0.5, vol20(&ser[k], i), ser[k].bars[i].close, true);
        }
        for (int k = 1; k < 10; k++)
            assert_int_equal(ser[k].bars[end[k] - bar].t_ms, tbar);   /* aligned bars */
        optimizer_target_t a, b;
        assert_int_equal(optimizer_solve(&cfg, s, 10, tbar, &a), 0);
        for (int k = 9; k > 0; k--) {   /* seeded Fisher-Yates */
            rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
            int j = (int)((rng >> 33) % (uint64_t)(k + 1));
            optimizer_signal_t tmp = s[k];
            s[k] = s[j];
            s[j] = tmp;
        }
        assert_int_equal(optimizer_solve(&cfg, s, 10, tbar, &b), 0);
        assert_int_equal(a.n_positions, 10);
        assert_int_equal(b.n_positions, 10);
        assert_memory_equal(a.positions, b.positions, 10 * sizeof *a.positions);
        assert_true(fabs(sum_w(&a) - 1.0) < 1e-12);
        double max_capped_vol = 0.0, min_free_vol = INFINITY, ratio = -1.0;
        for (size_t i = 0; i < a.n_positions; i++) {
            const optimizer_position_t *p = &a.positions[i];
            assert_true(p->weight > 0.0 && p->weight <= cfg.max_weight);
            double v = 0.0;
            for (int k = 0; k < 10; k++)
                if (strcmp(s[k].symbol, p->symbol) == 0)
                    v = s[k].volatility;
            if (p->weight == cfg.max_weight) {
                if (v > max_capped_vol)
                    max_capped_vol = v;
            } else {
                if (v < min_free_vol)
                    min_free_vol = v;
                if (ratio < 0.0)
                    ratio = p->weight * v;
                else
                    assert_true(fabs(p->weight * v - ratio) < 1e-14);
                checked++;
            }
        }
        assert_true(max_capped_vol <= min_free_vol);
        optimizer_target_free(&a);
        optimizer_target_free(&b);
    }
    assert_true(checked > 300);
    for (int k = 0; k < 10; k++)
        qt_bars_free(&ser[k]);
}

/* ---- batches ------------------------------------------------------------------- */

static void test_batches_and_duplicates(void **state)
{
    (void)state;
    optimizer_config_t cfg;
    optimizer_config_defaults(&cfg);
    optimizer_t *o = optimizer_new(&cfg);
    assert_non_null(o);
    const int64_t t0 = LAST_BAR - BAR_MS, t1 = LAST_BAR;
    optimizer_signal_t btc = mksig("BTC_USDT", t0, 0.4, 0.002, 1904474000000LL, true);
    optimizer_signal_t eth = mksig("ETH_USDT", t0, 0.4, 0.004, 127837000000LL, true);
    assert_int_equal(optimizer_on_signal(o, &eth), OPT_SIG_ACCEPTED);
    assert_int_equal(optimizer_on_signal(o, &btc), OPT_SIG_ACCEPTED);
    /* Same symbol and time again (a replay): overwrites, not added. */
    assert_int_equal(optimizer_on_signal(o, &btc), OPT_SIG_ACCEPTED);
    assert_int_equal(optimizer_pending(o), 2);
    assert_int_equal(optimizer_batch_time(o), t0);

    optimizer_target_t t;
    assert_int_equal(optimizer_on_watermark(o, t0, &t), OPT_WM_EMIT);
    assert_int_equal(t.bar_time_ms, t0);
    assert_int_equal(t.signals, 2);
    assert_int_equal(t.n_positions, 2);   /* both capped at 0.25: rest in cash */
    optimizer_target_free(&t);
    assert_int_equal(optimizer_last_emitted(o), t0);
    assert_int_equal(optimizer_pending(o), 0);

    /* Replayed signal and watermark for t0: duplicates. */
    assert_int_equal(optimizer_on_signal(o, &btc), OPT_SIG_STALE);
    assert_int_equal(optimizer_on_watermark(o, t0, &t), OPT_WM_DUPLICATE);
    assert_int_equal(t.n_positions, 0);
    assert_null(t.positions);
    assert_int_equal(optimizer_on_watermark(o, t0 - BAR_MS, &t), OPT_WM_DUPLICATE);

    /* An empty batch still yields a target: go flat. */
    assert_int_equal(optimizer_on_watermark(o, t1, &t), OPT_WM_EMIT);
    assert_int_equal(t.bar_time_ms, t1);
    assert_int_equal(t.n_positions, 0);
    assert_int_equal(t.signals, 0);
    optimizer_target_free(&t);

    /* A batch without its watermark is superseded by a newer one. */
    const int64_t t2 = t1 + BAR_MS, t3 = t2 + BAR_MS;
    btc.bar_time_ms = t2;
    assert_int_equal(optimizer_on_signal(o, &btc), OPT_SIG_ACCEPTED);
    eth.bar_time_ms = t3;
    assert_int_equal(optimizer_on_signal(o, &eth), OPT_SIG_ACCEPTED);
    assert_int_equal(optimizer_superseded(o), 1);
    assert_int_equal(optimizer_pending(o), 1);
    /* ...and a signal older than the pending batch is stale. */
    assert_int_equal(optimizer_on_signal(o, &btc), OPT_SIG_STALE);
    /* Watermark for t2 (older than the pending t3 batch): empty target, batch kept. */
    assert_int_equal(optimizer_on_watermark(o, t2, &t), OPT_WM_EMIT);
    assert_int_equal(t.n_positions, 0);
    assert_int_equal(optimizer_pending(o), 1);
    assert_int_equal(optimizer_on_watermark(o, t3, &t), OPT_WM_EMIT);
    assert_int_equal(t.n_positions, 1);
    assert_string_equal(t.positions[0].symbol, "ETH_USDT");
    assert_true(t.positions[0].weight == 0.25);
    optimizer_target_free(&t);

    /* Hostile signals. */
    optimizer_signal_t bad = mksig("", t3 + BAR_MS, 0.5, 0.01, 1, true);
    assert_int_equal(optimizer_on_signal(o, &bad), OPT_SIG_INVALID);
    bad = mksig("X", t3 + BAR_MS, NAN, 0.01, 1, true);
    assert_int_equal(optimizer_on_signal(o, &bad), OPT_SIG_INVALID);
    bad = mksig("X", t3 + BAR_MS, 0.5, INFINITY, 1, true);
    assert_int_equal(optimizer_on_signal(o, &bad), OPT_SIG_INVALID);
    assert_int_equal(optimizer_pending(o), 0);
    optimizer_destroy(&o);
    assert_null(o);
    optimizer_destroy(&o);   /* NULL-safe */
}

static void test_save_load(void **state)
{
    (void)state;
    optimizer_config_t cfg;
    optimizer_config_defaults(&cfg);
    optimizer_t *a = optimizer_new(&cfg), *b = optimizer_new(&cfg);
    assert_non_null(a);
    assert_non_null(b);
    optimizer_target_t ta, tb;
    assert_int_equal(optimizer_on_watermark(a, LAST_BAR - BAR_MS, &ta), OPT_WM_EMIT);
    optimizer_target_free(&ta);
    for (int k = 0; k < 5; k++) {
        qt_bars_t ser;
        qt_testdata_load_4h(PAIRS5[k], &ser);
        long i = qt_testdata_index_of(&ser, LAST_BAR);
        optimizer_signal_t s = mksig(PAIRS5[k], LAST_BAR, 0.3, vol20(&ser, i), ser.bars[i].close,
                                     true);
        assert_int_equal(optimizer_on_signal(a, &s), OPT_SIG_ACCEPTED);
        qt_bars_free(&ser);
    }
    qt_buf_t buf;
    qt_buf_init(&buf);
    optimizer_save(a, &buf);
    assert_false(buf.oom);

    /* Truncated / corrupted snapshots are refused and leave the state alone. */
    qt_reader_t r;
    qt_reader_init(&r, buf.data, buf.len - 1);
    assert_false(optimizer_load(b, &r));
    assert_int_equal(optimizer_last_emitted(b), INT64_MIN);
    uint8_t *bad = malloc(buf.len);
    assert_non_null(bad);
    memcpy(bad, buf.data, buf.len);
    bad[0] ^= 0xff;   /* version */
    qt_reader_init(&r, bad, buf.len);
    assert_false(optimizer_load(b, &r));
    free(bad);

    qt_reader_init(&r, buf.data, buf.len);
    assert_true(optimizer_load(b, &r));
    assert_int_equal(optimizer_last_emitted(b), LAST_BAR - BAR_MS);
    assert_int_equal(optimizer_pending(b), 5);
    qt_buf_free(&buf);

    /* The restored optimizer emits exactly what the original does. */
    assert_int_equal(optimizer_on_watermark(a, LAST_BAR, &ta), OPT_WM_EMIT);
    assert_int_equal(optimizer_on_watermark(b, LAST_BAR, &tb), OPT_WM_EMIT);
    assert_int_equal(ta.n_positions, 5);
    assert_int_equal(tb.n_positions, 5);
    assert_memory_equal(ta.positions, tb.positions, 5 * sizeof *ta.positions);
    optimizer_target_free(&ta);
    optimizer_target_free(&tb);

    /* Round trip of an empty state too. */
    qt_buf_init(&buf);
    optimizer_save(b, &buf);
    optimizer_t *c = optimizer_new(&cfg);
    assert_non_null(c);
    qt_reader_init(&r, buf.data, buf.len);
    assert_true(optimizer_load(c, &r));
    assert_int_equal(optimizer_last_emitted(c), LAST_BAR);
    assert_int_equal(optimizer_pending(c), 0);
    assert_int_equal(optimizer_on_watermark(c, LAST_BAR, &ta), OPT_WM_DUPLICATE);
    qt_buf_free(&buf);
    optimizer_destroy(&a);
    optimizer_destroy(&b);
    optimizer_destroy(&c);
}

/* ---- QUBO selection, QAOA and the circuit breaker --------------------------------- */

/* Real 4h cross-sections of the 10 pairs: momentum score tanh(20-bar log return /
 * (vol * sqrt(20))), alpha = score * vol (as qt-models does), beta 1. */
typedef struct {
    qt_bars_t ser[10];
    long end[10];
} market_t;

static void market_load(market_t *m)
{
    for (int k = 0; k < 10; k++) {
        qt_testdata_load_4h(PAIRS10[k], &m->ser[k]);
        m->end[k] = qt_testdata_index_of(&m->ser[k], LAST_BAR);
        assert_true(m->end[k] > 400);
    }
}

static void market_free(market_t *m)
{
    for (int k = 0; k < 10; k++)
        qt_bars_free(&m->ser[k]);
}

/* The signals of the cross-section `back` bars before LAST_BAR; returns its time. */
static int64_t market_batch(const market_t *m, int back, optimizer_signal_t s[10])
{
    int64_t t = 0;
    for (int k = 0; k < 10; k++) {
        const qt_bars_t *b = &m->ser[k];
        long i = m->end[k] - back;
        double vol = vol20(b, i);
        double mom = log(qt_fixed_to_double(b->bars[i].close) /
                         qt_fixed_to_double(b->bars[i - 20].close));
        double score = tanh(mom / (vol * sqrt(20.0)));
        s[k] = mksig(PAIRS10[k], b->bars[i].t_ms, score, vol, b->bars[i].close, true);
        s[k].alpha = score * vol;
        s[k].beta = 1.0;
        t = b->bars[i].t_ms;
    }
    return t;
}

/* Feeds one cross-section and closes it. */
static optimizer_wm_result_t feed(optimizer_t *o, const market_t *m, int back,
                                  optimizer_target_t *t)
{
    optimizer_signal_t s[10];
    int64_t bt = market_batch(m, back, s);
    for (int k = 0; k < 10; k++)
        assert_int_equal(optimizer_on_signal(o, &s[k]), OPT_SIG_ACCEPTED);
    return optimizer_on_watermark(o, bt, t);
}

/* A settable fake clock: returns ns, then adds step (so a QAOA run can "take" time). */
typedef struct {
    int64_t ns, step;
    int calls;
} fake_clock_t;

static int64_t fake_now(void *ud)
{
    fake_clock_t *c = ud;
    c->calls++;
    int64_t v = c->ns;
    c->ns += c->step;
    return v;
}

typedef struct {
    bool fire;
    int calls;
} stop_hook_t;

static bool hook_stop(void *ud)
{
    stop_hook_t *h = ud;
    h->calls++;
    return h->fire;
}

static void qubo_config(optimizer_config_t *cfg)
{
    optimizer_config_defaults(cfg);
    cfg->solver = OPT_SOLVER_EXACT;
    cfg->max_candidates = 8;
    cfg->max_names = 4;
    cfg->max_weight = 0.4;
    cfg->cov_window = 30;
    cfg->cov_min_obs = 10;
}

static size_t held(const optimizer_target_t *t)
{
    size_t k = 0;
    for (size_t i = 0; i < t->n_positions; i++)
        k += t->positions[i].weight > 0.0;
    return k;
}

/* Independent check of the exact selection: the test rebuilds the candidates, Σ
 * (Ledoit-Wolf over the log returns of the same closes) and the objective, enumerates
 * all C(8,4) = 70 selections and requires the optimizer's published names, its
 * objective and its Σ row count to match. 60 consecutive real batches. */
static void test_exact_selection_matches_brute_force(void **state)
{
    (void)state;
    market_t m;
    market_load(&m);
    optimizer_config_t cfg;
    qubo_config(&cfg);
    optimizer_t *o = optimizer_new(&cfg);
    assert_non_null(o);
    int checked = 0, with_cov = 0;
    for (int back = 59; back >= 0; back--) {
        optimizer_target_t t;
        assert_int_equal(feed(o, &m, back, &t), OPT_WM_EMIT);
        optimizer_signal_t s[10];
        market_batch(&m, back, s);
        /* Candidates: alpha > 0, the 8 best scores, then symbol order. */
        optimizer_signal_t c[10];
        size_t n = 0;
        for (int k = 0; k < 10; k++)
            if (s[k].score > 0.0 && s[k].alpha > 0.0)
                c[n++] = s[k];
        qsort(c, n, sizeof *c, cmp_score_desc_test);
        if (n > 8)
            n = 8;
        qsort(c, n, sizeof *c, cmp_symbol_test);
        size_t B = n < 4 ? n : 4;
        assert_int_equal(t.candidates, n);
        assert_int_equal(t.budget, B);
        assert_string_equal(t.solver, "exact");   /* also with nothing to select */
        assert_string_equal(t.breaker_state, "closed");
        assert_int_equal(t.qaoa, OPT_QAOA_DISABLED);
        if (n == 0) {
            optimizer_target_free(&t);
            continue;
        }
        /* Σ: rows = the returns between the batches fed so far (all 10 symbols in
         * every batch), at most cov_window. */
        size_t fed = (size_t)(60 - back);
        size_t rows = fed - 1 < 30 ? fed - 1 : 30;
        double sigma[64];
        if (rows >= 10) {
            assert_int_equal(t.cov_rows, rows);
            double X[30 * 8];
            for (size_t r = 0; r < rows; r++)
                for (size_t i = 0; i < n; i++) {
                    int k = 0;
                    while (strcmp(PAIRS10[k], c[i].symbol) != 0)
                        k++;
                    long j = m.end[k] - back - (long)(rows - 1 - r);
                    X[r * n + i] = log((double)m.ser[k].bars[j].close /
                                       (double)m.ser[k].bars[j - 1].close);
                }
            double shrink;
            assert_true(qt_cov_ledoit_wolf_batch(X, rows, n, sigma, &shrink));
            assert_true(fabs(shrink - t.shrinkage) < 1e-12);
            with_cov++;
        } else {
            assert_int_equal(t.cov_rows, 0);
            for (size_t i = 0; i < n; i++)
                for (size_t k = 0; k < n; k++)
                    sigma[i * n + k] = i == k ? c[i].volatility * c[i].volatility : 0.0;
        }
        double best = INFINITY;
        unsigned best_mask = 0;
        for (unsigned mask = 0; mask < (1u << n); mask++) {
            if ((size_t)__builtin_popcount(mask) != B)
                continue;
            double f = 0.0;
            for (size_t i = 0; i < n; i++) {
                if (!(mask >> i & 1u))
                    continue;
                f -= c[i].alpha;
                for (size_t k = 0; k < n; k++)
                    if (mask >> k & 1u)
                        f += 1.0 * sigma[i * n + k];   /* q = 1 * mean beta 1 */
            }
            if (f < best - 1e-15) {
                best = f;
                best_mask = mask;
            }
        }
        assert_true(fabs(t.objective - best) <= 1e-12 * (1.0 + fabs(best)));
        assert_true(t.objective == t.classical_objective);
        assert_true(fabs(t.q - 1.0) < 1e-15);
        for (size_t i = 0; i < n; i++) {
            const optimizer_position_t *p = find_pos(&t, c[i].symbol);
            assert_non_null(p);
            assert_true((p->weight > 0.0) == ((best_mask >> i & 1u) != 0));
        }
        assert_int_equal(held(&t), B);
        /* inverse_vol weights of the selection: sum min(gross, B * cap). */
        double want = fmin(cfg.gross_weight, (double)B * cfg.max_weight);
        assert_true(fabs(sum_w(&t) - want) < 1e-12);
        assert_int_equal(t.n_positions, 10);   /* all listed */
        checked++;
        optimizer_target_free(&t);
    }
    assert_true(checked > 40);
    assert_true(with_cov > 30);
    assert_int_equal(optimizer_history_symbols(o), 10);
    optimizer_destroy(&o);
    market_free(&m);
}

/* QAOA enabled, breaker closed, nothing forced: on these 18 real batches QAOA (XY mixer,
 * p = 1) finds the exact optimum (at least 15 times; all 18 with the current simulator),
 * so its answer is adopted: solver "qaoa", no fallback reason, and the published
 * portfolio is the one computed without QAOA (identical mode). */
static void test_qaoa_success(void **state)
{
    (void)state;
    market_t m;
    market_load(&m);
    optimizer_config_t cfg;
    qubo_config(&cfg);
    cfg.qaoa_enabled = true;
    optimizer_t *o = optimizer_new(&cfg), *ref = NULL;
    optimizer_config_t rcfg = cfg;
    rcfg.qaoa_enabled = false;
    ref = optimizer_new(&rcfg);
    fake_clock_t clk = {.ns = 1000000000, .step = 1000};   /* 1 us per reading */
    optimizer_set_clock(o, fake_now, &clk);
    int adopted = 0;
    for (int back = 40; back >= 23; back--) {   /* 7 to 10 rising names: n = 8, B = 4 */
        optimizer_target_t t, r;
        assert_int_equal(feed(o, &m, back, &t), OPT_WM_EMIT);
        assert_int_equal(feed(ref, &m, back, &r), OPT_WM_EMIT);
        if (t.candidates > 0 && t.qaoa != OPT_QAOA_ADOPTED) {
            /* a best sample that is not the optimum (rare at p = 1 here) */
            assert_int_equal(t.qaoa, OPT_QAOA_QUALITY);
            assert_string_equal(t.solver, "exact");
            assert_true(t.objective_gap > 0.0);
        } else if (t.candidates > 0) {
            assert_string_equal(t.solver, "qaoa");
            assert_string_equal(optimizer_fallback_reason(t.qaoa), "");
            assert_true(t.qaoa_objective == t.classical_objective);
            assert_true(t.objective_gap == 0.0);
            assert_true(t.qaoa_ms > 0.0 && t.qaoa_ms < 250.0);
            adopted++;
        }
        assert_string_equal(t.breaker_state, "closed");
        /* Same portfolio as without QAOA. */
        assert_int_equal(t.n_positions, r.n_positions);
        assert_memory_equal(t.positions, r.positions, t.n_positions * sizeof *t.positions);
        optimizer_target_free(&t);
        optimizer_target_free(&r);
    }
    assert_true(adopted >= 15);
    assert_int_equal(optimizer_breaker_state(o), 0);
    optimizer_destroy(&o);
    optimizer_destroy(&ref);
    market_free(&m);
}

/* Deadline: (a) the stop hook fires inside QAOA; (b) the clock runs past latency_ms
 * (each reading 10 ms later, deadline 5 ms). Either way the classical answer is used. */
static void test_qaoa_deadline(void **state)
{
    (void)state;
    market_t m;
    market_load(&m);
    optimizer_config_t cfg;
    qubo_config(&cfg);
    cfg.qaoa_enabled = true;
    cfg.failures_to_open = 100;
    optimizer_t *o = optimizer_new(&cfg);
    stop_hook_t hook = {.fire = true};
    optimizer_set_stop_hook(o, hook_stop, &hook);
    optimizer_target_t t;
    assert_int_equal(feed(o, &m, 30, &t), OPT_WM_EMIT);
    assert_true(t.candidates > 0);
    assert_int_equal(t.qaoa, OPT_QAOA_DEADLINE);
    assert_string_equal(optimizer_fallback_reason(t.qaoa), "deadline");
    assert_string_equal(t.solver, "exact");
    assert_true(t.objective == t.classical_objective);
    assert_true(t.qaoa_objective == 0.0);
    assert_true(hook.calls > 0);
    optimizer_target_free(&t);

    optimizer_set_stop_hook(o, NULL, NULL);
    optimizer_config_t c2 = cfg;
    c2.qaoa_latency_ms = 5.0;
    optimizer_t *o2 = optimizer_new(&c2);
    fake_clock_t clk = {.ns = 0, .step = 10000000};
    optimizer_set_clock(o2, fake_now, &clk);
    assert_int_equal(feed(o2, &m, 30, &t), OPT_WM_EMIT);
    assert_int_equal(t.qaoa, OPT_QAOA_DEADLINE);
    assert_string_equal(t.solver, "exact");
    assert_true(t.qaoa_ms >= 10.0);
    optimizer_target_free(&t);
    optimizer_destroy(&o);
    optimizer_destroy(&o2);
    market_free(&m);
}

/* Error: 8 candidates but qaoa.max_qubits 4: QAOA refuses, classical answer used. */
static void test_qaoa_error(void **state)
{
    (void)state;
    market_t m;
    market_load(&m);
    optimizer_config_t cfg;
    qubo_config(&cfg);
    cfg.qaoa_enabled = true;
    cfg.qaoa_max_qubits = 4;
    optimizer_t *o = optimizer_new(&cfg);
    optimizer_target_t t;
    assert_int_equal(feed(o, &m, 30, &t), OPT_WM_EMIT);
    assert_true(t.candidates > 4);
    assert_int_equal(t.qaoa, OPT_QAOA_ERROR);
    assert_string_equal(optimizer_fallback_reason(t.qaoa), "error");
    assert_string_equal(t.solver, "exact");
    assert_int_equal(held(&t), t.budget);
    optimizer_target_free(&t);
    optimizer_destroy(&o);
    market_free(&m);
}

/* Quality: one shot from a barely optimised state (1 evaluation) usually misses the
 * optimum. Over 12 seeds: each miss is reported as "quality" with a positive gap and
 * the classical selection published; each hit is adopted with gap 0; and misses occur.
 * Tolerance mode with a huge tolerance adopts a worse answer: its selection is then
 * published (objective = QAOA's, above the classical one). */
static void test_qaoa_quality(void **state)
{
    (void)state;
    market_t m;
    market_load(&m);
    int misses = 0, worse_adopted = 0;
    for (uint64_t seed = 1; seed <= 12; seed++) {
        optimizer_config_t cfg;
        qubo_config(&cfg);
        cfg.qaoa_enabled = true;
        cfg.qaoa_shots = 1;
        cfg.qaoa_max_evals = 1;
        cfg.qaoa_multistart = 1;
        cfg.seed = seed;
        cfg.failures_to_open = 100;
        optimizer_t *o = optimizer_new(&cfg);
        optimizer_target_t t;
        assert_int_equal(feed(o, &m, 30, &t), OPT_WM_EMIT);
        assert_true(t.budget > 0 && t.budget < t.candidates);
        if (t.qaoa == OPT_QAOA_QUALITY) {
            misses++;
            assert_string_equal(optimizer_fallback_reason(t.qaoa), "quality");
            assert_true(t.objective_gap > 0.0);
            assert_true(t.qaoa_objective > t.classical_objective);
            assert_string_equal(t.solver, "exact");
            assert_true(t.objective == t.classical_objective);
        } else {
            assert_int_equal(t.qaoa, OPT_QAOA_ADOPTED);
            assert_true(t.objective_gap == 0.0);
        }
        optimizer_target_free(&t);
        optimizer_destroy(&o);

        cfg.qaoa_adopt = OPT_ADOPT_TOLERANCE;
        cfg.quality_tolerance = 10.0;
        o = optimizer_new(&cfg);
        assert_int_equal(feed(o, &m, 30, &t), OPT_WM_EMIT);
        if (t.objective_gap > 0.0 && t.objective_gap <= 10.0) {
            assert_int_equal(t.qaoa, OPT_QAOA_ADOPTED);
            assert_string_equal(t.solver, "qaoa");
            assert_true(t.objective == t.qaoa_objective);
            assert_true(t.objective > t.classical_objective);
            worse_adopted++;
        }
        optimizer_target_free(&t);
        /* Tolerance 0: a worse answer is a quality failure again. */
        optimizer_destroy(&o);
    }
    assert_true(misses >= 3);
    assert_true(worse_adopted >= 1);
    market_free(&m);
}

/* The breaker in the optimizer: M = 2, cool-down 1000 ms, time from a fake clock that
 * the test moves. Forced failures open it, QAOA is not even called while it is open
 * (the stop hook counts calls), after the cool-down one probe runs: success closes it,
 * failure re-opens it. */
static void test_breaker_paths(void **state)
{
    (void)state;
    market_t m;
    market_load(&m);
    optimizer_config_t cfg;
    qubo_config(&cfg);
    cfg.qaoa_enabled = true;
    cfg.failures_to_open = 2;
    cfg.cooldown_ms = 1000;
    optimizer_t *o = optimizer_new(&cfg);
    fake_clock_t clk = {.ns = 5000000000LL, .step = 0};
    stop_hook_t hook = {.fire = true};
    optimizer_set_clock(o, fake_now, &clk);
    optimizer_set_stop_hook(o, hook_stop, &hook);
    optimizer_target_t t;
    int back = 30;
#define STEP(expect_outcome, expect_state, expect_probe)                                  \
    do {                                                                                 \
        assert_int_equal(feed(o, &m, back--, &t), OPT_WM_EMIT);                          \
        assert_true(t.candidates > 0);                                                   \
        assert_int_equal(t.qaoa, (expect_outcome));                                      \
        assert_string_equal(t.breaker_state, (expect_state));                            \
        assert_int_equal(t.qaoa_probe, (expect_probe));                                  \
        optimizer_target_free(&t);                                                       \
    } while (0)
    STEP(OPT_QAOA_DEADLINE, "closed", false);       /* failure 1 */
    STEP(OPT_QAOA_DEADLINE, "open", false);         /* failure 2: opens at 5000 ms */
    assert_int_equal(optimizer_breaker_state(o), 1);
    int calls = hook.calls;
    clk.ns += 999000000LL;                         /* 999 ms later: still open */
    STEP(OPT_QAOA_BREAKER_OPEN, "open", false);
    assert_int_equal(hook.calls, calls);            /* QAOA skipped */
    assert_string_equal(optimizer_fallback_reason(OPT_QAOA_BREAKER_OPEN), "breaker_open");
    clk.ns += 1000000LL;                           /* cool-down over: probe, fails */
    STEP(OPT_QAOA_DEADLINE, "open", true);
    assert_true(hook.calls > calls);
    STEP(OPT_QAOA_BREAKER_OPEN, "open", false);     /* re-opened: skipped again */
    clk.ns += 1000000000LL;
    hook.fire = false;                              /* probe succeeds: closed */
    STEP(OPT_QAOA_ADOPTED, "closed", true);
    STEP(OPT_QAOA_ADOPTED, "closed", false);
    assert_int_equal(optimizer_breaker_opens(o), 2);
    assert_int_equal(optimizer_breaker_probes(o), 2);
    /* The breaker travels in the snapshot: a restored optimizer is open too. */
    hook.fire = true;
    STEP(OPT_QAOA_DEADLINE, "closed", false);
    STEP(OPT_QAOA_DEADLINE, "open", false);
    qt_buf_t buf;
    qt_buf_init(&buf);
    optimizer_save(o, &buf);
    optimizer_t *r = optimizer_new(&cfg);
    qt_reader_t rd;
    qt_reader_init(&rd, buf.data, buf.len);
    assert_true(optimizer_load(r, &rd));
    assert_int_equal(optimizer_breaker_state(r), 1);
    assert_int_equal(optimizer_breaker_opens(r), 3);
    qt_buf_free(&buf);
#undef STEP
    optimizer_destroy(&o);
    optimizer_destroy(&r);
    market_free(&m);
}

/* Weightings on real batches: mean_variance reaches an objective no worse than the
 * inverse_vol weights of the same selection; risk_parity with the diagonal Σ of a short
 * history equals inverse volatility; both respect gross and cap. */
static void test_weightings(void **state)
{
    (void)state;
    market_t m;
    market_load(&m);
    optimizer_config_t cfg;
    qubo_config(&cfg);
    optimizer_config_t mv = cfg, rp = cfg;
    mv.weighting = OPT_WEIGHTING_MEAN_VARIANCE;
    mv.max_weight = 0.6;
    mv.risk_aversion = 50.0;
    cfg.max_weight = 0.6;
    cfg.risk_aversion = 50.0;
    rp.weighting = OPT_WEIGHTING_RISK_PARITY;
    rp.max_weight = 1.0;
    rp.risk_aversion = 50.0;   /* same q: same selection as the others */
    optimizer_t *a = optimizer_new(&cfg), *b = optimizer_new(&mv), *c = optimizer_new(&rp);
    int checked = 0;
    for (int back = 30; back >= 25; back--) {
        optimizer_target_t ta, tb, tc;
        assert_int_equal(feed(a, &m, back, &ta), OPT_WM_EMIT);
        assert_int_equal(feed(b, &m, back, &tb), OPT_WM_EMIT);
        assert_int_equal(feed(c, &m, back, &tc), OPT_WM_EMIT);
        if (ta.budget >= 2) {
            assert_string_equal(tb.weighting, "mean_variance");
            assert_string_equal(tc.weighting, "risk_parity");
            assert_int_equal(tb.cov_rows, 0);     /* short history: diag(vol^2) */
            assert_true(fabs(sum_w(&tb) - 1.0) < 1e-9);
            assert_true(fabs(sum_w(&tc) - 1.0) < 1e-9);
            /* q w'Σw - μ'w with Σ = diag(vol^2), q = 50. */
            optimizer_signal_t s[10];
            market_batch(&m, back, s);
            double fa = 0.0, fb = 0.0;
            for (int k = 0; k < 10; k++) {
                const optimizer_position_t *pa = find_pos(&ta, s[k].symbol);
                const optimizer_position_t *pb = find_pos(&tb, s[k].symbol);
                const optimizer_position_t *pc = find_pos(&tc, s[k].symbol);
                double v2 = s[k].volatility * s[k].volatility;
                fa += 50.0 * v2 * pa->weight * pa->weight - s[k].alpha * pa->weight;
                fb += 50.0 * v2 * pb->weight * pb->weight - s[k].alpha * pb->weight;
                assert_true(pb->weight <= 0.6 + 1e-12);
                /* Same selection in all three. */
                assert_true((pa->weight > 0.0) == (pc->weight > 0.0));
                /* ERC with a diagonal Σ: w_i * vol_i equal across the held names. */
                if (pc->weight > 0.0 && pa->weight > 0.0) {
                    double sum_inv = 0.0;
                    for (int j = 0; j < 10; j++)
                        if (find_pos(&tc, s[j].symbol)->weight > 0.0)
                            sum_inv += 1.0 / s[j].volatility;
                    assert_true(fabs(pc->weight - (1.0 / s[k].volatility) / sum_inv) < 1e-6);
                }
            }
            assert_true(fb <= fa + 1e-12);
            checked++;
        }
        optimizer_target_free(&ta);
        optimizer_target_free(&tb);
        optimizer_target_free(&tc);
    }
    assert_true(checked >= 4);
    optimizer_destroy(&a);
    optimizer_destroy(&b);
    optimizer_destroy(&c);
    market_free(&m);
}

/* Determinism and kill -9: two optimizers over the same 40 real batches (QAOA on,
 * real deadline never reached) publish identical targets; a third is snapshotted after
 * batch 25 into a fresh object (history + breaker), and the restored one re-emits
 * exactly what the original emits from there on. */
static void test_determinism_and_restart(void **state)
{
    (void)state;
    market_t m;
    market_load(&m);
    optimizer_config_t cfg;
    qubo_config(&cfg);
    cfg.qaoa_enabled = true;
    cfg.weighting = OPT_WEIGHTING_MEAN_VARIANCE;
    optimizer_t *a = optimizer_new(&cfg), *b = optimizer_new(&cfg), *c = NULL;
    for (int back = 39; back >= 0; back--) {
        if (back == 14) {
            qt_buf_t buf;
            qt_buf_init(&buf);
            optimizer_save(a, &buf);
            c = optimizer_new(&cfg);
            qt_reader_t r;
            qt_reader_init(&r, buf.data, buf.len);
            assert_true(optimizer_load(c, &r));
            qt_buf_free(&buf);
        }
        optimizer_target_t ta, tb, tc;
        assert_int_equal(feed(a, &m, back, &ta), OPT_WM_EMIT);
        assert_int_equal(feed(b, &m, back, &tb), OPT_WM_EMIT);
        assert_int_equal(ta.n_positions, tb.n_positions);
        assert_memory_equal(ta.positions, tb.positions, ta.n_positions * sizeof *ta.positions);
        assert_string_equal(ta.solver, tb.solver);
        assert_true(ta.objective == tb.objective);
        if (c) {
            assert_int_equal(feed(c, &m, back, &tc), OPT_WM_EMIT);
            assert_memory_equal(ta.positions, tc.positions,
                                ta.n_positions * sizeof *ta.positions);
            assert_int_equal(ta.cov_rows, tc.cov_rows);
            assert_true(ta.shrinkage == tc.shrinkage);
            assert_string_equal(ta.solver, tc.solver);
            assert_string_equal(ta.breaker_state, tc.breaker_state);
            optimizer_target_free(&tc);
        }
        optimizer_target_free(&ta);
        optimizer_target_free(&tb);
    }
    assert_non_null(c);
    optimizer_destroy(&a);
    optimizer_destroy(&b);
    optimizer_destroy(&c);
    market_free(&m);
}

/* History across a config change (window 30 -> 12) and from a version-1 snapshot. */
static void test_snapshot_versions(void **state)
{
    (void)state;
    market_t m;
    market_load(&m);
    optimizer_config_t cfg;
    qubo_config(&cfg);
    optimizer_t *a = optimizer_new(&cfg);
    optimizer_target_t t;
    for (int back = 20; back >= 1; back--) {
        assert_int_equal(feed(a, &m, back, &t), OPT_WM_EMIT);
        optimizer_target_free(&t);
    }
    qt_buf_t buf;
    qt_buf_init(&buf);
    optimizer_save(a, &buf);
    optimizer_config_t small = cfg;
    small.cov_window = 12;
    small.cov_min_obs = 5;
    optimizer_t *b = optimizer_new(&small);
    qt_reader_t r;
    qt_reader_init(&r, buf.data, buf.len);
    assert_true(optimizer_load(b, &r));
    qt_buf_free(&buf);
    assert_int_equal(feed(b, &m, 0, &t), OPT_WM_EMIT);
    if (t.candidates > 0)
        assert_int_equal(t.cov_rows, 12);   /* the newest 12 returns were kept */
    optimizer_target_free(&t);

    /* Version 1 (foundation) snapshot: last emitted + empty batch. */
    qt_buf_init(&buf);
    qt_buf_put_u32(&buf, 1);
    qt_buf_put_i64(&buf, LAST_BAR - BAR_MS);
    qt_buf_put_i64(&buf, INT64_MIN);
    qt_buf_put_u32(&buf, 0);
    optimizer_t *c = optimizer_new(&cfg);
    qt_reader_init(&r, buf.data, buf.len);
    assert_true(optimizer_load(c, &r));
    assert_int_equal(optimizer_last_emitted(c), LAST_BAR - BAR_MS);
    assert_int_equal(optimizer_history_symbols(c), 0);
    assert_int_equal(feed(c, &m, 0, &t), OPT_WM_EMIT);
    assert_int_equal(t.cov_rows, 0);
    optimizer_target_free(&t);
    /* Corrupt breaker state (7) is refused. */
    qt_buf_free(&buf);
    qt_buf_init(&buf);
    optimizer_save(c, &buf);
    buf.data[buf.len - 8 - 8 - 8 - 4 - 4] = 7;
    optimizer_t *d = optimizer_new(&cfg);
    qt_reader_init(&r, buf.data, buf.len);
    assert_false(optimizer_load(d, &r));
    qt_buf_free(&buf);
    optimizer_destroy(&a);
    optimizer_destroy(&b);
    optimizer_destroy(&c);
    optimizer_destroy(&d);
    market_free(&m);
}

static void test_new_config_checks(void **state)
{
    (void)state;
    optimizer_config_t cfg;
    optimizer_config_defaults(&cfg);
    assert_null(optimizer_config_check(&cfg));
    optimizer_config_t c = cfg;
    c.max_candidates = 25;
    assert_non_null(optimizer_config_check(&c));
    c = cfg;
    c.cov_min_obs = c.cov_window + 1;
    assert_non_null(optimizer_config_check(&c));
    c = cfg;
    c.qaoa_latency_ms = 0.0;
    assert_non_null(optimizer_config_check(&c));
    c = cfg;
    c.failures_to_open = 0;
    assert_non_null(optimizer_config_check(&c));
    assert_null(optimizer_new(&c));
    c = cfg;
    c.quality_tolerance = NAN;
    assert_non_null(optimizer_config_check(&c));
    c = cfg;
    c.solver = (optimizer_solver_t)9;
    assert_non_null(optimizer_config_check(&c));
    optimizer_solver_t s;
    assert_true(optimizer_solver_parse("anneal", &s));
    assert_int_equal(s, OPT_SOLVER_ANNEAL);
    assert_false(optimizer_solver_parse("qaoa", &s));
    optimizer_weighting_t w;
    assert_true(optimizer_weighting_parse("risk_parity", &w));
    assert_false(optimizer_weighting_parse("", &w));
    optimizer_adopt_t ad;
    assert_true(optimizer_adopt_parse("tolerance", &ad));
    assert_false(optimizer_adopt_parse(NULL, &ad));
}

/* Hostile numbers on the QUBO path: |alpha| or |beta| above 1e6 is an invalid signal;
 * a volatility so large that Σ = diag(vol^2) overflows makes the QUBO invalid, and the
 * batch falls back to the inverse_vol target instead of stopping the stream. */
static void test_hostile_numbers(void **state)
{
    (void)state;
    optimizer_config_t cfg;
    qubo_config(&cfg);
    optimizer_t *o = optimizer_new(&cfg);
    optimizer_signal_t s = mksig("A", 1000, 0.5, 0.02, QT_FIXED_SCALE, true);
    s.alpha = 2e6;
    assert_int_equal(optimizer_on_signal(o, &s), OPT_SIG_INVALID);
    s.alpha = 0.01;
    s.beta = -INFINITY;
    assert_int_equal(optimizer_on_signal(o, &s), OPT_SIG_INVALID);
    s.beta = NAN;
    assert_int_equal(optimizer_on_signal(o, &s), OPT_SIG_INVALID);
    s.beta = 1.0;
    assert_int_equal(optimizer_on_signal(o, &s), OPT_SIG_ACCEPTED);
    optimizer_signal_t h = mksig("B", 1000, 0.5, 1e200, 2 * QT_FIXED_SCALE, true);
    h.alpha = 0.01;
    h.beta = 1.0;
    assert_int_equal(optimizer_on_signal(o, &h), OPT_SIG_ACCEPTED);
    optimizer_target_t t;
    assert_int_equal(optimizer_on_watermark(o, 1000, &t), OPT_WM_EMIT);
    assert_true(t.classical_failed);
    assert_string_equal(t.solver, "inverse_vol");
    assert_int_equal(t.n_positions, 2);
    /* Water-filling: A (1/vol dominates) is capped at 0.4, then B alone gets the other
     * 0.6 and is capped too; 0.2 stays in cash. */
    assert_true(t.positions[0].weight == 0.4);
    assert_true(t.positions[1].weight == 0.4);
    assert_int_equal(t.capped, 2);
    optimizer_target_free(&t);
    optimizer_destroy(&o);
}

/* anneal and greedy as the classical solver: same feasible budget, labelled. */
static void test_other_classical_solvers(void **state)
{
    (void)state;
    market_t m;
    market_load(&m);
    optimizer_config_t cfg;
    qubo_config(&cfg);
    optimizer_t *ex = optimizer_new(&cfg);
    cfg.solver = OPT_SOLVER_ANNEAL;
    optimizer_t *an = optimizer_new(&cfg);
    cfg.solver = OPT_SOLVER_GREEDY;
    optimizer_t *gr = optimizer_new(&cfg);
    for (int back = 33; back >= 30; back--) {
        optimizer_target_t te, ta, tg;
        assert_int_equal(feed(ex, &m, back, &te), OPT_WM_EMIT);
        assert_int_equal(feed(an, &m, back, &ta), OPT_WM_EMIT);
        assert_int_equal(feed(gr, &m, back, &tg), OPT_WM_EMIT);
        if (te.candidates > 0) {
            assert_string_equal(ta.solver, "anneal");
            assert_string_equal(tg.solver, "greedy");
            assert_int_equal(held(&ta), te.budget);
            assert_int_equal(held(&tg), te.budget);
            /* exact is the optimum; anneal finds it on 8 candidates */
            assert_true(ta.objective >= te.objective - 1e-15);
            assert_true(tg.objective >= te.objective - 1e-15);
            assert_true(fabs(ta.objective - te.objective) < 1e-12);
        }
        optimizer_target_free(&te);
        optimizer_target_free(&ta);
        optimizer_target_free(&tg);
    }
    optimizer_destroy(&ex);
    optimizer_destroy(&an);
    optimizer_destroy(&gr);
    market_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_checked_cap),
        cmocka_unit_test(test_all_capped_and_gross),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_max_names),
        cmocka_unit_test(test_real_cross_section),
        cmocka_unit_test(test_real_rolling_properties),
        cmocka_unit_test(test_batches_and_duplicates),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_exact_selection_matches_brute_force),
        cmocka_unit_test(test_qaoa_success),
        cmocka_unit_test(test_qaoa_deadline),
        cmocka_unit_test(test_qaoa_error),
        cmocka_unit_test(test_qaoa_quality),
        cmocka_unit_test(test_breaker_paths),
        cmocka_unit_test(test_weightings),
        cmocka_unit_test(test_determinism_and_restart),
        cmocka_unit_test(test_snapshot_versions),
        cmocka_unit_test(test_new_config_checks),
        cmocka_unit_test(test_other_classical_solvers),
        cmocka_unit_test(test_hostile_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
