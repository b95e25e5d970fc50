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

#include <jansson.h>
#include <unistd.h>

#include "ingest/audit.h"
#include "ingest/catalog.h"
#include "ingest/ingest.h"
#include "qt_audit.h"
#include "qt_bars.h"
#include "qt_config.h"
#include "qt_store.h"

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

/* Runs `qt-ingest audit ARGS...` in-process; returns the exit code, *out = its stdout. */
static int run_audit(char **args, int nargs, char **out) {
    char *argv[64] = {"qt-ingest", "audit"};
    for (int i = 0; i < nargs && i < 60; i++) argv[2 + i] = args[i];
    FILE *f = tmpfile();
    assert_non_null(f);
    int rc = ingest_audit_main(2 + nargs, argv, 2, f);
    long len = ftell(f);
    rewind(f);
    *out = calloc(1, (size_t)len + 1);
    assert_int_equal(fread(*out, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    return rc;
}

/* `qt-ingest audit --json` over the 33 shipped 4h files: the real outages. */
static void test_audit_cli_real_4h(void **state) {
    (void)state;
    const char *dir = getenv("QT_DATA_DIR");
    static char paths[NPAIRS][1024];
    char *args[NPAIRS + 1];
    args[0] = "--json";
    for (int i = 0; i < NPAIRS; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/raw/djienne-3EMA_SRSI_ATR-binance/4h/%s_USDT-4h.json",
                 dir && *dir ? dir : "../shared/data", PAIRS[i]);
        args[i + 1] = paths[i];
    }
    char *out = NULL;
    assert_int_equal(run_audit(args, NPAIRS + 1, &out), 0);
    json_error_t je;
    json_t *root = json_loads(out, 0, &je);
    assert_non_null(root);
    json_t *total = json_object_get(root, "total");
    assert_int_equal(json_integer_value(json_object_get(total, "rows")), 237860);
    assert_int_equal(json_integer_value(json_object_get(total, "gaps")), 155);
    assert_int_equal(json_integer_value(json_object_get(total, "gap_ranges")), 105);
    assert_int_equal(json_integer_value(json_object_get(total, "duplicates")), 0);
    assert_int_equal(json_integer_value(json_object_get(total, "out_of_order")), 0);
    assert_int_equal(json_integer_value(json_object_get(total, "ohlc_violations")), 0);
    assert_int_equal(json_integer_value(json_object_get(total, "non_finite")), 0);
    assert_int_equal(json_integer_value(json_object_get(total, "outliers")), 184);
    json_t *files = json_object_get(root, "files");
    assert_int_equal(json_array_size(files), NPAIRS);
    json_t *btc = json_array_get(files, 8);   /* BTC */
    assert_string_equal(json_string_value(json_object_get(btc, "interval")), "4h");
    json_t *r0 = json_array_get(json_object_get(btc, "gap_ranges"), 0);
    assert_int_equal(json_integer_value(json_array_get(r0, 0)), 1518062400000LL);
    assert_int_equal(json_integer_value(json_array_get(r0, 1)), 1518148800000LL);
    json_decref(root);
    free(out);
    /* --strict: the gaps make it exit 1 */
    args[0] = "--strict";
    args[1] = paths[8];   /* BTC: has gaps */
    assert_int_equal(run_audit(args, 2, &out), 1);
    assert_non_null(strstr(out, "TOTAL"));
    free(out);
}

/* Usage errors exit 2, unreadable files 1; --quarantine writes every quarantined row with
 * its reasons; --policy changes what is quarantined. */
static void test_audit_cli_errors_and_quarantine(void **state) {
    (void)state;
    char *out = NULL;
    char *a1[] = {"--bogus", "x"};
    assert_int_equal(run_audit(a1, 2, &out), 2);
    free(out);
    char *a2[] = {"--interval", "7x", "f.json"};
    assert_int_equal(run_audit(a2, 3, &out), 2);
    free(out);
    char *a3[] = {"--json"};
    assert_int_equal(run_audit(a3, 1, &out), 2);
    free(out);
    char *a4[] = {"--policy", "ohlc=flag", "f.json"};
    assert_int_equal(run_audit(a4, 3, &out), 2);
    free(out);
    char *a5[] = {"/nonexistent/BTC_USDT-4h.json"};
    assert_int_equal(run_audit(a5, 1, &out), 1);
    free(out);
    char data[] = "/tmp/qt_audit_XXXXXX";
    int fd = mkstemp(data);
    assert_true(fd >= 0);
    const char *j = "[[0,1,1,1,1,1],[3600000,1,1,1,1,1],[3600000,1,1,1,1,1],"
                    "[10800000,1,0.5,1,1,1],[14400000,1,1,1,1,-2]]";
    assert_int_equal(write(fd, j, strlen(j)), (ssize_t)strlen(j));
    close(fd);
    char qpath[] = "/tmp/qt_audit_q_XXXXXX";
    fd = mkstemp(qpath);
    close(fd);
    char *a6[] = {"--format", "freqtrade", "--interval", "1h", "--json", "--policy",
                  "negative_volume=drop", "--quarantine", qpath, data};
    assert_int_equal(run_audit(a6, 10, &out), 0);
    json_t *root = json_loads(out, 0, NULL);
    assert_non_null(root);
    json_t *f0 = json_array_get(json_object_get(root, "files"), 0);
    assert_int_equal(json_integer_value(json_object_get(f0, "rows")), 5);
    assert_int_equal(json_integer_value(json_object_get(f0, "gaps")), 1);
    assert_int_equal(json_integer_value(json_object_get(f0, "duplicates")), 1);
    assert_int_equal(json_integer_value(json_object_get(f0, "ohlc_violations")), 1);
    assert_int_equal(json_integer_value(json_object_get(f0, "negative_volume")), 1);
    json_decref(root);
    free(out);
    FILE *q = fopen(qpath, "r");
    assert_non_null(q);
    char line[512];
    int nl = 0;
    while (fgets(line, sizeof line, q)) {
        json_t *o = json_loads(line, 0, NULL);
        assert_non_null(o);
        json_t *reasons = json_object_get(o, "reasons");
        if (nl == 0) {
            assert_int_equal(json_integer_value(json_object_get(o, "row")), 3);
            assert_string_equal(json_string_value(json_array_get(reasons, 0)), "duplicate");
        } else {
            assert_int_equal(json_integer_value(json_object_get(o, "row")), 4);
            assert_int_equal(json_integer_value(json_object_get(o, "open_time_ms")), 10800000);
            assert_string_equal(json_string_value(json_array_get(reasons, 0)), "ohlc");
        }
        json_decref(o);
        nl++;
    }
    fclose(q);
    assert_int_equal(nl, 2);   /* the negative volume row was dropped, not quarantined */
    unlink(qpath);
    unlink(data);
}

/* The serve path (rows -> audit -> default policy -> core) on the shipped 4h set: the demo
 * window still publishes 41,151 bars in 1,247 batches (nothing is quarantined: the files
 * have no bad rows); outliers are only flagged BAR_FLAG_SUSPECT. */
static void test_policy_keeps_demo_counts(void **state) {
    (void)state;
    const char *dir = getenv("QT_DATA_DIR");
    ingest_t *g = ingest_new(H4, DEMO_START + 3 * H4, -1);
    assert_non_null(g);
    size_t quarantined = 0, suspect_total = 0;
    for (int i = 0; i < NPAIRS; i++) {
        char path[1024], err[512], sym[32];
        snprintf(sym, sizeof sym, "%s_USDT", PAIRS[i]);
        snprintf(path, sizeof path, "%s/raw/djienne-3EMA_SRSI_ATR-binance/4h/%s-4h.json",
                 dir && *dir ? dir : "../shared/data", sym);
        qt_rows_t r;
        qt_rows_init(&r);
        assert_int_equal(qt_rows_load_file(&r, path, err, sizeof err), 0);
        qt_audit_params_t p = {H4, QT_AUDIT_DEFAULT_Z, -1, 0};
        qt_audit_t a;
        qt_cleaned_t c;
        qt_policy_t pol;
        qt_policy_default(&pol);
        assert_int_equal(qt_audit_run(&r, &p, &a), 0);
        assert_int_equal(qt_audit_clean(&r, &a, &pol, &c), 0);
        quarantined += c.n_quarantine + c.n_dropped;
        assert_int_equal(c.n, r.n);
        uint32_t *fl = calloc(c.n, sizeof *fl);
        for (size_t k = 0; k < c.n; k++) {
            fl[k] = c.suspect[k] ? INGEST_BAR_FLAG_SUSPECT : 0;
            suspect_total += c.suspect[k] != 0;
        }
        assert_int_equal(ingest_add_series_flags(g, sym, c.bars, fl, c.n), 0);
        free(fl);
        qt_cleaned_free(&c);
        qt_audit_free(&a);
        qt_rows_free(&r);
    }
    assert_int_equal(quarantined, 0);
    assert_int_equal(suspect_total, 184);
    assert_int_equal(ingest_remaining_bars(g), 41151);
    assert_int_equal(ingest_remaining_batches(g), 1247);
    ingest_batch_t b;
    size_t bars = 0, batches = 0, suspect = 0;
    while (ingest_next(g, &b) == 1) {
        bars += b.n;
        batches++;
        for (size_t k = 0; k < b.n; k++) suspect += (b.items[k].flags & INGEST_BAR_FLAG_SUSPECT) != 0;
    }
    assert_int_equal(bars, 41151);
    assert_int_equal(batches, 1247);
    assert_int_equal(suspect, 6);   /* outliers inside the demo window (z > 12) */
    ingest_destroy(&g);
}

/* Freshness on real BTC/ETH 4h bars with three ETH candles removed (a source outage):
 * MISSING at the first batch without ETH, STALE when its age passes the SLA (2 candles),
 * FRESH when it is back; ages per symbol; resume restores the last emitted bar. */
static void test_freshness_events(void **state) {
    set_t *s = *state;
    const qt_bars_t *btc = &s->bars[8], *eth = &s->bars[15];
    long i0 = -1;
    for (size_t k = 0; k < eth->n; k++)
        if (eth->bars[k].t_ms == DEMO_START) i0 = (long)k;
    assert_true(i0 > 0);
    size_t n = eth->n - (size_t)i0;
    qt_bar_t *e = malloc(n * sizeof *e);
    size_t m = 0;
    for (size_t k = (size_t)i0; k < eth->n; k++) {
        size_t off = k - (size_t)i0;
        if (off >= 10 && off < 13) continue;   /* ETH missing at batches 10, 11, 12 */
        e[m++] = eth->bars[k];
    }
    ingest_t *g = ingest_new(H4, DEMO_START, DEMO_START + 20 * H4);
    assert_non_null(g);
    assert_int_equal(ingest_add_series(g, "BTC_USDT", btc->bars, btc->n), 0);
    uint32_t *fl = calloc(m, sizeof *fl);
    fl[0] = INGEST_BAR_FLAG_SUSPECT;
    assert_int_equal(ingest_add_series_flags(g, "ETH_USDT", e, fl, m), 0);
    assert_string_equal(ingest_series_symbol(g, 1), "ETH_USDT");
    ingest_fresh_ev_t ev[8];
    int64_t ages[2];
    ingest_batch_t b;
    int batch = 0;
    int missing_at = -1, stale_at = -1, fresh_at = -1;
    while (ingest_next(g, &b) == 1) {
        if (batch == 0) {
            assert_int_equal(b.items[1].flags & INGEST_BAR_FLAG_SUSPECT, INGEST_BAR_FLAG_SUSPECT);
            assert_int_equal(b.items[0].flags, 0);
        }
        size_t nev = ingest_freshness(g, &b, 2 * H4, ev, 8, ages);
        assert_int_equal(ages[0], 0);
        for (size_t k = 0; k < nev; k++) {
            assert_int_equal(ev[k].series, 1);
            if (ev[k].kind == INGEST_EV_MISSING) missing_at = batch, assert_int_equal(ev[k].age_ms, H4);
            if (ev[k].kind == INGEST_EV_STALE) {
                stale_at = batch;
                assert_int_equal(ev[k].age_ms, 3 * H4);
                assert_int_equal(ev[k].last_bar_ms, DEMO_START + 9 * H4);
            }
            if (ev[k].kind == INGEST_EV_FRESH) fresh_at = batch;
        }
        if (batch == 11) assert_int_equal(ages[1], 2 * H4);
        batch++;
    }
    assert_int_equal(batch, 21);
    assert_int_equal(missing_at, 10);
    assert_int_equal(stale_at, 12);
    assert_int_equal(fresh_at, 13);
    qt_bar_t last;
    uint32_t lf;
    assert_true(ingest_last_bar(g, 1, &last, &lf));
    assert_int_equal(last.t_ms, DEMO_START + 20 * H4);
    ingest_destroy(&g);
    /* resume after batch 11: ETH's newest emitted bar is batch 9's */
    g = ingest_new(H4, DEMO_START, DEMO_START + 20 * H4);
    assert_int_equal(ingest_add_series(g, "BTC_USDT", btc->bars, btc->n), 0);
    assert_int_equal(ingest_add_series(g, "ETH_USDT", e, m), 0);
    assert_false(ingest_last_bar(g, 1, &last, &lf));
    ingest_resume_after(g, DEMO_START + 11 * H4);
    assert_true(ingest_last_bar(g, 1, &last, &lf));
    assert_int_equal(last.t_ms, DEMO_START + 9 * H4);
    assert_int_equal(ingest_next(g, &b), 1);
    assert_int_equal(ingest_freshness(g, &b, 2 * H4, ev, 8, ages), 2);  /* MISSING + STALE */
    assert_int_equal(ev[1].kind, INGEST_EV_STALE);
    ingest_destroy(&g);
    free(fl);
    free(e);
}

/* configs/assets.yml: 33 Binance pairs, every listed file exists and passes the audit
 * (nothing but exchange outages; DOGE 1d's two out-of-range volumes are the one known
 * exception): the "30+ assets of validated data" gate. */
static void test_assets_yml_validated(void **state) {
    (void)state;
    char err[512];
    qt_config_t *y = qt_config_load("configs/assets.yml", err, sizeof err);
    if (!y) fprintf(stderr, "%s\n", err);
    assert_non_null(y);
    size_t n = qt_config_seq_len(y, "assets");
    assert_int_equal(n, 33);
    const char *dir = getenv("QT_DATA_DIR");
    size_t validated = 0;
    for (size_t k = 0; k < n; k++) {
        char key[96];
        snprintf(key, sizeof key, "assets.%zu.symbol", k);
        const char *sym = qt_config_str(y, key, "");
        assert_true(ingest_symbol_valid(sym));
        char want[40];
        snprintf(want, sizeof want, "%s_USDT", PAIRS[k]);   /* same order as SOURCES.md */
        assert_string_equal(sym, want);
        snprintf(key, sizeof key, "assets.%zu.venue", k);
        assert_string_equal(qt_config_str(y, key, ""), "binance");
        snprintf(key, sizeof key, "assets.%zu.intervals", k);
        size_t ni = qt_config_seq_len(y, key);
        assert_int_equal(ni, 3);
        bool ok = true;
        for (size_t j = 0; j < ni; j++) {
            const char *iv = qt_config_seq_str(y, key, j);
            char fkey[128], path[1024];
            snprintf(fkey, sizeof fkey, "assets.%zu.files.%s", k, iv);
            snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "../shared/data",
                     qt_config_str(y, fkey, ""));
            qt_rows_t r;
            qt_rows_init(&r);
            assert_int_equal(qt_rows_load_file(&r, path, err, sizeof err), 0);
            qt_audit_params_t p = {ingest_interval_ms(iv), QT_AUDIT_DEFAULT_Z, -1, 0};
            qt_audit_t a;
            assert_int_equal(qt_audit_run(&r, &p, &a), 0);
            assert_true(a.rows > 0);
            uint64_t bad = a.malformed + a.non_finite + a.non_positive + a.negative_volume +
                           a.ohlc_violations + a.duplicates + a.out_of_order + a.off_grid;
            if (strcmp(sym, "DOGE_USDT") == 0 && strcmp(iv, "1d") == 0) assert_int_equal(bad, 2);
            else assert_int_equal(bad, 0);
            ok = ok && a.clean > 0;
            qt_audit_free(&a);
            qt_rows_free(&r);
        }
        validated += ok;
    }
    assert_null(qt_config_error(y));
    qt_config_destroy(&y);
    assert_int_equal(validated, 33);
}

/* `qt-ingest catalog --verify` over a store holding real BTC 4h bars: lists the dataset
 * and verifies it; after one flipped byte the dataset fails and the exit code is 1. */
static void test_catalog_cli(void **state) {
    set_t *s = *state;
    char root[] = "/tmp/qt_ingest_cat_XXXXXX";
    assert_non_null(mkdtemp(root));
    char err[512];
    qt_store_t *st = qt_store_open(root, err, sizeof err);
    assert_non_null(st);
    const qt_bars_t *btc = &s->bars[8];
    Qt__V1__Bar *pb = calloc(100, sizeof *pb);
    for (size_t k = 0; k < 100; k++) {
        Qt__V1__Bar x = QT__V1__BAR__INIT;
        x.open_time_ms = btc->bars[k].t_ms;
        x.open = btc->bars[k].open, x.high = btc->bars[k].high, x.low = btc->bars[k].low;
        x.close = btc->bars[k].close, x.volume = btc->bars[k].volume;
        pb[k] = x;
    }
    assert_int_equal(qt_store_append(st, "binance", "BTC_USDT", "4h", pb, 100, NULL, err, sizeof err), 0);
    qt_store_destroy(&st);
    char *argv[] = {"qt-ingest", "catalog", "--store", root, "--verify"};
    FILE *f = tmpfile();
    assert_int_equal(ingest_catalog_main(5, argv, 2, f), 0);
    rewind(f);
    json_t *o = json_loadf(f, 0, NULL);
    fclose(f);
    assert_non_null(o);
    json_t *d = json_array_get(json_object_get(o, "datasets"), 0);
    assert_string_equal(json_string_value(json_object_get(d, "symbol")), "BTC_USDT");
    assert_int_equal(json_integer_value(json_object_get(d, "rows")), 100);
    assert_int_equal(json_integer_value(json_object_get(d, "first_ms")), 1502942400000LL);
    assert_true(json_is_true(json_object_get(d, "verified")));
    json_decref(o);
    char path[256];
    snprintf(path, sizeof path, "%s/binance/BTC_USDT/4h/bars.qtb", root);
    FILE *b = fopen(path, "r+b");
    assert_non_null(b);
    fseek(b, 100, SEEK_SET);
    int c = fgetc(b);
    fseek(b, 100, SEEK_SET);
    fputc(c ^ 0x40, b);
    fclose(b);
    f = tmpfile();
    assert_int_equal(ingest_catalog_main(5, argv, 2, f), 1);
    fclose(f);
    char *bad[] = {"qt-ingest", "catalog", "--nope"};
    f = tmpfile();
    assert_int_equal(ingest_catalog_main(3, bad, 2, f), 2);
    fclose(f);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
    free(pb);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_catalog_cli, setup, teardown),
        cmocka_unit_test(test_assets_yml_validated),
        cmocka_unit_test(test_policy_keeps_demo_counts),
        cmocka_unit_test_setup_teardown(test_freshness_events, setup, teardown),
        cmocka_unit_test(test_audit_cli_real_4h),
        cmocka_unit_test(test_audit_cli_errors_and_quarantine),
        cmocka_unit_test(test_demo_window_merge_and_watermarks),
        cmocka_unit_test(test_gap_count_full_files_is_105),
        cmocka_unit_test(test_gap_before_window_start),
        cmocka_unit_test(test_resume_and_add_order),
        cmocka_unit_test(test_end_bound),
        cmocka_unit_test(test_helpers_and_checkpoint),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
