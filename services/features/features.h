/* features: the pure core of qt-features (bars -> feature vectors).
 *
 * Why a core: the daemon (qt_stage loop), the backtest and the tests run the same code.
 * Per symbol it keeps incremental indicator state (libs/quant/qt_indicators.h):
 *   ret_1     log return close_t / close_{t-1}                 ready from the 2nd bar
 *   sma_fast  SMA(sma_fast) of closes (default 10)             ready from bar n
 *   sma_slow  SMA(sma_slow) of closes (default 30)
 *   ema_fast  EMA(ema_fast) of closes (default 12), SMA-seeded (TA-Lib convention)
 *   ema_slow  EMA(ema_slow) of closes (default 26)
 *   rvol      sample stddev of the last `rvol` log returns (default 20), per bar
 * followed by the outputs of the configured feature-set spec (libs/quant/qt_featureset.h,
 * default FEATURES_DEFAULT_SPEC), named as that header says ("rsi:14" -> rsi_14, ...).
 * This is feature_schema 2 (schema 1 = the six base features only): the six base names
 * come first, in this order, with the same values as in schema 1; the spec outputs follow
 * in spec order. A value is always finite; it is 0 with ready=false while warming up.
 * The spec features need a full OHLCV bar: a bar the feature set refuses (e.g. high <
 * close, zero open) still gets its base features, with every spec output not ready
 * (value 0) for that bar, counted in stats.fs_rejected.
 * A bar for a symbol whose open time is <= the last processed one is a duplicate (the
 * replay after a crash re-emits identical events): dropped and counted. A watermark
 * whose time is <= the last forwarded one is dropped the same way (a re-emitted batch).
 * Gaps (BAR_FLAG_GAP_BEFORE) are passed through in flags; the return across a gap is
 * still the close-to-close log return (documented in docs/services/features.md).
 * State is bounded: at most max_symbols symbols (new symbols beyond are refused and
 * counted). save/load serialise everything with qt_buf; load validates everything and
 * refuses a snapshot taken with different windows. */
#ifndef FEATURES_H
#define FEATURES_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "qt/v1/market.pb-c.h"
#include "qt_buf.h"
#include "qt_featureset.h"
#include "qt_indicators.h"
#include "qt_money.h"

#define FEATURES_SCHEMA 2u
#define FEATURES_N 6                                   /* the base features */
#define FEATURES_MAX_HORIZONS 4
#define FEATURES_HORIZONS_MAX_LEN 63
/* base + spec outputs (+ the spec again per horizon), at most: */
#define FEATURES_MAX (FEATURES_N + 2 * QT_FS_MAX_OUTPUTS)
#define FEATURES_DEFAULT_SPEC                                                               \
    "roc:1,roc:20,roc:60,zscore:20,rsi:14,macd:12:26:9,atr:14,bbands:20:2,stoch:14:3,"      \
    "rvol_parkinson:20,rvol_gk:20,obv,vwap:20"
#define FEATURES_SYMBOL_MAX 32
#define FEATURES_INTERVAL_MAX 15
#define FEATURES_MAX_SYMBOLS_LIMIT 65536u
/* Largest accepted bar time: its event time in ns (ms * 1e6) must fit in int64. */
#define FEATURES_MAX_TIME_MS (INT64_MAX / 1000000)

enum { FEAT_RET_1 = 0, FEAT_SMA_FAST, FEAT_SMA_SLOW, FEAT_EMA_FAST, FEAT_EMA_SLOW, FEAT_RVOL };
/* "ret_1", "sma_fast", "sma_slow", "ema_fast", "ema_slow", "rvol" */
extern const char *const features_names[FEATURES_N];

typedef struct {
    uint32_t sma_fast, sma_slow, ema_fast, ema_slow, rvol;
    uint32_t max_symbols;
    char spec[QT_FS_SPEC_MAX + 1];   /* feature-set spec; "" = base features only */
    /* Multi-horizon: "" (default) or up to FEATURES_MAX_HORIZONS comma-separated spans
     * N{m,h,d,w} (e.g. "1d,1w"). Each adds the spec's outputs again, computed on bars
     * aggregated into UTC buckets of that span (qt_featureset.h), named with the suffix
     * "_<span>" (rsi_14_1d), after the base-interval spec outputs. The values are those
     * of the last COMPLETED bucket (no look-ahead); not ready when the symbol's interval
     * (e.g. "4h") does not divide the span. */
    char horizons[FEATURES_HORIZONS_MAX_LEN + 1];
} features_cfg_t;

/* 10, 30, 12, 26, 20, 1024, FEATURES_DEFAULT_SPEC, no horizons */
void features_cfg_default(features_cfg_t *cfg);
/* Windows within the indicator limits (rvol >= 2), max_symbols 1..65536, spec parses and
 * none of its names repeats a base name, horizons parse (and need a spec). */
bool features_cfg_valid(const features_cfg_t *cfg, char *why, size_t whylen);

typedef struct {
    char symbol[FEATURES_SYMBOL_MAX + 1];
    char interval[FEATURES_INTERVAL_MAX + 1];
    int64_t bar_time_ms;
    qt_fixed_t close;
    uint32_t flags;
    double value[FEATURES_MAX];
    bool ready[FEATURES_MAX];
    /* Number of features and their names (owned by the core). A vector built by hand with
     * n == 0 / names == NULL is published as the FEATURES_N base features. */
    size_t n;
    const char *const *names;
} features_vec_t;

typedef enum {
    FEATURES_EMIT = 0,       /* *out filled: publish it */
    FEATURES_DUPLICATE,      /* bar time <= last for the symbol: dropped */
    FEATURES_INVALID,        /* bad symbol/interval/price: dropped */
    FEATURES_FULL            /* new symbol but max_symbols reached: dropped */
} features_rc_t;

typedef struct {
    uint64_t bars, emitted, duplicates, invalid, full, nonfinite, stale_watermarks;
    uint64_t fs_rejected;    /* bars whose spec features were not computable (see above) */
    uint64_t horizon_unavailable;   /* symbols whose interval does not divide a horizon */
} features_stats_t;

typedef struct features_t features_t;

features_t *features_new(const features_cfg_t *cfg);   /* NULL on invalid cfg / OOM */
void features_destroy(features_t **self_p);

features_rc_t features_on_bar(features_t *self, const Qt__V1__Bar *bar, features_vec_t *out);
/* Returns true when the watermark must be forwarded; *out is a copy with count = vectors
 * emitted since the previous forwarded watermark (stream/time/end_of_stream unchanged). */
bool features_on_watermark(features_t *self, const Qt__V1__Watermark *wm,
                           Qt__V1__Watermark *out);
const features_stats_t *features_stats(const features_t *self);
/* All feature names in vector order (base then spec) and their count. */
size_t features_count(const features_t *self);
const char *const *features_all_names(const features_t *self);
/* "4h" -> 14400000: N{m,h,d,w}, 1 minute .. 366 days. False when malformed. */
bool features_parse_span(const char *s, int64_t *ms);
size_t features_symbol_count(const features_t *self);

void features_save(const features_t *self, qt_buf_t *out);
/* Replaces the state; false (state unchanged) on any invalid content. */
bool features_load(features_t *self, qt_reader_t *r);

/* Protobuf view of a vector: fills pb (and the storage it points into). */
typedef struct {
    Qt__V1__FeatureVector fv;
    Qt__V1__Feature f[FEATURES_MAX];
    Qt__V1__Feature *fp[FEATURES_MAX];
} features_pb_t;
void features_vec_to_pb(const features_vec_t *v, features_pb_t *pb);

#endif
