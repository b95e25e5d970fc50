/* qt_aggregate: resample OHLCV bars to a coarser interval (1m -> 5m/15m/1h/4h/1d, ...).
 *
 * Why: the system keeps one fine series per symbol and derives the coarser ones, so a 4h
 * bar can always be traced to its 1h parts, and a fetched 1h series can be checked
 * against the exchange's own 4h candles (tests/unit/test_aggregate.c does exactly that on
 * the shipped Binance data).
 * Semantics (the exchange's): buckets are anchored at the epoch (t - t mod out_ms; 1d
 * buckets start 00:00 UTC, 4h buckets at 00/04/08/.. UTC, as Binance's); a bucket's open
 * is the first bar's open, high the max high, low the min low, close the last bar's close,
 * volume the exact fixed-point sum. A bucket is complete when it holds all
 * out_ms / in_ms input bars. Partial buckets (missing inputs, e.g. an exchange outage or
 * the still-open last bucket) are kept with complete = false, or left out with
 * QT_AGG_COMPLETE_ONLY. Pure: no I/O, deterministic. */
#ifndef QT_AGGREGATE_H
#define QT_AGGREGATE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qt_bars.h"

typedef struct {
    qt_bar_t bar;           /* t_ms = bucket start */
    uint32_t count;         /* input bars in the bucket */
    bool complete;          /* count == out_ms / in_ms */
} qt_agg_bar_t;

typedef enum { QT_AGG_KEEP_PARTIAL = 0, QT_AGG_COMPLETE_ONLY = 1 } qt_agg_partial_t;

/* in: strictly increasing open times on the in_ms grid. out_ms must be a positive multiple
 * of in_ms. *out malloc'd (caller frees), *nout buckets. 0 ok; -1 on bad arguments,
 * unsorted or off-grid input, volume overflow or OOM (then *out = NULL). */
int qt_aggregate(const qt_bar_t *in, size_t n, int64_t in_ms, int64_t out_ms,
                 qt_agg_partial_t partial, qt_agg_bar_t **out, size_t *nout);

int qt_aggregate_selftest(bool verbose);
#endif
