/* qt_bars: load OHLCV files into an array of bars with fixed-point prices.
 *
 * Why: research files are the replay source of qt-ingest and of the backtest, and they
 * are hostile input like anything else. Every row is validated and a row that fails is
 * counted by reason (never silently dropped, never passed on); the caller exports the
 * counts as qt_ingest_rows_rejected_total{reason}.
 *
 * Formats (chosen by file name):
 *  - *.json / *.json.gz: freqtrade OHLCV, [[open_time_ms, o, h, l, c, v], ...] with
 *    numbers (or numeric strings). 12-element Binance /api/v3/klines rows are accepted
 *    too (first six fields used). Prices are parsed from the number TEXT with
 *    qt_fixed_parse (exact decimal, more than 8 decimals rounded half to even); no double
 *    round trip. .gz is read through zlib (gzopen/gzread).
 *  - anything else (*.csv, *.txt): CSV with a header line. Separator ',' or ';' (whichever
 *    appears in the header). Columns found by name, case-insensitive: date|datetime|
 *    time|timestamp|open_time|"" (an empty first header = pandas index), open, high, low,
 *    close, volume; other columns (e.g. "Adj Close") are ignored. Date forms:
 *      integer >= 1e11: ms since epoch; other integers: seconds since epoch;
 *      YYYY-MM-DD, YYYY-MM-DD HH:MM[:SS[.fff]], with 'T' instead of ' ' and an optional
 *      'Z' or +HH:MM / -HH:MM offset; YYYY.MM.DD HH:MM (MetaTrader). Times without an
 *      offset are UTC.
 * Row checks: parseable time; every price finite, > 0 and in fixed-point range;
 * volume >= 0; high >= max(open, close, low), low <= min(open, close); open time strictly
 * increasing (a duplicate or out-of-order row is rejected, the first one kept).
 * Structural damage that makes the rest of a file unreadable (unterminated JSON,
 * missing header columns) fails the whole load (return -1 with a message).
 *
 * Two layers. The qt_rows_* functions parse every data row AS WRITTEN (duplicates,
 * out-of-order rows, inconsistent OHLC, non-positive prices all kept, in file order);
 * only what cannot be turned into numbers is marked (columns, syntax, time, nonfinite,
 * range). That is what the audit (qt_audit) needs: it must see the file, not a cleaned
 * copy. The qt_bars_* functions are rows + the row checks above (the replay and the
 * tests use them: what they return is safe to compute on). */
#ifndef QT_BARS_H
#define QT_BARS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "qt_money.h"

typedef struct {
    int64_t t_ms;            /* candle open time, ms UTC */
    qt_fixed_t open, high, low, close, volume;
} qt_bar_t;

typedef enum {
    QT_BARS_REJ_COLUMNS = 0, /* wrong number of fields */
    QT_BARS_REJ_SYNTAX,      /* a field is not a number / not parseable */
    QT_BARS_REJ_TIME,        /* unparseable or out-of-range time */
    QT_BARS_REJ_NONFINITE,   /* NaN / Infinity */
    QT_BARS_REJ_RANGE,       /* does not fit the fixed-point range */
    QT_BARS_REJ_NONPOSITIVE, /* a price <= 0 or a negative volume */
    QT_BARS_REJ_OHLC,        /* high/low inconsistent with open/close */
    QT_BARS_REJ_ORDER,       /* time not strictly after the previous accepted row */
    QT_BARS_REJ__COUNT
} qt_bars_reject_t;

/* Stable lower-case name, used as the metric label ("columns", "syntax", ...). */
const char *qt_bars_reject_str(qt_bars_reject_t r);

typedef struct {
    qt_bar_t *bars;          /* accepted rows, in file order (strictly increasing time) */
    size_t n, cap;
    size_t rows;             /* data rows seen (accepted + rejected) */
    uint64_t rejected[QT_BARS_REJ__COUNT];
    size_t first_reject_row; /* 1-based data row of the first rejection (0 = none) */
    char first_reject[160];  /* its description */
} qt_bars_t;

void qt_bars_init(qt_bars_t *b);
void qt_bars_free(qt_bars_t *b);
uint64_t qt_bars_rejected_total(const qt_bars_t *b);

/* Parse from memory (appends to b). 0 ok (rows may have been rejected), -1 on structural
 * failure (err set). */
int qt_bars_parse_json(qt_bars_t *b, const char *text, size_t len, char *err, size_t errlen);
int qt_bars_parse_csv(qt_bars_t *b, const char *text, size_t len, char *err, size_t errlen);
/* Load a file (format from its name, see above). 0 ok / -1 (I/O or structure; err set). */
int qt_bars_load_file(qt_bars_t *b, const char *path, char *err, size_t errlen);

/* ---- rows as written ---- */
typedef struct {
    int64_t t_ms;            /* valid when parsed or why != QT_BARS_REJ_TIME/COLUMNS */
    qt_fixed_t open, high, low, close, volume;  /* valid when parsed */
    uint32_t row;            /* 1-based data row in the file */
    bool parsed;             /* false: why says what could not be parsed */
    uint8_t why;             /* qt_bars_reject_t: COLUMNS, SYNTAX, TIME, NONFINITE, RANGE */
} qt_row_t;

typedef struct {
    qt_row_t *rows;
    size_t n, cap;
    size_t first_bad_row;    /* 1-based row of the first unparseable row (0 = none) */
    char first_bad[128];     /* its detail, e.g. "close is not finite" */
} qt_rows_t;

void qt_rows_init(qt_rows_t *r);
void qt_rows_free(qt_rows_t *r);
/* Same formats and structural errors as the qt_bars_* functions; appends to r. */
int qt_rows_parse_json(qt_rows_t *r, const char *text, size_t len, char *err, size_t errlen);
int qt_rows_parse_csv(qt_rows_t *r, const char *text, size_t len, char *err, size_t errlen);
int qt_rows_load_file(qt_rows_t *r, const char *path, char *err, size_t errlen);
/* A Binance klines body (see qt_bars_fmt_t below). */
int qt_rows_parse_klines(qt_rows_t *r, const char *text, size_t len, char *err, size_t errlen);
/* FMT_JSON: the freqtrade parser above (6- or 12-field rows, lenient per row).
 * FMT_BINANCE: a recorded Binance /api/v3/klines body, parsed strictly by qt_klines
 * (prices must be strings; any malformed row fails the whole file), rows as written. */
typedef enum {
    QT_BARS_FMT_AUTO = 0, QT_BARS_FMT_JSON, QT_BARS_FMT_CSV, QT_BARS_FMT_BINANCE
} qt_bars_fmt_t;
/* Same with the format forced (AUTO = from the name, as above). */
int qt_rows_load_file_fmt(qt_rows_t *r, const char *path, qt_bars_fmt_t fmt, char *err,
                          size_t errlen);
/* Content check of one parsed row (no order check): -1 when it passes, else the reason
 * (QT_BARS_REJ_NONPOSITIVE or QT_BARS_REJ_OHLC); *detail (may be NULL) names it. */
int qt_bars_check_row(const qt_row_t *row, const char **detail);
/* Converts rows to bars with the row checks (appends to b, as the parsers do). 0 / -1 OOM. */
int qt_bars_from_rows(qt_bars_t *b, const qt_rows_t *r);

/* Parse a date/time as described above into ms UTC. False when unparseable. */
bool qt_bars_parse_time(const char *s, size_t len, int64_t *ms);
/* Days from 1970-01-01 of a proleptic Gregorian civil date (exact integer arithmetic). */
int64_t qt_days_from_civil(int64_t y, unsigned m, unsigned d);

int qt_bars_selftest(bool verbose);
#endif
