/* qt_money: int64 fixed point, scale 1e-8 (see qt_money.h).
 *
 * Why exact: prices and quantities arrive as decimal strings ("0.01634790") and end
 * up in orders and PnL, so parsing never goes through a double and every rounding
 * step is explicit (half to even, the IEEE/banker's rule, unbiased over many fills).
 *
 * Accepted syntax (qt_fixed_parse), deliberately strict and documented here:
 *   [+-] digits [ '.' digits ] [ (e|E) [+-] digits ]
 * There must be at least one digit on each side of a '.', so ".5" and "1." are
 * rejected (like JSON; exchanges and our own formatter never emit them). Leading
 * zeros are accepted ("007.50" == 7.5). Whitespace anywhere, "", "nan", "inf", hex,
 * "1e", "--1", "1.2.3", embedded NUL bytes: QT_MONEY_ESYNTAX. A syntactically valid
 * number whose value (after rounding to 8 decimals) is outside int64 at scale 1e-8 is
 * QT_MONEY_ERANGE; any number of digits and any exponent are handled exactly
 * (e.g. "0e999999999" is 0, "1e-999" rounds to 0).
 *
 * Doubles (qt_fixed_from_double, qt_fixed_mul_ratio) are decomposed exactly into
 * mantissa * 2^exp and multiplied in 128-bit integers, so the result is the exactly
 * rounded (half to even) value of the real product, not of a rounded double product. */
#include "qt_money.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef __int128 i128;
typedef unsigned __int128 u128;

#define I64_MAX_U ((u128)INT64_MAX)
#define I64_MIN_MAG ((u128)INT64_MAX + 1) /* |INT64_MIN| */

const char *qt_money_status_str(qt_money_status_t st)
{
    switch (st) {
    case QT_MONEY_OK:
        return "ok";
    case QT_MONEY_ESYNTAX:
        return "not a decimal number";
    case QT_MONEY_ERANGE:
        return "out of range for fixed point (1e-8)";
    case QT_MONEY_ENONFINITE:
        return "not finite";
    }
    return "unknown money status";
}

/* Signed magnitude -> int64 with range check. */
static bool from_mag(bool neg, u128 mag, int64_t *out)
{
    if (neg) {
        if (mag > I64_MIN_MAG)
            return false;
        if (mag == I64_MIN_MAG)
            *out = INT64_MIN;
        else
            *out = -(int64_t)mag;
    } else {
        if (mag > I64_MAX_U)
            return false;
        *out = (int64_t)mag;
    }
    return true;
}

static u128 mag128(i128 v)
{
    return v < 0 ? (u128)0 - (u128)v : (u128)v;
}

/* |n| / |d| rounded half to even, with the sign of n/d; false when out of int64. */
static bool div_round(i128 n, i128 d, int64_t *out)
{
    if (d == 0)
        return false;
    bool neg = (n < 0) != (d < 0);
    u128 un = mag128(n), ud = mag128(d);
    u128 q = un / ud, r = un % ud;
    /* compare 2r with ud without overflow: r >= ud - r */
    u128 rest = ud - r;
    if (r > rest || (r == rest && (q & 1)))
        q++;
    if (q == 0)
        neg = false;
    return from_mag(neg, q, out);
}

/* round_half_even(p * 2^e) into int64; p exact, |p| < 2^127. */
static bool scale_pow2(i128 p, int e, int64_t *out)
{
    if (p == 0) {
        *out = 0;
        return true;
    }
    bool neg = p < 0;
    u128 u = mag128(p);
    if (e >= 0) {
        if (e >= 64)
            return false; /* u >= 1, result >= 2^64 */
        if (u > (I64_MIN_MAG >> e))
            return false;
        return from_mag(neg, u << e, out);
    }
    int s = -e;
    if (s >= 128) {
        *out = 0; /* |p| < 2^127 <= 2^(s-1): below half an ulp */
        return true;
    }
    u128 q = u >> s;
    u128 rem = u & (((u128)1 << s) - 1);
    u128 half = (u128)1 << (s - 1);
    if (rem > half || (rem == half && (q & 1)))
        q++;
    if (q == 0)
        neg = false;
    return from_mag(neg, q, out);
}

/* Exact decomposition of a finite double: v == m * 2^e with |m| < 2^53. */
static void decompose(double v, int64_t *m, int *e)
{
    int ex = 0;
    double f = frexp(v, &ex); /* v = f * 2^ex, 0.5 <= |f| < 1 (or 0) */
    *m = (int64_t)ldexp(f, 53);
    *e = ex - 53;
}

/* ------------------------------------------------------------------ parsing */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

qt_money_status_t qt_fixed_parse_n(const char *s, size_t len, qt_fixed_t *out)
{
    if (!s || !out)
        return QT_MONEY_ESYNTAX;
    size_t i = 0;
    bool neg = false;
    if (i < len && (s[i] == '+' || s[i] == '-')) {
        neg = s[i] == '-';
        i++;
    }
    size_t int_start = i;
    while (i < len && is_digit(s[i]))
        i++;
    size_t nint = i - int_start;
    size_t frac_start = i, nfrac = 0;
    if (i < len && s[i] == '.') {
        i++;
        frac_start = i;
        while (i < len && is_digit(s[i]))
            i++;
        nfrac = i - frac_start;
        if (nfrac == 0)
            return QT_MONEY_ESYNTAX; /* "1." */
    }
    if (nint == 0)
        return QT_MONEY_ESYNTAX; /* "", ".5", "-", "nan" */
    int64_t exp10 = 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < len && (s[i] == '+' || s[i] == '-')) {
            eneg = s[i] == '-';
            i++;
        }
        size_t estart = i;
        while (i < len && is_digit(s[i])) {
            if (exp10 < 1000000000)
                exp10 = exp10 * 10 + (s[i] - '0'); /* saturates: far beyond any range */
            i++;
        }
        if (i == estart)
            return QT_MONEY_ESYNTAX; /* "1e" */
        if (eneg)
            exp10 = -exp10;
    }
    if (i != len)
        return QT_MONEY_ESYNTAX;
    if (nint + nfrac > (size_t)INT32_MAX)
        return QT_MONEY_ERANGE; /* absurd length: refuse rather than reason about it */

    /* The digits, int part then frac part, as one sequence D[0..n). */
    size_t n = nint + nfrac;
#define DIGIT(k) ((k) < nint ? s[int_start + (k)] - '0' : s[frac_start + (k)-nint] - '0')
    size_t z = 0;
    while (z < n && DIGIT(z) == 0)
        z++;
    if (z == n) {
        *out = 0;
        return QT_MONEY_OK;
    }
    int64_t sig = (int64_t)(n - z);
    int64_t shift = exp10 - (int64_t)nfrac + QT_FIXED_DECIMALS; /* value = D * 10^shift ulps */
    int64_t keep = sig + shift; /* digits of the integer number of ulps */
    if (keep > 19)
        return QT_MONEY_ERANGE; /* >= 10^19 ulps > 2^63 */
    u128 q = 0;
    if (shift >= 0) {
        for (size_t k = z; k < n; k++)
            q = q * 10 + (u128)DIGIT(k);
        for (int64_t k = 0; k < shift; k++)
            q *= 10;
    } else if (keep >= 0) {
        size_t end = z + (size_t)keep;
        for (size_t k = z; k < end; k++)
            q = q * 10 + (u128)DIGIT(k);
        int rd = DIGIT(end);
        bool sticky = false;
        for (size_t k = end + 1; k < n && !sticky; k++)
            sticky = DIGIT(k) != 0;
        if (rd > 5 || (rd == 5 && (sticky || (q & 1))))
            q++;
    } /* else keep < 0: value < 0.1 ulp, rounds to 0 */
#undef DIGIT
    if (q == 0)
        neg = false;
    int64_t v;
    if (!from_mag(neg, q, &v))
        return QT_MONEY_ERANGE;
    *out = v;
    return QT_MONEY_OK;
}

qt_money_status_t qt_fixed_parse(const char *s, qt_fixed_t *out)
{
    if (!s)
        return QT_MONEY_ESYNTAX;
    return qt_fixed_parse_n(s, strlen(s), out);
}

qt_money_status_t qt_fixed_from_double(double v, qt_fixed_t *out)
{
    if (!isfinite(v))
        return QT_MONEY_ENONFINITE;
    int64_t m;
    int e;
    decompose(v, &m, &e);
    int64_t r;
    if (!scale_pow2((i128)m * QT_FIXED_SCALE, e, &r))
        return QT_MONEY_ERANGE;
    *out = r;
    return QT_MONEY_OK;
}

double qt_fixed_to_double(qt_fixed_t v)
{
    /* Correctly rounded for |v| <= 2^53; within one ulp beyond. */
    return (double)v / (double)QT_FIXED_SCALE;
}

int qt_fixed_format(qt_fixed_t v, char *buf, size_t len)
{
    if (!buf)
        return -1;
    char tmp[QT_FIXED_STRLEN];
    u128 mag = mag128(v);
    uint64_t ip = (uint64_t)(mag / QT_FIXED_SCALE);
    uint64_t fp = (uint64_t)(mag % QT_FIXED_SCALE);
    int n;
    if (fp == 0) {
        n = snprintf(tmp, sizeof tmp, "%s%llu", v < 0 ? "-" : "", (unsigned long long)ip);
    } else {
        char frac[QT_FIXED_DECIMALS + 1];
        snprintf(frac, sizeof frac, "%08llu", (unsigned long long)fp);
        int fl = QT_FIXED_DECIMALS;
        while (fl > 0 && frac[fl - 1] == '0')
            frac[--fl] = '\0';
        n = snprintf(tmp, sizeof tmp, "%s%llu.%s", v < 0 ? "-" : "", (unsigned long long)ip,
                     frac);
    }
    if (n < 0 || (size_t)n >= len)
        return -1;
    memcpy(buf, tmp, (size_t)n + 1);
    return n;
}

/* --------------------------------------------------------------- arithmetic */

bool qt_fixed_add(qt_fixed_t a, qt_fixed_t b, qt_fixed_t *out)
{
    qt_fixed_t r;
    if (__builtin_add_overflow(a, b, &r))
        return false;
    *out = r;
    return true;
}

bool qt_fixed_sub(qt_fixed_t a, qt_fixed_t b, qt_fixed_t *out)
{
    qt_fixed_t r;
    if (__builtin_sub_overflow(a, b, &r))
        return false;
    *out = r;
    return true;
}

bool qt_fixed_mul(qt_fixed_t a, qt_fixed_t b, qt_fixed_t *out)
{
    int64_t r;
    if (!div_round((i128)a * (i128)b, QT_FIXED_SCALE, &r))
        return false;
    *out = r;
    return true;
}

bool qt_fixed_div(qt_fixed_t a, qt_fixed_t b, qt_fixed_t *out)
{
    if (b == 0)
        return false;
    int64_t r;
    if (!div_round((i128)a * QT_FIXED_SCALE, (i128)b, &r))
        return false;
    *out = r;
    return true;
}

bool qt_fixed_mul_bps(qt_fixed_t a, int64_t bps, qt_fixed_t *out)
{
    int64_t r;
    if (!div_round((i128)a * (i128)bps, 10000, &r))
        return false;
    *out = r;
    return true;
}

bool qt_fixed_mul_ratio(qt_fixed_t a, double ratio, qt_fixed_t *out)
{
    if (!isfinite(ratio))
        return false;
    int64_t m;
    int e;
    decompose(ratio, &m, &e);
    int64_t r;
    if (!scale_pow2((i128)a * (i128)m, e, &r)) /* |a*m| < 2^116 */
        return false;
    *out = r;
    return true;
}

/* ---------------------------------------------------------------- selftest */

int qt_money_selftest(bool verbose)
{
    int fails = 0;
#define CHECK(c)                                                                       \
    do {                                                                               \
        if (!(c)) {                                                                    \
            fails++;                                                                   \
            if (verbose)                                                               \
                fprintf(stderr, "qt_money selftest: %s:%d: %s\n", __FILE__, __LINE__, #c); \
        }                                                                              \
    } while (0)
    qt_fixed_t v = 0;
    char buf[QT_FIXED_STRLEN];
    CHECK(qt_fixed_parse("0.01634790", &v) == QT_MONEY_OK && v == 1634790);
    CHECK(qt_fixed_parse("-1.5E+2", &v) == QT_MONEY_OK && v == -15000000000LL);
    CHECK(qt_fixed_parse("0.000000005", &v) == QT_MONEY_OK && v == 0);   /* tie -> even 0 */
    CHECK(qt_fixed_parse("0.000000015", &v) == QT_MONEY_OK && v == 2);   /* tie -> even 2 */
    CHECK(qt_fixed_parse("0.0000000051", &v) == QT_MONEY_OK && v == 1);
    CHECK(qt_fixed_parse("92233720368.54775807", &v) == QT_MONEY_OK && v == INT64_MAX);
    CHECK(qt_fixed_parse("92233720368.54775808", &v) == QT_MONEY_ERANGE);
    CHECK(qt_fixed_parse("-92233720368.54775808", &v) == QT_MONEY_OK && v == INT64_MIN);
    CHECK(qt_fixed_parse(".5", &v) == QT_MONEY_ESYNTAX);
    CHECK(qt_fixed_parse("1.", &v) == QT_MONEY_ESYNTAX);
    CHECK(qt_fixed_parse(" 1", &v) == QT_MONEY_ESYNTAX);
    CHECK(qt_fixed_format(INT64_MIN, buf, sizeof buf) == 21 &&
          strcmp(buf, "-92233720368.54775808") == 0);
    CHECK(qt_fixed_format(150000000, buf, sizeof buf) == 3 && strcmp(buf, "1.5") == 0);
    CHECK(qt_fixed_format(0, buf, 1) == -1);
    CHECK(qt_fixed_mul(150000000, 300000000, &v) && v == 450000000);
    CHECK(qt_fixed_mul(1, 50000000, &v) && v == 0);   /* 0.5 ulp -> even 0 */
    CHECK(qt_fixed_mul(3, 50000000, &v) && v == 2);   /* 1.5 ulp -> even 2 */
    CHECK(qt_fixed_div(100000000, 300000000, &v) && v == 33333333);
    CHECK(!qt_fixed_div(1, 0, &v));
    CHECK(qt_fixed_mul_bps(100000000, 25, &v) && v == 250000);
    CHECK(qt_fixed_mul_ratio(100000000, 0.5, &v) && v == 50000000);
    CHECK(!qt_fixed_mul_ratio(1, NAN, &v));
    CHECK(qt_fixed_from_double(0.1, &v) == QT_MONEY_OK && v == 10000000);
    CHECK(qt_fixed_from_double(INFINITY, &v) == QT_MONEY_ENONFINITE);
    CHECK(!qt_fixed_add(INT64_MAX, 1, &v) && !qt_fixed_sub(INT64_MIN, 1, &v));
#undef CHECK
    if (verbose)
        fprintf(stderr, "qt_money selftest: %s\n", fails ? "FAILED" : "ok");
    return fails ? -1 : 0;
}
