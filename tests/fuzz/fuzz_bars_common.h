/* Shared checks of the OHLCV parser fuzz targets (fuzz_freqtrade.c, fuzz_csv.c): header
 * only (static functions), so each target stays one translation unit as scripts/fuzz and
 * the Makefile build them. */
#ifndef FUZZ_BARS_COMMON_H
#define FUZZ_BARS_COMMON_H
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qt_audit.h"
#include "qt_bars.h"

typedef int (*fuzz_rows_fn)(qt_rows_t *, const char *, size_t, char *, size_t);
typedef int (*fuzz_bars_fn)(qt_bars_t *, const char *, size_t, char *, size_t);

static inline void fuzz_bars_check(const char *text, size_t size, fuzz_rows_fn rows_fn,
                                   fuzz_bars_fn bars_fn) {
    qt_rows_t r;
    qt_rows_init(&r);
    char err[256] = "";
    int rc = rows_fn(&r, text, size, err, sizeof err);
    qt_bars_t b;
    qt_bars_init(&b);
    char err2[256] = "";
    int rc2 = bars_fn(&b, text, size, err2, sizeof err2);
    if (rc != rc2) abort();
    if (rc != 0) {
        if (!err[0] || !err2[0]) abort();
        qt_rows_free(&r);
        qt_bars_free(&b);
        return;
    }
    if (b.rows != r.n || b.n + qt_bars_rejected_total(&b) != r.n) abort();
    for (size_t i = 0; i < b.n; i++) {
        const qt_bar_t *x = &b.bars[i];
        if (i && x->t_ms <= b.bars[i - 1].t_ms) abort();
        if (x->open <= 0 || x->high < x->open || x->high < x->close || x->low > x->open ||
            x->low > x->close || x->low <= 0 || x->volume < 0)
            abort();
    }
    for (size_t i = 0; i < r.n; i++) {
        const qt_row_t *row = &r.rows[i];
        if (row->row != i + 1) abort();
        if (row->parsed && (row->t_ms < 0 || row->t_ms > 32503680000000LL)) abort();
        if (!row->parsed && row->why >= QT_BARS_REJ__COUNT) abort();
    }
    if ((r.first_bad_row == 0) != (qt_bars_rejected_total(&b) ==
                                   b.rejected[QT_BARS_REJ_NONPOSITIVE] +
                                       b.rejected[QT_BARS_REJ_OHLC] + b.rejected[QT_BARS_REJ_ORDER]))
        abort();
    qt_audit_params_t p = {3600000, QT_AUDIT_DEFAULT_Z, -1, 0};
    qt_audit_t a;
    if (qt_audit_run(&r, &p, &a) != 0) abort();
    if (a.clean != b.n || a.rows != r.n) abort();
    uint64_t nd = 0;
    for (size_t i = 0; i < a.rows; i++) nd += (a.verdict[i] & QT_AUDIT_DUPLICATE) != 0;
    if (nd != a.duplicates) abort();
    uint64_t miss = 0;
    for (size_t k = 0; k < a.n_gap_ranges; k++) {
        if (a.gap_ranges[k].last_ms < a.gap_ranges[k].first_ms) abort();
        miss += (uint64_t)((a.gap_ranges[k].last_ms - a.gap_ranges[k].first_ms) / 3600000 + 1);
    }
    if (miss != a.gaps) abort();
    qt_policy_t pol;
    qt_policy_default(&pol);
    qt_cleaned_t c;
    if (qt_audit_clean(&r, &a, &pol, &c) != 0) abort();
    if (c.n + c.n_quarantine + c.n_dropped != r.n) abort();
    qt_cleaned_free(&c);
    qt_audit_free(&a);
    qt_rows_free(&r);
    qt_bars_free(&b);
}
#endif
