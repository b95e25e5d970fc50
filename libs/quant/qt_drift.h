/* qt_drift: distribution drift of live features / predictions against the training
 * reference. Why: a model trained on one regime silently degrades when its inputs move;
 * two standard statistics, exported as metrics by qt-models, tell an operator when.
 *
 * PSI (population stability index; Siddiqi 2006, "Credit Risk Scorecards", ch. 8):
 *   bins:  B bins whose inner edges are the reference quantiles e_k = Q(k/B), k=1..B-1
 *          (linear interpolation between order statistics, Hyndman-Fan type 7), so each
 *          bin holds ~1/B of the reference; bin 0 = (-inf, e_1], bin k = (e_k, e_k+1],
 *          bin B-1 = (e_B-1, +inf). Tied edges simply leave a bin empty.
 *   PSI = sum_k (a_k - r_k) * ln(a_k / r_k), a_k / r_k = live / reference fraction in
 *          bin k, each floored at eps (default 1e-4) so an empty bin stays finite.
 *   Rule of thumb: < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 significant.
 * KS (two-sample Kolmogorov-Smirnov): D = sup_x |F_a(x) - F_b(x)| of the empirical CDFs,
 *   p-value from the asymptotic Kolmogorov distribution with the small-sample
 *   correction of Stephens (Numerical Recipes 3rd ed., sec. 14.3.3):
 *   n_e = n_a n_b / (n_a + n_b), lambda = (sqrt(n_e) + 0.12 + 0.11 / sqrt(n_e)) * D,
 *   p = Q_KS(lambda) = 2 sum_{j>=1} (-1)^(j-1) exp(-2 j^2 lambda^2)   (1 for lambda < 0.2).
 * Pure numerics: non-finite values are ignored (counted out of n). Tests:
 * tests/unit/test_drift.c (hand-computed PSI, KS against published Kolmogorov values). */
#ifndef QT_DRIFT_H
#define QT_DRIFT_H
#include <stdbool.h>
#include <stddef.h>

#define QT_DRIFT_MAX_BINS 64
#define QT_DRIFT_EPS 1e-4

typedef struct {
    size_t nbins;                          /* 2..QT_DRIFT_MAX_BINS */
    double edges[QT_DRIFT_MAX_BINS - 1];   /* nbins - 1 inner edges, non-decreasing */
    double ref_frac[QT_DRIFT_MAX_BINS];    /* reference fraction per bin */
} qt_psi_ref_t;

/* Quantile (type 7) of sorted finite values v[0..n), q in [0, 1]. */
double qt_drift_quantile_sorted(const double *v, size_t n, double q);
/* Builds the bins from the reference sample (any order; at least nbins finite values).
 * 0 ok, -1 invalid (too few values, nbins out of range, OOM). */
int qt_psi_ref_build(const double *ref, size_t n, size_t nbins, qt_psi_ref_t *out);
/* Builds from given edges and fractions (e.g. stored in a model's meta.json). 0 / -1. */
int qt_psi_ref_set(qt_psi_ref_t *out, const double *edges, const double *frac, size_t nbins);
/* Bin index of x. */
size_t qt_psi_bin(const qt_psi_ref_t *ref, double x);
/* PSI of live values against ref; eps <= 0 means QT_DRIFT_EPS. NAN when no finite value. */
double qt_psi(const qt_psi_ref_t *ref, const double *live, size_t n, double eps);

/* Two-sample KS statistic D (inputs in any order; copied and sorted). NAN when either
 * side has no finite value or on OOM. */
double qt_ks_stat(const double *a, size_t na, const double *b, size_t nb);
/* Q_KS(lambda), the Kolmogorov survival function. */
double qt_ks_q(double lambda);
/* Asymptotic p-value of D for sample sizes na, nb (formula above). */
double qt_ks_pvalue(double d, size_t na, size_t nb);

int qt_drift_selftest(bool verbose);
#endif
