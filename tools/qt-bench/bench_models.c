/* qt-bench models: XGBoost inference latency per vector, and the per-signal cost of the
 * rule-based models.
 *
 *   qt-bench models [--n N] [--rounds R] [--depth D]
 *
 * Workload: real BTC 4h bars ($QT_DATA_DIR, default ../shared/data) -> the training
 * features of `qtctl models train` (roc:1, roc:20, roc:60, zscore:20, rsi:14,
 * rvol_parkinson:20, rvol_gk:20; qt_featureset) -> triple-barrier labels (1 x 20-bar
 * vol, 12 bars) -> one XGBoost model (R rounds, default 100, depth D, default 3, nthread 1).
 *   xgb_single: N (default 20000) single-vector predictions (qt_gbt_predict, 1 row), each
 *     timed with the monotonic clock: p50 / p99 / max / mean in microseconds (nearest
 *     rank). Baseline in the same run: the timer alone (two clock reads, nothing between).
 *   xgb_batch: every feature row in one call: rows/s and ns per row.
 *   xgb_signal: models_on_features with XGB_v1 (feature lookup by name + prediction +
 *     translator), each of the file's FeatureVectors timed: p50 / p99 / mean in us.
 *   The means are tail-sensitive on a shared machine (preemption adds ms outliers):
 *   read the p50.
 *   rule_ns_per_signal: the same for MA_v1 (the baseline model), TSMOM_v1, MEANREV_v1,
 *     VOLTREND_v1, ENSEMBLE_v1; XSMOM_v1 per symbol of a 33-symbol batch (the same vector
 *     under 33 names, ranked at the watermark).
 * Output: ONE JSON object. Exit 0 ok, 1 data/measurement failed, 2 usage error. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_quant.h"
#include "models/models.h"
#include "qt_bars.h"
#include "qt_cli.h"
#include "qt_clock.h"
#include "qt_featureset.h"
#include "qt_gbt.h"
#include "qt_labels.h"

#define PROG "qt-bench models"
#define BTC "raw/djienne-3EMA_SRSI_ATR-binance/4h/BTC_USDT-4h.json"
#define SPEC "roc:1,roc:20,roc:60,zscore:20,rsi:14,rvol_parkinson:20,rvol_gk:20"
/* plus the rule models' inputs */
#define SPEC_ALL SPEC ",sma:10,sma:30,ema:12,ema:26,rvol:20"

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(const double *v, size_t n, double q) {
    double r = ceil(q * (double)n);
    size_t k = r < 1.0 ? 0 : (size_t)r - 1;
    return v[k < n ? k : n - 1];
}

static double r3(double x) { return round(x * 1000.0) / 1000.0; }

typedef struct {
    size_t n, nc;          /* bars, outputs of SPEC_ALL */
    const char *const *names;
    double *v;
    bool *r;
    int64_t *t, *close;
} data_t;

/* FeatureVector of bar i with the live names (rvol_20 -> rvol, sma_10 -> sma_fast, ...). */
typedef struct {
    Qt__V1__FeatureVector fv;
    Qt__V1__Feature f[16];
    Qt__V1__Feature *fp[16];
} fvbuf_t;

static const char *live_name(const char *n) {
    static const char *const a[][2] = {{"sma_10", "sma_fast"}, {"sma_30", "sma_slow"},
                                       {"ema_12", "ema_fast"}, {"ema_26", "ema_slow"},
                                       {"rvol_20", "rvol"}};
    for (size_t k = 0; k < 5; k++)
        if (strcmp(n, a[k][0]) == 0) return a[k][1];
    return n;
}

static void mkfv(const data_t *d, size_t i, const char *sym, fvbuf_t *b) {
    qt__v1__feature_vector__init(&b->fv);
    b->fv.symbol = (char *)sym;
    b->fv.interval = (char *)"4h";
    b->fv.bar_time_ms = d->t[i];
    b->fv.close = d->close[i];
    b->fv.feature_schema = 2;
    b->fv.features = b->fp;
    b->fv.n_features = d->nc;
    for (size_t k = 0; k < d->nc; k++) {
        qt__v1__feature__init(&b->f[k]);
        b->f[k].name = (char *)live_name(d->names[k]);
        b->f[k].value = d->v[i * d->nc + k];
        b->f[k].ready = d->r[i * d->nc + k];
        b->fp[k] = &b->f[k];
    }
}

/* Mean ns per signal of one model over all vectors (3 passes, the median). */
static double rule_cost(qt_clock_t *clk, const char *model, const fvbuf_t *fvs, size_t n,
                        double *checksum) {
    models_cfg_t cfg;
    models_cfg_default(&cfg);
    snprintf(cfg.model, sizeof cfg.model, "%s", model);
    models_t *m = models_new(&cfg, NULL, NULL, 0);
    if (!m) return NAN;
    models_out_t o;
    double t[3];
    for (int rep = 0; rep < 3; rep++) {
        int64_t a = qt_clock_mono_ns(clk);
        for (size_t i = 0; i < n; i++) {
            bool em;
            models_on_features(m, &fvs[i].fv, &o, &em);
            *checksum += o.sig.score;
        }
        t[rep] = (double)(qt_clock_mono_ns(clk) - a) / (double)n;
    }
    models_destroy(&m);
    qsort(t, 3, sizeof t[0], cmp_d);
    return t[1];
}

int bench_models(int argc, char **argv, int i) {
    uint64_t nsingle = 20000, rounds = 100, depth = 3;
    for (; i < argc; i++) {
        uint64_t *dst = strcmp(argv[i], "--n") == 0        ? &nsingle
                        : strcmp(argv[i], "--rounds") == 0 ? &rounds
                        : strcmp(argv[i], "--depth") == 0  ? &depth
                                                           : NULL;
        if (!dst) return qt_cli_usage_error("qt-bench", "models: unknown argument '%s'", argv[i]);
        if (i + 1 >= argc || qt_cli_parse_u64(argv[i + 1], dst) != 0)
            return qt_cli_usage_error("qt-bench", "models: %s needs a positive integer", argv[i]);
        i++;
    }
    if (nsingle < 1 || nsingle > 10000000 || rounds < 1 || rounds > 10000 || depth < 1 || depth > 16)
        return qt_cli_usage_error("qt-bench", "models: %s", "--n [1,1e7], --rounds [1,1e4], --depth [1,16]");
    const char *dir = getenv("QT_DATA_DIR");
    char path[1024], err[512];
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "../shared/data", BTC);
    qt_bars_t bars;
    qt_bars_init(&bars);
    if (qt_bars_load_file(&bars, path, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": %s: %s\n", path, err);
        return 1;
    }
    qt_featureset_t *fs = qt_featureset_new(SPEC_ALL, NULL, 4 * 3600000LL, 0, err, sizeof err);
    qt_clock_t *clk = qt_clock_new_wall();
    data_t d = {0};
    d.n = bars.n;
    d.nc = fs ? qt_featureset_n_outputs(fs) : 0;
    size_t nx = 7;   /* the first 7 outputs are SPEC */
    d.names = fs ? qt_featureset_names(fs) : NULL;
    d.v = calloc(d.n * d.nc + 1, sizeof *d.v);
    d.r = calloc(d.n * d.nc + 1, sizeof *d.r);
    d.t = calloc(d.n + 1, sizeof *d.t);
    d.close = calloc(d.n + 1, sizeof *d.close);
    double *close = calloc(d.n + 1, sizeof *close), *hi = calloc(d.n + 1, sizeof *hi),
           *lo = calloc(d.n + 1, sizeof *lo), *trgt = calloc(d.n + 1, sizeof *trgt);
    qt_tb_event_t *ev = calloc(d.n + 1, sizeof *ev);
    float *X = calloc(d.n * nx + 1, sizeof *X), *y = calloc(d.n + 1, sizeof *y),
          *pb = calloc(d.n + 1, sizeof *pb);
    double *lat = calloc(nsingle, sizeof *lat), *base = calloc(nsingle, sizeof *base);
    fvbuf_t *fvs = calloc(d.n + 1, sizeof *fvs);
    qt_gbt_t *g = NULL;
    int rc = 1;
    if (!fs || !clk || !d.v || !d.r || !d.t || !d.close || !close || !hi || !lo || !trgt || !ev ||
        !X || !y || !pb || !lat || !base || !fvs || d.nc > 16) {
        fprintf(stderr, PROG ": setup failed\n");
        goto out;
    }
    for (size_t k = 0; k < d.n; k++) {
        const qt_bar_t *b = &bars.bars[k];
        qt_fs_bar_t fb = {b->t_ms, qt_fixed_to_double(b->open), qt_fixed_to_double(b->high),
                          qt_fixed_to_double(b->low), qt_fixed_to_double(b->close),
                          qt_fixed_to_double(b->volume)};
        qt_featureset_update(fs, &fb, NULL);
        memcpy(d.v + k * d.nc, qt_featureset_values(fs), d.nc * sizeof(double));
        memcpy(d.r + k * d.nc, qt_featureset_ready(fs), d.nc * sizeof(bool));
        d.t[k] = b->t_ms;
        d.close[k] = b->close;
        close[k] = fb.close;
        hi[k] = fb.high;
        lo[k] = fb.low;
    }
    qt_tb_params_t tp = {.pt_mult = 1, .sl_mult = 1, .horizon = 12};
    size_t ne = 0, rows = 0;
    if (qt_label_rolling_vol(close, d.n, 20, trgt) != 0 ||
        qt_label_triple_barrier(close, hi, lo, d.n, trgt, NULL, NULL, 0, &tp, ev, &ne) != 0) {
        fprintf(stderr, PROG ": labelling failed\n");
        goto out;
    }
    for (size_t e = 0; e < ne; e++) {
        size_t t0 = ev[e].t0;
        bool ok = true;
        for (size_t k = 0; k < nx; k++) ok = ok && d.r[t0 * d.nc + k];
        if (!ok) continue;
        for (size_t k = 0; k < nx; k++) X[rows * nx + k] = (float)d.v[t0 * d.nc + k];
        y[rows++] = ev[e].label > 0 ? 1.0f : 0.0f;
    }
    qt_gbt_params_t gp;
    qt_gbt_params_default(&gp);
    gp.rounds = (uint32_t)rounds;
    gp.max_depth = (uint32_t)depth;
    int64_t t_train = qt_clock_mono_ns(clk);
    g = qt_gbt_train(X, rows, nx, y, NULL, &gp, err, sizeof err);
    t_train = qt_clock_mono_ns(clk) - t_train;
    if (!g) {
        fprintf(stderr, PROG ": train: %s\n", err);
        goto out;
    }
    /* single-vector latency + timer baseline */
    double cks = 0.0;
    for (size_t k = 0; k < nsingle; k++) {
        float p;
        const float *row = X + (k % rows) * nx;
        int64_t a = qt_clock_mono_ns(clk);
        if (qt_gbt_predict(g, row, 1, &p) != 0) {
            fprintf(stderr, PROG ": predict failed\n");
            goto out;
        }
        int64_t b = qt_clock_mono_ns(clk);
        lat[k] = (double)(b - a) / 1000.0;
        cks += p;
        a = qt_clock_mono_ns(clk);
        b = qt_clock_mono_ns(clk);
        base[k] = (double)(b - a) / 1000.0;
    }
    double mean = 0;
    for (size_t k = 0; k < nsingle; k++) mean += lat[k];
    mean /= (double)nsingle;
    qsort(lat, nsingle, sizeof *lat, cmp_d);
    qsort(base, nsingle, sizeof *base, cmp_d);
    /* batch */
    int64_t tb = qt_clock_mono_ns(clk);
    if (qt_gbt_predict(g, X, rows, pb) != 0) goto out;
    tb = qt_clock_mono_ns(clk) - tb;
    /* full XGB_v1 signal path */
    for (size_t k = 0; k < d.n; k++) mkfv(&d, k, "BTC_USDT", &fvs[k]);
    models_cfg_t mc;
    models_cfg_default(&mc);
    snprintf(mc.model, sizeof mc.model, "XGB_v1");
    models_t *xm = models_new(&mc, NULL, NULL, 0);
    uint8_t *buf = NULL;
    size_t blen = 0;
    qt_gbt_t *g2 = NULL;
    if (xm && qt_gbt_save(g, &buf, &blen) == 0) g2 = qt_gbt_load(buf, blen, nx, err, sizeof err);
    free(buf);
    const char *xn[7];
    for (size_t k = 0; k < nx; k++) xn[k] = d.names[k];
    if (!xm || !g2 || models_install_xgb(xm, g2, xn, nx, "bench") != 0) {
        fprintf(stderr, PROG ": XGB_v1 setup failed\n");
        models_destroy(&xm);
        goto out;
    }
    models_out_t o;
    double *sl = calloc(d.n, sizeof *sl), smean = 0;
    if (!sl) {
        models_destroy(&xm);
        goto out;
    }
    for (size_t k = 0; k < d.n; k++) {
        bool em;
        int64_t a = qt_clock_mono_ns(clk);
        models_on_features(xm, &fvs[k].fv, &o, &em);
        sl[k] = (double)(qt_clock_mono_ns(clk) - a) / 1000.0;
        smean += sl[k];
        cks += o.sig.score;
    }
    smean /= (double)d.n;
    qsort(sl, d.n, sizeof *sl, cmp_d);
    double sp50 = pct(sl, d.n, 0.5), sp99 = pct(sl, d.n, 0.99);
    free(sl);
    models_destroy(&xm);
    /* rule models */
    const char *rules[] = {"MA_v1", "TSMOM_v1", "MEANREV_v1", "VOLTREND_v1", "ENSEMBLE_v1"};
    double rcost[5];
    for (size_t k = 0; k < 5; k++) rcost[k] = rule_cost(clk, rules[k], fvs, d.n, &cks);
    /* XSMOM: 33 symbols per batch */
    snprintf(mc.model, sizeof mc.model, "XSMOM_v1");
    models_t *xs = models_new(&mc, NULL, NULL, 0);
    models_out_t *outs = calloc(33, sizeof *outs);
    char syms[33][8];
    for (unsigned k = 0; k < 33; k++) snprintf(syms[k], sizeof syms[k], "S%02u", k % 100u);
    size_t nb = d.n < 2000 ? d.n : 2000;
    int64_t txs = qt_clock_mono_ns(clk);
    for (size_t k = 0; xs && outs && k < nb; k++) {
        for (int s = 0; s < 33; s++) {
            bool em;
            fvs[k].fv.symbol = syms[s];
            models_on_features(xs, &fvs[k].fv, &o, &em);
        }
        size_t n = models_on_watermark(xs, outs, 33);
        for (size_t s = 0; s < n; s++) cks += outs[s].sig.score;
    }
    txs = qt_clock_mono_ns(clk) - txs;
    models_destroy(&xs);
    free(outs);
    printf("{\"data\":\"BTC_USDT 4h\",\"bars\":%zu,\"train_rows\":%zu,\"features\":%zu,"
           "\"rounds\":%" PRIu64 ",\"max_depth\":%" PRIu64 ",\"nthread\":1,\"train_s\":%.3f,"
           "\"xgb_single_us\":{\"n\":%" PRIu64 ",\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f,\"mean\":%.3f},"
           "\"baseline_timer_us\":{\"p50\":%.3f,\"p99\":%.3f},"
           "\"xgb_batch\":{\"rows\":%zu,\"rows_per_s\":%.0f,\"ns_per_row\":%.1f},"
           "\"xgb_signal_us\":{\"n\":%zu,\"p50\":%.3f,\"p99\":%.3f,\"mean\":%.3f},"
           "\"rule_ns_per_signal\":{\"MA_v1\":%.1f,\"TSMOM_v1\":%.1f,\"MEANREV_v1\":%.1f,"
           "\"VOLTREND_v1\":%.1f,\"ENSEMBLE_v1\":%.1f,\"XSMOM_v1\":%.1f},\"checksum\":%.6f}\n",
           d.n, rows, nx, rounds, depth, (double)t_train / 1e9, nsingle, r3(pct(lat, nsingle, 0.5)),
           r3(pct(lat, nsingle, 0.99)), r3(lat[nsingle - 1]), r3(mean), r3(pct(base, nsingle, 0.5)),
           r3(pct(base, nsingle, 0.99)), rows, (double)rows / ((double)tb / 1e9),
           (double)tb / (double)rows, d.n, r3(sp50), r3(sp99), r3(smean), rcost[0], rcost[1], rcost[2],
           rcost[3], rcost[4], (double)txs / (double)(nb * 33), cks);
    rc = 0;
out:
    qt_gbt_destroy(&g);
    free(d.v);
    free(d.r);
    free(d.t);
    free(d.close);
    free(close);
    free(hi);
    free(lo);
    free(trgt);
    free(ev);
    free(X);
    free(y);
    free(pb);
    free(lat);
    free(base);
    free(fvs);
    qt_featureset_destroy(&fs);
    qt_clock_destroy(&clk);
    qt_bars_free(&bars);
    return rc;
}
