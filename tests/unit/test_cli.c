/* Unit tests for libs/qt/qt_cli: strict CLI argument parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "qt_cli.h"

static void test_selftest(void **state)
{
    (void)state;
    assert_int_equal(qt_cli_selftest(true), 0);
}

static void test_parse_boundaries(void **state)
{
    (void)state;
    uint64_t u = 7;
    assert_int_equal(qt_cli_parse_u64("0", &u), 0);
    assert_int_equal(u, 0);
    u = 7;
    assert_int_equal(qt_cli_parse_u64(" 5", &u), -1);    /* strtoull would skip the space */
    assert_int_equal(qt_cli_parse_u64(" -1", &u), -1);   /* ... and wrap -1 to UINT64_MAX */
    assert_int_equal(qt_cli_parse_u64("5 ", &u), -1);
    assert_int_equal(qt_cli_parse_u64("0x10", &u), -1);
    assert_int_equal(u, 7);                              /* untouched on failure */
    double d = 9.0;
    assert_int_equal(qt_cli_parse_seconds("0.000001", 1.0, &d), 0);
    assert_true(d == 0.000001);
    d = 9.0;
    assert_int_equal(qt_cli_parse_seconds("", 1.0, &d), -1);
    assert_true(d == 9.0);
}

/* The usage error names the program, the problem and the help command, and returns 2. */
static void test_usage_error_text(void **state)
{
    (void)state;
    char path[] = "/tmp/qt_cli_testXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_true(dup2(fd, 2) == 2);
    int rc = qt_cli_usage_error("qtctl", "bad TIER '%s'", "BANANA");
    int rc_null = qt_cli_usage_error("qtctl", "missing value%s", NULL);
    fflush(stderr);
    assert_true(dup2(saved, 2) == 2);
    close(saved);
    char buf[512] = {0};
    assert_true(lseek(fd, 0, SEEK_SET) == 0);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    unlink(path);
    assert_true(n > 0);
    assert_int_equal(rc, QT_CLI_EXIT_USAGE);
    assert_int_equal(rc_null, QT_CLI_EXIT_USAGE);
    assert_string_equal(buf, "qtctl: bad TIER 'BANANA'\n(run 'qtctl --help' for usage)\n"
                             "qtctl: missing value\n(run 'qtctl --help' for usage)\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selftest),
        cmocka_unit_test(test_parse_boundaries),
        cmocka_unit_test(test_usage_error_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
