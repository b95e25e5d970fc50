/* models: MA_v1 signal; see models.h for the formula. */
#include "models.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define STATE_MAGIC 0x444D5451u   /* "QTMD" */
#define STATE_VERSION 1u

void models_cfg_default(models_cfg_t *cfg) { cfg->gain = 1.0; }

bool models_cfg_valid(const models_cfg_t *cfg, char *why, size_t whylen) {
    if (!(isfinite(cfg->gain) && cfg->gain > 0.0 && cfg->gain <= 1000.0)) {
        if (why) snprintf(why, whylen, "gain %g not in (0, 1000]", cfg->gain);
        return false;
    }
    return true;
}

static bool symbol_ok(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > MODELS_SYMBOL_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '_' && c != '-' && c != '.') return false;
    }
    return true;
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

models_rc_t models_ma_v1(const models_cfg_t *cfg, const Qt__V1__FeatureVector *fv,
                         Qt__V1__Signal *out) {
    if (!fv || fv->feature_schema != 1u || !symbol_ok(fv->symbol) || fv->bar_time_ms < 0 ||
        fv->bar_time_ms > INT64_MAX / 1000000)
        return MODELS_INVALID;
    qt__v1__signal__init(out);
    out->model = (char *)MODELS_MA_V1;
    out->symbol = fv->symbol;
    out->bar_time_ms = fv->bar_time_ms;
    out->close = fv->close;
    out->beta = 1.0;
    double fast, slow, rvol;
    bool have_vol = feature(fv, "rvol", &rvol) && rvol >= 0.0;
    out->volatility = have_vol ? rvol : 0.0;
    if (!have_vol || !feature(fv, "sma_fast", &fast) || !feature(fv, "sma_slow", &slow) ||
        !(slow > 0.0) || !(fast > 0.0))
        return MODELS_OK;   /* not ready */
    double vol = rvol > MODELS_VOL_FLOOR ? rvol : MODELS_VOL_FLOOR;
    double trend = fast / slow - 1.0;
    double score = tanh(cfg->gain * trend / vol);
    if (!isfinite(score)) return MODELS_OK;  /* cannot happen with finite inputs; stay safe */
    out->score = score;
    out->confidence = fabs(score);
    out->alpha = score * rvol;
    out->ready = true;
    return MODELS_OK;
}

void models_save(const models_cfg_t *cfg, qt_buf_t *b) {
    qt_buf_put_u32(b, STATE_MAGIC);
    qt_buf_put_u32(b, STATE_VERSION);
    qt_buf_put_str(b, MODELS_MA_V1);
    qt_buf_put_f64(b, cfg->gain);
}

bool models_load(const models_cfg_t *cfg, qt_reader_t *r) {
    char model[16];
    uint32_t magic = qt_read_u32(r), ver = qt_read_u32(r);
    qt_read_str(r, model, sizeof model);
    double gain = qt_read_f64(r);
    return !r->err && magic == STATE_MAGIC && ver == STATE_VERSION &&
           strcmp(model, MODELS_MA_V1) == 0 && gain == cfg->gain && qt_reader_done(r);
}
