/* Tests for qt_buf: round trips, little-endian layout, and the reader's refusal to
 * read out of bounds on every truncation of a valid record and on hostile lengths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qt_buf.h"

static void test_selftest(void **state)
{
    (void)state;
    assert_int_equal(qt_buf_selftest(false), 0);
}

static void test_roundtrip_values(void **state)
{
    (void)state;
    qt_buf_t b;
    qt_buf_init(&b);
    const uint32_t u32s[] = {0, 1, 0x7FFFFFFFu, 0x80000000u, UINT32_MAX};
    const uint64_t u64s[] = {0, 1, UINT64_MAX, 0x8000000000000000ull};
    const int64_t i64s[] = {0, -1, 1, INT64_MIN, INT64_MAX};
    const double f64s[] = {0.0, -0.0, 1e-300, -1.5, INFINITY, 123456.789};
    for (size_t i = 0; i < 5; i++) qt_buf_put_u32(&b, u32s[i]);
    for (size_t i = 0; i < 4; i++) qt_buf_put_u64(&b, u64s[i]);
    for (size_t i = 0; i < 5; i++) qt_buf_put_i64(&b, i64s[i]);
    for (size_t i = 0; i < 6; i++) qt_buf_put_f64(&b, f64s[i]);
    qt_buf_put_f64(&b, NAN);
    assert_false(b.oom);
    assert_int_equal(b.len, 5 * 4 + 4 * 8 + 5 * 8 + 7 * 8);

    qt_reader_t r;
    qt_reader_init(&r, b.data, b.len);
    for (size_t i = 0; i < 5; i++) assert_int_equal(qt_read_u32(&r), u32s[i]);
    for (size_t i = 0; i < 4; i++) assert_true(qt_read_u64(&r) == u64s[i]);
    for (size_t i = 0; i < 5; i++) assert_true(qt_read_i64(&r) == i64s[i]);
    for (size_t i = 0; i < 6; i++) {
        double d = qt_read_f64(&r);
        assert_memory_equal(&d, &f64s[i], sizeof d); /* bit-exact, keeps -0.0 */
    }
    assert_true(isnan(qt_read_f64(&r)));
    assert_true(qt_reader_done(&r));
    qt_buf_free(&b);
}

static void test_little_endian_layout(void **state)
{
    (void)state;
    qt_buf_t b;
    qt_buf_init(&b);
    qt_buf_put_u32(&b, 0x01020304u);
    qt_buf_put_i64(&b, -2);
    qt_buf_put_str(&b, "ab");
    const uint8_t want[] = {4, 3, 2, 1, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                            2, 0, 0, 0, 'a', 'b'};
    assert_int_equal(b.len, sizeof want);
    assert_memory_equal(b.data, want, sizeof want);
    qt_buf_free(&b);
}

static void test_growth_large(void **state)
{
    (void)state;
    qt_buf_t b;
    qt_buf_init(&b);
    for (uint32_t i = 0; i < 100000; i++)
        qt_buf_put_u32(&b, i * 2654435761u);
    assert_false(b.oom);
    assert_int_equal(b.len, 400000);
    assert_true(b.cap >= b.len);
    qt_reader_t r;
    qt_reader_init(&r, b.data, b.len);
    for (uint32_t i = 0; i < 100000; i++)
        assert_int_equal(qt_read_u32(&r), i * 2654435761u);
    assert_true(qt_reader_done(&r));
    qt_buf_free(&b);
    qt_buf_free(&b); /* idempotent */
    assert_null(b.data);
}

static void test_truncation_every_length(void **state)
{
    (void)state;
    qt_buf_t b;
    qt_buf_init(&b);
    qt_buf_put_str(&b, "BTC_USDT");
    qt_buf_put_i64(&b, 4200000000000LL);
    qt_buf_put_u32(&b, 7);
    qt_buf_put_str(&b, "");
    qt_buf_put_f64(&b, 0.25);
    qt_buf_put_u64(&b, 99);
    for (size_t cut = 0; cut <= b.len; cut++) {
        /* copy into an exact-size heap block so ASan/valgrind flag any overread */
        uint8_t *copy = malloc(cut ? cut : 1);
        assert_non_null(copy);
        memcpy(copy, b.data, cut);
        qt_reader_t r;
        qt_reader_init(&r, copy, cut);
        char sym[16], empty[4];
        qt_read_str(&r, sym, sizeof sym);
        int64_t px = qt_read_i64(&r);
        uint32_t n = qt_read_u32(&r);
        qt_read_str(&r, empty, sizeof empty);
        double w = qt_read_f64(&r);
        uint64_t last = qt_read_u64(&r);
        if (cut == b.len) {
            assert_true(qt_reader_done(&r));
            assert_string_equal(sym, "BTC_USDT");
            assert_true(px == 4200000000000LL);
            assert_int_equal(n, 7);
            assert_string_equal(empty, "");
            assert_true(w == 0.25);
            assert_true(last == 99);
        } else {
            assert_true(r.err);
            assert_false(qt_reader_done(&r));
            assert_true(r.pos <= cut);
            assert_true(last == 0); /* reads after an error yield 0 */
        }
        free(copy);
    }
    qt_buf_free(&b);
}

static void test_hostile_lengths(void **state)
{
    (void)state;
    /* length prefix claims 4 GiB */
    const uint8_t huge[] = {0xFF, 0xFF, 0xFF, 0xFF, 'x'};
    qt_reader_t r;
    char out[8] = "junk";
    qt_reader_init(&r, huge, sizeof huge);
    qt_read_str(&r, out, sizeof out);
    assert_true(r.err);
    assert_string_equal(out, "");
    /* length fits the data but not the destination (needs room for NUL) */
    const uint8_t four[] = {4, 0, 0, 0, 'a', 'b', 'c', 'd'};
    char o4[4];
    qt_reader_init(&r, four, sizeof four);
    qt_read_str(&r, o4, sizeof o4);
    assert_true(r.err);
    char o5[5];
    qt_reader_init(&r, four, sizeof four);
    qt_read_str(&r, o5, sizeof o5);
    assert_false(r.err);
    assert_string_equal(o5, "abcd");
    assert_true(qt_reader_done(&r));
    /* trailing bytes: no error, but not done */
    qt_reader_init(&r, four, sizeof four);
    assert_int_equal(qt_read_u32(&r), 4);
    assert_false(r.err);
    assert_false(qt_reader_done(&r));
    /* NULL data behaves as empty */
    qt_reader_init(&r, NULL, 100);
    assert_int_equal(qt_read_u32(&r), 0);
    assert_true(r.err);
    /* error is sticky even if later reads would fit */
    qt_reader_init(&r, four, 3);
    qt_read_u32(&r);
    assert_true(r.err);
    assert_int_equal(r.pos, 0);
}

static void test_put_str_null_and_bytes(void **state)
{
    (void)state;
    qt_buf_t b;
    qt_buf_init(&b);
    qt_buf_put_str(&b, NULL); /* as "" */
    qt_buf_put_bytes(&b, "xyz", 0);
    qt_buf_put_bytes(&b, "xyz", 3);
    assert_int_equal(b.len, 7);
    qt_reader_t r;
    qt_reader_init(&r, b.data, b.len);
    char s[2];
    qt_read_str(&r, s, sizeof s);
    assert_string_equal(s, "");
    assert_false(r.err);
    assert_int_equal(r.pos, 4);
    qt_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selftest),
        cmocka_unit_test(test_roundtrip_values),
        cmocka_unit_test(test_little_endian_layout),
        cmocka_unit_test(test_growth_large),
        cmocka_unit_test(test_truncation_every_length),
        cmocka_unit_test(test_hostile_lengths),
        cmocka_unit_test(test_put_str_null_and_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
