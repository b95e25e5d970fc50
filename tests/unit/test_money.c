/* Tests for qt_money: exact decimal parsing (syntax, exponents, half-even rounding
 * beyond 8 decimals, int64 boundaries), canonical formatting, and checked arithmetic
 * cross-checked against an independent floor-based reference in 128-bit integers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "qt_money.h"

typedef __int128 i128;

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) /* splitmix64, seeded: deterministic */
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static qt_fixed_t P(const char *s)
{
    qt_fixed_t v = 12345;
    qt_money_status_t st = qt_fixed_parse(s, &v);
    if (st != QT_MONEY_OK)
        fail_msg("parse '%s': %s", s, qt_money_status_str(st));
    return v;
}

static qt_money_status_t S(const char *s)
{
    qt_fixed_t v = 777;
    qt_money_status_t st = qt_fixed_parse(s, &v);
    if (st != QT_MONEY_OK && v != 777)
        fail_msg("parse '%s' failed but wrote output", s);
    return st;
}

static void test_selftest(void **state)
{
    (void)state;
    assert_int_equal(qt_money_selftest(false), 0);
}

static void test_parse_plain(void **state)
{
    (void)state;
    assert_true(P("0") == 0);
    assert_true(P("-0") == 0);
    assert_true(P("+0.0") == 0);
    assert_true(P("1") == 100000000);
    assert_true(P("+1") == 100000000);
    assert_true(P("-1") == -100000000);
    assert_true(P("123") == 12300000000LL);
    assert_true(P("-0.5") == -50000000);
    assert_true(P("1.23456789") == 123456789);
    assert_true(P("0.00000001") == 1);
    assert_true(P("-0.00000001") == -1);
    assert_true(P("007.50") == 750000000);
    assert_true(P("0.01634790") == 1634790); /* Binance-style quote */
    assert_true(P("43250.10000000") == 4325010000000LL);
    assert_true(P("0.00000000") == 0);
    assert_true(P("1.10000000000000000000000000000000") == 110000000);
}

static void test_parse_exponent(void **state)
{
    (void)state;
    assert_true(P("1e-3") == 100000);
    assert_true(P("1.5E+2") == 15000000000LL);
    assert_true(P("1.5e2") == 15000000000LL);
    assert_true(P("-2.5e-8") == -2);      /* -2.5 ulps, tie to even */
    assert_true(P("3.5e-8") == 4);        /* tie to even (up) */
    assert_true(P("1E0") == 100000000);
    assert_true(P("12345e-4") == 123450000);
    assert_true(P("1e10") == 1000000000000000000LL);
    assert_true(P("9.2233720368547758e10") == 9223372036854775800LL);
    assert_true(P("0e999999999999999999999") == 0);
    assert_true(P("1e-999999999999") == 0);
    assert_true(P("-1e-9") == 0);          /* rounds to zero, not "-0" */
    assert_true(P("5e-9") == 0);           /* exactly half an ulp: to even 0 */
    assert_true(P("5.000000000001e-9") == 1);
    assert_true(P("0.000000000000000000001e21") == 100000000);
    assert_int_equal(S("1e11"), QT_MONEY_ERANGE);
    assert_int_equal(S("1e999999999999"), QT_MONEY_ERANGE);
    assert_int_equal(S("-1e11"), QT_MONEY_ERANGE);
}

static void test_parse_rounding_half_even(void **state)
{
    (void)state;
    assert_true(P("0.000000005") == 0);
    assert_true(P("0.000000015") == 2);
    assert_true(P("0.000000025") == 2);
    assert_true(P("0.000000035") == 4);
    assert_true(P("0.0000000250000000000000001") == 3); /* just above the tie */
    assert_true(P("0.0000000249999999999999999") == 2);
    assert_true(P("-0.000000015") == -2);
    assert_true(P("-0.000000025") == -2);
    assert_true(P("-0.0000000251") == -3);
    assert_true(P("1.999999999") == 200000000);
    assert_true(P("0.123456785") == 12345678); /* tie, 8 is even */
    assert_true(P("0.123456795") == 12345680); /* tie, 9 odd -> up */
    assert_true(P("0.000000004999") == 0);
    assert_true(P("0.000000005001") == 1);
}

static void test_parse_boundaries(void **state)
{
    (void)state;
    assert_true(P("92233720368.54775807") == INT64_MAX);
    assert_true(P("-92233720368.54775808") == INT64_MIN);
    assert_true(P("-92233720368.54775807") == -INT64_MAX);
    assert_int_equal(S("92233720368.54775808"), QT_MONEY_ERANGE);
    assert_int_equal(S("-92233720368.54775809"), QT_MONEY_ERANGE);
    assert_int_equal(S("92233720369"), QT_MONEY_ERANGE);
    assert_int_equal(S("100000000000"), QT_MONEY_ERANGE);
    assert_int_equal(S("99999999999999999999999999999"), QT_MONEY_ERANGE);
    /* rounding that crosses the limit */
    assert_true(P("92233720368.547758074") == INT64_MAX);
    assert_int_equal(S("92233720368.547758075"), QT_MONEY_ERANGE); /* tie -> 8 (even) */
    assert_true(P("-92233720368.547758084") == INT64_MIN);
    assert_true(P("-92233720368.547758085") == INT64_MIN); /* tie -> ...808 (even) */
    assert_int_equal(S("-92233720368.5477580851"), QT_MONEY_ERANGE);
    assert_true(P("-92233720368.547758075") == INT64_MIN); /* tie -> ...808 (even) */
    /* many leading zeros do not count against the range */
    assert_true(P("0000000000000000000000000092233720368.54775807") == INT64_MAX);
}

static void test_parse_syntax_errors(void **state)
{
    (void)state;
    const char *bad[] = {"", " ", " 1", "1 ", "\t1", "1\n", ".5", "1.", "-.5", "+", "-", "+-1",
                         "--1", "1.2.3", "1e", "1e+", "1e-", "e5", "1e5.5", "nan", "NaN", "inf",
                         "-inf", "Infinity", "0x10", "1,5", "1_000", "abc", "1a", "½", "１",
                         "1..2", ".", "-e1", "1ee2", "1e2e3", "0.0.", "++1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        qt_money_status_t st = S(bad[i]);
        if (st != QT_MONEY_ESYNTAX)
            fail_msg("'%s' gave %d, want ESYNTAX", bad[i], st);
    }
    qt_fixed_t v = 5;
    assert_int_equal(qt_fixed_parse(NULL, &v), QT_MONEY_ESYNTAX);
    assert_int_equal(qt_fixed_parse("1", NULL), QT_MONEY_ESYNTAX);
    assert_true(v == 5);
}

static void test_parse_n(void **state)
{
    (void)state;
    qt_fixed_t v;
    const char *s = "12.5xyz";
    assert_int_equal(qt_fixed_parse_n(s, 4, &v), QT_MONEY_OK);
    assert_true(v == 1250000000LL);
    assert_int_equal(qt_fixed_parse_n(s, 3, &v), QT_MONEY_ESYNTAX); /* "12." */
    assert_int_equal(qt_fixed_parse_n(s, 5, &v), QT_MONEY_ESYNTAX);
    assert_int_equal(qt_fixed_parse_n(s, 0, &v), QT_MONEY_ESYNTAX);
    const char nul[] = {'1', '\0', '2'};
    assert_int_equal(qt_fixed_parse_n(nul, 3, &v), QT_MONEY_ESYNTAX);
    /* every prefix of a valid number: valid or a syntax error, never a crash */
    const char *full = "-12345.678901234e-2";
    for (size_t n = 0; n <= strlen(full); n++) {
        qt_money_status_t st = qt_fixed_parse_n(full, n, &v);
        assert_true(st == QT_MONEY_OK || st == QT_MONEY_ESYNTAX);
    }
    assert_int_equal(qt_fixed_parse_n(full, strlen(full), &v), QT_MONEY_OK);
    assert_true(v == -12345678901LL); /* -123.45678901234 -> -123.45678901 */
}

static void fmt_eq(qt_fixed_t v, const char *want)
{
    char buf[QT_FIXED_STRLEN];
    int n = qt_fixed_format(v, buf, sizeof buf);
    assert_int_equal(n, (int)strlen(want));
    assert_string_equal(buf, want);
}

static void test_format(void **state)
{
    (void)state;
    fmt_eq(0, "0");
    fmt_eq(1, "0.00000001");
    fmt_eq(-1, "-0.00000001");
    fmt_eq(100000000, "1");
    fmt_eq(4200000000LL, "42");
    fmt_eq(150000000, "1.5");
    fmt_eq(-150000000, "-1.5");
    fmt_eq(1634790, "0.0163479");
    fmt_eq(-50000000, "-0.5");
    fmt_eq(INT64_MAX, "92233720368.54775807");
    fmt_eq(INT64_MIN, "-92233720368.54775808");
    /* buffer sizes: exact fit needs len+1 */
    char buf[QT_FIXED_STRLEN];
    assert_int_equal(qt_fixed_format(150000000, buf, 4), 3);
    assert_string_equal(buf, "1.5");
    memcpy(buf, "zzzz", 5);
    assert_int_equal(qt_fixed_format(150000000, buf, 3), -1);
    assert_string_equal(buf, "zzzz"); /* untouched on failure */
    assert_int_equal(qt_fixed_format(0, buf, 0), -1);
    assert_int_equal(qt_fixed_format(0, NULL, 10), -1);
    assert_int_equal(qt_fixed_format(INT64_MIN, buf, 22), 21);
}

static void test_format_parse_roundtrip_random(void **state)
{
    (void)state;
    char buf[QT_FIXED_STRLEN];
    const qt_fixed_t edge[] = {0, 1, -1, INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1,
                               QT_FIXED_SCALE, -QT_FIXED_SCALE, 99999999, -99999999};
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
        assert_true(qt_fixed_format(edge[i], buf, sizeof buf) > 0);
        assert_true(P(buf) == edge[i]);
    }
    for (int i = 0; i < 200000; i++) {
        uint64_t r = rnd();
        qt_fixed_t v = (qt_fixed_t)(r >> (rnd() % 64)); /* all magnitudes */
        if (r & 1)
            v = -v;
        assert_true(qt_fixed_format(v, buf, sizeof buf) > 0);
        qt_fixed_t back;
        assert_int_equal(qt_fixed_parse(buf, &back), QT_MONEY_OK);
        assert_true(back == v);
        /* canonical: no trailing zero after '.', no leading zero except "0." */
        size_t n = strlen(buf);
        if (strchr(buf, '.'))
            assert_true(buf[n - 1] != '0');
    }
}

/* Independent reference: floor division, then half-even fix-up. */
static bool ref_div_round(i128 n, i128 d, int64_t *out)
{
    if (d < 0) {
        n = -n;
        d = -d;
    }
    i128 q = n / d;
    i128 r = n % d;
    if (r < 0) { /* make floor */
        q -= 1;
        r += d;
    }
    if (2 * r > d || (2 * r == d && (q % 2 != 0)))
        q += 1;
    if (q > INT64_MAX || q < INT64_MIN)
        return false;
    *out = (int64_t)q;
    return true;
}

static void test_parse_random_vs_reference(void **state)
{
    (void)state;
    /* "I.F" with 0..14 decimals compared to integer arithmetic at 1e-14 */
    char s[64];
    for (int i = 0; i < 100000; i++) {
        int64_t ip = (int64_t)(rnd() % 100000000000ull); /* < 1e11 */
        int nd = (int)(rnd() % 15);
        uint64_t fp = 0, p10 = 1;
        for (int k = 0; k < nd; k++)
            p10 *= 10;
        fp = nd ? rnd() % p10 : 0;
        bool neg = rnd() & 1;
        if (nd)
            snprintf(s, sizeof s, "%s%lld.%0*llu", neg ? "-" : "", (long long)ip, nd,
                     (unsigned long long)fp);
        else
            snprintf(s, sizeof s, "%s%lld", neg ? "-" : "", (long long)ip);
        i128 scaled = (i128)ip * 100000000000000LL; /* 1e14 units */
        uint64_t f14 = fp;
        for (int k = nd; k < 14; k++)
            f14 *= 10;
        scaled += f14;
        if (neg)
            scaled = -scaled;
        int64_t want;
        bool ok = ref_div_round(scaled, 1000000, &want);
        qt_fixed_t got;
        qt_money_status_t st = qt_fixed_parse(s, &got);
        if (!ok) {
            assert_int_equal(st, QT_MONEY_ERANGE);
        } else {
            if (st != QT_MONEY_OK || got != want)
                fail_msg("%s: got %lld st %d want %lld", s, (long long)got, st,
                         (long long)want);
        }
    }
}

static void test_add_sub(void **state)
{
    (void)state;
    qt_fixed_t r = 99;
    assert_true(qt_fixed_add(P("0.1"), P("0.2"), &r));
    assert_true(r == P("0.3")); /* exact, unlike doubles */
    assert_true(qt_fixed_add(INT64_MAX, 0, &r) && r == INT64_MAX);
    r = 99;
    assert_false(qt_fixed_add(INT64_MAX, 1, &r));
    assert_false(qt_fixed_add(INT64_MIN, -1, &r));
    assert_true(r == 99); /* untouched */
    assert_true(qt_fixed_add(INT64_MIN, INT64_MAX, &r) && r == -1);
    assert_true(qt_fixed_sub(0, INT64_MAX, &r) && r == -INT64_MAX);
    assert_false(qt_fixed_sub(0, INT64_MIN, &r));
    assert_false(qt_fixed_sub(INT64_MIN, 1, &r));
    assert_false(qt_fixed_sub(INT64_MAX, -1, &r));
    assert_true(qt_fixed_sub(-5, -5, &r) && r == 0);
}

static void test_mul(void **state)
{
    (void)state;
    qt_fixed_t r = 99;
    /* price * qty = notional */
    assert_true(qt_fixed_mul(P("43250.1"), P("0.01634790"), &r));
    assert_true(r == P("707.04830979")); /* exact: 707.048309790 */
    assert_true(qt_fixed_mul(P("1.5"), P("-2"), &r) && r == P("-3"));
    assert_true(qt_fixed_mul(P("-1.5"), P("-2"), &r) && r == P("3"));
    assert_true(qt_fixed_mul(1, 1, &r) && r == 0);          /* 1e-16 -> 0 */
    assert_true(qt_fixed_mul(1, 50000000, &r) && r == 0);   /* 0.5 ulp -> 0 */
    assert_true(qt_fixed_mul(3, 50000000, &r) && r == 2);   /* 1.5 -> 2 */
    assert_true(qt_fixed_mul(5, 50000000, &r) && r == 2);   /* 2.5 -> 2 */
    assert_true(qt_fixed_mul(-5, 50000000, &r) && r == -2);
    assert_true(qt_fixed_mul(-3, 50000000, &r) && r == -2);
    assert_true(qt_fixed_mul(1, 50000001, &r) && r == 1);
    assert_true(qt_fixed_mul(INT64_MAX, QT_FIXED_SCALE, &r) && r == INT64_MAX);
    assert_true(qt_fixed_mul(INT64_MIN, QT_FIXED_SCALE, &r) && r == INT64_MIN);
    assert_true(qt_fixed_mul(INT64_MIN, -QT_FIXED_SCALE + 1, &r)); /* just below |MIN| */
    r = 99;
    assert_false(qt_fixed_mul(INT64_MIN, -QT_FIXED_SCALE, &r)); /* = 2^63 */
    assert_false(qt_fixed_mul(INT64_MAX, INT64_MAX, &r));
    assert_false(qt_fixed_mul(INT64_MIN, INT64_MIN, &r));
    assert_false(qt_fixed_mul(P("100000"), P("1000000"), &r)); /* 1e11 > 9.2e10 */
    assert_true(r == 99);
    assert_true(qt_fixed_mul(INT64_MIN, 0, &r) && r == 0);
}

static void test_div(void **state)
{
    (void)state;
    qt_fixed_t r = 99;
    assert_true(qt_fixed_div(P("1"), P("3"), &r) && r == 33333333);
    assert_true(qt_fixed_div(P("2"), P("3"), &r) && r == 66666667);
    assert_true(qt_fixed_div(P("-2"), P("3"), &r) && r == -66666667);
    assert_true(qt_fixed_div(P("2"), P("-3"), &r) && r == -66666667);
    assert_true(qt_fixed_div(P("707.04830979"), P("43250.1"), &r) && r == P("0.0163479"));
    assert_true(qt_fixed_div(1, 2 * QT_FIXED_SCALE, &r) && r == 0);   /* 0.5 ulp -> 0 */
    assert_true(qt_fixed_div(3, 2 * QT_FIXED_SCALE, &r) && r == 2);   /* 1.5 -> 2 */
    assert_true(qt_fixed_div(-1, 2 * QT_FIXED_SCALE, &r) && r == 0);
    assert_true(qt_fixed_div(INT64_MIN, QT_FIXED_SCALE, &r) && r == INT64_MIN);
    r = 99;
    assert_false(qt_fixed_div(1, 0, &r));
    assert_false(qt_fixed_div(0, 0, &r));
    assert_false(qt_fixed_div(INT64_MIN, -QT_FIXED_SCALE, &r));
    assert_false(qt_fixed_div(P("1000"), 1, &r)); /* 1000 / 1e-8 = 1e11 */
    assert_true(r == 99);
    assert_true(qt_fixed_div(INT64_MAX, INT64_MAX, &r) && r == QT_FIXED_SCALE);
    assert_true(qt_fixed_div(INT64_MIN, INT64_MIN, &r) && r == QT_FIXED_SCALE);
}

static void test_mul_bps(void **state)
{
    (void)state;
    qt_fixed_t r = 99;
    assert_true(qt_fixed_mul_bps(P("1000"), 10, &r) && r == P("1")); /* 10 bps of 1000 */
    assert_true(qt_fixed_mul_bps(P("-1000"), 10, &r) && r == P("-1"));
    assert_true(qt_fixed_mul_bps(P("1000"), -10, &r) && r == P("-1"));
    assert_true(qt_fixed_mul_bps(5000, 1, &r) && r == 0);    /* 0.5 ulp -> 0 */
    assert_true(qt_fixed_mul_bps(15000, 1, &r) && r == 2);   /* 1.5 -> 2 */
    assert_true(qt_fixed_mul_bps(25000, 1, &r) && r == 2);   /* 2.5 -> 2 */
    assert_true(qt_fixed_mul_bps(-25000, 1, &r) && r == -2);
    assert_true(qt_fixed_mul_bps(25001, 1, &r) && r == 3);
    assert_true(qt_fixed_mul_bps(INT64_MAX, 10000, &r) && r == INT64_MAX);
    assert_true(qt_fixed_mul_bps(INT64_MIN, 10000, &r) && r == INT64_MIN);
    r = 99;
    assert_false(qt_fixed_mul_bps(INT64_MAX, 10001, &r));
    assert_false(qt_fixed_mul_bps(INT64_MIN, -10000, &r));
    assert_false(qt_fixed_mul_bps(INT64_MAX, INT64_MAX, &r));
    assert_true(r == 99);
}

static void test_arith_random_vs_reference(void **state)
{
    (void)state;
    for (int i = 0; i < 200000; i++) {
        int64_t a = (int64_t)rnd() >> (rnd() % 63);
        int64_t b = (int64_t)rnd() >> (rnd() % 63);
        int64_t want, got = 0;
        bool ok = ref_div_round((i128)a * b, QT_FIXED_SCALE, &want);
        assert_int_equal(qt_fixed_mul(a, b, &got), ok);
        if (ok)
            assert_true(got == want);
        if (b != 0) {
            ok = ref_div_round((i128)a * QT_FIXED_SCALE, b, &want);
            assert_int_equal(qt_fixed_div(a, b, &got), ok);
            if (ok)
                assert_true(got == want);
        }
        int64_t bps = (int64_t)(rnd() % 40001) - 20000;
        ok = ref_div_round((i128)a * bps, 10000, &want);
        assert_int_equal(qt_fixed_mul_bps(a, bps, &got), ok);
        if (ok)
            assert_true(got == want);
    }
}

static void test_mul_ratio(void **state)
{
    (void)state;
    qt_fixed_t r = 99;
    assert_true(qt_fixed_mul_ratio(P("100"), 0.25, &r) && r == P("25"));
    assert_true(qt_fixed_mul_ratio(P("100"), -0.25, &r) && r == P("-25"));
    assert_true(qt_fixed_mul_ratio(P("100"), 0.0, &r) && r == 0);
    assert_true(qt_fixed_mul_ratio(P("100"), -0.0, &r) && r == 0);
    /* 0.1 as a double is 0.1000000000000000055...; the exact product is just above
     * 10 ulps, so the result is 10 */
    assert_true(qt_fixed_mul_ratio(100, 0.1, &r) && r == 10);
    assert_true(qt_fixed_mul_ratio(1, 0.5, &r) && r == 0);   /* tie -> even */
    assert_true(qt_fixed_mul_ratio(3, 0.5, &r) && r == 2);
    assert_true(qt_fixed_mul_ratio(-3, 0.5, &r) && r == -2);
    assert_true(qt_fixed_mul_ratio(1, 0.5000001, &r) && r == 1);
    assert_true(qt_fixed_mul_ratio(INT64_MAX, 1.0, &r) && r == INT64_MAX);
    assert_true(qt_fixed_mul_ratio(INT64_MIN, 1.0, &r) && r == INT64_MIN);
    assert_true(qt_fixed_mul_ratio(1, 4611686018427387904.0, &r) && r == 4611686018427387904LL);
    assert_true(qt_fixed_mul_ratio(-2, 4611686018427387904.0, &r) && r == INT64_MIN);
    assert_true(qt_fixed_mul_ratio(P("5"), DBL_MIN, &r) && r == 0);
    assert_true(qt_fixed_mul_ratio(INT64_MAX, 4.9e-324, &r) && r == 0); /* subnormal */
    r = 99;
    assert_false(qt_fixed_mul_ratio(INT64_MIN, -1.0, &r));
    assert_false(qt_fixed_mul_ratio(INT64_MAX, 1.0000001, &r));
    assert_false(qt_fixed_mul_ratio(2, 4611686018427387904.0, &r)); /* 2^63 */
    assert_false(qt_fixed_mul_ratio(1, DBL_MAX, &r));
    assert_false(qt_fixed_mul_ratio(1, NAN, &r));
    assert_false(qt_fixed_mul_ratio(1, INFINITY, &r));
    assert_false(qt_fixed_mul_ratio(0, -INFINITY, &r)); /* even for zero */
    assert_true(r == 99);
    assert_true(qt_fixed_mul_ratio(0, DBL_MAX, &r) && r == 0);
}

static void test_double_conversions(void **state)
{
    (void)state;
    qt_fixed_t r = 99;
    assert_int_equal(qt_fixed_from_double(0.1, &r), QT_MONEY_OK);
    assert_true(r == 10000000);
    assert_int_equal(qt_fixed_from_double(-43250.1, &r), QT_MONEY_OK);
    assert_true(r == -4325010000000LL);
    assert_int_equal(qt_fixed_from_double(0.01634790, &r), QT_MONEY_OK);
    assert_true(r == 1634790);
    assert_int_equal(qt_fixed_from_double(5e-9, &r), QT_MONEY_OK);
    assert_true(r == 1); /* the double 5e-9 is slightly above 5e-9 */
    assert_int_equal(qt_fixed_from_double(1e-300, &r), QT_MONEY_OK);
    assert_true(r == 0);
    assert_int_equal(qt_fixed_from_double(-0.0, &r), QT_MONEY_OK);
    assert_true(r == 0);
    assert_int_equal(qt_fixed_from_double(0.375e-8, &r), QT_MONEY_OK); /* 0.375 ulp, exact */
    assert_true(r == 0);
    assert_int_equal(qt_fixed_from_double(92233720368.0, &r), QT_MONEY_OK);
    assert_true(r == 9223372036800000000LL);
    r = 99;
    assert_int_equal(qt_fixed_from_double(92233720369.0, &r), QT_MONEY_ERANGE);
    assert_int_equal(qt_fixed_from_double(-1e300, &r), QT_MONEY_ERANGE);
    assert_int_equal(qt_fixed_from_double(NAN, &r), QT_MONEY_ENONFINITE);
    assert_int_equal(qt_fixed_from_double(-INFINITY, &r), QT_MONEY_ENONFINITE);
    assert_true(r == 99);
    assert_true(qt_fixed_to_double(150000000) == 1.5);
    assert_true(qt_fixed_to_double(-1) == -1e-8);
    assert_true(qt_fixed_to_double(1634790) == 0.0163479);
    /* round trip via double for values exactly representable as a decimal in a double */
    for (int i = 0; i < 100000; i++) {
        qt_fixed_t v = (qt_fixed_t)(rnd() % (1ull << 52)) - (1ll << 51);
        qt_fixed_t back;
        assert_int_equal(qt_fixed_from_double(qt_fixed_to_double(v), &back), QT_MONEY_OK);
        assert_true(back == v);
    }
}

static void test_status_str(void **state)
{
    (void)state;
    assert_string_equal(qt_money_status_str(QT_MONEY_OK), "ok");
    assert_non_null(strstr(qt_money_status_str(QT_MONEY_ESYNTAX), "decimal"));
    assert_non_null(strstr(qt_money_status_str(QT_MONEY_ERANGE), "range"));
    assert_non_null(strstr(qt_money_status_str(QT_MONEY_ENONFINITE), "finite"));
    assert_non_null(qt_money_status_str((qt_money_status_t)42));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selftest),
        cmocka_unit_test(test_parse_plain),
        cmocka_unit_test(test_parse_exponent),
        cmocka_unit_test(test_parse_rounding_half_even),
        cmocka_unit_test(test_parse_boundaries),
        cmocka_unit_test(test_parse_syntax_errors),
        cmocka_unit_test(test_parse_n),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_parse_roundtrip_random),
        cmocka_unit_test(test_parse_random_vs_reference),
        cmocka_unit_test(test_add_sub),
        cmocka_unit_test(test_mul),
        cmocka_unit_test(test_div),
        cmocka_unit_test(test_mul_bps),
        cmocka_unit_test(test_arith_random_vs_reference),
        cmocka_unit_test(test_mul_ratio),
        cmocka_unit_test(test_double_conversions),
        cmocka_unit_test(test_status_str),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
