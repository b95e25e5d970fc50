/* qt_weights: the capped-simplex projection by hand and by its optimality conditions,
 * mean-variance KKT conditions on a real Binance covariance, inverse volatility with
 * water-filled caps by hand, equal risk contributions (real covariance and the 2-asset
 * closed form), selection embedding and input errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qt_rng.h"
#include "qt_weights.h"
#include "../lib/qt_testdata.h"

enum { RN = 6, RT = 600 };
static double g_mu[RN], g_sigma[RN * RN];

/* Mean and plain sample covariance of 4h log returns of six pairs over the last RT bars
 * where every pair has the bar and the one before it. */
static int setup_real(void **state) {
    (void)state;
    static const char *const pairs[RN] = {"BTC_USDT", "ETH_USDT", "BNB_USDT",
                                          "SOL_USDT", "ADA_USDT", "TRX_USDT"};
    qt_bars_t bars[RN];
    for (size_t k = 0; k < RN; k++) qt_testdata_load_4h(pairs[k], &bars[k]);
    static double ret[RT][RN];
    size_t m = 0;
    const int64_t step = 4 * 3600 * 1000LL;
    for (size_t t = bars[0].n; t-- > 1 && m < RT;) {
        int64_t tm = bars[0].bars[t].t_ms;
        bool ok = true;
        for (size_t k = 0; k < RN && ok; k++) {
            long i1 = qt_testdata_index_of(&bars[k], tm), i0 = qt_testdata_index_of(&bars[k], tm - step);
            if (i1 < 0 || i0 < 0) ok = false;
            else
                ret[m][k] = log(qt_fixed_to_double(bars[k].bars[i1].close) /
                                qt_fixed_to_double(bars[k].bars[i0].close));
        }
        if (ok) m++;
    }
    for (size_t k = 0; k < RN; k++) qt_bars_free(&bars[k]);
    if (m != RT) return -1;
    for (size_t i = 0; i < RN; i++) {
        double s = 0;
        for (size_t t = 0; t < RT; t++) s += ret[t][i];
        g_mu[i] = s / RT;
    }
    for (size_t i = 0; i < RN; i++)
        for (size_t j = 0; j < RN; j++) {
            double s = 0;
            for (size_t t = 0; t < RT; t++) s += (ret[t][i] - g_mu[i]) * (ret[t][j] - g_mu[j]);
            g_sigma[i * RN + j] = s / (RT - 1);
        }
    return 0;
}

static void test_selftest(void **state) {
    (void)state;
    assert_int_equal(qt_weights_selftest(false), 0);
}

static void test_projection(void **state) {
    (void)state;
    const double v[3] = {0.5, 0.3, -0.1};
    double cap[3] = {1, 1, 1}, w[3];
    /* tau = -0.1: (0.6, 0.4, 0) */
    assert_int_equal(qt_weights_project(3, v, cap, 1.0, w), 0);
    assert_true(fabs(w[0] - 0.6) < 1e-15 && fabs(w[1] - 0.4) < 1e-15 && fabs(w[2]) < 1e-15);
    /* cap_0 = 0.5: tau = -0.15 -> (0.5, 0.45, 0.05) */
    cap[0] = 0.5;
    assert_int_equal(qt_weights_project(3, v, cap, 1.0, w), 0);
    assert_true(fabs(w[0] - 0.5) < 1e-15 && fabs(w[1] - 0.45) < 1e-14 &&
                fabs(w[2] - 0.05) < 1e-14);
    cap[1] = cap[2] = 0.2;
    assert_int_equal(qt_weights_project(3, v, cap, 1.0, w), -1);
    /* Optimality conditions on random inputs: one shift tau with w_i = clip(v_i - tau). */
    qt_rng_t r;
    qt_rng_seed(&r, 4);
    for (int rep = 0; rep < 200; rep++) {
        double vv[10], cc[10], ww[10];
        double csum = 0;
        for (int i = 0; i < 10; i++) {
            vv[i] = qt_rng_normal(&r);
            cc[i] = 0.05 + 0.3 * qt_rng_uniform(&r);
            csum += cc[i];
        }
        double gross = csum * (0.2 + 0.7 * qt_rng_uniform(&r));
        assert_int_equal(qt_weights_project(10, vv, cc, gross, ww), 0);
        double sum = 0, tau = NAN;
        for (int i = 0; i < 10; i++) {
            sum += ww[i];
            assert_true(ww[i] >= 0 && ww[i] <= cc[i]);
            if (ww[i] > 1e-12 && ww[i] < cc[i] - 1e-12) tau = vv[i] - ww[i];
        }
        assert_true(fabs(sum - gross) < 1e-12);
        if (isnan(tau)) continue;
        for (int i = 0; i < 10; i++) {
            double x = vv[i] - tau;
            double want = x < 0 ? 0 : (x > cc[i] ? cc[i] : x);
            assert_true(fabs(ww[i] - want) < 1e-9);
        }
    }
}

/* KKT of min q w'Σw - μ'w on {sum w = 1, 0 <= w <= cap}: with g = 2qΣw - μ there is λ:
 * free w_i: g_i = λ; w_i = 0: g_i >= λ; w_i = cap: g_i <= λ. */
static int check_kkt(size_t m, const double *mu, const double *S, double q, double cap,
                      const double *w) {
    double g[RN], lam = NAN, sum = 0, gscale = 0;
    for (size_t i = 0; i < m; i++) {
        double s = 0;
        for (size_t j = 0; j < m; j++) s += S[i * m + j] * w[j];
        g[i] = 2 * q * s - mu[i];
        if (fabs(g[i]) > gscale) gscale = fabs(g[i]);
        sum += w[i];
        if (w[i] > 1e-9 && w[i] < cap - 1e-9) lam = g[i];
    }
    assert_true(fabs(sum - 1.0) < 1e-12);
    double tol = 1e-7 * gscale;
    if (isnan(lam)) {
        /* Every weight at a bound: any λ between max g over the capped ones and min g
         * over the zero ones works; such a λ must exist. */
        double lo = -INFINITY, hi = INFINITY;
        for (size_t i = 0; i < m; i++) {
            if (w[i] <= 1e-9 && g[i] < hi) hi = g[i];
            if (w[i] > 1e-9 && g[i] > lo) lo = g[i];
        }
        assert_true(lo <= hi + tol);
        lam = lo;
    }
    for (size_t i = 0; i < m; i++) {
        assert_true(w[i] >= 0 && w[i] <= cap + 1e-15);
        if (w[i] > 1e-9 && w[i] < cap - 1e-9) assert_true(fabs(g[i] - lam) <= tol);
        else if (w[i] <= 1e-9) assert_true(g[i] >= lam - tol);
        else assert_true(g[i] <= lam + tol);
    }
    int nfree = 0;
    for (size_t i = 0; i < m; i++) nfree += w[i] > 1e-9 && w[i] < cap - 1e-9;
    return nfree;
}

static void test_meanvar_real(void **state) {
    (void)state;
    double mu[RN], w[RN];
    for (size_t i = 0; i < RN; i++) mu[i] = g_mu[i] * 20.0; /* return and risk compete */
    qt_weights_opts_t o;
    qt_weights_opts_default(&o);
    const double qs[3] = {0.5, 5.0, 50.0}, caps[2] = {1.0, 0.3};
    int binding = 0, interior = 0;
    for (int a = 0; a < 3; a++)
        for (int c = 0; c < 2; c++) {
            o.q = qs[a];
            o.cap = caps[c];
            qt_weights_info_t info;
            char err[128];
            assert_int_equal(qt_weights_compute(RN, mu, g_sigma, &o, w, &info, err, sizeof err), 0);
            assert_true(info.converged);
            interior += check_kkt(RN, mu, g_sigma, o.q, o.cap, w) >= 2;
            for (size_t i = 0; i < RN; i++) binding += (w[i] >= o.cap - 1e-9 || w[i] <= 1e-9);
            /* No feasible perturbation along a pair of free coordinates lowers the
             * objective (a direct check of the KKT claim). */
            for (size_t i = 0; i < RN; i++)
                for (size_t j = 0; j < RN; j++) {
                    if (i == j || w[i] < 1e-4 || w[j] > o.cap - 1e-4) continue;
                    double u[RN];
                    memcpy(u, w, sizeof u);
                    u[i] -= 1e-4;
                    u[j] += 1e-4;
                    double fu = 0;
                    for (size_t k = 0; k < RN; k++) {
                        double s = 0;
                        for (size_t l = 0; l < RN; l++) s += g_sigma[k * RN + l] * u[l];
                        fu += o.q * u[k] * s - mu[k] * u[k];
                    }
                    assert_true(fu >= info.objective - 1e-15);
                }
        }
    assert_true(binding > 0);  /* some bounds are active in these cases */
    assert_true(interior > 0); /* and some have several free weights */
    /* q = 0: the LP fills the best mu first. */
    const double mu3[3] = {0.1, 0.3, 0.2}, S3[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    double w3[3];
    o.q = 0;
    o.cap = 0.4;
    assert_int_equal(qt_weights_compute(3, mu3, S3, &o, w3, NULL, NULL, 0), 0);
    assert_true(fabs(w3[0] - 0.2) < 1e-12 && fabs(w3[1] - 0.4) < 1e-12 && fabs(w3[2] - 0.4) < 1e-12);
}

static void test_invvol_waterfill(void **state) {
    (void)state;
    const double S[9] = {0.01, 0.001, 0, 0.001, 0.04, 0, 0, 0, 0.16}; /* vols 0.1 0.2 0.4 */
    double w[3];
    qt_weights_opts_t o;
    qt_weights_opts_default(&o);
    o.method = QT_WEIGHTS_INVVOL;
    assert_int_equal(qt_weights_compute(3, NULL, S, &o, w, NULL, NULL, 0), 0);
    assert_true(fabs(w[0] - 4.0 / 7.0) < 1e-15 && fabs(w[1] - 2.0 / 7.0) < 1e-15 &&
                fabs(w[2] - 1.0 / 7.0) < 1e-15);
    o.cap = 0.4; /* w0 fixed at 0.4, 0.6 split 2:1 */
    assert_int_equal(qt_weights_compute(3, NULL, S, &o, w, NULL, NULL, 0), 0);
    assert_true(fabs(w[0] - 0.4) < 1e-15 && fabs(w[1] - 0.4) < 1e-15 && fabs(w[2] - 0.2) < 1e-15);
    o.cap = 0.35; /* two rounds: 0.35, then 0.35, rest 0.3 */
    assert_int_equal(qt_weights_compute(3, NULL, S, &o, w, NULL, NULL, 0), 0);
    assert_true(fabs(w[0] - 0.35) < 1e-15 && fabs(w[1] - 0.35) < 1e-15 &&
                fabs(w[2] - 0.3) < 1e-15);
    o.gross = 2.0;
    o.cap = 0.5; /* caps sum 1.5 < 2 */
    char err[128];
    assert_int_equal(qt_weights_compute(3, NULL, S, &o, w, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "infeasible"));
}

static void test_erc(void **state) {
    (void)state;
    qt_weights_opts_t o;
    qt_weights_opts_default(&o);
    o.method = QT_WEIGHTS_ERC;
    double w[RN];
    qt_weights_info_t info;
    assert_int_equal(qt_weights_compute(RN, NULL, g_sigma, &o, w, &info, NULL, 0), 0);
    assert_true(info.converged);
    double rc[RN], sum = 0;
    for (size_t i = 0; i < RN; i++) {
        double s = 0;
        for (size_t j = 0; j < RN; j++) s += g_sigma[i * RN + j] * w[j];
        rc[i] = w[i] * s;
        sum += w[i];
        assert_true(w[i] > 0);
    }
    assert_true(fabs(sum - 1.0) < 1e-12);
    for (size_t i = 1; i < RN; i++) assert_true(fabs(rc[i] / rc[0] - 1.0) < 1e-8);
    assert_true(info.max_rc_dev < 1e-8);
    /* Two assets: w1 / w2 = sigma2 / sigma1 for any correlation. */
    const double s1 = 0.2, s2 = 0.5, rho = 0.6;
    const double S2[4] = {s1 * s1, rho * s1 * s2, rho * s1 * s2, s2 * s2};
    double w2[2];
    assert_int_equal(qt_weights_compute(2, NULL, S2, &o, w2, NULL, NULL, 0), 0);
    assert_true(fabs(w2[0] - s2 / (s1 + s2)) < 1e-10 && fabs(w2[1] - s1 / (s1 + s2)) < 1e-10);
    /* A binding cap keeps the sum and reports the parity deviation. */
    o.cap = 0.6;
    assert_int_equal(qt_weights_compute(2, NULL, S2, &o, w2, &info, NULL, 0), 0);
    assert_true(fabs(w2[0] - 0.6) < 1e-15 && fabs(w2[1] - 0.4) < 1e-15);
    assert_true(info.max_rc_dev > 0.01);
}

static void test_for_selection_and_errors(void **state) {
    (void)state;
    const uint8_t x[RN] = {1, 0, 1, 0, 0, 1};
    double w[RN], ws[3], mu[RN];
    for (size_t i = 0; i < RN; i++) mu[i] = g_mu[i] * 20.0;
    qt_weights_opts_t o;
    qt_weights_opts_default(&o);
    o.q = 5.0;
    assert_int_equal(qt_weights_for_selection(RN, mu, g_sigma, x, &o, w, NULL, NULL, 0), 0);
    const size_t idx[3] = {0, 2, 5};
    double smu[3], ss[9];
    for (int a = 0; a < 3; a++) {
        smu[a] = mu[idx[a]];
        for (int b = 0; b < 3; b++) ss[a * 3 + b] = g_sigma[idx[a] * RN + idx[b]];
    }
    assert_int_equal(qt_weights_compute(3, smu, ss, &o, ws, NULL, NULL, 0), 0);
    assert_true(w[1] == 0 && w[3] == 0 && w[4] == 0);
    assert_true(w[0] == ws[0] && w[2] == ws[1] && w[5] == ws[2]);
    /* Per-asset caps are indexed by the full universe. */
    double caps[RN] = {0.1, 1, 1, 1, 1, 1};
    o.caps = caps;
    assert_int_equal(qt_weights_for_selection(RN, mu, g_sigma, x, &o, w, NULL, NULL, 0), 0);
    assert_true(w[0] <= 0.1 + 1e-15);
    o.caps = NULL;
    char err[128];
    const uint8_t none[RN] = {0};
    assert_int_equal(qt_weights_for_selection(RN, mu, g_sigma, none, &o, w, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "empty"));
    assert_int_equal(qt_weights_compute(3, NULL, ss, &o, ws, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "mu"));
    o.gross = -1;
    assert_int_equal(qt_weights_compute(3, smu, ss, &o, ws, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "gross"));
    o.gross = 1;
    o.method = QT_WEIGHTS_INVVOL;
    double bad[4] = {0, 0, 0, 1};
    assert_int_equal(qt_weights_compute(2, NULL, bad, &o, ws, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "sigma[0][0]"));
    bad[0] = NAN;
    o.method = QT_WEIGHTS_MEANVAR;
    assert_int_equal(qt_weights_compute(2, smu, bad, &o, ws, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "sigma[0][0]"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selftest),
        cmocka_unit_test(test_projection),
        cmocka_unit_test(test_meanvar_real),
        cmocka_unit_test(test_invvol_waterfill),
        cmocka_unit_test(test_erc),
        cmocka_unit_test(test_for_selection_and_errors),
    };
    return cmocka_run_group_tests(tests, setup_real, NULL);
}
