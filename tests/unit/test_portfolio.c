/* qt_portfolio: the hand-worked self-test, then the accounting identity and the cash
 * check over a long seeded random fill sequence (buys, partial sells, flips, marks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "qt_portfolio.h"
#include "qt_rng.h"

static void test_selftest(void **state) {
    (void)state;
    assert_int_equal(qt_portfolio_selftest(true), 0);
}

/* equity - initial == realised + unrealised - fees after every fill and mark, and cash ==
 * initial - sum(qt_fixed_mul(price, qty) + fee) exactly (what the paper broker does). */
static void test_identity_random(void **state) {
    (void)state;
    const qt_fixed_t initial = 100000 * QT_FIXED_SCALE;
    qt_portfolio_t *p = qt_portfolio_new(initial);
    assert_non_null(p);
    qt_rng_t r;
    qt_rng_seed(&r, 42);
    const char *syms[3] = {"AAA", "BBB", "CCC"};
    qt_fixed_t cash = initial, pos[3] = {0, 0, 0};
    size_t trips = 0;
    for (int i = 0; i < 20000; i++) {
        size_t k = (size_t)qt_rng_below(&r, 3);
        qt_fixed_t price = (qt_fixed_t)(1 + qt_rng_below(&r, 10000000000ULL));   /* <= 100 */
        qt_fixed_t qty = (qt_fixed_t)(1 + qt_rng_below(&r, 500000000ULL));       /* <= 5 */
        if (qt_rng_below(&r, 2)) qty = -qty;
        qt_fixed_t fee = (qt_fixed_t)qt_rng_below(&r, 100000);
        qt_pf_fill_t f;
        assert_int_equal(qt_portfolio_fill(p, syms[k], qty, price, fee, i, &f), 0);
        qt_fixed_t notional;
        assert_true(qt_fixed_mul(price, qty, &notional));
        cash -= notional + fee;
        pos[k] += qty;
        trips += f.trip_closed;
        assert_true(f.cash_after == cash);
        assert_true(f.position_after == pos[k]);
        assert_true(qt_portfolio_position(p, syms[k]) == pos[k]);
        if (i % 7 == 0)
            assert_int_equal(qt_portfolio_mark(p, syms[(k + 1) % 3],
                                               (qt_fixed_t)(1 + qt_rng_below(&r, 10000000000ULL))),
                             0);
        qt_pf_totals_t t;
        assert_int_equal(qt_portfolio_totals(p, &t), 0);
        assert_true(t.cash == cash);
        assert_true(t.equity - initial == t.realised + t.unrealised - t.fees);
    }
    assert_true(trips > 100);
    assert_int_equal(qt_portfolio_symbols(p), 3);
    qt_portfolio_destroy(&p);
    assert_null(p);
    qt_portfolio_destroy(&p);   /* NULL is fine */
}

/* A failing fill leaves everything unchanged (overflow of the notional). */
static void test_overflow_atomic(void **state) {
    (void)state;
    qt_portfolio_t *p = qt_portfolio_new(1000 * QT_FIXED_SCALE);
    assert_non_null(p);
    assert_int_equal(qt_portfolio_fill(p, "X", QT_FIXED_SCALE, 10 * QT_FIXED_SCALE, 0, 1, NULL), 0);
    assert_int_equal(qt_portfolio_fill(p, "X", INT64_MAX / 2, INT64_MAX / 2, 0, 2, NULL), -1);
    assert_true(qt_portfolio_cash(p) == 990 * QT_FIXED_SCALE);
    assert_true(qt_portfolio_position(p, "X") == QT_FIXED_SCALE);
    assert_int_equal(qt_portfolio_fill(p, "123456789012345678901234567890123", 1, 1, 0, 3, NULL), -1);
    assert_int_equal(qt_portfolio_mark(p, "X", 0), -1);
    qt_portfolio_destroy(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selftest),
        cmocka_unit_test(test_identity_random),
        cmocka_unit_test(test_overflow_atomic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
