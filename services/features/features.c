/* features: per-symbol incremental features; see features.h. */
#include "features.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qt_symtab.h"

#define STATE_MAGIC 0x45465451u   /* "QTFE" */
#define STATE_VERSION 1u

const char *const features_names[FEATURES_N] = {"ret_1",    "sma_fast", "sma_slow",
                                                "ema_fast", "ema_slow", "rvol"};

typedef struct {
    char symbol[FEATURES_SYMBOL_MAX + 1];
    char interval[FEATURES_INTERVAL_MAX + 1];
    int64_t last_t;
    qt_ind_sma_t sma_fast, sma_slow;
    qt_ind_ema_t ema_fast, ema_slow;
    qt_ind_rvol_t rvol;
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
};

void features_cfg_default(features_cfg_t *cfg) {
    cfg->sma_fast = 10;
    cfg->sma_slow = 30;
    cfg->ema_fast = 12;
    cfg->ema_slow = 26;
    cfg->rvol = 20;
    cfg->max_symbols = 1024;
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
    return true;
}

features_t *features_new(const features_cfg_t *cfg) {
    if (!cfg || !features_cfg_valid(cfg, NULL, 0)) return NULL;
    features_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    self->cfg = *cfg;
    QT_SYMTAB_INIT(&self->syms, sym_slot_t, symbol, cfg->max_symbols);
    return self;
}

static void free_syms(qt_symtab_t *syms) {
    for (size_t i = 0; i < qt_symtab_size(syms); i++)
        free(((sym_slot_t *)qt_symtab_at(syms, i))->s);
    qt_symtab_free(syms);
}

void features_destroy(features_t **self_p) {
    if (!self_p || !*self_p) return;
    free_syms(&(*self_p)->syms);
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

static bool sym_init(sym_t *s, const features_cfg_t *c, const char *symbol,
                     const char *interval) {
    memset(s, 0, sizeof *s);
    snprintf(s->symbol, sizeof s->symbol, "%s", symbol);
    snprintf(s->interval, sizeof s->interval, "%s", interval);
    s->last_t = INT64_MIN;
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
        s = malloc(sizeof *s);
        if (!s || !sym_init(s, &self->cfg, bar->symbol, bar->interval)) {
            free(s);
            (void)qt_symtab_remove(&self->syms, bar->symbol);
            self->stats.invalid++;
            return FEATURES_INVALID;
        }
        slot->s = s;
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
    for (int i = 0; i < FEATURES_N; i++) {
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
    }
}

bool features_load(features_t *self, qt_reader_t *r) {
    const features_cfg_t *c = &self->cfg;
    uint32_t magic = qt_read_u32(r), ver = qt_read_u32(r);
    uint32_t w[5];
    for (int i = 0; i < 5; i++) w[i] = qt_read_u32(r);
    uint32_t has_wm = qt_read_u32(r);
    int64_t last_wm = qt_read_i64(r);
    uint64_t since = qt_read_u64(r);
    uint32_t n = qt_read_u32(r);
    if (r->err || magic != STATE_MAGIC || ver != STATE_VERSION || w[0] != c->sma_fast ||
        w[1] != c->sma_slow || w[2] != c->ema_fast || w[3] != c->ema_slow || w[4] != c->rvol ||
        has_wm > 1 || n > c->max_symbols)
        return false;
    qt_symtab_t syms;
    QT_SYMTAB_INIT(&syms, sym_slot_t, symbol, c->max_symbols);
    if (!qt_symtab_reserve(&syms, n ? n : 1)) return false;
    bool ok = true;
    for (uint32_t i = 0; i < n && ok; i++) {
        sym_t *s = malloc(sizeof *s);
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
             sym_init(s, c, sym, iv) &&
             !(prev && strcmp(prev->symbol, s->symbol) >= 0) &&   /* sorted, unique */
             qt_symtab_upsert(&syms, s->symbol, &slot) == QT_SYMTAB_INSERTED;
        if (!ok) {
            free(s);
            break;
        }
        ((sym_slot_t *)slot)->s = s;
        s->last_t = qt_read_i64(r);
        ok = ok && !r->err && qt_ind_sma_load(&s->sma_fast, r, c->sma_fast) &&
             qt_ind_sma_load(&s->sma_slow, r, c->sma_slow) &&
             qt_ind_ema_load(&s->ema_fast, r, c->ema_fast) &&
             qt_ind_ema_load(&s->ema_slow, r, c->ema_slow) && qt_ind_rvol_load(&s->rvol, r, c->rvol);
        /* A symbol exists only because a bar was processed: counts must agree. */
        ok = ok && s->sma_fast.ring.count >= 1 && s->sma_fast.ring.count == s->sma_slow.ring.count &&
             s->sma_fast.ring.count == s->ema_fast.count && s->ema_fast.count == s->ema_slow.count &&
             s->rvol.has_prev && s->rvol.stat.ring.count + 1 == s->sma_fast.ring.count &&
             s->last_t != INT64_MIN;
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
    for (int i = 0; i < FEATURES_N; i++) {
        qt__v1__feature__init(&pb->f[i]);
        pb->f[i].name = (char *)features_names[i];
        pb->f[i].value = isfinite(v->value[i]) ? v->value[i] : 0.0;
        pb->f[i].ready = isfinite(v->value[i]) && v->ready[i];
        pb->fp[i] = &pb->f[i];
    }
    pb->fv.n_features = FEATURES_N;
    pb->fv.features = pb->fp;
}
