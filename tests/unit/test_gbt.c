/* Unit tests: libs/quant/qt_gbt (XGBoost wrapper): determinism (same data + parameters +
 * seed -> same sha256 of the saved model, another seed -> another), save/load round trip,
 * input validation, and learning on real BTC 4h features with triple-barrier labels. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../lib/qt_testdata.h"
#include "qt_featureset.h"
#include "qt_gbt.h"
#include "qt_labels.h"
#include "qt_registry.h"

static void test_selftest(void **state) {
    (void)state;
    assert_int_equal(qt_gbt_selftest(false), 0);
}

/* BTC 4h: features (roc_1, roc_20, zscore_20, rsi_14, rvol_20) at each bar, label = 1
 * when the triple barrier (pt = sl = 1 x 20-bar vol, 12 bars) hits the upper barrier. */
typedef struct {
    float *X, *y;
    size_t n, ncols;
} ds_t;

static void build_btc(ds_t *d) {
    qt_bars_t bars;
    qt_testdata_load_4h("BTC_USDT", &bars);
    const char *spec = "roc:1,roc:20,zscore:20,rsi:14,rvol:20";
    char err[256];
    qt_featureset_t *fs = qt_featureset_new(spec, NULL, 4 * 3600000LL, 0, err, sizeof err);
    assert_non_null(fs);
    size_t n = bars.n, nc = qt_featureset_n_outputs(fs);
    double *close = calloc(n, sizeof *close), *hi = calloc(n, sizeof *hi),
           *lo = calloc(n, sizeof *lo), *trgt = calloc(n, sizeof *trgt),
           *F = calloc(n * nc, sizeof *F);
    bool *R = calloc(n, sizeof *R);
    qt_tb_event_t *ev = calloc(n, sizeof *ev);
    for (size_t i = 0; i < n; i++) {
        const qt_bar_t *b = &bars.bars[i];
        qt_fs_bar_t fb = {b->t_ms, qt_fixed_to_double(b->open), qt_fixed_to_double(b->high),
                          qt_fixed_to_double(b->low), qt_fixed_to_double(b->close),
                          qt_fixed_to_double(b->volume)};
        assert_true(qt_featureset_update(fs, &fb, NULL));
        close[i] = fb.close;
        hi[i] = fb.high;
        lo[i] = fb.low;
        memcpy(F + i * nc, qt_featureset_values(fs), nc * sizeof(double));
        R[i] = true;
        for (size_t k = 0; k < nc; k++) R[i] = R[i] && qt_featureset_ready(fs)[k];
    }
    assert_int_equal(qt_label_rolling_vol(close, n, 20, trgt), 0);
    qt_tb_params_t p = {.pt_mult = 1.0, .sl_mult = 1.0, .horizon = 12, .min_target = 0.0,
                        .vertical_sign = false};
    size_t ne = 0;
    assert_int_equal(qt_label_triple_barrier(close, hi, lo, n, trgt, NULL, NULL, 0, &p, ev, &ne), 0);
    d->ncols = nc;
    d->X = calloc(ne * nc, sizeof *d->X);
    d->y = calloc(ne, sizeof *d->y);
    d->n = 0;
    for (size_t e = 0; e < ne; e++) {
        size_t t0 = ev[e].t0;
        if (!R[t0]) continue;
        for (size_t k = 0; k < nc; k++) d->X[d->n * nc + k] = (float)F[t0 * nc + k];
        d->y[d->n] = ev[e].label > 0 ? 1.0f : 0.0f;
        d->n++;
    }
    free(close);
    free(hi);
    free(lo);
    free(trgt);
    free(F);
    free(R);
    free(ev);
    qt_featureset_destroy(&fs);
    qt_bars_free(&bars);
}

static void ds_free(ds_t *d) {
    free(d->X);
    free(d->y);
}

static void sha_of(qt_gbt_t *g, char hex[65]) {
    uint8_t *b = NULL;
    size_t len = 0;
    assert_int_equal(qt_gbt_save(g, &b, &len), 0);
    qt_registry_sha256_hex(b, len, hex);
    free(b);
}

static void test_real_btc_deterministic(void **state) {
    (void)state;
    ds_t d;
    build_btc(&d);
    assert_true(d.n > 10000);
    size_t ntr = d.n * 7 / 10;   /* time split: first 70% train, the rest out of sample */
    qt_gbt_params_t p;
    qt_gbt_params_default(&p);
    p.rounds = 40;
    char err[256], h1[65], h2[65], h3[65];
    qt_gbt_t *a = qt_gbt_train(d.X, ntr, d.ncols, d.y, NULL, &p, err, sizeof err);
    qt_gbt_t *b = qt_gbt_train(d.X, ntr, d.ncols, d.y, NULL, &p, err, sizeof err);
    assert_non_null(a);
    assert_non_null(b);
    sha_of(a, h1);
    sha_of(b, h2);
    assert_string_equal(h1, h2);               /* same data + params + seed: same model */
    p.seed = 7;
    qt_gbt_t *c = qt_gbt_train(d.X, ntr, d.ncols, d.y, NULL, &p, err, sizeof err);
    sha_of(c, h3);
    assert_string_not_equal(h1, h3);           /* subsampling depends on the seed */
    size_t nte = d.n - ntr;
    float *pr = calloc(nte, sizeof *pr), *pin = calloc(ntr, sizeof *pin);
    assert_int_equal(qt_gbt_predict(a, d.X + ntr * d.ncols, nte, pr), 0);
    assert_int_equal(qt_gbt_predict(a, d.X, ntr, pin), 0);
    double ll_in = qt_gbt_logloss(pin, d.y, ntr), ll_out = qt_gbt_logloss(pr, d.y + ntr, nte);
    double acc_out = qt_gbt_accuracy(pr, d.y + ntr, nte);
    double base = 0;
    for (size_t i = 0; i < nte; i++) base += d.y[ntr + i];
    base /= (double)nte;
    printf("    BTC 4h triple-barrier: %zu events, %zu cols; logloss in %.4f out %.4f, "
           "accuracy out %.4f (up-rate %.4f)\n",
           d.n, d.ncols, ll_in, ll_out, acc_out, base);
    for (size_t i = 0; i < nte; i++) assert_true(pr[i] > 0.0f && pr[i] < 1.0f);
    assert_true(ll_in < log(2.0));        /* it fits the training data better than a coin */
    assert_true(ll_out > 0.5 && ll_out < 0.9);   /* honest: markets are close to a coin */
    /* single-row predictions equal the batch ones */
    for (size_t i = 0; i < 50; i++) {
        float one;
        assert_int_equal(qt_gbt_predict(a, d.X + (ntr + i) * d.ncols, 1, &one), 0);
        assert_true(one == pr[i]);
    }
    /* save -> load -> identical predictions */
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(qt_gbt_save(a, &buf, &len), 0);
    qt_gbt_t *l = qt_gbt_load(buf, len, d.ncols, err, sizeof err);
    assert_non_null(l);
    float *pl = calloc(nte, sizeof *pl);
    assert_int_equal(qt_gbt_predict(l, d.X + ntr * d.ncols, nte, pl), 0);
    assert_memory_equal(pl, pr, nte * sizeof *pl);
    assert_int_equal(qt_gbt_ncols(l), d.ncols);
    /* wrong width and garbage are refused, not crashed on */
    assert_null(qt_gbt_load(buf, len, d.ncols + 1, err, sizeof err));
    assert_non_null(strstr(err, "features"));
    assert_null(qt_gbt_load(buf, len / 2, d.ncols, err, sizeof err));
    const uint8_t junk[] = "{\"not\": \"a model\"}";
    assert_null(qt_gbt_load(junk, sizeof junk - 1, d.ncols, err, sizeof err));
    const uint8_t ubj[] = "{L\x00\x00\x00\x00\x00\x00\x00\x07learner";   /* UBJSON: refused */
    assert_null(qt_gbt_load(ubj, sizeof ubj - 1, d.ncols, err, sizeof err));
    assert_non_null(strstr(err, "JSON"));
    for (size_t cut = 1; cut < len; cut += len / 97 + 1)   /* any truncation is refused */
        assert_null(qt_gbt_load(buf, cut, d.ncols, err, sizeof err));
    free(buf);
    free(pl);
    free(pr);
    free(pin);
    qt_gbt_destroy(&a);
    qt_gbt_destroy(&b);
    qt_gbt_destroy(&c);
    qt_gbt_destroy(&l);
    assert_null(l);
    ds_free(&d);
}

static void test_invalid_inputs(void **state) {
    (void)state;
    float X[8] = {1, 2, 3, 4, 5, 6, 7, 8}, y[4] = {0, 1, 0, 1}, w[4] = {1, 1, 1, 1};
    qt_gbt_params_t p;
    qt_gbt_params_default(&p);
    char err[256];
    y[2] = 2.0f;
    assert_null(qt_gbt_train(X, 4, 2, y, NULL, &p, err, sizeof err));
    assert_non_null(strstr(err, "row 2"));
    y[2] = 0.0f;
    w[1] = NAN;
    assert_null(qt_gbt_train(X, 4, 2, y, w, &p, err, sizeof err));
    w[1] = 1.0f;
    p.eta = 0.0;
    assert_null(qt_gbt_train(X, 4, 2, y, w, &p, err, sizeof err));
    assert_non_null(strstr(err, "eta"));
    qt_gbt_params_default(&p);
    p.max_depth = 0;
    assert_false(qt_gbt_params_valid(&p, err, sizeof err));
    qt_gbt_params_default(&p);
    assert_null(qt_gbt_train(X, 1, 2, y, NULL, &p, err, sizeof err));
    assert_null(qt_gbt_train(NULL, 4, 2, y, NULL, &p, err, sizeof err));
    assert_null(qt_gbt_load(NULL, 0, 2, err, sizeof err));
    float pr[1];
    assert_int_equal(qt_gbt_predict(NULL, X, 1, pr), -1);
    /* log loss / accuracy reference values */
    float pp[2] = {0.8f, 0.4f}, yy[2] = {1.0f, 0.0f};
    double want = -(log((double)0.8f) + log(1.0 - (double)0.4f)) / 2.0;
    assert_true(fabs(qt_gbt_logloss(pp, yy, 2) - want) < 1e-12);
    assert_true(qt_gbt_accuracy(pp, yy, 2) == 1.0);
    pp[1] = 0.5f;
    assert_true(qt_gbt_accuracy(pp, yy, 2) == 0.5);
    qt_gbt_destroy(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selftest),
        cmocka_unit_test(test_real_btc_deterministic),
        cmocka_unit_test(test_invalid_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
