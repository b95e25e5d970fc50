/* Unit tests for the qt-optimizer core: inverse-volatility weights with a cap and
 * water-filling, batch bookkeeping (duplicates, stale signals, empty batches), state
 * snapshots, determinism. Market cases use real Binance 4h closes
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
