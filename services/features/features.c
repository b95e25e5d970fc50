/* features: per-symbol incremental features; see features.h. */
#include "features.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qt_symtab.h"

#define STATE_MAGIC 0x45465451u   /* "QTFE" */
#define STATE_VERSION 2u   /* 2: + spec and per-symbol feature sets */

const char *const features_names[FEATURES_N] = {"ret_1",    "sma_fast", "sma_slow",
                                                "ema_fast", "ema_slow", "rvol"};

typedef struct {
    char symbol[FEATURES_SYMBOL_MAX + 1];
    char interval[FEATURES_INTERVAL_MAX + 1];
    int64_t last_t;
    qt_ind_sma_t sma_fast, sma_slow;
    qt_ind_ema_t ema_fast, ema_slow;
    qt_ind_rvol_t rvol;
    qt_featureset_t *fs;      /* NULL when the spec is empty */
    qt_featureset_t *fs_h[FEATURES_MAX_HORIZONS];   /* NULL: horizon unavailable */
} sym_t;

/* The table holds pointers: a sym_t is several KiB (indicator rings), too big to
 * shift on every insert; pointers to it stay valid across inserts. */
typedef struct {
    char symbol[FEATURES_SYMBOL_MAX + 1];
    sym_t *s;
} sym_slot_t;

struct features_t {
    features_cfg_t cfg;
    qt_symtab_t syms;         /* sym_slot_t by symbol, <= cfg.max_symbols */
    bool has_wm;
    int64_t last_wm_t;
    uint64_t since_wm;        /* vectors emitted since the last forwarded watermark */
    features_stats_t stats;
    size_t n_spec;            /* outputs of the spec */
    const char *names[FEATURES_MAX];
    qt_featureset_t *proto;   /* parsed spec: the names live here */
    size_t n_h;               /* horizons */
    int64_t h_ms[FEATURES_MAX_HORIZONS];
    char h_suffix[FEATURES_MAX_HORIZONS][16];
    qt_featureset_t *hproto[FEATURES_MAX_HORIZONS];   /* names of the horizon outputs */
};

void features_cfg_default(features_cfg_t *cfg) {
    cfg->sma_fast = 10;
    cfg->sma_slow = 30;
    cfg->ema_fast = 12;
    cfg->ema_slow = 26;
    cfg->rvol = 20;
    cfg->max_symbols = 1024;
    snprintf(cfg->spec, sizeof cfg->spec, "%s", FEATURES_DEFAULT_SPEC);
    cfg->horizons[0] = '\0';
}

static qt_featureset_t *new_fs(const char *spec, char *why, size_t whylen) {
    return qt_featureset_new(spec, NULL, 0, 0, why, whylen);
}

bool features_parse_span(const char *s, int64_t *ms) {
    size_t len = s ? strlen(s) : 0;
    if (len < 2 || len > 7) return false;
    char unit = s[len - 1];
    int64_t mult = unit == 'm' ? 60000 : unit == 'h' ? 3600000 : unit == 'd' ? 86400000
                 : unit == 'w' ? 604800000 : 0;
    if (!mult || s[0] == '0') return false;
    int64_t v = 0;
    for (size_t i = 0; i + 1 < len; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v * mult > 366LL * 86400000LL) return false;
    *ms = v * mult;
    return true;
}

/* Splits cfg->horizons; false with why on a bad list. */
static bool parse_horizons(const char *list, size_t *n, int64_t *ms, char (*suffix)[16],
                           char *why, size_t whylen) {
    *n = 0;
    if (!list[0]) return true;
    const char *p = list;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char one[16];
        if (*n >= FEATURES_MAX_HORIZONS || len == 0 || len >= 8) {
            if (why) snprintf(why, whylen, "horizons '%s': at most %d spans N{m,h,d,w}", list,
                              FEATURES_MAX_HORIZONS);
            return false;
        }
        memcpy(one, p, len);
        one[len] = '\0';
        if (!features_parse_span(one, &ms[*n])) {
            if (why) snprintf(why, whylen, "horizons: '%s' is not N{m,h,d,w} (<= 366 days)", one);
            return false;
        }
        for (size_t j = 0; j < *n; j++)
            if (ms[j] == ms[*n]) {
                if (why) snprintf(why, whylen, "horizons: '%s' given twice", one);
                return false;
            }
        suffix[*n][0] = '_';
        memcpy(suffix[*n] + 1, one, len + 1);   /* len < 8 */
        (*n)++;
        if (!e) return true;
        p = e + 1;
    }
}

bool features_cfg_valid(const features_cfg_t *c, char *why, size_t whylen) {
    const uint32_t w[5] = {c->sma_fast, c->sma_slow, c->ema_fast, c->ema_slow, c->rvol};
    static const char *const nm[5] = {"sma_fast", "sma_slow", "ema_fast", "ema_slow", "rvol"};
    for (int i = 0; i < 5; i++) {
        uint32_t lo = i == 4 ? 2u : 1u;
        if (w[i] < lo || w[i] > QT_IND_MAX_WINDOW) {
            if (why) snprintf(why, whylen, "%s window %u not in [%u, %u]", nm[i], w[i], lo,
                              QT_IND_MAX_WINDOW);
            return false;
        }
    }
    if (c->max_symbols < 1 || c->max_symbols > FEATURES_MAX_SYMBOLS_LIMIT) {
        if (why) snprintf(why, whylen, "max_symbols %u not in [1, %u]", c->max_symbols,
                          FEATURES_MAX_SYMBOLS_LIMIT);
        return false;
    }
    if (memchr(c->spec, '\0', sizeof c->spec) == NULL) {
        if (why) snprintf(why, whylen, "spec not terminated");
        return false;
    }
    if (memchr(c->horizons, '\0', sizeof c->horizons) == NULL) {
        if (why) snprintf(why, whylen, "horizons not terminated");
        return false;
    }
    size_t nh;
    int64_t hms[FEATURES_MAX_HORIZONS];
    char hsuf[FEATURES_MAX_HORIZONS][16];
    if (!parse_horizons(c->horizons, &nh, hms, hsuf, why, whylen)) return false;
    if (c->spec[0] == '\0') {
        if (nh > 0 && why) snprintf(why, whylen, "horizons need a spec");
        return nh == 0;
    }
    char err[256] = "";
    qt_featureset_t *fs = new_fs(c->spec, err, sizeof err);
    if (!fs) {
        if (why) snprintf(why, whylen, "spec: %s", err);
        return false;
    }
    bool ok = true;
    for (size_t i = 0; i < qt_featureset_n_outputs(fs) && ok; i++)
        for (int b = 0; b < FEATURES_N; b++)
            if (strcmp(qt_featureset_name(fs, i), features_names[b]) == 0) {
                if (why) snprintf(why, whylen, "spec output '%s' repeats a base feature name",
                                  features_names[b]);
                ok = false;
            }
    if (ok && qt_featureset_n_outputs(fs) * (1 + nh) > 2 * QT_FS_MAX_OUTPUTS) {
        if (why) snprintf(why, whylen, "spec x horizons: more than %d outputs",
                          2 * QT_FS_MAX_OUTPUTS);
        ok = false;
    }
    qt_featureset_destroy(&fs);
    return ok;
}

features_t *features_new(const features_cfg_t *cfg) {
    if (!cfg || !features_cfg_valid(cfg, NULL, 0)) return NULL;
    features_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    self->cfg = *cfg;
    for (int i = 0; i < FEATURES_N; i++) self->names[i] = features_names[i];
    if (cfg->spec[0]) {
        self->proto = new_fs(cfg->spec, NULL, 0);
        if (!self->proto) {
            free(self);
            return NULL;
        }
        self->n_spec = qt_featureset_n_outputs(self->proto);
        for (size_t i = 0; i < self->n_spec; i++)
            self->names[FEATURES_N + i] = qt_featureset_name(self->proto, i);
        (void)parse_horizons(cfg->horizons, &self->n_h, self->h_ms, self->h_suffix, NULL, 0);
        for (size_t h = 0; h < self->n_h; h++) {
            /* names only: base = horizon is always a valid pair */
            self->hproto[h] = qt_featureset_new(cfg->spec, self->h_suffix[h], self->h_ms[h],
                                                self->h_ms[h], NULL, 0);
            if (!self->hproto[h]) {
                for (size_t j = 0; j < h; j++) qt_featureset_destroy(&self->hproto[j]);
                qt_featureset_destroy(&self->proto);
                free(self);
                return NULL;
            }
            for (size_t i = 0; i < self->n_spec; i++)
                self->names[FEATURES_N + (h + 1) * self->n_spec + i] =
                    qt_featureset_name(self->hproto[h], i);
        }
    }
    QT_SYMTAB_INIT(&self->syms, sym_slot_t, symbol, cfg->max_symbols);
    return self;
}

size_t features_count(const features_t *self) {
    return FEATURES_N + self->n_spec * (1 + self->n_h);
}
const char *const *features_all_names(const features_t *self) { return self->names; }

static void sym_free(sym_t *s) {
    if (!s) return;
    qt_featureset_destroy(&s->fs);
    for (size_t h = 0; h < FEATURES_MAX_HORIZONS; h++) qt_featureset_destroy(&s->fs_h[h]);
    free(s);
}

static void free_syms(qt_symtab_t *syms) {
    for (size_t i = 0; i < qt_symtab_size(syms); i++)
        sym_free(((sym_slot_t *)qt_symtab_at(syms, i))->s);
    qt_symtab_free(syms);
}

void features_destroy(features_t **self_p) {
    if (!self_p || !*self_p) return;
    free_syms(&(*self_p)->syms);
    qt_featureset_destroy(&(*self_p)->proto);
    for (size_t h = 0; h < (*self_p)->n_h; h++) qt_featureset_destroy(&(*self_p)->hproto[h]);
    free(*self_p);
    *self_p = NULL;
}

static bool name_ok(const char *s, size_t max) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '_' && c != '-' && c != '.') return false;
    }
    return true;
}

/* A horizon set needs the bar length: from the symbol's interval ("4h"); NULL (outputs
 * never ready) when the interval does not parse or does not divide the horizon. */
static qt_featureset_t *new_horizon_fs(const features_t *self, size_t h, const char *interval) {
    int64_t base;
    if (!features_parse_span(interval, &base) || self->h_ms[h] % base != 0) return NULL;
    return qt_featureset_new(self->cfg.spec, self->h_suffix[h], base, self->h_ms[h], NULL, 0);
}

static bool sym_init(features_t *self, sym_t *s, const char *symbol, const char *interval) {
    const features_cfg_t *c = &self->cfg;
    memset(s, 0, sizeof *s);
    snprintf(s->symbol, sizeof s->symbol, "%s", symbol);
    snprintf(s->interval, sizeof s->interval, "%s", interval);
    s->last_t = INT64_MIN;
    if (c->spec[0] && !(s->fs = new_fs(c->spec, NULL, 0))) return false;
    for (size_t h = 0; h < self->n_h; h++) s->fs_h[h] = new_horizon_fs(self, h, interval);
    return qt_ind_sma_init(&s->sma_fast, c->sma_fast) && qt_ind_sma_init(&s->sma_slow, c->sma_slow) &&
           qt_ind_ema_init(&s->ema_fast, c->ema_fast) && qt_ind_ema_init(&s->ema_slow, c->ema_slow) &&
           qt_ind_rvol_init(&s->rvol, c->rvol);
}

features_rc_t features_on_bar(features_t *self, const Qt__V1__Bar *bar, features_vec_t *out) {
    self->stats.bars++;
    if (!bar || !name_ok(bar->symbol, FEATURES_SYMBOL_MAX) ||
        !name_ok(bar->interval, FEATURES_INTERVAL_MAX) || bar->close <= 0 ||
        bar->open_time_ms < 0 || bar->open_time_ms > FEATURES_MAX_TIME_MS) {
        self->stats.invalid++;
        return FEATURES_INVALID;
    }
    void *found = NULL;
    qt_symtab_rc_t rc = qt_symtab_upsert(&self->syms, bar->symbol, &found);
    sym_slot_t *slot = found;
    sym_t *s;
    if (rc == QT_SYMTAB_FOUND) {
        s = slot->s;
        if (bar->open_time_ms <= s->last_t) {
            self->stats.duplicates++;
            return FEATURES_DUPLICATE;
        }
    } else {
        if (rc != QT_SYMTAB_INSERTED) {   /* max_symbols reached or out of memory */
            self->stats.full++;
            return FEATURES_FULL;
        }
        s = calloc(1, sizeof *s);
        if (!s || !sym_init(self, s, bar->symbol, bar->interval)) {
            sym_free(s);
            (void)qt_symtab_remove(&self->syms, bar->symbol);
            self->stats.invalid++;
            return FEATURES_INVALID;
        }
        slot->s = s;
        for (size_t h = 0; h < self->n_h; h++)
            if (!s->fs_h[h]) self->stats.horizon_unavailable++;
    }
    double close = qt_fixed_to_double(bar->close);
    /* close > 0 and finite, so every update below succeeds. */
    qt_ind_sma_update(&s->sma_fast, close);
    qt_ind_sma_update(&s->sma_slow, close);
    qt_ind_ema_update(&s->ema_fast, close);
    qt_ind_ema_update(&s->ema_slow, close);
    qt_ind_rvol_update(&s->rvol, close);
    s->last_t = bar->open_time_ms;

    memset(out, 0, sizeof *out);
    snprintf(out->symbol, sizeof out->symbol, "%s", s->symbol);
    snprintf(out->interval, sizeof out->interval, "%s", bar->interval);
    out->bar_time_ms = bar->open_time_ms;
    out->close = bar->close;
    out->flags = bar->flags;
    out->ready[FEAT_RET_1] = qt_ind_rvol_ret_ready(&s->rvol);
    out->value[FEAT_RET_1] = qt_ind_rvol_last_return(&s->rvol);
    out->ready[FEAT_SMA_FAST] = qt_ind_sma_ready(&s->sma_fast);
    out->value[FEAT_SMA_FAST] = qt_ind_sma_value(&s->sma_fast);
    out->ready[FEAT_SMA_SLOW] = qt_ind_sma_ready(&s->sma_slow);
    out->value[FEAT_SMA_SLOW] = qt_ind_sma_value(&s->sma_slow);
    out->ready[FEAT_EMA_FAST] = qt_ind_ema_ready(&s->ema_fast);
    out->value[FEAT_EMA_FAST] = qt_ind_ema_value(&s->ema_fast);
    out->ready[FEAT_EMA_SLOW] = qt_ind_ema_ready(&s->ema_slow);
    out->value[FEAT_EMA_SLOW] = qt_ind_ema_value(&s->ema_slow);
    out->ready[FEAT_RVOL] = qt_ind_rvol_ready(&s->rvol);
    out->value[FEAT_RVOL] = qt_ind_rvol_stddev(&s->rvol);
    out->n = features_count(self);
    out->names = self->names;
    if (s->fs) {
        qt_fs_bar_t fb = {bar->open_time_ms, qt_fixed_to_double(bar->open),
                          qt_fixed_to_double(bar->high), qt_fixed_to_double(bar->low), close,
                          qt_fixed_to_double(bar->volume)};
        if (qt_featureset_update(s->fs, &fb, NULL)) {
            memcpy(out->value + FEATURES_N, qt_featureset_values(s->fs),
                   self->n_spec * sizeof *out->value);
            memcpy(out->ready + FEATURES_N, qt_featureset_ready(s->fs),
                   self->n_spec * sizeof *out->ready);
        } else {
            self->stats.fs_rejected++;   /* already zero / not ready from the memset */
        }
        for (size_t h = 0; h < self->n_h; h++) {
            size_t at = FEATURES_N + (h + 1) * self->n_spec;
            if (s->fs_h[h] && qt_featureset_update(s->fs_h[h], &fb, NULL)) {
                memcpy(out->value + at, qt_featureset_values(s->fs_h[h]),
                       self->n_spec * sizeof *out->value);
                memcpy(out->ready + at, qt_featureset_ready(s->fs_h[h]),
                       self->n_spec * sizeof *out->ready);
            }
        }
    }
    for (size_t i = 0; i < out->n; i++) {
        if (!isfinite(out->value[i])) {   /* defensive: never publish NaN/inf */
            out->value[i] = 0.0;
            out->ready[i] = false;
            self->stats.nonfinite++;
        }
    }
    self->stats.emitted++;
    self->since_wm++;
    return FEATURES_EMIT;
}

bool features_on_watermark(features_t *self, const Qt__V1__Watermark *wm,
                           Qt__V1__Watermark *out) {
    if (!wm) return false;
    if (self->has_wm && wm->event_time_ms <= self->last_wm_t) {
        self->stats.stale_watermarks++;
        return false;
    }
    *out = *wm;
    out->count = self->since_wm;
    self->has_wm = true;
    self->last_wm_t = wm->event_time_ms;
    self->since_wm = 0;
    return true;
}

const features_stats_t *features_stats(const features_t *self) { return &self->stats; }
size_t features_symbol_count(const features_t *self) { return qt_symtab_size(&self->syms); }

void features_save(const features_t *self, qt_buf_t *b) {
    const features_cfg_t *c = &self->cfg;
    qt_buf_put_u32(b, STATE_MAGIC);
    qt_buf_put_u32(b, STATE_VERSION);
    qt_buf_put_u32(b, c->sma_fast);
    qt_buf_put_u32(b, c->sma_slow);
    qt_buf_put_u32(b, c->ema_fast);
    qt_buf_put_u32(b, c->ema_slow);
    qt_buf_put_u32(b, c->rvol);
    qt_buf_put_str(b, c->spec);
    qt_buf_put_str(b, c->horizons);
    qt_buf_put_u32(b, self->has_wm ? 1u : 0u);
    qt_buf_put_i64(b, self->last_wm_t);
    qt_buf_put_u64(b, self->since_wm);
    size_t nsyms = qt_symtab_size(&self->syms);
    qt_buf_put_u32(b, (uint32_t)nsyms);
    for (size_t i = 0; i < nsyms; i++) {
        const sym_t *s = ((const sym_slot_t *)qt_symtab_at(&self->syms, i))->s;
        qt_buf_put_str(b, s->symbol);
        qt_buf_put_str(b, s->interval);
        qt_buf_put_i64(b, s->last_t);
        qt_ind_sma_save(&s->sma_fast, b);
        qt_ind_sma_save(&s->sma_slow, b);
        qt_ind_ema_save(&s->ema_fast, b);
        qt_ind_ema_save(&s->ema_slow, b);
        qt_ind_rvol_save(&s->rvol, b);
        if (s->fs) qt_featureset_save(s->fs, b);
        for (size_t h = 0; h < self->n_h; h++) {
            qt_buf_put_u32(b, s->fs_h[h] ? 1u : 0u);
            if (s->fs_h[h]) qt_featureset_save(s->fs_h[h], b);
        }
    }
}

bool features_load(features_t *self, qt_reader_t *r) {
    const features_cfg_t *c = &self->cfg;
    uint32_t magic = qt_read_u32(r), ver = qt_read_u32(r);
    uint32_t w[5];
    for (int i = 0; i < 5; i++) w[i] = qt_read_u32(r);
    char spec[QT_FS_SPEC_MAX + 1], horizons[FEATURES_HORIZONS_MAX_LEN + 1];
    qt_read_str(r, spec, sizeof spec);
    qt_read_str(r, horizons, sizeof horizons);
    uint32_t has_wm = qt_read_u32(r);
    int64_t last_wm = qt_read_i64(r);
    uint64_t since = qt_read_u64(r);
    uint32_t n = qt_read_u32(r);
    if (r->err || magic != STATE_MAGIC || ver != STATE_VERSION || w[0] != c->sma_fast ||
        w[1] != c->sma_slow || w[2] != c->ema_fast || w[3] != c->ema_slow || w[4] != c->rvol ||
        strcmp(spec, c->spec) != 0 || strcmp(horizons, c->horizons) != 0 || has_wm > 1 || n > c->max_symbols)
        return false;
    qt_symtab_t syms;
    QT_SYMTAB_INIT(&syms, sym_slot_t, symbol, c->max_symbols);
    if (!qt_symtab_reserve(&syms, n ? n : 1)) return false;
    bool ok = true;
    for (uint32_t i = 0; i < n && ok; i++) {
        sym_t *s = calloc(1, sizeof *s);
        if (!s) {
            ok = false;
            break;
        }
        char sym[FEATURES_SYMBOL_MAX + 1], iv[FEATURES_INTERVAL_MAX + 1];
        qt_read_str(r, sym, sizeof sym);
        qt_read_str(r, iv, sizeof iv);
        const sym_slot_t *prev = i > 0 ? qt_symtab_at(&syms, i - 1) : NULL;
        void *slot = NULL;
        ok = !r->err && name_ok(sym, FEATURES_SYMBOL_MAX) && name_ok(iv, FEATURES_INTERVAL_MAX) &&
             sym_init(self, s, sym, iv) &&
             !(prev && strcmp(prev->symbol, s->symbol) >= 0) &&   /* sorted, unique */
             qt_symtab_upsert(&syms, s->symbol, &slot) == QT_SYMTAB_INSERTED;
        if (!ok) {
            sym_free(s);
            break;
        }
        ((sym_slot_t *)slot)->s = s;
        s->last_t = qt_read_i64(r);
        ok = ok && !r->err && qt_ind_sma_load(&s->sma_fast, r, c->sma_fast) &&
             qt_ind_sma_load(&s->sma_slow, r, c->sma_slow) &&
             qt_ind_ema_load(&s->ema_fast, r, c->ema_fast) &&
             qt_ind_ema_load(&s->ema_slow, r, c->ema_slow) && qt_ind_rvol_load(&s->rvol, r, c->rvol) &&
             (!s->fs || qt_featureset_load(s->fs, r));
        for (size_t h = 0; h < self->n_h && ok; h++) {
            /* present iff this interval supports the horizon (sym_init decided again) */
            uint32_t present = qt_read_u32(r);
            ok = !r->err && present == (s->fs_h[h] ? 1u : 0u) &&
                 (!s->fs_h[h] || (qt_featureset_load(s->fs_h[h], r) &&
                                  qt_featureset_bars(s->fs_h[h]) +
                                          qt_featureset_rejected(s->fs_h[h]) ==
                                      s->sma_fast.ring.count));
        }
        /* A symbol exists only because a bar was processed: counts must agree. */
        ok = ok && s->sma_fast.ring.count >= 1 && s->sma_fast.ring.count == s->sma_slow.ring.count &&
             s->sma_fast.ring.count == s->ema_fast.count && s->ema_fast.count == s->ema_slow.count &&
             s->rvol.has_prev && s->rvol.stat.ring.count + 1 == s->sma_fast.ring.count &&
             s->last_t != INT64_MIN;
        /* every bar went to the feature set: accepted or refused */
        ok = ok && (!s->fs || qt_featureset_bars(s->fs) + qt_featureset_rejected(s->fs) ==
                                  s->sma_fast.ring.count);
    }
    if (!ok || !qt_reader_done(r)) {
        free_syms(&syms);
        return false;
    }
    free_syms(&self->syms);
    self->syms = syms;
    self->has_wm = has_wm == 1;
    self->last_wm_t = last_wm;
    self->since_wm = since;
    return true;
}

void features_vec_to_pb(const features_vec_t *v, features_pb_t *pb) {
    qt__v1__feature_vector__init(&pb->fv);
    pb->fv.symbol = (char *)v->symbol;
    pb->fv.interval = (char *)v->interval;
    pb->fv.bar_time_ms = v->bar_time_ms;
    pb->fv.close = v->close;
    pb->fv.feature_schema = FEATURES_SCHEMA;
    pb->fv.flags = v->flags;
    size_t n = v->n;
    const char *const *names = v->names;
    if (n == 0 || n > FEATURES_MAX || !names) {
        n = FEATURES_N;
        names = features_names;
    }
    for (size_t i = 0; i < n; i++) {
        qt__v1__feature__init(&pb->f[i]);
        pb->f[i].name = (char *)names[i];
        pb->f[i].value = isfinite(v->value[i]) ? v->value[i] : 0.0;
        pb->f[i].ready = isfinite(v->value[i]) && v->ready[i];
        pb->fp[i] = &pb->f[i];
    }
    pb->fv.n_features = n;
    pb->fv.features = pb->fp;
}
