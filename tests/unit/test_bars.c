/* Unit tests: libs/quant/qt_bars (OHLCV loading, exact prices, row validation). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <unistd.h>

#include "qt_bars.h"

static const char *data_dir(void) {
    const char *d = getenv("QT_DATA_DIR");
    return d && *d ? d : "../shared/data";
}

static void load_ok(qt_bars_t *b, const char *rel) {
    char path[1024], err[512];
    snprintf(path, sizeof path, "%s/raw/%s", data_dir(), rel);
    qt_bars_init(b);
    int rc = qt_bars_load_file(b, path, err, sizeof err);
    if (rc != 0) fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, 0);
}

static void test_btc_4h_json_exact(void **state) {
    (void)state;
    qt_bars_t b;
    load_ok(&b, "djienne-3EMA_SRSI_ATR-binance/4h/BTC_USDT-4h.json");
    assert_int_equal(b.rows, 11271);
    assert_int_equal(b.n, 11271);
    assert_int_equal(qt_bars_rejected_total(&b), 0);
    /* [1502942400000,4261.48,4349.99,4261.32,4349.99,82.088865] */
    assert_int_equal(b.bars[0].t_ms, 1502942400000LL);
    assert_int_equal(b.bars[0].open, 426148000000LL);
    assert_int_equal(b.bars[0].high, 434999000000LL);
    assert_int_equal(b.bars[0].low, 426132000000LL);
    assert_int_equal(b.bars[0].close, 434999000000LL);
    assert_int_equal(b.bars[0].volume, 8208886500LL);
    /* [1502956800000,4333.32,4485.39,4333.32,4427.3,63.619882] */
    assert_int_equal(b.bars[1].t_ms, 1502956800000LL);
    assert_int_equal(b.bars[1].close, 442730000000LL);
    assert_int_equal(b.bars[1].volume, 6361988200LL);
    for (size_t i = 1; i < b.n; i++) assert_true(b.bars[i].t_ms > b.bars[i - 1].t_ms);
    qt_bars_free(&b);
}

static void test_all_33_pairs_4h_and_btc_1h_gz(void **state) {
    (void)state;
    static const char *pairs[33] = {
        "AAVE", "ADA", "ALGO", "APE", "ATOM", "AVAX", "BCH", "BNB", "BTC", "CHZ", "DOGE",
        "DOT", "EGLD", "EOS", "ETC", "ETH", "FLOW", "FTM", "FTT", "LINK", "LTC", "MANA",
        "MATIC", "NEAR", "SAND", "SOL", "THETA", "TRX", "VET", "XLM", "XMR", "XRP", "XTZ"};
    size_t total = 0;
    for (int i = 0; i < 33; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "djienne-3EMA_SRSI_ATR-binance/4h/%s_USDT-4h.json", pairs[i]);
        qt_bars_t b;
        load_ok(&b, rel);
        assert_int_equal(qt_bars_rejected_total(&b), 0);
        assert_int_equal(b.n, b.rows);
        total += b.n;
        qt_bars_free(&b);
    }
    assert_int_equal(total, 237860);   /* SOURCES.md: 4h total rows */
    qt_bars_t h;
    load_ok(&h, "djienne-3EMA_SRSI_ATR-binance/1h/BTC_USDT-1h.json.gz");
    assert_int_equal(h.n, 45024);
    assert_int_equal(qt_bars_rejected_total(&h), 0);
    assert_int_equal(h.bars[0].t_ms, 1502942400000LL);  /* 2017-08-17 04:00 */
    qt_bars_free(&h);
}

static void test_csv_formats(void **state) {
    (void)state;
    qt_bars_t b;
    /* comma, pandas index column (empty header), date only */
    load_ok(&b, "backtesting.py-test/GOOG.csv");
    assert_int_equal(b.n, 2148);
    assert_int_equal(qt_bars_rejected_total(&b), 0);
    assert_int_equal(b.bars[0].t_ms, 1092873600000LL);  /* 2004-08-19 */
    assert_int_equal(b.bars[0].close, 10034000000LL);     /* 100.34 */
    assert_int_equal(b.bars[0].volume, 2235190000000000LL);
    qt_bars_free(&b);
    /* datetime with seconds */
    load_ok(&b, "backtesting.py-test/EURUSD.csv");
    assert_int_equal(b.n, 5000);
    assert_int_equal(b.bars[0].t_ms, 1492592400000LL);  /* 2017-04-19 09:00:00 */
    assert_int_equal(b.bars[0].low, 107083000LL);        /* 1.07083 */
    qt_bars_free(&b);
    /* semicolon, MetaTrader dates */
    load_ok(&b, "scalpguru-xauusd/XAU_1d_data.csv");
    assert_int_equal(b.n, 5391);
    assert_int_equal(qt_bars_rejected_total(&b), 0);
    assert_int_equal(b.bars[0].t_ms, 1086912000000LL);  /* 2004.06.11 00:00 */
    assert_int_equal(b.bars[0].close, 38410000000LL);    /* 384.1 */
    qt_bars_free(&b);
    /* lower-case header, float64 prices with more than 8 decimals: half-even to 1e-8 */
    load_ok(&b, "sector_money_flow-etfs/GLD.csv");
    assert_int_equal(b.n, 251);
    assert_int_equal(b.bars[0].open, 27067999268LL);  /* 270.67999267578125 */
    assert_int_equal(b.bars[0].high, 27132998657LL);  /* 271.3299865722656 */
    qt_bars_free(&b);
    /* extra "Adj Close" column ignored (.txt is CSV) */
    load_ok(&b, "backtrader-datas/nvda-1999-2014.txt");
    assert_int_equal(b.n, 4012);
    assert_int_equal(b.bars[0].close, 164062500LL);   /* 1.640625, not Adj Close 1.518424 */
    qt_bars_free(&b);
}

static void test_json_rejections_by_reason(void **state) {
    (void)state;
    const char *j =
        "[\n"
        "[1000000000000,10,11,9,10.5,1],\n"            /* ok */
        "[1000000014400,10,11,9],\n"                    /* columns */
        "[1000000028800,10,\"x\",9,10,1],\n"            /* syntax */
        "[-5,10,11,9,10,1],\n"                          /* time */
        "[1000000043200,NaN,11,9,10,1],\n"              /* nonfinite */
        "[1000000057600,1e20,1e20,9,10,1],\n"           /* range */
        "[1000000072000,0,11,9,10,1],\n"                /* nonpositive price */
        "[1000000086400,10,11,9,10,-1],\n"              /* nonpositive (volume) */
        "[1000000100800,10,9.5,9,10,1],\n"              /* ohlc: high < open */
        "[1000000000000,10,11,9,10,1],\n"               /* order: duplicate time */
        "[1000000115200,\"10\",\"11\",\"9\",\"10\",\"0\"],\n"  /* ok: numeric strings */
        "{\"not\":\"a row\"},\n"                        /* columns */
        "[1000000129600,1,2,0.5,1.5,3,0,\"x\",1,\"0\",\"0\",\"0\"]\n"  /* ok: Binance 12 */
        "]";
    qt_bars_t b;
    qt_bars_init(&b);
    char err[256];
    assert_int_equal(qt_bars_parse_json(&b, j, strlen(j), err, sizeof err), 0);
    assert_int_equal(b.rows, 13);
    assert_int_equal(b.n, 3);
    assert_int_equal(b.rejected[QT_BARS_REJ_COLUMNS], 2);
    assert_int_equal(b.rejected[QT_BARS_REJ_SYNTAX], 1);
    assert_int_equal(b.rejected[QT_BARS_REJ_TIME], 1);
    assert_int_equal(b.rejected[QT_BARS_REJ_NONFINITE], 1);
    assert_int_equal(b.rejected[QT_BARS_REJ_RANGE], 1);
    assert_int_equal(b.rejected[QT_BARS_REJ_NONPOSITIVE], 2);
    assert_int_equal(b.rejected[QT_BARS_REJ_OHLC], 1);
    assert_int_equal(b.rejected[QT_BARS_REJ_ORDER], 1);
    assert_int_equal(qt_bars_rejected_total(&b), 10);
    assert_int_equal(b.first_reject_row, 2);
    assert_non_null(strstr(b.first_reject, "columns"));
    assert_int_equal(b.bars[1].close, 1000000000LL);
    assert_int_equal(b.bars[2].t_ms, 1000000129600LL);
    assert_int_equal(b.bars[2].volume, 300000000LL);
    assert_string_equal(qt_bars_reject_str(QT_BARS_REJ_OHLC), "ohlc");
    qt_bars_free(&b);

    /* structural damage fails the whole load */
    const char *bad[] = {"", "{}", "[[1,2,3", "[[1000000000000,1,1,1,1,1]] x", "[[1,,2]]",
                         "[[1000000000000,1,1,1,1,1] [2]]"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        qt_bars_init(&b);
        assert_int_equal(qt_bars_parse_json(&b, bad[i], strlen(bad[i]), err, sizeof err), -1);
        qt_bars_free(&b);
    }
    /* empty array is fine */
    qt_bars_init(&b);
    assert_int_equal(qt_bars_parse_json(&b, " [ ] ", 5, err, sizeof err), 0);
    assert_int_equal(b.n, 0);
    qt_bars_free(&b);
}

/* Real file with one row damaged in place: exactly that row is rejected, the rest kept. */
static void test_damaged_real_file(void **state) {
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/raw/djienne-3EMA_SRSI_ATR-binance/4h/ETH_USDT-4h.json",
             data_dir());
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)len + 1);
    assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    text[len] = 0;
    /* second row: replace its close with NaN-like junk of the same width */
    char *row2 = strstr(text + 2, "],[") + 3;
    char *c = row2;
    for (int k = 0; k < 4; k++) c = strchr(c, ',') + 1;  /* -> close field */
    char *e = strchr(c, ',');
    memset(c, ' ', (size_t)(e - c));
    memcpy(c, "NaN", 3);
    qt_bars_t b;
    qt_bars_init(&b);
    char err[256];
    assert_int_equal(qt_bars_parse_json(&b, text, (size_t)len, err, sizeof err), 0);
    assert_int_equal(b.rows, 11271);
    assert_int_equal(b.n, 11270);
    assert_int_equal(b.rejected[QT_BARS_REJ_NONFINITE], 1);
    assert_int_equal(b.first_reject_row, 2);
    qt_bars_free(&b);
    free(text);
}

static void test_csv_rejections(void **state) {
    (void)state;
    const char *csv =
        "Date;Open;High;Low;Close;Volume\r\n"
        "2020.01.01 00:00;1;2;0.5;1.5;10\r\n"
        "\r\n"
        "2020.13.01 00:00;1;2;0.5;1.5;10\r\n"      /* time */
        "2020.01.02 00:00;1;2;0.5\r\n"             /* columns */
        "2020.01.03 00:00;1;2;0.5;2.5;10\r\n"      /* ohlc: close > high */
        "2019.12.31 00:00;1;2;0.5;1.5;10\r\n"      /* order */
        "2020.01.04 00:00;1;2;0.5;1.5;inf\r\n"     /* nonfinite */
        "2020.01.05 00:00;1;2;0.5;1.5;10\r\n";
    qt_bars_t b;
    qt_bars_init(&b);
    char err[256];
    assert_int_equal(qt_bars_parse_csv(&b, csv, strlen(csv), err, sizeof err), 0);
    assert_int_equal(b.rows, 7);
    assert_int_equal(b.n, 2);
    assert_int_equal(b.rejected[QT_BARS_REJ_TIME], 1);
    assert_int_equal(b.rejected[QT_BARS_REJ_COLUMNS], 1);
    assert_int_equal(b.rejected[QT_BARS_REJ_OHLC], 1);
    assert_int_equal(b.rejected[QT_BARS_REJ_ORDER], 1);
    assert_int_equal(b.rejected[QT_BARS_REJ_NONFINITE], 1);
    assert_int_equal(b.bars[1].t_ms, 1578182400000LL);  /* 2020-01-05 */
    qt_bars_free(&b);
    const char *nohdr = "date,open,high,low,close\n2020-01-01,1,1,1,1\n";
    qt_bars_init(&b);
    assert_int_equal(qt_bars_parse_csv(&b, nohdr, strlen(nohdr), err, sizeof err), -1);
    assert_non_null(strstr(err, "volume"));
    qt_bars_free(&b);
    qt_bars_init(&b);
    assert_int_equal(qt_bars_load_file(&b, "/nonexistent/x.json", err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/x.json"));
    qt_bars_free(&b);
}

static void test_parse_time_forms(void **state) {
    (void)state;
    int64_t ms;
#define T(s, v) do { assert_true(qt_bars_parse_time(s, strlen(s), &ms)); assert_int_equal(ms, v); } while (0)
#define F(s) assert_false(qt_bars_parse_time(s, strlen(s), &ms))
    T("1502942400000", 1502942400000LL);
    T("1502942400", 1502942400000LL);
    T("2022-03-17", 1647475200000LL);
    T("2022-03-17T00:00:00Z", 1647475200000LL);
    T("2022-03-17 04:00", 1647489600000LL);
    T("2022-03-17T05:30:00+01:30", 1647489600000LL);
    T("2022-03-16T23:00:00-05:00", 1647489600000LL);
    T("2017-04-19 09:00:00.250", 1492592400250LL);
    T("2004.06.11 00:00", 1086912000000LL);
    T("2000-02-29", 951782400000LL);
    T("1970-01-01", 0);
    F("2001-02-29");
    F("2022-03-17T24:00");
    F("2022/03/17");
    F("2022-03-17X");
    F("2022-3-17");
    F("");
    F("-1");
    F("99999999999999999999");
#undef T
#undef F
    assert_int_equal(qt_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(qt_days_from_civil(1969, 12, 31), -1);
    assert_int_equal(qt_bars_selftest(false), 0);
}

/* The rows layer keeps every row as written: duplicates, out-of-order rows, inconsistent
 * OHLC and non-positive prices stay (in file order), unreadable rows are marked with the
 * reason and, where readable, their time; qt_bars_from_rows gives the same result as the
 * direct parse. */
static void test_rows_as_written(void **state) {
    (void)state;
    const char *j =
        "[[3600000,1,2,0.5,1.5,1],[3600000,1,2,0.5,1.5,1],[0,1,2,0.5,1.5,1],"
        "[7200000,1,1,1,2,1],[10800000,0,0,0,0,1],[14400000,NaN,1,1,1,1],[1,2]]";
    qt_rows_t r;
    qt_rows_init(&r);
    char err[256];
    assert_int_equal(qt_rows_parse_json(&r, j, strlen(j), err, sizeof err), 0);
    assert_int_equal(r.n, 7);
    assert_true(r.rows[1].parsed);
    assert_int_equal(r.rows[1].t_ms, 3600000);
    assert_int_equal(r.rows[2].t_ms, 0);          /* out of order, kept */
    assert_int_equal(r.rows[3].row, 4);
    assert_int_equal(qt_bars_check_row(&r.rows[3], NULL), QT_BARS_REJ_OHLC);
    assert_int_equal(qt_bars_check_row(&r.rows[4], NULL), QT_BARS_REJ_NONPOSITIVE);
    assert_int_equal(qt_bars_check_row(&r.rows[0], NULL), -1);
    assert_false(r.rows[5].parsed);
    assert_int_equal(r.rows[5].why, QT_BARS_REJ_NONFINITE);
    assert_int_equal(r.rows[5].t_ms, 14400000);   /* time still known */
    assert_false(r.rows[6].parsed);
    assert_int_equal(r.rows[6].why, QT_BARS_REJ_COLUMNS);
    assert_int_equal(r.first_bad_row, 6);
    assert_string_equal(r.first_bad, "open is not finite");
    qt_bars_t b;
    qt_bars_init(&b);
    assert_int_equal(qt_bars_from_rows(&b, &r), 0);
    assert_int_equal(b.rows, 7);
    assert_int_equal(b.n, 1);
    assert_int_equal(b.rejected[QT_BARS_REJ_ORDER], 2);
    assert_int_equal(b.rejected[QT_BARS_REJ_OHLC], 1);
    assert_int_equal(b.rejected[QT_BARS_REJ_NONPOSITIVE], 1);
    assert_int_equal(b.rejected[QT_BARS_REJ_NONFINITE], 1);
    assert_int_equal(b.rejected[QT_BARS_REJ_COLUMNS], 1);
    assert_int_equal(b.first_reject_row, 2);
    qt_bars_free(&b);
    qt_rows_free(&r);
}

/* A recorded Binance klines body (prices as strings) through qt_klines: the first two
 * real BTC 4h candles; a number where a string belongs fails the whole file. */
static void test_binance_klines_file(void **state) {
    (void)state;
    const char *body =
        "[[1502942400000,\"4261.48000000\",\"4349.99000000\",\"4261.32000000\","
        "\"4349.99000000\",\"82.08886500\",1502956799999,\"354370.0\",300,\"1.0\",\"2.0\",\"0\"],"
        "[1502956800000,\"4333.32000000\",\"4485.39000000\",\"4333.32000000\","
        "\"4427.30000000\",\"63.61988200\",1502971199999,\"1.0\",200,\"1.0\",\"2.0\",\"0\"]]";
    char path[] = "/tmp/qt_bars_klines_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(body, f);
    fclose(f);
    qt_rows_t r;
    qt_rows_init(&r);
    char err[512];
    assert_int_equal(qt_rows_load_file_fmt(&r, path, QT_BARS_FMT_BINANCE, err, sizeof err), 0);
    assert_int_equal(r.n, 2);
    assert_true(r.rows[0].parsed);
    assert_int_equal(r.rows[0].close, 434999000000LL);
    assert_int_equal(r.rows[1].volume, 6361988200LL);
    assert_int_equal(r.rows[1].row, 2);
    qt_rows_free(&r);
    f = fopen(path, "w");
    fputs("[[1502942400000,4261.48,\"4349.99\",\"4261.32\",\"4349.99\",\"82.1\",1,\"1\",3,\"1\",\"1\",\"0\"]]", f);
    fclose(f);
    qt_rows_init(&r);
    assert_int_equal(qt_rows_load_file_fmt(&r, path, QT_BARS_FMT_BINANCE, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    assert_int_equal(r.n, 0);
    qt_rows_free(&r);
    /* the same 12-field row with a number is fine for the lenient freqtrade reader */
    qt_rows_init(&r);
    assert_int_equal(qt_rows_load_file_fmt(&r, path, QT_BARS_FMT_JSON, err, sizeof err), 0);
    assert_int_equal(r.n, 1);
    assert_true(r.rows[0].parsed);
    qt_rows_free(&r);
    unlink(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_as_written),
        cmocka_unit_test(test_binance_klines_file),
        cmocka_unit_test(test_btc_4h_json_exact),
        cmocka_unit_test(test_all_33_pairs_4h_and_btc_1h_gz),
        cmocka_unit_test(test_csv_formats),
        cmocka_unit_test(test_json_rejections_by_reason),
        cmocka_unit_test(test_damaged_real_file),
        cmocka_unit_test(test_csv_rejections),
        cmocka_unit_test(test_parse_time_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
