/* ingest fetch: download, validate, backfill and store candles (see fetch.h for the
 * contract). The order of the steps is the point: nothing touches the store until a
 * symbol's data has passed every check, so a failed fetch leaves the store byte-for-byte
 * as it was; and everything already stored is compared, never rewritten. */
#include "ingest/fetch.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "qt_bars.h"
#include "qt_cli.h"
#include "qt_clock.h"
#include "qt_exchange.h"
#include "qt_klines.h"
#include "qt_store.h"

#define PROG "qt-ingest fetch"
#define MAX_SYMBOLS 64
#define MAX_BACKFILLS 64   /* refetches per symbol; further gaps are recorded directly */
#define MAX_GAPS_LISTED 32

typedef enum { SRC_BINANCE, SRC_COINGECKO, SRC_FILE } source_t;

typedef struct {
    source_t source;
    char symbols[MAX_SYMBOLS][QT_STORE_NAME_MAX + 1];
    size_t nsymbols;
    char interval[8];
    int64_t iv_ms, from_ms, to_ms;
    const char *base_url, *store_dir, *venue, *data_dir;
    bool json;
    char data_dir_buf[600];
    qt_exchange_config_t ex;
} opts_t;

typedef struct {
    qt_bar_t bar;
    uint32_t flags;
    uint32_t seq;
} frow_t;

typedef struct {
    frow_t *r;
    size_t n, cap;
} frows_t;

/* Per-symbol report. */
typedef struct {
    const char *symbol;
    bool ok;
    char error[320];
    uint64_t received, out_of_order, duplicates, outside, gaps, missing, backfilled;
    uint64_t backfill_requests, appended, unchanged, rejected;
    int64_t gap_list[MAX_GAPS_LISTED][2];
    size_t ngap_list;
    /* coingecko */
    uint64_t points, matched;
    double max_rel_diff;
    int64_t max_diff_ms;
} report_t;

static void fail(report_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(report_t *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof r->error, fmt, ap);
    va_end(ap);
    r->ok = false;
}

static int push(frows_t *f, const qt_bar_t *b, uint32_t flags) {
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 1024;
        frow_t *p = realloc(f->r, cap * sizeof *p);
        if (!p) return -1;
        f->r = p;
        f->cap = cap;
    }
    f->r[f->n] = (frow_t){.bar = *b, .flags = flags, .seq = (uint32_t)f->n};
    f->n++;
    return 0;
}

static int cmp_frow(const void *a, const void *b) {
    const frow_t *x = a, *y = b;
    if (x->bar.t_ms != y->bar.t_ms) return x->bar.t_ms < y->bar.t_ms ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static bool same_ohlcv(const qt_bar_t *a, const qt_bar_t *b) {
    return a->open == b->open && a->high == b->high && a->low == b->low &&
           a->close == b->close && a->volume == b->volume;
}

static bool row_valid(const qt_bar_t *b) {
    qt_row_t row = {.t_ms = b->t_ms, .open = b->open, .high = b->high, .low = b->low,
                    .close = b->close, .volume = b->volume, .row = 1, .parsed = true};
    return b->t_ms >= 0 && qt_bars_check_row(&row, NULL) < 0;
}

/* Step 2 on rows in received order: counts out-of-order rows, sorts, drops identical
 * duplicates and rows outside [from, to); fails on conflicting duplicates, off-grid times
 * and invalid rows. 0 ok / -1 (r->error set). */
static int validate(const opts_t *o, frows_t *f, report_t *r) {
    int64_t maxseen = INT64_MIN;
    for (size_t i = 0; i < f->n; i++) {
        if (f->r[i].bar.t_ms < maxseen) r->out_of_order++;
        if (f->r[i].bar.t_ms > maxseen) maxseen = f->r[i].bar.t_ms;
    }
    qsort(f->r, f->n, sizeof *f->r, cmp_frow);
    size_t w = 0;
    for (size_t i = 0; i < f->n; i++) {
        const frow_t *x = &f->r[i];
        if (x->bar.t_ms < o->from_ms || x->bar.t_ms >= o->to_ms) {
            r->outside++;
            continue;
        }
        if (w > 0 && f->r[w - 1].bar.t_ms == x->bar.t_ms) {
            if (!same_ohlcv(&f->r[w - 1].bar, &x->bar)) {
                fail(r, "two different candles for open time %" PRId64, x->bar.t_ms);
                return -1;
            }
            r->duplicates++;
            continue;
        }
        if (x->bar.t_ms % o->iv_ms != 0 && o->iv_ms <= 86400000LL) {
            fail(r, "open time %" PRId64 " is off the %s grid", x->bar.t_ms, o->interval);
            return -1;
        }
        if (!row_valid(&x->bar)) {
            fail(r, "candle at %" PRId64 " fails the OHLC/positivity checks", x->bar.t_ms);
            return -1;
        }
        f->r[w++] = *x;
    }
    f->n = w;
    return 0;
}

static const qt_store_row_t *find_stored(const qt_store_row_t *s, size_t n, int64_t t) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s[mid].bar.t_ms < t) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && s[lo].bar.t_ms == t ? &s[lo] : NULL;
}

static const frow_t *find_fetched(const frows_t *f, int64_t t) {
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->r[mid].bar.t_ms < t) lo = mid + 1;
        else hi = mid;
    }
    return lo < f->n && f->r[lo].bar.t_ms == t ? &f->r[lo] : NULL;
}

/* Known open times: fetched (sorted) merged with stored (sorted). Calls fn for every
 * maximal run [lo, hi] of missing grid times inside [from, to) between two known times. */
typedef struct {
    int64_t lo, hi;
} run_t;

static size_t find_runs(const opts_t *o, const frows_t *f, const qt_store_row_t *s, size_t ns,
                        run_t **runs_out) {
    size_t i = 0, j = 0, nr = 0, cap = 0;
    run_t *runs = NULL;
    int64_t prev = INT64_MIN;
    while (i < f->n || j < ns) {
        int64_t t;
        if (j >= ns || (i < f->n && f->r[i].bar.t_ms <= s[j].bar.t_ms)) {
            t = f->r[i].bar.t_ms;
            if (j < ns && s[j].bar.t_ms == t) j++;
            i++;
        } else {
            t = s[j++].bar.t_ms;
        }
        if (prev != INT64_MIN && t - prev > o->iv_ms) {
            int64_t lo = prev + o->iv_ms, hi = t - o->iv_ms;
            if (lo < o->from_ms) lo = o->from_ms + ((o->iv_ms - o->from_ms % o->iv_ms) % o->iv_ms);
            if (hi > o->to_ms - 1) hi = o->to_ms - 1;
            if (lo <= hi) {
                if (nr == cap) {
                    cap = cap ? cap * 2 : 16;
                    run_t *p = realloc(runs, cap * sizeof *p);
                    if (!p) break;
                    runs = p;
                }
                runs[nr++] = (run_t){lo, hi};
            }
        }
        prev = t;
    }
    *runs_out = runs;
    return nr;
}

static void klines_to_rows(const qt_klines_t *k, frows_t *f, uint32_t flags) {
    for (size_t i = 0; i < k->n; i++) {
        const qt_kline_t *x = &k->rows[i];
        qt_bar_t b = {.t_ms = x->open_ms, .open = x->open, .high = x->high, .low = x->low,
                      .close = x->close, .volume = x->volume};
        if (push(f, &b, flags) != 0) return;
    }
}

/* Step 3 for one symbol: backfill each missing run once (binance), then record what is
 * still missing and flag the bar after it. f stays sorted. */
static void backfill_and_flag(const opts_t *o, qt_exchange_t *ex, const char *bsym,
                              frows_t *f, const qt_store_row_t *s, size_t ns, report_t *r) {
    run_t *runs = NULL;
    size_t nr = find_runs(o, f, s, ns, &runs);
    for (size_t k = 0; k < nr; k++) {
        if (ex && k < MAX_BACKFILLS) {
            qt_klines_t got;
            qt_klines_init(&got);
            char err[256];
            r->backfill_requests++;
            qt_ex_status_t st =
                qt_exchange_binance_klines(ex, bsym, o->interval, runs[k].lo, runs[k].hi, &got,
                                           err, sizeof err);
            if (st == QT_EX_OK) {
                for (size_t i = 0; i < got.n; i++) {
                    const qt_kline_t *x = &got.rows[i];
                    qt_bar_t b = {.t_ms = x->open_ms, .open = x->open, .high = x->high,
                                  .low = x->low, .close = x->close, .volume = x->volume};
                    if (b.t_ms < runs[k].lo || b.t_ms > runs[k].hi || b.t_ms % o->iv_ms != 0 ||
                        !row_valid(&b) || find_fetched(f, b.t_ms))
                        continue;
                    if (push(f, &b, QT__V1__BAR_FLAG__BAR_FLAG_BACKFILLED) != 0) break;
                    r->backfilled++;
                    qsort(f->r, f->n, sizeof *f->r, cmp_frow);
                }
            }
            qt_klines_free(&got);
        }
        /* what is still missing in this run, as sub-runs */
        int64_t start = -1;
        for (int64_t t = runs[k].lo; t <= runs[k].hi + o->iv_ms; t += o->iv_ms) {
            bool have = t <= runs[k].hi && find_fetched(f, t) != NULL;
            bool missing = t <= runs[k].hi && !have;
            if (missing && start < 0) start = t;
            if (!missing && start >= 0) {
                int64_t end = t - o->iv_ms;
                r->gaps++;
                r->missing += (uint64_t)((end - start) / o->iv_ms + 1);
                if (r->ngap_list < MAX_GAPS_LISTED) {
                    r->gap_list[r->ngap_list][0] = start;
                    r->gap_list[r->ngap_list][1] = end;
                    r->ngap_list++;
                }
                /* the first newly fetched bar after the gap carries the mark */
                int64_t nt = end + o->iv_ms;
                for (size_t i = 0; i < f->n; i++)
                    if (f->r[i].bar.t_ms >= nt) {
                        if (!find_stored(s, ns, f->r[i].bar.t_ms))
                            f->r[i].flags |= QT__V1__BAR_FLAG__BAR_FLAG_GAP_BEFORE;
                        break;
                    }
                start = -1;
            }
        }
    }
    free(runs);
}

/* Step 4: compare with the store, append the new bars. */
static int store_symbol(const opts_t *o, qt_store_t *store, const char *symbol, frows_t *f,
                        const qt_store_row_t *s, size_t ns, report_t *r) {
    Qt__V1__Bar *bars = calloc(f->n ? f->n : 1, sizeof *bars);
    if (!bars) {
        fail(r, "out of memory");
        return -1;
    }
    size_t nb = 0;
    for (size_t i = 0; i < f->n; i++) {
        const qt_store_row_t *old = find_stored(s, ns, f->r[i].bar.t_ms);
        if (old) {
            if (!same_ohlcv(&old->bar, &f->r[i].bar)) {
                fail(r, "candle at %" PRId64 " differs from the stored one; not overwritten",
                     f->r[i].bar.t_ms);
                free(bars);
                return -1;
            }
            r->unchanged++;
            continue;
        }
        Qt__V1__Bar *b = &bars[nb++];
        qt__v1__bar__init(b);
        b->symbol = (char *)symbol;
        b->venue = (char *)o->venue;
        b->interval = (char *)o->interval;
        b->open_time_ms = f->r[i].bar.t_ms;
        b->open = f->r[i].bar.open;
        b->high = f->r[i].bar.high;
        b->low = f->r[i].bar.low;
        b->close = f->r[i].bar.close;
        b->volume = f->r[i].bar.volume;
        b->flags = f->r[i].flags;
    }
    int rc = 0;
    if (nb > 0) {
        qt_store_stats_t st;
        char err[256];
        if (qt_store_append(store, o->venue, symbol, o->interval, bars, nb, &st, err,
                            sizeof err) != 0) {
            fail(r, "store: %s", err);
            rc = -1;
        } else {
            r->appended = st.appended;
            if (st.conflicts || st.invalid) {
                fail(r, "store refused %zu conflicting and %zu invalid bars", st.conflicts,
                     st.invalid);
                rc = -1;
            }
        }
    }
    free(bars);
    return rc;
}

static void fetch_symbol(const opts_t *o, qt_exchange_t *ex, qt_store_t *store,
                         const char *symbol, report_t *r) {
    r->symbol = symbol;
    r->ok = true;
    char err[512];
    frows_t f = {0};
    qt_store_row_t *stored = NULL;
    size_t nstored = 0;
    char bsym[40] = "";
    if (o->source == SRC_BINANCE) {
        qt_klines_t k;
        qt_klines_init(&k);
        qt_klines_pair_to_symbol(symbol, bsym, sizeof bsym);
        qt_ex_status_t st = qt_exchange_binance_klines(ex, bsym, o->interval, o->from_ms,
                                                       o->to_ms - 1, &k, err, sizeof err);
        if (st != QT_EX_OK) {
            fail(r, "%s: %s", qt_ex_status_str(st), err);
            qt_klines_free(&k);
            return;
        }
        r->received = k.n;
        klines_to_rows(&k, &f, 0);
        qt_klines_free(&k);
    } else {
        char path[1024];
        qt_bars_t b;
        int rc = -1;
        for (int gz = 0; gz < 2 && rc != 0; gz++) {
            snprintf(path, sizeof path, "%s/%s-%s.json%s", o->data_dir, symbol, o->interval,
                     gz ? ".gz" : "");
            FILE *fp = fopen(path, "rb");
            if (!fp) continue;
            fclose(fp);
            qt_bars_init(&b);
            rc = qt_bars_load_file(&b, path, err, sizeof err);
            if (rc != 0) {
                qt_bars_free(&b);
                fail(r, "%s: %s", path, err);
                return;
            }
        }
        if (rc != 0) {
            fail(r, "no file %s/%s-%s.json[.gz]", o->data_dir, symbol, o->interval);
            return;
        }
        r->received = b.n;
        r->rejected = qt_bars_rejected_total(&b);
        for (size_t i = 0; i < b.n; i++) push(&f, &b.bars[i], 0);
        qt_bars_free(&b);
    }
    if (f.n != r->received) {
        fail(r, "out of memory");
        goto done;
    }
    if (validate(o, &f, r) != 0) goto done;
    if (qt_store_read(store, o->venue, symbol, o->interval, &stored, &nstored, err,
                      sizeof err) != 0) {
        fail(r, "store: %s", err);
        goto done;
    }
    backfill_and_flag(o, o->source == SRC_BINANCE ? ex : NULL, bsym, &f, stored, nstored, r);
    store_symbol(o, store, symbol, &f, stored, nstored, r);
done:
    free(f.r);
    free(stored);
}

static void crosscheck_symbol(const opts_t *o, qt_exchange_t *ex, qt_store_t *store,
                              const char *symbol, report_t *r) {
    r->symbol = symbol;
    r->ok = true;
    r->max_diff_ms = -1;
    char base[16] = "", err[512];
    const char *us = strchr(symbol, '_');
    size_t bl = us ? (size_t)(us - symbol) : 0;
    if (bl == 0 || bl >= sizeof base) {
        fail(r, "not a BASE_QUOTE pair");
        return;
    }
    memcpy(base, symbol, bl);
    const char *id = qt_coingecko_id(base);
    if (!id) {
        fail(r, "no CoinGecko id known for %s", base);
        return;
    }
    qt_store_row_t *stored = NULL;
    size_t ns = 0;
    if (qt_store_read(store, o->venue, symbol, o->interval, &stored, &ns, err, sizeof err) != 0) {
        fail(r, "store: %s", err);
        return;
    }
    if (ns == 0) {
        fail(r, "no stored %s/%s/%s closes to cross-check (fetch --source binance first)",
             o->venue, symbol, o->interval);
        free(stored);
        return;
    }
    qt_market_chart_t m;
    qt_market_chart_init(&m);
    /* the bars of [from, to) close at [from + interval, to] */
    qt_ex_status_t st = qt_exchange_coingecko_range(ex, id, o->from_ms + o->iv_ms, o->to_ms, &m,
                                                    err, sizeof err);
    if (st != QT_EX_OK) {
        fail(r, "%s: %s", qt_ex_status_str(st), err);
    } else {
        r->points = m.nprices;
        for (size_t i = 0; i < m.nprices; i++) {
            const qt_store_row_t *b = find_stored(stored, ns, m.prices[i].t_ms - o->iv_ms);
            if (!b) continue;
            double c = qt_fixed_to_double(b->bar.close);
            double d = c > 0 ? (m.prices[i].value - c) / c : 0.0;
            if (d < 0) d = -d;
            r->matched++;
            if (d > r->max_rel_diff || r->max_diff_ms < 0) {
                r->max_rel_diff = d;
                r->max_diff_ms = m.prices[i].t_ms;
            }
        }
    }
    qt_market_chart_free(&m);
    free(stored);
}

static json_t *report_json(const opts_t *o, const report_t *r) {
    json_t *j = json_object();
    json_object_set_new(j, "symbol", json_string(r->symbol));
    json_object_set_new(j, "ok", json_boolean(r->ok));
    if (!r->ok) json_object_set_new(j, "error", json_string(r->error));
    if (o->source == SRC_COINGECKO) {
        json_object_set_new(j, "points", json_integer((json_int_t)r->points));
        json_object_set_new(j, "matched", json_integer((json_int_t)r->matched));
        json_object_set_new(j, "max_rel_diff", json_real(r->max_rel_diff));
        json_object_set_new(j, "max_diff_ms", json_integer(r->max_diff_ms));
        return j;
    }
    const struct {
        const char *k;
        uint64_t v;
    } c[] = {{"received", r->received},     {"out_of_order", r->out_of_order},
             {"duplicates", r->duplicates}, {"outside", r->outside},
             {"gaps", r->gaps},             {"missing", r->missing},
             {"backfill_requests", r->backfill_requests},
             {"backfilled", r->backfilled}, {"appended", r->appended},
             {"unchanged", r->unchanged},   {"rejected_rows", r->rejected}};
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        json_object_set_new(j, c[i].k, json_integer((json_int_t)c[i].v));
    json_t *g = json_array();
    for (size_t i = 0; i < r->ngap_list; i++)
        json_array_append_new(g, json_pack("[II]", (json_int_t)r->gap_list[i][0],
                                           (json_int_t)r->gap_list[i][1]));
    json_object_set_new(j, "gap_ranges", g);
    return j;
}

static int parse_num(const char *opt, const char *v, uint64_t min, uint64_t max, uint64_t *out) {
    if (qt_cli_parse_u64(v, out) != 0 || *out < min || *out > max) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s: not an integer in [%" PRIu64 ", %" PRIu64 "]: %%s", opt,
                 min, max);
        qt_cli_usage_error(PROG, msg, v);
        return -1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, int i, opts_t *o) {
    memset(o, 0, sizeof *o);
    qt_exchange_config_defaults(&o->ex);
    o->store_dir = "data/curated";
    o->venue = "binance";
    o->data_dir = NULL; /* default: $QT_DATA_DIR/raw/djienne-3EMA_SRSI_ATR-binance/<interval> */
    const char *src = NULL, *syms = NULL, *from = NULL, *to = NULL;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("usage: qt-ingest fetch --source binance|coingecko|file --symbols BASE_QUOTE[,..]\n"
                   "         --interval 4h --from T --to T [--base-url URL] [--store DIR] [--json]\n"
                   "         [--venue NAME] [--data-dir DIR] [--max-attempts N] [--backoff-ms MS]\n"
                   "         [--timeout-ms MS] [--retry-after-max-ms MS] [--weight-cap N]\n"
                   "         [--cg-interval-ms MS] [--seed N]\n"
                   "T: epoch ms, epoch s or ISO 8601 UTC; candles with open time in [from, to).\n"
                   "See docs/data-sources.md.\n");
            return 1;
        }
        if (strcmp(a, "--json") == 0) {
            o->json = true;
            continue;
        }
        if (i + 1 >= argc) return qt_cli_usage_error(PROG, "missing value for %s", a), -1;
        const char *v = argv[++i];
        uint64_t x = 0;
        if (strcmp(a, "--source") == 0) src = v;
        else if (strcmp(a, "--symbols") == 0) syms = v;
        else if (strcmp(a, "--interval") == 0) {
            if (strlen(v) >= sizeof o->interval || qt_klines_interval_ms(v) < 0)
                return qt_cli_usage_error(PROG, "unsupported interval '%s'", v), -1;
            snprintf(o->interval, sizeof o->interval, "%s", v);
            o->iv_ms = qt_klines_interval_ms(v);
        } else if (strcmp(a, "--from") == 0) from = v;
        else if (strcmp(a, "--to") == 0) to = v;
        else if (strcmp(a, "--base-url") == 0) o->base_url = v;
        else if (strcmp(a, "--store") == 0) o->store_dir = v;
        else if (strcmp(a, "--venue") == 0) {
            if (!qt_store_name_valid(v)) return qt_cli_usage_error(PROG, "invalid venue '%s'", v), -1;
            o->venue = v;
        } else if (strcmp(a, "--data-dir") == 0) o->data_dir = v;
        else if (strcmp(a, "--max-attempts") == 0) {
            if (parse_num(a, v, 1, 100, &x) != 0) return -1;
            o->ex.max_attempts = (int)x;
        } else if (strcmp(a, "--backoff-ms") == 0) {
            if (parse_num(a, v, 0, 3600000, &x) != 0) return -1;
            o->ex.backoff_base_ms = (int64_t)x;
            if (o->ex.backoff_max_ms < (int64_t)x) o->ex.backoff_max_ms = (int64_t)x;
        } else if (strcmp(a, "--timeout-ms") == 0) {
            if (parse_num(a, v, 1, 3600000, &x) != 0) return -1;
            o->ex.timeout_ms = (long)x;
            if (o->ex.connect_timeout_ms > (long)x) o->ex.connect_timeout_ms = (long)x;
        } else if (strcmp(a, "--retry-after-max-ms") == 0) {
            if (parse_num(a, v, 0, 86400000, &x) != 0) return -1;
            o->ex.retry_after_max_ms = (int64_t)x;
        } else if (strcmp(a, "--weight-cap") == 0) {
            if (parse_num(a, v, 1, 1000000, &x) != 0) return -1;
            o->ex.weight_cap = (uint32_t)x;
        } else if (strcmp(a, "--cg-interval-ms") == 0) {
            if (parse_num(a, v, 0, 3600000, &x) != 0) return -1;
            o->ex.coingecko_interval_ms = (int64_t)x;
        } else if (strcmp(a, "--seed") == 0) {
            if (parse_num(a, v, 0, UINT64_MAX, &x) != 0) return -1;
            o->ex.seed = x;
        } else return qt_cli_usage_error(PROG, "unknown option %s", a), -1;
    }
    if (!src || !syms || !o->interval[0] || !from || !to)
        return qt_cli_usage_error(PROG, "%s--source, --symbols, --interval, --from and --to are required", ""), -1;
    if (strcmp(src, "binance") == 0) o->source = SRC_BINANCE;
    else if (strcmp(src, "coingecko") == 0) o->source = SRC_COINGECKO;
    else if (strcmp(src, "file") == 0) o->source = SRC_FILE;
    else return qt_cli_usage_error(PROG, "unknown --source '%s' (binance|coingecko|file)", src), -1;
    if (!qt_bars_parse_time(from, strlen(from), &o->from_ms) || o->from_ms < 0)
        return qt_cli_usage_error(PROG, "bad --from time '%s'", from), -1;
    if (!qt_bars_parse_time(to, strlen(to), &o->to_ms) || o->to_ms <= o->from_ms)
        return qt_cli_usage_error(PROG, "bad --to time '%s' (must be after --from)", to), -1;
    if (!o->data_dir) {
        const char *env = getenv("QT_DATA_DIR");
        snprintf(o->data_dir_buf, sizeof o->data_dir_buf, "%s/raw/djienne-3EMA_SRSI_ATR-binance/%s",
                 env && *env ? env : "../shared/data", o->interval);
        o->data_dir = o->data_dir_buf;
    }
    if (o->base_url) {
        if (o->source == SRC_COINGECKO) o->ex.coingecko_url = o->base_url;
        else o->ex.binance_url = o->base_url;
    }
    const char *p = syms;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (o->nsymbols == MAX_SYMBOLS) return qt_cli_usage_error(PROG, "more than 64 symbols%s", ""), -1;
        if (n == 0 || n > QT_STORE_NAME_MAX) return qt_cli_usage_error(PROG, "bad --symbols '%s'", syms), -1;
        char *s = o->symbols[o->nsymbols];
        memcpy(s, p, n);
        s[n] = '\0';
        char tmp[QT_STORE_NAME_MAX + 1];
        if (!qt_store_name_valid(s) ||
            (o->source != SRC_FILE && !qt_klines_pair_to_symbol(s, tmp, sizeof tmp)))
            return qt_cli_usage_error(PROG, "invalid symbol '%s' (want BASE_QUOTE, e.g. BTC_USDT)", s), -1;
        o->nsymbols++;
        if (!comma) break;
        p = comma + 1;
    }
    if (o->nsymbols == 0) return qt_cli_usage_error(PROG, "no symbols in '%s'", syms), -1;
    return 0;
}

int ingest_fetch_run(int argc, char **argv, int i, FILE *out) {
    opts_t o;
    int pa = parse_args(argc, argv, i, &o);
    if (pa == 1) return 0; /* --help */
    if (pa != 0) return QT_CLI_EXIT_USAGE;
    char err[512];
    qt_store_t *store = qt_store_open(o.store_dir, err, sizeof err);
    if (!store) {
        fprintf(stderr, PROG ": store %s: %s\n", o.store_dir, err);
        return 1;
    }
    qt_clock_t *clock = qt_clock_new_wall();
    qt_exchange_t *ex = NULL;
    if (o.source != SRC_FILE) {
        ex = qt_exchange_new(&o.ex, clock, NULL, err, sizeof err);
        if (!ex) {
            fprintf(stderr, PROG ": %s\n", err);
            qt_store_destroy(&store);
            qt_clock_destroy(&clock);
            return QT_CLI_EXIT_USAGE;
        }
    }
    report_t *reps = calloc(o.nsymbols, sizeof *reps);
    int rc = 0;
    uint64_t appended = 0;
    for (size_t k = 0; reps && k < o.nsymbols; k++) {
        if (o.source == SRC_COINGECKO) crosscheck_symbol(&o, ex, store, o.symbols[k], &reps[k]);
        else fetch_symbol(&o, ex, store, o.symbols[k], &reps[k]);
        if (!reps[k].ok) rc = 1;
        appended += reps[k].appended;
    }
    if (!reps) rc = 1;
    if (appended > 0) {
        qt_store_entry_t *ents = NULL;
        size_t ne = 0;
        if (qt_store_catalog(store, &ents, &ne, err, sizeof err) != 0) {
            fprintf(stderr, PROG ": catalog: %s\n", err);
            rc = 1;
        }
        free(ents);
    }
    const char *srcname = o.source == SRC_BINANCE ? "binance" : o.source == SRC_COINGECKO ? "coingecko" : "file";
    if (reps && o.json) {
        json_t *root = json_object();
        json_object_set_new(root, "source", json_string(srcname));
        json_object_set_new(root, "interval", json_string(o.interval));
        json_object_set_new(root, "from_ms", json_integer(o.from_ms));
        json_object_set_new(root, "to_ms", json_integer(o.to_ms));
        json_t *arr = json_array();
        for (size_t k = 0; k < o.nsymbols; k++) json_array_append_new(arr, report_json(&o, &reps[k]));
        json_object_set_new(root, "symbols", arr);
        if (ex) {
            const qt_exchange_stats_t *s = qt_exchange_stats(ex);
            json_object_set_new(
                root, "requests",
                json_pack("{sIsIsIsIsIsIsIsIsIsIsI}", "total", (json_int_t)s->requests, "pages",
                          (json_int_t)s->pages, "retries", (json_int_t)s->retries, "ok",
                          (json_int_t)s->ok, "malformed", (json_int_t)s->malformed, "network",
                          (json_int_t)s->network, "http_5xx", (json_int_t)s->http_5xx,
                          "rate_limited", (json_int_t)s->rate_limited, "banned",
                          (json_int_t)s->banned, "weight_pauses", (json_int_t)s->weight_pauses,
                          "slept_ms", (json_int_t)s->slept_ms));
        }
        json_object_set_new(root, "exit", json_integer(rc));
        char *txt = json_dumps(root, JSON_COMPACT);
        if (txt) fprintf(out, "%s\n", txt);
        free(txt);
        json_decref(root);
    } else if (reps) {
        for (size_t k = 0; k < o.nsymbols; k++) {
            const report_t *r = &reps[k];
            if (!r->ok) fprintf(out, "%s: FAILED: %s\n", r->symbol, r->error);
            else if (o.source == SRC_COINGECKO)
                fprintf(out, "%s: %" PRIu64 " points, %" PRIu64 " matched, max rel diff %.3g\n",
                        r->symbol, r->points, r->matched, r->max_rel_diff);
            else
                fprintf(out,
                        "%s: %" PRIu64 " received, %" PRIu64 " appended, %" PRIu64
                        " unchanged, %" PRIu64 " duplicates, %" PRIu64 " out of order, %" PRIu64
                        " backfilled, %" PRIu64 " gaps (%" PRIu64 " candles missing)\n",
                        r->symbol, r->received, r->appended, r->unchanged, r->duplicates,
                        r->out_of_order, r->backfilled, r->gaps, r->missing);
        }
    }
    for (size_t k = 0; reps && k < o.nsymbols; k++)
        if (!reps[k].ok) fprintf(stderr, PROG ": %s: %s\n", reps[k].symbol, reps[k].error);
    free(reps);
    qt_exchange_destroy(&ex);
    qt_store_destroy(&store);
    qt_clock_destroy(&clock);
    return rc;
}

int ingest_fetch_main(int argc, char **argv, int i) { return ingest_fetch_run(argc, argv, i, stdout); }
