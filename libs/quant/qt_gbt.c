/* qt_gbt: XGBoost binary classifier wrapper; see qt_gbt.h for why and the determinism
 * contract. Every XGBoost call is checked; its error text is copied into err. */
#include "qt_gbt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xgboost/c_api.h>

struct qt_gbt_t {
    BoosterHandle h;
    size_t ncols;
    char shape_cfg[160];   /* inplace-predict config, built once */
};

void qt_gbt_params_default(qt_gbt_params_t *p) {
    p->rounds = 100;
    p->max_depth = 3;
    p->eta = 0.05;
    p->subsample = 0.8;
    p->colsample = 0.8;
    p->min_child_weight = 5.0;
    p->lambda = 1.0;
    p->seed = 42;
}

static bool in01(double x) { return isfinite(x) && x > 0.0 && x <= 1.0; }

bool qt_gbt_params_valid(const qt_gbt_params_t *p, char *why, size_t whylen) {
    const char *bad = NULL;
    if (p->rounds < 1 || p->rounds > 10000) bad = "rounds not in [1, 10000]";
    else if (p->max_depth < 1 || p->max_depth > 16) bad = "max_depth not in [1, 16]";
    else if (!in01(p->eta)) bad = "eta not in (0, 1]";
    else if (!in01(p->subsample)) bad = "subsample not in (0, 1]";
    else if (!in01(p->colsample)) bad = "colsample not in (0, 1]";
    else if (!(isfinite(p->min_child_weight) && p->min_child_weight >= 0.0 &&
               p->min_child_weight <= 1e6))
        bad = "min_child_weight not in [0, 1e6]";
    else if (!(isfinite(p->lambda) && p->lambda >= 0.0 && p->lambda <= 1e6))
        bad = "lambda not in [0, 1e6]";
    if (bad && why) snprintf(why, whylen, "%s", bad);
    return bad == NULL;
}

static void xgb_err(char *err, size_t errlen, const char *what) {
    if (err) snprintf(err, errlen, "xgboost %s: %s", what, XGBGetLastError());
}

static int set_params(BoosterHandle h, const qt_gbt_params_t *p) {
    char v[64];
    int rc = 0;
    rc |= XGBoosterSetParam(h, "objective", "binary:logistic");
    rc |= XGBoosterSetParam(h, "eval_metric", "logloss");
    rc |= XGBoosterSetParam(h, "tree_method", "hist");
    rc |= XGBoosterSetParam(h, "nthread", "1");
    rc |= XGBoosterSetParam(h, "verbosity", "0");
    snprintf(v, sizeof v, "%u", p->max_depth);
    rc |= XGBoosterSetParam(h, "max_depth", v);
    snprintf(v, sizeof v, "%.17g", p->eta);
    rc |= XGBoosterSetParam(h, "eta", v);
    snprintf(v, sizeof v, "%.17g", p->subsample);
    rc |= XGBoosterSetParam(h, "subsample", v);
    snprintf(v, sizeof v, "%.17g", p->colsample);
    rc |= XGBoosterSetParam(h, "colsample_bytree", v);
    snprintf(v, sizeof v, "%.17g", p->min_child_weight);
    rc |= XGBoosterSetParam(h, "min_child_weight", v);
    snprintf(v, sizeof v, "%.17g", p->lambda);
    rc |= XGBoosterSetParam(h, "lambda", v);
    snprintf(v, sizeof v, "%llu", (unsigned long long)(p->seed & 0x7fffffffULL));
    rc |= XGBoosterSetParam(h, "seed", v);
    return rc ? -1 : 0;
}

static qt_gbt_t *wrap(BoosterHandle h, size_t ncols) {
    qt_gbt_t *g = calloc(1, sizeof *g);
    if (!g) {
        XGBoosterFree(h);
        return NULL;
    }
    g->h = h;
    g->ncols = ncols;
    snprintf(g->shape_cfg, sizeof g->shape_cfg,
             "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, "
             "\"iteration_end\": 0, \"strict_shape\": false, \"cache_id\": 0, \"missing\": NaN}");
    return g;
}

qt_gbt_t *qt_gbt_train(const float *X, size_t nrows, size_t ncols, const float *y,
                       const float *w, const qt_gbt_params_t *p, char *err, size_t errlen) {
    char why[128];
    if (!X || !y || nrows < 2 || ncols < 1 || ncols > 4096 || nrows > 100000000 / ncols) {
        if (err) snprintf(err, errlen, "training matrix %zu x %zu not usable", nrows, ncols);
        return NULL;
    }
    if (!qt_gbt_params_valid(p, why, sizeof why)) {
        if (err) snprintf(err, errlen, "parameters: %s", why);
        return NULL;
    }
    for (size_t i = 0; i < nrows; i++) {
        if (!(y[i] == 0.0f || y[i] == 1.0f) || (w && !(isfinite(w[i]) && w[i] >= 0.0f))) {
            if (err) snprintf(err, errlen, "row %zu: label must be 0/1, weight finite >= 0", i);
            return NULL;
        }
    }
    DMatrixHandle d = NULL;
    BoosterHandle h = NULL;
    if (XGDMatrixCreateFromMat_omp(X, (bst_ulong)nrows, (bst_ulong)ncols, NAN, &d, 1) != 0) {
        xgb_err(err, errlen, "matrix");
        return NULL;
    }
    if (XGDMatrixSetFloatInfo(d, "label", y, (bst_ulong)nrows) != 0 ||
        (w && XGDMatrixSetFloatInfo(d, "weight", w, (bst_ulong)nrows) != 0)) {
        xgb_err(err, errlen, "labels");
        XGDMatrixFree(d);
        return NULL;
    }
    if (XGBoosterCreate(&d, 1, &h) != 0 || set_params(h, p) != 0) {
        xgb_err(err, errlen, "booster");
        if (h) XGBoosterFree(h);
        XGDMatrixFree(d);
        return NULL;
    }
    for (uint32_t it = 0; it < p->rounds; it++) {
        if (XGBoosterUpdateOneIter(h, (int)it, d) != 0) {
            xgb_err(err, errlen, "update");
            XGBoosterFree(h);
            XGDMatrixFree(d);
            return NULL;
        }
    }
    XGDMatrixFree(d);
    qt_gbt_t *g = wrap(h, ncols);
    if (!g && err) snprintf(err, errlen, "out of memory");
    return g;
}

int qt_gbt_predict(qt_gbt_t *self, const float *X, size_t nrows, float *out) {
    if (!self || !X || !out || nrows == 0) return -1;
    char arr[192];
    snprintf(arr, sizeof arr,
             "{\"data\": [%llu, true], \"shape\": [%zu, %zu], \"typestr\": \"<f4\", "
             "\"version\": 3}",
             (unsigned long long)(uintptr_t)X, nrows, self->ncols);
    const bst_ulong *shape = NULL;
    bst_ulong dim = 0;
    const float *res = NULL;
    if (XGBoosterPredictFromDense(self->h, arr, self->shape_cfg, NULL, &shape, &dim, &res) != 0)
        return -1;
    bst_ulong total = 1;
    for (bst_ulong k = 0; k < dim; k++) total *= shape[k];
    if (total != nrows) return -1;
    memcpy(out, res, nrows * sizeof *out);
    return 0;
}

int qt_gbt_save(qt_gbt_t *self, uint8_t **buf, size_t *len) {
    bst_ulong n = 0;
    const char *p = NULL;
    if (!self || XGBoosterSaveModelToBuffer(self->h, "{\"format\": \"json\"}", &n, &p) != 0)
        return -1;
    *buf = malloc(n ? n : 1);
    if (!*buf) return -1;
    memcpy(*buf, p, n);
    *len = n;
    return 0;
}

qt_gbt_t *qt_gbt_load(const uint8_t *buf, size_t len, size_t ncols, char *err, size_t errlen) {
    BoosterHandle h = NULL;
    if (!buf || len == 0 || ncols == 0) {
        if (err) snprintf(err, errlen, "empty model");
        return NULL;
    }
    /* JSON models only: XGBoost 1.7's UBJSON reader reads past the end of a truncated
     * buffer (found under ASan), its JSON reader is bounds-checked. */
    size_t k = 0;
    while (k < len && (buf[k] == ' ' || buf[k] == '\n' || buf[k] == '\t' || buf[k] == '\r')) k++;
    size_t j = k + 1;
    while (j < len && (buf[j] == ' ' || buf[j] == '\n' || buf[j] == '\t' || buf[j] == '\r')) j++;
    if (k >= len || buf[k] != '{' || j >= len || buf[j] != '"') {
        if (err) snprintf(err, errlen, "not an XGBoost JSON model");
        return NULL;
    }
    if (XGBoosterCreate(NULL, 0, &h) != 0 || XGBoosterLoadModelFromBuffer(h, buf, len) != 0 ||
        XGBoosterSetParam(h, "nthread", "1") != 0) {
        xgb_err(err, errlen, "load");
        if (h) XGBoosterFree(h);
        return NULL;
    }
    bst_ulong nf = 0;
    if (XGBoosterGetNumFeature(h, &nf) != 0 || nf != ncols) {
        if (err) snprintf(err, errlen, "model expects %llu features, schema has %zu",
                          (unsigned long long)nf, ncols);
        XGBoosterFree(h);
        return NULL;
    }
    qt_gbt_t *g = wrap(h, ncols);
    if (!g && err) snprintf(err, errlen, "out of memory");
    return g;
}

size_t qt_gbt_ncols(const qt_gbt_t *self) { return self ? self->ncols : 0; }

void qt_gbt_destroy(qt_gbt_t **self_p) {
    if (!self_p || !*self_p) return;
    XGBoosterFree((*self_p)->h);
    free(*self_p);
    *self_p = NULL;
}

static double clip(double p) { return p < 1e-15 ? 1e-15 : p > 1.0 - 1e-15 ? 1.0 - 1e-15 : p; }

double qt_gbt_logloss(const float *p, const float *y, size_t n) {
    if (n == 0) return NAN;
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        double q = clip(p[i]);
        s -= y[i] > 0.5f ? log(q) : log(1.0 - q);
    }
    return s / (double)n;
}

double qt_gbt_accuracy(const float *p, const float *y, size_t n) {
    if (n == 0) return NAN;
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) ok += ((p[i] >= 0.5f) == (y[i] > 0.5f));
    return (double)ok / (double)n;
}

/* Selftest: a separable toy problem (y = x0 > 0) must be learnt, survive save/load and
 * train to identical bytes twice. */
int qt_gbt_selftest(bool verbose) {
    enum { N = 200 };
    float X[N * 2], y[N], p[N], q[N];
    int fails = 0;
    for (int i = 0; i < N; i++) {
        X[2 * i] = (float)(i - N / 2) / 10.0f;
        X[2 * i + 1] = (float)((i * 37) % 11);
        y[i] = X[2 * i] > 0.0f ? 1.0f : 0.0f;
    }
    qt_gbt_params_t prm;
    qt_gbt_params_default(&prm);
    prm.rounds = 20;
    prm.min_child_weight = 1.0;
    char err[256];
    qt_gbt_t *a = qt_gbt_train(X, N, 2, y, NULL, &prm, err, sizeof err);
    qt_gbt_t *b = qt_gbt_train(X, N, 2, y, NULL, &prm, err, sizeof err);
    if (!a || !b) {
        if (verbose) fprintf(stderr, "qt_gbt selftest: train: %s\n", err);
        qt_gbt_destroy(&a);
        qt_gbt_destroy(&b);
        return 1;
    }
    uint8_t *ba = NULL, *bb = NULL;
    size_t la = 0, lb = 0;
    fails += qt_gbt_save(a, &ba, &la) != 0 || qt_gbt_save(b, &bb, &lb) != 0;
    fails += !(ba && bb && la == lb && memcmp(ba, bb, la) == 0);
    fails += qt_gbt_predict(a, X, N, p) != 0;
    fails += !(qt_gbt_accuracy(p, y, N) == 1.0);
    qt_gbt_t *c = ba ? qt_gbt_load(ba, la, 2, err, sizeof err) : NULL;
    fails += c == NULL || qt_gbt_predict(c, X, N, q) != 0 || memcmp(p, q, sizeof p) != 0;
    fails += ba != NULL && qt_gbt_load(ba, la, 3, err, sizeof err) != NULL;   /* wrong width */
    free(ba);
    free(bb);
    qt_gbt_destroy(&a);
    qt_gbt_destroy(&b);
    qt_gbt_destroy(&c);
    if (verbose) fprintf(stderr, "qt_gbt selftest: %d failure(s)\n", fails);
    return fails;
}
