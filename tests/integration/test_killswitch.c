/* Integration: the qt_killswitch Redis store against a real Redis (env QT_REDIS_HOST /
 * QT_REDIS_PORT; fails loudly without them).
 *
 * Checks what the unit property test cannot: the Lua compare-and-set really refuses a
 * stale version or a changed pending approval, two approvals lower and one does not,
 * a raise through the low-level qt_redis_killswitch_write (the watchdog's path) between
 * the two approvals voids the first one, every service's reader
 * (qt_redis_killswitch_read) accepts what the store writes, and an invalid stored state
 * reads as NO_NEW, refuses approvals, and is replaced by a raise to NO_NEW or above
 * (keeping a still-valid higher tier). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "qt_killswitch.h"
#include "qt_redis.h"

#define NORMAL QT__V1__KILL_SWITCH_TIER__KS_NORMAL
#define WARN QT__V1__KILL_SWITCH_TIER__KS_WARN
#define NO_NEW QT__V1__KILL_SWITCH_TIER__KS_NO_NEW
#define FLATTEN QT__V1__KILL_SWITCH_TIER__KS_FLATTEN_ALL
#define WINDOW 300000
#define T0 1700000000000LL

static const char *g_host;
static int g_port;

static qt_redis_t *client(void)
{
    qt_redis_t *r = qt_redis_new(g_host, g_port, 1000, NULL);
    assert_non_null(r);
    return r;
}

static void reset(qt_redis_t *r)
{
    redisReply *rep = qt_redis_cmd(r, "DEL qt:killswitch qt:killswitch:pending");
    assert_non_null(rep);
    freeReplyObject(rep);
}

static qt_ks_keyring_t *keys(void)
{
    qt_ks_keyring_t *kr = qt_ks_keyring_new();
    char err[200];
    assert_int_equal(qt_ks_keyring_add_hex(kr, "alice", "00112233445566778899aabbccddeeff", err,
                                           sizeof err),
                     0);
    assert_int_equal(qt_ks_keyring_add_hex(kr, "bob", "ffeeddccbbaa99887766554433221100", err,
                                           sizeof err),
                     0);
    return kr;
}

static qt_ks_result_t approve(const qt_ks_store_t *st, const qt_ks_keyring_t *kr,
                              qt_ks_tier_t target, const char *op, int64_t now,
                              qt_ks_state_t *s)
{
    qt_ks_state_t cur;
    qt_ks_pending_t p;
    (void)qt_ks_store_read(st, &cur, &p);
    char tok[QT_KS_TOKEN_HEX + 1];
    assert_int_equal(qt_ks_sign(kr, target, cur.version, op, now, tok), 0);
    return qt_ks_store_approve(st, kr, WINDOW, target, op, now, tok, "test", now, s, &p);
}

static void test_two_approvals_lower_one_does_not(void **state)
{
    (void)state;
    qt_redis_t *r = client();
    reset(r);
    qt_ks_keyring_t *kr = keys();
    qt_ks_store_t st;
    qt_ks_store_redis(&st, r);
    qt_ks_state_t s;
    assert_int_equal(approve(&st, kr, NORMAL, "alice", T0, &s), QT_KS_RECORDED);
    /* one approval: services still read NO_NEW (absent) */
    assert_int_equal(qt_redis_killswitch_read(r, NULL), NO_NEW);
    assert_int_equal(approve(&st, kr, NORMAL, "alice", T0 + 1, &s), QT_KS_SAME_OPERATOR);
    assert_int_equal(qt_redis_killswitch_read(r, NULL), NO_NEW);
    assert_int_equal(approve(&st, kr, NORMAL, "bob", T0 + 2, &s), QT_KS_LOWERED);
    Qt__V1__KillSwitch ks;
    assert_int_equal(qt_redis_killswitch_read(r, &ks), NORMAL);
    assert_int_equal(ks.version, 1);
    assert_string_equal(ks.set_by, "alice+bob");
    assert_int_equal(ks.set_at_ms, T0 + 2);
    qt_ks_clear(&ks);
    redisReply *rep = qt_redis_cmd(r, "HGET qt:killswitch approved_by");
    assert_non_null(rep);
    assert_string_equal(rep->str, "alice,bob");
    freeReplyObject(rep);
    rep = qt_redis_cmd(r, "EXISTS qt:killswitch:pending");
    assert_int_equal(rep->integer, 0);
    freeReplyObject(rep);

    /* A raise by the watchdog's low-level writer between two approvals voids the first
     * (it was signed for the old version). */
    assert_int_equal(qt_ks_store_raise(&st, FLATTEN, "operator", "carol", "drill", T0 + 3, &s),
                     QT_KS_RAISED);
    assert_int_equal(s.version, 2);
    assert_int_equal(approve(&st, kr, NO_NEW, "alice", T0 + 4, &s), QT_KS_RECORDED);
    uint64_t v = 0;
    assert_int_equal(qt_redis_killswitch_write(r, FLATTEN, "qt-watchdog", "heartbeat lost",
                                               T0 + 5, &v),
                     0);
    assert_int_equal(v, 3);
    qt_ks_pending_t p;
    assert_int_equal(qt_ks_store_read(&st, &s, &p), FLATTEN);
    assert_int_equal(s.version, 3);
    assert_int_equal(s.previous_tier, FLATTEN);
    assert_string_equal(s.trigger, "");   /* dropped by the low-level writer */
    assert_int_equal(approve(&st, kr, NO_NEW, "bob", T0 + 6, &s), QT_KS_RECORDED);
    assert_int_equal(qt_redis_killswitch_read(r, NULL), FLATTEN);
    assert_int_equal(approve(&st, kr, NO_NEW, "alice", T0 + 7, &s), QT_KS_LOWERED);
    assert_int_equal(qt_redis_killswitch_read(r, NULL), NO_NEW);
    assert_int_equal(s.version, 4);
    reset(r);
    qt_ks_keyring_destroy(&kr);
    qt_redis_destroy(&r);
}

/* The CAS refuses a write computed from a version or pending approval that changed. */
static void test_cas_versioning(void **state)
{
    (void)state;
    qt_redis_t *r = client();
    reset(r);
    qt_ks_store_t st;
    qt_ks_store_redis(&st, r);
    qt_ks_state_t s;
    qt_ks_pending_t p;
    assert_int_equal(st.load(st.ctx, &s, &p), 0);
    assert_false(s.present);
    qt_ks_state_t n = s;
    qt_ks_pending_t np = p;
    assert_int_equal(qt_ks_raise(&n, &np, NO_NEW, "operator", "a", "b", T0), QT_KS_RAISED);
    /* someone else writes first */
    uint64_t v;
    assert_int_equal(qt_redis_killswitch_write(r, FLATTEN, "x", "y", T0, &v), 0);
    assert_int_equal(st.cas(st.ctx, 0, "", true, &n, &np), 0);
    assert_int_equal(qt_redis_killswitch_read(r, NULL), FLATTEN);
    /* from the current version it applies */
    assert_int_equal(st.cas(st.ctx, 1, "", true, &n, &np), 1);
    assert_int_equal(st.load(st.ctx, &s, &p), 0);
    assert_int_equal(s.version, 1);
    assert_int_equal(s.tier, NO_NEW);
    /* pending token guard */
    qt_ks_pending_t pend;
    qt_ks_pending_init(&pend);
    pend.present = true;
    pend.target = NORMAL;
    pend.version = 1;
    snprintf(pend.operator_name, sizeof pend.operator_name, "alice");
    snprintf(pend.token, sizeof pend.token, "%064d", 7);
    assert_int_equal(st.cas(st.ctx, 1, "", false, &s, &pend), 1);
    assert_int_equal(st.cas(st.ctx, 1, "", false, &s, &pend), 0);   /* pending changed */
    assert_int_equal(st.load(st.ctx, &s, &p), 0);
    assert_true(p.present);
    assert_string_equal(p.operator_name, "alice");
    /* garbage in the pending hash: ignored (never counts), not fatal */
    redisReply *rep = qt_redis_cmd(r, "HSET qt:killswitch:pending version abc");
    freeReplyObject(rep);
    assert_int_equal(st.load(st.ctx, &s, &p), 0);
    assert_false(p.present);
    /* An invalid state reads NO_NEW; approvals are refused; a raise below NO_NEW is not
     * a raise; a raise to NO_NEW or above replaces the garbage (version continues). */
    rep = qt_redis_cmd(r, "HSET qt:killswitch tier BANANA");
    freeReplyObject(rep);
    assert_int_equal(qt_ks_store_read(&st, &s, &p), NO_NEW);
    qt_ks_keyring_t *kr = keys();
    assert_int_equal(approve(&st, kr, NORMAL, "alice", T0, &s), QT_KS_STORE_ERROR);
    qt_ks_keyring_destroy(&kr);
    assert_int_equal(qt_ks_store_raise(&st, WARN, "operator", "a", "b", T0, &s),
                     QT_KS_NOT_HIGHER);
    assert_int_equal(qt_ks_store_raise(&st, FLATTEN, "operator", "a", "b", T0, &s),
                     QT_KS_RAISED);
    assert_int_equal(s.version, 2);
    Qt__V1__KillSwitch ks;
    assert_int_equal(qt_redis_killswitch_read(r, &ks), FLATTEN);
    assert_int_equal(ks.version, 2);
    qt_ks_clear(&ks);
    rep = qt_redis_cmd(r, "EXISTS qt:killswitch:pending");
    assert_int_equal(rep->integer, 0);
    freeReplyObject(rep);
    /* a still-valid higher tier field is kept (a raise never lowers) */
    rep = qt_redis_cmd(r, "HSET qt:killswitch set_at_ms 1.5");
    freeReplyObject(rep);
    assert_int_equal(qt_redis_killswitch_read(r, NULL), NO_NEW);
    assert_int_equal(qt_ks_store_raise(&st, NO_NEW, "operator", "a", "b", T0, &s),
                     QT_KS_RAISED);
    assert_int_equal(s.tier, FLATTEN);
    assert_int_equal(s.previous_tier, FLATTEN);
    assert_int_equal(s.version, 3);
    assert_int_equal(qt_redis_killswitch_read(r, NULL), FLATTEN);
    /* wrong key type */
    reset(r);
    rep = qt_redis_cmd(r, "SET qt:killswitch NORMAL");
    freeReplyObject(rep);
    assert_int_equal(qt_ks_store_read(&st, &s, &p), NO_NEW);
    assert_int_equal(qt_ks_store_raise(&st, NO_NEW, "operator", "a", "b", T0, &s),
                     QT_KS_RAISED);
    assert_int_equal(qt_redis_killswitch_read(r, &ks), NO_NEW);
    assert_int_equal(ks.version, 1);
    qt_ks_clear(&ks);
    reset(r);
    qt_redis_destroy(&r);
}

static void test_unreachable(void **state)
{
    (void)state;
    qt_redis_t *r = qt_redis_new("127.0.0.1", 1, 200, NULL);
    qt_ks_store_t st;
    qt_ks_store_redis(&st, r);
    qt_ks_state_t s;
    assert_int_equal(qt_ks_store_read(&st, &s, NULL), NO_NEW);
    assert_int_equal(qt_ks_store_raise(&st, FLATTEN, "operator", "a", "b", T0, &s),
                     QT_KS_STORE_ERROR);
    qt_redis_destroy(&r);
}

int main(void)
{
    g_host = getenv("QT_REDIS_HOST");
    const char *port = getenv("QT_REDIS_PORT");
    if (!g_host || !*g_host || !port || !*port) {
        fprintf(stderr, "test_killswitch: QT_REDIS_HOST and QT_REDIS_PORT must name a real "
                        "Redis (scripts/run-tests sets them)\n");
        return 1;
    }
    g_port = atoi(port);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_approvals_lower_one_does_not),
        cmocka_unit_test(test_cas_versioning),
        cmocka_unit_test(test_unreachable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
