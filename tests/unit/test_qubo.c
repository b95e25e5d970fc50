/* qt_qubo: the QUBO equals f + P (sum x - B)^2 on every state, the Ising form equals the
 * QUBO, and the penalty rule makes the penalised minimum the constrained minimum, on
 * random instances and on the real covariance of ten Binance pairs (4h log returns). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qt_qubo.h"
#include "qt_rng.h"
#include "../lib/qt_testdata.h"

#define MAXN 12

/* Random instance: Σ = A A' / n (PSD), μ ~ N(0, 1) * mu_scale. */
static void random_problem(qt_rng_t *r, size_t n, double mu_scale, double *mu, double *sigma) {
    double a[MAXN * MAXN];
    for (size_t i = 0; i < n * n; i++) a[i] = qt_rng_normal(r);
    for (size_t i = 0; i < n; i++) {
        mu[i] = mu_scale * qt_rng_normal(r);
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t k = 0; k < n; k++) s += a[i * n + k] * a[j * n + k];
            sigma[i * n + j] = s / (double)n;
        }
    }
}

/* Plain sample covariance (n-1) and mean of 4h log returns of the pairs over the bars
 * where every pair has both the bar and the one 4h before it (last `want` such bars). */
static size_t real_problem(const char *const *pairs, size_t n, size_t want, double *mu,
                           double *sigma) {
    qt_bars_t bars[MAXN];
    for (size_t k = 0; k < n; k++) qt_testdata_load_4h(pairs[k], &bars[k]);
    const int64_t step = 4 * 3600 * 1000LL;
    double *ret = calloc(want * n, sizeof(double));
    assert_non_null(ret);
    size_t m = 0;
    const qt_bars_t *ref = &bars[0];
    for (size_t t = ref->n; t-- > 1 && m < want;) {
        int64_t tm = ref->bars[t].t_ms;
        double row[MAXN];
        bool ok = true;
        for (size_t k = 0; k < n && ok; k++) {
            long i1 = qt_testdata_index_of(&bars[k], tm), i0 = qt_testdata_index_of(&bars[k], tm - step);
            if (i1 < 0 || i0 < 0) {
                ok = false;
                break;
            }
            row[k] = log(qt_fixed_to_double(bars[k].bars[i1].close) /
                         qt_fixed_to_double(bars[k].bars[i0].close));
        }
        if (!ok) continue;
        memcpy(ret + m * n, row, n * sizeof(double));
        m++;
    }
    assert_true(m >= 100);
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t t = 0; t < m; t++) s += ret[t * n + i];
        mu[i] = s / (double)m;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t t = 0; t < m; t++) s += (ret[t * n + i] - mu[i]) * (ret[t * n + j] - mu[j]);
            sigma[i * n + j] = s / (double)(m - 1);
        }
    free(ret);
    for (size_t k = 0; k < n; k++) qt_bars_free(&bars[k]);
    return m;
}

/* Brute force over all 2^n: checks E == f + P (k-B)^2 == Ising, and that the penalised
 * minimum is feasible with the constrained minimum's value and selection. */
static void check_penalised_optimum(const qt_qubo_problem_t *p) {
    char err[160];
    qt_qubo_t *q = qt_qubo_new(p, 0, err, sizeof err);
    assert_non_null(q);
    assert_true(qt_qubo_penalty_is_safe(p, q->penalty));
    size_t n = p->n;
    double best_all = INFINITY, best_feas = INFINITY, scale = 0;
    unsigned arg_all = 0, arg_feas = 0;
    for (unsigned m = 0; m < (1u << n); m++) {
        uint8_t x[MAXN];
        for (size_t i = 0; i < n; i++) x[i] = (m >> i) & 1u;
        double k = (double)qt_qubo_weight(n, x) - (double)p->budget;
        double f = qt_qubo_objective(p, x);
        double e = f + q->penalty * k * k;
        double tol = 1e-10 * (1.0 + fabs(e));
        assert_true(fabs(qt_qubo_energy(q, x) - e) <= tol);
        assert_true(fabs(qt_qubo_energy_bits(q, m) - e) <= tol);
        assert_true(fabs(qt_qubo_ising_energy(q, x) - e) <= tol);
        if (fabs(e) > scale) scale = fabs(e);
        if (e < best_all) {
            best_all = e;
            arg_all = m;
        }
        if (k == 0 && f < best_feas) {
            best_feas = f;
            arg_feas = m;
        }
    }
    assert_int_equal(__builtin_popcount(arg_all), p->budget);
    assert_true(fabs(best_all - best_feas) <= 1e-12 * (1.0 + scale));
    /* Same selection unless two feasible states tie to rounding. */
    if (arg_all != arg_feas) {
        uint8_t x[MAXN];
        for (size_t i = 0; i < n; i++) x[i] = (arg_all >> i) & 1u;
        assert_true(fabs(qt_qubo_objective(p, x) - best_feas) <= 1e-12 * (1.0 + scale));
    }
    qt_qubo_destroy(&q);
    assert_null(q);
}

static void test_random_instances(void **state) {
    (void)state;
    qt_rng_t r;
    qt_rng_seed(&r, 2024);
    double mu[MAXN], sigma[MAXN * MAXN];
    int cases = 0;
    for (size_t n = 2; n <= 10; n++)
        for (int rep = 0; rep < 3; rep++) {
            /* mu scale from 0.1 (risk dominates) to 10 (return dominates). */
            double ms = rep == 0 ? 0.1 : (rep == 1 ? 1.0 : 10.0);
            random_problem(&r, n, ms, mu, sigma);
            for (size_t B = 1; B <= n; B++) {
                qt_qubo_problem_t p = {.n = n, .mu = mu, .sigma = sigma,
                                       .q = 0.25 + qt_rng_uniform(&r), .budget = B};
                check_penalised_optimum(&p);
                cases++;
            }
        }
    assert_int_equal(cases, 3 * (2 + 3 + 4 + 5 + 6 + 7 + 8 + 9 + 10));
}

static void test_real_covariance(void **state) {
    (void)state;
    static const char *const pairs[] = {"BTC_USDT", "ETH_USDT", "BNB_USDT", "SOL_USDT",
                                        "ADA_USDT", "XLM_USDT", "LTC_USDT", "LINK_USDT",
                                        "DOT_USDT", "TRX_USDT"};
    enum { N = 10 };
    double mu[N], sigma[N * N];
    size_t m = real_problem(pairs, N, 1000, mu, sigma);
    assert_int_equal(m, 1000);
    /* Sanity of the data: crypto 4h variances are between 1e-5 and 1e-2. */
    for (size_t i = 0; i < N; i++) assert_true(sigma[i * N + i] > 1e-5 && sigma[i * N + i] < 1e-2);
    /* Returns per bar are tiny against the penalty scale; scale mu so return and risk
     * compete (annualised-like units), then check every budget and two risk weights. */
    for (size_t i = 0; i < N; i++) mu[i] *= 50.0;
    for (int qi = 0; qi < 2; qi++)
        for (size_t B = 1; B <= N; B++) {
            qt_qubo_problem_t p = {.n = N, .mu = mu, .sigma = sigma, .q = qi ? 5.0 : 0.5,
                                   .budget = B};
            check_penalised_optimum(&p);
        }
}

/* The rule's constant by hand, and a penalty below the bound that fails. */
static void test_penalty_rule(void **state) {
    (void)state;
    /* f = -x0 - x1, B = 1: D = 1. With P = 0.4, E(11) = -2 + 0.4 < E(10) = -1. */
    const double mu[2] = {1.0, 1.0}, sigma[4] = {0, 0, 0, 0};
    qt_qubo_problem_t p = {.n = 2, .mu = mu, .sigma = sigma, .q = 0.0, .budget = 1};
    assert_true(fabs(qt_qubo_flip_bound(&p) - 1.0) < 1e-15);
    assert_true(fabs(qt_qubo_penalty_rule(&p) - (1.1 + 2e-9)) < 1e-15);
    assert_false(qt_qubo_penalty_is_safe(&p, 0.4));
    assert_false(qt_qubo_penalty_is_safe(&p, 1.0));
    assert_true(qt_qubo_penalty_is_safe(&p, 1.0 + 1e-9));
    qt_qubo_t *q = qt_qubo_new(&p, 0.4, NULL, 0);
    assert_non_null(q);
    assert_true(qt_qubo_energy_bits(q, 3) < qt_qubo_energy_bits(q, 1));
    qt_qubo_destroy(&q);
    q = qt_qubo_new(&p, 0, NULL, 0);
    assert_non_null(q);
    assert_true(qt_qubo_energy_bits(q, 3) > qt_qubo_energy_bits(q, 1));
    assert_true(fabs(q->penalty - (1.1 + 2e-9)) < 1e-15);
    qt_qubo_destroy(&q);
    /* 3 assets by hand: d_i = |q S_ii - mu_i| + 2 q sum_{j!=i} |S_ij|. */
    const double mu3[3] = {0.3, 0.1, 0.2};
    const double s3[9] = {0.04, 0.01, 0.0, 0.01, 0.09, -0.02, 0.0, -0.02, 0.16};
    qt_qubo_problem_t p3 = {.n = 3, .mu = mu3, .sigma = s3, .q = 0.5, .budget = 2};
    /* d0 = 0.28 + 0.01, d1 = 0.055 + 0.03, d2 = 0.12 + 0.02 -> D = 0.29 */
    assert_true(fabs(qt_qubo_flip_bound(&p3) - 0.29) < 1e-15);
}

/* The QUBO coefficients of the 3-asset example (formulas of the header). */
static void test_coefficients(void **state) {
    (void)state;
    const double mu[3] = {0.3, 0.1, 0.2};
    const double s[9] = {0.04, 0.01, 0.0, 0.01, 0.09, -0.02, 0.0, -0.02, 0.16};
    qt_qubo_problem_t p = {.n = 3, .mu = mu, .sigma = s, .q = 0.5, .budget = 2};
    qt_qubo_t *q = qt_qubo_new(&p, 2.0, NULL, 0);
    assert_non_null(q);
    assert_true(q->penalty == 2.0);
    assert_true(fabs(q->constant - 8.0) < 1e-15);
    assert_true(fabs(q->lin[0] - (0.02 - 0.3 - 6.0)) < 1e-15);
    assert_true(fabs(q->quad[0 * 3 + 1] - (0.01 + 4.0)) < 1e-15);
    assert_true(fabs(q->quad[1 * 3 + 2] - (-0.02 + 4.0)) < 1e-15);
    assert_true(q->quad[1 * 3 + 1] == 0.0);
    assert_true(fabs(q->J[0 * 3 + 1] - (4.01 / 4.0)) < 1e-15);
    assert_true(fabs(q->h[0] - (-q->lin[0] / 2.0 - (q->quad[1] + q->quad[2]) / 4.0)) < 1e-15);
    qt_qubo_destroy(&q);
    /* Raw QUBO mirrors the upper triangle. */
    const double lin[2] = {1.0, -2.0}, quad[4] = {9.0, 3.0, 7.0, 9.0};
    q = qt_qubo_new_raw(2, lin, quad, 0.5);
    assert_non_null(q);
    assert_true(q->quad[2] == 3.0 && q->quad[1] == 3.0 && q->quad[0] == 0.0);
    assert_true(fabs(qt_qubo_energy_bits(q, 3) - (0.5 + 1.0 - 2.0 + 3.0)) < 1e-15);
    qt_qubo_destroy(&q);
    qt_qubo_destroy(&q); /* NULL is fine */
    qt_qubo_destroy(NULL);
}

static void test_validation(void **state) {
    (void)state;
    double mu[3] = {0.1, 0.2, 0.3};
    double s[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    char err[160];
    qt_qubo_problem_t p = {.n = 3, .mu = mu, .sigma = s, .q = 0.5, .budget = 2};
    assert_int_equal(qt_qubo_validate(&p, 0, err, sizeof err), 0);
    p.budget = 0;
    assert_int_equal(qt_qubo_validate(&p, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "budget"));
    p.budget = 4;
    assert_int_equal(qt_qubo_validate(&p, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "budget"));
    p.budget = 2;
    assert_int_equal(qt_qubo_validate(&p, 2, err, sizeof err), -1); /* n > max_n */
    assert_non_null(strstr(err, "n: 3"));
    p.q = -1;
    assert_int_equal(qt_qubo_validate(&p, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "q:"));
    p.q = NAN;
    assert_int_equal(qt_qubo_validate(&p, 0, err, sizeof err), -1);
    p.q = 0.5;
    mu[1] = INFINITY;
    assert_int_equal(qt_qubo_validate(&p, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "mu[1]"));
    mu[1] = 0.2;
    s[5] = 0.3; /* sigma[1][2] */
    assert_int_equal(qt_qubo_validate(&p, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "sigma[1][2]"));
    s[5] = 0;
    s[4] = -1;
    assert_int_equal(qt_qubo_validate(&p, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "sigma[1][1]"));
    s[4] = NAN;
    assert_int_equal(qt_qubo_validate(&p, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "sigma[1][1]"));
    s[4] = 1;
    mu[0] = 1e308; /* finite, but q x'Σx - μ'x and the penalty would overflow */
    p.q = 1e308;
    assert_int_equal(qt_qubo_validate(&p, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "too large"));
    mu[0] = 0.1;
    p.q = 0.5;
    assert_int_equal(qt_qubo_validate(&p, 0, err, sizeof err), 0);
    assert_null(qt_qubo_new(NULL, 0, err, sizeof err));
    p.n = 0;
    assert_int_equal(qt_qubo_validate(&p, 0, err, sizeof err), -1);
    assert_null(qt_qubo_new(&p, 0, err, sizeof err));
}

static void test_selftest(void **state) {
    (void)state;
    assert_int_equal(qt_qubo_selftest(false), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_instances), cmocka_unit_test(test_real_covariance),
        cmocka_unit_test(test_penalty_rule),     cmocka_unit_test(test_coefficients),
        cmocka_unit_test(test_validation),       cmocka_unit_test(test_selftest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
