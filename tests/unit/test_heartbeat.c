/* Unit: the watchdog's heartbeat table, with explicit times (no sleeping). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "qt_heartbeat.h"

static const qt_hb_entry_t *entry(qt_hb_table_t *t, const char *name)
{
    for (size_t i = 0; i < qt_hb_table_len(t); i++)
        if (strcmp(qt_hb_table_entry(t, i)->service, name) == 0)
            return qt_hb_table_entry(t, i);
    fail_msg("no entry %s", name);
    return NULL;
}

static void test_never_seen_goes_stale_after_sla_from_start(void **state)
{
    (void)state;
    qt_hb_table_t *t = qt_hb_table_new();
    assert_int_equal(qt_hb_table_watch(t, "qt-exec", 3000, true), 0);
    assert_int_equal(qt_hb_table_evaluate(t, 10000), 0); /* start_ms = 10000 */
    assert_int_equal(entry(t, "qt-exec")->last_seen_ms, -1);
    assert_int_equal(qt_hb_table_evaluate(t, 13000), 0); /* exactly the SLA: fresh */
    assert_false(entry(t, "qt-exec")->stale);
    assert_int_equal(qt_hb_table_evaluate(t, 13001), 1);
    assert_true(entry(t, "qt-exec")->stale);
    qt_hb_table_destroy(&t);
    assert_null(t);
}

static void test_seen_refreshes_and_sla_boundary(void **state)
{
    (void)state;
    qt_hb_table_t *t = qt_hb_table_new();
    assert_int_equal(qt_hb_table_watch(t, "qt-risk", 2000, true), 0);
    assert_int_equal(qt_hb_table_watch(t, "qt-models", 5000, true), 0);
    assert_int_equal(qt_hb_table_evaluate(t, 0), 0);
    assert_int_equal(qt_hb_table_seen(t, "qt-risk", 1000), 0);
    assert_int_equal(qt_hb_table_seen(t, "qt-models", 1000), 0);
    assert_int_equal(qt_hb_table_evaluate(t, 3000), 0);
    assert_int_equal(qt_hb_table_evaluate(t, 3001), 1);  /* risk: 2001 > 2000 */
    assert_true(entry(t, "qt-risk")->stale);
    assert_false(entry(t, "qt-models")->stale);
    assert_int_equal(qt_hb_table_evaluate(t, 6001), 2);  /* both */
    /* a heartbeat clears staleness at once, before the next evaluate */
    assert_int_equal(qt_hb_table_seen(t, "qt-risk", 6001), 0);
    assert_false(entry(t, "qt-risk")->stale);
    assert_int_equal(qt_hb_table_evaluate(t, 6002), 1);
    assert_int_equal(entry(t, "qt-risk")->last_seen_ms, 6001);
    qt_hb_table_destroy(&t);
}

static void test_optional_services_not_counted(void **state)
{
    (void)state;
    qt_hb_table_t *t = qt_hb_table_new();
    assert_int_equal(qt_hb_table_watch(t, "qt-recon", 1000, false), 0);
    assert_int_equal(qt_hb_table_evaluate(t, 0), 0);
    assert_int_equal(qt_hb_table_evaluate(t, 5000), 0);
    assert_true(entry(t, "qt-recon")->stale);
    assert_false(entry(t, "qt-recon")->required);
    /* re-watch as required: counted now, last_seen kept */
    assert_int_equal(qt_hb_table_seen(t, "qt-recon", 4500), 0);
    assert_int_equal(qt_hb_table_watch(t, "qt-recon", 100, true), 0);
    assert_int_equal(qt_hb_table_len(t), 1);
    assert_int_equal(qt_hb_table_evaluate(t, 4600), 0);
    assert_int_equal(qt_hb_table_evaluate(t, 4601), 1);
    assert_int_equal(entry(t, "qt-recon")->sla_ms, 100);
    qt_hb_table_destroy(&t);
}

static void test_old_heartbeat_does_not_move_back(void **state)
{
    (void)state;
    qt_hb_table_t *t = qt_hb_table_new();
    assert_int_equal(qt_hb_table_watch(t, "a", 1000, true), 0);
    assert_int_equal(qt_hb_table_seen(t, "a", 5000), 0);
    assert_int_equal(qt_hb_table_seen(t, "a", 3000), 0); /* reordered delivery */
    assert_int_equal(entry(t, "a")->last_seen_ms, 5000);
    assert_int_equal(qt_hb_table_evaluate(t, 6000), 0);
    assert_int_equal(qt_hb_table_evaluate(t, 6001), 1);
    /* time going backwards never reads as stale */
    assert_int_equal(qt_hb_table_evaluate(t, 100), 0);
    qt_hb_table_destroy(&t);
}

static void test_bad_args_and_capacity(void **state)
{
    (void)state;
    qt_hb_table_t *t = qt_hb_table_new();
    assert_int_equal(qt_hb_table_watch(t, "", 1000, true), -1);
    assert_int_equal(qt_hb_table_watch(t, NULL, 1000, true), -1);
    assert_int_equal(qt_hb_table_watch(t, "x", 0, true), -1);
    assert_int_equal(qt_hb_table_watch(t, "x", -5, true), -1);
    char longname[QT_HB_NAME_MAX + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(qt_hb_table_watch(t, longname, 1000, true), -1);
    longname[QT_HB_NAME_MAX] = '\0';
    assert_int_equal(qt_hb_table_watch(t, longname, 1000, true), 0);
    assert_int_equal(qt_hb_table_seen(t, "unknown", 1), -1);
    assert_int_equal(qt_hb_table_seen(t, longname, -1), -1);
    for (int i = 1; i < QT_HB_TABLE_MAX; i++) {
        char n[16];
        snprintf(n, sizeof n, "svc-%d", i);
        assert_int_equal(qt_hb_table_watch(t, n, 1000, i % 2 == 0), 0);
    }
    assert_int_equal(qt_hb_table_len(t), QT_HB_TABLE_MAX);
    assert_int_equal(qt_hb_table_watch(t, "one-too-many", 1000, true), -1);
    assert_int_equal(qt_hb_table_watch(t, "svc-3", 2000, true), 0); /* update still works */
    assert_null(qt_hb_table_entry(t, QT_HB_TABLE_MAX));
    assert_int_equal(qt_hb_table_evaluate(t, 0), 0);
    /* required: longname + even svc-i + svc-3 */
    assert_int_equal(qt_hb_table_evaluate(t, 1001), 1 + (QT_HB_TABLE_MAX - 1) / 2);
    qt_hb_table_destroy(&t);
    qt_hb_table_destroy(NULL);
    assert_int_equal(qt_hb_table_len(NULL), 0);
}

static void test_selftest(void **state)
{
    (void)state;
    assert_int_equal(qt_heartbeat_selftest(true), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_never_seen_goes_stale_after_sla_from_start),
        cmocka_unit_test(test_seen_refreshes_and_sla_boundary),
        cmocka_unit_test(test_optional_services_not_counted),
        cmocka_unit_test(test_old_heartbeat_does_not_move_back),
        cmocka_unit_test(test_bad_args_and_capacity),
        cmocka_unit_test(test_selftest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
