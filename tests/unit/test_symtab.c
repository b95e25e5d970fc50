/* Unit: qt_symtab, the sorted string-keyed record table shared by the service cores.
 * Random upserts/finds/removes against a linear reference, key order, refusal of keys
 * that do not fit, the capacity bound, pointer contents, allocation failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "qt_symtab.h"

/* Under ASan a failed huge allocation must return NULL (the NOMEM test), not abort. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

typedef struct {
    char symbol[9];
    long value;
    char pad[3];
} rec_t;

static uint64_t rng_next(uint64_t *s)
{
    /* xorshift64*, seeded explicitly: the same sequence every run */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static void random_key(uint64_t *s, char *out)
{
    static const char alpha[] = "ABCDEFGH_";   /* small alphabet: many collisions */
    size_t len = 1 + rng_next(s) % 4;
    for (size_t i = 0; i < len; i++)
        out[i] = alpha[rng_next(s) % (sizeof alpha - 1)];
    out[len] = '\0';
}

#define REF_MAX 4096
typedef struct {
    char key[9];
    long value;
} ref_t;

static long ref_find(const ref_t *ref, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(ref[i].key, key) == 0)
            return (long)i;
    return -1;
}

static void check_against_ref(const qt_symtab_t *t, const ref_t *ref, size_t nref)
{
    assert_int_equal(qt_symtab_size(t), nref);
    for (size_t i = 0; i < qt_symtab_size(t); i++) {
        const rec_t *r = qt_symtab_at(t, i);
        assert_non_null(r);
        if (i > 0)
            assert_true(strcmp(((const rec_t *)qt_symtab_at(t, i - 1))->symbol, r->symbol) < 0);
        long k = ref_find(ref, nref, r->symbol);
        assert_true(k >= 0);
        assert_int_equal(r->value, ref[k].value);
    }
    for (size_t i = 0; i < nref; i++) {
        const rec_t *r = qt_symtab_find(t, ref[i].key);
        assert_non_null(r);
        assert_string_equal(r->symbol, ref[i].key);
        assert_int_equal(r->value, ref[i].value);
    }
    assert_null(qt_symtab_at(t, nref));
}

static void test_random_against_reference(void **state)
{
    (void)state;
    static ref_t ref[REF_MAX];
    size_t nref = 0;
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    qt_symtab_t t;
    QT_SYMTAB_INIT(&t, rec_t, symbol, 0);
    for (int step = 0; step < 20000; step++) {
        char key[9];
        random_key(&seed, key);
        uint64_t op = rng_next(&seed) % 10;
        long k = ref_find(ref, nref, key);
        if (op < 6) {
            void *e = NULL;
            qt_symtab_rc_t rc = qt_symtab_upsert(&t, key, &e);
            assert_non_null(e);
            rec_t *r = e;
            assert_string_equal(r->symbol, key);
            if (k >= 0) {
                assert_int_equal(rc, QT_SYMTAB_FOUND);
                assert_int_equal(r->value, ref[k].value);
            } else {
                assert_int_equal(rc, QT_SYMTAB_INSERTED);
                /* zeroed except the key: value, padding and the key's tail */
                assert_int_equal(r->value, 0);
                static const char zeros[3];
                assert_memory_equal(r->pad, zeros, sizeof zeros);
                for (size_t i = strlen(key); i < sizeof r->symbol; i++)
                    assert_int_equal(r->symbol[i], 0);
                assert_true(nref < REF_MAX);
                k = (long)nref++;
                memcpy(ref[k].key, key, sizeof ref[k].key);
            }
            r->value = (long)step;
            ref[k].value = (long)step;
        } else if (op < 9) {
            rec_t *r = qt_symtab_find(&t, key);
            if (k >= 0) {
                assert_non_null(r);
                assert_int_equal(r->value, ref[k].value);
            } else {
                assert_null(r);
            }
        } else {
            assert_int_equal(qt_symtab_remove(&t, key), k >= 0);
            if (k >= 0)
                ref[k] = ref[--nref];
        }
        if (step % 997 == 0)
            check_against_ref(&t, ref, nref);
    }
    check_against_ref(&t, ref, nref);
    assert_true(nref > 100);   /* the run exercised a real table */
    qt_symtab_free(&t);
    assert_int_equal(qt_symtab_size(&t), 0);
    assert_null(qt_symtab_find(&t, "A"));
}

static void test_iteration_in_key_order(void **state)
{
    (void)state;
    static const char *in[] = {"ETH_USDT", "BTC_USDT", "ADA_USDT", "btc", "BTC", "Z", "0"};
    static const char *sorted[] = {"0", "ADA_USDT", "BTC", "BTC_USDT", "ETH_USDT", "Z", "btc"};
    qt_symtab_t t;
    QT_SYMTAB_INIT(&t, rec_t, symbol, 0);
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
        assert_int_equal(qt_symtab_upsert(&t, in[i], NULL), QT_SYMTAB_INSERTED);
    assert_int_equal(qt_symtab_size(&t), 7);
    const rec_t *data = qt_symtab_data(&t);
    for (size_t i = 0; i < 7; i++) {
        assert_string_equal(((const rec_t *)qt_symtab_at(&t, i))->symbol, sorted[i]);
        assert_ptr_equal(qt_symtab_at(&t, i), &data[i]);   /* contiguous array */
    }
    qt_symtab_clear(&t);
    assert_int_equal(qt_symtab_size(&t), 0);
    assert_null(qt_symtab_find(&t, "BTC"));
    assert_int_equal(qt_symtab_upsert(&t, "BTC", NULL), QT_SYMTAB_INSERTED);
    assert_int_equal(((const rec_t *)qt_symtab_at(&t, 0))->value, 0);
    qt_symtab_free(&t);
}

static void test_truncation_refused(void **state)
{
    (void)state;
    qt_symtab_t t;
    QT_SYMTAB_INIT(&t, rec_t, symbol, 0);
    void *e = (void *)&t;
    assert_int_equal(qt_symtab_upsert(&t, "12345678", &e), QT_SYMTAB_INSERTED);   /* 8 fits */
    assert_int_equal(qt_symtab_upsert(&t, "123456789", &e), QT_SYMTAB_BADKEY);    /* 9 not */
    assert_null(e);
    assert_int_equal(qt_symtab_upsert(&t, "", &e), QT_SYMTAB_BADKEY);
    assert_int_equal(qt_symtab_upsert(&t, NULL, &e), QT_SYMTAB_BADKEY);
    assert_int_equal(qt_symtab_size(&t), 1);
    /* a long key whose prefix is stored is not found as that prefix */
    assert_null(qt_symtab_find(&t, "123456789"));
    assert_non_null(qt_symtab_find(&t, "12345678"));
    assert_null(qt_symtab_find(&t, ""));
    assert_null(qt_symtab_find(&t, NULL));
    assert_false(qt_symtab_remove(&t, "123456789"));
    assert_int_equal(qt_symtab_size(&t), 1);
    qt_symtab_free(&t);
}

static void test_capacity_bound(void **state)
{
    (void)state;
    qt_symtab_t t;
    QT_SYMTAB_INIT(&t, rec_t, symbol, 20);   /* bound not a power of two */
    char key[16];
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof key, "S%02d", i);
        assert_int_equal(qt_symtab_upsert(&t, key, NULL), QT_SYMTAB_INSERTED);
    }
    assert_true(t.cap <= 20);   /* growth is clamped to the bound */
    void *e = (void *)&t;
    assert_int_equal(qt_symtab_upsert(&t, "S99", &e), QT_SYMTAB_FULL);
    assert_null(e);
    assert_int_equal(qt_symtab_upsert(&t, "S05", &e), QT_SYMTAB_FOUND);   /* existing: fine */
    assert_non_null(e);
    assert_int_equal(qt_symtab_size(&t), 20);
    assert_false(qt_symtab_reserve(&t, 21));
    assert_true(qt_symtab_remove(&t, "S00"));
    assert_int_equal(qt_symtab_upsert(&t, "S99", NULL), QT_SYMTAB_INSERTED);
    assert_string_equal(((const rec_t *)qt_symtab_at(&t, 19))->symbol, "S99");
    qt_symtab_free(&t);
}

static void test_reserve_means_no_realloc(void **state)
{
    (void)state;
    qt_symtab_t t;
    QT_SYMTAB_INIT(&t, rec_t, symbol, 0);
    assert_true(qt_symtab_reserve(&t, 100));
    void *before = qt_symtab_data(&t);
    char key[16];
    for (int i = 99; i >= 0; i--) {
        snprintf(key, sizeof key, "K%03d", i);
        assert_int_equal(qt_symtab_upsert(&t, key, NULL), QT_SYMTAB_INSERTED);
    }
    assert_ptr_equal(qt_symtab_data(&t), before);
    assert_string_equal(((const rec_t *)qt_symtab_at(&t, 0))->symbol, "K000");
    qt_symtab_free(&t);
}

typedef struct {
    char key[8];
} huge_t;   /* stands for a record too large to allocate */

static void test_allocation_failure_leaves_table_unchanged(void **state)
{
    (void)state;
    qt_symtab_t t;
    /* 16 records of SIZE_MAX/64 bytes: no overflow, but no allocator can serve it. */
    qt_symtab_init(&t, SIZE_MAX / 64, sizeof(((huge_t *)0)->key), 0);
    void *e = (void *)&t;
    assert_int_equal(qt_symtab_upsert(&t, "A", &e), QT_SYMTAB_NOMEM);
    assert_null(e);
    assert_int_equal(qt_symtab_size(&t), 0);
    assert_null(qt_symtab_data(&t));
    assert_null(qt_symtab_find(&t, "A"));
    /* size overflow of the request is refused, not wrapped */
    qt_symtab_init(&t, SIZE_MAX / 4, 8, 0);
    assert_int_equal(qt_symtab_upsert(&t, "A", NULL), QT_SYMTAB_NOMEM);
    assert_false(qt_symtab_reserve(&t, 5));
    qt_symtab_free(&t);
    /* degenerate sizes refuse every key */
    qt_symtab_init(&t, 4, 8, 0);
    assert_int_equal(qt_symtab_upsert(&t, "A", NULL), QT_SYMTAB_BADKEY);
    qt_symtab_free(&t);
}

static void test_selftest(void **state)
{
    (void)state;
    assert_int_equal(qt_symtab_selftest(true), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_against_reference),
        cmocka_unit_test(test_iteration_in_key_order),
        cmocka_unit_test(test_truncation_refused),
        cmocka_unit_test(test_capacity_bound),
        cmocka_unit_test(test_reserve_means_no_realloc),
        cmocka_unit_test(test_allocation_failure_leaves_table_unchanged),
        cmocka_unit_test(test_selftest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
