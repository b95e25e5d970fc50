/* Unit tests: services/models core (MA_v1) with hand-computed values and on real BTC
 * 4h features. */
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
#include "models/models.h"
#include "qt_bars.h"

static void mkfv(features_pb_t *pb, features_vec_t *v, double fast, double slow, double rvol,
                 bool ready) {
    memset(v, 0, sizeof *v);
    snprintf(v->symbol, sizeof v->symbol, "BTC_USDT");
    snprintf(v->interval, sizeof v->interval, "4h");
    v->bar_time_ms = 1647475200000LL;
    v->close = 4000000000000LL;
    v->value[FEAT_SMA_FAST] = fast;
    v->value[FEAT_SMA_SLOW] = slow;
    v->value[FEAT_RVOL] = rvol;
    for (int i = 0; i < FEATURES_N; i++) v->ready[i] = ready;
    features_vec_to_pb(v, pb);
}

static void test_known_values(void **state) {
    (void)state;
    models_cfg_t cfg;
    models_cfg_default(&cfg);
    features_pb_t pb;
    features_vec_t v;
    Qt__V1__Signal s;
    mkfv(&pb, &v, 105.0, 100.0, 0.02, true);
    assert_int_equal(models_ma_v1(&cfg, &pb.fv, &s), MODELS_OK);
    double want = tanh(0.05 / 0.02);   /* 0.98661429815143... */
    assert_true(s.ready);
    assert_string_equal(s.model, "MA_v1");
    assert_string_equal(s.symbol, "BTC_USDT");
    assert_int_equal(s.bar_time_ms, 1647475200000LL);
    assert_int_equal(s.close, 4000000000000LL);
    assert_true(fabs(s.score - want) < 1e-12);
    assert_true(fabs(s.score - 0.9866142981514303) < 1e-12);
    assert_true(fabs(s.confidence - want) < 1e-12);
    assert_true(fabs(s.alpha - want * 0.02) < 1e-14);
    assert_true(s.beta == 1.0);
    assert_true(s.volatility == 0.02);
    /* down trend, gain 0.5 */
    cfg.gain = 0.5;
    mkfv(&pb, &v, 99.0, 100.0, 0.01, true);
    models_ma_v1(&cfg, &pb.fv, &s);
    assert_true(fabs(s.score - tanh(0.5 * -0.01 / 0.01)) < 1e-12);
    assert_true(s.score < 0 && fabs(s.confidence - fabs(s.score)) < 1e-15);
    assert_true(s.alpha < 0);
    /* zero volatility: floored at 1e-6, finite, saturates */
    cfg.gain = 1.0;
    mkfv(&pb, &v, 100.5, 100.0, 0.0, true);
    models_ma_v1(&cfg, &pb.fv, &s);
    assert_true(s.ready && isfinite(s.score) && s.score > 0.999999 && s.score <= 1.0);
    assert_true(s.alpha == 0.0 && s.volatility == 0.0);
    /* flat: score exactly 0 */
    mkfv(&pb, &v, 100.0, 100.0, 0.03, true);
    models_ma_v1(&cfg, &pb.fv, &s);
    assert_true(s.ready && s.score == 0.0 && s.confidence == 0.0);
}

static void test_not_ready_and_invalid(void **state) {
    (void)state;
    models_cfg_t cfg;
    models_cfg_default(&cfg);
    features_pb_t pb;
    features_vec_t v;
    Qt__V1__Signal s;
    for (int k = 0; k < 3; k++) {
        mkfv(&pb, &v, 105.0, 100.0, 0.02, true);
        int idx = k == 0 ? FEAT_SMA_FAST : k == 1 ? FEAT_SMA_SLOW : FEAT_RVOL;
        pb.f[idx].ready = false;
        assert_int_equal(models_ma_v1(&cfg, &pb.fv, &s), MODELS_OK);
        assert_false(s.ready);
        assert_true(s.score == 0.0 && s.confidence == 0.0 && s.alpha == 0.0 && s.beta == 1.0);
        assert_true(s.volatility == (k == 2 ? 0.0 : 0.02));
    }
    /* a missing feature (fewer features) is not ready either */
    mkfv(&pb, &v, 105.0, 100.0, 0.02, true);
    pb.fv.n_features = FEAT_SMA_SLOW;   /* drops sma_slow, ema_*, rvol */
    models_ma_v1(&cfg, &pb.fv, &s);
    assert_false(s.ready);
    mkfv(&pb, &v, 105.0, 100.0, 0.02, true);
    pb.fv.feature_schema = 2;
    assert_int_equal(models_ma_v1(&cfg, &pb.fv, &s), MODELS_INVALID);
    pb.fv.feature_schema = 1;
    pb.fv.symbol = (char *)"";
    assert_int_equal(models_ma_v1(&cfg, &pb.fv, &s), MODELS_INVALID);
    assert_int_equal(models_ma_v1(&cfg, NULL, &s), MODELS_INVALID);
    cfg.gain = 0.0;
    assert_false(models_cfg_valid(&cfg, NULL, 0));
    cfg.gain = NAN;
    assert_false(models_cfg_valid(&cfg, NULL, 0));
}

static void test_real_btc_signals(void **state) {
    (void)state;
    const char *dir = getenv("QT_DATA_DIR");
    char path[1024], err[512];
    snprintf(path, sizeof path, "%s/raw/djienne-3EMA_SRSI_ATR-binance/4h/BTC_USDT-4h.json",
             dir && *dir ? dir : "../shared/data");
    qt_bars_t bars;
    qt_bars_init(&bars);
    assert_int_equal(qt_bars_load_file(&bars, path, err, sizeof err), 0);
    features_cfg_t fc;
    features_cfg_default(&fc);
    features_t *f = features_new(&fc);
    models_cfg_t mc;
    models_cfg_default(&mc);
    features_vec_t v;
    features_pb_t pb;
    Qt__V1__Signal s;
    size_t ready = 0, longs = 0, first_ready = 0;
    for (size_t i = 0; i < bars.n; i++) {
        Qt__V1__Bar b = QT__V1__BAR__INIT;
        b.symbol = (char *)"BTC_USDT";
        b.interval = (char *)"4h";
        b.open_time_ms = bars.bars[i].t_ms;
        b.close = bars.bars[i].close;
        assert_int_equal(features_on_bar(f, &b, &v), FEATURES_EMIT);
        features_vec_to_pb(&v, &pb);
        assert_int_equal(models_ma_v1(&mc, &pb.fv, &s), MODELS_OK);
        assert_true(isfinite(s.score) && s.score >= -1.0 && s.score <= 1.0);
        assert_true(isfinite(s.alpha) && isfinite(s.confidence) && isfinite(s.volatility));
        assert_int_equal(s.close, bars.bars[i].close);
        if (s.ready) {
            if (!ready) first_ready = i;
            ready++;
            double fast = v.value[FEAT_SMA_FAST], slow = v.value[FEAT_SMA_SLOW];
            assert_true((s.score > 0) == (fast > slow));
            assert_true(fabs(s.score - tanh((fast / slow - 1.0) / v.value[FEAT_RVOL])) < 1e-12);
            assert_true(fabs(s.alpha - s.score * v.value[FEAT_RVOL]) < 1e-15);
            if (s.score > 0) longs++;
        }
    }
    assert_int_equal(first_ready, 29);          /* sma_slow(30) is the last to warm up */
    assert_int_equal(ready, bars.n - 29);
    printf("    BTC 4h MA_v1: %zu ready signals, %zu long (%.1f%%)\n", ready, longs,
           100.0 * (double)longs / (double)ready);
    assert_true(longs > ready / 4 && longs < ready * 3 / 4);   /* not degenerate */
    features_destroy(&f);
    qt_bars_free(&bars);
}

static void test_state_roundtrip(void **state) {
    (void)state;
    models_cfg_t cfg;
    models_cfg_default(&cfg);
    qt_buf_t b;
    qt_buf_init(&b);
    models_save(&cfg, &b);
    qt_reader_t r;
    qt_reader_init(&r, b.data, b.len);
    assert_true(models_load(&cfg, &r));
    for (size_t cut = 0; cut < b.len; cut++) {
        qt_reader_init(&r, b.data, cut);
        assert_false(models_load(&cfg, &r));
    }
    models_cfg_t other = {.gain = 2.0};
    qt_reader_init(&r, b.data, b.len);
    assert_false(models_load(&other, &r));
    qt_buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_values),
        cmocka_unit_test(test_not_ready_and_invalid),
        cmocka_unit_test(test_real_btc_signals),
        cmocka_unit_test(test_state_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
