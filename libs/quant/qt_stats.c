/* qt_stats: performance statistics (definitions in qt_stats.h; sources and tests in
 * docs/quant/statistics.md).
 *
 * Wealth is compounded in log space, chunk by chunk, when every return is > -1: a
 * product of a million factors would overflow or underflow where the log does not. A
 * return <= -1 (wealth wiped out or negative) falls back to the direct product, where
 * the log is undefined. */
#include "qt_stats.h"

#include <math.h>
#include <stdio.h>

int qt_stats_perf(const double *r, size_t n, double periods_per_year, qt_perf_t *out) {
    if (!r || !out || !(periods_per_year > 0.0) || !isfinite(periods_per_year)) return -1;
    size_t k = 0;
    double sum = 0.0;
    bool logok = true;
    for (size_t i = 0; i < n; i++) {
        if (isnan(r[i])) continue;
        if (!isfinite(r[i])) return -1;
        if (r[i] <= -1.0) logok = false;
        sum += r[i];
        k++;
    }
    if (k < 2) return -1;
    double P = periods_per_year, mean = sum / (double)k;
    double m2 = 0.0, m3 = 0.0, m4 = 0.0, down = 0.0;
    size_t wins = 0;
    for (size_t i = 0; i < n; i++) {
        double x = r[i];
        if (isnan(x)) continue;
        double d = x - mean, d2 = d * d;
        m2 += d2;
        m3 += d2 * d;
        m4 += d2 * d2;
        if (x < 0.0) down += x * x;
        if (x > 0.0) wins++;
    }
    out->n_periods = n;
    out->n_obs = k;
    out->mean = mean;
    out->std = sqrt(m2 / (double)(k - 1));
    out->sharpe_per_period = mean / out->std;
    out->sharpe = out->sharpe_per_period * sqrt(P);
    out->annual_volatility = out->std * sqrt(P);
    out->downside_deviation = sqrt(down / (double)k);
    out->sortino = mean * P / (out->downside_deviation * sqrt(P));
    double pm2 = m2 / (double)k;
    out->skew = (m3 / (double)k) / pow(pm2, 1.5);
    out->kurtosis = (m4 / (double)k) / (pm2 * pm2);
    out->hit_ratio = (double)wins / (double)k;

    /* Wealth and drawdown in one pass; index -1 (the initial wealth 1) is the first peak.
     * Log path: wealth = exp(lbase) * rel, rel the product of at most CHUNK growth factors
     * since the chunk start and lbase the log wealth at that start: one log per chunk
     * instead of a log1p per period (rel stays within a few ulp of the direct product).
     * The peak is carried as a log (lpeak) and brought to the chunk's scale once per
     * chunk (prel = exp(lpeak - lbase) >= 1). Product path: rel is the wealth itself.
     * The recovery of the deepest drawdown is the first later peak update while the peak
     * is still the one that drawdown started from. */
    enum { CHUNK = 32 };
    double lbase = 0.0, lpeak = 0.0, rel = 1.0, prel = 1.0, mdd_ratio = 1.0;
    bool peak_in_chunk = false;
    size_t peak_i = SIZE_MAX, mdd_peak = SIZE_MAX, mdd_trough = SIZE_MAX, rec = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        double x = isnan(r[i]) ? 0.0 : r[i];
        rel *= 1.0 + x;
        if (rel >= prel) {
            if (mdd_trough != SIZE_MAX && rec == SIZE_MAX && peak_i == mdd_peak) rec = i;
            prel = rel;
            peak_i = i;
            peak_in_chunk = true;
        } else if (rel < mdd_ratio * prel) { /* a candidate: divide only then */
            double ratio = rel / prel;
            if (ratio < mdd_ratio) {
                mdd_ratio = ratio;
                mdd_peak = peak_i;
                mdd_trough = i;
                rec = SIZE_MAX;
            }
        }
        if (logok && (i + 1) % CHUNK == 0) {
            double lnew = lbase + log(rel);
            if (peak_in_chunk) lpeak = lbase + log(prel);
            lbase = lnew;
            rel = 1.0;
            prel = exp(lpeak - lbase);
            peak_in_chunk = false;
        }
    }
    if (logok) {
        double lw = lbase + log(rel); /* log of the final wealth */
        out->total_return = expm1(lw);
        out->annual_return = expm1(lw * P / (double)n);
    } else {
        out->total_return = rel - 1.0;
        out->annual_return = (rel >= 0.0 ? pow(rel, P / (double)n) : NAN) - 1.0;
    }
    double mdd = mdd_ratio < 1.0 ? mdd_ratio - 1.0 : 0.0;
    out->max_drawdown = mdd;
    out->max_dd_peak = mdd_peak;
    out->max_dd_trough = mdd_trough;
    out->max_dd_recovered = false;
    out->max_dd_duration = 0;
    if (mdd < 0.0) {
        size_t end = rec == SIZE_MAX ? n - 1 : rec;
        out->max_dd_recovered = rec != SIZE_MAX;
        /* peak index SIZE_MAX stands for -1 (the initial wealth) */
        out->max_dd_duration = mdd_peak == SIZE_MAX ? end + 1 : end - mdd_peak;
        out->calmar = out->annual_return / -mdd;
    } else {
        out->calmar = NAN;
    }
    return 0;
}

int qt_stats_trades(const qt_trade_t *t, size_t n, qt_trade_stats_t *out) {
    if (!t || !out || n == 0) return -1;
    size_t wins = 0, losses = 0;
    double gp = 0.0, gl = 0.0, hold = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(t[i].pnl) || t[i].exit < t[i].entry) return -1;
        hold += (double)t[i].exit - (double)t[i].entry;
        if (t[i].pnl > 0.0) {
            wins++;
            gp += t[i].pnl;
        } else if (t[i].pnl < 0.0) {
            losses++;
            gl -= t[i].pnl;
        }
    }
    out->n_trades = n;
    out->n_wins = wins;
    out->hit_ratio = (double)wins / (double)n;
    out->avg_holding = hold / (double)n;
    out->gross_profit = gp;
    out->gross_loss = gl;
    out->profit_factor = gl > 0.0 ? gp / gl : (gp > 0.0 ? INFINITY : NAN);
    out->avg_win = wins ? gp / (double)wins : NAN;
    out->avg_loss = losses ? -gl / (double)losses : NAN;
    return 0;
}

int qt_stats_trades_from_positions(const double *pos, const double *ret, size_t n,
                                   qt_trade_t *out, size_t *n_out) {
    if (!pos || !ret || !out || !n_out) return -1;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(pos[i])) return -1;
    size_t k = 0, i = 0;
    while (i < n) {
        if (pos[i] == 0.0) {
            i++;
            continue;
        }
        bool longp = pos[i] > 0.0;
        size_t b = i;
        double pnl = 0.0;
        while (i < n && pos[i] != 0.0 && (pos[i] > 0.0) == longp) {
            if (!isnan(ret[i])) pnl += pos[i] * ret[i];
            i++;
        }
        out[k++] = (qt_trade_t){(int64_t)b, (int64_t)i, pnl};
    }
    *n_out = k;
    return 0;
}

int qt_stats_positions(const double *w, size_t n_periods, size_t n_assets,
                       double periods_per_year, qt_pos_stats_t *out) {
    if (!w || !out || n_periods == 0 || n_assets == 0 || !(periods_per_year > 0.0))
        return -1;
    double turn = 0.0, gross = 0.0, net = 0.0;
    size_t active = 0;
    for (size_t t = 0; t < n_periods; t++) {
        bool any = false;
        for (size_t a = 0; a < n_assets; a++) {
            double x = w[t * n_assets + a];
            if (!isfinite(x)) return -1;
            double prev = t ? w[(t - 1) * n_assets + a] : 0.0;
            turn += fabs(x - prev);
            gross += fabs(x);
            net += x;
            if (x != 0.0) any = true;
        }
        if (any) active++;
    }
    double T = (double)n_periods;
    out->turnover = turn / T;
    out->annual_turnover = out->turnover * periods_per_year;
    out->exposure = (double)active / T;
    out->gross_exposure = gross / T;
    out->net_exposure = net / T;
    return 0;
}

/* The issue-4 check series (empyrical conventions): see tests/unit/test_stats.c. */
int qt_stats_selftest(bool verbose) {
    int fails = 0;
    const double r[] = {NAN, .01, .10, -.04, .02, .03, .02, .01, -.10};
    qt_perf_t p;
    if (qt_stats_perf(r, 9, 252, &p) != 0) return 1;
    if (fabs(p.sharpe - 1.7238613961706866) > 1e-12) fails++;
    if (fabs(p.sortino - 2.605531251673693) > 1e-12) fails++;
    if (fabs(p.max_drawdown + 0.1) > 1e-12) fails++;
    if (fabs(p.annual_return - 1.9135925373194231) > 1e-12) fails++;
    if (verbose) printf("qt_stats selftest: %d failures\n", fails);
    return fails;
}
