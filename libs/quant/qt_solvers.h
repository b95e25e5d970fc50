/* qt_solvers: classical solvers of the asset-selection problem (qt_qubo.h)
 *     minimise f(x) = q x'Σx - μ'x   subject to   sum(x) = B,  x in {0,1}^n.
 * They work on the constrained problem directly (no penalty) and every answer they give
 * is feasible. Why three: exact is the reference (and the fallback for small n),
 * anneal is the practical heuristic for large n, greedy is the cheapest baseline and
 * the circuit breaker's last resort.
 *
 *  - exact: enumerates all C(n,B) selections in revolving-door Gray-code order (Knuth,
 *    TAOCP 7.2.1.3, Algorithm R): consecutive selections differ by one asset out and one
 *    in, so f is updated in O(1) from g = Σx and g in O(n). Ties keep the first in that
 *    order. For n up to ~30 (C(30,15) = 1.55e8 steps).
 *  - anneal: simulated annealing over feasible states with swap moves (one selected
 *    asset out, one unselected in: sum(x) stays B), Metropolis acceptance, geometric
 *    schedule T_k = T0 (T1/T0)^(k/(K-1)) over K = sweeps steps of n swap proposals each;
 *    T0 = mean |Δf| of 100 random swaps from the start state / ln 2 (an average uphill
 *    move is accepted with probability 1/2 at the start), T1 = T0 * 1e-4. restarts
 *    independent runs (streams forked from the seed) from random feasible states, each
 *    finished by swap descent (best improving swap until none); the best is kept.
 *  - greedy: start empty, B times add the asset that lowers f the most (ties: lowest
 *    index); no local search.
 * All deterministic for a given seed (randomness from qt_rng only). */
#ifndef QT_SOLVERS_H
#define QT_SOLVERS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "qt_qubo.h"

typedef struct {
    uint64_t seed;          /* anneal (default 1) */
    unsigned sweeps;        /* anneal: temperature steps K (default 2000) */
    unsigned restarts;      /* anneal: independent runs (default 4) */
    uint64_t max_steps;     /* exact: refuse when C(n,B) > max_steps (default 2e9) */
    qt_stop_fn should_stop; /* optional: polled every 2^20 enumeration steps / every sweep */
    void *stop_ud;
} qt_solver_opts_t;

void qt_solver_opts_default(qt_solver_opts_t *o);

typedef struct {
    double objective;       /* f(x) of the returned selection */
    bool feasible;          /* sum(x) == B (always true on success) */
    uint64_t evaluations;   /* exact: selections visited; anneal: swap proposals;
                               greedy: marginal evaluations */
    bool stopped;           /* should_stop fired: x is the best found so far */
} qt_solver_result_t;

/* Each solver: p is validated (qt_qubo_validate, max_n 0), x receives n bytes (0/1).
 * Returns 0 ok, -1 with a message in err (invalid problem, exact too large, allocation
 * failure). */
int qt_solve_exact(const qt_qubo_problem_t *p, const qt_solver_opts_t *o, uint8_t *x,
                   qt_solver_result_t *r, char *err, size_t errlen);
int qt_solve_anneal(const qt_qubo_problem_t *p, const qt_solver_opts_t *o, uint8_t *x,
                    qt_solver_result_t *r, char *err, size_t errlen);
int qt_solve_greedy(const qt_qubo_problem_t *p, const qt_solver_opts_t *o, uint8_t *x,
                    qt_solver_result_t *r, char *err, size_t errlen);

/* C(n, k) saturating at UINT64_MAX. */
uint64_t qt_solvers_binomial(size_t n, size_t k);

int qt_solvers_selftest(bool verbose);
#endif
