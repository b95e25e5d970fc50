/* test_paper: the paper broker's market model on real Binance 4h prices.
 * Expected values are computed here independently (128-bit integer math with our own
 * half-to-even rounding), never with qt_money. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../lib/qt_testdata.h"
#include "exec/paper.h"

/* round(num / den) half to even, den > 0 */
static int64_t rdiv(__int128 num, int64_t den)
{
    __int128 q = num / den, r = num % den;
    if (r < 0) {
        r += den;
        q -= 1;
    }
    __int128 twice = 2 * r;
    if (twice > den || (twice == den && (q & 1)))
        q += 1;
    return (int64_t)q;
}

static void test_real_first_bars(void **state)
{
    (void)state;
    qt_bars_t data;
    qt_testdata_load_4h("BTC_USDT", &data);
    const qt_bar_t *btc = data.bars;
    size_t n = data.n;
    assert_true(n > 10000);
    /* the file's first two candles */
    assert_int_equal(btc[0].t_ms, 1502942400000LL);
    assert_int_equal(btc[0].open, 426148000000LL);   /* 4261.48 */
    assert_int_equal(btc[1].t_ms, 1502956800000LL);
    assert_int_equal(btc[1].open, 433332000000LL);   /* 4333.32 */
    paper_broker_t *b = paper_broker_new();
    for (size_t i = 0; i < n; i++)
        assert_int_equal(paper_broker_add_bar(b, "BTC_USDT", btc[i].t_ms, btc[i].open), 1);
    assert_int_equal(paper_broker_bar_count(b, "BTC_USDT"), n);
    int64_t t;
    qt_fixed_t open;
    /* intent on bar 0 fills at bar 1's open */
    assert_int_equal(paper_broker_next_bar(b, "BTC_USDT", btc[0].t_ms, &t, &open), 1);
    assert_int_equal(t, 1502956800000LL);
    assert_int_equal(open, 433332000000LL);
    /* a time between two bars picks the next one */
    assert_int_equal(paper_broker_next_bar(b, "BTC_USDT", btc[0].t_ms + 1, &t, &open), 1);
    assert_int_equal(t, btc[1].t_ms);
    /* the last bar has no next bar; an unknown symbol neither */
    assert_int_equal(paper_broker_next_bar(b, "BTC_USDT", btc[n - 1].t_ms, &t, &open), 0);
    assert_int_equal(paper_broker_next_bar(b, "ETH_USDT", btc[0].t_ms, &t, &open), 0);

    /* buy 0.5 BTC at 4333.32 * 1.0005 = 4335.48666; notional 2167.74333; fee 10 bps */
    paper_config_t cfg;
    paper_config_defaults(&cfg);
    paper_fill_calc_t f;
    assert_true(paper_fill_calc(&cfg, QT__V1__SIDE__SIDE_BUY, 50000000LL, open = 433332000000LL, &f));
    assert_int_equal(f.price, 433548666000LL);
    assert_int_equal(f.notional, 216774333000LL);
    assert_int_equal(f.fee, 216774333LL);
    assert_int_equal(f.qty_delta, 50000000LL);
    assert_int_equal(f.cash_delta, -216774333000LL - 216774333LL);
    /* sell 0.5 BTC: 4333.32 * 0.9995 = 4331.15334 */
    assert_true(paper_fill_calc(&cfg, QT__V1__SIDE__SIDE_SELL, 50000000LL, open, &f));
    assert_int_equal(f.price, 433115334000LL);
    assert_int_equal(f.notional, 216557667000LL);
    assert_int_equal(f.fee, 216557667LL);
    assert_int_equal(f.qty_delta, -50000000LL);
    assert_int_equal(f.cash_delta, 216557667000LL - 216557667LL);
    paper_broker_destroy(&b);
    assert_null(b);
    qt_bars_free(&data);
}

/* Every BTC and ETH bar: the fill arithmetic equals an independent computation. */
static void check_pair(const char *pair, int64_t qty, int64_t fee_bps, int64_t slip_bps)
{
    qt_bars_t data;
    qt_testdata_load_4h(pair, &data);
    const qt_bar_t *bars = data.bars;
    size_t n = data.n;
    assert_true(n > 1000);
    paper_config_t cfg = {.fee_bps = fee_bps, .slippage_bps = slip_bps, .initial_cash = 0};
    paper_broker_t *b = paper_broker_new();
    /* add in reverse order: history must still be sorted */
    for (size_t i = n; i-- > 0;)
        assert_int_equal(paper_broker_add_bar(b, pair, bars[i].t_ms, bars[i].open), 1);
    size_t rounded = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        int64_t t;
        qt_fixed_t open;
        assert_int_equal(paper_broker_next_bar(b, pair, bars[i].t_ms, &t, &open), 1);
        assert_int_equal(t, bars[i + 1].t_ms);
        assert_int_equal(open, bars[i + 1].open);
        for (int side = 1; side <= 2; side++) {
            int64_t mult = side == 1 ? 10000 + slip_bps : 10000 - slip_bps;
            int64_t price = rdiv((__int128)open * mult, 10000);
            int64_t notional = rdiv((__int128)price * qty, 100000000LL);
            int64_t fee = rdiv((__int128)notional * fee_bps, 10000);
            rounded += ((__int128)price * qty) % 100000000LL != 0;
            paper_fill_calc_t f;
            assert_true(paper_fill_calc(&cfg, (Qt__V1__Side)side, qty, open, &f));
            assert_int_equal(f.price, price);
            assert_int_equal(f.notional, notional);
            assert_int_equal(f.fee, fee);
            assert_int_equal(f.cash_delta, side == 1 ? -notional - fee : notional - fee);
        }
    }
    assert_true(rounded > 0); /* the rounding path was exercised */
    paper_broker_destroy(&b);
    qt_bars_free(&data);
}

static void test_all_btc_eth_bars(void **state)
{
    (void)state;
    check_pair("BTC_USDT", 12345678LL, 10, 5);      /* 0.12345678 BTC */
    check_pair("ETH_USDT", 313370001LL, 7, 3);      /* 3.13370001 ETH */
}

static void test_history_and_bad_input(void **state)
{
    (void)state;
    paper_broker_t *b = paper_broker_new();
    assert_int_equal(paper_broker_add_bar(b, "ETH_USDT", 300, 30), 1);
    assert_int_equal(paper_broker_add_bar(b, "ETH_USDT", 100, 10), 1);
    assert_int_equal(paper_broker_add_bar(b, "ETH_USDT", 200, 20), 1);
    assert_int_equal(paper_broker_add_bar(b, "ETH_USDT", 200, 99), 0); /* first wins */
    assert_int_equal(paper_broker_add_bar(b, "AAA", 100, 5), 1);
    assert_int_equal(paper_broker_add_bar(b, "", 100, 5), -1);
    assert_int_equal(paper_broker_add_bar(b, "ETH_USDT", 400, 0), -1);
    assert_int_equal(paper_broker_add_bar(b, "ETH_USDT", -1, 5), -1);
    assert_int_equal(paper_broker_add_bar(b, "THIS_SYMBOL_IS_FAR_TOO_LONG_TO_BE_OK", 1, 5), -1);
    assert_int_equal(paper_broker_symbols(b), 2);
    int64_t t;
    qt_fixed_t o;
    assert_int_equal(paper_broker_next_bar(b, "ETH_USDT", 0, &t, &o), 1);
    assert_int_equal(t, 100);
    assert_int_equal(o, 10);
    assert_int_equal(paper_broker_next_bar(b, "ETH_USDT", 100, &t, &o), 1);
    assert_int_equal(t, 200);
    assert_int_equal(o, 20);
    assert_int_equal(paper_broker_next_bar(b, "ETH_USDT", 250, &t, &o), 1);
    assert_int_equal(t, 300);
    paper_config_t cfg;
    paper_config_defaults(&cfg);
    assert_int_equal(cfg.fee_bps, 10);
    assert_int_equal(cfg.slippage_bps, 5);
    assert_int_equal(cfg.initial_cash, 10000000000000LL);
    assert_null(paper_config_check(&cfg));
    paper_fill_calc_t f;
    assert_false(paper_fill_calc(&cfg, QT__V1__SIDE__SIDE_UNSPECIFIED, 1, 1, &f));
    assert_false(paper_fill_calc(&cfg, QT__V1__SIDE__SIDE_BUY, 0, 1, &f));
    assert_false(paper_fill_calc(&cfg, QT__V1__SIDE__SIDE_BUY, 1, -5, &f));
    assert_false(paper_fill_calc(&cfg, QT__V1__SIDE__SIDE_BUY, INT64_MAX, INT64_MAX / 2, &f));
    cfg.fee_bps = -1;
    assert_non_null(paper_config_check(&cfg));
    cfg.fee_bps = 10;
    cfg.slippage_bps = 1001;
    assert_non_null(paper_config_check(&cfg));
    assert_int_equal(paper_selftest(false), 0);
    paper_broker_destroy(&b);
    paper_broker_destroy(&b); /* NULL-safe */
    paper_broker_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_first_bars),
        cmocka_unit_test(test_all_btc_eth_bars),
        cmocka_unit_test(test_history_and_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
