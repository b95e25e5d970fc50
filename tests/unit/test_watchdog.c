/* test_watchdog: dead-man's switch decisions with a simulated clock: stale after the
 * SLA (not at it), grace period at start, required vs optional, reason text, and
 * the watchdog never lowers (or re-raises over) a tier >= NO_NEW. Per-service tiers:
 * losing qt-exec raises FLATTEN_ALL (also over NO_NEW), the highest tier of several
 * stale services wins, bad tiers are refused. And the other side of the contract:
 * every service treats a silent watchdog as at least WARN (qt_service rule). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "qt_clock.h"
#include "qt_service.h"
#include "watchdog/watchdog.h"

#define NORMAL QT__V1__KILL_SWITCH_TIER__KS_NORMAL
#define WARN QT__V1__KILL_SWITCH_TIER__KS_WARN
#define THROTTLE QT__V1__KILL_SWITCH_TIER__KS_THROTTLE
#define NO_NEW QT__V1__KILL_SWITCH_TIER__KS_NO_NEW
#define FLATTEN QT__V1__KILL_SWITCH_TIER__KS_FLATTEN_ALL
#define UNKNOWN QT__V1__KILL_SWITCH_TIER__KS_UNKNOWN

static const watchdog_sla_t SLAS[] = {
    {"qt-risk", 3000, true, NO_NEW},
    {"qt-exec", 5000, true, NO_NEW},
    {"qt-models", 2000, false, NO_NEW},
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
    watchdog_sla_t bad = {"qt-x", 0, true, NO_NEW};
    assert_null(watchdog_new(&bad, 1, -1, 0));
    assert_null(watchdog_new(NULL, 1, -1, 0));
    assert_int_equal(watchdog_selftest(false), 0);
    watchdog_destroy(&w);
    qt_clock_destroy(&clk);
}

static void test_tiers(void **state)
{
    (void)state;
    /* the production shape: exec and risk FLATTEN_ALL, ingest NO_NEW (required here
     * to exercise the per-service choice), models optional */
    const watchdog_sla_t slas[] = {
        {"qt-ingest", 2000, true, NO_NEW},
        {"qt-exec", 5000, true, FLATTEN},
        {"qt-risk", 5000, true, FLATTEN},
        {"qt-models", 1000, false, FLATTEN}, /* not required: its tier never applies */
    };
    int64_t t0 = 1000000;
    watchdog_t *w = watchdog_new(slas, 4, 0, t0);
    assert_non_null(w);
    watchdog_decision_t d;
    for (int64_t t = t0 + 1000; t <= t0 + 10000; t += 1000) {
        watchdog_heartbeat(w, "qt-ingest", t);
        watchdog_heartbeat(w, "qt-exec", t);
        watchdog_heartbeat(w, "qt-risk", t);
    }
    /* models silent for 9 s: reported, not raised, although its tier is FLATTEN_ALL */
    watchdog_evaluate(w, t0 + 10000, NORMAL, &d);
    assert_false(d.raise);
    assert_int_equal(d.stale, 1);
    assert_int_equal(d.tier, UNKNOWN);
    /* ingest silent: NO_NEW */
    watchdog_heartbeat(w, "qt-exec", t0 + 12000);
    watchdog_heartbeat(w, "qt-risk", t0 + 12000);
    watchdog_evaluate(w, t0 + 12001, NORMAL, &d);
    assert_true(d.raise);
    assert_int_equal(d.tier, NO_NEW);
    assert_string_equal(d.service, "qt-ingest");
    assert_string_equal(d.reason, "heartbeat missing: qt-ingest (2001 ms > sla 2000 ms)");
    watchdog_evaluate(w, t0 + 12001, NO_NEW, &d);
    assert_false(d.raise);
    /* exec silent too (last beat t0+12000): FLATTEN_ALL wins over ingest's NO_NEW,
     * also raised over NO_NEW and over an unreadable (UNKNOWN = NO_NEW) state */
    watchdog_heartbeat(w, "qt-risk", t0 + 17000);
    watchdog_evaluate(w, t0 + 17000, NO_NEW, &d); /* exactly the SLA: not yet */
    assert_false(d.raise);
    watchdog_evaluate(w, t0 + 17001, NO_NEW, &d);
    assert_true(d.raise);
    assert_int_equal(d.tier, FLATTEN);
    assert_int_equal(d.stale_required, 2);
    assert_string_equal(d.service, "qt-exec");
    assert_string_equal(d.reason, "heartbeat missing: qt-exec (5001 ms > sla 5000 ms)");
    watchdog_evaluate(w, t0 + 17001, UNKNOWN, &d);
    assert_true(d.raise);
    watchdog_evaluate(w, t0 + 17001, THROTTLE, &d);
    assert_true(d.raise);
    assert_int_equal(d.tier, FLATTEN);
    /* already FLATTEN_ALL: nothing to do */
    watchdog_evaluate(w, t0 + 17001, FLATTEN, &d);
    assert_false(d.raise);
    /* exec back, ingest still silent: back to NO_NEW as the wanted tier, which never
     * lowers a FLATTEN_ALL already set */
    watchdog_heartbeat(w, "qt-exec", t0 + 17500);
    watchdog_evaluate(w, t0 + 17500, FLATTEN, &d);
    assert_false(d.raise);
    assert_int_equal(d.tier, NO_NEW);
    watchdog_destroy(&w);
    /* only NO_NEW and FLATTEN_ALL are tiers a watchdog raises */
    watchdog_sla_t bad = {"qt-exec", 1000, true, THROTTLE};
    assert_null(watchdog_new(&bad, 1, -1, 0));
    bad.tier = WARN;
    assert_null(watchdog_new(&bad, 1, -1, 0));
    /* tier left out (0) = NO_NEW */
    watchdog_sla_t dflt = {"qt-exec", 1000, true, UNKNOWN};
    w = watchdog_new(&dflt, 1, -1, 0);
    assert_non_null(w);
    watchdog_evaluate(w, 1001, NORMAL, &d);
    assert_true(d.raise);
    assert_int_equal(d.tier, NO_NEW);
    watchdog_destroy(&w);
}

/* Services: a silent watchdog is at least WARN (libs/qt/qt_service.h). */
static void test_silent_watchdog_is_warn(void **state)
{
    (void)state;
    assert_int_equal(qt_service_effective_tier(NORMAL, true), WARN);
    assert_int_equal(qt_service_effective_tier(WARN, true), WARN);
    assert_int_equal(qt_service_effective_tier(THROTTLE, true), THROTTLE);
    assert_int_equal(qt_service_effective_tier(NO_NEW, true), NO_NEW);
    assert_int_equal(qt_service_effective_tier(FLATTEN, true), FLATTEN);
    assert_int_equal(qt_service_effective_tier(NORMAL, false), NORMAL);
    assert_int_equal(qt_service_effective_tier(UNKNOWN, true), UNKNOWN);
    /* sla 5000: start-up grace = the SLA */
    assert_false(qt_service_watchdog_is_silent(-1, 100000, 5000, 4999));
    assert_true(qt_service_watchdog_is_silent(-1, 100000, 5000, 5000));
    assert_false(qt_service_watchdog_is_silent(95000, 100000, 5000, 60000));
    assert_true(qt_service_watchdog_is_silent(94999, 100000, 5000, 60000));
    /* a heartbeat from the future (clock skew) is not silence */
    assert_false(qt_service_watchdog_is_silent(101000, 100000, 5000, 60000));
    /* sla 0 = not checked (the watchdog itself) */
    assert_false(qt_service_watchdog_is_silent(-1, 100000, 0, 60000));
    assert_int_equal(qt_service_selftest(false), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stale_after_sla),
        cmocka_unit_test(test_grace_period),
        cmocka_unit_test(test_tiers),
        cmocka_unit_test(test_silent_watchdog_is_warn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
