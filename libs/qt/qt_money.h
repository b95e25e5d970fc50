/* qt_money: int64 fixed point with scale 1e-8 for every price, quantity and amount.
 *
 * Why: floating point cannot represent 0.1 and accumulates error in PnL; exchanges
 * quote decimal strings with at most 8 decimals. All arithmetic is overflow-checked;
 * products and quotients go through __int128 and round half to even. */
#ifndef QT_MONEY_H
#define QT_MONEY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef int64_t qt_fixed_t;
#define QT_FIXED_SCALE 100000000LL
#define QT_FIXED_DECIMALS 8
/* Longest formatted value: sign, 11 integer digits, '.', 8 decimals, NUL, with room. */
#define QT_FIXED_STRLEN 32

typedef enum {
    QT_MONEY_OK = 0,
    QT_MONEY_ESYNTAX = -1,   /* not a decimal number */
    QT_MONEY_ERANGE = -2,    /* does not fit in int64 at scale 1e-8 */
    QT_MONEY_ENONFINITE = -3 /* NaN or infinity */
} qt_money_status_t;

/* Parses an optionally signed decimal ("123", "-0.5", "1.23456789", "1e-3" and
 * "1.5E+2" too). More than 8 decimals are rounded half to even. Leading/trailing
 * whitespace, empty strings, "nan", "inf", hex and junk are QT_MONEY_ESYNTAX.
 * A '.' needs digits on both sides: ".5" and "1." are QT_MONEY_ESYNTAX (as in JSON);
 * leading zeros are fine. Any digit count / exponent is handled exactly. */
qt_money_status_t qt_fixed_parse(const char *s, qt_fixed_t *out);
/* Same, for a string that is not NUL-terminated. */
qt_money_status_t qt_fixed_parse_n(const char *s, size_t len, qt_fixed_t *out);
/* Nearest fixed-point value of a double (half to even); non-finite and out of range fail. */
qt_money_status_t qt_fixed_from_double(double v, qt_fixed_t *out);
double qt_fixed_to_double(qt_fixed_t v);
/* Canonical decimal: no exponent, trailing zeros trimmed, at least one digit
 * ("0", "-0.00000001", "42", "1.5"). Returns the length, or -1 if buf is too small. */
int qt_fixed_format(qt_fixed_t v, char *buf, size_t len);
const char *qt_money_status_str(qt_money_status_t st);

/* Checked arithmetic: return false (and leave *out untouched) on overflow. */
bool qt_fixed_add(qt_fixed_t a, qt_fixed_t b, qt_fixed_t *out);
bool qt_fixed_sub(qt_fixed_t a, qt_fixed_t b, qt_fixed_t *out);
/* a * b / 1e8, rounded half to even (price * qty = notional). */
bool qt_fixed_mul(qt_fixed_t a, qt_fixed_t b, qt_fixed_t *out);
/* a * 1e8 / b, rounded half to even; b == 0 fails. */
bool qt_fixed_div(qt_fixed_t a, qt_fixed_t b, qt_fixed_t *out);
/* a * bps / 10000, rounded half to even (fees, slippage). */
bool qt_fixed_mul_bps(qt_fixed_t a, int64_t bps, qt_fixed_t *out);
/* a * ratio (a double, e.g. a weight), rounded to nearest; non-finite ratio fails. */
bool qt_fixed_mul_ratio(qt_fixed_t a, double ratio, qt_fixed_t *out);

int qt_money_selftest(bool verbose);
#endif
