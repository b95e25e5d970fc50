/* risk: the qt-risk core. Turns a TargetPortfolio into RiskDecisions and OrderIntents
 * under hard limits and the kill switch.
 *
 * Why a pure core: the risk gate is the last line of defence before an order, so it
 * must be testable exhaustively. It does no I/O and reads no clock; the kill-switch
 * tier is a parameter (main.c reads it through qt_service_killswitch, which fails
 * closed), and all money is fixed point (qt_money), never double. The only doubles
 * are the target weights and the throttle factor, applied once with
 * qt_fixed_mul_ratio.
 *
 * Positions and cash. The core tracks the position it believes is held per symbol: the
 * sum of the intents it approved. The foundation paper broker fills every approved
 * intent in full at the next bar's open, so this is exact in paper mode; qt-recon
 * compares it with the broker. Each position remembers the last reference price seen
 * for it (from the target or the intent), used to value and close positions the
 * target no longer lists. The core also keeps an estimated cash balance (cash_est,
 * starts at the initial capital): an approved buy takes qty * ref_price plus an
 * estimated cost of cost_buffer_bps of that notional, an approved sell gives
 * qty * ref_price minus the same cost estimate. It is an estimate (the fill price is
 * the next open, with slippage), deliberately pessimistic on costs; it never goes
 * negative: risk never approves a buy the estimated cash cannot pay for (a spot,
 * long-only account has no leverage).
 *
 * One target for time t (t > last processed target time; otherwise a duplicate):
 *  0. equity_est = cash_est + sum(held qty * price), price = this target's reference
 *     price for the symbol, else its last known one.
 *  1. For each symbol in (held positions) U (target positions):
 *     target_qty = floor_step(qt_fixed_div(qt_fixed_mul_ratio(equity_est, weight), price)),
 *     delta = target_qty - held. A symbol not in the target has weight 0 (close fully).
 *     Sell quantities are rounded down to qty_step, except a full close (exactly held).
 *     Rebalance band: when the symbol is held and its target_qty > 0, the delta is
 *     traded only when |delta| * price > rebalance_band * target_qty * price (skipped,
 *     counted, no decision, otherwise). Opening (held 0) and closing fully are exempt.
 *     A delta whose notional (qty * price) is below min_trade_notional is skipped (no
 *     decision; counted) unless it closes the position fully.
 *     When equity_est <= 0 nothing is sized: held positions are kept (unless the target
 *     drops them: closed), and every symbol with weight > 0 that is not held gets a
 *     rejected buy decision (requested 0, EQUITY_DEPLETED).
 *  2. Sells first (symbol order): always allowed (they only reduce exposure; long-only,
 *     so every sell is reduce_only). Each adds its proceeds minus the cost estimate to
 *     cash_est, so the buys of the same target can use it.
 *  3. Buys, by descending weight then symbol:
 *       kill switch NO_NEW / UNKNOWN / FLATTEN_ALL -> rejected KILL_SWITCH;
 *       pre-trade rules STALE_DATA, PRICE_BAND, COOLDOWN, DAILY_LOSS, MAX_DRAWDOWN,
 *         ORDER_RATE -> rejected (see "the rules" below);
 *       THROTTLE -> qty scaled by throttle_factor (reason KILL_SWITCH on the decision);
 *       opening a position when max_open_positions are open -> rejected
 *         MAX_OPEN_POSITIONS (value/limit are counts in fixed point);
 *       FIXED_FRACTIONAL, VOL_TARGET, KELLY_CEILING sizing -> clipped (see below);
 *       position notional after the buy > max_position_notional -> clipped to fit
 *         (MAX_POSITION_NOTIONAL); nothing fits -> rejected;
 *       gross exposure (sum of qty * price over all positions) after the buy >
 *         max_gross_exposure -> clipped to fit (MAX_GROSS_EXPOSURE); nothing fits ->
 *         rejected;
 *       qty * price + cost estimate > cash_est -> clipped to what the cash pays for,
 *         cost included (INSUFFICIENT_CASH, value = cash the buy would need, limit =
 *         cash_est); nothing fits -> rejected.
 *     A buy clipped or throttled below min_trade_notional is rejected with the reasons
 *     that shrank it. Clipped quantities are rounded down to qty_step, and the clip is
 *     computed with floor division so the limits hold exactly (never by rounding).
 *  4. FLATTEN_ALL: every held position is closed (sell, reduce_only, reason
 *     "flatten_all") and every buy is rejected, whatever the target says.
 * Every decision carries the tier and, when not a plain approval, its reasons
 * (code, detail, value, limit). Approved decisions become intents and update the
 * positions immediately. */
#ifndef RISK_H
#define RISK_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "qt/v1/control.pb-c.h"
#include "qt/v1/trading.pb-c.h"
#include "qt_buf.h"
#include "qt_config.h"
#include "qt_money.h"

#define RISK_SYMBOL_MAX 32          /* == QT_MAX_SYMBOL */
#define RISK_INTENT_ID_MAX 64       /* "<bar_time_ms>-<symbol>" */
#define RISK_MAX_SYMBOLS 4096       /* positions + target names; more is hostile input */
#define RISK_MAX_REASONS 4

/* Reason codes (RejectReason.code). */
#define RISK_CODE_KILL_SWITCH "KILL_SWITCH"
#define RISK_CODE_MAX_POSITION_NOTIONAL "MAX_POSITION_NOTIONAL"
#define RISK_CODE_MAX_GROSS_EXPOSURE "MAX_GROSS_EXPOSURE"
#define RISK_CODE_MAX_OPEN_POSITIONS "MAX_OPEN_POSITIONS"
#define RISK_CODE_MIN_TRADE_NOTIONAL "MIN_TRADE_NOTIONAL"
#define RISK_CODE_INSUFFICIENT_CASH "INSUFFICIENT_CASH"
#define RISK_CODE_EQUITY_DEPLETED "EQUITY_DEPLETED"
#define RISK_CODE_STALE_DATA "STALE_DATA"
#define RISK_CODE_PRICE_BAND "PRICE_BAND"
#define RISK_CODE_COOLDOWN "COOLDOWN"
#define RISK_CODE_DAILY_LOSS "DAILY_LOSS"
#define RISK_CODE_MAX_DRAWDOWN "MAX_DRAWDOWN"
#define RISK_CODE_ORDER_RATE "ORDER_RATE"
#define RISK_CODE_FIXED_FRACTIONAL "FIXED_FRACTIONAL"
#define RISK_CODE_VOL_TARGET "VOL_TARGET"
#define RISK_CODE_KELLY_CEILING "KELLY_CEILING"
#define RISK_ORDER_RING 1024        /* max_orders_per_window <= this */

typedef struct {
    qt_fixed_t capital;                /* initial capital (cash_est at start), default 100000 */
    int64_t cost_buffer_bps;           /* estimated fee + slippage per trade, [0, 1000],
                                          default 15 (= configs/exec.yml 10 + 5) */
    double rebalance_band;             /* [0, 1], default 0.25 */
    qt_fixed_t min_trade_notional;     /* default 50 */
    qt_fixed_t qty_step;               /* default 0.00001 */
    qt_fixed_t max_position_notional;  /* default 30000 */
    qt_fixed_t max_gross_exposure;     /* default 100000 */
    uint32_t max_open_positions;       /* default 10 */
    double throttle_factor;            /* (0, 1], default 0.5 */
    /* Pre-trade rules (see the RULES block above); 0 turns a rule off where noted. */
    double risk_per_trade;             /* fixed-fractional: [0, 1], default 0.02 (0 = off) */
    double stop_distance;              /* assumed stop distance, (0, 1], default 0.0625 */
    double vol_target;                 /* annualised vol of one position, [0, 10], default
                                          0.5 (0 = off) */
    double vol_halflife;               /* EWMA half-life in returns, [1, 10000], default 30 */
    uint32_t vol_min_returns;          /* returns needed before it applies, default 20 */
    double kelly_fraction;             /* Kelly ceiling: fraction of the Kelly bet a position
                                          may reach, [0, 1], default 0 (off) */
    uint32_t kelly_min_trades;         /* closed trades needed before it applies, default 30 */
    int64_t price_band_bps;            /* [0, 10000], default 2000 (0 = off) */
    int64_t price_band_ref_max_age_ms; /* last price older than this: no band, default 86400000 */
    int64_t max_bar_age_ms;            /* >= 0, default 28800000 (0 = off) */
    uint32_t max_orders_per_window;    /* [0, RISK_ORDER_RING], default 64 (0 = off) */
    int64_t order_window_ms;           /* > 0, default 14400000 */
    double daily_loss_limit;           /* [0, 1], default 0.10 (0 = off) */
    double max_drawdown;               /* [0, 1], default 0.50 (0 = off) */
    int64_t cooldown_ms;               /* per symbol after a losing close, >= 0, default 28800000 */
    int64_t global_cooldown_ms;        /* all buys after a losing close, >= 0, default 0 */
} risk_config_t;

void risk_config_defaults(risk_config_t *cfg);
/* Reads every configs/risk.yml key over *cfg (env overrides included); errors go to
 * qt_config_error(y). Then call risk_config_check. */
void risk_config_read(qt_config_t *y, risk_config_t *cfg);
/* NULL when valid, else a static description of the first problem. */
const char *risk_config_check(const risk_config_t *cfg);

typedef struct {
    char symbol[RISK_SYMBOL_MAX + 1];
    double weight;          /* [0, 1] */
    qt_fixed_t ref_price;   /* > 0 */
} risk_target_pos_t;

typedef struct {
    int64_t bar_time_ms;
    const risk_target_pos_t *positions;
    size_t n_positions;
} risk_target_t;

typedef struct {
    char code[32];
    char detail[96];
    qt_fixed_t value;
    qt_fixed_t limit;
} risk_reason_t;

typedef struct {
    char symbol[RISK_SYMBOL_MAX + 1];
    char intent_id[RISK_INTENT_ID_MAX];
    Qt__V1__Side side;
    bool approved;
    bool reduce_only;
    qt_fixed_t requested_qty;
    qt_fixed_t approved_qty;   /* 0 when rejected */
    qt_fixed_t ref_price;
    int64_t bar_time_ms;
    Qt__V1__KillSwitchTier tier;
    const char *intent_reason; /* "rebalance" | "close" | "flatten_all" (static) */
    risk_reason_t reasons[RISK_MAX_REASONS];
    size_t n_reasons;
} risk_decision_t;

typedef struct {
    risk_decision_t *decisions;   /* in processing order: sells, then buys */
    size_t n_decisions;
    uint32_t skipped_min_notional; /* deltas below min_trade_notional (no decision) */
    uint32_t skipped_band;         /* deltas inside the rebalance band (no decision) */
} risk_result_t;

void risk_result_free(risk_result_t *res);

/* Realised trade statistics behind the Kelly ceiling: every approved sell is a trade
 * outcome, return = proceeds (net of the cost estimate) / its cost basis - 1. */
typedef struct {
    uint32_t wins, losses;      /* return > 0 / return <= 0 */
    double sum_win, sum_loss;   /* sums of the returns (sum_loss <= 0) */
} risk_trades_t;

/* ---- the rules, one named function each ----------------------------------------------
 * Each returns true when the rule passes; false fills *why (code, detail, value, limit)
 * for a rejection. Pure: no state, all inputs are parameters (so a test can drive each
 * one with real prices), and risk_on_target applies them to every buy in the order:
 * kill switch, STALE_DATA, PRICE_BAND, COOLDOWN, DAILY_LOSS, MAX_DRAWDOWN, ORDER_RATE,
 * throttle, MAX_OPEN_POSITIONS, FIXED_FRACTIONAL (clips), VOL_TARGET (clips),
 * KELLY_CEILING (clips),
 * MAX_POSITION_NOTIONAL (clips),
 * MAX_GROSS_EXPOSURE (clips), INSUFFICIENT_CASH (clips), MIN_TRADE_NOTIONAL.
 * Sells only reduce exposure and are never blocked by these rules. */

/* STALE_DATA: an active DataAlert kind "stale" for the symbol, or a target whose bar
 * time is older than the last forwarded watermark by more than max_bar_age_ms.
 * value/limit: the bar age and the maximum (ms, as fixed point counts of ms). */
bool risk_check_stale(const risk_config_t *cfg, bool alert_active, int64_t bar_time_ms,
                      int64_t last_watermark_ms, risk_reason_t *why);
/* PRICE_BAND: |ref_price - last_price| / last_price > price_band_bps (last_price <= 0:
 * no reference yet, passes). value: the deviation in bps, limit: the band (counts). */
bool risk_check_price_band(const risk_config_t *cfg, qt_fixed_t last_price,
                           qt_fixed_t ref_price, risk_reason_t *why);
/* (The core passes last_price = 0, i.e. no reference, when the symbol's last price is
 * older than price_band_ref_max_age_ms.) */
/* COOLDOWN: bar_time_ms < the symbol's or the global cooldown end (after a losing
 * close). value: ms left, limit: the cooldown (counts of ms). */
bool risk_check_cooldown(const risk_config_t *cfg, int64_t symbol_until_ms,
                         int64_t global_until_ms, int64_t bar_time_ms, risk_reason_t *why);
/* DAILY_LOSS: equity fell more than daily_loss_limit below the equity at the first
 * target of the UTC day. value: the loss, limit: the allowed loss (money). */
bool risk_check_daily_loss(const risk_config_t *cfg, qt_fixed_t day_start_equity,
                           qt_fixed_t equity, risk_reason_t *why);
/* MAX_DRAWDOWN: equity fell more than max_drawdown below its peak. value: the drawdown,
 * limit: the allowed drawdown (money). */
bool risk_check_drawdown(const risk_config_t *cfg, qt_fixed_t peak_equity, qt_fixed_t equity,
                         risk_reason_t *why);
/* ORDER_RATE: orders_in_window (approved intents with bar time within order_window_ms)
 * >= max_orders_per_window. value/limit: counts. */
bool risk_check_order_rate(const risk_config_t *cfg, uint32_t orders_in_window,
                           risk_reason_t *why);
/* FIXED_FRACTIONAL sizing: the trade risks notional * stop_distance; at most
 * risk_per_trade * equity. *max_qty = the largest qty (before qty_step) within it;
 * false (with *why, value = requested notional, limit = max notional) when qty exceeds
 * it. */
bool risk_size_fixed_fractional(const risk_config_t *cfg, qt_fixed_t equity, qt_fixed_t price,
                                qt_fixed_t qty, qt_fixed_t *max_qty, risk_reason_t *why);
/* VOL_TARGET sizing: the position (held + qty) may be worth at most equity * vol_target /
 * sigma, sigma = the symbol's annualised volatility (EWMA of squared log returns of the
 * reference prices per ms of elapsed bar time, half-life vol_halflife returns, x ms per
 * year 31557600000). Passes while n_returns < vol_min_returns or sigma <= 0.
 * *max_qty = the largest buy (before qty_step) within it; false (value = position
 * notional the buy would give, limit = max notional) when qty exceeds it. */
/* KELLY_CEILING: with p = wins / trades, b = mean win / |mean loss|, the Kelly fraction
 * f* = p - (1 - p) / b (Kelly 1956; no loss yet: no cap). The position (held + qty) may
 * be worth at most equity * kelly_fraction * max(f*, 0). Passes while fewer than
 * kelly_min_trades trades are known. value = position notional the buy would give,
 * limit = max notional. */
bool risk_size_kelly(const risk_config_t *cfg, qt_fixed_t equity, const risk_trades_t *tr,
                     qt_fixed_t price, qt_fixed_t held, qt_fixed_t qty, qt_fixed_t *max_qty,
                     risk_reason_t *why);
bool risk_size_vol_target(const risk_config_t *cfg, qt_fixed_t equity, double sigma_annual,
                          uint32_t n_returns, qt_fixed_t price, qt_fixed_t held, qt_fixed_t qty,
                          qt_fixed_t *max_qty, risk_reason_t *why);


typedef enum {
    RISK_OK = 0,          /* *out holds the decisions */
    RISK_DUPLICATE,       /* bar time <= last processed: dropped, state unchanged */
    RISK_INVALID,         /* bad symbol/weight/price, repeated symbol, too many names, or
                             numbers beyond the fixed-point range (a poison target must
                             not stop the service): dropped, state unchanged */
    RISK_ERROR            /* out of memory: state unchanged */
} risk_status_t;

typedef struct risk_t risk_t;

risk_t *risk_new(const risk_config_t *cfg);
void risk_destroy(risk_t **self_p);

risk_status_t risk_on_target(risk_t *self, const risk_target_t *target,
                             Qt__V1__KillSwitchTier tier, risk_result_t *out);
/* A DataAlert from qt-ingest: kind "stale" with active true/false per symbol (other
 * kinds are ignored). false when the symbol is invalid or the table is full. */
bool risk_on_alert(risk_t *self, const char *symbol, const char *kind, bool active);
bool risk_stale(const risk_t *self, const char *symbol);
void risk_trade_stats(const risk_t *self, risk_trades_t *out);
/* The symbol's current annualised volatility estimate and its number of returns (false
 * when the symbol is unknown). */
bool risk_volatility(const risk_t *self, const char *symbol, double *sigma_annual,
                     uint32_t *n_returns);
/* True when the watermark for t must be forwarded (t > last forwarded), false for a
 * duplicate. */
bool risk_on_watermark(risk_t *self, int64_t t);

int64_t risk_last_target(const risk_t *self);     /* INT64_MIN when none */
int64_t risk_last_watermark(const risk_t *self);  /* INT64_MIN when none */
qt_fixed_t risk_position(const risk_t *self, const char *symbol);   /* 0 when flat */
size_t risk_open_positions(const risk_t *self);
/* Sum of qty * last price over the positions; false on overflow. */
bool risk_gross_exposure(const risk_t *self, qt_fixed_t *out);
/* Estimated cash (>= 0): initial capital +/- the approved intents (see above). */
qt_fixed_t risk_cash(const risk_t *self);
/* cash_est + sum of qty * last price over the positions; false on overflow. */
bool risk_equity(const risk_t *self, qt_fixed_t *out);
/* The i-th position in symbol order (false when out of range). */
bool risk_position_at(const risk_t *self, size_t i, const char **symbol, qt_fixed_t *qty,
                      qt_fixed_t *last_price);

/* State snapshot (format 3): last target and watermark times, cash_est, positions
 * (qty, last price, cost basis), peak and day-start equity, cooldowns, order times, trade
 * statistics, per-symbol last price, stale flag and volatility estimate. risk_load also reads
 * format 2 (cost basis = qty * last price, no history); it refuses format 1 (no cash), a
 * negative cash, and anything malformed, leaving the state unchanged. */
void risk_save(const risk_t *self, qt_buf_t *out);
bool risk_load(risk_t *self, qt_reader_t *r);

const char *risk_side_name(Qt__V1__Side side);   /* "buy" | "sell" */
#endif
