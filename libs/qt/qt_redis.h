/* qt_redis: the Redis connection (hiredis) every service uses for last-good caches,
 * checkpoints, idempotency keys and the kill switch.
 *
 * Why a wrapper: Redis can go away at any moment. Every command reconnects once on a
 * broken connection (counted in qt_redis_reconnects_total), never blocks longer than
 * the configured timeout, and returns NULL when Redis is unreachable
 * (qt_redis_errors_total). The kill-switch read fails closed: anything but a clean,
 * valid read yields KS_NO_NEW. */
#ifndef QT_REDIS_H
#define QT_REDIS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <hiredis/hiredis.h>
#include "qt/v1/control.pb-c.h"
#include "qt_metrics.h"

typedef struct qt_redis_t qt_redis_t;
typedef Qt__V1__KillSwitchTier qt_ks_tier_t;

/* Never NULL except on OOM: connection is lazy; metrics may be NULL. */
qt_redis_t *qt_redis_new(const char *host, int port, int timeout_ms, qt_metrics_t *metrics);
void qt_redis_destroy(qt_redis_t **self_p);
/* True if a PING succeeds (reconnecting if needed). */
bool qt_redis_ping(qt_redis_t *self);
/* printf-style command (hiredis syntax). Reply (free with freeReplyObject) or NULL
 * when Redis is unreachable. Error replies (REDIS_REPLY_ERROR) are returned as is. */
redisReply *qt_redis_cmd(qt_redis_t *self, const char *fmt, ...);
redisReply *qt_redis_cmdargv(qt_redis_t *self, int argc, const char **argv,
                             const size_t *argvlen);

/* Last-good cache: key "qt:lastgood:<kind>:<name>". 0 ok / -1 error. */
int qt_redis_lastgood_set(qt_redis_t *self, const char *kind, const char *name,
                          const uint8_t *buf, size_t len);
/* 1 found (*buf malloc'd), 0 absent, -1 error. */
int qt_redis_lastgood_get(qt_redis_t *self, const char *kind, const char *name, uint8_t **buf,
                          size_t *len);

/* Kill switch, hash "qt:killswitch" {tier, version, set_by, reason, set_at_ms}.
 * Read: fills *out if not NULL; returns the tier, or KS_NO_NEW when Redis is down, the
 * key is absent (never initialised: fail closed) or any field is invalid.
 * Services call this at most every few hundred ms (cache in the caller). */
qt_ks_tier_t qt_redis_killswitch_read(qt_redis_t *self, Qt__V1__KillSwitch *out);
/* *out from qt_redis_killswitch_read owns malloc'd set_by/reason strings (always set,
 * also on a fail-closed read: then tier KS_NO_NEW, version 0, set_by "fail-closed" and
 * reason saying why). Release them with qt_ks_clear (resets *out to the INIT value). */
void qt_ks_clear(Qt__V1__KillSwitch *ks);
/* Write a new state, version = old version + 1 (atomic, Lua). 0 ok / -1 error.
 * set_by/reason must be non-empty; the strings in *out-style fields are copied.
 * Low level: it does NOT check the direction. Only raises may use it (the watchdog);
 * operators go through qt_killswitch (raise, or two HMAC-signed approvals to lower). */
int qt_redis_killswitch_write(qt_redis_t *self, qt_ks_tier_t tier, const char *set_by,
                              const char *reason, int64_t now_ms, uint64_t *new_version);
const char *qt_ks_tier_name(qt_ks_tier_t tier);             /* "NORMAL", ... "UNKNOWN" */
int qt_ks_tier_parse(const char *s, qt_ks_tier_t *out);     /* case-insensitive; -1 bad */

/* Counters mirrored in the metrics (also kept when metrics == NULL): successful
 * reconnects after a broken connection, and commands that failed with Redis unreachable. */
uint64_t qt_redis_reconnects(const qt_redis_t *self);
uint64_t qt_redis_errors(const qt_redis_t *self);
/* Note: qt_redis_new sets SIGPIPE to SIG_IGN if it is SIG_DFL (a write to a socket the
 * server closed must be an I/O error, not the death of the process). */

/* Strict decimal integers of a reply string (s, len): digits only, '-' allowed for the
 * signed form, no overflow. Shared by every reader of our Redis hashes. */
bool qt_redis_parse_u64n(const char *s, size_t len, uint64_t *out);
bool qt_redis_parse_i64n(const char *s, size_t len, int64_t *out);

int qt_redis_selftest(bool verbose);
#endif
