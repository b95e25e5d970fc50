/* qt_overfit: PSR, MinTRL, DSR, haircut Sharpe, PBO (see qt_overfit.h for definitions,
 * docs/quant/statistics.md for the sources and the tests that reproduce them). */
#include "qt_overfit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double qt_norm_cdf(double x) { return 0.5 * erfc(-x / 1.41421356237309504880); }

/* Wichura, "Algorithm AS 241: The percentage points of the normal distribution",
 * Applied Statistics 37(3), 1988, 477-484 (PPND16). Coefficients as published. */
double qt_norm_ppf(double p) {
    if (isnan(p) || p < 0.0 || p > 1.0) return NAN;
    if (p == 0.0) return -INFINITY;
    if (p == 1.0) return INFINITY;
    double q = p - 0.5, r, num, den;
    if (fabs(q) <= 0.425) {
        r = 0.180625 - q * q;
        num = (((((((2.5090809287301226727e+3 * r + 3.3430575583588128105e+4) * r +
                    6.7265770927008700853e+4) * r + 4.5921953931549871457e+4) * r +
                  1.3731693765509461125e+4) * r + 1.9715909503065514427e+3) * r +
                1.3314166789178437745e+2) * r + 3.3871328727963666080e+0) * q;
        den = ((((((5.2264952788528545610e+3 * r + 2.8729085735721942674e+4) * r +
                    3.9307895800092710610e+4) * r + 2.1213794301586595867e+4) * r +
                  5.3941960214247511077e+3) * r + 6.8718700749205790830e+2) * r +
                4.2313330701600911252e+1) * r + 1.0;
        return num / den;
    }
    r = q < 0.0 ? p : 1.0 - p;
    r = sqrt(-log(r));
    if (r <= 5.0) {
        r -= 1.6;
        num = ((((((7.74545014278341407640e-4 * r + 2.27238449892691845833e-2) * r +
                    2.41780725177450611770e-1) * r + 1.27045825245236838258e+0) * r +
                  3.64784832476320460504e+0) * r + 5.76949722146069140550e+0) * r +
                4.63033784615654529590e+0) * r + 1.42343711074968357734e+0;
        den = ((((((1.05075007164441684324e-9 * r + 5.47593808499534494600e-4) * r +
                    1.51986665636164571966e-2) * r + 1.48103976427480074590e-1) * r +
                  6.89767334985100004550e-1) * r + 1.67638483018380384940e+0) * r +
                2.05319162663775882187e+0) * r + 1.0;
    } else {
        r -= 5.0;
        num = ((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r +
                    1.24266094738807843860e-3) * r + 2.65321895265761230930e-2) * r +
                  2.96560571828504891230e-1) * r + 1.78482653991729133580e+0) * r +
                5.46378491116411436990e+0) * r + 6.65790464350110377720e+0;
        den = ((((((2.04426310338993978564e-15 * r + 1.42151175831644588870e-7) * r +
                    1.84631831751005468180e-5) * r + 7.86869131145613259100e-4) * r +
                  1.48753612908506148525e-2) * r + 1.36929880922735805310e-1) * r +
                5.99832206555887937690e-1) * r + 1.0;
    }
    double x = num / den;
    return q < 0.0 ? -x : x;
}

static double sr_var_term(double sr, double skew, double kurt) {
    return 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr * sr;
}

double qt_psr(double sr, double sr_star, double n, double skew, double kurt) {
    double v = sr_var_term(sr, skew, kurt);
    if (!(n >= 2.0) || !(v > 0.0) || !isfinite(sr) || !isfinite(sr_star)) return NAN;
    return qt_norm_cdf((sr - sr_star) * sqrt(n - 1.0) / sqrt(v));
}

double qt_min_trl(double sr, double sr_star, double skew, double kurt, double alpha) {
    double v = sr_var_term(sr, skew, kurt);
    if (!(sr > sr_star) || !(alpha > 0.0 && alpha < 1.0) || !(v > 0.0)) return NAN;
    double z = qt_norm_ppf(1.0 - alpha) / (sr - sr_star);
    return 1.0 + v * z * z;
}

double qt_expected_max_sr(double n_trials, double var_trials) {
    if (!(n_trials >= 2.0) || !(var_trials >= 0.0) || !isfinite(n_trials)) return NAN;
    double g = QT_EULER_GAMMA;
    return sqrt(var_trials) * ((1.0 - g) * qt_norm_ppf(1.0 - 1.0 / n_trials) +
                               g * qt_norm_ppf(1.0 - 1.0 / (n_trials * M_E)));
}

double qt_dsr(double sr, double n, double skew, double kurt, double n_trials,
              double var_trials, double *sr0) {
    double s0 = qt_expected_max_sr(n_trials, var_trials);
    if (sr0) *sr0 = s0;
    if (isnan(s0)) return NAN;
    return qt_psr(sr, s0, n, skew, kurt);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int qt_haircut_sharpe(double sr_annual, double n_obs, double periods_per_year,
                      size_t n_tests, const double *other_p, qt_haircut_method_t method,
                      qt_haircut_t *out) {
    if (!out || !(sr_annual > 0.0) || !isfinite(sr_annual) || !(n_obs >= 1.0) ||
        !isfinite(n_obs) || !(periods_per_year > 0.0) || !isfinite(periods_per_year) ||
        n_tests < 1)
        return -1;
    if (method != QT_HAIRCUT_BONFERRONI && (!other_p && n_tests > 1)) return -1;
    if (method != QT_HAIRCUT_BONFERRONI && method != QT_HAIRCUT_HOLM &&
        method != QT_HAIRCUT_BHY)
        return -1;
    double years = n_obs / periods_per_year;
    double t = sr_annual * sqrt(years);
    double p = 2.0 * (1.0 - qt_norm_cdf(t));
    if (t > 5.0) p = erfc(t / 1.41421356237309504880); /* same, without cancellation */
    double M = (double)n_tests, padj;
    if (method == QT_HAIRCUT_BONFERRONI) {
        padj = fmin(1.0, M * p);
    } else {
        double *all = malloc(n_tests * sizeof *all);
        if (!all) return -1;
        all[0] = p;
        for (size_t i = 1; i < n_tests; i++) {
            double q = other_p[i - 1];
            if (!(q >= 0.0 && q <= 1.0)) {
                free(all);
                return -1;
            }
            all[i] = q;
        }
        qsort(all, n_tests, sizeof *all, cmp_double);
        /* rank of our p among the sorted ones: the first equal value (the most
         * favourable position, as a tie is indistinguishable) */
        size_t k = 0;
        while (k < n_tests && all[k] < p) k++;
        if (method == QT_HAIRCUT_HOLM) {
            /* step-down: p~_(i) = max_{j <= i} min(1, (M - j + 1) p_(j)), j 1-based */
            padj = 0.0;
            for (size_t j = 0; j <= k; j++) padj = fmax(padj, fmin(1.0, (M - (double)j) * all[j]));
        } else {
            /* step-up: p~_(i) = min_{j >= i} min(1, M c(M) p_(j) / j) */
            double c = 0.0;
            for (size_t j = 1; j <= n_tests; j++) c += 1.0 / (double)j;
            padj = 1.0;
            for (size_t j = k; j < n_tests; j++)
                padj = fmin(padj, fmin(1.0, M * c * all[j] / (double)(j + 1)));
        }
        free(all);
    }
    out->t_stat = t;
    out->p_single = p;
    out->p_adjusted = padj;
    double tadj = qt_norm_ppf(1.0 - padj / 2.0);
    out->sr_haircut = tadj / sqrt(years);
    out->haircut = 1.0 - out->sr_haircut / sr_annual;
    return 0;
}

/* ---- PBO / CSCV ---- */

typedef struct {
    double n, mean, m2;
} moments_t;

/* Chan et al. parallel merge of (n, mean, M2). */
static void mom_merge(moments_t *a, const moments_t *b) {
    if (b->n == 0) return;
    if (a->n == 0) {
        *a = *b;
        return;
    }
    double n = a->n + b->n, d = b->mean - a->mean;
    a->mean += d * b->n / n;
    a->m2 += b->m2 + d * d * a->n * b->n / n;
    a->n = n;
}

static double mom_sharpe(const moments_t *m) {
    double sd = m->n > 1 ? sqrt(m->m2 / (m->n - 1)) : 0.0;
    if (sd > 0.0) return m->mean / sd;
    if (m->mean == 0.0) return 0.0;
    return m->mean > 0.0 ? INFINITY : -INFINITY;
}

int qt_pbo_cscv(const double *m, size_t t_rows, size_t n_strats, size_t s_blocks,
                qt_pbo_t *out, double *logits) {
    if (!m || !out || n_strats < 2 || s_blocks < 2 || s_blocks % 2 ||
        s_blocks > QT_PBO_MAX_BLOCKS || t_rows < 2 * s_blocks)
        return -1;
    for (size_t i = 0; i < t_rows * n_strats; i++)
        if (!isfinite(m[i])) return -1;
    size_t S = s_blocks, N = n_strats, H = S / 2;
    moments_t *blk = calloc(S * N, sizeof *blk);
    double *is = malloc(2 * N * sizeof *is);
    if (!blk || !is) {
        free(blk);
        free(is);
        return -1;
    }
    double *oos = is + N;
    /* per-block, per-strategy moments (two-pass within each block) */
    size_t q = t_rows / S, rem = t_rows % S, row = 0;
    for (size_t b = 0; b < S; b++) {
        size_t len = q + (b < rem ? 1 : 0);
        for (size_t j = 0; j < N; j++) {
            double s = 0.0;
            for (size_t t = row; t < row + len; t++) s += m[t * N + j];
            double mean = s / (double)len, m2 = 0.0;
            for (size_t t = row; t < row + len; t++) {
                double d = m[t * N + j] - mean;
                m2 += d * d;
            }
            blk[b * N + j] = (moments_t){(double)len, mean, m2};
        }
        row += len;
    }
    size_t comb[QT_PBO_MAX_BLOCKS / 2];
    for (size_t i = 0; i < H; i++) comb[i] = i;
    size_t count = 0, below = 0, loss = 0, nfin = 0, npair = 0;
    double lsum = 0.0, sx = 0.0, sy = 0.0, sxx = 0.0, sxy = 0.0;
    for (;;) {
        bool in_is[QT_PBO_MAX_BLOCKS] = {false};
        for (size_t i = 0; i < H; i++) in_is[comb[i]] = true;
        for (size_t j = 0; j < N; j++) {
            moments_t a = {0, 0, 0}, o = {0, 0, 0};
            for (size_t b = 0; b < S; b++) mom_merge(in_is[b] ? &a : &o, &blk[b * N + j]);
            is[j] = mom_sharpe(&a);
            oos[j] = mom_sharpe(&o);
        }
        size_t best = 0;
        for (size_t j = 1; j < N; j++)
            if (is[j] > is[best]) best = j;
        size_t r = 1;
        for (size_t j = 0; j < N; j++)
            if (oos[j] < oos[best]) r++;
        double w = (double)r / (double)(N + 1);
        double lg = log(w / (1.0 - w));
        if (logits) logits[count] = lg;
        if (lg <= 0.0) below++;
        lsum += lg;
        nfin++;
        if (oos[best] < 0.0) loss++;
        if (isfinite(is[best]) && isfinite(oos[best])) {
            sx += is[best];
            sy += oos[best];
            sxx += is[best] * is[best];
            sxy += is[best] * oos[best];
            npair++;
        }
        count++;
        /* next combination in lexicographic order */
        size_t i = H;
        while (i > 0 && comb[i - 1] == S - H + i - 1) i--;
        if (i == 0) break;
        comb[i - 1]++;
        for (size_t k = i; k < H; k++) comb[k] = comb[k - 1] + 1;
    }
    out->n_combinations = count;
    out->pbo = (double)below / (double)count;
    out->logit_mean = nfin ? lsum / (double)nfin : NAN;
    out->prob_oos_loss = (double)loss / (double)count;
    double np = (double)npair, den = np * sxx - sx * sx;
    if (npair >= 2 && den > 0.0) {
        out->slope = (np * sxy - sx * sy) / den;
        out->intercept = (sy - out->slope * sx) / np;
    } else {
        out->slope = out->intercept = NAN;
    }
    free(blk);
    free(is);
    return 0;
}

/* Reproduces the worked examples of the papers (details in tests/unit/test_overfit.c). */
int qt_overfit_selftest(bool verbose) {
    int fails = 0;
    /* Bailey & Lopez de Prado 2012: PSR(0) = 0.982 / 0.913 */
    if (fabs(qt_psr(0.458, 0, 24, 0, 3) - 0.982) > 5e-4) fails++;
    if (fabs(qt_psr(0.458, 0, 24, -2.448, 10.164) - 0.913) > 5e-4) fails++;
    /* Bailey & Lopez de Prado 2014: SR0 = 0.1132, DSR = 0.9004 */
    double sr0, d = qt_dsr(2.5 / sqrt(250.0), 1250, -3, 10, 100, 0.5 / 250.0, &sr0);
    if (fabs(sr0 - 0.1132) > 5e-5 || fabs(d - 0.9004) > 5e-5) fails++;
    if (fabs(qt_norm_ppf(0.975) - 1.959963984540054) > 1e-12) fails++;
    if (verbose) printf("qt_overfit selftest: %d failures\n", fails);
    return fails;
}
