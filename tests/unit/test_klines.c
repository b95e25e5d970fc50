/* qt_klines: the strict Binance klines and CoinGecko market_chart parsers.
 * Every malformed form the fault server can produce (truncated JSON, numbers where
 * strings belong) and the ones it cannot (wrong arity, bad decimals, negative times,
 * duplicate keys, trailing bytes, ...) is an error that names the row and the field, and
 * leaves the output empty. Also the fixed tables (intervals, symbols, CoinGecko ids) and
 * the regression inputs found by fuzzing (tests/fuzz/corpus/klines). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qt_klines.h"

/* The documentation example of GET /api/v3/klines (see ../shared/data/raw/SOURCES.md). */
static const char DOC_ROW[] =
    "[1499040000000,\"0.01634790\",\"0.80000000\",\"0.01575800\",\"0.01577100\","
    "\"148976.11427815\",1499644799999,\"2434.19055334\",308,\"1756.87402397\","
    "\"28.46694368\",\"0\"]";

static int parse(qt_klines_t *k, const char *s, char *err, size_t errlen) {
    return qt_klines_parse(k, s, strlen(s), err, errlen);
}

static void test_doc_example(void **state) {
    (void)state;
    char body[1024], err[256] = "";
    snprintf(body, sizeof body, "[%s,%s]", DOC_ROW, DOC_ROW);
    qt_klines_t k;
    qt_klines_init(&k);
    assert_int_equal(parse(&k, body, err, sizeof err), 0);
    assert_int_equal(k.n, 2);
    const qt_kline_t *r = &k.rows[0];
    assert_true(r->open_ms == 1499040000000LL);
    assert_true(r->close_ms == 1499644799999LL);
    assert_true(r->open == 1634790);
    assert_true(r->high == 80000000);
    assert_true(r->low == 1575800);
    assert_true(r->close == 1577100);
    assert_true(r->volume == 14897611427815LL);
    assert_true(r->quote_volume == 243419055334LL);
    assert_true(r->trades == 308);
    assert_true(r->taker_base == 175687402397LL);
    assert_true(r->taker_quote == 2846694368LL);
    qt_klines_free(&k);
    assert_null(k.rows);
    assert_int_equal(k.n, 0);
}

static void test_empty_and_whitespace(void **state) {
    (void)state;
    qt_klines_t k;
    qt_klines_init(&k);
    char err[256];
    assert_int_equal(parse(&k, "[]", err, sizeof err), 0);
    assert_int_equal(k.n, 0);
    assert_int_equal(parse(&k, " \n[ ]\t", err, sizeof err), 0);
    /* more than 8 decimals: rounded half to even, exactly */
    const char *b = "[[0,\"1.000000005\",\"1.000000015\",\"1\",\"1\",\"0\",0,\"0\",0,\"0\",\"0\",\"\"]]";
    assert_int_equal(parse(&k, b, err, sizeof err), 0);
    assert_true(k.rows[0].open == 100000000);
    assert_true(k.rows[0].high == 100000002);
    qt_klines_free(&k);
}

typedef struct {
    const char *body;
    const char *expect; /* substring of the error */
} bad_t;

/* Row template with one field replaced: %s is inserted as field f. */
static void row_with(char *out, size_t len, int field, const char *value) {
    const char *f[12] = {"1499040000000", "\"1.5\"", "\"2\"", "\"1\"", "\"1.5\"", "\"10\"",
                         "1499054399999", "\"15\"", "7", "\"5\"", "\"7.5\"", "\"0\""};
    size_t n = 0;
    n += (size_t)snprintf(out + n, len - n, "[[");
    for (int i = 0; i < 12; i++)
        n += (size_t)snprintf(out + n, len - n, "%s%s", i ? "," : "", i == field ? value : f[i]);
    snprintf(out + n, len - n, "]]");
}

static void test_numbers_where_strings_belong(void **state) {
    (void)state;
    static const char *const names[12] = {"open_time", "open", "high", "low", "close", "volume",
                                          "close_time", "quote_volume", "trades",
                                          "taker_buy_base", "taker_buy_quote", "ignore"};
    qt_klines_t k;
    qt_klines_init(&k);
    char body[512], err[256], want[96];
    for (int f = 1; f < 12; f++) {
        if (f == 6 || f == 8) continue; /* integer fields */
        row_with(body, sizeof body, f, "1.5");
        assert_int_equal(parse(&k, body, err, sizeof err), -1);
        assert_int_equal(k.n, 0);
        snprintf(want, sizeof want, "row 1 field %d (%s): expected a", f + 1, names[f]);
        assert_non_null(strstr(err, want));
        assert_non_null(strstr(err, "got a number"));
        /* an integer is a number too */
        row_with(body, sizeof body, f, "2");
        assert_int_equal(parse(&k, body, err, sizeof err), -1);
    }
    /* strings where integers belong */
    const int ints[3] = {0, 6, 8};
    for (int i = 0; i < 3; i++) {
        row_with(body, sizeof body, ints[i], "\"1499040000000\"");
        assert_int_equal(parse(&k, body, err, sizeof err), -1);
        snprintf(want, sizeof want, "row 1 field %d (%s): expected an integer, got a string",
                 ints[i] + 1, names[ints[i]]);
        assert_string_equal(err, want);
        row_with(body, sizeof body, ints[i], "1.0");
        assert_int_equal(parse(&k, body, err, sizeof err), -1);
        row_with(body, sizeof body, ints[i], "-1");
        assert_int_equal(parse(&k, body, err, sizeof err), -1);
        assert_non_null(strstr(err, "negative"));
    }
    qt_klines_free(&k);
}

static void test_bad_decimals(void **state) {
    (void)state;
    const char *vals[] = {"\"\"", "\"abc\"", "\"1.\"", "\".5\"", "\"nan\"", "\"inf\"",
                          "\" 1\"", "\"1e999\"", "\"0x10\"", "\"99999999999999999\"", "null",
                          "true", "[]", "{}"};
    qt_klines_t k;
    qt_klines_init(&k);
    char body[512], err[256];
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        row_with(body, sizeof body, 4, vals[i]);
        assert_int_equal(parse(&k, body, err, sizeof err), -1);
        assert_non_null(strstr(err, "row 1 field 5 (close)"));
        assert_int_equal(k.n, 0);
    }
    qt_klines_free(&k);
}

static void test_structure_errors(void **state) {
    (void)state;
    char full[1024];
    snprintf(full, sizeof full, "[%s,%s]", DOC_ROW, DOC_ROW);
    const bad_t bad[] = {
        {"", "invalid JSON"},
        {"[", "invalid JSON"},
        {"[[1499040000000,\"0.1\"", "invalid JSON"},
        {"{}", "expected a JSON array of klines, got an object"},
        {"[1,2]", "row 1: expected an array, got a number"},
        {"[[]]", "row 1: expected 12 fields, got 0"},
        {"[[1,\"1\",\"1\",\"1\",\"1\",\"1\",1,\"1\",1,\"1\",\"1\"]]", "expected 12 fields, got 11"},
        {"[[1,\"1\",\"1\",\"1\",\"1\",\"1\",1,\"1\",1,\"1\",\"1\",\"0\",0]]", "got 13"},
        {"[[1,\"1\",\"1\",\"1\",\"1\",\"1\",1,\"1\",1,\"1\",\"1\",0]]", "field 12 (ignore)"},
        {"[[1,\"1\",\"1\",\"1\",\"1\",\"1\",1,\"1\",1,\"1\",\"1\",\"0\"]] x", "invalid JSON"},
        {"[[1,\"1\",\"1\",\"1\",\"1\",\"1\",1,\"1\",1,\"1\",\"1\",\"0\"],]", "invalid JSON"},
        {"[[99999999999999999999,\"1\",\"1\",\"1\",\"1\",\"1\",1,\"1\",1,\"1\",\"1\",\"0\"]]",
         "invalid JSON"},
        {"[[1,\"1\\u0000\",\"1\",\"1\",\"1\",\"1\",1,\"1\",1,\"1\",\"1\",\"0\"]]", "invalid JSON"},
    };
    qt_klines_t k;
    qt_klines_init(&k);
    char err[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(parse(&k, bad[i].body, err, sizeof err), -1);
        if (!strstr(err, bad[i].expect)) fail_msg("case %zu: '%s' lacks '%s'", i, err, bad[i].expect);
        assert_int_equal(k.n, 0);
    }
    /* every strict prefix of a valid body (a truncated response) is an error */
    size_t n = strlen(full);
    for (size_t cut = 0; cut < n; cut++) {
        assert_int_equal(qt_klines_parse(&k, full, cut, err, sizeof err), -1);
        assert_int_equal(k.n, 0);
    }
    assert_int_equal(qt_klines_parse(&k, full, n, err, sizeof err), 0);
    assert_int_equal(k.n, 2);
    /* a failed parse empties a previously filled output */
    assert_int_equal(parse(&k, "[[]]", err, sizeof err), -1);
    assert_null(k.rows);
    /* the second row is named */
    char body[1024];
    snprintf(body, sizeof body, "[%s,[1,2,3]]", DOC_ROW);
    assert_int_equal(parse(&k, body, err, sizeof err), -1);
    assert_string_equal(err, "row 2: expected 12 fields, got 3");
    /* bounded: a body over the limit is refused before parsing */
    assert_int_equal(qt_klines_parse(&k, "[]", (size_t)QT_KLINES_MAX_BODY + 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "exceeds"));
    /* small error buffers are never overrun */
    char tiny[8];
    assert_int_equal(parse(&k, "[[]]", tiny, sizeof tiny), -1);
    assert_int_equal(strlen(tiny), sizeof tiny - 1);
    qt_klines_free(&k);
}

static void test_duplicates_and_order_kept_as_written(void **state) {
    (void)state;
    const char *r1 = "[2,\"1\",\"1\",\"1\",\"1\",\"1\",3,\"1\",1,\"1\",\"1\",\"0\"]";
    const char *r0 = "[1,\"1\",\"1\",\"1\",\"1\",\"1\",2,\"1\",1,\"1\",\"1\",\"0\"]";
    char body[512];
    snprintf(body, sizeof body, "[%s,%s,%s]", r1, r0, r1);
    qt_klines_t k;
    qt_klines_init(&k);
    char err[256];
    assert_int_equal(parse(&k, body, err, sizeof err), 0);
    assert_int_equal(k.n, 3);
    assert_true(k.rows[0].open_ms == 2 && k.rows[1].open_ms == 1 && k.rows[2].open_ms == 2);
    qt_klines_free(&k);
}

static void test_market_chart(void **state) {
    (void)state;
    /* the documentation example (SOURCES.md appendix) */
    const char *doc =
        "{\"prices\":[[1711843200000,69702.3087473573],[1711929600000,71246.9514406015],"
        "[1711983682000,68887.7495158568]],\"market_caps\":[[1711843200000,1370247487960.09],"
        "[1711929600000,1401370211582.37],[1711983682000,1355701979725.16]],"
        "\"total_volumes\":[[1711843200000,16408802301.8374],[1711929600000,19723005998.215],"
        "[1711983682000,30137418199.6431]]}";
    qt_market_chart_t m;
    qt_market_chart_init(&m);
    char err[256];
    assert_int_equal(qt_market_chart_parse(&m, doc, strlen(doc), err, sizeof err), 0);
    assert_int_equal(m.nprices, 3);
    assert_int_equal(m.nvolumes, 3);
    assert_true(m.prices[2].t_ms == 1711983682000LL);
    assert_true(m.prices[1].value == 71246.9514406015);
    assert_true(m.volumes[0].value == 16408802301.8374);
    const bad_t bad[] = {
        {"[]", "expected a JSON object, got an array"},
        {"{\"total_volumes\":[]}", "missing key \"prices\""},
        {"{\"prices\":[]}", "missing key \"total_volumes\""},
        {"{\"prices\":{},\"total_volumes\":[]}", "\"prices\": expected an array, got an object"},
        {"{\"prices\":[[1,\"2\"]],\"total_volumes\":[]}", "\"prices\" point 1: value must be a number, got a string"},
        {"{\"prices\":[[1.5,2]],\"total_volumes\":[]}", "\"prices\" point 1: time must be an integer"},
        {"{\"prices\":[[-1,2]],\"total_volumes\":[]}", "time must be an integer >= 0"},
        {"{\"prices\":[[1,0]],\"total_volumes\":[]}", "\"prices\" point 1: value 0 out of range"},
        {"{\"prices\":[[1,2]],\"total_volumes\":[[1,-1]]}", "\"total_volumes\" point 1: value -1"},
        {"{\"prices\":[[1,2],[1]],\"total_volumes\":[]}", "\"prices\" point 2: expected [unix_ms, value]"},
        {"{\"prices\":[[1,null]],\"total_volumes\":[]}", "got null"},
        {"{\"prices\":[],\"prices\":[],\"total_volumes\":[]}", "invalid JSON"},
        {"{\"prices\":[],\"total_volumes\":[],\"market_caps\":[[1,\"x\"]]}", "\"market_caps\" point 1"},
        {"{\"prices\":[[1,2]],\"total_volumes\":[]", "invalid JSON"},
        {"{\"prices\":[[1,1e400]],\"total_volumes\":[]}", "invalid JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(qt_market_chart_parse(&m, bad[i].body, strlen(bad[i].body), err, sizeof err), -1);
        if (!strstr(err, bad[i].expect)) fail_msg("case %zu: '%s' lacks '%s'", i, err, bad[i].expect);
        assert_int_equal(m.nprices, 0);
        assert_null(m.prices);
    }
    size_t n = strlen(doc);
    for (size_t cut = 0; cut < n; cut++)
        assert_int_equal(qt_market_chart_parse(&m, doc, cut, err, sizeof err), -1);
    qt_market_chart_free(&m);
}

static void test_tables(void **state) {
    (void)state;
    assert_true(qt_klines_interval_ms("1m") == 60000);
    assert_true(qt_klines_interval_ms("4h") == 14400000);
    assert_true(qt_klines_interval_ms("1d") == 86400000);
    assert_true(qt_klines_interval_ms("1w") == 604800000);
    assert_true(qt_klines_interval_ms("1M") == -1);
    assert_true(qt_klines_interval_ms("4H") == -1);
    assert_true(qt_klines_interval_ms("") == -1);
    assert_true(qt_klines_interval_ms(NULL) == -1);
    char s[16];
    assert_true(qt_klines_pair_to_symbol("ETH_BTC", s, sizeof s));
    assert_string_equal(s, "ETHBTC");
    assert_false(qt_klines_pair_to_symbol("BTCUSDT", s, sizeof s));
    assert_false(qt_klines_pair_to_symbol("btc_usdt", s, sizeof s));
    assert_false(qt_klines_pair_to_symbol("_USDT", s, sizeof s));
    assert_false(qt_klines_pair_to_symbol("BTC_", s, sizeof s));
    assert_false(qt_klines_pair_to_symbol("A_B_C", s, sizeof s));
    assert_false(qt_klines_pair_to_symbol("BTC_USDT", s, 4));
    assert_string_equal(qt_coingecko_id("BTC"), "bitcoin");
    assert_string_equal(qt_coingecko_id("AVAX"), "avalanche-2");
    assert_null(qt_coingecko_id("NOPE"));
    assert_string_equal(qt_coingecko_base("ethereum"), "ETH");
    assert_null(qt_coingecko_base("x"));
}

static void test_selftest(void **state) {
    (void)state;
    assert_int_equal(qt_klines_selftest(false), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doc_example),
        cmocka_unit_test(test_empty_and_whitespace),
        cmocka_unit_test(test_numbers_where_strings_belong),
        cmocka_unit_test(test_bad_decimals),
        cmocka_unit_test(test_structure_errors),
        cmocka_unit_test(test_duplicates_and_order_kept_as_written),
        cmocka_unit_test(test_market_chart),
        cmocka_unit_test(test_tables),
        cmocka_unit_test(test_selftest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
