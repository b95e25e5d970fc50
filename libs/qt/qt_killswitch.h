/* qt_killswitch: the kill-switch state machine, two-person lowering and its store.
 *
 * Why: the kill switch is the last control an operator has over the system. Raising it
 * must always be possible for one actor (a threshold, the watchdog, recon, a policy or
 * an operator); lowering it must need two distinct humans, each proving who they are,
 * so that one compromised account or one tired operator cannot re-enable trading.
 *
 * Tiers (ordered): NORMAL < WARN < THROTTLE < NO_NEW < FLATTEN_ALL. A state that was
 * never written is "absent" and acts as NO_NEW (fail closed).
 *
 *  - raise: the new tier must be above the current one (absent: NO_NEW or above). One
 *    actor suffices. The version goes up by one; a pending approval dies with it.
 *  - approve_lower(target, operator, token, issued_at): the token is
 *    hex(HMAC-SHA256(key_operator, "qt.killswitch.lower.v1|<TARGET>|<version>|<operator>|
 *    <issued_at_ms>")), version = the CURRENT state version. So a token cannot be reused
 *    for another tier, another version (every change bumps it), or another operator. It
 *    must be fresh: now - window <= issued_at <= now + QT_KS_MAX_SKEW_MS. The first valid
 *    approval is recorded as pending; a second valid approval for the same target and
 *    version by a DIFFERENT operator within window_ms of the first lowers the tier
 *    (trigger "approval", approved_by = both). The same operator twice, a forged, a
 *    replayed or an expired token never lowers.
 *
 * HMAC is symmetric: whoever verifies can also sign. Keys therefore live in files or
 * environment variables readable only by the operator (signing) and by the control host
 * account running qtctl (verifying); they are never logged or printed, and are wiped
 * from memory on destroy.
 *
 * Store: the pure transitions work on plain structs; qt_ks_store_t is the persistence
 * (Redis hash "qt:killswitch" + pending approval hash "qt:killswitch:pending", updated
 * by one compare-and-set Lua script on the version and the pending token, so two
 * concurrent qtctl runs or a watchdog raise in between can never be lost or merged).
 * The property test drives the same transitions against an in-memory store with
 * outages and restarts. */
#ifndef QT_KILLSWITCH_H
#define QT_KILLSWITCH_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qt_redis.h"

#define QT_KS_OPERATOR_MAX 32   /* operator names: [a-z0-9_]{1,32} */
#define QT_KS_WHO_MAX 100
#define QT_KS_WHY_MAX 400
#define QT_KS_TRIGGER_MAX 16
#define QT_KS_TOKEN_HEX 64
#define QT_KS_KEY_MIN 16        /* bytes (32 hex characters) */
#define QT_KS_KEY_MAX 128
#define QT_KS_MAX_SKEW_MS 5000  /* a token may be issued at most this far in the future */
#define QT_KS_DEFAULT_WINDOW_MS 300000

typedef struct {
    bool present;                 /* false: never written; acts as NO_NEW, version 0 */
    qt_ks_tier_t tier;
    uint64_t version;
    char set_by[QT_KS_WHO_MAX + 1];
    char reason[QT_KS_WHY_MAX + 1];
    int64_t set_at_ms;
    char trigger[QT_KS_TRIGGER_MAX + 1];   /* "operator" | "drawdown" | ... | "approval" */
    qt_ks_tier_t previous_tier;
    char approved_by[2][QT_KS_OPERATOR_MAX + 1];
    size_t n_approved_by;
} qt_ks_state_t;

typedef struct {
    bool present;
    qt_ks_tier_t target;
    uint64_t version;             /* state version the token was signed for */
    char operator_name[QT_KS_OPERATOR_MAX + 1];
    int64_t issued_at_ms;
    int64_t recorded_at_ms;
    char token[QT_KS_TOKEN_HEX + 1];
} qt_ks_pending_t;

typedef enum {
    QT_KS_RAISED = 0,         /* state changed: tier up */
    QT_KS_RECORDED,           /* first approval stored, waiting for a second operator */
    QT_KS_LOWERED,            /* second distinct approval: tier down */
    QT_KS_NOT_HIGHER,         /* raise to a tier <= the current one: nothing changed */
    QT_KS_NOT_LOWER,          /* approve_lower to a tier >= the current one */
    QT_KS_BAD_ARG,            /* bad tier / name / trigger / reason */
    QT_KS_UNKNOWN_OPERATOR,   /* no key for that operator */
    QT_KS_BAD_TOKEN,          /* HMAC does not verify (forged, other tier/version/operator) */
    QT_KS_EXPIRED,            /* issued_at outside [now - window, now + skew] */
    QT_KS_SAME_OPERATOR,      /* the pending approval is already this operator's */
    QT_KS_STORE_ERROR,        /* store unreadable / write failed: nothing changed */
    QT_KS_CONFLICT            /* the state kept changing under us (CAS lost 5 times) */
} qt_ks_result_t;

const char *qt_ks_result_name(qt_ks_result_t r);   /* "RAISED", ... */

/* Absent state (NO_NEW, version 0) and no pending approval. */
void qt_ks_state_init(qt_ks_state_t *s);
void qt_ks_pending_init(qt_ks_pending_t *p);
/* The tier services act on: NO_NEW when absent. */
qt_ks_tier_t qt_ks_effective(const qt_ks_state_t *s);

/* ---- keys --------------------------------------------------------------------- */

typedef struct qt_ks_keyring_t qt_ks_keyring_t;
qt_ks_keyring_t *qt_ks_keyring_new(void);
void qt_ks_keyring_destroy(qt_ks_keyring_t **self_p);   /* wipes the keys */
bool qt_ks_operator_ok(const char *name);
/* Raw key bytes (QT_KS_KEY_MIN..QT_KS_KEY_MAX). Replaces an existing key. 0 / -1. */
int qt_ks_keyring_add(qt_ks_keyring_t *self, const char *name, const uint8_t *key,
                      size_t len);
/* Key text = hex (even length, >= 32 digits), surrounding whitespace ignored. */
int qt_ks_keyring_add_hex(qt_ks_keyring_t *self, const char *name, const char *text,
                          char *err, size_t errlen);
/* File holding the hex key (mode must not grant group/other access). */
int qt_ks_keyring_add_file(qt_ks_keyring_t *self, const char *name, const char *path,
                           char *err, size_t errlen);
/* Every "<name>.key" in dir; other files are ignored. 0 / -1 (err names the file). */
int qt_ks_keyring_load_dir(qt_ks_keyring_t *self, const char *dir, char *err, size_t errlen);
/* $QT_OPERATOR_KEYS_DIR (if set) then every QT_OPERATOR_KEY_<NAME> (NAME upper case,
 * operator = lower case). 0 / -1. */
int qt_ks_keyring_load_env(qt_ks_keyring_t *self, char *err, size_t errlen);
bool qt_ks_keyring_has(const qt_ks_keyring_t *self, const char *name);
size_t qt_ks_keyring_size(const qt_ks_keyring_t *self);

/* Token for (target, version, operator, issued_at) signed with that operator's key in
 * the keyring. 0 / -1 (unknown operator, bad tier). out: 64 hex + NUL. */
int qt_ks_sign(const qt_ks_keyring_t *self, qt_ks_tier_t target, uint64_t version,
               const char *name, int64_t issued_at_ms, char out[QT_KS_TOKEN_HEX + 1]);
/* Constant-time check of a token. */
bool qt_ks_verify(const qt_ks_keyring_t *self, qt_ks_tier_t target, uint64_t version,
                  const char *name, int64_t issued_at_ms, const char *token);

/* ---- pure transitions ----------------------------------------------------------- */

/* trigger: one of operator|drawdown|daily_loss|watchdog|recon|policy. who/why
 * non-empty, <= QT_KS_WHO_MAX / QT_KS_WHY_MAX bytes, no control characters. On RAISED
 * *s is the new state and *p cleared; otherwise both unchanged. */
qt_ks_result_t qt_ks_raise(qt_ks_state_t *s, qt_ks_pending_t *p, qt_ks_tier_t tier,
                           const char *trigger, const char *who, const char *why,
                           int64_t now_ms);
/* On RECORDED *p holds the approval; on LOWERED *s is the new state and *p cleared;
 * otherwise both unchanged. why: reason recorded with the lowering (non-empty). */
qt_ks_result_t qt_ks_approve_lower(qt_ks_state_t *s, qt_ks_pending_t *p,
                                   const qt_ks_keyring_t *keys, int64_t window_ms,
                                   qt_ks_tier_t target, const char *name,
                                   int64_t issued_at_ms, const char *token, const char *why,
                                   int64_t now_ms);

/* ---- store ----------------------------------------------------------------------- */

typedef struct {
    /* 0 ok (absent state reads as qt_ks_state_init), -1 unreachable, -2 reachable but
     * the stored state is invalid (tampered, wrong type, missing field). */
    int (*load)(void *ctx, qt_ks_state_t *s, qt_ks_pending_t *p);
    /* Replace state (when write_state) and pending (cleared when !p->present), only if
     * the stored version == expect_version and the stored pending token ==
     * expect_token ("" = none). 1 done, 0 conflict, -1 error. */
    int (*cas)(void *ctx, uint64_t expect_version, const char *expect_token, bool write_state,
               const qt_ks_state_t *s, const qt_ks_pending_t *p);
    /* Over an INVALID stored state only: replaces it by *s (tier >= NO_NEW; if the
     * stored tier field is a valid higher tier, that tier is kept and s->tier updated;
     * s->previous_tier = the stored tier field if valid),
     * version = stored version (0 if unusable) + 1, pending cleared. >0 the new
     * version, -1 error. */
    int64_t (*force_raise)(void *ctx, qt_ks_state_t *s);
    void *ctx;
} qt_ks_store_t;

/* Effective tier through a store: NO_NEW (never NORMAL) when it cannot be read. */
qt_ks_tier_t qt_ks_store_read(const qt_ks_store_t *st, qt_ks_state_t *s, qt_ks_pending_t *p);
/* load -> transition -> CAS, retried on conflict (5 attempts). *out = resulting state
 * (also on refusals: the state that was current). A raise must never be blocked by a
 * corrupt state: over an invalid stored state a raise to NO_NEW or FLATTEN_ALL replaces
 * it (force_raise); lower tiers are NOT_HIGHER (the invalid state reads as NO_NEW) and
 * approvals are STORE_ERROR. */
qt_ks_result_t qt_ks_store_raise(const qt_ks_store_t *st, qt_ks_tier_t tier,
                                 const char *trigger, const char *who, const char *why,
                                 int64_t now_ms, qt_ks_state_t *out);
qt_ks_result_t qt_ks_store_approve(const qt_ks_store_t *st, const qt_ks_keyring_t *keys,
                                   int64_t window_ms, qt_ks_tier_t target, const char *name,
                                   int64_t issued_at_ms, const char *token, const char *why,
                                   int64_t now_ms, qt_ks_state_t *out, qt_ks_pending_t *pout);

/* Redis store on "qt:killswitch" (fields tier, version, set_by, reason, set_at_ms — the
 * ones qt_redis_killswitch_read checks — plus trigger, previous_tier, approved_by) and
 * "qt:killswitch:pending". The client is borrowed. */
void qt_ks_store_redis(qt_ks_store_t *st, qt_redis_t *redis);

/* Fills a KillSwitch message from *s. Strings point into *s (no allocation);
 * approved_by into names[2] (caller storage, lives as long as *pb). */
void qt_ks_state_to_proto(const qt_ks_state_t *s, Qt__V1__KillSwitch *pb, char *names[2]);

int qt_killswitch_selftest(bool verbose);
#endif
