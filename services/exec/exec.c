/* exec: see exec.h. */
#include "exec.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qt_symtab.h"

/* ------------------------------------------------------------------ helpers */

static const char *const status_names[] = {"NONE", "NEW", "FILLED", "REJECTED", "EXPIRED"};

const char *exec_status_name(exec_status_t st)
{
    return (st >= EXEC_ST_NONE && st <= EXEC_ST_EXPIRED) ? status_names[st] : "NONE";
}

exec_status_t exec_status_parse(const char *s)
{
    for (int i = EXEC_ST_NEW; i <= EXEC_ST_EXPIRED; i++)
        if (s && strcmp(s, status_names[i]) == 0)
            return (exec_status_t)i;
    return EXEC_ST_NONE;
}

static int copy_str(char *out, size_t outlen, const char *a, const char *b)
{
    int n = snprintf(out, outlen, "%s%s", a, b);
    return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

int exec_client_order_id(const char *intent_id, char *out, size_t outlen)
{
    if (!intent_id || !intent_id[0])
        return -1;
    return copy_str(out, outlen, "QT-", intent_id);
}

int exec_fill_id(const char *coid, char *out, size_t outlen)
{
    if (!coid || !coid[0])
        return -1;
    return copy_str(out, outlen, coid, "-1");
}

static bool symbol_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > QT_MAX_SYMBOL)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c >= 127)
            return false;
    }
    return true;
}

bool exec_order_from_intent(const Qt__V1__OrderIntent *in, int64_t created_ms, exec_order_t *o,
                            const char **why)
{
    const char *w = NULL;
    memset(o, 0, sizeof(*o));
    if (!in)
        w = "null intent";
    else if (!in->intent_id || !in->intent_id[0] || strlen(in->intent_id) >= EXEC_ID_MAX)
        w = "bad intent_id";
    else if (!symbol_ok(in->symbol))
        w = "bad symbol";
    else if (in->side != QT__V1__SIDE__SIDE_BUY && in->side != QT__V1__SIDE__SIDE_SELL)
        w = "bad side";
    else if (in->qty <= 0)
        w = "qty <= 0";
    else if (in->ref_price < 0)
        w = "ref_price < 0";
    if (w) {
        if (why)
            *why = w;
        return false;
    }
    snprintf(o->intent_id, sizeof(o->intent_id), "%s", in->intent_id);
    (void)exec_client_order_id(in->intent_id, o->coid, sizeof(o->coid)); /* fits: sizes */
    snprintf(o->symbol, sizeof(o->symbol), "%s", in->symbol);
    o->side = in->side;
    o->qty = in->qty;
    o->ref_price = in->ref_price;
    o->bar_time_ms = in->bar_time_ms;
    o->created_ms = created_ms;
    o->status = EXEC_ST_NEW;
    return true;
}

bool exec_ks_allows(Qt__V1__KillSwitchTier tier, qt_fixed_t pos, Qt__V1__Side side,
                    qt_fixed_t qty)
{
    if (tier == QT__V1__KILL_SWITCH_TIER__KS_NORMAL || tier == QT__V1__KILL_SWITCH_TIER__KS_WARN ||
        tier == QT__V1__KILL_SWITCH_TIER__KS_THROTTLE)
        return true;
    if (qty <= 0 || pos == 0)
        return false;
    if (side == QT__V1__SIDE__SIDE_SELL)
        return pos > 0 && qty <= pos;
    if (side == QT__V1__SIDE__SIDE_BUY)
        return pos < 0 && (pos == INT64_MIN || qty <= -pos);
    return false;
}

void exec_build_order(const exec_order_t *o, Qt__V1__Order *out)
{
    qt__v1__order__init(out);
    out->client_order_id = (char *)o->coid;
    out->intent_id = (char *)o->intent_id;
    out->symbol = (char *)o->symbol;
    out->side = o->side;
    out->qty = o->qty;
    out->ref_price = o->ref_price;
    out->mode = (char *)"paper";
    out->fencing_token = 0;
    out->created_ms = o->created_ms;
}

void exec_build_fill(const exec_order_t *o, Qt__V1__Fill *out)
{
    qt__v1__fill__init(out);
    out->fill_id = (char *)o->fill_id;
    out->client_order_id = (char *)o->coid;
    out->symbol = (char *)o->symbol;
    out->side = o->side;
    out->qty = o->qty;
    out->price = o->fill_price;
    out->fee = o->fee;
    out->fill_time_ms = o->fill_time_ms;
    out->intent_bar_time_ms = o->bar_time_ms;
}

void exec_build_report(const exec_order_t *o, Qt__V1__ExecutionReport *out)
{
    qt__v1__execution_report__init(out);
    out->client_order_id = (char *)o->coid;
    out->symbol = (char *)o->symbol;
    out->bar_time_ms = o->bar_time_ms;
    out->reason = (char *)o->reason;
    switch (o->status) {
    case EXEC_ST_NEW: out->status = QT__V1__ORDER_STATUS__ORDER_STATUS_NEW; break;
    case EXEC_ST_FILLED:
        out->status = QT__V1__ORDER_STATUS__ORDER_STATUS_FILLED;
        out->filled_qty = o->qty;
        out->avg_price = o->fill_price;
        break;
    case EXEC_ST_REJECTED: out->status = QT__V1__ORDER_STATUS__ORDER_STATUS_REJECTED; break;
    case EXEC_ST_EXPIRED: out->status = QT__V1__ORDER_STATUS__ORDER_STATUS_EXPIRED; break;
    default: out->status = QT__V1__ORDER_STATUS__ORDER_STATUS_UNSPECIFIED; break;
    }
}

/* ------------------------------------------------------------------ store */

typedef enum { STORE_MEM, STORE_REDIS } store_kind_t;

struct exec_store_t {
    store_kind_t kind;
    qt_fixed_t initial_cash;
    /* memory */
    qt_symtab_t orders;       /* exec_order_t by coid */
    qt_symtab_t pos;          /* exec_position_t by symbol */
    qt_fixed_t cash;
    bool cash_set;
    /* redis */
    exec_redis_cmd_fn cmd;
    void *cmd_ctx;
};

exec_store_t *exec_store_new_mem(qt_fixed_t initial_cash)
{
    exec_store_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->kind = STORE_MEM;
    s->initial_cash = initial_cash;
    QT_SYMTAB_INIT(&s->orders, exec_order_t, coid, 0);
    QT_SYMTAB_INIT(&s->pos, exec_position_t, symbol, 0);
    return s;
}

exec_store_t *exec_store_new_redis(exec_redis_cmd_fn cmd, void *cmd_ctx, qt_fixed_t initial_cash)
{
    if (!cmd)
        return NULL;
    exec_store_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->kind = STORE_REDIS;
    s->initial_cash = initial_cash;
    s->cmd = cmd;
    s->cmd_ctx = cmd_ctx;
    return s;
}

void exec_store_destroy(exec_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    qt_symtab_free(&(*self_p)->orders);
    qt_symtab_free(&(*self_p)->pos);
    free(*self_p);
    *self_p = NULL;
}

/* --- memory implementation */

static exec_order_t *mem_find(exec_store_t *s, const char *coid)
{
    return qt_symtab_find(&s->orders, coid);
}

static exec_position_t *mem_pos(exec_store_t *s, const char *symbol, bool create)
{
    if (!create)
        return qt_symtab_find(&s->pos, symbol);
    void *p = NULL;
    (void)qt_symtab_upsert(&s->pos, symbol, &p);
    return p;
}

static int mem_claim(exec_store_t *s, const exec_order_t *o, exec_order_t *stored)
{
    void *p = NULL;
    qt_symtab_rc_t rc = qt_symtab_upsert(&s->orders, o->coid, &p);
    if (rc == QT_SYMTAB_FOUND) {
        *stored = *(exec_order_t *)p;
        return 0;
    }
    if (rc != QT_SYMTAB_INSERTED)
        return -1;
    *(exec_order_t *)p = *o;
    return 1;
}

static int mem_fill(exec_store_t *s, const exec_order_t *o, qt_fixed_t qd, qt_fixed_t cd,
                    exec_order_t *stored)
{
    exec_order_t *e = mem_find(s, o->coid);
    if (!e)
        return -1;
    if (e->status != EXEC_ST_NEW) {
        *stored = *e;
        return 0;
    }
    if (!s->cash_set) {
        s->cash = s->initial_cash;
        s->cash_set = true;
    }
    exec_position_t *p = mem_pos(s, o->symbol, true);
    qt_fixed_t np, nc;
    if (!p || !qt_fixed_add(p->qty, qd, &np) || !qt_fixed_add(s->cash, cd, &nc))
        return -1;
    p->qty = np;
    s->cash = nc;
    e->status = EXEC_ST_FILLED;
    snprintf(e->fill_id, sizeof(e->fill_id), "%s", o->fill_id);
    e->fill_price = o->fill_price;
    e->fee = o->fee;
    e->fill_time_ms = o->fill_time_ms;
    return 1;
}

static int mem_expire(exec_store_t *s, const exec_order_t *o, exec_order_t *stored)
{
    exec_order_t *e = mem_find(s, o->coid);
    if (!e)
        return -1;
    if (e->status != EXEC_ST_NEW) {
        *stored = *e;
        return 0;
    }
    e->status = EXEC_ST_EXPIRED;
    snprintf(e->reason, sizeof(e->reason), "%s", o->reason);
    return 1;
}

/* --- Redis implementation */

#define KEY_ORDER_PREFIX "qt:exec:order:"
#define KEY_POS "qt:paper:pos"
#define KEY_CASH "qt:paper:cash"

/* Claim: HSETNX decides; the other fields are written in the same script. */
static const char LUA_CLAIM[] =
    "if redis.call('HSETNX', KEYS[1], 'status', ARGV[1]) == 1 then\n"
    "  for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i+1]) end\n"
    "  return 1\n"
    "end\n"
    "return redis.call('HGETALL', KEYS[1])\n";

/* Fill: NEW -> FILLED + position + cash, all or nothing. HINCRBY first (an error
 * there aborts the script before anything else changed); a failing INCRBY on cash
 * undoes the position change before returning the error. */
static const char LUA_FILL[] =
    "if redis.call('HGET', KEYS[1], 'status') ~= 'NEW' then\n"
    "  return redis.call('HGETALL', KEYS[1])\n"
    "end\n"
    "redis.call('SET', KEYS[3], ARGV[4], 'NX')\n"
    "redis.call('HINCRBY', KEYS[2], ARGV[1], ARGV[2])\n"
    "local r = redis.pcall('INCRBY', KEYS[3], ARGV[3])\n"
    "if type(r) == 'table' and r.err then\n"
    "  redis.call('HINCRBY', KEYS[2], ARGV[1], ARGV[5])\n"
    "  return r\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'status', 'FILLED', 'fill_id', ARGV[6], 'fill_price', ARGV[7],"
    " 'fee', ARGV[8], 'fill_time_ms', ARGV[9])\n"
    "return 1\n";

static const char LUA_EXPIRE[] =
    "if redis.call('HGET', KEYS[1], 'status') ~= 'NEW' then\n"
    "  return redis.call('HGETALL', KEYS[1])\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'status', 'EXPIRED', 'reason', ARGV[1])\n"
    "return 1\n";

static int order_key(const char *coid, char *out, size_t outlen)
{
    return copy_str(out, outlen, KEY_ORDER_PREFIX, coid);
}

static bool parse_i64(const char *s, int64_t *out)
{
    if (!s || !*s)
        return false;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || !end || *end)
        return false;
    *out = (int64_t)v;
    return true;
}

static redisReply *rcmd(exec_store_t *s, int argc, const char **argv)
{
    size_t lens[32];
    if (argc > 32)
        return NULL;
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    return s->cmd(s->cmd_ctx, argc, argv, lens);
}

/* HGETALL-style array -> record (coid given). 0 ok, -1 unreadable. */
static int parse_order(const redisReply *r, const char *coid, exec_order_t *o)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0 || r->elements == 0)
        return -1;
    memset(o, 0, sizeof(*o));
    snprintf(o->coid, sizeof(o->coid), "%s", coid);
    bool have_status = false, have_sym = false;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i], *v = r->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            return -1;
        const char *f = k->str, *val = v->str;
        int64_t n = 0;
        bool ok = true;
        if (strcmp(f, "status") == 0) {
            o->status = exec_status_parse(val);
            ok = o->status != EXEC_ST_NONE;
            have_status = true;
        } else if (strcmp(f, "intent_id") == 0) {
            ok = strlen(val) < sizeof(o->intent_id);
            if (ok)
                snprintf(o->intent_id, sizeof(o->intent_id), "%s", val);
        } else if (strcmp(f, "symbol") == 0) {
            ok = symbol_ok(val);
            if (ok)
                snprintf(o->symbol, sizeof(o->symbol), "%s", val);
            have_sym = true;
        } else if (strcmp(f, "fill_id") == 0) {
            ok = strlen(val) < sizeof(o->fill_id);
            if (ok)
                snprintf(o->fill_id, sizeof(o->fill_id), "%s", val);
        } else if (strcmp(f, "reason") == 0) {
            snprintf(o->reason, sizeof(o->reason), "%s", val);
        } else if (strcmp(f, "mode") == 0) {
            ok = strcmp(val, "paper") == 0;
        } else if (parse_i64(val, &n)) {
            if (strcmp(f, "side") == 0) {
                ok = n == QT__V1__SIDE__SIDE_BUY || n == QT__V1__SIDE__SIDE_SELL;
                o->side = (Qt__V1__Side)n;
            } else if (strcmp(f, "qty") == 0)
                o->qty = n;
            else if (strcmp(f, "ref_price") == 0)
                o->ref_price = n;
            else if (strcmp(f, "bar_time_ms") == 0)
                o->bar_time_ms = n;
            else if (strcmp(f, "created_ms") == 0)
                o->created_ms = n;
            else if (strcmp(f, "fill_price") == 0)
                o->fill_price = n;
            else if (strcmp(f, "fee") == 0)
                o->fee = n;
            else if (strcmp(f, "fill_time_ms") == 0)
                o->fill_time_ms = n;
        } else {
            ok = false;
        }
        if (!ok)
            return -1;
    }
    if (!have_status || !have_sym || o->qty <= 0)
        return -1;
    if (o->status == EXEC_ST_FILLED && !o->fill_id[0])
        return -1;
    return 0;
}

static int redis_claim(exec_store_t *s, const exec_order_t *o, exec_order_t *stored)
{
    char key[160], side[8], qty[32], ref[32], bt[32], cr[32];
    if (order_key(o->coid, key, sizeof(key)) != 0)
        return -1;
    snprintf(side, sizeof(side), "%d", (int)o->side);
    snprintf(qty, sizeof(qty), "%" PRId64, o->qty);
    snprintf(ref, sizeof(ref), "%" PRId64, o->ref_price);
    snprintf(bt, sizeof(bt), "%" PRId64, o->bar_time_ms);
    snprintf(cr, sizeof(cr), "%" PRId64, o->created_ms);
    const char *argv[] = {"EVAL", LUA_CLAIM, "1", key, exec_status_name(o->status),
                          "intent_id", o->intent_id, "symbol", o->symbol, "side", side,
                          "qty", qty, "ref_price", ref, "bar_time_ms", bt, "created_ms", cr,
                          "mode", "paper", "reason", o->reason};
    redisReply *r = rcmd(s, (int)(sizeof(argv) / sizeof(argv[0])), argv);
    int rc = -1;
    if (r && r->type == REDIS_REPLY_INTEGER && r->integer == 1)
        rc = 1;
    else if (r && r->type == REDIS_REPLY_ARRAY && parse_order(r, o->coid, stored) == 0)
        rc = 0;
    if (r)
        freeReplyObject(r);
    return rc;
}

static int redis_fill(exec_store_t *s, const exec_order_t *o, qt_fixed_t qd, qt_fixed_t cd,
                      exec_order_t *stored)
{
    char key[160], sqd[32], scd[32], sinit[32], sneg[32], price[32], fee[32], ft[32];
    if (order_key(o->coid, key, sizeof(key)) != 0 || qd == INT64_MIN)
        return -1;
    snprintf(sqd, sizeof(sqd), "%" PRId64, qd);
    snprintf(scd, sizeof(scd), "%" PRId64, cd);
    snprintf(sinit, sizeof(sinit), "%" PRId64, s->initial_cash);
    snprintf(sneg, sizeof(sneg), "%" PRId64, -qd);
    snprintf(price, sizeof(price), "%" PRId64, o->fill_price);
    snprintf(fee, sizeof(fee), "%" PRId64, o->fee);
    snprintf(ft, sizeof(ft), "%" PRId64, o->fill_time_ms);
    const char *argv[] = {"EVAL", LUA_FILL, "3",   key,        KEY_POS, KEY_CASH, o->symbol,
                          sqd,    scd,      sinit, sneg,       o->fill_id, price, fee, ft};
    redisReply *r = rcmd(s, (int)(sizeof(argv) / sizeof(argv[0])), argv);
    int rc = -1;
    if (r && r->type == REDIS_REPLY_INTEGER && r->integer == 1)
        rc = 1;
    else if (r && r->type == REDIS_REPLY_ARRAY && parse_order(r, o->coid, stored) == 0)
        rc = 0;
    if (r)
        freeReplyObject(r);
    return rc;
}

static int redis_expire(exec_store_t *s, const exec_order_t *o, exec_order_t *stored)
{
    char key[160];
    if (order_key(o->coid, key, sizeof(key)) != 0)
        return -1;
    const char *argv[] = {"EVAL", LUA_EXPIRE, "1", key, o->reason};
    redisReply *r = rcmd(s, 5, argv);
    int rc = -1;
    if (r && r->type == REDIS_REPLY_INTEGER && r->integer == 1)
        rc = 1;
    else if (r && r->type == REDIS_REPLY_ARRAY && parse_order(r, o->coid, stored) == 0)
        rc = 0;
    if (r)
        freeReplyObject(r);
    return rc;
}

/* GET/HGET of an int64: 1 value, 0 absent, -1 error. */
static int redis_get_i64(exec_store_t *s, int argc, const char **argv, int64_t *out)
{
    redisReply *r = rcmd(s, argc, argv);
    int rc = -1;
    if (r && r->type == REDIS_REPLY_NIL)
        rc = 0;
    else if (r && r->type == REDIS_REPLY_STRING && parse_i64(r->str, out))
        rc = 1;
    if (r)
        freeReplyObject(r);
    return rc;
}

static int pos_cmp(const void *a, const void *b)
{
    return strcmp(((const exec_position_t *)a)->symbol, ((const exec_position_t *)b)->symbol);
}

static int redis_positions(exec_store_t *s, exec_position_t **out, size_t *n)
{
    const char *argv[] = {"HGETALL", KEY_POS};
    redisReply *r = rcmd(s, 2, argv);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements % 2) {
        if (r)
            freeReplyObject(r);
        return -1;
    }
    exec_position_t *p = calloc(r->elements / 2 + 1, sizeof(*p));
    size_t k = 0;
    int rc = p ? 0 : -1;
    for (size_t i = 0; rc == 0 && i + 1 < r->elements; i += 2) {
        const redisReply *f = r->element[i], *v = r->element[i + 1];
        int64_t q = 0;
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING || !symbol_ok(f->str) ||
            !parse_i64(v->str, &q)) {
            rc = -1;
            break;
        }
        if (q == 0)
            continue;
        snprintf(p[k].symbol, sizeof(p[k].symbol), "%s", f->str);
        p[k].qty = q;
        k++;
    }
    freeReplyObject(r);
    if (rc != 0) {
        free(p);
        return -1;
    }
    qsort(p, k, sizeof(*p), pos_cmp);
    *out = p;
    *n = k;
    return 0;
}

/* --- dispatch */

int exec_store_init(exec_store_t *self)
{
    if (self->kind == STORE_MEM) {
        if (!self->cash_set) {
            self->cash = self->initial_cash;
            self->cash_set = true;
        }
        return 0;
    }
    char init[32];
    snprintf(init, sizeof(init), "%" PRId64, self->initial_cash);
    const char *argv[] = {"SET", KEY_CASH, init, "NX"};
    redisReply *r = rcmd(self, 4, argv);
    int rc = (r && (r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_NIL)) ? 0 : -1;
    if (r)
        freeReplyObject(r);
    return rc;
}

int exec_store_claim(exec_store_t *self, const exec_order_t *o, exec_order_t *stored)
{
    if (o->status != EXEC_ST_NEW && o->status != EXEC_ST_REJECTED)
        return -1;
    return self->kind == STORE_MEM ? mem_claim(self, o, stored) : redis_claim(self, o, stored);
}

int exec_store_fill(exec_store_t *self, const exec_order_t *o, qt_fixed_t qty_delta,
                    qt_fixed_t cash_delta, exec_order_t *stored)
{
    return self->kind == STORE_MEM ? mem_fill(self, o, qty_delta, cash_delta, stored)
                                   : redis_fill(self, o, qty_delta, cash_delta, stored);
}

int exec_store_expire(exec_store_t *self, const exec_order_t *o, exec_order_t *stored)
{
    return self->kind == STORE_MEM ? mem_expire(self, o, stored) : redis_expire(self, o, stored);
}

int exec_store_get(exec_store_t *self, const char *coid, exec_order_t *out)
{
    if (self->kind == STORE_MEM) {
        exec_order_t *e = mem_find(self, coid);
        if (!e)
            return 0;
        *out = *e;
        return 1;
    }
    char key[160];
    if (order_key(coid, key, sizeof(key)) != 0)
        return -1;
    const char *argv[] = {"HGETALL", key};
    redisReply *r = rcmd(self, 2, argv);
    int rc = -1;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 0)
        rc = 0;
    else if (r && parse_order(r, coid, out) == 0)
        rc = 1;
    if (r)
        freeReplyObject(r);
    return rc;
}

int exec_store_position(exec_store_t *self, const char *symbol, qt_fixed_t *qty)
{
    if (self->kind == STORE_MEM) {
        exec_position_t *p = mem_pos(self, symbol, false);
        *qty = p ? p->qty : 0;
        return 0;
    }
    const char *argv[] = {"HGET", KEY_POS, symbol};
    int64_t v = 0;
    int rc = redis_get_i64(self, 3, argv, &v);
    if (rc < 0)
        return -1;
    *qty = rc ? v : 0;
    return 0;
}

int exec_store_cash(exec_store_t *self, qt_fixed_t *cash)
{
    if (self->kind == STORE_MEM) {
        *cash = self->cash_set ? self->cash : self->initial_cash;
        return 0;
    }
    const char *argv[] = {"GET", KEY_CASH};
    int64_t v = 0;
    int rc = redis_get_i64(self, 2, argv, &v);
    if (rc < 0)
        return -1;
    *cash = rc ? v : self->initial_cash;
    return 0;
}

int exec_store_positions(exec_store_t *self, exec_position_t **out, size_t *n)
{
    if (self->kind == STORE_REDIS)
        return redis_positions(self, out, n);
    size_t np = qt_symtab_size(&self->pos);
    exec_position_t *p = calloc(np + 1, sizeof(*p));
    if (!p)
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < np; i++) {
        const exec_position_t *e = qt_symtab_at(&self->pos, i);
        if (e->qty != 0)
            p[k++] = *e;
    }
    *out = p;
    *n = k;
    return 0;
}

/* ------------------------------------------------------------------ engine */

typedef enum { ENT_RECEIVED = 0, ENT_ORDERED, ENT_DONE } ent_state_t;

typedef struct {
    int64_t offset;
    exec_order_t o;
    ent_state_t state;
} exec_entry_t;

typedef struct {
    int64_t offset;
    int64_t t;
    bool eos;
} exec_batch_t;

struct exec_engine_t {
    paper_config_t cfg;
    exec_store_t *store;
    exec_io_t io;
    paper_broker_t *broker;
    exec_entry_t *ents;
    size_t nents, capents;
    exec_batch_t *batches;
    size_t nb, capb;
    int64_t last_offset;
    bool bars_ended, intents_ended;
    exec_stats_t stats;
    exec_mode_io_t mio;
    bool has_mio;
};

exec_engine_t *exec_engine_new(const paper_config_t *cfg, exec_store_t *store,
                               const exec_io_t *io)
{
    if (!cfg || !store || !io || !io->publish || !io->killswitch || !io->now_ms ||
        !io->batch_done || paper_config_check(cfg))
        return NULL;
    exec_engine_t *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->cfg = *cfg;
    e->store = store;
    e->io = *io;
    e->broker = paper_broker_new();
    e->last_offset = -1;
    if (!e->broker) {
        free(e);
        return NULL;
    }
    return e;
}

void exec_engine_destroy(exec_engine_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    exec_engine_t *e = *self_p;
    paper_broker_destroy(&e->broker);
    free(e->ents);
    free(e->batches);
    free(e);
    *self_p = NULL;
}

int exec_engine_on_bar(exec_engine_t *self, const Qt__V1__Bar *bar)
{
    if (!bar)
        return -1;
    int r = paper_broker_add_bar(self->broker, bar->symbol, bar->open_time_ms, bar->open);
    if (r == 1) {
        self->stats.bars++;
        self->bars_ended = false;
    }
    return r;
}

void exec_engine_on_bars_watermark(exec_engine_t *self, const Qt__V1__Watermark *wm)
{
    if (wm && wm->end_of_stream)
        self->bars_ended = true;
}

int exec_engine_on_intent(exec_engine_t *self, int64_t offset, const Qt__V1__OrderIntent *in)
{
    if (offset <= self->last_offset)
        return 0;
    self->last_offset = offset;
    exec_order_t o;
    if (!exec_order_from_intent(in, 0, &o, NULL)) {
        self->stats.invalid++;
        return 0;
    }
    if (self->nents == self->capents) {
        size_t cap = self->capents ? self->capents * 2 : 64;
        exec_entry_t *ne = realloc(self->ents, cap * sizeof(*ne));
        if (!ne)
            return -1;
        self->ents = ne;
        self->capents = cap;
    }
    exec_entry_t *ent = &self->ents[self->nents++];
    ent->offset = offset;
    ent->o = o;
    ent->state = ENT_RECEIVED;
    self->intents_ended = false;
    self->stats.intents++;
    return 1;
}

int exec_engine_on_intents_watermark(exec_engine_t *self, int64_t offset,
                                     const Qt__V1__Watermark *wm)
{
    if (!wm || offset <= self->last_offset)
        return 0;
    self->last_offset = offset;
    if (self->nb == self->capb) {
        size_t cap = self->capb ? self->capb * 2 : 16;
        exec_batch_t *nb = realloc(self->batches, cap * sizeof(*nb));
        if (!nb)
            return -1;
        self->batches = nb;
        self->capb = cap;
    }
    self->batches[self->nb++] = (exec_batch_t){offset, wm->event_time_ms, wm->end_of_stream};
    if (wm->end_of_stream)
        self->intents_ended = true;
    return 1;
}

static void env_init(qt_env_t *env, int64_t event_time_ms)
{
    qt__v1__envelope__init(env);
    env->schema_version = QT_SCHEMA_VERSION;
    env->event_time_ns = event_time_ms * 1000000LL;
}

static int pub_order(exec_engine_t *e, const exec_order_t *o)
{
    Qt__V1__Order m;
    exec_build_order(o, &m);
    qt_env_t env;
    env_init(&env, o->bar_time_ms);
    env.body_case = QT__V1__ENVELOPE__BODY_ORDER;
    env.order = &m;
    return e->io.publish(e->io.ctx, "exec.order", "orders", o->symbol, &env);
}

static int pub_report(exec_engine_t *e, const exec_order_t *o)
{
    Qt__V1__ExecutionReport m;
    exec_build_report(o, &m);
    qt_env_t env;
    env_init(&env, o->status == EXEC_ST_FILLED ? o->fill_time_ms : o->bar_time_ms);
    env.body_case = QT__V1__ENVELOPE__BODY_REPORT;
    env.report = &m;
    return e->io.publish(e->io.ctx, "exec.report", "reports", o->symbol, &env);
}

static int pub_fill(exec_engine_t *e, const exec_order_t *o)
{
    Qt__V1__Fill m;
    exec_build_fill(o, &m);
    qt_env_t env;
    env_init(&env, o->fill_time_ms);
    env.body_case = QT__V1__ENVELOPE__BODY_FILL;
    env.fill = &m;
    return e->io.publish(e->io.ctx, "exec.fill", "fills", o->symbol, &env);
}

/* Publish everything a record in its current status stands for (first time or
 * replay: the events are identical). Returns 0/-1 and the entry's next state. */
static int publish_record(exec_engine_t *e, const exec_order_t *o, bool with_order,
                          ent_state_t *next)
{
    switch (o->status) {
    case EXEC_ST_NEW:
        *next = ENT_ORDERED;
        return with_order ? pub_order(e, o) : 0;
    case EXEC_ST_FILLED:
        *next = ENT_DONE;
        if (with_order && pub_order(e, o) != 0)
            return -1;
        if (pub_fill(e, o) != 0)
            return -1;
        return pub_report(e, o);
    case EXEC_ST_EXPIRED:
        *next = ENT_DONE;
        if (with_order && pub_order(e, o) != 0)
            return -1;
        return pub_report(e, o);
    case EXEC_ST_REJECTED:
        *next = ENT_DONE;
        return pub_report(e, o);
    default:
        return -1;
    }
}

static bool tier_allows_all(Qt__V1__KillSwitchTier t)
{
    return t == QT__V1__KILL_SWITCH_TIER__KS_NORMAL || t == QT__V1__KILL_SWITCH_TIER__KS_WARN ||
           t == QT__V1__KILL_SWITCH_TIER__KS_THROTTLE;
}

#define MANUAL_REASON "manual mode"
static const char MODE_RETRY[] = "retry";

/* Why a mode refuses new orders (NULL: paper, allowed); MODE_RETRY: cannot tell now. */
static const char *mode_refusal(exec_mode_t m)
{
    switch (m) {
    case EXEC_MODE_PAPER: return NULL;
    case EXEC_MODE_MANUAL: return MANUAL_REASON;
    case EXEC_MODE_OFF: return "mode off";
    case EXEC_MODE_LIVE: return "live mode: no live broker";
    case EXEC_MODE_UNREADABLE: return MODE_RETRY;
    case EXEC_MODE_INVALID:
    default: return "mode invalid";
    }
}

void exec_engine_set_mode_io(exec_engine_t *self, const exec_mode_io_t *mio)
{
    if (!self)
        return;
    self->has_mio = mio && mio->mode;
    if (self->has_mio)
        self->mio = *mio;
}

static bool json_plain(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == '"' || *p == '\\' || *p == 0x7f)
            return false;
    return true;
}

int exec_manual_line(const exec_order_t *o, char *out, size_t outlen)
{
    char qty[QT_FIXED_STRLEN], ref[QT_FIXED_STRLEN];
    if (qt_fixed_format(o->qty, qty, sizeof qty) < 0 ||
        qt_fixed_format(o->ref_price, ref, sizeof ref) < 0)
        return -1;
    const char *side = o->side == QT__V1__SIDE__SIDE_BUY ? "BUY" : "SELL";
    /* ids and symbols come from intents (hostile input): anything that would need JSON
     * escaping is refused rather than escaped (real ids never contain it) */
    if (!json_plain(o->coid) || !json_plain(o->intent_id) || !json_plain(o->symbol))
        return -1;
    int n = snprintf(out, outlen,
                     "{\"client_order_id\":\"%s\",\"intent_id\":\"%s\",\"symbol\":\"%s\","
                     "\"side\":\"%s\",\"qty\":\"%s\",\"ref_price\":\"%s\",\"bar_time_ms\":%lld,"
                     "\"created_ms\":%lld,\"command\":\"%s %s %s at market, ref %s\"}",
                     o->coid, o->intent_id, o->symbol, side, qty, ref, (long long)o->bar_time_ms,
                     (long long)o->created_ms, side, qty, o->symbol, ref);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* RECEIVED -> claim. 1 transition, -1 error (entry unchanged, retried). */
static int step_claim(exec_engine_t *e, exec_entry_t *ent)
{
    exec_order_t o = ent->o, stored;
    o.created_ms = e->io.now_ms(e->io.ctx);
    Qt__V1__KillSwitchTier tier = e->io.killswitch(e->io.ctx);
    bool allowed = true;
    if (!tier_allows_all(tier)) {
        qt_fixed_t pos = 0;
        if (exec_store_position(e->store, o.symbol, &pos) != 0)
            return -1;
        allowed = exec_ks_allows(tier, pos, o.side, o.qty);
    }
    if (!allowed) {
        o.status = EXEC_ST_REJECTED;
        snprintf(o.reason, sizeof(o.reason), "kill switch");
    } else if (e->has_mio) {
        const char *why = mode_refusal(e->mio.mode(e->mio.ctx));
        if (why == MODE_RETRY)
            return -1;
        if (why) {
            o.status = EXEC_ST_REJECTED;
            snprintf(o.reason, sizeof(o.reason), "%s", why);
        }
    }
    int r = exec_store_claim(e->store, &o, &stored);
    if (r < 0)
        return -1;
    if (r == 1) {
        if (o.status == EXEC_ST_NEW)
            e->stats.orders++;
        else
            e->stats.rejected++;
    } else {
        e->stats.replays++;
        o = stored;
    }
    /* manual: the command line for a human, on the first claim and on replays */
    if (e->has_mio && o.status == EXEC_ST_REJECTED && strcmp(o.reason, MANUAL_REASON) == 0 &&
        e->mio.manual_order && e->mio.manual_order(e->mio.ctx, &o) != 0)
        return -1;
    ent_state_t next;
    if (publish_record(e, &o, true, &next) != 0)
        return -1;
    ent->o = o;
    ent->state = next;
    return 1;
}

/* ORDERED -> fill or expire when possible. 1 transition, 0 nothing yet, -1 error. */
static int step_fill(exec_engine_t *e, exec_entry_t *ent)
{
    exec_order_t o = ent->o, stored;
    int64_t bt = 0;
    qt_fixed_t open = 0;
    int r;
    if (paper_broker_next_bar(e->broker, o.symbol, o.bar_time_ms, &bt, &open)) {
        paper_fill_calc_t f;
        if (paper_fill_calc(&e->cfg, o.side, o.qty, open, &f)) {
            o.status = EXEC_ST_FILLED;
            o.fill_price = f.price;
            o.fee = f.fee;
            o.fill_time_ms = bt;
            if (exec_fill_id(o.coid, o.fill_id, sizeof(o.fill_id)) != 0)
                return -1;
            r = exec_store_fill(e->store, &o, f.qty_delta, f.cash_delta, &stored);
            if (r == 1)
                e->stats.fills++;
        } else {
            o.status = EXEC_ST_EXPIRED;
            snprintf(o.reason, sizeof(o.reason), "fill arithmetic overflow");
            r = exec_store_expire(e->store, &o, &stored);
            if (r == 1)
                e->stats.expired++;
        }
    } else if (e->bars_ended && e->intents_ended) {
        o.status = EXEC_ST_EXPIRED;
        snprintf(o.reason, sizeof(o.reason), "no next bar");
        r = exec_store_expire(e->store, &o, &stored);
        if (r == 1)
            e->stats.expired++;
    } else {
        return 0;
    }
    if (r < 0)
        return -1;
    if (r == 0)
        o = stored;
    if (o.status == EXEC_ST_NEW)
        return -1; /* store said "not NEW" but returned NEW: inconsistent */
    ent_state_t next;
    if (publish_record(e, &o, false, &next) != 0)
        return -1;
    ent->o = o;
    ent->state = next;
    return 1;
}

static int complete_batch(exec_engine_t *e, const exec_batch_t *b)
{
    exec_position_t *pos = NULL;
    size_t n = 0;
    if (exec_store_positions(e->store, &pos, &n) != 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        Qt__V1__Position m;
        qt__v1__position__init(&m);
        m.account = (char *)"paper";
        m.symbol = pos[i].symbol;
        m.qty = pos[i].qty;
        qt_env_t env;
        env_init(&env, b->t);
        env.body_case = QT__V1__ENVELOPE__BODY_POSITION;
        env.position = &m;
        rc = e->io.publish(e->io.ctx, "exec.position", "fills", pos[i].symbol, &env);
    }
    free(pos);
    if (rc != 0)
        return -1;
    Qt__V1__Watermark wm;
    qt__v1__watermark__init(&wm);
    wm.stream = (char *)"fills";
    wm.event_time_ms = b->t;
    wm.end_of_stream = b->eos;
    wm.count = n;
    qt_env_t env;
    env_init(&env, b->t);
    env.body_case = QT__V1__ENVELOPE__BODY_WATERMARK;
    env.watermark = &wm;
    if (e->io.publish(e->io.ctx, "exec.watermark", "fills", "watermark", &env) != 0)
        return -1;
    int64_t next = b->offset + 1;
    for (size_t i = 0; i < e->nents; i++)
        if (e->ents[i].state != ENT_DONE) {
            next = e->ents[i].offset < next ? e->ents[i].offset : next;
            break; /* entries are in offset order */
        }
    return e->io.batch_done(e->io.ctx, b->t, b->eos, next);
}

int exec_engine_step(exec_engine_t *self)
{
    int n = 0;
    for (size_t i = 0; i < self->nents; i++) {
        exec_entry_t *ent = &self->ents[i];
        if (ent->state == ENT_RECEIVED) {
            if (step_claim(self, ent) < 0)
                return -1;
            n++;
        }
        if (ent->state == ENT_ORDERED) {
            int r = step_fill(self, ent);
            if (r < 0)
                return -1;
            n += r;
        }
    }
    while (self->nb > 0) {
        exec_batch_t b = self->batches[0];
        bool open = false;
        for (size_t i = 0; i < self->nents && self->ents[i].offset < b.offset; i++)
            if (self->ents[i].state != ENT_DONE) {
                open = true;
                break;
            }
        if (open)
            break;
        if (complete_batch(self, &b) != 0)
            return -1;
        self->stats.batches++;
        memmove(&self->batches[0], &self->batches[1], (self->nb - 1) * sizeof(exec_batch_t));
        self->nb--;
        size_t k = 0; /* drop the resolved entries before the batch */
        for (size_t i = 0; i < self->nents; i++)
            if (!(self->ents[i].offset < b.offset && self->ents[i].state == ENT_DONE))
                self->ents[k++] = self->ents[i];
        self->nents = k;
        n++;
    }
    return n;
}

bool exec_engine_wants_intents(const exec_engine_t *self)
{
    return self->nb == 0 || self->bars_ended;
}

size_t exec_engine_unresolved(const exec_engine_t *self)
{
    size_t n = 0;
    for (size_t i = 0; i < self->nents; i++)
        n += self->ents[i].state != ENT_DONE;
    return n;
}

const exec_stats_t *exec_engine_stats(const exec_engine_t *self)
{
    return &self->stats;
}

const paper_broker_t *exec_engine_broker(const exec_engine_t *self)
{
    return self->broker;
}

/* ------------------------------------------------------------------ checkpoint */

#define EXEC_CKPT_VERSION 1u

void exec_ckpt_encode(qt_buf_t *out, int64_t next_offset, int64_t last_batch_ms)
{
    qt_buf_put_u32(out, EXEC_CKPT_VERSION);
    qt_buf_put_i64(out, next_offset);
    qt_buf_put_i64(out, last_batch_ms);
}

bool exec_ckpt_decode(const uint8_t *buf, size_t len, int64_t *next_offset,
                      int64_t *last_batch_ms)
{
    qt_reader_t r;
    qt_reader_init(&r, buf, len);
    uint32_t v = qt_read_u32(&r);
    int64_t off = qt_read_i64(&r);
    int64_t t = qt_read_i64(&r);
    if (!qt_reader_done(&r) || v != EXEC_CKPT_VERSION || off < 0)
        return false;
    *next_offset = off;
    *last_batch_ms = t;
    return true;
}

int exec_selftest(bool verbose)
{
    int fails = 0;
    char coid[EXEC_ID_MAX + 4], fid[EXEC_ID_MAX + 8];
    fails += exec_client_order_id("1700000000000-BTC_USDT", coid, sizeof(coid)) != 0 ||
             strcmp(coid, "QT-1700000000000-BTC_USDT") != 0;
    fails += exec_fill_id(coid, fid, sizeof(fid)) != 0 ||
             strcmp(fid, "QT-1700000000000-BTC_USDT-1") != 0;
    fails += !exec_ks_allows(QT__V1__KILL_SWITCH_TIER__KS_NORMAL, 0, QT__V1__SIDE__SIDE_BUY, 1);
    fails += exec_ks_allows(QT__V1__KILL_SWITCH_TIER__KS_NO_NEW, 0, QT__V1__SIDE__SIDE_BUY, 1);
    fails += !exec_ks_allows(QT__V1__KILL_SWITCH_TIER__KS_NO_NEW, 5, QT__V1__SIDE__SIDE_SELL, 5);
    qt_buf_t b;
    qt_buf_init(&b);
    exec_ckpt_encode(&b, 42, 7);
    int64_t off = 0, t = 0;
    fails += !exec_ckpt_decode(b.data, b.len, &off, &t) || off != 42 || t != 7;
    qt_buf_free(&b);
    if (verbose)
        fprintf(stderr, "exec selftest: %s\n", fails ? "FAILED" : "ok");
    return fails ? -1 : 0;
}
