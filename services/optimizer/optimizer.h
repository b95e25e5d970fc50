/* optimizer: the qt-optimizer core. Turns one cross-section of model Signals into a
 * long-only TargetPortfolio by inverse-volatility weighting with a per-name cap.
 *
 * Why this shape: the core is pure (no I/O, no clock, no globals) so the daemon, the
 * in-process backtest and the unit tests run the very same code. main.c owns Kafka,
 * ZeroMQ, metrics and time; this file owns the batch bookkeeping and the weights.
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
 * Weights ("inverse_vol"). Candidates: ready signals with score > min_score, a
 * finite volatility > 0 and a reference price > 0 (vol <= 0 is skipped and
 * counted). Raw weights w_i = 1/vol_i are scaled so that sum(w) = gross_weight;
 * any name above max_weight is set to max_weight and the excess is redistributed to
 * the uncapped names in proportion to 1/vol (water-filling, repeated until no name
 * exceeds the cap). When every name is capped (n * max_weight < gross_weight) the
 * rest stays in cash: sum(w) = n * max_weight. Candidates are processed in symbol
 * order (strcmp) so results are bit-identical whatever the arrival order. */
#ifndef OPTIMIZER_H
#define OPTIMIZER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "qt_buf.h"

#define OPTIMIZER_SYMBOL_MAX 32     /* == QT_MAX_SYMBOL */
#define OPTIMIZER_MAX_PENDING 4096  /* symbols in one batch; more is hostile input */

typedef struct {
    double min_score;     /* a signal needs score > min_score (default 0) */
    double gross_weight;  /* sum of weights when nothing is capped, (0, 1] (default 1) */
    double max_weight;    /* cap per name, (0, 1] (default 0.25) */
    uint32_t max_names;   /* hold at most this many names: the highest scores win, ties by
                           * symbol (default 10, 1..1024); keep it <= risk's
                           * limits.max_open_positions or risk rejects the excess */
} optimizer_config_t;

void optimizer_config_defaults(optimizer_config_t *cfg);
/* NULL when valid, else a static description of the first problem. */
const char *optimizer_config_check(const optimizer_config_t *cfg);

typedef struct {
    char symbol[OPTIMIZER_SYMBOL_MAX + 1];
    int64_t bar_time_ms;
    double score;
    double volatility;
    int64_t close;        /* fixed point 1e-8 */
    bool ready;
} optimizer_signal_t;

typedef struct {
    char symbol[OPTIMIZER_SYMBOL_MAX + 1];
    double weight;
    int64_t ref_price;
} optimizer_position_t;

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
    uint32_t below_score;      /* ready signals with score <= min_score */
    uint32_t not_ready;        /* signals still warming up */
    uint32_t capped;           /* names held at max_weight */
    uint32_t beyond_max_names; /* eligible names left out by max_names */
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
    OPT_WM_ERROR              /* out of memory (state unchanged) */
} optimizer_wm_result_t;

typedef struct optimizer_t optimizer_t;

optimizer_t *optimizer_new(const optimizer_config_t *cfg);
void optimizer_destroy(optimizer_t **self_p);

optimizer_sig_result_t optimizer_on_signal(optimizer_t *self, const optimizer_signal_t *sig);
/* Closes the batch for time t. On OPT_WM_EMIT *out must be freed with
 * optimizer_target_free. */
optimizer_wm_result_t optimizer_on_watermark(optimizer_t *self, int64_t t,
                                             optimizer_target_t *out);

/* Pure weight computation (used by optimizer_on_watermark): signals in any order. */
int optimizer_solve(const optimizer_config_t *cfg, const optimizer_signal_t *sigs, size_t n,
                    int64_t bar_time_ms, optimizer_target_t *out);

/* INT64_MIN when nothing was emitted yet. */
int64_t optimizer_last_emitted(const optimizer_t *self);
size_t optimizer_pending(const optimizer_t *self);
int64_t optimizer_batch_time(const optimizer_t *self);   /* INT64_MIN when empty */
uint64_t optimizer_superseded(const optimizer_t *self);  /* signals dropped as superseded */

/* State snapshot: last emitted time and the pending batch. */
void optimizer_save(const optimizer_t *self, qt_buf_t *out);
/* False (state unchanged) when r does not hold a valid snapshot. */
bool optimizer_load(optimizer_t *self, qt_reader_t *r);
#endif
