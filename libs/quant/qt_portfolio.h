/* qt_portfolio: fixed-point portfolio accounting of a sequence of fills (the backtest's
 * books: cash, positions, realised / unrealised PnL, fees, round trips).
 *
 * Why a separate ledger: the paper broker (services/exec) keeps only cash and signed
 * quantities, which is all an exchange account has. A backtest report needs more
 * (realised vs unrealised PnL, fees, the round trips a hit ratio is computed on), and it
 * needs it exact: every amount is qt_fixed_t (int64, 1e-8) with the checked, half-to-even
 * arithmetic of qt_money, so the identity
 *     equity - initial_cash == realised + unrealised - fees
 * holds to the last 1e-8, and cash equals the broker's cash to the last 1e-8 (the same
 * notional = qt_fixed_mul(price, qty) the broker uses). Pure: no I/O, no clock, no globals.
 *
 * Conventions (average cost, the usual one for crypto books):
 *  - cash += -(signed notional) - fee, signed notional = qt_fixed_mul(price, qty_delta);
 *  - basis = sum of the signed notionals of the fills that opened the position (negative
 *    for a short); a fill that increases |position| adds its signed notional;
 *  - a fill that reduces |position| by q removes basis * q / |position| (128-bit, rounded
 *    half to even; a full close removes the whole basis) and realises
 *    -(signed notional of the closing part) - removed basis;
 *  - a fill that flips the position is a full close (closing notional
 *    qt_fixed_mul(price, -position)) followed by an opening of the remainder (the rest of
 *    the fill's notional, so cash stays exact);
 *  - unrealised = qt_fixed_mul(qty, mark) - basis, mark = the last price given to
 *    qt_portfolio_mark (or the last fill price);
 *  - fees are kept apart: realised is before fees.
 * A round trip runs from a fill that opens a position (from 0) to the fill that brings it
 * back to 0 (or flips it); its pnl = realised during the trip - fees during the trip. */
#ifndef QT_PORTFOLIO_H
#define QT_PORTFOLIO_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "qt_money.h"

#define QT_PORTFOLIO_SYMBOL_MAX 32
#define QT_PORTFOLIO_MAX_SYMBOLS 4096

typedef struct qt_portfolio_t qt_portfolio_t;

typedef struct {
    qt_fixed_t notional;       /* signed notional of the fill (+ buy) */
    qt_fixed_t cash_delta;     /* -notional - fee */
    qt_fixed_t realised;       /* realised by this fill (before fees) */
    qt_fixed_t position_after; /* signed */
    qt_fixed_t cash_after;
    bool trip_closed;          /* this fill ended a round trip */
    int64_t trip_entry_ms;     /* its opening fill's time */
    qt_fixed_t trip_pnl;       /* its realised - fees */
} qt_pf_fill_t;

typedef struct {
    qt_fixed_t cash, positions_value, equity;
    qt_fixed_t realised, unrealised, fees;
    size_t open_positions;
} qt_pf_totals_t;

/* NULL on OOM. */
qt_portfolio_t *qt_portfolio_new(qt_fixed_t initial_cash);
void qt_portfolio_destroy(qt_portfolio_t **self_p);

/* Applies one fill: qty_delta != 0 (+ buy, - sell), price > 0, fee >= 0, at time_ms.
 * 0 ok (*out filled when out != NULL); -1 on a bad argument, an invalid symbol
 * (1..32 characters), too many symbols, overflow or OOM: nothing is changed then. */
int qt_portfolio_fill(qt_portfolio_t *self, const char *symbol, qt_fixed_t qty_delta,
                      qt_fixed_t price, qt_fixed_t fee, int64_t time_ms, qt_pf_fill_t *out);
/* Sets the mark price of a symbol (> 0). Unknown symbols are added flat. 0 / -1. */
int qt_portfolio_mark(qt_portfolio_t *self, const char *symbol, qt_fixed_t price);
/* Totals at the current marks. 0 / -1 on overflow. */
int qt_portfolio_totals(const qt_portfolio_t *self, qt_pf_totals_t *out);
qt_fixed_t qt_portfolio_cash(const qt_portfolio_t *self);
qt_fixed_t qt_portfolio_position(const qt_portfolio_t *self, const char *symbol);
/* Symbols ever filled or marked, in symbol order; false when i is out of range. */
size_t qt_portfolio_symbols(const qt_portfolio_t *self);
bool qt_portfolio_at(const qt_portfolio_t *self, size_t i, const char **symbol, qt_fixed_t *qty,
                     qt_fixed_t *basis, qt_fixed_t *mark);

int qt_portfolio_selftest(bool verbose);
#endif
