/* test_watchdog: dead-man's switch decisions with a simulated clock: stale after the
 * SLA (not at it), grace period at start, required vs optional, reason text, and
 * the watchdog never lowers (or re-raises over) a tier >= NO_NEW. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "qt_clock.h"
#include "watchdog/watchdog.h"

#define NORMAL QT__V1__KILL_SWITCH_TIER__KS_NORMAL
#define WARN QT__V1__KILL_SWITCH_TIER__KS_WARN
#define THROTTLE QT__V1__KILL_SWITCH_TIER__KS_THROTTLE
#define NO_NEW QT__V1__KILL_SWITCH_TIER__KS_NO_NEW
#define FLATTEN QT__V1__KILL_SWITCH_TIER__KS_FLATTEN_ALL
#define UNKNOWN QT__V1__KILL_SWITCH_TIER__KS_UNKNOWN

static const watchdog_sla_t SLAS[] = {
    {"qt-risk", 3000, true},
    {"qt-exec", 5000, true},
    {"qt-models", 2000, false},
};

static int64_t now(qt_clock_t *c) { return qt_clock_now_ms(c); }
static void adv(qt_clock_t *c, int64_t ms) { assert_int_equal(qt_clock_advance(c, ms * 1000000LL), 0); }

static void test_stale_after_sla(void **state)
{
    (void)state;
    qt_clock_t *clk = qt_clock_new_sim(1700000000000LL * 1000000LL);
    int64_t t0 = now(clk);
    watchdog_t *w = watchdog_new(SLAS, 3, -1, t0);
    assert_non_null(w);
    watchdog_decision_t d;
    /* everyone beats every second for 10 s: nothing is stale */
    for (int i = 0; i < 10; i++) {
        adv(clk, 1000);
        assert_int_equal(watchdog_heartbeat(w, "qt-risk", now(clk)), 0);
        assert_int_equal(watchdog_heartbeat(w, "qt-exec", now(clk)), 0);
        assert_int_equal(watchdog_heartbeat(w, "qt-models", now(clk)), 0);
        watchdog_evaluate(w, now(clk), NORMAL, &d);
        assert_false(d.raise);
        assert_int_equal(d.stale, 0);
    }
    assert_int_equal(watchdog_heartbeat(w, "qt-unknown", now(clk)), -1);
    /* qt-risk goes silent at t = 10 s; exec keeps beating */
    int64_t last = now(clk);
    for (int i = 0; i < 3; i++) {
        adv(clk, 1000);
        watchdog_heartbeat(w, "qt-exec", now(clk));
        watchdog_heartbeat(w, "qt-models", now(clk));
    }
    watchdog_evaluate(w, now(clk), NORMAL, &d); /* exactly at the SLA (3000 ms): not yet */
    assert_false(d.raise);
    adv(clk, 1);
    watchdog_evaluate(w, now(clk), NORMAL, &d);
    assert_true(d.raise);
    assert_int_equal(d.stale_required, 1);
    assert_int_equal(d.stale, 1);
    assert_string_equal(d.service, "qt-risk");
    assert_string_equal(d.reason, "heartbeat missing: qt-risk (3001 ms > sla 3000 ms)");
    assert_int_equal(now(clk) - last, 3001);
    /* WARN and THROTTLE are below NO_NEW: still raise */
    watchdog_evaluate(w, now(clk), WARN, &d);
    assert_true(d.raise);
    watchdog_evaluate(w, now(clk), THROTTLE, &d);
    assert_true(d.raise);
    /* never lowers or rewrites: NO_NEW, FLATTEN_ALL, UNKNOWN (fail closed) */
    watchdog_evaluate(w, now(clk), NO_NEW, &d);
    assert_false(d.raise);
    assert_int_equal(d.stale_required, 1);
    watchdog_evaluate(w, now(clk), FLATTEN, &d);
    assert_false(d.raise);
    watchdog_evaluate(w, now(clk), UNKNOWN, &d);
    assert_false(d.raise);
    /* it comes back: no longer stale */
    watchdog_heartbeat(w, "qt-risk", now(clk));
    watchdog_evaluate(w, now(clk), NORMAL, &d);
    assert_false(d.raise);
    assert_int_equal(d.stale, 0);
    /* an optional service going silent is reported but does not trigger */
    adv(clk, 2500);
    watchdog_heartbeat(w, "qt-risk", now(clk));
    watchdog_heartbeat(w, "qt-exec", now(clk));
    watchdog_evaluate(w, now(clk), NORMAL, &d);
    assert_int_equal(d.stale, 1);
    assert_int_equal(d.stale_required, 0);
    assert_false(d.raise);
    watchdog_destroy(&w);
    qt_clock_destroy(&clk);
}

static void test_grace_period(void **state)
{
    (void)state;
    qt_clock_t *clk = qt_clock_new_sim(1000LL * 1000000LL);
    int64_t t0 = now(clk);
    watchdog_decision_t d;
    /* default grace = each SLA: a service never seen trips just after its SLA */
    watchdog_t *w = watchdog_new(SLAS, 3, -1, t0);
    adv(clk, 3000);
    watchdog_evaluate(w, now(clk), NORMAL, &d);
    assert_false(d.raise);
    adv(clk, 1);
    watchdog_evaluate(w, now(clk), NORMAL, &d);
    assert_true(d.raise);
    assert_string_equal(d.reason, "heartbeat missing: qt-risk (3001 ms > sla 3000 ms)");
    assert_int_equal(d.stale, 2); /* risk + models (2000) ; exec (5000) not yet */
    watchdog_destroy(&w);
    /* explicit 20 s grace: nothing counts before it, everything missing after it */
    w = watchdog_new(SLAS, 3, 20000, t0);
    watchdog_heartbeat(w, "qt-exec", t0 + 100);
    watchdog_evaluate(w, t0 + 19999, NORMAL, &d);
    assert_false(d.raise);
    assert_int_equal(d.stale, 0);
    watchdog_evaluate(w, t0 + 20000, NORMAL, &d);
    assert_true(d.raise);
    assert_int_equal(d.stale_required, 2);
    assert_string_equal(d.reason, "heartbeat missing: qt-risk (20000 ms > sla 3000 ms)");
    watchdog_destroy(&w);
    /* bad configs are refused */
    watchdog_sla_t bad = {"qt-x", 0, true};
    assert_null(watchdog_new(&bad, 1, -1, 0));
    assert_null(watchdog_new(NULL, 1, -1, 0));
    assert_int_equal(watchdog_selftest(false), 0);
    watchdog_destroy(&w);
    qt_clock_destroy(&clk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stale_after_sla),
        cmocka_unit_test(test_grace_period),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
