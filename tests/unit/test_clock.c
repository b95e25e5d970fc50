/* Tests for qt_clock: simulated time only moves forward and only when told to;
 * wall time is real and monotonic time measures sleeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>

#include "qt_clock.h"

static void test_selftest(void **state)
{
    (void)state;
    assert_int_equal(qt_clock_selftest(false), 0);
}

static void test_sim_basic(void **state)
{
    (void)state;
    qt_clock_t *c = qt_clock_new_sim(1700000000123456789LL);
    assert_non_null(c);
    assert_true(qt_clock_is_sim(c));
    assert_true(qt_clock_now_ns(c) == 1700000000123456789LL);
    assert_true(qt_clock_now_ms(c) == 1700000000123LL);
    assert_true(qt_clock_mono_ns(c) == 1700000000123456789LL);
    /* does not move by itself */
    assert_true(qt_clock_now_ns(c) == 1700000000123456789LL);
    assert_int_equal(qt_clock_advance(c, 1000000), 0);
    assert_true(qt_clock_now_ms(c) == 1700000000124LL);
    qt_clock_destroy(&c);
    assert_null(c);
    qt_clock_destroy(&c); /* NULL-safe */
    qt_clock_destroy(NULL);
}

static void test_sim_never_goes_back(void **state)
{
    (void)state;
    qt_clock_t *c = qt_clock_new_sim(5000);
    assert_int_equal(qt_clock_set(c, 4999), -1);
    assert_true(qt_clock_now_ns(c) == 5000);
    assert_int_equal(qt_clock_set(c, 5000), 0); /* same time is fine */
    assert_int_equal(qt_clock_advance(c, -1), -1);
    assert_true(qt_clock_now_ns(c) == 5000);
    assert_int_equal(qt_clock_advance(c, 0), 0);
    assert_int_equal(qt_clock_set(c, INT64_MAX - 10), 0);
    assert_int_equal(qt_clock_advance(c, 11), -1); /* would overflow */
    assert_true(qt_clock_now_ns(c) == INT64_MAX - 10);
    qt_clock_sleep_ns(c, 100); /* saturates, never wraps */
    assert_true(qt_clock_now_ns(c) == INT64_MAX);
    qt_clock_destroy(&c);
}

static void test_sim_sleep_advances(void **state)
{
    (void)state;
    qt_clock_t *c = qt_clock_new_sim(0);
    qt_clock_sleep_ns(c, 250);
    qt_clock_sleep_ns(c, 0);
    qt_clock_sleep_ns(c, -5); /* ignored */
    assert_true(qt_clock_now_ns(c) == 250);
    qt_clock_destroy(&c);
}

static void test_sim_negative_ms_floor(void **state)
{
    (void)state;
    qt_clock_t *c = qt_clock_new_sim(-1);
    assert_true(qt_clock_now_ms(c) == -1); /* floor, not truncation */
    qt_clock_destroy(&c);
}

static void *advancer(void *arg)
{
    qt_clock_t *c = arg;
    for (int i = 0; i < 10000; i++)
        qt_clock_advance(c, 1);
    return NULL;
}

static void test_sim_concurrent_advance(void **state)
{
    (void)state;
    qt_clock_t *c = qt_clock_new_sim(0);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, advancer, c), 0);
    int64_t prev = 0;
    for (int i = 0; i < 1000; i++) {
        int64_t now = qt_clock_now_ns(c);
        assert_true(now >= prev);
        prev = now;
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_true(qt_clock_now_ns(c) == 40000);
    qt_clock_destroy(&c);
}

static void test_wall(void **state)
{
    (void)state;
    qt_clock_t *w = qt_clock_new_wall();
    assert_non_null(w);
    assert_false(qt_clock_is_sim(w));
    assert_int_equal(qt_clock_advance(w, 10), -1);
    assert_int_equal(qt_clock_set(w, 10), -1);
    int64_t n0 = qt_clock_now_ns(w);
    assert_true(n0 > 1577836800LL * 1000000000LL); /* after 2020-01-01 */
    int64_t ms = qt_clock_now_ms(w);
    assert_true(ms >= n0 / 1000000);
    int64_t m0 = qt_clock_mono_ns(w);
    qt_clock_sleep_ns(w, 20 * 1000000LL);
    int64_t m1 = qt_clock_mono_ns(w);
    assert_true(m1 - m0 >= 20 * 1000000LL);
    assert_true(m1 - m0 < 5000 * 1000000LL);
    assert_true(qt_clock_now_ns(w) >= n0);
    qt_clock_destroy(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selftest),
        cmocka_unit_test(test_sim_basic),
        cmocka_unit_test(test_sim_never_goes_back),
        cmocka_unit_test(test_sim_sleep_advances),
        cmocka_unit_test(test_sim_negative_ms_floor),
        cmocka_unit_test(test_sim_concurrent_advance),
        cmocka_unit_test(test_wall),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
