/* Unit tests: libs/quant/qt_featureset (+ the issue 4 indicators of qt_indicators).
 *  - published worked examples / hand computations for each formula;
 *  - streaming == batch on all BTC 4h bars (bitwise for the recursive indicators, 1e-9
 *    relative for the window sums, see docs/quant/features.md);
 *  - no look-ahead: features recomputed on data truncated at t (and with the future
 *    scrambled) are identical at t;
 *  - snapshots continue bit-for-bit; multi-horizon buckets equal the batch over bars
 *    aggregated here independently; invalid bars are refused and counted. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qt_featureset.h"
#include "qt_indicators.h"
#include "../lib/qt_testdata.h"

#define FULL_SPEC                                                                         \
    "sma:20,ema:12,wma:10,rsi:14,macd:12:26:9,atr:14,bbands:20:2,stoch:14:3,roc:1,roc:20,"  \
    "roc:60,mom:10,rvol:20,rvol_parkinson:20,rvol_gk:20,zscore:20,obv,vwap:20"

/* Outputs whose streaming value is bit-identical to the batch definition. */
static bool exact_output(const char *name) {
    static const char *const pfx[] = {"rsi_", "macd", "atr_", "roc_", "mom_", "obv"};
    for (size_t i = 0; i < sizeof pfx / sizeof *pfx; i++)
        if (strncmp(name, pfx[i], strlen(pfx[i])) == 0) return true;
    return false;
}

static qt_fs_bar_t *to_fs(const qt_bars_t *b, size_t n) {
    qt_fs_bar_t *x = calloc(n ? n : 1, sizeof *x);
    for (size_t i = 0; i < n; i++) {
        x[i].t_ms = b->bars[i].t_ms;
        x[i].open = qt_fixed_to_double(b->bars[i].open);
        x[i].high = qt_fixed_to_double(b->bars[i].high);
        x[i].low = qt_fixed_to_double(b->bars[i].low);
        x[i].close = qt_fixed_to_double(b->bars[i].close);
        x[i].volume = qt_fixed_to_double(b->bars[i].volume);
    }
    return x;
}

static void near(double a, double b, double tol) {
    if (!(fabs(a - b) <= tol)) {
        fprintf(stderr, "got %.17g expected %.17g (tol %.3g)\n", a, b, tol);
        fail();
    }
}

/* ---- worked examples ------------------------------------------------------------------ */

/* Wilder's RSI example as tabulated by StockCharts ChartSchool ("Relative Strength Index",
 * cs-rsi spreadsheet): first RSI(14) 70.53, second 66.32 (their averages are rounded to
 * 2 decimals; exact: gains 3.34/14, losses 1.40/14 -> 70.4641). */
static void test_rsi_wilder_worked_example(void **state) {
    (void)state;
    const double c[] = {44.34, 44.09, 44.15, 43.61, 44.33, 44.83, 45.10, 45.42, 45.84,
                        46.08, 45.89, 46.03, 45.61, 46.28, 46.28, 46.00};
    double out[16];
    qt_ind_rsi_batch(c, 16, 14, out);
    qt_ind_rsi_t r;
    assert_true(qt_ind_rsi_init(&r, 14));
    for (int i = 0; i < 16; i++) {
        assert_true(qt_ind_rsi_update(&r, c[i]));
        assert_int_equal(qt_ind_rsi_ready(&r), i >= 14);
        assert_int_equal(isnan(out[i]), i < 14);
        if (i >= 14) assert_true(qt_ind_rsi_value(&r) == out[i]);
        if (i == 14) {
            near(out[i], 100.0 * 3.34 / 4.74, 1e-9);
            near(out[i], 70.53, 0.1);
        }
    }
    double ag = 3.34 / 14 * 13 / 14, al = (1.40 / 14 * 13 + 0.28) / 14;
    near(out[15], 100.0 * ag / (ag + al), 1e-9);
    near(out[15], 66.32, 0.1);
    /* flat prices: TA-Lib returns 0 when there are neither gains nor losses */
    const double flat[4] = {5, 5, 5, 5};
    qt_ind_rsi_batch(flat, 4, 2, out);
    assert_true(out[2] == 0.0 && out[3] == 0.0);
}

/* Hand computations of the TA-Lib definitions. */
static void test_hand_computed_values(void **state) {
    (void)state;
    /* ATR(3), TA-Lib: TR from bar 1: 3, 2, 4 -> first ATR at i=3 = 3; next TR (h 15,
     * l 13, prev c 13) = 2 -> (3*2 + 2)/3 = 8/3. */
    const double h[] = {10, 12, 13, 14, 15}, l[] = {8, 9, 11, 10, 13}, c[] = {9, 11, 12, 13, 14};
    double out[5], o2[5], o3[5];
    qt_ind_atr_batch(h, l, c, 5, 3, out);
    assert_true(isnan(out[2]) && out[3] == 3.0);
    near(out[4], 8.0 / 3.0, 1e-15);
    qt_ind_atr_t a;
    qt_ind_atr_init(&a, 3);
    for (int i = 0; i < 5; i++) qt_ind_atr_update(&a, h[i], l[i], c[i]);
    assert_true(qt_ind_atr_value(&a) == out[4]);
    /* WMA(3) of 1,2,3 = (1 + 4 + 9) / 6 */
    const double x[] = {1, 2, 3, 4};
    qt_ind_wma_batch(x, 4, 3, out);
    near(out[2], 14.0 / 6.0, 1e-15);
    near(out[3], (2 + 6 + 12) / 6.0, 1e-15);
    /* Bollinger(3, 2) of 1,2,3: mid 2, population sd sqrt(2/3) */
    qt_ind_bbands_batch(x, 4, 3, 2.0, out, o2, o3);
    near(out[2], 2.0, 1e-15);
    near(o2[2], 2.0 + 2.0 * sqrt(2.0 / 3.0), 1e-15);
    near(o3[2], 2.0 - 2.0 * sqrt(2.0 / 3.0), 1e-15);
    /* z-score(4) of 1..4: (4 - 2.5) / sqrt(5/3) */
    qt_ind_zscore_batch(x, 4, 4, out);
    near(out[3], 1.5 / sqrt(5.0 / 3.0), 1e-15);
    /* fast stochastic (3, 2): %K at i=2 = 100 (12-8)/(13-8) = 80; i=3: HH 14 LL 9:
     * 100 (13-9)/5 = 80; i=4: HH 15 LL 10: 80; %D(2) at i=3 = 80 */
    qt_ind_stoch_batch(h, l, c, 5, 3, 2, out, o2);
    assert_true(isnan(out[2]) && isnan(o2[2]));   /* TA-Lib: both from i = n + d - 2 */
    near(out[3], 80.0, 1e-12);
    near(o2[3], 80.0, 1e-12);
    /* ROC(2) / MOM(2) at i=3: 100 (4/2 - 1) = 100, 4 - 2 = 2 */
    qt_ind_roc_batch(x, 4, 2, out, o2);
    assert_true(out[3] == 100.0 && o2[3] == 2.0 && isnan(out[1]));
    /* OBV (TA-Lib): 100, +200, =, -400 */
    const double oc[] = {10, 11, 11, 9}, ov[] = {100, 200, 300, 400};
    qt_ind_obv_batch(oc, ov, 4, out);
    assert_true(out[0] == 100 && out[1] == 300 && out[2] == 300 && out[3] == -100);
    /* Parkinson / Garman-Klass of one bar O 1 H 2 L 1 C 2 */
    const double po[] = {1}, ph[] = {2}, pl[] = {1}, pc[] = {2};
    double ln2 = log(2.0);
    qt_ind_rangevol_batch(po, ph, pl, pc, 1, 1, false, out);
    near(out[0], sqrt(ln2 * ln2 / (4 * ln2)), 1e-15);
    qt_ind_rangevol_batch(po, ph, pl, pc, 1, 1, true, out);
    near(out[0], sqrt(0.5 * ln2 * ln2 - (2 * ln2 - 1) * ln2 * ln2), 1e-15);
    /* VWAP(2): tp = (h+l+c)/3; bars 3 and 4 of the ATR data with volumes 1 and 3 */
    const double vv[] = {0, 0, 0, 1, 3};
    qt_ind_vwap_batch(h, l, c, vv, 5, 2, out);
    near(out[4], ((14 + 10 + 13) / 3.0 * 1 + (15 + 13 + 14) / 3.0 * 3) / 4, 1e-12);
    assert_true(isnan(out[2]));   /* zero volume in the window: not ready */
}

/* MACD against a literal transcription of TA-Lib's TA_MACD/TA_INT_EMA index arithmetic
 * (independent of qt_ind_macd_batch): both EMAs computed from startIdx - lookbackSignal. */
static double talib_ema_at(const double *x, int start, int period, int at) {
    double k = 2.0 / (period + 1), sum = 0;
    int today = start - (period - 1);
    for (int i = 0; i < period; i++) sum += x[today++];
    double prev = sum / period;
    while (today <= at) {
        prev = ((x[today] - prev) * k) + prev;
        today++;
    }
    return prev;
}

static void test_macd_talib_alignment(void **state) {
    (void)state;
    qt_bars_t b;
    qt_testdata_load_4h("BTC_USDT", &b);
    size_t n = 120;
    double x[120], m[120], s[120], hst[120];
    for (size_t i = 0; i < n; i++) x[i] = qt_fixed_to_double(b.bars[i].close);
    qt_ind_macd_batch(x, n, 12, 26, 9, m, s, hst);
    int first = 26 - 1 + 9 - 1;   /* TA-Lib lookback 33 */
    for (int i = 0; i < first; i++) assert_true(isnan(m[i]) && isnan(s[i]));
    int start = first - 8;        /* startIdx - lookbackSignal = 25 */
    double macd_ref[120];
    for (int i = start; i < (int)n; i++)
        macd_ref[i] = talib_ema_at(x, start, 12, i) - talib_ema_at(x, start, 26, i);
    /* signal: EMA(9) of the macd line from index 25, seeded by SMA of 25..33 */
    double sig = 0;
    for (int i = start; i <= first; i++) sig += macd_ref[i];
    sig /= 9;
    for (int i = first; i < (int)n; i++) {
        if (i > first) sig = ((macd_ref[i] - sig) * 0.2) + sig;
        near(m[i], macd_ref[i], 1e-9);
        near(s[i], sig, 1e-9);
        near(hst[i], macd_ref[i] - sig, 1e-9);
    }
    /* the fast EMA is NOT seeded at i = 11 (a common mistake): differs from that version */
    double e12[120], e26[120];
    qt_ind_ema_batch(x, n, 12, e12);
    qt_ind_ema_batch(x, n, 26, e26);
    assert_true(fabs((e12[first] - e26[first]) - m[first]) > 1e-9);
    qt_bars_free(&b);
}

/* ---- streaming == batch on real data --------------------------------------------------- */

static void test_streaming_equals_batch_btc(void **state) {
    (void)state;
    qt_bars_t b;
    qt_testdata_load_4h("BTC_USDT", &b);
    size_t n = b.n;
    qt_fs_bar_t *x = to_fs(&b, n);
    char err[256];
    qt_featureset_t *fs = qt_featureset_new(FULL_SPEC, NULL, 0, 0, err, sizeof err);
    assert_non_null(fs);
    size_t no = qt_featureset_n_outputs(fs);
    assert_int_equal(no, 23);
    double *bv = malloc(n * no * sizeof *bv);
    bool *br = malloc(n * no * sizeof *br);
    assert_true(qt_featureset_batch(FULL_SPEC, x, n, bv, br, err, sizeof err));
    double maxrel[QT_FS_MAX_OUTPUTS] = {0};
    size_t ready_at[QT_FS_MAX_OUTPUTS];
    for (size_t k = 0; k < no; k++) ready_at[k] = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        bool upd = false;
        assert_true(qt_featureset_update(fs, &x[i], &upd));
        assert_true(upd);
        const double *v = qt_featureset_values(fs);
        const bool *r = qt_featureset_ready(fs);
        for (size_t k = 0; k < no; k++) {
            assert_true(isfinite(v[k]));
            assert_int_equal(r[k], br[i * no + k]);
            if (!r[k]) {
                assert_true(v[k] == 0.0);
                continue;
            }
            if (ready_at[k] == SIZE_MAX) ready_at[k] = i;
            double e = bv[i * no + k];
            if (exact_output(qt_featureset_name(fs, k))) {
                if (v[k] != e) {
                    fprintf(stderr, "%s at %zu: %.17g vs %.17g\n", qt_featureset_name(fs, k), i,
                            v[k], e);
                    fail();
                }
            } else {
                double rel = fabs(v[k] - e) / (fabs(e) > 1.0 ? fabs(e) : 1.0);
                if (rel > maxrel[k]) maxrel[k] = rel;
                if (rel > 1e-9) {
                    fprintf(stderr, "%s at %zu: %.17g vs %.17g\n", qt_featureset_name(fs, k), i,
                            v[k], e);
                    fail();
                }
            }
        }
    }
    /* TA-Lib warm-up: index of the first ready value */
    static const struct {
        const char *name;
        size_t at;
    } warm[] = {{"sma_20", 19},     {"ema_12", 11},         {"wma_10", 9},
                {"rsi_14", 14},     {"macd_12_26_9", 33},   {"macd_hist_12_26_9", 33},
                {"atr_14", 14},     {"bb_mid_20_2", 19},    {"stoch_k_14_3", 15},
                {"stoch_d_14_3", 15}, {"roc_1", 1},         {"roc_60", 60},
                {"mom_10", 10},     {"rvol_20", 20},        {"rvol_parkinson_20", 19},
                {"rvol_gk_20", 19}, {"zscore_20", 19},      {"obv", 0},
                {"vwap_20", 19}};
    for (size_t w = 0; w < sizeof warm / sizeof *warm; w++) {
        size_t k = 0;
        while (k < no && strcmp(qt_featureset_name(fs, k), warm[w].name) != 0) k++;
        assert_true(k < no);
        assert_int_equal(ready_at[k], warm[w].at);
    }
    for (size_t k = 0; k < no; k++)
        if (maxrel[k] > 0) printf("    %-20s max rel diff streaming vs batch %.3g\n",
                                  qt_featureset_name(fs, k), maxrel[k]);
    assert_int_equal(qt_featureset_rejected(fs), 0);
    qt_featureset_destroy(&fs);
    free(bv);
    free(br);
    free(x);
    qt_bars_free(&b);
}

/* ---- no look-ahead ----------------------------------------------------------------------- */

/* For every t < 400 on real ETH 4h bars: (a) the batch over bars[0..t] equals, bit for
 * bit, the batch over the full series at t, and the batch over a series whose future
 * (after t) is scrambled; (b) a streaming set fed bars[0..t] only has, at t, exactly the
 * values of the streaming run over everything. */
static void test_no_lookahead_truncated(void **state) {
    (void)state;
    qt_bars_t b;
    qt_testdata_load_4h("ETH_USDT", &b);
    const size_t n = 400;
    assert_true(b.n >= n);
    qt_fs_bar_t *x = to_fs(&b, n);
    qt_fs_bar_t *y = malloc(n * sizeof *y);
    char err[256];
    qt_featureset_t *full = qt_featureset_new(FULL_SPEC, NULL, 0, 0, err, sizeof err);
    size_t no = qt_featureset_n_outputs(full);
    double *fv = malloc(n * no * sizeof *fv), *tv = malloc(n * no * sizeof *tv);
    bool *fr = malloc(n * no * sizeof *fr), *tr = malloc(n * no * sizeof *tr);
    double *sv = malloc(n * no * sizeof *sv);
    bool *sr = malloc(n * no * sizeof *sr);
    assert_true(qt_featureset_batch(FULL_SPEC, x, n, fv, fr, err, sizeof err));
    for (size_t i = 0; i < n; i++) {
        qt_featureset_update(full, &x[i], NULL);
        memcpy(sv + i * no, qt_featureset_values(full), no * sizeof *sv);
        memcpy(sr + i * no, qt_featureset_ready(full), no * sizeof *sr);
    }
    for (size_t t = 0; t < n; t++) {
        assert_true(qt_featureset_batch(FULL_SPEC, x, t + 1, tv, tr, err, sizeof err));
        assert_memory_equal(tv + t * no, fv + t * no, no * sizeof *tv);
        assert_memory_equal(tr + t * no, fr + t * no, no * sizeof *tr);
        if (t % 37 == 0) {   /* scrambled future: doubled prices, volumes x10 */
            memcpy(y, x, n * sizeof *y);
            for (size_t j = t + 1; j < n; j++) {
                y[j].open *= 2;
                y[j].high *= 2;
                y[j].low *= 2;
                y[j].close *= 2;
                y[j].volume *= 10;
            }
            assert_true(qt_featureset_batch(FULL_SPEC, y, n, tv, tr, err, sizeof err));
            assert_memory_equal(tv + t * no, fv + t * no, no * sizeof *tv);
        }
        if (t % 5 == 0 || t < 70) {
            qt_featureset_t *part = qt_featureset_new(FULL_SPEC, NULL, 0, 0, err, sizeof err);
            for (size_t i = 0; i <= t; i++) qt_featureset_update(part, &x[i], NULL);
            assert_memory_equal(qt_featureset_values(part), sv + t * no, no * sizeof *sv);
            assert_memory_equal(qt_featureset_ready(part), sr + t * no, no * sizeof *sr);
            qt_featureset_destroy(&part);
        }
    }
    qt_featureset_destroy(&full);
    free(fv);
    free(tv);
    free(fr);
    free(tr);
    free(sv);
    free(sr);
    free(y);
    free(x);
    qt_bars_free(&b);
}

/* ---- snapshots ------------------------------------------------------------------------------ */

static void test_snapshot_continues_identically(void **state) {
    (void)state;
    qt_bars_t b;
    qt_testdata_load_4h("BTC_USDT", &b);
    size_t n = 3000;
    qt_fs_bar_t *x = to_fs(&b, n);
    char err[256];
    const size_t cuts[] = {0, 1, 13, 34, 257, 1999};
    for (int hz = 0; hz < 2; hz++) {
        int64_t horizon = hz ? 86400000 : 0;
        for (size_t ci = 0; ci < sizeof cuts / sizeof *cuts; ci++) {
            qt_featureset_t *a = qt_featureset_new(FULL_SPEC, hz ? "_1d" : NULL, 14400000,
                                                   horizon, err, sizeof err);
            qt_featureset_t *c = qt_featureset_new(FULL_SPEC, hz ? "_1d" : NULL, 14400000,
                                                   horizon, err, sizeof err);
            assert_non_null(a);
            for (size_t i = 0; i < cuts[ci]; i++) qt_featureset_update(a, &x[i], NULL);
            qt_buf_t buf;
            qt_buf_init(&buf);
            qt_featureset_save(a, &buf);
            assert_false(buf.oom);
            qt_reader_t r;
            qt_reader_init(&r, buf.data, buf.len);
            assert_true(qt_featureset_load(c, &r));
            assert_true(qt_reader_done(&r));
            size_t no = qt_featureset_n_outputs(a);
            for (size_t i = cuts[ci]; i < n; i++) {
                bool u1, u2;
                qt_featureset_update(a, &x[i], &u1);
                qt_featureset_update(c, &x[i], &u2);
                assert_int_equal(u1, u2);
                assert_memory_equal(qt_featureset_values(a), qt_featureset_values(c),
                                    no * sizeof(double));
                assert_memory_equal(qt_featureset_ready(a), qt_featureset_ready(c), no);
            }
            /* truncations are refused and leave the state alone */
            if (ci == 3) {
                for (size_t cut = 0; cut < buf.len; cut += 7) {
                    qt_reader_init(&r, buf.data, cut);
                    assert_false(qt_featureset_load(c, &r));
                }
                qt_featureset_t *other = qt_featureset_new("sma:20", NULL, 0, 0, err, sizeof err);
                qt_reader_init(&r, buf.data, buf.len);
                assert_false(qt_featureset_load(other, &r));
                qt_featureset_destroy(&other);
            }
            qt_buf_free(&buf);
            qt_featureset_destroy(&a);
            qt_featureset_destroy(&c);
        }
    }
    free(x);
    qt_bars_free(&b);
}

/* ---- multi-horizon -------------------------------------------------------------------------- */

/* 4h -> 1d: the streaming set's values after each completed day equal the batch over
 * daily bars aggregated here (O first, H max, L min, C last, V sum per UTC day). */
static void test_multi_horizon_daily(void **state) {
    (void)state;
    qt_bars_t b;
    qt_testdata_load_4h("BTC_USDT", &b);
    size_t n = b.n;
    qt_fs_bar_t *x = to_fs(&b, n);
    qt_fs_bar_t *d = calloc(n, sizeof *d);
    size_t nd = 0;
    const int64_t DAY = 86400000;
    for (size_t i = 0; i < n; i++) {
        int64_t day = x[i].t_ms / DAY * DAY;
        if (nd == 0 || d[nd - 1].t_ms != day) {
            d[nd] = x[i];
            d[nd].t_ms = day;
            nd++;
        } else {
            qt_fs_bar_t *k = &d[nd - 1];
            k->high = fmax(k->high, x[i].high);
            k->low = fmin(k->low, x[i].low);
            k->close = x[i].close;
            k->volume += x[i].volume;
        }
    }
    const char *spec = "sma:20,rsi:14,macd:12:26:9,atr:14,bbands:20:2,rvol_gk:20,obv";
    char err[256];
    qt_featureset_t *fs = qt_featureset_new(spec, "_1d", 14400000, DAY, err, sizeof err);
    assert_non_null(fs);
    assert_string_equal(qt_featureset_name(fs, 1), "rsi_14_1d");
    size_t no = qt_featureset_n_outputs(fs);
    double *bv = malloc(nd * no * sizeof *bv);
    bool *br = malloc(nd * no * sizeof *br);
    assert_true(qt_featureset_batch(spec, d, nd, bv, br, err, sizeof err));
    size_t day_i = 0, updates = 0;
    for (size_t i = 0; i < n; i++) {
        bool upd;
        assert_true(qt_featureset_update(fs, &x[i], &upd));
        if (!upd) continue;
        updates++;
        /* the completed bucket is the one behind the values */
        int64_t vt = qt_featureset_value_time(fs);
        while (day_i < nd && d[day_i].t_ms != vt) day_i++;
        assert_true(day_i < nd);
        assert_true(vt <= x[i].t_ms);   /* never a bucket that has not ended yet */
        assert_true(x[i].t_ms + 14400000 >= vt + DAY);   /* its last bar, or a later one */
        const double *v = qt_featureset_values(fs);
        const bool *r = qt_featureset_ready(fs);
        for (size_t k = 0; k < no; k++) {
            assert_int_equal(r[k], br[day_i * no + k]);
            double e = bv[day_i * no + k];
            assert_true(fabs(v[k] - e) <= 1e-9 * (fabs(e) > 1 ? fabs(e) : 1));
        }
    }
    /* every day but a possibly unfinished last one was completed */
    assert_true(updates == nd || updates + 1 == nd);
    printf("    %zu 4h bars -> %zu daily updates (%zu days)\n", n, updates, nd);
    /* horizon == bar length behaves exactly like no horizon */
    qt_featureset_t *h4 = qt_featureset_new(spec, NULL, 14400000, 14400000, err, sizeof err);
    qt_featureset_t *p = qt_featureset_new(spec, NULL, 0, 0, err, sizeof err);
    for (size_t i = 0; i < 500; i++) {
        bool upd;
        qt_featureset_update(h4, &x[i], &upd);
        assert_true(upd);
        qt_featureset_update(p, &x[i], NULL);
        assert_memory_equal(qt_featureset_values(h4), qt_featureset_values(p), no * sizeof(double));
    }
    assert_null(qt_featureset_new(spec, NULL, 14400000, 86400000 + 1, err, sizeof err));
    assert_null(qt_featureset_new(spec, NULL, 0, 86400000, err, sizeof err));
    qt_featureset_destroy(&h4);
    qt_featureset_destroy(&p);
    qt_featureset_destroy(&fs);
    free(bv);
    free(br);
    free(d);
    free(x);
    qt_bars_free(&b);
}

/* ---- hostile input ----------------------------------------------------------------------- */

static void test_invalid_bars_and_specs(void **state) {
    (void)state;
    char err[256];
    qt_featureset_t *fs = qt_featureset_new(FULL_SPEC, NULL, 0, 0, err, sizeof err);
    qt_fs_bar_t ok = {1000, 10, 12, 9, 11, 100};
    assert_true(qt_featureset_update(fs, &ok, NULL));
    qt_fs_bar_t bad[] = {
        {2000, NAN, 12, 9, 11, 100},     {2000, 10, INFINITY, 9, 11, 100},
        {2000, 10, 12, 9, 11, -1},       {2000, 10, 12, 9, 11, NAN},
        {2000, 0, 12, 9, 11, 1},         {2000, 10, 12, 9, 13, 1},   /* close > high */
        {2000, 10, 12, 10.5, 10.2, 1},   /* low > close */
        {1000, 10, 12, 9, 11, 1},        /* not after the previous bar */
        {-5, 10, 12, 9, 11, 1},
    };
    size_t no = qt_featureset_n_outputs(fs);
    double before[QT_FS_MAX_OUTPUTS];
    memcpy(before, qt_featureset_values(fs), no * sizeof *before);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        bool upd = true;
        assert_false(qt_featureset_update(fs, &bad[i], &upd));
        assert_false(upd);
    }
    assert_false(qt_featureset_update(fs, NULL, NULL));
    assert_int_equal(qt_featureset_rejected(fs), sizeof bad / sizeof *bad + 1);
    assert_int_equal(qt_featureset_bars(fs), 1);
    assert_memory_equal(before, qt_featureset_values(fs), no * sizeof *before);
    qt_featureset_destroy(&fs);

    const char *bad_specs[] = {"sma:20,", ",sma:20", "sma: 20", "SMA:20", "sma:20:3",
                               "macd:12:26", "bbands:20:2:1", "bbands:20:0", "bbands:20:2.",
                               "stoch:14:0", "roc:256", "rsi:99999999999", "sma:-3", "vwap",
                               "macd:12:12:9"};
    for (size_t i = 0; i < sizeof bad_specs / sizeof *bad_specs; i++) {
        err[0] = '\0';
        assert_null(qt_featureset_new(bad_specs[i], NULL, 0, 0, err, sizeof err));
        assert_true(strlen(err) > 0);
    }
    fs = qt_featureset_new("bbands:20:2.5,stoch:14:3,obv", NULL, 0, 0, err, sizeof err);
    assert_non_null(fs);
    assert_string_equal(qt_featureset_name(fs, 0), "bb_mid_20_2.5");
    assert_string_equal(qt_featureset_name(fs, 4), "stoch_d_14_3");
    qt_featureset_destroy(&fs);
    assert_int_equal(qt_featureset_selftest(false), 0);
    assert_int_equal(qt_indicators_selftest(false), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rsi_wilder_worked_example),
        cmocka_unit_test(test_hand_computed_values),
        cmocka_unit_test(test_macd_talib_alignment),
        cmocka_unit_test(test_streaming_equals_batch_btc),
        cmocka_unit_test(test_no_lookahead_truncated),
        cmocka_unit_test(test_snapshot_continues_identically),
        cmocka_unit_test(test_multi_horizon_daily),
        cmocka_unit_test(test_invalid_bars_and_specs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
