/* Unit tests: libs/quant/qt_cv. CPCV counts from AFML ch. 12 (N = 6, k = 2: 15 splits,
 * 5 paths), hand-worked purging and embargo, the array_split group sizes, and the
 * no-leak property checked by brute force on overlapping labels. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qt_cv.h"
#include "qt_rng.h"

static void test_binomial(void **state) {
    (void)state;
    assert_int_equal(qt_cv_binomial(6, 2), 15);
    assert_int_equal(qt_cv_binomial(16, 8), 12870);
    assert_int_equal(qt_cv_binomial(10, 0), 1);
    assert_int_equal(qt_cv_binomial(3, 4), 0);
    assert_int_equal(qt_cv_binomial(60, 30), 118264581564861424ULL);
    assert_true(qt_cv_binomial(200, 100) == SIZE_MAX);
}

/* AFML ch. 12.4: N = 6 groups, k = 2 test groups -> C(6,2) = 15 splits and
 * phi = 15 * 2 / 6 = 5 backtest paths; each group is tested in C(5,1) = 5 splits. */
static void test_cpcv_counts_and_paths(void **state) {
    (void)state;
    int64_t t0[30];
    for (int i = 0; i < 30; i++) t0[i] = i;
    char err[128];
    qt_cv_t *cv = qt_cv_cpcv_new(30, t0, NULL, 6, 2, 0, err, sizeof err);
    assert_non_null(cv);
    assert_int_equal(qt_cv_n_splits(cv), 15);
    assert_int_equal(qt_cv_n_paths(cv), 5);
    /* lexicographic order of the test-group pairs */
    size_t g[2], n_train, n_test, train[30], test[30];
    assert_int_equal(qt_cv_split(cv, 0, g, train, &n_train, test, &n_test), 0);
    assert_true(g[0] == 0 && g[1] == 1);
    assert_int_equal(n_test, 10);
    assert_int_equal(n_train, 20);
    assert_int_equal(qt_cv_split(cv, 14, g, NULL, NULL, NULL, NULL), 0);
    assert_true(g[0] == 4 && g[1] == 5);
    assert_int_equal(qt_cv_split(cv, 5, g, NULL, NULL, NULL, NULL), 0);
    assert_true(g[0] == 1 && g[1] == 2);
    assert_int_equal(qt_cv_split(cv, 15, g, NULL, NULL, NULL, NULL), -1);
    /* paths: path p of group g = the p-th split (in order) testing g */
    for (size_t p = 0; p < 5; p++)
        for (size_t grp = 0; grp < 6; grp++) {
            size_t seen = 0, want = SIZE_MAX;
            for (size_t s = 0; s < 15; s++) {
                qt_cv_split(cv, s, g, NULL, NULL, NULL, NULL);
                if (g[0] == grp || g[1] == grp) {
                    if (seen == p) want = s;
                    seen++;
                }
            }
            assert_int_equal(seen, 5);
            assert_int_equal(qt_cv_path_split(cv, p, grp), want);
        }
    assert_true(qt_cv_path_split(cv, 5, 0) == SIZE_MAX);
    assert_true(qt_cv_path_split(cv, 0, 6) == SIZE_MAX);
    qt_cv_destroy(&cv);
    assert_null(cv);
    qt_cv_destroy(&cv);
}

/* 11 observations in 4 groups: numpy.array_split sizes 3, 3, 3, 2. */
static void test_group_sizes(void **state) {
    (void)state;
    int64_t t0[11];
    for (int i = 0; i < 11; i++) t0[i] = i;
    qt_cv_t *cv = qt_cv_kfold_new(11, t0, NULL, 4, 0, NULL, 0);
    assert_non_null(cv);
    size_t b, e;
    qt_cv_group_range(cv, 0, &b, &e);
    assert_true(b == 0 && e == 3);
    qt_cv_group_range(cv, 2, &b, &e);
    assert_true(b == 6 && e == 9);
    qt_cv_group_range(cv, 3, &b, &e);
    assert_true(b == 9 && e == 11);
    assert_int_equal(qt_cv_n_splits(cv), 4);
    assert_int_equal(qt_cv_n_paths(cv), 1);
    assert_int_equal(qt_cv_k_test(cv), 1);
    assert_int_equal(qt_cv_n_groups(cv), 4);
    assert_int_equal(qt_cv_n_obs(cv), 11);
    qt_cv_destroy(&cv);
}

/* Hand-worked purge + embargo: 10 obs, labels t1 = t0 + 1, 5 folds, embargo 1.
 * Test fold 2 = {4, 5}: span [4, 6], embargoed to 7. Obs 3 (label [3,4]) overlaps ->
 * purged; 6 ([6,7]) overlaps; 7 ([7,8]) starts inside the embargo -> dropped; 2 ([2,3])
 * and 8 ([8,9]) stay. Train = {0, 1, 2, 8, 9}. */
static void test_purge_embargo_hand(void **state) {
    (void)state;
    int64_t t0[10], t1[10];
    for (int i = 0; i < 10; i++) t0[i] = i, t1[i] = i + 1;
    qt_cv_t *cv = qt_cv_kfold_new(10, t0, t1, 5, 1, NULL, 0);
    assert_non_null(cv);
    size_t train[10], test[10], nt, ne, g;
    assert_int_equal(qt_cv_split(cv, 2, &g, train, &nt, test, &ne), 0);
    assert_int_equal(g, 2);
    assert_int_equal(ne, 2);
    assert_true(test[0] == 4 && test[1] == 5);
    const size_t want[] = {0, 1, 2, 8, 9};
    assert_int_equal(nt, 5);
    for (int i = 0; i < 5; i++) assert_int_equal(train[i], want[i]);
    /* without embargo 7 comes back */
    qt_cv_destroy(&cv);
    cv = qt_cv_kfold_new(10, t0, t1, 5, 0, NULL, 0);
    assert_int_equal(qt_cv_split(cv, 2, NULL, train, &nt, NULL, NULL), 0);
    assert_int_equal(nt, 6);
    assert_int_equal(train[3], 7);
    /* the first fold: purge only after it */
    assert_int_equal(qt_cv_split(cv, 0, NULL, train, &nt, NULL, NULL), 0);
    assert_int_equal(train[0], 3); /* 2 ([2,3]) overlaps fold 0's span [0, 2] */
    qt_cv_destroy(&cv);
}

/* Overlapping random-length labels (a triple-barrier-like t1): for every CPCV split no
 * training label may intersect any test label's span extended by the embargo, train
 * and test are disjoint, and everything not purged is in train (brute force). */
static void test_no_leak_brute_force(void **state) {
    (void)state;
    const size_t n = 500;
    int64_t t0[500], t1[500];
    qt_rng_t r;
    qt_rng_seed(&r, 5);
    for (size_t i = 0; i < n; i++) {
        t0[i] = (int64_t)i * 10;                       /* e.g. ms timestamps */
        t1[i] = t0[i] + (int64_t)qt_rng_below(&r, 200); /* up to 20 bars ahead */
    }
    const int64_t emb = 35;
    qt_cv_t *cv = qt_cv_cpcv_new(n, t0, t1, 8, 3, emb, NULL, 0);
    assert_non_null(cv);
    assert_int_equal(qt_cv_n_splits(cv), 56);
    assert_int_equal(qt_cv_n_paths(cv), 21);
    size_t *train = malloc(n * sizeof *train), *test = malloc(n * sizeof *test);
    for (size_t s = 0; s < 56; s++) {
        size_t g[3], nt, ne;
        assert_int_equal(qt_cv_split(cv, s, g, train, &nt, test, &ne), 0);
        bool is_test[500] = {false}, is_train[500] = {false};
        for (size_t i = 0; i < ne; i++) is_test[test[i]] = true;
        for (size_t i = 0; i < nt; i++) {
            assert_false(is_test[train[i]]);
            is_train[train[i]] = true;
            if (i) assert_true(train[i] > train[i - 1]);
        }
        for (size_t i = 0; i < n; i++) {
            if (is_test[i]) continue;
            bool leak = false;
            for (int k = 0; k < 3; k++) {
                size_t b, e;
                qt_cv_group_range(cv, g[k], &b, &e);
                for (size_t j = b; j < e; j++)
                    if (t0[i] <= t1[j] + emb && t1[i] >= t0[j]) leak = true;
            }
            /* pointwise test-label overlap is the same as the group span overlap here
             * because t0 is increasing and labels are contiguous intervals */
            assert_true(is_train[i] == !leak);
        }
    }
    free(train);
    free(test);
    qt_cv_destroy(&cv);
}

static void test_bad_args(void **state) {
    (void)state;
    int64_t t0[10], t1[10];
    for (int i = 0; i < 10; i++) t0[i] = i, t1[i] = i;
    char err[128];
    assert_null(qt_cv_cpcv_new(10, t0, t1, 1, 1, 0, err, sizeof err));
    assert_null(qt_cv_cpcv_new(10, t0, t1, 11, 1, 0, err, sizeof err));
    assert_null(qt_cv_cpcv_new(10, t0, t1, 5, 5, 0, err, sizeof err));
    assert_null(qt_cv_cpcv_new(10, t0, t1, 5, 2, -1, err, sizeof err));
    assert_string_equal(err, "embargo must be >= 0");
    t1[3] = 2;
    assert_null(qt_cv_cpcv_new(10, t0, t1, 5, 2, 0, err, sizeof err));
    assert_string_equal(err, "t1 must be >= t0");
    t0[5] = 1;
    assert_null(qt_cv_cpcv_new(10, t0, NULL, 5, 2, 0, err, sizeof err));
    assert_string_equal(err, "t0 must be non-decreasing");
    assert_null(qt_cv_cpcv_new(10, NULL, NULL, 5, 2, 0, NULL, 0));
    /* too many splits: C(40, 20) > 1e6 */
    int64_t big[40];
    for (int i = 0; i < 40; i++) big[i] = i;
    assert_null(qt_cv_cpcv_new(40, big, NULL, 40, 20, 0, err, sizeof err));
    /* saturating embargo */
    qt_cv_t *cv = qt_cv_kfold_new(40, big, NULL, 4, INT64_MAX, NULL, 0);
    assert_non_null(cv);
    size_t nt;
    assert_int_equal(qt_cv_split(cv, 0, NULL, NULL, &nt, NULL, NULL), 0);
    assert_int_equal(nt, 0); /* everything after fold 0 is embargoed */
    qt_cv_destroy(&cv);
}

static void test_selftest(void **state) {
    (void)state;
    assert_int_equal(qt_cv_selftest(false), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binomial),
        cmocka_unit_test(test_cpcv_counts_and_paths),
        cmocka_unit_test(test_group_sizes),
        cmocka_unit_test(test_purge_embargo_hand),
        cmocka_unit_test(test_no_leak_brute_force),
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_selftest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
