/* qt_covariance: rolling covariance / correlation of k return series, with Ledoit-Wolf
 * shrinkage, for the portfolio optimizer.
 *
 * Why: with 33 assets and a few hundred bars the sample covariance is noisy and badly
 * conditioned (its small eigenvalues are biased down), so a mean-variance optimizer over
 * it chases estimation error. Ledoit-Wolf shrinks it towards a structured target with a
 * data-driven intensity and is always well conditioned.
 *
 * Window: the last `window` return vectors (x_t in R^k, one per bar). update() is O(k)
 * (it copies the vector into a ring); the matrices are computed on demand, O(window k^2),
 * by the SAME code as the batch functions over the window in chronological order, so the
 * streaming and batch results are bit-identical (no running sums that drift).
 *
 * Definitions (x_t, t = 1..T, T = number of vectors in the window, xbar = column means):
 *  - sample covariance (unbiased): S_u[i][j] = sum_t (x_ti - xbar_i)(x_tj - xbar_j) / (T - 1)
 *  - correlation: C[i][j] = S_u[i][j] / sqrt(S_u[i][i] S_u[j][j]); an asset with zero
 *    variance in the window gets C[i][i] = 1 and C[i][j] = 0 (documented choice, never NaN).
 *  - Ledoit-Wolf, scaled identity target: O. Ledoit, M. Wolf, "A well-conditioned
 *    estimator for large-dimensional covariance matrices", J. Multivariate Analysis 88
 *    (2004) 365-411, Lemma 3.2 / Theorem 3.1 (the estimator also used by scikit-learn's
 *    LedoitWolf). With y_t = x_t - xbar and S = sum_t y_t y_t' / T (the 1/T scaling of
 *    the paper), ||A||^2 = sum_ij A_ij^2 / k (the paper's normalised Frobenius norm):
 *        m   = tr(S) / k
 *        d^2 = ||S - m I||^2
 *        b^2 = min(d^2, (1/T^2) sum_t ||y_t y_t' - S||^2)
 *        shrinkage rho = b^2 / d^2  (in [0, 1]; 0 when d^2 == 0, i.e. S is already m I)
 *        Sigma = rho m I + (1 - rho) S
 *    Sigma is on the 1/T scale of the paper (multiply by T/(T-1) for the unbiased scale).
 * Non-finite inputs are refused (update returns false, state unchanged). */
#ifndef QT_COVARIANCE_H
#define QT_COVARIANCE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QT_COV_MAX_K 1024u
#define QT_COV_MAX_WINDOW 100000u

typedef struct qt_cov_t qt_cov_t;

/* k in 1..QT_COV_MAX_K, window in 2..QT_COV_MAX_WINDOW. NULL on bad arguments / OOM. */
qt_cov_t *qt_cov_new(size_t k, uint32_t window);
void qt_cov_destroy(qt_cov_t **self_p);

/* Pushes one vector of k returns (oldest drops out once the window is full). False (and
 * nothing pushed) when any value is non-finite. */
bool qt_cov_update(qt_cov_t *self, const double *returns_k);
size_t qt_cov_k(const qt_cov_t *self);
uint32_t qt_cov_window(const qt_cov_t *self);
uint32_t qt_cov_len(const qt_cov_t *self);      /* vectors in the window (<= window) */
uint64_t qt_cov_count(const qt_cov_t *self);    /* vectors pushed so far */
bool qt_cov_ready(const qt_cov_t *self);        /* window full */

/* Matrices over the vectors currently in the window (needs len >= 2; false otherwise).
 * out is k*k, row-major, symmetric. */
bool qt_cov_sample(const qt_cov_t *self, double *out_kxk);
bool qt_cov_correlation(const qt_cov_t *self, double *out_kxk);
/* shrinkage may be NULL. */
bool qt_cov_ledoit_wolf(const qt_cov_t *self, double *out_kxk, double *shrinkage);

/* Batch versions over X (T rows of k values, row-major, T >= 2). False on T < 2, k == 0
 * or a non-finite value. These are what the streaming queries call on the window. */
bool qt_cov_sample_batch(const double *X, size_t T, size_t k, double *out_kxk);
bool qt_cov_correlation_batch(const double *X, size_t T, size_t k, double *out_kxk);
bool qt_cov_ledoit_wolf_batch(const double *X, size_t T, size_t k, double *out_kxk,
                              double *shrinkage);

int qt_covariance_selftest(bool verbose);
#endif
