/* qt_overfit: is a backtested Sharpe ratio real? Probabilistic Sharpe Ratio, minimum
 * track record length, Deflated Sharpe Ratio, the Harvey-Liu haircut Sharpe ratio and the
 * Probability of Backtest Overfitting (CSCV), plus the normal cdf / quantile they need.
 *
 * Why: a Sharpe ratio estimated from a short, skewed, fat-tailed sample, selected as the
 * best of many trials, overstates the skill behind it. Each statistic here answers one
 * form of that question with a published formula; docs/quant/statistics.md gives the
 * formula, the paper and the test reproducing the paper's worked example.
 *
 * Conventions: sr is the PER-PERIOD Sharpe ratio (not annualised) unless a name says
 * otherwise; n is the number of return observations; skew is gamma3 and kurt is the
 * NON-excess kurtosis gamma4 (3 for a normal distribution). Pure functions; NaN on
 * arguments outside their domain. */
#ifndef QT_OVERFIT_H
#define QT_OVERFIT_H
#include <stdbool.h>
#include <stddef.h>

#define QT_EULER_GAMMA 0.57721566490153286061

/* Standard normal cdf, 0.5 * erfc(-x / sqrt(2)) (libm erfc: full relative accuracy in
 * both tails). */
double qt_norm_cdf(double x);
/* Standard normal quantile, Wichura's AS241 (PPND16, relative error ~1e-16).
 * p in (0, 1); -inf at 0, +inf at 1, NaN outside [0, 1]. */
double qt_norm_ppf(double p);

/* Probabilistic Sharpe Ratio (Bailey & Lopez de Prado 2012, "The Sharpe Ratio Efficient
 * Frontier", eq. 11): P(true SR > sr_star) =
 *   Phi((sr - sr_star) sqrt(n - 1) / sqrt(1 - skew sr + (kurt - 1) / 4 sr^2)).
 * NaN when n < 2 or the variance term is <= 0. */
double qt_psr(double sr, double sr_star, double n, double skew, double kurt);

/* Minimum track record length (same paper, eq. 15): the n at which PSR(sr_star) reaches
 * 1 - alpha:  1 + (1 - skew sr + (kurt - 1) / 4 sr^2) (Phi^-1(1 - alpha) / (sr - sr_star))^2.
 * NaN when sr <= sr_star or alpha not in (0, 1). Not rounded up. */
double qt_min_trl(double sr, double sr_star, double skew, double kurt, double alpha);

/* Expected maximum Sharpe ratio of n_trials independent trials with zero true Sharpe and
 * variance var_trials across the trials' Sharpe estimates (Bailey & Lopez de Prado 2014,
 * "The Deflated Sharpe Ratio", eq. 3; the False Strategy Theorem):
 *   SR0 = sqrt(V) ((1 - gamma) Phi^-1(1 - 1/N) + gamma Phi^-1(1 - 1/(N e))).
 * NaN when n_trials < 2 or var_trials < 0. */
double qt_expected_max_sr(double n_trials, double var_trials);

/* Deflated Sharpe Ratio: PSR(SR0) with SR0 = qt_expected_max_sr(n_trials, var_trials).
 * *sr0 (may be NULL) receives SR0. */
double qt_dsr(double sr, double n, double skew, double kurt, double n_trials,
              double var_trials, double *sr0);

/* ---- Harvey & Liu (2015), "Backtesting", JPM 42(1): the haircut Sharpe ratio ---- */
typedef enum {
    QT_HAIRCUT_BONFERRONI = 0,
    QT_HAIRCUT_HOLM = 1,
    QT_HAIRCUT_BHY = 2
} qt_haircut_method_t;

typedef struct {
    double t_stat;           /* sr_annual * sqrt(years) */
    double p_single;         /* two-sided single-test p-value, 2 (1 - Phi(t)) */
    double p_adjusted;       /* multiple-testing adjusted p-value (<= 1) */
    double sr_haircut;       /* annualised Sharpe matching p_adjusted */
    double haircut;          /* 1 - sr_haircut / sr_annual */
} qt_haircut_t;

/* sr_annual > 0 over n_obs observations at periods_per_year (years = n_obs / ppy).
 * The strategy's p-value is adjusted for M = n_tests tests:
 *  - Bonferroni: min(1, M p). other_p may be NULL.
 *  - Holm (step-down) and BHY (Benjamini-Hochberg-Yekutieli step-up, c(M) = sum 1/j):
 *    the adjusted p-value of this strategy among the M p-values {p} U other_p[0..M-2],
 *    so other_p must hold n_tests - 1 p-values in [0, 1] (e.g. the other trials').
 * Then t_adj = Phi^-1(1 - p_adj / 2), sr_haircut = t_adj / sqrt(years),
 * haircut = 1 - sr_haircut / sr_annual. Returns 0, -1 on bad arguments. */
int qt_haircut_sharpe(double sr_annual, double n_obs, double periods_per_year,
                      size_t n_tests, const double *other_p, qt_haircut_method_t method,
                      qt_haircut_t *out);

/* ---- Probability of Backtest Overfitting by CSCV (Bailey, Borwein, Lopez de Prado &
 * Zhu 2017, J. Computational Finance 20(4)) ---- */
#define QT_PBO_MAX_BLOCKS 20u /* C(20, 10) = 184756 combinations */

typedef struct {
    double pbo;              /* fraction of combinations with logit <= 0 */
    size_t n_combinations;   /* C(S, S/2) */
    double logit_mean;       /* mean logit (finite ones) */
    double prob_oos_loss;    /* fraction where the IS-best strategy's OOS Sharpe < 0 */
    double slope, intercept; /* OLS of OOS Sharpe on IS Sharpe of the IS-best strategy
                                (performance degradation; NaN when undefined) */
} qt_pbo_t;

/* m: t_rows x n_strats, row-major (m[t * n_strats + j] = return of strategy j at t).
 * The rows are cut into s_blocks contiguous blocks (numpy.array_split sizes); each of
 * the C(S, S/2) choices of S/2 blocks is the in-sample set, its complement the
 * out-of-sample set. Performance = per-period Sharpe mean / sample std (std 0: 0 when
 * the mean is 0, else +-inf). n* = the IS-best strategy (lowest index on ties); its OOS
 * rank r = 1 + #{j : oos_j < oos_n*}, omega = r / (N + 1), logit = ln(omega / (1 - omega)).
 * Requires n_strats >= 2, s_blocks even in [2, QT_PBO_MAX_BLOCKS], t_rows >= 2 s_blocks,
 * all values finite. logits (may be NULL) receives the n_combinations logits in
 * combination order. Returns 0, -1 on bad arguments or OOM. */
int qt_pbo_cscv(const double *m, size_t t_rows, size_t n_strats, size_t s_blocks,
                qt_pbo_t *out, double *logits);

int qt_overfit_selftest(bool verbose);
#endif
