/* qt-lab features: compute a feature set (libs/quant/qt_featureset.h) over a bar file
 * and write CSV. Why a CLI: researchers check the exact numbers the live qt-features
 * publishes (same spec parser, same streaming code) without running the pipeline.
 *
 *   qt-lab features --input FILE --spec "sma:20,rsi:14,..." [--out F] [--horizon 1d]
 *
 * Input: any file qt_bars loads (freqtrade .json / .json.gz, CSV); rejected rows are
 * reported on stderr and skipped. Output: CSV, header "timestamp,<names>", one row per
 * bar (timestamp = bar open time, ms UTC); a value not ready yet (warm-up) is an EMPTY
 * cell, otherwise "%.17g" (round-trips to the same double). Never NaN.
 * --horizon N{m,h,d,w}: aggregate the bars into UTC-aligned buckets of that length first
 * (multi-horizon, see qt_featureset.h); one row per completed bucket, timestamp = bucket
 * open time; names get the suffix "_<horizon>" (rsi_14_1d). The bar length is the
 * smallest gap between consecutive bars and must divide the horizon.
 * Exit: 0 ok, 1 unreadable/empty input or write error, 2 usage error (bad spec too). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qt_bars.h"
#include "qt_cli.h"
#include "qt_featureset.h"
#include "qt_lab.h"

#define PROG "qt-lab features"

static void usage(FILE *f) {
    fprintf(f,
            "usage: qt-lab features --input FILE --spec SPEC [--out F] [--horizon N{m,h,d,w}]\n"
            "  SPEC: comma-separated kind[:p...]: sma:n ema:n wma:n rsi:n atr:n roc:n mom:n\n"
            "        zscore:n vwap:n rvol:n rvol_parkinson:n rvol_gk:n macd:f:s:g bbands:n:k\n"
            "        stoch:n:d obv   (e.g. \"sma:20,rsi:14,macd:12:26:9,atr:14,bbands:20:2\")\n"
            "  CSV on stdout (or F): timestamp,<one column per output>; warm-up = empty cell.\n"
            "  --horizon: aggregate into UTC buckets (e.g. 1d) first; one row per bucket.\n"
            "  exit: 0 ok, 1 bad input data or write error, 2 usage error\n");
}

/* "N{m,h,d,w}" -> ms; false when malformed or out of range. */
static bool parse_horizon(const char *s, int64_t *ms, char *label, size_t lablen) {
    size_t len = strlen(s);
    if (len < 2 || len > 8) return false;
    char unit = s[len - 1];
    int64_t mult = unit == 'm' ? 60000 : unit == 'h' ? 3600000 : unit == 'd' ? 86400000
                 : unit == 'w' ? 604800000 : 0;
    char num[16];
    memcpy(num, s, len - 1);
    num[len - 1] = '\0';
    uint64_t v;
    if (!mult || qt_cli_parse_u64(num, &v) != 0 || v == 0 || v > 366u * 86400000u / (uint64_t)mult)
        return false;
    *ms = (int64_t)v * mult;
    snprintf(label, lablen, "_%s", s);
    return true;
}

static void put_row(FILE *out, int64_t t, const qt_featureset_t *fs) {
    fprintf(out, "%" PRId64, t);
    const double *v = qt_featureset_values(fs);
    const bool *r = qt_featureset_ready(fs);
    for (size_t k = 0; k < qt_featureset_n_outputs(fs); k++) {
        if (r[k]) fprintf(out, ",%.17g", v[k]);
        else fputs(",", out);
    }
    fputc('\n', out);
}

int qt_lab_features(int argc, char **argv, int i) {
    const char *input = NULL, *spec = NULL, *outp = NULL, *horizon = NULL;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        const char **dst = strcmp(a, "--input") == 0     ? &input
                           : strcmp(a, "--spec") == 0    ? &spec
                           : strcmp(a, "--out") == 0     ? &outp
                           : strcmp(a, "--horizon") == 0 ? &horizon
                                                         : NULL;
        if (!dst) return qt_cli_usage_error(PROG, "unknown argument '%s'", a);
        if (*dst) return qt_cli_usage_error(PROG, "%s given twice", a);
        if (i + 1 >= argc || argv[i + 1][0] == '\0')
            return qt_cli_usage_error(PROG, "%s needs a value", a);
        *dst = argv[++i];
    }
    if (!input) return qt_cli_usage_error(PROG, "missing --input FILE", NULL);
    if (!spec) return qt_cli_usage_error(PROG, "missing --spec SPEC", NULL);
    int64_t hms = 0;
    char label[16] = "";
    if (horizon && !parse_horizon(horizon, &hms, label, sizeof label))
        return qt_cli_usage_error(PROG, "--horizon '%s': expected N followed by m, h, d or w "
                                        "(at most 366 days)", horizon);
    char err[512];
    /* Validate the spec before reading any data. */
    qt_featureset_t *probe = qt_featureset_new(spec, NULL, 0, 0, err, sizeof err);
    if (!probe) {
        fprintf(stderr, PROG ": --spec: %s\n", err);
        return QT_LAB_EXIT_USAGE;
    }
    qt_featureset_destroy(&probe);

    qt_bars_t bars;
    qt_bars_init(&bars);
    if (qt_bars_load_file(&bars, input, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": %s\n", err);   /* err names the file */
        qt_bars_free(&bars);
        return QT_LAB_EXIT_FAIL;
    }
    if (qt_bars_rejected_total(&bars) > 0)
        fprintf(stderr, PROG ": %s: %" PRIu64 " row(s) rejected and skipped (first: row %zu: %s)\n",
                input, qt_bars_rejected_total(&bars), bars.first_reject_row, bars.first_reject);
    if (bars.n == 0) {
        fprintf(stderr, PROG ": %s: no valid bars\n", input);
        qt_bars_free(&bars);
        return QT_LAB_EXIT_FAIL;
    }
    int64_t base = 0;
    if (hms > 0) {
        for (size_t k = 1; k < bars.n; k++) {
            int64_t g = bars.bars[k].t_ms - bars.bars[k - 1].t_ms;
            if (base == 0 || g < base) base = g;
        }
        if (base <= 0 || base > hms || hms % base != 0) {
            fprintf(stderr, PROG ": --horizon %s is not a multiple of the bar length (%" PRId64
                                 " ms) of %s\n", horizon, base, input);
            qt_bars_free(&bars);
            return QT_LAB_EXIT_USAGE;
        }
    }
    qt_featureset_t *fs = qt_featureset_new(spec, label, base, hms, err, sizeof err);
    if (!fs) {
        fprintf(stderr, PROG ": %s\n", err);
        qt_bars_free(&bars);
        return QT_LAB_EXIT_USAGE;
    }
    FILE *out = stdout;
    if (outp) {
        out = fopen(outp, "w");
        if (!out) {
            fprintf(stderr, PROG ": cannot write %s: %s\n", outp, strerror(errno));
            qt_featureset_destroy(&fs);
            qt_bars_free(&bars);
            return QT_LAB_EXIT_FAIL;
        }
    }
    fputs("timestamp", out);
    for (size_t k = 0; k < qt_featureset_n_outputs(fs); k++) fprintf(out, ",%s", qt_featureset_name(fs, k));
    fputc('\n', out);
    uint64_t skipped = 0;
    for (size_t k = 0; k < bars.n; k++) {
        const qt_bar_t *b = &bars.bars[k];
        qt_fs_bar_t fb = {b->t_ms, qt_fixed_to_double(b->open), qt_fixed_to_double(b->high),
                          qt_fixed_to_double(b->low), qt_fixed_to_double(b->close),
                          qt_fixed_to_double(b->volume)};
        bool upd = false;
        if (!qt_featureset_update(fs, &fb, &upd)) {
            skipped++;
            continue;
        }
        if (upd) put_row(out, qt_featureset_value_time(fs), fs);
    }
    if (skipped)
        fprintf(stderr, PROG ": %" PRIu64 " bar(s) refused by the feature set and skipped\n",
                skipped);
    int rc = 0;
    if (ferror(out) || fflush(out) != 0) rc = QT_LAB_EXIT_FAIL;
    if (outp && fclose(out) != 0) rc = QT_LAB_EXIT_FAIL;
    if (rc) fprintf(stderr, PROG ": write error on %s\n", outp ? outp : "stdout");
    qt_featureset_destroy(&fs);
    qt_bars_free(&bars);
    return rc;
}
