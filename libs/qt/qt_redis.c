/* qt_redis: hiredis wrapper with lazy connect, bounded timeouts, one reconnect per
 * command, and a kill-switch reader that fails closed.
 *
 * Why this shape: a service must keep running (and keep failing closed) while Redis
 * is away, and must pick the connection up again by itself when Redis comes back.
 * Every command is formatted once, then sent on the current connection; on an I/O
 * error (server gone, connection killed, timeout) the connection is dropped, a new
 * one is made and the command is sent once more. Connect and command timeouts are
 * both timeout_ms, so no call blocks longer than about 4 * timeout_ms. */
#include "qt_redis.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "qt_log.h"

struct qt_redis_t {
    char *host;
    int port;
    int timeout_ms;
    redisContext *ctx;
    bool ever_connected;
    uint64_t reconnects;
    uint64_t errors;
    qt_counter_t *c_errors;
    qt_counter_t *c_reconnects;
};

#define KS_KEY "qt:killswitch"

static void ignore_sigpipe(void)
{
    struct sigaction old;
    if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_IGN;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGPIPE, &sa, NULL);
    }
}

qt_redis_t *qt_redis_new(const char *host, int port, int timeout_ms, qt_metrics_t *metrics)
{
    qt_redis_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->host = strdup(host ? host : "127.0.0.1");
    if (!self->host) {
        free(self);
        return NULL;
    }
    self->port = port;
    self->timeout_ms = timeout_ms > 0 ? timeout_ms : 500;
    if (metrics) {
        self->c_errors = qt_metrics_counter(metrics, "qt_redis_errors_total",
                                            "Redis commands that failed: Redis unreachable",
                                            NULL);
        self->c_reconnects = qt_metrics_counter(
            metrics, "qt_redis_reconnects_total",
            "Redis connections re-established after a broken connection", NULL);
    }
    ignore_sigpipe();
    return self;
}

void qt_redis_destroy(qt_redis_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    qt_redis_t *self = *self_p;
    if (self->ctx)
        redisFree(self->ctx);
    free(self->host);
    free(self);
    *self_p = NULL;
}

uint64_t qt_redis_reconnects(const qt_redis_t *self)
{
    return self ? self->reconnects : 0;
}

uint64_t qt_redis_errors(const qt_redis_t *self)
{
    return self ? self->errors : 0;
}

static void count_error(qt_redis_t *self)
{
    self->errors++;
    if (self->c_errors)
        qt_counter_inc(self->c_errors);
}

static void drop_connection(qt_redis_t *self)
{
    if (self->ctx) {
        redisFree(self->ctx);
        self->ctx = NULL;
    }
}

/* 0 connected, -1 not (logged once per process). */
static int ensure_connected(qt_redis_t *self)
{
    if (self->ctx)
        return 0;
    struct timeval tv = {.tv_sec = self->timeout_ms / 1000,
                         .tv_usec = (self->timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(self->host, self->port, tv);
    if (!c || c->err) {
        char port[16];
        snprintf(port, sizeof port, "%d", self->port);
        qt_log_once(QT_LOG_WARN, "redis_connect_failed", "redis_connect_failed", "host",
                    self->host, "port", port, "error", c ? c->errstr : "out of memory",
                    NULL);
        if (c)
            redisFree(c);
        return -1;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        redisFree(c);
        return -1;
    }
    if (self->ever_connected) {
        self->reconnects++;
        if (self->c_reconnects)
            qt_counter_inc(self->c_reconnects);
        qt_log_kv(QT_LOG_INFO, "redis_reconnected", "host", self->host, NULL);
    }
    self->ever_connected = true;
    self->ctx = c;
    return 0;
}

/* Sends an already formatted command; reconnects once on an I/O error. */
static redisReply *run_formatted(qt_redis_t *self, const char *cmd, size_t len)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (ensure_connected(self) != 0)
            break;
        void *reply = NULL;
        if (redisAppendFormattedCommand(self->ctx, cmd, len) == REDIS_OK &&
            redisGetReply(self->ctx, &reply) == REDIS_OK && reply)
            return reply;
        qt_log_once(QT_LOG_WARN, "redis_io_error", "redis_io_error", "error",
                    self->ctx->errstr, NULL);
        if (reply)
            freeReplyObject(reply);
        drop_connection(self);
    }
    count_error(self);
    return NULL;
}

redisReply *qt_redis_cmd(qt_redis_t *self, const char *fmt, ...)
{
    if (!self || !fmt)
        return NULL;
    char *cmd = NULL;
    va_list ap;
    va_start(ap, fmt);
    int len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    if (len < 0 || !cmd)
        return NULL;
    redisReply *r = run_formatted(self, cmd, (size_t)len);
    redisFreeCommand(cmd);
    return r;
}

redisReply *qt_redis_cmdargv(qt_redis_t *self, int argc, const char **argv,
                             const size_t *argvlen)
{
    if (!self || argc <= 0 || !argv)
        return NULL;
    char *cmd = NULL;
    int len = redisFormatCommandArgv(&cmd, argc, argv, argvlen);
    if (len < 0 || !cmd)
        return NULL;
    redisReply *r = run_formatted(self, cmd, (size_t)len);
    redisFreeCommand(cmd);
    return r;
}

bool qt_redis_ping(qt_redis_t *self)
{
    redisReply *r = qt_redis_cmd(self, "PING");
    bool ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
    if (r)
        freeReplyObject(r);
    return ok;
}

/* ---- last-good cache ------------------------------------------------------------ */

static int lastgood_key(char *key, size_t keylen, const char *kind, const char *name)
{
    if (!kind || !name || !*kind || !*name)
        return -1;
    int n = snprintf(key, keylen, "qt:lastgood:%s:%s", kind, name);
    return (n < 0 || (size_t)n >= keylen) ? -1 : 0;
}

int qt_redis_lastgood_set(qt_redis_t *self, const char *kind, const char *name,
                          const uint8_t *buf, size_t len)
{
    char key[256];
    if (!self || lastgood_key(key, sizeof key, kind, name) != 0 || (!buf && len))
        return -1;
    const char *argv[3] = {"SET", key, buf ? (const char *)buf : ""};
    size_t argvlen[3] = {3, strlen(key), len};
    redisReply *r = qt_redis_cmdargv(self, 3, argv, argvlen);
    int rc = (r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0) ? 0 : -1;
    if (r)
        freeReplyObject(r);
    return rc;
}

int qt_redis_lastgood_get(qt_redis_t *self, const char *kind, const char *name, uint8_t **buf,
                          size_t *len)
{
    char key[256];
    if (!self || !buf || !len || lastgood_key(key, sizeof key, kind, name) != 0)
        return -1;
    *buf = NULL;
    *len = 0;
    const char *argv[2] = {"GET", key};
    size_t argvlen[2] = {3, strlen(key)};
    redisReply *r = qt_redis_cmdargv(self, 2, argv, argvlen);
    if (!r)
        return -1;
    int rc = -1;
    if (r->type == REDIS_REPLY_NIL) {
        rc = 0;
    } else if (r->type == REDIS_REPLY_STRING) {
        uint8_t *copy = malloc(r->len ? r->len : 1);
        if (copy) {
            memcpy(copy, r->str, r->len);
            *buf = copy;
            *len = r->len;
            rc = 1;
        }
    }
    freeReplyObject(r);
    return rc;
}

/* ---- kill switch ---------------------------------------------------------------- */

static const struct {
    qt_ks_tier_t tier;
    const char *name;
} TIERS[] = {
    {QT__V1__KILL_SWITCH_TIER__KS_UNKNOWN, "UNKNOWN"},
    {QT__V1__KILL_SWITCH_TIER__KS_NORMAL, "NORMAL"},
    {QT__V1__KILL_SWITCH_TIER__KS_WARN, "WARN"},
    {QT__V1__KILL_SWITCH_TIER__KS_THROTTLE, "THROTTLE"},
    {QT__V1__KILL_SWITCH_TIER__KS_NO_NEW, "NO_NEW"},
    {QT__V1__KILL_SWITCH_TIER__KS_FLATTEN_ALL, "FLATTEN_ALL"},
};

const char *qt_ks_tier_name(qt_ks_tier_t tier)
{
    for (size_t i = 0; i < sizeof TIERS / sizeof TIERS[0]; i++)
        if (TIERS[i].tier == tier)
            return TIERS[i].name;
    return "UNKNOWN";
}

int qt_ks_tier_parse(const char *s, qt_ks_tier_t *out)
{
    if (!s || !out)
        return -1;
    for (size_t i = 0; i < sizeof TIERS / sizeof TIERS[0]; i++) {
        if (strcasecmp(s, TIERS[i].name) == 0) {
            *out = TIERS[i].tier;
            return 0;
        }
    }
    return -1;
}

/* Strict decimal integers: optional '-' (signed only), digits, nothing else. */
bool qt_redis_parse_u64n(const char *s, size_t len, uint64_t *out)
{
    if (len == 0 || len > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool qt_redis_parse_i64n(const char *s, size_t len, int64_t *out)
{
    bool neg = len > 0 && s[0] == '-';
    uint64_t u;
    if (!qt_redis_parse_u64n(s + neg, len - neg, &u))
        return false;
    if (neg) {
        if (u > (uint64_t)INT64_MAX + 1)
            return false;
        *out = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
    } else {
        if (u > (uint64_t)INT64_MAX)
            return false;
        *out = (int64_t)u;
    }
    return true;
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static void ks_set_str(char **field, const char *s, size_t n)
{
    char *d = dup_n(s, n);
    *field = d ? d : (char *)protobuf_c_empty_string;
}

void qt_ks_clear(Qt__V1__KillSwitch *ks)
{
    if (!ks)
        return;
    if (ks->set_by && ks->set_by != protobuf_c_empty_string)
        free(ks->set_by);
    if (ks->reason && ks->reason != protobuf_c_empty_string)
        free(ks->reason);
    Qt__V1__KillSwitch init = QT__V1__KILL_SWITCH__INIT;
    *ks = init;
}

static qt_ks_tier_t ks_fail_closed(Qt__V1__KillSwitch *out, const char *why)
{
    qt_log_once(QT_LOG_WARN, why, "killswitch_fail_closed", "why", why, NULL);
    if (out) {
        Qt__V1__KillSwitch init = QT__V1__KILL_SWITCH__INIT;
        *out = init;
        out->tier = QT__V1__KILL_SWITCH_TIER__KS_NO_NEW;
        ks_set_str(&out->set_by, "fail-closed", strlen("fail-closed"));
        ks_set_str(&out->reason, why, strlen(why));
    }
    return QT__V1__KILL_SWITCH_TIER__KS_NO_NEW;
}

qt_ks_tier_t qt_redis_killswitch_read(qt_redis_t *self, Qt__V1__KillSwitch *out)
{
    if (!self)
        return ks_fail_closed(out, "killswitch: no redis client");
    redisReply *r = qt_redis_cmd(self, "HGETALL %s", KS_KEY);
    if (!r)
        return ks_fail_closed(out, "killswitch: redis unreachable");
    const char *why = NULL;
    qt_ks_tier_t tier = QT__V1__KILL_SWITCH_TIER__KS_UNKNOWN;
    uint64_t version = 0;
    int64_t set_at = 0;
    const redisReply *set_by = NULL, *reason = NULL;
    bool have_tier = false, have_version = false, have_at = false;

    if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0) {
        why = "killswitch: unexpected reply type";
    } else if (r->elements == 0) {
        why = "killswitch: absent (never initialised)";
    } else {
        for (size_t i = 0; i < r->elements && !why; i += 2) {
            const redisReply *k = r->element[i], *v = r->element[i + 1];
            if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) {
                why = "killswitch: unexpected field type";
                break;
            }
            if (strcmp(k->str, "tier") == 0) {
                char name[32];
                if (have_tier || v->len >= sizeof name)
                    why = "killswitch: invalid tier";
                else {
                    memcpy(name, v->str, v->len);
                    name[v->len] = '\0';
                    if (strlen(name) != v->len || qt_ks_tier_parse(name, &tier) != 0 ||
                        tier == QT__V1__KILL_SWITCH_TIER__KS_UNKNOWN)
                        why = "killswitch: invalid tier";
                }
                have_tier = true;
            } else if (strcmp(k->str, "version") == 0) {
                if (have_version || !qt_redis_parse_u64n(v->str, v->len, &version))
                    why = "killswitch: invalid version";
                have_version = true;
            } else if (strcmp(k->str, "set_at_ms") == 0) {
                if (have_at || !qt_redis_parse_i64n(v->str, v->len, &set_at))
                    why = "killswitch: invalid set_at_ms";
                have_at = true;
            } else if (strcmp(k->str, "set_by") == 0) {
                set_by = v;
            } else if (strcmp(k->str, "reason") == 0) {
                reason = v;
            }
            /* unknown fields are ignored (forward compatible) */
        }
        if (!why && (!have_tier || !have_version || !have_at || !set_by || !reason))
            why = "killswitch: missing field";
    }
    if (why) {
        freeReplyObject(r);
        return ks_fail_closed(out, why);
    }
    if (out) {
        Qt__V1__KillSwitch init = QT__V1__KILL_SWITCH__INIT;
        *out = init;
        out->tier = tier;
        out->version = version;
        out->set_at_ms = set_at;
        ks_set_str(&out->set_by, set_by->str, set_by->len);
        ks_set_str(&out->reason, reason->str, reason->len);
    }
    freeReplyObject(r);
    return tier;
}

/* Atomic: version = version + 1 and all fields in one script. previous_tier records the
 * tier it replaced; trigger/approved_by of an earlier qt_killswitch write are dropped
 * (they described that earlier change). A pending approval dies with the version. */
static const char KS_WRITE_LUA[] =
    "local old = redis.call('HGET', KEYS[1], 'tier')\n"
    "local v = redis.call('HINCRBY', KEYS[1], 'version', 1)\n"
    "redis.call('HDEL', KEYS[1], 'trigger', 'approved_by')\n"
    "redis.call('HSET', KEYS[1], 'previous_tier', old or 'UNKNOWN')\n"
    "redis.call('HSET', KEYS[1], 'tier', ARGV[1], 'set_by', ARGV[2], 'reason', ARGV[3],"
    " 'set_at_ms', ARGV[4])\n"
    "return v\n";

int qt_redis_killswitch_write(qt_redis_t *self, qt_ks_tier_t tier, const char *set_by,
                              const char *reason, int64_t now_ms, uint64_t *new_version)
{
    if (!self || !set_by || !reason || !*set_by || !*reason ||
        tier == QT__V1__KILL_SWITCH_TIER__KS_UNKNOWN)
        return -1;
    qt_ks_tier_t check;
    const char *name = qt_ks_tier_name(tier);
    if (qt_ks_tier_parse(name, &check) != 0 || check != tier)
        return -1;
    char at[32];
    snprintf(at, sizeof at, "%" PRId64, now_ms);
    const char *argv[] = {"EVAL", KS_WRITE_LUA, "1", KS_KEY, name, set_by, reason, at};
    redisReply *r = qt_redis_cmdargv(self, 8, argv, NULL);
    int rc = -1;
    if (r && r->type == REDIS_REPLY_INTEGER && r->integer > 0) {
        if (new_version)
            *new_version = (uint64_t)r->integer;
        rc = 0;
    } else if (r && r->type == REDIS_REPLY_ERROR) {
        qt_log_once(QT_LOG_ERROR, "killswitch_write_error", "killswitch_write_error",
                    "error", r->str, NULL);
    }
    if (r)
        freeReplyObject(r);
    return rc;
}

/* ---- self-test (no server needed) ------------------------------------------------ */

int qt_redis_selftest(bool verbose)
{
    int fails = 0;
#define CHECK(c)                                                                            \
    do {                                                                                    \
        if (!(c)) {                                                                         \
            fails++;                                                                        \
            if (verbose)                                                                    \
                fprintf(stderr, "qt_redis selftest: %s:%d: %s\n", __FILE__, __LINE__, #c);  \
        }                                                                                   \
    } while (0)
    for (size_t i = 0; i < sizeof TIERS / sizeof TIERS[0]; i++) {
        qt_ks_tier_t t;
        CHECK(qt_ks_tier_parse(TIERS[i].name, &t) == 0 && t == TIERS[i].tier);
        CHECK(strcmp(qt_ks_tier_name(TIERS[i].tier), TIERS[i].name) == 0);
    }
    qt_ks_tier_t t;
    CHECK(qt_ks_tier_parse("flatten_all", &t) == 0 &&
          t == QT__V1__KILL_SWITCH_TIER__KS_FLATTEN_ALL);
    CHECK(qt_ks_tier_parse("NORMAL ", &t) == -1);
    CHECK(qt_ks_tier_parse("", &t) == -1);
    uint64_t u;
    int64_t s;
    CHECK(qt_redis_parse_u64n("18446744073709551615", 20, &u) && u == UINT64_MAX);
    CHECK(!qt_redis_parse_u64n("18446744073709551616", 20, &u));
    CHECK(!qt_redis_parse_u64n("1x", 2, &u));
    CHECK(!qt_redis_parse_u64n("", 0, &u));
    CHECK(qt_redis_parse_i64n("-9223372036854775808", 20, &s) && s == INT64_MIN);
    CHECK(!qt_redis_parse_i64n("9223372036854775808", 19, &s));
    CHECK(!qt_redis_parse_i64n("-", 1, &s));
    /* An unreachable server (port 1 is never a Redis): NULL, fail closed, counted. */
    qt_redis_t *r = qt_redis_new("127.0.0.1", 1, 200, NULL);
    CHECK(r != NULL);
    if (r) {
        CHECK(qt_redis_cmd(r, "PING") == NULL);
        Qt__V1__KillSwitch ks;
        CHECK(qt_redis_killswitch_read(r, &ks) == QT__V1__KILL_SWITCH_TIER__KS_NO_NEW);
        CHECK(ks.tier == QT__V1__KILL_SWITCH_TIER__KS_NO_NEW && ks.version == 0);
        qt_ks_clear(&ks);
        CHECK(qt_redis_errors(r) == 2 && qt_redis_reconnects(r) == 0);
        qt_redis_destroy(&r);
        CHECK(r == NULL);
    }
    qt_redis_destroy(NULL);
#undef CHECK
    return fails ? -1 : 0;
}
