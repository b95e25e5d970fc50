/* qt_cv: purged k-fold and combinatorial purged cross-validation (see qt_cv.h).
 *
 * Splits are produced on demand from their index (lexicographic unranking of the
 * k-combination), so memory is O(n_obs + N) whatever C(N, k) is. Paths use the fact that
 * the combinations containing group g, in lexicographic order, are exactly the
 * (k-1)-combinations of the other N-1 groups in lexicographic order (removing g keeps
 * the order), so "the p-th split testing g" is rank(unrank_{N-1,k-1}(p) + g). */
#include "qt_cv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct qt_cv {
    size_t n, ngroups, k;
    size_t n_splits, n_paths;
    int64_t embargo;
    int64_t *t0, *t1;
    size_t *gbeg;            /* ngroups + 1 boundaries */
    int64_t *ga, *gb;        /* group span: min t0, max t1 */
};

size_t qt_cv_binomial(size_t n, size_t k) {
    if (k > n) return 0;
    if (k > n - k) k = n - k;
    size_t c = 1;
    for (size_t i = 0; i < k; i++) {
        size_t m;
        if (__builtin_mul_overflow(c, n - i, &m)) return SIZE_MAX;
        c = m / (i + 1); /* exact: c * (n - i) is C(n, i+1) * (i+1) */
    }
    return c;
}

static void set_err(char *err, size_t errlen, const char *msg) {
    if (err && errlen) snprintf(err, errlen, "%s", msg);
}

qt_cv_t *qt_cv_cpcv_new(size_t n_obs, const int64_t *t0, const int64_t *t1,
                        size_t n_groups, size_t k_test, int64_t embargo,
                        char *err, size_t errlen) {
    if (!t0) return set_err(err, errlen, "t0 is NULL"), NULL;
    if (n_groups < 2 || n_groups > n_obs)
        return set_err(err, errlen, "need 2 <= groups <= observations"), NULL;
    if (k_test < 1 || k_test >= n_groups)
        return set_err(err, errlen, "need 1 <= test groups < groups"), NULL;
    if (k_test > QT_CV_MAX_TEST_GROUPS)
        return set_err(err, errlen, "too many test groups"), NULL;
    if (embargo < 0) return set_err(err, errlen, "embargo must be >= 0"), NULL;
    size_t ns = qt_cv_binomial(n_groups, k_test);
    if (ns > QT_CV_MAX_SPLITS)
        return set_err(err, errlen, "C(groups, test groups) exceeds the split limit"), NULL;
    for (size_t i = 0; i < n_obs; i++) {
        if (i > 0 && t0[i] < t0[i - 1])
            return set_err(err, errlen, "t0 must be non-decreasing"), NULL;
        if (t1 && t1[i] < t0[i]) return set_err(err, errlen, "t1 must be >= t0"), NULL;
    }
    qt_cv_t *self = calloc(1, sizeof *self);
    if (!self) return set_err(err, errlen, "out of memory"), NULL;
    self->n = n_obs;
    self->ngroups = n_groups;
    self->k = k_test;
    self->n_splits = ns;
    self->n_paths = ns * k_test / n_groups; /* = C(N-1, k-1), exact */
    self->embargo = embargo;
    self->t0 = malloc(n_obs * sizeof *self->t0);
    self->t1 = malloc(n_obs * sizeof *self->t1);
    self->gbeg = malloc((n_groups + 1) * sizeof *self->gbeg);
    self->ga = malloc(n_groups * sizeof *self->ga);
    self->gb = malloc(n_groups * sizeof *self->gb);
    if (!self->t0 || !self->t1 || !self->gbeg || !self->ga || !self->gb) {
        qt_cv_destroy(&self);
        return set_err(err, errlen, "out of memory"), NULL;
    }
    memcpy(self->t0, t0, n_obs * sizeof *t0);
    memcpy(self->t1, t1 ? t1 : t0, n_obs * sizeof *t0);
    /* numpy.array_split: the first n % N groups get one extra observation. */
    size_t q = n_obs / n_groups, r = n_obs % n_groups, pos = 0;
    for (size_t g = 0; g < n_groups; g++) {
        self->gbeg[g] = pos;
        pos += q + (g < r ? 1 : 0);
    }
    self->gbeg[n_groups] = n_obs;
    for (size_t g = 0; g < n_groups; g++) {
        size_t b = self->gbeg[g], e = self->gbeg[g + 1];
        self->ga[g] = self->t0[b];
        int64_t mx = self->t1[b];
        for (size_t i = b + 1; i < e; i++)
            if (self->t1[i] > mx) mx = self->t1[i];
        /* b_g + embargo, saturating */
        self->gb[g] = mx > INT64_MAX - embargo ? INT64_MAX : mx + embargo;
    }
    return self;
}

qt_cv_t *qt_cv_kfold_new(size_t n_obs, const int64_t *t0, const int64_t *t1,
                         size_t k, int64_t embargo, char *err, size_t errlen) {
    return qt_cv_cpcv_new(n_obs, t0, t1, k, 1, embargo, err, errlen);
}

void qt_cv_destroy(qt_cv_t **self_p) {
    if (!self_p || !*self_p) return;
    qt_cv_t *self = *self_p;
    free(self->t0);
    free(self->t1);
    free(self->gbeg);
    free(self->ga);
    free(self->gb);
    free(self);
    *self_p = NULL;
}

size_t qt_cv_n_obs(const qt_cv_t *self) { return self->n; }
size_t qt_cv_n_groups(const qt_cv_t *self) { return self->ngroups; }
size_t qt_cv_k_test(const qt_cv_t *self) { return self->k; }
size_t qt_cv_n_splits(const qt_cv_t *self) { return self->n_splits; }
size_t qt_cv_n_paths(const qt_cv_t *self) { return self->n_paths; }

void qt_cv_group_range(const qt_cv_t *self, size_t g, size_t *begin, size_t *end) {
    if (g >= self->ngroups) g = self->ngroups - 1;
    if (begin) *begin = self->gbeg[g];
    if (end) *end = self->gbeg[g + 1];
}

/* r-th (0-based) k-combination of {0..n-1} in lexicographic order (r < C(n, k)). */
static void unrank(size_t n, size_t k, size_t r, size_t *c) {
    size_t v = 0;
    for (size_t i = 0; i < k; i++) {
        for (;;) {
            size_t cnt = qt_cv_binomial(n - 1 - v, k - 1 - i); /* combos starting at v */
            if (r < cnt) break;
            r -= cnt;
            v++;
        }
        c[i] = v++;
    }
}

static size_t rank(size_t n, size_t k, const size_t *c) {
    size_t r = 0, v = 0;
    for (size_t i = 0; i < k; i++) {
        for (; v < c[i]; v++) r += qt_cv_binomial(n - 1 - v, k - 1 - i);
        v = c[i] + 1;
    }
    return r;
}

int qt_cv_split(const qt_cv_t *self, size_t s, size_t *groups,
                size_t *train, size_t *n_train, size_t *test, size_t *n_test) {
    if (!self || s >= self->n_splits) return -1;
    size_t k = self->k;
    size_t gs[QT_CV_MAX_TEST_GROUPS];
    unrank(self->ngroups, k, s, gs);
    if (groups) memcpy(groups, gs, k * sizeof *gs);
    size_t ntr = 0, nte = 0, gi = 0;
    for (size_t i = 0; i < self->n; i++) {
        while (gi < k && i >= self->gbeg[gs[gi] + 1]) gi++;
        if (gi < k && i >= self->gbeg[gs[gi]]) { /* test position */
            if (test) test[nte] = i;
            nte++;
            continue;
        }
        bool keep = true;
        for (size_t j = 0; j < k && keep; j++) {
            size_t g = gs[j];
            if (self->t0[i] <= self->gb[g] && self->t1[i] >= self->ga[g]) keep = false;
        }
        if (keep) {
            if (train) train[ntr] = i;
            ntr++;
        }
    }
    if (n_train) *n_train = ntr;
    if (n_test) *n_test = nte;
    return 0;
}

size_t qt_cv_path_split(const qt_cv_t *self, size_t path, size_t group) {
    if (!self || path >= self->n_paths || group >= self->ngroups) return SIZE_MAX;
    size_t k = self->k, N = self->ngroups;
    size_t c[QT_CV_MAX_TEST_GROUPS];
    unrank(N - 1, k - 1, path, c); /* the other k-1 groups, labels skipping `group` */
    size_t full[QT_CV_MAX_TEST_GROUPS], j = 0;
    bool placed = false;
    for (size_t i = 0; i < k - 1; i++) {
        size_t v = c[i] >= group ? c[i] + 1 : c[i];
        if (!placed && v > group) {
            full[j++] = group;
            placed = true;
        }
        full[j++] = v;
    }
    if (!placed) full[j++] = group;
    return rank(N, k, full);
}

/* AFML ch. 12 example: N = 6, k = 2 gives 15 splits and 5 paths; every split of every
 * group on every path must test that group, and each split is used exactly k times. */
int qt_cv_selftest(bool verbose) {
    int fails = 0;
    int64_t t0[60];
    for (int i = 0; i < 60; i++) t0[i] = i;
    qt_cv_t *cv = qt_cv_cpcv_new(60, t0, NULL, 6, 2, 0, NULL, 0);
    if (!cv) return 1;
    if (qt_cv_n_splits(cv) != 15 || qt_cv_n_paths(cv) != 5) fails++;
    int used[15] = {0};
    for (size_t p = 0; p < 5; p++)
        for (size_t g = 0; g < 6; g++) {
            size_t s = qt_cv_path_split(cv, p, g), gs[2];
            if (s >= 15 || qt_cv_split(cv, s, gs, NULL, NULL, NULL, NULL) != 0) {
                fails++;
                continue;
            }
            used[s]++;
            if (gs[0] != g && gs[1] != g) fails++;
        }
    for (int s = 0; s < 15; s++)
        if (used[s] != 2) fails++;
    qt_cv_destroy(&cv);
    if (verbose) printf("qt_cv selftest: %d failures\n", fails);
    return fails;
}
