/* Unit tests: libs/qt/qt_store (curated store) with the real BTC/ETH 4h series:
 * idempotent re-import, conflicts refused, backfill, corruption and torn-tail detection,
 * catalog. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../lib/qt_testdata.h"
#include "qt_store.h"

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

typedef struct {
    char dir[64];
    qt_store_t *s;
} fx_t;

static int setup(void **state) {
    fx_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/qt_store_test_XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    char err[256];
    char root[128];
    snprintf(root, sizeof root, "%s/curated", f->dir);
    f->s = qt_store_open(root, err, sizeof err);
    if (!f->s) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx_t *f = *state;
    qt_store_destroy(&f->s);
    nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static Qt__V1__Bar *to_proto(const qt_bars_t *b) {
    Qt__V1__Bar *v = calloc(b->n, sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < b->n; i++) {
        Qt__V1__Bar x = QT__V1__BAR__INIT;
        x.open_time_ms = b->bars[i].t_ms;
        x.open = b->bars[i].open;
        x.high = b->bars[i].high;
        x.low = b->bars[i].low;
        x.close = b->bars[i].close;
        x.volume = b->bars[i].volume;
        v[i] = x;
    }
    return v;
}

static void path_of(const fx_t *f, const char *file, char *buf, size_t len) {
    snprintf(buf, len, "%s/curated/binance/BTC_USDT/4h/%s", f->dir, file);
}

static void test_selftest(void **state) {
    (void)state;
    assert_int_equal(qt_store_selftest(true), 0);
}

static void assert_same_series(const qt_store_row_t *rows, size_t n, const qt_bars_t *b) {
    assert_int_equal(n, b->n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(rows[i].bar.t_ms, b->bars[i].t_ms);
        assert_int_equal(rows[i].bar.open, b->bars[i].open);
        assert_int_equal(rows[i].bar.high, b->bars[i].high);
        assert_int_equal(rows[i].bar.low, b->bars[i].low);
        assert_int_equal(rows[i].bar.close, b->bars[i].close);
        assert_int_equal(rows[i].bar.volume, b->bars[i].volume);
    }
}

/* Import real BTC 4h; the same import again changes nothing (not one byte). */
static void test_import_idempotent(void **state) {
    fx_t *f = *state;
    qt_bars_t b;
    qt_testdata_load_4h("BTC_USDT", &b);
    Qt__V1__Bar *pb = to_proto(&b);
    char err[512];
    qt_store_stats_t st;
    assert_int_equal(qt_store_append(f->s, "binance", "BTC_USDT", "4h", pb, b.n, &st, err, sizeof err), 0);
    assert_int_equal(st.appended, 11271);
    assert_int_equal(st.rows, 11271);
    assert_int_equal(st.skipped + st.conflicts + st.invalid, 0);
    qt_store_entry_t *e = NULL;
    size_t ne = 0;
    assert_int_equal(qt_store_catalog(f->s, &e, &ne, err, sizeof err), 0);
    assert_int_equal(ne, 1);
    char sha[65];
    snprintf(sha, sizeof sha, "%s", e[0].sha256);
    assert_int_equal(e[0].rows, 11271);
    assert_int_equal(e[0].first_ms, 1502942400000LL);
    assert_int_equal(e[0].last_ms, b.bars[b.n - 1].t_ms);
    free(e);
    assert_int_equal(qt_store_append(f->s, "binance", "BTC_USDT", "4h", pb, b.n, &st, err, sizeof err), 0);
    assert_int_equal(st.appended, 0);
    assert_int_equal(st.skipped, 11271);
    assert_int_equal(st.rows, 11271);
    assert_int_equal(qt_store_catalog(f->s, &e, &ne, err, sizeof err), 0);
    assert_string_equal(e[0].sha256, sha);
    free(e);
    assert_int_equal(qt_store_verify(f->s, "binance", "BTC_USDT", "4h", err, sizeof err), 0);
    qt_store_row_t *rows = NULL;
    size_t n = 0;
    assert_int_equal(qt_store_read(f->s, "binance", "BTC_USDT", "4h", &rows, &n, err, sizeof err), 0);
    assert_same_series(rows, n, &b);
    free(rows);
    free(pb);
    qt_bars_free(&b);
}

/* A changed value for a stored time is refused and reported; nothing is overwritten.
 * Bars refused as invalid; duplicates inside one call. */
static void test_conflict_and_invalid(void **state) {
    fx_t *f = *state;
    qt_bars_t b;
    qt_testdata_load_4h("BTC_USDT", &b);
    b.n = 100;
    Qt__V1__Bar *pb = to_proto(&b);
    char err[512];
    qt_store_stats_t st;
    assert_int_equal(qt_store_append(f->s, "binance", "BTC_USDT", "4h", pb, 100, &st, err, sizeof err), 0);
    Qt__V1__Bar x[4];
    x[0] = pb[50];
    x[0].close += 1;            /* conflict */
    x[1] = pb[99];
    x[1].open_time_ms += 4 * 3600000LL;
    x[1].high = x[1].low - 1;   /* invalid OHLC */
    x[2] = pb[99];
    x[2].open_time_ms += 4 * 3600000LL;  /* new, valid */
    x[3] = x[2];
    x[3].volume += 1;           /* same time as x[2] in the same call, different: conflict */
    assert_int_equal(qt_store_append(f->s, "binance", "BTC_USDT", "4h", x, 4, &st, err, sizeof err), 0);
    assert_int_equal(st.appended, 1);
    assert_int_equal(st.conflicts, 2);
    assert_int_equal(st.invalid, 1);
    assert_int_equal(st.first_conflict_ms, pb[50].open_time_ms);
    assert_int_equal(st.rows, 101);
    qt_store_row_t *rows = NULL;
    size_t n = 0;
    assert_int_equal(qt_store_read(f->s, "binance", "BTC_USDT", "4h", &rows, &n, err, sizeof err), 0);
    assert_int_equal(n, 101);
    assert_int_equal(rows[50].bar.close, pb[50].close);   /* not overwritten */
    assert_int_equal(rows[100].bar.volume, x[2].volume);
    free(rows);
    /* names are validated */
    assert_int_equal(qt_store_append(f->s, "..", "BTC_USDT", "4h", x, 1, &st, err, sizeof err), -1);
    assert_int_equal(qt_store_append(f->s, "binance", "BTC/USDT", "4h", x, 1, &st, err, sizeof err), -1);
    free(pb);
    qt_bars_free(&b);
}

/* A hole filled later (backfill) is appended; read returns the series in time order. */
static void test_backfill_in_order(void **state) {
    fx_t *f = *state;
    qt_bars_t b;
    qt_testdata_load_4h("ETH_USDT", &b);
    b.n = 500;
    Qt__V1__Bar *pb = to_proto(&b);
    char err[512];
    qt_store_stats_t st;
    assert_int_equal(qt_store_append(f->s, "binance", "ETH_USDT", "4h", pb, 200, &st, err, sizeof err), 0);
    assert_int_equal(qt_store_append(f->s, "binance", "ETH_USDT", "4h", pb + 300, 200, &st, err, sizeof err), 0);
    pb[250].flags = 2;   /* BAR_FLAG_BACKFILLED */
    assert_int_equal(qt_store_append(f->s, "binance", "ETH_USDT", "4h", pb + 150, 200, &st, err, sizeof err), 0);
    assert_int_equal(st.appended, 100);
    assert_int_equal(st.skipped, 100);
    assert_int_equal(st.rows, 500);
    qt_store_row_t *rows = NULL;
    size_t n = 0;
    assert_int_equal(qt_store_read(f->s, "binance", "ETH_USDT", "4h", &rows, &n, err, sizeof err), 0);
    assert_same_series(rows, n, &b);
    assert_int_equal(rows[250].flags, 2);
    assert_int_equal(rows[249].flags, 0);
    free(rows);
    assert_int_equal(qt_store_verify(f->s, "binance", "ETH_USDT", "4h", err, sizeof err), 0);
    free(pb);
    qt_bars_free(&b);
}

/* One flipped byte is detected by verify and read; a torn tail (bytes after the
 * committed length) is reported by verify and truncated by the next append. */
static void test_corruption_and_torn_tail(void **state) {
    fx_t *f = *state;
    qt_bars_t b;
    qt_testdata_load_4h("BTC_USDT", &b);
    b.n = 50;
    Qt__V1__Bar *pb = to_proto(&b);
    char err[512], path[256];
    assert_int_equal(qt_store_append(f->s, "binance", "BTC_USDT", "4h", pb, 40, NULL, err, sizeof err), 0);
    path_of(f, "bars.qtb", path, sizeof path);
    /* torn tail */
    FILE *fp = fopen(path, "ab");
    assert_non_null(fp);
    fwrite("\x10\x00\x00\x00garbage", 1, 11, fp);
    fclose(fp);
    assert_int_equal(qt_store_verify(f->s, "binance", "BTC_USDT", "4h", err, sizeof err), -1);
    assert_non_null(strstr(err, "uncommitted"));
    qt_store_row_t *rows = NULL;
    size_t n = 0;
    assert_int_equal(qt_store_read(f->s, "binance", "BTC_USDT", "4h", &rows, &n, err, sizeof err), 0);
    assert_int_equal(n, 40);
    free(rows);
    qt_store_stats_t st;
    assert_int_equal(qt_store_append(f->s, "binance", "BTC_USDT", "4h", pb, 50, &st, err, sizeof err), 0);
    assert_int_equal(st.appended, 10);
    assert_int_equal(qt_store_verify(f->s, "binance", "BTC_USDT", "4h", err, sizeof err), 0);
    /* flip one byte in the middle of the records */
    fp = fopen(path, "r+b");
    assert_non_null(fp);
    fseek(fp, 200, SEEK_SET);
    int c = fgetc(fp);
    fseek(fp, 200, SEEK_SET);
    fputc(c ^ 0x01, fp);
    fclose(fp);
    assert_int_equal(qt_store_verify(f->s, "binance", "BTC_USDT", "4h", err, sizeof err), -1);
    assert_non_null(strstr(err, "SHA-256"));
    assert_int_equal(qt_store_read(f->s, "binance", "BTC_USDT", "4h", &rows, &n, err, sizeof err), -1);
    assert_null(rows);
    /* and an append refuses to build on a corrupt dataset */
    assert_int_equal(qt_store_append(f->s, "binance", "BTC_USDT", "4h", pb, 1, &st, err, sizeof err), -1);
    free(pb);
    qt_bars_free(&b);
}

/* The catalog lists every dataset, sorted, and is written to <root>/catalog.json. */
static void test_catalog(void **state) {
    fx_t *f = *state;
    const char *pairs[3] = {"ETH_USDT", "BTC_USDT", "APE_USDT"};
    char err[512];
    for (int k = 0; k < 3; k++) {
        qt_bars_t b;
        qt_testdata_load_4h(pairs[k], &b);
        Qt__V1__Bar *pb = to_proto(&b);
        assert_int_equal(qt_store_append(f->s, "binance", pairs[k], "4h", pb, b.n, NULL, err, sizeof err), 0);
        free(pb);
        qt_bars_free(&b);
    }
    qt_store_entry_t *e = NULL;
    size_t ne = 0;
    assert_int_equal(qt_store_catalog(f->s, &e, &ne, err, sizeof err), 0);
    assert_int_equal(ne, 3);
    assert_string_equal(e[0].symbol, "APE_USDT");
    assert_string_equal(e[1].symbol, "BTC_USDT");
    assert_string_equal(e[2].symbol, "ETH_USDT");
    assert_int_equal(e[0].rows, 1247);
    assert_int_equal(e[1].rows, 11271);
    assert_int_equal(e[2].rows, 11271);
    assert_string_equal(e[2].interval, "4h");
    assert_int_equal(strlen(e[0].sha256), 64);
    free(e);
    char path[256];
    snprintf(path, sizeof path, "%s/curated/catalog.json", f->dir);
    assert_int_equal(access(path, R_OK), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selftest),
        cmocka_unit_test_setup_teardown(test_import_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conflict_and_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backfill_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corruption_and_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_catalog, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
