/* supervisor: see supervisor.h. Statistics (equity, drawdown, PnL of a trade) are
 * doubles; positions stay int64 fixed point so that "flat" is exact. */
#include "supervisor/supervisor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qt_envelope.h"
#include "qt_symtab.h"

#define KS(t) QT__V1__KILL_SWITCH_TIER__KS_##t

/* ------------------------------------------------------------------ modes */

static const char *const MODE_NAMES[] = {"off", "manual", "paper", "live"};

const char *sup_mode_name(sup_mode_t m)
{
    return m >= SUP_MODE_OFF && m <= SUP_MODE_LIVE ? MODE_NAMES[m] : "unknown";
}

int sup_mode_parse(const char *s, sup_mode_t *out)
{
    for (int i = 0; s && i <= SUP_MODE_LIVE; i++)
        if (strcmp(s, MODE_NAMES[i]) == 0) {
            *out = (sup_mode_t)i;
            return 0;
        }
    return -1;
}

/* ------------------------------------------------------------------ book */

typedef struct {
    char symbol[QT_MAX_SYMBOL + 1];
    qt_fixed_t qty;       /* signed */
    double avg_cost;      /* average entry price of the open position */
    double close;         /* last close (0: none yet) */
    int64_t close_time_ms;
} book_pos_t;

typedef struct {
    char fill_id[128];
} book_fill_t;

struct sup_book_t {
    double cash;
    qt_symtab_t pos;
    qt_symtab_t fills;
    size_t max_samples, n_samples;
    int64_t *sample_t;
    double *sample_eq;
    size_t max_trades, n_trades, trade_head;   /* ring of outcomes */
    bool *wins;
    size_t closed;                             /* all closed trades ever */
};

sup_book_t *sup_book_new(qt_fixed_t initial_cash, size_t max_samples, size_t max_trades)
{
    if (max_samples == 0 || max_trades == 0)
        return NULL;
    sup_book_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->cash = qt_fixed_to_double(initial_cash);
    QT_SYMTAB_INIT(&b->pos, book_pos_t, symbol, 0);
    QT_SYMTAB_INIT(&b->fills, book_fill_t, fill_id, 0);
    b->max_samples = max_samples;
    b->max_trades = max_trades;
    b->sample_t = calloc(max_samples, sizeof *b->sample_t);
    b->sample_eq = calloc(max_samples, sizeof *b->sample_eq);
    b->wins = calloc(max_trades, sizeof *b->wins);
    if (!b->sample_t || !b->sample_eq || !b->wins) {
        sup_book_destroy(&b);
        return NULL;
    }
    return b;
}

void sup_book_destroy(sup_book_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sup_book_t *b = *self_p;
    qt_symtab_free(&b->pos);
    qt_symtab_free(&b->fills);
    free(b->sample_t);
    free(b->sample_eq);
    free(b->wins);
    free(b);
    *self_p = NULL;
}

static void record_trade(sup_book_t *b, bool win)
{
    b->wins[b->trade_head] = win;
    b->trade_head = (b->trade_head + 1) % b->max_trades;
    if (b->n_trades < b->max_trades)
        b->n_trades++;
    b->closed++;
}

int sup_book_on_fill(sup_book_t *self, const char *fill_id, const char *symbol, int side,
                     qt_fixed_t qty, qt_fixed_t price, qt_fixed_t fee)
{
    if (!self || !fill_id || !*fill_id || strlen(fill_id) >= sizeof(((book_fill_t *)0)->fill_id) ||
        !symbol || !*symbol || strlen(symbol) > QT_MAX_SYMBOL || (side != 1 && side != -1) ||
        qty <= 0 || price <= 0 || fee < 0)
        return -1;
    if (qt_symtab_find(&self->fills, fill_id))
        return 0;
    book_pos_t *p = qt_symtab_find(&self->pos, symbol);
    qt_fixed_t signed_qty = side > 0 ? qty : -qty;
    qt_fixed_t newq = 0;
    if (!qt_fixed_add(p ? p->qty : 0, signed_qty, &newq))
        return -1;
    /* all fallible inserts first, so a failure changes nothing */
    if (qt_symtab_reserve(&self->fills, qt_symtab_size(&self->fills) + 1) == false ||
        qt_symtab_reserve(&self->pos, qt_symtab_size(&self->pos) + 1) == false)
        return -1;
    (void)qt_symtab_upsert(&self->fills, fill_id, NULL);
    void *e = NULL;
    (void)qt_symtab_upsert(&self->pos, symbol, &e);
    p = e;
    double q = qt_fixed_to_double(qty), px = qt_fixed_to_double(price),
           f = qt_fixed_to_double(fee);
    self->cash -= (double)side * q * px + f;
    qt_fixed_t old = p->qty;
    bool reduces = old != 0 && ((old > 0) != (side > 0));
    if (reduces) {
        double closed = fmin(q, fabs(qt_fixed_to_double(old)));
        double dir = old > 0 ? 1.0 : -1.0;
        /* the whole fee is charged to the closing part (a flip's opening part is free) */
        double pnl = closed * (px - p->avg_cost) * dir - f;
        record_trade(self, pnl > 0.0);
    }
    if (newq == 0) {
        p->avg_cost = 0.0;
    } else if (old == 0 || (old > 0) != (newq > 0)) {
        p->avg_cost = px;                       /* opened, or flipped: new basis */
    } else if (!reduces) {
        double oq = fabs(qt_fixed_to_double(old)), nq = fabs(qt_fixed_to_double(newq));
        p->avg_cost = (p->avg_cost * oq + px * q) / nq;   /* added to it */
    }
    p->qty = newq;
    return 1;
}

int sup_book_on_bar(sup_book_t *self, const char *symbol, int64_t open_time_ms,
                    qt_fixed_t close)
{
    if (!self || close <= 0)
        return -1;
    void *e = NULL;
    qt_symtab_rc_t rc = qt_symtab_upsert(&self->pos, symbol, &e);
    if (rc < 0)
        return -1;
    book_pos_t *p = e;
    if (rc == QT_SYMTAB_FOUND && p->close > 0.0 && open_time_ms < p->close_time_ms)
        return 0;
    p->close = qt_fixed_to_double(close);
    p->close_time_ms = open_time_ms;
    return 0;
}

double sup_book_equity(const sup_book_t *self)
{
    double eq = self->cash;
    size_t n = qt_symtab_size(&self->pos);
    for (size_t i = 0; i < n; i++) {
        const book_pos_t *p = qt_symtab_at(&self->pos, i);
        if (p->qty == 0)
            continue;
        eq += qt_fixed_to_double(p->qty) * (p->close > 0.0 ? p->close : p->avg_cost);
    }
    return eq;
}

void sup_book_sample(sup_book_t *self, int64_t t_ms)
{
    if (!self || (self->n_samples && t_ms < self->sample_t[self->n_samples - 1]))
        return;
    if (self->n_samples == self->max_samples) {
        memmove(self->sample_t, self->sample_t + 1, (self->max_samples - 1) * sizeof(int64_t));
        memmove(self->sample_eq, self->sample_eq + 1, (self->max_samples - 1) * sizeof(double));
        self->n_samples--;
    }
    self->sample_t[self->n_samples] = t_ms;
    self->sample_eq[self->n_samples] = sup_book_equity(self);
    self->n_samples++;
}

double sup_book_drawdown_pct(const sup_book_t *self, int64_t window_ms)
{
    if (!self || self->n_samples == 0)
        return 0.0;
    size_t last = self->n_samples - 1;
    double cur = self->sample_eq[last], peak = cur;
    for (size_t i = last + 1; i-- > 0;) {
        if (self->sample_t[last] - self->sample_t[i] > window_ms)
            break;
        if (self->sample_eq[i] > peak)
            peak = self->sample_eq[i];
    }
    if (peak <= 0.0 || cur >= peak)
        return 0.0;
    return (peak - cur) / peak * 100.0;
}

size_t sup_book_win_rate(const sup_book_t *self, size_t n, double *rate)
{
    size_t used = n < self->n_trades ? n : self->n_trades;
    size_t wins = 0;
    for (size_t k = 0; k < used; k++) {
        size_t idx = (self->trade_head + self->max_trades - 1 - k) % self->max_trades;
        wins += self->wins[idx];
    }
    *rate = used ? (double)wins / (double)used : 0.0;
    return used;
}

size_t sup_book_trades(const sup_book_t *self) { return self ? self->closed : 0; }

qt_fixed_t sup_book_position(const sup_book_t *self, const char *symbol)
{
    const book_pos_t *p = self ? qt_symtab_find(&self->pos, symbol) : NULL;
    return p ? p->qty : 0;
}

/* ------------------------------------------------------------------ policies */

static const char *const ACT_NAMES[] = {"WARN",     "THROTTLE",   "PAUSE",         "FLATTEN_ALL",
                                        "SET_MODE", "LOWER_RISK", "SET_RISK_SCALE"};

const char *sup_act_name(sup_act_kind_t k)
{
    return k >= SUP_ACT_WARN && k <= SUP_ACT_SET_RISK_SCALE ? ACT_NAMES[k] : "UNKNOWN";
}

int sup_action_parse(const char *s, sup_action_spec_t *out)
{
    if (!s)
        return -1;
    char word[32], arg[64];
    const char *sp = strchr(s, ' ');
    size_t wl = sp ? (size_t)(sp - s) : strlen(s);
    if (wl == 0 || wl >= sizeof word)
        return -1;
    memcpy(word, s, wl);
    word[wl] = '\0';
    arg[0] = '\0';
    if (sp) {
        if (strlen(sp + 1) >= sizeof arg || !sp[1] || strchr(sp + 1, ' '))
            return -1;
        snprintf(arg, sizeof arg, "%s", sp + 1);
    }
    memset(out, 0, sizeof *out);
    out->mode = SUP_MODE_UNKNOWN;
    for (int k = SUP_ACT_WARN; k <= SUP_ACT_SET_RISK_SCALE; k++) {
        if (strcmp(word, ACT_NAMES[k]) != 0)
            continue;
        out->kind = (sup_act_kind_t)k;
        if (k == SUP_ACT_SET_MODE)
            return arg[0] && sup_mode_parse(arg, &out->mode) == 0 ? 0 : -1;
        if (k == SUP_ACT_LOWER_RISK || k == SUP_ACT_SET_RISK_SCALE) {
            char *end = NULL;
            double f = arg[0] ? strtod(arg, &end) : 0.0;
            if (!arg[0] || !end || *end || !(f > 0.0 && f <= 1.0))
                return -1;
            out->factor = f;
            return 0;
        }
        return arg[0] ? -1 : 0;
    }
    return -1;
}

static void set_err(char *err, size_t errlen, const char *file, const char *path,
                    const char *what)
{
    snprintf(err, errlen, "%s: key '%s': %s", file, path, what);
}

int sup_policies_load(qt_config_t *cfg, sup_policies_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *file = qt_config_name(cfg);
    out->evaluate_every_ms = qt_config_int(cfg, "evaluate_every_ms", false, 5000, 100, 3600000);
    size_t n = qt_config_map_len(cfg, "policies");
    if (n > SUP_MAX_POLICIES) {
        set_err(err, errlen, file, "policies", "at most 32 policies");
        return -1;
    }
    char path[256];
    for (size_t i = 0; i < n && !qt_config_error(cfg); i++) {
        const char *name = qt_config_map_key(cfg, "policies", i);
        sup_policy_t *p = &out->p[i];
        if (!name || !*name || strlen(name) > SUP_NAME_MAX ||
            strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(name)) {
            set_err(err, errlen, file, "policies",
                    "policy names are [a-z0-9_]{1,47}");
            return -1;
        }
        snprintf(p->name, sizeof p->name, "%s", name);
        snprintf(path, sizeof path, "policies.%s.metric", name);
        const char *metric = qt_config_str(cfg, path, NULL);
        if (qt_config_error(cfg))
            break;
        if (strcmp(metric, "drawdown_pct") == 0) {
            p->metric = SUP_MET_DRAWDOWN_PCT;
            snprintf(path, sizeof path, "policies.%s.window_ms", name);
            p->window_ms = qt_config_int(cfg, path, true, 0, 1, INT64_C(31622400000));
        } else if (strcmp(metric, "win_rate") == 0) {
            p->metric = SUP_MET_WIN_RATE;
            snprintf(path, sizeof path, "policies.%s.trades", name);
            p->trades = qt_config_int(cfg, path, true, 0, 1, 100000);
        } else if (strcmp(metric, "stale_heartbeats") == 0) {
            p->metric = SUP_MET_STALE_HEARTBEATS;
        } else {
            set_err(err, errlen, file, path,
                    "expected drawdown_pct, win_rate or stale_heartbeats");
            return -1;
        }
        char pa[256], pb[256];
        snprintf(pa, sizeof pa, "policies.%s.above", name);
        snprintf(pb, sizeof pb, "policies.%s.below", name);
        bool ha = qt_config_has(cfg, pa), hb = qt_config_has(cfg, pb);
        if (ha == hb) {
            snprintf(path, sizeof path, "policies.%s", name);
            set_err(err, errlen, file, path, "expected exactly one of 'above' or 'below'");
            return -1;
        }
        p->above = ha;
        snprintf(path, sizeof path, "policies.%s.for_ms", name);
        p->for_ms = qt_config_int(cfg, path, false, 0, 0, INT64_C(31622400000));
        p->threshold = qt_config_double(cfg, ha ? pa : pb, true, 0.0, -1e12, 1e12);
        snprintf(path, sizeof path, "policies.%s.actions", name);
        size_t na = qt_config_seq_len(cfg, path);
        if (!qt_config_error(cfg) && (na == 0 || na > SUP_MAX_ACTIONS)) {
            set_err(err, errlen, file, path, "expected a list of 1 to 4 actions");
            return -1;
        }
        for (size_t k = 0; k < na && !qt_config_error(cfg); k++) {
            const char *a = qt_config_seq_str(cfg, path, k);
            if (!a || sup_action_parse(a, &p->actions[k]) != 0) {
                char what[200];
                snprintf(what, sizeof what,
                         "item %zu: expected WARN | THROTTLE | PAUSE | FLATTEN_ALL | "
                         "SET_MODE off|manual|paper|live | LOWER_RISK f | SET_RISK_SCALE f "
                         "(0 < f <= 1), got '%s'",
                         k, a ? a : "(not a scalar)");
                set_err(err, errlen, file, path, what);
                return -1;
            }
        }
        p->n_actions = na;
        out->n++;
    }
    if (qt_config_error(cfg)) {
        snprintf(err, errlen, "%s", qt_config_error(cfg));
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ evaluation */

void sup_inputs_from_book(const sup_policies_t *ps, const sup_book_t *book, sup_inputs_t *in)
{
    for (size_t i = 0; i < ps->n; i++) {
        const sup_policy_t *p = &ps->p[i];
        if (p->metric == SUP_MET_DRAWDOWN_PCT)
            in->drawdown_pct[i] = sup_book_drawdown_pct(book, p->window_ms);
        else if (p->metric == SUP_MET_WIN_RATE)
            in->win_trades[i] = sup_book_win_rate(book, (size_t)p->trades, &in->win_rate[i]);
    }
}

Qt__V1__KillSwitchTier sup_action_tier(sup_act_kind_t k)
{
    switch (k) {
    case SUP_ACT_WARN: return KS(WARN);
    case SUP_ACT_THROTTLE: return KS(THROTTLE);
    case SUP_ACT_PAUSE: return KS(NO_NEW);
    case SUP_ACT_FLATTEN_ALL: return KS(FLATTEN_ALL);
    default: return KS(UNKNOWN);
    }
}

bool sup_action_reduces_risk(const sup_action_spec_t *spec, Qt__V1__KillSwitchTier tier,
                             sup_mode_t mode, double scale, bool *noop)
{
    bool nothing = false, reduces = false;
    switch (spec->kind) {
    case SUP_ACT_WARN:
    case SUP_ACT_THROTTLE:
    case SUP_ACT_PAUSE:
    case SUP_ACT_FLATTEN_ALL: {
        Qt__V1__KillSwitchTier t = sup_action_tier(spec->kind);
        if (tier == KS(UNKNOWN))
            tier = KS(NO_NEW);                  /* fail closed, as every service */
        reduces = t > tier;
        nothing = !reduces;                     /* a raise never lowers */
        break;
    }
    case SUP_ACT_SET_MODE:
        /* an unknown current mode acts as off: only "off" itself would be news */
        if (mode == SUP_MODE_UNKNOWN)
            mode = SUP_MODE_OFF;
        nothing = spec->mode == mode;
        reduces = spec->mode < mode;
        break;
    case SUP_ACT_LOWER_RISK:
        reduces = spec->factor < scale;
        nothing = !reduces;                     /* min(scale, f): never raises */
        break;
    case SUP_ACT_SET_RISK_SCALE:
        nothing = spec->factor == scale;
        reduces = spec->factor < scale;
        break;
    }
    if (noop)
        *noop = nothing;
    return reduces && !nothing;
}

void sup_action_params(const sup_action_spec_t *spec, char *out, size_t outlen)
{
    if (spec->kind == SUP_ACT_SET_MODE)
        snprintf(out, outlen, "{\"mode\":\"%s\"}", sup_mode_name(spec->mode));
    else if (spec->kind == SUP_ACT_LOWER_RISK || spec->kind == SUP_ACT_SET_RISK_SCALE)
        snprintf(out, outlen, "{\"factor\":%.6g}", spec->factor);
    else
        snprintf(out, outlen, "{}");
}

static bool breached(const sup_policy_t *p, const sup_inputs_t *in, size_t i, double *value)
{
    switch (p->metric) {
    case SUP_MET_DRAWDOWN_PCT: *value = in->drawdown_pct[i]; break;
    case SUP_MET_WIN_RATE:
        if (in->win_trades[i] < (size_t)p->trades)
            return false;                       /* not enough trades to judge */
        *value = in->win_rate[i];
        break;
    case SUP_MET_STALE_HEARTBEATS: *value = (double)in->stale_heartbeats; break;
    }
    return p->above ? *value > p->threshold : *value < p->threshold;
}

static const char *const METRIC_NAMES[] = {"drawdown_pct", "win_rate", "stale_heartbeats"};

void sup_eval_state_init(sup_eval_state_t *st)
{
    for (size_t i = 0; i < SUP_MAX_POLICIES; i++)
        st->since[i] = -1;
}

size_t sup_evaluate(const sup_policies_t *ps, const sup_inputs_t *in, int64_t now_ms,
                    sup_eval_state_t *st, sup_pending_fn pending, void *pending_ctx,
                    sup_action_t *out, size_t cap)
{
    size_t n = 0;
    Qt__V1__KillSwitchTier tier = in->tier;
    sup_mode_t mode = in->mode;
    double scale = in->risk_scale;
    for (size_t i = 0; i < ps->n; i++) {
        const sup_policy_t *p = &ps->p[i];
        double v = 0.0;
        if (!breached(p, in, i, &v)) {
            if (st)
                st->since[i] = -1;
            continue;
        }
        if (st && st->since[i] < 0)
            st->since[i] = now_ms;
        if (p->for_ms > 0 && (!st || now_ms - st->since[i] < p->for_ms))
            continue;
        for (size_t k = 0; k < p->n_actions && n < cap; k++) {
            const sup_action_spec_t *s = &p->actions[k];
            bool noop = false;
            bool red = sup_action_reduces_risk(s, tier, mode, scale, &noop);
            if (noop)
                continue;
            sup_action_t *a = &out[n];
            memset(a, 0, sizeof *a);
            a->spec = *s;
            a->reduces_risk = red;
            a->tier = sup_action_tier(s->kind);
            snprintf(a->policy, sizeof a->policy, "%s", p->name);
            snprintf(a->action_id, sizeof a->action_id, "%lld-%s-%zu", (long long)now_ms,
                     p->name, k);
            sup_action_params(s, a->params, sizeof a->params);
            if (!red && pending && pending(pending_ctx, a->policy, sup_act_name(s->kind),
                                           a->params))
                continue;                       /* already waiting for a human */
            if (p->metric == SUP_MET_WIN_RATE)
                snprintf(a->reason, sizeof a->reason,
                         "policy %s: win_rate %.4f over %zu trades %s %.6g", p->name, v,
                         in->win_trades[i], p->above ? ">" : "<", p->threshold);
            else
                snprintf(a->reason, sizeof a->reason, "policy %s: %s %.4f %s %.6g", p->name,
                         METRIC_NAMES[p->metric], v, p->above ? ">" : "<", p->threshold);
            if (red) {                          /* later actions see the new state */
                if (a->tier != KS(UNKNOWN))
                    tier = a->tier;
                else if (s->kind == SUP_ACT_SET_MODE)
                    mode = s->mode;
                else
                    scale = s->factor;
            }
            n++;
        }
    }
    return n;
}

int supervisor_selftest(bool verbose)
{
    int fails = 0;
    sup_action_spec_t s;
    fails += sup_action_parse("SET_MODE manual", &s) != 0 || s.kind != SUP_ACT_SET_MODE ||
             s.mode != SUP_MODE_MANUAL;
    fails += sup_action_parse("LOWER_RISK 0.5", &s) != 0 || s.factor != 0.5;
    fails += sup_action_parse("LOWER_RISK 1.5", &s) == 0;
    fails += sup_action_parse("PAUSE now", &s) == 0;
    bool noop = false;
    s.kind = SUP_ACT_PAUSE;
    fails += !sup_action_reduces_risk(&s, KS(NORMAL), SUP_MODE_PAPER, 1.0, &noop) || noop;
    fails += sup_action_reduces_risk(&s, KS(FLATTEN_ALL), SUP_MODE_PAPER, 1.0, &noop) || !noop;
    s.kind = SUP_ACT_SET_MODE;
    s.mode = SUP_MODE_LIVE;
    fails += sup_action_reduces_risk(&s, KS(NORMAL), SUP_MODE_PAPER, 1.0, &noop) || noop;
    sup_book_t *b = sup_book_new(100 * QT_FIXED_SCALE, 8, 8);
    fails += !b;
    if (b) {
        fails += sup_book_on_fill(b, "f1", "X", 1, QT_FIXED_SCALE, 10 * QT_FIXED_SCALE, 0) != 1;
        fails += sup_book_on_fill(b, "f1", "X", 1, QT_FIXED_SCALE, 10 * QT_FIXED_SCALE, 0) != 0;
        fails += sup_book_on_fill(b, "f2", "X", -1, QT_FIXED_SCALE, 12 * QT_FIXED_SCALE, 0) != 1;
        double r = 0;
        fails += sup_book_win_rate(b, 5, &r) != 1 || r != 1.0;
        fails += fabs(sup_book_equity(b) - 102.0) > 1e-9;
    }
    sup_book_destroy(&b);
    if (verbose)
        fprintf(stderr, "supervisor selftest: %s\n", fails ? "FAILED" : "ok");
    return fails;
}
