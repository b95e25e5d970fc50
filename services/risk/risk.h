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
 *       THROTTLE -> qty scaled by throttle_factor (reason KILL_SWITCH on the decision);
 *       opening a position when max_open_positions are open -> rejected
 *         MAX_OPEN_POSITIONS (value/limit are counts in fixed point);
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
} risk_config_t;

void risk_config_defaults(risk_config_t *cfg);
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

/* State snapshot (format 2): last target and watermark times, cash_est, positions
 * (qty, last price). risk_load refuses other formats (format 1 had no cash), a
 * negative cash, and anything malformed, leaving the state unchanged. */
void risk_save(const risk_t *self, qt_buf_t *out);
bool risk_load(risk_t *self, qt_reader_t *r);

const char *risk_side_name(Qt__V1__Side side);   /* "buy" | "sell" */
#endif
