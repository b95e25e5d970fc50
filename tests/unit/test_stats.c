/* Unit tests: libs/quant/qt_stats. The issue-4 check series (empyrical conventions),
 * hand-worked drawdowns, trades and positions, and a consistency check on real BTC 4h
 * returns against direct textbook computations. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "qt_stats.h"
#include "../lib/qt_testdata.h"

static void assert_rel(double got, double want, double rel) {
    if (!(fabs(got - want) <= rel * fabs(want))) {
        fprintf(stderr, "got %.17g want %.17g\n", got, want);
        fail();
    }
}

/* Daily series [NaN, .01, .10, -.04, .02, .03, .02, .01, -.10], 252 periods a year.
 * Expected values: empyrical's sharpe_ratio, sortino_ratio, max_drawdown, annual_return
 * (the NaN period is skipped by the moments but counted by the annualisation:
 * 9 periods, (1.0202...)^(252/9) - 1). Skew/kurtosis: population moments computed
 * directly (Python reference). */
static void test_check_series(void **state) {
    (void)state;
    const double r[] = {NAN, .01, .10, -.04, .02, .03, .02, .01, -.10};
    qt_perf_t p;
    assert_int_equal(qt_stats_perf(r, 9, 252, &p), 0);
    assert_int_equal(p.n_periods, 9);
    assert_int_equal(p.n_obs, 8);
    assert_rel(p.sharpe, 1.7238613961706866, 1e-13);
    assert_rel(p.sortino, 2.605531251673693, 1e-13);
    assert_rel(p.max_drawdown, -0.1, 1e-13);
    assert_rel(p.annual_return, 1.9135925373194231, 1e-12);
    assert_rel(p.annual_volatility, 0.9136465399704637, 1e-13);
    assert_rel(p.calmar, 19.13592537319423, 1e-13);
    assert_rel(p.skew, -0.3650572690177865, 1e-12);
    assert_rel(p.kurtosis, 3.119534731656992, 1e-12);
    assert_rel(p.hit_ratio, 6.0 / 8.0, 1e-15);
    /* the max drawdown is the last period, from the peak at index 7, not recovered */
    assert_int_equal(p.max_dd_peak, 7);
    assert_int_equal(p.max_dd_trough, 8);
    assert_false(p.max_dd_recovered);
    assert_int_equal(p.max_dd_duration, 1);
}

/* Wealth 1.1, .55, .66, .99, 1.287, 1.1583: the 50% drawdown runs from the peak at 0 to
 * the recovery at 4 (duration 4); the later 10% dip is smaller. */
static void test_drawdown_duration(void **state) {
    (void)state;
    const double r[] = {0.1, -0.5, 0.2, 0.5, 0.3, -0.1};
    qt_perf_t p;
    assert_int_equal(qt_stats_perf(r, 6, 12, &p), 0);
    assert_rel(p.max_drawdown, -0.5, 1e-14);
    assert_int_equal(p.max_dd_peak, 0);
    assert_int_equal(p.max_dd_trough, 1);
    assert_true(p.max_dd_recovered);
    assert_int_equal(p.max_dd_duration, 4);
    assert_rel(p.total_return, 1.1 * 0.5 * 1.2 * 1.5 * 1.3 * 0.9 - 1.0, 1e-14);
    /* a loss in the first period is a drawdown from the initial wealth */
    const double r2[] = {-0.2, 0.1};
    assert_int_equal(qt_stats_perf(r2, 2, 252, &p), 0);
    assert_rel(p.max_drawdown, -0.2, 1e-14);
    assert_true(p.max_dd_peak == SIZE_MAX);
    assert_false(p.max_dd_recovered);
    assert_int_equal(p.max_dd_duration, 2);
    /* wiped out: the product path (log undefined) */
    const double r3[] = {0.1, -1.0, 0.5};
    assert_int_equal(qt_stats_perf(r3, 3, 252, &p), 0);
    assert_true(p.max_drawdown == -1.0 && p.total_return == -1.0 && p.annual_return == -1.0);
    /* no drawdown: Calmar undefined */
    const double r4[] = {0.01, 0.02, 0.03};
    assert_int_equal(qt_stats_perf(r4, 3, 252, &p), 0);
    assert_true(p.max_drawdown == 0.0 && isnan(p.calmar) && p.max_dd_duration == 0);
    assert_true(isinf(p.sortino) && p.sortino > 0); /* no downside */
}

static void test_rejects_bad_input(void **state) {
    (void)state;
    qt_perf_t p;
    const double one[] = {NAN, 0.01, NAN};
    assert_int_equal(qt_stats_perf(one, 3, 252, &p), -1);
    const double inf[] = {0.01, INFINITY, 0.02};
    assert_int_equal(qt_stats_perf(inf, 3, 252, &p), -1);
    assert_int_equal(qt_stats_perf(inf, 1, 0, &p), -1);
    assert_int_equal(qt_stats_perf(NULL, 3, 252, &p), -1);
}

static void test_trades(void **state) {
    (void)state;
    const qt_trade_t t[] = {{0, 3, 10.0}, {5, 6, -4.0}, {8, 16, 6.0}, {20, 22, 0.0}};
    qt_trade_stats_t s;
    assert_int_equal(qt_stats_trades(t, 4, &s), 0);
    assert_int_equal(s.n_trades, 4);
    assert_int_equal(s.n_wins, 2);
    assert_true(s.hit_ratio == 0.5);
    assert_true(s.avg_holding == (3.0 + 1.0 + 8.0 + 2.0) / 4.0);
    assert_true(s.gross_profit == 16.0 && s.gross_loss == 4.0);
    assert_true(s.profit_factor == 4.0);
    assert_true(s.avg_win == 8.0 && s.avg_loss == -4.0);
    const qt_trade_t w[] = {{0, 1, 1.0}};
    assert_int_equal(qt_stats_trades(w, 1, &s), 0);
    assert_true(isinf(s.profit_factor) && isnan(s.avg_loss));
    const qt_trade_t bad[] = {{3, 1, 1.0}};
    assert_int_equal(qt_stats_trades(bad, 1, &s), -1);
    assert_int_equal(qt_stats_trades(w, 0, &s), -1);
}

/* pos 0,1,1,0,-1,-1,1 over returns .01,.02,-.01,.05,-.02,NaN,.03: trades [1,3) pnl
 * .02 - .01, [4,6) pnl +.02 (NaN counts 0), [6,7) pnl .03. */
static void test_trades_from_positions(void **state) {
    (void)state;
    const double pos[] = {0, 1, 1, 0, -1, -1, 1};
    const double ret[] = {.01, .02, -.01, .05, -.02, NAN, .03};
    qt_trade_t t[4];
    size_t k;
    assert_int_equal(qt_stats_trades_from_positions(pos, ret, 7, t, &k), 0);
    assert_int_equal(k, 3);
    assert_true(t[0].entry == 1 && t[0].exit == 3);
    assert_rel(t[0].pnl, 0.01, 1e-15);
    assert_true(t[1].entry == 4 && t[1].exit == 6);
    assert_rel(t[1].pnl, 0.02, 1e-15);
    assert_true(t[2].entry == 6 && t[2].exit == 7);
    assert_rel(t[2].pnl, 0.03, 1e-15);
    qt_trade_stats_t s;
    assert_int_equal(qt_stats_trades(t, k, &s), 0);
    assert_true(s.avg_holding == 5.0 / 3.0 && s.hit_ratio == 1.0);
}

/* Two assets over 4 periods: weights (0.5, 0), (0.5, 0.5), (0, 0), (-0.2, 0.3). */
static void test_positions(void **state) {
    (void)state;
    const double w[] = {0.5, 0, 0.5, 0.5, 0, 0, -0.2, 0.3};
    qt_pos_stats_t s;
    assert_int_equal(qt_stats_positions(w, 4, 2, 252, &s), 0);
    /* |dw|: 0.5; 0.5; 1.0; 0.5 -> 2.5 / 4 */
    assert_rel(s.turnover, 0.625, 1e-15);
    assert_rel(s.annual_turnover, 0.625 * 252, 1e-15);
    assert_rel(s.exposure, 0.75, 1e-15);
    assert_rel(s.gross_exposure, (0.5 + 1.0 + 0 + 0.5) / 4, 1e-15);
    assert_rel(s.net_exposure, (0.5 + 1.0 + 0 + 0.1) / 4, 1e-14);
    const double bad[] = {NAN};
    assert_int_equal(qt_stats_positions(bad, 1, 1, 252, &s), -1);
}

/* Real BTC 4h closes: the one-pass results equal direct textbook computations (product
 * of growth factors, two-pass moments, a brute-force drawdown scan). */
static void test_btc_consistency(void **state) {
    (void)state;
    qt_bars_t bars;
    qt_testdata_load_4h("BTC_USDT", &bars);
    size_t n = bars.n - 1;
    double *r = malloc(n * sizeof *r);
    for (size_t i = 0; i < n; i++)
        r[i] = qt_fixed_to_double(bars.bars[i + 1].close) / qt_fixed_to_double(bars.bars[i].close) - 1.0;
    qt_perf_t p;
    const double P = 6.0 * 365.0;
    assert_int_equal(qt_stats_perf(r, n, P, &p), 0);
    double s = 0, prod = 1, peak = 1, mdd = 0;
    for (size_t i = 0; i < n; i++) {
        s += r[i];
        prod *= 1 + r[i];
        if (prod > peak) peak = prod;
        if (prod / peak - 1 < mdd) mdd = prod / peak - 1;
    }
    double mean = s / (double)n, ss = 0;
    for (size_t i = 0; i < n; i++) ss += (r[i] - mean) * (r[i] - mean);
    double sd = sqrt(ss / (double)(n - 1));
    assert_rel(p.sharpe, mean / sd * sqrt(P), 1e-10);
    assert_rel(p.total_return, prod - 1, 1e-9);
    assert_rel(p.annual_return, pow(prod, P / (double)n) - 1, 1e-9);
    assert_rel(p.max_drawdown, mdd, 1e-9);
    /* brute-force peak, trough and recovery of the deepest drawdown */
    {
        double wealth = 1, pk = 1, best = 0;
        size_t pki = SIZE_MAX, bp = SIZE_MAX, bt = SIZE_MAX;
        for (size_t i = 0; i < n; i++) {
            wealth *= 1 + r[i];
            if (wealth >= pk) pk = wealth, pki = i;
            else if (wealth / pk - 1 < best) best = wealth / pk - 1, bp = pki, bt = i;
        }
        double wp = 1;
        wealth = 1;
        size_t rec = SIZE_MAX;
        for (size_t i = 0; i < n; i++) {
            wealth *= 1 + r[i];
            if (i == bp) wp = wealth;
            if (i > bt && wealth >= wp) {
                rec = i;
                break;
            }
        }
        assert_int_equal(p.max_dd_peak, bp);
        assert_int_equal(p.max_dd_trough, bt);
        assert_true(p.max_dd_recovered == (rec != SIZE_MAX));
        assert_int_equal(p.max_dd_duration, (rec == SIZE_MAX ? n - 1 : rec) - bp);
    }
    assert_true(p.kurtosis > 3.0); /* crypto returns are fat-tailed */
    printf("BTC 4h: n=%zu sharpe=%.4f maxdd=%.4f dd_duration=%zu skew=%.3f kurt=%.2f\n", n,
           p.sharpe, p.max_drawdown, p.max_dd_duration, p.skew, p.kurtosis);
    free(r);
    qt_bars_free(&bars);
}

static void test_selftest(void **state) {
    (void)state;
    assert_int_equal(qt_stats_selftest(false), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_series),
        cmocka_unit_test(test_drawdown_duration),
        cmocka_unit_test(test_rejects_bad_input),
        cmocka_unit_test(test_trades),
        cmocka_unit_test(test_trades_from_positions),
        cmocka_unit_test(test_positions),
        cmocka_unit_test(test_btc_consistency),
        cmocka_unit_test(test_selftest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
