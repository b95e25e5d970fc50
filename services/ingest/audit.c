/* ingest audit: `qt-ingest audit`; see audit.h.
 * Usage: qt-ingest audit [--format auto|freqtrade|binance|json|csv] [--interval I] [--json]
 *          [--z Z] [--ranges] [--strict] [--policy PROBLEM=ACTION]... [--quarantine FILE]
 *          FILE...
 *   --format:   auto (by name: .json/.json.gz freqtrade, else CSV), freqtrade|json,
 *               binance (recorded /api/v3/klines body, strict, via qt_klines), csv.
 *   --interval: the candle grid (1m, 5m, 1h, 4h, 1d, ...). Default: from a file name of the
 *               form <SYMBOL>-<interval>.json[.gz] / .csv; otherwise no grid checks.
 *   --z:        robust z-score threshold for outliers (default QT_AUDIT_DEFAULT_Z).
 *   --ranges:   also list every gap range in the table output.
 *   --quarantine FILE: write, as JSON lines, every row the cleaning policy would quarantine
 *               ({"file","row","open_time_ms","reasons":[...]}); --policy changes the
 *               default policy (qt_policy_default) one problem at a time. */
#include "ingest/audit.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ingest/ingest.h"
#include "qt_audit.h"
#include "qt_bars.h"
#include "qt_cli.h"

#define PROG "qt-ingest audit"

void ingest_fmt_time(long long ms, char *buf, unsigned len) {
    long long days = ms >= 0 ? ms / 86400000LL : -((-ms + 86399999LL) / 86400000LL);
    long long rem = ms - days * 86400000LL;
    /* civil from days (H. Hinnant) */
    long long z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long long mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
    long long m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    snprintf(buf, len, "%04lld-%02lld-%02lld %02lld:%02lld", y, m, d, rem / 3600000LL,
             rem % 3600000LL / 60000LL);
}

/* Interval from "<SYMBOL>-<iv>.<ext>": the text between the last '-' and the first '.'
 * after it. */
static int64_t interval_from_name(const char *path, char *iv, size_t ivlen) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dash = strrchr(base, '-');
    if (!dash) return -1;
    const char *dot = strchr(dash, '.');
    size_t n = dot ? (size_t)(dot - dash - 1) : strlen(dash + 1);
    if (n == 0 || n >= ivlen) return -1;
    memcpy(iv, dash + 1, n);
    iv[n] = '\0';
    return ingest_interval_ms(iv);
}

static json_t *counts_json(const qt_audit_t *a, bool total) {
    json_t *o = json_object();
    json_object_set_new(o, "rows", json_integer((json_int_t)a->rows));
    json_object_set_new(o, "gaps", json_integer((json_int_t)a->gaps));
    if (total) {
        json_object_set_new(o, "gap_ranges", json_integer((json_int_t)a->n_gap_ranges));
    } else {
        json_t *arr = json_array();
        for (size_t k = 0; k < a->n_gap_ranges; k++)
            json_array_append_new(arr, json_pack("[I,I]", (json_int_t)a->gap_ranges[k].first_ms,
                                                 (json_int_t)a->gap_ranges[k].last_ms));
        json_object_set_new(o, "gap_ranges", arr);
    }
    json_object_set_new(o, "duplicates", json_integer((json_int_t)a->duplicates));
    json_object_set_new(o, "out_of_order", json_integer((json_int_t)a->out_of_order));
    json_object_set_new(o, "ohlc_violations", json_integer((json_int_t)a->ohlc_violations));
    json_object_set_new(o, "non_finite", json_integer((json_int_t)a->non_finite));
    json_object_set_new(o, "non_positive", json_integer((json_int_t)a->non_positive));
    json_object_set_new(o, "negative_volume", json_integer((json_int_t)a->negative_volume));
    json_object_set_new(o, "malformed", json_integer((json_int_t)a->malformed));
    json_object_set_new(o, "off_grid", json_integer((json_int_t)a->off_grid));
    json_object_set_new(o, "outliers", json_integer((json_int_t)a->outliers));
    json_object_set_new(o, "clean", json_integer((json_int_t)a->clean));
    return o;
}

static uint64_t problems(const qt_audit_t *a) {
    return a->gaps + a->duplicates + a->out_of_order + a->ohlc_violations + a->non_finite +
           a->non_positive + a->negative_volume + a->malformed + a->off_grid + a->outliers;
}

static void write_quarantine(FILE *q, const char *file, const qt_rows_t *r,
                             const qt_cleaned_t *c) {
    for (size_t k = 0; k < c->n_quarantine; k++) {
        const qt_row_t *row = &r->rows[c->quarantine[k].row_index];
        json_t *reasons = json_array();
        for (int b = 0; b < QT_AUDIT_PROBLEMS; b++)
            if (c->quarantine[k].reasons & (1u << b))
                json_array_append_new(reasons, json_string(qt_audit_problem_str(1u << b)));
        json_t *o = json_pack("{s:s,s:I,s:o}", "file", file, "row", (json_int_t)row->row,
                              "reasons", reasons);
        if (row->parsed || (row->why != QT_BARS_REJ_TIME && row->why != QT_BARS_REJ_COLUMNS))
            json_object_set_new(o, "open_time_ms", json_integer(row->t_ms));
        char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
        if (s) fprintf(q, "%s\n", s);
        free(s);
        json_decref(o);
    }
}

int ingest_audit_main(int argc, char **argv, int i, FILE *out) {
    qt_bars_fmt_t fmt = QT_BARS_FMT_AUTO;
    char fixed_iv[16] = "";
    int64_t fixed_ms = -1;
    bool as_json = false, ranges = false, strict = false;
    double z = QT_AUDIT_DEFAULT_Z;
    const char *qpath = NULL;
    qt_policy_t pol;
    qt_policy_default(&pol);
    int first_file = -1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fprintf(out, "usage: qt-ingest audit [--format auto|freqtrade|binance|json|csv] "
                         "[--interval I] [--json] [--z Z] [--ranges] [--strict]\n"
                         "                        [--policy PROBLEM=drop|quarantine|flag]... "
                         "[--quarantine FILE] FILE...\n");
            return 0;
        }
        if (strcmp(a, "--json") == 0) as_json = true;
        else if (strcmp(a, "--ranges") == 0) ranges = true;
        else if (strcmp(a, "--strict") == 0) strict = true;
        else if (strcmp(a, "--format") == 0 || strcmp(a, "--interval") == 0 ||
                 strcmp(a, "--z") == 0 || strcmp(a, "--policy") == 0 ||
                 strcmp(a, "--quarantine") == 0) {
            if (i + 1 >= argc) return qt_cli_usage_error(PROG, "%s needs a value", a);
            const char *v = argv[++i];
            if (strcmp(a, "--format") == 0) {
                if (strcmp(v, "auto") == 0) fmt = QT_BARS_FMT_AUTO;
                else if (!strcmp(v, "freqtrade") || !strcmp(v, "json")) fmt = QT_BARS_FMT_JSON;
                else if (strcmp(v, "binance") == 0) fmt = QT_BARS_FMT_BINANCE;
                else if (strcmp(v, "csv") == 0) fmt = QT_BARS_FMT_CSV;
                else return qt_cli_usage_error(PROG, "--format: unknown format '%s'", v);
            } else if (strcmp(a, "--interval") == 0) {
                fixed_ms = ingest_interval_ms(v);
                if (fixed_ms <= 0 || strlen(v) >= sizeof fixed_iv)
                    return qt_cli_usage_error(PROG, "--interval: expected e.g. 1m, 4h, 1d, got '%s'", v);
                snprintf(fixed_iv, sizeof fixed_iv, "%s", v);
            } else if (strcmp(a, "--z") == 0) {
                char *end = NULL;
                z = strtod(v, &end);
                if (!end || *end || !(z > 0 && z <= 1e6))
                    return qt_cli_usage_error(PROG, "--z: expected a number in (0, 1e6], got '%s'", v);
            } else if (strcmp(a, "--policy") == 0) {
                char buf[64];
                snprintf(buf, sizeof buf, "%s", v);
                char *eq = strchr(buf, '=');
                if (!eq) return qt_cli_usage_error(PROG, "--policy: expected PROBLEM=ACTION, got '%s'", v);
                *eq = '\0';
                if (qt_policy_set(&pol, buf, eq + 1) != 0)
                    return qt_cli_usage_error(PROG, "--policy: unknown problem/action or flag not allowed: '%s'", v);
            } else {
                qpath = v;
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            return qt_cli_usage_error(PROG, "unknown option '%s'", a);
        } else {
            first_file = i;
            break;
        }
    }
    if (first_file < 0) return qt_cli_usage_error(PROG, "no FILE given%s", "");
    FILE *q = NULL;
    if (qpath && !(q = fopen(qpath, "w"))) {
        fprintf(stderr, PROG ": cannot write %s\n", qpath);
        return 1;
    }
    json_t *files = json_array();
    qt_audit_t total;
    memset(&total, 0, sizeof total);
    int rc = 0;
    if (!as_json)
        fprintf(out, "%-58s %8s %4s %6s %6s %5s %5s %5s %5s %5s %5s %6s\n", "file", "rows", "iv",
                "gaps", "ranges", "dup", "order", "ohlc", "nonfin", "nonpos", "bad", "outlier");
    for (int k = first_file; k < argc; k++) {
        const char *path = argv[k];
        char iv[16] = "";
        int64_t iv_ms = fixed_ms;
        if (iv_ms > 0) snprintf(iv, sizeof iv, "%s", fixed_iv);
        else iv_ms = interval_from_name(path, iv, sizeof iv);
        if (iv_ms <= 0) iv[0] = '\0';
        qt_rows_t r;
        qt_rows_init(&r);
        char err[1024];
        if (qt_rows_load_file_fmt(&r, path, fmt, err, sizeof err) != 0) {
            fprintf(stderr, PROG ": %s\n", err);
            qt_rows_free(&r);
            rc = 1;
            continue;
        }
        qt_audit_params_t p = {iv_ms > 0 ? iv_ms : 0, z, -1, 0};
        qt_audit_t a;
        if (qt_audit_run(&r, &p, &a) != 0) {
            fprintf(stderr, PROG ": %s: out of memory\n", path);
            qt_rows_free(&r);
            rc = 1;
            continue;
        }
        if (q) {
            qt_cleaned_t c;
            if (qt_audit_clean(&r, &a, &pol, &c) == 0) write_quarantine(q, path, &r, &c);
            qt_cleaned_free(&c);
        }
        qt_audit_add_counts(&total, &a);
        if (strict && problems(&a)) rc = rc ? rc : 3;
        if (as_json) {
            json_t *o = counts_json(&a, false);
            json_object_set_new(o, "file", json_string(path));
            json_object_set_new(o, "interval", iv[0] ? json_string(iv) : json_null());
            json_object_set_new(o, "first_ms", json_integer(a.first_ms));
            json_object_set_new(o, "last_ms", json_integer(a.last_ms));
            json_array_append_new(files, o);
        } else {
            fprintf(out, "%-58s %8zu %4s %6llu %6zu %5llu %5llu %5llu %5llu %5llu %5llu %6llu\n",
                    path, a.rows, iv[0] ? iv : "-", (unsigned long long)a.gaps, a.n_gap_ranges,
                    (unsigned long long)a.duplicates, (unsigned long long)a.out_of_order,
                    (unsigned long long)a.ohlc_violations, (unsigned long long)a.non_finite,
                    (unsigned long long)(a.non_positive + a.negative_volume),
                    (unsigned long long)a.malformed, (unsigned long long)a.outliers);
            for (size_t g = 0; ranges && g < a.n_gap_ranges; g++) {
                char t1[32], t2[32];
                ingest_fmt_time(a.gap_ranges[g].first_ms, t1, sizeof t1);
                ingest_fmt_time(a.gap_ranges[g].last_ms, t2, sizeof t2);
                int64_t nmiss = (a.gap_ranges[g].last_ms - a.gap_ranges[g].first_ms) / iv_ms + 1;
                fprintf(out, "    gap %s .. %s UTC (%lld missing)\n", t1, t2, (long long)nmiss);
            }
        }
        qt_audit_free(&a);
        qt_rows_free(&r);
    }
    if (as_json) {
        json_t *root = json_object();
        json_object_set_new(root, "files", files);
        json_object_set_new(root, "total", counts_json(&total, true));
        char *s = json_dumps(root, JSON_COMPACT);
        if (s) fprintf(out, "%s\n", s);
        free(s);
        json_decref(root);
    } else {
        json_decref(files);
        fprintf(out, "%-58s %8zu %4s %6llu %6zu %5llu %5llu %5llu %5llu %5llu %5llu %6llu\n",
                "TOTAL", total.rows, "", (unsigned long long)total.gaps, total.n_gap_ranges,
                (unsigned long long)total.duplicates, (unsigned long long)total.out_of_order,
                (unsigned long long)total.ohlc_violations, (unsigned long long)total.non_finite,
                (unsigned long long)(total.non_positive + total.negative_volume),
                (unsigned long long)total.malformed, (unsigned long long)total.outliers);
    }
    if (q && fclose(q) != 0) {
        fprintf(stderr, PROG ": error writing %s\n", qpath);
        rc = 1;
    }
    return rc == 3 ? 1 : rc;
}
