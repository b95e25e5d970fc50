/* qt_cv: purged cross-validation for financial labels: purged k-fold with embargo and
 * combinatorial purged cross-validation (CPCV).
 *
 * Why: a label spans an interval [t0, t1] (e.g. a triple-barrier event). When a training
 * label's interval overlaps the test set, the model is trained on information from the
 * test period and the cross-validated score is inflated (leakage). Purging removes such
 * training observations; the embargo also removes those that start shortly AFTER a test
 * block, because features are serially correlated (Lopez de Prado, AFML 2018, ch. 7).
 * CPCV (AFML ch. 12) splits the data into N contiguous groups and uses every choice of
 * k test groups: C(N, k) splits whose test sets recombine into
 * phi = C(N, k) * k / N complete backtest paths, instead of the single path of a
 * walk-forward test.
 *
 * Observations are in time order: observation i has label start t0[i] and end t1[i]
 * (any int64 time unit: bar index, ms...; t0 non-decreasing, t1[i] >= t0[i]; t1 need not
 * be monotone). Groups are contiguous position blocks as numpy.array_split: with n obs
 * and N groups the first n % N groups hold n / N + 1 observations, the rest n / N.
 *
 * Split s tests the groups of the s-th k-combination of {0..N-1} in lexicographic
 * order. For each test group g with span [a_g, b_g] (a_g = min t0, b_g = max t1 over the
 * group), a training observation i (not in a test group) is removed when its label
 * interval intersects [a_g, b_g + embargo]:  t0[i] <= b_g + embargo && t1[i] >= a_g.
 * embargo >= 0, in the same unit as t0/t1. Purged k-fold is the case k = 1 (N splits,
 * one path).
 *
 * Path p (0 <= p < phi) of group g is the test set of the p-th split (in split order)
 * that tests group g: every group is tested in exactly C(N-1, k-1) = phi splits. */
#ifndef QT_CV_H
#define QT_CV_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QT_CV_MAX_SPLITS 1000000u  /* refuse C(N, k) above this */
#define QT_CV_MAX_TEST_GROUPS 64u  /* refuse k_test above this */

typedef struct qt_cv qt_cv_t;

/* CPCV with n_groups groups, k_test test groups per split. t0/t1: n_obs label intervals
 * (copied; t1 may be NULL: then t1 = t0, i.e. point labels). Requires
 * 2 <= n_groups <= n_obs, 1 <= k_test < n_groups, k_test <= QT_CV_MAX_TEST_GROUPS,
 * C(n_groups, k_test) <=
 * QT_CV_MAX_SPLITS, embargo >= 0, t0 non-decreasing, t1[i] >= t0[i]. NULL on bad input
 * with a message in err (may be NULL) or on OOM. */
qt_cv_t *qt_cv_cpcv_new(size_t n_obs, const int64_t *t0, const int64_t *t1,
                        size_t n_groups, size_t k_test, int64_t embargo,
                        char *err, size_t errlen);
/* Purged k-fold with embargo: qt_cv_cpcv_new(n_obs, t0, t1, k, 1, embargo). Split f
 * tests fold f. */
qt_cv_t *qt_cv_kfold_new(size_t n_obs, const int64_t *t0, const int64_t *t1,
                         size_t k, int64_t embargo, char *err, size_t errlen);
void qt_cv_destroy(qt_cv_t **self_p);

size_t qt_cv_n_obs(const qt_cv_t *self);
size_t qt_cv_n_groups(const qt_cv_t *self);
size_t qt_cv_k_test(const qt_cv_t *self);
size_t qt_cv_n_splits(const qt_cv_t *self);  /* C(N, k) */
size_t qt_cv_n_paths(const qt_cv_t *self);   /* C(N, k) * k / N */
/* Positions [*begin, *end) of group g (g < N). */
void qt_cv_group_range(const qt_cv_t *self, size_t g, size_t *begin, size_t *end);

/* Fills split s (< n_splits): groups[k_test] = its test groups (ascending), test = the
 * test positions (ascending), train = the purged and embargoed training positions
 * (ascending). train and test must each have room for n_obs entries; any of groups,
 * train, test may be NULL when not wanted (their count is still stored if the count
 * pointer is given). Returns 0, or -1 when s is out of range. O(n_obs * k). */
int qt_cv_split(const qt_cv_t *self, size_t s, size_t *groups,
                size_t *train, size_t *n_train, size_t *test, size_t *n_test);

/* Index of the split whose test set supplies group g on backtest path p
 * (p < n_paths, g < n_groups); SIZE_MAX when out of range. */
size_t qt_cv_path_split(const qt_cv_t *self, size_t path, size_t group);

/* C(n, k) saturating at SIZE_MAX (0 when k > n). */
size_t qt_cv_binomial(size_t n, size_t k);

int qt_cv_selftest(bool verbose);
#endif
