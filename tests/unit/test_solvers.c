/* qt_solvers: exact enumeration visits every C(n,B) selection and equals brute force;
 * anneal and greedy are feasible, deterministic, never below the exact optimum; anneal
 * reaches it on small instances; cancellation and size limits work. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qt_rng.h"
#include "qt_solvers.h"
#include "../lib/qt_testdata.h"

#define MAXN 12

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

static double brute_force(const qt_qubo_problem_t *p) {
    double best = INFINITY;
    for (unsigned m = 0; m < (1u << p->n); m++) {
        if ((size_t)__builtin_popcount(m) != p->budget) continue;
        uint8_t x[MAXN];
        for (size_t i = 0; i < p->n; i++) x[i] = (m >> i) & 1u;
        double f = qt_qubo_objective(p, x);
        if (f < best) best = f;
    }
    return best;
}

static void test_binomial(void **state) {
    (void)state;
    assert_true(qt_solvers_binomial(5, 2) == 10);
    assert_true(qt_solvers_binomial(30, 15) == 155117520ull);
    assert_true(qt_solvers_binomial(20, 10) == 184756ull);
    assert_true(qt_solvers_binomial(7, 0) == 1);
    assert_true(qt_solvers_binomial(3, 4) == 0);
    assert_true(qt_solvers_binomial(200, 100) == UINT64_MAX);
}

/* Coverage: with q = 0 and mu = 1 on a target set S (0 elsewhere), S is the unique
 * optimum; exact must find every one of the C(n,B) targets, so it visits them all. */
static void test_exact_visits_every_selection(void **state) {
    (void)state;
    double sigma[MAXN * MAXN] = {0}, mu[MAXN];
    for (size_t n = 2; n <= 9; n++)
        for (size_t B = 1; B <= n; B++) {
            size_t found = 0;
            for (unsigned m = 0; m < (1u << n); m++) {
                if ((size_t)__builtin_popcount(m) != B) continue;
                for (size_t i = 0; i < n; i++) mu[i] = (m >> i) & 1u ? 1.0 : 0.0;
                qt_qubo_problem_t p = {.n = n, .mu = mu, .sigma = sigma, .q = 0, .budget = B};
                uint8_t x[MAXN];
                qt_solver_result_t r;
                assert_int_equal(qt_solve_exact(&p, NULL, x, &r, NULL, 0), 0);
                assert_true(r.evaluations == qt_solvers_binomial(n, B));
                unsigned got = 0;
                for (size_t i = 0; i < n; i++) got |= (unsigned)x[i] << i;
                assert_int_equal(got, m);
                assert_true(r.objective == -(double)B);
                found++;
            }
            assert_true(found == qt_solvers_binomial(n, B));
        }
}

static void test_exact_equals_brute_force(void **state) {
    (void)state;
    qt_rng_t rng;
    qt_rng_seed(&rng, 99);
    double mu[MAXN], sigma[MAXN * MAXN];
    for (size_t n = 1; n <= MAXN; n++) {
        random_problem(&rng, n, 0.5, mu, sigma);
        for (size_t B = 1; B <= n; B++) {
            qt_qubo_problem_t p = {.n = n, .mu = mu, .sigma = sigma, .q = 0.8, .budget = B};
            uint8_t x[MAXN];
            qt_solver_result_t r;
            char err[128];
            assert_int_equal(qt_solve_exact(&p, NULL, x, &r, err, sizeof err), 0);
            assert_true(r.feasible);
            assert_int_equal(qt_qubo_weight(n, x), B);
            assert_true(fabs(r.objective - brute_force(&p)) <= 1e-12 * (1 + fabs(r.objective)));
            assert_true(r.objective == qt_qubo_objective(&p, x));
        }
    }
}

/* Real covariance of 8 Binance pairs (4h log returns, plain sample covariance, last 500
 * common bars): exact == brute force; anneal finds it; greedy never beats it. */
static void test_real_covariance(void **state) {
    (void)state;
    static const char *const pairs[] = {"BTC_USDT", "ETH_USDT", "BNB_USDT", "SOL_USDT",
                                        "ADA_USDT", "XLM_USDT", "LTC_USDT", "LINK_USDT"};
    enum { N = 8, T = 500 };
    qt_bars_t bars[N];
    for (size_t k = 0; k < N; k++) qt_testdata_load_4h(pairs[k], &bars[k]);
    static double ret[T][N];
    size_t m = 0;
    const int64_t step = 4 * 3600 * 1000LL;
    for (size_t t = bars[0].n; t-- > 1 && m < T;) {
        int64_t tm = bars[0].bars[t].t_ms;
        bool ok = true;
        for (size_t k = 0; k < N && ok; k++) {
            long i1 = qt_testdata_index_of(&bars[k], tm), i0 = qt_testdata_index_of(&bars[k], tm - step);
            if (i1 < 0 || i0 < 0) ok = false;
            else
                ret[m][k] = log(qt_fixed_to_double(bars[k].bars[i1].close) /
                                qt_fixed_to_double(bars[k].bars[i0].close));
        }
        if (ok) m++;
    }
    for (size_t k = 0; k < N; k++) qt_bars_free(&bars[k]);
    assert_int_equal(m, T);
    double mu[N], sigma[N * N];
    for (size_t i = 0; i < N; i++) {
        double s = 0;
        for (size_t t = 0; t < T; t++) s += ret[t][i];
        mu[i] = s / T;
    }
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < N; j++) {
            double s = 0;
            for (size_t t = 0; t < T; t++) s += (ret[t][i] - mu[i]) * (ret[t][j] - mu[j]);
            sigma[i * N + j] = s / (T - 1);
        }
    for (size_t i = 0; i < N; i++) mu[i] *= 50.0;
    for (size_t B = 1; B <= N; B++) {
        qt_qubo_problem_t p = {.n = N, .mu = mu, .sigma = sigma, .q = 2.0, .budget = B};
        uint8_t x[N], y[N];
        qt_solver_result_t r, ra, rg;
        assert_int_equal(qt_solve_exact(&p, NULL, x, &r, NULL, 0), 0);
        double bf = brute_force(&p);
        assert_true(fabs(r.objective - bf) <= 1e-15 + 1e-12 * fabs(bf));
        assert_int_equal(qt_solve_anneal(&p, NULL, y, &ra, NULL, 0), 0);
        assert_true(fabs(ra.objective - bf) <= 1e-15 + 1e-12 * fabs(bf));
        assert_int_equal(qt_solve_greedy(&p, NULL, y, &rg, NULL, 0), 0);
        assert_true(rg.feasible && rg.objective >= bf - 1e-15);
    }
}

static void test_anneal(void **state) {
    (void)state;
    qt_rng_t rng;
    qt_rng_seed(&rng, 7);
    double mu[MAXN], sigma[MAXN * MAXN];
    qt_solver_opts_t o;
    qt_solver_opts_default(&o);
    o.sweeps = 300;
    for (int rep = 0; rep < 6; rep++) {
        size_t n = 12, B = (size_t)(2 + rep);
        random_problem(&rng, n, 0.5, mu, sigma);
        qt_qubo_problem_t p = {.n = n, .mu = mu, .sigma = sigma, .q = 0.8, .budget = B};
        uint8_t x[MAXN], y[MAXN];
        qt_solver_result_t r1, r2;
        assert_int_equal(qt_solve_anneal(&p, &o, x, &r1, NULL, 0), 0);
        assert_true(r1.feasible);
        assert_int_equal(qt_qubo_weight(n, x), B);
        assert_true(fabs(r1.objective - brute_force(&p)) <= 1e-12 * (1 + fabs(r1.objective)));
        /* Deterministic for a seed. */
        assert_int_equal(qt_solve_anneal(&p, &o, y, &r2, NULL, 0), 0);
        assert_memory_equal(x, y, n);
        assert_true(r1.objective == r2.objective && r1.evaluations == r2.evaluations);
        assert_true(r1.evaluations >= (uint64_t)o.sweeps * n * o.restarts);
    }
    /* B = n: the only state. */
    random_problem(&rng, 5, 1.0, mu, sigma);
    qt_qubo_problem_t p = {.n = 5, .mu = mu, .sigma = sigma, .q = 0.3, .budget = 5};
    uint8_t x[5];
    qt_solver_result_t r;
    assert_int_equal(qt_solve_anneal(&p, NULL, x, &r, NULL, 0), 0);
    for (int i = 0; i < 5; i++) assert_int_equal(x[i], 1);
}

/* Greedy by hand: mu = (3, 2, 2.5), Σ_00 = 1, Σ_02 = Σ_20 = 1 (else 0), q = 1, B = 2.
 * Step 1: Δ_i = q Σ_ii - mu_i = (-2, -2, -2.5) -> asset 2; g = Σ[:,2] = (1, 0, 0).
 * Step 2: Δ_0 = 1 + 2*1 - 3 = 0, Δ_1 = 0 - 2 = -2 -> asset 1. f({1,2}) = -4.5, the
 * optimum ({0,1}: -4, {0,2}: -2.5). */
static void test_greedy(void **state) {
    (void)state;
    double mu[3] = {3.0, 2.0, 2.5};
    const double sigma[9] = {1, 0, 1, 0, 0, 0, 1, 0, 0};
    qt_qubo_problem_t p = {.n = 3, .mu = mu, .sigma = sigma, .q = 1.0, .budget = 2};
    uint8_t x[3];
    qt_solver_result_t r;
    assert_int_equal(qt_solve_greedy(&p, NULL, x, &r, NULL, 0), 0);
    assert_int_equal(x[0], 0);
    assert_int_equal(x[1], 1);
    assert_int_equal(x[2], 1);
    assert_true(fabs(r.objective - (-4.5)) < 1e-15);
    assert_true(r.evaluations == 3 + 2);
    /* A case where greedy is suboptimal: the first pick (largest mu) is correlated with
     * both others. mu = (1, 0.9, 0.9), Σ_01 = Σ_02 = 1, q = 1, B = 2:
     * greedy: asset 0 (Δ = -1), then Δ_1 = Δ_2 = 2 - 0.9 = 1.1 -> {0, 1}, f = 0.1;
     * optimum {1, 2}: f = -1.8. */
    double mu2[3] = {1.0, 0.9, 0.9};
    const double s2[9] = {0, 1, 1, 1, 0, 0, 1, 0, 0};
    qt_qubo_problem_t p2 = {.n = 3, .mu = mu2, .sigma = s2, .q = 1.0, .budget = 2};
    assert_int_equal(qt_solve_greedy(&p2, NULL, x, &r, NULL, 0), 0);
    assert_true(x[0] == 1 && x[1] == 1 && x[2] == 0);
    assert_true(fabs(r.objective - 0.1) < 1e-12);
    assert_int_equal(qt_solve_exact(&p2, NULL, x, &r, NULL, 0), 0);
    assert_true(x[0] == 0 && x[1] == 1 && x[2] == 1);
    assert_true(fabs(r.objective - (-1.8)) < 1e-12);
}

static bool stop_now(void *ud) {
    int *calls = ud;
    (*calls)++;
    return true;
}

static void test_limits_and_stop(void **state) {
    (void)state;
    enum { N = 40 };
    static double mu[N], sigma[N * N];
    for (size_t i = 0; i < N; i++) {
        mu[i] = 0.01 * (double)i;
        sigma[i * N + i] = 1.0;
    }
    qt_qubo_problem_t p = {.n = N, .mu = mu, .sigma = sigma, .q = 0.1, .budget = 20};
    uint8_t x[N];
    qt_solver_result_t r;
    char err[160];
    assert_int_equal(qt_solve_exact(&p, NULL, x, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "max_steps"));
    /* Stop after the first 2^20 enumeration steps of C(24, 12) = 2.7e6. */
    qt_solver_opts_t o;
    qt_solver_opts_default(&o);
    int calls = 0;
    o.should_stop = stop_now;
    o.stop_ud = &calls;
    p.n = 24;
    p.budget = 12;
    static double s24[24 * 24];
    for (size_t i = 0; i < 24; i++) s24[i * 24 + i] = 1.0;
    p.sigma = s24;
    assert_int_equal(qt_solve_exact(&p, &o, x, &r, err, sizeof err), 0);
    assert_true(r.stopped);
    assert_int_equal(calls, 1);
    assert_true(r.evaluations == (1u << 20));
    assert_true(r.feasible);
    calls = 0;
    assert_int_equal(qt_solve_anneal(&p, &o, x, &r, err, sizeof err), 0);
    assert_true(r.stopped && r.feasible);
    assert_int_equal(calls, 1);
    /* Invalid problem. */
    p.budget = 0;
    assert_int_equal(qt_solve_greedy(&p, NULL, x, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "budget"));
    assert_int_equal(qt_solve_anneal(&p, NULL, x, &r, err, sizeof err), -1);
    assert_int_equal(qt_solve_exact(&p, NULL, x, &r, err, sizeof err), -1);
}

static void test_selftest(void **state) {
    (void)state;
    assert_int_equal(qt_solvers_selftest(false), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binomial),
        cmocka_unit_test(test_exact_visits_every_selection),
        cmocka_unit_test(test_exact_equals_brute_force),
        cmocka_unit_test(test_real_covariance),
        cmocka_unit_test(test_anneal),
        cmocka_unit_test(test_greedy),
        cmocka_unit_test(test_limits_and_stop),
        cmocka_unit_test(test_selftest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
