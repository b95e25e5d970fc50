/* Unit tests for qt_killswitch: the two-person lowering rule, HMAC tokens and key
 * loading, and a seeded property-based state-machine test.
 *
 * The property test drives the real transitions through an in-memory store (with
 * outages and restarts: the store is rebuilt from its persisted byte image and the
 * keyring is reloaded from the key directory) over random sequences of raises,
 * approvals (valid, forged with another operator's key, random bytes, replayed from an
 * earlier version or tier, the same operator twice, expired, issued in the future, an
 * operator without a key) and clock steps. An independent model (its own HMAC over the
 * documented canonical message, its own pending/window logic) predicts every result;
 * after every step the test checks that
 *  - the result, tier, version and pending approval equal the model's;
 *  - the tier never went down except by LOWERED, whose two approvers are distinct
 *    operators who each submitted a valid token for that version and target within the
 *    window;
 *  - a read while the store is unreadable reports NO_NEW (never NORMAL). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "qt_killswitch.h"
#include "qt_rng.h"

#define NORMAL QT__V1__KILL_SWITCH_TIER__KS_NORMAL
#define WARN QT__V1__KILL_SWITCH_TIER__KS_WARN
#define THROTTLE QT__V1__KILL_SWITCH_TIER__KS_THROTTLE
#define NO_NEW QT__V1__KILL_SWITCH_TIER__KS_NO_NEW
#define FLATTEN QT__V1__KILL_SWITCH_TIER__KS_FLATTEN_ALL
#define WINDOW_MS 300000LL
#define T0 1700000000000LL

/* ---- test keys (the verifier's key directory and an outsider) ------------------- */

static const char *const OPS[] = {"alice", "bob", "carol"};
#define N_OPS 3
static uint8_t g_keys[N_OPS + 1][32];   /* [N_OPS] = mallory, not in the keyring */
static char g_dir[256];

static void hex_of(const uint8_t *b, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[b[i] >> 4];
        out[2 * i + 1] = hx[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static int setup_keys(void **state)
{
    (void)state;
    qt_rng_t r;
    qt_rng_seed(&r, 4242);
    for (size_t i = 0; i <= N_OPS; i++)
        for (size_t j = 0; j < 32; j++)
            g_keys[i][j] = (uint8_t)qt_rng_below(&r, 256);
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/qt-ks-test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir))
        return -1;
    for (size_t i = 0; i < N_OPS; i++) {
        char path[512], hex[65];
        snprintf(path, sizeof path, "%s/%s.key", g_dir, OPS[i]);
        FILE *f = fopen(path, "w");
        if (!f)
            return -1;
        hex_of(g_keys[i], 32, hex);
        fprintf(f, "%s\n", hex);
        fclose(f);
        chmod(path, 0600);
    }
    return 0;
}

static int teardown_keys(void **state)
{
    (void)state;
    char path[512];
    for (size_t i = 0; i < N_OPS; i++) {
        snprintf(path, sizeof path, "%s/%s.key", g_dir, OPS[i]);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/loose.key", g_dir);
    unlink(path);
    rmdir(g_dir);
    return 0;
}

static qt_ks_keyring_t *load_keyring(void)
{
    qt_ks_keyring_t *kr = qt_ks_keyring_new();
    assert_non_null(kr);
    char err[256] = "";
    int rc = qt_ks_keyring_load_dir(kr, g_dir, err, sizeof err);
    if (rc != 0)
        fail_msg("load_dir: %s", err);
    assert_int_equal(qt_ks_keyring_size(kr), N_OPS);
    return kr;
}

/* The model's own HMAC over the documented canonical message. */
static void model_token(const uint8_t key[32], qt_ks_tier_t target, uint64_t version,
                        const char *op, int64_t issued, char out[65])
{
    char msg[200];
    snprintf(msg, sizeof msg, "qt.killswitch.lower.v1|%s|%" PRIu64 "|%s|%" PRId64,
             qt_ks_tier_name(target), version, op, issued);
    uint8_t mac[32];
    unsigned int len = 0;
    assert_non_null(HMAC(EVP_sha256(), key, 32, (const unsigned char *)msg, strlen(msg), mac,
                         &len));
    assert_int_equal(len, 32);
    hex_of(mac, 32, out);
}

/* ---- in-memory store with outages and restarts ------------------------------------ */

typedef struct {
    bool outage;
    bool corrupt;     /* the stored state is garbage (tampered): load says -2 */
    qt_ks_state_t s;
    qt_ks_pending_t p;
    uint64_t cas_calls;
} mem_store_t;

static int mem_load(void *ctx, qt_ks_state_t *s, qt_ks_pending_t *p)
{
    mem_store_t *m = ctx;
    if (m->outage)
        return -1;
    if (m->corrupt)
        return -2;
    *s = m->s;
    *p = m->p;
    return 0;
}

static int mem_cas(void *ctx, uint64_t ev, const char *et, bool write_state,
                   const qt_ks_state_t *s, const qt_ks_pending_t *p)
{
    mem_store_t *m = ctx;
    m->cas_calls++;
    if (m->outage)
        return -1;
    if (m->corrupt || m->s.version != ev || strcmp(m->p.token, et) != 0)
        return 0;
    if (write_state)
        m->s = *s;
    if (p->present)
        m->p = *p;
    else
        qt_ks_pending_init(&m->p);
    return 1;
}

/* Like the Redis script: replaces the garbage, keeping the version counter going. */
static int64_t mem_force(void *ctx, qt_ks_state_t *s)
{
    mem_store_t *m = ctx;
    if (m->outage)
        return -1;
    assert_true(m->corrupt);
    m->corrupt = false;
    /* (Redis keeps a still-valid higher tier field: modelled by the intact m->s) */
    if (m->s.present && m->s.tier > s->tier)
        s->tier = m->s.tier;
    s->version = m->s.version + 1;
    m->s = *s;
    qt_ks_pending_init(&m->p);
    return (int64_t)s->version;
}

static void mem_store(qt_ks_store_t *st, mem_store_t *m)
{
    st->load = mem_load;
    st->cas = mem_cas;
    st->force_raise = mem_force;
    st->ctx = m;
}

/* Restart: the store comes back from its persisted byte image (as Redis from its AOF);
 * the outage flag is a property of the moment, not of the data. */
static void mem_restart(mem_store_t *m)
{
    uint8_t image[sizeof m->s + sizeof m->p];
    memcpy(image, &m->s, sizeof m->s);
    memcpy(image + sizeof m->s, &m->p, sizeof m->p);
    bool outage = m->outage, corrupt = m->corrupt;
    memset(m, 0xa5, sizeof *m);
    memcpy(&m->s, image, sizeof m->s);
    memcpy(&m->p, image + sizeof m->s, sizeof m->p);
    m->outage = outage;
    m->corrupt = corrupt;
    m->cas_calls = 0;
}

/* ---- deterministic scenarios -------------------------------------------------------- */

static void test_selftest(void **state)
{
    (void)state;
    assert_int_equal(qt_killswitch_selftest(true), 0);
}

static void test_two_distinct_operators_lower(void **state)
{
    (void)state;
    qt_ks_keyring_t *kr = load_keyring();
    mem_store_t m = {0};
    qt_ks_state_init(&m.s);
    qt_ks_pending_init(&m.p);
    qt_ks_store_t st;
    mem_store(&st, &m);
    qt_ks_state_t s;
    qt_ks_pending_t p;
    char tok[65];
    /* Absent reads NO_NEW; one operator cannot make it NORMAL. */
    assert_int_equal(qt_ks_store_read(&st, &s, &p), NO_NEW);
    assert_int_equal(qt_ks_store_raise(&st, NORMAL, "operator", "alice", "go", T0, &s),
                     QT_KS_NOT_HIGHER);
    model_token(g_keys[0], NORMAL, 0, "alice", T0, tok);
    assert_int_equal(qt_ks_store_approve(&st, kr, WINDOW_MS, NORMAL, "alice", T0, tok, "start",
                                         T0, &s, &p),
                     QT_KS_RECORDED);
    assert_int_equal(qt_ks_store_read(&st, &s, &p), NO_NEW);
    assert_true(p.present && strcmp(p.operator_name, "alice") == 0 && p.version == 0);
    /* alice again (a fresh token) does not count twice */
    model_token(g_keys[0], NORMAL, 0, "alice", T0 + 1000, tok);
    assert_int_equal(qt_ks_store_approve(&st, kr, WINDOW_MS, NORMAL, "alice", T0 + 1000, tok,
                                         "start", T0 + 1000, &s, &p),
                     QT_KS_SAME_OPERATOR);
    /* bob's token presented as carol's: forged */
    model_token(g_keys[1], NORMAL, 0, "carol", T0 + 2000, tok);
    assert_int_equal(qt_ks_store_approve(&st, kr, WINDOW_MS, NORMAL, "carol", T0 + 2000, tok,
                                         "start", T0 + 2000, &s, &p),
                     QT_KS_BAD_TOKEN);
    /* bob, valid: lowered */
    model_token(g_keys[1], NORMAL, 0, "bob", T0 + 3000, tok);
    assert_int_equal(qt_ks_store_approve(&st, kr, WINDOW_MS, NORMAL, "bob", T0 + 3000, tok,
                                         "start", T0 + 3000, &s, &p),
                     QT_KS_LOWERED);
    assert_int_equal(qt_ks_store_read(&st, &s, &p), NORMAL);
    assert_int_equal(s.version, 1);
    assert_string_equal(s.trigger, "approval");
    assert_int_equal(s.n_approved_by, 2);
    assert_string_equal(s.approved_by[0], "alice");
    assert_string_equal(s.approved_by[1], "bob");
    assert_string_equal(s.set_by, "alice+bob");
    assert_int_equal(s.previous_tier, NO_NEW);
    assert_false(p.present);
    /* bob's token replayed: it was for version 0 */
    assert_int_equal(qt_ks_store_raise(&st, FLATTEN, "drawdown", "qt-risk", "dd 12%", T0 + 4000,
                                       &s),
                     QT_KS_RAISED);
    assert_int_equal(s.version, 2);
    assert_int_equal(s.previous_tier, NORMAL);
    assert_int_equal(qt_ks_store_approve(&st, kr, WINDOW_MS, NORMAL, "bob", T0 + 3000, tok,
                                         "again", T0 + 5000, &s, &p),
                     QT_KS_BAD_TOKEN);
    /* Proto mirror carries trigger, approvers and the previous tier. */
    Qt__V1__KillSwitch pb;
    char *names[2];
    qt_ks_state_to_proto(&s, &pb, names);
    assert_int_equal(pb.tier, FLATTEN);
    assert_int_equal(pb.previous_tier, NORMAL);
    assert_string_equal(pb.trigger, "drawdown");
    assert_int_equal(pb.n_approved_by, 0);
    /* Second approval outside the window of the first: only re-recorded. */
    model_token(g_keys[2], NO_NEW, 2, "carol", T0 + 6000, tok);
    assert_int_equal(qt_ks_store_approve(&st, kr, WINDOW_MS, NO_NEW, "carol", T0 + 6000, tok,
                                         "ok", T0 + 6000, &s, &p),
                     QT_KS_RECORDED);
    int64_t late = T0 + 6000 + WINDOW_MS + 1;
    model_token(g_keys[0], NO_NEW, 2, "alice", late, tok);
    assert_int_equal(qt_ks_store_approve(&st, kr, WINDOW_MS, NO_NEW, "alice", late, tok, "ok",
                                         late, &s, &p),
                     QT_KS_RECORDED);
    assert_int_equal(qt_ks_store_read(&st, &s, &p), FLATTEN);
    /* A different target does not combine with the pending one. */
    model_token(g_keys[1], THROTTLE, 2, "bob", late + 10, tok);
    assert_int_equal(qt_ks_store_approve(&st, kr, WINDOW_MS, THROTTLE, "bob", late + 10, tok,
                                         "ok", late + 10, &s, &p),
                     QT_KS_RECORDED);
    assert_int_equal(qt_ks_store_read(&st, &s, &p), FLATTEN);
    model_token(g_keys[2], THROTTLE, 2, "carol", late + 20, tok);
    assert_int_equal(qt_ks_store_approve(&st, kr, WINDOW_MS, THROTTLE, "carol", late + 20, tok,
                                         "ok", late + 20, &s, &p),
                     QT_KS_LOWERED);
    assert_int_equal(qt_ks_store_read(&st, &s, &p), THROTTLE);
    /* Lowering to the same or a higher tier is not a lowering. */
    model_token(g_keys[0], FLATTEN, 3, "alice", late + 30, tok);
    assert_int_equal(qt_ks_store_approve(&st, kr, WINDOW_MS, FLATTEN, "alice", late + 30, tok,
                                         "x", late + 30, &s, &p),
                     QT_KS_NOT_LOWER);
    /* Outage: read NO_NEW, writes refused. */
    m.outage = true;
    assert_int_equal(qt_ks_store_read(&st, &s, &p), NO_NEW);
    assert_int_equal(qt_ks_store_raise(&st, FLATTEN, "operator", "alice", "x", late + 40, &s),
                     QT_KS_STORE_ERROR);
    qt_ks_keyring_destroy(&kr);
}

static void test_keys_from_files_and_env(void **state)
{
    (void)state;
    qt_ks_keyring_t *kr = qt_ks_keyring_new();
    char err[256] = "", path[512];
    /* group-readable key file refused */
    snprintf(path, sizeof path, "%s/loose.key", g_dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "000102030405060708090a0b0c0d0e0f\n");
    fclose(f);
    chmod(path, 0644);
    assert_int_equal(qt_ks_keyring_add_file(kr, "loose", path, err, sizeof err), -1);
    assert_non_null(strstr(err, "group/other"));
    assert_int_equal(qt_ks_keyring_load_dir(kr, g_dir, err, sizeof err), -1);
    unlink(path);
    assert_int_equal(qt_ks_keyring_add_file(kr, "x", "/nonexistent/k.key", err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/k.key"));
    /* env: QT_OPERATOR_KEYS_DIR + QT_OPERATOR_KEY_<NAME>; the error never shows the key */
    setenv("QT_OPERATOR_KEYS_DIR", g_dir, 1);
    setenv("QT_OPERATOR_KEY_DAVE", "00112233445566778899aabbccddeeff00112233", 1);
    assert_int_equal(qt_ks_keyring_load_env(kr, err, sizeof err), 0);
    assert_int_equal(qt_ks_keyring_size(kr), N_OPS + 1);
    assert_true(qt_ks_keyring_has(kr, "dave") && qt_ks_keyring_has(kr, "alice"));
    setenv("QT_OPERATOR_KEY_EVE", "secretsecretnothex", 1);
    assert_int_equal(qt_ks_keyring_load_env(kr, err, sizeof err), -1);
    assert_non_null(strstr(err, "QT_OPERATOR_KEY_EVE"));
    assert_null(strstr(err, "secretsecret"));
    unsetenv("QT_OPERATOR_KEY_EVE");
    unsetenv("QT_OPERATOR_KEY_DAVE");
    unsetenv("QT_OPERATOR_KEYS_DIR");
    /* the signature from the keyring equals the model's */
    char a[65], b[65];
    assert_int_equal(qt_ks_sign(kr, WARN, 9, "bob", T0, a), 0);
    model_token(g_keys[1], WARN, 9, "bob", T0, b);
    assert_string_equal(a, b);
    assert_int_equal(qt_ks_sign(kr, WARN, 9, "nobody", T0, a), -1);
    qt_ks_keyring_destroy(&kr);
    assert_null(kr);
}

/* ---- property-based state machine --------------------------------------------------- */

typedef struct {
    bool present;
    qt_ks_tier_t tier;
    uint64_t version;
    bool pending;
    qt_ks_tier_t p_target;
    uint64_t p_version;
    int p_op;
    int64_t p_issued, p_recorded;
} model_t;

static qt_ks_tier_t model_eff(const model_t *m) { return m->present ? m->tier : NO_NEW; }

static bool model_fresh(int64_t issued, int64_t now)
{
    return issued <= now + QT_KS_MAX_SKEW_MS && now - issued <= WINDOW_MS;
}

typedef struct {
    qt_ks_tier_t target;
    uint64_t version;
    int op;
    int64_t issued;
    char token[65];
} old_token_t;

enum { TOK_VALID, TOK_OTHER_KEY, TOK_RANDOM, TOK_REPLAY, TOK_EXPIRED, TOK_FUTURE, TOK_MALLORY,
       TOK_WRONG_TIER, N_TOK };

static void test_property_state_machine(void **state)
{
    (void)state;
    qt_rng_t rng;
    qt_rng_seed(&rng, 20261122);
    const char *triggers[] = {"operator", "drawdown", "daily_loss", "watchdog", "recon",
                              "policy"};
    unsigned long n_lowered = 0, n_recorded = 0, n_raised = 0, n_outage_reads = 0,
                  n_refused = 0, n_restarts = 0, n_force = 0;
    for (int seq = 0; seq < 300; seq++) {
        qt_ks_keyring_t *kr = load_keyring();
        mem_store_t m;
        memset(&m, 0, sizeof m);
        qt_ks_state_init(&m.s);
        qt_ks_pending_init(&m.p);
        qt_ks_store_t st;
        mem_store(&st, &m);
        model_t md = {.present = false, .tier = NO_NEW, .version = 0, .pending = false};
        old_token_t old[64];
        size_t n_old = 0;
        int64_t now = T0 + (int64_t)qt_rng_below(&rng, 1000000);
        for (int step = 0; step < 200; step++) {
            qt_ks_tier_t before = model_eff(&md);
            uint64_t what = qt_rng_below(&rng, 100);
            qt_ks_state_t s;
            qt_ks_pending_t p;
            if (what < 15) {
                /* raise */
                qt_ks_tier_t t = (qt_ks_tier_t)(1 + qt_rng_below(&rng, 5));
                const char *trg = triggers[qt_rng_below(&rng, 6)];
                const bool was_corrupt = m.corrupt;
                qt_ks_result_t r = qt_ks_store_raise(&st, t, trg, "actor", "why", now, &s);
                qt_ks_result_t want;
                if (m.outage)
                    want = QT_KS_STORE_ERROR;
                else if (was_corrupt)   /* reads as NO_NEW; a raise replaces the garbage */
                    want = t >= NO_NEW ? QT_KS_RAISED : QT_KS_NOT_HIGHER;
                else if (md.present ? t > md.tier : t >= NO_NEW)
                    want = QT_KS_RAISED;
                else
                    want = QT_KS_NOT_HIGHER;
                if (r != want)
                    fail_msg("seq %d step %d: raise %s (corrupt %d, outage %d, model %s/%d): "
                             "got %s want %s", seq, step, qt_ks_tier_name(t), was_corrupt,
                             m.outage, qt_ks_tier_name(md.tier), md.present,
                             qt_ks_result_name(r), qt_ks_result_name(want));
                if (want == QT_KS_RAISED && was_corrupt)
                    n_force++;
                if (want == QT_KS_RAISED) {
                    md.present = true;
                    md.tier = was_corrupt && md.present && md.tier > t ? md.tier : t;
                    md.version++;
                    md.pending = false;
                    n_raised++;
                }
            } else if (what < 75) {
                /* approval of some kind */
                int kind = (int)qt_rng_below(&rng, N_TOK);
                int op = (int)qt_rng_below(&rng, N_OPS);
                qt_ks_tier_t target = (qt_ks_tier_t)(1 + qt_rng_below(&rng, 4));
                if (md.pending && qt_rng_below(&rng, 2) == 0)
                    target = md.p_target;   /* often complete the pending change */
                int64_t issued = now - (int64_t)qt_rng_below(&rng, WINDOW_MS / 4);
                uint64_t sign_version = md.version;
                qt_ks_tier_t sign_target = target;
                const uint8_t *key = g_keys[op];
                const char *name = OPS[op];
                char tok[65];
                if (kind == TOK_EXPIRED)
                    issued = now - WINDOW_MS - 1 - (int64_t)qt_rng_below(&rng, WINDOW_MS);
                else if (kind == TOK_FUTURE)
                    issued = now + QT_KS_MAX_SKEW_MS + 1 + (int64_t)qt_rng_below(&rng, 10000);
                else if (kind == TOK_OTHER_KEY)
                    key = g_keys[(op + 1 + (int)qt_rng_below(&rng, N_OPS - 1)) % N_OPS];
                else if (kind == TOK_MALLORY) {
                    key = g_keys[N_OPS];
                    name = "mallory";
                } else if (kind == TOK_WRONG_TIER)
                    sign_target = (qt_ks_tier_t)(1 + (target % 5));   /* another tier */
                model_token(key, sign_target, sign_version, name, issued, tok);
                if (kind == TOK_RANDOM)
                    for (int i = 0; i < 64; i++)
                        tok[i] = "0123456789abcdef"[qt_rng_below(&rng, 16)];
                if (kind == TOK_REPLAY && n_old > 0) {
                    const old_token_t *o = &old[qt_rng_below(&rng, n_old)];
                    op = o->op;
                    name = OPS[op];
                    target = o->target;
                    issued = o->issued;
                    memcpy(tok, o->token, sizeof tok);
                    sign_version = o->version;
                    sign_target = o->target;
                }
                qt_ks_result_t r = qt_ks_store_approve(&st, kr, WINDOW_MS, target, name, issued,
                                                       tok, "prop", now, &s, &p);
                /* the model's prediction */
                char good[65] = "";
                if (strcmp(name, "mallory") != 0)
                    model_token(g_keys[op], target, md.version, name, issued, good);
                bool token_ok = strcmp(name, "mallory") != 0 && strcmp(good, tok) == 0;
                qt_ks_result_t want;
                if (m.outage || m.corrupt)
                    want = QT_KS_STORE_ERROR;
                else if (target >= model_eff(&md))
                    want = QT_KS_NOT_LOWER;
                else if (strcmp(name, "mallory") == 0)
                    want = QT_KS_UNKNOWN_OPERATOR;
                else if (!token_ok)
                    want = QT_KS_BAD_TOKEN;
                else if (!model_fresh(issued, now))
                    want = QT_KS_EXPIRED;
                else {
                    bool pend = md.pending && md.p_version == md.version &&
                                md.p_target == target && now - md.p_recorded <= WINDOW_MS &&
                                model_fresh(md.p_issued, now);
                    if (pend && md.p_op == op)
                        want = QT_KS_SAME_OPERATOR;
                    else if (pend)
                        want = QT_KS_LOWERED;
                    else
                        want = QT_KS_RECORDED;
                }
                if (r != want)
                    fail_msg("seq %d step %d: approve kind %d op %s target %s: got %s want %s",
                             seq, step, kind, name, qt_ks_tier_name(target),
                             qt_ks_result_name(r), qt_ks_result_name(want));
                if (want == QT_KS_RECORDED) {
                    md.pending = true;
                    md.p_target = target;
                    md.p_version = md.version;
                    md.p_op = op;
                    md.p_issued = issued;
                    md.p_recorded = now;
                    n_recorded++;
                } else if (want == QT_KS_LOWERED) {
                    /* Both approvers distinct and each with a valid token for this
                     * version and target, within the window. */
                    assert_true(md.p_op != op);
                    assert_int_equal(s.n_approved_by, 2);
                    assert_string_equal(s.approved_by[0], OPS[md.p_op]);
                    assert_string_equal(s.approved_by[1], OPS[op]);
                    assert_true(now - md.p_recorded <= WINDOW_MS);
                    md.present = true;
                    md.tier = target;
                    md.version++;
                    md.pending = false;
                    n_lowered++;
                } else {
                    n_refused++;
                }
                if (token_ok && n_old < 64) {
                    old_token_t *o = &old[n_old++];
                    o->target = sign_target;
                    o->version = sign_version;
                    o->op = op;
                    o->issued = issued;
                    memcpy(o->token, tok, sizeof o->token);
                }
            } else if (what < 85) {
                now += (int64_t)qt_rng_below(&rng, (uint64_t)(WINDOW_MS * 3 / 4));
            } else if (what < 91) {
                m.outage = !m.outage;
            } else if (what < 93) {
                /* tampering: the stored state becomes garbage (readers: NO_NEW) */
                m.corrupt = true;
            } else {
                mem_restart(&m);
                qt_ks_keyring_destroy(&kr);
                kr = load_keyring();
                n_restarts++;
            }
            /* Invariants after every step. */
            qt_ks_tier_t read = qt_ks_store_read(&st, &s, &p);
            if (m.outage || m.corrupt) {
                assert_int_equal(read, NO_NEW);
                n_outage_reads++;
            } else {
                assert_int_equal(read, model_eff(&md));
                assert_int_equal(s.present, md.present);
                assert_int_equal(s.version, md.version);
                bool sut_pending = p.present;
                assert_int_equal(sut_pending, md.pending);
                if (md.pending) {
                    assert_string_equal(p.operator_name, OPS[md.p_op]);
                    assert_int_equal(p.target, md.p_target);
                }
            }
            assert_true(read != NORMAL || (!m.outage && !m.corrupt && md.present));
            qt_ks_tier_t after = model_eff(&md);
            if (after < before)
                assert_true(md.version > 0 && s.n_approved_by == 2 &&
                            strcmp(s.approved_by[0], s.approved_by[1]) != 0);
        }
        qt_ks_keyring_destroy(&kr);
    }
    /* The random walk must actually exercise every branch. */
    assert_true(n_lowered > 100);
    assert_true(n_recorded > 500);
    assert_true(n_raised > 500);
    assert_true(n_refused > 5000);
    assert_true(n_outage_reads > 1000);
    assert_true(n_restarts > 1000);
    assert_true(n_force > 50);
    print_message("property: lowered %lu recorded %lu raised %lu (over garbage %lu) refused %lu "
                  "unreadable reads %lu restarts %lu\n",
                  n_lowered, n_recorded, n_raised, n_force, n_refused, n_outage_reads,
                  n_restarts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selftest),
        cmocka_unit_test(test_two_distinct_operators_lower),
        cmocka_unit_test(test_keys_from_files_and_env),
        cmocka_unit_test(test_property_state_machine),
    };
    return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
