/* qt_killswitch: kill-switch transitions, HMAC approvals, keyring and Redis store
 * (see qt_killswitch.h for the rules and why).
 *
 * Why the CAS store: raise and approve are read-modify-write. Two operators approving
 * at the same moment, or the watchdog raising between an operator's read and write,
 * must not be merged into a state nobody decided. The Lua script applies an update only
 * if the version and the pending token are still the ones the transition was computed
 * from; otherwise the caller reloads and recomputes (the transition may now refuse). */
#include "qt_killswitch.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

extern char **environ;

#define KS_KEY "qt:killswitch"
#define KS_PENDING_KEY "qt:killswitch:pending"
#define KEYRING_MAX 64
#define CAS_ATTEMPTS 5

static const char *const TRIGGERS[] = {"operator", "drawdown", "daily_loss", "watchdog",
                                       "recon",    "policy"};

const char *qt_ks_result_name(qt_ks_result_t r)
{
    switch (r) {
    case QT_KS_RAISED: return "RAISED";
    case QT_KS_RECORDED: return "RECORDED";
    case QT_KS_LOWERED: return "LOWERED";
    case QT_KS_NOT_HIGHER: return "NOT_HIGHER";
    case QT_KS_NOT_LOWER: return "NOT_LOWER";
    case QT_KS_BAD_ARG: return "BAD_ARG";
    case QT_KS_UNKNOWN_OPERATOR: return "UNKNOWN_OPERATOR";
    case QT_KS_BAD_TOKEN: return "BAD_TOKEN";
    case QT_KS_EXPIRED: return "EXPIRED";
    case QT_KS_SAME_OPERATOR: return "SAME_OPERATOR";
    case QT_KS_STORE_ERROR: return "STORE_ERROR";
    case QT_KS_CONFLICT: return "CONFLICT";
    }
    return "?";
}

void qt_ks_state_init(qt_ks_state_t *s)
{
    memset(s, 0, sizeof *s);
    s->tier = QT__V1__KILL_SWITCH_TIER__KS_NO_NEW;
    s->previous_tier = QT__V1__KILL_SWITCH_TIER__KS_UNKNOWN;
}

void qt_ks_pending_init(qt_ks_pending_t *p)
{
    memset(p, 0, sizeof *p);
    p->target = QT__V1__KILL_SWITCH_TIER__KS_UNKNOWN;
}

static bool tier_valid(qt_ks_tier_t t)
{
    return t >= QT__V1__KILL_SWITCH_TIER__KS_NORMAL &&
           t <= QT__V1__KILL_SWITCH_TIER__KS_FLATTEN_ALL;
}

qt_ks_tier_t qt_ks_effective(const qt_ks_state_t *s)
{
    if (!s || !s->present || !tier_valid(s->tier))
        return QT__V1__KILL_SWITCH_TIER__KS_NO_NEW;
    return s->tier;
}

/* Copies a validated operator name (<= QT_KS_OPERATOR_MAX bytes). */
static void set_name(char dst[QT_KS_OPERATOR_MAX + 1], const char *src)
{
    size_t n = strnlen(src, QT_KS_OPERATOR_MAX);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* ---- keys ------------------------------------------------------------------------ */

typedef struct {
    char name[QT_KS_OPERATOR_MAX + 1];
    uint8_t key[QT_KS_KEY_MAX];
    size_t len;
} key_entry_t;

struct qt_ks_keyring_t {
    key_entry_t e[KEYRING_MAX];
    size_t n;
};

qt_ks_keyring_t *qt_ks_keyring_new(void)
{
    return calloc(1, sizeof(qt_ks_keyring_t));
}

void qt_ks_keyring_destroy(qt_ks_keyring_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    OPENSSL_cleanse(*self_p, sizeof **self_p);
    free(*self_p);
    *self_p = NULL;
}

bool qt_ks_operator_ok(const char *name)
{
    if (!name)
        return false;
    size_t n = strnlen(name, QT_KS_OPERATOR_MAX + 1);
    if (n == 0 || n > QT_KS_OPERATOR_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

static const key_entry_t *find_key(const qt_ks_keyring_t *self, const char *name)
{
    if (!self || !name)
        return NULL;
    for (size_t i = 0; i < self->n; i++)
        if (strcmp(self->e[i].name, name) == 0)
            return &self->e[i];
    return NULL;
}

bool qt_ks_keyring_has(const qt_ks_keyring_t *self, const char *name)
{
    return find_key(self, name) != NULL;
}

size_t qt_ks_keyring_size(const qt_ks_keyring_t *self) { return self ? self->n : 0; }

int qt_ks_keyring_add(qt_ks_keyring_t *self, const char *name, const uint8_t *key, size_t len)
{
    if (!self || !qt_ks_operator_ok(name) || !key || len < QT_KS_KEY_MIN || len > QT_KS_KEY_MAX)
        return -1;
    key_entry_t *e = (key_entry_t *)find_key(self, name);
    if (!e) {
        if (self->n >= KEYRING_MAX)
            return -1;
        e = &self->e[self->n++];
    }
    OPENSSL_cleanse(e, sizeof *e);
    set_name(e->name, name);
    memcpy(e->key, key, len);
    e->len = len;
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int qt_ks_keyring_add_hex(qt_ks_keyring_t *self, const char *name, const char *text, char *err,
                          size_t errlen)
{
    if (!qt_ks_operator_ok(name)) {
        snprintf(err, errlen, "bad operator name (expected [a-z0-9_]{1,%d})", QT_KS_OPERATOR_MAX);
        return -1;
    }
    const char *b = text ? text : "";
    while (*b && isspace((unsigned char)*b))
        b++;
    size_t n = strlen(b);
    while (n > 0 && isspace((unsigned char)b[n - 1]))
        n--;
    if (n % 2 != 0 || n < 2 * QT_KS_KEY_MIN || n > 2 * QT_KS_KEY_MAX) {
        snprintf(err, errlen, "key for operator '%s' must be %d..%d hex digits (even count)",
                 name, 2 * QT_KS_KEY_MIN, 2 * QT_KS_KEY_MAX);
        return -1;
    }
    uint8_t key[QT_KS_KEY_MAX];
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(b[2 * i]), lo = hexval(b[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            OPENSSL_cleanse(key, sizeof key);
            snprintf(err, errlen, "key for operator '%s' is not hexadecimal", name);
            return -1;
        }
        key[i] = (uint8_t)(hi * 16 + lo);
    }
    int rc = qt_ks_keyring_add(self, name, key, n / 2);
    OPENSSL_cleanse(key, sizeof key);
    if (rc != 0)
        snprintf(err, errlen, "keyring full (%d operators)", KEYRING_MAX);
    return rc;
}

int qt_ks_keyring_add_file(qt_ks_keyring_t *self, const char *name, const char *path, char *err,
                           size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open key file: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        snprintf(err, errlen, "%s: not a regular file", path);
        return -1;
    }
    if (st.st_mode & 077) {
        fclose(f);
        snprintf(err, errlen, "%s: key file is accessible by group/other (chmod 600 it)", path);
        return -1;
    }
    char buf[2 * QT_KS_KEY_MAX + 64];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    bool more = fgetc(f) != EOF;
    fclose(f);
    buf[n] = '\0';
    int rc = -1;
    if (more || strlen(buf) != n) {
        snprintf(err, errlen, "%s: key file too long or binary", path);
    } else {
        char e2[160];
        rc = qt_ks_keyring_add_hex(self, name, buf, e2, sizeof e2);
        if (rc != 0)
            snprintf(err, errlen, "%s: %s", path, e2);
    }
    OPENSSL_cleanse(buf, sizeof buf);
    return rc;
}

int qt_ks_keyring_load_dir(qt_ks_keyring_t *self, const char *dir, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "%s: cannot open key directory: %s", dir, strerror(errno));
        return -1;
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n <= 4 || strcmp(de->d_name + n - 4, ".key") != 0)
            continue;
        char name[QT_KS_OPERATOR_MAX + 1];
        if (n - 4 > QT_KS_OPERATOR_MAX) {
            snprintf(err, errlen, "%s/%s: operator name too long", dir, de->d_name);
            rc = -1;
            break;
        }
        memcpy(name, de->d_name, n - 4);
        name[n - 4] = '\0';
        if (!qt_ks_operator_ok(name)) {
            snprintf(err, errlen, "%s/%s: bad operator name (expected [a-z0-9_]{1,%d}.key)",
                     dir, de->d_name, QT_KS_OPERATOR_MAX);
            rc = -1;
            break;
        }
        char path[4096];
        int pn = snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (pn < 0 || (size_t)pn >= sizeof path) {
            snprintf(err, errlen, "%s: path too long", dir);
            rc = -1;
            break;
        }
        rc = qt_ks_keyring_add_file(self, name, path, err, errlen);
    }
    closedir(d);
    return rc;
}

int qt_ks_keyring_load_env(qt_ks_keyring_t *self, char *err, size_t errlen)
{
    const char *dir = getenv("QT_OPERATOR_KEYS_DIR");
    if (dir && *dir && qt_ks_keyring_load_dir(self, dir, err, errlen) != 0)
        return -1;
    static const char prefix[] = "QT_OPERATOR_KEY_";
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, prefix, sizeof prefix - 1) != 0)
            continue;
        const char *nm = *e + sizeof prefix - 1;
        const char *eq = strchr(nm, '=');
        if (!eq)
            continue;
        size_t n = (size_t)(eq - nm);
        char name[QT_KS_OPERATOR_MAX + 1];
        bool ok = n >= 1 && n <= QT_KS_OPERATOR_MAX;
        for (size_t i = 0; ok && i < n; i++) {
            char c = nm[i];
            if (c >= 'A' && c <= 'Z')
                name[i] = (char)(c - 'A' + 'a');
            else if ((c >= '0' && c <= '9') || c == '_')
                name[i] = c;
            else
                ok = false;
        }
        if (!ok) {
            snprintf(err, errlen, "environment: bad operator key variable name (expected "
                                  "QT_OPERATOR_KEY_[A-Z0-9_]{1,%d})", QT_KS_OPERATOR_MAX);
            return -1;
        }
        name[n] = '\0';
        char e2[160];
        if (qt_ks_keyring_add_hex(self, name, eq + 1, e2, sizeof e2) != 0) {
            snprintf(err, errlen, "environment QT_OPERATOR_KEY_%.*s: %s", (int)n, nm, e2);
            return -1;
        }
    }
    return 0;
}

/* ---- tokens ---------------------------------------------------------------------- */

static bool hmac_hex(const uint8_t *key, size_t keylen, const char *msg,
                     char out[QT_KS_TOKEN_HEX + 1])
{
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    if (!HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, strlen(msg), mac,
              &maclen) ||
        maclen != 32)
        return false;
    static const char hx[] = "0123456789abcdef";
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hx[mac[i] >> 4];
        out[2 * i + 1] = hx[mac[i] & 15];
    }
    out[QT_KS_TOKEN_HEX] = '\0';
    return true;
}

/* The canonical message: every field that makes an approval mean something. */
static bool token_msg(qt_ks_tier_t target, uint64_t version, const char *name,
                      int64_t issued_at_ms, char *msg, size_t len)
{
    if (!tier_valid(target) || !qt_ks_operator_ok(name))
        return false;
    int n = snprintf(msg, len, "qt.killswitch.lower.v1|%s|%" PRIu64 "|%s|%" PRId64,
                     qt_ks_tier_name(target), version, name, issued_at_ms);
    return n > 0 && (size_t)n < len;
}

int qt_ks_sign(const qt_ks_keyring_t *self, qt_ks_tier_t target, uint64_t version,
               const char *name, int64_t issued_at_ms, char out[QT_KS_TOKEN_HEX + 1])
{
    const key_entry_t *k = find_key(self, name);
    char msg[160];
    if (!k || !token_msg(target, version, name, issued_at_ms, msg, sizeof msg))
        return -1;
    return hmac_hex(k->key, k->len, msg, out) ? 0 : -1;
}

bool qt_ks_verify(const qt_ks_keyring_t *self, qt_ks_tier_t target, uint64_t version,
                  const char *name, int64_t issued_at_ms, const char *token)
{
    if (!token || strnlen(token, QT_KS_TOKEN_HEX + 1) != QT_KS_TOKEN_HEX)
        return false;
    char want[QT_KS_TOKEN_HEX + 1];
    if (qt_ks_sign(self, target, version, name, issued_at_ms, want) != 0)
        return false;
    bool ok = CRYPTO_memcmp(want, token, QT_KS_TOKEN_HEX) == 0;
    OPENSSL_cleanse(want, sizeof want);
    return ok;
}

/* ---- transitions ----------------------------------------------------------------- */

static bool text_ok(const char *s, size_t max)
{
    if (!s)
        return false;
    size_t n = strnlen(s, max + 1);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

static bool trigger_ok(const char *t)
{
    if (!t)
        return false;
    for (size_t i = 0; i < sizeof TRIGGERS / sizeof TRIGGERS[0]; i++)
        if (strcmp(t, TRIGGERS[i]) == 0)
            return true;
    return false;
}

qt_ks_result_t qt_ks_raise(qt_ks_state_t *s, qt_ks_pending_t *p, qt_ks_tier_t tier,
                           const char *trigger, const char *who, const char *why,
                           int64_t now_ms)
{
    if (!tier_valid(tier) || !trigger_ok(trigger) || !text_ok(who, QT_KS_WHO_MAX) ||
        !text_ok(why, QT_KS_WHY_MAX) || s->version == UINT64_MAX)
        return QT_KS_BAD_ARG;
    qt_ks_tier_t cur = qt_ks_effective(s);
    /* Absent acts as NO_NEW: writing NO_NEW materialises it; anything lower would be a
     * lowering without approvals. */
    bool higher = s->present ? tier > cur : tier >= cur;
    if (!higher)
        return QT_KS_NOT_HIGHER;
    qt_ks_state_t n;
    qt_ks_state_init(&n);
    n.present = true;
    n.tier = tier;
    n.version = s->version + 1;
    snprintf(n.set_by, sizeof n.set_by, "%s", who);
    snprintf(n.reason, sizeof n.reason, "%s", why);
    n.set_at_ms = now_ms;
    snprintf(n.trigger, sizeof n.trigger, "%s", trigger);
    n.previous_tier = s->present ? cur : QT__V1__KILL_SWITCH_TIER__KS_UNKNOWN;
    *s = n;
    qt_ks_pending_init(p);
    return QT_KS_RAISED;
}

static bool fresh(int64_t issued_at_ms, int64_t window_ms, int64_t now_ms)
{
    /* 128-bit difference: hostile issued_at values cannot overflow it. */
    __int128 d = (__int128)now_ms - issued_at_ms;
    return d >= -(__int128)QT_KS_MAX_SKEW_MS && d <= window_ms;
}

qt_ks_result_t qt_ks_approve_lower(qt_ks_state_t *s, qt_ks_pending_t *p,
                                   const qt_ks_keyring_t *keys, int64_t window_ms,
                                   qt_ks_tier_t target, const char *name,
                                   int64_t issued_at_ms, const char *token, const char *why,
                                   int64_t now_ms)
{
    if (!tier_valid(target) || !qt_ks_operator_ok(name) || !text_ok(why, QT_KS_WHY_MAX) ||
        window_ms <= 0 || s->version == UINT64_MAX)
        return QT_KS_BAD_ARG;
    qt_ks_tier_t cur = qt_ks_effective(s);
    if (target >= cur)
        return QT_KS_NOT_LOWER;
    if (!qt_ks_keyring_has(keys, name))
        return QT_KS_UNKNOWN_OPERATOR;
    if (!qt_ks_verify(keys, target, s->version, name, issued_at_ms, token))
        return QT_KS_BAD_TOKEN;
    if (!fresh(issued_at_ms, window_ms, now_ms))
        return QT_KS_EXPIRED;
    /* The pending approval counts only if it is for this very change, still within the
     * window, and its token still verifies (the store is not trusted). */
    bool pending_ok = p->present && p->version == s->version && p->target == target &&
                      qt_ks_operator_ok(p->operator_name) &&
                      fresh(p->recorded_at_ms, window_ms, now_ms) &&
                      fresh(p->issued_at_ms, window_ms, now_ms) &&
                      qt_ks_verify(keys, p->target, p->version, p->operator_name,
                                   p->issued_at_ms, p->token);
    if (pending_ok && strcmp(p->operator_name, name) == 0)
        return QT_KS_SAME_OPERATOR;
    if (!pending_ok) {
        qt_ks_pending_t n;
        qt_ks_pending_init(&n);
        n.present = true;
        n.target = target;
        n.version = s->version;
        set_name(n.operator_name, name);
        n.issued_at_ms = issued_at_ms;
        n.recorded_at_ms = now_ms;
        snprintf(n.token, sizeof n.token, "%s", token);
        *p = n;
        return QT_KS_RECORDED;
    }
    qt_ks_state_t n;
    qt_ks_state_init(&n);
    n.present = true;
    n.tier = target;
    n.version = s->version + 1;
    snprintf(n.set_by, sizeof n.set_by, "%s+%s", p->operator_name, name);
    snprintf(n.reason, sizeof n.reason, "%s", why);
    n.set_at_ms = now_ms;
    snprintf(n.trigger, sizeof n.trigger, "approval");
    n.previous_tier = cur;
    set_name(n.approved_by[0], p->operator_name);
    set_name(n.approved_by[1], name);
    n.n_approved_by = 2;
    *s = n;
    qt_ks_pending_init(p);
    return QT_KS_LOWERED;
}

/* ---- store-driven operations ------------------------------------------------------- */

qt_ks_tier_t qt_ks_store_read(const qt_ks_store_t *st, qt_ks_state_t *s, qt_ks_pending_t *p)
{
    qt_ks_state_t ls;
    qt_ks_pending_t lp;
    if (!st || !st->load || st->load(st->ctx, &ls, &lp) != 0) {
        qt_ks_state_init(&ls);   /* absent-like: NO_NEW */
        qt_ks_pending_init(&lp);
        if (s)
            *s = ls;
        if (p)
            *p = lp;
        return QT__V1__KILL_SWITCH_TIER__KS_NO_NEW;
    }
    if (s)
        *s = ls;
    if (p)
        *p = lp;
    return qt_ks_effective(&ls);
}

typedef struct {
    bool raise;
    qt_ks_tier_t tier;
    const char *trigger, *who, *why, *name, *token;
    const qt_ks_keyring_t *keys;
    int64_t window_ms, issued_at_ms, now_ms;
} op_t;

/* A raise over an invalid stored state: it reads as NO_NEW, so only NO_NEW and above are
 * raises; the store replaces the garbage unless a valid, higher tier appeared meanwhile. */
static qt_ks_result_t force_raise(const qt_ks_store_t *st, const op_t *op, qt_ks_state_t *s,
                                  qt_ks_pending_t *p)
{
    qt_ks_state_t n;
    qt_ks_pending_t np;
    qt_ks_state_init(&n);
    qt_ks_pending_init(&np);
    qt_ks_state_init(s);
    qt_ks_pending_init(p);
    qt_ks_result_t r = qt_ks_raise(&n, &np, op->tier, op->trigger, op->who, op->why, op->now_ms);
    if (r != QT_KS_RAISED)
        return r;   /* BAD_ARG, or NOT_HIGHER for a tier below NO_NEW */
    if (!st->force_raise)
        return QT_KS_STORE_ERROR;
    n.previous_tier = QT__V1__KILL_SWITCH_TIER__KS_UNKNOWN;
    int64_t v = st->force_raise(st->ctx, &n);   /* may raise n.tier, set previous_tier */
    if (v <= 0)
        return QT_KS_STORE_ERROR;
    n.version = (uint64_t)v;
    *s = n;
    return QT_KS_RAISED;
}

static qt_ks_result_t store_op(const qt_ks_store_t *st, const op_t *op, qt_ks_state_t *out,
                               qt_ks_pending_t *pout)
{
    qt_ks_state_t s;
    qt_ks_pending_t p;
    qt_ks_state_init(&s);
    qt_ks_pending_init(&p);
    qt_ks_result_t r = QT_KS_CONFLICT;
    for (int attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
        int lr = st && st->load && st->cas ? st->load(st->ctx, &s, &p) : -1;
        if (lr == -2 && op->raise) {
            r = force_raise(st, op, &s, &p);
            break;
        }
        if (lr != 0) {
            qt_ks_state_init(&s);
            qt_ks_pending_init(&p);
            r = QT_KS_STORE_ERROR;
            break;
        }
        const uint64_t v0 = s.version;
        char tok0[QT_KS_TOKEN_HEX + 1];
        snprintf(tok0, sizeof tok0, "%s", p.token);
        qt_ks_state_t ns = s;
        qt_ks_pending_t np = p;
        r = op->raise ? qt_ks_raise(&ns, &np, op->tier, op->trigger, op->who, op->why,
                                    op->now_ms)
                      : qt_ks_approve_lower(&ns, &np, op->keys, op->window_ms, op->tier,
                                            op->name, op->issued_at_ms, op->token, op->why,
                                            op->now_ms);
        if (r != QT_KS_RAISED && r != QT_KS_RECORDED && r != QT_KS_LOWERED)
            break;   /* refused: nothing to write, *out = the current state */
        int c = st->cas(st->ctx, v0, tok0, r != QT_KS_RECORDED, &ns, &np);
        if (c < 0) {
            r = QT_KS_STORE_ERROR;
            break;
        }
        if (c == 1) {
            s = ns;
            p = np;
            break;
        }
        r = QT_KS_CONFLICT;   /* someone changed it: reload and decide again */
    }
    if (out)
        *out = s;
    if (pout)
        *pout = p;
    return r;
}

qt_ks_result_t qt_ks_store_raise(const qt_ks_store_t *st, qt_ks_tier_t tier,
                                 const char *trigger, const char *who, const char *why,
                                 int64_t now_ms, qt_ks_state_t *out)
{
    op_t op = {.raise = true, .tier = tier, .trigger = trigger, .who = who, .why = why,
               .now_ms = now_ms};
    return store_op(st, &op, out, NULL);
}

qt_ks_result_t qt_ks_store_approve(const qt_ks_store_t *st, const qt_ks_keyring_t *keys,
                                   int64_t window_ms, qt_ks_tier_t target, const char *name,
                                   int64_t issued_at_ms, const char *token, const char *why,
                                   int64_t now_ms, qt_ks_state_t *out, qt_ks_pending_t *pout)
{
    op_t op = {.raise = false, .tier = target, .name = name, .token = token, .why = why,
               .keys = keys, .window_ms = window_ms, .issued_at_ms = issued_at_ms,
               .now_ms = now_ms};
    return store_op(st, &op, out, pout);
}

/* ---- Redis store -------------------------------------------------------------------- */

static bool copy_str(char *dst, size_t cap, const redisReply *v)
{
    if (v->len >= cap || strlen(v->str) != v->len)
        return false;
    memcpy(dst, v->str, v->len);
    dst[v->len] = '\0';
    return true;
}

static bool parse_tier(const redisReply *v, bool allow_unknown, qt_ks_tier_t *out)
{
    char name[32];
    if (!copy_str(name, sizeof name, v) || qt_ks_tier_parse(name, out) != 0)
        return false;
    return allow_unknown || tier_valid(*out);
}

/* "a,b" -> approved_by. */
static bool parse_approved(const redisReply *v, qt_ks_state_t *s)
{
    char buf[2 * QT_KS_OPERATOR_MAX + 2];
    if (!copy_str(buf, sizeof buf, v))
        return false;
    s->n_approved_by = 0;
    if (buf[0] == '\0')
        return true;
    char *comma = strchr(buf, ',');
    if (comma)
        *comma = '\0';
    if (!qt_ks_operator_ok(buf) || (comma && !qt_ks_operator_ok(comma + 1)))
        return false;
    set_name(s->approved_by[0], buf);
    s->n_approved_by = 1;
    if (comma) {
        set_name(s->approved_by[1], comma + 1);
        s->n_approved_by = 2;
    }
    return true;
}

static int load_state(qt_redis_t *r, qt_ks_state_t *s)
{
    qt_ks_state_init(s);
    redisReply *rep = qt_redis_cmd(r, "HGETALL %s", KS_KEY);
    if (!rep)
        return -1;
    int rc = 0;
    unsigned have = 0;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements % 2 != 0) {
        rc = -2;   /* e.g. WRONGTYPE: answered, but not a valid state */
    } else if (rep->elements > 0) {
        s->present = true;
        for (size_t i = 0; i < rep->elements && rc == 0; i += 2) {
            const redisReply *k = rep->element[i], *v = rep->element[i + 1];
            if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) {
                rc = -2;
                break;
            }
            bool ok = true;
            if (strcmp(k->str, "tier") == 0) {
                ok = parse_tier(v, false, &s->tier);
                have |= 1;
            } else if (strcmp(k->str, "version") == 0) {
                ok = qt_redis_parse_u64n(v->str, v->len, &s->version);
                have |= 2;
            } else if (strcmp(k->str, "set_by") == 0) {
                ok = copy_str(s->set_by, sizeof s->set_by, v);
                have |= 4;
            } else if (strcmp(k->str, "reason") == 0) {
                ok = copy_str(s->reason, sizeof s->reason, v);
                have |= 8;
            } else if (strcmp(k->str, "set_at_ms") == 0) {
                ok = qt_redis_parse_i64n(v->str, v->len, &s->set_at_ms);
                have |= 16;
            } else if (strcmp(k->str, "trigger") == 0) {
                /* informational fields: a bad value is dropped, not fatal */
                if (!copy_str(s->trigger, sizeof s->trigger, v))
                    s->trigger[0] = '\0';
            } else if (strcmp(k->str, "previous_tier") == 0) {
                if (!parse_tier(v, true, &s->previous_tier))
                    s->previous_tier = QT__V1__KILL_SWITCH_TIER__KS_UNKNOWN;
            } else if (strcmp(k->str, "approved_by") == 0) {
                if (!parse_approved(v, s))
                    s->n_approved_by = 0;
            }
            if (!ok)
                rc = -2;
        }
        if (rc == 0 && have != 31)
            rc = -2;   /* the fields qt_redis_killswitch_read requires */
    }
    freeReplyObject(rep);
    return rc;
}

static int load_pending(qt_redis_t *r, qt_ks_pending_t *p)
{
    qt_ks_pending_init(p);
    redisReply *rep = qt_redis_cmd(r, "HGETALL %s", KS_PENDING_KEY);
    if (!rep)
        return -1;
    int rc = 0;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements % 2 != 0) {
        rc = -1;
    } else if (rep->elements > 0) {
        unsigned have = 0;
        bool ok = true;
        for (size_t i = 0; i < rep->elements; i += 2) {
            const redisReply *k = rep->element[i], *v = rep->element[i + 1];
            if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) {
                rc = -1;
                break;
            }
            if (strcmp(k->str, "token") == 0) {
                /* kept even when the rest is bad: it is the CAS guard */
                if (!copy_str(p->token, sizeof p->token, v))
                    rc = -1;
                have |= 1;
            } else if (strcmp(k->str, "target") == 0) {
                ok = ok && parse_tier(v, false, &p->target);
                have |= 2;
            } else if (strcmp(k->str, "version") == 0) {
                ok = ok && qt_redis_parse_u64n(v->str, v->len, &p->version);
                have |= 4;
            } else if (strcmp(k->str, "operator") == 0) {
                ok = ok && copy_str(p->operator_name, sizeof p->operator_name, v);
                have |= 8;
            } else if (strcmp(k->str, "issued_at_ms") == 0) {
                ok = ok && qt_redis_parse_i64n(v->str, v->len, &p->issued_at_ms);
                have |= 16;
            } else if (strcmp(k->str, "recorded_at_ms") == 0) {
                ok = ok && qt_redis_parse_i64n(v->str, v->len, &p->recorded_at_ms);
                have |= 32;
            }
        }
        /* A malformed pending approval is ignored (it can never count), not fatal. */
        p->present = rc == 0 && ok && have == 63;
    }
    freeReplyObject(rep);
    return rc;
}

static int redis_load(void *ctx, qt_ks_state_t *s, qt_ks_pending_t *p)
{
    qt_redis_t *r = ctx;
    int rc = load_state(r, s);
    if (rc != 0)
        return rc;
    return load_pending(r, p) == 0 ? 0 : -1;
}

/* KEYS: state, pending. ARGV: tier rank, set_by, reason, set_at_ms, trigger. Replaces
 * whatever is stored by a valid state whose tier is the higher of ours and a valid
 * stored one (so a raise never lowers). Returns {version, tier written, previous tier}
 * (tiers as KillSwitchTier numbers, 0 = UNKNOWN). */
static const char KS_FORCE_LUA[] =
    "local rank = {NORMAL=1, WARN=2, THROTTLE=3, NO_NEW=4, FLATTEN_ALL=5}\n"
    "local name = {'NORMAL', 'WARN', 'THROTTLE', 'NO_NEW', 'FLATTEN_ALL'}\n"
    "local v = 0\n"
    "local t = tonumber(ARGV[1])\n"
    "local prev = 'UNKNOWN'\n"
    "local prank = 0\n"
    "if redis.call('TYPE', KEYS[1])['ok'] == 'hash' then\n"
    "  local old = redis.call('HGET', KEYS[1], 'tier')\n"
    "  local ver = redis.call('HGET', KEYS[1], 'version')\n"
    "  if old and rank[old] then\n"
    "    prev = old\n"
    "    prank = rank[old]\n"
    "    if rank[old] > t then t = rank[old] end\n"
    "  end\n"
    "  if ver and string.match(ver, '^%d+$') and string.len(ver) < 16 then\n"
    "    v = tonumber(ver)\n"
    "  end\n"
    "end\n"
    "v = v + 1\n"
    "redis.call('DEL', KEYS[1], KEYS[2])\n"
    "redis.call('HSET', KEYS[1], 'tier', name[t], 'version', string.format('%d', v),"
    " 'set_by', ARGV[2], 'reason', ARGV[3], 'set_at_ms', ARGV[4], 'trigger', ARGV[5],"
    " 'previous_tier', prev, 'approved_by', '')\n"
    "return {v, t, prank}\n";

static int64_t redis_force_raise(void *ctx, qt_ks_state_t *s)
{
    qt_redis_t *r = ctx;
    char rank[8], at[24];
    snprintf(rank, sizeof rank, "%d", (int)s->tier);
    snprintf(at, sizeof at, "%" PRId64, s->set_at_ms);
    const char *argv[] = {"EVAL", KS_FORCE_LUA, "2", KS_KEY, KS_PENDING_KEY, rank,
                          s->set_by, s->reason, at, s->trigger};
    redisReply *rep = qt_redis_cmdargv(r, (int)(sizeof argv / sizeof argv[0]), argv, NULL);
    int64_t rc = -1;
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 &&
        rep->element[0]->type == REDIS_REPLY_INTEGER &&
        rep->element[1]->type == REDIS_REPLY_INTEGER &&
        rep->element[2]->type == REDIS_REPLY_INTEGER && rep->element[0]->integer > 0 &&
        tier_valid((qt_ks_tier_t)rep->element[1]->integer) &&
        rep->element[1]->integer >= (long long)s->tier &&
        (rep->element[2]->integer == 0 ||
         tier_valid((qt_ks_tier_t)rep->element[2]->integer))) {
        rc = rep->element[0]->integer;
        s->tier = (qt_ks_tier_t)rep->element[1]->integer;
        s->previous_tier = (qt_ks_tier_t)rep->element[2]->integer;
    }
    if (rep)
        freeReplyObject(rep);
    return rc;
}

/* KEYS: state, pending. ARGV: expect_version, expect_token, write_state, write_pending,
 * tier, version, set_by, reason, set_at_ms, trigger, previous_tier, approved_by,
 * p_target, p_version, p_operator, p_issued_at_ms, p_recorded_at_ms, p_token. */
static const char KS_CAS_LUA[] =
    "local v = redis.call('HGET', KEYS[1], 'version')\n"
    "if not v then v = '0' end\n"
    "if v ~= ARGV[1] then return 0 end\n"
    "local t = redis.call('HGET', KEYS[2], 'token')\n"
    "if not t then t = '' end\n"
    "if t ~= ARGV[2] then return 0 end\n"
    "if ARGV[3] == '1' then\n"
    "  redis.call('DEL', KEYS[1])\n"
    "  redis.call('HSET', KEYS[1], 'tier', ARGV[5], 'version', ARGV[6], 'set_by', ARGV[7],"
    " 'reason', ARGV[8], 'set_at_ms', ARGV[9], 'trigger', ARGV[10], 'previous_tier',"
    " ARGV[11], 'approved_by', ARGV[12])\n"
    "end\n"
    "redis.call('DEL', KEYS[2])\n"
    "if ARGV[4] == '1' then\n"
    "  redis.call('HSET', KEYS[2], 'target', ARGV[13], 'version', ARGV[14], 'operator',"
    " ARGV[15], 'issued_at_ms', ARGV[16], 'recorded_at_ms', ARGV[17], 'token', ARGV[18])\n"
    "end\n"
    "return 1\n";

static int redis_cas(void *ctx, uint64_t expect_version, const char *expect_token,
                     bool write_state, const qt_ks_state_t *s, const qt_ks_pending_t *p)
{
    qt_redis_t *r = ctx;
    char ev[24], ver[24], at[24], pver[24], piss[24], prec[24];
    char approved[2 * QT_KS_OPERATOR_MAX + 2] = "";
    snprintf(ev, sizeof ev, "%" PRIu64, expect_version);
    snprintf(ver, sizeof ver, "%" PRIu64, s->version);
    snprintf(at, sizeof at, "%" PRId64, s->set_at_ms);
    snprintf(pver, sizeof pver, "%" PRIu64, p->version);
    snprintf(piss, sizeof piss, "%" PRId64, p->issued_at_ms);
    snprintf(prec, sizeof prec, "%" PRId64, p->recorded_at_ms);
    if (s->n_approved_by == 2)
        snprintf(approved, sizeof approved, "%s,%s", s->approved_by[0], s->approved_by[1]);
    else if (s->n_approved_by == 1)
        snprintf(approved, sizeof approved, "%s", s->approved_by[0]);
    const char *argv[] = {"EVAL", KS_CAS_LUA, "2", KS_KEY, KS_PENDING_KEY, ev, expect_token,
                          write_state ? "1" : "0", p->present ? "1" : "0",
                          qt_ks_tier_name(s->tier), ver, s->set_by, s->reason, at, s->trigger,
                          qt_ks_tier_name(s->previous_tier), approved,
                          qt_ks_tier_name(p->target), pver, p->operator_name, piss, prec,
                          p->token};
    redisReply *rep = qt_redis_cmdargv(r, (int)(sizeof argv / sizeof argv[0]), argv, NULL);
    int rc = -1;
    if (rep && rep->type == REDIS_REPLY_INTEGER)
        rc = rep->integer == 1 ? 1 : 0;
    if (rep)
        freeReplyObject(rep);
    return rc;
}

void qt_ks_store_redis(qt_ks_store_t *st, qt_redis_t *redis)
{
    st->load = redis_load;
    st->cas = redis_cas;
    st->force_raise = redis_force_raise;
    st->ctx = redis;
}

void qt_ks_state_to_proto(const qt_ks_state_t *s, Qt__V1__KillSwitch *pb, char *names[2])
{
    Qt__V1__KillSwitch init = QT__V1__KILL_SWITCH__INIT;
    *pb = init;
    pb->tier = qt_ks_effective(s);
    pb->version = s->version;
    pb->set_by = (char *)s->set_by;
    pb->reason = (char *)s->reason;
    pb->set_at_ms = s->set_at_ms;
    pb->trigger = (char *)s->trigger;
    pb->previous_tier = s->previous_tier;
    for (size_t i = 0; i < s->n_approved_by && i < 2; i++)
        names[i] = (char *)s->approved_by[i];
    pb->n_approved_by = s->n_approved_by;
    pb->approved_by = s->n_approved_by ? names : NULL;
}

/* ---- self-test ------------------------------------------------------------------------ */

int qt_killswitch_selftest(bool verbose)
{
    int fails = 0;
#define CHECK(c)                                                                            \
    do {                                                                                    \
        if (!(c)) {                                                                         \
            fails++;                                                                        \
            if (verbose)                                                                    \
                fprintf(stderr, "qt_killswitch selftest: %s:%d: %s\n", __FILE__, __LINE__,  \
                        #c);                                                                \
        }                                                                                   \
    } while (0)
    /* RFC 4231 test case 1. */
    uint8_t k1[20];
    memset(k1, 0x0b, sizeof k1);
    char hex[QT_KS_TOKEN_HEX + 1];
    CHECK(hmac_hex(k1, sizeof k1, "Hi There", hex) &&
          strcmp(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7") == 0);
    /* The canonical message (cross-checked with `openssl dgst -sha256 -mac HMAC`). */
    qt_ks_keyring_t *kr = qt_ks_keyring_new();
    CHECK(kr != NULL);
    if (kr) {
        char err[200];
        CHECK(qt_ks_keyring_add_hex(kr, "alice", " 000102030405060708090a0b0c0d0e0f\n", err,
                                    sizeof err) == 0);
        CHECK(qt_ks_sign(kr, QT__V1__KILL_SWITCH_TIER__KS_NORMAL, 7, "alice", 1700000000000,
                         hex) == 0 &&
              strcmp(hex, "ae26c306a085aa905b0e36ac784971b732ee5db70d4719a3fc96bd089b1073f1") ==
                  0);
        CHECK(qt_ks_verify(kr, QT__V1__KILL_SWITCH_TIER__KS_NORMAL, 7, "alice", 1700000000000,
                           hex));
        CHECK(!qt_ks_verify(kr, QT__V1__KILL_SWITCH_TIER__KS_WARN, 7, "alice", 1700000000000,
                            hex));
        CHECK(!qt_ks_verify(kr, QT__V1__KILL_SWITCH_TIER__KS_NORMAL, 8, "alice", 1700000000000,
                            hex));
        CHECK(qt_ks_keyring_add_hex(kr, "Bob", "000102030405060708090a0b0c0d0e0f", err,
                                    sizeof err) == -1);
        CHECK(qt_ks_keyring_add_hex(kr, "bob", "0001020304050607", err, sizeof err) == -1);
        CHECK(qt_ks_keyring_add_hex(kr, "bob", "zz0102030405060708090a0b0c0d0e0f", err,
                                    sizeof err) == -1);
        CHECK(qt_ks_keyring_size(kr) == 1 && !qt_ks_keyring_has(kr, "bob"));
        qt_ks_keyring_destroy(&kr);
        CHECK(kr == NULL);
    }
    qt_ks_state_t s;
    qt_ks_pending_t p;
    qt_ks_state_init(&s);
    qt_ks_pending_init(&p);
    CHECK(qt_ks_effective(&s) == QT__V1__KILL_SWITCH_TIER__KS_NO_NEW);
    CHECK(qt_ks_raise(&s, &p, QT__V1__KILL_SWITCH_TIER__KS_NORMAL, "operator", "a", "b", 1) ==
          QT_KS_NOT_HIGHER);
    CHECK(qt_ks_raise(&s, &p, QT__V1__KILL_SWITCH_TIER__KS_NO_NEW, "bogus", "a", "b", 1) ==
          QT_KS_BAD_ARG);
    CHECK(qt_ks_raise(&s, &p, QT__V1__KILL_SWITCH_TIER__KS_NO_NEW, "operator", "a", "b", 1) ==
          QT_KS_RAISED);
    CHECK(s.present && s.version == 1 && s.tier == QT__V1__KILL_SWITCH_TIER__KS_NO_NEW);
    CHECK(qt_ks_raise(&s, &p, QT__V1__KILL_SWITCH_TIER__KS_NO_NEW, "operator", "a", "b", 1) ==
          QT_KS_NOT_HIGHER);
#undef CHECK
    return fails;
}
