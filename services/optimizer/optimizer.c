/* optimizer: inverse-volatility target portfolio core (see optimizer.h).
 *
 * Why water-filling: a plain "scale then clip" loses weight (the clipped excess just
 * vanishes) and a single redistribution can push another name over the cap. Repeating
 * "cap the names above max_weight, give the rest to the others in proportion to 1/vol"
 * converges in at most n rounds, because each round caps at least one more name. */
#include "optimizer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qt_symtab.h"

#define SNAPSHOT_VERSION 1u

struct optimizer_t {
    optimizer_config_t cfg;
    int64_t last_emitted_ms;      /* INT64_MIN: nothing emitted yet */
    int64_t batch_time_ms;        /* INT64_MIN: no pending batch */
    qt_symtab_t pending;          /* optimizer_signal_t by symbol, <= OPTIMIZER_MAX_PENDING */
    uint64_t superseded;
};

void optimizer_config_defaults(optimizer_config_t *cfg)
{
    cfg->min_score = 0.0;
    cfg->gross_weight = 1.0;
    cfg->max_weight = 0.25;
    cfg->max_names = 10;
}

const char *optimizer_config_check(const optimizer_config_t *cfg)
{
    if (!isfinite(cfg->min_score) || cfg->min_score < -1.0 || cfg->min_score >= 1.0)
        return "min_score must be in [-1, 1)";
    if (!isfinite(cfg->gross_weight) || cfg->gross_weight <= 0.0 || cfg->gross_weight > 1.0)
        return "gross_weight must be in (0, 1]";
    if (!isfinite(cfg->max_weight) || cfg->max_weight <= 0.0 || cfg->max_weight > 1.0)
        return "max_weight must be in (0, 1]";
    if (cfg->max_names < 1 || cfg->max_names > 1024)
        return "max_names must be in [1, 1024]";
    return NULL;
}

void optimizer_target_free(optimizer_target_t *t)
{
    if (!t)
        return;
    free(t->positions);
    t->positions = NULL;
    t->n_positions = 0;
}

static bool symbol_ok(const char *s)
{
    size_t n = strnlen(s, OPTIMIZER_SYMBOL_MAX + 1);
    return n > 0 && n <= OPTIMIZER_SYMBOL_MAX;
}

static int cmp_signal(const void *a, const void *b)
{
    const optimizer_signal_t *x = a, *y = b;
    return strcmp(x->symbol, y->symbol);
}

/* Highest score first; ties by symbol so the selection is deterministic. */
static int cmp_score_desc(const void *a, const void *b)
{
    const optimizer_signal_t *x = a, *y = b;
    if (x->score > y->score)
        return -1;
    if (x->score < y->score)
        return 1;
    return strcmp(x->symbol, y->symbol);
}

int optimizer_solve(const optimizer_config_t *cfg, const optimizer_signal_t *sigs, size_t n,
                    int64_t bar_time_ms, optimizer_target_t *out)
{
    memset(out, 0, sizeof *out);
    out->bar_time_ms = bar_time_ms;
    out->signals = (uint32_t)n;
    if (n == 0)
        return 0;

    optimizer_signal_t *cand = malloc(n * sizeof *cand);
    optimizer_signal_t *priced = malloc(n * sizeof *priced);
    double *inv = malloc(n * sizeof *inv);
    double *w = malloc(n * sizeof *w);
    bool *capped = malloc(n * sizeof *capped);
    if (!cand || !priced || !inv || !w || !capped) {
        free(cand);
        free(priced);
        free(inv);
        free(w);
        free(capped);
        return -1;
    }
    /* priced: every signal with a valid close (listed in the output, weight 0 unless
     * selected); cand: the eligible ones, of which the max_names best are selected. */
    size_t n_priced = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        const optimizer_signal_t *s = &sigs[i];
        if (s->close <= 0) {
            out->skipped_price++;
            continue;
        }
        priced[n_priced++] = *s;
        if (!s->ready) {
            out->not_ready++;
            continue;
        }
        if (!isfinite(s->score) || !(s->score > cfg->min_score)) {
            out->below_score++;
            continue;
        }
        if (!isfinite(s->volatility) || !(s->volatility > 0.0) ||
            !isfinite(1.0 / s->volatility)) {
            out->skipped_vol++;
            continue;
        }
        cand[m++] = *s;
    }
    if (m > cfg->max_names) {
        qsort(cand, m, sizeof *cand, cmp_score_desc);
        out->beyond_max_names = (uint32_t)(m - cfg->max_names);
        m = cfg->max_names;
    }
    qsort(cand, m, sizeof *cand, cmp_signal);
    qsort(priced, n_priced, sizeof *priced, cmp_signal);

    /* Water-filling over the candidates, in symbol order. */
    for (size_t i = 0; i < m; i++) {
        inv[i] = 1.0 / cand[i].volatility;
        w[i] = 0.0;
        capped[i] = false;
    }
    double remaining = cfg->gross_weight;
    size_t n_free = m;
    while (n_free > 0 && remaining > 0.0) {
        double sum_inv = 0.0;
        for (size_t i = 0; i < m; i++)
            if (!capped[i])
                sum_inv += inv[i];
        bool any_over = false;
        for (size_t i = 0; i < m; i++) {
            if (capped[i])
                continue;
            w[i] = remaining * (inv[i] / sum_inv);
            if (w[i] > cfg->max_weight)
                any_over = true;
        }
        if (!any_over)
            break;
        for (size_t i = 0; i < m; i++) {
            if (!capped[i] && w[i] > cfg->max_weight) {
                capped[i] = true;
                w[i] = cfg->max_weight;
                remaining -= cfg->max_weight;
                n_free--;
            }
        }
        /* Rounding residue of "gross - k * cap" is cash, not a weight. */
        if (remaining < 1e-12)
            remaining = 0.0;
    }
    if (remaining == 0.0)
        for (size_t i = 0; i < m; i++)
            if (!capped[i])
                w[i] = 0.0;   /* values from before the last capping round */

    if (n_priced > 0) {
        out->positions = calloc(n_priced, sizeof *out->positions);
        if (!out->positions) {
            free(cand);
            free(priced);
            free(inv);
            free(w);
            free(capped);
            return -1;
        }
    }
    /* Both lists are sorted by symbol and cand is a subset of priced: one merge pass. */
    for (size_t i = 0, c = 0; i < n_priced; i++) {
        optimizer_position_t *p = &out->positions[i];
        memcpy(p->symbol, priced[i].symbol, sizeof priced[i].symbol);
        p->ref_price = priced[i].close;
        p->weight = 0.0;
        if (c < m && strcmp(cand[c].symbol, priced[i].symbol) == 0) {
            if (w[c] > 0.0) {
                p->weight = w[c];
                if (capped[c])
                    out->capped++;
            }
            c++;
        }
    }
    out->n_positions = n_priced;
    free(cand);
    free(priced);
    free(inv);
    free(w);
    free(capped);
    return 0;
}

optimizer_t *optimizer_new(const optimizer_config_t *cfg)
{
    if (!cfg || optimizer_config_check(cfg))
        return NULL;
    optimizer_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    self->last_emitted_ms = INT64_MIN;
    self->batch_time_ms = INT64_MIN;
    QT_SYMTAB_INIT(&self->pending, optimizer_signal_t, symbol, OPTIMIZER_MAX_PENDING);
    return self;
}

void optimizer_destroy(optimizer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    qt_symtab_free(&(*self_p)->pending);
    free(*self_p);
    *self_p = NULL;
}

static void drop_batch(optimizer_t *self)
{
    self->superseded += qt_symtab_size(&self->pending);
    qt_symtab_clear(&self->pending);
    self->batch_time_ms = INT64_MIN;
}

optimizer_sig_result_t optimizer_on_signal(optimizer_t *self, const optimizer_signal_t *sig)
{
    if (!symbol_ok(sig->symbol) || !isfinite(sig->score) || !isfinite(sig->volatility))
        return OPT_SIG_INVALID;
    if (sig->bar_time_ms <= self->last_emitted_ms)
        return OPT_SIG_STALE;
    size_t n_pending = qt_symtab_size(&self->pending);
    if (n_pending > 0 && sig->bar_time_ms < self->batch_time_ms)
        return OPT_SIG_STALE;
    if (n_pending > 0 && sig->bar_time_ms > self->batch_time_ms)
        drop_batch(self);
    /* Same symbol in this batch: overwrite. */
    void *slot = NULL;
    qt_symtab_rc_t rc = qt_symtab_upsert(&self->pending, sig->symbol, &slot);
    if (rc == QT_SYMTAB_FOUND) {
        *(optimizer_signal_t *)slot = *sig;
        return OPT_SIG_ACCEPTED;
    }
    if (rc == QT_SYMTAB_FULL)
        return OPT_SIG_INVALID;
    if (rc != QT_SYMTAB_INSERTED)
        return OPT_SIG_ERROR;
    *(optimizer_signal_t *)slot = *sig;
    self->batch_time_ms = sig->bar_time_ms;
    return OPT_SIG_ACCEPTED;
}

optimizer_wm_result_t optimizer_on_watermark(optimizer_t *self, int64_t t,
                                             optimizer_target_t *out)
{
    memset(out, 0, sizeof *out);
    if (t <= self->last_emitted_ms)
        return OPT_WM_DUPLICATE;
    size_t n_pending = qt_symtab_size(&self->pending);
    bool use_batch = n_pending > 0 && self->batch_time_ms == t;
    if (optimizer_solve(&self->cfg, use_batch ? qt_symtab_data(&self->pending) : NULL,
                        use_batch ? n_pending : 0, t, out) != 0)
        return OPT_WM_ERROR;
    if (use_batch) {
        qt_symtab_clear(&self->pending);
        self->batch_time_ms = INT64_MIN;
    } else if (n_pending > 0 && self->batch_time_ms < t) {
        drop_batch(self);
    }
    self->last_emitted_ms = t;
    return OPT_WM_EMIT;
}

int64_t optimizer_last_emitted(const optimizer_t *self) { return self->last_emitted_ms; }
size_t optimizer_pending(const optimizer_t *self) { return qt_symtab_size(&self->pending); }
int64_t optimizer_batch_time(const optimizer_t *self) { return self->batch_time_ms; }
uint64_t optimizer_superseded(const optimizer_t *self) { return self->superseded; }

void optimizer_save(const optimizer_t *self, qt_buf_t *out)
{
    qt_buf_put_u32(out, SNAPSHOT_VERSION);
    qt_buf_put_i64(out, self->last_emitted_ms);
    qt_buf_put_i64(out, self->batch_time_ms);
    size_t n_pending = qt_symtab_size(&self->pending);
    qt_buf_put_u32(out, (uint32_t)n_pending);
    for (size_t i = 0; i < n_pending; i++) {
        const optimizer_signal_t *s = qt_symtab_at(&self->pending, i);
        qt_buf_put_str(out, s->symbol);
        qt_buf_put_i64(out, s->bar_time_ms);
        qt_buf_put_f64(out, s->score);
        qt_buf_put_f64(out, s->volatility);
        qt_buf_put_i64(out, s->close);
        qt_buf_put_u32(out, s->ready ? 1u : 0u);
    }
}

bool optimizer_load(optimizer_t *self, qt_reader_t *r)
{
    if (qt_read_u32(r) != SNAPSHOT_VERSION)
        return false;
    int64_t last = qt_read_i64(r);
    int64_t batch = qt_read_i64(r);
    uint32_t n = qt_read_u32(r);
    if (r->err || n > OPTIMIZER_MAX_PENDING)
        return false;
    qt_symtab_t p;
    QT_SYMTAB_INIT(&p, optimizer_signal_t, symbol, OPTIMIZER_MAX_PENDING);
    if (!qt_symtab_reserve(&p, n))
        return false;
    for (uint32_t i = 0; i < n; i++) {
        optimizer_signal_t sig = {0}, *s = &sig;
        const optimizer_signal_t *prev = i > 0 ? qt_symtab_at(&p, i - 1) : NULL;
        qt_read_str(r, s->symbol, sizeof s->symbol);
        s->bar_time_ms = qt_read_i64(r);
        s->score = qt_read_f64(r);
        s->volatility = qt_read_f64(r);
        s->close = qt_read_i64(r);
        uint32_t ready = qt_read_u32(r);
        /* Invariants of a pending batch: one bar time, newer than the last target,
         * valid symbols strictly increasing, finite numbers. */
        if (r->err || ready > 1u || !symbol_ok(s->symbol) || s->bar_time_ms != batch ||
            batch <= last || !isfinite(s->score) || !isfinite(s->volatility) ||
            (prev && strcmp(prev->symbol, s->symbol) >= 0)) {
            qt_symtab_free(&p);
            return false;
        }
        s->ready = ready == 1u;
        void *slot = NULL;
        if (qt_symtab_upsert(&p, s->symbol, &slot) != QT_SYMTAB_INSERTED) {
            qt_symtab_free(&p);
            return false;
        }
        *(optimizer_signal_t *)slot = *s;
    }
    if (!qt_reader_done(r) || (n == 0 && batch != INT64_MIN)) {
        qt_symtab_free(&p);
        return false;
    }
    qt_symtab_free(&self->pending);
    self->pending = p;
    self->last_emitted_ms = last;
    self->batch_time_ms = batch;
    return true;
}
