/* qt_qubo: the asset-selection problem, its penalised QUBO and its Ising form.
 *
 * Problem (issue 5): choose x in {0,1}^n minimising
 *     f(x) = q * x'Σx - μ'x      subject to  sum(x) = B (the budget).
 * μ comes from the signals' alpha, q (>= 0) from beta, Σ is a covariance (n x n,
 * symmetric, row-major). The optimiser solves it either exactly/classically
 * (qt_solvers.h) or as an unconstrained QUBO on a (simulated) quantum device
 * (qt_qaoa.h). The QUBO is
 *     E(x) = f(x) + P * (sum(x) - B)^2
 *          = constant + sum_i lin[i] x_i + sum_{i<j} quad[i*n+j] x_i x_j
 * with (using x_i^2 = x_i)
 *     lin[i]     = q Σ_ii - μ_i + P (1 - 2B)
 *     quad[i,j]  = 2 q Σ_ij + 2 P            (i != j; stored symmetric, zero diagonal)
 *     constant   = P B^2.
 *
 * Penalty rule (why the penalised optimum is always feasible). Flipping bit i changes f
 * by  q Σ_ii - μ_i + 2 q sum_{j != i} Σ_ij x_j, so |change| <= d_i with
 *     d_i = |q Σ_ii - μ_i| + 2 |q| sum_{j != i} |Σ_ij|,     D = max_i d_i.
 * From any x of weight k != B, |k - B| single flips reach a feasible y with
 * f(y) <= f(x) + |k - B| D. Hence E(x) = f(x) + P (k-B)^2 >= f* - |k-B| D + P |k-B|
 *     >= f* + (P - D) |k - B|  >  f*   whenever P > D,
 * where f* is the constrained minimum. So every infeasible x has E(x) > f* = min over
 * feasible E, and argmin E = argmin of the constrained problem. The rule used:
 *     P = 1.1 * D + 1e-9 * (1 + D)        (strictly above D; qt_qubo_penalty_rule)
 * A caller-supplied penalty is accepted as is; qt_qubo_penalty_is_safe() tells whether
 * it satisfies P > D. Test: tests/unit/test_qubo.c (random instances and a real
 * Binance covariance: penalised brute-force minimum == constrained brute-force minimum).
 *
 * Ising form: x_i = (1 - z_i) / 2, z_i in {+1, -1} (|0> has z = +1):
 *     E = offset + sum_i h_i z_i + sum_{i<j} J_ij z_i z_j
 *     J_ij = quad[i,j] / 4,   h_i = -lin[i]/2 - sum_{j != i} quad[i,j] / 4,
 *     offset = constant + sum_i lin[i]/2 + sum_{i<j} quad[i,j]/4.
 * Source: A. Lucas, "Ising formulations of many NP problems", Front. Phys. 2 (2014) 5.
 *
 * Bit convention everywhere (solvers, simulator): asset i is bit i of a state index,
 * and a selection is an array of n bytes, each 0 or 1.
 *
 * Pure numerics: no I/O, no globals; all functions are deterministic. */
#ifndef QT_QUBO_H
#define QT_QUBO_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest n accepted by qt_qubo_validate for the classical solvers (QAOA has its own,
 * much smaller, limit in qt_qaoa_opts_t.max_n). */
#define QT_QUBO_MAX_N 4096u

/* Cooperative cancellation shared by the solvers and the simulator: called between
 * layers / objective evaluations / blocks of enumeration; returning true stops the
 * computation early (the result then has stopped = true). ud is passed back as is. */
typedef bool (*qt_stop_fn)(void *ud);

/* The selection problem. Arrays are borrowed (the caller owns them): mu has n values,
 * sigma n*n row-major. */
typedef struct {
    size_t n;
    const double *mu;
    const double *sigma;
    double q;        /* risk weight, finite and >= 0 */
    size_t budget;   /* B, 1 <= B <= n */
} qt_qubo_problem_t;

/* Validates p: n in [1, max_n] (max_n 0 means QT_QUBO_MAX_N), mu and sigma non-NULL and
 * finite, sigma symmetric (|Σ_ij - Σ_ji| <= 1e-9 * (1 + max|Σ|)), Σ_ii >= 0, q finite and
 * >= 0, 1 <= budget <= n, magnitudes small enough that no QUBO energy overflows a
 * double. Returns 0, or -1 with a message naming the bad field
 * (e.g. "sigma[2][3] != sigma[3][2]") in err (err may be NULL). */
int qt_qubo_validate(const qt_qubo_problem_t *p, size_t max_n, char *err, size_t errlen);

/* f(x) = q x'Σx - μ'x for a 0/1 selection x of n bytes (direct O(n^2) sum). */
double qt_qubo_objective(const qt_qubo_problem_t *p, const uint8_t *x);
/* Number of ones in x (n bytes). */
size_t qt_qubo_weight(size_t n, const uint8_t *x);
/* D = max_i d_i above (the largest single-flip change of f). */
double qt_qubo_flip_bound(const qt_qubo_problem_t *p);
/* The penalty the rule picks: 1.1 * D + 1e-9 * (1 + D). */
double qt_qubo_penalty_rule(const qt_qubo_problem_t *p);
/* true when penalty > D (the penalised optimum is then provably feasible). */
bool qt_qubo_penalty_is_safe(const qt_qubo_problem_t *p, double penalty);

/* The penalised QUBO and its Ising form (all arrays owned by the struct). */
typedef struct {
    size_t n;
    size_t budget;     /* B (0 for a raw QUBO) */
    double penalty;    /* P (0 for a raw QUBO) */
    double constant;
    double *lin;       /* n */
    double *quad;      /* n*n, symmetric, zero diagonal; pairs count once (i<j) in E */
    double ising_offset;
    double *h;         /* n */
    double *J;         /* n*n, symmetric, zero diagonal; pairs count once (i<j) */
} qt_qubo_t;

/* Builds the QUBO of a validated problem. penalty <= 0 (or NaN) selects the rule above;
 * a positive finite penalty is used as given. NULL (message in err) when p is invalid
 * (same checks as qt_qubo_validate with max_n = 0) or on allocation failure. */
qt_qubo_t *qt_qubo_new(const qt_qubo_problem_t *p, double penalty, char *err, size_t errlen);
/* A QUBO given directly (tests, MaxCut): lin n values, quad n*n (only i<j entries are
 * read; the lower triangle is mirrored from them), constant. budget/penalty = 0. */
qt_qubo_t *qt_qubo_new_raw(size_t n, const double *lin, const double *quad, double constant);
void qt_qubo_destroy(qt_qubo_t **self_p);

/* E(x) for a selection of n bytes, from the QUBO coefficients. */
double qt_qubo_energy(const qt_qubo_t *self, const uint8_t *x);
/* E of a state index (bit i = x_i); n <= 64. */
double qt_qubo_energy_bits(const qt_qubo_t *self, uint64_t bits);
/* E from the Ising form with z_i = 1 - 2 x_i (the same value up to rounding). */
double qt_qubo_ising_energy(const qt_qubo_t *self, const uint8_t *x);

int qt_qubo_selftest(bool verbose);
#endif
