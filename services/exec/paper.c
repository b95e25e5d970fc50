/* paper: see paper.h. */
#include "paper.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qt_envelope.h"
#include "qt_symtab.h"

typedef struct {
    int64_t t;
    qt_fixed_t open;
} paper_bar_t;

typedef struct {
    char symbol[QT_MAX_SYMBOL + 1];
    paper_bar_t *bars;
    size_t n, cap;
} paper_series_t;

struct paper_broker_t {
    qt_symtab_t series;       /* paper_series_t by symbol */
};

void paper_config_defaults(paper_config_t *cfg)
{
    cfg->fee_bps = 10;
    cfg->slippage_bps = 5;
    cfg->initial_cash = 100000LL * QT_FIXED_SCALE;
}

const char *paper_config_check(const paper_config_t *cfg)
{
    if (cfg->fee_bps < 0 || cfg->fee_bps > 1000)
        return "fee_bps must be in [0, 1000]";
    if (cfg->slippage_bps < 0 || cfg->slippage_bps > 1000)
        return "slippage_bps must be in [0, 1000]";
    if (cfg->initial_cash < 0)
        return "initial_cash must be >= 0";
    return NULL;
}

paper_broker_t *paper_broker_new(void)
{
    paper_broker_t *self = calloc(1, sizeof(paper_broker_t));
    if (self)
        QT_SYMTAB_INIT(&self->series, paper_series_t, symbol, 0);
    return self;
}

void paper_broker_destroy(paper_broker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    paper_broker_t *self = *self_p;
    for (size_t i = 0; i < qt_symtab_size(&self->series); i++)
        free(((paper_series_t *)qt_symtab_at(&self->series, i))->bars);
    qt_symtab_free(&self->series);
    free(self);
    *self_p = NULL;
}

/* First bar index with t > after (n when none). */
static size_t bar_upper(const paper_series_t *s, int64_t after)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->bars[mid].t <= after)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int paper_broker_add_bar(paper_broker_t *self, const char *symbol, int64_t open_time_ms,
                         qt_fixed_t open)
{
    if (!self || !symbol || !symbol[0] || strlen(symbol) > QT_MAX_SYMBOL || open <= 0 ||
        open_time_ms < 0)
        return -1;
    void *found = NULL;
    if (qt_symtab_upsert(&self->series, symbol, &found) < 0)
        return -1;
    paper_series_t *s = found;
    /* Common case: append in time order. */
    size_t pos = (s->n && s->bars[s->n - 1].t < open_time_ms) ? s->n
                                                               : bar_upper(s, open_time_ms - 1);
    if (pos < s->n && s->bars[pos].t == open_time_ms)
        return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        paper_bar_t *nb = realloc(s->bars, cap * sizeof(*nb));
        if (!nb)
            return -1;
        s->bars = nb;
        s->cap = cap;
    }
    memmove(&s->bars[pos + 1], &s->bars[pos], (s->n - pos) * sizeof(paper_bar_t));
    s->bars[pos].t = open_time_ms;
    s->bars[pos].open = open;
    s->n++;
    return 1;
}

int paper_broker_next_bar(const paper_broker_t *self, const char *symbol, int64_t after_ms,
                          int64_t *open_time_ms, qt_fixed_t *open)
{
    if (!self || !symbol)
        return 0;
    const paper_series_t *s = qt_symtab_find(&self->series, symbol);
    if (!s)
        return 0;
    size_t k = bar_upper(s, after_ms);
    if (k >= s->n)
        return 0;
    if (open_time_ms)
        *open_time_ms = s->bars[k].t;
    if (open)
        *open = s->bars[k].open;
    return 1;
}

size_t paper_broker_bar_count(const paper_broker_t *self, const char *symbol)
{
    const paper_series_t *s = qt_symtab_find(&self->series, symbol);
    return s ? s->n : 0;
}

size_t paper_broker_symbols(const paper_broker_t *self)
{
    return qt_symtab_size(&self->series);
}

bool paper_fill_calc(const paper_config_t *cfg, Qt__V1__Side side, qt_fixed_t qty,
                     qt_fixed_t open, paper_fill_calc_t *out)
{
    if (!cfg || !out || qty <= 0 || open <= 0)
        return false;
    int64_t mult;
    if (side == QT__V1__SIDE__SIDE_BUY)
        mult = 10000 + cfg->slippage_bps;
    else if (side == QT__V1__SIDE__SIDE_SELL)
        mult = 10000 - cfg->slippage_bps;
    else
        return false;
    paper_fill_calc_t f;
    if (!qt_fixed_mul_bps(open, mult, &f.price) || f.price <= 0)
        return false;
    if (!qt_fixed_mul(f.price, qty, &f.notional))
        return false;
    if (!qt_fixed_mul_bps(f.notional, cfg->fee_bps, &f.fee))
        return false;
    qt_fixed_t signed_notional = side == QT__V1__SIDE__SIDE_BUY ? f.notional : -f.notional;
    f.qty_delta = side == QT__V1__SIDE__SIDE_BUY ? qty : -qty;
    if (!qt_fixed_sub(-signed_notional, f.fee, &f.cash_delta))
        return false;
    *out = f;
    return true;
}

int paper_selftest(bool verbose)
{
    int fails = 0;
    paper_config_t cfg;
    paper_config_defaults(&cfg);
    paper_broker_t *b = paper_broker_new();
    fails += paper_broker_add_bar(b, "BTC_USDT", 200, 2 * QT_FIXED_SCALE) != 1;
    fails += paper_broker_add_bar(b, "BTC_USDT", 100, 1 * QT_FIXED_SCALE) != 1;
    fails += paper_broker_add_bar(b, "BTC_USDT", 100, 7 * QT_FIXED_SCALE) != 0;
    int64_t t = 0;
    qt_fixed_t o = 0;
    fails += paper_broker_next_bar(b, "BTC_USDT", 100, &t, &o) != 1 || t != 200 ||
             o != 2 * QT_FIXED_SCALE;
    fails += paper_broker_next_bar(b, "BTC_USDT", 200, &t, &o) != 0;
    paper_fill_calc_t f;
    fails += !paper_fill_calc(&cfg, QT__V1__SIDE__SIDE_BUY, QT_FIXED_SCALE, 10000 * QT_FIXED_SCALE,
                              &f) ||
             f.price != 10005 * QT_FIXED_SCALE || f.fee != 1000500000LL;
    paper_broker_destroy(&b);
    fails += b != NULL;
    if (verbose)
        fprintf(stderr, "paper selftest: %s\n", fails ? "FAILED" : "ok");
    return fails ? -1 : 0;
}
