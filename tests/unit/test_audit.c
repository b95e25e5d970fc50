/* Unit tests: libs/quant/qt_audit (series checks, cleaning policy) on real Binance data,
 * plus the property test: inject random gaps, duplicates, swaps and bad ticks (seeded,
 * qt_rng) into real series; the audit must find exactly what was injected plus what the
 * original file already had. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qt_audit.h"
#include "qt_bars.h"
#include "qt_money.h"
#include "qt_rng.h"
#include "../lib/qt_testdata.h"

#define H1 3600000LL
#define H4 (4 * H1)

static const char *const PAIRS[33] = {
    "AAVE", "ADA", "ALGO", "APE", "ATOM", "AVAX", "BCH", "BNB", "BTC", "CHZ", "DOGE",
    "DOT", "EGLD", "EOS", "ETC", "ETH", "FLOW", "FTM", "FTT", "LINK", "LTC", "MANA",
    "MATIC", "NEAR", "SAND", "SOL", "THETA", "TRX", "VET", "XLM", "XMR", "XRP", "XTZ"};

static void load_rows(qt_rows_t *r, const char *rel) {
    char path[1024], err[512];
    snprintf(path, sizeof path, "%s/raw/djienne-3EMA_SRSI_ATR-binance/%s", qt_testdata_dir(), rel);
    qt_rows_init(r);
    int rc = qt_rows_load_file(r, path, err, sizeof err);
    if (rc != 0) fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, 0);
}

static void test_selftest(void **state) {
    (void)state;
    assert_int_equal(qt_audit_selftest(true), 0);
}

/* The shipped 4h set: 105 gap ranges (SOURCES.md's 105 missing-candle gaps), 155 missing
 * candles, nothing else wrong; 184 outlier returns at the default z = 12. */
static void test_real_4h_totals(void **state) {
    (void)state;
    qt_audit_t total;
    memset(&total, 0, sizeof total);
    for (int i = 0; i < 33; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "4h/%s_USDT-4h.json", PAIRS[i]);
        qt_rows_t r;
        load_rows(&r, rel);
        qt_audit_params_t p = {H4, QT_AUDIT_DEFAULT_Z, -1, 0};
        qt_audit_t a;
        assert_int_equal(qt_audit_run(&r, &p, &a), 0);
        if (strcmp(PAIRS[i], "BTC") == 0) {
            /* the 2018-02-08 Binance outage: 04:00 .. 2018-02-09 04:00, 7 candles */
            assert_true(a.n_gap_ranges >= 1);
            assert_int_equal(a.gap_ranges[0].first_ms, 1518062400000LL);
            assert_int_equal(a.gap_ranges[0].last_ms, 1518148800000LL);
            assert_int_equal(a.first_ms, 1502942400000LL);
            assert_int_equal(a.clean, 11271);
        }
        qt_audit_add_counts(&total, &a);
        qt_audit_free(&a);
        qt_rows_free(&r);
    }
    assert_int_equal(total.rows, 237860);
    assert_int_equal(total.clean, 237860);
    assert_int_equal(total.n_gap_ranges, 105);
    assert_int_equal(total.gaps, 155);
    assert_int_equal(total.duplicates, 0);
    assert_int_equal(total.out_of_order, 0);
    assert_int_equal(total.ohlc_violations, 0);
    assert_int_equal(total.non_finite, 0);
    assert_int_equal(total.non_positive + total.negative_volume + total.malformed, 0);
    assert_int_equal(total.off_grid, 0);
    assert_int_equal(total.outliers, 184);
}

/* The 1h set (gzipped): 547 ranges, 1777 missing candles. */
static void test_real_1h_totals(void **state) {
    (void)state;
    qt_audit_t total;
    memset(&total, 0, sizeof total);
    for (int i = 0; i < 33; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "1h/%s_USDT-1h.json.gz", PAIRS[i]);
        qt_rows_t r;
        load_rows(&r, rel);
        qt_audit_params_t p = {H1, QT_AUDIT_DEFAULT_Z, -1, 0};
        qt_audit_t a;
        assert_int_equal(qt_audit_run(&r, &p, &a), 0);
        qt_audit_add_counts(&total, &a);
        qt_audit_free(&a);
        qt_rows_free(&r);
    }
    assert_int_equal(total.rows, 950336);
    assert_int_equal(total.n_gap_ranges, 547);
    assert_int_equal(total.gaps, 1777);
    assert_int_equal(total.duplicates + total.out_of_order + total.ohlc_violations +
                         total.non_finite + total.malformed + total.off_grid,
                     0);
    assert_int_equal(total.outliers, 1266);
}

/* DOGE 1d: two daily volumes (1.03e11 and 1.09e11 DOGE) do not fit int64 at 1e-8: the
 * audit reports them as malformed (range), rows 574 and 575. */
static void test_real_1d_doge_volume_range(void **state) {
    (void)state;
    qt_rows_t r;
    load_rows(&r, "1d/DOGE_USDT-1d.json");
    qt_audit_params_t p = {24 * H1, QT_AUDIT_DEFAULT_Z, -1, 0};
    qt_audit_t a;
    assert_int_equal(qt_audit_run(&r, &p, &a), 0);
    assert_int_equal(a.rows, 1194);
    assert_int_equal(a.malformed, 2);
    assert_true(a.verdict[573] & QT_AUDIT_MALFORMED);
    assert_true(a.verdict[574] & QT_AUDIT_MALFORMED);
    assert_int_equal(r.rows[573].why, QT_BARS_REJ_RANGE);
    assert_int_equal(r.rows[573].t_ms, 1611792000000LL);
    assert_int_equal(a.gaps, 0);   /* the rows are there, only unreadable */
    qt_audit_free(&a);
    qt_rows_free(&r);
}

/* ---- property test ----------------------------------------------------------------- */

typedef enum { INJ_GAP, INJ_DUP, INJ_SWAP, INJ_NONFINITE, INJ_NONPOS, INJ_NEGVOL, INJ_OHLC } inj_t;

typedef struct {
    char *s;
    size_t len, cap;
} sbuf_t;

static void sb_put(sbuf_t *b, const char *s) {
    size_t n = strlen(s);
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->s = realloc(b->s, b->cap);
        assert_non_null(b->s);
    }
    memcpy(b->s + b->len, s, n + 1);
    b->len += n;
}

/* Renders one row as a freqtrade JSON array; kind selects the damage. */
static void put_row(sbuf_t *b, const qt_row_t *r, inj_t kind, bool damaged, bool first) {
    qt_fixed_t v[5] = {r->open, r->high, r->low, r->close, r->volume};
    if (damaged && kind == INJ_NONPOS) v[0] = v[1] = v[2] = v[3] = 0;
    if (damaged && kind == INJ_NEGVOL) v[4] = -v[4] - 100000000;
    if (damaged && kind == INJ_OHLC) v[1] = (v[0] < v[3] ? v[0] : v[3]) - 1; /* high < min(o,c) */
    char num[5][40], line[256];
    for (int k = 0; k < 5; k++) qt_fixed_format(v[k], num[k], sizeof num[k]);
    if (damaged && kind == INJ_NONFINITE) snprintf(num[3], sizeof num[3], "NaN");
    snprintf(line, sizeof line, "%s[%lld,%s,%s,%s,%s,%s]", first ? "" : ",", (long long)r->t_ms,
             num[0], num[1], num[2], num[3], num[4]);
    sb_put(b, line);
}

static int cmp_range(const void *x, const void *y) {
    const qt_gap_range_t *a = x, *b = y;
    return (a->first_ms > b->first_ms) - (a->first_ms < b->first_ms);
}

static void property_run(const char *pair, uint64_t seed) {
    char rel[128];
    snprintf(rel, sizeof rel, "4h/%s_USDT-4h.json", pair);
    qt_rows_t orig;
    load_rows(&orig, rel);
    qt_audit_params_t p = {H4, QT_AUDIT_DEFAULT_Z, -1, 0};
    qt_audit_t base;
    assert_int_equal(qt_audit_run(&orig, &p, &base), 0);
    size_t n = orig.n;
    /* op[i] = what happens at row i (-1 none); len for gaps */
    int *op = malloc(n * sizeof *op);
    int *glen = calloc(n, sizeof *glen);
    assert_non_null(op);
    assert_non_null(glen);
    for (size_t i = 0; i < n; i++) op[i] = -1;
    qt_rng_t rng;
    qt_rng_seed(&rng, seed);
    uint64_t exp_gaps = base.gaps, exp_dup = base.duplicates, exp_ooo = base.out_of_order,
             exp_nonfin = base.non_finite, exp_nonpos = base.non_positive,
             exp_negvol = base.negative_volume, exp_ohlc = base.ohlc_violations;
    size_t exp_clean = base.clean, cap = base.n_gap_ranges + 64, nexp = base.n_gap_ranges;
    qt_gap_range_t *exp_ranges = malloc(cap * sizeof *exp_ranges);
    assert_non_null(exp_ranges);
    if (nexp) memcpy(exp_ranges, base.gap_ranges, nexp * sizeof *exp_ranges);
    size_t injected = 0;
    for (int tries = 0; tries < 400 && injected < 40; tries++) {
        size_t i = 2 + (size_t)qt_rng_below(&rng, n - 8);
        inj_t kind = (inj_t)qt_rng_below(&rng, 7);
        int L = kind == INJ_GAP ? 1 + (int)qt_rng_below(&rng, 3) : 1;
        /* rows i-2 .. i+L+2 must be untouched and exactly one interval apart, so an
         * injection never merges with an existing gap or another injection */
        bool ok = true;
        for (size_t k = i - 2; k <= i + (size_t)L + 2 && ok; k++) {
            if (op[k] != -1) ok = false;
            if (k > i - 2 && orig.rows[k].t_ms - orig.rows[k - 1].t_ms != H4) ok = false;
        }
        if (!ok) continue;
        op[i] = (int)kind;
        glen[i] = L;
        /* deleted rows of a gap, or the partner of a swap: not written on their own */
        if (kind == INJ_GAP)
            for (int k = 1; k < L; k++) op[i + (size_t)k] = 100;
        if (kind == INJ_SWAP) op[i + 1] = 100;
        injected++;
        switch (kind) {
        case INJ_GAP:
            exp_gaps += (uint64_t)L;
            exp_clean -= (size_t)L;
            exp_ranges[nexp++] = (qt_gap_range_t){orig.rows[i].t_ms, orig.rows[i + (size_t)L - 1].t_ms};
            break;
        case INJ_DUP: exp_dup++; break;
        case INJ_SWAP: exp_ooo++, exp_clean--; break;
        case INJ_NONFINITE: exp_nonfin++, exp_clean--; break;
        case INJ_NONPOS: exp_nonpos++, exp_clean--; break;
        case INJ_NEGVOL: exp_negvol++, exp_clean--; break;
        case INJ_OHLC: exp_ohlc++, exp_clean--; break;
        }
    }
    assert_true(injected >= 20);
    sbuf_t b = {0};
    sb_put(&b, "[");
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        if (op[i] == 100) continue;
        if (op[i] == INJ_GAP) continue;            /* rows i .. i+L-1 deleted */
        if (op[i] == INJ_SWAP) {
            put_row(&b, &orig.rows[i + 1], INJ_SWAP, false, first);
            put_row(&b, &orig.rows[i], INJ_SWAP, false, false);
            i++;
            first = false;
            continue;
        }
        if (op[i] == INJ_DUP) {
            put_row(&b, &orig.rows[i], INJ_DUP, false, first);
            put_row(&b, &orig.rows[i], INJ_DUP, false, false);
            first = false;
            continue;
        }
        put_row(&b, &orig.rows[i], op[i] >= 0 ? (inj_t)op[i] : INJ_DUP, op[i] >= 0, first);
        first = false;
    }
    sb_put(&b, "]");
    qt_rows_t mod;
    qt_rows_init(&mod);
    char err[256];
    assert_int_equal(qt_rows_parse_json(&mod, b.s, b.len, err, sizeof err), 0);
    qt_audit_t a;
    assert_int_equal(qt_audit_run(&mod, &p, &a), 0);
    qsort(exp_ranges, nexp, sizeof *exp_ranges, cmp_range);
    assert_int_equal(a.gaps, exp_gaps);
    assert_int_equal(a.n_gap_ranges, nexp);
    for (size_t k = 0; k < nexp; k++) {
        assert_int_equal(a.gap_ranges[k].first_ms, exp_ranges[k].first_ms);
        assert_int_equal(a.gap_ranges[k].last_ms, exp_ranges[k].last_ms);
    }
    assert_int_equal(a.duplicates, exp_dup);
    assert_int_equal(a.out_of_order, exp_ooo);
    assert_int_equal(a.non_finite, exp_nonfin);
    assert_int_equal(a.non_positive, exp_nonpos);
    assert_int_equal(a.negative_volume, exp_negvol);
    assert_int_equal(a.ohlc_violations, exp_ohlc);
    assert_int_equal(a.malformed, base.malformed);
    assert_int_equal(a.clean, exp_clean);
    qt_audit_free(&a);
    qt_rows_free(&mod);
    free(b.s);
    free(exp_ranges);
    free(op);
    free(glen);
    qt_audit_free(&base);
    qt_rows_free(&orig);
}

static void test_property_injected_faults(void **state) {
    (void)state;
    static const char *const pairs[] = {"BTC", "ETH", "DOGE", "XRP", "APE"};
    for (uint64_t seed = 1; seed <= 10; seed++)
        property_run(pairs[seed % 5], 0x5eed0000ULL + seed);
}

/* ---- outliers, policy, staleness ----------------------------------------------------- */

/* Closes 100, 101, 100, 101, ... one spike to 150 at row 20: returns +-ln(1.01) everywhere
 * else, so MAD > 0 and exactly the spike row and the row after it are outliers. */
static void test_outlier_spike(void **state) {
    (void)state;
    sbuf_t b = {0};
    sb_put(&b, "[");
    for (int i = 0; i < 40; i++) {
        int c = i == 20 ? 150 : (i % 2 ? 101 : 100);
        if (i % 3 == 0 && i != 20) c = 100 + (i % 2);   /* same values; keeps it simple */
        char line[128];
        snprintf(line, sizeof line, "%s[%lld,%d,%d,%d,%d,1]", i ? "," : "", (long long)i * H1, c,
                 c, c, c);
        sb_put(&b, line);
    }
    sb_put(&b, "]");
    qt_rows_t r;
    qt_rows_init(&r);
    char err[128];
    assert_int_equal(qt_rows_parse_json(&r, b.s, b.len, err, sizeof err), 0);
    qt_audit_params_t p = {H1, 3.5, -1, 0};
    qt_audit_t a;
    assert_int_equal(qt_audit_run(&r, &p, &a), 0);
    assert_int_equal(a.outliers, 2);
    assert_true(a.verdict[20] & QT_AUDIT_OUTLIER);
    assert_true(a.verdict[21] & QT_AUDIT_OUTLIER);
    /* policy: flag outliers (default) keeps them marked; quarantine removes them */
    qt_policy_t pol;
    qt_policy_default(&pol);
    qt_cleaned_t c;
    assert_int_equal(qt_audit_clean(&r, &a, &pol, &c), 0);
    assert_int_equal(c.n, 40);
    assert_int_equal(c.suspect[20], QT_AUDIT_OUTLIER);
    assert_int_equal(c.suspect[19], 0);
    qt_cleaned_free(&c);
    assert_int_equal(qt_policy_set(&pol, "outlier", "quarantine"), 0);
    assert_int_equal(qt_audit_clean(&r, &a, &pol, &c), 0);
    assert_int_equal(c.n, 38);
    assert_int_equal(c.n_quarantine, 2);
    assert_int_equal(c.quarantine[0].row_index, 20);
    assert_int_equal(c.quarantine[0].reasons, QT_AUDIT_OUTLIER);
    qt_cleaned_free(&c);
    assert_int_equal(qt_policy_set(&pol, "outlier", "drop"), 0);
    assert_int_equal(qt_audit_clean(&r, &a, &pol, &c), 0);
    assert_int_equal(c.n, 38);
    assert_int_equal(c.n_quarantine, 0);
    assert_int_equal(c.n_dropped, 2);
    qt_cleaned_free(&c);
    /* staleness: newest bar 39h; now = 41h, SLA 1h -> stale, age 2h */
    qt_audit_free(&a);
    p.now_ms = 41 * H1;
    p.stale_after_ms = H1;
    assert_int_equal(qt_audit_run(&r, &p, &a), 0);
    assert_true(a.stale);
    assert_int_equal(a.age_ms, 2 * H1);
    qt_audit_free(&a);
    p.stale_after_ms = 3 * H1;
    assert_int_equal(qt_audit_run(&r, &p, &a), 0);
    assert_false(a.stale);
    qt_audit_free(&a);
    qt_rows_free(&r);
    free(b.s);
}

/* Policy names and the "flag only where publishable" rule; bad parameters. */
static void test_policy_rules(void **state) {
    (void)state;
    qt_policy_t p;
    qt_policy_default(&p);
    assert_int_equal(p.action[4], QT_POLICY_QUARANTINE);
    assert_int_equal(qt_policy_set(&p, "duplicate", "flag"), -1);
    assert_int_equal(qt_policy_set(&p, "non_finite", "flag"), -1);
    assert_int_equal(qt_policy_set(&p, "off_grid", "flag"), 0);
    assert_int_equal(qt_policy_set(&p, "ohlc", "drop"), 0);
    assert_int_equal(qt_policy_set(&p, "nonsense", "drop"), -1);
    assert_int_equal(qt_policy_set(&p, "ohlc", "keep"), -1);
    assert_string_equal(qt_audit_problem_str(QT_AUDIT_OUT_OF_ORDER), "out_of_order");
    assert_null(qt_audit_problem_str(3));
    qt_rows_t r;
    qt_rows_init(&r);
    qt_audit_t a;
    qt_audit_params_t bad = {H1, 0.0, -1, 0};
    assert_int_equal(qt_audit_run(&r, &bad, &a), -1);
    qt_audit_params_t ok = {H1, 3.0, -1, 0};
    assert_int_equal(qt_audit_run(&r, &ok, &a), 0);   /* empty series */
    assert_int_equal(a.rows, 0);
    assert_int_equal(a.first_ms, -1);
    qt_audit_free(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selftest),
        cmocka_unit_test(test_real_4h_totals),
        cmocka_unit_test(test_real_1h_totals),
        cmocka_unit_test(test_real_1d_doge_volume_range),
        cmocka_unit_test(test_property_injected_faults),
        cmocka_unit_test(test_outlier_spike),
        cmocka_unit_test(test_policy_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
