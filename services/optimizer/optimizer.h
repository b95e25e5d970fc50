/* optimizer: the qt-optimizer core. Turns one cross-section of model Signals into a
 * long-only TargetPortfolio.
 *
 * Why this shape: the core is pure (no I/O, no globals; time only through a clock
 * callback the caller installs) so the daemon, the in-process backtest and the unit
 * tests run the very same code. main.c owns Kafka, ZeroMQ, metrics and the real clock;
 * this file owns the batch bookkeeping, the return history, the solvers, the circuit
 * breaker and the weights. docs/services/optimizer.md has the formulas and decisions.
 *
 * Batches. Signals for bar time t are collected (keyed by symbol: a later signal for
 * the same symbol and time overwrites the earlier one) until the Watermark for t
 * closes the batch; then exactly one target is computed for t, even when it is empty
 * (an empty target means "go flat"). The pending batch always holds one bar time:
 *   - a signal with bar time <= the last emitted target time, or older than the
 *     pending batch, is a stale duplicate (replay after a crash): dropped, counted;
 *   - a signal newer than the pending batch starts a new batch; the unclosed older
 *     batch (its watermark never came) is dropped and counted as superseded;
 *   - a watermark with time <= the last emitted target time is a duplicate: dropped;
 *   - a watermark for t while the pending batch is older than t drops that batch
 *     (superseded) and emits an empty target for t; a pending batch newer than t is
 *     kept and t gets an empty target.
 *
 * Solvers.
 *  - "inverse_vol" (the foundation's behaviour): the max_names best scores, weights
 *    1/vol water-filled under max_weight (optimizer_solve below).
 *  - "exact" | "anneal" | "greedy": asset selection as the QUBO of libs/quant/qt_qubo.h
 *    (minimise q x'Σx - μ'x, sum x = B) over the n best-scoring candidates, solved by
 *    that classical solver first (the production answer), then by QAOA under the
 *    circuit breaker (qt_breaker) and a deadline; the breaker's decision picks the
 *    published selection. Then weights ("inverse_vol" | "mean_variance" |
 *    "risk_parity") for the selected names. Σ: Ledoit-Wolf over the log returns of the
 *    batches' closes (qt_covariance). */
#ifndef OPTIMIZER_H
#define OPTIMIZER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "qt_buf.h"

#define OPTIMIZER_SYMBOL_MAX 32     /* == QT_MAX_SYMBOL */
#define OPTIMIZER_MAX_PENDING 4096  /* symbols in one batch; more is hostile input */
#define OPTIMIZER_MAX_CANDIDATES 24 /* n of the selection problem (exact: C(24,12) = 2.7e6) */
#define OPTIMIZER_MAX_COV_WINDOW 250
#define OPTIMIZER_MAX_ABS_INPUT 1e6  /* |alpha|, |beta| above it: invalid signal */

typedef enum {
    OPT_SOLVER_INVERSE_VOL = 0,
    OPT_SOLVER_EXACT = 1,
    OPT_SOLVER_ANNEAL = 2,
    OPT_SOLVER_GREEDY = 3
} optimizer_solver_t;

typedef enum {
    OPT_WEIGHTING_INVERSE_VOL = 0,
    OPT_WEIGHTING_MEAN_VARIANCE = 1,
    OPT_WEIGHTING_RISK_PARITY = 2
} optimizer_weighting_t;

/* When QAOA's answer may replace the classical one (see docs: determinism). */
typedef enum {
    OPT_ADOPT_IDENTICAL = 0,  /* only when QAOA's selection equals the classical one: the
                               * published portfolio never depends on timing */
    OPT_ADOPT_TOLERANCE = 1   /* when its relative gap <= quality_tolerance (research) */
} optimizer_adopt_t;

typedef struct {
    double min_score;     /* a signal needs score > min_score (default 0) */
    double gross_weight;  /* sum of weights when nothing is capped, (0, 1] (default 1) */
    double max_weight;    /* cap per name, (0, 1] (default 0.25) */
    uint32_t max_names;   /* hold at most this many names: the highest scores win, ties by
                           * symbol (default 10, 1..1024); keep it <= risk's
                           * limits.max_open_positions or risk rejects the excess */
    optimizer_solver_t solver;          /* default OPT_SOLVER_INVERSE_VOL */
    optimizer_weighting_t weighting;    /* QUBO solvers only (default inverse_vol) */
    uint32_t max_candidates;  /* n = min(max_candidates, eligible), 1..24 (default 12) */
    double risk_aversion;     /* q = risk_aversion * max(0, mean beta of the candidates),
                               * [0, 1e6] (default 1) */
    uint32_t cov_window;      /* return rows kept for Σ, 2..250 (default 120 batches) */
    uint32_t cov_min_obs;     /* fewer complete rows: Σ = diag(vol^2), 2..cov_window (30) */
    uint64_t seed;            /* anneal and QAOA (default 1) */
    /* QAOA (research path) */
    bool qaoa_enabled;        /* default false */
    uint32_t qaoa_p;          /* layers 1..16 (default 1) */
    uint32_t qaoa_max_qubits; /* n above it is an error (fallback), 1..26 (default 16) */
    uint32_t qaoa_multistart; /* 1..64 (default 2) */
    uint32_t qaoa_max_evals;  /* per local optimisation, 1..100000 (default 60) */
    uint32_t qaoa_shots;      /* 1..1000000 (default 256) */
    optimizer_adopt_t qaoa_adopt;   /* default identical */
    /* Circuit breaker and SLA (configs/slas.yml qaoa:) */
    double qaoa_latency_ms;   /* wall deadline of one QAOA attempt, (0, 600000] (250) */
    double quality_tolerance; /* relative gap allowed (tolerance mode), [0, 10] (0.01) */
    uint32_t failures_to_open;/* M consecutive failures open the breaker, 1..1000 (3) */
    int64_t cooldown_ms;      /* open -> half-open after, 0..86400000 (60000) */
} optimizer_config_t;

void optimizer_config_defaults(optimizer_config_t *cfg);
/* NULL when valid, else a static description of the first problem. */
const char *optimizer_config_check(const optimizer_config_t *cfg);
/* Names <-> enums; parse returns false for an unknown name. */
const char *optimizer_solver_name(optimizer_solver_t s);
bool optimizer_solver_parse(const char *name, optimizer_solver_t *out);
const char *optimizer_weighting_name(optimizer_weighting_t w);
bool optimizer_weighting_parse(const char *name, optimizer_weighting_t *out);
const char *optimizer_adopt_name(optimizer_adopt_t a);
bool optimizer_adopt_parse(const char *name, optimizer_adopt_t *out);

typedef struct {
    char symbol[OPTIMIZER_SYMBOL_MAX + 1];
    int64_t bar_time_ms;
    double score;
    double volatility;
    int64_t close;        /* fixed point 1e-8 */
    bool ready;
    double alpha;         /* μ_i of the selection problem */
    double beta;          /* q comes from the candidates' mean beta */
} optimizer_signal_t;

typedef struct {
    char symbol[OPTIMIZER_SYMBOL_MAX + 1];
    double weight;
    int64_t ref_price;
} optimizer_position_t;

/* What happened to QAOA for one target. */
typedef enum {
    OPT_QAOA_DISABLED = 0,    /* not configured (or solver inverse_vol, or no candidates) */
    OPT_QAOA_ADOPTED,         /* ran, passed every check: its answer is published */
    OPT_QAOA_DEADLINE,        /* stopped by (or finished after) the deadline */
    OPT_QAOA_ERROR,           /* refused or failed (e.g. n > qaoa_max_qubits) */
    OPT_QAOA_QUALITY,         /* infeasible, or worse than the quality rule allows */
    OPT_QAOA_BREAKER_OPEN     /* skipped: the breaker is open (or its probe is out) */
} optimizer_qaoa_outcome_t;

/* "" (adopted), "disabled", "deadline", "error", "quality", "breaker_open". */
const char *optimizer_fallback_reason(optimizer_qaoa_outcome_t o);

typedef struct {
    int64_t bar_time_ms;
    /* Sorted by symbol. Every symbol of the batch with a valid close is listed: the
     * selected names with weight > 0, the others with weight 0. Listing the zeros gives
     * risk a current price for every position it may have to close or value; without
     * them it would price a dropped name at a stale close. */
    optimizer_position_t *positions;
    size_t n_positions;
    uint32_t signals;          /* signals of the batch considered */
    uint32_t skipped_vol;      /* candidates dropped for volatility <= 0 (or non-finite) */
    uint32_t skipped_price;    /* candidates dropped for close <= 0 */
    uint32_t below_score;      /* ready signals with score <= min_score (QUBO: or alpha <= 0) */
    uint32_t not_ready;        /* signals still warming up */
    uint32_t capped;           /* names held at max_weight */
    uint32_t beyond_max_names; /* eligible names left out by max_names / max_candidates */
    /* Solver report (static strings) */
    const char *solver;        /* whose selection is published: inverse_vol|exact|anneal|
                                * greedy|qaoa */
    const char *weighting;     /* inverse_vol|mean_variance|risk_parity */
    const char *breaker_state; /* closed|open|half_open, after this batch's decision */
    optimizer_qaoa_outcome_t qaoa;
    bool qaoa_probe;           /* this attempt was the half-open probe */
    bool weights_fallback;     /* mean_variance/risk_parity failed: inverse_vol used */
    bool classical_failed;     /* the QUBO solve failed on this batch's numbers: the
                                * inverse_vol target was computed instead */
    uint32_t candidates;       /* n */
    uint32_t budget;           /* B = min(max_names, n) */
    double q;                  /* risk weight used */
    double objective;          /* f(published selection) */
    double classical_objective;
    double qaoa_objective;     /* 0 when QAOA did not answer */
    double objective_gap;      /* (qaoa - classical) / max(|classical|, 1e-12); 0 if no answer */
    double classical_ms, qaoa_ms;   /* from the installed clock (0 without one) */
    uint32_t cov_rows;         /* return rows behind Σ (0: diagonal fallback) */
    double shrinkage;          /* Ledoit-Wolf intensity (0 for the fallback) */
} optimizer_target_t;

void optimizer_target_free(optimizer_target_t *t);

typedef enum {
    OPT_SIG_ACCEPTED = 0,     /* added to (or replaced in) the pending batch */
    OPT_SIG_STALE,            /* bar time <= last emitted / older than the batch: dropped */
    OPT_SIG_INVALID,          /* empty/too long symbol, non-finite numbers, batch full */
    OPT_SIG_ERROR             /* out of memory */
} optimizer_sig_result_t;

typedef enum {
    OPT_WM_EMIT = 0,          /* *out holds the target to publish, then forward the wm */
    OPT_WM_DUPLICATE,         /* time <= last emitted target: dropped */
    OPT_WM_ERROR              /* out of memory: the service must stop (FATAL) and resume
                               * from its checkpoint */
} optimizer_wm_result_t;

typedef struct optimizer_t optimizer_t;

optimizer_t *optimizer_new(const optimizer_config_t *cfg);
void optimizer_destroy(optimizer_t **self_p);

/* Monotonic time source in ns (the daemon: qt_clock_mono_ns). Used for the timings,
 * the QAOA wall deadline and the breaker's cool-down. Without one every time is 0:
 * no deadline fires and an open breaker never cools down. */
typedef int64_t (*optimizer_clock_fn)(void *ud);
void optimizer_set_clock(optimizer_t *self, optimizer_clock_fn now_ns, void *ud);
/* Extra stop condition polled with the deadline (tests force a deadline miss with it);
 * NULL removes it. */
void optimizer_set_stop_hook(optimizer_t *self, bool (*stop)(void *ud), void *ud);

optimizer_sig_result_t optimizer_on_signal(optimizer_t *self, const optimizer_signal_t *sig);
/* Closes the batch for time t. On OPT_WM_EMIT *out must be freed with
 * optimizer_target_free. */
optimizer_wm_result_t optimizer_on_watermark(optimizer_t *self, int64_t t,
                                             optimizer_target_t *out);

/* Pure inverse-vol weights (solver "inverse_vol"): signals in any order. */
int optimizer_solve(const optimizer_config_t *cfg, const optimizer_signal_t *sigs, size_t n,
                    int64_t bar_time_ms, optimizer_target_t *out);

/* INT64_MIN when nothing was emitted yet. */
int64_t optimizer_last_emitted(const optimizer_t *self);
size_t optimizer_pending(const optimizer_t *self);
int64_t optimizer_batch_time(const optimizer_t *self);   /* INT64_MIN when empty */
uint64_t optimizer_superseded(const optimizer_t *self);  /* signals dropped as superseded */
/* Breaker: 0 closed, 1 open, 2 half-open; and its lifetime opens / probes. */
int optimizer_breaker_state(const optimizer_t *self);
uint64_t optimizer_breaker_opens(const optimizer_t *self);
uint64_t optimizer_breaker_probes(const optimizer_t *self);
uint32_t optimizer_history_symbols(const optimizer_t *self);

/* State snapshot: last emitted time, pending batch, return history, breaker. */
void optimizer_save(const optimizer_t *self, qt_buf_t *out);
/* False (state unchanged) when r does not hold a valid snapshot. Version 1 snapshots
 * (before the history and the breaker existed) load with an empty history. */
bool optimizer_load(optimizer_t *self, qt_reader_t *r);
#endif
