/* Unit tests: libs/quant/qt_covariance on real 4h log returns of 8 Binance pairs:
 * streaming == batch (bit for bit), sample covariance and correlation against naive
 * formulas, Ledoit-Wolf (2004) shrinkage intensity against the paper's direct definition
 * (sum_t ||y_t y_t' - S||^2, computed here the slow way), conditioning when T < k, and
 * hostile input. */
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
#include "qt_covariance.h"

#define K 8
static const char *const PAIRS[K] = {"BTC_USDT", "ETH_USDT", "BNB_USDT", "XRP_USDT",
                                     "ADA_USDT", "LTC_USDT", "LINK_USDT", "DOGE_USDT"};

typedef struct {
    double *ret;   /* T x K log returns on common timestamps */
    size_t T;
} data_t;

/* Returns on the timestamps all pairs share (consecutive common bars). */
static int setup(void **state) {
    qt_bars_t b[K];
    for (int j = 0; j < K; j++) qt_testdata_load_4h(PAIRS[j], &b[j]);
    size_t cap = b[0].n;
    data_t *d = calloc(1, sizeof *d);
    d->ret = malloc(cap * K * sizeof *d->ret);
    size_t idx[K] = {0};
    double prev[K];
    bool have_prev = false;
    for (size_t i = 0; i < b[0].n; i++) {
        int64_t t = b[0].bars[i].t_ms;
        bool all = true;
        for (int j = 1; j < K && all; j++) {
            while (idx[j] < b[j].n && b[j].bars[idx[j]].t_ms < t) idx[j]++;
            all = idx[j] < b[j].n && b[j].bars[idx[j]].t_ms == t;
        }
        if (!all) continue;
        double c[K];
        c[0] = qt_fixed_to_double(b[0].bars[i].close);
        for (int j = 1; j < K; j++) c[j] = qt_fixed_to_double(b[j].bars[idx[j]].close);
        if (have_prev) {
            for (int j = 0; j < K; j++) d->ret[d->T * K + j] = log(c[j] / prev[j]);
            d->T++;
        }
        memcpy(prev, c, sizeof prev);
        have_prev = true;
    }
    for (int j = 0; j < K; j++) qt_bars_free(&b[j]);
    *state = d;
    return d->T > 1000 ? 0 : -1;
}

static int teardown(void **state) {
    data_t *d = *state;
    free(d->ret);
    free(d);
    return 0;
}

static void near(double a, double b, double tol) {
    if (!(fabs(a - b) <= tol)) {
        fprintf(stderr, "got %.17g expected %.17g\n", a, b);
        fail();
    }
}

/* Naive definitions, written independently of the library. */
static void naive_cov(const double *X, size_t T, size_t k, double *out) {
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++) {
            double mi = 0, mj = 0, s = 0;
            for (size_t t = 0; t < T; t++) {
                mi += X[t * k + i];
                mj += X[t * k + j];
            }
            mi /= (double)T;
            mj /= (double)T;
            for (size_t t = 0; t < T; t++) s += (X[t * k + i] - mi) * (X[t * k + j] - mj);
            out[i * k + j] = s / (double)(T - 1);
        }
}

/* Ledoit-Wolf 2004 (JMVA) Lemma 3.2 / Theorem 3.1 literally: m, d^2, bbar^2 with the
 * direct sum over t of the normalised Frobenius norm of (y_t y_t' - S). */
static double naive_lw(const double *X, size_t T, size_t k, double *out) {
    double *S = malloc(k * k * sizeof *S), *y = malloc(k * sizeof *y), *mean = calloc(k, sizeof *mean);
    naive_cov(X, T, k, S);
    for (size_t i = 0; i < k * k; i++) S[i] *= (double)(T - 1) / (double)T;
    for (size_t t = 0; t < T; t++)
        for (size_t j = 0; j < k; j++) mean[j] += X[t * k + j] / (double)T;
    double m = 0;
    for (size_t i = 0; i < k; i++) m += S[i * k + i] / (double)k;
    double d2 = 0;
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++) {
            double e = S[i * k + j] - (i == j ? m : 0);
            d2 += e * e / (double)k;
        }
    double b2 = 0;
    for (size_t t = 0; t < T; t++) {
        for (size_t j = 0; j < k; j++) y[j] = X[t * k + j] - mean[j];
        double f = 0;
        for (size_t i = 0; i < k; i++)
            for (size_t j = 0; j < k; j++) {
                double e = y[i] * y[j] - S[i * k + j];
                f += e * e / (double)k;
            }
        b2 += f / ((double)T * (double)T);
    }
    if (b2 > d2) b2 = d2;
    double rho = b2 / d2;
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++)
            out[i * k + j] = rho * (i == j ? m : 0) + (1 - rho) * S[i * k + j];
    free(S);
    free(y);
    free(mean);
    return rho;
}

/* Cholesky: true when the matrix is (numerically) positive definite. */
static bool chol_ok(const double *A, size_t k) {
    double *L = calloc(k * k, sizeof *L);
    bool ok = true;
    for (size_t j = 0; j < k && ok; j++) {
        double s = A[j * k + j];
        for (size_t p = 0; p < j; p++) s -= L[j * k + p] * L[j * k + p];
        if (!(s > 1e-14 * fabs(A[j * k + j]))) {
            ok = false;
            break;
        }
        L[j * k + j] = sqrt(s);
        for (size_t i = j + 1; i < k; i++) {
            double v = A[i * k + j];
            for (size_t p = 0; p < j; p++) v -= L[i * k + p] * L[j * k + p];
            L[i * k + j] = v / L[j * k + j];
        }
    }
    free(L);
    return ok;
}

static void test_streaming_equals_batch(void **state) {
    data_t *d = *state;
    const uint32_t W = 120;
    qt_cov_t *cv = qt_cov_new(K, W);
    assert_non_null(cv);
    double a[K * K], b[K * K], s1, s2;
    size_t checked = 0;
    for (size_t t = 0; t < d->T; t++) {
        assert_true(qt_cov_update(cv, d->ret + t * K));
        size_t len = t + 1 < W ? t + 1 : W;
        assert_int_equal(qt_cov_len(cv), len);
        assert_int_equal(qt_cov_ready(cv), t + 1 >= W);
        if (len < 2) {
            assert_false(qt_cov_sample(cv, a));
            continue;
        }
        if (t % 97 != 0 && t != W - 1 && t != W && t != d->T - 1) continue;
        const double *win = d->ret + (t + 1 - len) * K;
        assert_true(qt_cov_sample(cv, a));
        assert_true(qt_cov_sample_batch(win, len, K, b));
        assert_memory_equal(a, b, sizeof a);
        assert_true(qt_cov_correlation(cv, a));
        assert_true(qt_cov_correlation_batch(win, len, K, b));
        assert_memory_equal(a, b, sizeof a);
        assert_true(qt_cov_ledoit_wolf(cv, a, &s1));
        assert_true(qt_cov_ledoit_wolf_batch(win, len, K, b, &s2));
        assert_memory_equal(a, b, sizeof a);
        assert_true(s1 == s2);
        checked++;
    }
    assert_true(checked > 50);
    qt_cov_destroy(&cv);
    assert_null(cv);
}

static void test_sample_and_correlation_vs_naive(void **state) {
    data_t *d = *state;
    const size_t T = 500;
    double a[K * K], n[K * K], c[K * K];
    assert_true(qt_cov_sample_batch(d->ret, T, K, a));
    naive_cov(d->ret, T, K, n);
    for (size_t i = 0; i < K * K; i++) near(a[i], n[i], 1e-15 + 1e-12 * fabs(n[i]));
    assert_true(qt_cov_correlation_batch(d->ret, T, K, c));
    for (size_t i = 0; i < K; i++) {
        assert_true(c[i * K + i] == 1.0);
        for (size_t j = 0; j < K; j++) {
            assert_true(c[i * K + j] == c[j * K + i]);
            assert_true(c[i * K + j] >= -1.0 && c[i * K + j] <= 1.0);
            near(c[i * K + j], n[i * K + j] / sqrt(n[i * K + i] * n[j * K + j]), 1e-12);
        }
    }
    /* crypto majors co-move: BTC-ETH 4h return correlation is strongly positive */
    assert_true(c[0 * K + 1] > 0.6);
    printf("    corr(BTC, ETH) over %zu 4h returns = %.4f\n", T, c[1]);
}

static void test_ledoit_wolf_vs_definition(void **state) {
    data_t *d = *state;
    const size_t Ts[] = {5, 20, 60, 250, 1000};
    for (size_t q = 0; q < sizeof Ts / sizeof *Ts; q++) {
        size_t T = Ts[q];
        double a[K * K], n[K * K], rho;
        const double *X = d->ret + 100 * K;
        assert_true(qt_cov_ledoit_wolf_batch(X, T, K, a, &rho));
        double rho_ref = naive_lw(X, T, K, n);
        near(rho, rho_ref, 1e-10);
        assert_true(rho >= 0.0 && rho <= 1.0);
        for (size_t i = 0; i < K * K; i++) near(a[i], n[i], 1e-12 * (fabs(n[i]) + 1e-6));
        assert_true(chol_ok(a, K));   /* always well conditioned */
        printf("    T=%4zu k=%d shrinkage %.4f\n", T, K, rho);
        if (T == 5) {
            /* T < k: the sample covariance is singular, the shrunk one is not */
            double s[K * K];
            qt_cov_sample_batch(X, T, K, s);
            assert_false(chol_ok(s, K));
        }
    }
    /* more data -> less shrinkage (the estimate of S gets better) */
    double a[K * K], r_small, r_big;
    qt_cov_ledoit_wolf_batch(d->ret, 30, K, a, &r_small);
    qt_cov_ledoit_wolf_batch(d->ret, 1000, K, a, &r_big);
    assert_true(r_big < r_small);
    /* S already proportional to I (d^2 = 0): shrinkage 0, no division by zero */
    const double I2[] = {1, 0, -1, 0, 0, 1, 0, -1};   /* 4 rows, k = 2 */
    assert_true(qt_cov_ledoit_wolf_batch(I2, 4, 2, a, &r_small));
    assert_true(r_small == 0.0 && isfinite(a[0]) && a[1] == 0.0);
}

static void test_hostile_and_edges(void **state) {
    (void)state;
    assert_null(qt_cov_new(0, 10));
    assert_null(qt_cov_new(QT_COV_MAX_K + 1, 10));
    assert_null(qt_cov_new(3, 1));
    assert_null(qt_cov_new(3, QT_COV_MAX_WINDOW + 1));
    qt_cov_t *cv = qt_cov_new(2, 3);
    double x[2] = {NAN, 1}, out[4], s;
    assert_false(qt_cov_update(cv, x));
    x[0] = INFINITY;
    assert_false(qt_cov_update(cv, x));
    assert_int_equal(qt_cov_count(cv), 0);
    x[0] = 1;
    assert_true(qt_cov_update(cv, x));
    assert_false(qt_cov_sample(cv, out));       /* one vector: undefined */
    assert_false(qt_cov_ledoit_wolf(cv, out, &s));
    /* constant asset: correlation row is 0 off the diagonal, never NaN */
    assert_true(qt_cov_update(cv, (double[]){2, 1}));
    assert_true(qt_cov_update(cv, (double[]){3, 1}));
    assert_true(qt_cov_correlation(cv, out));
    assert_true(out[0] == 1 && out[1] == 0 && out[2] == 0 && out[3] == 1);
    /* ring wraps: the window holds the last 3 vectors */
    assert_true(qt_cov_update(cv, (double[]){10, 1}));
    assert_true(qt_cov_sample(cv, out));
    double w[6] = {2, 1, 3, 1, 10, 1}, o2[4];
    qt_cov_sample_batch(w, 3, 2, o2);
    assert_memory_equal(out, o2, sizeof out);
    qt_cov_destroy(&cv);
    qt_cov_destroy(&cv);   /* NULL is fine */
    const double bad[4] = {1, 2, NAN, 4};
    assert_false(qt_cov_sample_batch(bad, 2, 2, out));
    assert_false(qt_cov_ledoit_wolf_batch(bad, 2, 2, out, &s));
    assert_int_equal(qt_covariance_selftest(false), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_streaming_equals_batch),
        cmocka_unit_test(test_sample_and_correlation_vs_naive),
        cmocka_unit_test(test_ledoit_wolf_vs_definition),
        cmocka_unit_test(test_hostile_and_edges),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
