/* qt_weights: the continuous step after selection: long-only weights for the selected
 * assets, sum(w) = gross, 0 <= w_i <= cap_i.
 *
 * Why separate from selection: the QUBO picks WHICH assets (discrete, B of them); how
 * much of each is a small convex problem solved exactly here. Methods:
 *  - MEANVAR: minimise q w'Σw - μ'w (the selection objective, relaxed) over the capped
 *    simplex by projected gradient with step 1/(2 q L), L = max row sum of |Σ| (>= the
 *    largest eigenvalue), and the projection onto {sum w = gross, 0 <= w <= cap} by
 *    bisection on the shift τ in w_i = clip(v_i - τ, 0, cap_i). Stops when
 *    max|w_new - w| <= tol or after max_iter. q = 0: the step is 1/max|μ| * 1e6 so
 *    one projection fills the best μ first (the LP optimum).
 *  - INVVOL: w_i ∝ 1/sqrt(Σ_ii), then capped by water-filling: assets above cap are
 *    fixed at cap and the remainder is redistributed over the others in proportion,
 *    repeated until none exceeds its cap.
 *  - ERC (equal risk contribution, Maillard, Roncalli, Teiletche 2010, J. Portfolio
 *    Management 36(4)): cyclical coordinate descent on
 *    1/2 y'Σy - (1/m) sum ln y_i (Griveau-Billion, Richard, Roncalli 2013), whose
 *    minimiser gives w = y / sum(y) with w_i (Σw)_i equal for all i; coordinate update
 *    y_i = (-c_i + sqrt(c_i^2 + 4 Σ_ii / m)) / (2 Σ_ii), c_i = sum_{j != i} Σ_ij y_j;
 *    then scaled to gross and capped by the same water-filling as INVVOL (caps that bind
 *    break exact risk parity; info.max_rc_dev reports it).
 * Deterministic (fixed iteration order, no randomness). */
#ifndef QT_WEIGHTS_H
#define QT_WEIGHTS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    QT_WEIGHTS_MEANVAR = 0,
    QT_WEIGHTS_INVVOL = 1,
    QT_WEIGHTS_ERC = 2,
} qt_weights_method_t;

typedef struct {
    qt_weights_method_t method;  /* default MEANVAR */
    double q;                    /* MEANVAR risk weight (>= 0, default 0.5) */
    double gross;                /* sum of weights (> 0, default 1) */
    double cap;                  /* cap for every asset when caps is NULL (default 1) */
    const double *caps;          /* optional per-asset caps (m values, > 0) */
    unsigned max_iter;           /* default 10000 */
    double tol;                  /* default 1e-12 */
} qt_weights_opts_t;

void qt_weights_opts_default(qt_weights_opts_t *o);

typedef struct {
    unsigned iterations;
    bool converged;
    double objective;    /* MEANVAR: q w'Σw - μ'w at the answer */
    double max_rc_dev;   /* ERC: max |RC_i / mean RC - 1| (0 = exact parity) */
} qt_weights_info_t;

/* Weights of m assets (mu: m values, may be NULL except for MEANVAR; sigma: m*m
 * row-major, symmetric, finite, Σ_ii > 0 for INVVOL/ERC) into w (m values).
 * Returns 0, or -1 with a message in err: invalid inputs, sum of caps < gross
 * (infeasible), ERC not converged. info may be NULL. */
int qt_weights_compute(size_t m, const double *mu, const double *sigma,
                       const qt_weights_opts_t *o, double *w, qt_weights_info_t *info,
                       char *err, size_t errlen);

/* Convenience for a selection x (n bytes, 0/1) over an n-asset universe: extracts the
 * selected sub-problem (per-asset caps, if any, are indexed by the full n), computes
 * its weights and writes n weights into w (0 for unselected). */
int qt_weights_for_selection(size_t n, const double *mu, const double *sigma,
                             const uint8_t *x, const qt_weights_opts_t *o, double *w,
                             qt_weights_info_t *info, char *err, size_t errlen);

/* Projection of v (m values) onto {sum w = gross, 0 <= w_i <= cap_i} (Euclidean).
 * -1 when sum(cap) < gross. */
int qt_weights_project(size_t m, const double *v, const double *cap, double gross, double *w);

int qt_weights_selftest(bool verbose);
#endif
