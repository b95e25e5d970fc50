/* risk: limits and kill switch between the optimizer and execution (see risk.h).
 *
 * Why the work copy: a target is applied to a copy of the positions and swapped in
 * only when every leg was computed without error, so a failure (overflow, OOM) never
 * leaves half-applied state behind; the caller drops the target and nothing is
 * published. The same holds for the cash estimate (a local copy, committed with the
 * positions). */
#include "risk.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qt_symtab.h"

#define SNAPSHOT_VERSION 2u   /* 1: no cash_est (refused) */

typedef struct {
    char symbol[RISK_SYMBOL_MAX + 1];
    qt_fixed_t qty;     /* > 0 */
    qt_fixed_t price;   /* last reference price, > 0 */
} risk_pos_t;

struct risk_t {
    risk_config_t cfg;
    int64_t last_target_ms;
    int64_t last_wm_ms;
    qt_fixed_t cash;    /* cash_est, >= 0 */
    qt_symtab_t pos;    /* risk_pos_t by symbol */
};

void risk_config_defaults(risk_config_t *cfg)
{
    cfg->capital = 100000LL * QT_FIXED_SCALE;
    cfg->cost_buffer_bps = 15;
    cfg->rebalance_band = 0.25;
    cfg->min_trade_notional = 50LL * QT_FIXED_SCALE;
    cfg->qty_step = 1000;   /* 0.00001 */
    cfg->max_position_notional = 30000LL * QT_FIXED_SCALE;
    cfg->max_gross_exposure = 100000LL * QT_FIXED_SCALE;
    cfg->max_open_positions = 10;
    cfg->throttle_factor = 0.5;
}

const char *risk_config_check(const risk_config_t *cfg)
{
    if (cfg->capital <= 0)
        return "capital must be > 0";
    if (cfg->cost_buffer_bps < 0 || cfg->cost_buffer_bps > 1000)
        return "cost_buffer_bps must be in [0, 1000]";
    if (!isfinite(cfg->rebalance_band) || cfg->rebalance_band < 0.0 ||
        cfg->rebalance_band > 1.0)
        return "rebalance_band must be in [0, 1]";
    if (cfg->min_trade_notional < 0)
        return "min_trade_notional must be >= 0";
    if (cfg->qty_step <= 0)
        return "qty_step must be > 0";
    if (cfg->max_position_notional <= 0)
        return "max_position_notional must be > 0";
    if (cfg->max_gross_exposure <= 0)
        return "max_gross_exposure must be > 0";
    if (cfg->max_position_notional > cfg->max_gross_exposure)
        return "max_position_notional must be <= max_gross_exposure";
    if (cfg->max_open_positions < 1 || cfg->max_open_positions > RISK_MAX_SYMBOLS)
        return "max_open_positions must be in [1, 4096]";
    if (!isfinite(cfg->throttle_factor) || cfg->throttle_factor <= 0.0 ||
        cfg->throttle_factor > 1.0)
        return "throttle_factor must be in (0, 1]";
    return NULL;
}

void risk_result_free(risk_result_t *res)
{
    if (!res)
        return;
    free(res->decisions);
    res->decisions = NULL;
    res->n_decisions = 0;
}

const char *risk_side_name(Qt__V1__Side side)
{
    return side == QT__V1__SIDE__SIDE_BUY ? "buy" : side == QT__V1__SIDE__SIDE_SELL ? "sell"
                                                                                     : "none";
}

static bool symbol_ok(const char *s)
{
    size_t n = strnlen(s, RISK_SYMBOL_MAX + 1);
    if (n == 0 || n > RISK_SYMBOL_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f)
            return false;
    }
    return true;
}

risk_t *risk_new(const risk_config_t *cfg)
{
    if (!cfg || risk_config_check(cfg))
        return NULL;
    risk_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    self->last_target_ms = INT64_MIN;
    self->last_wm_ms = INT64_MIN;
    self->cash = cfg->capital;
    QT_SYMTAB_INIT(&self->pos, risk_pos_t, symbol, 0);
    return self;
}

void risk_destroy(risk_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    qt_symtab_free(&(*self_p)->pos);
    free(*self_p);
    *self_p = NULL;
}

qt_fixed_t risk_position(const risk_t *self, const char *symbol)
{
    const risk_pos_t *p = qt_symtab_find(&self->pos, symbol);
    return p ? p->qty : 0;
}

size_t risk_open_positions(const risk_t *self) { return qt_symtab_size(&self->pos); }
int64_t risk_last_target(const risk_t *self) { return self->last_target_ms; }
int64_t risk_last_watermark(const risk_t *self) { return self->last_wm_ms; }

bool risk_position_at(const risk_t *self, size_t i, const char **symbol, qt_fixed_t *qty,
                      qt_fixed_t *last_price)
{
    const risk_pos_t *p = qt_symtab_at(&self->pos, i);
    if (!p)
        return false;
    if (symbol)
        *symbol = p->symbol;
    if (qty)
        *qty = p->qty;
    if (last_price)
        *last_price = p->price;
    return true;
}

static bool gross_of(const qt_symtab_t *t, qt_fixed_t *out)
{
    const risk_pos_t *pos = qt_symtab_data(t);
    size_t n = qt_symtab_size(t);
    qt_fixed_t g = 0;
    for (size_t i = 0; i < n; i++) {
        qt_fixed_t v;
        if (!qt_fixed_mul(pos[i].qty, pos[i].price, &v) || !qt_fixed_add(g, v, &g))
            return false;
    }
    *out = g;
    return true;
}

bool risk_gross_exposure(const risk_t *self, qt_fixed_t *out)
{
    return gross_of(&self->pos, out);
}

qt_fixed_t risk_cash(const risk_t *self) { return self->cash; }

bool risk_equity(const risk_t *self, qt_fixed_t *out)
{
    qt_fixed_t g;
    return gross_of(&self->pos, &g) && qt_fixed_add(self->cash, g, out);
}

bool risk_on_watermark(risk_t *self, int64_t t)
{
    if (t <= self->last_wm_ms)
        return false;
    self->last_wm_ms = t;
    return true;
}

/* ---- one target ---------------------------------------------------------------- */

typedef struct {
    char symbol[RISK_SYMBOL_MAX + 1];
    double weight;
    qt_fixed_t price;
    qt_fixed_t held;
    qt_fixed_t target_qty;
} leg_t;

static qt_fixed_t floor_step(qt_fixed_t q, qt_fixed_t step)
{
    return q <= 0 ? 0 : q - q % step;
}

/* Cash an approved buy of qty at price takes (notional + cost estimate), or a sell
 * gives (notional - cost estimate). false on overflow. */
static bool trade_cash(qt_fixed_t qty, qt_fixed_t price, int64_t bps, bool buy, qt_fixed_t *out)
{
    qt_fixed_t notional, cost;
    if (!qt_fixed_mul(qty, price, &notional) || !qt_fixed_mul_bps(notional, bps, &cost))
        return false;
    return buy ? qt_fixed_add(notional, cost, out) : qt_fixed_sub(notional, cost, out);
}

/* Floor estimate of the qty whose exact buy cash qty * price / 1e8 * (1 + bps / 1e4)
 * is <= cash, rounded down to step and capped at cap. */
static qt_fixed_t cash_qty_floor(qt_fixed_t cash, qt_fixed_t price, int64_t bps,
                                 qt_fixed_t step, qt_fixed_t cap)
{
    if (cash <= 0)
        return 0;
    __int128 q = ((__int128)cash * QT_FIXED_SCALE * 10000) / ((__int128)price * (10000 + bps));
    qt_fixed_t qty = q > (__int128)cap ? cap : (qt_fixed_t)q;
    return floor_step(qty, step);
}

/* Largest multiple of step (<= cap) whose buy cash with the rounding of trade_cash
 * (notional and cost each rounded half to even: at most 1.05 ulp above the exact
 * value for bps <= 1000) is <= cash. The exact floor is tried first; if rounding
 * pushes it over, the floor for cash - 2 ulp fits by construction (then the result
 * may be one step short of the maximum, never over). false on overflow. */
static bool max_qty_for_cash(qt_fixed_t cash, qt_fixed_t price, int64_t bps, qt_fixed_t step,
                             qt_fixed_t cap, qt_fixed_t *out)
{
    *out = 0;
    if (cash <= 0 || price <= 0 || cap <= 0)
        return true;
    qt_fixed_t need, qty = cash_qty_floor(cash, price, bps, step, cap);
    if (qty > 0) {
        if (!trade_cash(qty, price, bps, true, &need))
            return false;
        if (need > cash) {
            qty = cash_qty_floor(cash - 2, price, bps, step, cap);
            if (qty > 0 && !trade_cash(qty, price, bps, true, &need))
                return false;
            if (qty > 0 && need > cash)
                qty = 0;   /* unreachable by the bound above; fail safe */
        }
    }
    *out = qty;
    return true;
}

/* Largest qty with qty * price / 1e8 <= room exactly (floor, not rounding). */
static qt_fixed_t max_qty_within(qt_fixed_t room, qt_fixed_t price)
{
    if (room <= 0 || price <= 0)
        return 0;
    __int128 q = ((__int128)room * QT_FIXED_SCALE) / price;
    return q > (__int128)INT64_MAX ? INT64_MAX : (qt_fixed_t)q;
}

static bool tier_blocks_new(Qt__V1__KillSwitchTier tier)
{
    /* Only the tiers known to allow new exposure pass; anything else fails closed. */
    return !(tier == QT__V1__KILL_SWITCH_TIER__KS_NORMAL ||
             tier == QT__V1__KILL_SWITCH_TIER__KS_WARN ||
             tier == QT__V1__KILL_SWITCH_TIER__KS_THROTTLE);
}

static const char *tier_name(Qt__V1__KillSwitchTier tier)
{
    switch (tier) {
    case QT__V1__KILL_SWITCH_TIER__KS_NORMAL: return "NORMAL";
    case QT__V1__KILL_SWITCH_TIER__KS_WARN: return "WARN";
    case QT__V1__KILL_SWITCH_TIER__KS_THROTTLE: return "THROTTLE";
    case QT__V1__KILL_SWITCH_TIER__KS_NO_NEW: return "NO_NEW";
    case QT__V1__KILL_SWITCH_TIER__KS_FLATTEN_ALL: return "FLATTEN_ALL";
    default: return "UNKNOWN";
    }
}

static void add_reason(risk_decision_t *d, const char *code, const char *detail,
                       qt_fixed_t value, qt_fixed_t limit)
{
    if (d->n_reasons >= RISK_MAX_REASONS)
        return;
    risk_reason_t *r = &d->reasons[d->n_reasons++];
    snprintf(r->code, sizeof r->code, "%s", code);
    snprintf(r->detail, sizeof r->detail, "%s", detail);
    r->value = value;
    r->limit = limit;
}

static void decision_init(risk_decision_t *d, const leg_t *leg, int64_t bar_time_ms,
                          Qt__V1__Side side, qt_fixed_t requested,
                          Qt__V1__KillSwitchTier tier)
{
    memset(d, 0, sizeof *d);
    memcpy(d->symbol, leg->symbol, sizeof d->symbol);
    snprintf(d->intent_id, sizeof d->intent_id, "%" PRId64 "-%s", bar_time_ms, leg->symbol);
    d->side = side;
    d->requested_qty = requested;
    d->ref_price = leg->price;
    d->bar_time_ms = bar_time_ms;
    d->tier = tier;
    d->intent_reason = "rebalance";
}

static int cmp_leg_symbol(const void *a, const void *b)
{
    return strcmp(((const leg_t *)a)->symbol, ((const leg_t *)b)->symbol);
}

static int cmp_buy_order(const void *a, const void *b)
{
    const leg_t *x = *(const leg_t *const *)a, *y = *(const leg_t *const *)b;
    if (x->weight > y->weight)
        return -1;
    if (x->weight < y->weight)
        return 1;
    return strcmp(x->symbol, y->symbol);
}

/* Sets (or removes, qty == 0) a position in the work table (capacity reserved, so an
 * insert cannot fail). */
static void work_set(qt_symtab_t *work, const char *symbol, qt_fixed_t qty, qt_fixed_t price)
{
    if (qty == 0) {
        (void)qt_symtab_remove(work, symbol);
        return;
    }
    void *slot = NULL;
    (void)qt_symtab_upsert(work, symbol, &slot);
    risk_pos_t *p = slot;
    if (p) {
        p->qty = qty;
        p->price = price;
    }
}

static risk_status_t validate_target(const risk_target_t *t)
{
    if (t->n_positions > RISK_MAX_SYMBOLS || (t->n_positions > 0 && !t->positions))
        return RISK_INVALID;
    for (size_t i = 0; i < t->n_positions; i++) {
        const risk_target_pos_t *p = &t->positions[i];
        if (!symbol_ok(p->symbol) || !isfinite(p->weight) || p->weight < 0.0 ||
            p->weight > 1.0 || p->ref_price <= 0)
            return RISK_INVALID;
        for (size_t j = 0; j < i; j++)
            if (strcmp(t->positions[j].symbol, p->symbol) == 0)
                return RISK_INVALID;
    }
    return RISK_OK;
}

/* Processes one buy leg against the work positions; fills *d. false on overflow. */
static bool do_buy(const risk_config_t *cfg, const leg_t *leg, int64_t bar_time_ms,
                   Qt__V1__KillSwitchTier tier, qt_fixed_t requested, qt_symtab_t *work,
                   qt_fixed_t *cash, risk_decision_t *d)
{
    decision_init(d, leg, bar_time_ms, QT__V1__SIDE__SIDE_BUY, requested, tier);
    qt_fixed_t req_notional;
    if (!qt_fixed_mul(requested, leg->price, &req_notional))
        return false;
    if (tier_blocks_new(tier)) {
        char detail[96];
        snprintf(detail, sizeof detail, "kill switch %s rejects orders that add exposure",
                 tier_name(tier));
        add_reason(d, RISK_CODE_KILL_SWITCH, detail, req_notional, 0);
        return true;
    }
    qt_fixed_t qty = requested;
    if (tier == QT__V1__KILL_SWITCH_TIER__KS_THROTTLE) {
        qt_fixed_t scaled, scaled_notional;
        if (!qt_fixed_mul_ratio(qty, cfg->throttle_factor, &scaled))
            return false;
        qty = floor_step(scaled, cfg->qty_step);
        if (!qt_fixed_mul(qty, leg->price, &scaled_notional))
            return false;
        add_reason(d, RISK_CODE_KILL_SWITCH, "kill switch THROTTLE scales buys",
                   req_notional, scaled_notional);
    }
    size_t n_work = qt_symtab_size(work);
    if (leg->held == 0 && n_work >= cfg->max_open_positions) {
        add_reason(d, RISK_CODE_MAX_OPEN_POSITIONS, "buy would open one position too many",
                   (qt_fixed_t)(n_work + 1) * QT_FIXED_SCALE,
                   (qt_fixed_t)cfg->max_open_positions * QT_FIXED_SCALE);
        return true;
    }
    /* Position notional after the buy. */
    qt_fixed_t total, after;
    if (!qt_fixed_add(leg->held, qty, &total) || !qt_fixed_mul(total, leg->price, &after))
        return false;
    if (qty > 0 && after > cfg->max_position_notional) {
        qt_fixed_t max_total = max_qty_within(cfg->max_position_notional, leg->price);
        qt_fixed_t fit = max_total > leg->held ? floor_step(max_total - leg->held, cfg->qty_step)
                                               : 0;
        add_reason(d, RISK_CODE_MAX_POSITION_NOTIONAL,
                   fit > 0 ? "buy clipped to the position notional limit"
                           : "position already at the notional limit",
                   after, cfg->max_position_notional);
        qty = fit < qty ? fit : qty;
    }
    /* Gross exposure after the buy: other positions + this one (a buy leg was not sold
     * before, so its work position is exactly `held` at `price`). */
    qt_fixed_t gross, held_notional, others, gross_after;
    if (!gross_of(work, &gross) || !qt_fixed_mul(leg->held, leg->price, &held_notional))
        return false;
    if (!qt_fixed_sub(gross, held_notional, &others) || !qt_fixed_add(leg->held, qty, &total) ||
        !qt_fixed_mul(total, leg->price, &after) || !qt_fixed_add(others, after, &gross_after))
        return false;
    if (qty > 0 && gross_after > cfg->max_gross_exposure) {
        qt_fixed_t room = cfg->max_gross_exposure - others;   /* no overflow: both >= 0 */
        qt_fixed_t max_total = max_qty_within(room, leg->price);
        qt_fixed_t fit = max_total > leg->held ? floor_step(max_total - leg->held, cfg->qty_step)
                                               : 0;
        add_reason(d, RISK_CODE_MAX_GROSS_EXPOSURE,
                   fit > 0 ? "buy clipped to the gross exposure limit"
                           : "gross exposure already at the limit",
                   gross_after, cfg->max_gross_exposure);
        qty = fit < qty ? fit : qty;
    }
    /* Cash: the buy plus its cost estimate must be paid from cash_est (no leverage). */
    qt_fixed_t need;
    if (!trade_cash(qty, leg->price, cfg->cost_buffer_bps, true, &need))
        return false;
    if (qty > 0 && need > *cash) {
        qt_fixed_t fit;
        if (!max_qty_for_cash(*cash, leg->price, cfg->cost_buffer_bps, cfg->qty_step, qty,
                              &fit))
            return false;
        add_reason(d, RISK_CODE_INSUFFICIENT_CASH,
                   fit > 0 ? "buy clipped to the estimated cash (cost included)"
                           : "no estimated cash left for this buy",
                   need, *cash);
        qty = fit < qty ? fit : qty;
    }
    qt_fixed_t notional;
    if (!qt_fixed_mul(qty, leg->price, &notional))
        return false;
    if (qty <= 0)
        return true;   /* rejected, reasons say why */
    if (notional < cfg->min_trade_notional) {
        add_reason(d, RISK_CODE_MIN_TRADE_NOTIONAL, "reduced buy is below the minimum trade",
                   notional, cfg->min_trade_notional);
        return true;
    }
    if (!qt_fixed_add(leg->held, qty, &total) ||
        !trade_cash(qty, leg->price, cfg->cost_buffer_bps, true, &need) ||
        !qt_fixed_sub(*cash, need, cash))
        return false;
    d->approved = true;
    d->approved_qty = qty;
    work_set(work, leg->symbol, total, leg->price);
    return true;
}

/* Rebalance band for a held symbol with target_qty > 0: *inside when the delta
 * notional is <= rebalance_band * target notional (not traded). false on overflow. */
static bool in_band(const risk_config_t *cfg, const leg_t *l, qt_fixed_t delta_notional,
                    bool *inside)
{
    *inside = false;
    if (l->held <= 0 || l->target_qty <= 0)
        return true;
    qt_fixed_t target_notional, band;
    if (!qt_fixed_mul(l->target_qty, l->price, &target_notional) ||
        !qt_fixed_mul_ratio(target_notional, cfg->rebalance_band, &band))
        return false;
    *inside = delta_notional <= band;
    return true;
}

risk_status_t risk_on_target(risk_t *self, const risk_target_t *target,
                             Qt__V1__KillSwitchTier tier, risk_result_t *out)
{
    memset(out, 0, sizeof *out);
    if (target->bar_time_ms <= self->last_target_ms)
        return RISK_DUPLICATE;
    risk_status_t st = validate_target(target);
    if (st != RISK_OK)
        return st;
    const risk_config_t *cfg = &self->cfg;
    bool flatten = tier == QT__V1__KILL_SWITCH_TIER__KS_FLATTEN_ALL;

    size_t n_pos = qt_symtab_size(&self->pos);
    size_t max_legs = n_pos + target->n_positions;
    if (max_legs > RISK_MAX_SYMBOLS * 2)
        return RISK_INVALID;
    leg_t *legs = calloc(max_legs ? max_legs : 1, sizeof *legs);
    leg_t **buys = calloc(max_legs ? max_legs : 1, sizeof *buys);
    qt_symtab_t work;
    QT_SYMTAB_INIT(&work, risk_pos_t, symbol, 0);
    bool reserved = qt_symtab_reserve(&work, max_legs ? max_legs : 1);
    risk_decision_t *dec = calloc(max_legs ? max_legs : 1, sizeof *dec);
    if (!legs || !buys || !reserved || !dec) {
        st = RISK_ERROR;
        goto fail;
    }
    /* Union of held and target symbols. */
    size_t n_legs = 0;
    for (size_t i = 0; i < n_pos; i++) {
        const risk_pos_t *held = qt_symtab_at(&self->pos, i);
        leg_t *l = &legs[n_legs++];
        memcpy(l->symbol, held->symbol, sizeof l->symbol);
        l->held = held->qty;
        l->price = held->price;
        l->weight = 0.0;
    }
    for (size_t i = 0; i < target->n_positions; i++) {
        const risk_target_pos_t *p = &target->positions[i];
        leg_t *l = NULL;
        for (size_t j = 0; j < n_pos; j++)
            if (strcmp(legs[j].symbol, p->symbol) == 0)
                l = &legs[j];
        if (!l) {
            l = &legs[n_legs++];
            snprintf(l->symbol, sizeof l->symbol, "%s", p->symbol);
            l->held = 0;
        }
        l->weight = p->weight;
        l->price = p->ref_price;
    }
    qsort(legs, n_legs, sizeof *legs, cmp_leg_symbol);

    /* Work positions start as the held ones, valued at this target's prices (the last
     * known price for a symbol the target does not list); so does the equity. */
    qt_fixed_t cash = self->cash, equity = self->cash;
    for (size_t i = 0; i < n_legs; i++) {
        if (legs[i].held > 0) {
            work_set(&work, legs[i].symbol, legs[i].held, legs[i].price);
            qt_fixed_t value;
            if (!qt_fixed_mul(legs[i].held, legs[i].price, &value) ||
                !qt_fixed_add(equity, value, &equity)) {
                st = RISK_INVALID;   /* beyond fixed-point range */
                goto fail;
            }
        }
    }
    const bool depleted = equity <= 0;
    for (size_t i = 0; i < n_legs; i++) {
        if (depleted) {
            /* Nothing to size on: keep what is held (unless dropped), buy nothing. */
            legs[i].target_qty = legs[i].weight > 0.0 ? legs[i].held : 0;
            continue;
        }
        qt_fixed_t notional;
        if (!qt_fixed_mul_ratio(equity, legs[i].weight, &notional) ||
            !qt_fixed_div(notional, legs[i].price, &legs[i].target_qty)) {
            st = RISK_INVALID;   /* beyond fixed-point range */
            goto fail;
        }
        legs[i].target_qty = floor_step(legs[i].target_qty, cfg->qty_step);
    }

    size_t n_dec = 0, n_buys = 0;
    /* Sells, in symbol order. */
    for (size_t i = 0; i < n_legs; i++) {
        leg_t *l = &legs[i];
        if (l->held <= 0) {
            if (l->target_qty > 0 || (depleted && l->weight > 0.0))
                buys[n_buys++] = l;
            continue;
        }
        qt_fixed_t qty;
        const char *why;
        if (flatten) {
            qty = l->held;
            why = "flatten_all";
        } else if (l->target_qty == 0) {
            qty = l->held;
            why = "close";
        } else if (l->target_qty < l->held) {
            qty = floor_step(l->held - l->target_qty, cfg->qty_step);
            why = "rebalance";
        } else {
            if (l->target_qty > l->held)
                buys[n_buys++] = l;
            continue;
        }
        if (qty <= 0)
            continue;
        qt_fixed_t notional;
        if (!qt_fixed_mul(qty, l->price, &notional)) {
            st = RISK_INVALID;   /* beyond fixed-point range */
            goto fail;
        }
        bool full = qty == l->held;
        if (!full && !flatten) {
            bool inside;
            if (!in_band(cfg, l, notional, &inside)) {
                st = RISK_INVALID;
                goto fail;
            }
            if (inside) {
                out->skipped_band++;
                continue;
            }
        }
        if (!full && notional < cfg->min_trade_notional) {
            out->skipped_min_notional++;
            continue;
        }
        risk_decision_t *d = &dec[n_dec++];
        decision_init(d, l, target->bar_time_ms, QT__V1__SIDE__SIDE_SELL, qty, tier);
        d->intent_reason = why;
        if (flatten)
            add_reason(d, RISK_CODE_KILL_SWITCH, "kill switch FLATTEN_ALL closes every position",
                       notional, 0);
        d->approved = true;
        d->approved_qty = qty;
        d->reduce_only = true;
        qt_fixed_t proceeds;
        if (!trade_cash(qty, l->price, cfg->cost_buffer_bps, false, &proceeds) ||
            !qt_fixed_add(cash, proceeds, &cash)) {
            st = RISK_INVALID;   /* beyond fixed-point range */
            goto fail;
        }
        work_set(&work, l->symbol, l->held - qty, l->price);
    }

    /* Buys, by descending weight then symbol. */
    qsort(buys, n_buys, sizeof *buys, cmp_buy_order);
    for (size_t i = 0; i < n_buys; i++) {
        leg_t *l = buys[i];
        if (depleted) {
            risk_decision_t *d = &dec[n_dec++];
            decision_init(d, l, target->bar_time_ms, QT__V1__SIDE__SIDE_BUY, 0, tier);
            add_reason(d, RISK_CODE_EQUITY_DEPLETED,
                       "estimated equity <= 0: nothing to size a buy on", equity, 0);
            continue;
        }
        qt_fixed_t requested = floor_step(l->target_qty - l->held, cfg->qty_step);
        qt_fixed_t notional;
        if (requested <= 0)
            continue;
        if (!qt_fixed_mul(requested, l->price, &notional)) {
            st = RISK_INVALID;   /* beyond fixed-point range */
            goto fail;
        }
        if (l->held > 0) {
            bool inside;
            if (!in_band(cfg, l, notional, &inside)) {
                st = RISK_INVALID;
                goto fail;
            }
            if (inside) {
                out->skipped_band++;
                continue;
            }
        }
        if (notional < cfg->min_trade_notional) {
            out->skipped_min_notional++;
            continue;
        }
        if (!do_buy(cfg, l, target->bar_time_ms, tier, requested, &work, &cash, &dec[n_dec])) {
            st = RISK_INVALID;   /* beyond fixed-point range */
            goto fail;
        }
        n_dec++;
    }

    /* Commit (work positions already carry each leg's latest reference price). */
    qt_symtab_free(&self->pos);
    self->pos = work;
    self->cash = cash;
    self->last_target_ms = target->bar_time_ms;
    out->decisions = dec;
    out->n_decisions = n_dec;
    if (n_dec == 0) {
        free(dec);
        out->decisions = NULL;
    }
    free(legs);
    free(buys);
    return RISK_OK;
fail:
    free(legs);
    free(buys);
    qt_symtab_free(&work);
    free(dec);
    out->skipped_min_notional = 0;
    out->skipped_band = 0;
    return st;
}

/* ---- snapshot ------------------------------------------------------------------ */

void risk_save(const risk_t *self, qt_buf_t *out)
{
    qt_buf_put_u32(out, SNAPSHOT_VERSION);
    qt_buf_put_i64(out, self->last_target_ms);
    qt_buf_put_i64(out, self->last_wm_ms);
    qt_buf_put_i64(out, self->cash);
    size_t n_pos = qt_symtab_size(&self->pos);
    qt_buf_put_u32(out, (uint32_t)n_pos);
    for (size_t i = 0; i < n_pos; i++) {
        const risk_pos_t *p = qt_symtab_at(&self->pos, i);
        qt_buf_put_str(out, p->symbol);
        qt_buf_put_i64(out, p->qty);
        qt_buf_put_i64(out, p->price);
    }
}

bool risk_load(risk_t *self, qt_reader_t *r)
{
    if (qt_read_u32(r) != SNAPSHOT_VERSION)
        return false;
    int64_t last_target = qt_read_i64(r);
    int64_t last_wm = qt_read_i64(r);
    qt_fixed_t cash = qt_read_i64(r);
    uint32_t n = qt_read_u32(r);
    if (r->err || cash < 0 || n > RISK_MAX_SYMBOLS)
        return false;
    qt_symtab_t p;
    QT_SYMTAB_INIT(&p, risk_pos_t, symbol, 0);
    if (!qt_symtab_reserve(&p, n ? n : 1))
        return false;
    for (uint32_t i = 0; i < n; i++) {
        risk_pos_t rec = {0};
        const risk_pos_t *prev = i > 0 ? qt_symtab_at(&p, i - 1) : NULL;
        qt_read_str(r, rec.symbol, sizeof rec.symbol);
        rec.qty = qt_read_i64(r);
        rec.price = qt_read_i64(r);
        void *slot = NULL;
        if (r->err || !symbol_ok(rec.symbol) || rec.qty <= 0 || rec.price <= 0 ||
            (prev && strcmp(prev->symbol, rec.symbol) >= 0) ||
            qt_symtab_upsert(&p, rec.symbol, &slot) != QT_SYMTAB_INSERTED) {
            qt_symtab_free(&p);
            return false;
        }
        *(risk_pos_t *)slot = rec;
    }
    if (!qt_reader_done(r)) {
        qt_symtab_free(&p);
        return false;
    }
    qt_symtab_free(&self->pos);
    self->pos = p;
    self->cash = cash;
    self->last_target_ms = last_target;
    self->last_wm_ms = last_wm;
    return true;
}
