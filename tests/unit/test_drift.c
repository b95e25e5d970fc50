/* Unit tests: libs/quant/qt_drift. PSI against hand-computed values, bins from the
 * reference quantiles; the KS statistic against hand-counted ECDFs and the p-value against
 * published Kolmogorov-distribution values; a real-data check: BTC 4h log returns of
 * 2018 vs 2019 vs 2021. */
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
#include "qt_drift.h"

static void test_selftest(void **state) {
    (void)state;
    assert_int_equal(qt_drift_selftest(false), 0);
}

static void test_quantile_and_bins(void **state) {
    (void)state;
    double v[] = {1, 2, 3, 4};
    assert_true(qt_drift_quantile_sorted(v, 4, 0.5) == 2.5);     /* type 7 */
    assert_true(qt_drift_quantile_sorted(v, 4, 0.25) == 1.75);
    assert_true(qt_drift_quantile_sorted(v, 4, 0.0) == 1.0);
    assert_true(qt_drift_quantile_sorted(v, 4, 1.0) == 4.0);
    /* reference 1..10, 4 bins: edges Q(.25)=3.25, Q(.5)=5.5, Q(.75)=7.75 ->
     * counts 3,2,2,3 -> fractions .3 .2 .2 .3 */
    double r[10];
    for (int i = 0; i < 10; i++) r[i] = 10 - i;   /* any order */
    qt_psi_ref_t ref;
    assert_int_equal(qt_psi_ref_build(r, 10, 4, &ref), 0);
    assert_true(ref.edges[0] == 3.25 && ref.edges[1] == 5.5 && ref.edges[2] == 7.75);
    assert_true(ref.ref_frac[0] == 0.3 && ref.ref_frac[1] == 0.2 && ref.ref_frac[2] == 0.2 &&
                ref.ref_frac[3] == 0.3);
    assert_int_equal(qt_psi_bin(&ref, 3.25), 0);   /* right-closed */
    assert_int_equal(qt_psi_bin(&ref, 3.26), 1);
    assert_int_equal(qt_psi_bin(&ref, -1e300), 0);
    assert_int_equal(qt_psi_bin(&ref, 1e300), 3);
    /* too few values / bad bins */
    assert_int_equal(qt_psi_ref_build(r, 3, 4, &ref), -1);
    assert_int_equal(qt_psi_ref_build(r, 10, 1, &ref), -1);
    assert_int_equal(qt_psi_ref_build(r, 10, QT_DRIFT_MAX_BINS + 1, &ref), -1);
}

static void test_psi_values(void **state) {
    (void)state;
    double r[10];
    for (int i = 0; i < 10; i++) r[i] = i + 1;
    qt_psi_ref_t ref;
    assert_int_equal(qt_psi_ref_build(r, 10, 4, &ref), 0);
    /* live: 5 values all in bin 3 plus 5 in bin 0 -> a = .5 0 0 .5 (0 -> eps 1e-4) */
    double live[10] = {1, 1, 2, 2, 3, 9, 9, 10, 10, 8};
    double want = (0.5 - 0.3) * log(0.5 / 0.3) * 2 + (1e-4 - 0.2) * log(1e-4 / 0.2) * 2;
    assert_true(fabs(qt_psi(&ref, live, 10, 0.0) - want) < 1e-12);
    assert_true(fabs(want - 3.243171052831321) < 1e-12);
    /* another eps */
    double want2 = (0.5 - 0.3) * log(0.5 / 0.3) * 2 + (1e-3 - 0.2) * log(1e-3 / 0.2) * 2;
    assert_true(fabs(qt_psi(&ref, live, 10, 1e-3) - want2) < 1e-12);
    /* same distribution as the reference: 0; non-finite values ignored */
    double same[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, NAN, INFINITY};
    assert_true(fabs(qt_psi(&ref, same, 12, 0.0)) < 1e-15);
    double none[2] = {NAN, NAN};
    assert_true(isnan(qt_psi(&ref, none, 2, 0.0)));
    /* stored reference */
    double edges[3] = {3.25, 5.5, 7.75}, frac[4] = {0.3, 0.2, 0.2, 0.3};
    qt_psi_ref_t r2;
    assert_int_equal(qt_psi_ref_set(&r2, edges, frac, 4), 0);
    assert_true(qt_psi(&r2, live, 10, 0.0) == qt_psi(&ref, live, 10, 0.0));
    double bad_frac[4] = {0.3, 0.2, 0.2, 0.2};
    assert_int_equal(qt_psi_ref_set(&r2, edges, bad_frac, 4), -1);
    double bad_edges[3] = {3, 2, 4};
    assert_int_equal(qt_psi_ref_set(&r2, bad_edges, frac, 4), -1);
}

static void test_ks(void **state) {
    (void)state;
    /* a = 1..5, b = 3..8: after x=2 F_a = .4, F_b = 0 -> ... max at x=2 (0.4) or x=5
     * (F_a = 1, F_b = 3/6 = .5) -> D = 0.5 */
    double a[5] = {5, 4, 3, 2, 1}, b[6] = {3, 4, 5, 6, 7, 8};
    assert_true(qt_ks_stat(a, 5, b, 6) == 0.5);
    assert_true(qt_ks_stat(b, 6, a, 5) == 0.5);
    /* ties across samples move together: identical -> 0 */
    double c[4] = {1, 1, 2, 2};
    assert_true(qt_ks_stat(c, 4, c, 4) == 0.0);
    /* disjoint -> 1 */
    double d[2] = {10, 11};
    assert_true(qt_ks_stat(a, 5, d, 2) == 1.0);
    double n1[1] = {NAN};
    assert_true(isnan(qt_ks_stat(n1, 1, a, 5)));
    /* Kolmogorov survival: Q(1) = 0.2699996717, Q(1.36) = 0.0494858768, Q(0.5) = 0.9639452437 */
    assert_true(fabs(qt_ks_q(1.0) - 0.26999967167735456) < 1e-14);
    assert_true(fabs(qt_ks_q(1.36) - 0.049485876755377876) < 1e-14);
    assert_true(fabs(qt_ks_q(0.5) - 0.9639452436648751) < 1e-14);
    assert_true(qt_ks_q(0.1) == 1.0);
    assert_true(qt_ks_q(10.0) < 1e-80);
    /* p-value: na = nb = 100, D = 0.2 -> ne = 50, lambda = (sqrt50 + .12 + .11/sqrt50) * .2 */
    double lam = (sqrt(50.0) + 0.12 + 0.11 / sqrt(50.0)) * 0.2;
    assert_true(fabs(qt_ks_pvalue(0.2, 100, 100) - qt_ks_q(lam)) < 1e-15);
    assert_true(fabs(qt_ks_pvalue(0.2, 100, 100) - 0.03137665215307253) < 1e-12);
    assert_true(isnan(qt_ks_pvalue(0.2, 0, 100)));
}

/* Real data: BTC 4h log returns. Year against itself split in halves is stable; 2018
 * (bear, high vol) against 2019 and 2021 is more different. */
static void test_real_btc_returns(void **state) {
    (void)state;
    qt_bars_t bars;
    qt_testdata_load_4h("BTC_USDT", &bars);
    double *r = calloc(bars.n, sizeof *r);
    int64_t *t = calloc(bars.n, sizeof *t);
    size_t n = 0;
    for (size_t i = 1; i < bars.n; i++) {
        r[n] = log((double)bars.bars[i].close / (double)bars.bars[i - 1].close);
        t[n++] = bars.bars[i].t_ms;
    }
    /* year ranges [start, end) in ms */
    const int64_t y2018 = 1514764800000LL, y2019 = 1546300800000LL, y2020 = 1577836800000LL,
                  y2021 = 1609459200000LL, y2022 = 1640995200000LL;
    size_t a0 = 0, a1 = 0, b0 = 0, b1 = 0, c0 = 0, c1 = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i] < y2018) a0 = i + 1;
        if (t[i] < y2019) a1 = b0 = i + 1;
        if (t[i] < y2020) b1 = i + 1;
        if (t[i] < y2021) c0 = i + 1;
        if (t[i] < y2022) c1 = i + 1;
    }
    assert_true(a1 - a0 > 2000 && b1 - b0 > 2000 && c1 - c0 > 2000);
    qt_psi_ref_t ref;
    assert_int_equal(qt_psi_ref_build(r + b0, b1 - b0, 10, &ref), 0);
    size_t half = (b1 - b0) / 2;
    qt_psi_ref_t rh;
    assert_int_equal(qt_psi_ref_build(r + b0, half, 10, &rh), 0);
    double psi_self = qt_psi(&rh, r + b0 + half, (b1 - b0) - half, 0.0);
    double psi_2018 = qt_psi(&ref, r + a0, a1 - a0, 0.0);
    double psi_2021 = qt_psi(&ref, r + c0, c1 - c0, 0.0);
    double ks_2018 = qt_ks_stat(r + b0, b1 - b0, r + a0, a1 - a0);
    double ks_2021 = qt_ks_stat(r + b0, b1 - b0, r + c0, c1 - c0);
    double p_2021 = qt_ks_pvalue(ks_2021, b1 - b0, c1 - c0);
    printf("    BTC 4h returns vs 2019: PSI 2019 halves %.4f, 2018 %.4f, 2021 %.4f; "
           "KS 2018 %.4f, 2021 %.4f (p %.3g)\n",
           psi_self, psi_2018, psi_2021, ks_2018, ks_2021, p_2021);
    assert_true(psi_self < 0.1);                 /* stable within a year */
    assert_true(psi_2021 > psi_self);            /* 2021 more volatile than 2019 */
    assert_true(ks_2021 > 0.0 && ks_2021 < 0.2);
    assert_true(p_2021 >= 0.0 && p_2021 <= 1.0);
    free(r);
    free(t);
    qt_bars_free(&bars);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selftest),
        cmocka_unit_test(test_quantile_and_bins),
        cmocka_unit_test(test_psi_values),
        cmocka_unit_test(test_ks),
        cmocka_unit_test(test_real_btc_returns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
