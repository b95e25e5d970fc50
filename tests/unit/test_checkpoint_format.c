/* Unit: the checkpoint record codec (pure). A record must round-trip, and every
 * truncation, extension and single-bit corruption must be refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "qt_checkpoint.h"

static uint8_t *make(uint64_t seq, size_t plen, size_t *reclen, uint8_t **payload)
{
    uint8_t *p = malloc(plen ? plen : 1);
    assert_non_null(p);
    for (size_t i = 0; i < plen; i++)
        p[i] = (uint8_t)(i * 31 + 7);
    uint8_t *rec = qt_checkpoint_encode(seq, p, plen, reclen);
    assert_non_null(rec);
    *payload = p;
    return rec;
}

static void test_round_trip_and_layout(void **state)
{
    (void)state;
    size_t reclen = 0;
    uint8_t *p = NULL;
    uint8_t *rec = make(0x0102030405060708ull, 100, &reclen, &p);
    assert_int_equal(reclen, QT_CKPT_OVERHEAD + 100);
    /* layout: magic, u32 format LE, u64 seq LE, u32 len LE */
    assert_memory_equal(rec, "QTCK", 4);
    assert_int_equal(rec[4], 1);
    assert_int_equal(rec[5] | rec[6] | rec[7], 0);
    assert_int_equal(rec[8], 0x08);
    assert_int_equal(rec[15], 0x01);
    assert_int_equal(rec[16], 100);
    uint64_t seq = 0;
    const uint8_t *out = NULL;
    size_t len = 0;
    char why[128];
    assert_int_equal(qt_checkpoint_decode(rec, reclen, &seq, &out, &len, why, sizeof why), 0);
    assert_int_equal(seq, 0x0102030405060708ull);
    assert_int_equal(len, 100);
    assert_memory_equal(out, p, 100);
    assert_ptr_equal(out, rec + QT_CKPT_HEADER); /* points into the record */
    free(rec);
    free(p);
}

static void test_empty_payload(void **state)
{
    (void)state;
    size_t reclen = 0;
    uint8_t *p = NULL;
    uint8_t *rec = make(1, 0, &reclen, &p);
    assert_int_equal(reclen, QT_CKPT_OVERHEAD);
    size_t len = 5;
    assert_int_equal(qt_checkpoint_decode(rec, reclen, NULL, NULL, &len, NULL, 0), 0);
    assert_int_equal(len, 0);
    free(rec);
    free(p);
}

static void test_every_truncation_refused(void **state)
{
    (void)state;
    size_t sizes[] = {0, 1, 37, 200};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t reclen = 0;
        uint8_t *p = NULL;
        uint8_t *rec = make(9, sizes[s], &reclen, &p);
        for (size_t n = 0; n < reclen; n++) {
            /* copy so ASan/valgrind catch any read past the truncated length */
            uint8_t *t = malloc(n ? n : 1);
            assert_non_null(t);
            memcpy(t, rec, n);
            char why[128] = "";
            const uint8_t *out = NULL;
            size_t len = 0;
            assert_int_equal(qt_checkpoint_decode(t, n, NULL, &out, &len, why, sizeof why), -1);
            assert_true(why[0] != '\0');
            free(t);
        }
        /* one extra byte: length mismatch */
        uint8_t *ext = malloc(reclen + 1);
        assert_non_null(ext);
        memcpy(ext, rec, reclen);
        ext[reclen] = 0;
        assert_int_equal(qt_checkpoint_decode(ext, reclen + 1, NULL, NULL, NULL, NULL, 0), -1);
        free(ext);
        free(rec);
        free(p);
    }
    assert_int_equal(qt_checkpoint_decode(NULL, 100, NULL, NULL, NULL, NULL, 0), -1);
}

static void test_every_bit_flip_refused(void **state)
{
    (void)state;
    size_t reclen = 0;
    uint8_t *p = NULL;
    uint8_t *rec = make(42, 40, &reclen, &p);
    for (size_t i = 0; i < reclen; i++) {
        for (int bit = 0; bit < 8; bit++) {
            rec[i] ^= (uint8_t)(1u << bit);
            char why[128] = "";
            assert_int_equal(qt_checkpoint_decode(rec, reclen, NULL, NULL, NULL, why, sizeof why),
                             -1);
            rec[i] ^= (uint8_t)(1u << bit);
        }
    }
    assert_int_equal(qt_checkpoint_decode(rec, reclen, NULL, NULL, NULL, NULL, 0), 0);
    free(rec);
    free(p);
}

static void test_reasons(void **state)
{
    (void)state;
    size_t reclen = 0;
    uint8_t *p = NULL;
    uint8_t *rec = make(3, 10, &reclen, &p);
    char why[128];
    rec[0] = 'X';
    assert_int_equal(qt_checkpoint_decode(rec, reclen, NULL, NULL, NULL, why, sizeof why), -1);
    assert_string_equal(why, "bad magic");
    rec[0] = 'Q';
    rec[4] = 2;
    assert_int_equal(qt_checkpoint_decode(rec, reclen, NULL, NULL, NULL, why, sizeof why), -1);
    assert_string_equal(why, "unsupported format version");
    rec[4] = 1;
    rec[16] = 11;
    assert_int_equal(qt_checkpoint_decode(rec, reclen, NULL, NULL, NULL, why, sizeof why), -1);
    assert_string_equal(why, "payload length does not match record size");
    rec[16] = 10;
    rec[QT_CKPT_HEADER] ^= 0x80;
    assert_int_equal(qt_checkpoint_decode(rec, reclen, NULL, NULL, NULL, why, sizeof why), -1);
    assert_string_equal(why, "sha-256 mismatch");
    free(rec);
    free(p);
}

static void test_encode_limits(void **state)
{
    (void)state;
    size_t reclen = 0;
    assert_null(qt_checkpoint_encode(1, NULL, 5, &reclen));
    uint8_t b = 0;
    assert_null(qt_checkpoint_encode(1, &b, (size_t)QT_CKPT_MAX_PAYLOAD + 1, &reclen));
    assert_null(qt_checkpoint_encode(1, &b, 1, NULL));
}

static void test_selftest(void **state)
{
    (void)state;
    assert_int_equal(qt_checkpoint_selftest(true), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_and_layout), cmocka_unit_test(test_empty_payload),
        cmocka_unit_test(test_every_truncation_refused),
        cmocka_unit_test(test_every_bit_flip_refused), cmocka_unit_test(test_reasons),
        cmocka_unit_test(test_encode_limits), cmocka_unit_test(test_selftest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
