/* qt_stats: performance statistics of a strategy: over a series of per-period returns
 * (Sharpe, Sortino, Calmar, drawdown, ...), over its trades (hit ratio, holding time,
 * profit factor) and over its positions (turnover, exposure).
 *
 * Why: every report, the model registry and the overfitting tests (qt_overfit) need the
 * same numbers computed the same way; the conventions follow empyrical (Quantopian),
 * the de-facto reference, so figures can be compared with the Python ecosystem.
 *
 * Return-series conventions (r[0..n), periods P per year, e.g. 252):
 *  - NaN marks a period without an observation. Moment statistics (mean, std, Sharpe,
 *    Sortino, skew, kurtosis) skip it; compounding (total and annual return, drawdown)
 *    treats it as a flat period (return 0) and the annualisation counts it (empyrical:
 *    num_years = len(returns) / P). Infinite values are refused.
 *  - sharpe = mean / std * sqrt(P), std the sample standard deviation (n - 1).
 *  - sortino = mean * P / (sqrt(mean(min(r, 0)^2)) * sqrt(P)), the downside deviation
 *    averaged over ALL observations (not only the negative ones).
 *  - total_return = prod(1 + r) - 1; annual_return = prod(1 + r)^(P / n) - 1 (n = all
 *    periods); annual_volatility = std * sqrt(P).
 *  - drawdown on wealth W_t = prod_{s<=t}(1 + r_s) with W_{-1} = 1 counted as a peak:
 *    max_drawdown = min_t (W_t / max_{s<=t} W_s - 1) (<= 0). Its duration is the number
 *    of periods from that peak to the first period back at or above it (or to the end
 *    when not recovered: max_dd_recovered = false).
 *  - calmar = annual_return / |max_drawdown| (NaN when there is no drawdown).
 *  - skew, kurtosis: population moments m3 / m2^1.5, m4 / m2^2 (kurtosis NOT excess:
 *    3 for a normal), the inputs PSR/DSR expect.
 * Undefined values (std 0, no downside) follow IEEE: x/0 = +-inf, 0/0 = NaN. */
#ifndef QT_STATS_H
#define QT_STATS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    size_t n_periods;        /* input length, NaN included */
    size_t n_obs;            /* finite returns */
    double mean, std;        /* per period (std: n - 1) */
    double sharpe_per_period;/* mean / std (the sr of qt_overfit) */
    double sharpe, sortino, calmar;
    double total_return, annual_return, annual_volatility;
    double downside_deviation; /* per period, sqrt(mean(min(r, 0)^2)) */
    double max_drawdown;     /* <= 0 */
    size_t max_dd_peak;      /* index of the peak (SIZE_MAX = the initial wealth) */
    size_t max_dd_trough;    /* index of the trough */
    size_t max_dd_duration;  /* periods from the peak to the recovery (or the end) */
    bool max_dd_recovered;
    double skew, kurtosis;
    double hit_ratio;        /* fraction of observations with r > 0 */
} qt_perf_t;

/* Computes every field. periods_per_year > 0. Returns 0, or -1 on bad arguments
 * (NULL, an infinite value, fewer than 2 finite observations). Two passes, O(n). */
int qt_stats_perf(const double *r, size_t n, double periods_per_year, qt_perf_t *out);

/* ---- trades ---- */
typedef struct {
    int64_t entry, exit;     /* any time unit (periods, ms); exit >= entry */
    double pnl;              /* profit of the trade (money or return) */
} qt_trade_t;

typedef struct {
    size_t n_trades, n_wins; /* a win has pnl > 0 */
    double hit_ratio;        /* n_wins / n_trades */
    double avg_holding;      /* mean of exit - entry */
    double gross_profit;     /* sum of pnl > 0 */
    double gross_loss;       /* -sum of pnl < 0 (>= 0) */
    double profit_factor;    /* gross_profit / gross_loss (inf when no loss, NaN if neither) */
    double avg_win, avg_loss;/* mean pnl of wins / of losses (NaN when none) */
} qt_trade_stats_t;

/* 0 ok; -1 on NULL, n == 0, a non-finite pnl or exit < entry. */
int qt_stats_trades(const qt_trade_t *t, size_t n, qt_trade_stats_t *out);

/* Trades of one instrument from its position series: pos[t] is the position held over
 * period t and earns pos[t] * ret[t]. A trade is a maximal run of periods with a nonzero
 * position of the same sign: entry = first period, exit = the period after the last,
 * pnl = sum of pos * ret over the run (ret NaN counts 0). out needs room for (n + 1) / 2
 * trades; *n_out receives the count. 0 / -1 (NULL, non-finite pos). */
int qt_stats_trades_from_positions(const double *pos, const double *ret, size_t n,
                                   qt_trade_t *out, size_t *n_out);

/* ---- positions ---- */
typedef struct {
    double turnover;         /* mean over periods of sum_a |w_t,a - w_{t-1},a|, w_{-1} = 0 */
    double annual_turnover;  /* turnover * P */
    double exposure;         /* fraction of periods with any nonzero weight */
    double gross_exposure;   /* mean of sum_a |w_t,a| */
    double net_exposure;     /* mean of sum_a w_t,a */
} qt_pos_stats_t;

/* w: n_periods x n_assets weights (fraction of capital), row-major. 0 / -1 (NULL,
 * zero sizes, non-finite weight, periods_per_year <= 0). */
int qt_stats_positions(const double *w, size_t n_periods, size_t n_assets,
                       double periods_per_year, qt_pos_stats_t *out);

int qt_stats_selftest(bool verbose);
#endif
