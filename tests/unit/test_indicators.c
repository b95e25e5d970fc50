/* Unit tests: libs/quant/qt_indicators (streaming == batch on real BTC 4h data). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qt_bars.h"
#include "qt_indicators.h"

static char g_path[1024];

static const char *btc_path(void) {
    const char *dir = getenv("QT_DATA_DIR");
    snprintf(g_path, sizeof g_path, "%s/raw/djienne-3EMA_SRSI_ATR-binance/4h/BTC_USDT-4h.json",
             dir && *dir ? dir : "../shared/data");
    return g_path;
}

typedef struct {
    qt_bars_t bars;
    double *close;
    size_t n;
} btc_t;

static int setup_btc(void **state) {
    btc_t *b = calloc(1, sizeof *b);
    char err[256];
    qt_bars_init(&b->bars);
    if (qt_bars_load_file(&b->bars, btc_path(), err, sizeof err) != 0) {
        fprintf(stderr, "cannot load %s: %s\n", btc_path(), err);
        free(b);
        return -1;
    }
    b->n = b->bars.n;
    b->close = malloc(b->n * sizeof *b->close);
    for (size_t i = 0; i < b->n; i++) b->close[i] = qt_fixed_to_double(b->bars.bars[i].close);
    *state = b;
    return 0;
}

static int teardown_btc(void **state) {
    btc_t *b = *state;
    qt_bars_free(&b->bars);
    free(b->close);
    free(b);
    return 0;
}

static void assert_close_rel(double a, double b, double rel) {
    double scale = fabs(b) > 1.0 ? fabs(b) : 1.0;
    if (!(fabs(a - b) <= rel * scale)) {
        fprintf(stderr, "got %.17g expected %.17g (rel %.3g)\n", a, b, fabs(a - b) / scale);
        fail();
    }
}

/* SMA(10) of the first 10 BTC closes, computed here from the exact fixed-point closes. */
static void test_sma_first10_btc(void **state) {
    btc_t *b = *state;
    assert_int_equal(b->n, 11271);
    assert_int_equal(b->bars.bars[0].close, 434999000000LL);  /* 4349.99 */
    int64_t sum = 0;
    for (int i = 0; i < 10; i++) sum += b->bars.bars[i].close;
    double expect = (double)sum / 10.0 / 1e8;
    qt_ind_sma_t s;
    assert_true(qt_ind_sma_init(&s, 10));
    for (int i = 0; i < 10; i++) {
        assert_false(qt_ind_sma_ready(&s));
        assert_true(qt_ind_sma_update(&s, b->close[i]));
    }
    assert_true(qt_ind_sma_ready(&s));
    assert_close_rel(qt_ind_sma_value(&s), expect, 1e-14);
    printf("    SMA10 of first 10 BTC 4h closes = %.8f\n", qt_ind_sma_value(&s));
}

static void test_streaming_equals_batch_btc(void **state) {
    btc_t *b = *state;
    size_t n = b->n;
    double *bs = malloc(n * sizeof *bs), *bm = malloc(n * sizeof *bm), *bd = malloc(n * sizeof *bd);
    const uint32_t sma_w[] = {1, 10, 30, 200};
    for (size_t k = 0; k < 4; k++) {
        qt_ind_sma_t s;
        qt_ind_sma_init(&s, sma_w[k]);
        qt_ind_sma_batch(b->close, n, sma_w[k], bs);
        for (size_t i = 0; i < n; i++) {
            qt_ind_sma_update(&s, b->close[i]);
            assert_int_equal(qt_ind_sma_ready(&s), !isnan(bs[i]));
            if (!isnan(bs[i])) assert_close_rel(qt_ind_sma_value(&s), bs[i], 1e-12);
        }
    }
    const uint32_t ema_w[] = {12, 26};
    for (size_t k = 0; k < 2; k++) {
        qt_ind_ema_t e;
        qt_ind_ema_init(&e, ema_w[k]);
        qt_ind_ema_batch(b->close, n, ema_w[k], bs);
        for (size_t i = 0; i < n; i++) {
            qt_ind_ema_update(&e, b->close[i]);
            assert_int_equal(qt_ind_ema_ready(&e), !isnan(bs[i]));
            if (!isnan(bs[i])) assert_close_rel(qt_ind_ema_value(&e), bs[i], 1e-12);
        }
    }
    /* rolling mean/stddev over log returns, and the price-driven rvol */
    double *ret = malloc((n - 1) * sizeof *ret);
    for (size_t i = 1; i < n; i++) ret[i - 1] = log(b->close[i] / b->close[i - 1]);
    qt_ind_rollstat_t rs;
    qt_ind_rollstat_init(&rs, 20);
    qt_ind_rollstat_batch(ret, n - 1, 20, bm, bd);
    for (size_t i = 0; i < n - 1; i++) {
        qt_ind_rollstat_update(&rs, ret[i]);
        assert_int_equal(qt_ind_rollstat_ready(&rs), !isnan(bd[i]));
        if (!isnan(bd[i])) {
            assert_true(fabs(qt_ind_rollstat_mean(&rs) - bm[i]) < 1e-15);
            assert_close_rel(qt_ind_rollstat_stddev(&rs), bd[i], 1e-9);
        }
    }
    qt_ind_rvol_t v;
    qt_ind_rvol_init(&v, 20);
    qt_ind_logret_stddev_batch(b->close, n, 20, bs);
    size_t ready_at = 0;
    double maxrel = 0;
    for (size_t i = 0; i < n; i++) {
        assert_true(qt_ind_rvol_update(&v, b->close[i]));
        assert_int_equal(qt_ind_rvol_ready(&v), !isnan(bs[i]));
        if (!isnan(bs[i])) {
            if (!ready_at) ready_at = i;
            double rel = fabs(qt_ind_rvol_stddev(&v) - bs[i]) / bs[i];
            if (rel > maxrel) maxrel = rel;
            assert_true(rel < 1e-9);
        }
        if (i > 0) assert_true(qt_ind_rvol_last_return(&v) == ret[i - 1]);
    }
    assert_int_equal(ready_at, 20);   /* 20 returns need 21 prices */
    printf("    rvol20 streaming vs batch: max relative difference %.3g over %zu bars\n", maxrel, n);
    free(ret);
    free(bs);
    free(bm);
    free(bd);
}

static void test_ema_seed_is_sma(void **state) {
    btc_t *b = *state;
    qt_ind_ema_t e;
    qt_ind_ema_init(&e, 12);
    double sum = 0;
    for (int i = 0; i < 12; i++) {
        sum += b->close[i];
        qt_ind_ema_update(&e, b->close[i]);
        assert_int_equal(qt_ind_ema_ready(&e), i == 11);
    }
    assert_true(qt_ind_ema_value(&e) == sum / 12.0);
    double seed = sum / 12.0, alpha = 2.0 / 13.0;
    qt_ind_ema_update(&e, b->close[12]);
    assert_close_rel(qt_ind_ema_value(&e), seed + alpha * (b->close[12] - seed), 1e-15);
}

static void test_snapshot_roundtrip_continues_identically(void **state) {
    btc_t *b = *state;
    qt_ind_sma_t s1, s2;
    qt_ind_ema_t e1, e2;
    qt_ind_rvol_t v1, v2;
    qt_ind_sma_init(&s1, 30);
    qt_ind_ema_init(&e1, 26);
    qt_ind_rvol_init(&v1, 20);
    size_t half = 5003;  /* not a multiple of any window */
    for (size_t i = 0; i < half; i++) {
        qt_ind_sma_update(&s1, b->close[i]);
        qt_ind_ema_update(&e1, b->close[i]);
        qt_ind_rvol_update(&v1, b->close[i]);
    }
    qt_buf_t buf;
    qt_buf_init(&buf);
    qt_ind_sma_save(&s1, &buf);
    qt_ind_ema_save(&e1, &buf);
    qt_ind_rvol_save(&v1, &buf);
    assert_false(buf.oom);
    qt_reader_t r;
    qt_reader_init(&r, buf.data, buf.len);
    assert_true(qt_ind_sma_load(&s2, &r, 30));
    assert_true(qt_ind_ema_load(&e2, &r, 26));
    assert_true(qt_ind_rvol_load(&v2, &r, 20));
    assert_true(qt_reader_done(&r));
    for (size_t i = half; i < b->n; i++) {
        qt_ind_sma_update(&s1, b->close[i]);
        qt_ind_sma_update(&s2, b->close[i]);
        qt_ind_ema_update(&e1, b->close[i]);
        qt_ind_ema_update(&e2, b->close[i]);
        qt_ind_rvol_update(&v1, b->close[i]);
        qt_ind_rvol_update(&v2, b->close[i]);
        /* bit-identical, not just close */
        assert_true(qt_ind_sma_value(&s1) == qt_ind_sma_value(&s2));
        assert_true(qt_ind_ema_value(&e1) == qt_ind_ema_value(&e2));
        assert_true(qt_ind_rvol_stddev(&v1) == qt_ind_rvol_stddev(&v2));
    }
    /* wrong window, truncation at every length, and a NaN inside are refused */
    qt_reader_init(&r, buf.data, buf.len);
    assert_false(qt_ind_sma_load(&s2, &r, 10));
    size_t sma_len;
    {
        qt_buf_t one;
        qt_buf_init(&one);
        qt_ind_sma_save(&s1, &one);
        sma_len = one.len;
        for (size_t cut = 0; cut < one.len; cut++) {
            qt_reader_init(&r, one.data, cut);
            assert_false(qt_ind_sma_load(&s2, &r, 30));
        }
        double nan = NAN;
        memcpy(one.data + 16 + 8 * 3, &nan, sizeof nan);  /* a window value */
        qt_reader_init(&r, one.data, one.len);
        assert_false(qt_ind_sma_load(&s2, &r, 30));
        /* pos inconsistent with count */
        one.data[4] ^= 1;
        qt_reader_init(&r, one.data, one.len);
        assert_false(qt_ind_sma_load(&s2, &r, 30));
        qt_buf_free(&one);
    }
    assert_int_equal(sma_len, 4 + 4 + 8 + 30 * 8 + 8);
    qt_buf_free(&buf);
}

static void test_rejects_nonfinite_and_bad_windows(void **state) {
    (void)state;
    qt_ind_sma_t s;
    qt_ind_ema_t e;
    qt_ind_rollstat_t r;
    qt_ind_rvol_t v;
    assert_false(qt_ind_sma_init(&s, 0));
    assert_false(qt_ind_sma_init(&s, QT_IND_MAX_WINDOW + 1));
    assert_false(qt_ind_ema_init(&e, 0));
    assert_false(qt_ind_rollstat_init(&r, 1));
    assert_false(qt_ind_rvol_init(&v, 1));
    qt_ind_sma_init(&s, 2);
    qt_ind_sma_update(&s, 1.0);
    qt_ind_sma_update(&s, 3.0);
    assert_false(qt_ind_sma_update(&s, NAN));
    assert_false(qt_ind_sma_update(&s, INFINITY));
    assert_true(qt_ind_sma_value(&s) == 2.0);
    qt_ind_ema_init(&e, 2);
    assert_false(qt_ind_ema_update(&e, NAN));
    assert_int_equal(e.count, 0);
    qt_ind_rvol_init(&v, 2);
    assert_false(qt_ind_rvol_update(&v, NAN));
    assert_false(qt_ind_rvol_update(&v, 0.0));
    assert_false(qt_ind_rvol_update(&v, -5.0));
    assert_false(v.has_prev);
    assert_int_equal(qt_indicators_selftest(false), 0);
}

/* Large offset + tiny variance over a million updates: the periodic exact recompute keeps
 * the streaming stddev equal to the two-pass value (no catastrophic drift). */
static void test_long_run_no_drift(void **state) {
    (void)state;
    qt_ind_rollstat_t r;
    qt_ind_rollstat_init(&r, 50);
    double win[50];
    uint64_t x = 88172645463325252ULL;  /* xorshift64, fixed seed */
    for (int i = 0; i < 1000003; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double v = 1e8 + (double)(x % 1000) * 1e-3;
        qt_ind_rollstat_update(&r, v);
        win[i % 50] = v;
    }
    double m[50], sdv[50];
    qt_ind_rollstat_batch(win, 50, 50, m, sdv);  /* order differs; value must agree */
    double sd = sdv[49];
    assert_close_rel(qt_ind_rollstat_stddev(&r), sd, 1e-6);
    assert_true(sd > 0.2 && sd < 0.4);  /* uniform on [0, 1): sd ~ 0.29 */
}


/* The issue 4 indicators: a snapshot taken mid-stream continues bit-for-bit, and every
 * truncation, a wrong window and a NaN inside are refused. */
static void test_new_indicator_snapshots(void **state) {
    btc_t *b = *state;
    qt_ind_wma_t w1, w2;
    qt_ind_rsi_t r1, r2;
    qt_ind_atr_t a1, a2;
    qt_ind_macd_t m1, m2;
    qt_ind_stoch_t s1, s2;
    qt_ind_roc_t c1, c2;
    qt_ind_vwap_t v1, v2;
    qt_ind_wma_init(&w1, 10);
    qt_ind_rsi_init(&r1, 14);
    qt_ind_atr_init(&a1, 14);
    qt_ind_macd_init(&m1, 12, 26, 9);
    qt_ind_stoch_init(&s1, 14, 3);
    qt_ind_roc_init(&c1, 20);
    qt_ind_vwap_init(&v1, 20);
    double *hi = malloc(b->n * sizeof *hi), *lo = malloc(b->n * sizeof *lo),
           *vol = malloc(b->n * sizeof *vol);
    for (size_t i = 0; i < b->n; i++) {
        hi[i] = qt_fixed_to_double(b->bars.bars[i].high);
        lo[i] = qt_fixed_to_double(b->bars.bars[i].low);
        vol[i] = qt_fixed_to_double(b->bars.bars[i].volume);
    }
    size_t half = 777;
    for (size_t i = 0; i < half; i++) {
        qt_ind_wma_update(&w1, b->close[i]);
        qt_ind_rsi_update(&r1, b->close[i]);
        qt_ind_atr_update(&a1, hi[i], lo[i], b->close[i]);
        qt_ind_macd_update(&m1, b->close[i]);
        qt_ind_stoch_update(&s1, hi[i], lo[i], b->close[i]);
        qt_ind_roc_update(&c1, b->close[i]);
        qt_ind_vwap_update(&v1, hi[i], lo[i], b->close[i], vol[i]);
    }
    qt_buf_t buf;
    qt_buf_init(&buf);
    qt_ind_wma_save(&w1, &buf);
    qt_ind_rsi_save(&r1, &buf);
    qt_ind_atr_save(&a1, &buf);
    qt_ind_macd_save(&m1, &buf);
    qt_ind_stoch_save(&s1, &buf);
    qt_ind_roc_save(&c1, &buf);
    qt_ind_vwap_save(&v1, &buf);
    qt_reader_t r;
    qt_reader_init(&r, buf.data, buf.len);
    assert_true(qt_ind_wma_load(&w2, &r, 10));
    assert_true(qt_ind_rsi_load(&r2, &r, 14));
    assert_true(qt_ind_atr_load(&a2, &r, 14));
    assert_true(qt_ind_macd_load(&m2, &r, 12, 26, 9));
    assert_true(qt_ind_stoch_load(&s2, &r, 14, 3));
    assert_true(qt_ind_roc_load(&c2, &r, 20));
    assert_true(qt_ind_vwap_load(&v2, &r, 20));
    assert_true(qt_reader_done(&r));
    for (size_t i = half; i < b->n; i++) {
        qt_ind_wma_update(&w1, b->close[i]);
        qt_ind_wma_update(&w2, b->close[i]);
        qt_ind_rsi_update(&r1, b->close[i]);
        qt_ind_rsi_update(&r2, b->close[i]);
        qt_ind_atr_update(&a1, hi[i], lo[i], b->close[i]);
        qt_ind_atr_update(&a2, hi[i], lo[i], b->close[i]);
        qt_ind_macd_update(&m1, b->close[i]);
        qt_ind_macd_update(&m2, b->close[i]);
        qt_ind_stoch_update(&s1, hi[i], lo[i], b->close[i]);
        qt_ind_stoch_update(&s2, hi[i], lo[i], b->close[i]);
        qt_ind_roc_update(&c1, b->close[i]);
        qt_ind_roc_update(&c2, b->close[i]);
        qt_ind_vwap_update(&v1, hi[i], lo[i], b->close[i], vol[i]);
        qt_ind_vwap_update(&v2, hi[i], lo[i], b->close[i], vol[i]);
        assert_true(qt_ind_wma_value(&w1) == qt_ind_wma_value(&w2));
        assert_true(qt_ind_rsi_value(&r1) == qt_ind_rsi_value(&r2));
        assert_true(qt_ind_atr_value(&a1) == qt_ind_atr_value(&a2));
        assert_true(qt_ind_macd_hist(&m1) == qt_ind_macd_hist(&m2));
        assert_true(qt_ind_stoch_k(&s1) == qt_ind_stoch_k(&s2));   /* rebuilt deques */
        assert_true(qt_ind_stoch_d(&s1) == qt_ind_stoch_d(&s2));
        assert_true(qt_ind_roc_value(&c1) == qt_ind_roc_value(&c2));
        assert_true(qt_ind_vwap_value(&v1) == qt_ind_vwap_value(&v2));
    }
    /* refusals: every truncation of the stoch and macd records, wrong parameters */
    qt_buf_t one;
    qt_buf_init(&one);
    qt_ind_stoch_save(&s1, &one);
    for (size_t cut = 0; cut < one.len; cut++) {
        qt_reader_init(&r, one.data, cut);
        assert_false(qt_ind_stoch_load(&s2, &r, 14, 3));
    }
    qt_reader_init(&r, one.data, one.len);
    assert_false(qt_ind_stoch_load(&s2, &r, 14, 4));
    qt_buf_free(&one);
    qt_buf_init(&one);
    qt_ind_macd_save(&m1, &one);
    for (size_t cut = 0; cut < one.len; cut++) {
        qt_reader_init(&r, one.data, cut);
        assert_false(qt_ind_macd_load(&m2, &r, 12, 26, 9));
    }
    qt_reader_init(&r, one.data, one.len);
    assert_false(qt_ind_macd_load(&m2, &r, 12, 27, 9));
    double nan = NAN;
    memcpy(one.data + one.len - 8, &nan, sizeof nan);   /* the macd value */
    qt_reader_init(&r, one.data, one.len);
    assert_false(qt_ind_macd_load(&m2, &r, 12, 26, 9));
    qt_buf_free(&one);
    /* parameter ranges and refused inputs */
    assert_false(qt_ind_macd_init(&m2, 26, 12, 9));
    assert_false(qt_ind_roc_init(&c2, QT_IND_MAX_WINDOW));
    assert_false(qt_ind_atr_update(&a2, 1.0, 2.0, 1.5));   /* high < low */
    assert_false(qt_ind_rsi_update(&r2, INFINITY));
    assert_false(qt_ind_roc_update(&c2, 0.0));
    assert_false(qt_ind_vwap_update(&v2, 2, 1, 1.5, -1));
    qt_buf_free(&buf);
    free(hi);
    free(lo);
    free(vol);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sma_first10_btc),
        cmocka_unit_test(test_streaming_equals_batch_btc),
        cmocka_unit_test(test_ema_seed_is_sma),
        cmocka_unit_test(test_snapshot_roundtrip_continues_identically),
        cmocka_unit_test(test_rejects_nonfinite_and_bad_windows),
        cmocka_unit_test(test_long_run_no_drift),
        cmocka_unit_test(test_new_indicator_snapshots),
    };
    return cmocka_run_group_tests(tests, setup_btc, teardown_btc);
}
