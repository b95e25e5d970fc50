/* qt_covariance: see qt_covariance.h for the definitions and the source of Ledoit-Wolf.
 * The streaming object is a ring of the last `window` vectors; queries linearise the
 * ring in chronological order and call the batch code, so both agree bit-for-bit. */
#include "qt_covariance.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct qt_cov_t {
    size_t k;
    uint32_t window;
    uint32_t pos;       /* next row to write */
    uint64_t count;
    double *ring;       /* window * k */
};

qt_cov_t *qt_cov_new(size_t k, uint32_t window) {
    if (k < 1 || k > QT_COV_MAX_K || window < 2 || window > QT_COV_MAX_WINDOW) return NULL;
    qt_cov_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    self->ring = calloc((size_t)window * k, sizeof *self->ring);
    if (!self->ring) {
        free(self);
        return NULL;
    }
    self->k = k;
    self->window = window;
    return self;
}

void qt_cov_destroy(qt_cov_t **self_p) {
    if (!self_p || !*self_p) return;
    free((*self_p)->ring);
    free(*self_p);
    *self_p = NULL;
}

bool qt_cov_update(qt_cov_t *self, const double *x) {
    for (size_t j = 0; j < self->k; j++)
        if (!isfinite(x[j])) return false;
    memcpy(self->ring + (size_t)self->pos * self->k, x, self->k * sizeof *x);
    self->pos = (self->pos + 1u) % self->window;
    self->count++;
    return true;
}

size_t qt_cov_k(const qt_cov_t *self) { return self->k; }
uint32_t qt_cov_window(const qt_cov_t *self) { return self->window; }
uint32_t qt_cov_len(const qt_cov_t *self) {
    return self->count < self->window ? (uint32_t)self->count : self->window;
}
uint64_t qt_cov_count(const qt_cov_t *self) { return self->count; }
bool qt_cov_ready(const qt_cov_t *self) { return self->count >= self->window; }

/* Chronological copy of the window (caller frees); NULL when fewer than 2 vectors. */
static double *linearise(const qt_cov_t *self, size_t *T) {
    size_t len = qt_cov_len(self), k = self->k;
    if (len < 2) return NULL;
    double *X = malloc(len * k * sizeof *X);
    if (!X) return NULL;
    size_t start = self->count < self->window ? 0 : self->pos;  /* oldest row */
    for (size_t r = 0; r < len; r++)
        memcpy(X + r * k, self->ring + ((start + r) % self->window) * k, k * sizeof *X);
    *T = len;
    return X;
}

bool qt_cov_sample(const qt_cov_t *self, double *out) {
    size_t T = 0;
    double *X = linearise(self, &T);
    bool ok = X && qt_cov_sample_batch(X, T, self->k, out);
    free(X);
    return ok;
}

bool qt_cov_correlation(const qt_cov_t *self, double *out) {
    size_t T = 0;
    double *X = linearise(self, &T);
    bool ok = X && qt_cov_correlation_batch(X, T, self->k, out);
    free(X);
    return ok;
}

bool qt_cov_ledoit_wolf(const qt_cov_t *self, double *out, double *shrinkage) {
    size_t T = 0;
    double *X = linearise(self, &T);
    bool ok = X && qt_cov_ledoit_wolf_batch(X, T, self->k, out, shrinkage);
    free(X);
    return ok;
}

/* ---- batch ------------------------------------------------------------------------ */

static bool all_finite(const double *X, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(X[i])) return false;
    return true;
}

/* Column means (two-pass: the deviations are taken from these). */
static void col_means(const double *X, size_t T, size_t k, double *mean) {
    for (size_t j = 0; j < k; j++) mean[j] = 0.0;
    for (size_t t = 0; t < T; t++)
        for (size_t j = 0; j < k; j++) mean[j] += X[t * k + j];
    for (size_t j = 0; j < k; j++) mean[j] /= (double)T;
}

/* out = sum_t y_t y_t' (scatter matrix of the centred rows), fixed summation order. */
static void scatter(const double *X, size_t T, size_t k, const double *mean, double *out) {
    memset(out, 0, k * k * sizeof *out);
    for (size_t t = 0; t < T; t++) {
        const double *x = X + t * k;
        for (size_t i = 0; i < k; i++) {
            double yi = x[i] - mean[i];
            for (size_t j = i; j < k; j++) out[i * k + j] += yi * (x[j] - mean[j]);
        }
    }
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < i; j++) out[i * k + j] = out[j * k + i];
}

bool qt_cov_sample_batch(const double *X, size_t T, size_t k, double *out) {
    if (T < 2 || k == 0 || !all_finite(X, T * k)) return false;
    double *mean = malloc(k * sizeof *mean);
    if (!mean) return false;
    col_means(X, T, k, mean);
    scatter(X, T, k, mean, out);
    for (size_t i = 0; i < k * k; i++) out[i] /= (double)(T - 1);
    free(mean);
    return true;
}

bool qt_cov_correlation_batch(const double *X, size_t T, size_t k, double *out) {
    if (!qt_cov_sample_batch(X, T, k, out)) return false;
    double *sd = malloc(k * sizeof *sd);
    if (!sd) return false;
    for (size_t i = 0; i < k; i++) sd[i] = out[i * k + i] > 0.0 ? sqrt(out[i * k + i]) : 0.0;
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++) {
            double c;
            if (i == j) c = 1.0;
            else if (sd[i] == 0.0 || sd[j] == 0.0) c = 0.0;
            else {
                c = out[i * k + j] / (sd[i] * sd[j]);
                if (c > 1.0) c = 1.0;     /* rounding can exceed 1 by an ulp */
                if (c < -1.0) c = -1.0;
            }
            out[i * k + j] = c;
        }
    free(sd);
    return true;
}

/* Ledoit-Wolf (2004, JMVA), scaled identity target. b^2 is computed with the expansion
 * (1/T^2) sum_t ||y_t y_t' - S||^2 = (1/T^2) (sum_t |y_t|^4 - T ||S||_F^2) / k, which is
 * O(T k + k^2) instead of O(T k^2); the test checks it against the direct definition. */
bool qt_cov_ledoit_wolf_batch(const double *X, size_t T, size_t k, double *out,
                              double *shrinkage) {
    if (T < 2 || k == 0 || !all_finite(X, T * k)) return false;
    double *mean = malloc(k * sizeof *mean);
    if (!mean) return false;
    col_means(X, T, k, mean);
    scatter(X, T, k, mean, out);
    double Td = (double)T, kd = (double)k;
    for (size_t i = 0; i < k * k; i++) out[i] /= Td;   /* S on the 1/T scale */
    double tr = 0.0, fro2 = 0.0;
    for (size_t i = 0; i < k; i++) tr += out[i * k + i];
    for (size_t i = 0; i < k * k; i++) fro2 += out[i] * out[i];
    double m = tr / kd;
    /* d^2 = ||S - mI||^2 = (||S||_F^2 - 2 m tr + k m^2) / k, computed directly: */
    double d2 = 0.0;
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++) {
            double e = out[i * k + j] - (i == j ? m : 0.0);
            d2 += e * e;
        }
    d2 /= kd;
    double sum4 = 0.0;
    for (size_t t = 0; t < T; t++) {
        double n2 = 0.0;
        for (size_t j = 0; j < k; j++) {
            double y = X[t * k + j] - mean[j];
            n2 += y * y;
        }
        sum4 += n2 * n2;
    }
    double b2 = (sum4 - Td * fro2) / (Td * Td) / kd;
    if (b2 < 0.0) b2 = 0.0;   /* the exact value is >= 0; rounding only */
    if (b2 > d2) b2 = d2;
    double rho = d2 > 0.0 ? b2 / d2 : 0.0;
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++)
            out[i * k + j] = (1.0 - rho) * out[i * k + j] + (i == j ? rho * m : 0.0);
    free(mean);
    if (shrinkage) *shrinkage = rho;
    return true;
}

/* ---- selftest ----------------------------------------------------------------------- */

int qt_covariance_selftest(bool verbose) {
    int fails = 0;
#define CHECK(c)                                                           \
    do {                                                                   \
        if (!(c)) {                                                        \
            fails++;                                                       \
            if (verbose) fprintf(stderr, "qt_covariance: FAIL %s\n", #c); \
        }                                                                  \
    } while (0)
    /* 2 assets, 3 observations: x = (1,2),(2,4),(3,0). means (2,2).
     * dev: (-1,0),(0,2),(1,-2). scatter: [2, -2; -2, 8]. unbiased /2: [1,-1;-1,4]. */
    const double X[6] = {1, 2, 2, 4, 3, 0};
    double c[4], s;
    CHECK(qt_cov_sample_batch(X, 3, 2, c));
    CHECK(c[0] == 1.0 && c[1] == -1.0 && c[2] == -1.0 && c[3] == 4.0);
    CHECK(qt_cov_correlation_batch(X, 3, 2, c));
    CHECK(c[0] == 1.0 && fabs(c[1] + 0.5) < 1e-15 && c[3] == 1.0);
    /* LW: S = [2/3,-2/3;-2/3,8/3], m = 5/3, d^2 = ((1)^2 + 2(4/9) + 1)/2 = 13/9.
     * y_t y_t' - S Frobenius^2: t1 [1,0;0,0]-S, t2 [0,0;0,4]-S, t3 [1,-2;-2,4]-S.
     * sum_t |y_t|^4 = 1 + 16 + 25 = 42; ||S||_F^2 = (4+4+4+64)/9 = 76/9;
     * b^2 = (42 - 3*76/9)/9/2 = (126/3 - 76/3)/18 = (50/3)/18 = 25/27; rho = (25/27)/(13/9) = 25/39. */
    CHECK(qt_cov_ledoit_wolf_batch(X, 3, 2, c, &s));
    CHECK(fabs(s - 25.0 / 39.0) < 1e-14);
    double m = 5.0 / 3.0, rho = 25.0 / 39.0;
    CHECK(fabs(c[0] - ((1 - rho) * 2.0 / 3.0 + rho * m)) < 1e-14);
    CHECK(fabs(c[1] - ((1 - rho) * -2.0 / 3.0)) < 1e-14);
    qt_cov_t *cv = qt_cov_new(2, 3);
    CHECK(cv != NULL);
    if (cv) {
        const double bad[2] = {1, NAN};
        CHECK(!qt_cov_update(cv, bad));
        for (int t = 0; t < 3; t++) qt_cov_update(cv, X + 2 * t);
        double c2[4];
        CHECK(qt_cov_ready(cv) && qt_cov_sample(cv, c2) && c2[0] == 1.0 && c2[3] == 4.0);
        qt_cov_destroy(&cv);
        CHECK(cv == NULL);
    }
    CHECK(qt_cov_new(0, 3) == NULL && qt_cov_new(2, 1) == NULL);
#undef CHECK
    if (verbose) fprintf(stderr, "qt_covariance selftest: %s\n", fails ? "FAIL" : "ok");
    return fails;
}
