/* qt_aggregate: OHLCV resampling; see qt_aggregate.h. */
#include "qt_aggregate.h"

#include <stdio.h>
#include <stdlib.h>

static int64_t floor_to(int64_t t, int64_t step) {
    int64_t r = t % step;
    return r < 0 ? t - r - step : t - r;
}

int qt_aggregate(const qt_bar_t *in, size_t n, int64_t in_ms, int64_t out_ms,
                 qt_agg_partial_t partial, qt_agg_bar_t **out, size_t *nout) {
    *out = NULL;
    *nout = 0;
    if (in_ms <= 0 || out_ms <= 0 || out_ms % in_ms != 0 || (n && !in)) return -1;
    qt_agg_bar_t *v = malloc((n ? n : 1) * sizeof *v);
    if (!v) return -1;
    const int64_t per = out_ms / in_ms;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const qt_bar_t *b = &in[i];
        if (b->t_ms % in_ms != 0 || (i && b->t_ms <= in[i - 1].t_ms)) {
            free(v);
            return -1;
        }
        int64_t bucket = floor_to(b->t_ms, out_ms);
        if (m == 0 || v[m - 1].bar.t_ms != bucket) {
            v[m].bar = *b;
            v[m].bar.t_ms = bucket;
            v[m].count = 1;
            m++;
            continue;
        }
        qt_bar_t *a = &v[m - 1].bar;
        if (b->high > a->high) a->high = b->high;
        if (b->low < a->low) a->low = b->low;
        a->close = b->close;
        if (__builtin_add_overflow(a->volume, b->volume, &a->volume)) {
            free(v);
            return -1;
        }
        v[m - 1].count++;
    }
    size_t k = 0;
    for (size_t i = 0; i < m; i++) {
        v[i].complete = (int64_t)v[i].count == per;
        if (partial == QT_AGG_KEEP_PARTIAL || v[i].complete) v[k++] = v[i];
    }
    *out = v;
    *nout = k;
    return 0;
}

int qt_aggregate_selftest(bool verbose) {
    int fails = 0;
#define CHECK(c)                                                          \
    do {                                                                  \
        if (!(c)) {                                                       \
            fails++;                                                      \
            if (verbose) fprintf(stderr, "qt_aggregate: FAIL %s\n", #c); \
        }                                                                 \
    } while (0)
    /* 1m bars 00:00..00:06 -> 5m: [00:00 complete, 00:05 partial (2 of 5)] */
    qt_bar_t in[7];
    for (int i = 0; i < 7; i++)
        in[i] = (qt_bar_t){60000LL * i, 10 + i, 20 + i, 5 + i, 11 + i, 100};
    in[2].high = 99;
    in[3].low = 1;
    qt_agg_bar_t *o = NULL;
    size_t no = 0;
    CHECK(qt_aggregate(in, 7, 60000, 300000, QT_AGG_KEEP_PARTIAL, &o, &no) == 0 && no == 2);
    if (o && no == 2) {
        CHECK(o[0].bar.open == 10 && o[0].bar.high == 99 && o[0].bar.low == 1 &&
              o[0].bar.close == 15 && o[0].bar.volume == 500 && o[0].complete);
        CHECK(o[1].bar.t_ms == 300000 && o[1].count == 2 && !o[1].complete && o[1].bar.open == 15);
    }
    free(o);
    CHECK(qt_aggregate(in, 7, 60000, 300000, QT_AGG_COMPLETE_ONLY, &o, &no) == 0 && no == 1);
    free(o);
    CHECK(qt_aggregate(in, 7, 60000, 90000, QT_AGG_KEEP_PARTIAL, &o, &no) == -1 && !o);
#undef CHECK
    if (verbose) fprintf(stderr, "qt_aggregate selftest: %s\n", fails ? "FAIL" : "ok");
    return fails;
}
