/* Unit tests: services/features core on real BTC/ETH 4h bars: values == batch
 * definitions, warm-up flags, duplicates, watermarks, checkpoint round trip. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "features/features.h"
#include "qt_bars.h"

typedef struct {
    qt_bars_t btc, eth;
} data_t;

static void load(qt_bars_t *b, const char *sym) {
    const char *dir = getenv("QT_DATA_DIR");
    char path[1024], err[512];
    snprintf(path, sizeof path, "%s/raw/djienne-3EMA_SRSI_ATR-binance/4h/%s-4h.json",
             dir && *dir ? dir : "../shared/data", sym);
    qt_bars_init(b);
    if (qt_bars_load_file(b, path, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        abort();
    }
}

static int setup(void **state) {
    data_t *d = calloc(1, sizeof *d);
    load(&d->btc, "BTC_USDT");
    load(&d->eth, "ETH_USDT");
    *state = d;
    return 0;
}

static int teardown(void **state) {
    data_t *d = *state;
    qt_bars_free(&d->btc);
    qt_bars_free(&d->eth);
    free(d);
    return 0;
}

static Qt__V1__Bar mkbar(const char *sym, const qt_bar_t *b, uint32_t flags) {
    Qt__V1__Bar x = QT__V1__BAR__INIT;
    x.symbol = (char *)sym;
    x.venue = (char *)"binance";
    x.interval = (char *)"4h";
    x.open_time_ms = b->t_ms;
    x.open = b->open;
    x.high = b->high;
    x.low = b->low;
    x.close = b->close;
    x.volume = b->volume;
    x.flags = flags;
    return x;
}

static features_t *fresh(void) {
    features_cfg_t c;
    features_cfg_default(&c);
    features_t *f = features_new(&c);
    assert_non_null(f);
    return f;
}

static void rel_eq(double a, double b, double tol) {
    double s = fabs(b) > 1 ? fabs(b) : 1;
    if (!(fabs(a - b) <= tol * s)) {
        fprintf(stderr, "%.17g vs %.17g\n", a, b);
        fail();
    }
}

static void test_btc_values_match_batch(void **state) {
    data_t *d = *state;
    size_t n = d->btc.n;
    double *close = calloc(n, sizeof *close);
    for (size_t i = 0; i < n; i++) close[i] = qt_fixed_to_double(d->btc.bars[i].close);
    double *sf = malloc(n * 8), *ss = malloc(n * 8), *ef = malloc(n * 8), *es = malloc(n * 8),
           *rv = malloc(n * 8);
    qt_ind_sma_batch(close, n, 10, sf);
    qt_ind_sma_batch(close, n, 30, ss);
    qt_ind_ema_batch(close, n, 12, ef);
    qt_ind_ema_batch(close, n, 26, es);
    qt_ind_logret_stddev_batch(close, n, 20, rv);
    features_t *f = fresh();
    features_vec_t v;
    for (size_t i = 0; i < n; i++) {
        Qt__V1__Bar b = mkbar("BTC_USDT", &d->btc.bars[i], 0);
        assert_int_equal(features_on_bar(f, &b, &v), FEATURES_EMIT);
        assert_string_equal(v.symbol, "BTC_USDT");
        assert_int_equal(v.bar_time_ms, d->btc.bars[i].t_ms);
        assert_int_equal(v.close, d->btc.bars[i].close);
        assert_int_equal(v.ready[FEAT_RET_1], i >= 1);
        assert_int_equal(v.ready[FEAT_SMA_FAST], i >= 9);
        assert_int_equal(v.ready[FEAT_SMA_SLOW], i >= 29);
        assert_int_equal(v.ready[FEAT_EMA_FAST], i >= 11);
        assert_int_equal(v.ready[FEAT_EMA_SLOW], i >= 25);
        assert_int_equal(v.ready[FEAT_RVOL], i >= 20);
        for (int k = 0; k < FEATURES_N; k++) {
            assert_true(isfinite(v.value[k]));
            if (!v.ready[k]) assert_true(v.value[k] == 0.0);
        }
        if (i >= 1) rel_eq(v.value[FEAT_RET_1], log(close[i] / close[i - 1]), 1e-15);
        if (i >= 9) rel_eq(v.value[FEAT_SMA_FAST], sf[i], 1e-12);
        if (i >= 29) rel_eq(v.value[FEAT_SMA_SLOW], ss[i], 1e-12);
        if (i >= 11) rel_eq(v.value[FEAT_EMA_FAST], ef[i], 1e-12);
        if (i >= 25) rel_eq(v.value[FEAT_EMA_SLOW], es[i], 1e-12);
        if (i >= 20) rel_eq(v.value[FEAT_RVOL], rv[i], 1e-9);
    }
    /* known value: SMA10 of the first 10 closes from the exact fixed-point sum */
    features_destroy(&f);
    f = fresh();
    int64_t sum = 0;
    for (size_t i = 0; i < 10; i++) {
        Qt__V1__Bar b = mkbar("BTC_USDT", &d->btc.bars[i], 0);
        features_on_bar(f, &b, &v);
        sum += d->btc.bars[i].close;
    }
    rel_eq(v.value[FEAT_SMA_FAST], (double)sum / 1e9, 1e-14);
    assert_int_equal(features_stats(f)->emitted, 10);
    features_destroy(&f);
    free(close);
    free(sf);
    free(ss);
    free(ef);
    free(es);
    free(rv);
}

static void test_duplicates_and_invalid(void **state) {
    data_t *d = *state;
    features_t *f = fresh();
    features_vec_t v, v2;
    Qt__V1__Bar b0 = mkbar("BTC_USDT", &d->btc.bars[0], 0);
    Qt__V1__Bar b1 = mkbar("BTC_USDT", &d->btc.bars[1], 0);
    assert_int_equal(features_on_bar(f, &b0, &v), FEATURES_EMIT);
    assert_int_equal(features_on_bar(f, &b1, &v), FEATURES_EMIT);
    assert_int_equal(features_on_bar(f, &b1, &v2), FEATURES_DUPLICATE);  /* same time */
    assert_int_equal(features_on_bar(f, &b0, &v2), FEATURES_DUPLICATE);  /* older */
    assert_int_equal(features_stats(f)->duplicates, 2);
    /* the duplicate did not move the state: the next bar gives the uninterrupted value */
    Qt__V1__Bar b2 = mkbar("BTC_USDT", &d->btc.bars[2], 0);
    assert_int_equal(features_on_bar(f, &b2, &v), FEATURES_EMIT);
    rel_eq(v.value[FEAT_RET_1],
           log(qt_fixed_to_double(d->btc.bars[2].close) / qt_fixed_to_double(d->btc.bars[1].close)),
           1e-15);
    /* another symbol at an older time is not a duplicate */
    Qt__V1__Bar e0 = mkbar("ETH_USDT", &d->eth.bars[0], 1);
    assert_int_equal(features_on_bar(f, &e0, &v), FEATURES_EMIT);
    assert_int_equal(v.flags, 1);
    assert_int_equal(features_symbol_count(f), 2);
    Qt__V1__Bar bad = b2;
    bad.open_time_ms += 14400000;
    bad.close = 0;
    assert_int_equal(features_on_bar(f, &bad, &v), FEATURES_INVALID);
    bad.close = 1;
    bad.symbol = (char *)"";
    assert_int_equal(features_on_bar(f, &bad, &v), FEATURES_INVALID);
    bad.symbol = (char *)"A/B";
    assert_int_equal(features_on_bar(f, &bad, &v), FEATURES_INVALID);
    assert_int_equal(features_stats(f)->invalid, 3);
    features_destroy(&f);

    features_cfg_t c;
    features_cfg_default(&c);
    c.max_symbols = 1;
    f = features_new(&c);
    assert_int_equal(features_on_bar(f, &b0, &v), FEATURES_EMIT);
    assert_int_equal(features_on_bar(f, &e0, &v), FEATURES_FULL);
    assert_int_equal(features_stats(f)->full, 1);
    features_destroy(&f);
    c.rvol = 1;
    assert_null(features_new(&c));
    char why[128];
    assert_false(features_cfg_valid(&c, why, sizeof why));
    assert_non_null(strstr(why, "rvol"));
}

static void test_watermarks(void **state) {
    data_t *d = *state;
    features_t *f = fresh();
    features_vec_t v;
    Qt__V1__Watermark wm = QT__V1__WATERMARK__INIT, out;
    wm.stream = (char *)"bars.4h";
    for (size_t i = 0; i < 3; i++) {
        Qt__V1__Bar b = mkbar("BTC_USDT", &d->btc.bars[i], 0);
        Qt__V1__Bar e = mkbar("ETH_USDT", &d->eth.bars[i], 0);
        features_on_bar(f, &b, &v);
        features_on_bar(f, &e, &v);
        wm.event_time_ms = d->btc.bars[i].t_ms;
        wm.count = 2;
        wm.end_of_stream = i == 2;
        assert_true(features_on_watermark(f, &wm, &out));
        assert_int_equal(out.count, 2);
        assert_int_equal(out.event_time_ms, wm.event_time_ms);
        assert_string_equal(out.stream, "bars.4h");
        assert_int_equal(out.end_of_stream, i == 2);
    }
    /* re-delivered watermark (replay after an upstream crash) is not forwarded twice */
    assert_false(features_on_watermark(f, &wm, &out));
    assert_int_equal(features_stats(f)->stale_watermarks, 1);
    features_destroy(&f);
}

/* Interleaved BTC+ETH replay; snapshot at several points; the restored core must produce
 * byte-identical vectors (and snapshots) for the rest of the data. */
static void test_checkpoint_roundtrip_identical(void **state) {
    data_t *d = *state;
    /* align: ETH and BTC have the same first candle */
    assert_int_equal(d->btc.bars[0].t_ms, d->eth.bars[0].t_ms);
    size_t n = d->btc.n < d->eth.n ? d->btc.n : d->eth.n;
    const size_t cuts[] = {0, 1, 7, 25, 1000, 5431};
    for (size_t ci = 0; ci < sizeof cuts / sizeof *cuts; ci++) {
        size_t cut = cuts[ci];
        features_t *a = fresh();
        features_vec_t va, vb;
        for (size_t i = 0; i < cut; i++) {
            Qt__V1__Bar b = mkbar("BTC_USDT", &d->btc.bars[i], 0);
            Qt__V1__Bar e = mkbar("ETH_USDT", &d->eth.bars[i], 0);
            features_on_bar(a, &b, &va);
            features_on_bar(a, &e, &va);
        }
        qt_buf_t snap;
        qt_buf_init(&snap);
        features_save(a, &snap);
        assert_false(snap.oom);
        features_t *b2 = fresh();
        qt_reader_t r;
        qt_reader_init(&r, snap.data, snap.len);
        assert_true(features_load(b2, &r));
        assert_int_equal(features_symbol_count(b2), cut ? 2 : 0);
        size_t end = cut + 300 < n ? cut + 300 : n;
        for (size_t i = cut; i < end; i++) {
            Qt__V1__Bar b = mkbar("BTC_USDT", &d->btc.bars[i], 0);
            Qt__V1__Bar e = mkbar("ETH_USDT", &d->eth.bars[i], 0);
            memset(&va, 0, sizeof va);
            memset(&vb, 0, sizeof vb);
            assert_int_equal(features_on_bar(a, &b, &va), FEATURES_EMIT);
            assert_int_equal(features_on_bar(b2, &b, &vb), FEATURES_EMIT);
            assert_memory_equal(&va, &vb, sizeof va);
            assert_int_equal(features_on_bar(a, &e, &va), FEATURES_EMIT);
            assert_int_equal(features_on_bar(b2, &e, &vb), FEATURES_EMIT);
            assert_memory_equal(&va, &vb, sizeof va);
        }
        /* a re-delivered bar from before the snapshot is a duplicate after restore */
        if (cut) {
            Qt__V1__Bar old = mkbar("BTC_USDT", &d->btc.bars[cut - 1], 0);
            assert_int_equal(features_on_bar(b2, &old, &vb), FEATURES_DUPLICATE);
        }
        qt_buf_t s1, s2;
        qt_buf_init(&s1);
        qt_buf_init(&s2);
        features_save(a, &s1);
        features_save(b2, &s2);
        assert_int_equal(s1.len, s2.len);
        assert_memory_equal(s1.data, s2.data, s1.len);
        qt_buf_free(&s1);
        qt_buf_free(&s2);
        qt_buf_free(&snap);
        features_destroy(&a);
        features_destroy(&b2);
    }
}

static void test_load_rejects_bad_snapshots(void **state) {
    data_t *d = *state;
    features_t *a = fresh();
    features_vec_t v;
    for (size_t i = 0; i < 40; i++) {
        Qt__V1__Bar b = mkbar("BTC_USDT", &d->btc.bars[i], 0);
        features_on_bar(a, &b, &v);
    }
    qt_buf_t snap;
    qt_buf_init(&snap);
    features_save(a, &snap);
    features_t *b2 = fresh();
    qt_reader_t r;
    /* every truncation is refused and leaves the state empty */
    for (size_t cut = 0; cut < snap.len; cut++) {
        qt_reader_init(&r, snap.data, cut);
        assert_false(features_load(b2, &r));
        assert_int_equal(features_symbol_count(b2), 0);
    }
    /* every single-byte corruption is either refused or yields a state that re-saves to
     * exactly the corrupted bytes (i.e. a different but self-consistent value) */
    size_t refused = 0;
    for (size_t i = 0; i < snap.len; i++) {
        snap.data[i] ^= 0x5a;
        qt_reader_init(&r, snap.data, snap.len);
        features_t *c = fresh();
        if (!features_load(c, &r)) {
            refused++;
        } else {
            qt_buf_t re;
            qt_buf_init(&re);
            features_save(c, &re);
            assert_int_equal(re.len, snap.len);
            assert_memory_equal(re.data, snap.data, re.len);
            qt_buf_free(&re);
        }
        features_destroy(&c);
        snap.data[i] ^= 0x5a;
    }
    assert_true(refused > 50);   /* all header, count, length and window fields */
    /* different windows are refused */
    features_cfg_t cfg;
    features_cfg_default(&cfg);
    cfg.sma_fast = 11;
    features_t *other = features_new(&cfg);
    qt_reader_init(&r, snap.data, snap.len);
    assert_false(features_load(other, &r));
    features_destroy(&other);
    /* a failed load leaves an existing state untouched */
    qt_reader_init(&r, snap.data, snap.len);
    assert_true(features_load(b2, &r));
    qt_reader_init(&r, snap.data, 10);
    assert_false(features_load(b2, &r));
    assert_int_equal(features_symbol_count(b2), 1);
    qt_buf_free(&snap);
    features_destroy(&a);
    features_destroy(&b2);
}

static void test_pb_never_nan(void **state) {
    data_t *d = *state;
    features_t *f = fresh();
    features_vec_t v;
    features_pb_t pb;
    for (size_t i = 0; i < d->eth.n; i++) {
        Qt__V1__Bar b = mkbar("ETH_USDT", &d->eth.bars[i], 0);
        assert_int_equal(features_on_bar(f, &b, &v), FEATURES_EMIT);
        features_vec_to_pb(&v, &pb);
        assert_int_equal(pb.fv.feature_schema, 1);
        assert_int_equal(pb.fv.n_features, FEATURES_N);
        for (size_t k = 0; k < pb.fv.n_features; k++) {
            assert_true(isfinite(pb.fv.features[k]->value));
            assert_string_equal(pb.fv.features[k]->name, features_names[k]);
        }
    }
    assert_int_equal(features_stats(f)->nonfinite, 0);
    /* a vector holding a NaN (cannot come from the core) is still published finite */
    v.value[FEAT_RVOL] = NAN;
    v.ready[FEAT_RVOL] = true;
    features_vec_to_pb(&v, &pb);
    assert_true(pb.f[FEAT_RVOL].value == 0.0);
    assert_false(pb.f[FEAT_RVOL].ready);
    assert_string_equal(pb.fv.symbol, "ETH_USDT");
    features_destroy(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_btc_values_match_batch),
        cmocka_unit_test(test_duplicates_and_invalid),
        cmocka_unit_test(test_watermarks),
        cmocka_unit_test(test_checkpoint_roundtrip_identical),
        cmocka_unit_test(test_load_rejects_bad_snapshots),
        cmocka_unit_test(test_pb_never_nan),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
