/* ingest: the pure core of qt-ingest (replay of recorded bars).
 *
 * Why a core: the daemon, the backtest and the tests must replay exactly the same
 * sequence. The core owns copies of the per-symbol series (loaded by the caller with
 * qt_bars), merges them by open time and hands out one batch per timestamp:
 *   - batches in increasing open time; inside a batch, bars in symbol order (strcmp),
 *     so the order is deterministic whatever order the files were listed in;
 *   - only bars with start_ms <= open time <= end_ms are emitted;
 *   - BAR_FLAG_GAP_BEFORE is set on a bar when the previous bar of the same symbol in
 *     its file (even one before start_ms) is more than one interval earlier;
 *   - the last batch has end_of_stream = true.
 * Merge: the series are kept sorted by symbol; each batch scans the k series heads for
 * the smallest time and takes every head at that time: O(k) per batch, i.e. O(1) per bar
 * when the series are aligned (they are: one bar per symbol per timestamp).
 * Resume: ingest_resume_after(t) skips every timestamp <= t (the last checkpointed batch).
 * Checkpoint record (ingest_ckpt_*): last completed batch time + ZeroMQ sequence numbers
 * per published topic, so a restarted daemon continues both the replay and the seqs.
 * Per-bar flags (ingest_add_series_flags): extra BarFlag bits chosen by the cleaning
 * policy (BAR_FLAG_SUSPECT for "flag"), OR-ed into the emitted item's flags.
 * Freshness (ingest_freshness): after each batch at time t, every symbol that has already
 * emitted a bar has age = t - open time of its newest emitted bar (0 when it is in the
 * batch). Events: MISSING the first batch a started symbol is absent from (the daemon
 * re-writes its last-good cache entry with BAR_FLAG_STALE); STALE when age > sla_ms (once,
 * until it recovers); FRESH when a stale symbol has a bar again. The replay clock is the
 * batch time, so the result does not depend on the replay speed. */
#ifndef INGEST_H
#define INGEST_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "qt_bars.h"
#include "qt_buf.h"

#define INGEST_SYMBOL_MAX 32    /* == QT_MAX_SYMBOL: longest symbol accepted on the bus */
#define INGEST_MAX_SERIES 4096
#define INGEST_TOPIC_MAX 128
#define INGEST_BAR_FLAG_GAP_BEFORE 1u   /* == QT__V1__BAR_FLAG__BAR_FLAG_GAP_BEFORE */
#define INGEST_BAR_FLAG_STALE 4u        /* == QT__V1__BAR_FLAG__BAR_FLAG_STALE */
#define INGEST_BAR_FLAG_SUSPECT 8u      /* == QT__V1__BAR_FLAG__BAR_FLAG_SUSPECT */

typedef struct ingest_t ingest_t;

typedef struct {
    const char *symbol;     /* owned by the core, valid for its lifetime */
    qt_bar_t bar;
    uint32_t flags;         /* INGEST_BAR_FLAG_* */
} ingest_item_t;

typedef struct {
    int64_t t_ms;
    size_t n;
    const ingest_item_t *items;   /* valid until the next ingest_next / destroy */
    bool end_of_stream;
} ingest_batch_t;

/* end_ms < 0: no end. NULL on bad arguments (interval_ms <= 0, end < start) or OOM. */
ingest_t *ingest_new(int64_t interval_ms, int64_t start_ms, int64_t end_ms);
void ingest_destroy(ingest_t **self_p);
/* Copies the series. -1 on an invalid symbol (1..32 chars of [A-Za-z0-9_.-]), a duplicate
 * symbol, bars not strictly increasing in time, too many series, OOM, or after the first
 * ingest_next. */
int ingest_add_series(ingest_t *self, const char *symbol, const qt_bar_t *bars, size_t n);
/* Same, with per-bar extra flags (flags may be NULL = none). */
int ingest_add_series_flags(ingest_t *self, const char *symbol, const qt_bar_t *bars,
                            const uint32_t *flags, size_t n);
size_t ingest_series_count(const ingest_t *self);
/* Symbol of series i (sorted order), NULL when out of range. */
const char *ingest_series_symbol(const ingest_t *self, size_t i);

typedef enum { INGEST_EV_MISSING = 0, INGEST_EV_STALE, INGEST_EV_FRESH } ingest_ev_kind_t;

typedef struct {
    ingest_ev_kind_t kind;
    size_t series;          /* index for ingest_series_symbol */
    int64_t last_bar_ms;    /* newest emitted bar of the symbol */
    int64_t age_ms;
} ingest_fresh_ev_t;

/* Updates freshness after batch b (call once per batch, in order). Writes up to max events
 * to ev and returns how many there were (all of them are applied even if max is smaller).
 * ages (may be NULL; ingest_series_count entries) receives each symbol's age in ms, -1 for
 * a symbol that has not emitted a bar yet. */
size_t ingest_freshness(ingest_t *self, const ingest_batch_t *b, int64_t sla_ms,
                        ingest_fresh_ev_t *ev, size_t max, int64_t *ages);
/* The newest bar emitted for series i (false when none yet). */
bool ingest_last_bar(const ingest_t *self, size_t i, qt_bar_t *bar, uint32_t *flags);
/* Bars inside [start, end] still to be emitted, and their distinct timestamps. */
size_t ingest_remaining_bars(const ingest_t *self);
size_t ingest_remaining_batches(const ingest_t *self);
/* Skip every timestamp <= t_ms. */
void ingest_resume_after(ingest_t *self, int64_t t_ms);
/* 1: *out holds the next batch; 0: nothing left. */
int ingest_next(ingest_t *self, ingest_batch_t *out);

/* Number of gaps (consecutive bars more than interval_ms apart) in a series. */
uint64_t ingest_count_gaps(const qt_bar_t *bars, size_t n, int64_t interval_ms);
/* "1m", "15m", "1h", "4h", "1d", "1w": ms; -1 when not understood. */
int64_t ingest_interval_ms(const char *interval);
/* "BTC_USDT-4h.json(.gz)" with interval "4h" -> "BTC_USDT". False when the name does not
 * have that shape or the symbol is invalid. */
bool ingest_symbol_from_filename(const char *basename, const char *interval, char *out,
                                 size_t outlen);
bool ingest_symbol_valid(const char *symbol);

/* Checkpoint payload. */
typedef struct {
    char topic[INGEST_TOPIC_MAX];
    uint64_t seq;
} ingest_seq_t;

typedef struct {
    int64_t last_t_ms;      /* last batch fully published, flushed and watermarked */
    size_t nseqs;
    ingest_seq_t *seqs;     /* malloc'd */
} ingest_ckpt_t;

void ingest_ckpt_write(qt_buf_t *b, int64_t last_t_ms, const ingest_seq_t *seqs, size_t n);
/* false on anything malformed (magic, version, counts, lengths, trailing bytes). */
bool ingest_ckpt_read(const uint8_t *data, size_t len, ingest_ckpt_t *out);
void ingest_ckpt_free(ingest_ckpt_t *c);

#endif
