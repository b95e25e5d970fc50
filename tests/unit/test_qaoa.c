/* qt_qaoa: the simulator against independent references (a naive state-vector code in
 * this file, brute-force sums, analytic values: a single RX rotation, p = 1 MaxCut on
 * rings, the XY mixer on two qubits), norm preservation after every layer, weight
 * preservation of the XY mixer, memory refusals, the full solve (feasible answer,
 * exact optimum known, deterministic, thread-count independent) and cancellation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <complex.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "qt_qaoa.h"
#include "qt_rng.h"
#include "qt_solvers.h"

#define MAXN 16

static void random_problem(qt_rng_t *r, size_t n, double mu_scale, double *mu, double *sigma) {
    static double a[MAXN * MAXN];
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

/* ---- naive reference simulator (complex arithmetic, one qubit at a time) ---- */
static void ref_phase(double complex *psi, const qt_qubo_t *q, uint64_t dim, double g) {
    for (uint64_t x = 0; x < dim; x++) psi[x] *= cexp(-I * g * qt_qubo_energy_bits(q, x));
}
static void ref_rx(double complex *psi, size_t n, uint64_t dim, double b) {
    for (size_t j = 0; j < n; j++)
        for (uint64_t x = 0; x < dim; x++) {
            if (x & (1ull << j)) continue;
            uint64_t y = x | (1ull << j);
            double complex a0 = psi[x], a1 = psi[y];
            psi[x] = cos(b) * a0 - I * sin(b) * a1;
            psi[y] = -I * sin(b) * a0 + cos(b) * a1;
        }
}

static void test_selftest(void **state) {
    (void)state;
    assert_int_equal(qt_qaoa_selftest(false), 0);
}

/* n = 1, C = x. psi = RX(beta) P(gamma) |+>: amplitudes by hand
 * a0 = (cos b - i sin b e^{-ig}) / sqrt2, a1 = (cos b e^{-ig} - i sin b) / sqrt2,
 * and <C> = |a1|^2 = (1 + sin 2b sin g) / 2. */
static void test_single_rx(void **state) {
    (void)state;
    double lin[1] = {1.0}, quad[1] = {0};
    qt_qubo_t *q = qt_qubo_new_raw(1, lin, quad, 0);
    qt_qaoa_sim_t *s = qt_qaoa_sim_new(q, NULL, NULL, 0);
    assert_non_null(s);
    for (int k = 0; k < 20; k++) {
        double g = -2.0 + 0.37 * k, b = 1.5 - 0.21 * k;
        assert_int_equal(qt_qaoa_sim_run(s, 1, &g, &b), 0);
        const double complex *psi = qt_qaoa_sim_state(s);
        double complex a0 = (cos(b) - I * sin(b) * cexp(-I * g)) / sqrt(2.0);
        double complex a1 = (cos(b) * cexp(-I * g) - I * sin(b)) / sqrt(2.0);
        assert_true(cabs(psi[0] - a0) < 1e-14 && cabs(psi[1] - a1) < 1e-14);
        assert_true(fabs(qt_qaoa_sim_expectation(s) - 0.5 * (1 + sin(2 * b) * sin(g))) < 1e-14);
    }
    /* Large angles: 9e4 uses the inline sincos (|gamma C| <= 1e5), 3e5 falls back to libm;
     * both agree with libm's sin to the rounding of the reduction. */
    const double big[4] = {9.0e4 + 0.3, -8.7e4 - 1.1, 3.0e5 + 0.2, -1.0e7};
    for (int k = 0; k < 4; k++) {
        double g = big[k], b = 0.4;
        qt_qaoa_sim_run(s, 1, &g, &b);
        assert_true(fabs(qt_qaoa_sim_expectation(s) - 0.5 * (1 + sin(2 * b) * sin(g))) < 1e-10);
        assert_true(fabs(qt_qaoa_sim_norm2(s) - 1.0) < 1e-14);
    }
    qt_qaoa_sim_destroy(&s);
    assert_null(s);
    qt_qubo_destroy(&q);
}

/* p = 1 MaxCut on a ring (2-regular, triangle-free): per edge
 * <C_uv> = 1/2 + (1/4) sin(4 beta) sin(gamma) (cos^{d_u} gamma + cos^{d_v} gamma),
 * d = degree - 1 = 1 (Wang, Hadfield, Jiang, Rieffel, PRA 97, 022304 (2018));
 * so <cut> = n (1/2 + (1/4) sin(4 beta) sin(2 gamma)), maximum 3n/4 at (pi/4, pi/8)
 * (Farhi et al. 2014). The cut as a QUBO: sum over edges x_i + x_j - 2 x_i x_j. */
static void test_maxcut_ring(void **state) {
    (void)state;
    for (size_t n = 4; n <= 10; n += 3) {
        double lin[16], quad[16 * 16];
        memset(quad, 0, sizeof quad);
        for (size_t i = 0; i < n; i++) {
            lin[i] = 2.0;
            size_t j = (i + 1) % n, a = i < j ? i : j, b = i < j ? j : i;
            quad[a * n + b] = -2.0;
        }
        qt_qubo_t *q = qt_qubo_new_raw(n, lin, quad, 0);
        qt_qaoa_sim_t *s = qt_qaoa_sim_new(q, NULL, NULL, 0);
        assert_non_null(s);
        const double gs[4] = {M_PI / 4, 0.3, -1.2, 2.0}, bs[4] = {M_PI / 8, 0.9, 0.4, -0.33};
        for (int k = 0; k < 4; k++) {
            qt_qaoa_sim_run(s, 1, &gs[k], &bs[k]);
            double want = (double)n * (0.5 + 0.25 * sin(4 * bs[k]) * sin(2 * gs[k]));
            assert_true(fabs(qt_qaoa_sim_expectation(s) - want) < 1e-12);
        }
        qt_qaoa_sim_run(s, 1, &gs[0], &bs[0]);
        assert_true(fabs(qt_qaoa_sim_expectation(s) - 0.75 * (double)n) < 1e-12);
        qt_qaoa_sim_destroy(&s);
        qt_qubo_destroy(&q);
    }
}

/* Cost table, norm after every layer, and every expectation against the brute-force sum
 * over the explicit state; the state against the naive reference (n = 14 exercises the
 * high-qubit passes above the 2^12 block). */
static void test_against_reference(void **state) {
    (void)state;
    qt_rng_t rng;
    qt_rng_seed(&rng, 5);
    static double mu[MAXN], sigma[MAXN * MAXN];
    const size_t ns[5] = {2, 5, 8, 14, 16}; /* 14, 16: high-qubit groups of 2 and 4 */
    for (int t = 0; t < 5; t++) {
        size_t n = ns[t];
        uint64_t dim = 1ull << n;
        random_problem(&rng, n, 1.0, mu, sigma);
        qt_qubo_problem_t p = {.n = n, .mu = mu, .sigma = sigma, .q = 0.7, .budget = n / 2};
        qt_qubo_t *q = qt_qubo_new(&p, 0, NULL, 0);
        assert_non_null(q);
        qt_qaoa_sim_t *s = qt_qaoa_sim_new(q, NULL, NULL, 0);
        assert_non_null(s);
        const double *C = qt_qaoa_sim_cost(s);
        for (uint64_t x = 0; x < dim; x++) {
            double e = qt_qubo_energy_bits(q, x);
            assert_true(fabs(C[x] - e) <= 1e-10 * (1 + fabs(e)));
        }
        double complex *ref = malloc(dim * sizeof(double complex));
        assert_non_null(ref);
        for (uint64_t x = 0; x < dim; x++) ref[x] = 1.0 / sqrt((double)dim);
        qt_qaoa_sim_reset(s);
        double scale = 1.0 / (q->penalty * (double)n);
        for (int l = 0; l < 3; l++) {
            double g = scale * (0.4 + 0.3 * l), b = 0.7 - 0.25 * l;
            qt_qaoa_sim_phase(s, g);
            assert_true(fabs(qt_qaoa_sim_norm2(s) - 1.0) < 1e-12);
            qt_qaoa_sim_mix(s, b);
            assert_true(fabs(qt_qaoa_sim_norm2(s) - 1.0) < 1e-12);
            ref_phase(ref, q, dim, g);
            ref_rx(ref, n, dim, b);
            const double complex *psi = qt_qaoa_sim_state(s);
            double brute = 0, diff = 0;
            for (uint64_t x = 0; x < dim; x++) {
                double pr = creal(psi[x]) * creal(psi[x]) + cimag(psi[x]) * cimag(psi[x]);
                brute += pr * qt_qubo_energy_bits(q, x);
                if (cabs(psi[x] - ref[x]) > diff) diff = cabs(psi[x] - ref[x]);
            }
            assert_true(diff < 1e-11);
            double e = qt_qaoa_sim_expectation(s);
            assert_true(fabs(e - brute) <= 1e-10 * (1 + fabs(brute)));
        }
        /* The fused layer of qt_qaoa_sim_run does the same arithmetic. */
        const double gs[2] = {scale * 0.4, scale * 0.7}, bs[2] = {0.7, 0.45};
        qt_qaoa_sim_run(s, 2, gs, bs);
        double complex *a = malloc(dim * sizeof(double complex));
        assert_non_null(a);
        memcpy(a, qt_qaoa_sim_state(s), dim * sizeof(double complex));
        qt_qaoa_sim_reset(s);
        for (int l = 0; l < 2; l++) {
            qt_qaoa_sim_phase(s, gs[l]);
            qt_qaoa_sim_mix(s, bs[l]);
        }
        assert_memory_equal(a, qt_qaoa_sim_state(s), dim * sizeof(double complex));
        free(a);
        free(ref);
        qt_qaoa_sim_destroy(&s);
        qt_qubo_destroy(&q);
    }
}

/* XY mixer: exp(-i b (XX + YY)) on |01> gives cos 2b |01> - i sin 2b |10> (n = 2, basis
 * start); from the Dicke state the weight stays B, the norm 1, and the expectation
 * equals the brute-force sum. */
static void test_xy_mixer(void **state) {
    (void)state;
    double lin[2] = {0.3, -0.2}, quad[4] = {0, 0.5, 0, 0};
    qt_qubo_t *q = qt_qubo_new_raw(2, lin, quad, 0);
    qt_qaoa_opts_t o;
    qt_qaoa_opts_default(&o);
    o.mixer = QT_QAOA_MIXER_XY;
    const uint8_t start[2] = {1, 0}; /* x0 = 1: state index 1 = |01> with qubit 0 set */
    o.xy_start = start;
    qt_qaoa_sim_t *s = qt_qaoa_sim_new(q, &o, NULL, 0);
    assert_non_null(s);
    double b = 0.37;
    qt_qaoa_sim_mix(s, b);
    const double complex *psi = qt_qaoa_sim_state(s);
    assert_true(cabs(psi[1] - cos(2 * b)) < 1e-15);
    assert_true(cabs(psi[2] - (-I * sin(2 * b))) < 1e-15);
    assert_true(cabs(psi[0]) == 0 && cabs(psi[3]) == 0);
    qt_qaoa_sim_destroy(&s);
    qt_qubo_destroy(&q);

    qt_rng_t rng;
    qt_rng_seed(&rng, 11);
    static double mu[MAXN], sigma[MAXN * MAXN];
    for (size_t n = 3; n <= 9; n += 3) {
        size_t B = n / 3 + 1;
        uint64_t dim = 1ull << n;
        random_problem(&rng, n, 1.0, mu, sigma);
        qt_qubo_problem_t p = {.n = n, .mu = mu, .sigma = sigma, .q = 0.5, .budget = B};
        q = qt_qubo_new(&p, 0, NULL, 0);
        o.xy_start = NULL;
        s = qt_qaoa_sim_new(q, &o, NULL, 0);
        assert_non_null(s);
        psi = qt_qaoa_sim_state(s);
        double amp = 1.0 / sqrt((double)qt_solvers_binomial(n, B));
        for (uint64_t x = 0; x < dim; x++)
            assert_true(fabs(creal(psi[x]) - ((size_t)__builtin_popcountll(x) == B ? amp : 0)) <
                        1e-15);
        for (int l = 0; l < 3; l++) {
            qt_qaoa_sim_phase(s, 0.05 * (l + 1));
            qt_qaoa_sim_mix(s, 0.3 + 0.2 * l);
            assert_true(fabs(qt_qaoa_sim_norm2(s) - 1.0) < 1e-12);
            double outside = 0, brute = 0;
            for (uint64_t x = 0; x < dim; x++) {
                double pr = creal(psi[x]) * creal(psi[x]) + cimag(psi[x]) * cimag(psi[x]);
                if ((size_t)__builtin_popcountll(x) != B) outside += pr;
                brute += pr * qt_qubo_energy_bits(q, x);
            }
            assert_true(outside == 0.0);
            assert_true(fabs(qt_qaoa_sim_expectation(s) - brute) <= 1e-10 * (1 + fabs(brute)));
        }
        /* The mixer moves amplitude: not every feasible state keeps 1/sqrt(C(n,B)). */
        double spread = 0;
        for (uint64_t x = 0; x < dim; x++)
            if ((size_t)__builtin_popcountll(x) == B) spread += fabs(cabs(psi[x]) - amp);
        assert_true(spread > 1e-3);
        qt_qaoa_sim_destroy(&s);
        qt_qubo_destroy(&q);
    }
}

static void test_memory_checks(void **state) {
    (void)state;
    assert_true(qt_qaoa_mem_bytes(20) == (1ull << 20) * 24 + 256 * 8);
    assert_true(qt_qaoa_mem_bytes(33) == 0);
    double lin[30] = {0}, quad[30 * 30] = {0};
    qt_qubo_t *q = qt_qubo_new_raw(30, lin, quad, 0);
    char err[256];
    qt_qaoa_opts_t o;
    qt_qaoa_opts_default(&o);
    assert_null(qt_qaoa_sim_new(q, &o, err, sizeof err)); /* 30 > default max_n 26 */
    assert_non_null(strstr(err, "max_n=26"));
    o.max_n = 30;
    o.mem_limit_bytes = 1ull << 30; /* 2^30 * 24 bytes needed */
    assert_null(qt_qaoa_sim_new(q, &o, err, sizeof err));
    assert_non_null(strstr(err, "above the memory limit"));
    o.mem_limit_bytes = 0;
    o.mem_available_bytes = 1ull << 20;
    assert_null(qt_qaoa_sim_new(q, &o, err, sizeof err));
    assert_non_null(strstr(err, "available"));
    o.max_n = 100; /* clamped to the hard ceiling */
    qt_qubo_destroy(&q);
    double lin33[33] = {0}, quad33[33 * 33] = {0};
    q = qt_qubo_new_raw(33, lin33, quad33, 0);
    assert_null(qt_qaoa_sim_new(q, &o, err, sizeof err));
    assert_non_null(strstr(err, "max_n=32"));
    qt_qubo_destroy(&q);
}

/* The full pipeline on a small instance: feasible answer, exact optimum from the table
 * equals qt_solve_exact, consistent figures, deterministic for a seed. */
static void test_solve(void **state) {
    (void)state;
    qt_rng_t rng;
    qt_rng_seed(&rng, 21);
    static double mu[MAXN], sigma[MAXN * MAXN];
    random_problem(&rng, 8, 1.0, mu, sigma);
    qt_qubo_problem_t p = {.n = 8, .mu = mu, .sigma = sigma, .q = 0.5, .budget = 3};
    uint8_t ex[8];
    qt_solver_result_t er;
    assert_int_equal(qt_solve_exact(&p, NULL, ex, &er, NULL, 0), 0);
    for (int mixer = 0; mixer < 2; mixer++) {
        qt_qaoa_opts_t o;
        qt_qaoa_opts_default(&o);
        o.mixer = mixer ? QT_QAOA_MIXER_XY : QT_QAOA_MIXER_X;
        o.p = 3;
        o.multistart = 2;
        o.max_evals = 60;
        qt_qaoa_result_t r1, r2, r3;
        assert_int_equal(qt_qaoa_solve(&p, 0, &o, &r1), 0);
        assert_false(r1.stopped);
        assert_int_equal(r1.p, 3);
        assert_true(r1.feasible);
        assert_int_equal(qt_qubo_weight(8, r1.selection), 3);
        assert_true(r1.objective == qt_qubo_objective(&p, r1.selection));
        assert_true(fabs(r1.optimum - er.objective) < 1e-12);
        assert_true(r1.objective >= r1.optimum - 1e-12);
        assert_true(r1.best_probability > 0 && r1.best_probability <= 1.0 + 1e-12);
        assert_true(r1.approx_ratio >= 0 && r1.approx_ratio <= 1.0);
        assert_true(r1.evaluations > 0 && r1.evaluations <= 2 * 60 + 2 * 60);
        assert_true(qt_qubo_penalty_is_safe(&p, r1.penalty));
        /* The reported angles reproduce the expectation. */
        qt_qubo_t *q = qt_qubo_new(&p, 0, NULL, 0);
        qt_qaoa_sim_t *s = qt_qaoa_sim_new(q, &o, NULL, 0);
        qt_qaoa_sim_run(s, r1.p, r1.gammas, r1.betas);
        assert_true(qt_qaoa_sim_expectation(s) == r1.expectation);
        qt_qaoa_sim_destroy(&s);
        qt_qubo_destroy(&q);
        /* Deterministic. */
        assert_int_equal(qt_qaoa_solve(&p, 0, &o, &r2), 0);
        assert_memory_equal(&r1, &r2, sizeof r1);
        /* One layer optimised is no better than three (warm start keeps improving). */
        o.p = 1;
        assert_int_equal(qt_qaoa_solve(&p, 0, &o, &r3), 0);
        assert_true(r1.expectation <= r3.expectation + 1e-12);
        assert_true(r1.approx_ratio >= r3.approx_ratio - 1e-12);
        /* The optimiser beats the starting state: <C> below the uniform (or Dicke) mean. */
        q = qt_qubo_new(&p, 0, NULL, 0);
        s = qt_qaoa_sim_new(q, &o, NULL, 0);
        double e0 = qt_qaoa_sim_expectation(s);
        assert_true(r3.expectation < e0);
        qt_qaoa_sim_destroy(&s);
        qt_qubo_destroy(&q);
    }
}

/* Results do not depend on the thread count (n = 15 is above the parallel threshold). */
static void test_threads(void **state) {
    (void)state;
    qt_rng_t rng;
    qt_rng_seed(&rng, 3);
    static double mu[MAXN], sigma[MAXN * MAXN];
    random_problem(&rng, 15, 1.0, mu, sigma);
    qt_qubo_problem_t p = {.n = 15, .mu = mu, .sigma = sigma, .q = 0.5, .budget = 5};
    qt_qubo_t *q = qt_qubo_new(&p, 0, NULL, 0);
    double e[2], nrm[2];
    uint64_t smp[2][64];
    const double gs[2] = {0.01, 0.02}, bs[2] = {0.5, 0.3};
    for (int t = 0; t < 2; t++) {
        omp_set_num_threads(t + 1);
        qt_qaoa_sim_t *s = qt_qaoa_sim_new(q, NULL, NULL, 0);
        qt_qaoa_sim_run(s, 2, gs, bs);
        e[t] = qt_qaoa_sim_expectation(s);
        nrm[t] = qt_qaoa_sim_norm2(s);
        qt_rng_t r;
        qt_rng_seed(&r, 9);
        qt_qaoa_sim_sample(s, &r, 64, smp[t]);
        qt_qaoa_sim_destroy(&s);
    }
    omp_set_num_threads(2);
    assert_true(e[0] == e[1] && nrm[0] == nrm[1]);
    assert_memory_equal(smp[0], smp[1], sizeof smp[0]);
    for (int k = 1; k < 64; k++) assert_true(smp[0][k - 1] <= smp[0][k]);
    qt_qubo_destroy(&q);
}

/* Sampling follows |psi|^2: on a 2-qubit state with known probabilities, 20000 shots
 * land within 5 sigma of the expected counts. */
static void test_sampling(void **state) {
    (void)state;
    double lin[2] = {1.0, 0.0}, quad[4] = {0};
    qt_qubo_t *q = qt_qubo_new_raw(2, lin, quad, 0);
    qt_qaoa_sim_t *s = qt_qaoa_sim_new(q, NULL, NULL, 0);
    double g = 1.0, b = 0.3;
    qt_qaoa_sim_run(s, 1, &g, &b);
    const double complex *psi = qt_qaoa_sim_state(s);
    enum { SHOTS = 20000 };
    static uint64_t out[SHOTS];
    qt_rng_t r;
    qt_rng_seed(&r, 1);
    qt_qaoa_sim_sample(s, &r, SHOTS, out);
    size_t cnt[4] = {0};
    for (size_t k = 0; k < SHOTS; k++) cnt[out[k]]++;
    for (int x = 0; x < 4; x++) {
        double pr = creal(psi[x]) * creal(psi[x]) + cimag(psi[x]) * cimag(psi[x]);
        double sd = sqrt(SHOTS * pr * (1 - pr));
        assert_true(fabs((double)cnt[x] - SHOTS * pr) <= 5 * sd + 1);
    }
    qt_qaoa_sim_destroy(&s);
    qt_qubo_destroy(&q);
}

static bool stop_after(void *ud) {
    int *left = ud;
    if (*left <= 0) return true;
    (*left)--;
    return false;
}

static void test_stop_and_errors(void **state) {
    (void)state;
    qt_rng_t rng;
    qt_rng_seed(&rng, 8);
    static double mu[MAXN], sigma[MAXN * MAXN];
    random_problem(&rng, 6, 1.0, mu, sigma);
    qt_qubo_problem_t p = {.n = 6, .mu = mu, .sigma = sigma, .q = 0.5, .budget = 2};
    qt_qaoa_opts_t o;
    qt_qaoa_opts_default(&o);
    int left = 0;
    o.should_stop = stop_after;
    o.stop_ud = &left;
    qt_qaoa_result_t r;
    assert_int_equal(qt_qaoa_solve(&p, 0, &o, &r), 0);
    assert_true(r.stopped);
    assert_int_equal(r.p, 0);
    assert_true(r.evaluations == 0);
    /* Stopped before any evaluation: the figures are those of the initial state |+>^n,
     * whose <C> is the plain mean of the cost table. */
    {
        qt_qubo_t *q = qt_qubo_new(&p, 0, NULL, 0);
        qt_qaoa_sim_t *s = qt_qaoa_sim_new(q, NULL, NULL, 0);
        const double *C = qt_qaoa_sim_cost(s);
        double mean = 0;
        for (int x = 0; x < 64; x++) mean += C[x] / 64.0;
        assert_true(fabs(r.expectation - mean) < 1e-12 * (1 + fabs(mean)));
        qt_qaoa_sim_destroy(&s);
        qt_qubo_destroy(&q);
    }
    left = 25; /* a few evaluations (each polls once per evaluation and once per layer) */
    assert_int_equal(qt_qaoa_solve(&p, 0, &o, &r), 0);
    assert_true(r.stopped);
    assert_true(r.evaluations > 0 && r.evaluations < 25);
    assert_int_equal(r.p, 1);
    o.should_stop = NULL;
    o.p = 0;
    assert_int_equal(qt_qaoa_solve(&p, 0, &o, &r), -1);
    assert_non_null(strstr(r.error, "p=0"));
    o.p = 2;
    o.max_n = 5;
    assert_int_equal(qt_qaoa_solve(&p, 0, &o, &r), -1);
    assert_non_null(strstr(r.error, "max_n=5"));
    o.max_n = 26;
    p.budget = 7;
    assert_int_equal(qt_qaoa_solve(&p, 0, &o, &r), -1);
    assert_non_null(strstr(r.error, "budget"));
    p.budget = 2;
    const uint8_t bad[6] = {1, 1, 1, 0, 0, 0};
    o.mixer = QT_QAOA_MIXER_XY;
    o.xy_start = bad;
    assert_int_equal(qt_qaoa_solve(&p, 0, &o, &r), -1);
    assert_non_null(strstr(r.error, "xy_start"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selftest),          cmocka_unit_test(test_single_rx),
        cmocka_unit_test(test_maxcut_ring),       cmocka_unit_test(test_against_reference),
        cmocka_unit_test(test_xy_mixer),          cmocka_unit_test(test_memory_checks),
        cmocka_unit_test(test_solve),             cmocka_unit_test(test_threads),
        cmocka_unit_test(test_sampling),          cmocka_unit_test(test_stop_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
