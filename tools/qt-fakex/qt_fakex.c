/* qt-fakex: a recorded-exchange server for the test suite (libmicrohttpd).
 *
 * Why: tests have no network, and the interesting behaviour of a market-data fetcher is
 * what it does when the exchange misbehaves. qt-fakex serves REAL recorded candles (the
 * freqtrade files under $QT_DATA_DIR/raw/djienne-3EMA_SRSI_ATR-binance) in Binance's and
 * CoinGecko's response formats, and can be told to misbehave in each documented way, so
 * every fault has a test (tests/integration/test_exchange.c) with a deterministic outcome.
 *
 * Usage: qt-fakex [--port N] [--data-dir DIR] [--fault KIND[:COUNT]] [--retry-after S]
 *                 [--delay-ms MS] [--at MS] [--value N]
 * Binds 127.0.0.1:N (N = 0, the default: an ephemeral port), prints "port=<n>" on stdout
 * and serves until SIGTERM/SIGINT.
 *
 * Endpoints (see docs/data-sources.md for the full contract):
 *   GET  /api/v3/klines?symbol=BTCUSDT&interval=4h[&startTime=ms][&endTime=ms][&limit=n]
 *        Binance semantics: open times in [startTime, endTime], the first `limit` (default
 *        500, max 1000) from startTime; with only endTime, the last `limit` up to it; with
 *        neither, the last `limit`. Symbol BASEQUOTE maps to the file BASE_QUOTE-<iv>.json.
 *        Fields 7..12: close time = open + interval - 1; quote volume = volume * close
 *        (approximation: the recording has no quote volume); trades and taker volumes 0.
 *        Header X-MBX-USED-WEIGHT-1m = 2 * klines requests in the current wall minute.
 *   GET  /api/v3/coins/{id}/market_chart/range?vs_currency=usd&from=s&to=s
 *        CoinGecko form: "prices" = [close time (open + 4h), close] and "total_volumes" =
 *        [close time, volume * close] for every 4h candle of the id's BASE_USDT file whose
 *        close time is in [from, to] (seconds). No market_caps (not in the recording).
 *   POST /_fault?kind=K[&count=N][&retry_after=S][&delay_ms=MS][&at=MS][&value=N]
 *        sets THE active fault (kind=none clears); it affects the next N data requests
 *        (count=0: all of them). GET /_stats: request and fault counters as JSON.
 * Fault kinds: 500, 429 (Retry-After S, default 1), 418 (Retry-After S), truncate (body cut
 * in half), numbers (prices as JSON numbers; CoinGecko values as strings), slow (answer
 * after delay_ms, default 3000), duplicate (row 2 sent twice), outoforder (rows 2 and 3
 * swapped), missing (the candle opening at `at` dropped, else row 3), weight (the weight
 * header says `value`). Bad parameters: 400 with a Binance-style {"code":-1100,"msg":..}. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qt_bars.h"
#include "qt_clock.h"
#include "qt_cli.h"
#include "qt_klines.h"

#define PROG "qt-fakex"
#define MAX_SETS 64

typedef enum {
    F_NONE = 0, F_500, F_429, F_418, F_TRUNCATE, F_NUMBERS, F_SLOW, F_DUPLICATE,
    F_OUTOFORDER, F_MISSING, F_WEIGHT, F__COUNT
} fault_kind_t;

static const char *const fault_names[F__COUNT] = {
    "none", "500", "429", "418", "truncate", "numbers", "slow", "duplicate",
    "outoforder", "missing", "weight"};

typedef struct {
    fault_kind_t kind;
    uint64_t count;         /* requests left to affect; 0 = unlimited */
    uint64_t retry_after_s, delay_ms, value;
    int64_t at_ms;          /* -1: none */
} fault_t;

typedef struct {
    char file[64];          /* BASE_QUOTE-iv */
    qt_bars_t bars;
} dataset_t;

typedef struct {
    char data_dir[512];
    qt_clock_t *clock;
    pthread_mutex_t mu;
    fault_t fault;
    uint64_t requests, klines, charts, faults_served, bad_requests;
    int64_t weight_minute;
    uint64_t weight_used;
    dataset_t sets[MAX_SETS];
    size_t nsets;
} server_t;

/* ---- growable text buffer ---- */
typedef struct {
    char *p;
    size_t n, cap;
    bool oom;
} sb_t;

static void sb_printf(sb_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sb_t *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->oom = true;
            return;
        }
        if (b->p && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->n + (size_t)k + 1) cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
}

/* Exactly 8 decimals, as Binance writes prices ("0.01634790"). */
static void fmt8(char *out, size_t len, qt_fixed_t v) {
    uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    snprintf(out, len, "%s%" PRIu64 ".%08" PRIu64, v < 0 ? "-" : "", a / 100000000u,
             a % 100000000u);
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code, char *body,
                             size_t len, const fault_t *f, int64_t weight) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json;charset=UTF-8");
    if (f && (f->kind == F_429 || f->kind == F_418)) {
        char ra[24];
        snprintf(ra, sizeof ra, "%" PRIu64, f->retry_after_s);
        MHD_add_response_header(r, "Retry-After", ra);
    }
    if (weight >= 0) {
        char w[24];
        snprintf(w, sizeof w, "%" PRId64, weight);
        MHD_add_response_header(r, "X-MBX-USED-WEIGHT-1m", w);
    }
    enum MHD_Result ret = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_str(struct MHD_Connection *conn, unsigned code, const char *s) {
    char *b = strdup(s);
    if (!b) return MHD_NO;
    return reply(conn, code, b, strlen(b), NULL, -1);
}

static enum MHD_Result bad_request(server_t *s, struct MHD_Connection *conn, int code,
                                   const char *msg) {
    pthread_mutex_lock(&s->mu);
    s->bad_requests++;
    pthread_mutex_unlock(&s->mu);
    char buf[256];
    snprintf(buf, sizeof buf, "{\"code\":%d,\"msg\":\"%s\"}", code, msg);
    return reply_str(conn, MHD_HTTP_BAD_REQUEST, buf);
}

/* Optional strict u64 query parameter: 1 absent, 0 ok, -1 invalid. */
static int arg_u64(struct MHD_Connection *conn, const char *key, uint64_t *out) {
    const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, key);
    if (!v) return 1;
    if (strlen(v) > 19 || qt_cli_parse_u64(v, out) != 0) return -1;
    return 0;
}

/* Finds (loading on first use) the recorded series of a file stem, under the lock. */
static const qt_bars_t *dataset(server_t *s, const char *stem, const char *interval) {
    for (size_t i = 0; i < s->nsets; i++)
        if (strcmp(s->sets[i].file, stem) == 0) return &s->sets[i].bars;
    if (s->nsets == MAX_SETS) return NULL;
    static const char *const forms[] = {"%s/%s/%s.json", "%s/%s/%s.json.gz"};
    for (size_t f = 0; f < 2; f++) {
        char path[1024];
        snprintf(path, sizeof path, forms[f], s->data_dir, interval, stem);
        FILE *fp = fopen(path, "rb");
        if (!fp) continue;
        fclose(fp);
        dataset_t *d = &s->sets[s->nsets];
        qt_bars_init(&d->bars);
        char err[256];
        if (qt_bars_load_file(&d->bars, path, err, sizeof err) != 0) {
            fprintf(stderr, PROG ": %s: %s\n", path, err);
            qt_bars_free(&d->bars);
            return NULL;
        }
        snprintf(d->file, sizeof d->file, "%s", stem);
        s->nsets++;
        return &d->bars;
    }
    return NULL;
}

/* Takes one unit of the active fault for a data request (under the lock). */
static fault_t take_fault(server_t *s) {
    fault_t f = s->fault;
    if (f.kind != F_NONE) {
        s->faults_served++;
        if (s->fault.count > 0 && --s->fault.count == 0) s->fault.kind = F_NONE;
    }
    return f;
}

/* Row order after the duplicate / out-of-order / missing faults: indices into [lo, hi). */
static size_t fault_order(const fault_t *f, const qt_bars_t *b, size_t lo, size_t hi,
                          size_t *idx) {
    size_t n = 0;
    for (size_t i = lo; i < hi; i++) {
        size_t k = i - lo;
        if (f->kind == F_MISSING &&
            (f->at_ms >= 0 ? b->bars[i].t_ms == f->at_ms : k == 2))
            continue;
        idx[n++] = i;
        if (f->kind == F_DUPLICATE && k == 1) idx[n++] = i;
    }
    if (f->kind == F_OUTOFORDER && n >= 3) {
        size_t t = idx[1];
        idx[1] = idx[2];
        idx[2] = t;
    }
    return n;
}

static void truncate_body(const fault_t *f, sb_t *b) {
    if (f->kind == F_TRUNCATE && b->n > 1) {
        b->n /= 2;
        b->p[b->n] = '\0';
    }
}

static enum MHD_Result fault_status(struct MHD_Connection *conn, const fault_t *f,
                                    int64_t weight) {
    const char *body = f->kind == F_500
        ? "{\"code\":-1000,\"msg\":\"An unknown error occurred while processing the request.\"}"
        : f->kind == F_429
        ? "{\"code\":-1003,\"msg\":\"Too many requests; please use the websocket for live updates.\"}"
        : "{\"code\":-1003,\"msg\":\"Way too many requests; IP banned.\"}";
    char *b = strdup(body);
    if (!b) return MHD_NO;
    unsigned code = f->kind == F_500 ? 500 : f->kind == F_429 ? 429 : 418;
    return reply(conn, code, b, strlen(b), f, weight);
}

static enum MHD_Result handle_klines(server_t *s, struct MHD_Connection *conn) {
    const char *symbol = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "symbol");
    const char *interval = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "interval");
    if (!symbol) return bad_request(s, conn, -1102, "Mandatory parameter 'symbol' was not sent.");
    if (!interval)
        return bad_request(s, conn, -1102, "Mandatory parameter 'interval' was not sent.");
    int64_t iv = qt_klines_interval_ms(interval);
    if (iv < 0) return bad_request(s, conn, -1120, "Invalid interval.");
    size_t sl = strlen(symbol);
    bool sym_ok = sl >= 2 && sl <= 20;
    for (size_t i = 0; sym_ok && i < sl; i++)
        sym_ok = (symbol[i] >= 'A' && symbol[i] <= 'Z') || (symbol[i] >= '0' && symbol[i] <= '9');
    if (!sym_ok) return bad_request(s, conn, -1100, "Illegal characters found in parameter 'symbol'.");
    uint64_t start = 0, end = 0, limit = 500;
    int hs = arg_u64(conn, "startTime", &start), he = arg_u64(conn, "endTime", &end),
        hl = arg_u64(conn, "limit", &limit);
    if (hs < 0 || he < 0 || hl < 0)
        return bad_request(s, conn, -1100, "Illegal characters found in a parameter.");
    if (limit < 1 || limit > 1000)
        return bad_request(s, conn, -1100, "Illegal value for parameter 'limit'.");
    if (hs == 0 && he == 0 && start > end)
        return bad_request(s, conn, -1128, "Combination of optional parameters invalid.");

    pthread_mutex_lock(&s->mu);
    s->klines++;
    int64_t minute = qt_clock_now_ms(s->clock) / 60000;
    if (minute != s->weight_minute) s->weight_minute = minute, s->weight_used = 0;
    s->weight_used += 2;
    int64_t weight = (int64_t)s->weight_used;
    fault_t f = take_fault(s);
    if (f.kind == F_WEIGHT) weight = (int64_t)f.value;
    const qt_bars_t *b = NULL;
    static const char *const quotes[] = {"USDT", "BUSD", "BTC", "ETH", "BNB"};
    for (size_t q = 0; q < 5 && !b; q++) {
        size_t ql = strlen(quotes[q]);
        if (sl <= ql || strcmp(symbol + sl - ql, quotes[q]) != 0) continue;
        char stem[64];
        snprintf(stem, sizeof stem, "%.*s_%s-%s", (int)(sl - ql), symbol, quotes[q], interval);
        b = dataset(s, stem, interval);
    }
    pthread_mutex_unlock(&s->mu);
    if (f.kind == F_SLOW) qt_clock_sleep_ns(s->clock, (int64_t)f.delay_ms * 1000000LL);
    if (f.kind == F_500 || f.kind == F_429 || f.kind == F_418)
        return fault_status(conn, &f, weight);
    if (!b) return bad_request(s, conn, -1121, "Invalid symbol.");
    /* Datasets are append-only once loaded, so reading outside the lock is safe. */
    size_t lo = 0, hi = b->n;
    if (hs == 0)
        while (lo < hi && b->bars[lo].t_ms < (int64_t)start) lo++;
    if (he == 0)
        while (hi > lo && b->bars[hi - 1].t_ms > (int64_t)end) hi--;
    if (hi - lo > limit) {
        if (hs != 0 && he == 0) lo = hi - limit;
        else hi = lo + limit;
    }
    size_t *idx = malloc((hi - lo) * 2 * sizeof *idx + 1);
    if (!idx) return MHD_NO;
    size_t n = fault_order(&f, b, lo, hi, idx);
    sb_t out = {0};
    sb_printf(&out, "[");
    for (size_t j = 0; j < n; j++) {
        const qt_bar_t *r = &b->bars[idx[j]];
        qt_fixed_t qv = 0;
        if (!qt_fixed_mul(r->volume, r->close, &qv)) qv = 0;
        char o[40], h[40], l[40], c[40], v[40], q[40];
        fmt8(o, sizeof o, r->open);
        fmt8(h, sizeof h, r->high);
        fmt8(l, sizeof l, r->low);
        fmt8(c, sizeof c, r->close);
        fmt8(v, sizeof v, r->volume);
        fmt8(q, sizeof q, qv);
        const char *qu = f.kind == F_NUMBERS ? "" : "\"";
        sb_printf(&out,
                  "%s[%" PRId64 ",%s%s%s,%s%s%s,%s%s%s,%s%s%s,%s%s%s,%" PRId64
                  ",\"%s\",0,\"0.00000000\",\"0.00000000\",\"0\"]",
                  j ? "," : "", r->t_ms, qu, o, qu, qu, h, qu, qu, l, qu, qu, c, qu, qu, v, qu,
                  r->t_ms + iv - 1, q);
    }
    sb_printf(&out, "]");
    free(idx);
    if (out.oom) {
        free(out.p);
        return MHD_NO;
    }
    truncate_body(&f, &out);
    return reply(conn, MHD_HTTP_OK, out.p, out.n, &f, weight);
}

static enum MHD_Result handle_chart(server_t *s, struct MHD_Connection *conn, const char *id) {
    const char *vs = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "vs_currency");
    if (!vs || strcmp(vs, "usd") != 0)
        return bad_request(s, conn, -1100, "vs_currency must be usd");
    uint64_t from = 0, to = 0;
    if (arg_u64(conn, "from", &from) != 0 || arg_u64(conn, "to", &to) != 0 || from > to ||
        to > 100000000000ULL)
        return bad_request(s, conn, -1100, "from and to must be unix seconds, from <= to");
    const char *base = qt_coingecko_base(id);
    pthread_mutex_lock(&s->mu);
    s->charts++;
    fault_t f = take_fault(s);
    const qt_bars_t *b = NULL;
    if (base) {
        char stem[64];
        snprintf(stem, sizeof stem, "%s_USDT-4h", base);
        b = dataset(s, stem, "4h");
    }
    pthread_mutex_unlock(&s->mu);
    if (f.kind == F_SLOW) qt_clock_sleep_ns(s->clock, (int64_t)f.delay_ms * 1000000LL);
    if (f.kind == F_500 || f.kind == F_429 || f.kind == F_418) return fault_status(conn, &f, -1);
    if (!b) {
        char *e = strdup("{\"error\":\"coin not found\"}");
        return e ? reply(conn, MHD_HTTP_NOT_FOUND, e, strlen(e), NULL, -1) : MHD_NO;
    }
    const int64_t iv = 14400000LL;
    size_t lo = 0, hi = b->n;
    while (lo < hi && b->bars[lo].t_ms + iv < (int64_t)from * 1000) lo++;
    while (hi > lo && b->bars[hi - 1].t_ms + iv > (int64_t)to * 1000) hi--;
    size_t *idx = malloc((hi - lo) * 2 * sizeof *idx + 1);
    if (!idx) return MHD_NO;
    size_t n = fault_order(&f, b, lo, hi, idx);
    sb_t out = {0};
    const char *qu = f.kind == F_NUMBERS ? "\"" : "";
    for (int pass = 0; pass < 2; pass++) {
        sb_printf(&out, pass == 0 ? "{\"prices\":[" : "],\"total_volumes\":[");
        for (size_t j = 0; j < n; j++) {
            const qt_bar_t *r = &b->bars[idx[j]];
            double c = qt_fixed_to_double(r->close);
            double v = pass == 0 ? c : qt_fixed_to_double(r->volume) * c;
            sb_printf(&out, "%s[%" PRId64 ",%s%.15g%s]", j ? "," : "", r->t_ms + iv, qu, v, qu);
        }
    }
    sb_printf(&out, "]}");
    free(idx);
    if (out.oom) {
        free(out.p);
        return MHD_NO;
    }
    truncate_body(&f, &out);
    return reply(conn, MHD_HTTP_OK, out.p, out.n, &f, -1);
}

static int fault_parse(const char *kind, fault_kind_t *out) {
    for (int k = 0; k < F__COUNT; k++)
        if (strcmp(kind, fault_names[k]) == 0) {
            *out = (fault_kind_t)k;
            return 0;
        }
    return -1;
}

static enum MHD_Result handle_fault(server_t *s, struct MHD_Connection *conn) {
    const char *kind = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "kind");
    fault_t f = {.kind = F_NONE, .count = 1, .retry_after_s = 1, .delay_ms = 3000, .at_ms = -1};
    uint64_t at = 0;
    if (!kind || fault_parse(kind, &f.kind) != 0)
        return bad_request(s, conn, -1100, "unknown fault kind");
    if (arg_u64(conn, "count", &f.count) < 0 || arg_u64(conn, "retry_after", &f.retry_after_s) < 0 ||
        arg_u64(conn, "delay_ms", &f.delay_ms) < 0 || arg_u64(conn, "value", &f.value) < 0 ||
        f.delay_ms > 600000 || f.retry_after_s > 86400)
        return bad_request(s, conn, -1100, "bad fault parameter");
    int ha = arg_u64(conn, "at", &at);
    if (ha < 0 || at > (uint64_t)INT64_MAX) return bad_request(s, conn, -1100, "bad fault parameter");
    if (ha == 0) f.at_ms = (int64_t)at;
    pthread_mutex_lock(&s->mu);
    s->fault = f;
    pthread_mutex_unlock(&s->mu);
    return reply_str(conn, MHD_HTTP_OK, "{\"ok\":true}");
}

static enum MHD_Result handle_stats(server_t *s, struct MHD_Connection *conn) {
    char buf[320];
    pthread_mutex_lock(&s->mu);
    snprintf(buf, sizeof buf,
             "{\"requests\":%" PRIu64 ",\"klines\":%" PRIu64 ",\"market_chart\":%" PRIu64
             ",\"faults_served\":%" PRIu64 ",\"bad_requests\":%" PRIu64
             ",\"fault\":\"%s\",\"fault_left\":%" PRIu64 "}",
             s->requests, s->klines, s->charts, s->faults_served, s->bad_requests,
             fault_names[s->fault.kind], s->fault.count);
    pthread_mutex_unlock(&s->mu);
    return reply_str(conn, MHD_HTTP_OK, buf);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls) {
    (void)version;
    (void)upload;
    server_t *s = cls;
    static int marker;
    if (*con_cls == NULL) { /* first call: headers only */
        *con_cls = &marker;
        return MHD_YES;
    }
    if (*upload_size) { /* ignore any request body */
        *upload_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&s->mu);
    s->requests++;
    pthread_mutex_unlock(&s->mu);
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    if (strcmp(url, "/_fault") == 0 && post) return handle_fault(s, conn);
    if (strcmp(url, "/_stats") == 0 && get) return handle_stats(s, conn);
    if (!get) return bad_request(s, conn, -1100, "method not allowed");
    if (strcmp(url, "/api/v3/klines") == 0) return handle_klines(s, conn);
    static const char pre[] = "/api/v3/coins/", suf[] = "/market_chart/range";
    size_t ul = strlen(url);
    if (ul > sizeof pre + sizeof suf - 2 && strncmp(url, pre, sizeof pre - 1) == 0 &&
        strcmp(url + ul - (sizeof suf - 1), suf) == 0) {
        char id[65];
        size_t il = ul - (sizeof pre - 1) - (sizeof suf - 1);
        if (il >= sizeof id) return bad_request(s, conn, -1100, "coin id too long");
        memcpy(id, url + sizeof pre - 1, il);
        id[il] = '\0';
        return handle_chart(s, conn, id);
    }
    char *e = strdup("{\"code\":-1000,\"msg\":\"not found\"}");
    return e ? reply(conn, MHD_HTTP_NOT_FOUND, e, strlen(e), NULL, -1) : MHD_NO;
}

static int usage(void) {
    fprintf(stderr,
            "usage: " PROG " [--port N] [--data-dir DIR] [--fault KIND[:COUNT]]\n"
            "               [--retry-after S] [--delay-ms MS] [--at MS] [--value N]\n"
            "kinds: 500 429 418 truncate numbers slow duplicate outoforder missing weight\n");
    return 2;
}

int main(int argc, char **argv) {
    static server_t s;
    uint64_t port = 0, count = 1;
    const char *env = getenv("QT_DATA_DIR");
    snprintf(s.data_dir, sizeof s.data_dir, "%s/raw/djienne-3EMA_SRSI_ATR-binance",
             env && *env ? env : "../shared/data");
    fault_t f = {.kind = F_NONE, .count = 1, .retry_after_s = 1, .delay_ms = 3000, .at_ms = -1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return usage(), 0;
        if (i + 1 >= argc) return qt_cli_usage_error(PROG, "missing value for %s", a);
        const char *v = argv[++i];
        uint64_t x = 0;
        if (strcmp(a, "--data-dir") == 0) {
            if (strlen(v) >= sizeof s.data_dir) return qt_cli_usage_error(PROG, "path too long: %s", v);
            snprintf(s.data_dir, sizeof s.data_dir, "%s", v);
        } else if (strcmp(a, "--fault") == 0) {
            char kind[32];
            const char *colon = strchr(v, ':');
            size_t kl = colon ? (size_t)(colon - v) : strlen(v);
            if (kl >= sizeof kind) return qt_cli_usage_error(PROG, "bad --fault %s", v);
            memcpy(kind, v, kl);
            kind[kl] = '\0';
            if (fault_parse(kind, &f.kind) != 0 ||
                (colon && qt_cli_parse_u64(colon + 1, &count) != 0))
                return qt_cli_usage_error(PROG, "bad --fault %s", v);
            f.count = count;
        } else if (qt_cli_parse_u64(v, &x) != 0) {
            return qt_cli_usage_error(PROG, "not a non-negative integer: %s", v);
        } else if (strcmp(a, "--port") == 0) {
            if (x > 65535) return qt_cli_usage_error(PROG, "port out of range: %s", v);
            port = x;
        } else if (strcmp(a, "--retry-after") == 0) {
            f.retry_after_s = x;
        } else if (strcmp(a, "--delay-ms") == 0) {
            f.delay_ms = x;
        } else if (strcmp(a, "--at") == 0) {
            if (x > (uint64_t)INT64_MAX) return qt_cli_usage_error(PROG, "bad --at %s", v);
            f.at_ms = (int64_t)x;
        } else if (strcmp(a, "--value") == 0) {
            f.value = x;
        } else {
            return qt_cli_usage_error(PROG, "unknown option %s", a);
        }
    }
    s.fault = f;
    s.clock = qt_clock_new_wall();
    pthread_mutex_init(&s.mu, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* MHD threads inherit the mask */
    signal(SIGPIPE, SIG_IGN);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)port, NULL,
        NULL, handler, &s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
        MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, PROG ": cannot listen on 127.0.0.1:%" PRIu64 "\n", port);
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("port=%u\n", info ? (unsigned)info->port : (unsigned)port);
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    for (size_t i = 0; i < s.nsets; i++) qt_bars_free(&s.sets[i].bars);
    qt_clock_destroy(&s.clock);
    pthread_mutex_destroy(&s.mu);
    return 0;
}
