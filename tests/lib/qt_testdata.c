/* qt_testdata: see qt_testdata.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "qt_testdata.h"

const char *qt_testdata_dir(void)
{
    const char *dir = getenv("QT_DATA_DIR");
    return dir && *dir ? dir : "../shared/data";
}

void qt_testdata_path_4h(const char *pair, char *buf, size_t len)
{
    int w = snprintf(buf, len, "%s/raw/djienne-3EMA_SRSI_ATR-binance/4h/%s-4h.json",
                     qt_testdata_dir(), pair);
    if (w < 0 || (size_t)w >= len)
        fail_msg("qt_testdata: path for %s does not fit in %zu bytes", pair, len);
}

void qt_testdata_load_4h(const char *pair, qt_bars_t *out)
{
    char path[1024], err[256] = "";
    qt_testdata_path_4h(pair, path, sizeof path);
    qt_bars_init(out);
    if (qt_bars_load_file(out, path, err, sizeof err) != 0) {
        qt_bars_free(out);
        fail_msg("qt_testdata: %s", err); /* qt_bars_load_file's message names the path */
    }
    if (qt_bars_rejected_total(out) != 0) {
        unsigned long long rej = (unsigned long long)qt_bars_rejected_total(out);
        size_t rows = out->rows;
        char first[sizeof out->first_reject]; /* "row N: reason: ..." */
        snprintf(first, sizeof first, "%s", out->first_reject);
        qt_bars_free(out);
        fail_msg("qt_testdata: %s: %llu of %zu rows rejected (first: %s)", path, rej, rows,
                 first);
    }
    if (out->n == 0) {
        qt_bars_free(out);
        fail_msg("qt_testdata: %s holds no bars", path);
    }
}

long qt_testdata_index_of(const qt_bars_t *b, int64_t t_ms)
{
    size_t lo = 0, hi = b->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (b->bars[mid].t_ms < t_ms)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < b->n && b->bars[lo].t_ms == t_ms ? (long)lo : -1;
}
