/* models: the signal generators, the ensemble, the alpha/beta translator and the
 * XGBoost hot swap; formulas in models.h, docs in docs/quant/models.md. */
#include "models.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATE_MAGIC 0x444D5451u   /* "QTMD" */
#define STATE_VERSION 1u

/* ------------------------------------------------------------------ helpers */

static bool symbol_ok(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > MODELS_SYMBOL_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '_' && c != '-' && c != '.') return false;
    }
    return true;
}

static bool fv_ok(const Qt__V1__FeatureVector *fv) {
    return fv && fv->feature_schema >= 1u && symbol_ok(fv->symbol) && fv->bar_time_ms >= 0 &&
           fv->bar_time_ms <= INT64_MAX / 1000000;
}

/* Looks a feature up by name: true with *v when present, ready and finite. */
static bool feature(const Qt__V1__FeatureVector *fv, const char *name, double *v) {
    for (size_t i = 0; i < fv->n_features; i++) {
        const Qt__V1__Feature *f = fv->features[i];
        if (f && f->name && strcmp(f->name, name) == 0) {
            if (!f->ready || !isfinite(f->value)) return false;
            *v = f->value;
            return true;
        }
    }
    return false;
}

/* Volatility feature: true with the raw value (>= 0) in *raw and the floored one. */
static bool vol_feature(const Qt__V1__FeatureVector *fv, const char *name, double *raw,
                        double *floored) {
    if (!feature(fv, name, raw) || *raw < 0.0) {
        *raw = 0.0;
        return false;
    }
    *floored = *raw > MODELS_VOL_FLOOR ? *raw : MODELS_VOL_FLOOR;
    return true;
}

static void raw_set(models_raw_t *o, double score) {
    if (!isfinite(score)) return;   /* stays not ready */
    o->score = score;
    o->confidence = fabs(score);
    o->ready = true;
}

static bool fname_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > MODELS_FNAME_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '_' && c != '.') return false;
    }
    return true;
}

/* ------------------------------------------------------------------ config */

void models_cfg_default(models_cfg_t *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->model, sizeof c->model, "%s", MODELS_MA_V1);
    c->ma_v1.gain = 1.0;
    snprintf(c->tsmom.roc, sizeof c->tsmom.roc, "roc_60");
    snprintf(c->tsmom.vol, sizeof c->tsmom.vol, "rvol");
    c->tsmom.horizon = 60.0;
    c->tsmom.gain = 1.0;
    c->tsmom.roc_scale = 0.01;
    snprintf(c->xsmom.roc, sizeof c->xsmom.roc, "roc_60");
    snprintf(c->xsmom.vol, sizeof c->xsmom.vol, "rvol");
    c->xsmom.min_symbols = 3;
    snprintf(c->meanrev.z, sizeof c->meanrev.z, "zscore_20");
    snprintf(c->meanrev.vol, sizeof c->meanrev.vol, "rvol");
    c->meanrev.gain = 0.5;
    snprintf(c->voltrend.fast, sizeof c->voltrend.fast, "ema_fast");
    snprintf(c->voltrend.slow, sizeof c->voltrend.slow, "ema_slow");
    snprintf(c->voltrend.vol, sizeof c->voltrend.vol, "rvol");
    c->voltrend.target_vol = 0.01;
    snprintf(c->xgb.vol, sizeof c->xgb.vol, "rvol");
    snprintf(c->xgb.registry_name, sizeof c->xgb.registry_name, "xgb_v1");
    c->ensemble.n = 3;
    snprintf(c->ensemble.member[0], sizeof c->ensemble.member[0], "%s", MODELS_MA_V1);
    snprintf(c->ensemble.member[1], sizeof c->ensemble.member[1], "%s", MODELS_TSMOM);
    snprintf(c->ensemble.member[2], sizeof c->ensemble.member[2], "%s", MODELS_MEANREV);
    c->ensemble.weight[0] = 0.5;
    c->ensemble.weight[1] = 0.3;
    c->ensemble.weight[2] = 0.2;
    c->drift.window = 500;
    c->drift.min_n = 100;
    c->drift.psi_alert = 0.25;
    c->drift.ks_alert_p = 0.01;
}

static const models_vtable_t *vt_find(const char *name);

static bool gain_ok(double g) { return isfinite(g) && g > 0.0 && g <= 1000.0; }

bool models_cfg_valid(const models_cfg_t *c, char *why, size_t whylen) {
    char b[160] = "";
    const models_vtable_t *vt = vt_find(c->model);
    if (!vt) snprintf(b, sizeof b, "model '%s' unknown", c->model);
    else if (!gain_ok(c->ma_v1.gain)) snprintf(b, sizeof b, "ma_v1.gain %g not in (0, 1000]", c->ma_v1.gain);
    else if (!gain_ok(c->tsmom.gain)) snprintf(b, sizeof b, "tsmom.gain %g not in (0, 1000]", c->tsmom.gain);
    else if (!(isfinite(c->tsmom.roc_scale) && c->tsmom.roc_scale > 0.0 && c->tsmom.roc_scale <= 1.0))
        snprintf(b, sizeof b, "tsmom.roc_scale %g not in (0, 1]", c->tsmom.roc_scale);
    else if (!(isfinite(c->tsmom.horizon) && c->tsmom.horizon >= 1.0 && c->tsmom.horizon <= 10000.0))
        snprintf(b, sizeof b, "tsmom.horizon %g not in [1, 10000]", c->tsmom.horizon);
    else if (c->xsmom.min_symbols < 2 || c->xsmom.min_symbols > MODELS_BATCH_MAX)
        snprintf(b, sizeof b, "xsmom.min_symbols %u not in [2, %d]", c->xsmom.min_symbols, MODELS_BATCH_MAX);
    else if (!gain_ok(c->meanrev.gain)) snprintf(b, sizeof b, "meanrev.gain %g not in (0, 1000]", c->meanrev.gain);
    else if (!(isfinite(c->voltrend.target_vol) && c->voltrend.target_vol > 0.0 && c->voltrend.target_vol <= 1.0))
        snprintf(b, sizeof b, "voltrend.target_vol %g not in (0, 1]", c->voltrend.target_vol);
    else if (c->drift.window < 10 || c->drift.window > 100000 || c->drift.min_n < 2 ||
             c->drift.min_n > c->drift.window)
        snprintf(b, sizeof b, "drift.window %u / min_n %u: need 10 <= window <= 100000, "
                 "2 <= min_n <= window", c->drift.window, c->drift.min_n);
    else if (!(c->drift.psi_alert > 0.0 && c->drift.psi_alert <= 100.0) ||
             !(c->drift.ks_alert_p > 0.0 && c->drift.ks_alert_p < 1.0))
        snprintf(b, sizeof b, "drift.psi_alert not in (0, 100] or ks_alert_p not in (0, 1)");
    else {
        const char *names[] = {c->tsmom.roc, c->tsmom.vol, c->xsmom.roc, c->xsmom.vol,
                               c->meanrev.z, c->meanrev.vol, c->voltrend.fast,
                               c->voltrend.slow, c->voltrend.vol, c->xgb.vol};
        for (size_t i = 0; i < sizeof names / sizeof names[0] && !*b; i++)
            if (!fname_ok(names[i])) snprintf(b, sizeof b, "feature name '%s' invalid", names[i]);
        if (!*b && !fname_ok(c->xgb.registry_name))
            snprintf(b, sizeof b, "xgb.registry_name '%s' invalid", c->xgb.registry_name);
        if (!*b && strcmp(c->model, MODELS_ENSEMBLE) == 0) {
            if (c->ensemble.n < 1 || c->ensemble.n > MODELS_MAX_MEMBERS)
                snprintf(b, sizeof b, "ensemble needs 1..%d members", MODELS_MAX_MEMBERS);
            for (size_t i = 0; i < c->ensemble.n && !*b; i++) {
                const models_vtable_t *m = vt_find(c->ensemble.member[i]);
                if (!m || m->cross_sectional || strcmp(m->name, MODELS_ENSEMBLE) == 0)
                    snprintf(b, sizeof b, "ensemble member '%s' not a per-symbol model",
                             c->ensemble.member[i]);
                else if (!(isfinite(c->ensemble.weight[i]) && c->ensemble.weight[i] > 0.0 &&
                           c->ensemble.weight[i] <= 1000.0))
                    snprintf(b, sizeof b, "ensemble weight %g not in (0, 1000]", c->ensemble.weight[i]);
                for (size_t j = 0; j < i && !*b; j++)
                    if (strcmp(c->ensemble.member[i], c->ensemble.member[j]) == 0)
                        snprintf(b, sizeof b, "ensemble member '%s' twice", c->ensemble.member[i]);
            }
        }
    }
    if (*b && why) snprintf(why, whylen, "%s", b);
    return *b == '\0';
}

/* ------------------------------------------------------------------ translator */

void models_ab_default(models_ab_t *ab) {
    memset(ab, 0, sizeof *ab);
    ab->dflt = (models_ab_coef_t){.k_alpha = 1.0, .conf_power = 0.0, .beta = 1.0,
                                  .beta_uncertainty = 0.0};
}

static bool coef_ok(const models_ab_coef_t *c) {
    return isfinite(c->k_alpha) && c->k_alpha >= 0.0 && c->k_alpha <= 1000.0 &&
           isfinite(c->conf_power) && c->conf_power >= 0.0 && c->conf_power <= 10.0 &&
           isfinite(c->beta) && c->beta > 0.0 && c->beta <= 1000.0 &&
           isfinite(c->beta_uncertainty) && c->beta_uncertainty >= 0.0 &&
           c->beta_uncertainty <= 100.0;
}

bool models_ab_valid(const models_ab_t *ab, char *why, size_t whylen) {
    const char *bad = NULL;
    if (!coef_ok(&ab->dflt)) bad = "default";
    for (size_t i = 0; i < ab->n && !bad; i++)
        if (!vt_find(ab->name[i]) || !coef_ok(&ab->coef[i])) bad = ab->name[i];
    if (bad && why)
        snprintf(why, whylen,
                 "'%s': unknown model or coefficient out of range (k_alpha [0,1000], "
                 "conf_power [0,10], beta (0,1000], beta_uncertainty [0,100])",
                 bad);
    return bad == NULL;
}

const models_ab_coef_t *models_ab_for(const models_ab_t *ab, const char *model) {
    for (size_t i = 0; i < ab->n; i++)
        if (strcmp(ab->name[i], model) == 0) return &ab->coef[i];
    return &ab->dflt;
}

void models_ab_apply(const models_ab_coef_t *c, Qt__V1__Signal *s) {
    if (!s->ready) {
        s->alpha = 0.0;
        s->beta = c->beta;
        return;
    }
    double cw = c->conf_power == 0.0 ? 1.0 : pow(s->confidence, c->conf_power);
    s->alpha = c->k_alpha * s->score * cw * s->volatility;
    s->beta = c->beta * (1.0 + c->beta_uncertainty * (1.0 - s->confidence));
}

/* ------------------------------------------------------------------ generators */

static bool nop_init(models_gen_t *g, const models_cfg_t *c, char *w, size_t wl) {
    (void)g, (void)c, (void)w, (void)wl;
    return true;
}
static void nop_free(models_gen_t *g) { (void)g; }

/* MA_v1 */
static void ma_on(models_gen_t *g, const Qt__V1__FeatureVector *fv, models_raw_t *o) {
    double fast, slow, rvol, vol;
    if (!vol_feature(fv, "rvol", &rvol, &vol)) return;
    o->vol = rvol;
    if (!feature(fv, "sma_fast", &fast) || !feature(fv, "sma_slow", &slow) || !(slow > 0.0) ||
        !(fast > 0.0))
        return;
    raw_set(o, tanh(g->cfg->ma_v1.gain * (fast / slow - 1.0) / vol));
}
static void ma_save(const models_gen_t *g, qt_buf_t *b) { qt_buf_put_f64(b, g->cfg->ma_v1.gain); }
static bool ma_load(const models_gen_t *g, qt_reader_t *r) {
    return qt_read_f64(r) == g->cfg->ma_v1.gain;
}

/* TSMOM_v1 */
static void ts_on(models_gen_t *g, const Qt__V1__FeatureVector *fv, models_raw_t *o) {
    double roc, rvol, vol;
    if (!vol_feature(fv, g->cfg->tsmom.vol, &rvol, &vol)) return;
    o->vol = rvol;
    if (!feature(fv, g->cfg->tsmom.roc, &roc)) return;
    raw_set(o, tanh(g->cfg->tsmom.gain * g->cfg->tsmom.roc_scale * roc /
                    (vol * sqrt(g->cfg->tsmom.horizon))));
}
static void ts_save(const models_gen_t *g, qt_buf_t *b) {
    qt_buf_put_str(b, g->cfg->tsmom.roc);
    qt_buf_put_str(b, g->cfg->tsmom.vol);
    qt_buf_put_f64(b, g->cfg->tsmom.horizon);
    qt_buf_put_f64(b, g->cfg->tsmom.gain);
    qt_buf_put_f64(b, g->cfg->tsmom.roc_scale);
}
static bool read_str_eq(qt_reader_t *r, const char *want) {
    char s[64];
    qt_read_str(r, s, sizeof s);
    return !r->err && strcmp(s, want) == 0;
}
static bool ts_load(const models_gen_t *g, qt_reader_t *r) {
    bool ok = read_str_eq(r, g->cfg->tsmom.roc);
    ok = read_str_eq(r, g->cfg->tsmom.vol) && ok;
    ok = (qt_read_f64(r) == g->cfg->tsmom.horizon) && ok;
    ok = (qt_read_f64(r) == g->cfg->tsmom.gain) && ok;
    return (qt_read_f64(r) == g->cfg->tsmom.roc_scale) && ok;
}

/* XSMOM_v1: on_features stores the key (roc) in o->score, ready = have key and vol */
static void xs_on(models_gen_t *g, const Qt__V1__FeatureVector *fv, models_raw_t *o) {
    double roc, rvol, vol;
    if (!vol_feature(fv, g->cfg->xsmom.vol, &rvol, &vol)) return;
    o->vol = rvol;
    if (!feature(fv, g->cfg->xsmom.roc, &roc)) return;
    o->score = roc;
    o->ready = true;
}
typedef struct {
    double key;
    const char *sym;
    size_t idx;
} xs_item_t;
static int xs_cmp(const void *a, const void *b) {
    const xs_item_t *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return strcmp(x->sym, y->sym);
}
static void xs_wm(models_gen_t *g, size_t n, const double *key, const bool *have,
                  const char *const *sym, models_raw_t *out) {
    xs_item_t *it = malloc((n ? n : 1) * sizeof *it);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        out[i].ready = false;
        out[i].score = out[i].confidence = 0.0;
        if (have[i] && it) it[m++] = (xs_item_t){key[i], sym[i], i};
    }
    if (it && m >= g->cfg->xsmom.min_symbols) {
        qsort(it, m, sizeof *it, xs_cmp);
        for (size_t r = 0; r < m; r++)
            raw_set(&out[it[r].idx], 2.0 * (double)r / (double)(m - 1) - 1.0);
    }
    free(it);
}
static void xs_save(const models_gen_t *g, qt_buf_t *b) {
    qt_buf_put_str(b, g->cfg->xsmom.roc);
    qt_buf_put_str(b, g->cfg->xsmom.vol);
    qt_buf_put_u32(b, g->cfg->xsmom.min_symbols);
}
static bool xs_load(const models_gen_t *g, qt_reader_t *r) {
    bool ok = read_str_eq(r, g->cfg->xsmom.roc);
    ok = read_str_eq(r, g->cfg->xsmom.vol) && ok;
    return (qt_read_u32(r) == g->cfg->xsmom.min_symbols) && ok;
}

/* MEANREV_v1 */
static void mr_on(models_gen_t *g, const Qt__V1__FeatureVector *fv, models_raw_t *o) {
    double z, rvol, vol;
    if (!vol_feature(fv, g->cfg->meanrev.vol, &rvol, &vol)) return;
    o->vol = rvol;
    if (!feature(fv, g->cfg->meanrev.z, &z)) return;
    raw_set(o, -tanh(g->cfg->meanrev.gain * z));
}
static void mr_save(const models_gen_t *g, qt_buf_t *b) {
    qt_buf_put_str(b, g->cfg->meanrev.z);
    qt_buf_put_str(b, g->cfg->meanrev.vol);
    qt_buf_put_f64(b, g->cfg->meanrev.gain);
}
static bool mr_load(const models_gen_t *g, qt_reader_t *r) {
    bool ok = read_str_eq(r, g->cfg->meanrev.z);
    ok = read_str_eq(r, g->cfg->meanrev.vol) && ok;
    return (qt_read_f64(r) == g->cfg->meanrev.gain) && ok;
}

/* VOLTREND_v1 */
static void vt_on(models_gen_t *g, const Qt__V1__FeatureVector *fv, models_raw_t *o) {
    double fast, slow, rvol, vol;
    if (!vol_feature(fv, g->cfg->voltrend.vol, &rvol, &vol)) return;
    o->vol = rvol;
    if (!feature(fv, g->cfg->voltrend.fast, &fast) || !feature(fv, g->cfg->voltrend.slow, &slow))
        return;
    double dir = fast > slow ? 1.0 : fast < slow ? -1.0 : 0.0;
    double lev = g->cfg->voltrend.target_vol / vol;
    raw_set(o, dir * (lev < 1.0 ? lev : 1.0));
}
static void vt_save(const models_gen_t *g, qt_buf_t *b) {
    qt_buf_put_str(b, g->cfg->voltrend.fast);
    qt_buf_put_str(b, g->cfg->voltrend.slow);
    qt_buf_put_str(b, g->cfg->voltrend.vol);
    qt_buf_put_f64(b, g->cfg->voltrend.target_vol);
}
static bool vt_load(const models_gen_t *g, qt_reader_t *r) {
    bool ok = read_str_eq(r, g->cfg->voltrend.fast);
    ok = read_str_eq(r, g->cfg->voltrend.slow) && ok;
    ok = read_str_eq(r, g->cfg->voltrend.vol) && ok;
    return (qt_read_f64(r) == g->cfg->voltrend.target_vol) && ok;
}

/* XGB_v1 */
typedef struct {
    qt_gbt_t *booster;
    size_t n;
    models_fname_t names[MODELS_MAX_XGB_FEATURES];
    char version[MODELS_VERSION_MAX + 1];
} xgb_state_t;
static bool xgb_init(models_gen_t *g, const models_cfg_t *c, char *w, size_t wl) {
    (void)c;
    g->state = calloc(1, sizeof(xgb_state_t));
    if (!g->state && w) snprintf(w, wl, "out of memory");
    return g->state != NULL;
}
static void xgb_on(models_gen_t *g, const Qt__V1__FeatureVector *fv, models_raw_t *o) {
    xgb_state_t *s = g->state;
    double rvol, vol;
    if (!vol_feature(fv, g->cfg->xgb.vol, &rvol, &vol)) return;
    o->vol = rvol;
    if (!s->booster) return;
    float row[MODELS_MAX_XGB_FEATURES], p;
    for (size_t i = 0; i < s->n; i++) {
        double v;
        if (!feature(fv, s->names[i], &v)) return;
        row[i] = (float)v;
    }
    if (qt_gbt_predict(s->booster, row, 1, &p) != 0 || !(p >= 0.0f && p <= 1.0f)) return;
    raw_set(o, 2.0 * (double)p - 1.0);
}
static void xgb_save(const models_gen_t *g, qt_buf_t *b) { qt_buf_put_str(b, g->cfg->xgb.registry_name); }
static bool xgb_load(const models_gen_t *g, qt_reader_t *r) {
    return read_str_eq(r, g->cfg->xgb.registry_name);
}
static void xgb_free(models_gen_t *g) {
    xgb_state_t *s = g->state;
    if (s) qt_gbt_destroy(&s->booster);
    free(s);
    g->state = NULL;
}

/* ENSEMBLE_v1 */
typedef struct {
    models_gen_t m[MODELS_MAX_MEMBERS];
    size_t n;
} ens_state_t;
static bool ens_init(models_gen_t *g, const models_cfg_t *c, char *w, size_t wl) {
    ens_state_t *s = calloc(1, sizeof *s);
    if (!s) {
        if (w) snprintf(w, wl, "out of memory");
        return false;
    }
    g->state = s;
    for (size_t i = 0; i < c->ensemble.n; i++) {
        models_gen_t *m = &s->m[i];
        m->vt = vt_find(c->ensemble.member[i]);
        m->cfg = c;
        if (!m->vt || !m->vt->init(m, c, w, wl)) return false;
        s->n = i + 1;
    }
    return true;
}
static void ens_on(models_gen_t *g, const Qt__V1__FeatureVector *fv, models_raw_t *o) {
    ens_state_t *s = g->state;
    double ws = 0.0, sc = 0.0, cf = 0.0;
    bool all = true;
    for (size_t i = 0; i < s->n; i++) {
        models_raw_t r = {0};
        s->m[i].vt->on_features(&s->m[i], fv, &r);
        if (i == 0) o->vol = r.vol;
        if (!r.ready) all = false;
        double w = g->cfg->ensemble.weight[i];
        ws += w;
        sc += w * r.score;
        cf += w * r.confidence;
    }
    if (!all || !(ws > 0.0)) return;
    o->score = sc / ws;
    o->confidence = cf / ws;
    o->ready = isfinite(o->score) && isfinite(o->confidence);
    if (!o->ready) o->score = o->confidence = 0.0;
}
static void ens_save(const models_gen_t *g, qt_buf_t *b) {
    const ens_state_t *s = g->state;
    qt_buf_put_u32(b, (uint32_t)s->n);
    for (size_t i = 0; i < s->n; i++) {
        qt_buf_put_str(b, s->m[i].vt->name);
        qt_buf_put_f64(b, g->cfg->ensemble.weight[i]);
        s->m[i].vt->save(&s->m[i], b);
    }
}
static bool ens_load(const models_gen_t *g, qt_reader_t *r) {
    const ens_state_t *s = g->state;
    if (qt_read_u32(r) != s->n || r->err) return false;
    for (size_t i = 0; i < s->n; i++) {
        if (!read_str_eq(r, s->m[i].vt->name) || qt_read_f64(r) != g->cfg->ensemble.weight[i] ||
            !s->m[i].vt->load(&s->m[i], r))
            return false;
    }
    return !r->err;
}
static void ens_free(models_gen_t *g) {
    ens_state_t *s = g->state;
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) s->m[i].vt->free(&s->m[i]);
    free(s);
    g->state = NULL;
}

static const models_vtable_t VT[] = {
    {MODELS_MA_V1, false, nop_init, ma_on, NULL, ma_save, ma_load, nop_free},
    {MODELS_TSMOM, false, nop_init, ts_on, NULL, ts_save, ts_load, nop_free},
    {MODELS_XSMOM, true, nop_init, xs_on, xs_wm, xs_save, xs_load, nop_free},
    {MODELS_MEANREV, false, nop_init, mr_on, NULL, mr_save, mr_load, nop_free},
    {MODELS_VOLTREND, false, nop_init, vt_on, NULL, vt_save, vt_load, nop_free},
    {MODELS_XGB, false, xgb_init, xgb_on, NULL, xgb_save, xgb_load, xgb_free},
    {MODELS_ENSEMBLE, false, ens_init, ens_on, NULL, ens_save, ens_load, ens_free},
};

static const models_vtable_t *vt_find(const char *name) {
    for (size_t i = 0; i < sizeof VT / sizeof VT[0]; i++)
        if (strcmp(VT[i].name, name) == 0) return &VT[i];
    return NULL;
}

/* ------------------------------------------------------------------ legacy MA_v1 */

models_rc_t models_ma_v1(const models_cfg_t *cfg, const Qt__V1__FeatureVector *fv,
                         Qt__V1__Signal *out) {
    if (!fv_ok(fv)) return MODELS_INVALID;
    models_gen_t g = {.vt = &VT[0], .cfg = cfg, .state = NULL};
    models_raw_t r = {0};
    ma_on(&g, fv, &r);
    qt__v1__signal__init(out);
    out->model = (char *)MODELS_MA_V1;
    out->symbol = fv->symbol;
    out->bar_time_ms = fv->bar_time_ms;
    out->close = fv->close;
    out->ready = r.ready;
    out->score = r.score;
    out->confidence = r.confidence;
    out->volatility = r.vol;
    out->model_version = (char *)MODELS_BUILTIN;
    models_ab_coef_t c = {1.0, 0.0, 1.0, 0.0};
    models_ab_apply(&c, out);
    return MODELS_OK;
}

/* ------------------------------------------------------------------ models_t */

typedef struct {
    char symbol[MODELS_SYMBOL_MAX + 1];
    int64_t bar_time_ms;
    int64_t close;
    double key, vol;
    bool have;
} pending_t;

struct models_t {
    models_cfg_t cfg;
    models_ab_t ab;
    const models_ab_coef_t *coef;
    models_gen_t gen;
    char version[MODELS_VERSION_MAX + 1];
    pending_t *pend;
    size_t npend, cap;
};

models_t *models_new(const models_cfg_t *cfg, const models_ab_t *ab, char *why, size_t whylen) {
    if (!models_cfg_valid(cfg, why, whylen)) return NULL;
    models_ab_t dab;
    if (!ab) {
        models_ab_default(&dab);
        ab = &dab;
    }
    if (!models_ab_valid(ab, why, whylen)) return NULL;
    models_t *m = calloc(1, sizeof *m);
    if (!m) {
        if (why) snprintf(why, whylen, "out of memory");
        return NULL;
    }
    m->cfg = *cfg;
    m->ab = *ab;
    m->gen.vt = vt_find(m->cfg.model);
    m->gen.cfg = &m->cfg;
    m->coef = models_ab_for(&m->ab, m->gen.vt->name);
    snprintf(m->version, sizeof m->version, "%s", MODELS_BUILTIN);
    if (!m->gen.vt->init(&m->gen, &m->cfg, why, whylen)) {
        models_destroy(&m);
        return NULL;
    }
    return m;
}

void models_destroy(models_t **self_p) {
    if (!self_p || !*self_p) return;
    models_t *m = *self_p;
    if (m->gen.vt) m->gen.vt->free(&m->gen);
    free(m->pend);
    free(m);
    *self_p = NULL;
}

const char *models_name(const models_t *self) { return self->gen.vt->name; }
bool models_cross_sectional(const models_t *self) { return self->gen.vt->cross_sectional; }
const char *models_version(const models_t *self) { return self->version; }
size_t models_pending(const models_t *self) { return self->npend; }

static void out_fill(models_t *m, models_out_t *o, const char *symbol, int64_t t, int64_t close,
                     const models_raw_t *r) {
    memset(o, 0, sizeof *o);
    qt__v1__signal__init(&o->sig);
    snprintf(o->symbol, sizeof o->symbol, "%s", symbol);
    snprintf(o->version, sizeof o->version, "%s", m->version);
    o->sig.model = (char *)m->gen.vt->name;
    o->sig.symbol = o->symbol;
    o->sig.model_version = o->version;
    o->sig.bar_time_ms = t;
    o->sig.close = close;
    o->sig.ready = r->ready;
    o->sig.score = r->ready ? r->score : 0.0;
    o->sig.confidence = r->ready ? r->confidence : 0.0;
    o->sig.volatility = r->vol;
    models_ab_apply(m->coef, &o->sig);
}

models_rc_t models_on_features(models_t *self, const Qt__V1__FeatureVector *fv,
                               models_out_t *out, bool *emitted) {
    *emitted = false;
    if (!fv_ok(fv)) return MODELS_INVALID;
    models_raw_t r = {0};
    self->gen.vt->on_features(&self->gen, fv, &r);
    if (!self->gen.vt->cross_sectional) {
        out_fill(self, out, fv->symbol, fv->bar_time_ms, fv->close, &r);
        *emitted = true;
        return MODELS_OK;
    }
    size_t i = 0;
    while (i < self->npend && strcmp(self->pend[i].symbol, fv->symbol) != 0) i++;
    if (i == self->npend) {
        if (self->npend == MODELS_BATCH_MAX) return MODELS_INVALID;
        if (self->npend == self->cap) {
            size_t nc = self->cap ? self->cap * 2 : 64;
            pending_t *p = realloc(self->pend, nc * sizeof *p);
            if (!p) return MODELS_INVALID;
            self->pend = p;
            self->cap = nc;
        }
        self->npend++;
    }
    pending_t *p = &self->pend[i];
    snprintf(p->symbol, sizeof p->symbol, "%s", fv->symbol);
    p->bar_time_ms = fv->bar_time_ms;
    p->close = fv->close;
    p->key = r.score;
    p->vol = r.vol;
    p->have = r.ready;
    return MODELS_OK;
}

static int pend_cmp(const void *a, const void *b) {
    return strcmp(((const pending_t *)a)->symbol, ((const pending_t *)b)->symbol);
}

size_t models_on_watermark(models_t *self, models_out_t *out, size_t cap) {
    size_t n = self->npend;
    if (!self->gen.vt->cross_sectional || n == 0 || cap < n) return 0;
    qsort(self->pend, n, sizeof *self->pend, pend_cmp);
    double *key = malloc(n * sizeof *key);
    bool *have = malloc(n * sizeof *have);
    const char **sym = malloc(n * sizeof *sym);
    models_raw_t *raw = calloc(n, sizeof *raw);
    size_t k = 0;
    if (key && have && sym && raw) {
        for (size_t i = 0; i < n; i++) {
            key[i] = self->pend[i].key;
            have[i] = self->pend[i].have;
            sym[i] = self->pend[i].symbol;
        }
        self->gen.vt->on_watermark(&self->gen, n, key, have, sym, raw);
        for (size_t i = 0; i < n; i++) {
            raw[i].vol = self->pend[i].vol;
            out_fill(self, &out[i], self->pend[i].symbol, self->pend[i].bar_time_ms,
                     self->pend[i].close, &raw[i]);
        }
        k = n;
    }
    free(key);
    free(have);
    free(sym);
    free(raw);
    self->npend = 0;
    return k;
}

void models_save(const models_t *self, qt_buf_t *b) {
    qt_buf_put_u32(b, STATE_MAGIC);
    qt_buf_put_u32(b, STATE_VERSION);
    qt_buf_put_str(b, self->gen.vt->name);
    self->gen.vt->save(&self->gen, b);
}

bool models_load(models_t *self, qt_reader_t *r) {
    uint32_t magic = qt_read_u32(r), ver = qt_read_u32(r);
    bool ok = read_str_eq(r, self->gen.vt->name) && magic == STATE_MAGIC && ver == STATE_VERSION;
    ok = ok && self->gen.vt->load(&self->gen, r);
    return ok && !r->err && qt_reader_done(r);
}

/* ------------------------------------------------------------------ XGBoost swap */

static xgb_state_t *xgb_states(models_t *m, xgb_state_t **out, size_t cap) {
    size_t k = 0;
    if (m->gen.vt == vt_find(MODELS_XGB)) {
        out[k++] = m->gen.state;
    } else if (m->gen.vt == vt_find(MODELS_ENSEMBLE)) {
        ens_state_t *s = m->gen.state;
        for (size_t i = 0; i < s->n && k < cap; i++)
            if (s->m[i].vt == vt_find(MODELS_XGB)) out[k++] = s->m[i].state;
    }
    return k ? out[0] : NULL;
}

bool models_uses_xgb(const models_t *self) {
    xgb_state_t *st[1];
    return xgb_states((models_t *)self, st, 1) != NULL;
}

int models_install_xgb(models_t *self, qt_gbt_t *booster, const char *const *names,
                       size_t nnames, const char *version) {
    xgb_state_t *st[1];
    bool ok = booster && nnames >= 1 && nnames <= MODELS_MAX_XGB_FEATURES &&
              qt_gbt_ncols(booster) == nnames && version && *version &&
              strlen(version) <= MODELS_VERSION_MAX && xgb_states(self, st, 1);
    for (size_t i = 0; ok && i < nnames; i++) ok = names[i] && fname_ok(names[i]);
    if (!ok) {
        qt_gbt_destroy(&booster);
        return -1;
    }
    xgb_state_t *s = st[0];   /* an ensemble holds at most one XGB member (no duplicates) */
    qt_gbt_destroy(&s->booster);
    s->booster = booster;
    s->n = nnames;
    for (size_t i = 0; i < nnames; i++) snprintf(s->names[i], sizeof s->names[i], "%s", names[i]);
    snprintf(s->version, sizeof s->version, "%s", version);
    snprintf(self->version, sizeof self->version, "%s", version);
    return 0;
}

void models_reloader_init(models_reloader_t *r, int64_t interval_ns) {
    memset(r, 0, sizeof *r);
    r->interval_ns = interval_ns;
    r->last_ns = INT64_MIN;
}

int models_reload(models_t *self, models_reloader_t *r, int64_t now_ns) {
    if (!models_uses_xgb(self)) return 0;
    if (r->last_ns != INT64_MIN && now_ns - r->last_ns < r->interval_ns) return 0;
    r->last_ns = now_ns;
    char id[MODELS_VERSION_MAX + 1] = "";
    int pr = r->read_pointer(r->ud, id, sizeof id);
    if (pr < 0) return -1;
    if (pr == 0 || strcmp(id, self->version) == 0 || strcmp(id, r->failed_id) == 0) return 0;
    qt_gbt_t *b = NULL;
    models_fname_t names[MODELS_MAX_XGB_FEATURES];
    size_t n = 0;
    const char *np[MODELS_MAX_XGB_FEATURES];
    if (r->load(r->ud, id, &b, names, &n) != 0 || n > MODELS_MAX_XGB_FEATURES) {
        qt_gbt_destroy(&b);
        snprintf(r->failed_id, sizeof r->failed_id, "%s", id);
        return -1;
    }
    for (size_t i = 0; i < n; i++) np[i] = names[i];
    if (models_install_xgb(self, b, np, n, id) != 0) {
        snprintf(r->failed_id, sizeof r->failed_id, "%s", id);
        return -1;
    }
    return 1;
}
