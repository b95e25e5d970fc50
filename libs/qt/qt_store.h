/* qt_store: the curated bar store, data/curated/<venue>/<symbol>/<interval>/.
 *
 * Why: every bar the system sees should come from one place that can prove what it holds:
 * append-only (history is never rewritten), checksummed (corruption is detected, not
 * replayed), idempotent (re-running a fetch or an import changes nothing) and listed in a
 * catalog (what is there, how many rows, which time span, which hash).
 *
 * Layout of one dataset directory:
 *   bars.qtb    magic "QTBARS01" (8 bytes), u32 LE schema version (QT_STORE_SCHEMA_VERSION),
 *               u32 reserved 0; then records, each [u32 LE len][u32 LE crc32(payload)]
 *               [payload = protobuf-encoded qt.v1.Bar] (the proto Bar IS the schema).
 *               Records are only ever appended, in append order (a backfilled bar for an
 *               earlier time is appended after later ones; readers sort by open time).
 *   index.json  {"schema":1,"venue","symbol","interval","rows","first_ms","last_ms",
 *               "bytes","sha256"}: the committed length of bars.qtb and the SHA-256 of
 *               those bytes. Written to a temp file and renamed after each append (the
 *               commit point). Bytes of bars.qtb beyond "bytes" are a torn append from a
 *               crash: the next append truncates them; qt_store_verify reports them.
 *   <root>/catalog.json  {"schema":1,"datasets":[{venue,symbol,interval,rows,first_ms,
 *               last_ms,sha256}, ...]} sorted by venue/symbol/interval, rewritten by
 *               qt_store_catalog.
 *
 * Append rules (per bar, in the order given):
 *   - the bar must pass the row checks (open time >= 0, prices > 0, volume >= 0,
 *     low <= min(open, close), high >= max(open, close)); otherwise it is refused
 *     (stats.invalid);
 *   - a bar whose open time is already stored with identical open/high/low/close/volume/
 *     flags is skipped (stats.skipped): idempotent re-runs;
 *   - a bar whose open time is stored with different values is refused, never overwritten
 *     (stats.conflicts; the first such time in stats.first_conflict_ms); the rest of the
 *     batch is still applied;
 *   - two bars with the same open time inside one call: the first wins, the second is
 *     skipped if identical, else a conflict.
 *   The bar's symbol/venue/interval fields are ignored: the dataset names them. Not
 *   thread-safe; one writer per store (fetch and import run one at a time).
 * Names: venue, symbol and interval are 1..32 chars of [A-Za-z0-9_.-] and not "." or "..".
 */
#ifndef QT_STORE_H
#define QT_STORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qt/v1/market.pb-c.h"
#include "qt_bars.h"

#define QT_STORE_SCHEMA_VERSION 1u
#define QT_STORE_NAME_MAX 32

typedef struct qt_store_t qt_store_t;

typedef struct {
    size_t appended;            /* new bars written */
    size_t skipped;             /* identical to a stored bar (or earlier in the call) */
    size_t conflicts;           /* same open time, different values: refused */
    size_t invalid;             /* failed the row checks: refused */
    int64_t first_conflict_ms;  /* -1 when none */
    uint64_t rows;              /* dataset rows after the call */
} qt_store_stats_t;

typedef struct {
    qt_bar_t bar;
    uint32_t flags;             /* qt.v1.BarFlag bits as stored */
} qt_store_row_t;

typedef struct {
    char venue[QT_STORE_NAME_MAX + 1], symbol[QT_STORE_NAME_MAX + 1],
        interval[QT_STORE_NAME_MAX + 1];
    uint64_t rows;
    int64_t first_ms, last_ms;  /* -1 when empty */
    char sha256[65];            /* hex SHA-256 of the committed bars.qtb bytes */
} qt_store_entry_t;

/* Opens (creating directories as needed) the store rooted at root, e.g. "data/curated".
 * NULL on error (err set). */
qt_store_t *qt_store_open(const char *root, char *err, size_t errlen);
void qt_store_destroy(qt_store_t **self_p);
bool qt_store_name_valid(const char *name);

/* Appends bars (see the rules above). 0 when the call completed (even if some bars were
 * refused: see *out), -1 on an I/O error, a corrupt dataset or invalid names (err set;
 * nothing is committed by a failed call). out may be NULL. */
int qt_store_append(qt_store_t *self, const char *venue, const char *symbol,
                    const char *interval, const Qt__V1__Bar *bars, size_t n,
                    qt_store_stats_t *out, char *err, size_t errlen);

/* Reads a dataset, sorted by open time (malloc'd array, caller frees; *n = 0 and
 * *rows = NULL for a dataset that does not exist). Verifies every record's CRC and the
 * index; -1 on corruption or I/O error (err set). */
int qt_store_read(qt_store_t *self, const char *venue, const char *symbol,
                  const char *interval, qt_store_row_t **rows, size_t *n, char *err,
                  size_t errlen);

/* Full check of one dataset: header and schema version, every record CRC, protobuf decode,
 * no duplicate open time, index rows/first/last/bytes and SHA-256 match. 0 ok, -1 (err
 * names the problem), including trailing uncommitted bytes. */
int qt_store_verify(qt_store_t *self, const char *venue, const char *symbol,
                    const char *interval, char *err, size_t errlen);

/* Lists every dataset (from the index files, sorted by venue/symbol/interval) and rewrites
 * <root>/catalog.json. *entries malloc'd (caller frees). 0 ok / -1 (err set). */
int qt_store_catalog(qt_store_t *self, qt_store_entry_t **entries, size_t *n, char *err,
                     size_t errlen);

int qt_store_selftest(bool verbose);
#endif
