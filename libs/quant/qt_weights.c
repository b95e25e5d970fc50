/* qt_weights: long-only capped weights for the selected assets (methods and sources in
 * qt_weights.h). Everything is deterministic: fixed iteration orders, bisection with a
 * fixed number of steps, no randomness. */
#include "qt_weights.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_err(char *err, size_t len, const char *fmt, ...) {
    if (err == NULL || len == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

void qt_weights_opts_default(qt_weights_opts_t *o) {
    memset(o, 0, sizeof(*o));
    o->method = QT_WEIGHTS_MEANVAR;
    o->q = 0.5;
    o->gross = 1.0;
    o->cap = 1.0;
    o->max_iter = 10000;
    o->tol = 1e-12;
}

/* Euclidean projection onto {sum w = gross, 0 <= w <= cap}: w_i = clip(v_i - tau, 0,
 * cap_i) with sum(tau) decreasing in tau; bisection (200 halvings reach the double
 * resolution of any bracket), then the residual is spread over the free coordinates. */
int qt_weights_project(size_t m, const double *v, const double *cap, double gross, double *w) {
    double csum = 0, vmin = INFINITY, vmax = -INFINITY, cmax = 0;
    for (size_t i = 0; i < m; i++) {
        csum += cap[i];
        if (v[i] < vmin) vmin = v[i];
        if (v[i] > vmax) vmax = v[i];
        if (cap[i] > cmax) cmax = cap[i];
    }
    if (m == 0 || csum < gross * (1.0 - 1e-12)) return -1;
    /* At tau = vmax the sum is 0 <= gross; at tau = vmin - cmax every w_i = cap_i. */
    double lo = vmin - cmax, hi = vmax;
    for (int it = 0; it < 200; it++) {
        double mid = 0.5 * (lo + hi), s = 0;
        for (size_t i = 0; i < m; i++) {
            double x = v[i] - mid;
            s += x < 0 ? 0 : (x > cap[i] ? cap[i] : x);
        }
        if (s > gross) lo = mid;
        else hi = mid;
        if (hi - lo <= 0) break;
    }
    double tau = 0.5 * (lo + hi), s = 0;
    size_t nfree = 0;
    for (size_t i = 0; i < m; i++) {
        double x = v[i] - tau;
        w[i] = x < 0 ? 0 : (x > cap[i] ? cap[i] : x);
        s += w[i];
        if (w[i] > 0 && w[i] < cap[i]) nfree++;
    }
    /* Exact sum: move the rounding residual onto the free coordinates (or scale when
     * every coordinate is at a bound, which only happens with sum(cap) == gross). */
    double res = gross - s;
    if (nfree > 0) {
        for (size_t i = 0; i < m; i++)
            if (w[i] > 0 && w[i] < cap[i]) {
                double x = w[i] + res / (double)nfree;
                w[i] = x < 0 ? 0 : (x > cap[i] ? cap[i] : x);
            }
    } else if (s > 0) {
        for (size_t i = 0; i < m; i++) w[i] *= gross / s;
    }
    return 0;
}

/* Caps by water-filling: w = base scaled to gross; assets above cap are fixed at cap and
 * the rest of gross is shared in proportion to base among the others; repeat. */
static int waterfill(size_t m, const double *base, const double *cap, double gross, double *w) {
    uint8_t *fixed = calloc(m, 1);
    if (fixed == NULL) return -1;
    for (size_t round = 0; round <= m; round++) {
        double rem = gross, bsum = 0;
        for (size_t i = 0; i < m; i++) {
            if (fixed[i]) rem -= cap[i];
            else bsum += base[i];
        }
        bool changed = false;
        for (size_t i = 0; i < m; i++) {
            if (fixed[i]) {
                w[i] = cap[i];
                continue;
            }
            w[i] = bsum > 0 ? rem * base[i] / bsum : 0;
        }
        for (size_t i = 0; i < m; i++)
            if (!fixed[i] && w[i] > cap[i]) {
                fixed[i] = 1;
                changed = true;
            }
        if (!changed) break;
    }
    free(fixed);
    return 0;
}

static int check_inputs(size_t m, const double *mu, const double *sigma, const qt_weights_opts_t *o,
                        bool need_var, char *err, size_t errlen) {
    if (m == 0 || sigma == NULL) {
        set_err(err, errlen, "weights: no assets");
        return -1;
    }
    if (o->method == QT_WEIGHTS_MEANVAR) {
        if (mu == NULL) {
            set_err(err, errlen, "weights: mu missing (mean-variance)");
            return -1;
        }
        if (!isfinite(o->q) || o->q < 0) {
            set_err(err, errlen, "weights: q must be finite and >= 0");
            return -1;
        }
    }
    if (!isfinite(o->gross) || o->gross <= 0) {
        set_err(err, errlen, "weights: gross must be finite and > 0");
        return -1;
    }
    double csum = 0;
    for (size_t i = 0; i < m; i++) {
        double c = o->caps ? o->caps[i] : o->cap;
        if (!isfinite(c) || c <= 0) {
            set_err(err, errlen, "weights: cap[%zu] must be finite and > 0", i);
            return -1;
        }
        csum += c;
        if (mu != NULL && !isfinite(mu[i])) {
            set_err(err, errlen, "weights: mu[%zu] not finite", i);
            return -1;
        }
        if (need_var && !(sigma[i * m + i] > 0)) {
            set_err(err, errlen, "weights: sigma[%zu][%zu] must be > 0", i, i);
            return -1;
        }
    }
    if (csum < o->gross * (1.0 - 1e-12)) {
        set_err(err, errlen, "weights: caps sum to %.17g < gross %.17g (infeasible)", csum,
                o->gross);
        return -1;
    }
    for (size_t i = 0; i < m * m; i++)
        if (!isfinite(sigma[i])) {
            set_err(err, errlen, "weights: sigma[%zu][%zu] not finite", i / m, i % m);
            return -1;
        }
    return 0;
}

static int meanvar(size_t m, const double *mu, const double *S, const qt_weights_opts_t *o,
                   const double *cap, double *w, qt_weights_info_t *info) {
    double *g = malloc(m * sizeof(double)), *v = malloc(m * sizeof(double)),
           *wn = malloc(m * sizeof(double));
    if (g == NULL || v == NULL || wn == NULL) {
        free(g);
        free(v);
        free(wn);
        return -1;
    }
    double L = 0, mumax = 0;
    for (size_t i = 0; i < m; i++) {
        double s = 0;
        for (size_t j = 0; j < m; j++) s += fabs(S[i * m + j]);
        if (s > L) L = s;
        if (fabs(mu[i]) > mumax) mumax = fabs(mu[i]);
    }
    double lip = 2.0 * o->q * L;
    double eta = lip > 1e-300 ? 1.0 / lip : 1e6 / (mumax > 0 ? mumax : 1.0);
    /* Start: equal weights projected onto the feasible set. */
    for (size_t i = 0; i < m; i++) v[i] = o->gross / (double)m;
    qt_weights_project(m, v, cap, o->gross, w);
    unsigned maxit = o->max_iter ? o->max_iter : 10000;
    double tol = o->tol > 0 ? o->tol : 1e-12;
    unsigned it = 0;
    bool conv = false;
    for (; it < maxit; it++) {
        for (size_t i = 0; i < m; i++) {
            double s = 0;
            for (size_t j = 0; j < m; j++) s += S[i * m + j] * w[j];
            g[i] = 2.0 * o->q * s - mu[i];
            v[i] = w[i] - eta * g[i];
        }
        qt_weights_project(m, v, cap, o->gross, wn);
        double d = 0;
        for (size_t i = 0; i < m; i++) {
            if (fabs(wn[i] - w[i]) > d) d = fabs(wn[i] - w[i]);
            w[i] = wn[i];
        }
        if (d <= tol * (o->gross > 1 ? o->gross : 1)) {
            conv = true;
            it++;
            break;
        }
    }
    double obj = 0;
    for (size_t i = 0; i < m; i++) {
        double s = 0;
        for (size_t j = 0; j < m; j++) s += S[i * m + j] * w[j];
        obj += o->q * w[i] * s - mu[i] * w[i];
    }
    info->iterations = it;
    info->converged = conv;
    info->objective = obj;
    free(g);
    free(v);
    free(wn);
    return 0;
}

/* Cyclical coordinate descent for ERC (budgets b_i = 1/m). */
static int erc(size_t m, const double *S, const qt_weights_opts_t *o, double *y,
               qt_weights_info_t *info) {
    double b = 1.0 / (double)m;
    for (size_t i = 0; i < m; i++) y[i] = 1.0 / sqrt(S[i * m + i]);
    unsigned maxit = o->max_iter ? o->max_iter : 10000;
    double tol = o->tol > 0 ? o->tol : 1e-12;
    unsigned it = 0;
    bool conv = false;
    for (; it < maxit; it++) {
        double d = 0;
        for (size_t i = 0; i < m; i++) {
            double c = 0;
            for (size_t j = 0; j < m; j++)
                if (j != i) c += S[i * m + j] * y[j];
            double sii = S[i * m + i];
            double yn = (-c + sqrt(c * c + 4.0 * sii * b)) / (2.0 * sii);
            double rel = fabs(yn - y[i]) / (fabs(y[i]) > 0 ? fabs(y[i]) : 1.0);
            if (rel > d) d = rel;
            y[i] = yn;
        }
        if (d <= tol) {
            conv = true;
            it++;
            break;
        }
    }
    info->iterations = it;
    info->converged = conv;
    return conv ? 0 : -1;
}

/* max |RC_i / mean(RC) - 1| with RC_i = w_i (Σw)_i. */
static double rc_dev(size_t m, const double *S, const double *w) {
    double mean = 0, dev = 0;
    double rc[64];
    double *buf = m <= 64 ? rc : malloc(m * sizeof(double));
    if (buf == NULL) return NAN;
    for (size_t i = 0; i < m; i++) {
        double s = 0;
        for (size_t j = 0; j < m; j++) s += S[i * m + j] * w[j];
        buf[i] = w[i] * s;
        mean += buf[i] / (double)m;
    }
    for (size_t i = 0; i < m; i++) {
        double d = mean != 0 ? fabs(buf[i] / mean - 1.0) : 0;
        if (d > dev) dev = d;
    }
    if (buf != rc) free(buf);
    return dev;
}

int qt_weights_compute(size_t m, const double *mu, const double *sigma,
                       const qt_weights_opts_t *o, double *w, qt_weights_info_t *info,
                       char *err, size_t errlen) {
    qt_weights_opts_t def;
    if (o == NULL) {
        qt_weights_opts_default(&def);
        o = &def;
    }
    qt_weights_info_t tmp;
    if (info == NULL) info = &tmp;
    memset(info, 0, sizeof(*info));
    if (o->method != QT_WEIGHTS_MEANVAR && o->method != QT_WEIGHTS_INVVOL &&
        o->method != QT_WEIGHTS_ERC) {
        set_err(err, errlen, "weights: unknown method %d", (int)o->method);
        return -1;
    }
    if (w == NULL) {
        set_err(err, errlen, "weights: NULL output");
        return -1;
    }
    if (check_inputs(m, mu, sigma, o, o->method != QT_WEIGHTS_MEANVAR, err, errlen) != 0)
        return -1;
    double *cap = malloc(m * sizeof(double)), *base = malloc(m * sizeof(double));
    if (cap == NULL || base == NULL) {
        free(cap);
        free(base);
        set_err(err, errlen, "weights: out of memory");
        return -1;
    }
    for (size_t i = 0; i < m; i++) cap[i] = o->caps ? o->caps[i] : o->cap;
    int rc = 0;
    if (o->method == QT_WEIGHTS_MEANVAR) {
        rc = meanvar(m, mu, sigma, o, cap, w, info);
        if (rc != 0) set_err(err, errlen, "weights: out of memory");
    } else if (o->method == QT_WEIGHTS_INVVOL) {
        for (size_t i = 0; i < m; i++) base[i] = 1.0 / sqrt(sigma[i * m + i]);
        rc = waterfill(m, base, cap, o->gross, w);
        info->converged = true;
        if (rc != 0) set_err(err, errlen, "weights: out of memory");
    } else {
        rc = erc(m, sigma, o, base, info);
        if (rc != 0) {
            set_err(err, errlen, "weights: ERC did not converge in %u iterations",
                    info->iterations);
        } else {
            rc = waterfill(m, base, cap, o->gross, w);
            if (rc != 0) set_err(err, errlen, "weights: out of memory");
            else info->max_rc_dev = rc_dev(m, sigma, w);
        }
    }
    free(cap);
    free(base);
    return rc;
}

int qt_weights_for_selection(size_t n, const double *mu, const double *sigma,
                             const uint8_t *x, const qt_weights_opts_t *o, double *w,
                             qt_weights_info_t *info, char *err, size_t errlen) {
    qt_weights_opts_t def;
    if (o == NULL) {
        qt_weights_opts_default(&def);
        o = &def;
    }
    if (x == NULL || sigma == NULL || w == NULL) {
        set_err(err, errlen, "weights: NULL input");
        return -1;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) m += x[i] ? 1 : 0;
    if (m == 0) {
        set_err(err, errlen, "weights: empty selection");
        return -1;
    }
    size_t *idx = malloc(m * sizeof(size_t));
    double *smu = malloc(m * sizeof(double)), *ss = malloc(m * m * sizeof(double)),
           *sc = malloc(m * sizeof(double)), *sw = malloc(m * sizeof(double));
    int rc = -1;
    if (idx == NULL || smu == NULL || ss == NULL || sc == NULL || sw == NULL) {
        set_err(err, errlen, "weights: out of memory");
        goto done;
    }
    for (size_t i = 0, k = 0; i < n; i++)
        if (x[i]) idx[k++] = i;
    for (size_t a = 0; a < m; a++) {
        smu[a] = mu != NULL ? mu[idx[a]] : 0.0;
        sc[a] = o->caps != NULL ? o->caps[idx[a]] : o->cap;
        for (size_t b = 0; b < m; b++) ss[a * m + b] = sigma[idx[a] * n + idx[b]];
    }
    qt_weights_opts_t so = *o;
    so.caps = sc;
    rc = qt_weights_compute(m, mu != NULL ? smu : NULL, ss, &so, sw, info, err, errlen);
    if (rc == 0) {
        memset(w, 0, n * sizeof(double));
        for (size_t a = 0; a < m; a++) w[idx[a]] = sw[a];
    }
done:
    free(idx);
    free(smu);
    free(ss);
    free(sc);
    free(sw);
    return rc;
}

/* Two uncorrelated assets: inverse vol 1/σ, ERC equals inverse vol when uncorrelated,
 * mean-variance closed form on the interior; projection sums to gross. */
int qt_weights_selftest(bool verbose) {
    int fails = 0;
    const double S[4] = {0.04, 0.0, 0.0, 0.01}; /* vols 0.2, 0.1 */
    double w[2];
    qt_weights_opts_t o;
    qt_weights_opts_default(&o);
    o.method = QT_WEIGHTS_INVVOL;
    if (qt_weights_compute(2, NULL, S, &o, w, NULL, NULL, 0) != 0 ||
        fabs(w[0] - 1.0 / 3.0) > 1e-12 || fabs(w[1] - 2.0 / 3.0) > 1e-12)
        fails++;
    o.method = QT_WEIGHTS_ERC;
    if (qt_weights_compute(2, NULL, S, &o, w, NULL, NULL, 0) != 0 ||
        fabs(w[0] - 1.0 / 3.0) > 1e-9 || fabs(w[1] - 2.0 / 3.0) > 1e-9)
        fails++;
    /* min q w'Sw - mu'w, w0 + w1 = 1: interior optimum from the Lagrangian:
     * 2q S00 w0 - mu0 = 2q S11 w1 - mu1 -> w0 = (2q S11 + mu0 - mu1) / (2q (S00 + S11)). */
    const double mu[2] = {0.02, 0.01};
    o.method = QT_WEIGHTS_MEANVAR;
    o.q = 1.0;
    double w0 = (2.0 * 0.01 + 0.01) / (2.0 * 0.05);
    if (qt_weights_compute(2, mu, S, &o, w, NULL, NULL, 0) != 0 || fabs(w[0] - w0) > 1e-9 ||
        fabs(w[1] - (1.0 - w0)) > 1e-9)
        fails++;
    if (verbose) fprintf(stderr, "qt_weights selftest: %d failure(s)\n", fails);
    return fails;
}
