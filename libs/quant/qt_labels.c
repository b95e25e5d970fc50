/* qt_labels: fixed-horizon, volatility-adjusted and triple-barrier labels.
 * See qt_labels.h for the definitions; docs/quant/statistics.md for sources and tests.
 * Everything is index-based and looks only at data the definition allows: the
 * volatility target at bar i uses returns up to bar i, a label at t0 uses bars after t0
 * up to its barrier. */
#include "qt_labels.h"

#include <math.h>
#include <stdio.h>

static bool good_price(double p) { return isfinite(p) && p > 0.0; }

int qt_label_fwd_return(const double *close, size_t n, size_t horizon, double *out) {
    if (!close || !out || horizon == 0) return -1;
    for (size_t i = 0; i < n; i++) {
        if (i + horizon < n && good_price(close[i]) && good_price(close[i + horizon]))
            out[i] = close[i + horizon] / close[i] - 1.0;
        else
            out[i] = NAN;
    }
    return 0;
}

/* Two-pass sample standard deviation per window: exact, no sliding-sum drift. The
 * one-bar returns are computed once into out[] and the windows are then evaluated from
 * the last bar backwards, so out[i] can receive the volatility of bar i while
 * out[0..i-1] still hold the returns the earlier windows need: O(n * window) additions,
 * n divisions, no allocation. A bad price makes its returns NaN, and NaN propagates
 * through every window that contains one. */
int qt_label_rolling_vol(const double *close, size_t n, size_t window, double *out) {
    if (!close || !out || window < 2) return -1;
    for (size_t j = 0; j < n; j++)
        out[j] = (j > 0 && good_price(close[j]) && good_price(close[j - 1]))
                     ? close[j] / close[j - 1] - 1.0
                     : NAN;
    for (size_t i = n; i-- > 0;) {
        if (i < window) {
            out[i] = NAN;
            continue;
        }
        double mean = 0.0;
        for (size_t j = i + 1 - window; j <= i; j++) mean += out[j];
        mean /= (double)window;
        double ss = 0.0;
        for (size_t j = i + 1 - window; j <= i; j++) {
            double d = out[j] - mean;
            ss += d * d;
        }
        out[i] = sqrt(ss / (double)(window - 1)); /* NaN when a return was NaN */
    }
    return 0;
}

int qt_label_vol_adjusted(const double *close, const double *vol, size_t n,
                          size_t horizon, double *out) {
    if (!vol || qt_label_fwd_return(close, n, horizon, out) != 0) return -1;
    double sh = sqrt((double)horizon);
    for (size_t i = 0; i < n; i++) {
        if (isnan(out[i]) || !isfinite(vol[i]) || vol[i] <= 0.0)
            out[i] = NAN;
        else
            out[i] = out[i] / (vol[i] * sh);
    }
    return 0;
}

const char *qt_tb_barrier_str(int barrier) {
    switch (barrier) {
    case QT_TB_PROFIT: return "profit";
    case QT_TB_STOP: return "stop";
    case QT_TB_VERTICAL: return "vertical";
    default: return "?";
    }
}

/* One event. Returns true when the event is kept (fills *ev). */
static bool tb_event(const double *close, const double *high, const double *low, size_t n,
                     size_t t0, double trgt, int s, const qt_tb_params_t *p,
                     qt_tb_event_t *ev) {
    double c0 = close[t0];
    if (!good_price(c0)) return false;
    double up = p->pt_mult > 0.0 ? p->pt_mult * trgt : INFINITY;
    double dn = p->sl_mult > 0.0 ? -p->sl_mult * trgt : -INFINITY;
    size_t last = t0 + p->horizon; /* vertical barrier */
    size_t end = last < n ? last : n - 1;
    for (size_t j = t0 + 1; j <= end; j++) {
        bool hit_up, hit_dn;
        double r = 0.0;
        if (high) {
            double fav = s > 0 ? high[j] : low[j];
            double adv = s > 0 ? low[j] : high[j];
            if (!good_price(fav) || !good_price(adv)) return false;
            double rf = s * (fav / c0 - 1.0), ra = s * (adv / c0 - 1.0);
            hit_up = rf >= up;
            hit_dn = ra <= dn;
        } else {
            if (!good_price(close[j])) return false;
            r = s * (close[j] / c0 - 1.0);
            hit_up = r >= up;
            hit_dn = r <= dn;
        }
        if (hit_up || hit_dn) {
            ev->t1 = j;
            if (hit_dn) { /* both in one bar: the stop (conservative) */
                ev->barrier = QT_TB_STOP;
                ev->ret = high ? dn : r;
            } else {
                ev->barrier = QT_TB_PROFIT;
                ev->ret = high ? up : r;
            }
            goto done;
        }
    }
    if (last >= n) return false; /* outcome unknown: the data ends first */
    if (!good_price(close[last])) return false;
    ev->t1 = last;
    ev->barrier = QT_TB_VERTICAL;
    ev->ret = s * (close[last] / c0 - 1.0);
done:
    ev->t0 = t0;
    ev->trgt = trgt;
    ev->side = (int8_t)s;
    return true;
}

int qt_label_triple_barrier(const double *close, const double *high, const double *low,
                            size_t n, const double *trgt, const int8_t *side,
                            const size_t *t0s, size_t n_t0, const qt_tb_params_t *p,
                            qt_tb_event_t *out, size_t *n_out) {
    if (!close || !trgt || !out || !n_out || !p || p->horizon == 0) return -1;
    if (n_out) *n_out = 0;
    if ((high == NULL) != (low == NULL)) return -1;
    if (!isfinite(p->pt_mult) || !isfinite(p->sl_mult) || p->pt_mult < 0.0 ||
        p->sl_mult < 0.0 || !isfinite(p->min_target) || p->min_target < 0.0)
        return -1;
    size_t m = t0s ? n_t0 : n;
    if (t0s)
        for (size_t e = 0; e < m; e++)
            if (t0s[e] >= n || (e > 0 && t0s[e] <= t0s[e - 1])) return -1;
    size_t kept = 0;
    for (size_t e = 0; e < m; e++) {
        size_t t0 = t0s ? t0s[e] : e;
        double tg = trgt[t0];
        if (!isfinite(tg) || tg <= 0.0 || tg < p->min_target) continue;
        int s = 1;
        if (side) {
            if (side[t0] == 0) continue;
            s = side[t0] > 0 ? 1 : -1;
        }
        qt_tb_event_t ev;
        if (!tb_event(close, high, low, n, t0, tg, s, p, &ev)) continue;
        int lab;
        if (ev.barrier == QT_TB_PROFIT) lab = 1;
        else if (ev.barrier == QT_TB_STOP) lab = -1;
        else lab = p->vertical_sign ? (ev.ret > 0.0) - (ev.ret < 0.0) : 0;
        if (side) lab = lab > 0 ? 1 : 0;
        ev.label = (int8_t)lab;
        out[kept++] = ev;
    }
    *n_out = kept;
    return 0;
}

/* Hand-checked path: close 100, 101, 103, 99, 98 with trgt 0.01, pt=2, sl=1, horizon 3:
 * returns from t0=0 are +1%, +3% -> the profit barrier (+2%) is touched at bar 2. */
int qt_labels_selftest(bool verbose) {
    int fails = 0;
    const double c[] = {100, 101, 103, 99, 98};
    const double tg[] = {0.01, 0.01, 0.01, 0.01, 0.01};
    qt_tb_params_t p = {.pt_mult = 2, .sl_mult = 1, .horizon = 3, .vertical_sign = true};
    qt_tb_event_t ev[5];
    size_t k = 0;
    if (qt_label_triple_barrier(c, NULL, NULL, 5, tg, NULL, NULL, 0, &p, ev, &k) != 0) fails++;
    /* t0=0 profit at 2; t0=1: +1.98% at 2 (< 2%), then -1.98% at 3 -> stop at 3;
     * t0=2: -3.9% at 3 -> stop; t0=3, 4: vertical past the end, no touch / dropped. */
    if (k != 4 || ev[3].t1 != 4 || ev[3].label != -1 || ev[0].t1 != 2 || ev[0].label != 1 || ev[1].t1 != 3 || ev[1].label != -1 ||
        ev[2].t1 != 3 || ev[2].label != -1)
        fails++;
    double fr[5];
    if (qt_label_fwd_return(c, 5, 2, fr) != 0 || fabs(fr[0] - 0.03) > 1e-12 || !isnan(fr[3]))
        fails++;
    if (verbose) printf("qt_labels selftest: %zu events, %d failures\n", k, fails);
    return fails;
}
