/* paper: the paper broker's market model (pure: no I/O, no clock, no globals).
 *
 * Why: paper trading must be honest about time. An intent decided on the bar that
 * opened at t (and closed at t + interval) cannot trade at that bar's prices; the
 * first price it can get is the open of the next bar of the same symbol. The broker
 * therefore keeps, per symbol, the sorted history of (open_time, open) of every bar
 * seen, and an intent for bar time t fills at the open of the first bar with
 * open_time > t, or waits until such a bar is seen.
 *
 * Prices: buys pay open * (1 + slippage_bps / 1e4), sells get open * (1 - ...),
 * computed with qt_fixed_mul_bps (int64 fixed point, half to even). Notional =
 * price * qty (qt_fixed_mul); fee = notional * fee_bps / 1e4 (qt_fixed_mul_bps).
 * Cash moves by -(signed notional) - fee, where signed notional is + for buys. */
#ifndef PAPER_H
#define PAPER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "qt_money.h"
#include "qt/v1/trading.pb-c.h"

typedef struct {
    int64_t fee_bps;          /* 0..1000, default 10 */
    int64_t slippage_bps;     /* 0..1000, default 5 */
    qt_fixed_t initial_cash;  /* default 100000 */
} paper_config_t;

void paper_config_defaults(paper_config_t *cfg);
/* NULL when valid, else a static message naming the bad field. */
const char *paper_config_check(const paper_config_t *cfg);

typedef struct paper_broker_t paper_broker_t;

paper_broker_t *paper_broker_new(void);
void paper_broker_destroy(paper_broker_t **self_p);

/* Record a bar. 1 added, 0 already known (same symbol and open time: the first one
 * wins, replays are harmless), -1 bad arguments or out of memory. Bars may arrive
 * in any order; the history stays sorted. */
int paper_broker_add_bar(paper_broker_t *self, const char *symbol, int64_t open_time_ms,
                         qt_fixed_t open);
/* The first bar of symbol with open_time > after_ms: 1 found (*open_time_ms, *open),
 * 0 not seen (yet). */
int paper_broker_next_bar(const paper_broker_t *self, const char *symbol, int64_t after_ms,
                          int64_t *open_time_ms, qt_fixed_t *open);
size_t paper_broker_bar_count(const paper_broker_t *self, const char *symbol);
size_t paper_broker_symbols(const paper_broker_t *self);

typedef struct {
    qt_fixed_t price;         /* fill price including slippage */
    qt_fixed_t notional;      /* price * qty, >= 0 */
    qt_fixed_t fee;           /* notional * fee_bps / 1e4, >= 0 */
    qt_fixed_t qty_delta;     /* +qty for buys, -qty for sells */
    qt_fixed_t cash_delta;    /* -(signed notional) - fee */
} paper_fill_calc_t;

/* Fill arithmetic for qty (> 0) at bar open `open` (> 0). false on a bad side,
 * non-positive inputs or overflow. */
bool paper_fill_calc(const paper_config_t *cfg, Qt__V1__Side side, qt_fixed_t qty,
                     qt_fixed_t open, paper_fill_calc_t *out);

int paper_selftest(bool verbose);
#endif
