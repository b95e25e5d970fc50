/* qt_cli: argument parsing helpers shared by the operator tools (qtctl, qt-tail,
 * qt-bench). Why: a CLI argument is hostile input like any other; the strict parsers
 * live once here so every tool rejects "12abc", "-1", "nan" and overflow the same way,
 * and every usage error looks the same and exits 2. */
#ifndef QT_CLI_H
#define QT_CLI_H
#include <stdbool.h>
#include <stdint.h>

#define QT_CLI_EXIT_USAGE 2

/* Strict unsigned decimal: no sign, no junk, no overflow. 0 ok, -1 invalid. */
int qt_cli_parse_u64(const char *s, uint64_t *out);
/* Strict positive decimal seconds in (0, max_s]. 0 ok, -1 invalid. */
int qt_cli_parse_seconds(const char *s, double max_s, double *out);
/* Prints "<prog>: <fmt with arg>\n(run '<prog> --help' for usage)" on stderr and
 * returns QT_CLI_EXIT_USAGE. fmt takes exactly one %s (arg may be NULL: ""). */
int qt_cli_usage_error(const char *prog, const char *fmt, const char *arg);

int qt_cli_selftest(bool verbose);
#endif
