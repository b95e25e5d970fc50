/* qt_featureset: spec parser, per-bar update, snapshots and batch twin; see
 * qt_featureset.h. Each item's indicator state is allocated at its own size (a stoch is
 * ~10 KiB, an obv 24 bytes), so a set per symbol stays small. */
#include "qt_featureset.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qt_indicators.h"

#define FS_MAGIC 0x53465451u   /* "QTFS" */
#define MAX_HORIZON_MS (366LL * 86400000LL)

typedef enum {
    K_SMA, K_EMA, K_WMA, K_RSI, K_ATR, K_ROC, K_MOM, K_ZSCORE, K_VWAP, K_RVOL, K_RVOL_PK,
    K_RVOL_GK, K_MACD, K_BBANDS, K_STOCH, K_OBV, K__COUNT
} kind_t;

static const struct {
    const char *name;
    int nparams;
    uint32_t min_n;      /* lower bound of the first parameter */
    uint32_t max_n;
    int nout;
    const char *out[3];  /* output name prefixes (multi-output kinds) */
} KINDS[K__COUNT] = {
    [K_SMA] = {"sma", 1, 1, QT_IND_MAX_WINDOW, 1, {NULL}},
    [K_EMA] = {"ema", 1, 1, QT_IND_MAX_WINDOW, 1, {NULL}},
    [K_WMA] = {"wma", 1, 1, QT_IND_MAX_WINDOW, 1, {NULL}},
    [K_RSI] = {"rsi", 1, 1, QT_IND_MAX_WINDOW, 1, {NULL}},
    [K_ATR] = {"atr", 1, 1, QT_IND_MAX_WINDOW, 1, {NULL}},
    [K_ROC] = {"roc", 1, 1, QT_IND_MAX_WINDOW - 1, 1, {NULL}},
    [K_MOM] = {"mom", 1, 1, QT_IND_MAX_WINDOW - 1, 1, {NULL}},
    [K_ZSCORE] = {"zscore", 1, 2, QT_IND_MAX_WINDOW, 1, {NULL}},
    [K_VWAP] = {"vwap", 1, 1, QT_IND_MAX_WINDOW, 1, {NULL}},
    [K_RVOL] = {"rvol", 1, 2, QT_IND_MAX_WINDOW, 1, {NULL}},
    [K_RVOL_PK] = {"rvol_parkinson", 1, 1, QT_IND_MAX_WINDOW, 1, {NULL}},
    [K_RVOL_GK] = {"rvol_gk", 1, 1, QT_IND_MAX_WINDOW, 1, {NULL}},
    [K_MACD] = {"macd", 3, 1, QT_IND_MAX_WINDOW, 3, {"macd_", "macd_signal_", "macd_hist_"}},
    [K_BBANDS] = {"bbands", 2, 2, QT_IND_MAX_WINDOW, 3, {"bb_mid_", "bb_upper_", "bb_lower_"}},
    [K_STOCH] = {"stoch", 2, 1, QT_IND_MAX_WINDOW, 2, {"stoch_k_", "stoch_d_"}},
    [K_OBV] = {"obv", 0, 0, 0, 1, {NULL}},
};

typedef struct {
    kind_t kind;
    uint32_t p[3];
    double k;            /* bbands width */
    size_t out0;         /* index of its first output */
    void *st;            /* indicator state */
    size_t st_size;
} item_t;

struct qt_featureset_t {
    char spec[QT_FS_SPEC_MAX + 1];
    char suffix[QT_FS_NAME_MAX];
    int64_t base_ms, horizon_ms;
    size_t n_items, n_out;
    item_t items[QT_FS_MAX_ITEMS];
    char name_buf[QT_FS_MAX_OUTPUTS][QT_FS_NAME_MAX];
    const char *names[QT_FS_MAX_OUTPUTS];
    double values[QT_FS_MAX_OUTPUTS];
    bool ready[QT_FS_MAX_OUTPUTS];
    uint64_t bars, rejected;
    int64_t last_t;       /* last accepted input bar (INT64_MIN before) */
    int64_t value_t;      /* time of the bar/bucket behind values (INT64_MIN before) */
    bool open;            /* a bucket is being aggregated */
    qt_fs_bar_t bucket;   /* t_ms = bucket start */
};

/* ---- spec parsing ------------------------------------------------------------------- */

static bool parse_uint(const char *s, size_t len, uint32_t *out) {
    if (len == 0 || len > 6 || (len > 1 && s[0] == '0')) return false;
    uint32_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10u + (uint32_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* Decimal "D+[.D+]", value in (0, 100]. */
static bool parse_width(const char *s, size_t len, double *out) {
    if (len == 0 || len > 12) return false;
    char buf[16];
    size_t dots = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '.') {
            if (++dots > 1 || i == 0 || i + 1 == len) return false;
        } else if (s[i] < '0' || s[i] > '9') {
            return false;
        }
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    double v = strtod(buf, NULL);
    if (!isfinite(v) || !(v > 0.0) || v > 100.0) return false;
    *out = v;
    return true;
}

static size_t state_size(kind_t k) {
    switch (k) {
    case K_SMA: return sizeof(qt_ind_sma_t);
    case K_EMA: return sizeof(qt_ind_ema_t);
    case K_WMA: return sizeof(qt_ind_wma_t);
    case K_RSI: return sizeof(qt_ind_rsi_t);
    case K_ATR: return sizeof(qt_ind_atr_t);
    case K_ROC:
    case K_MOM: return sizeof(qt_ind_roc_t);
    case K_ZSCORE: return sizeof(qt_ind_rollstat_t);
    case K_VWAP: return sizeof(qt_ind_vwap_t);
    case K_RVOL: return sizeof(qt_ind_rvol_t);
    case K_RVOL_PK:
    case K_RVOL_GK: return sizeof(qt_ind_rangevol_t);
    case K_MACD: return sizeof(qt_ind_macd_t);
    case K_BBANDS: return sizeof(qt_ind_bbands_t);
    case K_STOCH: return sizeof(qt_ind_stoch_t);
    case K_OBV: return sizeof(qt_ind_obv_t);
    default: return 0;
    }
}

static bool item_init(item_t *it) {
    void *s = it->st;
    uint32_t n = it->p[0];
    switch (it->kind) {
    case K_SMA: return qt_ind_sma_init(s, n);
    case K_EMA: return qt_ind_ema_init(s, n);
    case K_WMA: return qt_ind_wma_init(s, n);
    case K_RSI: return qt_ind_rsi_init(s, n);
    case K_ATR: return qt_ind_atr_init(s, n);
    case K_ROC:
    case K_MOM: return qt_ind_roc_init(s, n);
    case K_ZSCORE: return qt_ind_rollstat_init(s, n);
    case K_VWAP: return qt_ind_vwap_init(s, n);
    case K_RVOL: return qt_ind_rvol_init(s, n);
    case K_RVOL_PK: return qt_ind_rangevol_init(s, n, false);
    case K_RVOL_GK: return qt_ind_rangevol_init(s, n, true);
    case K_MACD: return qt_ind_macd_init(s, it->p[0], it->p[1], it->p[2]);
    case K_BBANDS: return qt_ind_bbands_init(s, n, it->k);
    case K_STOCH: return qt_ind_stoch_init(s, it->p[0], it->p[1]);
    case K_OBV: qt_ind_obv_init(s); return true;
    default: return false;
    }
}

/* Parses spec into items and names (into the given arrays); false with err. */
static bool parse_spec(const char *spec, const char *suffix, item_t *items, size_t *n_items,
                       char (*names)[QT_FS_NAME_MAX], size_t *n_out, char *err, size_t errlen) {
    size_t slen = spec ? strlen(spec) : 0;
    if (slen == 0 || slen > QT_FS_SPEC_MAX) {
        snprintf(err, errlen, "spec is empty or longer than %d characters", QT_FS_SPEC_MAX);
        return false;
    }
    size_t sufl = suffix ? strlen(suffix) : 0;
    *n_items = 0;
    *n_out = 0;
    const char *p = spec;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char text[96];
        if (len == 0 || len >= sizeof text) {
            snprintf(err, errlen, "spec item %zu is empty or too long", *n_items + 1);
            return false;
        }
        memcpy(text, p, len);
        text[len] = '\0';
        if (*n_items >= QT_FS_MAX_ITEMS) {
            snprintf(err, errlen, "more than %d spec items", QT_FS_MAX_ITEMS);
            return false;
        }
        /* split at ':' */
        const char *fld[5];
        size_t fl[5], nf = 0;
        const char *q = text;
        for (;;) {
            const char *c = strchr(q, ':');
            if (nf == 5) {
                snprintf(err, errlen, "spec item '%s': too many parameters", text);
                return false;
            }
            fld[nf] = q;
            fl[nf++] = c ? (size_t)(c - q) : strlen(q);
            if (!c) break;
            q = c + 1;
        }
        kind_t kind = K__COUNT;
        for (int k = 0; k < K__COUNT; k++)
            if (strlen(KINDS[k].name) == fl[0] && memcmp(KINDS[k].name, fld[0], fl[0]) == 0)
                kind = (kind_t)k;
        if (kind == K__COUNT) {
            snprintf(err, errlen,
                     "spec item '%s': unknown kind (expected sma ema wma rsi atr roc mom zscore "
                     "vwap rvol rvol_parkinson rvol_gk macd bbands stoch obv)", text);
            return false;
        }
        if ((int)nf - 1 != KINDS[kind].nparams) {
            snprintf(err, errlen, "spec item '%s': %s takes %d parameter(s)", text,
                     KINDS[kind].name, KINDS[kind].nparams);
            return false;
        }
        item_t *it = &items[*n_items];
        memset(it, 0, sizeof *it);
        it->kind = kind;
        for (size_t f = 1; f < nf; f++) {
            bool ok = (kind == K_BBANDS && f == 2) ? parse_width(fld[f], fl[f], &it->k)
                                                   : parse_uint(fld[f], fl[f], &it->p[f - 1]);
            if (!ok) {
                snprintf(err, errlen, "spec item '%s': parameter %zu is not a valid %s", text, f,
                         (kind == K_BBANDS && f == 2) ? "width in (0, 100]" : "positive integer");
                return false;
            }
        }
        bool range_ok = true;
        if (KINDS[kind].nparams > 0)
            range_ok = it->p[0] >= KINDS[kind].min_n && it->p[0] <= KINDS[kind].max_n;
        if (kind == K_MACD)
            range_ok = it->p[0] >= 1 && it->p[0] < it->p[1] && it->p[1] <= QT_IND_MAX_WINDOW &&
                       it->p[2] >= 1 && it->p[2] <= QT_IND_MAX_WINDOW;
        if (kind == K_STOCH) range_ok = range_ok && it->p[1] >= 1 && it->p[1] <= QT_IND_MAX_WINDOW;
        if (!range_ok) {
            snprintf(err, errlen,
                     "spec item '%s': parameter out of range (windows %u..%u; macd needs "
                     "fast < slow; zscore, rvol, bbands need n >= 2; roc, mom n <= %u)",
                     text, 1u, QT_IND_MAX_WINDOW, QT_IND_MAX_WINDOW - 1);
            return false;
        }
        /* names */
        const char *params = nf > 1 ? text + fl[0] + 1 : "";
        char ptxt[96];
        snprintf(ptxt, sizeof ptxt, "%s", params);
        for (char *c = ptxt; *c; c++)
            if (*c == ':') *c = '_';
        it->out0 = *n_out;
        for (int o = 0; o < KINDS[kind].nout; o++) {
            if (*n_out >= QT_FS_MAX_OUTPUTS) {
                snprintf(err, errlen, "more than %d outputs", QT_FS_MAX_OUTPUTS);
                return false;
            }
            char nm[2 * QT_FS_NAME_MAX];
            if (KINDS[kind].nout > 1) snprintf(nm, sizeof nm, "%s%s", KINDS[kind].out[o], ptxt);
            else if (nf > 1) snprintf(nm, sizeof nm, "%s_%s", KINDS[kind].name, ptxt);
            else snprintf(nm, sizeof nm, "%s", KINDS[kind].name);
            char full[3 * QT_FS_NAME_MAX];
            snprintf(full, sizeof full, "%s%s", nm, suffix ? suffix : "");
            size_t fl_len = strlen(full);
            if (fl_len >= QT_FS_NAME_MAX || strlen(nm) + sufl >= QT_FS_NAME_MAX) {
                snprintf(err, errlen, "spec item '%s': output name too long", text);
                return false;
            }
            memcpy(names[*n_out], full, fl_len + 1);
            for (size_t j = 0; j < *n_out; j++)
                if (strcmp(names[j], names[*n_out]) == 0) {
                    snprintf(err, errlen, "spec item '%s': duplicate output name '%s'", text,
                             names[j]);
                    return false;
                }
            (*n_out)++;
        }
        (*n_items)++;
        if (!end) break;
        p = end + 1;
    }
    return true;
}

/* ---- life cycle ---------------------------------------------------------------------- */

static void free_items(item_t *items, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(items[i].st);
        items[i].st = NULL;
    }
}

/* Allocates and initialises fresh states for items[0..n). */
static bool alloc_items(item_t *items, size_t n) {
    for (size_t i = 0; i < n; i++) {
        items[i].st_size = state_size(items[i].kind);
        items[i].st = calloc(1, items[i].st_size);
        if (!items[i].st || !item_init(&items[i])) {
            free_items(items, i + 1);
            return false;
        }
    }
    return true;
}

qt_featureset_t *qt_featureset_new(const char *spec, const char *suffix, int64_t base_ms,
                                   int64_t horizon_ms, char *err, size_t errlen) {
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof dummy;
    }
    if (suffix && strlen(suffix) >= QT_FS_NAME_MAX / 2) {
        snprintf(err, errlen, "name suffix too long");
        return NULL;
    }
    if (horizon_ms < 0 || horizon_ms > MAX_HORIZON_MS ||
        (horizon_ms > 0 &&
         (base_ms <= 0 || base_ms > horizon_ms || horizon_ms % base_ms != 0))) {
        snprintf(err, errlen, "horizon must be 0 or a multiple of the bar length (<= 366 days)");
        return NULL;
    }
    qt_featureset_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (!parse_spec(spec, suffix, self->items, &self->n_items, self->name_buf, &self->n_out, err,
                    errlen)) {
        free(self);
        return NULL;
    }
    if (!alloc_items(self->items, self->n_items)) {
        snprintf(err, errlen, "out of memory");
        free(self);
        return NULL;
    }
    snprintf(self->spec, sizeof self->spec, "%s", spec);
    snprintf(self->suffix, sizeof self->suffix, "%s", suffix ? suffix : "");
    self->base_ms = horizon_ms > 0 ? base_ms : 0;
    self->horizon_ms = horizon_ms;
    for (size_t i = 0; i < self->n_out; i++) self->names[i] = self->name_buf[i];
    self->last_t = INT64_MIN;
    self->value_t = INT64_MIN;
    return self;
}

void qt_featureset_destroy(qt_featureset_t **self_p) {
    if (!self_p || !*self_p) return;
    free_items((*self_p)->items, (*self_p)->n_items);
    free(*self_p);
    *self_p = NULL;
}

size_t qt_featureset_n_outputs(const qt_featureset_t *self) { return self->n_out; }
const char *qt_featureset_name(const qt_featureset_t *self, size_t i) {
    return i < self->n_out ? self->names[i] : NULL;
}
const char *const *qt_featureset_names(const qt_featureset_t *self) { return self->names; }
const char *qt_featureset_spec(const qt_featureset_t *self) { return self->spec; }
const double *qt_featureset_values(const qt_featureset_t *self) { return self->values; }
const bool *qt_featureset_ready(const qt_featureset_t *self) { return self->ready; }
uint64_t qt_featureset_bars(const qt_featureset_t *self) { return self->bars; }
uint64_t qt_featureset_rejected(const qt_featureset_t *self) { return self->rejected; }
int64_t qt_featureset_value_time(const qt_featureset_t *self) { return self->value_t; }

/* ---- update ---------------------------------------------------------------------------- */

static bool bar_valid(const qt_fs_bar_t *b) {
    double o = b->open, h = b->high, l = b->low, c = b->close, v = b->volume;
    if (!isfinite(o) || !isfinite(h) || !isfinite(l) || !isfinite(c) || !isfinite(v)) return false;
    if (!(o > 0.0) || !(h > 0.0) || !(l > 0.0) || !(c > 0.0) || v < 0.0) return false;
    return h >= o && h >= c && h >= l && l <= o && l <= c;
}

/* Feeds one (valid) bar to every item and refreshes the outputs. Every indicator accepts
 * a valid bar, so the items stay in step. */
static void feed(qt_featureset_t *self, const qt_fs_bar_t *b) {
    for (size_t i = 0; i < self->n_items; i++) {
        item_t *it = &self->items[i];
        double *v = self->values + it->out0;
        bool *r = self->ready + it->out0;
        void *s = it->st;
        switch (it->kind) {
        case K_SMA:
            qt_ind_sma_update(s, b->close);
            r[0] = qt_ind_sma_ready(s);
            v[0] = qt_ind_sma_value(s);
            break;
        case K_EMA:
            qt_ind_ema_update(s, b->close);
            r[0] = qt_ind_ema_ready(s);
            v[0] = qt_ind_ema_value(s);
            break;
        case K_WMA:
            qt_ind_wma_update(s, b->close);
            r[0] = qt_ind_wma_ready(s);
            v[0] = qt_ind_wma_value(s);
            break;
        case K_RSI:
            qt_ind_rsi_update(s, b->close);
            r[0] = qt_ind_rsi_ready(s);
            v[0] = qt_ind_rsi_value(s);
            break;
        case K_ATR:
            qt_ind_atr_update(s, b->high, b->low, b->close);
            r[0] = qt_ind_atr_ready(s);
            v[0] = qt_ind_atr_value(s);
            break;
        case K_ROC:
            qt_ind_roc_update(s, b->close);
            r[0] = qt_ind_roc_ready(s);
            v[0] = qt_ind_roc_value(s);
            break;
        case K_MOM:
            qt_ind_roc_update(s, b->close);
            r[0] = qt_ind_roc_ready(s);
            v[0] = qt_ind_mom_value(s);
            break;
        case K_ZSCORE:
            qt_ind_rollstat_update(s, b->close);
            r[0] = qt_ind_rollstat_ready(s);
            v[0] = qt_ind_zscore_value(s);
            break;
        case K_VWAP:
            qt_ind_vwap_update(s, b->high, b->low, b->close, b->volume);
            r[0] = qt_ind_vwap_ready(s);
            v[0] = qt_ind_vwap_value(s);
            break;
        case K_RVOL:
            qt_ind_rvol_update(s, b->close);
            r[0] = qt_ind_rvol_ready(s);
            v[0] = qt_ind_rvol_stddev(s);
            break;
        case K_RVOL_PK:
        case K_RVOL_GK:
            qt_ind_rangevol_update(s, b->open, b->high, b->low, b->close);
            r[0] = qt_ind_rangevol_ready(s);
            v[0] = qt_ind_rangevol_value(s);
            break;
        case K_MACD:
            qt_ind_macd_update(s, b->close);
            r[0] = r[1] = r[2] = qt_ind_macd_ready(s);
            v[0] = qt_ind_macd_value(s);
            v[1] = qt_ind_macd_signal(s);
            v[2] = qt_ind_macd_hist(s);
            break;
        case K_BBANDS:
            qt_ind_bbands_update(s, b->close);
            r[0] = r[1] = r[2] = qt_ind_bbands_ready(s);
            qt_ind_bbands_value(s, &v[0], &v[1], &v[2]);
            break;
        case K_STOCH:
            qt_ind_stoch_update(s, b->high, b->low, b->close);
            r[0] = r[1] = qt_ind_stoch_ready(s);
            v[0] = qt_ind_stoch_k(s);
            v[1] = qt_ind_stoch_d(s);
            break;
        case K_OBV:
            qt_ind_obv_update(s, b->close, b->volume);
            r[0] = qt_ind_obv_ready(s);
            v[0] = qt_ind_obv_value(s);
            break;
        default:
            break;
        }
    }
    for (size_t i = 0; i < self->n_out; i++)
        if (!isfinite(self->values[i]) || !self->ready[i]) {   /* never publish NaN/inf */
            self->values[i] = 0.0;
            self->ready[i] = false;
        }
    self->value_t = b->t_ms;
}

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

bool qt_featureset_update(qt_featureset_t *self, const qt_fs_bar_t *bar, bool *updated) {
    if (updated) *updated = false;
    if (!bar || !bar_valid(bar) || bar->t_ms <= self->last_t ||
        bar->t_ms > INT64_MAX - MAX_HORIZON_MS || bar->t_ms < INT64_MIN / 2) {
        self->rejected++;
        return false;
    }
    self->bars++;
    self->last_t = bar->t_ms;
    if (self->horizon_ms == 0) {
        feed(self, bar);
        if (updated) *updated = true;
        return true;
    }
    int64_t h = self->horizon_ms, start = floor_div(bar->t_ms, h) * h;
    if (self->open && start != self->bucket.t_ms) {   /* previous bucket lost its last bar */
        feed(self, &self->bucket);
        self->open = false;
        if (updated) *updated = true;
    }
    if (!self->open) {
        self->bucket = *bar;
        self->bucket.t_ms = start;
        self->open = true;
    } else {
        qt_fs_bar_t *k = &self->bucket;
        if (bar->high > k->high) k->high = bar->high;
        if (bar->low < k->low) k->low = bar->low;
        k->close = bar->close;
        k->volume += bar->volume;
    }
    if (bar->t_ms + self->base_ms >= start + h) {     /* last bar of its bucket */
        feed(self, &self->bucket);
        self->open = false;
        if (updated) *updated = true;
    }
    return true;
}

/* ---- snapshots --------------------------------------------------------------------------- */

static void item_save(const item_t *it, qt_buf_t *b) {
    const void *s = it->st;
    switch (it->kind) {
    case K_SMA: qt_ind_sma_save(s, b); break;
    case K_EMA: qt_ind_ema_save(s, b); break;
    case K_WMA: qt_ind_wma_save(s, b); break;
    case K_RSI: qt_ind_rsi_save(s, b); break;
    case K_ATR: qt_ind_atr_save(s, b); break;
    case K_ROC:
    case K_MOM: qt_ind_roc_save(s, b); break;
    case K_ZSCORE: qt_ind_rollstat_save(s, b); break;
    case K_VWAP: qt_ind_vwap_save(s, b); break;
    case K_RVOL: qt_ind_rvol_save(s, b); break;
    case K_RVOL_PK:
    case K_RVOL_GK: qt_ind_rangevol_save(s, b); break;
    case K_MACD: qt_ind_macd_save(s, b); break;
    case K_BBANDS: qt_ind_bbands_save(s, b); break;
    case K_STOCH: qt_ind_stoch_save(s, b); break;
    case K_OBV: qt_ind_obv_save(s, b); break;
    default: break;
    }
}

static bool item_load(item_t *it, qt_reader_t *r) {
    void *s = it->st;
    uint32_t n = it->p[0];
    switch (it->kind) {
    case K_SMA: return qt_ind_sma_load(s, r, n);
    case K_EMA: return qt_ind_ema_load(s, r, n);
    case K_WMA: return qt_ind_wma_load(s, r, n);
    case K_RSI: return qt_ind_rsi_load(s, r, n);
    case K_ATR: return qt_ind_atr_load(s, r, n);
    case K_ROC:
    case K_MOM: return qt_ind_roc_load(s, r, n);
    case K_ZSCORE: return qt_ind_rollstat_load(s, r, n);
    case K_VWAP: return qt_ind_vwap_load(s, r, n);
    case K_RVOL: return qt_ind_rvol_load(s, r, n);
    case K_RVOL_PK: return qt_ind_rangevol_load(s, r, n, false);
    case K_RVOL_GK: return qt_ind_rangevol_load(s, r, n, true);
    case K_MACD: return qt_ind_macd_load(s, r, it->p[0], it->p[1], it->p[2]);
    case K_BBANDS: return qt_ind_bbands_load(s, r, n, it->k);
    case K_STOCH: return qt_ind_stoch_load(s, r, it->p[0], it->p[1]);
    case K_OBV: return qt_ind_obv_load(s, r);
    default: return false;
    }
}

static void put_bar(qt_buf_t *b, const qt_fs_bar_t *x) {
    qt_buf_put_i64(b, x->t_ms);
    qt_buf_put_f64(b, x->open);
    qt_buf_put_f64(b, x->high);
    qt_buf_put_f64(b, x->low);
    qt_buf_put_f64(b, x->close);
    qt_buf_put_f64(b, x->volume);
}

static void get_bar(qt_reader_t *r, qt_fs_bar_t *x) {
    x->t_ms = qt_read_i64(r);
    x->open = qt_read_f64(r);
    x->high = qt_read_f64(r);
    x->low = qt_read_f64(r);
    x->close = qt_read_f64(r);
    x->volume = qt_read_f64(r);
}

void qt_featureset_save(const qt_featureset_t *self, qt_buf_t *b) {
    qt_buf_put_u32(b, FS_MAGIC);
    qt_buf_put_u32(b, QT_FEATURESET_SCHEMA);
    qt_buf_put_str(b, self->spec);
    qt_buf_put_str(b, self->suffix);
    qt_buf_put_i64(b, self->base_ms);
    qt_buf_put_i64(b, self->horizon_ms);
    qt_buf_put_u64(b, self->bars);
    qt_buf_put_u64(b, self->rejected);
    qt_buf_put_i64(b, self->last_t);
    qt_buf_put_i64(b, self->value_t);
    qt_buf_put_u32(b, self->open ? 1u : 0u);
    put_bar(b, &self->bucket);
    for (size_t i = 0; i < self->n_out; i++) {
        qt_buf_put_f64(b, self->values[i]);
        qt_buf_put_u32(b, self->ready[i] ? 1u : 0u);
    }
    for (size_t i = 0; i < self->n_items; i++) item_save(&self->items[i], b);
}

bool qt_featureset_load(qt_featureset_t *self, qt_reader_t *r) {
    char spec[QT_FS_SPEC_MAX + 1], suffix[QT_FS_NAME_MAX];
    uint32_t magic = qt_read_u32(r), ver = qt_read_u32(r);
    qt_read_str(r, spec, sizeof spec);
    qt_read_str(r, suffix, sizeof suffix);
    int64_t base = qt_read_i64(r), hor = qt_read_i64(r);
    uint64_t bars = qt_read_u64(r), rej = qt_read_u64(r);
    int64_t last_t = qt_read_i64(r), value_t = qt_read_i64(r);
    uint32_t open = qt_read_u32(r);
    qt_fs_bar_t bucket;
    get_bar(r, &bucket);
    if (r->err || magic != FS_MAGIC || ver != QT_FEATURESET_SCHEMA ||
        strcmp(spec, self->spec) != 0 || strcmp(suffix, self->suffix) != 0 ||
        base != self->base_ms || hor != self->horizon_ms || open > 1u ||
        (open && (hor == 0 || !bar_valid(&bucket))) ||
        value_t > last_t || (bars == 0) != (last_t == INT64_MIN))
        return false;
    double values[QT_FS_MAX_OUTPUTS];
    bool ready[QT_FS_MAX_OUTPUTS];
    for (size_t i = 0; i < self->n_out; i++) {
        values[i] = qt_read_f64(r);
        uint32_t rd = qt_read_u32(r);
        if (r->err || !isfinite(values[i]) || rd > 1u || (rd == 0 && values[i] != 0.0)) return false;
        ready[i] = rd == 1u;
    }
    item_t items[QT_FS_MAX_ITEMS];
    memcpy(items, self->items, self->n_items * sizeof *items);
    for (size_t i = 0; i < self->n_items; i++) items[i].st = NULL;
    if (!alloc_items(items, self->n_items)) return false;
    bool ok = true;
    for (size_t i = 0; i < self->n_items && ok; i++) ok = item_load(&items[i], r);
    if (!ok || r->err) {   /* more records may follow: the caller checks the end */
        free_items(items, self->n_items);
        return false;
    }
    free_items(self->items, self->n_items);
    memcpy(self->items, items, self->n_items * sizeof *items);
    memcpy(self->values, values, sizeof values);
    memcpy(self->ready, ready, sizeof ready);
    self->bars = bars;
    self->rejected = rej;
    self->last_t = last_t;
    self->value_t = value_t;
    self->open = open == 1u;
    self->bucket = bucket;
    return true;
}

/* ---- batch twin ---------------------------------------------------------------------------- */

bool qt_featureset_batch(const char *spec, const qt_fs_bar_t *bars, size_t len,
                         double *values, bool *ready, char *err, size_t errlen) {
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof dummy;
    }
    item_t items[QT_FS_MAX_ITEMS];
    char (*nm)[QT_FS_NAME_MAX] = malloc(QT_FS_MAX_OUTPUTS * sizeof *nm);   /* names: unused */
    size_t n_items = 0, n_out = 0;
    if (!nm || !parse_spec(spec, NULL, items, &n_items, nm, &n_out, err, errlen)) {
        if (!nm) snprintf(err, errlen, "out of memory");
        free(nm);
        return false;
    }
    free(nm);
    size_t L = len ? len : 1;
    double *o = malloc(L * sizeof *o), *h = malloc(L * sizeof *h), *l = malloc(L * sizeof *l),
           *c = malloc(L * sizeof *c), *v = malloc(L * sizeof *v), *t0 = malloc(L * sizeof *t0),
           *t1 = malloc(L * sizeof *t1), *t2 = malloc(L * sizeof *t2);
    bool ok = o && h && l && c && v && t0 && t1 && t2;
    if (!ok) snprintf(err, errlen, "out of memory");
    for (size_t i = 0; ok && i < len; i++) {
        o[i] = bars[i].open;
        h[i] = bars[i].high;
        l[i] = bars[i].low;
        c[i] = bars[i].close;
        v[i] = bars[i].volume;
    }
    for (size_t it = 0; ok && it < n_items; it++) {
        const item_t *x = &items[it];
        uint32_t n = x->p[0];
        double *outs[3] = {t0, t1, t2};
        switch (x->kind) {
        case K_SMA: qt_ind_sma_batch(c, len, n, t0); break;
        case K_EMA: qt_ind_ema_batch(c, len, n, t0); break;
        case K_WMA: qt_ind_wma_batch(c, len, n, t0); break;
        case K_RSI: qt_ind_rsi_batch(c, len, n, t0); break;
        case K_ATR: qt_ind_atr_batch(h, l, c, len, n, t0); break;
        case K_ROC: qt_ind_roc_batch(c, len, n, t0, t1); break;
        case K_MOM: qt_ind_roc_batch(c, len, n, t1, t0); break;
        case K_ZSCORE: qt_ind_zscore_batch(c, len, n, t0); break;
        case K_VWAP: qt_ind_vwap_batch(h, l, c, v, len, n, t0); break;
        case K_RVOL: qt_ind_logret_stddev_batch(c, len, n, t0); break;
        case K_RVOL_PK: qt_ind_rangevol_batch(o, h, l, c, len, n, false, t0); break;
        case K_RVOL_GK: qt_ind_rangevol_batch(o, h, l, c, len, n, true, t0); break;
        case K_MACD: qt_ind_macd_batch(c, len, x->p[0], x->p[1], x->p[2], t0, t1, t2); break;
        case K_BBANDS: qt_ind_bbands_batch(c, len, n, x->k, t0, t1, t2); break;
        case K_STOCH: qt_ind_stoch_batch(h, l, c, len, x->p[0], x->p[1], t0, t1); break;
        case K_OBV: qt_ind_obv_batch(c, v, len, t0); break;
        default: break;
        }
        for (int k = 0; k < KINDS[x->kind].nout; k++)
            for (size_t i = 0; i < len; i++) {
                double val = outs[k][i];
                bool rd = isfinite(val);
                values[i * n_out + x->out0 + (size_t)k] = rd ? val : 0.0;
                ready[i * n_out + x->out0 + (size_t)k] = rd;
            }
    }
    free(o);
    free(h);
    free(l);
    free(c);
    free(v);
    free(t0);
    free(t1);
    free(t2);
    return ok;
}

/* ---- selftest ----------------------------------------------------------------------------- */

int qt_featureset_selftest(bool verbose) {
    int fails = 0;
#define CHECK(c)                                                            \
    do {                                                                    \
        if (!(c)) {                                                         \
            fails++;                                                        \
            if (verbose) fprintf(stderr, "qt_featureset: FAIL %s\n", #c); \
        }                                                                   \
    } while (0)
    char err[256];
    qt_featureset_t *fs = qt_featureset_new("sma:2,macd:2:3:2,bbands:2:1.5,obv", NULL, 0, 0,
                                            err, sizeof err);
    CHECK(fs != NULL);
    if (fs) {
        CHECK(qt_featureset_n_outputs(fs) == 8);
        CHECK(strcmp(qt_featureset_name(fs, 1), "macd_2_3_2") == 0);
        CHECK(strcmp(qt_featureset_name(fs, 5), "bb_upper_2_1.5") == 0);
        CHECK(strcmp(qt_featureset_name(fs, 7), "obv") == 0);
        qt_fs_bar_t b = {1000, 10, 11, 9, 10, 5};
        CHECK(qt_featureset_update(fs, &b, NULL));
        CHECK(!qt_featureset_update(fs, &b, NULL));   /* same time */
        b.t_ms = 2000;
        b.close = 12;
        b.high = 11;
        CHECK(!qt_featureset_update(fs, &b, NULL));   /* high < close */
        b.high = 12;
        CHECK(qt_featureset_update(fs, &b, NULL));
        CHECK(qt_featureset_values(fs)[0] == 11.0 && qt_featureset_ready(fs)[0]);
        CHECK(qt_featureset_values(fs)[7] == 10.0);   /* 5 + 5 */
        CHECK(qt_featureset_rejected(fs) == 2);
        qt_featureset_destroy(&fs);
        CHECK(fs == NULL);
    }
    const char *bad[] = {"", "sma", "sma:0", "sma:01", "sma:257", "macd:26:12:9", "rsi:14,rsi:14",
                         "bbands:20:-2", "foo:3", "sma:3:4", "zscore:1", "sma:3,", "obv:1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK(qt_featureset_new(bad[i], NULL, 0, 0, err, sizeof err) == NULL);
#undef CHECK
    if (verbose) fprintf(stderr, "qt_featureset selftest: %s\n", fails ? "FAIL" : "ok");
    return fails;
}
