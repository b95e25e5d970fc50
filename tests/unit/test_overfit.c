/* Unit tests: libs/quant/qt_overfit. Published worked examples (PSR, DSR), published
 * quantiles, reference computations (MinTRL, haircut with R's p.adjust on the
 * Benjamini-Hochberg 1995 p-values) and a brute-force CSCV for PBO. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "qt_overfit.h"
#include "qt_rng.h"

#define assert_near(a, b, tol) assert_true(fabs((double)(a) - (double)(b)) <= (tol))

static void assert_rel(double got, double want, double rel) {
    if (!(fabs(got - want) <= rel * fabs(want))) {
        fprintf(stderr, "got %.17g want %.17g\n", got, want);
        fail();
    }
}

/* Published quantiles of N(0,1) (e.g. Wichura 1988, Abramowitz & Stegun 26.2) to
 * 1e-9 relative, and the symmetry / domain of both functions. */
static void test_normal(void **state) {
    (void)state;
    assert_rel(qt_norm_ppf(0.975), 1.959963984540054, 1e-9);
    assert_rel(qt_norm_ppf(0.025), -1.959963984540054, 1e-9);
    assert_rel(qt_norm_ppf(0.9), 1.2815515655446004, 1e-9);
    assert_rel(qt_norm_ppf(0.999), 3.090232306167813, 1e-9);
    assert_rel(qt_norm_ppf(1e-10), -6.361340902404056, 1e-9);
    assert_rel(qt_norm_ppf(0.3), -0.5244005127080407, 1e-9);
    assert_rel(qt_norm_ppf(1e-300), -37.0470962993612, 1e-9); /* AS241 far tail branch */
    assert_true(qt_norm_ppf(0.5) == 0.0);
    assert_true(isinf(qt_norm_ppf(0.0)) && qt_norm_ppf(0.0) < 0);
    assert_true(isinf(qt_norm_ppf(1.0)) && qt_norm_ppf(1.0) > 0);
    assert_true(isnan(qt_norm_ppf(-0.1)) && isnan(qt_norm_ppf(1.1)) && isnan(qt_norm_ppf(NAN)));
    assert_rel(qt_norm_cdf(1.96), 0.9750021048517795, 1e-12);
    assert_rel(qt_norm_cdf(-8.0), 6.220960574271785e-16, 1e-9); /* erfc keeps the tail */
    assert_true(qt_norm_cdf(0.0) == 0.5);
    /* round trip over the whole range */
    for (double p = 1e-12; p < 1.0; p *= 1.7) assert_rel(qt_norm_cdf(qt_norm_ppf(p)), p, 1e-12);
}

/* Bailey & Lopez de Prado (2012), "The Sharpe Ratio Efficient Frontier", J. of Risk
 * 15(2): SR = 0.458 over 24 observations gives PSR(0) = 0.982 under normality and 0.913
 * with skew -2.448, kurtosis 10.164. Reproduced with sqrt(n - 1) and non-excess kurtosis
 * (with sqrt(n) the figures would be 0.984 / 0.918). */
static void test_psr_paper(void **state) {
    (void)state;
    assert_near(qt_psr(0.458, 0.0, 24, 0.0, 3.0), 0.982, 5e-4);
    assert_near(qt_psr(0.458, 0.0, 24, -2.448, 10.164), 0.913, 5e-4);
    assert_rel(qt_psr(0.458, 0.0, 24, 0.0, 3.0), 0.9816749190910771, 1e-12);
    assert_rel(qt_psr(0.458, 0.0, 24, -2.448, 10.164), 0.913361083860933, 1e-12);
    assert_true(qt_psr(0.1, 0.1, 100, 0, 3) == 0.5);
    assert_true(isnan(qt_psr(0.5, 0, 1, 0, 3)));
    assert_true(isnan(qt_psr(0.5, 0, 10, 5.0, 3))); /* variance term <= 0 */
}

/* MinTRL (same paper, eq. 15) against a reference computation (Python
 * statistics.NormalDist), and its defining property: PSR at n = MinTRL is 1 - alpha. */
static void test_min_trl(void **state) {
    (void)state;
    assert_rel(qt_min_trl(0.458, 0, 0, 3, 0.05), 15.250806919432529, 1e-12);
    assert_rel(qt_min_trl(0.458, 0, -2.448, 10.164, 0.05), 34.557505934856195, 1e-12);
    double n = qt_min_trl(0.3, 0.1, -0.5, 6, 0.01);
    assert_rel(qt_psr(0.3, 0.1, n, -0.5, 6), 0.99, 1e-12);
    assert_true(isnan(qt_min_trl(0.1, 0.2, 0, 3, 0.05)));
    assert_true(isnan(qt_min_trl(0.3, 0.1, 0, 3, 0.0)));
}

/* Bailey & Lopez de Prado (2014), "The Deflated Sharpe Ratio", JPM 40(5), numerical
 * example: annualised SR 2.5 over 1250 daily observations (250 a year), skew -3,
 * kurtosis 10, N = 100 trials with annualised Sharpe variance 1/2: SR0 = 0.1132 per day
 * and DSR = 0.9004. */
static void test_dsr_paper(void **state) {
    (void)state;
    double sr0;
    double d = qt_dsr(2.5 / sqrt(250.0), 1250, -3.0, 10.0, 100, 0.5 / 250.0, &sr0);
    assert_near(sr0, 0.1132, 5e-5);
    assert_near(d, 0.9004, 5e-5);
    /* reference computation (Python statistics.NormalDist) at full precision */
    assert_rel(sr0, 0.11317200186513214, 1e-12);
    assert_rel(d, 0.9003968344493904, 1e-10);
    assert_true(isnan(qt_expected_max_sr(1, 1)));
    assert_true(isnan(qt_expected_max_sr(10, -1)));
    assert_true(qt_expected_max_sr(10, 0) == 0.0);
    /* more trials -> higher bar -> lower DSR */
    assert_true(qt_dsr(0.1, 1000, 0, 3, 1000, 0.001, NULL) < qt_dsr(0.1, 1000, 0, 3, 10, 0.001, NULL));
}

/* Harvey & Liu (2015) Bonferroni haircut for SR 1.0 over 10 years of monthly data and
 * 100 tests, reference computation: t = sqrt(10), p = 0.0015654, p_adj = 0.15654,
 * haircut SR = 0.44803 (a 55% haircut). */
static void test_haircut_bonferroni(void **state) {
    (void)state;
    qt_haircut_t h;
    assert_int_equal(qt_haircut_sharpe(1.0, 120, 12, 100, NULL, QT_HAIRCUT_BONFERRONI, &h), 0);
    assert_rel(h.t_stat, 3.1622776601683795, 1e-14);
    assert_rel(h.p_single, 0.0015654022580025018, 1e-10);
    assert_rel(h.p_adjusted, 0.15654022580025018, 1e-10);
    assert_rel(h.sr_haircut, 0.44803277906186356, 1e-9);
    assert_rel(h.haircut, 0.5519672209381364, 1e-9);
    /* one test: no haircut */
    assert_int_equal(qt_haircut_sharpe(1.0, 120, 12, 1, NULL, QT_HAIRCUT_BONFERRONI, &h), 0);
    assert_rel(h.sr_haircut, 1.0, 1e-12);
    /* a hopeless one: p_adj = 1 -> haircut SR 0 (100%) */
    assert_int_equal(qt_haircut_sharpe(0.2, 24, 12, 1000, NULL, QT_HAIRCUT_BONFERRONI, &h), 0);
    assert_true(h.p_adjusted == 1.0 && h.sr_haircut == 0.0 && h.haircut == 1.0);
    assert_int_equal(qt_haircut_sharpe(-1.0, 120, 12, 10, NULL, QT_HAIRCUT_BONFERRONI, &h), -1);
    assert_int_equal(qt_haircut_sharpe(1.0, 120, 12, 10, NULL, QT_HAIRCUT_HOLM, &h), -1);
}

/* Holm and BHY against R's p.adjust(method = "holm" / "BY") on the 15 p-values of
 * Benjamini & Hochberg (1995, section 4.1): each p-value in turn is "ours" (converted
 * to the Sharpe ratio that yields it), the other 14 are the other tests. */
static void test_haircut_holm_bhy(void **state) {
    (void)state;
    const double ps[15] = {0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344,
                           0.0459, 0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.000};
    const double holm[15] = {0.0015, 0.0056, 0.0247, 0.114, 0.2211, 0.278, 0.278, 0.278,
                             0.3213, 1, 1, 1, 1, 1, 1};
    const double by[15] = {0.004977343489843491, 0.009954686979686982, 0.03152317543567544,
                           0.1182119078837829, 0.20008920829170831, 0.21189262285333718,
                           0.21189262285333718, 0.2140257700632701, 0.25384451798201807,
                           1, 1, 1, 1, 1, 1};
    for (int i = 0; i < 14; i++) { /* p = 1 has no positive Sharpe */
        double others[14];
        for (int j = 0, k = 0; j < 15; j++)
            if (j != i) others[k++] = ps[j];
        double years = 10.0;
        double sr = qt_norm_ppf(1.0 - ps[i] / 2.0) / sqrt(years);
        qt_haircut_t h;
        assert_int_equal(qt_haircut_sharpe(sr, 120, 12, 15, others, QT_HAIRCUT_HOLM, &h), 0);
        assert_rel(h.p_single, ps[i], 1e-9);
        assert_rel(h.p_adjusted, holm[i], 1e-9);
        assert_int_equal(qt_haircut_sharpe(sr, 120, 12, 15, others, QT_HAIRCUT_BHY, &h), 0);
        assert_rel(h.p_adjusted, by[i], 1e-9);
        /* the haircut Sharpe maps back to the adjusted p-value */
        assert_rel(2.0 * (1.0 - qt_norm_cdf(h.sr_haircut * sqrt(years))), by[i], 1e-9);
    }
    double bad[14] = {0};
    bad[3] = 1.5;
    qt_haircut_t h;
    assert_int_equal(qt_haircut_sharpe(1.0, 120, 12, 15, bad, QT_HAIRCUT_BHY, &h), -1);
}

/* Hand-worked CSCV with S = 2 blocks and two strategies: each half's winner is the
 * other half's loser, so both combinations overfit (PBO = 1, logits ln(1/2)). */
static void test_pbo_hand(void **state) {
    (void)state;
    const double m[] = {0.01, 0.00, 0.03, 0.01, -0.01, 0.01, -0.03, 0.02};
    qt_pbo_t p;
    double lg[2];
    assert_int_equal(qt_pbo_cscv(m, 4, 2, 2, &p, lg), 0);
    assert_int_equal(p.n_combinations, 2);
    assert_true(p.pbo == 1.0);
    assert_rel(lg[0], log(0.5), 1e-15);
    assert_rel(lg[1], log(0.5), 1e-15);
    assert_true(p.prob_oos_loss == 0.5); /* A's OOS Sharpe < 0; B's OOS Sharpe > 0 */
    /* bad arguments */
    assert_int_equal(qt_pbo_cscv(m, 4, 2, 3, &p, NULL), -1);  /* odd S */
    assert_int_equal(qt_pbo_cscv(m, 4, 2, 4, &p, NULL), -1);  /* rows < 2 S */
    assert_int_equal(qt_pbo_cscv(m, 4, 1, 2, &p, NULL), -1);  /* one strategy */
    double bad[8] = {0, 0, 0, 0, 0, 0, NAN, 0};
    assert_int_equal(qt_pbo_cscv(bad, 4, 2, 2, &p, NULL), -1);
}

/* Brute force reference: Sharpe straight from the rows of each IS / OOS set. */
static double rows_sharpe(const double *m, size_t T, size_t N, size_t j, const bool *in,
                          size_t S, bool want) {
    size_t q = T / S, rem = T % S, row = 0;
    double s = 0, n = 0;
    for (size_t b = 0; b < S; b++) {
        size_t len = q + (b < rem);
        if (in[b] == want)
            for (size_t t = row; t < row + len; t++) s += m[t * N + j], n++;
        row += len;
    }
    double mean = s / n, ss = 0;
    row = 0;
    for (size_t b = 0; b < S; b++) {
        size_t len = q + (b < rem);
        if (in[b] == want)
            for (size_t t = row; t < row + len; t++) ss += (m[t * N + j] - mean) * (m[t * N + j] - mean);
        row += len;
    }
    return mean / sqrt(ss / (n - 1));
}

static void test_pbo_matches_brute_force(void **state) {
    (void)state;
    const size_t T = 203, N = 7, S = 6; /* T not a multiple of S: unequal blocks */
    double *m = malloc(T * N * sizeof *m);
    qt_rng_t r;
    qt_rng_seed(&r, 99);
    for (size_t i = 0; i < T * N; i++) m[i] = 0.01 * qt_rng_normal(&r) + 0.0005 * (double)(i % N);
    qt_pbo_t p;
    double lg[20];
    assert_int_equal(qt_pbo_cscv(m, T, N, S, &p, lg), 0);
    assert_int_equal(p.n_combinations, 20);
    size_t c = 0, below = 0;
    /* enumerate combinations lexicographically (same order as the library) */
    size_t comb[3] = {0, 1, 2};
    for (;;) {
        bool in[6] = {false};
        for (int i = 0; i < 3; i++) in[comb[i]] = true;
        double is[7], oos[7];
        for (size_t j = 0; j < N; j++) {
            is[j] = rows_sharpe(m, T, N, j, in, S, true);
            oos[j] = rows_sharpe(m, T, N, j, in, S, false);
        }
        size_t best = 0;
        for (size_t j = 1; j < N; j++)
            if (is[j] > is[best]) best = j;
        size_t rk = 1;
        for (size_t j = 0; j < N; j++)
            if (oos[j] < oos[best]) rk++;
        double w = (double)rk / (double)(N + 1), l = log(w / (1 - w));
        assert_rel(lg[c], l, 1e-12);
        if (l <= 0) below++;
        c++;
        int i = 2;
        while (i >= 0 && comb[i] == S - 3 + (size_t)i) i--;
        if (i < 0) break;
        comb[i]++;
        for (int k = i + 1; k < 3; k++) comb[k] = comb[k - 1] + 1;
    }
    assert_int_equal(c, 20);
    assert_true(p.pbo == (double)below / 20.0);
    free(m);
}

/* Pure noise: the IS winner's OOS rank is uniform, so PBO averages 0.5 over seeds; a
 * strategy with real skill gives PBO near 0. */
static void test_pbo_noise_and_skill(void **state) {
    (void)state;
    const size_t T = 480, N = 20, S = 16;
    double *m = malloc(T * N * sizeof *m);
    double sum = 0.0;
    const int seeds = 40;
    for (int s = 0; s < seeds; s++) {
        qt_rng_t r;
        qt_rng_seed(&r, 1000 + (uint64_t)s);
        for (size_t i = 0; i < T * N; i++) m[i] = 0.01 * qt_rng_normal(&r);
        qt_pbo_t p;
        assert_int_equal(qt_pbo_cscv(m, T, N, S, &p, NULL), 0);
        assert_int_equal(p.n_combinations, 12870);
        assert_true(p.pbo >= 0.0 && p.pbo <= 1.0);
        sum += p.pbo;
    }
    double mean = sum / seeds;
    printf("PBO on noise, mean over %d seeds: %.4f\n", seeds, mean);
    assert_true(mean > 0.4 && mean < 0.6);
    /* skill: strategy 3 earns 0.5 sd per period more than the others */
    qt_rng_t r;
    qt_rng_seed(&r, 7);
    for (size_t t = 0; t < T; t++)
        for (size_t j = 0; j < N; j++) m[t * N + j] = 0.01 * qt_rng_normal(&r) + (j == 3 ? 0.005 : 0.0);
    qt_pbo_t p;
    assert_int_equal(qt_pbo_cscv(m, T, N, S, &p, NULL), 0);
    assert_true(p.pbo < 0.01);
    assert_true(p.prob_oos_loss < 0.01);
    free(m);
}

static void test_selftest(void **state) {
    (void)state;
    assert_int_equal(qt_overfit_selftest(false), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normal),
        cmocka_unit_test(test_psr_paper),
        cmocka_unit_test(test_min_trl),
        cmocka_unit_test(test_dsr_paper),
        cmocka_unit_test(test_haircut_bonferroni),
        cmocka_unit_test(test_haircut_holm_bhy),
        cmocka_unit_test(test_pbo_hand),
        cmocka_unit_test(test_pbo_matches_brute_force),
        cmocka_unit_test(test_pbo_noise_and_skill),
        cmocka_unit_test(test_selftest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
