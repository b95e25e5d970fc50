/* sup_store: see sup_store.h. Every write is one Lua script, so a reader never sees
 * half a state and two writers never merge. */
#include "supervisor/sup_store.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ mode */

static bool text_ok(const char *s, size_t max)
{
    if (!s || !*s || strlen(s) > max)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

static bool copy_reply(char *dst, size_t cap, const redisReply *v)
{
    if (!v || v->type != REDIS_REPLY_STRING || v->len >= cap || memchr(v->str, 0, v->len))
        return false;
    memcpy(dst, v->str, v->len);
    dst[v->len] = '\0';
    return true;
}

static bool parse_i64(const char *s, int64_t *out)
{
    char *end = NULL;
    if (!*s || (*s != '-' && (*s < '0' || *s > '9')))
        return false;
    long long v = strtoll(s, &end, 10);
    if (*end)
        return false;
    *out = v;
    return true;
}

int sup_mode_read(qt_redis_t *r, sup_mode_t config_mode, sup_mode_state_t *out)
{
    memset(out, 0, sizeof *out);
    out->mode = SUP_MODE_UNKNOWN;
    redisReply *rep = qt_redis_cmd(r, "HGETALL %s", SUP_MODE_KEY);
    if (!rep || rep->type != REDIS_REPLY_ARRAY) {
        if (rep)
            freeReplyObject(rep);
        return -1;
    }
    if (rep->elements == 0) {
        freeReplyObject(rep);
        out->mode = config_mode;
        return 0;
    }
    out->present = true;
    bool have_mode = false, have_version = false, ok = true;
    for (size_t i = 0; ok && i + 1 < rep->elements; i += 2) {
        const redisReply *k = rep->element[i], *v = rep->element[i + 1];
        char buf[SUP_WHY_MAX + 1];
        if (!k || k->type != REDIS_REPLY_STRING || !copy_reply(buf, sizeof buf, v)) {
            ok = false;
            break;
        }
        int64_t n = 0;
        if (strcmp(k->str, "mode") == 0) {
            ok = sup_mode_parse(buf, &out->mode) == 0;
            have_mode = ok;
        } else if (strcmp(k->str, "version") == 0) {
            ok = parse_i64(buf, &n) && n > 0;
            out->version = (uint64_t)n;
            have_version = ok;
        } else if (strcmp(k->str, "set_by") == 0) {
            ok = strlen(buf) < sizeof out->set_by;
            if (ok)
                memcpy(out->set_by, buf, strlen(buf) + 1);
        } else if (strcmp(k->str, "reason") == 0) {
            memcpy(out->reason, buf, strlen(buf) + 1);   /* buf is reason-sized */
        } else if (strcmp(k->str, "set_at_ms") == 0) {
            ok = parse_i64(buf, &out->set_at_ms);
        } else if (strcmp(k->str, "approved_by") == 0) {
            ok = strlen(buf) < sizeof out->approved_by;
            if (ok)
                memcpy(out->approved_by, buf, strlen(buf) + 1);
        }
    }
    freeReplyObject(rep);
    if (!ok || !have_mode || !have_version) {
        out->mode = SUP_MODE_UNKNOWN;
        return -1;
    }
    return 0;
}

const char *sup_mode_result_name(sup_mode_result_t r)
{
    static const char *const n[] = {"SET", "NOT_LOWER", "BAD_ARG", "STORE_ERROR", "CONFLICT"};
    return r >= SUP_MODE_SET && r <= SUP_MODE_CONFLICT ? n[r] : "?";
}

/* KEYS: mode. ARGV: expected raw version ('' = no version field), mode, new version,
 * set_by, reason, set_at_ms. */
static const char MODE_CAS_LUA[] =
    "local v = redis.call('HGET', KEYS[1], 'version')\n"
    "if not v then v = '' end\n"
    "if v ~= ARGV[1] then return 0 end\n"
    "redis.call('DEL', KEYS[1])\n"
    "redis.call('HSET', KEYS[1], 'mode', ARGV[2], 'version', ARGV[3], 'set_by', ARGV[4],"
    " 'reason', ARGV[5], 'set_at_ms', ARGV[6], 'approved_by', '')\n"
    "return 1\n";

/* The raw version field ('' when absent), for the CAS over an invalid state. */
static int raw_version(qt_redis_t *r, char *out, size_t cap)
{
    redisReply *rep = qt_redis_cmd(r, "HGET %s version", SUP_MODE_KEY);
    int rc = -1;
    if (rep && rep->type == REDIS_REPLY_NIL) {
        out[0] = '\0';
        rc = 0;
    } else if (rep && copy_reply(out, cap, rep)) {
        rc = 0;
    }
    if (rep)
        freeReplyObject(rep);
    return rc;
}

sup_mode_result_t sup_mode_lower(qt_redis_t *r, sup_mode_t config_mode, sup_mode_t target,
                                 const char *who, const char *why, int64_t now_ms,
                                 sup_mode_state_t *out)
{
    if (target < SUP_MODE_OFF || target > SUP_MODE_LIVE || !text_ok(who, SUP_WHO_MAX) ||
        !text_ok(why, SUP_WHY_MAX))
        return SUP_MODE_BAD_ARG;
    for (int attempt = 0; attempt < 5; attempt++) {
        sup_mode_state_t cur;
        int rc = sup_mode_read(r, config_mode, &cur);
        char raw[64];
        if (raw_version(r, raw, sizeof raw) != 0) {
            *out = cur;
            return SUP_MODE_STORE_ERROR;
        }
        if (rc != 0 && !cur.present) {   /* unreachable */
            *out = cur;
            return SUP_MODE_STORE_ERROR;
        }
        /* invalid stored state: acts as off; only "off" may replace it */
        bool lower = cur.mode == SUP_MODE_UNKNOWN ? target == SUP_MODE_OFF : target < cur.mode;
        if (!lower) {
            *out = cur;
            return SUP_MODE_NOT_LOWER;
        }
        uint64_t nv = cur.mode == SUP_MODE_UNKNOWN ? (uint64_t)now_ms : cur.version + 1;
        char sv[32], st[32];
        snprintf(sv, sizeof sv, "%" PRIu64, nv);
        snprintf(st, sizeof st, "%" PRId64, now_ms);
        const char *argv[] = {"EVAL", MODE_CAS_LUA, "1", SUP_MODE_KEY, raw,
                              sup_mode_name(target), sv, who, why, st};
        size_t lens[10];
        for (int i = 0; i < 10; i++)
            lens[i] = strlen(argv[i]);
        redisReply *rep = qt_redis_cmdargv(r, 10, argv, lens);
        long long done = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1;
        if (rep)
            freeReplyObject(rep);
        if (done < 0) {
            *out = cur;
            return SUP_MODE_STORE_ERROR;
        }
        if (done == 1) {
            memset(out, 0, sizeof *out);
            out->present = true;
            out->mode = target;
            out->version = nv;
            snprintf(out->set_by, sizeof out->set_by, "%s", who);
            snprintf(out->reason, sizeof out->reason, "%s", why);
            out->set_at_ms = now_ms;
            return SUP_MODE_SET;
        }
    }
    (void)sup_mode_read(r, config_mode, out);
    return SUP_MODE_CONFLICT;
}

void sup_mode_to_proto(const sup_mode_state_t *s, Qt__V1__ModeState *pb)
{
    qt__v1__mode_state__init(pb);
    pb->mode = (char *)sup_mode_name(s->mode);
    pb->version = s->version;
    pb->set_by = (char *)(s->set_by[0] ? s->set_by : "config");
    pb->reason = (char *)(s->reason[0] ? s->reason : "configured mode");
    pb->set_at_ms = s->set_at_ms;
    pb->n_approved_by = 0;
    pb->approved_by = NULL;
}

/* ------------------------------------------------------------------ actions */

void sup_record_from_action(const sup_action_t *a, const char *who, int64_t now_ms,
                            sup_record_t *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->action_id, sizeof out->action_id, "%s", a->action_id);
    snprintf(out->policy, sizeof out->policy, "%s", a->policy);
    snprintf(out->action, sizeof out->action, "%s", sup_act_name(a->spec.kind));
    snprintf(out->params, sizeof out->params, "%s", a->params);
    snprintf(out->state, sizeof out->state, "%s", a->reduces_risk ? "applied" : "proposed");
    snprintf(out->reason, sizeof out->reason, "%s", a->reason);
    out->created_ms = now_ms;
    out->reduces_risk = a->reduces_risk;
    if (a->reduces_risk) {
        snprintf(out->decided_by, sizeof out->decided_by, "%s", who);
        out->decided_ms = now_ms;
    }
}

char *sup_record_json(const sup_record_t *rec)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:b}", "action_id",
                          rec->action_id, "policy", rec->policy, "action", rec->action,
                          "params", rec->params, "state", rec->state, "decided_by",
                          rec->decided_by, "reason", rec->reason, "created_ms",
                          (json_int_t)rec->created_ms, "decided_ms",
                          (json_int_t)rec->decided_ms, "reduces_risk", rec->reduces_risk);
    if (!o)
        return NULL;
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

static bool jstr(json_t *o, const char *k, char *dst, size_t cap, bool nonempty)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_string(v) || json_string_length(v) >= cap ||
        (nonempty && json_string_length(v) == 0) || strlen(json_string_value(v)) !=
                                                        json_string_length(v))
        return false;
    snprintf(dst, cap, "%s", json_string_value(v));
    return true;
}

/* Lua's cjson writes numbers as doubles ("1.7e+12" style is avoided by %.14g for
 * 13-digit ms times, but accept an integral real too). */
static bool jint(json_t *o, const char *k, int64_t *out)
{
    json_t *v = json_object_get(o, k);
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d != floor(d) || fabs(d) > 9.0e15)
            return false;
        *out = (int64_t)d;
        return true;
    }
    return false;
}

int sup_record_parse(const char *json, size_t len, sup_record_t *out)
{
    memset(out, 0, sizeof *out);
    json_error_t e;
    json_t *o = json_loadb(json, len, 0, &e);
    if (!json_is_object(o)) {
        json_decref(o);
        return -1;
    }
    json_t *rr = json_object_get(o, "reduces_risk");
    bool ok = jstr(o, "action_id", out->action_id, sizeof out->action_id, true) &&
              jstr(o, "policy", out->policy, sizeof out->policy, true) &&
              jstr(o, "action", out->action, sizeof out->action, true) &&
              jstr(o, "params", out->params, sizeof out->params, false) &&
              jstr(o, "state", out->state, sizeof out->state, true) &&
              jstr(o, "decided_by", out->decided_by, sizeof out->decided_by, false) &&
              jstr(o, "reason", out->reason, sizeof out->reason, false) &&
              jint(o, "created_ms", &out->created_ms) &&
              jint(o, "decided_ms", &out->decided_ms) && json_is_boolean(rr);
    if (ok)
        out->reduces_risk = json_is_true(rr);
    json_decref(o);
    return ok ? 0 : -1;
}

void sup_record_to_proto(const sup_record_t *rec, Qt__V1__PolicyAction *pb)
{
    qt__v1__policy_action__init(pb);
    pb->action_id = (char *)rec->action_id;
    pb->policy = (char *)rec->policy;
    pb->action = (char *)rec->action;
    pb->params = (char *)rec->params;
    pb->state = (char *)rec->state;
    pb->decided_by = (char *)rec->decided_by;
    pb->reason = (char *)rec->reason;
    pb->created_ms = rec->created_ms;
    pb->decided_ms = rec->decided_ms;
    pb->reduces_risk = rec->reduces_risk;
}

/* KEYS: actions, pending, log. ARGV: id, json, proposed ('1'/'0'). */
static const char PUT_LUA[] =
    "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])\n"
    "if ARGV[3] == '1' then redis.call('SADD', KEYS[2], ARGV[1])\n"
    "else redis.call('SREM', KEYS[2], ARGV[1]) end\n"
    "redis.call('RPUSH', KEYS[3], ARGV[2])\n"
    "return 1\n";

int sup_record_put(qt_redis_t *r, const sup_record_t *rec)
{
    char *j = sup_record_json(rec);
    if (!j)
        return -1;
    const char *argv[] = {"EVAL",  PUT_LUA, "3", SUP_ACTIONS_KEY, SUP_PENDING_KEY, SUP_LOG_KEY,
                          rec->action_id, j, strcmp(rec->state, "proposed") == 0 ? "1" : "0"};
    size_t lens[9];
    for (int i = 0; i < 9; i++)
        lens[i] = strlen(argv[i]);
    redisReply *rep = qt_redis_cmdargv(r, 9, argv, lens);
    int rc = rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 1 ? 0 : -1;
    if (rep)
        freeReplyObject(rep);
    free(j);
    return rc;
}

int sup_record_get(qt_redis_t *r, const char *action_id, sup_record_t *out)
{
    redisReply *rep = qt_redis_cmd(r, "HGET %s %s", SUP_ACTIONS_KEY, action_id);
    int rc = -1;
    if (rep && rep->type == REDIS_REPLY_NIL)
        rc = 0;
    else if (rep && rep->type == REDIS_REPLY_STRING)
        rc = sup_record_parse(rep->str, rep->len, out) == 0 ? 1 : -1;
    if (rep)
        freeReplyObject(rep);
    return rc;
}

static int cmp_rec(const void *a, const void *b)
{
    const sup_record_t *x = a, *y = b;
    if (x->created_ms != y->created_ms)
        return x->created_ms < y->created_ms ? -1 : 1;
    return strcmp(x->action_id, y->action_id);
}

int sup_record_list(qt_redis_t *r, bool pending_only, sup_record_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    redisReply *rep = qt_redis_cmd(r, "HGETALL %s", SUP_ACTIONS_KEY);
    redisReply *pend = pending_only ? qt_redis_cmd(r, "SMEMBERS %s", SUP_PENDING_KEY) : NULL;
    int rc = -1;
    if (!rep || rep->type != REDIS_REPLY_ARRAY ||
        (pending_only && (!pend || pend->type != REDIS_REPLY_ARRAY)))
        goto done;
    sup_record_t *recs = calloc(rep->elements / 2 + 1, sizeof *recs);
    if (!recs)
        goto done;
    size_t k = 0;
    for (size_t i = 0; i + 1 < rep->elements; i += 2) {
        const redisReply *v = rep->element[i + 1];
        if (!v || v->type != REDIS_REPLY_STRING || sup_record_parse(v->str, v->len, &recs[k]) != 0)
            continue;   /* an unreadable record is skipped (and reported by diag) */
        if (pending_only) {
            bool in = false;
            for (size_t j = 0; j < pend->elements && !in; j++)
                in = pend->element[j]->type == REDIS_REPLY_STRING &&
                     strcmp(pend->element[j]->str, recs[k].action_id) == 0;
            if (!in || strcmp(recs[k].state, "proposed") != 0)
                continue;
        }
        k++;
    }
    qsort(recs, k, sizeof *recs, cmp_rec);
    *out = recs;
    *n = k;
    rc = 0;
done:
    if (rep)
        freeReplyObject(rep);
    if (pend)
        freeReplyObject(pend);
    return rc;
}

/* KEYS: actions, pending, log. ARGV: id, new state, who, decided_ms, reason.
 * -1 absent; 0 + stored json when not proposed; 1 + new json. */
static const char DECIDE_LUA[] =
    "local j = redis.call('HGET', KEYS[1], ARGV[1])\n"
    "if not j then return {-1, ''} end\n"
    "local t = cjson.decode(j)\n"
    "if t['state'] ~= 'proposed' then return {0, j} end\n"
    "t['state'] = ARGV[2]\n"
    "t['decided_by'] = ARGV[3]\n"
    "t['decided_ms'] = tonumber(ARGV[4])\n"
    "t['reason'] = ARGV[5]\n"
    "local n = cjson.encode(t)\n"
    "redis.call('HSET', KEYS[1], ARGV[1], n)\n"
    "redis.call('SREM', KEYS[2], ARGV[1])\n"
    "redis.call('RPUSH', KEYS[3], n)\n"
    "return {1, n}\n";

int sup_record_decide(qt_redis_t *r, const char *action_id, const char *state,
                      const char *who, const char *why, int64_t now_ms, sup_record_t *out)
{
    if (!text_ok(who, SUP_WHO_MAX) || !text_ok(why, SUP_WHY_MAX) ||
        (strcmp(state, "approved") != 0 && strcmp(state, "rejected") != 0))
        return -1;
    char ts[32];
    snprintf(ts, sizeof ts, "%" PRId64, now_ms);
    const char *argv[] = {"EVAL", DECIDE_LUA, "3", SUP_ACTIONS_KEY, SUP_PENDING_KEY,
                          SUP_LOG_KEY, action_id, state, who, ts, why};
    size_t lens[11];
    for (int i = 0; i < 11; i++)
        lens[i] = strlen(argv[i]);
    redisReply *rep = qt_redis_cmdargv(r, 11, argv, lens);
    int rc = -1;
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
        rep->element[0]->type == REDIS_REPLY_INTEGER &&
        rep->element[1]->type == REDIS_REPLY_STRING) {
        long long res = rep->element[0]->integer;
        if (res >= 0 &&
            sup_record_parse(rep->element[1]->str, rep->element[1]->len, out) == 0)
            rc = (int)res;
    }
    if (rep)
        freeReplyObject(rep);
    return rc;
}

/* ------------------------------------------------------------------ scale */

int sup_scale_read(qt_redis_t *r, double *scale)
{
    redisReply *rep = qt_redis_cmd(r, "GET %s", SUP_SCALE_KEY);
    int rc = -1;
    if (rep && rep->type == REDIS_REPLY_NIL) {
        *scale = 1.0;
        rc = 0;
    } else if (rep && rep->type == REDIS_REPLY_STRING && rep->len < 32) {
        char buf[32], *end = NULL;
        memcpy(buf, rep->str, rep->len);
        buf[rep->len] = '\0';
        double v = strtod(buf, &end);
        if (end != buf && !*end && v > 0.0 && v <= 1.0) {
            *scale = v;
            rc = 0;
        }
    }
    if (rep)
        freeReplyObject(rep);
    return rc;
}

int sup_scale_write(qt_redis_t *r, double scale)
{
    if (!(scale > 0.0 && scale <= 1.0))
        return -1;
    char buf[32];
    snprintf(buf, sizeof buf, "%.6g", scale);
    redisReply *rep = qt_redis_cmd(r, "SET %s %s", SUP_SCALE_KEY, buf);
    int rc = rep && rep->type == REDIS_REPLY_STATUS ? 0 : -1;
    if (rep)
        freeReplyObject(rep);
    return rc;
}
