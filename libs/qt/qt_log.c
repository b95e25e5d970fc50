/* qt_log: JSON lines on stderr (see qt_log.h).
 *
 * Why this shape: every line is built completely in a private buffer and written
 * with one fwrite under a mutex, so lines from different threads never interleave.
 * Values are escaped for JSON (quote, backslash, control characters as \u00XX) and
 * invalid UTF-8 (hostile exchange payloads end up in logs) becomes U+FFFD, so a log
 * line is always valid JSON whatever was logged.
 * The log-once set is bounded (QT_LOG_ONCE_MAX keys): past that, new keys are
 * silent, so a flood of distinct bad inputs cannot grow memory or flood stderr. */
#include "qt_log.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qt_buf.h"

#define QT_LOG_ONCE_MAX 4096
#define ONCE_BUCKETS 8192 /* open addressing, load factor <= 0.5 */

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static char g_service[64] = "unknown";
static qt_log_level_t g_min = QT_LOG_INFO;
static qt_clock_t *g_clock;      /* caller's clock, not owned */
static qt_clock_t *g_wall;       /* private fallback, owned */
static FILE *g_stream;           /* NULL == stderr */
static char *g_once[ONCE_BUCKETS];
static size_t g_once_n;

static const char *const LEVEL_NAMES[] = {"debug", "info", "warn", "error"};

void qt_log_init(const char *service, qt_log_level_t min_level, qt_clock_t *clock)
{
    pthread_mutex_lock(&g_mu);
    snprintf(g_service, sizeof g_service, "%s", service ? service : "unknown");
    if (min_level < QT_LOG_DEBUG || min_level > QT_LOG_ERROR)
        min_level = QT_LOG_INFO;
    g_min = min_level;
    g_clock = clock;
    pthread_mutex_unlock(&g_mu);
}

void qt_log_set_stream(FILE *stream)
{
    pthread_mutex_lock(&g_mu);
    g_stream = stream;
    pthread_mutex_unlock(&g_mu);
}

void qt_log_shutdown(void)
{
    pthread_mutex_lock(&g_mu);
    for (size_t i = 0; i < ONCE_BUCKETS; i++) {
        free(g_once[i]);
        g_once[i] = NULL;
    }
    g_once_n = 0;
    qt_clock_destroy(&g_wall);
    g_clock = NULL;
    g_stream = NULL;
    snprintf(g_service, sizeof g_service, "unknown");
    g_min = QT_LOG_INFO;
    pthread_mutex_unlock(&g_mu);
}

int qt_log_level_parse(const char *s, qt_log_level_t *out)
{
    if (!s || !out)
        return -1;
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, LEVEL_NAMES[i]) == 0) {
            *out = (qt_log_level_t)i;
            return 0;
        }
    }
    return -1;
}

/* Length of a valid UTF-8 sequence at p (n bytes available), or 0 when invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t len;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0; /* overlong, out of range, surrogate */
    return len;
}

/* Appends s as a JSON string literal (with quotes). */
static void put_json_str(qt_buf_t *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    if (!s)
        s = "";
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    qt_buf_put_bytes(b, "\"", 1);
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            qt_buf_put_bytes(b, e, 2);
            i++;
        } else if (c < 0x20 || c == 0x7F) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            qt_buf_put_bytes(b, e, 6);
            i++;
        } else {
            size_t l = utf8_seq(p + i, n - i);
            if (l == 0) {
                qt_buf_put_bytes(b, "\xEF\xBF\xBD", 3); /* U+FFFD */
                i++;
            } else {
                qt_buf_put_bytes(b, p + i, l);
                i += l;
            }
        }
    }
    qt_buf_put_bytes(b, "\"", 1);
}

static void put_raw(qt_buf_t *b, const char *s)
{
    qt_buf_put_bytes(b, s, strlen(s));
}

/* Formats ns since the epoch as 2026-11-22T01:02:03.456Z. */
static void format_ts(int64_t ns, char *out, size_t len)
{
    int64_t ms = ns / 1000000;
    if (ns % 1000000 < 0)
        ms--;
    int64_t sec = ms / 1000;
    int64_t msr = ms % 1000;
    if (msr < 0) {
        msr += 1000;
        sec--;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(out, len, "1970-01-01T00:00:00.000Z");
        return;
    }
    snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)msr);
}

/* Builds and writes one line. msg (may be NULL) is added as "msg" after the kv fields.
 * Caller holds no lock. */
static void emit(qt_log_level_t level, const char *event, va_list *ap, const char *msg)
{
    qt_buf_t b;
    qt_buf_init(&b);
    char ts[48];
    char service[sizeof g_service];

    pthread_mutex_lock(&g_mu);
    qt_clock_t *clk = g_clock;
    if (!clk) {
        if (!g_wall)
            g_wall = qt_clock_new_wall();
        clk = g_wall;
    }
    format_ts(qt_clock_now_ns(clk), ts, sizeof ts);
    memcpy(service, g_service, sizeof service);
    pthread_mutex_unlock(&g_mu);

    put_raw(&b, "{\"ts\":\"");
    put_raw(&b, ts);
    put_raw(&b, "\",\"level\":\"");
    put_raw(&b, LEVEL_NAMES[level]);
    put_raw(&b, "\",\"service\":");
    put_json_str(&b, service);
    put_raw(&b, ",\"event\":");
    put_json_str(&b, event ? event : "");
    if (ap) {
        for (;;) {
            const char *k = va_arg(*ap, const char *);
            if (!k)
                break;
            const char *v = va_arg(*ap, const char *);
            put_raw(&b, ",");
            put_json_str(&b, k);
            put_raw(&b, ":");
            put_json_str(&b, v ? v : "");
            if (!v)
                break; /* a NULL value also ends the list: never read past it */
        }
    }
    if (msg) {
        put_raw(&b, ",\"msg\":");
        put_json_str(&b, msg);
    }
    put_raw(&b, "}\n");

    if (!b.oom) {
        pthread_mutex_lock(&g_mu);
        FILE *f = g_stream ? g_stream : stderr;
        fwrite(b.data, 1, b.len, f);
        fflush(f);
        pthread_mutex_unlock(&g_mu);
    }
    qt_buf_free(&b);
}

static bool level_enabled(qt_log_level_t level)
{
    if (level < QT_LOG_DEBUG || level > QT_LOG_ERROR)
        return false;
    pthread_mutex_lock(&g_mu);
    bool on = level >= g_min;
    pthread_mutex_unlock(&g_mu);
    return on;
}

void qt_log_kvv(qt_log_level_t level, const char *event, va_list ap)
{
    if (!level_enabled(level))
        return;
    va_list cp;
    va_copy(cp, ap);
    emit(level, event, &cp, NULL);
    va_end(cp);
}

void qt_log_kv(qt_log_level_t level, const char *event, ...)
{
    va_list ap;
    va_start(ap, event);
    qt_log_kvv(level, event, ap);
    va_end(ap);
}

void qt_logf(qt_log_level_t level, const char *event, const char *fmt, ...)
{
    if (!level_enabled(level))
        return;
    if (!fmt) {
        emit(level, event, NULL, "");
        return;
    }
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        emit(level, event, NULL, "(format error)");
        return;
    }
    if ((size_t)n < sizeof small) {
        emit(level, event, NULL, small);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        emit(level, event, NULL, small); /* truncated rather than nothing */
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    emit(level, event, NULL, big);
    free(big);
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

/* True when key was not yet in the set and has been added. */
static bool once_claim(const char *key)
{
    bool claimed = false;
    pthread_mutex_lock(&g_mu);
    size_t i = (size_t)(hash_str(key) & (ONCE_BUCKETS - 1));
    for (;;) {
        if (!g_once[i]) {
            if (g_once_n < QT_LOG_ONCE_MAX) {
                char *dup = strdup(key);
                if (dup) {
                    g_once[i] = dup;
                    g_once_n++;
                    claimed = true;
                }
            }
            break;
        }
        if (strcmp(g_once[i], key) == 0)
            break;
        i = (i + 1) & (ONCE_BUCKETS - 1);
    }
    pthread_mutex_unlock(&g_mu);
    return claimed;
}

bool qt_log_once(qt_log_level_t level, const char *once_key, const char *event, ...)
{
    if (!once_key || !once_claim(once_key))
        return false;
    if (level_enabled(level)) {
        va_list ap;
        va_start(ap, event);
        emit(level, event, &ap, NULL);
        va_end(ap);
    }
    return true;
}

/* ---------------------------------------------------------------- selftest */

int qt_log_selftest(bool verbose)
{
    int fails = 0;
#define CHECK(c)                                                                     \
    do {                                                                             \
        if (!(c)) {                                                                  \
            fails++;                                                                 \
            if (verbose)                                                             \
                fprintf(stderr, "qt_log selftest: %s:%d: %s\n", __FILE__, __LINE__, #c); \
        }                                                                            \
    } while (0)
    char *out = NULL;
    size_t outlen = 0;
    FILE *mem = open_memstream(&out, &outlen);
    if (!mem)
        return -1;
    qt_clock_t *clk = qt_clock_new_sim(1795309323456000000LL); /* 2026-11-22T01:02:03.456Z */
    qt_log_init("qt-selftest", QT_LOG_INFO, clk);
    qt_log_set_stream(mem);
    qt_log_kv(QT_LOG_DEBUG, "hidden", "a", "b", (const char *)NULL);
    qt_log_kv(QT_LOG_WARN, "ev", "k", "q\"\\\n\x01", (const char *)NULL);
    fflush(mem);
    const char *want = "{\"ts\":\"2026-11-22T01:02:03.456Z\",\"level\":\"warn\","
                       "\"service\":\"qt-selftest\",\"event\":\"ev\","
                       "\"k\":\"q\\\"\\\\\\u000a\\u0001\"}\n";
    CHECK(out && strcmp(out, want) == 0);
    if (verbose && out && strcmp(out, want) != 0)
        fprintf(stderr, "got:  %swant: %s", out, want);
    qt_log_level_t lv;
    CHECK(qt_log_level_parse("error", &lv) == 0 && lv == QT_LOG_ERROR);
    CHECK(qt_log_level_parse("ERROR", &lv) == -1);
    qt_log_set_stream(NULL);
    qt_log_init("unknown", QT_LOG_INFO, NULL);
    fclose(mem);
    free(out);
    qt_clock_destroy(&clk);
#undef CHECK
    if (verbose)
        fprintf(stderr, "qt_log selftest: %s\n", fails ? "FAILED" : "ok");
    return fails ? -1 : 0;
}
