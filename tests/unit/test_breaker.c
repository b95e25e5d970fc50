/* qt_breaker: every transition of the closed / open / half-open state machine, with
 * made-up times (the breaker is pure: the caller passes the time). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "qt_breaker.h"

/* M = 3, cool-down 1000 ms: failures count only when consecutive, the 3rd opens,
 * allow() skips until exactly opened_at + 1000, then grants one probe. */
static void test_opens_after_m_consecutive_failures(void **state)
{
    (void)state;
    qt_breaker_t *b = qt_breaker_new(3, 1000);
    assert_non_null(b);
    assert_int_equal(qt_breaker_state(b), QT_BREAKER_CLOSED);
    assert_int_equal(qt_breaker_allow(b, 0), QT_BREAKER_RUN);
    qt_breaker_failure(b, 0);
    qt_breaker_failure(b, 1);
    assert_int_equal(qt_breaker_failures(b), 2);
    qt_breaker_success(b, 2);               /* not consecutive any more */
    assert_int_equal(qt_breaker_failures(b), 0);
    qt_breaker_failure(b, 3);
    qt_breaker_failure(b, 4);
    assert_int_equal(qt_breaker_state(b), QT_BREAKER_CLOSED);
    assert_int_equal(qt_breaker_allow(b, 5), QT_BREAKER_RUN);
    qt_breaker_failure(b, 5000);            /* 3rd consecutive: opens at 5000 */
    assert_int_equal(qt_breaker_state(b), QT_BREAKER_OPEN);
    assert_int_equal(qt_breaker_failures(b), 0);
    assert_string_equal(qt_breaker_state_name(qt_breaker_state(b)), "open");
    for (int64_t t = 5000; t < 6000; t += 111)
        assert_int_equal(qt_breaker_allow(b, t), QT_BREAKER_SKIP);
    assert_int_equal(qt_breaker_allow(b, 5999), QT_BREAKER_SKIP);
    assert_int_equal(qt_breaker_state(b), QT_BREAKER_OPEN);
    /* Reports while open (nothing was attempted) change nothing. */
    qt_breaker_success(b, 5500);
    qt_breaker_failure(b, 5500);
    assert_int_equal(qt_breaker_state(b), QT_BREAKER_OPEN);
    assert_int_equal(qt_breaker_allow(b, 6000), QT_BREAKER_PROBE);
    assert_int_equal(qt_breaker_state(b), QT_BREAKER_HALF_OPEN);
    assert_string_equal(qt_breaker_state_name(qt_breaker_state(b)), "half_open");
    /* Exactly one probe while it is in flight. */
    assert_int_equal(qt_breaker_allow(b, 6001), QT_BREAKER_SKIP);
    assert_int_equal(qt_breaker_allow(b, 6999), QT_BREAKER_SKIP);
    qt_breaker_success(b, 6002);
    assert_int_equal(qt_breaker_state(b), QT_BREAKER_CLOSED);
    assert_int_equal(qt_breaker_failures(b), 0);
    assert_int_equal(qt_breaker_allow(b, 6003), QT_BREAKER_RUN);
    qt_breaker_snapshot_t s;
    qt_breaker_snapshot(b, &s);
    assert_int_equal(s.opens, 1);
    assert_int_equal(s.probes, 1);
    qt_breaker_destroy(&b);
    assert_null(b);
    qt_breaker_destroy(&b);   /* NULL is fine */
    qt_breaker_destroy(NULL);
}

/* A failed probe re-opens at the probe's failure time: a full new cool-down. */
static void test_failed_probe_reopens(void **state)
{
    (void)state;
    qt_breaker_t *b = qt_breaker_new(1, 500);
    assert_non_null(b);
    qt_breaker_failure(b, 100);             /* M = 1: opens at once */
    assert_int_equal(qt_breaker_state(b), QT_BREAKER_OPEN);
    assert_int_equal(qt_breaker_allow(b, 600), QT_BREAKER_PROBE);
    qt_breaker_failure(b, 650);
    assert_int_equal(qt_breaker_state(b), QT_BREAKER_OPEN);
    assert_int_equal(qt_breaker_allow(b, 1100), QT_BREAKER_SKIP);   /* 650 + 500 > 1100 */
    assert_int_equal(qt_breaker_allow(b, 1149), QT_BREAKER_SKIP);
    assert_int_equal(qt_breaker_allow(b, 1150), QT_BREAKER_PROBE);
    qt_breaker_success(b, 1151);
    assert_int_equal(qt_breaker_state(b), QT_BREAKER_CLOSED);
    qt_breaker_snapshot_t s;
    qt_breaker_snapshot(b, &s);
    assert_int_equal(s.opens, 2);
    assert_int_equal(s.probes, 2);
    qt_breaker_destroy(&b);
}

/* A probe that never reports is given up after another cool-down. */
static void test_lost_probe(void **state)
{
    (void)state;
    qt_breaker_t *b = qt_breaker_new(1, 100);
    qt_breaker_failure(b, 0);
    assert_int_equal(qt_breaker_allow(b, 100), QT_BREAKER_PROBE);
    assert_int_equal(qt_breaker_allow(b, 199), QT_BREAKER_SKIP);
    assert_int_equal(qt_breaker_allow(b, 200), QT_BREAKER_PROBE);
    assert_int_equal(qt_breaker_state(b), QT_BREAKER_HALF_OPEN);
    qt_breaker_failure(b, 201);
    assert_int_equal(qt_breaker_state(b), QT_BREAKER_OPEN);
    qt_breaker_destroy(&b);
}

/* Cool-down 0: the next allow() after an open is the probe. */
static void test_zero_cooldown(void **state)
{
    (void)state;
    qt_breaker_t *b = qt_breaker_new(2, 0);
    qt_breaker_failure(b, 7);
    qt_breaker_failure(b, 7);
    assert_int_equal(qt_breaker_state(b), QT_BREAKER_OPEN);
    assert_int_equal(qt_breaker_allow(b, 7), QT_BREAKER_PROBE);
    qt_breaker_success(b, 7);
    assert_int_equal(qt_breaker_state(b), QT_BREAKER_CLOSED);
    qt_breaker_destroy(&b);
}

/* Time going backwards restarts the cool-down from the earlier time; extreme times
 * never overflow. */
static void test_clock_backwards_and_extremes(void **state)
{
    (void)state;
    qt_breaker_t *b = qt_breaker_new(1, 1000);
    qt_breaker_failure(b, 1000000);
    assert_int_equal(qt_breaker_allow(b, 5), QT_BREAKER_SKIP);     /* re-anchored at 5 */
    assert_int_equal(qt_breaker_allow(b, 1004), QT_BREAKER_SKIP);
    assert_int_equal(qt_breaker_allow(b, 1005), QT_BREAKER_PROBE);
    qt_breaker_failure(b, INT64_MIN);
    assert_int_equal(qt_breaker_allow(b, INT64_MAX), QT_BREAKER_PROBE);
    qt_breaker_failure(b, INT64_MAX);
    assert_int_equal(qt_breaker_allow(b, INT64_MAX), QT_BREAKER_SKIP);
    assert_int_equal(qt_breaker_allow(b, INT64_MIN), QT_BREAKER_SKIP);
    assert_int_equal(qt_breaker_allow(b, INT64_MIN + 1000), QT_BREAKER_PROBE);
    qt_breaker_destroy(&b);
}

static void test_snapshot_restore(void **state)
{
    (void)state;
    qt_breaker_t *a = qt_breaker_new(3, 250), *b = qt_breaker_new(3, 250);
    assert_non_null(a);
    assert_non_null(b);
    qt_breaker_failure(a, 1);
    qt_breaker_failure(a, 2);
    qt_breaker_failure(a, 3);
    qt_breaker_snapshot_t s;
    qt_breaker_snapshot(a, &s);
    assert_int_equal(s.state, QT_BREAKER_OPEN);
    assert_int_equal(s.opened_at_ms, 3);
    assert_true(qt_breaker_restore(b, &s));
    /* The restored breaker behaves exactly like the original. */
    assert_int_equal(qt_breaker_allow(b, 252), QT_BREAKER_SKIP);
    assert_int_equal(qt_breaker_allow(a, 252), QT_BREAKER_SKIP);
    assert_int_equal(qt_breaker_allow(b, 253), QT_BREAKER_PROBE);
    assert_int_equal(qt_breaker_allow(a, 253), QT_BREAKER_PROBE);
    /* A half-open snapshot (killed mid-probe) probes again after a cool-down. */
    qt_breaker_snapshot(a, &s);
    assert_int_equal(s.state, QT_BREAKER_HALF_OPEN);
    qt_breaker_t *c = qt_breaker_new(3, 250);
    assert_true(qt_breaker_restore(c, &s));
    assert_int_equal(qt_breaker_allow(c, 300), QT_BREAKER_SKIP);
    assert_int_equal(qt_breaker_allow(c, 503), QT_BREAKER_PROBE);

    /* Inconsistent snapshots are refused and leave the state alone. */
    qt_breaker_snapshot_t bad = {.state = QT_BREAKER_CLOSED, .failures = 3};
    assert_false(qt_breaker_restore(c, &bad));
    bad = (qt_breaker_snapshot_t){.state = QT_BREAKER_OPEN, .failures = 1};
    assert_false(qt_breaker_restore(c, &bad));
    bad = (qt_breaker_snapshot_t){.state = (qt_breaker_state_t)7};
    assert_false(qt_breaker_restore(c, &bad));
    assert_int_equal(qt_breaker_state(c), QT_BREAKER_HALF_OPEN);
    bad = (qt_breaker_snapshot_t){.state = QT_BREAKER_CLOSED, .failures = 2};
    assert_true(qt_breaker_restore(c, &bad));
    qt_breaker_failure(c, 0);
    assert_int_equal(qt_breaker_state(c), QT_BREAKER_OPEN);
    assert_string_equal(qt_breaker_state_name((qt_breaker_state_t)9), "unknown");
    qt_breaker_destroy(&a);
    qt_breaker_destroy(&b);
    qt_breaker_destroy(&c);
}

static void test_bad_parameters(void **state)
{
    (void)state;
    assert_null(qt_breaker_new(0, 100));
    assert_null(qt_breaker_new(1000001, 100));
    assert_null(qt_breaker_new(1, -1));
    assert_null(qt_breaker_new(1, 86400001));
    qt_breaker_t *b = qt_breaker_new(1000000, 86400000);
    assert_non_null(b);
    qt_breaker_destroy(&b);
}

static void test_selftest(void **state)
{
    (void)state;
    assert_int_equal(qt_breaker_selftest(false), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opens_after_m_consecutive_failures),
        cmocka_unit_test(test_failed_probe_reopens),
        cmocka_unit_test(test_lost_probe),
        cmocka_unit_test(test_zero_cooldown),
        cmocka_unit_test(test_clock_backwards_and_extremes),
        cmocka_unit_test(test_snapshot_restore),
        cmocka_unit_test(test_bad_parameters),
        cmocka_unit_test(test_selftest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
