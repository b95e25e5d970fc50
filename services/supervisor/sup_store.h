/* sup_store: the Redis side of the supervisor, shared by qt-supervisor, qt-exec (reads
 * the mode) and qtctl (mode, actions).
 *
 * Why one module: the mode and the action records are read and written by three
 * programs; the key layout and the compare-and-set scripts must be the same in all.
 *
 * Mode: hash "qt:mode" {mode, version, set_by, reason, set_at_ms, approved_by}. ABSENT
 * means "the configured mode" (services.yml `mode`, paper in this system) so that a
 * fresh stack trades as configured; present but invalid reads as UNKNOWN, which every
 * reader treats as off (fail closed). Lowering (live -> paper -> manual -> off) is one
 * compare-and-set on the version by one actor. Raising is not done here (it needs two
 * HMAC approvals; see docs/services/supervisor.md).
 *
 * Actions: hash "qt:actions" {action_id -> JSON record}, set "qt:actions:pending" (ids
 * of proposals), list "qt:actions:log" (audit trail: every record at every state
 * change, append-only, JSON lines). Decisions on a proposal are one Lua script (only a
 * "proposed" record can be decided, once).
 *
 * Risk scale: string "qt:risk:scale", a decimal in (0, 1]; absent = 1. Written by the
 * supervisor (LOWER_RISK / SET_RISK_SCALE) for qt-risk to multiply its sizes with. */
#ifndef SUP_STORE_H
#define SUP_STORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qt_envelope.h"
#include "qt_redis.h"
#include "supervisor/supervisor.h"

#define SUP_MODE_KEY "qt:mode"
#define SUP_ACTIONS_KEY "qt:actions"
#define SUP_PENDING_KEY "qt:actions:pending"
#define SUP_LOG_KEY "qt:actions:log"
#define SUP_SCALE_KEY "qt:risk:scale"
#define SUP_WHO_MAX 100
#define SUP_WHY_MAX 400

typedef struct {
    bool present;               /* false: never written, mode = the configured one */
    sup_mode_t mode;            /* SUP_MODE_UNKNOWN when unreadable / invalid */
    uint64_t version;
    char set_by[SUP_WHO_MAX + 1];
    char reason[SUP_WHY_MAX + 1];
    int64_t set_at_ms;
    char approved_by[2 * 33 + 1];   /* "a,b" or "" */
} sup_mode_state_t;

/* 0: *out valid (absent -> config_mode, version 0); -1: Redis unreachable or the
 * stored state invalid (*out->mode = SUP_MODE_UNKNOWN). */
int sup_mode_read(qt_redis_t *r, sup_mode_t config_mode, sup_mode_state_t *out);

typedef enum {
    SUP_MODE_SET = 0,      /* changed */
    SUP_MODE_NOT_LOWER,    /* target is not below the current mode: nothing changed */
    SUP_MODE_BAD_ARG,      /* bad mode / who / why */
    SUP_MODE_STORE_ERROR,  /* Redis unreachable or write failed */
    SUP_MODE_CONFLICT      /* the state kept changing (CAS lost 5 times) */
} sup_mode_result_t;

const char *sup_mode_result_name(sup_mode_result_t r);

/* Moves the mode DOWN to target (one actor). An invalid stored state can only be
 * replaced by "off". *out = the resulting (or, on refusal, current) state. */
sup_mode_result_t sup_mode_lower(qt_redis_t *r, sup_mode_t config_mode, sup_mode_t target,
                                 const char *who, const char *why, int64_t now_ms,
                                 sup_mode_state_t *out);

/* ModeState message from a state (strings point into *s; approved_by is left empty:
 * only two-approval raises fill it, and they are not built yet). */
void sup_mode_to_proto(const sup_mode_state_t *s, Qt__V1__ModeState *pb);

/* ---- actions ---- */

typedef struct {
    char action_id[96];
    char policy[SUP_NAME_MAX + 1];
    char action[32];
    char params[128];
    char state[16];            /* proposed | applied | approved | rejected */
    char decided_by[SUP_WHO_MAX + 1];
    char reason[SUP_WHY_MAX + 1];
    int64_t created_ms;
    int64_t decided_ms;
    bool reduces_risk;
} sup_record_t;

/* Record from an evaluated action: state "applied" (reduces_risk) or "proposed". */
void sup_record_from_action(const sup_action_t *a, const char *who, int64_t now_ms,
                            sup_record_t *out);
/* JSON text (malloc'd) / parse (0 ok, -1 invalid: every field type-checked). */
char *sup_record_json(const sup_record_t *rec);
int sup_record_parse(const char *json, size_t len, sup_record_t *out);
void sup_record_to_proto(const sup_record_t *rec, Qt__V1__PolicyAction *pb);

/* Stores the record (hash + pending set when proposed + audit log). 0 / -1. */
int sup_record_put(qt_redis_t *r, const sup_record_t *rec);
/* 1 found, 0 absent, -1 error / invalid. */
int sup_record_get(qt_redis_t *r, const char *action_id, sup_record_t *out);
/* Every record (sorted by created_ms then id); pending_only: the pending set only.
 * malloc'd array. 0 / -1. */
int sup_record_list(qt_redis_t *r, bool pending_only, sup_record_t **out, size_t *n);
/* proposed -> state (approved | rejected), atomically. 1 done (*out = new record),
 * 0 not proposed any more (*out = stored), -1 absent / error. */
int sup_record_decide(qt_redis_t *r, const char *action_id, const char *state,
                      const char *who, const char *why, int64_t now_ms, sup_record_t *out);

/* ---- risk scale ---- */
/* 0 ok (*scale; 1.0 when absent), -1 unreachable or invalid. */
int sup_scale_read(qt_redis_t *r, double *scale);
int sup_scale_write(qt_redis_t *r, double scale);

#endif
