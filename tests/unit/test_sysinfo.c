/* qt_sysinfo: the meminfo parser on real and hostile text, and the live read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "qt_sysinfo.h"

static void test_parse(void **state) {
    (void)state;
    const char *real = "MemTotal:       24576000 kB\nMemFree:        20000000 kB\n"
                       "MemAvailable:   23000000 kB\nBuffers:           1000 kB\n";
    assert_true(qt_sysinfo_parse_mem_available(real) == 23000000ull * 1024u);
    assert_true(qt_sysinfo_parse_mem_available("MemAvailable: 1 kB") == 1024u);
    /* hostile or absent */
    assert_true(qt_sysinfo_parse_mem_available(NULL) == 0);
    assert_true(qt_sysinfo_parse_mem_available("") == 0);
    assert_true(qt_sysinfo_parse_mem_available("MemTotal: 5 kB\n") == 0);
    assert_true(qt_sysinfo_parse_mem_available("MemAvailable: -5 kB\n") == 0);
    assert_true(qt_sysinfo_parse_mem_available("MemAvailable: 5 MB\n") == 0);
    assert_true(qt_sysinfo_parse_mem_available("MemAvailable: 99999999999999999999 kB\n") == 0);
    assert_true(qt_sysinfo_parse_mem_available("MemAvailable: 18014398509481985 kB\n") == 0);
    /* only at the start of a line */
    assert_true(qt_sysinfo_parse_mem_available("XMemAvailable: 7 kB\nMemAvailable: 3 kB\n") ==
                3072u);
}

static void test_live(void **state) {
    (void)state;
    /* Linux CI machines have /proc/meminfo: a machine with less than 1 MiB free could
     * not run this test at all. */
    assert_true(qt_sysinfo_mem_available_bytes() > (1u << 20));
}

static void test_selftest(void **state) {
    (void)state;
    assert_int_equal(qt_sysinfo_selftest(false), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_live),
        cmocka_unit_test(test_selftest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
