/* qt_audit: data-quality checks of one OHLCV series as written, and the cleaning policy.
 *
 * Why: a bar the system trades on must be trustworthy, and every problem in a recorded or
 * fetched series must be detected, counted and handled by a stated policy, never silently.
 * The audit works on qt_rows_t (every row as written, qt_bars.h) so it sees duplicates,
 * out-of-order rows and bad ticks that a cleaned load would already have removed.
 * Pure: rows + parameters in, counts / gap ranges / per-row verdicts out. No I/O, no clock
 * (the staleness reference time is a parameter). Definitions (docs/data-quality.md):
 *
 *  - malformed: the row could not be read (wrong field count, syntax, bad time, out of the
 *    fixed-point range). non_finite: a NaN/Infinity field. Neither has usable prices.
 *  - non_positive: a price <= 0. negative_volume: volume < 0.
 *  - ohlc_violations: low > min(open, close) or high < max(open, close) (or high < low).
 *  - duplicates: a row whose open time equals the open time of an EARLIER row with a
 *    readable time (counted once per extra row, whatever its values).
 *  - out_of_order: a row, not a duplicate, whose open time is earlier than the latest
 *    open time seen before it.
 *  - off_grid: open time not a multiple of the interval (grid anchored at the epoch).
 *  - gaps (interval_ms > 0): over the sorted distinct open times of rows with a readable
 *    time, the grid points strictly between two consecutive times are missing candles;
 *    each such stretch is one gap range [first_missing_ms, last_missing_ms].
 *  - outliers: over the "clean" rows (what qt_bars keeps: readable, content checks pass,
 *    open time after the previous clean row), log returns r = ln(c_i / c_{i-1}) of rows
 *    exactly one interval apart (returns across a gap are not one-interval returns and are
 *    skipped). Robust z = 0.6745 (r - median) / MAD (Iglewicz & Hoaglin, 1993, "How to
 *    Detect and Handle Outliers"); the row ending a return with |z| > outlier_z is an
 *    outlier. MAD = 0 (or fewer than 3 returns): no outliers.
 *  - stale (now_ms >= 0 and stale_after_ms > 0): now_ms - newest clean open time >
 *    stale_after_ms; age_ms is reported either way when now_ms >= 0.
 * Verdicts: one bit set per row (QT_AUDIT_*); a row can carry several (e.g. a duplicate
 * that also violates OHLC). */
#ifndef QT_AUDIT_H
#define QT_AUDIT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qt_bars.h"

enum {
    QT_AUDIT_MALFORMED = 1u << 0,
    QT_AUDIT_NONFINITE = 1u << 1,
    QT_AUDIT_NONPOSITIVE = 1u << 2,
    QT_AUDIT_NEGVOLUME = 1u << 3,
    QT_AUDIT_OHLC = 1u << 4,
    QT_AUDIT_DUPLICATE = 1u << 5,
    QT_AUDIT_OUT_OF_ORDER = 1u << 6,
    QT_AUDIT_OFF_GRID = 1u << 7,
    QT_AUDIT_OUTLIER = 1u << 8,
    QT_AUDIT_GAP_BEFORE = 1u << 9,  /* informational: clean row right after a gap */
};
#define QT_AUDIT_PROBLEMS 9         /* bits 0..8 are problems with a cleaning policy */

/* Stable name of a problem bit: "malformed", "non_finite", "non_positive",
 * "negative_volume", "ohlc", "duplicate", "out_of_order", "off_grid", "outlier";
 * "gap_before"; NULL for anything else. */
const char *qt_audit_problem_str(uint32_t bit);

typedef struct {
    int64_t interval_ms;    /* <= 0: no grid (no gaps, off_grid, outlier spacing check) */
    double outlier_z;       /* robust z threshold (> 0); e.g. QT_AUDIT_DEFAULT_Z */
    int64_t now_ms;         /* staleness reference, -1: none */
    int64_t stale_after_ms; /* 0: no staleness verdict */
} qt_audit_params_t;
#define QT_AUDIT_DEFAULT_Z 12.0

typedef struct {
    int64_t first_ms, last_ms;
} qt_gap_range_t;

typedef struct {
    size_t rows;
    uint64_t gaps;                 /* missing candles */
    qt_gap_range_t *gap_ranges;    /* malloc'd, n_gap_ranges entries, increasing */
    size_t n_gap_ranges;
    uint64_t duplicates, out_of_order, ohlc_violations, non_finite, non_positive,
        negative_volume, malformed, off_grid, outliers;
    size_t clean;                  /* rows qt_bars would keep */
    int64_t first_ms, last_ms;     /* of the clean rows; -1 when none */
    int64_t age_ms;                /* now_ms - last_ms (-1 without now_ms or clean rows) */
    bool stale;
    uint32_t *verdict;             /* malloc'd, rows entries, QT_AUDIT_* bits */
} qt_audit_t;

/* 0 ok, -1 on bad parameters or OOM (a is then empty). Free with qt_audit_free. */
int qt_audit_run(const qt_rows_t *rows, const qt_audit_params_t *p, qt_audit_t *a);
void qt_audit_free(qt_audit_t *a);
/* Adds the counts of src to dst (rows and every counter; not ranges, verdicts, times). */
void qt_audit_add_counts(qt_audit_t *dst, const qt_audit_t *src);

/* ---- cleaning policy ---- */
typedef enum {
    QT_POLICY_DROP = 0,       /* the row is not used; counted */
    QT_POLICY_QUARANTINE,     /* not used; written to the quarantine with its reason */
    QT_POLICY_FLAG,           /* kept, marked BAR_FLAG_SUSPECT (only for outlier, off_grid) */
} qt_policy_action_t;

typedef struct {
    qt_policy_action_t action[QT_AUDIT_PROBLEMS];   /* indexed by bit number */
} qt_policy_t;

/* Default: every problem quarantined except outliers (flag). */
void qt_policy_default(qt_policy_t *p);
/* "drop" | "quarantine" | "flag" for the problem named (see qt_audit_problem_str).
 * -1 on an unknown problem/action or "flag" for a problem whose rows cannot be published
 * (anything but outlier and off_grid: a bar with unreadable, non-positive, inconsistent or
 * duplicate values has no safe meaning downstream). */
int qt_policy_set(qt_policy_t *p, const char *problem, const char *action);
const char *qt_policy_action_str(qt_policy_action_t a);

typedef struct {
    size_t row_index;   /* index into rows->rows */
    uint32_t reasons;   /* the problem bits that caused it */
} qt_quarantine_item_t;

typedef struct {
    qt_bar_t *bars;          /* kept rows, strictly increasing time */
    uint32_t *suspect;       /* per kept bar: problem bits flagged (0 = clean) */
    size_t n;
    qt_quarantine_item_t *quarantine;
    size_t n_quarantine;
    size_t n_dropped;
} qt_cleaned_t;

/* Applies the policy: a row with any problem whose action is drop or quarantine is not
 * kept (quarantine wins over drop when both apply); out_of_order and duplicate rows are
 * never kept (the first row for a time wins). 0 / -1 OOM. */
int qt_audit_clean(const qt_rows_t *rows, const qt_audit_t *a, const qt_policy_t *p,
                   qt_cleaned_t *out);
void qt_cleaned_free(qt_cleaned_t *c);

int qt_audit_selftest(bool verbose);
#endif
