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

#include "qt_config.h"
#include "qt_symtab.h"

#define SNAPSHOT_VERSION 3u   /* 2: no history (read, defaults); 1: no cash_est (refused) */
#define DAY_MS 86400000LL
#define YEAR_MS 31557600000.0   /* 365.25 days */

typedef struct {
    char symbol[RISK_SYMBOL_MAX + 1];
    qt_fixed_t qty;     /* > 0 */
    qt_fixed_t price;   /* last reference price, > 0 */
    qt_fixed_t basis;   /* cash paid for qty, cost estimate included, >= 0 */
} risk_pos_t;

/* What risk knows about a symbol besides the position: for the price band, the stale
 * alerts and the cooldown after a losing close. */
typedef struct {
    char symbol[RISK_SYMBOL_MAX + 1];
    qt_fixed_t last_price;      /* last reference price seen in a target, 0 = none */
    int64_t last_price_ms;      /* bar time of that target */
    bool stale;                 /* DataAlert "stale" active */
    int64_t cooldown_until_ms;  /* no buys before (bar time) */
    double var_rate;            /* EWMA of squared log returns per ms */
    uint32_t n_returns;
} risk_sym_t;

struct risk_t {
    risk_config_t cfg;
    int64_t last_target_ms;
    int64_t last_wm_ms;
    qt_fixed_t cash;    /* cash_est, >= 0 */
    qt_symtab_t pos;    /* risk_pos_t by symbol */
    qt_symtab_t mkt;    /* risk_sym_t by symbol */
    qt_fixed_t peak_equity;        /* 0 = none yet */
    int64_t day;                   /* UTC day index of day_start_equity, INT64_MIN = none */
    qt_fixed_t day_start_equity;
    int64_t global_cooldown_until_ms;
    int64_t orders[RISK_ORDER_RING];   /* bar times of approved intents, oldest first */
    uint32_t n_orders;
    risk_trades_t trades;
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
    cfg->risk_per_trade = 0.02;
    cfg->stop_distance = 0.0625;
    cfg->vol_target = 0.5;
    cfg->vol_halflife = 30.0;
    cfg->vol_min_returns = 20;
    cfg->kelly_fraction = 0.0;
    cfg->kelly_min_trades = 30;
    cfg->price_band_bps = 2000;
    cfg->price_band_ref_max_age_ms = 86400000;
    cfg->max_bar_age_ms = 28800000;
    cfg->max_orders_per_window = 64;
    cfg->order_window_ms = 14400000;
    cfg->daily_loss_limit = 0.10;
    cfg->max_drawdown = 0.50;
    cfg->cooldown_ms = 28800000;
    cfg->global_cooldown_ms = 0;
}

/* Every key of configs/risk.yml (see docs/services/risk.md), over the current values of
 * *cfg; errors are recorded in y (qt_config: first error wins). Shared by qt-risk and
 * the backtest so the two cannot drift. */
void risk_config_read(qt_config_t *y, risk_config_t *cfg)
{
    (void)qt_config_int(y, "version", true, 1, 1, 1);
    cfg->capital = qt_config_money(y, "capital", false, cfg->capital);
    cfg->cost_buffer_bps =
        qt_config_int(y, "cost_buffer_bps", false, cfg->cost_buffer_bps, 0, 1000);
    cfg->rebalance_band =
        qt_config_double(y, "sizing.rebalance_band", false, cfg->rebalance_band, 0.0, 1.0);
    cfg->qty_step = qt_config_money(y, "sizing.qty_step", false, cfg->qty_step);
    cfg->min_trade_notional =
        qt_config_money(y, "sizing.min_trade_notional", false, cfg->min_trade_notional);
    cfg->max_position_notional = qt_config_money(y, "limits.max_position_notional", false,
                                                 cfg->max_position_notional);
    cfg->max_gross_exposure =
        qt_config_money(y, "limits.max_gross_exposure", false, cfg->max_gross_exposure);
    cfg->max_open_positions = (uint32_t)qt_config_int(
        y, "limits.max_open_positions", false, cfg->max_open_positions, 1, RISK_MAX_SYMBOLS);
    cfg->throttle_factor = qt_config_double(y, "killswitch.throttle_factor", false,
                                            cfg->throttle_factor, 1e-6, 1.0);
    cfg->risk_per_trade =
        qt_config_double(y, "sizing.risk_per_trade", false, cfg->risk_per_trade, 0.0, 1.0);
    cfg->stop_distance =
        qt_config_double(y, "sizing.stop_distance", false, cfg->stop_distance, 1e-6, 1.0);
    cfg->vol_target =
        qt_config_double(y, "sizing.vol_target", false, cfg->vol_target, 0.0, 10.0);
    cfg->vol_halflife =
        qt_config_double(y, "sizing.vol_halflife", false, cfg->vol_halflife, 1.0, 10000.0);
    cfg->vol_min_returns = (uint32_t)qt_config_int(y, "sizing.vol_min_returns", false,
                                                   cfg->vol_min_returns, 0, 100000);
    cfg->kelly_fraction =
        qt_config_double(y, "sizing.kelly_fraction", false, cfg->kelly_fraction, 0.0, 1.0);
    cfg->kelly_min_trades = (uint32_t)qt_config_int(y, "sizing.kelly_min_trades", false,
                                                    cfg->kelly_min_trades, 1, 100000);
    cfg->price_band_bps =
        qt_config_int(y, "limits.price_band_bps", false, cfg->price_band_bps, 0, 10000);
    cfg->price_band_ref_max_age_ms =
        qt_config_int(y, "limits.price_band_ref_max_age_ms", false,
                      cfg->price_band_ref_max_age_ms, 0, INT64_MAX / 4);
    cfg->max_bar_age_ms = qt_config_int(y, "limits.max_bar_age_ms", false,
                                        cfg->max_bar_age_ms, 0, INT64_MAX / 4);
    cfg->max_orders_per_window = (uint32_t)qt_config_int(
        y, "limits.max_orders_per_window", false, cfg->max_orders_per_window, 0,
        RISK_ORDER_RING);
    cfg->order_window_ms = qt_config_int(y, "limits.order_window_ms", false,
                                         cfg->order_window_ms, 1, INT64_MAX / 4);
    cfg->daily_loss_limit = qt_config_double(y, "limits.daily_loss_limit", false,
                                             cfg->daily_loss_limit, 0.0, 1.0);
    cfg->max_drawdown =
        qt_config_double(y, "limits.max_drawdown", false, cfg->max_drawdown, 0.0, 1.0);
    cfg->cooldown_ms = qt_config_int(y, "limits.cooldown_ms", false, cfg->cooldown_ms, 0,
                                     INT64_MAX / 4);
    cfg->global_cooldown_ms = qt_config_int(y, "limits.global_cooldown_ms", false,
                                            cfg->global_cooldown_ms, 0, INT64_MAX / 4);
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
    if (!isfinite(cfg->risk_per_trade) || cfg->risk_per_trade < 0.0 || cfg->risk_per_trade > 1.0)
        return "risk_per_trade must be in [0, 1]";
    if (!isfinite(cfg->stop_distance) || cfg->stop_distance <= 0.0 || cfg->stop_distance > 1.0)
        return "stop_distance must be in (0, 1]";
    if (!isfinite(cfg->vol_target) || cfg->vol_target < 0.0 || cfg->vol_target > 10.0)
        return "vol_target must be in [0, 10]";
    if (!isfinite(cfg->vol_halflife) || cfg->vol_halflife < 1.0 || cfg->vol_halflife > 10000.0)
        return "vol_halflife must be in [1, 10000]";
    if (cfg->vol_min_returns > 100000)
        return "vol_min_returns must be in [0, 100000]";
    if (!isfinite(cfg->kelly_fraction) || cfg->kelly_fraction < 0.0 || cfg->kelly_fraction > 1.0)
        return "kelly_fraction must be in [0, 1]";
    if (cfg->kelly_min_trades < 1 || cfg->kelly_min_trades > 100000)
        return "kelly_min_trades must be in [1, 100000]";
    if (cfg->price_band_bps < 0 || cfg->price_band_bps > 10000)
        return "price_band_bps must be in [0, 10000]";
    if (cfg->max_bar_age_ms < 0 || cfg->price_band_ref_max_age_ms < 0)
        return "max_bar_age_ms and price_band_ref_max_age_ms must be >= 0";
    if (cfg->max_orders_per_window > RISK_ORDER_RING)
        return "max_orders_per_window must be in [0, 1024]";
    if (cfg->order_window_ms <= 0)
        return "order_window_ms must be > 0";
    if (!isfinite(cfg->daily_loss_limit) || cfg->daily_loss_limit < 0.0 ||
        cfg->daily_loss_limit > 1.0)
        return "daily_loss_limit must be in [0, 1]";
    if (!isfinite(cfg->max_drawdown) || cfg->max_drawdown < 0.0 || cfg->max_drawdown > 1.0)
        return "max_drawdown must be in [0, 1]";
    if (cfg->cooldown_ms < 0 || cfg->global_cooldown_ms < 0)
        return "cooldown_ms and global_cooldown_ms must be >= 0";
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
    QT_SYMTAB_INIT(&self->mkt, risk_sym_t, symbol, 0);
    self->day = INT64_MIN;
    self->global_cooldown_until_ms = INT64_MIN;
    return self;
}

void risk_destroy(risk_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    qt_symtab_free(&(*self_p)->pos);
    qt_symtab_free(&(*self_p)->mkt);
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

bool risk_on_alert(risk_t *self, const char *symbol, const char *kind, bool active)
{
    if (!symbol || !kind || !symbol_ok(symbol))
        return false;
    if (strcmp(kind, "stale") != 0)
        return true;   /* gap / invalid: the bars themselves were dropped upstream */
    risk_sym_t *m = qt_symtab_find(&self->mkt, symbol);
    if (!m) {
        if (!active)
            return true;
        void *slot = NULL;
        if (qt_symtab_upsert(&self->mkt, symbol, &slot) != QT_SYMTAB_INSERTED || !slot)
            return false;
        m = slot;
        m->last_price = 0;
        m->cooldown_until_ms = INT64_MIN;
        m->var_rate = 0.0;
        m->n_returns = 0;
    }
    m->stale = active;
    return true;
}

bool risk_stale(const risk_t *self, const char *symbol)
{
    const risk_sym_t *m = qt_symtab_find(&self->mkt, symbol);
    return m && m->stale;
}

/* ---- the rules ------------------------------------------------------------------ */

static void set_reason(risk_reason_t *why, const char *code, const char *detail,
                       qt_fixed_t value, qt_fixed_t limit)
{
    if (!why)
        return;
    memset(why, 0, sizeof *why);
    snprintf(why->code, sizeof why->code, "%s", code);
    snprintf(why->detail, sizeof why->detail, "%s", detail);
    why->value = value;
    why->limit = limit;
}

/* Counts and ms in the fixed-point value/limit fields, saturated. */
static qt_fixed_t as_count(int64_t v)
{
    if (v > INT64_MAX / QT_FIXED_SCALE)
        return INT64_MAX;
    if (v < INT64_MIN / QT_FIXED_SCALE)
        return INT64_MIN;
    return v * QT_FIXED_SCALE;
}

bool risk_check_stale(const risk_config_t *cfg, bool alert_active, int64_t bar_time_ms,
                      int64_t last_watermark_ms, risk_reason_t *why)
{
    if (alert_active) {
        set_reason(why, RISK_CODE_STALE_DATA, "stale-data alert active for the symbol", 0, 0);
        return false;
    }
    if (cfg->max_bar_age_ms > 0 && last_watermark_ms != INT64_MIN &&
        last_watermark_ms > bar_time_ms &&
        (uint64_t)last_watermark_ms - (uint64_t)bar_time_ms > (uint64_t)cfg->max_bar_age_ms) {
        uint64_t age = (uint64_t)last_watermark_ms - (uint64_t)bar_time_ms;
        set_reason(why, RISK_CODE_STALE_DATA, "bar older than max_bar_age_ms behind the watermark",
                   as_count(age > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)age),
                   as_count(cfg->max_bar_age_ms));
        return false;
    }
    return true;
}

bool risk_check_price_band(const risk_config_t *cfg, qt_fixed_t last_price,
                           qt_fixed_t ref_price, risk_reason_t *why)
{
    if (cfg->price_band_bps <= 0 || last_price <= 0 || ref_price <= 0)
        return true;
    __int128 diff = (__int128)ref_price - last_price;
    if (diff < 0)
        diff = -diff;
    /* diff / last > band / 1e4, exactly in integers */
    if (diff * 10000 <= (__int128)cfg->price_band_bps * last_price)
        return true;
    __int128 bps = diff * 10000 / last_price;
    set_reason(why, RISK_CODE_PRICE_BAND, "price moved beyond the band since the last price",
               as_count(bps > INT64_MAX ? INT64_MAX : (int64_t)bps),
               as_count(cfg->price_band_bps));
    return false;
}

bool risk_check_cooldown(const risk_config_t *cfg, int64_t symbol_until_ms,
                         int64_t global_until_ms, int64_t bar_time_ms, risk_reason_t *why)
{
    if (bar_time_ms < symbol_until_ms) {
        set_reason(why, RISK_CODE_COOLDOWN, "symbol in cooldown after a losing close",
                   as_count(symbol_until_ms - bar_time_ms), as_count(cfg->cooldown_ms));
        return false;
    }
    if (bar_time_ms < global_until_ms) {
        set_reason(why, RISK_CODE_COOLDOWN, "global cooldown after a losing close",
                   as_count(global_until_ms - bar_time_ms), as_count(cfg->global_cooldown_ms));
        return false;
    }
    return true;
}

/* Shared by the daily-loss and drawdown rules: loss = ref - equity > frac * ref. */
static bool loss_within(double frac, qt_fixed_t ref, qt_fixed_t equity, qt_fixed_t *loss,
                        qt_fixed_t *allowed)
{
    *loss = 0;
    *allowed = 0;
    if (frac <= 0.0 || ref <= 0 || equity >= ref)
        return true;
    *loss = ref - equity;   /* no overflow: ref > equity, ref > 0 */
    if (!qt_fixed_mul_ratio(ref, frac, allowed))
        return true;        /* beyond range: cannot judge, the other limits still hold */
    return *loss <= *allowed;
}

bool risk_check_daily_loss(const risk_config_t *cfg, qt_fixed_t day_start_equity,
                           qt_fixed_t equity, risk_reason_t *why)
{
    qt_fixed_t loss, allowed;
    if (loss_within(cfg->daily_loss_limit, day_start_equity, equity, &loss, &allowed))
        return true;
    set_reason(why, RISK_CODE_DAILY_LOSS, "loss since the start of the UTC day over the limit",
               loss, allowed);
    return false;
}

bool risk_check_drawdown(const risk_config_t *cfg, qt_fixed_t peak_equity, qt_fixed_t equity,
                         risk_reason_t *why)
{
    qt_fixed_t dd, allowed;
    if (loss_within(cfg->max_drawdown, peak_equity, equity, &dd, &allowed))
        return true;
    set_reason(why, RISK_CODE_MAX_DRAWDOWN, "drawdown from the equity peak over the limit", dd,
               allowed);
    return false;
}

bool risk_check_order_rate(const risk_config_t *cfg, uint32_t orders_in_window,
                           risk_reason_t *why)
{
    if (cfg->max_orders_per_window == 0 || orders_in_window < cfg->max_orders_per_window)
        return true;
    set_reason(why, RISK_CODE_ORDER_RATE, "order rate limit reached in the window",
               as_count(orders_in_window), as_count(cfg->max_orders_per_window));
    return false;
}

bool risk_size_fixed_fractional(const risk_config_t *cfg, qt_fixed_t equity, qt_fixed_t price,
                                qt_fixed_t qty, qt_fixed_t *max_qty, risk_reason_t *why)
{
    *max_qty = qty;
    if (cfg->risk_per_trade <= 0.0 || price <= 0)
        return true;
    /* max notional = equity * risk_per_trade / stop_distance */
    qt_fixed_t max_notional = 0;
    if (equity > 0 && !qt_fixed_mul_ratio(equity, cfg->risk_per_trade / cfg->stop_distance,
                                          &max_notional))
        return true;   /* beyond range: the notional limits still apply */
    __int128 q = max_notional > 0 ? ((__int128)max_notional * QT_FIXED_SCALE) / price : 0;
    qt_fixed_t fit = q > (__int128)INT64_MAX ? INT64_MAX : (qt_fixed_t)q;
    if (qty <= fit)
        return true;
    *max_qty = fit;
    qt_fixed_t notional = 0;
    if (!qt_fixed_mul(qty, price, &notional))
        notional = INT64_MAX;
    set_reason(why, RISK_CODE_FIXED_FRACTIONAL,
               "trade risk (notional x stop distance) over risk_per_trade of equity", notional,
               max_notional);
    return false;
}

/* The sizing caps that bound a whole position (held + qty) by a notional: true when the
 * buy fits; otherwise *max_qty = what still fits (0 when nothing does) and why names the
 * cap with the position's notional and the cap's. */
static bool clip_position_to_notional(qt_fixed_t held, qt_fixed_t qty, qt_fixed_t price,
                                      qt_fixed_t max_notional, const char *code,
                                      const char *detail, qt_fixed_t *max_qty,
                                      risk_reason_t *why)
{
    __int128 q = max_notional > 0 ? ((__int128)max_notional * QT_FIXED_SCALE) / price : 0;
    __int128 room = q - held;
    if ((__int128)qty <= room)
        return true;
    *max_qty = room > 0 ? (qt_fixed_t)room : 0;
    qt_fixed_t notional = 0, total = 0;
    if (!qt_fixed_add(held, qty, &total) || !qt_fixed_mul(total, price, &notional))
        notional = INT64_MAX;
    set_reason(why, code, detail, notional, max_notional);
    return false;
}

bool risk_size_vol_target(const risk_config_t *cfg, qt_fixed_t equity, double sigma_annual,
                          uint32_t n_returns, qt_fixed_t price, qt_fixed_t held, qt_fixed_t qty,
                          qt_fixed_t *max_qty, risk_reason_t *why)
{
    *max_qty = qty;
    if (cfg->vol_target <= 0.0 || n_returns < cfg->vol_min_returns || !isfinite(sigma_annual) ||
        sigma_annual <= 0.0 || price <= 0)
        return true;
    qt_fixed_t max_notional = 0;
    if (equity > 0 && !qt_fixed_mul_ratio(equity, cfg->vol_target / sigma_annual, &max_notional))
        return true;   /* beyond range: the notional limits still apply */
    return clip_position_to_notional(held, qty, price, max_notional, RISK_CODE_VOL_TARGET,
                                     "position volatility over vol_target: clipped to equity x "
                                     "target / sigma",
                                     max_qty, why);
}

bool risk_size_kelly(const risk_config_t *cfg, qt_fixed_t equity, const risk_trades_t *tr,
                     qt_fixed_t price, qt_fixed_t held, qt_fixed_t qty, qt_fixed_t *max_qty,
                     risk_reason_t *why)
{
    *max_qty = qty;
    uint64_t n = (uint64_t)tr->wins + tr->losses;
    if (cfg->kelly_fraction <= 0.0 || n < cfg->kelly_min_trades || tr->losses == 0 ||
        price <= 0)
        return true;
    double p = (double)tr->wins / (double)n;
    double avg_loss = -tr->sum_loss / (double)tr->losses;
    double f = 0.0;
    if (tr->wins > 0 && avg_loss > 0.0) {
        double b = (tr->sum_win / (double)tr->wins) / avg_loss;
        f = b > 0.0 ? p - (1.0 - p) / b : 0.0;
    } else if (tr->wins > 0) {
        return true;   /* losses that lost nothing: no measurable risk, no cap */
    }
    if (!isfinite(f) || f < 0.0)
        f = 0.0;
    if (f > 1.0)
        f = 1.0;
    qt_fixed_t max_notional = 0;
    if (equity > 0 && !qt_fixed_mul_ratio(equity, cfg->kelly_fraction * f, &max_notional))
        return true;
    return clip_position_to_notional(held, qty, price, max_notional, RISK_CODE_KELLY_CEILING,
                                     "position over kelly_fraction x Kelly fraction of equity "
                                     "(realised trades)",
                                     max_qty, why);
}

void risk_trade_stats(const risk_t *self, risk_trades_t *out) { *out = self->trades; }

bool risk_volatility(const risk_t *self, const char *symbol, double *sigma_annual,
                     uint32_t *n_returns)
{
    const risk_sym_t *m = qt_symtab_find(&self->mkt, symbol);
    if (!m)
        return false;
    *sigma_annual = sqrt(m->var_rate * YEAR_MS);
    *n_returns = m->n_returns;
    return true;
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
    qt_fixed_t basis;       /* cost basis of held */
    qt_fixed_t target_qty;
    bool loss;              /* sold (part of) the position below its cost basis */
} leg_t;

/* What the pre-trade rules of one buy need beyond the leg (see risk.h RULES). */
typedef struct {
    int64_t last_wm_ms;
    qt_fixed_t equity, peak_equity, day_start_equity;
    int64_t global_until_ms;
    uint32_t orders_in_window;   /* incremented as intents are approved */
    const qt_symtab_t *mkt;
    risk_trades_t trades;        /* including this target's sells */
} buy_ctx_t;

/* a + b for b >= 0, saturated at INT64_MAX. */
static int64_t sat_add(int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

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
static void work_set(qt_symtab_t *work, const char *symbol, qt_fixed_t qty, qt_fixed_t price,
                     qt_fixed_t basis)
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
        p->basis = basis;
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
                   qt_fixed_t *cash, buy_ctx_t *ctx, risk_decision_t *d)
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
    /* Pre-trade rules that reject outright. */
    risk_reason_t why;
    const risk_sym_t *m = qt_symtab_find(ctx->mkt, leg->symbol);
    qt_fixed_t last_px = 0;
    if (m && m->last_price > 0 && (__int128)bar_time_ms - m->last_price_ms <=
                                      (__int128)cfg->price_band_ref_max_age_ms)
        last_px = m->last_price;
    if (!risk_check_stale(cfg, m && m->stale, bar_time_ms, ctx->last_wm_ms, &why) ||
        !risk_check_price_band(cfg, last_px, leg->price, &why) ||
        !risk_check_cooldown(cfg, m ? m->cooldown_until_ms : INT64_MIN, ctx->global_until_ms,
                             bar_time_ms, &why) ||
        !risk_check_daily_loss(cfg, ctx->day_start_equity, ctx->equity, &why) ||
        !risk_check_drawdown(cfg, ctx->peak_equity, ctx->equity, &why) ||
        !risk_check_order_rate(cfg, ctx->orders_in_window, &why)) {
        add_reason(d, why.code, why.detail, why.value, why.limit);
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
    /* Fixed-fractional sizing: clips the trade. */
    qt_fixed_t ff_max;
    if (qty > 0 && !risk_size_fixed_fractional(cfg, ctx->equity, leg->price, qty, &ff_max, &why)) {
        add_reason(d, why.code, why.detail, why.value, why.limit);
        qty = floor_step(ff_max, cfg->qty_step);
    }
    /* Volatility targeting: clips the position. */
    qt_fixed_t vt_max;
    if (qty > 0 && m &&
        !risk_size_vol_target(cfg, ctx->equity, sqrt(m->var_rate * YEAR_MS), m->n_returns,
                              leg->price, leg->held, qty, &vt_max, &why)) {
        add_reason(d, why.code, why.detail, why.value, why.limit);
        qty = floor_step(vt_max, cfg->qty_step);
    }
    /* Kelly ceiling: clips the position. */
    qt_fixed_t k_max;
    if (qty > 0 &&
        !risk_size_kelly(cfg, ctx->equity, &ctx->trades, leg->price, leg->held, qty, &k_max, &why)) {
        add_reason(d, why.code, why.detail, why.value, why.limit);
        qty = floor_step(k_max, cfg->qty_step);
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
    qt_fixed_t basis;
    if (!qt_fixed_add(leg->basis, need, &basis))
        return false;
    d->approved = true;
    d->approved_qty = qty;
    ctx->orders_in_window++;
    work_set(work, leg->symbol, total, leg->price, basis);
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
        l->basis = held->basis;
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
            work_set(&work, legs[i].symbol, legs[i].held, legs[i].price, legs[i].basis);
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

    /* Context of the pre-trade rules: day-start and peak equity (this target's equity
     * opens a new UTC day or raises the peak), the orders already in the window. */
    const int64_t t = target->bar_time_ms;
    const int64_t day = t >= 0 ? t / DAY_MS : -((-(t + 1)) / DAY_MS) - 1;
    buy_ctx_t ctx = {.last_wm_ms = self->last_wm_ms, .equity = equity,
                     .peak_equity = equity > self->peak_equity ? equity : self->peak_equity,
                     .day_start_equity = self->day == day ? self->day_start_equity : equity,
                     .global_until_ms = self->global_cooldown_until_ms, .mkt = &self->mkt,
                     .trades = self->trades};
    for (uint32_t k = 0; k < self->n_orders; k++)
        if ((__int128)t - self->orders[k] < (__int128)cfg->order_window_ms)
            ctx.orders_in_window++;
    /* Room for this target's symbols in the market table, taken before anything is
     * decided so that the commit below cannot fail. */
    if (!qt_symtab_reserve(&self->mkt, qt_symtab_size(&self->mkt) + n_legs)) {
        st = RISK_ERROR;
        goto fail;
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
        /* Cost basis of what is sold (pro rata, floor); a loss starts the cooldowns. */
        qt_fixed_t sold_basis =
            full ? l->basis : (qt_fixed_t)(((__int128)l->basis * qty) / l->held);
        if (sold_basis > 0) {
            double ret = (double)(proceeds - sold_basis) / (double)sold_basis;
            if (ret > 0.0) {
                if (ctx.trades.wins < UINT32_MAX) {
                    ctx.trades.wins++;
                    ctx.trades.sum_win += ret;
                }
            } else if (ctx.trades.losses < UINT32_MAX) {
                ctx.trades.losses++;
                ctx.trades.sum_loss += ret;
            }
        }
        if (proceeds < sold_basis) {
            l->loss = true;
            if (cfg->global_cooldown_ms > 0 &&
                sat_add(t, cfg->global_cooldown_ms) > ctx.global_until_ms)
                ctx.global_until_ms = sat_add(t, cfg->global_cooldown_ms);
        }
        ctx.orders_in_window++;
        work_set(&work, l->symbol, l->held - qty, l->price, l->basis - sold_basis);
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
        if (!do_buy(cfg, l, target->bar_time_ms, tier, requested, &work, &cash, &ctx,
                    &dec[n_dec])) {
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
    self->peak_equity = ctx.peak_equity;
    self->day = day;
    self->day_start_equity = ctx.day_start_equity;
    self->global_cooldown_until_ms = ctx.global_until_ms;
    self->trades = ctx.trades;
    for (size_t i = 0; i < n_legs; i++) {
        bool in_target = false;
        for (size_t k = 0; k < target->n_positions && !in_target; k++)
            in_target = strcmp(target->positions[k].symbol, legs[i].symbol) == 0;
        if (!in_target && !legs[i].loss)
            continue;
        void *slot = NULL;
        qt_symtab_rc_t rc = qt_symtab_upsert(&self->mkt, legs[i].symbol, &slot);
        risk_sym_t *m = slot;
        if (!m)
            continue;   /* reserved above: unreachable */
        if (rc == QT_SYMTAB_INSERTED) {
            m->last_price = 0;
            m->last_price_ms = 0;
            m->stale = false;
            m->cooldown_until_ms = INT64_MIN;
            m->var_rate = 0.0;
            m->n_returns = 0;
        }
        if (in_target) {
            /* EWMA of squared log returns per ms, over consecutive reference prices no
             * further apart than price_band_ref_max_age_ms. */
            if (m->last_price > 0 && t > m->last_price_ms &&
                (__int128)t - m->last_price_ms <= (__int128)cfg->price_band_ref_max_age_ms) {
                double lr = log((double)legs[i].price / (double)m->last_price);
                double rate = lr * lr / (double)(t - m->last_price_ms);
                double lambda = pow(0.5, 1.0 / cfg->vol_halflife);
                m->var_rate = m->n_returns == 0 ? rate : lambda * m->var_rate + (1.0 - lambda) * rate;
                if (m->n_returns < UINT32_MAX)
                    m->n_returns++;
            }
            m->last_price = legs[i].price;
            m->last_price_ms = t;
        }
        if (legs[i].loss && cfg->cooldown_ms > 0)
            m->cooldown_until_ms = sat_add(t, cfg->cooldown_ms);
    }
    /* Order times: drop those out of the window, append this target's approvals. */
    uint32_t kept = 0;
    for (uint32_t k = 0; k < self->n_orders; k++)
        if ((__int128)t - self->orders[k] < (__int128)cfg->order_window_ms)
            self->orders[kept++] = self->orders[k];
    self->n_orders = kept;
    for (size_t i = 0; i < n_dec; i++) {
        if (!dec[i].approved)
            continue;
        if (self->n_orders == RISK_ORDER_RING) {
            memmove(self->orders, self->orders + 1, (RISK_ORDER_RING - 1) * sizeof(int64_t));
            self->n_orders--;
        }
        self->orders[self->n_orders++] = t;
    }
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
        qt_buf_put_i64(out, p->basis);
    }
    qt_buf_put_i64(out, self->peak_equity);
    qt_buf_put_i64(out, self->day);
    qt_buf_put_i64(out, self->day_start_equity);
    qt_buf_put_i64(out, self->global_cooldown_until_ms);
    qt_buf_put_u32(out, self->n_orders);
    for (uint32_t k = 0; k < self->n_orders; k++)
        qt_buf_put_i64(out, self->orders[k]);
    qt_buf_put_u32(out, self->trades.wins);
    qt_buf_put_u32(out, self->trades.losses);
    qt_buf_put_f64(out, self->trades.sum_win);
    qt_buf_put_f64(out, self->trades.sum_loss);
    size_t n_mkt = qt_symtab_size(&self->mkt);
    qt_buf_put_u32(out, (uint32_t)n_mkt);
    for (size_t i = 0; i < n_mkt; i++) {
        const risk_sym_t *m = qt_symtab_at(&self->mkt, i);
        qt_buf_put_str(out, m->symbol);
        qt_buf_put_i64(out, m->last_price);
        qt_buf_put_i64(out, m->last_price_ms);
        qt_buf_put_u32(out, m->stale ? 1u : 0u);
        qt_buf_put_i64(out, m->cooldown_until_ms);
        qt_buf_put_f64(out, m->var_rate);
        qt_buf_put_u32(out, m->n_returns);
    }
}

/* Format 2 or 3 (see risk.h); state untouched unless everything is valid. */
bool risk_load(risk_t *self, qt_reader_t *r)
{
    uint32_t ver = qt_read_u32(r);
    if (ver != 2 && ver != SNAPSHOT_VERSION)
        return false;
    int64_t last_target = qt_read_i64(r);
    int64_t last_wm = qt_read_i64(r);
    qt_fixed_t cash = qt_read_i64(r);
    uint32_t n = qt_read_u32(r);
    if (r->err || cash < 0 || n > RISK_MAX_SYMBOLS)
        return false;
    qt_symtab_t p, mk;
    QT_SYMTAB_INIT(&p, risk_pos_t, symbol, 0);
    QT_SYMTAB_INIT(&mk, risk_sym_t, symbol, 0);
    bool ok = qt_symtab_reserve(&p, n ? n : 1);
    for (uint32_t i = 0; ok && i < n; i++) {
        risk_pos_t rec = {0};
        const risk_pos_t *prev = i > 0 ? qt_symtab_at(&p, i - 1) : NULL;
        qt_read_str(r, rec.symbol, sizeof rec.symbol);
        rec.qty = qt_read_i64(r);
        rec.price = qt_read_i64(r);
        if (ver == 2)
            ok = qt_fixed_mul(rec.qty, rec.price, &rec.basis);
        else
            rec.basis = qt_read_i64(r);
        void *slot = NULL;
        if (!ok || r->err || !symbol_ok(rec.symbol) || rec.qty <= 0 || rec.price <= 0 ||
            rec.basis < 0 || (prev && strcmp(prev->symbol, rec.symbol) >= 0) ||
            qt_symtab_upsert(&p, rec.symbol, &slot) != QT_SYMTAB_INSERTED) {
            ok = false;
            break;
        }
        *(risk_pos_t *)slot = rec;
    }
    qt_fixed_t peak = 0, day_start = 0;
    int64_t day = INT64_MIN, global_until = INT64_MIN;
    int64_t orders[RISK_ORDER_RING];
    uint32_t n_orders = 0;
    risk_trades_t trades = {0};
    if (ok && ver == SNAPSHOT_VERSION) {
        peak = qt_read_i64(r);
        day = qt_read_i64(r);
        day_start = qt_read_i64(r);
        global_until = qt_read_i64(r);
        n_orders = qt_read_u32(r);
        if (r->err || peak < 0 || n_orders > RISK_ORDER_RING)
            ok = false;
        for (uint32_t k = 0; ok && k < n_orders; k++)
            orders[k] = qt_read_i64(r);
        trades.wins = qt_read_u32(r);
        trades.losses = qt_read_u32(r);
        trades.sum_win = qt_read_f64(r);
        trades.sum_loss = qt_read_f64(r);
        if (!isfinite(trades.sum_win) || !isfinite(trades.sum_loss) || trades.sum_win < 0.0 ||
            trades.sum_loss > 0.0)
            ok = false;
        uint32_t n_mkt = ok ? qt_read_u32(r) : 0;
        if (r->err || (ok && !qt_symtab_reserve(&mk, n_mkt ? n_mkt : 1)))
            ok = false;
        for (uint32_t i = 0; ok && i < n_mkt; i++) {
            risk_sym_t rec = {0};
            const risk_sym_t *prev = i > 0 ? qt_symtab_at(&mk, i - 1) : NULL;
            qt_read_str(r, rec.symbol, sizeof rec.symbol);
            rec.last_price = qt_read_i64(r);
            rec.last_price_ms = qt_read_i64(r);
            uint32_t stale = qt_read_u32(r);
            rec.cooldown_until_ms = qt_read_i64(r);
            rec.var_rate = qt_read_f64(r);
            rec.n_returns = qt_read_u32(r);
            rec.stale = stale == 1;
            void *slot = NULL;
            if (r->err || !symbol_ok(rec.symbol) || rec.last_price < 0 || stale > 1 ||
                !isfinite(rec.var_rate) || rec.var_rate < 0.0 ||
                (prev && strcmp(prev->symbol, rec.symbol) >= 0) ||
                qt_symtab_upsert(&mk, rec.symbol, &slot) != QT_SYMTAB_INSERTED) {
                ok = false;
                break;
            }
            *(risk_sym_t *)slot = rec;
        }
    }
    if (!ok || r->err || !qt_reader_done(r)) {
        qt_symtab_free(&p);
        qt_symtab_free(&mk);
        return false;
    }
    qt_symtab_free(&self->pos);
    qt_symtab_free(&self->mkt);
    self->pos = p;
    self->mkt = mk;
    self->cash = cash;
    self->last_target_ms = last_target;
    self->last_wm_ms = last_wm;
    self->peak_equity = peak;
    self->day = day;
    self->day_start_equity = day_start;
    self->global_cooldown_until_ms = global_until;
    memcpy(self->orders, orders, n_orders * sizeof orders[0]);
    self->n_orders = n_orders;
    self->trades = trades;
    return true;
}
