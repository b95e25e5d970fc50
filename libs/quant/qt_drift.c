/* qt_drift: PSI and two-sample KS; formulas and sources in qt_drift.h. */
#include "qt_drift.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Finite values of v, sorted, in a new array (*out, count returned); -1 on OOM. */
static long sorted_finite(const double *v, size_t n, double **out) {
    double *c = malloc((n ? n : 1) * sizeof *c);
    if (!c) return -1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i])) c[k++] = v[i];
    qsort(c, k, sizeof *c, cmp_d);
    *out = c;
    return (long)k;
}

double qt_drift_quantile_sorted(const double *v, size_t n, double q) {
    if (n == 0) return NAN;
    if (q <= 0.0) return v[0];
    if (q >= 1.0) return v[n - 1];
    double h = (double)(n - 1) * q;
    size_t lo = (size_t)floor(h);
    double frac = h - (double)lo;
    if (lo + 1 >= n) return v[n - 1];
    return v[lo] + frac * (v[lo + 1] - v[lo]);
}

size_t qt_psi_bin(const qt_psi_ref_t *ref, double x) {
    /* first edge >= x (bins are right-closed): binary search */
    size_t lo = 0, hi = ref->nbins - 1;   /* answer in [0, nbins-1] */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (x <= ref->edges[mid]) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

int qt_psi_ref_set(qt_psi_ref_t *out, const double *edges, const double *frac, size_t nbins) {
    if (nbins < 2 || nbins > QT_DRIFT_MAX_BINS) return -1;
    double s = 0.0;
    for (size_t k = 0; k + 1 < nbins; k++) {
        if (!isfinite(edges[k]) || (k > 0 && edges[k] < edges[k - 1])) return -1;
    }
    for (size_t k = 0; k < nbins; k++) {
        if (!(isfinite(frac[k]) && frac[k] >= 0.0 && frac[k] <= 1.0)) return -1;
        s += frac[k];
    }
    if (fabs(s - 1.0) > 1e-6) return -1;
    memset(out, 0, sizeof *out);
    out->nbins = nbins;
    memcpy(out->edges, edges, (nbins - 1) * sizeof *edges);
    memcpy(out->ref_frac, frac, nbins * sizeof *frac);
    return 0;
}

int qt_psi_ref_build(const double *ref, size_t n, size_t nbins, qt_psi_ref_t *out) {
    if (nbins < 2 || nbins > QT_DRIFT_MAX_BINS || !ref) return -1;
    double *s = NULL;
    long k = sorted_finite(ref, n, &s);
    if (k < 0) return -1;
    if ((size_t)k < nbins) {
        free(s);
        return -1;
    }
    memset(out, 0, sizeof *out);
    out->nbins = nbins;
    for (size_t b = 1; b < nbins; b++)
        out->edges[b - 1] = qt_drift_quantile_sorted(s, (size_t)k, (double)b / (double)nbins);
    size_t cnt[QT_DRIFT_MAX_BINS] = {0};
    for (long i = 0; i < k; i++) cnt[qt_psi_bin(out, s[i])]++;
    for (size_t b = 0; b < nbins; b++) out->ref_frac[b] = (double)cnt[b] / (double)k;
    free(s);
    return 0;
}

double qt_psi(const qt_psi_ref_t *ref, const double *live, size_t n, double eps) {
    if (!ref || ref->nbins < 2 || !live) return NAN;
    if (!(eps > 0.0)) eps = QT_DRIFT_EPS;
    size_t cnt[QT_DRIFT_MAX_BINS] = {0}, m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(live[i])) continue;
        cnt[qt_psi_bin(ref, live[i])]++;
        m++;
    }
    if (m == 0) return NAN;
    double psi = 0.0;
    for (size_t b = 0; b < ref->nbins; b++) {
        double a = (double)cnt[b] / (double)m, r = ref->ref_frac[b];
        if (a < eps) a = eps;
        if (r < eps) r = eps;
        psi += (a - r) * log(a / r);
    }
    return psi;
}

double qt_ks_stat(const double *a, size_t na, const double *b, size_t nb) {
    double *sa = NULL, *sb = NULL;
    long ka = a ? sorted_finite(a, na, &sa) : -1;
    long kb = b ? sorted_finite(b, nb, &sb) : -1;
    double d = NAN;
    if (ka > 0 && kb > 0) {
        size_t i = 0, j = 0;
        d = 0.0;
        /* walk both sorted samples; after consuming all copies of the smaller value the
         * ECDFs are compared (ties across samples move together) */
        while (i < (size_t)ka && j < (size_t)kb) {
            double x = sa[i] <= sb[j] ? sa[i] : sb[j];
            while (i < (size_t)ka && sa[i] <= x) i++;
            while (j < (size_t)kb && sb[j] <= x) j++;
            double diff = fabs((double)i / (double)ka - (double)j / (double)kb);
            if (diff > d) d = diff;
        }
    }
    free(sa);
    free(sb);
    return d;
}

double qt_ks_q(double lambda) {
    if (!(lambda >= 0.2)) return 1.0;   /* series converges slowly; Q ~ 1 there */
    double sum = 0.0, sign = 1.0;
    for (int j = 1; j <= 100; j++) {
        double t = exp(-2.0 * (double)j * (double)j * lambda * lambda);
        sum += sign * t;
        sign = -sign;
        if (t < 1e-17) break;
    }
    double q = 2.0 * sum;
    return q < 0.0 ? 0.0 : q > 1.0 ? 1.0 : q;
}

double qt_ks_pvalue(double d, size_t na, size_t nb) {
    if (!(d >= 0.0) || na == 0 || nb == 0) return NAN;
    double ne = (double)na * (double)nb / ((double)na + (double)nb);
    double sq = sqrt(ne);
    return qt_ks_q((sq + 0.12 + 0.11 / sq) * d);
}

int qt_drift_selftest(bool verbose) {
    int fails = 0;
    /* identical samples: PSI 0, D 0, p 1 */
    double r[100];
    for (int i = 0; i < 100; i++) r[i] = (double)i;
    qt_psi_ref_t ref;
    fails += qt_psi_ref_build(r, 100, 10, &ref) != 0;
    fails += !(fabs(qt_psi(&ref, r, 100, 0.0)) < 1e-15);
    fails += !(qt_ks_stat(r, 100, r, 100) == 0.0);
    fails += !(qt_ks_pvalue(0.0, 100, 100) == 1.0);
    /* Kolmogorov distribution: P(K > 1) = 0.26999967..., P(K > 1.36) ~ 0.0494 */
    fails += !(fabs(qt_ks_q(1.0) - 0.2699996716735) < 1e-10);
    if (verbose) fprintf(stderr, "qt_drift selftest: %d failure(s)\n", fails);
    return fails;
}
