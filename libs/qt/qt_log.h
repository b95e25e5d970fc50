/* qt_log: one JSON object per line on stderr:
 *   {"ts":"2026-11-22T01:02:03.456Z","level":"info","service":"qt-risk","event":"intent_rejected",
 *    "symbol":"BTC_USDT","code":"MAX_GROSS"}
 * Why: operators grep and ship logs; structured lines survive both. Field values
 * are always JSON strings, escaped. Time comes from the qt_clock set at init. */
#ifndef QT_LOG_H
#define QT_LOG_H
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include "qt_clock.h"

typedef enum { QT_LOG_DEBUG = 0, QT_LOG_INFO, QT_LOG_WARN, QT_LOG_ERROR } qt_log_level_t;

/* service: name in every line; clock may be NULL (wall time then from a private wall clock). */
void qt_log_init(const char *service, qt_log_level_t min_level, qt_clock_t *clock);
/* Redirect output (tests); NULL restores stderr. */
void qt_log_set_stream(FILE *stream);
/* Parses "debug|info|warn|error"; returns -1 on anything else. */
int qt_log_level_parse(const char *s, qt_log_level_t *out);

/* Key/value pairs of strings, terminated by NULL:
 *   qt_log_kv(QT_LOG_WARN, "frame_rejected", "reason", "truncated", "topic", t, NULL); */
void qt_log_kv(qt_log_level_t level, const char *event, ...);
void qt_log_kvv(qt_log_level_t level, const char *event, va_list ap);
/* printf-style message in a "msg" field. */
void qt_logf(qt_log_level_t level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Like qt_log_kv, but only the first time `once_key` is seen in this process (later
 * calls with the same key are silent and return false). For "log once with context".
 * The key set is bounded (4096 keys); past that every new key is silent too.
 * In all kv functions a NULL value also ends the list; invalid UTF-8 is replaced by
 * U+FFFD and control characters are escaped, so every line is valid JSON. */
bool qt_log_once(qt_log_level_t level, const char *once_key, const char *event, ...);
/* Frees the log-once set and the private wall clock, and restores the defaults
 * (service "unknown", level info, stderr, no clock). Call at process exit (keeps
 * valgrind quiet) or between tests; logging afterwards still works. */
void qt_log_shutdown(void);

int qt_log_selftest(bool verbose);
#endif
