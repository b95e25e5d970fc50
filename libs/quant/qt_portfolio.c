/* qt_portfolio: average-cost fixed-point books. See qt_portfolio.h for the conventions
 * and why the identity equity - initial == realised + unrealised - fees is exact. */
#include "qt_portfolio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char symbol[QT_PORTFOLIO_SYMBOL_MAX + 1];
    qt_fixed_t qty, basis, mark;
    qt_fixed_t trip_realised, trip_fees;
    int64_t trip_entry_ms;
} pf_pos_t;

struct qt_portfolio_t {
    qt_fixed_t cash, realised, fees;
    pf_pos_t *pos;          /* sorted by symbol */
    size_t n, cap;
};

qt_portfolio_t *qt_portfolio_new(qt_fixed_t initial_cash) {
    qt_portfolio_t *self = calloc(1, sizeof *self);
    if (self) self->cash = initial_cash;
    return self;
}

void qt_portfolio_destroy(qt_portfolio_t **self_p) {
    if (!self_p || !*self_p) return;
    free((*self_p)->pos);
    free(*self_p);
    *self_p = NULL;
}

static bool symbol_ok(const char *s) {
    if (!s) return false;
    size_t len = strlen(s);
    return len >= 1 && len <= QT_PORTFOLIO_SYMBOL_MAX;
}

/* Index of symbol, or -(insertion point) - 1. */
static long find(const qt_portfolio_t *self, const char *symbol) {
    size_t lo = 0, hi = self->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(self->pos[mid].symbol, symbol);
        if (c == 0) return (long)mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -(long)lo - 1;
}

/* The slot of symbol, created flat when absent; NULL on OOM / table full. */
static pf_pos_t *slot(qt_portfolio_t *self, const char *symbol) {
    long i = find(self, symbol);
    if (i >= 0) return &self->pos[i];
    size_t at = (size_t)(-i - 1);
    if (self->n >= QT_PORTFOLIO_MAX_SYMBOLS) return NULL;
    if (self->n == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 16;
        pf_pos_t *p = realloc(self->pos, cap * sizeof *p);
        if (!p) return NULL;
        self->pos = p;
        self->cap = cap;
    }
    memmove(&self->pos[at + 1], &self->pos[at], (self->n - at) * sizeof *self->pos);
    memset(&self->pos[at], 0, sizeof *self->pos);
    snprintf(self->pos[at].symbol, sizeof self->pos[at].symbol, "%s", symbol);
    self->n++;
    return &self->pos[at];
}

/* round_half_even(a * b / c), c > 0; false when the result does not fit in int64. */
static bool muldiv(qt_fixed_t a, qt_fixed_t b, qt_fixed_t c, qt_fixed_t *out) {
    __int128 num = (__int128)a * b;
    __int128 q = num / c, r = num % c;
    __int128 ar = r < 0 ? -r : r;
    if (2 * ar > c || (2 * ar == c && (q & 1))) q += num < 0 ? -1 : 1;
    if (q > INT64_MAX || q < INT64_MIN) return false;
    *out = (qt_fixed_t)q;
    return true;
}

static qt_fixed_t absq(qt_fixed_t v) { return v < 0 ? -v : v; }

int qt_portfolio_fill(qt_portfolio_t *self, const char *symbol, qt_fixed_t qty_delta,
                      qt_fixed_t price, qt_fixed_t fee, int64_t time_ms, qt_pf_fill_t *out) {
    if (!self || !symbol_ok(symbol) || qty_delta == 0 || qty_delta == INT64_MIN || price <= 0 ||
        fee < 0)
        return -1;
    long idx = find(self, symbol);
    pf_pos_t cur;   /* work on a copy: nothing changes unless every step succeeds */
    if (idx >= 0) cur = self->pos[idx];
    else {
        memset(&cur, 0, sizeof cur);
        snprintf(cur.symbol, sizeof cur.symbol, "%s", symbol);
    }
    qt_fixed_t notional, cash, fees, qty_after, realised = 0;
    if (!qt_fixed_mul(price, qty_delta, &notional) || !qt_fixed_sub(self->cash, notional, &cash) ||
        !qt_fixed_sub(cash, fee, &cash) || !qt_fixed_add(self->fees, fee, &fees) ||
        !qt_fixed_add(cur.qty, qty_delta, &qty_after) || notional == INT64_MIN)
        return -1;
    bool opening = cur.qty == 0;
    bool reduces = cur.qty != 0 && ((cur.qty > 0) != (qty_delta > 0));
    bool trip_closed = false;
    int64_t trip_entry = cur.trip_entry_ms;
    qt_fixed_t trip_pnl = 0;
    if (!qt_fixed_add(cur.trip_fees, fee, &cur.trip_fees)) return -1;
    if (!reduces) {
        if (!qt_fixed_add(cur.basis, notional, &cur.basis)) return -1;
        if (opening) {
            cur.trip_entry_ms = time_ms;
            cur.trip_realised = 0;
            cur.trip_fees = fee;
            trip_entry = time_ms;
        }
    } else {
        qt_fixed_t closing = absq(qty_delta) <= absq(cur.qty) ? qty_delta : -cur.qty;
        qt_fixed_t close_notional, removed;
        if (closing == qty_delta) close_notional = notional;
        else if (!qt_fixed_mul(price, closing, &close_notional)) return -1;
        if (close_notional == INT64_MIN) return -1;
        if (closing == -cur.qty) removed = cur.basis;
        else if (!muldiv(cur.basis, absq(closing), absq(cur.qty), &removed)) return -1;
        /* realised = -(closing notional) - removed basis */
        if (!qt_fixed_sub(-close_notional, removed, &realised) ||
            !qt_fixed_sub(cur.basis, removed, &cur.basis) ||
            !qt_fixed_add(cur.trip_realised, realised, &cur.trip_realised))
            return -1;
        if (closing == -cur.qty) {
            /* The trip ends here (the fee of a flipping fill is charged to it). */
            trip_closed = true;
            if (!qt_fixed_sub(cur.trip_realised, cur.trip_fees, &trip_pnl)) return -1;
            cur.trip_realised = 0;
            cur.trip_fees = 0;
            if (closing != qty_delta) {
                /* Flip: the remainder opens a new position with the rest of the notional. */
                qt_fixed_t open_notional;
                if (!qt_fixed_sub(notional, close_notional, &open_notional)) return -1;
                cur.basis = open_notional;
                cur.trip_entry_ms = time_ms;
            }
        }
    }
    qt_fixed_t total_realised;
    if (!qt_fixed_add(self->realised, realised, &total_realised)) return -1;
    cur.qty = qty_after;
    cur.mark = price;
    pf_pos_t *p = slot(self, symbol);
    if (!p) return -1;
    *p = cur;
    self->cash = cash;
    self->fees = fees;
    self->realised = total_realised;
    if (out) {
        out->notional = notional;
        out->cash_delta = -notional - fee;   /* cannot overflow: cash changed by it */
        out->realised = realised;
        out->position_after = qty_after;
        out->cash_after = cash;
        out->trip_closed = trip_closed;
        out->trip_entry_ms = trip_entry;
        out->trip_pnl = trip_pnl;
    }
    return 0;
}

int qt_portfolio_mark(qt_portfolio_t *self, const char *symbol, qt_fixed_t price) {
    if (!self || !symbol_ok(symbol) || price <= 0) return -1;
    pf_pos_t *p = slot(self, symbol);
    if (!p) return -1;
    p->mark = price;
    return 0;
}

int qt_portfolio_totals(const qt_portfolio_t *self, qt_pf_totals_t *out) {
    if (!self || !out) return -1;
    qt_pf_totals_t t = {.cash = self->cash, .realised = self->realised, .fees = self->fees};
    for (size_t i = 0; i < self->n; i++) {
        const pf_pos_t *p = &self->pos[i];
        if (p->qty == 0) continue;
        qt_fixed_t v, u;
        if (!qt_fixed_mul(p->qty, p->mark, &v) || !qt_fixed_sub(v, p->basis, &u) ||
            !qt_fixed_add(t.positions_value, v, &t.positions_value) ||
            !qt_fixed_add(t.unrealised, u, &t.unrealised))
            return -1;
        t.open_positions++;
    }
    if (!qt_fixed_add(t.cash, t.positions_value, &t.equity)) return -1;
    *out = t;
    return 0;
}

qt_fixed_t qt_portfolio_cash(const qt_portfolio_t *self) { return self ? self->cash : 0; }

qt_fixed_t qt_portfolio_position(const qt_portfolio_t *self, const char *symbol) {
    if (!self || !symbol) return 0;
    long i = find(self, symbol);
    return i >= 0 ? self->pos[i].qty : 0;
}

size_t qt_portfolio_symbols(const qt_portfolio_t *self) { return self ? self->n : 0; }

bool qt_portfolio_at(const qt_portfolio_t *self, size_t i, const char **symbol, qt_fixed_t *qty,
                     qt_fixed_t *basis, qt_fixed_t *mark) {
    if (!self || i >= self->n) return false;
    if (symbol) *symbol = self->pos[i].symbol;
    if (qty) *qty = self->pos[i].qty;
    if (basis) *basis = self->pos[i].basis;
    if (mark) *mark = self->pos[i].mark;
    return true;
}

/* ---- self-test: a hand-worked sequence (numbers in the comments) ---- */
#define F(x) ((qt_fixed_t)((x) * QT_FIXED_SCALE))
static int check(bool ok, const char *what, bool verbose) {
    if (!ok && verbose) fprintf(stderr, "qt_portfolio selftest: %s failed\n", what);
    return ok ? 0 : 1;
}

int qt_portfolio_selftest(bool verbose) {
    int fails = 0;
    qt_portfolio_t *p = qt_portfolio_new(F(1000));
    if (!p) return 1;
    qt_pf_fill_t f;
    /* buy 2 @ 100, fee 1: cash 1000 - 200 - 1 = 799, basis 200 */
    fails += check(qt_portfolio_fill(p, "X", F(2), F(100), F(1), 10, &f) == 0 &&
                       f.cash_after == F(799) && f.realised == 0 && !f.trip_closed,
                   "open", verbose);
    /* sell 1 @ 130, fee 0.5: realised 130 - 100 = 30, cash 799 + 130 - 0.5 = 928.5 */
    fails += check(qt_portfolio_fill(p, "X", -F(1), F(130), F(0.5), 20, &f) == 0 &&
                       f.realised == F(30) && f.cash_after == F(928.5) && !f.trip_closed,
                   "partial close", verbose);
    /* mark 120: unrealised 120 - 100 = 20; equity 928.5 + 120 = 1048.5
     * = 1000 + 30 + 20 - 1.5 */
    qt_portfolio_mark(p, "X", F(120));
    qt_pf_totals_t t;
    fails += check(qt_portfolio_totals(p, &t) == 0 && t.unrealised == F(20) &&
                       t.equity == F(1048.5) && t.fees == F(1.5) && t.realised == F(30),
                   "totals", verbose);
    /* sell 3 @ 90, fee 0: closes 1 (realised 90 - 100 = -10), opens -2 at basis -180;
     * trip pnl = 30 - 10 - 1.5 = 18.5 */
    fails += check(qt_portfolio_fill(p, "X", -F(3), F(90), 0, 30, &f) == 0 &&
                       f.realised == -F(10) && f.trip_closed && f.trip_pnl == F(18.5) &&
                       f.trip_entry_ms == 10 && f.position_after == -F(2),
                   "flip", verbose);
    /* buy back 2 @ 80: realised -160 + 180 = 20, trip from 30 */
    fails += check(qt_portfolio_fill(p, "X", F(2), F(80), 0, 40, &f) == 0 &&
                       f.realised == F(20) && f.trip_closed && f.trip_pnl == F(20) &&
                       f.trip_entry_ms == 30 && f.position_after == 0,
                   "short close", verbose);
    fails += check(qt_portfolio_totals(p, &t) == 0 && t.realised == F(40) && t.unrealised == 0 &&
                       t.equity == F(1000) + t.realised - t.fees,
                   "identity", verbose);
    fails += check(qt_portfolio_fill(p, "", F(1), F(1), 0, 0, NULL) == -1 &&
                       qt_portfolio_fill(p, "X", 0, F(1), 0, 0, NULL) == -1 &&
                       qt_portfolio_fill(p, "X", F(1), 0, 0, 0, NULL) == -1 &&
                       qt_portfolio_fill(p, "X", F(1), F(1), -1, 0, NULL) == -1,
                   "bad arguments", verbose);
    qt_portfolio_destroy(&p);
    fails += check(p == NULL, "destroy nulls", verbose);
    return fails;
}
