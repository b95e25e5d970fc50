/* qt_cli: strict argument parsers for the operator tools (see qt_cli.h). */
#include "qt_cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int qt_cli_parse_u64(const char *s, uint64_t *out)
{
    /* A digit first: strtoull itself skips whitespace and accepts a sign, so " -1"
     * would wrap to UINT64_MAX. */
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return -1;
    *out = (uint64_t)v;
    return 0;
}

int qt_cli_parse_seconds(const char *s, double max_s, double *out)
{
    if (s == NULL || *s == '\0')
        return -1;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v <= 0.0 || v > max_s)
        return -1;
    *out = v;
    return 0;
}

int qt_cli_usage_error(const char *prog, const char *fmt, const char *arg)
{
    fprintf(stderr, "%s: ", prog);
    fprintf(stderr, fmt, arg ? arg : "");
    fprintf(stderr, "\n(run '%s --help' for usage)\n", prog);
    return QT_CLI_EXIT_USAGE;
}

int qt_cli_selftest(bool verbose)
{
    int fails = 0;
    uint64_t u = 0;
    double d = 0.0;
#define CHECK(c)                                                              \
    do {                                                                      \
        if (!(c)) {                                                           \
            fails++;                                                          \
            if (verbose)                                                      \
                fprintf(stderr, "qt_cli selftest: %s:%d: %s\n", __FILE__, __LINE__, #c); \
        }                                                                     \
    } while (0)
    CHECK(qt_cli_parse_u64("42", &u) == 0 && u == 42);
    CHECK(qt_cli_parse_u64("18446744073709551615", &u) == 0 && u == UINT64_MAX);
    CHECK(qt_cli_parse_u64("18446744073709551616", &u) == -1);
    CHECK(qt_cli_parse_u64("-1", &u) == -1);
    CHECK(qt_cli_parse_u64(" -1", &u) == -1);
    CHECK(qt_cli_parse_u64("+1", &u) == -1);
    CHECK(qt_cli_parse_u64("12abc", &u) == -1);
    CHECK(qt_cli_parse_u64("", &u) == -1);
    CHECK(qt_cli_parse_u64(NULL, &u) == -1);
    CHECK(qt_cli_parse_seconds("1.5", 10.0, &d) == 0 && d == 1.5);
    CHECK(qt_cli_parse_seconds("10", 10.0, &d) == 0 && d == 10.0);
    CHECK(qt_cli_parse_seconds("10.001", 10.0, &d) == -1);
    CHECK(qt_cli_parse_seconds("0", 10.0, &d) == -1);
    CHECK(qt_cli_parse_seconds("-2", 10.0, &d) == -1);
    CHECK(qt_cli_parse_seconds("nan", 10.0, &d) == -1);
    CHECK(qt_cli_parse_seconds("inf", 10.0, &d) == -1);
    CHECK(qt_cli_parse_seconds("3s", 10.0, &d) == -1);
    CHECK(qt_cli_parse_seconds("1e999", 10.0, &d) == -1);
#undef CHECK
    return fails == 0 ? 0 : -1;
}
