/* qt_envelope: encode, decode, validate and render the Envelope (see qt_envelope.h).
 *
 * Why this shape: decoding is the trust boundary of every service. The order of checks
 * is fixed and each failure maps to one status (the metric label):
 *   size (empty / oversize) -> protobuf well-formedness (malformed) -> schema version
 *   (version) -> UTF-8 of every string, as proto3 requires, and legal numbers on unknown
 *   fields (malformed) -> body present
 *   (no_body) -> envelope and body semantics (invalid).
 * The JSON rendering walks the protobuf-c descriptors, so new fields show up in qt-tail
 * without code changes, and uses field order so the output is byte-for-byte stable. */
#include "qt_envelope.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SOURCE 128u       /* envelope source */
#define MAX_ID 128u           /* intent / order / fill ids */
#define MAX_DETAIL 4096u      /* free-text reasons and details */
#define MAX_INTERVAL 16u      /* "1m", "4h", "1d"... */
#define MAX_FEATURE_NAME 64u
#define MAX_REASONS 64u       /* RiskDecision.reasons */
#define MAX_RECON_POSITIONS 4096u
#define MAX_JSON_DEPTH 16     /* nesting guard for the generic walkers */

/* ------------------------------------------------------------------------------------ */
/* status names                                                                          */

const char *qt_decode_status_str(qt_decode_status_t st) {
    switch (st) {
    case QT_DECODE_OK: return "ok";
    case QT_DECODE_EMPTY: return "empty";
    case QT_DECODE_OVERSIZE: return "oversize";
    case QT_DECODE_MALFORMED: return "malformed";
    case QT_DECODE_VERSION: return "version";
    case QT_DECODE_NO_BODY: return "no_body";
    case QT_DECODE_INVALID: return "invalid";
    case QT_DECODE__COUNT: break;
    }
    return "unknown";
}

/* ------------------------------------------------------------------------------------ */
/* interned strings (publisher sources)                                                  */

#define INTERN_MAX 1024
static pthread_mutex_t g_intern_mu = PTHREAD_MUTEX_INITIALIZER;
static char *g_intern[INTERN_MAX];
static atomic_size_t g_intern_n;

static bool is_interned(const char *s) {
    size_t n = atomic_load_explicit(&g_intern_n, memory_order_acquire);
    for (size_t i = 0; i < n; i++)
        if (g_intern[i] == s) return true;
    return false;
}

const char *qt_env_intern(const char *s) {
    if (!s || strlen(s) > MAX_SOURCE) return NULL;
    const char *out = NULL;
    pthread_mutex_lock(&g_intern_mu);
    size_t n = atomic_load_explicit(&g_intern_n, memory_order_relaxed);
    for (size_t i = 0; i < n && !out; i++)
        if (strcmp(g_intern[i], s) == 0) out = g_intern[i];
    if (!out && n < INTERN_MAX) {
        char *copy = strdup(s);
        if (copy) {
            g_intern[n] = copy;
            atomic_store_explicit(&g_intern_n, n + 1, memory_order_release);
            out = copy;
        }
    }
    pthread_mutex_unlock(&g_intern_mu);
    return out;
}

/* ------------------------------------------------------------------------------------ */
/* small helpers                                                                         */

static bool fail(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool fail(char *why, size_t whylen, const char *fmt, ...) {
    if (why && whylen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return false;
}


static bool sym_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '/' || c == '-';
}

static bool check_symbol(const char *field, const char *s, char *why, size_t whylen) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0) return fail(why, whylen, "%s is empty", field);
    if (n > QT_MAX_SYMBOL)
        return fail(why, whylen, "%s=\"%.40s...\" longer than %u chars", field, s,
                    QT_MAX_SYMBOL);
    for (size_t i = 0; i < n; i++)
        if (!sym_char(s[i]))
            return fail(why, whylen, "%s=\"%s\" has a character outside [A-Za-z0-9_./-]",
                        field, s);
    return true;
}

static bool check_nonempty(const char *field, const char *s, size_t max, char *why,
                           size_t whylen) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0) return fail(why, whylen, "%s is empty", field);
    if (n > max)
        return fail(why, whylen, "%s=\"%.40s...\" longer than %zu chars", field, s, max);
    return true;
}

static bool check_maxlen(const char *field, const char *s, size_t max, char *why,
                         size_t whylen) {
    if (s && strlen(s) > max)
        return fail(why, whylen, "%s=\"%.40s...\" longer than %zu chars", field, s, max);
    return true;
}

static bool check_pos(const char *field, int64_t v, char *why, size_t whylen) {
    if (v <= 0) return fail(why, whylen, "%s=%" PRId64 " must be > 0", field, v);
    return true;
}

static bool check_nonneg(const char *field, int64_t v, char *why, size_t whylen) {
    if (v < 0) return fail(why, whylen, "%s=%" PRId64 " must be >= 0", field, v);
    return true;
}

static bool check_finite(const char *field, double v, char *why, size_t whylen) {
    if (!isfinite(v)) return fail(why, whylen, "%s=%g is not finite", field, v);
    return true;
}

static bool check_range(const char *field, double v, double lo, double hi, char *why,
                        size_t whylen) {
    if (!isfinite(v) || v < lo || v > hi)
        return fail(why, whylen, "%s=%g outside [%g, %g]", field, v, lo, hi);
    return true;
}

static bool check_side(const char *field, Qt__V1__Side s, char *why, size_t whylen) {
    if (s != QT__V1__SIDE__SIDE_BUY && s != QT__V1__SIDE__SIDE_SELL)
        return fail(why, whylen, "%s=%d is not BUY or SELL", field, (int)s);
    return true;
}

/* ------------------------------------------------------------------------------------ */
/* UTF-8                                                                                 */

/* Length of the valid UTF-8 sequence at s[0..n), or 0 when invalid (overlong forms,
 * surrogates and code points above U+10FFFF are invalid). */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1Fu; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0Fu; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07u; }
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0u) != 0x80u) return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return 0;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

static bool utf8_valid(const char *str) {
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str);
    for (size_t i = 0; i < n;) {
        size_t l = utf8_seq(s + i, n - i);
        if (!l) return false;
        i += l;
    }
    return true;
}

/* Copy with every invalid sequence replaced by U+FFFD; malloc'd. */
static char *utf8_sanitize(const char *str) {
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str);
    char *out = malloc(n * 3 + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_seq(s + i, n - i);
        if (l) {
            memcpy(out + o, s + i, l);
            o += l;
            i += l;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += 1;
        }
    }
    out[o] = '\0';
    return out;
}

/* ------------------------------------------------------------------------------------ */
/* generic descriptor walking                                                            */

static size_t elem_size(ProtobufCType t) {
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32: return sizeof(int32_t);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: return sizeof(uint32_t);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: return sizeof(int64_t);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: return sizeof(uint64_t);
    case PROTOBUF_C_TYPE_FLOAT: return sizeof(float);
    case PROTOBUF_C_TYPE_DOUBLE: return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM: return sizeof(int);
    case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE: return sizeof(ProtobufCMessage *);
    }
    return 0;
}

/* How many values field f holds in m (0 = absent), and where the first one is. */
static size_t field_values(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                           const void **first, bool *repeated) {
    const char *base = (const char *)m;
    const void *member = base + f->offset;
    *repeated = false;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        *repeated = true;
        size_t n;
        memcpy(&n, base + f->quantifier_offset, sizeof n);
        void *arr;
        memcpy(&arr, member, sizeof arr);
        *first = arr;
        return arr ? n : 0;
    }
    *first = member;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t c;
        memcpy(&c, base + f->quantifier_offset, sizeof c);
        return c == f->id ? 1 : 0;
    }
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL) {
        if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE) {
            void *p;
            memcpy(&p, member, sizeof p);
            return p ? 1 : 0;
        }
        protobuf_c_boolean has;
        memcpy(&has, base + f->quantifier_offset, sizeof has);
        return has ? 1 : 0;
    }
    return 1; /* proto3 singular or required: always present */
}

/* Wire-level checks protobuf-c leaves to us, on m and every nested message: every
 * string is valid UTF-8 (proto3), and unknown fields (kept for forward compatibility)
 * have a legal field number. protobuf-c accepts field number 0 in an overlong tag but
 * then cannot decode its own re-encoding of it (found by fuzzing). */
static bool wire_ok(const ProtobufCMessage *m, int depth, char *why, size_t whylen) {
    if (!m) return true;
    if (depth > MAX_JSON_DEPTH) return fail(why, whylen, "message nesting too deep");
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < m->n_unknown_fields; i++) {
        uint32_t tag = m->unknown_fields[i].tag;
        if (tag == 0 || tag > 536870911u)
            return fail(why, whylen, "%s: unknown field with illegal number %" PRIu32,
                        d->short_name, tag);
    }
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const void *first;
        bool rep;
        size_t n = field_values(m, f, &first, &rep);
        for (size_t k = 0; k < n; k++) {
            const void *p = (const char *)first + k * elem_size(f->type);
            if (f->type == PROTOBUF_C_TYPE_STRING) {
                const char *s;
                memcpy(&s, p, sizeof s);
                if (s && !utf8_valid(s))
                    return fail(why, whylen, "%s.%s is not valid UTF-8", d->short_name,
                                f->name);
            } else {
                const ProtobufCMessage *sub;
                memcpy(&sub, p, sizeof sub);
                if (!wire_ok(sub, depth + 1, why, whylen)) return false;
            }
        }
    }
    return true;
}

/* ------------------------------------------------------------------------------------ */
/* body semantics                                                                        */

static bool v_bar(const Qt__V1__Bar *b, char *why, size_t whylen) {
    if (!check_symbol("bar.symbol", b->symbol, why, whylen)) return false;
    if (!check_nonempty("bar.interval", b->interval, MAX_INTERVAL, why, whylen)) return false;
    if (!check_maxlen("bar.venue", b->venue, QT_MAX_SYMBOL, why, whylen)) return false;
    if (!check_pos("bar.open_time_ms", b->open_time_ms, why, whylen)) return false;
    if (!check_pos("bar.open", b->open, why, whylen)) return false;
    if (!check_pos("bar.high", b->high, why, whylen)) return false;
    if (!check_pos("bar.low", b->low, why, whylen)) return false;
    if (!check_pos("bar.close", b->close, why, whylen)) return false;
    if (!check_nonneg("bar.volume", b->volume, why, whylen)) return false;
    if (b->low > b->high)
        return fail(why, whylen, "bar.low=%" PRId64 " > bar.high=%" PRId64, b->low, b->high);
    int64_t lo = b->open < b->close ? b->open : b->close;
    int64_t hi = b->open > b->close ? b->open : b->close;
    if (b->low > lo)
        return fail(why, whylen, "bar.low=%" PRId64 " > min(open,close)=%" PRId64, b->low, lo);
    if (b->high < hi)
        return fail(why, whylen, "bar.high=%" PRId64 " < max(open,close)=%" PRId64, b->high,
                    hi);
    return true;
}

static bool v_features(const Qt__V1__FeatureVector *fv, char *why, size_t whylen) {
    if (!check_symbol("features.symbol", fv->symbol, why, whylen)) return false;
    if (!check_maxlen("features.interval", fv->interval, MAX_INTERVAL, why, whylen))
        return false;
    if (!check_nonneg("features.close", fv->close, why, whylen)) return false;
    if (fv->n_features > QT_MAX_FEATURES)
        return fail(why, whylen, "features.features count=%zu > %u", fv->n_features,
                    QT_MAX_FEATURES);
    for (size_t i = 0; i < fv->n_features; i++) {
        const Qt__V1__Feature *f = fv->features[i];
        if (!f) return fail(why, whylen, "features.features[%zu] is null", i);
        if (!check_nonempty("features.features[].name", f->name, MAX_FEATURE_NAME, why,
                            whylen))
            return false;
        if (!isfinite(f->value))
            return fail(why, whylen, "features.features[%zu] (%s).value=%g is not finite", i,
                        f->name, f->value);
    }
    return true;
}

static bool v_signal(const Qt__V1__Signal *s, char *why, size_t whylen) {
    return check_nonempty("signal.model", s->model, MAX_ID, why, whylen) &&
           check_symbol("signal.symbol", s->symbol, why, whylen) &&
           check_range("signal.score", s->score, -1.0, 1.0, why, whylen) &&
           check_range("signal.confidence", s->confidence, 0.0, 1.0, why, whylen) &&
           check_finite("signal.alpha", s->alpha, why, whylen) &&
           check_finite("signal.beta", s->beta, why, whylen) &&
           check_range("signal.volatility", s->volatility, 0.0, HUGE_VAL, why, whylen) &&
           check_nonneg("signal.close", s->close, why, whylen);
}

static bool v_target(const Qt__V1__TargetPortfolio *t, char *why, size_t whylen) {
    if (!check_maxlen("target.solver", t->solver, MAX_ID, why, whylen)) return false;
    if (!check_finite("target.solve_ms", t->solve_ms, why, whylen)) return false;
    if (!check_finite("target.objective", t->objective, why, whylen) ||
        !check_finite("target.classical_objective", t->classical_objective, why, whylen) ||
        !check_finite("target.qaoa_objective", t->qaoa_objective, why, whylen) ||
        !check_finite("target.qaoa_ms", t->qaoa_ms, why, whylen) ||
        !check_finite("target.classical_ms", t->classical_ms, why, whylen))
        return false;
    if (!check_maxlen("target.breaker_state", t->breaker_state, MAX_ID, why, whylen) ||
        !check_maxlen("target.fallback_reason", t->fallback_reason, MAX_ID, why, whylen) ||
        !check_maxlen("target.weighting", t->weighting, MAX_ID, why, whylen))
        return false;
    if (t->n_positions > QT_MAX_TARGETS)
        return fail(why, whylen, "target.positions count=%zu > %u", t->n_positions,
                    QT_MAX_TARGETS);
    for (size_t i = 0; i < t->n_positions; i++) {
        const Qt__V1__TargetPosition *p = t->positions[i];
        if (!p) return fail(why, whylen, "target.positions[%zu] is null", i);
        if (!check_symbol("target.positions[].symbol", p->symbol, why, whylen)) return false;
        if (!isfinite(p->weight) || p->weight < 0.0 || p->weight > 1.0)
            return fail(why, whylen, "target.positions[%zu] (%s).weight=%g outside [0, 1]", i,
                        p->symbol, p->weight);
        if (p->weight > 0.0 && p->ref_price <= 0)
            return fail(why, whylen,
                        "target.positions[%zu] (%s).ref_price=%" PRId64
                        " must be > 0 when weight > 0",
                        i, p->symbol, p->ref_price);
        if (p->ref_price < 0)
            return fail(why, whylen, "target.positions[%zu] (%s).ref_price=%" PRId64 " < 0", i,
                        p->symbol, p->ref_price);
        for (size_t j = 0; j < i; j++)
            if (strcmp(t->positions[j]->symbol, p->symbol) == 0)
                return fail(why, whylen, "target.positions: symbol \"%s\" listed twice",
                            p->symbol);
    }
    return true;
}

static bool v_intent(const Qt__V1__OrderIntent *o, char *why, size_t whylen) {
    return check_nonempty("intent.intent_id", o->intent_id, MAX_ID, why, whylen) &&
           check_symbol("intent.symbol", o->symbol, why, whylen) &&
           check_side("intent.side", o->side, why, whylen) &&
           check_pos("intent.qty", o->qty, why, whylen) &&
           check_pos("intent.ref_price", o->ref_price, why, whylen);
}

static bool v_decision(const Qt__V1__RiskDecision *d, char *why, size_t whylen) {
    if (!check_nonempty("decision.intent_id", d->intent_id, MAX_ID, why, whylen)) return false;
    if (!check_symbol("decision.symbol", d->symbol, why, whylen)) return false;
    if (!check_nonneg("decision.requested_qty", d->requested_qty, why, whylen)) return false;
    if (!check_nonneg("decision.approved_qty", d->approved_qty, why, whylen)) return false;
    if (d->side < QT__V1__SIDE__SIDE_UNSPECIFIED || d->side > QT__V1__SIDE__SIDE_SELL)
        return fail(why, whylen, "decision.side=%d is not a Side", (int)d->side);
    if (d->killswitch_tier < QT__V1__KILL_SWITCH_TIER__KS_UNKNOWN ||
        d->killswitch_tier > QT__V1__KILL_SWITCH_TIER__KS_FLATTEN_ALL)
        return fail(why, whylen, "decision.killswitch_tier=%" PRId32 " is not a tier",
                    d->killswitch_tier);
    if (d->n_reasons > MAX_REASONS)
        return fail(why, whylen, "decision.reasons count=%zu > %u", d->n_reasons, MAX_REASONS);
    for (size_t i = 0; i < d->n_reasons; i++)
        if (!d->reasons[i]) return fail(why, whylen, "decision.reasons[%zu] is null", i);
    return true;
}

static bool v_order(const Qt__V1__Order *o, char *why, size_t whylen) {
    return check_nonempty("order.client_order_id", o->client_order_id, MAX_ID, why, whylen) &&
           check_maxlen("order.intent_id", o->intent_id, MAX_ID, why, whylen) &&
           check_symbol("order.symbol", o->symbol, why, whylen) &&
           check_side("order.side", o->side, why, whylen) &&
           check_pos("order.qty", o->qty, why, whylen) &&
           check_pos("order.ref_price", o->ref_price, why, whylen);
}

static bool v_report(const Qt__V1__ExecutionReport *r, char *why, size_t whylen) {
    if (!check_nonempty("report.client_order_id", r->client_order_id, MAX_ID, why, whylen))
        return false;
    if (!check_symbol("report.symbol", r->symbol, why, whylen)) return false;
    if (r->status <= QT__V1__ORDER_STATUS__ORDER_STATUS_UNSPECIFIED ||
        r->status > QT__V1__ORDER_STATUS__ORDER_STATUS_CANCELED)
        return fail(why, whylen, "report.status=%d is not a known OrderStatus", (int)r->status);
    return check_nonneg("report.filled_qty", r->filled_qty, why, whylen) &&
           check_nonneg("report.avg_price", r->avg_price, why, whylen);
}

static bool v_fill(const Qt__V1__Fill *f, char *why, size_t whylen) {
    return check_nonempty("fill.fill_id", f->fill_id, MAX_ID, why, whylen) &&
           check_maxlen("fill.client_order_id", f->client_order_id, MAX_ID, why, whylen) &&
           check_symbol("fill.symbol", f->symbol, why, whylen) &&
           check_side("fill.side", f->side, why, whylen) &&
           check_pos("fill.qty", f->qty, why, whylen) &&
           check_pos("fill.price", f->price, why, whylen) &&
           check_nonneg("fill.fee", f->fee, why, whylen);
}

static bool v_position(const char *what, const Qt__V1__Position *p, char *why, size_t whylen) {
    char field[64];
    if (!p) return fail(why, whylen, "%s is null", what);
    snprintf(field, sizeof field, "%s.symbol", what);
    if (!check_symbol(field, p->symbol, why, whylen)) return false;
    snprintf(field, sizeof field, "%s.account", what);
    if (!check_maxlen(field, p->account, MAX_ID, why, whylen)) return false;
    snprintf(field, sizeof field, "%s.avg_price", what);
    if (!check_nonneg(field, p->avg_price, why, whylen)) return false;
    snprintf(field, sizeof field, "%s.mark_price", what);
    return check_nonneg(field, p->mark_price, why, whylen);
}

static bool v_recon(const Qt__V1__ReconReport *r, char *why, size_t whylen) {
    if (r->n_rebuilt > MAX_RECON_POSITIONS)
        return fail(why, whylen, "recon.rebuilt count=%zu > %u", r->n_rebuilt,
                    MAX_RECON_POSITIONS);
    if (r->n_broker > MAX_RECON_POSITIONS)
        return fail(why, whylen, "recon.broker count=%zu > %u", r->n_broker,
                    MAX_RECON_POSITIONS);
    for (size_t i = 0; i < r->n_rebuilt; i++)
        if (!v_position("recon.rebuilt[]", r->rebuilt[i], why, whylen)) return false;
    for (size_t i = 0; i < r->n_broker; i++)
        if (!v_position("recon.broker[]", r->broker[i], why, whylen)) return false;
    return true;
}

static bool v_killswitch(const Qt__V1__KillSwitch *k, char *why, size_t whylen) {
    /* KS_UNKNOWN is a defined value and is accepted: consumers read it as NO_NEW (fail
     * closed); rejecting it would leave them on their previous, possibly lower, tier. */
    if (k->tier < QT__V1__KILL_SWITCH_TIER__KS_UNKNOWN ||
        k->tier > QT__V1__KILL_SWITCH_TIER__KS_FLATTEN_ALL)
        return fail(why, whylen, "killswitch.tier=%d is not a KillSwitchTier", (int)k->tier);
    if (k->previous_tier < QT__V1__KILL_SWITCH_TIER__KS_UNKNOWN ||
        k->previous_tier > QT__V1__KILL_SWITCH_TIER__KS_FLATTEN_ALL)
        return fail(why, whylen, "killswitch.previous_tier=%d is not a KillSwitchTier",
                    (int)k->previous_tier);
    if (k->n_approved_by > 8)
        return fail(why, whylen, "killswitch.approved_by count=%zu > 8", k->n_approved_by);
    for (size_t i = 0; i < k->n_approved_by; i++)
        if (!check_nonempty("killswitch.approved_by[]", k->approved_by[i], MAX_ID, why, whylen))
            return false;
    return check_maxlen("killswitch.set_by", k->set_by, MAX_ID, why, whylen) &&
           check_maxlen("killswitch.trigger", k->trigger, MAX_ID, why, whylen) &&
           check_maxlen("killswitch.reason", k->reason, MAX_DETAIL, why, whylen);
}

static bool v_alert(const Qt__V1__DataAlert *a, char *why, size_t whylen) {
    if (!check_symbol("alert.symbol", a->symbol, why, whylen)) return false;
    if (!check_nonempty("alert.interval", a->interval, MAX_INTERVAL, why, whylen)) return false;
    if (strcmp(a->kind, "stale") != 0 && strcmp(a->kind, "gap") != 0 &&
        strcmp(a->kind, "invalid") != 0)
        return fail(why, whylen, "alert.kind=\"%.32s\" is not stale|gap|invalid", a->kind);
    return check_nonneg("alert.last_bar_ms", a->last_bar_ms, why, whylen) &&
           check_nonneg("alert.age_ms", a->age_ms, why, whylen) &&
           check_nonneg("alert.sla_ms", a->sla_ms, why, whylen) &&
           check_maxlen("alert.detail", a->detail, MAX_DETAIL, why, whylen);
}

static bool v_mode(const Qt__V1__ModeState *m, char *why, size_t whylen) {
    static const char *const modes[] = {"off", "manual", "paper", "live"};
    bool known = false;
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        if (strcmp(m->mode, modes[i]) == 0) known = true;
    if (!known)
        return fail(why, whylen, "mode.mode=\"%.32s\" is not off|manual|paper|live", m->mode);
    if (m->n_approved_by > 8)
        return fail(why, whylen, "mode.approved_by count=%zu > 8", m->n_approved_by);
    return check_maxlen("mode.set_by", m->set_by, MAX_ID, why, whylen) &&
           check_maxlen("mode.reason", m->reason, MAX_DETAIL, why, whylen);
}

static bool v_action(const Qt__V1__PolicyAction *a, char *why, size_t whylen) {
    static const char *const states[] = {"proposed", "applied", "approved", "rejected"};
    bool known = false;
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
        if (strcmp(a->state, states[i]) == 0) known = true;
    if (!known)
        return fail(why, whylen,
                    "action.state=\"%.32s\" is not proposed|applied|approved|rejected",
                    a->state);
    return check_nonempty("action.action_id", a->action_id, MAX_ID, why, whylen) &&
           check_nonempty("action.action", a->action, MAX_ID, why, whylen) &&
           check_maxlen("action.policy", a->policy, MAX_ID, why, whylen) &&
           check_maxlen("action.params", a->params, MAX_DETAIL, why, whylen) &&
           check_maxlen("action.decided_by", a->decided_by, MAX_ID, why, whylen) &&
           check_maxlen("action.reason", a->reason, MAX_DETAIL, why, whylen);
}

static bool v_heartbeat(const Qt__V1__Heartbeat *h, char *why, size_t whylen) {
    return check_nonempty("heartbeat.service", h->service, MAX_SOURCE, why, whylen) &&
           check_maxlen("heartbeat.instance", h->instance, MAX_SOURCE, why, whylen);
}

static bool v_watermark(const Qt__V1__Watermark *w, char *why, size_t whylen) {
    return check_maxlen("watermark.stream", w->stream, MAX_ID, why, whylen) &&
           check_nonneg("watermark.event_time_ms", w->event_time_ms, why, whylen);
}

/* Everything after the protobuf decode. */
static qt_decode_status_t check_env(const qt_env_t *env, char *why, size_t whylen) {
    if (!env) {
        fail(why, whylen, "null envelope");
        return QT_DECODE_MALFORMED;
    }
    if (env->schema_version != QT_SCHEMA_VERSION) {
        fail(why, whylen, "schema_version=%" PRIu32 ", expected %u", env->schema_version,
             QT_SCHEMA_VERSION);
        return QT_DECODE_VERSION;
    }
    if (!wire_ok(&env->base, 0, why, whylen)) return QT_DECODE_MALFORMED;
    if (env->body_case == QT__V1__ENVELOPE__BODY__NOT_SET) {
        fail(why, whylen, "no body set");
        return QT_DECODE_NO_BODY;
    }
    if (!env->bar) { /* any union member: they share storage */
        fail(why, whylen, "body %s is null", qt_env_body_name(env));
        return QT_DECODE_NO_BODY;
    }
    if (!check_maxlen("source", env->source, MAX_SOURCE, why, whylen)) return QT_DECODE_INVALID;
    if (env->trace_id.len != 0 && env->trace_id.len != 16) {
        fail(why, whylen, "trace_id is %zu bytes, expected 0 or 16", env->trace_id.len);
        return QT_DECODE_INVALID;
    }
    if (env->span_id.len != 0 && env->span_id.len != 8) {
        fail(why, whylen, "span_id is %zu bytes, expected 0 or 8", env->span_id.len);
        return QT_DECODE_INVALID;
    }
    bool ok;
    switch (env->body_case) {
    case QT__V1__ENVELOPE__BODY_BAR: ok = v_bar(env->bar, why, whylen); break;
    case QT__V1__ENVELOPE__BODY_FEATURES: ok = v_features(env->features, why, whylen); break;
    case QT__V1__ENVELOPE__BODY_SIGNAL: ok = v_signal(env->signal, why, whylen); break;
    case QT__V1__ENVELOPE__BODY_TARGET: ok = v_target(env->target, why, whylen); break;
    case QT__V1__ENVELOPE__BODY_INTENT: ok = v_intent(env->intent, why, whylen); break;
    case QT__V1__ENVELOPE__BODY_DECISION: ok = v_decision(env->decision, why, whylen); break;
    case QT__V1__ENVELOPE__BODY_ORDER: ok = v_order(env->order, why, whylen); break;
    case QT__V1__ENVELOPE__BODY_REPORT: ok = v_report(env->report, why, whylen); break;
    case QT__V1__ENVELOPE__BODY_FILL: ok = v_fill(env->fill, why, whylen); break;
    case QT__V1__ENVELOPE__BODY_POSITION:
        ok = v_position("position", env->position, why, whylen);
        break;
    case QT__V1__ENVELOPE__BODY_KILLSWITCH:
        ok = v_killswitch(env->killswitch, why, whylen);
        break;
    case QT__V1__ENVELOPE__BODY_HEARTBEAT: ok = v_heartbeat(env->heartbeat, why, whylen); break;
    case QT__V1__ENVELOPE__BODY_WATERMARK: ok = v_watermark(env->watermark, why, whylen); break;
    case QT__V1__ENVELOPE__BODY_RECON: ok = v_recon(env->recon, why, whylen); break;
    case QT__V1__ENVELOPE__BODY_ALERT: ok = v_alert(env->alert, why, whylen); break;
    case QT__V1__ENVELOPE__BODY_MODE: ok = v_mode(env->mode, why, whylen); break;
    case QT__V1__ENVELOPE__BODY_ACTION: ok = v_action(env->action, why, whylen); break;
    default:
        fail(why, whylen, "unknown body case %d", (int)env->body_case);
        return QT_DECODE_NO_BODY;
    }
    return ok ? QT_DECODE_OK : QT_DECODE_INVALID;
}

bool qt_env_validate(const qt_env_t *env, char *why, size_t whylen) {
    return check_env(env, why, whylen) == QT_DECODE_OK;
}

/* ------------------------------------------------------------------------------------ */
/* decode / encode / lifecycle                                                           */

qt_decode_status_t qt_env_decode(const uint8_t *buf, size_t len, qt_env_t **out, char *why,
                                 size_t whylen) {
    if (out) *out = NULL;
    if (why && whylen) why[0] = '\0';
    if (len == 0) {
        fail(why, whylen, "empty frame");
        return QT_DECODE_EMPTY;
    }
    if (len > QT_MAX_FRAME) {
        fail(why, whylen, "frame of %zu bytes > %u", len, QT_MAX_FRAME);
        return QT_DECODE_OVERSIZE;
    }
    if (!buf) {
        fail(why, whylen, "null buffer");
        return QT_DECODE_MALFORMED;
    }
    qt_env_t *env = qt__v1__envelope__unpack(NULL, len, buf);
    if (!env) {
        fail(why, whylen, "protobuf decode failed (%zu bytes)", len);
        return QT_DECODE_MALFORMED;
    }
    qt_decode_status_t st = check_env(env, why, whylen);
    if (st != QT_DECODE_OK || !out) {
        qt__v1__envelope__free_unpacked(env, NULL);
        return st;
    }
    *out = env;
    return QT_DECODE_OK;
}

void qt_env_free(qt_env_t *env) {
    if (!env) return;
    /* A publisher may have stamped an interned (process-lifetime) source into an envelope
     * that came from qt_env_decode: it is not ours to free. */
    if (env->source && is_interned(env->source)) env->source = NULL;
    qt__v1__envelope__free_unpacked(env, NULL);
}

uint8_t *qt_env_encode(const qt_env_t *env, size_t *len) {
    if (len) *len = 0;
    if (!env) return NULL;
    size_t n = qt__v1__envelope__get_packed_size(env);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) return NULL;
    size_t w = qt__v1__envelope__pack(env, buf);
    if (w != n) {
        free(buf);
        return NULL;
    }
    if (len) *len = n;
    return buf;
}

void qt_env_init(qt_env_t *env, int64_t event_time_ns) {
    qt__v1__envelope__init(env);
    env->schema_version = QT_SCHEMA_VERSION;
    env->event_time_ns = event_time_ns;
}

const char *qt_env_body_name(const qt_env_t *env) {
    if (!env || env->body_case == QT__V1__ENVELOPE__BODY__NOT_SET) return "none";
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field(&qt__v1__envelope__descriptor,
                                                (unsigned)env->body_case);
    return f ? f->name : "unknown";
}

/* ------------------------------------------------------------------------------------ */
/* JSON                                                                                  */

static json_t *json_str_safe(const char *s) {
    if (!s) s = "";
    json_t *j = json_string(s);
    if (j) return j;
    char *clean = utf8_sanitize(s);
    if (!clean) return NULL;
    j = json_string(clean);
    free(clean);
    return j;
}

static json_t *json_double(double v) {
    if (isnan(v)) return json_string("NaN");
    if (isinf(v)) return json_string(v > 0 ? "Infinity" : "-Infinity");
    return json_real(v);
}

static json_t *json_u64(uint64_t v) {
    if (v <= (uint64_t)INT64_MAX) return json_integer((json_int_t)v);
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return json_string(buf); /* beyond JSON integer range of jansson: exact decimal string */
}

static json_t *msg_to_json(const ProtobufCMessage *m, int depth);

static json_t *value_to_json(const ProtobufCFieldDescriptor *f, const void *p, int depth) {
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32: {
        int32_t v;
        memcpy(&v, p, sizeof v);
        return json_integer(v);
    }
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: {
        uint32_t v;
        memcpy(&v, p, sizeof v);
        return json_integer((json_int_t)v);
    }
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: {
        int64_t v;
        memcpy(&v, p, sizeof v);
        return json_integer((json_int_t)v);
    }
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: {
        uint64_t v;
        memcpy(&v, p, sizeof v);
        return json_u64(v);
    }
    case PROTOBUF_C_TYPE_FLOAT: {
        float v;
        memcpy(&v, p, sizeof v);
        return json_double((double)v);
    }
    case PROTOBUF_C_TYPE_DOUBLE: {
        double v;
        memcpy(&v, p, sizeof v);
        return json_double(v);
    }
    case PROTOBUF_C_TYPE_BOOL: {
        protobuf_c_boolean v;
        memcpy(&v, p, sizeof v);
        return json_boolean(v);
    }
    case PROTOBUF_C_TYPE_ENUM: {
        int v;
        memcpy(&v, p, sizeof v);
        const ProtobufCEnumValue *ev =
            f->descriptor ? protobuf_c_enum_descriptor_get_value(f->descriptor, v) : NULL;
        return ev ? json_string(ev->name) : json_integer(v);
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s;
        memcpy(&s, p, sizeof s);
        return json_str_safe(s);
    }
    case PROTOBUF_C_TYPE_BYTES: {
        ProtobufCBinaryData b;
        memcpy(&b, p, sizeof b);
        static const char hex[] = "0123456789abcdef";
        char *h = malloc(b.len * 2 + 1);
        if (!h) return NULL;
        for (size_t i = 0; i < b.len; i++) {
            h[2 * i] = hex[b.data[i] >> 4];
            h[2 * i + 1] = hex[b.data[i] & 0xF];
        }
        h[b.len * 2] = '\0';
        json_t *j = json_string(h);
        free(h);
        return j;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub;
        memcpy(&sub, p, sizeof sub);
        return sub ? msg_to_json(sub, depth + 1) : json_null();
    }
    }
    return json_null();
}

static json_t *msg_to_json(const ProtobufCMessage *m, int depth) {
    if (depth > MAX_JSON_DEPTH) return json_string("...");
    json_t *obj = json_object();
    if (!obj) return NULL;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const void *first;
        bool rep;
        size_t n = field_values(m, f, &first, &rep);
        json_t *v;
        if (rep) {
            v = json_array();
            for (size_t k = 0; v && k < n; k++) {
                json_t *e = value_to_json(f, (const char *)first + k * elem_size(f->type), depth);
                if (!e || json_array_append_new(v, e) != 0) {
                    json_decref(v);
                    v = NULL;
                }
            }
        } else {
            if (n == 0) continue; /* unset oneof member / optional */
            v = value_to_json(f, first, depth);
        }
        if (!v || json_object_set_new(obj, f->name, v) != 0) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

char *qt_env_to_json(const qt_env_t *env) {
    if (!env) return NULL;
    json_t *j = msg_to_json(&env->base, 0);
    if (!j) return NULL;
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    json_decref(j);
    return s;
}

/* ------------------------------------------------------------------------------------ */
/* self-test                                                                             */

int qt_envelope_selftest(bool verbose) {
    int failures = 0;
#define CHECK(c)                                                                   \
    do {                                                                           \
        if (!(c)) {                                                                \
            failures++;                                                            \
            if (verbose) fprintf(stderr, "qt_envelope selftest: %s failed\n", #c); \
        }                                                                          \
    } while (0)
    qt_env_t env;
    qt_env_init(&env, 1700000000000000000LL);
    Qt__V1__Bar bar = QT__V1__BAR__INIT;
    bar.symbol = "BTC_USDT";
    bar.interval = "4h";
    bar.open_time_ms = 1700000000000LL;
    bar.open = 100;
    bar.high = 120;
    bar.low = 90;
    bar.close = 110;
    env.body_case = QT__V1__ENVELOPE__BODY_BAR;
    env.bar = &bar;
    char why[160];
    CHECK(qt_env_validate(&env, why, sizeof why));
    size_t len = 0;
    uint8_t *buf = qt_env_encode(&env, &len);
    CHECK(buf != NULL && len > 0);
    qt_env_t *back = NULL;
    CHECK(buf && qt_env_decode(buf, len, &back, why, sizeof why) == QT_DECODE_OK);
    CHECK(back && back->bar && back->bar->close == 110 && strcmp(back->bar->symbol, "BTC_USDT") == 0);
    char *js = back ? qt_env_to_json(back) : NULL;
    CHECK(js && strstr(js, "\"symbol\":\"BTC_USDT\""));
    free(js);
    qt_env_free(back);
    free(buf);
    bar.low = 111; /* above min(open, close) */
    CHECK(!qt_env_validate(&env, why, sizeof why) && strstr(why, "bar.low") != NULL);
    CHECK(qt_env_decode((const uint8_t *)"", 0, &back, NULL, 0) == QT_DECODE_EMPTY && !back);
    CHECK(qt_env_decode((const uint8_t *)"\xff\xff\xff", 3, &back, NULL, 0) ==
          QT_DECODE_MALFORMED);
    if (verbose) fprintf(stderr, "qt_envelope selftest: %d failure(s)\n", failures);
#undef CHECK
    return failures ? 1 : 0;
}
