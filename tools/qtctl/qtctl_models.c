/* qtctl models: the model registry commands.
 *
 *   qtctl models list [--registry DIR]
 *   qtctl models show ID [--registry DIR]
 *   qtctl models promote ID --reason TEXT [--by WHO] [--registry DIR]
 *   qtctl models rollback NAME --reason TEXT [--by WHO] [--registry DIR]
 *   qtctl models train --name NAME --input FILE [--input FILE ...] [options]
 *
 * Why here: promotion is an operator action, so it is audited (who, why, when) and atomic
 * (libs/qt/qt_registry.h: index + Redis pointer "qt:models:promoted:<name>"); qt-models
 * picks the new pointer up at its next reload check without a restart.
 * train: for each input bar file (qt_bars: Binance JSON/CSV) the features of the spec
 * are computed with libs/quant/qt_featureset (the same definitions qt-features
 * publishes), triple-barrier labels with libs/quant/qt_labels (volatility target = the
 * rolling stddev of simple returns over --vol-window bars, barriers pt/sl x target,
 * vertical barrier --horizon bars; label 1 = upper barrier first, else 0); events whose
 * features are all ready are pooled over the inputs and ordered by start time; purged
 * k-fold CV with embargo (libs/quant/qt_cv.h) gives per-fold log loss / accuracy; the
 * final model is trained on all events (libs/quant/qt_gbt.h, nthread 1, fixed seed) and
 * stored in the registry with its meta (params, feature names, schema version, data hash
 * = sha256 over the input files' sha256, seed, CV metrics, drift reference deciles).
 * Same inputs + options -> same artifact id.
 * Config: the Redis address from services.yml (redis.host/port/timeout_ms); the registry
 * directory from models.yml next to it (models.registry.dir, default var/models) unless
 * --registry is given. Exit: 0 ok, 1 failure, 2 usage. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qt_bars.h"
#include "qt_cli.h"
#include "qt_clock.h"
#include "qt_config.h"
#include "qt_cv.h"
#include "qt_drift.h"
#include "qt_featureset.h"
#include "qt_gbt.h"
#include "qt_labels.h"
#include "qt_money.h"
#include "qt_redis.h"
#include "qt_registry.h"
#include "qtctl_models.h"

#define PROG "qtctl models"
#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define MAX_INPUTS 64
#define DEFAULT_SPEC "roc:1,roc:20,roc:60,zscore:20,rsi:14,rvol_parkinson:20,rvol_gk:20"
#define REF_SAMPLE 256

static void usage(FILE *f) {
    fprintf(f,
            "usage: qtctl [--config FILE] [--json] models COMMAND ...\n"
            "  list                                artifacts and promoted ids\n"
            "  show ID                             one artifact's meta (hashes verified)\n"
            "  promote ID --reason TEXT [--by WHO] make ID the promoted model of its name\n"
            "  rollback NAME --reason TEXT [--by WHO]  back to the previous promotion\n"
            "  train --name NAME --input FILE [--input FILE ...]\n"
            "        [--spec SPEC] (default " DEFAULT_SPEC ")\n"
            "        [--horizon BARS (12)] [--pt X (1)] [--sl X (1)] [--vol-window N (20)]\n"
            "        [--folds K (5)] [--embargo BARS (12)] [--seed N (42)]\n"
            "        [--rounds N (100)] [--max-depth D (3)] [--eta E (0.05)]\n"
            "        [--subsample F (0.8)] [--colsample F (0.8)] [--min-child-weight W (5)]\n"
            "  every command accepts --registry DIR (default: models.registry.dir of\n"
            "  models.yml next to the config, else var/models)\n"
            "Exit: 0 ok, 1 failure, 2 usage.\n");
}

static int uerr(const char *fmt, const char *arg) { return qt_cli_usage_error("qtctl", fmt, arg); }

/* Strict finite double: the whole string, no junk. */
static int parse_double(const char *s, double *out) {
    if (!s || !*s) return -1;
    errno = 0;
    char *end = NULL;
    double v = strtod(s, &end);
    if (errno != 0 || !end || *end != '\0' || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

static void print_json(json_t *j) {
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(10));
    if (s) {
        puts(s);
        free(s);
    }
}

/* ------------------------------------------------------------------ config */

typedef struct {
    qt_config_t *cfg;
    const char *redis_host;
    int redis_port, redis_timeout_ms;
    char registry[1024];
} conf_t;

static int load_conf(conf_t *c, const char *path, const char *registry_opt) {
    char err[512];
    memset(c, 0, sizeof *c);
    c->cfg = qt_config_load(path, err, sizeof err);
    if (!c->cfg) {
        fprintf(stderr, "%s: config: %s\n", PROG, err);
        return EXIT_USAGE;
    }
    c->redis_host = qt_config_str(c->cfg, "redis.host", "127.0.0.1");
    c->redis_port = (int)qt_config_int(c->cfg, "redis.port", false, 6379, 1, 65535);
    c->redis_timeout_ms = (int)qt_config_int(c->cfg, "redis.timeout_ms", false, 500, 1, 60000);
    if (qt_config_error(c->cfg)) {
        fprintf(stderr, "%s: config: %s\n", PROG, qt_config_error(c->cfg));
        return EXIT_USAGE;
    }
    if (registry_opt) {
        snprintf(c->registry, sizeof c->registry, "%s", registry_opt);
        return 0;
    }
    snprintf(c->registry, sizeof c->registry, "var/models");
    char tmp[1024], mpath[1100];
    snprintf(tmp, sizeof tmp, "%s", path);
    snprintf(mpath, sizeof mpath, "%s/models.yml", dirname(tmp));
    FILE *f = fopen(mpath, "r");
    if (!f) return 0;
    fclose(f);
    qt_config_t *mc = qt_config_load(mpath, err, sizeof err);
    if (!mc) {
        fprintf(stderr, "%s: config: %s\n", PROG, err);
        return EXIT_USAGE;
    }
    const char *d = qt_config_str(mc, "models.registry.dir", "var/models");
    int rc = 0;
    if (qt_config_error(mc) || !*d || strlen(d) >= sizeof c->registry) {
        fprintf(stderr, "%s: config %s: key 'models.registry.dir' invalid\n", PROG, mpath);
        rc = EXIT_USAGE;
    } else {
        snprintf(c->registry, sizeof c->registry, "%s", d);
    }
    qt_config_destroy(&mc);
    return rc;
}

/* ------------------------------------------------------------------ list / show */

static int cmd_list(qt_registry_t *reg, bool json) {
    char err[512];
    json_t *ix = qt_registry_index(reg, err, sizeof err);
    if (!ix) {
        fprintf(stderr, "%s: %s\n", PROG, err);
        return EXIT_FAIL;
    }
    if (json) {
        print_json(ix);
        json_decref(ix);
        return 0;
    }
    json_t *prom = json_object_get(ix, "promoted"), *a;
    size_t i;
    printf("%-64s  %-20s  %-13s  %s\n", "ID", "NAME", "CREATED_MS", "PROMOTED");
    json_array_foreach(json_object_get(ix, "artifacts"), i, a) {
        const char *id = json_string_value(json_object_get(a, "id"));
        const char *name = json_string_value(json_object_get(a, "name"));
        const char *pid = json_string_value(json_object_get(json_object_get(prom, name), "id"));
        printf("%-64s  %-20s  %-13" PRId64 "  %s\n", id, name,
               (int64_t)json_integer_value(json_object_get(a, "created_ms")),
               pid && strcmp(pid, id) == 0 ? "*" : "");
    }
    json_decref(ix);
    return 0;
}

static int cmd_show(qt_registry_t *reg, const char *id, bool json) {
    char err[512];
    json_t *meta = NULL;
    if (qt_registry_get(reg, id, &meta, NULL, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", PROG, err);
        return EXIT_FAIL;
    }
    char pid[65] = "";
    int pr = qt_registry_promoted(reg, json_string_value(json_object_get(meta, "name")), pid,
                                  err, sizeof err);
    json_object_set_new(meta, "promoted", json_boolean(pr == 1 && strcmp(pid, id) == 0));
    if (!json) json_object_del(meta, "reference");   /* long; shown with --json */
    print_json(meta);
    json_decref(meta);
    return 0;
}

/* ------------------------------------------------------------------ promote / rollback */

static int cmd_promote(conf_t *c, qt_registry_t *reg, const char *what, bool rollback,
                       const char *by, const char *reason, bool json) {
    char err[512] = "";
    qt_clock_t *clock = qt_clock_new_wall();
    qt_redis_t *redis = qt_redis_new(c->redis_host, c->redis_port, c->redis_timeout_ms, NULL);
    if (!clock || !redis) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        qt_redis_destroy(&redis);
        qt_clock_destroy(&clock);
        return EXIT_FAIL;
    }
    int64_t now = qt_clock_now_ms(clock);
    char id[65] = "";
    int rc;
    if (rollback) {
        rc = qt_registry_rollback(reg, what, by, reason, now, qt_registry_redis_set, redis, id,
                                  err, sizeof err);
    } else {
        snprintf(id, sizeof id, "%s", what);
        rc = qt_registry_promote(reg, what, by, reason, now, qt_registry_redis_set, redis, err,
                                 sizeof err);
    }
    qt_redis_destroy(&redis);
    qt_clock_destroy(&clock);
    if (rc != 0) {
        fprintf(stderr, "%s: %s failed: %s\n", PROG, rollback ? "rollback" : "promote", err);
        return EXIT_FAIL;
    }
    if (json) {
        json_t *o = json_pack("{s:s, s:s}", "action", rollback ? "rollback" : "promote", "id", id);
        print_json(o);
        json_decref(o);
    } else {
        printf("%s %s\n", rollback ? "rolled back to" : "promoted", id);
    }
    return 0;
}

/* ------------------------------------------------------------------ train */

typedef struct {
    const char *name, *spec;
    const char *inputs[MAX_INPUTS];
    size_t ninputs;
    uint64_t horizon, vol_window, folds, embargo;
    double pt, sl;
    qt_gbt_params_t gbt;
} train_opts_t;

typedef struct {
    int64_t t0, t1;   /* event start / end (ms) */
    size_t file;
    float *x;         /* ncols */
    float y;
} row_t;

static int row_cmp(const void *a, const void *b) {
    const row_t *x = a, *y = b;
    if (x->t0 != y->t0) return x->t0 < y->t0 ? -1 : 1;
    return (x->file > y->file) - (x->file < y->file);
}

static int file_sha(const char *path, char hex[65]) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t cap = 1 << 20, n = 0;
    uint8_t *b = malloc(cap);
    for (;;) {
        if (!b) break;
        if (n == cap) {
            uint8_t *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    bool bad = ferror(f) || !b;
    fclose(f);
    if (!bad) qt_registry_sha256_hex(b, n, hex);
    free(b);
    return bad ? -1 : 0;
}

/* Events of one file appended to rows (x storage allocated per row). */
static int file_rows(const train_opts_t *o, size_t fi, row_t **rows, size_t *nrows, size_t *cap,
                     size_t *ncols, char **names_out, size_t *nbars, int64_t *bar_ms) {
    char err[512];
    qt_bars_t bars;
    qt_bars_init(&bars);
    if (qt_bars_load_file(&bars, o->inputs[fi], err, sizeof err) != 0 || bars.n < 3) {
        fprintf(stderr, "%s: %s: %s\n", PROG, o->inputs[fi], bars.n < 3 && !*err ? "fewer than 3 bars" : err);
        qt_bars_free(&bars);
        return -1;
    }
    *nbars = bars.n;
    if (*bar_ms == 0) *bar_ms = bars.bars[1].t_ms - bars.bars[0].t_ms;
    qt_featureset_t *fs = qt_featureset_new(o->spec, NULL, *bar_ms, 0, err, sizeof err);
    if (!fs) {
        fprintf(stderr, "%s: --spec: %s\n", PROG, err);
        qt_bars_free(&bars);
        return -2;
    }
    size_t n = bars.n, nc = qt_featureset_n_outputs(fs);
    *ncols = nc;
    for (size_t k = 0; k < nc && names_out; k++) names_out[k] = strdup(qt_featureset_name(fs, k));
    double *close = calloc(n, sizeof *close), *hi = calloc(n, sizeof *hi),
           *lo = calloc(n, sizeof *lo), *trgt = calloc(n, sizeof *trgt),
           *F = calloc(n * nc, sizeof *F);
    bool *R = calloc(n, sizeof *R);
    qt_tb_event_t *ev = calloc(n, sizeof *ev);
    int rc = -1;
    if (!close || !hi || !lo || !trgt || !F || !R || !ev) goto out;
    for (size_t i = 0; i < n; i++) {
        const qt_bar_t *b = &bars.bars[i];
        qt_fs_bar_t fb = {b->t_ms, qt_fixed_to_double(b->open), qt_fixed_to_double(b->high),
                          qt_fixed_to_double(b->low), qt_fixed_to_double(b->close),
                          qt_fixed_to_double(b->volume)};
        R[i] = qt_featureset_update(fs, &fb, NULL);
        close[i] = fb.close;
        hi[i] = fb.high;
        lo[i] = fb.low;
        memcpy(F + i * nc, qt_featureset_values(fs), nc * sizeof(double));
        for (size_t k = 0; k < nc; k++) R[i] = R[i] && qt_featureset_ready(fs)[k];
    }
    qt_tb_params_t p = {.pt_mult = o->pt, .sl_mult = o->sl, .horizon = o->horizon,
                        .min_target = 0.0, .vertical_sign = false};
    size_t ne = 0;
    if (qt_label_rolling_vol(close, n, o->vol_window, trgt) != 0 ||
        qt_label_triple_barrier(close, hi, lo, n, trgt, NULL, NULL, 0, &p, ev, &ne) != 0) {
        fprintf(stderr, "%s: %s: labelling failed (check --horizon/--pt/--sl/--vol-window)\n",
                PROG, o->inputs[fi]);
        goto out;
    }
    for (size_t e = 0; e < ne; e++) {
        size_t t0 = ev[e].t0;
        if (!R[t0] || ev[e].t1 >= n) continue;
        if (*nrows == *cap) {
            size_t nc2 = *cap ? *cap * 2 : 4096;
            row_t *r2 = realloc(*rows, nc2 * sizeof *r2);
            if (!r2) goto out;
            *rows = r2;
            *cap = nc2;
        }
        row_t *r = &(*rows)[(*nrows)];
        r->x = malloc(nc * sizeof *r->x);
        if (!r->x) goto out;
        (*nrows)++;
        for (size_t k = 0; k < nc; k++) r->x[k] = (float)F[t0 * nc + k];
        r->y = ev[e].label > 0 ? 1.0f : 0.0f;
        r->t0 = bars.bars[t0].t_ms;
        r->t1 = bars.bars[ev[e].t1].t_ms;
        r->file = fi;
    }
    rc = 0;
out:
    free(close);
    free(hi);
    free(lo);
    free(trgt);
    free(F);
    free(R);
    free(ev);
    qt_featureset_destroy(&fs);
    qt_bars_free(&bars);
    return rc;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Drift reference of one column: PSI deciles (edges + fractions, qt_drift) and
 * REF_SAMPLE evenly spaced order statistics (the sample for the KS statistic). */
static json_t *reference_json(const float *X, size_t n, size_t nc, size_t col) {
    double *v = malloc(n * sizeof *v);
    if (!v) return json_null();
    for (size_t i = 0; i < n; i++) v[i] = X[i * nc + col];
    qt_psi_ref_t ref;
    json_t *o = json_object();
    if (qt_psi_ref_build(v, n, 10, &ref) == 0) {
        json_t *e = json_array(), *f = json_array(), *s = json_array();
        for (size_t k = 0; k + 1 < ref.nbins; k++) json_array_append_new(e, json_real(ref.edges[k]));
        for (size_t k = 0; k < ref.nbins; k++) json_array_append_new(f, json_real(ref.ref_frac[k]));
        qsort(v, n, sizeof *v, cmp_double);
        for (size_t k = 0; k < REF_SAMPLE; k++) {
            size_t idx = (size_t)(((double)k + 0.5) / REF_SAMPLE * (double)n);
            json_array_append_new(s, json_real(v[idx < n ? idx : n - 1]));
        }
        json_object_set_new(o, "edges", e);
        json_object_set_new(o, "frac", f);
        json_object_set_new(o, "sample", s);
    }
    free(v);
    return o;
}

static int train(conf_t *c, const train_opts_t *o, bool json) {
    row_t *rows = NULL;
    size_t nrows = 0, cap = 0, ncols = 0;
    char *names[QT_FS_MAX_OUTPUTS] = {0};
    json_t *inputs = json_array();
    char cat[MAX_INPUTS * 66 + 1] = "";
    int64_t bar_ms = 0;
    int rc = EXIT_FAIL;
    float *X = NULL, *y = NULL, *pred = NULL, *Xtr = NULL, *ytr = NULL, *Xte = NULL, *yte = NULL;
    int64_t *t0 = NULL, *t1 = NULL;
    qt_cv_t *cv = NULL;
    qt_gbt_t *model = NULL;
    json_t *meta = NULL;
    uint8_t *buf = NULL;
    size_t *tr = NULL, *te = NULL;
    for (size_t f = 0; f < o->ninputs; f++) {
        char sha[65];
        size_t nb = 0, before = nrows, nc = 0;
        if (file_sha(o->inputs[f], sha) != 0) {
            fprintf(stderr, "%s: %s: %s\n", PROG, o->inputs[f], strerror(errno));
            goto out;
        }
        int fr = file_rows(o, f, &rows, &nrows, &cap, &nc, f == 0 ? names : NULL, &nb, &bar_ms);
        if (fr != 0) {
            rc = fr == -2 ? EXIT_USAGE : EXIT_FAIL;
            goto out;
        }
        ncols = nc;
        strcat(cat, sha);
        strcat(cat, "\n");
        char tmp[1024];
        snprintf(tmp, sizeof tmp, "%s", o->inputs[f]);
        json_array_append_new(inputs, json_pack("{s:s, s:s, s:I, s:I}", "file", basename(tmp),
                                                "sha256", sha, "bars", (json_int_t)nb, "events",
                                                (json_int_t)(nrows - before)));
    }
    if (nrows < 100 || ncols == 0) {
        fprintf(stderr, "%s: only %zu labelled events with ready features: need >= 100\n", PROG,
                nrows);
        goto out;
    }
    qsort(rows, nrows, sizeof *rows, row_cmp);
    X = malloc(nrows * ncols * sizeof *X);
    y = malloc(nrows * sizeof *y);
    pred = malloc(nrows * sizeof *pred);
    t0 = malloc(nrows * sizeof *t0);
    t1 = malloc(nrows * sizeof *t1);
    Xtr = malloc(nrows * ncols * sizeof *Xtr);
    ytr = malloc(nrows * sizeof *ytr);
    Xte = malloc(nrows * ncols * sizeof *Xte);
    yte = malloc(nrows * sizeof *yte);
    tr = malloc(nrows * sizeof *tr);
    te = malloc(nrows * sizeof *te);
    if (!X || !y || !pred || !t0 || !t1 || !Xtr || !ytr || !Xte || !yte || !tr || !te) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        goto out;
    }
    for (size_t i = 0; i < nrows; i++) {
        memcpy(X + i * ncols, rows[i].x, ncols * sizeof *X);
        y[i] = rows[i].y;
        t0[i] = rows[i].t0;
        t1[i] = rows[i].t1;
    }
    char err[512];
    cv = qt_cv_kfold_new(nrows, t0, t1, o->folds, (int64_t)o->embargo * bar_ms, err, sizeof err);
    if (!cv) {
        fprintf(stderr, "%s: cross-validation: %s\n", PROG, err);
        goto out;
    }
    json_t *folds = json_array();
    double sum_ll = 0, sum_acc = 0;
    for (size_t s = 0; s < qt_cv_n_splits(cv); s++) {
        size_t g, ntr = 0, nte = 0;
        if (qt_cv_split(cv, s, &g, tr, &ntr, te, &nte) != 0 || ntr < 2 || nte < 1) {
            fprintf(stderr, "%s: fold %zu: empty train or test set\n", PROG, s);
            json_decref(folds);
            goto out;
        }
        for (size_t i = 0; i < ntr; i++) {
            memcpy(Xtr + i * ncols, X + tr[i] * ncols, ncols * sizeof *X);
            ytr[i] = y[tr[i]];
        }
        for (size_t i = 0; i < nte; i++) {
            memcpy(Xte + i * ncols, X + te[i] * ncols, ncols * sizeof *X);
            yte[i] = y[te[i]];
        }
        qt_gbt_t *m = qt_gbt_train(Xtr, ntr, ncols, ytr, NULL, &o->gbt, err, sizeof err);
        if (!m || qt_gbt_predict(m, Xte, nte, pred) != 0) {
            fprintf(stderr, "%s: fold %zu: %s\n", PROG, s, m ? "predict failed" : err);
            qt_gbt_destroy(&m);
            json_decref(folds);
            goto out;
        }
        qt_gbt_destroy(&m);
        double ll = qt_gbt_logloss(pred, yte, nte), acc = qt_gbt_accuracy(pred, yte, nte);
        double up = 0;
        for (size_t i = 0; i < nte; i++) up += yte[i];
        sum_ll += ll;
        sum_acc += acc;
        json_array_append_new(folds, json_pack("{s:i, s:I, s:I, s:f, s:f, s:f}", "fold", (int)s,
                                               "n_train", (json_int_t)ntr, "n_test",
                                               (json_int_t)nte, "logloss", ll, "accuracy", acc,
                                               "up_rate", up / (double)nte));
    }
    double nf = (double)qt_cv_n_splits(cv);
    model = qt_gbt_train(X, nrows, ncols, y, NULL, &o->gbt, err, sizeof err);
    size_t len = 0;
    if (!model || qt_gbt_save(model, &buf, &len) != 0) {
        fprintf(stderr, "%s: final model: %s\n", PROG, model ? "save failed" : err);
        json_decref(folds);
        goto out;
    }
    char data_hash[65];
    qt_registry_sha256_hex(cat, strlen(cat), data_hash);
    json_t *fn = json_array(), *ref = json_object();
    for (size_t k = 0; k < ncols; k++) {
        json_array_append_new(fn, json_string(names[k]));
        json_object_set_new(ref, names[k], reference_json(X, nrows, ncols, k));
    }
    if (qt_gbt_predict(model, X, nrows, pred) == 0)
        json_object_set_new(ref, "_prediction", reference_json(pred, nrows, 1, 0));
    meta = json_pack(
        "{s:s, s:s, s:s, s:o, s:i, s:{s:I, s:f, s:f, s:I, s:b}, s:s, s:o, s:I, s:I,"
        " s:{s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:f}, s:{s:s, s:I, s:I, s:o, s:f, s:f}, s:o}",
        "name", o->name, "kind", "xgboost", "spec", o->spec, "features", fn, "feature_schema",
        (int)QT_FEATURESET_SCHEMA, "label", "horizon", (json_int_t)o->horizon, "pt", o->pt, "sl",
        o->sl, "vol_window", (json_int_t)o->vol_window, "vertical_sign", 0, "data_hash",
        data_hash, "inputs", inputs, "seed", (json_int_t)o->gbt.seed, "events",
        (json_int_t)nrows, "params", "rounds", (json_int_t)o->gbt.rounds, "max_depth",
        (json_int_t)o->gbt.max_depth, "eta", o->gbt.eta, "subsample", o->gbt.subsample,
        "colsample", o->gbt.colsample, "min_child_weight", o->gbt.min_child_weight, "lambda",
        o->gbt.lambda, "xgboost_nthread", 1.0, "cv", "method", "purged_kfold", "folds",
        (json_int_t)o->folds, "embargo_bars", (json_int_t)o->embargo, "per_fold", folds,
        "mean_logloss", sum_ll / nf, "mean_accuracy", sum_acc / nf, "reference", ref);
    inputs = NULL;   /* owned by meta now */
    if (!meta) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        goto out;
    }
    qt_registry_t *reg = qt_registry_open(c->registry, err, sizeof err);
    char id[65];
    qt_clock_t *clock = qt_clock_new_wall();
    int pr = reg && clock ? qt_registry_put(reg, meta, "model.json", buf, len,
                                            qt_clock_now_ms(clock), id, err, sizeof err)
                          : -1;
    qt_clock_destroy(&clock);
    qt_registry_close(&reg);
    if (pr != 0) {
        fprintf(stderr, "%s: registry %s: %s\n", PROG, c->registry, err);
        goto out;
    }
    if (json) {
        json_t *r = json_pack("{s:s, s:s, s:I, s:f, s:f, s:s}", "id", id, "name", o->name,
                              "events", (json_int_t)nrows, "cv_mean_logloss", sum_ll / nf,
                              "cv_mean_accuracy", sum_acc / nf, "model_sha256", "");
        char msha[65];
        qt_registry_sha256_hex(buf, len, msha);
        json_object_set_new(r, "model_sha256", json_string(msha));
        print_json(r);
        json_decref(r);
    } else {
        printf("trained %s: %zu events, %zu features, CV (%" PRIu64 "-fold purged) mean logloss "
               "%.4f accuracy %.4f\nartifact %s\n",
               o->name, nrows, ncols, o->folds, sum_ll / nf, sum_acc / nf, id);
    }
    rc = 0;
out:
    for (size_t i = 0; i < nrows; i++) free(rows[i].x);
    free(rows);
    for (size_t k = 0; k < QT_FS_MAX_OUTPUTS; k++) free(names[k]);
    json_decref(inputs);
    json_decref(meta);
    free(X);
    free(y);
    free(pred);
    free(t0);
    free(t1);
    free(Xtr);
    free(ytr);
    free(Xte);
    free(yte);
    free(tr);
    free(te);
    free(buf);
    qt_cv_destroy(&cv);
    qt_gbt_destroy(&model);
    return rc;
}

/* ------------------------------------------------------------------ dispatch */

static bool name_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 63) return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-' || ch == '.'))
            return false;
    }
    return true;
}

int qtctl_models(int argc, char **argv, int i, const char *config_path, bool json) {
    if (i >= argc) return uerr("models: missing command (%s)", "list|show|promote|rollback|train");
    const char *cmd = argv[i++];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    const char *registry = NULL, *by = NULL, *reason = NULL, *pos = NULL;
    train_opts_t o;
    memset(&o, 0, sizeof o);
    o.spec = DEFAULT_SPEC;
    o.horizon = 12;
    o.vol_window = 20;
    o.folds = 5;
    o.embargo = 12;
    o.pt = o.sl = 1.0;
    qt_gbt_params_default(&o.gbt);
    bool is_train = strcmp(cmd, "train") == 0;
    for (; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t u = 0;
        double d = 0;
#define NEED_VALUE() \
    do { \
        if (!v) return uerr("models: option %s needs a value", a); \
        i++; \
    } while (0)
        if (strcmp(a, "--registry") == 0) {
            NEED_VALUE();
            registry = v;
        } else if (strcmp(a, "--by") == 0 && !is_train) {
            NEED_VALUE();
            by = v;
        } else if (strcmp(a, "--reason") == 0 && !is_train) {
            NEED_VALUE();
            reason = v;
        } else if (is_train && strcmp(a, "--name") == 0) {
            NEED_VALUE();
            if (!name_ok(v)) return uerr("models train: --name '%s' must be [A-Za-z0-9_.-]{1,63}", v);
            o.name = v;
        } else if (is_train && strcmp(a, "--input") == 0) {
            NEED_VALUE();
            if (o.ninputs == MAX_INPUTS) return uerr("models train: more than %s inputs", "64");
            o.inputs[o.ninputs++] = v;
        } else if (is_train && strcmp(a, "--spec") == 0) {
            NEED_VALUE();
            o.spec = v;
        } else if (is_train && (strcmp(a, "--horizon") == 0 || strcmp(a, "--vol-window") == 0 ||
                                strcmp(a, "--folds") == 0 || strcmp(a, "--embargo") == 0 ||
                                strcmp(a, "--seed") == 0 || strcmp(a, "--rounds") == 0 ||
                                strcmp(a, "--max-depth") == 0)) {
            NEED_VALUE();
            if (qt_cli_parse_u64(v, &u) != 0) return uerr("models train: bad integer '%s'", v);
            if (strcmp(a, "--horizon") == 0) {
                if (u < 1 || u > 1000) return uerr("models train: --horizon %s not in [1, 1000]", v);
                o.horizon = u;
            } else if (strcmp(a, "--vol-window") == 0) {
                if (u < 2 || u > 1000) return uerr("models train: --vol-window %s not in [2, 1000]", v);
                o.vol_window = u;
            } else if (strcmp(a, "--folds") == 0) {
                if (u < 2 || u > 20) return uerr("models train: --folds %s not in [2, 20]", v);
                o.folds = u;
            } else if (strcmp(a, "--embargo") == 0) {
                if (u > 10000) return uerr("models train: --embargo %s not in [0, 10000]", v);
                o.embargo = u;
            } else if (strcmp(a, "--seed") == 0) {
                if (u > 0x7fffffffULL) return uerr("models train: --seed %s not in [0, 2^31)", v);
                o.gbt.seed = u;
            } else if (strcmp(a, "--rounds") == 0) {
                if (u < 1 || u > 10000) return uerr("models train: --rounds %s not in [1, 10000]", v);
                o.gbt.rounds = (uint32_t)u;
            } else {
                if (u < 1 || u > 16) return uerr("models train: --max-depth %s not in [1, 16]", v);
                o.gbt.max_depth = (uint32_t)u;
            }
        } else if (is_train && (strcmp(a, "--pt") == 0 || strcmp(a, "--sl") == 0 ||
                                strcmp(a, "--eta") == 0 || strcmp(a, "--subsample") == 0 ||
                                strcmp(a, "--colsample") == 0 ||
                                strcmp(a, "--min-child-weight") == 0)) {
            NEED_VALUE();
            if (parse_double(v, &d) != 0) return uerr("models train: bad number '%s'", v);
            if (strcmp(a, "--pt") == 0 || strcmp(a, "--sl") == 0) {
                if (!(d > 0.0 && d <= 100.0)) return uerr("models train: barrier %s not in (0, 100]", v);
                if (strcmp(a, "--pt") == 0) o.pt = d;
                else o.sl = d;
            } else if (strcmp(a, "--eta") == 0) {
                o.gbt.eta = d;
            } else if (strcmp(a, "--subsample") == 0) {
                o.gbt.subsample = d;
            } else if (strcmp(a, "--colsample") == 0) {
                o.gbt.colsample = d;
            } else {
                o.gbt.min_child_weight = d;
            }
        } else if (a[0] == '-' && a[1] == '-') {
            return uerr("models: unknown option '%s'", a);
        } else if (!pos && !is_train && strcmp(cmd, "list") != 0) {
            pos = a;
        } else {
            return uerr("models: unexpected argument '%s'", a);
        }
#undef NEED_VALUE
    }
    char why[128];
    if (is_train) {
        if (!o.name) return uerr("models train: --name is required%s", "");
        if (o.ninputs == 0) return uerr("models train: at least one --input is required%s", "");
        if (!qt_gbt_params_valid(&o.gbt, why, sizeof why)) return uerr("models train: %s", why);
    } else if (strcmp(cmd, "list") != 0 && strcmp(cmd, "show") != 0 &&
               strcmp(cmd, "promote") != 0 && strcmp(cmd, "rollback") != 0) {
        return uerr("models: unknown command '%s' (expected list, show, promote, rollback, train)", cmd);
    } else if (strcmp(cmd, "list") != 0 && !pos) {
        return uerr("models %s: missing argument", cmd);
    } else if ((strcmp(cmd, "show") == 0 || strcmp(cmd, "promote") == 0) &&
               !qt_registry_id_valid(pos)) {
        return uerr("models: '%s' is not an artifact id (64 lowercase hex digits)", pos);
    } else if (strcmp(cmd, "rollback") == 0 && !name_ok(pos)) {
        return uerr("models rollback: bad model name '%s'", pos);
    }
    bool mutating = strcmp(cmd, "promote") == 0 || strcmp(cmd, "rollback") == 0;
    if (mutating && (!reason || !*reason)) return uerr("models %s: --reason TEXT is required", cmd);
    if (!by || !*by) {
        by = getenv("USER");
        if (!by || !*by) by = "qtctl";
    }
    conf_t c;
    int rc = load_conf(&c, config_path, registry);
    if (rc != 0) {
        qt_config_destroy(&c.cfg);
        return rc;
    }
    if (is_train) {
        rc = train(&c, &o, json);
        qt_config_destroy(&c.cfg);
        return rc;
    }
    char err[512];
    qt_registry_t *reg = qt_registry_open(c.registry, err, sizeof err);
    if (!reg) {
        fprintf(stderr, "%s: %s\n", PROG, err);
        qt_config_destroy(&c.cfg);
        return EXIT_FAIL;
    }
    if (strcmp(cmd, "list") == 0) rc = cmd_list(reg, json);
    else if (strcmp(cmd, "show") == 0) rc = cmd_show(reg, pos, json);
    else rc = cmd_promote(&c, reg, pos, strcmp(cmd, "rollback") == 0, by, reason, json);
    qt_registry_close(&reg);
    qt_config_destroy(&c.cfg);
    return rc;
}
