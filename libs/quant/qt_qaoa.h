/* qt_qaoa: a state-vector simulator of QAOA for the asset-selection QUBO (qt_qubo.h),
 * with angle optimisation by NLopt. OpenMP parallel, results independent of the thread
 * count.
 *
 * Why a simulator: the selection problems of the optimizer are small (n <= ~26), and an
 * exact simulation gives the quantum algorithm's true behaviour (expectation, best-state
 * probability) to compare against the classical solvers (qt_solvers.h).
 *
 * Design (docs/quant/optimizer.md has the details and sources):
 *  - state: 2^n complex doubles; cost C[x] = E(x) of the penalised QUBO for all 2^n
 *    states, precomputed in O(n 2^n) by single-bit-flip updates
 *    (C[x] = C[x without its top bit k] + lin[k] + sum_{j<k, x_j=1} quad[j][k]).
 *  - layer l (l = 1..p): phase exp(-i gamma_l C[x]) then mixer:
 *      X mixer  exp(-i beta_l sum_j X_j): n single-qubit rotations, start |+>^n;
 *      XY mixer (ring, Hadfield et al. 2019): exp(-i beta_l (X_j X_k + Y_j Y_k)) on the
 *        ring edges (j, j+1 mod n), applied in parity order (even edges, odd edges, then
 *        the closing edge when n is odd); preserves sum(x), start from the Dicke state
 *        |D^n_B> (uniform over the weight-B states) or a given feasible basis state.
 *  - expectation <C> = sum |psi_x|^2 C[x], summed in fixed chunks added in fixed order.
 *  - sampling: seeded (qt_rng), inverse-CDF over the states in index order.
 *  - angles: NLopt COBYLA (default) or BOBYQA over gamma' = gamma * s (s = the standard
 *    deviation of C over the initial superposition, so gamma' is O(1)) in [0, pi] and beta in
 *    [-pi/2, pi/2]; multi-start (seeded) at p = 1, then layer-by-layer warm starts:
 *    the p-1 optimum is interpolated to p layers (Zhou et al. 2020, "INTERP") and
 *    refined. Deterministic for a given seed.
 *  - memory is checked before any allocation: n > max_n, or 2^n * 24 bytes above
 *    mem_limit_bytes or mem_available_bytes, is an error with a clear message.
 *
 * Sources: E. Farhi, J. Goldstone, S. Gutmann, arXiv:1411.4028 (2014) (QAOA);
 * S. Hadfield et al., Algorithms 12 (2019) 34 (XY mixers); L. Zhou et al., PRX 10
 * (2020) 021067 (interpolation warm start). No I/O, no clock, no globals. */
#ifndef QT_QAOA_H
#define QT_QAOA_H
#include <complex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "qt_qubo.h"
#include "qt_rng.h"

#define QT_QAOA_MAX_P 16u       /* layers */
#define QT_QAOA_HARD_MAX_N 32u  /* absolute ceiling on qubits, whatever max_n says */
#define QT_QAOA_DEFAULT_MAX_N 26u

typedef enum {
    QT_QAOA_MIXER_X = 0,   /* transverse field, start |+>^n */
    QT_QAOA_MIXER_XY = 1,  /* XY ring, start Dicke |D^n_B> (or xy_start) */
} qt_qaoa_mixer_t;

typedef enum {
    QT_QAOA_OPT_COBYLA = 0,
    QT_QAOA_OPT_BOBYQA = 1,
} qt_qaoa_optimizer_t;

typedef struct {
    unsigned p;                   /* layers, 1..QT_QAOA_MAX_P (default 3) */
    uint64_t seed;                /* multi-start angles and sampling (default 1) */
    qt_qaoa_mixer_t mixer;        /* default X */
    qt_qaoa_optimizer_t optimizer;/* default COBYLA */
    unsigned max_n;               /* refuse n > max_n (default 26; capped at HARD_MAX_N) */
    uint64_t mem_limit_bytes;     /* refuse if the simulator needs more (0 = no limit) */
    uint64_t mem_available_bytes; /* from /proc/meminfo MemAvailable, read by the caller
                                     (0 = unknown: only mem_limit_bytes applies) */
    unsigned multistart;          /* random starts at p = 1 (default 4, >= 1) */
    unsigned max_evals;           /* objective evaluations per local optimisation (default 150) */
    unsigned shots;               /* samples drawn from the final state (default 1024, >= 1) */
    bool warm_start;              /* layer-by-layer p=1..p (default true); false: multistart
                                     directly at p layers */
    const uint8_t *xy_start;      /* XY mixer only: feasible basis state to start from
                                     (n bytes, sum = B); NULL = Dicke state */
    qt_stop_fn should_stop;       /* optional: checked between layers and evaluations */
    void *stop_ud;
} qt_qaoa_opts_t;

/* Fills the defaults listed above. */
void qt_qaoa_opts_default(qt_qaoa_opts_t *o);

/* Bytes the simulator allocates for n qubits (state + cost + chunk sums). 0 when n is
 * above QT_QAOA_HARD_MAX_N. */
uint64_t qt_qaoa_mem_bytes(size_t n);

typedef struct {
    size_t n;
    uint8_t selection[QT_QAOA_HARD_MAX_N]; /* best feasible sampled state (see feasible) */
    double objective;         /* f(selection) (unpenalised) */
    bool feasible;            /* false: no sampled state met the budget; selection is
                                 then the most frequent sample */
    unsigned p;
    double gammas[QT_QAOA_MAX_P]; /* optimised angles, gamma in units of 1/C */
    double betas[QT_QAOA_MAX_P];
    double penalty;           /* P used in C */
    double expectation;       /* <C> of the final state (penalised cost) */
    double best_probability;  /* probability of the constrained optimum (all tied states) */
    double optimum;           /* exact constrained minimum f* (from the cost table) */
    double approx_ratio;      /* (C_max - <C>) / (C_max - C_min), over the states the mixer
                                 reaches (all 2^n for X, weight-B for XY); 1 = optimal */
    uint64_t evaluations;     /* objective (state) evaluations */
    bool stopped;             /* should_stop returned true: partial result (angles so far) */
    char error[256];          /* set when qt_qaoa_solve returns -1 */
} qt_qaoa_result_t;

/* Full pipeline: validate, build the QUBO (penalty <= 0: qt_qubo_penalty_rule), check
 * memory, simulate, optimise angles, sample. 0 ok (r filled; r->stopped may be true),
 * -1 error (r->error says why: invalid problem, n too large, not enough memory, NLopt
 * failure). */
int qt_qaoa_solve(const qt_qubo_problem_t *prob, double penalty, const qt_qaoa_opts_t *o,
                  qt_qaoa_result_t *r);

/* ---- low-level simulator (tests, benchmark) ---- */
typedef struct qt_qaoa_sim_t qt_qaoa_sim_t;

/* Checks n against o->max_n and the memory limits, then allocates and precomputes the
 * cost table. o->mixer, o->xy_start, o->should_stop are used; NULL o = defaults. The
 * QUBO is copied (qubo may be freed afterwards). NULL with a message in err. */
qt_qaoa_sim_t *qt_qaoa_sim_new(const qt_qubo_t *qubo, const qt_qaoa_opts_t *o, char *err,
                               size_t errlen);
void qt_qaoa_sim_destroy(qt_qaoa_sim_t **self_p);

size_t qt_qaoa_sim_n(const qt_qaoa_sim_t *self);
/* Resets the state to the mixer's initial state. */
void qt_qaoa_sim_reset(qt_qaoa_sim_t *self);
/* One layer's phase exp(-i gamma C) and mixer with angle beta. */
void qt_qaoa_sim_phase(qt_qaoa_sim_t *self, double gamma);
void qt_qaoa_sim_mix(qt_qaoa_sim_t *self, double beta);
/* reset + p layers. 0 ok, -1 stopped by should_stop (checked before each layer). */
int qt_qaoa_sim_run(qt_qaoa_sim_t *self, unsigned p, const double *gammas, const double *betas);
/* <C>, sum |psi|^2, from the current state (fixed-order reductions). */
double qt_qaoa_sim_expectation(const qt_qaoa_sim_t *self);
double qt_qaoa_sim_norm2(const qt_qaoa_sim_t *self);
/* Read-only views: 2^n amplitudes and costs. */
const double complex *qt_qaoa_sim_state(const qt_qaoa_sim_t *self);
const double *qt_qaoa_sim_cost(const qt_qaoa_sim_t *self);
/* Draws shots state indices (bit i = x_i) from |psi|^2 into out (sorted by index). */
void qt_qaoa_sim_sample(const qt_qaoa_sim_t *self, qt_rng_t *rng, size_t shots, uint64_t *out);

int qt_qaoa_selftest(bool verbose);
#endif
