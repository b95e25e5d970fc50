/* Unit tests: libs/quant/qt_labels. Hand-worked paths for every barrier rule (AFML
 * ch. 3), the volatility target against a reference computation, and first-touch /
 * no-look-ahead properties on real BTC 4h bars. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qt_labels.h"
#include "../lib/qt_testdata.h"

static void assert_rel(double got, double want, double rel) {
    if (!(fabs(got - want) <= rel * fabs(want))) {
        fprintf(stderr, "got %.17g want %.17g\n", got, want);
        fail();
    }
}

static const double C8[] = {100, 101, 103, 99, 98, 100, 102, 101};

static void test_fwd_and_vol(void **state) {
    (void)state;
    double out[8], vol[8], adj[8];
    assert_int_equal(qt_label_fwd_return(C8, 8, 2, out), 0);
    assert_rel(out[0], 0.03, 1e-14);
    assert_rel(out[5], 101.0 / 100.0 - 1.0, 1e-14);
    assert_true(isnan(out[6]) && isnan(out[7]));
    /* sample std of the last 3 one-bar returns; reference: Python statistics.stdev */
    assert_int_equal(qt_label_rolling_vol(C8, 8, 3, vol), 0);
    for (int i = 0; i < 3; i++) assert_true(isnan(vol[i]));
    assert_rel(vol[3], 0.031409184042721264, 1e-13);
    assert_rel(vol[4], 0.02932040804760498, 1e-13);
    assert_rel(vol[5], 0.02962598996158734, 1e-13);
    assert_rel(vol[6], 0.017497843037777513, 1e-13);
    assert_rel(vol[7], 0.017326330675847282, 1e-13);
    assert_int_equal(qt_label_vol_adjusted(C8, vol, 8, 2, adj), 0);
    assert_true(isnan(adj[0]) && isnan(adj[7]));
    assert_rel(adj[3], (100.0 / 99.0 - 1.0) / (vol[3] * sqrt(2.0)), 1e-14);
    /* bad prices poison only the windows that contain them */
    double c[6] = {100, 101, -1, 102, 103, 104};
    assert_int_equal(qt_label_rolling_vol(c, 6, 2, vol), 0);
    assert_true(isnan(vol[2]) && isnan(vol[3]));
    assert_false(isnan(vol[5]));
    assert_int_equal(qt_label_fwd_return(c, 6, 1, out), 0);
    assert_true(isnan(out[1]) && isnan(out[2]) && !isnan(out[3]));
    assert_int_equal(qt_label_fwd_return(C8, 8, 0, out), -1);
    assert_int_equal(qt_label_rolling_vol(C8, 8, 1, vol), -1);
}

/* Close-only path, trgt 1%, pt 2, sl 1, horizon 3 (the qt_labels.c selftest, in full):
 *  t0=0: +1% then +3% -> profit at 2, ret .03
 *  t0=1: +1.98% (< 2%), then 99/101-1 = -1.98% -> stop at 3
 *  t0=2: -3.88% -> stop at 3
 *  t0=3: -1.01% -> stop at 4
 *  t0=4: +2.04% at 5 -> profit at 5
 *  t0=5: +2% at 6 (>= 2%) -> profit at 6
 *  t0=6, 7: the data ends before the vertical barrier and nothing is touched: dropped. */
static void test_triple_barrier_close(void **state) {
    (void)state;
    double tg[8];
    for (int i = 0; i < 8; i++) tg[i] = 0.01;
    qt_tb_params_t p = {.pt_mult = 2, .sl_mult = 1, .horizon = 3, .vertical_sign = true};
    qt_tb_event_t ev[8];
    size_t k;
    assert_int_equal(qt_label_triple_barrier(C8, NULL, NULL, 8, tg, NULL, NULL, 0, &p, ev, &k), 0);
    assert_int_equal(k, 6);
    const size_t t1[] = {2, 3, 3, 4, 5, 6};
    const int lab[] = {1, -1, -1, -1, 1, 1};
    const int bar[] = {QT_TB_PROFIT, QT_TB_STOP, QT_TB_STOP, QT_TB_STOP, QT_TB_PROFIT, QT_TB_PROFIT};
    for (size_t i = 0; i < k; i++) {
        assert_int_equal(ev[i].t0, i);
        assert_int_equal(ev[i].t1, t1[i]);
        assert_int_equal(ev[i].label, lab[i]);
        assert_int_equal(ev[i].barrier, bar[i]);
        assert_int_equal(ev[i].side, 1);
        assert_rel(ev[i].ret, C8[t1[i]] / C8[i] - 1.0, 1e-15);
        assert_true(ev[i].trgt == 0.01);
    }
    assert_string_equal(qt_tb_barrier_str(QT_TB_VERTICAL), "vertical");
    assert_string_equal(qt_tb_barrier_str(9), "?");
}

/* Vertical barrier: 100, 100.5, 100.2, 100.4 with trgt 1%, horizon 2: nothing touched,
 * ends at bar 2 with ret +0.2%: label +1 with vertical_sign, 0 without. Disabled
 * barriers (multiple 0) never fire. */
static void test_vertical_and_disabled(void **state) {
    (void)state;
    const double c[] = {100, 100.5, 100.2, 100.4};
    const double tg[] = {0.01, 0.01, 0.01, 0.01};
    qt_tb_params_t p = {.pt_mult = 1, .sl_mult = 1, .horizon = 2, .vertical_sign = true};
    qt_tb_event_t ev[8];
    size_t k;
    assert_int_equal(qt_label_triple_barrier(c, NULL, NULL, 4, tg, NULL, NULL, 0, &p, ev, &k), 0);
    assert_int_equal(k, 2);
    assert_int_equal(ev[0].t1, 2);
    assert_int_equal(ev[0].barrier, QT_TB_VERTICAL);
    assert_int_equal(ev[0].label, 1);
    assert_rel(ev[0].ret, 0.002, 1e-12);
    assert_int_equal(ev[1].label, -1); /* 100.4 / 100.5 - 1 < 0 */
    p.vertical_sign = false;
    assert_int_equal(qt_label_triple_barrier(c, NULL, NULL, 4, tg, NULL, NULL, 0, &p, ev, &k), 0);
    assert_int_equal(ev[0].label, 0);
    assert_int_equal(ev[1].label, 0);
    /* profit-take disabled: the +3% move at bar 2 of C8 no longer ends event 0 */
    double tg8[8];
    for (int i = 0; i < 8; i++) tg8[i] = 0.01;
    qt_tb_params_t q = {.pt_mult = 0, .sl_mult = 5, .horizon = 3, .vertical_sign = true};
    assert_int_equal(qt_label_triple_barrier(C8, NULL, NULL, 8, tg8, NULL, NULL, 0, &q, ev, &k), 0);
    assert_int_equal(ev[0].barrier, QT_TB_VERTICAL);
    assert_int_equal(ev[0].t1, 3);
    /* min_target drops events with a small target */
    tg8[0] = 0.001;
    q.min_target = 0.005;
    assert_int_equal(qt_label_triple_barrier(C8, NULL, NULL, 8, tg8, NULL, NULL, 0, &q, ev, &k), 0);
    assert_int_equal(ev[0].t0, 1);
}

/* High/low touches. Entry 100, trgt 1%, pt = sl = 1:
 *  bar 1 high 101.5 / low 99.5 / close 100.2: the profit barrier (101) is touched
 *  intrabar though the close is not: PROFIT at 1 with ret exactly +1%;
 *  with low 98.9 in the same bar both barriers are touched: STOP (conservative). */
static void test_high_low(void **state) {
    (void)state;
    const double c[] = {100, 100.2, 100.1, 100.0};
    double h[] = {100, 101.5, 100.3, 100.2};
    double l[] = {100, 99.5, 99.9, 99.8};
    const double tg[] = {0.01, 0.01, 0.01, 0.01};
    qt_tb_params_t p = {.pt_mult = 1, .sl_mult = 1, .horizon = 2, .vertical_sign = true};
    qt_tb_event_t ev[4];
    size_t k;
    assert_int_equal(qt_label_triple_barrier(c, h, l, 4, tg, NULL, NULL, 0, &p, ev, &k), 0);
    assert_int_equal(ev[0].barrier, QT_TB_PROFIT);
    assert_int_equal(ev[0].t1, 1);
    assert_rel(ev[0].ret, 0.01, 1e-15);
    l[1] = 98.9;
    assert_int_equal(qt_label_triple_barrier(c, h, l, 4, tg, NULL, NULL, 0, &p, ev, &k), 0);
    assert_int_equal(ev[0].barrier, QT_TB_STOP);
    assert_int_equal(ev[0].label, -1);
    assert_rel(ev[0].ret, -0.01, 1e-15);
    /* close-only on the same data: no touch, vertical at 2 */
    assert_int_equal(qt_label_triple_barrier(c, NULL, NULL, 4, tg, NULL, NULL, 0, &p, ev, &k), 0);
    assert_int_equal(ev[0].barrier, QT_TB_VERTICAL);
    /* exactly one of high/low: refused */
    assert_int_equal(qt_label_triple_barrier(c, h, NULL, 4, tg, NULL, NULL, 0, &p, ev, &k), -1);
}

/* Side and meta-labels on a falling path 100, 99, 97.5: a short (side -1) earns +2.5%
 * -> profit at 2 (pt 2 x 1%), meta-label 1; a long is stopped at 1 (-1%), meta-label 0;
 * side 0 means no event. */
static void test_side_meta(void **state) {
    (void)state;
    const double c[] = {100, 99, 97.5, 97, 96};
    const double tg[] = {0.01, 0.01, 0.01, 0.01, 0.01};
    qt_tb_params_t p = {.pt_mult = 2, .sl_mult = 1, .horizon = 3, .vertical_sign = true};
    qt_tb_event_t ev[5];
    size_t k;
    const int8_t short_side[] = {-1, 0, 0, 0, 0};
    assert_int_equal(qt_label_triple_barrier(c, NULL, NULL, 5, tg, short_side, NULL, 0, &p, ev, &k), 0);
    assert_int_equal(k, 1);
    assert_int_equal(ev[0].side, -1);
    assert_int_equal(ev[0].barrier, QT_TB_PROFIT);
    assert_int_equal(ev[0].t1, 2);
    assert_rel(ev[0].ret, 0.025, 1e-14);
    assert_int_equal(ev[0].label, 1);
    const int8_t long_side[] = {1, 0, 0, 0, 0};
    assert_int_equal(qt_label_triple_barrier(c, NULL, NULL, 5, tg, long_side, NULL, 0, &p, ev, &k), 0);
    assert_int_equal(ev[0].barrier, QT_TB_STOP);
    assert_int_equal(ev[0].t1, 1);
    assert_int_equal(ev[0].label, 0);
    /* the high/low view of a short: the adverse extreme is the high */
    const double h[] = {100, 101.2, 98, 97.5, 96.5};
    const double l[] = {100, 98.9, 97, 96.5, 95.5};
    assert_int_equal(qt_label_triple_barrier(c, h, l, 5, tg, short_side, NULL, 0, &p, ev, &k), 0);
    assert_int_equal(ev[0].barrier, QT_TB_STOP); /* high 101.2 >= 101: the short is stopped */
    assert_rel(ev[0].ret, -0.01, 1e-15);
    assert_int_equal(ev[0].label, 0);
}

static void test_t0s_and_bad_args(void **state) {
    (void)state;
    double tg[8];
    for (int i = 0; i < 8; i++) tg[i] = 0.01;
    qt_tb_params_t p = {.pt_mult = 2, .sl_mult = 1, .horizon = 3, .vertical_sign = true};
    qt_tb_event_t ev[8];
    size_t k;
    const size_t t0s[] = {1, 4, 7};
    assert_int_equal(qt_label_triple_barrier(C8, NULL, NULL, 8, tg, NULL, t0s, 3, &p, ev, &k), 0);
    assert_int_equal(k, 2); /* 7 is dropped (no future) */
    assert_true(ev[0].t0 == 1 && ev[0].t1 == 3 && ev[1].t0 == 4 && ev[1].t1 == 5);
    const size_t unsorted[] = {4, 1};
    assert_int_equal(qt_label_triple_barrier(C8, NULL, NULL, 8, tg, NULL, unsorted, 2, &p, ev, &k), -1);
    const size_t out_of_range[] = {8};
    assert_int_equal(qt_label_triple_barrier(C8, NULL, NULL, 8, tg, NULL, out_of_range, 1, &p, ev, &k), -1);
    p.sl_mult = -1;
    assert_int_equal(qt_label_triple_barrier(C8, NULL, NULL, 8, tg, NULL, NULL, 0, &p, ev, &k), -1);
    p.sl_mult = 1;
    p.horizon = 0;
    assert_int_equal(qt_label_triple_barrier(C8, NULL, NULL, 8, tg, NULL, NULL, 0, &p, ev, &k), -1);
}

/* Real BTC 4h bars, 20-bar volatility target, pt = sl = 2, 24-bar vertical barrier:
 *  - close-only: the event ends at the FIRST bar whose return crosses a barrier (brute
 *    force scan), never later than the vertical barrier;
 *  - no look-ahead: changing every price after an event's t1 leaves that event as is;
 *  - high/low: ret is exactly the barrier for PROFIT/STOP events. */
static void test_btc_first_touch(void **state) {
    (void)state;
    qt_bars_t bars;
    qt_testdata_load_4h("BTC_USDT", &bars);
    size_t n = bars.n;
    double *c = malloc(n * sizeof *c), *h = malloc(n * sizeof *h), *l = malloc(n * sizeof *l);
    double *tg = malloc(n * sizeof *tg);
    qt_tb_event_t *ev = malloc(n * sizeof *ev), *ev2 = malloc(n * sizeof *ev2);
    for (size_t i = 0; i < n; i++) {
        c[i] = qt_fixed_to_double(bars.bars[i].close);
        h[i] = qt_fixed_to_double(bars.bars[i].high);
        l[i] = qt_fixed_to_double(bars.bars[i].low);
    }
    assert_int_equal(qt_label_rolling_vol(c, n, 20, tg), 0);
    qt_tb_params_t p = {.pt_mult = 2, .sl_mult = 2, .horizon = 24, .vertical_sign = true};
    size_t k;
    assert_int_equal(qt_label_triple_barrier(c, NULL, NULL, n, tg, NULL, NULL, 0, &p, ev, &k), 0);
    assert_true(k > n - 60);
    size_t cnt[4] = {0};
    for (size_t e = 0; e < k; e++) {
        size_t t0 = ev[e].t0, t1 = ev[e].t1;
        assert_true(t1 > t0 && t1 - t0 <= 24);
        double up = 2 * tg[t0], dn = -2 * tg[t0];
        for (size_t j = t0 + 1; j < t1; j++) {
            double r = c[j] / c[t0] - 1;
            assert_true(r < up && r > dn);
        }
        double r1 = c[t1] / c[t0] - 1;
        if (ev[e].barrier == QT_TB_PROFIT) assert_true(r1 >= up && ev[e].label == 1);
        else if (ev[e].barrier == QT_TB_STOP) assert_true(r1 <= dn && ev[e].label == -1);
        else assert_true(t1 - t0 == 24 && ev[e].label == (r1 > 0) - (r1 < 0));
        cnt[ev[e].barrier]++;
    }
    printf("BTC 4h triple barrier: %zu events, profit %zu stop %zu vertical %zu\n", k,
           cnt[QT_TB_PROFIT], cnt[QT_TB_STOP], cnt[QT_TB_VERTICAL]);
    assert_true(cnt[QT_TB_PROFIT] > 0 && cnt[QT_TB_STOP] > 0 && cnt[QT_TB_VERTICAL] > 0);
    /* no look-ahead: scramble everything after the t1 of event 5000 */
    size_t probe = 5000;
    assert_true(probe < k);
    qt_tb_event_t keep = ev[probe];
    double *c2 = malloc(n * sizeof *c2);
    memcpy(c2, c, n * sizeof *c2);
    for (size_t i = keep.t1 + 1; i < n; i++) c2[i] = c2[i] * (i % 2 ? 1.5 : 0.5);
    const size_t one[] = {keep.t0};
    assert_int_equal(qt_label_triple_barrier(c2, NULL, NULL, n, tg, NULL, one, 1, &p, ev2, &k), 0);
    assert_int_equal(k, 1);
    assert_true(ev2[0].t1 == keep.t1 && ev2[0].ret == keep.ret && ev2[0].label == keep.label);
    /* high/low mode */
    assert_int_equal(qt_label_triple_barrier(c, h, l, n, tg, NULL, NULL, 0, &p, ev, &k), 0);
    for (size_t e = 0; e < k; e++) {
        if (ev[e].barrier == QT_TB_PROFIT) assert_true(ev[e].ret == 2 * ev[e].trgt);
        if (ev[e].barrier == QT_TB_STOP) assert_true(ev[e].ret == -2 * ev[e].trgt);
    }
    free(c);
    free(c2);
    free(h);
    free(l);
    free(tg);
    free(ev);
    free(ev2);
    qt_bars_free(&bars);
}

static void test_selftest(void **state) {
    (void)state;
    assert_int_equal(qt_labels_selftest(false), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fwd_and_vol),
        cmocka_unit_test(test_triple_barrier_close),
        cmocka_unit_test(test_vertical_and_disabled),
        cmocka_unit_test(test_high_low),
        cmocka_unit_test(test_side_meta),
        cmocka_unit_test(test_t0s_and_bad_args),
        cmocka_unit_test(test_btc_first_touch),
        cmocka_unit_test(test_selftest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
