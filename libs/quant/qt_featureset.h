/* qt_featureset: an ordered list of indicators built from a spec string, updated once per
 * OHLCV bar, with named outputs, ready flags, snapshots and a batch twin.
 *
 * Why: qt-features, qt-lab features and the benchmark must compute the SAME features
 * from the same spec; the spec string is the one place a feature set is defined.
 *
 * Spec: comma-separated items "kind[:p1[:p2[:p3]]]" (no spaces), parameters are decimal
 * integers without sign or leading zeros (bbands' second one is a decimal number):
 *   sma:n ema:n wma:n rsi:n atr:n roc:n mom:n zscore:n vwap:n rvol:n rvol_parkinson:n
 *   rvol_gk:n macd:fast:slow:signal bbands:n:k stoch:n:d obv
 * Output names: the item with ':' replaced by '_' ("rsi:14" -> rsi_14, "obv" -> obv),
 * except the multi-output ones:
 *   macd:12:26:9 -> macd_12_26_9, macd_signal_12_26_9, macd_hist_12_26_9
 *   bbands:20:2  -> bb_mid_20_2, bb_upper_20_2, bb_lower_20_2
 *   stoch:14:3   -> stoch_k_14_3, stoch_d_14_3
 * A name suffix (e.g. "_1d") can be appended to every name. Duplicate names are refused.
 * Definitions and warm-up: qt_indicators.h; all price indicators use the close, except
 * atr/stoch (H, L, C), rvol_parkinson (H, L), rvol_gk (O, H, L, C), obv (C, V), vwap
 * (H, L, C, V). rvol is the sample stddev of the last n close-to-close log returns.
 *
 * Bars: update() refuses (returns false, counts, state unchanged) a bar with a
 * non-finite or non-positive price, negative or non-finite volume, high < max(o, c, l),
 * low > min(o, c), or a time not after the previous bar. So no NaN or inf can enter, and
 * none leaves: a value is finite, and 0 with ready == false while warming up.
 *
 * Horizon (multi-horizon sets from one stream): with horizon_ms > 0 the input bars
 * (each base_ms long) are aggregated into buckets [floor(t / h) h, + h), aligned to the
 * Unix epoch (1d = UTC day; 1w starts Thursday 00:00 UTC, as 1970-01-01 did): O = first open, H = max, L = min, C = last close, V = sum.
 * A bucket is complete at its last bar (t + base_ms >= bucket end), or, when that bar is
 * missing, when the first bar of a later bucket arrives; the indicators are updated with
 * complete buckets only, so the published values are those of the last complete bucket
 * (no look-ahead: nothing is published before the bucket's last bar has been seen).
 *
 * QT_FEATURESET_SCHEMA: version of these definitions and of the naming; bump it when a
 * definition or a name changes. */
#ifndef QT_FEATURESET_H
#define QT_FEATURESET_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "qt_buf.h"

#define QT_FEATURESET_SCHEMA 1u
#define QT_FS_MAX_ITEMS 64
#define QT_FS_MAX_OUTPUTS 128
#define QT_FS_NAME_MAX 64
#define QT_FS_SPEC_MAX 2048

typedef struct {
    int64_t t_ms;          /* open time */
    double open, high, low, close, volume;
} qt_fs_bar_t;

typedef struct qt_featureset_t qt_featureset_t;

/* spec as above; suffix appended to every name (NULL or ""); horizon_ms 0 = one update per
 * input bar, else a multiple of base_ms > 0 (both <= 366 days). NULL with err set on a bad
 * spec or argument. */
qt_featureset_t *qt_featureset_new(const char *spec, const char *suffix, int64_t base_ms,
                                   int64_t horizon_ms, char *err, size_t errlen);
void qt_featureset_destroy(qt_featureset_t **self_p);

size_t qt_featureset_n_outputs(const qt_featureset_t *self);
const char *qt_featureset_name(const qt_featureset_t *self, size_t i);
const char *const *qt_featureset_names(const qt_featureset_t *self);
const char *qt_featureset_spec(const qt_featureset_t *self);

/* True when the bar was accepted. *updated (may be NULL) says whether the outputs changed
 * (always with horizon 0; with a horizon only when a bucket completed). */
bool qt_featureset_update(qt_featureset_t *self, const qt_fs_bar_t *bar, bool *updated);
const double *qt_featureset_values(const qt_featureset_t *self);   /* n_outputs, finite */
const bool *qt_featureset_ready(const qt_featureset_t *self);
uint64_t qt_featureset_bars(const qt_featureset_t *self);          /* accepted input bars */
uint64_t qt_featureset_rejected(const qt_featureset_t *self);
/* Open time of the bar (or bucket) the current values were computed on; INT64_MIN before. */
int64_t qt_featureset_value_time(const qt_featureset_t *self);

/* Exact snapshot (IEEE bits). load refuses a snapshot of another spec/suffix/horizon or
 * any inconsistent content (false, state unchanged); it reads exactly one record and
 * leaves any following bytes to the caller (check qt_reader_done at the end). */
void qt_featureset_save(const qt_featureset_t *self, qt_buf_t *b);
bool qt_featureset_load(qt_featureset_t *self, qt_reader_t *r);

/* Batch twin (horizon 0): values/ready are len * n_outputs, row-major (row = bar). Uses
 * the batch definitions of qt_indicators; bars must be valid (as update() checks).
 * False on a bad spec or allocation failure (err set). */
bool qt_featureset_batch(const char *spec, const qt_fs_bar_t *bars, size_t len,
                         double *values, bool *ready, char *err, size_t errlen);

int qt_featureset_selftest(bool verbose);
#endif
