/* qt-bench features: streaming feature updates per second on one core.
 *
 *   qt-bench features [--reps N]
 *
 * Workload: the full default qt-features set (the six base features' indicators
 * sma:10, sma:30, ema:12, ema:26, rvol:20 plus FEATURES_DEFAULT_SPEC) over every Binance
 * 4h pair in $QT_DATA_DIR (default ../shared/data)/raw/djienne-3EMA_SRSI_ATR-binance/4h/
 * (33 files, ~300k bars), one feature set per asset, bars fed in file order, one thread.
 * Baseline measured in the same run: a set with only sma:20. Each is run N times
 * (default 5) and the median wall time is reported (qt_clock monotonic).
 * Output (one JSON object): assets, bars, features (outputs per bar), bar updates/s and
 * feature values/s for the full set, the baseline's bar updates/s, and the ratio
 * full/baseline; checksum = sum of all published values of the last rep (keeps the work
 * observable). Exit: 0 ok, 1 data missing, 2 usage error. */
#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_quant.h"
#include "features/features.h"
#include "qt_bars.h"
#include "qt_cli.h"
#include "qt_clock.h"
#include "qt_featureset.h"

#define PROG "qt-bench features"
#define SUBDIR "raw/djienne-3EMA_SRSI_ATR-binance/4h"
#define MAX_ASSETS 64

#define FULL_SPEC "sma:10,sma:30,ema:12,ema:26,rvol:20," FEATURES_DEFAULT_SPEC
#define BASE_SPEC "sma:20"

typedef struct {
    qt_fs_bar_t *bars;
    size_t n;
} asset_t;

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Loads every *-4h.json of the directory (sorted by name). Returns the count, -1 on error. */
static int load_assets(const char *dir, asset_t *as, size_t *total) {
    DIR *dp = opendir(dir);
    if (!dp) {
        fprintf(stderr, PROG ": cannot open %s\n", dir);
        return -1;
    }
    char *names[MAX_ASSETS];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l > 8 && strcmp(de->d_name + l - 8, "-4h.json") == 0 && n < MAX_ASSETS)
            names[n++] = strdup(de->d_name);
    }
    closedir(dp);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    int rc = n;
    *total = 0;
    for (int k = 0; k < n; k++) {
        char path[2048], err[512];
        snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        qt_bars_t b;
        qt_bars_init(&b);
        if (rc >= 0 && qt_bars_load_file(&b, path, err, sizeof err) == 0 && b.n > 0) {
            as[k].bars = malloc(b.n * sizeof *as[k].bars);
            as[k].n = b.n;
            for (size_t i = 0; as[k].bars && i < b.n; i++) {
                const qt_bar_t *x = &b.bars[i];
                as[k].bars[i] = (qt_fs_bar_t){x->t_ms, qt_fixed_to_double(x->open),
                                              qt_fixed_to_double(x->high), qt_fixed_to_double(x->low),
                                              qt_fixed_to_double(x->close),
                                              qt_fixed_to_double(x->volume)};
            }
            if (!as[k].bars) rc = -1;
            *total += b.n;
        } else if (rc >= 0) {
            fprintf(stderr, PROG ": %s: cannot load\n", path);
            rc = -1;
        }
        qt_bars_free(&b);
        free(names[k]);
    }
    if (n == 0) {
        fprintf(stderr, PROG ": no *-4h.json files in %s\n", dir);
        return -1;
    }
    return rc;
}

/* One pass over all assets with fresh sets; returns elapsed ns (or -1). */
static int64_t run_once(const char *spec, const asset_t *as, int na, qt_clock_t *clk,
                        double *checksum, size_t *nout) {
    qt_featureset_t *fs[MAX_ASSETS] = {NULL};
    if (na < 1 || na > MAX_ASSETS) return -1;
    for (int k = 0; k < na; k++) {
        fs[k] = qt_featureset_new(spec, NULL, 0, 0, NULL, 0);
        if (!fs[k]) {
            for (int j = 0; j < k; j++) qt_featureset_destroy(&fs[j]);
            return -1;
        }
    }
    *nout = qt_featureset_n_outputs(fs[0]);
    double sum = 0.0;
    int64_t t0 = qt_clock_mono_ns(clk);
    for (int k = 0; k < na; k++) {
        for (size_t i = 0; i < as[k].n; i++) {
            qt_featureset_update(fs[k], &as[k].bars[i], NULL);
            sum += qt_featureset_values(fs[k])[*nout - 1];
        }
    }
    int64_t t1 = qt_clock_mono_ns(clk);
    for (int k = 0; k < na; k++) {
        const double *v = qt_featureset_values(fs[k]);
        for (size_t j = 0; j < *nout; j++) sum += v[j];
        qt_featureset_destroy(&fs[k]);
    }
    *checksum = sum;
    return t1 - t0;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int bench_features(int argc, char **argv, int i) {
    uint64_t reps = 5;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            if (qt_cli_parse_u64(argv[++i], &reps) != 0 || reps < 1 || reps > 101)
                return qt_cli_usage_error(PROG, "--reps '%s': expected 1..101", argv[i]);
        } else {
            return qt_cli_usage_error(PROG, "unknown argument '%s' (usage: qt-bench features "
                                            "[--reps N])", argv[i]);
        }
    }
    const char *root = getenv("QT_DATA_DIR");
    char dir[1536];
    snprintf(dir, sizeof dir, "%s/" SUBDIR, root && *root ? root : "../shared/data");
    static asset_t as[MAX_ASSETS];
    size_t total = 0;
    int na = load_assets(dir, as, &total);
    if (na <= 0) return 1;
    qt_clock_t *clk = qt_clock_new_wall();
    int64_t full[101], base[101];
    double cs_full = 0, cs_base = 0;
    size_t nout_full = 0, nout_base = 0;
    int rc = 0;
    for (uint64_t r = 0; r < reps && rc == 0; r++) {   /* interleaved: same conditions */
        full[r] = run_once(FULL_SPEC, as, na, clk, &cs_full, &nout_full);
        base[r] = run_once(BASE_SPEC, as, na, clk, &cs_base, &nout_base);
        if (full[r] <= 0 || base[r] <= 0) rc = 1;
    }
    if (rc == 0) {
        qsort(full, reps, sizeof *full, cmp_i64);
        qsort(base, reps, sizeof *base, cmp_i64);
        double tf = (double)full[reps / 2] / 1e9, tb = (double)base[reps / 2] / 1e9;
        double ups = (double)total / tf, bups = (double)total / tb;
        printf("{\"features\":{\"assets\":%d,\"bars\":%zu,\"outputs_per_bar\":%zu,\"reps\":%" PRIu64
               ",\"spec\":\"%s\",\"median_s\":%.6f,\"bar_updates_per_s_per_core\":%.0f,"
               "\"feature_values_per_s_per_core\":%.0f,\"ns_per_bar\":%.1f,"
               "\"baseline\":{\"spec\":\"%s\",\"median_s\":%.6f,\"bar_updates_per_s_per_core\":%.0f},"
               "\"ratio_full_to_baseline\":%.4f,\"checksum\":%.6e}}\n",
               na, total, nout_full, reps, FULL_SPEC, tf, ups, ups * (double)nout_full,
               tf * 1e9 / (double)total, BASE_SPEC, tb, bups, ups / bups,
               isfinite(cs_full + cs_base) ? cs_full + cs_base : 0.0);
    } else {
        fprintf(stderr, PROG ": feature set construction failed\n");
    }
    qt_clock_destroy(&clk);
    for (int k = 0; k < na; k++) free(as[k].bars);
    return rc;
}
