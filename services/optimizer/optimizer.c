/* optimizer: the qt-optimizer core (see optimizer.h, docs/services/optimizer.md).
 *
 * Why water-filling: a plain "scale then clip" loses weight (the clipped excess just
 * vanishes) and a single redistribution can push another name over the cap. Repeating
 * "cap the names above max_weight, give the rest to the others in proportion to 1/vol"
 * converges in at most n rounds, because each round caps at least one more name.
 *
 * Why the classical answer first: it is the production path. QAOA runs second, under a
 * wall deadline and the circuit breaker; whatever QAOA does (late, failing, worse), a
 * complete classical answer is already there to publish.
 *
 * Why a close history and not a qt_cov_t stream: the candidate set changes from batch
 * to batch, so Σ is rebuilt for each batch's candidates from the closes of the last
 * cov_window + 1 batches (a ring of fixed-point closes per symbol, 0 = absent), with
 * qt_cov_ledoit_wolf_batch over the rows where every candidate has both closes. */
#include "qt_sysinfo.h"
#include "optimizer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qt_breaker.h"
#include "qt_covariance.h"
#include "qt_qaoa.h"
#include "qt_qubo.h"
#include "qt_solvers.h"
#include "qt_symtab.h"
#include "qt_weights.h"

#define SNAPSHOT_VERSION 2u
#define HIST_CAP_MAX (OPTIMIZER_MAX_COV_WINDOW + 1)
#define QAOA_MEM_LIMIT (256ull << 20)

typedef struct {
    char symbol[OPTIMIZER_SYMBOL_MAX + 1];
    int64_t closes[HIST_CAP_MAX];   /* slot = batch seq % cap; 0 = no close that batch */
} hist_rec_t;

struct optimizer_t {
    optimizer_config_t cfg;
    int64_t last_emitted_ms;      /* INT64_MIN: nothing emitted yet */
    int64_t batch_time_ms;        /* INT64_MIN: no pending batch */
    qt_symtab_t pending;          /* optimizer_signal_t by symbol, <= OPTIMIZER_MAX_PENDING */
    uint64_t superseded;
    qt_symtab_t hist;             /* hist_rec_t by symbol */
    uint64_t hist_seq;            /* batches recorded (the newest is slot hist_seq % cap) */
    qt_breaker_t *breaker;
    optimizer_clock_fn now_ns;
    void *clock_ud;
    bool (*stop_hook)(void *);
    void *stop_ud;
};

static size_t hist_cap(const optimizer_t *self) { return (size_t)self->cfg.cov_window + 1; }

void optimizer_config_defaults(optimizer_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->min_score = 0.0;
    cfg->gross_weight = 1.0;
    cfg->max_weight = 0.25;
    cfg->max_names = 10;
    cfg->solver = OPT_SOLVER_INVERSE_VOL;
    cfg->weighting = OPT_WEIGHTING_INVERSE_VOL;
    cfg->max_candidates = 12;
    cfg->risk_aversion = 1.0;
    cfg->cov_window = 120;
    cfg->cov_min_obs = 30;
    cfg->seed = 1;
    cfg->qaoa_enabled = false;
    cfg->qaoa_p = 1;
    cfg->qaoa_max_qubits = 16;
    cfg->qaoa_multistart = 2;
    cfg->qaoa_max_evals = 60;
    cfg->qaoa_shots = 256;
    cfg->qaoa_adopt = OPT_ADOPT_IDENTICAL;
    cfg->qaoa_latency_ms = 250.0;
    cfg->quality_tolerance = 0.01;
    cfg->failures_to_open = 3;
    cfg->cooldown_ms = 60000;
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
    if ((unsigned)cfg->solver > OPT_SOLVER_GREEDY)
        return "solver must be inverse_vol, exact, anneal or greedy";
    if ((unsigned)cfg->weighting > OPT_WEIGHTING_RISK_PARITY)
        return "weighting must be inverse_vol, mean_variance or risk_parity";
    if (cfg->max_candidates < 1 || cfg->max_candidates > OPTIMIZER_MAX_CANDIDATES)
        return "max_candidates must be in [1, 24]";
    if (!isfinite(cfg->risk_aversion) || cfg->risk_aversion < 0.0 || cfg->risk_aversion > 1e6)
        return "risk_aversion must be in [0, 1e6]";
    if (cfg->cov_window < 2 || cfg->cov_window > OPTIMIZER_MAX_COV_WINDOW)
        return "cov_window must be in [2, 250]";
    if (cfg->cov_min_obs < 2 || cfg->cov_min_obs > cfg->cov_window)
        return "cov_min_obs must be in [2, cov_window]";
    if (cfg->qaoa_p < 1 || cfg->qaoa_p > QT_QAOA_MAX_P)
        return "qaoa.p must be in [1, 16]";
    if (cfg->qaoa_max_qubits < 1 || cfg->qaoa_max_qubits > QT_QAOA_DEFAULT_MAX_N)
        return "qaoa.max_qubits must be in [1, 26]";
    if (cfg->qaoa_multistart < 1 || cfg->qaoa_multistart > 64)
        return "qaoa.multistart must be in [1, 64]";
    if (cfg->qaoa_max_evals < 1 || cfg->qaoa_max_evals > 100000)
        return "qaoa.max_evals must be in [1, 100000]";
    if (cfg->qaoa_shots < 1 || cfg->qaoa_shots > 1000000)
        return "qaoa.shots must be in [1, 1000000]";
    if ((unsigned)cfg->qaoa_adopt > OPT_ADOPT_TOLERANCE)
        return "qaoa.adopt must be identical or tolerance";
    if (!isfinite(cfg->qaoa_latency_ms) || cfg->qaoa_latency_ms <= 0.0 ||
        cfg->qaoa_latency_ms > 600000.0)
        return "qaoa latency_ms must be in (0, 600000]";
    if (!isfinite(cfg->quality_tolerance) || cfg->quality_tolerance < 0.0 ||
        cfg->quality_tolerance > 10.0)
        return "qaoa quality_tolerance must be in [0, 10]";
    if (cfg->failures_to_open < 1 || cfg->failures_to_open > 1000)
        return "qaoa failures_to_open must be in [1, 1000]";
    if (cfg->cooldown_ms < 0 || cfg->cooldown_ms > 86400000)
        return "qaoa cooldown_ms must be in [0, 86400000]";
    return NULL;
}

static const char *const SOLVER_NAMES[] = {"inverse_vol", "exact", "anneal", "greedy"};
static const char *const WEIGHTING_NAMES[] = {"inverse_vol", "mean_variance", "risk_parity"};
static const char *const ADOPT_NAMES[] = {"identical", "tolerance"};

static bool parse_name(const char *name, const char *const *names, size_t n, int *out)
{
    for (size_t i = 0; name && i < n; i++)
        if (strcmp(name, names[i]) == 0) {
            *out = (int)i;
            return true;
        }
    return false;
}

const char *optimizer_solver_name(optimizer_solver_t s)
{
    return (unsigned)s <= OPT_SOLVER_GREEDY ? SOLVER_NAMES[s] : "unknown";
}

bool optimizer_solver_parse(const char *name, optimizer_solver_t *out)
{
    int v;
    if (!parse_name(name, SOLVER_NAMES, 4, &v))
        return false;
    *out = (optimizer_solver_t)v;
    return true;
}

const char *optimizer_weighting_name(optimizer_weighting_t w)
{
    return (unsigned)w <= OPT_WEIGHTING_RISK_PARITY ? WEIGHTING_NAMES[w] : "unknown";
}

bool optimizer_weighting_parse(const char *name, optimizer_weighting_t *out)
{
    int v;
    if (!parse_name(name, WEIGHTING_NAMES, 3, &v))
        return false;
    *out = (optimizer_weighting_t)v;
    return true;
}

const char *optimizer_adopt_name(optimizer_adopt_t a)
{
    return (unsigned)a <= OPT_ADOPT_TOLERANCE ? ADOPT_NAMES[a] : "unknown";
}

bool optimizer_adopt_parse(const char *name, optimizer_adopt_t *out)
{
    int v;
    if (!parse_name(name, ADOPT_NAMES, 2, &v))
        return false;
    *out = (optimizer_adopt_t)v;
    return true;
}

const char *optimizer_fallback_reason(optimizer_qaoa_outcome_t o)
{
    switch (o) {
    case OPT_QAOA_ADOPTED:
        return "";
    case OPT_QAOA_DISABLED:
        return "disabled";
    case OPT_QAOA_DEADLINE:
        return "deadline";
    case OPT_QAOA_ERROR:
        return "error";
    case OPT_QAOA_QUALITY:
        return "quality";
    case OPT_QAOA_BREAKER_OPEN:
        return "breaker_open";
    }
    return "unknown";
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

/* Weights proportional to inv[] summing to gross, none above cap, by water-filling
 * (see the top of the file). capped[i] tells which names ended at the cap. */
static void waterfill(const double *inv, size_t m, double gross, double cap, double *w,
                      bool *capped)
{
    for (size_t i = 0; i < m; i++) {
        w[i] = 0.0;
        capped[i] = false;
    }
    double remaining = gross;
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
            if (w[i] > cap)
                any_over = true;
        }
        if (!any_over)
            break;
        for (size_t i = 0; i < m; i++) {
            if (!capped[i] && w[i] > cap) {
                capped[i] = true;
                w[i] = cap;
                remaining -= cap;
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
}

/* The per-batch scratch: filtered signals and the listing of priced ones. */
typedef struct {
    optimizer_signal_t *cand;     /* eligible, later cut to the candidates */
    optimizer_signal_t *priced;   /* every signal with a close, sorted by symbol */
    size_t m, n_priced;
} batch_t;

static void batch_free(batch_t *b)
{
    free(b->cand);
    free(b->priced);
}

/* Splits the signals into priced (listed) and eligible (cand) and counts the rest.
 * need_alpha: the QUBO path also needs alpha > 0 (μ of a long-only selection). */
static int batch_filter(const optimizer_config_t *cfg, const optimizer_signal_t *sigs,
                        size_t n, bool need_alpha, batch_t *b, optimizer_target_t *out)
{
    memset(b, 0, sizeof *b);
    b->cand = malloc(n * sizeof *b->cand);
    b->priced = malloc(n * sizeof *b->priced);
    if (!b->cand || !b->priced) {
        batch_free(b);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const optimizer_signal_t *s = &sigs[i];
        if (s->close <= 0) {
            out->skipped_price++;
            continue;
        }
        b->priced[b->n_priced++] = *s;
        if (!s->ready) {
            out->not_ready++;
            continue;
        }
        if (!isfinite(s->score) || !(s->score > cfg->min_score) ||
            (need_alpha && !(isfinite(s->alpha) && s->alpha > 0.0))) {
            out->below_score++;
            continue;
        }
        if (!isfinite(s->volatility) || !(s->volatility > 0.0) ||
            !isfinite(1.0 / s->volatility)) {
            out->skipped_vol++;
            continue;
        }
        b->cand[b->m++] = *s;
    }
    qsort(b->priced, b->n_priced, sizeof *b->priced, cmp_signal);
    return 0;
}

/* Writes the listing: every priced symbol, the m selected ones (sel, sorted by symbol,
 * a subset of priced) with weight w. */
static int write_positions(const batch_t *b, const optimizer_signal_t *sel, const double *w,
                           size_t m, optimizer_target_t *out)
{
    if (b->n_priced > 0) {
        out->positions = calloc(b->n_priced, sizeof *out->positions);
        if (!out->positions)
            return -1;
    }
    /* Both lists are sorted by symbol and sel is a subset of priced: one merge pass. */
    for (size_t i = 0, c = 0; i < b->n_priced; i++) {
        optimizer_position_t *p = &out->positions[i];
        memcpy(p->symbol, b->priced[i].symbol, sizeof b->priced[i].symbol);
        p->ref_price = b->priced[i].close;
        p->weight = 0.0;
        if (c < m && strcmp(sel[c].symbol, b->priced[i].symbol) == 0) {
            if (w[c] > 0.0)
                p->weight = w[c];
            c++;
        }
    }
    out->n_positions = b->n_priced;
    return 0;
}

static void target_labels(optimizer_target_t *out)
{
    out->solver = "inverse_vol";
    out->weighting = "inverse_vol";
    out->breaker_state = "closed";
    out->qaoa = OPT_QAOA_DISABLED;
}

int optimizer_solve(const optimizer_config_t *cfg, const optimizer_signal_t *sigs, size_t n,
                    int64_t bar_time_ms, optimizer_target_t *out)
{
    memset(out, 0, sizeof *out);
    target_labels(out);
    out->bar_time_ms = bar_time_ms;
    out->signals = (uint32_t)n;
    if (n == 0)
        return 0;
    batch_t b;
    if (batch_filter(cfg, sigs, n, false, &b, out) != 0)
        return -1;
    size_t m = b.m;
    if (m > cfg->max_names) {
        qsort(b.cand, m, sizeof *b.cand, cmp_score_desc);
        out->beyond_max_names = (uint32_t)(m - cfg->max_names);
        m = cfg->max_names;
    }
    qsort(b.cand, m, sizeof *b.cand, cmp_signal);
    double *inv = calloc(m ? m : 1, sizeof *inv);
    double *w = malloc((m ? m : 1) * sizeof *w);
    bool *capped = malloc((m ? m : 1) * sizeof *capped);
    int rc = -1;
    if (inv && w && capped) {
        for (size_t i = 0; i < m; i++)
            inv[i] = 1.0 / b.cand[i].volatility;
        waterfill(inv, m, cfg->gross_weight, cfg->max_weight, w, capped);
        for (size_t i = 0; i < m; i++)
            if (capped[i] && w[i] > 0.0)
                out->capped++;
        out->budget = (uint32_t)m;
        out->candidates = (uint32_t)m;
        rc = write_positions(&b, b.cand, w, m, out);
    }
    free(inv);
    free(w);
    free(capped);
    batch_free(&b);
    return rc;
}

/* ---- the object ------------------------------------------------------------------ */

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
    QT_SYMTAB_INIT(&self->hist, hist_rec_t, symbol, OPTIMIZER_MAX_PENDING);
    self->breaker = qt_breaker_new(cfg->failures_to_open, cfg->cooldown_ms);
    if (!self->breaker) {
        free(self);
        return NULL;
    }
    return self;
}

void optimizer_destroy(optimizer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    qt_symtab_free(&(*self_p)->pending);
    qt_symtab_free(&(*self_p)->hist);
    qt_breaker_destroy(&(*self_p)->breaker);
    free(*self_p);
    *self_p = NULL;
}

void optimizer_set_clock(optimizer_t *self, optimizer_clock_fn now_ns, void *ud)
{
    self->now_ns = now_ns;
    self->clock_ud = ud;
}

void optimizer_set_stop_hook(optimizer_t *self, bool (*stop)(void *ud), void *ud)
{
    self->stop_hook = stop;
    self->stop_ud = ud;
}

static int64_t now_ns(const optimizer_t *self)
{
    return self->now_ns ? self->now_ns(self->clock_ud) : 0;
}

/* ---- return history ---------------------------------------------------------------- */

/* Records the closes of one batch as the newest history slot, drops symbols with no
 * close left in the window. -1 on allocation failure. */
static int history_record(optimizer_t *self, const optimizer_signal_t *sigs, size_t n)
{
    const size_t cap = hist_cap(self);
    self->hist_seq++;
    const size_t slot = (size_t)(self->hist_seq % cap);
    size_t nh = qt_symtab_size(&self->hist);
    for (size_t i = 0; i < nh; i++)
        ((hist_rec_t *)qt_symtab_at(&self->hist, i))->closes[slot] = 0;
    for (size_t i = 0; i < n; i++) {
        if (sigs[i].close <= 0)
            continue;
        void *rec = NULL;
        qt_symtab_rc_t rc = qt_symtab_upsert(&self->hist, sigs[i].symbol, &rec);
        if (rc == QT_SYMTAB_NOMEM)
            return -1;
        if (rc != QT_SYMTAB_FOUND && rc != QT_SYMTAB_INSERTED)
            continue;   /* table full (hostile input): that symbol gets no history */
        ((hist_rec_t *)rec)->closes[slot] = sigs[i].close;
    }
    for (size_t i = qt_symtab_size(&self->hist); i-- > 0;) {
        const hist_rec_t *r = qt_symtab_at(&self->hist, i);
        bool any = false;
        for (size_t k = 0; k < cap && !any; k++)
            any = r->closes[k] > 0;
        if (!any) {
            char key[OPTIMIZER_SYMBOL_MAX + 1];
            memcpy(key, r->symbol, sizeof key);
            qt_symtab_remove(&self->hist, key);
        }
    }
    return 0;
}

/* Σ for the n candidates (sorted by symbol): Ledoit-Wolf over the log-return rows in
 * which every candidate has both closes, when there are at least cov_min_obs of them;
 * else diag(vol_i^2) from the signals. -1 on allocation failure. */
static int build_sigma(const optimizer_t *self, const optimizer_signal_t *cand, size_t n,
                       double *sigma, optimizer_target_t *out)
{
    const size_t cap = hist_cap(self);
    const hist_rec_t **recs = calloc(n, sizeof *recs);
    double *X = malloc(cap * n * sizeof *X);
    if (!recs || !X) {
        free(recs);
        free(X);
        return -1;
    }
    bool all = true;
    for (size_t i = 0; i < n; i++) {
        recs[i] = qt_symtab_find(&self->hist, cand[i].symbol);
        all = all && recs[i];
    }
    size_t T = 0;
    uint64_t first = self->hist_seq >= cap ? self->hist_seq - cap + 2 : 2;
    for (uint64_t j = first; all && j <= self->hist_seq; j++) {
        size_t s1 = (size_t)(j % cap), s0 = (size_t)((j - 1) % cap);
        bool ok = true;
        for (size_t i = 0; i < n && ok; i++) {
            int64_t c1 = recs[i]->closes[s1], c0 = recs[i]->closes[s0];
            if (c1 <= 0 || c0 <= 0) {
                ok = false;
                break;
            }
            X[T * n + i] = log((double)c1 / (double)c0);
        }
        if (ok)
            T++;
    }
    double shrink = 0.0;
    if (T >= self->cfg.cov_min_obs && qt_cov_ledoit_wolf_batch(X, T, n, sigma, &shrink)) {
        out->cov_rows = (uint32_t)T;
        out->shrinkage = shrink;
    } else {
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < n; k++)
                sigma[i * n + k] = i == k ? cand[i].volatility * cand[i].volatility : 0.0;
        out->cov_rows = 0;
        out->shrinkage = 0.0;
    }
    free(recs);
    free(X);
    return 0;
}

/* ---- selection: classical, then QAOA under the breaker ------------------------------ */

typedef struct {
    const optimizer_t *self;
    int64_t start_ns, limit_ns;
} deadline_t;

/* should_stop of QAOA: the test hook, or the wall deadline (with a clock). */
static bool deadline_stop(void *ud)
{
    const deadline_t *d = ud;
    if (d->self->stop_hook && d->self->stop_hook(d->self->stop_ud))
        return true;
    return d->self->now_ns && now_ns(d->self) - d->start_ns >= d->limit_ns;
}

static int classical_solve(const optimizer_config_t *cfg, const qt_qubo_problem_t *p,
                           uint8_t *x, qt_solver_result_t *r)
{
    qt_solver_opts_t o;
    qt_solver_opts_default(&o);
    o.seed = cfg->seed;
    char err[256];
    switch (cfg->solver) {
    case OPT_SOLVER_ANNEAL:
        return qt_solve_anneal(p, &o, x, r, err, sizeof err);
    case OPT_SOLVER_GREEDY:
        return qt_solve_greedy(p, &o, x, r, err, sizeof err);
    default:
        return qt_solve_exact(p, &o, x, r, err, sizeof err);
    }
}

/* Runs QAOA (the breaker has allowed it) and classifies the outcome; on ADOPTED x
 * receives QAOA's selection. */
static optimizer_qaoa_outcome_t qaoa_attempt(optimizer_t *self, const qt_qubo_problem_t *p,
                                             const uint8_t *x_classical, double e_classical,
                                             uint8_t *x, optimizer_target_t *out)
{
    const optimizer_config_t *cfg = &self->cfg;
    deadline_t d = {.self = self, .start_ns = now_ns(self),
                    .limit_ns = (int64_t)(cfg->qaoa_latency_ms * 1e6)};
    qt_qaoa_opts_t o;
    qt_qaoa_opts_default(&o);
    o.p = cfg->qaoa_p;
    o.seed = cfg->seed;
    o.mixer = QT_QAOA_MIXER_XY;
    o.max_n = cfg->qaoa_max_qubits;
    o.mem_limit_bytes = QAOA_MEM_LIMIT;
    o.mem_available_bytes = qt_sysinfo_mem_available_bytes(); /* 0 = unknown: limit only */
    o.multistart = cfg->qaoa_multistart;
    o.max_evals = cfg->qaoa_max_evals;
    o.shots = cfg->qaoa_shots;
    o.should_stop = deadline_stop;
    o.stop_ud = &d;
    qt_qaoa_result_t *r = calloc(1, sizeof *r);
    if (!r)
        return OPT_QAOA_ERROR;
    int rc = qt_qaoa_solve(p, 0.0, &o, r);
    int64_t elapsed = now_ns(self) - d.start_ns;
    out->qaoa_ms = (double)elapsed / 1e6;
    optimizer_qaoa_outcome_t res;
    if (rc != 0) {
        res = OPT_QAOA_ERROR;
    } else if (r->stopped || (self->now_ns && elapsed > d.limit_ns)) {
        res = OPT_QAOA_DEADLINE;
    } else {
        /* f from the one direct formula for every selection (the solvers' incremental
         * sums may differ in the last bits): equal selections give equal numbers. */
        out->qaoa_objective = qt_qubo_objective(p, r->selection);
        out->objective_gap =
            (out->qaoa_objective - e_classical) / fmax(fabs(e_classical), 1e-12);
        bool same = memcmp(r->selection, x_classical, p->n) == 0;
        bool ok = r->feasible && isfinite(out->qaoa_objective) &&
                  (cfg->qaoa_adopt == OPT_ADOPT_IDENTICAL
                       ? same
                       : out->objective_gap <= cfg->quality_tolerance);
        res = ok ? OPT_QAOA_ADOPTED : OPT_QAOA_QUALITY;
        if (ok)
            memcpy(x, r->selection, p->n);
    }
    free(r);
    return res;
}

/* Weights for the B selected names (sel, by symbol; sig_sigma/mu their sub-problem). */
static void selection_weights(const optimizer_config_t *cfg, const optimizer_signal_t *sel,
                              size_t B, const double *mu, const double *sigma, double q,
                              double *w, optimizer_target_t *out)
{
    bool capped[OPTIMIZER_MAX_CANDIDATES];
    double inv[OPTIMIZER_MAX_CANDIDATES] = {0};
    out->weighting = optimizer_weighting_name(cfg->weighting);
    bool done = false;
    if (cfg->weighting != OPT_WEIGHTING_INVERSE_VOL) {
        if ((double)B * cfg->max_weight <= cfg->gross_weight) {
            for (size_t i = 0; i < B; i++)   /* every name at the cap, the rest is cash */
                w[i] = cfg->max_weight;
            done = true;
        } else {
            qt_weights_opts_t o;
            qt_weights_opts_default(&o);
            o.method = cfg->weighting == OPT_WEIGHTING_MEAN_VARIANCE ? QT_WEIGHTS_MEANVAR
                                                                     : QT_WEIGHTS_ERC;
            o.q = q;
            o.gross = cfg->gross_weight;
            o.cap = cfg->max_weight;
            char err[256];
            done = qt_weights_compute(B, mu, sigma, &o, w, NULL, err, sizeof err) == 0;
            for (size_t i = 0; done && i < B; i++)
                done = isfinite(w[i]) && w[i] >= 0.0 && w[i] <= cfg->max_weight + 1e-12;
            if (!done) {
                out->weights_fallback = true;
                out->weighting = "inverse_vol";
            }
        }
        for (size_t i = 0; done && i < B; i++) {
            if (w[i] > cfg->max_weight)
                w[i] = cfg->max_weight;   /* projection rounding */
            if (w[i] < 1e-15)
                w[i] = 0.0;
            if (w[i] > 0.0 && w[i] >= cfg->max_weight - 1e-12)
                out->capped++;
        }
    }
    if (!done) {
        for (size_t i = 0; i < B; i++)
            inv[i] = 1.0 / sel[i].volatility;
        waterfill(inv, B, cfg->gross_weight, cfg->max_weight, w, capped);
        for (size_t i = 0; i < B; i++)
            if (capped[i] && w[i] > 0.0)
                out->capped++;
    }
}

/* The QUBO path for one batch (solver exact/anneal/greedy). */
static int solve_qubo(optimizer_t *self, const optimizer_signal_t *sigs, size_t n_sigs,
                      int64_t bar_time_ms, optimizer_target_t *out)
{
    const optimizer_config_t *cfg = &self->cfg;
    memset(out, 0, sizeof *out);
    target_labels(out);
    out->bar_time_ms = bar_time_ms;
    out->signals = (uint32_t)n_sigs;
    out->solver = optimizer_solver_name(cfg->solver);
    out->weighting = optimizer_weighting_name(cfg->weighting);
    out->breaker_state = qt_breaker_state_name(qt_breaker_state(self->breaker));
    batch_t b;
    if (batch_filter(cfg, sigs, n_sigs, true, &b, out) != 0)
        return -1;
    /* Candidates: the best scores (ties by symbol), then in symbol order = bit order. */
    size_t n = b.m;
    qsort(b.cand, n, sizeof *b.cand, cmp_score_desc);
    if (n > cfg->max_candidates)
        n = cfg->max_candidates;
    qsort(b.cand, n, sizeof *b.cand, cmp_signal);
    size_t B = n < cfg->max_names ? n : cfg->max_names;
    out->candidates = (uint32_t)n;
    out->budget = (uint32_t)B;
    out->beyond_max_names = (uint32_t)(b.m - B);
    if (n == 0) {
        int rc = write_positions(&b, NULL, NULL, 0, out);
        batch_free(&b);
        return rc;
    }
    double mu[OPTIMIZER_MAX_CANDIDATES], beta_sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        mu[i] = b.cand[i].alpha;
        beta_sum += isfinite(b.cand[i].beta) ? b.cand[i].beta : 0.0;
    }
    double mean_beta = beta_sum / (double)n;
    double q = cfg->risk_aversion * (mean_beta > 0.0 ? mean_beta : 0.0);
    if (!isfinite(q))
        q = 0.0;
    out->q = q;
    double *sigma = malloc(n * n * sizeof *sigma);
    if (!sigma || build_sigma(self, b.cand, n, sigma, out) != 0) {
        free(sigma);
        batch_free(&b);
        return -1;
    }
    qt_qubo_problem_t p = {.n = n, .mu = mu, .sigma = sigma, .q = q, .budget = B};
    uint8_t xc[OPTIMIZER_MAX_CANDIDATES], x[OPTIMIZER_MAX_CANDIDATES];
    qt_solver_result_t cr;
    int64_t t0 = now_ns(self);
    int rc = classical_solve(cfg, &p, xc, &cr);
    out->classical_ms = (double)(now_ns(self) - t0) / 1e6;
    if (rc != 0 || !cr.feasible || !isfinite(qt_qubo_objective(&p, xc))) {
        free(sigma);
        batch_free(&b);
        return -2;   /* e.g. numbers too large for a finite objective: caller falls back */
    }
    out->classical_objective = qt_qubo_objective(&p, xc);
    out->objective = out->classical_objective;
    memcpy(x, xc, n);

    /* QAOA second, when configured, under the breaker. */
    if (cfg->qaoa_enabled) {
        qt_breaker_decision_t d = qt_breaker_allow(self->breaker, now_ns(self) / 1000000);
        if (d == QT_BREAKER_SKIP) {
            out->qaoa = OPT_QAOA_BREAKER_OPEN;
        } else {
            out->qaoa_probe = d == QT_BREAKER_PROBE;
            out->qaoa = qaoa_attempt(self, &p, xc, out->classical_objective, x, out);
            if (out->qaoa == OPT_QAOA_ADOPTED)
                qt_breaker_success(self->breaker, now_ns(self) / 1000000);
            else
                qt_breaker_failure(self->breaker, now_ns(self) / 1000000);
        }
        out->breaker_state = qt_breaker_state_name(qt_breaker_state(self->breaker));
        if (out->qaoa == OPT_QAOA_ADOPTED) {
            out->solver = "qaoa";
            out->objective = out->qaoa_objective;
        }
    }

    /* Weights of the selected names (symbol order). */
    optimizer_signal_t sel[OPTIMIZER_MAX_CANDIDATES];
    double mu_s[OPTIMIZER_MAX_CANDIDATES], w[OPTIMIZER_MAX_CANDIDATES];
    double sig_s[OPTIMIZER_MAX_CANDIDATES * OPTIMIZER_MAX_CANDIDATES];
    size_t idx[OPTIMIZER_MAX_CANDIDATES], k = 0;
    for (size_t i = 0; i < n; i++)
        if (x[i])
            idx[k++] = i;
    for (size_t a = 0; a < k; a++) {
        sel[a] = b.cand[idx[a]];
        mu_s[a] = mu[idx[a]];
        for (size_t c = 0; c < k; c++)
            sig_s[a * k + c] = sigma[idx[a] * n + idx[c]];
    }
    selection_weights(cfg, sel, k, mu_s, sig_s, q, w, out);
    rc = write_positions(&b, sel, w, k, out);
    free(sigma);
    batch_free(&b);
    return rc;
}

/* ---- batches ------------------------------------------------------------------------ */

static void drop_batch(optimizer_t *self)
{
    self->superseded += qt_symtab_size(&self->pending);
    qt_symtab_clear(&self->pending);
    self->batch_time_ms = INT64_MIN;
}

optimizer_sig_result_t optimizer_on_signal(optimizer_t *self, const optimizer_signal_t *sig)
{
    if (!symbol_ok(sig->symbol) || !isfinite(sig->score) || !isfinite(sig->volatility) ||
        !(fabs(sig->alpha) <= OPTIMIZER_MAX_ABS_INPUT) ||
        !(fabs(sig->beta) <= OPTIMIZER_MAX_ABS_INPUT))
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
    const optimizer_signal_t *sigs = use_batch ? qt_symtab_data(&self->pending) : NULL;
    size_t n = use_batch ? n_pending : 0;
    /* The batch's closes join the history first: Σ includes the latest return. */
    if (use_batch && history_record(self, sigs, n) != 0)
        return OPT_WM_ERROR;
    int rc = self->cfg.solver == OPT_SOLVER_INVERSE_VOL
                 ? optimizer_solve(&self->cfg, sigs, n, t, out)
                 : solve_qubo(self, sigs, n, t, out);
    if (rc == -2) {
        /* The classical selection failed on this batch's numbers: the foundation's
         * inverse-vol target instead of stopping the stream (a restart would fail the
         * same way on the replayed batch). */
        optimizer_target_free(out);
        rc = optimizer_solve(&self->cfg, sigs, n, t, out);
        out->classical_failed = true;
    }
    if (rc != 0) {
        optimizer_target_free(out);
        return OPT_WM_ERROR;
    }
    out->breaker_state = qt_breaker_state_name(qt_breaker_state(self->breaker));
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
int optimizer_breaker_state(const optimizer_t *self)
{
    return (int)qt_breaker_state(self->breaker);
}
uint64_t optimizer_breaker_opens(const optimizer_t *self)
{
    qt_breaker_snapshot_t s;
    qt_breaker_snapshot(self->breaker, &s);
    return s.opens;
}
uint64_t optimizer_breaker_probes(const optimizer_t *self)
{
    qt_breaker_snapshot_t s;
    qt_breaker_snapshot(self->breaker, &s);
    return s.probes;
}
uint32_t optimizer_history_symbols(const optimizer_t *self)
{
    return (uint32_t)qt_symtab_size(&self->hist);
}

/* ---- snapshot ----------------------------------------------------------------------- */

/* v2 layout: version, last emitted, batch time, pending signals (symbol order), then
 * the history (seq, window length L, symbols, and per symbol its L closes oldest
 * first), then the breaker (state, failures, opened_at, opens, probes). */
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
        qt_buf_put_f64(out, s->alpha);
        qt_buf_put_f64(out, s->beta);
    }
    const size_t cap = hist_cap(self);
    qt_buf_put_u64(out, self->hist_seq);
    qt_buf_put_u32(out, (uint32_t)cap);
    size_t nh = qt_symtab_size(&self->hist);
    qt_buf_put_u32(out, (uint32_t)nh);
    for (size_t i = 0; i < nh; i++) {
        const hist_rec_t *r = qt_symtab_at(&self->hist, i);
        qt_buf_put_str(out, r->symbol);
        for (size_t k = 0; k < cap; k++)   /* batch seq - cap + 1 + k, oldest first */
            qt_buf_put_i64(out, r->closes[(size_t)((self->hist_seq + 1 + k) % cap)]);
    }
    qt_breaker_snapshot_t b;
    qt_breaker_snapshot(self->breaker, &b);
    qt_buf_put_u32(out, (uint32_t)b.state);
    qt_buf_put_u32(out, b.failures);
    qt_buf_put_i64(out, b.opened_at_ms);
    qt_buf_put_u64(out, b.opens);
    qt_buf_put_u64(out, b.probes);
}

static bool load_pending(qt_reader_t *r, uint32_t version, int64_t last, int64_t batch,
                         qt_symtab_t *p)
{
    uint32_t n = qt_read_u32(r);
    if (r->err || n > OPTIMIZER_MAX_PENDING || !qt_symtab_reserve(p, n))
        return false;
    for (uint32_t i = 0; i < n; i++) {
        optimizer_signal_t sig = {0}, *s = &sig;
        const optimizer_signal_t *prev = i > 0 ? qt_symtab_at(p, i - 1) : NULL;
        qt_read_str(r, s->symbol, sizeof s->symbol);
        s->bar_time_ms = qt_read_i64(r);
        s->score = qt_read_f64(r);
        s->volatility = qt_read_f64(r);
        s->close = qt_read_i64(r);
        uint32_t ready = qt_read_u32(r);
        if (version >= 2) {
            s->alpha = qt_read_f64(r);
            s->beta = qt_read_f64(r);
        } else {
            s->beta = 1.0;
        }
        /* Invariants of a pending batch: one bar time, newer than the last target,
         * valid symbols strictly increasing, finite numbers. */
        if (r->err || ready > 1u || !symbol_ok(s->symbol) || s->bar_time_ms != batch ||
            batch <= last || !isfinite(s->score) || !isfinite(s->volatility) ||
            !isfinite(s->alpha) || !isfinite(s->beta) ||
            (prev && strcmp(prev->symbol, s->symbol) >= 0))
            return false;
        s->ready = ready == 1u;
        void *slot = NULL;
        if (qt_symtab_upsert(p, s->symbol, &slot) != QT_SYMTAB_INSERTED)
            return false;
        *(optimizer_signal_t *)slot = *s;
    }
    return n > 0 || batch == INT64_MIN;
}

/* The saved window may have another length than the configured one (config change):
 * the newest min(saved, configured) closes are kept. */
static bool load_history(qt_reader_t *r, size_t cap, uint64_t *seq_out, qt_symtab_t *h)
{
    uint64_t seq = qt_read_u64(r);
    uint32_t saved_cap = qt_read_u32(r);
    uint32_t n = qt_read_u32(r);
    if (r->err || saved_cap < 3 || saved_cap > HIST_CAP_MAX || n > OPTIMIZER_MAX_PENDING ||
        (seq == 0 && n > 0) || !qt_symtab_reserve(h, n))
        return false;
    for (uint32_t i = 0; i < n; i++) {
        char sym[OPTIMIZER_SYMBOL_MAX + 1];
        qt_read_str(r, sym, sizeof sym);
        const hist_rec_t *prev = i > 0 ? qt_symtab_at(h, i - 1) : NULL;
        if (r->err || !symbol_ok(sym) || (prev && strcmp(prev->symbol, sym) >= 0))
            return false;
        void *slot = NULL;
        if (qt_symtab_upsert(h, sym, &slot) != QT_SYMTAB_INSERTED)
            return false;
        hist_rec_t *rec = slot;
        bool any = false;
        for (uint32_t k = 0; k < saved_cap; k++) {
            int64_t c = qt_read_i64(r);
            /* closes[k] belongs to batch seq - saved_cap + 1 + k */
            uint64_t back = (uint64_t)saved_cap - 1 - k;   /* batches before the newest */
            if (c < 0 || (c > 0 && back >= seq))
                return false;
            any = any || c > 0;
            if (back < cap && back < seq)
                rec->closes[(size_t)((seq - back) % cap)] = c;
        }
        if (r->err || !any)
            return false;
    }
    *seq_out = seq;
    return true;
}

bool optimizer_load(optimizer_t *self, qt_reader_t *r)
{
    uint32_t version = qt_read_u32(r);
    if (version != 1u && version != SNAPSHOT_VERSION)
        return false;
    int64_t last = qt_read_i64(r);
    int64_t batch = qt_read_i64(r);
    if (r->err)
        return false;
    qt_symtab_t p, h;
    QT_SYMTAB_INIT(&p, optimizer_signal_t, symbol, OPTIMIZER_MAX_PENDING);
    QT_SYMTAB_INIT(&h, hist_rec_t, symbol, OPTIMIZER_MAX_PENDING);
    uint64_t seq = 0;
    qt_breaker_snapshot_t bs = {.state = QT_BREAKER_CLOSED};
    bool ok = load_pending(r, version, last, batch, &p);
    if (ok && version >= 2) {
        ok = load_history(r, hist_cap(self), &seq, &h);
        uint32_t state = qt_read_u32(r);
        bs.failures = qt_read_u32(r);
        bs.opened_at_ms = qt_read_i64(r);
        bs.opens = qt_read_u64(r);
        bs.probes = qt_read_u64(r);
        ok = ok && !r->err && state <= (uint32_t)QT_BREAKER_HALF_OPEN;
        bs.state = (qt_breaker_state_t)(ok ? state : 0);
        /* A smaller failures_to_open than when saved: one more failure opens it. */
        if (bs.state == QT_BREAKER_CLOSED && bs.failures >= self->cfg.failures_to_open)
            bs.failures = self->cfg.failures_to_open - 1;
    }
    ok = ok && qt_reader_done(r) && qt_breaker_restore(self->breaker, &bs);
    if (!ok) {
        qt_symtab_free(&p);
        qt_symtab_free(&h);
        return false;
    }
    qt_symtab_free(&self->pending);
    qt_symtab_free(&self->hist);
    self->pending = p;
    self->hist = h;
    self->hist_seq = seq;
    self->last_emitted_ms = last;
    self->batch_time_ms = batch;
    return true;
}
