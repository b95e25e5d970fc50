/* Unit tests: services/features core on real BTC/ETH 4h bars: values == batch
 * definitions, warm-up flags, duplicates, watermarks, checkpoint round trip, and the
 * feature_schema 2 names/values of the spec features. */
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
#include "qt_featureset.h"

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
            va.names = vb.names = NULL;   /* each core owns its name table */
            assert_memory_equal(&va, &vb, sizeof va);
            assert_int_equal(features_on_bar(a, &e, &va), FEATURES_EMIT);
            assert_int_equal(features_on_bar(b2, &e, &vb), FEATURES_EMIT);
            va.names = vb.names = NULL;
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
        assert_int_equal(pb.fv.feature_schema, 2);
        assert_int_equal(pb.fv.n_features, features_count(f));
        for (size_t k = 0; k < pb.fv.n_features; k++) {
            assert_true(isfinite(pb.fv.features[k]->value));
            assert_string_equal(pb.fv.features[k]->name, features_all_names(f)[k]);
            if (k < FEATURES_N) assert_string_equal(pb.fv.features[k]->name, features_names[k]);
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
    /* a vector built by hand (n 0, no names) is published as the six base features */
    memset(&v, 0, sizeof v);
    features_vec_to_pb(&v, &pb);
    assert_int_equal(pb.fv.n_features, FEATURES_N);
    assert_string_equal(pb.fv.features[5]->name, "rvol");
    features_destroy(&f);
}

/* The names qt-models relies on (feature_schema 2, default spec), in vector order. */
static void test_schema2_names_and_values(void **state) {
    data_t *d = *state;
    static const char *const want[] = {
        "ret_1", "sma_fast", "sma_slow", "ema_fast", "ema_slow", "rvol", "roc_1", "roc_20",
        "roc_60", "zscore_20", "rsi_14", "macd_12_26_9", "macd_signal_12_26_9",
        "macd_hist_12_26_9", "atr_14", "bb_mid_20_2", "bb_upper_20_2", "bb_lower_20_2",
        "stoch_k_14_3", "stoch_d_14_3", "rvol_parkinson_20", "rvol_gk_20", "obv", "vwap_20"};
    size_t nw = sizeof want / sizeof *want;
    features_t *f = fresh();
    assert_int_equal(features_count(f), nw);
    for (size_t i = 0; i < nw; i++) assert_string_equal(features_all_names(f)[i], want[i]);
    /* spec values == a standalone feature set fed the same bars (bit for bit) */
    char err[256];
    qt_featureset_t *fs = qt_featureset_new(FEATURES_DEFAULT_SPEC, NULL, 0, 0, err, sizeof err);
    assert_non_null(fs);
    features_vec_t v;
    for (size_t i = 0; i < 2000; i++) {
        const qt_bar_t *qb = &d->btc.bars[i];
        Qt__V1__Bar b = mkbar("BTC_USDT", qb, 0);
        assert_int_equal(features_on_bar(f, &b, &v), FEATURES_EMIT);
        qt_fs_bar_t fb = {qb->t_ms, qt_fixed_to_double(qb->open), qt_fixed_to_double(qb->high),
                          qt_fixed_to_double(qb->low), qt_fixed_to_double(qb->close),
                          qt_fixed_to_double(qb->volume)};
        assert_true(qt_featureset_update(fs, &fb, NULL));
        assert_int_equal(v.n, nw);
        assert_memory_equal(v.value + FEATURES_N, qt_featureset_values(fs),
                            (nw - FEATURES_N) * sizeof(double));
        assert_memory_equal(v.ready + FEATURES_N, qt_featureset_ready(fs), nw - FEATURES_N);
        if (i == 33) {   /* TA-Lib MACD warm-up: first value at bar index 33 */
            assert_true(v.ready[11] && v.ready[12] && v.ready[13]);
            assert_true(v.ready[10] && v.ready[14]);   /* rsi_14, atr_14 ready from 14 */
        }
        if (i == 32) assert_false(v.ready[11]);
    }
    assert_int_equal(features_stats(f)->fs_rejected, 0);
    /* a bar with only a close (no OHLCV): base features go on, spec features not ready */
    Qt__V1__Bar b = QT__V1__BAR__INIT;
    b.symbol = (char *)"BTC_USDT";
    b.interval = (char *)"4h";
    b.open_time_ms = d->btc.bars[2000].t_ms;
    b.close = d->btc.bars[2000].close;
    assert_int_equal(features_on_bar(f, &b, &v), FEATURES_EMIT);
    assert_true(v.ready[FEAT_SMA_SLOW]);
    for (size_t k = FEATURES_N; k < nw; k++) assert_true(!v.ready[k] && v.value[k] == 0.0);
    assert_int_equal(features_stats(f)->fs_rejected, 1);
    /* the next full bar continues the spec features from where they were */
    Qt__V1__Bar b2 = mkbar("BTC_USDT", &d->btc.bars[2001], 0);
    assert_int_equal(features_on_bar(f, &b2, &v), FEATURES_EMIT);
    assert_true(v.ready[10]);
    qt_featureset_destroy(&fs);
    features_destroy(&f);
    /* spec config: bad specs are refused with a reason; "" = base features only */
    features_cfg_t c;
    features_cfg_default(&c);
    snprintf(c.spec, sizeof c.spec, "rsi:14,bogus:3");
    char why[256];
    assert_false(features_cfg_valid(&c, why, sizeof why));
    assert_non_null(strstr(why, "bogus"));
    assert_null(features_new(&c));
    c.spec[0] = '\0';
    f = features_new(&c);
    assert_int_equal(features_count(f), FEATURES_N);
    Qt__V1__Bar b3 = mkbar("BTC_USDT", &d->btc.bars[0], 0);
    assert_int_equal(features_on_bar(f, &b3, &v), FEATURES_EMIT);
    assert_int_equal(v.n, FEATURES_N);
    /* a snapshot taken with another spec is refused */
    qt_buf_t snap;
    qt_buf_init(&snap);
    features_save(f, &snap);
    features_t *g = fresh();
    qt_reader_t r;
    qt_reader_init(&r, snap.data, snap.len);
    assert_false(features_load(g, &r));
    qt_buf_free(&snap);
    features_destroy(&g);
    features_destroy(&f);
}


/* Multi-horizon in the core: "1d" adds the spec again (suffix _1d) computed on UTC days
 * of the 4h bars; it equals a standalone horizon feature set, survives a checkpoint bit
 * for bit, and is never ready for a symbol whose interval does not divide a day. */
static void test_horizons(void **state) {
    data_t *d = *state;
    features_cfg_t c;
    features_cfg_default(&c);
    snprintf(c.spec, sizeof c.spec, "rsi:14,macd:12:26:9,atr:14");
    snprintf(c.horizons, sizeof c.horizons, "1d");
    features_t *f = features_new(&c);
    assert_non_null(f);
    assert_int_equal(features_count(f), FEATURES_N + 5 * 2);
    assert_string_equal(features_all_names(f)[FEATURES_N + 5], "rsi_14_1d");
    assert_string_equal(features_all_names(f)[FEATURES_N + 9], "atr_14_1d");
    char err[256];
    qt_featureset_t *ref = qt_featureset_new(c.spec, "_1d", 14400000, 86400000, err, sizeof err);
    assert_non_null(ref);
    features_vec_t v;
    size_t ready_days = 0;
    const size_t cut = 1111;
    qt_buf_t snap;
    qt_buf_init(&snap);
    features_t *g = features_new(&c);
    for (size_t i = 0; i < 1800; i++) {
        const qt_bar_t *qb = &d->btc.bars[i];
        Qt__V1__Bar b = mkbar("BTC_USDT", qb, 0);
        assert_int_equal(features_on_bar(f, &b, &v), FEATURES_EMIT);
        qt_fs_bar_t fb = {qb->t_ms, qt_fixed_to_double(qb->open), qt_fixed_to_double(qb->high),
                          qt_fixed_to_double(qb->low), qt_fixed_to_double(qb->close),
                          qt_fixed_to_double(qb->volume)};
        assert_true(qt_featureset_update(ref, &fb, NULL));
        assert_memory_equal(v.value + FEATURES_N + 5, qt_featureset_values(ref), 5 * sizeof(double));
        assert_memory_equal(v.ready + FEATURES_N + 5, qt_featureset_ready(ref), 5);
        if (v.ready[FEATURES_N + 5]) ready_days++;
        if (i + 1 == cut) {
            features_save(f, &snap);
            qt_reader_t r;
            qt_reader_init(&r, snap.data, snap.len);
            assert_true(features_load(g, &r));
        } else if (i + 1 > cut) {
            features_vec_t w;
            assert_int_equal(features_on_bar(g, &b, &w), FEATURES_EMIT);
            assert_memory_equal(w.value, v.value, features_count(f) * sizeof(double));
            assert_memory_equal(w.ready, v.ready, features_count(f));
        }
    }
    /* rsi_14 on days: ready from the 15th completed day (~day 15 of 300) */
    assert_true(ready_days > 1500);
    assert_int_equal(features_stats(f)->horizon_unavailable, 0);
    /* a 5h interval does not divide a day: the _1d outputs are never ready */
    Qt__V1__Bar odd = mkbar("ODD_USDT", &d->eth.bars[0], 0);
    odd.interval = (char *)"5h";
    assert_int_equal(features_on_bar(f, &odd, &v), FEATURES_EMIT);
    assert_int_equal(features_stats(f)->horizon_unavailable, 1);
    for (size_t k = FEATURES_N + 5; k < features_count(f); k++) assert_false(v.ready[k]);
    /* a snapshot with the odd symbol still round-trips */
    qt_buf_t s2;
    qt_buf_init(&s2);
    features_save(f, &s2);
    features_t *h = features_new(&c);
    qt_reader_t r;
    qt_reader_init(&r, s2.data, s2.len);
    assert_true(features_load(h, &r));
    /* other horizons are refused */
    features_cfg_t c2 = c;
    snprintf(c2.horizons, sizeof c2.horizons, "1w");
    features_t *o = features_new(&c2);
    qt_reader_init(&r, s2.data, s2.len);
    assert_false(features_load(o, &r));
    /* bad horizon lists */
    const char *bad[] = {"1x", "0d", "1d,1d", "d", "1d,", "1d,2d,3d,4d,5d", "367d"};
    char why[256];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(c2.horizons, sizeof c2.horizons, "%s", bad[i]);
        assert_false(features_cfg_valid(&c2, why, sizeof why));
    }
    snprintf(c2.horizons, sizeof c2.horizons, "1d");
    c2.spec[0] = '\0';
    assert_false(features_cfg_valid(&c2, why, sizeof why));
    assert_non_null(strstr(why, "spec"));
    features_destroy(&o);
    features_destroy(&h);
    features_destroy(&g);
    features_destroy(&f);
    qt_featureset_destroy(&ref);
    qt_buf_free(&snap);
    qt_buf_free(&s2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_btc_values_match_batch),
        cmocka_unit_test(test_duplicates_and_invalid),
        cmocka_unit_test(test_watermarks),
        cmocka_unit_test(test_checkpoint_roundtrip_identical),
        cmocka_unit_test(test_load_rejects_bad_snapshots),
        cmocka_unit_test(test_pb_never_nan),
        cmocka_unit_test(test_schema2_names_and_values),
        cmocka_unit_test(test_horizons),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
