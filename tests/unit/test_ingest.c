/* Unit tests: services/ingest core (merge order, watermarks, gaps, resume) on the real
 * 33-pair Binance 4h set. Expected counts are computed here independently from the files
 * (sorting all timestamps), not with the core's own walk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ingest/ingest.h"
#include "qt_bars.h"

#define NPAIRS 33
#define H4 14400000LL
#define DEMO_START 1647475200000LL   /* 2022-03-17T00:00:00Z */

static const char *PAIRS[NPAIRS] = {
    "AAVE", "ADA", "ALGO", "APE", "ATOM", "AVAX", "BCH", "BNB", "BTC", "CHZ", "DOGE",
    "DOT", "EGLD", "EOS", "ETC", "ETH", "FLOW", "FTM", "FTT", "LINK", "LTC", "MANA",
    "MATIC", "NEAR", "SAND", "SOL", "THETA", "TRX", "VET", "XLM", "XMR", "XRP", "XTZ"};

typedef struct {
    char sym[NPAIRS][32];
    qt_bars_t bars[NPAIRS];
} set_t;

static int setup(void **state) {
    set_t *s = calloc(1, sizeof *s);
    const char *dir = getenv("QT_DATA_DIR");
    for (int i = 0; i < NPAIRS; i++) {
        char path[1024], err[512];
        snprintf(s->sym[i], sizeof s->sym[i], "%s_USDT", PAIRS[i]);
        snprintf(path, sizeof path, "%s/raw/djienne-3EMA_SRSI_ATR-binance/4h/%s-4h.json",
                 dir && *dir ? dir : "../shared/data", s->sym[i]);
        qt_bars_init(&s->bars[i]);
        if (qt_bars_load_file(&s->bars[i], path, err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            return -1;
        }
    }
    *state = s;
    return 0;
}

static int teardown(void **state) {
    set_t *s = *state;
    for (int i = 0; i < NPAIRS; i++) qt_bars_free(&s->bars[i]);
    free(s);
    return 0;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static ingest_t *make(set_t *s, int64_t start, int64_t end, bool reverse) {
    ingest_t *g = ingest_new(H4, start, end);
    assert_non_null(g);
    for (int k = 0; k < NPAIRS; k++) {
        int i = reverse ? NPAIRS - 1 - k : k;
        assert_int_equal(ingest_add_series(g, s->sym[i], s->bars[i].bars, s->bars[i].n), 0);
    }
    return g;
}

/* Independent expectation: all timestamps >= start from the files, sorted. */
static void expected(set_t *s, int64_t start, size_t *nbars, size_t *nbatches, int64_t *last) {
    size_t total = 0;
    for (int i = 0; i < NPAIRS; i++) total += s->bars[i].n;
    int64_t *ts = malloc(total * sizeof *ts);
    size_t n = 0;
    for (int i = 0; i < NPAIRS; i++)
        for (size_t j = 0; j < s->bars[i].n; j++)
            if (s->bars[i].bars[j].t_ms >= start) ts[n++] = s->bars[i].bars[j].t_ms;
    qsort(ts, n, sizeof *ts, cmp_i64);
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || ts[i] != ts[i - 1]) distinct++;
    *nbars = n;
    *nbatches = distinct;
    *last = n ? ts[n - 1] : -1;
    free(ts);
}

static void test_demo_window_merge_and_watermarks(void **state) {
    set_t *s = *state;
    size_t exp_bars, exp_batches;
    int64_t exp_last;
    expected(s, DEMO_START, &exp_bars, &exp_batches, &exp_last);
    ingest_t *g = make(s, DEMO_START, -1, true);
    assert_int_equal(ingest_series_count(g), NPAIRS);
    assert_int_equal(ingest_remaining_bars(g), exp_bars);
    assert_int_equal(ingest_remaining_batches(g), exp_batches);
    ingest_batch_t b;
    size_t bars = 0, batches = 0, eos = 0, full = 0, gaps = 0;
    int64_t prev = -1;
    while (ingest_next(g, &b) == 1) {
        assert_true(b.t_ms > prev);
        prev = b.t_ms;
        assert_true(b.n >= 1 && b.n <= NPAIRS);
        for (size_t i = 0; i < b.n; i++) {
            assert_int_equal(b.items[i].bar.t_ms, b.t_ms);
            if (i) assert_true(strcmp(b.items[i - 1].symbol, b.items[i].symbol) < 0);
            if (b.items[i].flags & INGEST_BAR_FLAG_GAP_BEFORE) gaps++;
        }
        if (batches == 0) {
            /* APE's first 4h candle is 2022-03-17 12:00: the first three batches have 32 */
            assert_int_equal(b.t_ms, DEMO_START);
            assert_int_equal(b.n, NPAIRS - 1);
            assert_string_equal(b.items[0].symbol, "AAVE_USDT");
            assert_string_equal(b.items[3].symbol, "ATOM_USDT");
        }
        if (batches == 3) {
            assert_int_equal(b.t_ms, DEMO_START + 3 * H4);
            assert_int_equal(b.n, NPAIRS);
            assert_string_equal(b.items[3].symbol, "APE_USDT");
            assert_string_equal(b.items[32].symbol, "XTZ_USDT");
        }
        if (b.n == NPAIRS) full++;
        bars += b.n;
        batches++;
        if (b.end_of_stream) eos++;
        assert_int_equal(b.end_of_stream, batches == exp_batches);
    }
    assert_int_equal(bars, exp_bars);
    assert_int_equal(batches, exp_batches);
    assert_int_equal(eos, 1);
    assert_int_equal(prev, exp_last);
    assert_int_equal(ingest_next(g, &b), 0);
    printf("    demo window (2022-03-17T00:00Z..end): %zu bars in %zu batches (%zu with all 33),"
           " %zu gap-flagged bars, last batch t=%lld\n",
           bars, batches, full, gaps, (long long)prev);
    ingest_destroy(&g);
    assert_null(g);
}

static void test_gap_count_full_files_is_105(void **state) {
    set_t *s = *state;
    uint64_t by_series = 0;
    for (int i = 0; i < NPAIRS; i++)
        by_series += ingest_count_gaps(s->bars[i].bars, s->bars[i].n, H4);
    assert_int_equal(by_series, 105);   /* SOURCES.md: 105 missing-candle gaps in 4h */
    /* The replay flags exactly those bars. */
    ingest_t *g = make(s, 0, -1, false);
    ingest_batch_t b;
    uint64_t flagged = 0, bars = 0;
    while (ingest_next(g, &b) == 1) {
        bars += b.n;
        for (size_t i = 0; i < b.n; i++) flagged += (b.items[i].flags & INGEST_BAR_FLAG_GAP_BEFORE) != 0;
    }
    assert_int_equal(flagged, 105);
    assert_int_equal(bars, 237860);
    ingest_destroy(&g);
}

/* The gap flag looks at the previous bar even when it lies before the window start. */
static void test_gap_before_window_start(void **state) {
    (void)state;
    qt_bar_t bars[3] = {{.t_ms = 0, .open = 1, .high = 1, .low = 1, .close = 1},
                        {.t_ms = 3 * H4, .open = 1, .high = 1, .low = 1, .close = 1},
                        {.t_ms = 4 * H4, .open = 1, .high = 1, .low = 1, .close = 1}};
    ingest_t *g = ingest_new(H4, 3 * H4, -1);
    assert_int_equal(ingest_add_series(g, "X", bars, 3), 0);
    ingest_batch_t b;
    assert_int_equal(ingest_next(g, &b), 1);
    assert_int_equal(b.t_ms, 3 * H4);
    assert_int_equal(b.items[0].flags, INGEST_BAR_FLAG_GAP_BEFORE);
    assert_false(b.end_of_stream);
    assert_int_equal(ingest_next(g, &b), 1);
    assert_int_equal(b.items[0].flags, 0);
    assert_true(b.end_of_stream);
    /* adding after start is refused; so are duplicates and unsorted bars */
    assert_int_equal(ingest_add_series(g, "Y", bars, 3), -1);
    ingest_destroy(&g);
    g = ingest_new(H4, 0, -1);
    assert_int_equal(ingest_add_series(g, "X", bars, 3), 0);
    assert_int_equal(ingest_add_series(g, "X", bars, 3), -1);
    qt_bar_t rev[2] = {bars[1], bars[0]};
    assert_int_equal(ingest_add_series(g, "Z", rev, 2), -1);
    assert_int_equal(ingest_add_series(g, "bad/sym", bars, 3), -1);
    assert_int_equal(ingest_add_series(g, "", bars, 3), -1);
    ingest_destroy(&g);
    assert_null(ingest_new(0, 0, -1));
    assert_null(ingest_new(H4, 10, 5));
}

/* Resume after a checkpointed batch: the rest is identical to an uninterrupted run,
 * and the order does not depend on the order the series were added. */
static void test_resume_and_add_order(void **state) {
    set_t *s = *state;
    ingest_t *a = make(s, DEMO_START, -1, false);
    ingest_t *c = make(s, DEMO_START, -1, true);
    ingest_batch_t ba, bc;
    int64_t ckpt = -1;
    for (int k = 0; k < 500; k++) {
        assert_int_equal(ingest_next(a, &ba), 1);
        assert_int_equal(ingest_next(c, &bc), 1);
        assert_int_equal(ba.n, bc.n);
        for (size_t i = 0; i < ba.n; i++) {
            assert_string_equal(ba.items[i].symbol, bc.items[i].symbol);
            assert_memory_equal(&ba.items[i].bar, &bc.items[i].bar, sizeof(qt_bar_t));
        }
        ckpt = ba.t_ms;
    }
    ingest_t *r = make(s, DEMO_START, -1, false);
    ingest_resume_after(r, ckpt);
    size_t left = ingest_remaining_batches(r);
    size_t n = 0;
    ingest_batch_t br;
    while (ingest_next(a, &ba) == 1) {
        assert_int_equal(ingest_next(r, &br), 1);
        assert_int_equal(ba.t_ms, br.t_ms);
        assert_int_equal(ba.n, br.n);
        assert_int_equal(ba.end_of_stream, br.end_of_stream);
        for (size_t i = 0; i < ba.n; i++) {
            assert_string_equal(ba.items[i].symbol, br.items[i].symbol);
            assert_int_equal(ba.items[i].flags, br.items[i].flags);
            assert_memory_equal(&ba.items[i].bar, &br.items[i].bar, sizeof(qt_bar_t));
        }
        n++;
    }
    assert_int_equal(n, left);
    assert_int_equal(ingest_next(r, &br), 0);
    /* resuming after the final batch leaves nothing */
    ingest_t *done = make(s, DEMO_START, -1, false);
    ingest_resume_after(done, ba.t_ms);
    assert_int_equal(ingest_remaining_batches(done), 0);
    assert_int_equal(ingest_next(done, &br), 0);
    ingest_destroy(&a);
    ingest_destroy(&c);
    ingest_destroy(&r);
    ingest_destroy(&done);
}

static void test_end_bound(void **state) {
    set_t *s = *state;
    int64_t end = DEMO_START + 10 * H4;
    ingest_t *g = make(s, DEMO_START, end, false);
    ingest_batch_t b;
    size_t batches = 0, bars = 0;
    while (ingest_next(g, &b) == 1) {
        assert_true(b.t_ms <= end);
        batches++;
        bars += b.n;
        if (b.end_of_stream) assert_int_equal(b.t_ms, end);
    }
    assert_int_equal(batches, 11);
    assert_int_equal(bars, 11 * NPAIRS - 3);   /* APE starts at the 4th batch */
    ingest_destroy(&g);
}

static void test_helpers_and_checkpoint(void **state) {
    (void)state;
    assert_int_equal(ingest_interval_ms("4h"), H4);
    assert_int_equal(ingest_interval_ms("1d"), 86400000LL);
    assert_int_equal(ingest_interval_ms("15m"), 900000LL);
    assert_int_equal(ingest_interval_ms("4x"), -1);
    assert_int_equal(ingest_interval_ms("h"), -1);
    assert_int_equal(ingest_interval_ms("0h"), -1);
    char sym[40];
    assert_true(ingest_symbol_from_filename("BTC_USDT-4h.json", "4h", sym, sizeof sym));
    assert_string_equal(sym, "BTC_USDT");
    assert_true(ingest_symbol_from_filename("ETH_USDT-1h.json.gz", "1h", sym, sizeof sym));
    assert_string_equal(sym, "ETH_USDT");
    assert_false(ingest_symbol_from_filename("BTC_USDT-1h.json", "4h", sym, sizeof sym));
    assert_false(ingest_symbol_from_filename("-4h.json", "4h", sym, sizeof sym));
    assert_false(ingest_symbol_from_filename("BTC_USDT-4h.txt", "4h", sym, sizeof sym));

    ingest_seq_t seqs[2] = {{"md.bar.BTC_USDT.4h", 42}, {"md.watermark", 7}};
    qt_buf_t b;
    qt_buf_init(&b);
    ingest_ckpt_write(&b, DEMO_START, seqs, 2);
    ingest_ckpt_t c;
    assert_true(ingest_ckpt_read(b.data, b.len, &c));
    assert_int_equal(c.last_t_ms, DEMO_START);
    assert_int_equal(c.nseqs, 2);
    assert_string_equal(c.seqs[0].topic, "md.bar.BTC_USDT.4h");
    assert_int_equal(c.seqs[0].seq, 42);
    assert_int_equal(c.seqs[1].seq, 7);
    ingest_ckpt_free(&c);
    for (size_t cut = 0; cut < b.len; cut++) assert_false(ingest_ckpt_read(b.data, cut, &c));
    b.data[0] ^= 0xff;
    assert_false(ingest_ckpt_read(b.data, b.len, &c));
    b.data[0] ^= 0xff;
    qt_buf_put_u32(&b, 0);  /* trailing bytes */
    assert_false(ingest_ckpt_read(b.data, b.len, &c));
    qt_buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demo_window_merge_and_watermarks),
        cmocka_unit_test(test_gap_count_full_files_is_105),
        cmocka_unit_test(test_gap_before_window_start),
        cmocka_unit_test(test_resume_and_add_order),
        cmocka_unit_test(test_end_bound),
        cmocka_unit_test(test_helpers_and_checkpoint),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
