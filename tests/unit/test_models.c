/* Unit tests: services/models core. MA_v1 with hand-computed values and, on real BTC 4h
 * features, identical to the legacy single-model path through the generator interface and
 * the shipped configs; every other model with hand values and on real Binance 4h prices
 * (features from libs/quant/qt_featureset); the translator; checkpoints; the XGBoost hot
 * swap with an injected promotion pointer (no Redis). */
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
#include "qt_drift.h"
#include "qt_featureset.h"
#include "../lib/qt_testdata.h"

/* ------------------------------------------------------------------ helpers */

#define TFV_MAX 32
typedef struct {
    Qt__V1__FeatureVector fv;
    Qt__V1__Feature f[TFV_MAX];
    Qt__V1__Feature *fp[TFV_MAX];
    char sym[40];
    char names[TFV_MAX][48];
} tfv_t;

static void tfv_init(tfv_t *t, const char *sym, int64_t t_ms, int64_t close) {
    memset(t, 0, sizeof *t);
    qt__v1__feature_vector__init(&t->fv);
    snprintf(t->sym, sizeof t->sym, "%s", sym);
    t->fv.symbol = t->sym;
    t->fv.interval = (char *)"4h";
    t->fv.bar_time_ms = t_ms;
    t->fv.close = close;
    t->fv.feature_schema = 1;
    t->fv.features = t->fp;
}

static void tfv_add(tfv_t *t, const char *name, double v, bool ready) {
    size_t i = t->fv.n_features++;
    assert_true(i < TFV_MAX);
    qt__v1__feature__init(&t->f[i]);
    snprintf(t->names[i], sizeof t->names[i], "%s", name);
    t->f[i].name = t->names[i];
    t->f[i].value = v;
    t->f[i].ready = ready;
    t->fp[i] = &t->f[i];
}

static models_t *mk(const char *model, models_cfg_t *cfg_out) {
    models_cfg_t cfg;
    models_cfg_default(&cfg);
    snprintf(cfg.model, sizeof cfg.model, "%s", model);
    if (cfg_out) *cfg_out = cfg;
    char why[256] = "";
    models_t *m = models_new(&cfg, NULL, why, sizeof why);
    if (!m) fprintf(stderr, "models_new: %s\n", why);
    assert_non_null(m);
    return m;
}

static const Qt__V1__Signal *one(models_t *m, const tfv_t *t, models_out_t *o) {
    bool em = false;
    assert_int_equal(models_on_features(m, &t->fv, o, &em), MODELS_OK);
    assert_true(em);
    return &o->sig;
}

/* Real 4h features of one pair from qt_featureset, with the live service's schema-1
 * names as aliases (sma_fast = sma_10, ...). */
#define FS_SPEC "sma:10,sma:30,ema:12,ema:26,rvol:20,roc:60,zscore:20,roc:1,rsi:14"
static const char *const ALIAS[][2] = {{"sma_10", "sma_fast"}, {"sma_30", "sma_slow"},
                                       {"ema_12", "ema_fast"}, {"ema_26", "ema_slow"},
                                       {"rvol_20", "rvol"}};
typedef struct {
    size_t n, nout;
    int64_t *t;
    int64_t *close;
    double *v;   /* n x nout */
    bool *r;
    const char *const *names;
    qt_featureset_t *fs;
} series_t;

static void series_load(const char *pair, series_t *s) {
    qt_bars_t bars;
    qt_testdata_load_4h(pair, &bars);
    char err[256];
    s->fs = qt_featureset_new(FS_SPEC, NULL, 4 * 3600 * 1000LL, 0, err, sizeof err);
    assert_non_null(s->fs);
    s->nout = qt_featureset_n_outputs(s->fs);
    s->names = qt_featureset_names(s->fs);
    s->n = bars.n;
    s->t = calloc(bars.n, sizeof *s->t);
    s->close = calloc(bars.n, sizeof *s->close);
    s->v = calloc(bars.n * s->nout, sizeof *s->v);
    s->r = calloc(bars.n * s->nout, sizeof *s->r);
    assert_true(s->t && s->close && s->v && s->r);
    for (size_t i = 0; i < bars.n; i++) {
        const qt_bar_t *b = &bars.bars[i];
        qt_fs_bar_t fb = {b->t_ms, qt_fixed_to_double(b->open), qt_fixed_to_double(b->high),
                          qt_fixed_to_double(b->low), qt_fixed_to_double(b->close),
                          qt_fixed_to_double(b->volume)};
        assert_true(qt_featureset_update(s->fs, &fb, NULL));
        s->t[i] = b->t_ms;
        s->close[i] = b->close;
        memcpy(s->v + i * s->nout, qt_featureset_values(s->fs), s->nout * sizeof(double));
        memcpy(s->r + i * s->nout, qt_featureset_ready(s->fs), s->nout * sizeof(bool));
    }
    qt_bars_free(&bars);
}

static void series_free(series_t *s) {
    free(s->t);
    free(s->close);
    free(s->v);
    free(s->r);
    qt_featureset_destroy(&s->fs);
}

static void series_fv(const series_t *s, const char *sym, size_t i, tfv_t *t) {
    tfv_init(t, sym, s->t[i], s->close[i]);
    for (size_t k = 0; k < s->nout; k++) {
        const char *name = s->names[k];
        for (size_t a = 0; a < sizeof ALIAS / sizeof ALIAS[0]; a++)
            if (strcmp(name, ALIAS[a][0]) == 0) name = ALIAS[a][1];
        tfv_add(t, name, s->v[i * s->nout + k], s->r[i * s->nout + k]);
    }
}

static double series_get(const series_t *s, size_t i, const char *name, bool *ready) {
    for (size_t k = 0; k < s->nout; k++)
        if (strcmp(s->names[k], name) == 0) {
            if (ready) *ready = s->r[i * s->nout + k];
            return s->v[i * s->nout + k];
        }
    fail_msg("feature %s not in the spec", name);
    return NAN;
}

/* ------------------------------------------------------------------ MA_v1 */

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
    assert_string_equal(s.model_version, "builtin");
    assert_string_equal(s.symbol, "BTC_USDT");
    assert_int_equal(s.bar_time_ms, 1647475200000LL);
    assert_int_equal(s.close, 4000000000000LL);
    assert_true(fabs(s.score - want) < 1e-12);
    assert_true(fabs(s.score - 0.9866142981514303) < 1e-12);
    assert_true(fabs(s.confidence - want) < 1e-12);
    assert_true(fabs(s.alpha - want * 0.02) < 1e-14);
    assert_true(s.beta == 1.0);
    assert_true(s.volatility == 0.02);
    /* the same through the interface (default translator) */
    models_t *m = mk("MA_v1", NULL);
    models_out_t o;
    bool em = false;
    assert_int_equal(models_on_features(m, &pb.fv, &o, &em), MODELS_OK);
    assert_true(em);
    const Qt__V1__Signal *q = &o.sig;
    assert_true(q->score == s.score && q->alpha == s.alpha && q->beta == 1.0 && q->ready);
    assert_string_equal(q->model, "MA_v1");
    assert_string_equal(q->model_version, "builtin");
    assert_false(models_cross_sectional(m));
    models_destroy(&m);
    assert_null(m);
    /* down trend, gain 0.5 */
    cfg.ma_v1.gain = 0.5;
    mkfv(&pb, &v, 99.0, 100.0, 0.01, true);
    models_ma_v1(&cfg, &pb.fv, &s);
    assert_true(fabs(s.score - tanh(0.5 * -0.01 / 0.01)) < 1e-12);
    assert_true(s.score < 0 && fabs(s.confidence - fabs(s.score)) < 1e-15);
    assert_true(s.alpha < 0);
    /* zero volatility: floored at 1e-6, finite, saturates */
    cfg.ma_v1.gain = 1.0;
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
    /* features are read by name: a later schema is accepted, schema 0 is not */
    mkfv(&pb, &v, 105.0, 100.0, 0.02, true);
    pb.fv.feature_schema = 2;
    assert_int_equal(models_ma_v1(&cfg, &pb.fv, &s), MODELS_OK);
    assert_true(s.ready);
    pb.fv.feature_schema = 0;
    assert_int_equal(models_ma_v1(&cfg, &pb.fv, &s), MODELS_INVALID);
    pb.fv.feature_schema = 1;
    pb.fv.symbol = (char *)"";
    assert_int_equal(models_ma_v1(&cfg, &pb.fv, &s), MODELS_INVALID);
    pb.fv.symbol = (char *)"BTC USDT";
    assert_int_equal(models_ma_v1(&cfg, &pb.fv, &s), MODELS_INVALID);
    pb.fv.symbol = (char *)"BTC_USDT";
    pb.fv.bar_time_ms = -1;
    assert_int_equal(models_ma_v1(&cfg, &pb.fv, &s), MODELS_INVALID);
    assert_int_equal(models_ma_v1(&cfg, NULL, &s), MODELS_INVALID);
    cfg.ma_v1.gain = 0.0;
    assert_false(models_cfg_valid(&cfg, NULL, 0));
    cfg.ma_v1.gain = NAN;
    assert_false(models_cfg_valid(&cfg, NULL, 0));
    models_cfg_default(&cfg);
    snprintf(cfg.model, sizeof cfg.model, "MA_v2");
    char why[200];
    assert_false(models_cfg_valid(&cfg, why, sizeof why));
    assert_non_null(strstr(why, "MA_v2"));
    assert_null(models_new(&cfg, NULL, why, sizeof why));
}

/* MA_v1 through the interface with the shipped configs/models.yml + alpha_beta.yml is
 * bit-identical to the legacy formula on every real BTC 4h bar. */
static void test_real_btc_signals(void **state) {
    (void)state;
    qt_bars_t bars;
    qt_testdata_load_4h("BTC_USDT", &bars);
    char err[512], why[256] = "", dir[256];
    qt_config_t *mc = qt_config_load("configs/models.yml", err, sizeof err);
    qt_config_t *ac = qt_config_load("configs/alpha_beta.yml", err, sizeof err);
    assert_non_null(mc);
    assert_non_null(ac);
    models_cfg_t mcfg;
    models_ab_t ab;
    double reload_s = 0;
    assert_true(models_cfg_from_config(mc, &mcfg, dir, sizeof dir, &reload_s, why, sizeof why));
    assert_true(models_ab_from_config(ac, &ab, why, sizeof why));
    assert_string_equal(mcfg.model, "MA_v1");   /* the default stays MA_v1 */
    assert_string_equal(dir, "var/models");
    assert_true(reload_s == 10.0);
    models_t *m = models_new(&mcfg, &ab, why, sizeof why);
    assert_non_null(m);
    features_cfg_t fc;
    features_cfg_default(&fc);
    features_t *f = features_new(&fc);
    features_vec_t v;
    features_pb_t pb;
    Qt__V1__Signal s;
    models_out_t o;
    size_t ready = 0, longs = 0, first_ready = 0;
    for (size_t i = 0; i < bars.n; i++) {
        Qt__V1__Bar b = QT__V1__BAR__INIT;
        b.symbol = (char *)"BTC_USDT";
        b.interval = (char *)"4h";
        b.open_time_ms = bars.bars[i].t_ms;
        b.close = bars.bars[i].close;
        assert_int_equal(features_on_bar(f, &b, &v), FEATURES_EMIT);
        features_vec_to_pb(&v, &pb);
        assert_int_equal(models_ma_v1(&mcfg, &pb.fv, &s), MODELS_OK);
        bool em = false;
        assert_int_equal(models_on_features(m, &pb.fv, &o, &em), MODELS_OK);
        assert_true(em);
        assert_true(o.sig.ready == s.ready && o.sig.score == s.score &&
                    o.sig.confidence == s.confidence && o.sig.alpha == s.alpha &&
                    o.sig.beta == s.beta && o.sig.volatility == s.volatility &&
                    o.sig.close == s.close && o.sig.bar_time_ms == s.bar_time_ms);
        assert_true(isfinite(s.score) && s.score >= -1.0 && s.score <= 1.0);
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
    assert_true(longs > ready / 4 && longs < ready * 3 / 4);   /* not degenerate */
    features_destroy(&f);
    models_destroy(&m);
    qt_config_destroy(&mc);
    qt_config_destroy(&ac);
    qt_bars_free(&bars);
}

/* ------------------------------------------------------------------ other models */

static void test_rule_models_known_values(void **state) {
    (void)state;
    models_out_t o;
    tfv_t t;
    /* TSMOM: roc_60 = 12 (%), rvol 0.02, horizon 60: tanh(0.12 / (0.02 sqrt 60)) */
    models_t *m = mk("TSMOM_v1", NULL);
    tfv_init(&t, "ETH_USDT", 3600000, 100000000);
    tfv_add(&t, "roc_60", 12.0, true);
    tfv_add(&t, "rvol", 0.02, true);
    const Qt__V1__Signal *s = one(m, &t, &o);
    double want = tanh(0.12 / (0.02 * sqrt(60.0)));
    assert_true(s->ready && fabs(s->score - want) < 1e-15 && fabs(want - 0.6495943886296544) < 1e-15);
    assert_true(s->confidence == fabs(s->score) && s->volatility == 0.02);
    assert_string_equal(s->model, "TSMOM_v1");
    /* default translator: alpha = score * vol */
    assert_true(fabs(s->alpha - want * 0.02) < 1e-16 && s->beta == 1.0);
    /* missing roc -> not ready, volatility still reported */
    tfv_init(&t, "ETH_USDT", 3600000, 100000000);
    tfv_add(&t, "rvol", 0.02, true);
    s = one(m, &t, &o);
    assert_false(s->ready);
    assert_true(s->score == 0 && s->alpha == 0 && s->volatility == 0.02);
    models_destroy(&m);

    /* MEANREV: z = 2, gain 0.5 -> -tanh(1) */
    m = mk("MEANREV_v1", NULL);
    tfv_init(&t, "ETH_USDT", 3600000, 100000000);
    tfv_add(&t, "zscore_20", 2.0, true);
    tfv_add(&t, "rvol", 0.01, true);
    s = one(m, &t, &o);
    assert_true(s->ready && fabs(s->score + tanh(1.0)) < 1e-15);
    tfv_init(&t, "ETH_USDT", 3600000, 100000000);
    tfv_add(&t, "zscore_20", NAN, true);   /* non-finite: not ready, never NaN */
    tfv_add(&t, "rvol", 0.01, true);
    s = one(m, &t, &o);
    assert_false(s->ready);
    assert_true(s->score == 0.0 && isfinite(s->alpha));
    models_destroy(&m);

    /* VOLTREND: up trend, rvol 0.02, target 0.01 -> 0.5; rvol 0.005 -> capped at 1 */
    m = mk("VOLTREND_v1", NULL);
    tfv_init(&t, "ETH_USDT", 3600000, 100000000);
    tfv_add(&t, "ema_fast", 101.0, true);
    tfv_add(&t, "ema_slow", 100.0, true);
    tfv_add(&t, "rvol", 0.02, true);
    s = one(m, &t, &o);
    assert_true(s->ready && s->score == 0.5 && s->confidence == 0.5);
    tfv_init(&t, "ETH_USDT", 3600000, 100000000);
    tfv_add(&t, "ema_fast", 99.0, true);
    tfv_add(&t, "ema_slow", 100.0, true);
    tfv_add(&t, "rvol", 0.005, true);
    s = one(m, &t, &o);
    assert_true(s->ready && s->score == -1.0);
    tfv_init(&t, "ETH_USDT", 3600000, 100000000);
    tfv_add(&t, "ema_fast", 99.0, false);   /* not ready */
    tfv_add(&t, "ema_slow", 100.0, true);
    tfv_add(&t, "rvol", 0.005, true);
    s = one(m, &t, &o);
    assert_false(s->ready);
    models_destroy(&m);

    /* ENSEMBLE (default members MA_v1 0.5, TSMOM_v1 0.3, MEANREV_v1 0.2) */
    m = mk("ENSEMBLE_v1", NULL);
    tfv_init(&t, "ETH_USDT", 3600000, 100000000);
    tfv_add(&t, "sma_fast", 102.0, true);
    tfv_add(&t, "sma_slow", 100.0, true);
    tfv_add(&t, "rvol", 0.02, true);
    tfv_add(&t, "roc_60", -6.0, true);
    tfv_add(&t, "zscore_20", 1.0, true);
    s = one(m, &t, &o);
    double s1 = tanh(0.02 / 0.02), s2 = tanh(-0.06 / (0.02 * sqrt(60.0))), s3 = -tanh(0.5);
    double es = 0.5 * s1 + 0.3 * s2 + 0.2 * s3;
    double ec = 0.5 * fabs(s1) + 0.3 * fabs(s2) + 0.2 * fabs(s3);
    assert_true(s->ready && fabs(s->score - es) < 1e-15 && fabs(s->confidence - ec) < 1e-15);
    assert_string_equal(s->model, "ENSEMBLE_v1");
    t.f[4].ready = false;   /* one member not ready -> ensemble not ready */
    s = one(m, &t, &o);
    assert_false(s->ready);
    models_destroy(&m);
}

static void test_translator(void **state) {
    (void)state;
    models_ab_t ab;
    models_ab_default(&ab);
    ab.dflt = (models_ab_coef_t){.k_alpha = 2.0, .conf_power = 1.0, .beta = 3.0,
                                 .beta_uncertainty = 1.0};
    Qt__V1__Signal s = QT__V1__SIGNAL__INIT;
    s.ready = true;
    s.score = -0.5;
    s.confidence = 0.5;
    s.volatility = 0.02;
    models_ab_apply(models_ab_for(&ab, "TSMOM_v1"), &s);
    assert_true(fabs(s.alpha - 2.0 * -0.5 * 0.5 * 0.02) < 1e-17);   /* -0.01 */
    assert_true(fabs(s.beta - 3.0 * 1.5) < 1e-15);
    s.ready = false;
    models_ab_apply(&ab.dflt, &s);
    assert_true(s.alpha == 0.0 && s.beta == 3.0);
    /* shipped alpha_beta.yml: MA_v1 keeps 1,0,1,0; default applies conf_power 1 */
    char err[512], why[256];
    qt_config_t *ac = qt_config_load("configs/alpha_beta.yml", err, sizeof err);
    assert_non_null(ac);
    assert_true(models_ab_from_config(ac, &ab, why, sizeof why));
    const models_ab_coef_t *c = models_ab_for(&ab, "MA_v1");
    assert_true(c->k_alpha == 1.0 && c->conf_power == 0.0 && c->beta == 1.0 &&
                c->beta_uncertainty == 0.0);
    c = models_ab_for(&ab, "XGB_v1");
    assert_true(c->beta == 2.0 && c->conf_power == 1.0 && c->k_alpha == 1.0);
    c = models_ab_for(&ab, "TSMOM_v1");
    assert_true(c == &ab.dflt && c->beta_uncertainty == 1.0);
    qt_config_destroy(&ac);
    /* unknown model names and bad values are refused with the key */
    const char *bad = "default: {k_alpha: 1}\nmodels:\n  NOPE_v1: {beta: 1}\n";
    ac = qt_config_parse(bad, strlen(bad), "ab.yml", err, sizeof err);
    assert_non_null(ac);
    assert_false(models_ab_from_config(ac, &ab, why, sizeof why));
    assert_non_null(strstr(why, "NOPE_v1"));
    qt_config_destroy(&ac);
    bad = "default: {beta: -1}\n";
    ac = qt_config_parse(bad, strlen(bad), "ab.yml", err, sizeof err);
    assert_false(models_ab_from_config(ac, &ab, why, sizeof why));
    assert_non_null(strstr(why, "default.beta"));
    qt_config_destroy(&ac);
}

static void test_xsmom_batch(void **state) {
    (void)state;
    models_t *m = mk("XSMOM_v1", NULL);
    assert_true(models_cross_sectional(m));
    const char *syms[] = {"DDD", "AAA", "CCC", "BBB", "EEE"};
    double roc[] = {5.0, -3.0, 5.0, 10.0, 0.0};
    bool ready[] = {true, true, true, true, false};
    models_out_t out[8], o;
    for (int k = 0; k < 5; k++) {
        tfv_t t;
        tfv_init(&t, syms[k], 7200000, 100000000 + k);
        tfv_add(&t, "roc_60", roc[k], ready[k]);
        tfv_add(&t, "rvol", 0.01 * (k + 1), true);
        bool em = true;
        assert_int_equal(models_on_features(m, &t.fv, &o, &em), MODELS_OK);
        assert_false(em);
    }
    assert_int_equal(models_pending(m), 5);
    assert_int_equal(models_on_watermark(m, out, 4), 0);   /* cap too small: nothing */
    assert_int_equal(models_on_watermark(m, out, 8), 5);
    assert_int_equal(models_pending(m), 0);
    /* symbol order AAA BBB CCC DDD EEE; ranks among the 4 ready: AAA(-3) < CCC(5) =
     * DDD(5) (tie by name) < BBB(10) -> -1, +1, -1/3, +1/3; EEE not ready */
    const char *order[] = {"AAA", "BBB", "CCC", "DDD", "EEE"};
    double want[] = {-1.0, 1.0, -1.0 / 3.0, 1.0 / 3.0, 0.0};
    for (int k = 0; k < 5; k++) {
        assert_string_equal(out[k].sig.symbol, order[k]);
        assert_true(fabs(out[k].sig.score - want[k]) < 1e-15);
        assert_true(out[k].sig.ready == (k != 4));
        assert_string_equal(out[k].sig.model, "XSMOM_v1");
    }
    assert_true(out[0].sig.volatility == 0.02 && out[0].sig.close == 100000001);
    /* fewer than min_symbols (3) ready: nobody is ready */
    for (int k = 0; k < 2; k++) {
        tfv_t t;
        tfv_init(&t, syms[k], 7200000, 1);
        tfv_add(&t, "roc_60", roc[k], true);
        tfv_add(&t, "rvol", 0.01, true);
        bool em;
        models_on_features(m, &t.fv, &o, &em);
        models_on_features(m, &t.fv, &o, &em);   /* same symbol again replaces */
    }
    assert_int_equal(models_pending(m), 2);
    assert_int_equal(models_on_watermark(m, out, 8), 2);
    assert_false(out[0].sig.ready || out[1].sig.ready);
    models_destroy(&m);
}

/* ------------------------------------------------------------------ real prices */

static void test_real_tsmom_meanrev_voltrend(void **state) {
    (void)state;
    series_t s;
    series_load("ETH_USDT", &s);
    models_t *ts = mk("TSMOM_v1", NULL), *mr = mk("MEANREV_v1", NULL), *vt = mk("VOLTREND_v1", NULL);
    size_t rts = 0, rmr = 0, rvt = 0, first_ts = 0, ts_long = 0, mr_long = 0, capped = 0;
    for (size_t i = 0; i < s.n; i++) {
        tfv_t t;
        models_out_t o1, o2, o3;
        series_fv(&s, "ETH_USDT", i, &t);
        const Qt__V1__Signal *a = one(ts, &t, &o1), *b = one(mr, &t, &o2), *c = one(vt, &t, &o3);
        bool r1, r2, r3, r4, r5;
        double roc = series_get(&s, i, "roc_60", &r1), rv = series_get(&s, i, "rvol_20", &r2);
        double z = series_get(&s, i, "zscore_20", &r3);
        double ef = series_get(&s, i, "ema_12", &r4), es = series_get(&s, i, "ema_26", &r5);
        assert_true(a->ready == (r1 && r2));
        assert_true(b->ready == (r3 && r2));
        assert_true(c->ready == (r4 && r5 && r2));
        if (a->ready) {
            if (!rts) first_ts = i;
            rts++;
            assert_true(fabs(a->score - tanh(0.01 * roc / (rv * sqrt(60.0)))) < 1e-12);
            assert_true((a->score > 0) == (roc > 0));
            ts_long += a->score > 0;
        }
        if (b->ready) {
            rmr++;
            assert_true((b->score > 0) == (z < 0) || z == 0.0);
            mr_long += b->score > 0;
        }
        if (c->ready) {
            rvt++;
            double lev = 0.01 / rv;
            assert_true(fabs(fabs(c->score) - (lev < 1 ? lev : 1)) < 1e-15 || ef == es);
            assert_true((c->score > 0) == (ef > es));
            capped += fabs(c->score) == 1.0;
        }
        assert_true(fabs(a->score) <= 1.0 && fabs(b->score) <= 1.0 && fabs(c->score) <= 1.0);
        assert_true(isfinite(a->alpha) && isfinite(b->alpha) && isfinite(c->alpha));
    }
    assert_int_equal(first_ts, 60);   /* roc_60 needs 61 closes */
    assert_int_equal(rts, s.n - 60);
    assert_int_equal(rmr, s.n - 20);  /* rvol_20 (21 closes) is the last to warm up */
    printf("    ETH 4h: TSMOM %zu ready, %.1f%% long; MEANREV %.1f%% long; VOLTREND %zu "
           "ready, %zu at the leverage cap\n",
           rts, 100.0 * (double)ts_long / (double)rts, 100.0 * (double)mr_long / (double)rmr,
           rvt, capped);
    assert_true(ts_long > rts / 5 && ts_long < rts * 4 / 5);
    assert_true(mr_long > rmr / 4 && mr_long < rmr * 3 / 4);
    models_destroy(&ts);
    models_destroy(&mr);
    models_destroy(&vt);
    series_free(&s);
}

/* XSMOM on 4 real pairs: at every timestamp where all are ready the scores are exactly
 * {-1, -1/3, 1/3, 1} and follow the order of roc_60. */
static void test_real_xsmom(void **state) {
    (void)state;
    const char *pairs[] = {"BTC_USDT", "ETH_USDT", "SOL_USDT", "ADA_USDT"};
    enum { NP = 4 };
    series_t s[NP];
    for (int p = 0; p < NP; p++) series_load(pairs[p], &s[p]);
    models_t *m = mk("XSMOM_v1", NULL);
    size_t idx[NP] = {0}, batches = 0, full = 0, btc_top = 0;
    models_out_t out[NP];
    for (;;) {
        int64_t t = INT64_MAX;
        for (int p = 0; p < NP; p++)
            if (idx[p] < s[p].n && s[p].t[idx[p]] < t) t = s[p].t[idx[p]];
        if (t == INT64_MAX) break;
        double roc[NP];
        bool have[NP] = {false};
        for (int p = 0; p < NP; p++) {
            if (idx[p] < s[p].n && s[p].t[idx[p]] == t) {
                tfv_t f;
                series_fv(&s[p], pairs[p], idx[p], &f);
                bool em;
                assert_int_equal(models_on_features(m, &f.fv, &out[0], &em), MODELS_OK);
                bool r1, r2;
                roc[p] = series_get(&s[p], idx[p], "roc_60", &r1);
                series_get(&s[p], idx[p], "rvol_20", &r2);
                have[p] = r1 && r2;
                idx[p]++;
            }
        }
        size_t n = models_on_watermark(m, out, NP);
        batches++;
        size_t nready = 0;
        for (size_t k = 0; k < n; k++) nready += out[k].sig.ready;
        if (nready == NP) {
            full++;
            /* out is in symbol order: ADA BTC ETH SOL */
            const int map[NP] = {3, 0, 1, 2};
            for (int a = 0; a < NP; a++)
                for (int b = 0; b < NP; b++)
                    if (roc[map[a]] < roc[map[b]]) assert_true(out[a].sig.score < out[b].sig.score);
            double sum = 0;
            for (int k = 0; k < NP; k++) {
                double x = out[k].sig.score * 3.0;   /* -3, -1, 1, 3 */
                assert_true(fabs(x - round(x)) < 1e-12 && fabs(x) <= 3.0);
                sum += out[k].sig.score;
            }
            assert_true(fabs(sum) < 1e-12);
            btc_top += out[1].sig.score == 1.0;
            assert_true(have[0] && have[1] && have[2] && have[3]);
        }
    }
    printf("    XSMOM 4 pairs: %zu batches, %zu fully ranked, BTC strongest in %zu\n", batches,
           full, btc_top);
    assert_true(full > 1000);
    assert_true(btc_top > 0 && btc_top < full);
    models_destroy(&m);
    for (int p = 0; p < NP; p++) series_free(&s[p]);
}

/* ------------------------------------------------------------------ checkpoints */

static void test_state_roundtrip(void **state) {
    (void)state;
    const char *names[] = {"MA_v1", "TSMOM_v1", "XSMOM_v1", "MEANREV_v1", "VOLTREND_v1",
                           "XGB_v1", "ENSEMBLE_v1"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        models_cfg_t cfg;
        models_t *m = mk(names[k], &cfg);
        qt_buf_t b;
        qt_buf_init(&b);
        models_save(m, &b);
        qt_reader_t r;
        qt_reader_init(&r, b.data, b.len);
        assert_true(models_load(m, &r));
        for (size_t cut = 0; cut < b.len; cut++) {
            qt_reader_init(&r, b.data, cut);
            assert_false(models_load(m, &r));
        }
        /* another configuration refuses the snapshot */
        cfg.ma_v1.gain = 2.0;
        cfg.tsmom.gain = 2.0;
        cfg.xsmom.min_symbols = 5;
        cfg.meanrev.gain = 2.0;
        cfg.voltrend.target_vol = 0.02;
        snprintf(cfg.xgb.registry_name, sizeof cfg.xgb.registry_name, "other");
        models_t *o = models_new(&cfg, NULL, NULL, 0);
        assert_non_null(o);
        qt_reader_init(&r, b.data, b.len);
        assert_false(models_load(o, &r));
        models_destroy(&o);
        /* another model refuses it */
        o = mk(names[(k + 1) % (sizeof names / sizeof names[0])], NULL);
        qt_reader_init(&r, b.data, b.len);
        assert_false(models_load(o, &r));
        models_destroy(&o);
        models_destroy(&m);
        qt_buf_free(&b);
    }
    /* MA_v1's snapshot format is unchanged (magic, version 1, "MA_v1", gain) */
    models_t *m = mk("MA_v1", NULL);
    qt_buf_t b;
    qt_buf_init(&b);
    models_save(m, &b);
    assert_int_equal(b.len, 4 + 4 + 4 + 5 + 8);
    models_destroy(&m);
    qt_buf_free(&b);
}

/* ------------------------------------------------------------------ XGBoost swap */

typedef struct {
    const char *pointer;     /* NULL: no pointer */
    int pointer_rc;
    int reads, loads;
    qt_gbt_t *next;          /* booster handed out by load */
    bool fail_load;
} fake_t;

static int fake_read(void *ud, char *id, size_t idlen) {
    fake_t *f = ud;
    f->reads++;
    if (f->pointer_rc < 0) return -1;
    if (!f->pointer) return 0;
    snprintf(id, idlen, "%s", f->pointer);
    return 1;
}

static int fake_load(void *ud, const char *id, qt_gbt_t **b, models_fname_t *names, size_t *n) {
    fake_t *f = ud;
    (void)id;
    f->loads++;
    if (f->fail_load || !f->next) return -1;
    *b = f->next;
    f->next = NULL;
    snprintf(names[0], sizeof names[0], "roc_1");
    snprintf(names[1], sizeof names[1], "zscore_20");
    *n = 2;
    return 0;
}

/* A small booster on (roc_1, zscore_20) of real BTC bars; label = next close higher. */
static qt_gbt_t *train_small(const series_t *s, uint64_t seed) {
    size_t n = 0;
    float *X = calloc(2 * s->n, sizeof *X), *y = calloc(s->n, sizeof *y);
    for (size_t i = 30; i + 1 < s->n; i++) {
        bool r1, r2;
        X[2 * n] = (float)series_get(s, i, "roc_1", &r1);
        X[2 * n + 1] = (float)series_get(s, i, "zscore_20", &r2);
        y[n] = s->close[i + 1] > s->close[i] ? 1.0f : 0.0f;
        n++;
    }
    qt_gbt_params_t p;
    qt_gbt_params_default(&p);
    p.rounds = 10;
    p.seed = seed;
    char err[256];
    qt_gbt_t *g = qt_gbt_train(X, n, 2, y, NULL, &p, err, sizeof err);
    free(X);
    free(y);
    assert_non_null(g);
    return g;
}

static void test_xgb_hot_swap(void **state) {
    (void)state;
    series_t s;
    series_load("BTC_USDT", &s);
    models_t *m = mk("XGB_v1", NULL);
    assert_true(models_uses_xgb(m));
    tfv_t t;
    models_out_t o;
    series_fv(&s, "BTC_USDT", 500, &t);
    const Qt__V1__Signal *sig = one(m, &t, &o);
    assert_false(sig->ready);                        /* nothing installed yet */
    assert_string_equal(sig->model_version, "builtin");
    assert_true(sig->volatility > 0.0);

    fake_t f = {.pointer = NULL};
    models_reloader_t rl;
    models_reloader_init(&rl, 1000);
    rl.read_pointer = fake_read;
    rl.load = fake_load;
    rl.ud = &f;
    assert_int_equal(models_reload(m, &rl, 0), 0);   /* no pointer */
    assert_int_equal(models_reload(m, &rl, 500), 0); /* rate-limited: not even read */
    assert_int_equal(f.reads, 1);
    const char *ida = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const char *idb = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    f.pointer = ida;
    f.next = train_small(&s, 1);
    assert_int_equal(models_reload(m, &rl, 1000), 1);
    assert_string_equal(models_version(m), ida);
    sig = one(m, &t, &o);
    assert_true(sig->ready && sig->score > -1.0 && sig->score < 1.0);
    assert_string_equal(sig->model_version, ida);
    double score_a = sig->score;
    /* same pointer: no load */
    assert_int_equal(models_reload(m, &rl, 2000), 0);
    assert_int_equal(f.loads, 1);
    /* Redis error: old model kept */
    f.pointer_rc = -1;
    assert_int_equal(models_reload(m, &rl, 3000), -1);
    f.pointer_rc = 0;
    /* a new promotion whose load fails: old kept, that id not retried */
    f.pointer = idb;
    f.fail_load = true;
    assert_int_equal(models_reload(m, &rl, 4000), -1);
    assert_string_equal(models_version(m), ida);
    assert_int_equal(models_reload(m, &rl, 5000), 0);
    assert_int_equal(f.loads, 2);
    /* a different model (other seed) swaps in and changes the prediction */
    f.fail_load = false;
    f.pointer = ida;   /* rollback to a (already current): nothing to do */
    assert_int_equal(models_reload(m, &rl, 6000), 0);
    rl.failed_id[0] = '\0';
    f.pointer = idb;
    f.next = train_small(&s, 99);
    assert_int_equal(models_reload(m, &rl, 7000), 1);
    sig = one(m, &t, &o);
    assert_string_equal(sig->model_version, idb);
    assert_true(sig->ready);
    printf("    XGB swap: score %.6f -> %.6f\n", score_a, sig->score);
    /* a missing feature makes the XGB signal not ready */
    for (size_t k = 0; k < t.fv.n_features; k++)
        if (strcmp(t.names[k], "zscore_20") == 0) t.f[k].ready = false;
    sig = one(m, &t, &o);
    assert_false(sig->ready);
    /* install refuses a width mismatch (booster freed) and non-XGB models */
    const char *nm[3] = {"a", "b", "c"};
    assert_int_equal(models_install_xgb(m, train_small(&s, 3), nm, 3, ida), -1);
    models_t *ma = mk("MA_v1", NULL);
    assert_false(models_uses_xgb(ma));
    assert_int_equal(models_reload(ma, &rl, 99999), 0);
    assert_int_equal(models_install_xgb(ma, train_small(&s, 3), nm, 2, ida), -1);
    models_destroy(&ma);
    /* ensemble with an XGB member */
    models_cfg_t cfg;
    models_cfg_default(&cfg);
    snprintf(cfg.model, sizeof cfg.model, "ENSEMBLE_v1");
    cfg.ensemble.n = 2;
    snprintf(cfg.ensemble.member[1], sizeof cfg.ensemble.member[1], "XGB_v1");
    cfg.ensemble.weight[1] = 1.0;
    models_t *e = models_new(&cfg, NULL, NULL, 0);
    assert_non_null(e);
    assert_true(models_uses_xgb(e));
    series_fv(&s, "BTC_USDT", 500, &t);
    assert_false(one(e, &t, &o)->ready);
    const char *good[2] = {"roc_1", "zscore_20"};
    assert_int_equal(models_install_xgb(e, train_small(&s, 1), good, 2, ida), 0);
    sig = one(e, &t, &o);
    assert_true(sig->ready);
    models_out_t oa;
    models_t *ma2 = mk("MA_v1", NULL);
    const Qt__V1__Signal *sa = one(ma2, &t, &oa);
    assert_true(fabs(sig->score - (0.5 * sa->score + 1.0 * score_a) / 1.5) < 1e-12);
    assert_string_equal(sig->model_version, ida);
    models_destroy(&ma2);
    models_destroy(&e);
    models_destroy(&m);
    series_free(&s);
}

/* ------------------------------------------------------------------ drift monitor */

static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Reference = ETH rvol_20 of bars [1000, 3000) (like qtctl models train writes it); live
 * windows of the same period are stable, a later high-volatility period is not. */
static void test_drift_monitor(void **state) {
    (void)state;
    series_t s;
    series_load("ETH_USDT", &s);
    size_t a = 1000, b = 3000;
    double *v = malloc((b - a) * sizeof *v);
    for (size_t i = a; i < b; i++) v[i - a] = series_get(&s, i, "rvol_20", NULL);
    qt_psi_ref_t ref;
    assert_int_equal(qt_psi_ref_build(v, b - a, 10, &ref), 0);
    qsort(v, b - a, sizeof *v, cmpd);
    json_t *e = json_array(), *f = json_array(), *sm = json_array();
    for (size_t k = 0; k < 9; k++) json_array_append_new(e, json_real(ref.edges[k]));
    for (size_t k = 0; k < 10; k++) json_array_append_new(f, json_real(ref.ref_frac[k]));
    for (size_t k = 0; k < 256; k++) json_array_append_new(sm, json_real(v[(k * (b - a)) / 256]));
    json_t *meta = json_pack("{s:{s:{s:o, s:o, s:o}}}", "reference", "rvol", "edges", e, "frac", f,
                             "sample", sm);
    char err[256];
    models_drift_t *d = models_drift_new(meta, 500, err, sizeof err);
    assert_non_null(d);
    assert_int_equal(models_drift_series(d), 1);
    Qt__V1__Signal sig = QT__V1__SIGNAL__INIT;
    const char *name;
    double psi, ks, p;
    size_t n;
    sig.ready = true;
    for (size_t i = 2000; i < 2050; i++) {
        tfv_t t;
        series_fv(&s, "ETH_USDT", i, &t);
        models_drift_observe(d, &t.fv, &sig);
    }
    assert_false(models_drift_stat(d, 0, 100, &name, &psi, &ks, &p, &n));   /* 50 < min_n */
    assert_int_equal(n, 50);
    for (size_t i = 2050; i < 2500; i++) {
        tfv_t t;
        series_fv(&s, "ETH_USDT", i, &t);
        models_drift_observe(d, &t.fv, &sig);
    }
    assert_true(models_drift_stat(d, 0, 100, &name, &psi, &ks, &p, &n));
    assert_string_equal(name, "rvol");
    assert_int_equal(n, 500);
    /* the same numbers straight from qt_drift */
    double *live = malloc(500 * sizeof *live);
    for (size_t i = 2000; i < 2500; i++) live[i - 2000] = series_get(&s, i, "rvol_20", NULL);
    double want_psi = qt_psi(&ref, live, 500, 0.0);
    assert_true(fabs(psi - want_psi) < 1e-12);
    double psi_in = psi;
    /* the last 500 bars of the file (another regime) */
    for (size_t i = s.n - 500; i < s.n; i++) {
        tfv_t t;
        series_fv(&s, "ETH_USDT", i, &t);
        models_drift_observe(d, &t.fv, &sig);
    }
    assert_true(models_drift_stat(d, 0, 100, &name, &psi, &ks, &p, &n));
    printf("    drift rvol: PSI in-period %.4f, last 500 bars %.4f (KS %.3f, p %.3g)\n", psi_in,
           psi, ks, p);
    assert_true(psi > psi_in);
    /* not-ready signals are ignored */
    sig.ready = false;
    tfv_t t;
    series_fv(&s, "ETH_USDT", 10, &t);
    models_drift_observe(d, &t.fv, &sig);
    assert_true(models_drift_stat(d, 0, 100, &name, &psi, &ks, &p, &n) && n == 500);
    models_drift_destroy(&d);
    assert_null(d);
    /* malformed references are refused */
    json_object_set_new(json_object_get(json_object_get(meta, "reference"), "rvol"), "frac",
                        json_pack("[f, f]", 0.5, 0.6));
    assert_null(models_drift_new(meta, 500, err, sizeof err));
    json_t *empty = json_pack("{s:{}}", "reference");
    assert_null(models_drift_new(empty, 500, err, sizeof err));
    json_decref(empty);
    json_decref(meta);
    free(v);
    free(live);
    series_free(&s);
}

/* Config files: every key optional, errors name the key, the shipped file parses. */
static void test_config_errors(void **state) {
    (void)state;
    struct {
        const char *yml, *want;
    } cases[] = {
        {"models: {model: MA_v2}\n", "MA_v2"},
        {"models: {ma_v1: {gain: 0}}\n", "models.ma_v1.gain"},
        {"models: {tsmom: {horizon: abc}}\n", "models.tsmom.horizon"},
        {"models: {xsmom: {min_symbols: 1}}\n", "models.xsmom.min_symbols"},
        {"models: {model: ENSEMBLE_v1, ensemble: {members: [MA_v1], weights: [1, 2]}}\n",
         "same length"},
        {"models: {model: ENSEMBLE_v1, ensemble: {members: [MA_v1, XSMOM_v1], weights: [1, 2]}}\n",
         "XSMOM_v1"},
        {"models: {model: ENSEMBLE_v1, ensemble: {members: [MA_v1, MA_v1], weights: [1, 2]}}\n",
         "twice"},
        {"models: {meanrev: {z_feature: 'bad name'}}\n", "bad name"},
        {"models: {drift: {window: 5}}\n", "models.drift.window"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char err[512], why[512] = "";
        qt_config_t *c = qt_config_parse(cases[k].yml, strlen(cases[k].yml), "m.yml", err, sizeof err);
        assert_non_null(c);
        models_cfg_t cfg;
        bool ok = models_cfg_from_config(c, &cfg, NULL, 0, NULL, why, sizeof why);
        if (ok || !strstr(why, cases[k].want))
            fail_msg("case %zu: ok=%d why='%s' (want '%s')", k, ok, why, cases[k].want);
        qt_config_destroy(&c);
    }
    /* a valid ensemble of XGB + TSMOM and the env override of the model */
    const char *y = "models: {model: ENSEMBLE_v1, ensemble: {members: [XGB_v1, TSMOM_v1], weights: [2, 1]}}\n";
    char err[512], why[512] = "";
    qt_config_t *c = qt_config_parse(y, strlen(y), "m.yml", err, sizeof err);
    models_cfg_t cfg;
    assert_true(models_cfg_from_config(c, &cfg, NULL, 0, NULL, why, sizeof why));
    assert_int_equal(cfg.ensemble.n, 2);
    assert_true(cfg.ensemble.weight[0] == 2.0 && cfg.ensemble.weight[1] == 1.0);
    qt_config_destroy(&c);
    setenv("QT_MODELS_MODEL", "VOLTREND_v1", 1);
    c = qt_config_load("configs/models.yml", err, sizeof err);
    assert_true(models_cfg_from_config(c, &cfg, NULL, 0, NULL, why, sizeof why));
    assert_string_equal(cfg.model, "VOLTREND_v1");
    unsetenv("QT_MODELS_MODEL");
    qt_config_destroy(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_values),
        cmocka_unit_test(test_not_ready_and_invalid),
        cmocka_unit_test(test_real_btc_signals),
        cmocka_unit_test(test_rule_models_known_values),
        cmocka_unit_test(test_translator),
        cmocka_unit_test(test_xsmom_batch),
        cmocka_unit_test(test_real_tsmom_meanrev_voltrend),
        cmocka_unit_test(test_real_xsmom),
        cmocka_unit_test(test_state_roundtrip),
        cmocka_unit_test(test_xgb_hot_swap),
        cmocka_unit_test(test_drift_monitor),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
