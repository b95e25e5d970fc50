/* qt-bench ingest: parse + validate throughput of the recorded-bar formats, on one core.
 *
 *   qt-bench ingest [--min-seconds S]
 *
 * Input: the real BTC_USDT 1h series (45,024 candles, $QT_DATA_DIR/raw/djienne-3EMA_SRSI_ATR-
 * binance/1h/BTC_USDT-1h.json.gz), held in memory in three encodings:
 *   freqtrade_json  the file's own text (numbers);
 *   binance_json    the same candles rendered as 12-field /api/v3/klines rows (prices as
 *                   strings, "%.8f"-style exact fixed-point text), parsed by qt_klines;
 *   csv             the same candles as "date,open,high,low,close,volume" with ISO dates;
 *   csv_gold        the semicolon XAU/USD file (MetaTrader dates), as shipped.
 * Each measurement = parse every row (qt_rows_*) + the row checks (qt_bars_from_rows),
 * repeated until at least --min-seconds (default 1) have passed; bars/s = rows * reps /
 * elapsed (qt_clock_mono_ns). "audit" = qt_audit_run over the parsed rows (1h grid).
 * Baseline in the same run: strtod over every number token of the same bytes (no
 * structure, no validation), which bounds what a text parser can do.
 * Prints ONE JSON object. Exit 0 ok, 1 data missing, 2 usage. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "bench_quant.h"
#include "qt_audit.h"
#include "qt_bars.h"
#include "qt_cli.h"
#include "qt_clock.h"
#include "qt_money.h"

typedef int (*rows_fn_t)(qt_rows_t *, const char *, size_t, char *, size_t);

typedef struct {
    char *s;
    size_t len, cap;
} buf_t;

static int put(buf_t *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t nc = (b->len + n + 1) * 2;
        char *ns = realloc(b->s, nc);
        if (!ns) return -1;
        b->s = ns;
        b->cap = nc;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
    return 0;
}

static int read_gz(const char *path, buf_t *out) {
    gzFile gz = gzopen(path, "rb");
    if (!gz) return -1;
    char tmp[65536];
    int got;
    while ((got = gzread(gz, tmp, sizeof tmp)) > 0)
        if (put(out, tmp, (size_t)got) != 0) break;
    gzclose(gz);
    return got == 0 ? 0 : -1;
}

static void iso(int64_t ms, char *buf, size_t len) {
    int64_t days = ms / 86400000LL, rem = ms % 86400000LL;
    int64_t z = days + 719468, era = z / 146097, doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    snprintf(buf, len, "%04lld-%02lld-%02lld %02lld:%02lld:00", (long long)y, (long long)m,
             (long long)d, (long long)(rem / 3600000), (long long)(rem % 3600000 / 60000));
}

/* Renders bars as a Binance klines body and as CSV. */
static int render(const qt_bars_t *b, buf_t *bin, buf_t *csv) {
    char line[512], f[6][40], date[96];
    if (put(bin, "[", 1) || put(csv, "date,open,high,low,close,volume\n", 32)) return -1;
    for (size_t i = 0; i < b->n; i++) {
        const qt_bar_t *x = &b->bars[i];
        qt_fixed_t v[5] = {x->open, x->high, x->low, x->close, x->volume};
        for (int k = 0; k < 5; k++) qt_fixed_format(v[k], f[k], sizeof f[k]);
        int n = snprintf(line, sizeof line,
                         "%s[%lld,\"%s\",\"%s\",\"%s\",\"%s\",\"%s\",%lld,\"0.0\",0,\"0.0\",\"0.0\",\"0\"]",
                         i ? "," : "", (long long)x->t_ms, f[0], f[1], f[2], f[3], f[4],
                         (long long)(x->t_ms + 3599999));
        if (put(bin, line, (size_t)n)) return -1;
        iso(x->t_ms, date, sizeof date);
        n = snprintf(line, sizeof line, "%s,%s,%s,%s,%s,%s\n", date, f[0], f[1], f[2], f[3], f[4]);
        if (put(csv, line, (size_t)n)) return -1;
    }
    return put(bin, "]", 1);
}

typedef struct {
    double bars_per_s, mb_per_s, seconds;
    size_t rows, reps;
} meas_t;

static int measure(qt_clock_t *clk, rows_fn_t fn, const buf_t *in, double min_s, meas_t *m) {
    memset(m, 0, sizeof *m);
    int64_t t0 = qt_clock_mono_ns(clk), t1 = t0;
    char err[256];
    do {
        qt_rows_t r;
        qt_rows_init(&r);
        qt_bars_t b;
        qt_bars_init(&b);
        if (fn(&r, in->s, in->len, err, sizeof err) != 0 || qt_bars_from_rows(&b, &r) != 0) {
            fprintf(stderr, "qt-bench ingest: parse failed: %s\n", err);
            qt_rows_free(&r);
            qt_bars_free(&b);
            return -1;
        }
        m->rows = r.n;
        qt_rows_free(&r);
        qt_bars_free(&b);
        m->reps++;
        t1 = qt_clock_mono_ns(clk);
    } while ((double)(t1 - t0) / 1e9 < min_s);
    m->seconds = (double)(t1 - t0) / 1e9;
    m->bars_per_s = (double)m->rows * (double)m->reps / m->seconds;
    m->mb_per_s = (double)in->len * (double)m->reps / m->seconds / 1e6;
    return 0;
}

/* Baseline: strtod on every token that starts like a number (the same bytes, no structure).
 * Returns tokens/s; *sink keeps the compiler from dropping the work. */
static double baseline(qt_clock_t *clk, const buf_t *in, double min_s, size_t rows, double *sink) {
    int64_t t0 = qt_clock_mono_ns(clk), t1 = t0;
    size_t reps = 0;
    do {
        const char *p = in->s, *end = in->s + in->len;
        while (p < end) {
            if (isdigit((unsigned char)*p) || *p == '-') {
                char *e = NULL;
                double v = strtod(p, &e);
                *sink += v;
                p = e > p ? e : p + 1;
            } else {
                p++;
            }
        }
        reps++;
        t1 = qt_clock_mono_ns(clk);
    } while ((double)(t1 - t0) / 1e9 < min_s);
    return (double)rows * (double)reps / ((double)(t1 - t0) / 1e9);
}

static void print_meas(const char *name, const meas_t *m, double base, bool last) {
    printf("\"%s\":{\"rows\":%zu,\"reps\":%zu,\"bars_per_s\":%.0f,\"mb_per_s\":%.1f,"
           "\"baseline_strtod_rows_per_s\":%.0f}%s",
           name, m->rows, m->reps, m->bars_per_s, m->mb_per_s, base, last ? "" : ",");
}

int bench_ingest(int argc, char **argv, int i) {
    double min_s = 1.0;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--min-seconds") == 0 && i + 1 < argc) {
            if (qt_cli_parse_seconds(argv[++i], 30.0, &min_s) != 0)
                return qt_cli_usage_error("qt-bench ingest", "--min-seconds: expected (0, 30], got '%s'", argv[i]);
        } else {
            return qt_cli_usage_error("qt-bench ingest", "unknown argument '%s'", argv[i]);
        }
    }
    const char *dir = getenv("QT_DATA_DIR");
    if (!dir || !*dir) dir = "../shared/data";
    char path[1024], gold[1024];
    snprintf(path, sizeof path, "%s/raw/djienne-3EMA_SRSI_ATR-binance/1h/BTC_USDT-1h.json.gz", dir);
    snprintf(gold, sizeof gold, "%s/raw/scalpguru-xauusd/XAU_1d_data.csv", dir);
    buf_t ft = {0}, bin = {0}, csv = {0}, g = {0};
    qt_bars_t bars;
    qt_bars_init(&bars);
    char err[512];
    if (read_gz(path, &ft) != 0 || read_gz(gold, &g) != 0 ||
        qt_bars_parse_json(&bars, ft.s, ft.len, err, sizeof err) != 0 || render(&bars, &bin, &csv) != 0) {
        fprintf(stderr, "qt-bench ingest: cannot load %s or %s\n", path, gold);
        free(ft.s), free(bin.s), free(csv.s), free(g.s);
        qt_bars_free(&bars);
        return 1;
    }
    qt_clock_t *clk = qt_clock_new_wall();
    meas_t mf, mb, mc, mg;
    double sink = 0;
    int rc = 0;
    if (measure(clk, qt_rows_parse_json, &ft, min_s, &mf) || measure(clk, qt_rows_parse_klines, &bin, min_s, &mb) ||
        measure(clk, qt_rows_parse_csv, &csv, min_s, &mc) || measure(clk, qt_rows_parse_csv, &g, min_s, &mg)) {
        rc = 1;
    } else {
        double bf = baseline(clk, &ft, min_s, mf.rows, &sink);
        double bb = baseline(clk, &bin, min_s, mb.rows, &sink);
        double bc = baseline(clk, &csv, min_s, mc.rows, &sink);
        double bg = baseline(clk, &g, min_s, mg.rows, &sink);
        /* audit throughput over the parsed 1h rows */
        qt_rows_t r;
        qt_rows_init(&r);
        qt_rows_parse_json(&r, ft.s, ft.len, err, sizeof err);
        qt_audit_params_t p = {3600000, QT_AUDIT_DEFAULT_Z, -1, 0};
        int64_t t0 = qt_clock_mono_ns(clk), t1 = t0;
        size_t reps = 0;
        do {
            qt_audit_t a;
            if (qt_audit_run(&r, &p, &a) == 0) sink += (double)a.gaps;
            qt_audit_free(&a);
            reps++;
            t1 = qt_clock_mono_ns(clk);
        } while ((double)(t1 - t0) / 1e9 < min_s);
        double audit_bps = (double)r.n * (double)reps / ((double)(t1 - t0) / 1e9);
        qt_rows_free(&r);
        printf("{\"bench\":\"ingest\",\"source\":\"BTC_USDT 1h (real), XAU 1d (real)\",\"threads\":1,");
        print_meas("freqtrade_json", &mf, bf, false);
        print_meas("binance_json", &mb, bb, false);
        print_meas("csv", &mc, bc, false);
        print_meas("csv_gold_semicolon", &mg, bg, false);
        printf("\"audit_bars_per_s\":%.0f,\"sink\":%s}\n", audit_bps, sink != 0 ? "1" : "0");
    }
    qt_clock_destroy(&clk);
    free(ft.s), free(bin.s), free(csv.s), free(g.s);
    qt_bars_free(&bars);
    return rc;
}
