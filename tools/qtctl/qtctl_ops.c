/* qtctl mode | actions | diag (see qtctl_ops.h, docs/tools.md).
 *
 *   qtctl mode get
 *   qtctl mode set MODE --reason TEXT [--by NAME]
 *   qtctl actions list [--all]
 *   qtctl actions approve ID --operator NAME [--reason TEXT]
 *   qtctl actions reject ID --operator NAME --reason TEXT
 *   qtctl diag
 *
 * Why here and why so strict: these are the human side of the supervisor. Lowering the
 * mode is one actor, like raising the kill switch; going UP (towards live) needs two
 * operators' HMAC approvals and is refused by this version (see docs/services/
 * supervisor.md: the signing helpers must first be exported by qt_killswitch), and
 * live is refused anyway because no live broker exists. Every decision on a proposal
 * is one atomic script in Redis and is published to the audit topic. diag checks what
 * an operator would check by hand before trusting the stack, and never prints a secret.
 * State: sup_store (services/supervisor/sup_store.h). Exit: 0 ok, 1 failure, 2 usage. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qt_cli.h"
#include "qt_clock.h"
#include "qt_config.h"
#include "qt_kafka.h"
#include "qt_killswitch.h"
#include "qt_log.h"
#include "qt_redis.h"
#include "qtctl_ops.h"
#include "supervisor/sup_store.h"
#include "supervisor/supervisor.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2

/* ------------------------------------------------------------------ common */

typedef struct {
    qt_config_t *cfg;
    char dir[4096];
    qt_redis_t *redis;
    qt_clock_t *clock;
    sup_mode_t config_mode;
} ctx_t;

static int ctx_open(ctx_t *c, const char *prog, const char *config_path)
{
    memset(c, 0, sizeof *c);
    char err[600];
    c->cfg = qt_config_load(config_path, err, sizeof err);
    if (!c->cfg) {
        fprintf(stderr, "%s: config: %s\n", prog, err);
        return EXIT_USAGE;
    }
    const char *host = qt_config_str(c->cfg, "redis.host", "127.0.0.1");
    int port = (int)qt_config_int(c->cfg, "redis.port", false, 6379, 1, 65535);
    int tmo = (int)qt_config_int(c->cfg, "redis.timeout_ms", false, 500, 1, 60000);
    const char *mode = qt_config_str(c->cfg, "mode", "paper");
    if (qt_config_error(c->cfg)) {
        fprintf(stderr, "%s: config: %s\n", prog, qt_config_error(c->cfg));
        return EXIT_USAGE;
    }
    if (sup_mode_parse(mode, &c->config_mode) != 0) {
        fprintf(stderr, "%s: config %s: key 'mode': expected off|manual|paper|live, got '%s'\n",
                prog, config_path, mode);
        return EXIT_USAGE;
    }
    const char *slash = strrchr(config_path, '/');
    if (slash)
        snprintf(c->dir, sizeof c->dir, "%.*s", (int)(slash - config_path), config_path);
    else
        snprintf(c->dir, sizeof c->dir, ".");
    if (!c->dir[0])
        snprintf(c->dir, sizeof c->dir, "/");
    c->redis = qt_redis_new(host, port, tmo, NULL);
    c->clock = qt_clock_new_wall();
    if (!c->redis || !c->clock) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return EXIT_FAIL;
    }
    return 0;
}

static void ctx_close(ctx_t *c)
{
    qt_redis_destroy(&c->redis);
    qt_clock_destroy(&c->clock);
    qt_config_destroy(&c->cfg);
}

static void print_json(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    if (s)
        printf("%s\n", s);
    free(s);
    json_decref(o);
}

/* Value of option `name` at argv[*i] (consumes it). 1 consumed, 0 not this option,
 * -1 usage error (printed). */
static int opt_val(const char *prog, const char *name, int argc, char **argv, int *i,
                   const char **val)
{
    size_t nl = strlen(name);
    const char *a = argv[*i];
    if (strcmp(a, name) == 0) {
        if (*i + 1 >= argc || !argv[*i + 1][0]) {
            qt_cli_usage_error(prog, "%s needs a value", name);
            return -1;
        }
        *val = argv[++*i];
        return 1;
    }
    if (strncmp(a, name, nl) == 0 && a[nl] == '=') {
        if (!a[nl + 1]) {
            qt_cli_usage_error(prog, "%s needs a value", name);
            return -1;
        }
        *val = a + nl + 1;
        return 1;
    }
    return 0;
}

/* Publishes env on Kafka topic `logical` (services.yml topics) with key; best effort:
 * Redis is the source of truth, the topic a mirror. NULL ok, else a static reason. */
static const char *mirror(ctx_t *c, const char *logical, const char *key, qt_env_t *env)
{
    char path[64];
    snprintf(path, sizeof path, "topics.%s", logical);
    const char *topic = qt_config_str(c->cfg, path, NULL);
    const char *brokers = qt_config_str(c->cfg, "kafka.brokers", "127.0.0.1:9092");
    if (!topic || !*topic)
        return "no such topic in the config";
    char err[512];
    qt_kproducer_t *p = qt_kproducer_new(brokers, "qtctl", NULL, err, sizeof err);
    if (!p)
        return "kafka producer failed";
    env->source = (char *)"qtctl";
    const char *why = NULL;
    if (qt_kproducer_send_env(p, topic, key, env) != 0 || qt_kproducer_flush(p, 5000) != 0)
        why = "kafka unreachable";
    if (why)
        qt_kproducer_purge(p);
    qt_kproducer_destroy(&p);
    return why;
}

/* ------------------------------------------------------------------ mode */

static json_t *mode_json(const sup_mode_state_t *s)
{
    return json_pack("{s:s, s:b, s:I, s:s, s:s, s:I, s:s}", "mode", sup_mode_name(s->mode),
                     "stored", s->present, "version", (json_int_t)s->version, "set_by",
                     s->present ? s->set_by : "config", "reason",
                     s->present ? s->reason : "configured mode (qt:mode absent)", "set_at_ms",
                     (json_int_t)s->set_at_ms, "approved_by", s->approved_by);
}

static int mode_get(ctx_t *c, bool json)
{
    sup_mode_state_t s;
    int rc = sup_mode_read(c->redis, c->config_mode, &s);
    if (rc != 0 && !s.present) {
        fprintf(stderr, "qtctl mode: Redis unreachable\n");
        return EXIT_FAIL;
    }
    if (json) {
        json_t *o = mode_json(&s);
        json_object_set_new(o, "valid", json_boolean(rc == 0));
        print_json(o);
    } else if (rc != 0) {
        printf("mode: INVALID stored state in %s (every service acts as off)\n", SUP_MODE_KEY);
    } else {
        printf("mode: %s\n", sup_mode_name(s.mode));
        if (s.present)
            printf("version: %" PRIu64 "\nset_by: %s\nreason: %s\nset_at_ms: %" PRId64 "\n",
                   s.version, s.set_by, s.reason, s.set_at_ms);
        else
            printf("(qt:mode absent: the configured mode of services.yml)\n");
    }
    return rc == 0 ? 0 : EXIT_FAIL;
}

static int mode_set(ctx_t *c, const char *target_s, const char *reason, const char *by,
                    bool json)
{
    sup_mode_t target;
    if (sup_mode_parse(target_s, &target) != 0)
        return qt_cli_usage_error("qtctl mode", "MODE must be off|manual|paper|live, got '%s'",
                                  target_s);
    if (target == SUP_MODE_LIVE) {
        fprintf(stderr, "qtctl mode: live is refused: this system has no live broker "
                        "(it would also need mode: live allowed in services.yml, "
                        "QT_LIVE_API_SECRET and two operators' approvals)\n");
        return EXIT_FAIL;
    }
    char who[SUP_WHO_MAX + 1];
    snprintf(who, sizeof who, "%s", by ? by : (getenv("USER") ? getenv("USER") : "operator"));
    int64_t now = qt_clock_now_ms(c->clock);
    sup_mode_state_t s;
    sup_mode_result_t r = sup_mode_lower(c->redis, c->config_mode, target, who, reason, now, &s);
    if (r == SUP_MODE_NOT_LOWER) {
        if (s.mode == target) {
            fprintf(stderr, "qtctl mode: already %s: nothing changed\n", sup_mode_name(target));
        } else {
            fprintf(stderr,
                    "qtctl mode: %s -> %s raises the mode (towards live): that needs two "
                    "operators' approvals, which this version cannot take yet; nothing "
                    "changed\n",
                    sup_mode_name(s.mode), sup_mode_name(target));
        }
        return EXIT_FAIL;
    }
    if (r == SUP_MODE_BAD_ARG)
        return qt_cli_usage_error("qtctl mode", "bad --reason or --by (non-empty, at most %s "
                                                "bytes, no control characters)",
                                  "100 / 400");
    if (r != SUP_MODE_SET) {
        fprintf(stderr, "qtctl mode: %s: nothing changed\n", sup_mode_result_name(r));
        return EXIT_FAIL;
    }
    Qt__V1__ModeState pb;
    sup_mode_to_proto(&s, &pb);
    qt_env_t env;
    qt_env_init(&env, now * 1000000LL);
    env.body_case = QT__V1__ENVELOPE__BODY_MODE;
    env.mode = &pb;
    const char *why = mirror(c, "control", "mode", &env);
    if (json) {
        json_t *o = mode_json(&s);
        json_object_set_new(o, "mirrored", json_boolean(why == NULL));
        print_json(o);
    } else {
        printf("mode: %s (version %" PRIu64 ")\n", sup_mode_name(s.mode), s.version);
    }
    if (why)
        fprintf(stderr, "qtctl mode: warning: control topic not updated (%s); Redis holds "
                        "the state\n",
                why);
    return 0;
}

static bool wants_help(int argc, char **argv, int i, const char *text)
{
    for (; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(text, stdout);
            return true;
        }
    return false;
}

static const char MODE_USAGE[] =
    "usage: qtctl [--config FILE] [--json] mode get\n"
    "       qtctl [--config FILE] [--json] mode set MODE --reason TEXT [--by NAME]\n"
    "  MODE: off | manual | paper | live (safest first). set only lowers the mode (one\n"
    "  actor); raising needs two operators' approvals (not available yet); live is refused.\n";
static const char ACTIONS_USAGE[] =
    "usage: qtctl [--config FILE] [--json] actions list [--all]\n"
    "       qtctl ... actions approve ID --operator NAME [--reason TEXT]\n"
    "       qtctl ... actions reject ID --operator NAME --reason TEXT\n"
    "  list shows pending proposals (--all: every action). approve applies the action.\n";

int qtctl_mode(int argc, char **argv, int i, const char *config_path, bool json)
{
    const char *prog = "qtctl mode";
    if (wants_help(argc, argv, i, MODE_USAGE))
        return 0;
    if (i >= argc)
        return qt_cli_usage_error(prog, "expected get or set%s", "");
    const char *sub = argv[i++];
    const char *reason = NULL, *by = NULL, *target = NULL;
    for (; i < argc; i++) {
        int r;
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
            continue;
        }
        if ((r = opt_val(prog, "--reason", argc, argv, &i, &reason)) != 0 ||
            (r = opt_val(prog, "--by", argc, argv, &i, &by)) != 0 ||
            (r = opt_val(prog, "--config", argc, argv, &i, &config_path)) != 0) {
            if (r < 0)
                return EXIT_USAGE;
            continue;
        }
        if (argv[i][0] == '-' || target || strcmp(sub, "set") != 0)
            return qt_cli_usage_error(prog, "unexpected argument '%s'", argv[i]);
        target = argv[i];
    }
    if (strcmp(sub, "get") == 0) {
        if (reason || by)
            return qt_cli_usage_error(prog, "get takes no options besides --json%s", "");
    } else if (strcmp(sub, "set") == 0) {
        if (!target || !reason)
            return qt_cli_usage_error(prog, "usage: mode set MODE --reason TEXT [--by NAME]%s",
                                      "");
    } else {
        return qt_cli_usage_error(prog, "unknown subcommand '%s' (expected get or set)", sub);
    }
    ctx_t c;
    int rc = ctx_open(&c, prog, config_path);
    if (rc == 0)
        rc = strcmp(sub, "get") == 0 ? mode_get(&c, json) : mode_set(&c, target, reason, by, json);
    ctx_close(&c);
    return rc;
}

/* ------------------------------------------------------------------ actions */

static json_t *rec_json(const sup_record_t *r)
{
    char *s = sup_record_json(r);
    json_error_t e;
    json_t *o = s ? json_loads(s, 0, &e) : NULL;
    free(s);
    return o ? o : json_null();
}

static void rec_print(const sup_record_t *r)
{
    printf("%-40s %-9s %-15s %-24s %s%s%s\n", r->action_id, r->state, r->action, r->params,
           r->reason, r->decided_by[0] ? " by " : "", r->decided_by);
}

static int actions_list(ctx_t *c, bool all, bool json)
{
    sup_record_t *recs = NULL;
    size_t n = 0;
    if (sup_record_list(c->redis, !all, &recs, &n) != 0) {
        fprintf(stderr, "qtctl actions: Redis unreachable\n");
        return EXIT_FAIL;
    }
    if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, rec_json(&recs[i]));
        print_json(json_pack("{s:o, s:b}", "actions", arr, "pending_only", !all));
    } else {
        if (n == 0)
            printf(all ? "no actions\n" : "no pending proposals\n");
        for (size_t i = 0; i < n; i++)
            rec_print(&recs[i]);
    }
    free(recs);
    return 0;
}

/* Applies an approved proposal. 0 / -1 (why). */
static int apply_record(ctx_t *c, const sup_record_t *r, const char *who, int64_t now,
                        char *why, size_t whylen)
{
    /* rebuild the spec from action + params */
    char text[80];
    sup_action_spec_t spec;
    json_error_t e;
    json_t *p = json_loads(r->params, 0, &e);
    if (json_is_string(json_object_get(p, "mode")))
        snprintf(text, sizeof text, "%s %s", r->action,
                 json_string_value(json_object_get(p, "mode")));
    else if (json_is_number(json_object_get(p, "factor")))
        snprintf(text, sizeof text, "%s %.6g", r->action,
                 json_number_value(json_object_get(p, "factor")));
    else
        snprintf(text, sizeof text, "%s", r->action);
    json_decref(p);
    if (sup_action_parse(text, &spec) != 0) {
        snprintf(why, whylen, "cannot read the action '%s'", text);
        return -1;
    }
    Qt__V1__KillSwitchTier t = sup_action_tier(spec.kind);
    if (t != QT__V1__KILL_SWITCH_TIER__KS_UNKNOWN) {
        qt_ks_store_t st;
        qt_ks_store_redis(&st, c->redis);
        qt_ks_state_t s;
        qt_ks_result_t res = qt_ks_store_raise(&st, t, "operator", who, r->reason, now, &s);
        if (res != QT_KS_RAISED && res != QT_KS_NOT_HIGHER) {
            snprintf(why, whylen, "kill switch: %s", qt_ks_result_name(res));
            return -1;
        }
        return 0;
    }
    if (spec.kind == SUP_ACT_SET_MODE) {
        sup_mode_state_t s;
        sup_mode_result_t res =
            sup_mode_lower(c->redis, c->config_mode, spec.mode, who, r->reason, now, &s);
        if (res == SUP_MODE_SET || (res == SUP_MODE_NOT_LOWER && s.mode == spec.mode))
            return 0;
        snprintf(why, whylen, "%s",
                 res == SUP_MODE_NOT_LOWER
                     ? "raising the mode needs two operators' approvals (qtctl mode), not one "
                       "approval of a proposal"
                     : sup_mode_result_name(res));
        return -1;
    }
    double scale = spec.factor;
    if (spec.kind == SUP_ACT_LOWER_RISK) {
        double cur = 1.0;
        if (sup_scale_read(c->redis, &cur) == 0 && cur < scale)
            scale = cur;
    }
    if (sup_scale_write(c->redis, scale) != 0) {
        snprintf(why, whylen, "risk scale write failed");
        return -1;
    }
    return 0;
}

static void publish_record(ctx_t *c, const sup_record_t *r, int64_t now)
{
    Qt__V1__PolicyAction pa;
    sup_record_to_proto(r, &pa);
    qt_env_t env;
    qt_env_init(&env, now * 1000000LL);
    env.body_case = QT__V1__ENVELOPE__BODY_ACTION;
    env.action = &pa;
    const char *why = mirror(c, "audit", r->action_id, &env);
    if (why)
        fprintf(stderr, "qtctl actions: warning: audit topic not updated (%s); Redis "
                        "qt:actions:log holds the record\n",
                why);
}

static int actions_decide(ctx_t *c, const char *id, bool approve, const char *op,
                          const char *reason, bool json)
{
    sup_record_t r;
    int g = sup_record_get(c->redis, id, &r);
    if (g < 0) {
        fprintf(stderr, "qtctl actions: Redis unreachable or record %s unreadable\n", id);
        return EXIT_FAIL;
    }
    if (g == 0) {
        fprintf(stderr, "qtctl actions: no action '%s'\n", id);
        return EXIT_FAIL;
    }
    if (strcmp(r.state, "proposed") != 0) {
        fprintf(stderr, "qtctl actions: %s is %s, not proposed: nothing changed\n", id, r.state);
        return EXIT_FAIL;
    }
    int64_t now = qt_clock_now_ms(c->clock);
    if (approve && strcmp(r.action, "SET_MODE") == 0) {
        /* refuse before claiming: the proposal stays for the two-approval path */
        sup_mode_state_t ms;
        (void)sup_mode_read(c->redis, c->config_mode, &ms);
        sup_action_spec_t spec;
        char text[64];
        json_error_t e;
        json_t *p = json_loads(r.params, 0, &e);
        const char *m = json_string_value(json_object_get(p, "mode"));
        snprintf(text, sizeof text, "SET_MODE %s", m ? m : "?");
        json_decref(p);
        if (sup_action_parse(text, &spec) != 0 || ms.mode == SUP_MODE_UNKNOWN ||
            spec.mode > ms.mode) {
            fprintf(stderr,
                    "qtctl actions: %s raises the mode: that needs two operators' approvals "
                    "(not one approval of a proposal), which this version cannot take yet; "
                    "reject it or leave it pending\n",
                    id);
            return EXIT_FAIL;
        }
    }
    char why[SUP_WHY_MAX + 1];
    snprintf(why, sizeof why, "%s", reason ? reason : (approve ? "approved" : "rejected"));
    char who[SUP_WHO_MAX + 1];
    snprintf(who, sizeof who, "%s", op);
    sup_record_t out;
    int d = sup_record_decide(c->redis, id, approve ? "approved" : "rejected", who, why, now,
                              &out);
    if (d < 0) {
        fprintf(stderr, "qtctl actions: Redis unreachable: nothing changed\n");
        return EXIT_FAIL;
    }
    if (d == 0) {
        fprintf(stderr, "qtctl actions: %s was decided meanwhile (%s by %s): nothing changed\n",
                id, out.state, out.decided_by);
        return EXIT_FAIL;
    }
    int rc = 0;
    if (approve) {
        char err[300] = "";
        if (apply_record(c, &out, who, now, err, sizeof err) != 0) {
            fprintf(stderr, "qtctl actions: %s approved but NOT applied: %s\n", id, err);
            rc = EXIT_FAIL;
        }
    }
    publish_record(c, &out, now);
    if (json)
        print_json(rec_json(&out));
    else
        rec_print(&out);
    return rc;
}

int qtctl_actions(int argc, char **argv, int i, const char *config_path, bool json)
{
    const char *prog = "qtctl actions";
    if (wants_help(argc, argv, i, ACTIONS_USAGE))
        return 0;
    if (i >= argc)
        return qt_cli_usage_error(prog, "expected list, approve or reject%s", "");
    const char *sub = argv[i++];
    const char *op = NULL, *reason = NULL, *id = NULL;
    bool all = false;
    for (; i < argc; i++) {
        int r;
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
            continue;
        }
        if (strcmp(argv[i], "--all") == 0 && strcmp(sub, "list") == 0) {
            all = true;
            continue;
        }
        if ((r = opt_val(prog, "--operator", argc, argv, &i, &op)) != 0 ||
            (r = opt_val(prog, "--reason", argc, argv, &i, &reason)) != 0 ||
            (r = opt_val(prog, "--config", argc, argv, &i, &config_path)) != 0) {
            if (r < 0)
                return EXIT_USAGE;
            continue;
        }
        if (argv[i][0] == '-' || id || strcmp(sub, "list") == 0)
            return qt_cli_usage_error(prog, "unexpected argument '%s'", argv[i]);
        id = argv[i];
    }
    bool approve = strcmp(sub, "approve") == 0;
    if (strcmp(sub, "list") == 0) {
        if (op || reason)
            return qt_cli_usage_error(prog, "list takes only --all and --json%s", "");
    } else if (approve || strcmp(sub, "reject") == 0) {
        if (!id || !op)
            return qt_cli_usage_error(prog, "usage: actions %s ID --operator NAME [--reason TEXT]",
                                      sub);
        if (!approve && !reason)
            return qt_cli_usage_error(prog, "reject needs --reason TEXT%s", "");
        if (!qt_ks_operator_ok(op))
            return qt_cli_usage_error(prog, "--operator must be [a-z0-9_]{1,32}, got '%s'", op);
        if (strlen(id) >= sizeof(((sup_record_t *)0)->action_id))
            return qt_cli_usage_error(prog, "ID too long%s", "");
    } else {
        return qt_cli_usage_error(prog, "unknown subcommand '%s' (expected list, approve, reject)",
                                  sub);
    }
    ctx_t c;
    int rc = ctx_open(&c, prog, config_path);
    if (rc == 0)
        rc = strcmp(sub, "list") == 0 ? actions_list(&c, all, json)
                                      : actions_decide(&c, id, approve, op, reason, json);
    ctx_close(&c);
    return rc;
}

/* ------------------------------------------------------------------ diag */

typedef struct {
    json_t *checks;
    int fails, warns;
} diag_t;

static void check(diag_t *d, const char *name, const char *status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void check(diag_t *d, const char *name, const char *status, const char *fmt, ...)
{
    char detail[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    if (strcmp(status, "fail") == 0)
        d->fails++;
    else if (strcmp(status, "warn") == 0)
        d->warns++;
    json_array_append_new(d->checks,
                          json_pack("{s:s, s:s, s:s}", "check", name, "status", status, "detail",
                                    detail));
}

static qt_config_t *load_sibling(diag_t *d, const ctx_t *c, const char *file, bool required)
{
    char path[4200], err[600];
    snprintf(path, sizeof path, "%s/%s", c->dir, file);
    if (access(path, F_OK) != 0) {
        check(d, file, required ? "fail" : "warn", "%s: missing", path);
        return NULL;
    }
    qt_config_t *cfg = qt_config_load(path, err, sizeof err);
    if (!cfg)
        check(d, file, "fail", "%s", err);
    return cfg;
}

static void diag_configs(diag_t *d, ctx_t *c)
{
    /* services.yml: ports and endpoints unique, topics the code uses present */
    size_t n = qt_config_map_len(c->cfg, "services");
    int bad = 0;
    char seen[64][160];
    size_t ns = 0;
    for (size_t i = 0; i < n && i < 64; i++) {
        const char *name = qt_config_map_key(c->cfg, "services", i);
        char path[200];
        snprintf(path, sizeof path, "services.%s.pub", name ? name : "");
        const char *pub = qt_config_str(c->cfg, path, "");
        snprintf(path, sizeof path, "services.%s.admin_port", name ? name : "");
        int64_t port = qt_config_int(c->cfg, path, false, 0, 0, 65535);
        char key[2][160];
        snprintf(key[0], sizeof key[0], "pub %s", pub);
        snprintf(key[1], sizeof key[1], "port %" PRId64, port);
        for (int k = 0; k < 2; k++) {
            if (k == 0 && !*pub)
                continue;
            for (size_t j = 0; j < ns; j++)
                if (strcmp(seen[j], key[k]) == 0) {
                    check(d, "services.yml", "fail", "%s: %s used twice", name, key[k]);
                    bad++;
                }
            if (ns < 64)
                snprintf(seen[ns++], sizeof seen[0], "%s", key[k]);
        }
    }
    static const char *const topics[] = {"bars", "intents", "fills", "control", "audit"};
    for (size_t t = 0; t < sizeof topics / sizeof topics[0]; t++) {
        char path[64];
        snprintf(path, sizeof path, "topics.%s", topics[t]);
        if (!qt_config_has(c->cfg, path)) {
            check(d, "services.yml", "fail", "key '%s' missing", path);
            bad++;
        }
    }
    if (!bad)
        check(d, "services.yml", "ok", "%zu services, mode %s", n, sup_mode_name(c->config_mode));
    /* slas.yml: every entry names a service; tiers valid */
    qt_config_t *sl = load_sibling(d, c, "slas.yml", true);
    if (sl) {
        size_t m = qt_config_map_len(sl, "services");
        int sbad = 0;
        for (size_t i = 0; i < m; i++) {
            const char *name = qt_config_map_key(sl, "services", i);
            char path[200];
            snprintf(path, sizeof path, "services.%s", name ? name : "");
            if (!qt_config_has(c->cfg, path)) {
                check(d, "slas.yml", "warn", "services.%s: not a service of services.yml",
                      name ? name : "?");
                sbad++;
            }
            snprintf(path, sizeof path, "services.%s.tier", name ? name : "");
            const char *tier = qt_config_str(sl, path, "NO_NEW");
            qt_ks_tier_t t;
            if (qt_ks_tier_parse(tier, &t) != 0 || (t != QT__V1__KILL_SWITCH_TIER__KS_NO_NEW &&
                                                    t != QT__V1__KILL_SWITCH_TIER__KS_FLATTEN_ALL)) {
                check(d, "slas.yml", "fail", "%s: expected NO_NEW or FLATTEN_ALL, got '%s'", path,
                      tier);
                sbad++;
            }
        }
        if (qt_config_error(sl)) {
            check(d, "slas.yml", "fail", "%s", qt_config_error(sl));
            sbad++;
        }
        if (!sbad)
            check(d, "slas.yml", "ok", "%zu SLA entries", m);
        qt_config_destroy(&sl);
    }
    qt_config_t *pc = load_sibling(d, c, "policy.yml", true);
    if (pc) {
        sup_policies_t ps;
        char err[600];
        if (sup_policies_load(pc, &ps, err, sizeof err) != 0)
            check(d, "policy.yml", "fail", "%s", err);
        else
            check(d, "policy.yml", "ok", "%zu policies, every %" PRId64 " ms", ps.n,
                  ps.evaluate_every_ms);
        qt_config_destroy(&pc);
    }
    qt_config_t *ec = load_sibling(d, c, "exec.yml", true);
    if (ec) {
        (void)qt_config_money(ec, "initial_cash", false, 0);
        (void)qt_config_str(ec, "manual_orders_path", "var/manual/orders.jsonl");
        if (qt_config_error(ec))
            check(d, "exec.yml", "fail", "%s", qt_config_error(ec));
        else
            check(d, "exec.yml", "ok", "loads");
        qt_config_destroy(&ec);
    }
}

static void diag_stores(diag_t *d, ctx_t *c)
{
    bool redis_ok = qt_redis_ping(c->redis);
    check(d, "redis", redis_ok ? "ok" : "fail", "%s:%" PRId64 " %s",
          qt_config_str(c->cfg, "redis.host", "127.0.0.1"),
          qt_config_int(c->cfg, "redis.port", false, 6379, 1, 65535),
          redis_ok ? "answers PING" : "unreachable");
    const char *brokers = qt_config_str(c->cfg, "kafka.brokers", "127.0.0.1:9092");
    const char *control = qt_config_str(c->cfg, "topics.control", "qt.control");
    char err[512] = "";
    qt_kconsumer_t *k = qt_kconsumer_new(brokers, "qtctl-diag", NULL, err, sizeof err);
    int64_t hw = k ? qt_kafka_high_watermark(k, control, 3000) : -1;
    qt_kconsumer_destroy(&k);
    check(d, "kafka", hw >= 0 ? "ok" : "fail", "%s: %s", brokers,
          hw >= 0 ? "answers (control topic readable)" : "unreachable or no control topic");
    if (!redis_ok)
        return;
    /* kill switch, mode */
    qt_ks_store_t st;
    qt_ks_store_redis(&st, c->redis);
    qt_ks_state_t ks;
    qt_ks_tier_t t = qt_ks_store_read(&st, &ks, NULL);
    check(d, "killswitch", ks.present ? "ok" : "warn", "%s%s", qt_ks_tier_name(t),
          ks.present ? "" : " (absent: reads as NO_NEW)");
    sup_mode_state_t ms;
    int mr = sup_mode_read(c->redis, c->config_mode, &ms);
    check(d, "mode", mr == 0 ? "ok" : "fail", "%s%s", sup_mode_name(ms.mode),
          mr != 0 ? " (qt:mode invalid: services act as off)"
                  : ms.present ? "" : " (configured; qt:mode absent)");
    sup_record_t *recs = NULL;
    size_t np = 0;
    if (sup_record_list(c->redis, true, &recs, &np) == 0)
        check(d, "actions", np ? "warn" : "ok", "%zu proposal(s) pending", np);
    free(recs);
    /* heartbeats against slas.yml */
    char path[4200], cerr[600];
    snprintf(path, sizeof path, "%s/slas.yml", c->dir);
    qt_config_t *sl = qt_config_load(path, cerr, sizeof cerr);
    int64_t dflt = sl ? qt_config_int(sl, "default_sla_ms", false, 5000, 1, 86400000) : 5000;
    int64_t now = qt_clock_now_ms(c->clock);
    size_t n = qt_config_map_len(c->cfg, "services");
    for (size_t i = 0; i < n; i++) {
        const char *name = qt_config_map_key(c->cfg, "services", i);
        if (!name)
            continue;
        char key[200];
        snprintf(key, sizeof key, "services.%s.heartbeat_sla_ms", name);
        int64_t sla = sl ? qt_config_int(sl, key, false, dflt, 1, 86400000) : dflt;
        redisReply *r = qt_redis_cmd(c->redis, "GET qt:hb:%s", name);
        char chk[120];
        snprintf(chk, sizeof chk, "heartbeat %s", name);
        if (!r || r->type != REDIS_REPLY_STRING) {
            check(d, chk, "fail", "no heartbeat in Redis (absent or expired)");
        } else {
            qt_env_t *env = NULL;
            if (qt_env_decode((const uint8_t *)r->str, r->len, &env, NULL, 0) == QT_DECODE_OK &&
                env->body_case == QT__V1__ENVELOPE__BODY_HEARTBEAT) {
                int64_t age = now - env->publish_time_ns / 1000000;
                check(d, chk, age > sla ? "fail" : "ok", "age %" PRId64 " ms (sla %" PRId64 " ms)",
                      age, sla);
            } else {
                check(d, chk, "fail", "unreadable heartbeat record");
            }
            qt_env_free(env);
        }
        if (r)
            freeReplyObject(r);
    }
    qt_config_destroy(&sl);
}

static void path_check(diag_t *d, const char *name, const char *path, bool dir)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        check(d, name, "warn", "%s: %s", path, strerror(errno));
        return;
    }
    if (dir && !S_ISDIR(sb.st_mode)) {
        check(d, name, "fail", "%s: not a directory", path);
        return;
    }
    check(d, name, access(path, W_OK) == 0 ? "ok" : "fail", "%s%s", path,
          access(path, W_OK) == 0 ? " writable" : " not writable");
}

static void diag_paths_secrets(diag_t *d, ctx_t *c)
{
    path_check(d, "state dir", "var", true);
    path_check(d, "log dir", "var/log", true);
    char path[4200], err[600];
    snprintf(path, sizeof path, "%s/exec.yml", c->dir);
    qt_config_t *ec = qt_config_load(path, err, sizeof err);
    const char *mp = ec ? qt_config_str(ec, "manual_orders_path", "var/manual/orders.jsonl")
                        : "var/manual/orders.jsonl";
    char mdir[1024];
    snprintf(mdir, sizeof mdir, "%s", mp);
    char *slash = strrchr(mdir, '/');
    if (slash && slash != mdir)
        *slash = '\0';
    else
        snprintf(mdir, sizeof mdir, ".");
    struct stat sb;
    if (stat(mdir, &sb) != 0)
        check(d, "manual orders dir", "ok", "%s: absent (created by qt-exec on first use)", mdir);
    else
        path_check(d, "manual orders dir", mdir, true);
    qt_config_destroy(&ec);
    /* secrets: presence only, never values */
    const char *live = getenv("QT_LIVE_API_SECRET");
    check(d, "secret QT_LIVE_API_SECRET", "ok", "%s",
          live && *live ? "present (live mode is refused anyway: no live broker)"
                        : "absent (only live mode would need it)");
    const char *kd = getenv("QT_OPERATOR_KEYS_DIR");
    if (!kd || !*kd) {
        check(d, "operator keys", "warn",
              "QT_OPERATOR_KEYS_DIR unset: nobody can lower the kill switch from here");
        return;
    }
    qt_ks_keyring_t *kr = qt_ks_keyring_new();
    char kerr[600] = "";
    int rc = kr ? qt_ks_keyring_load_dir(kr, kd, kerr, sizeof kerr) : -1;
    size_t nk = kr ? qt_ks_keyring_size(kr) : 0;
    qt_ks_keyring_destroy(&kr);
    if (rc != 0)
        check(d, "operator keys", "fail", "%s", kerr);
    else
        check(d, "operator keys", nk >= 2 ? "ok" : "warn",
              "%zu operator key(s) in QT_OPERATOR_KEYS_DIR%s", nk,
              nk >= 2 ? "" : " (lowering needs two operators)");
}

int qtctl_diag(int argc, char **argv, int i, const char *config_path, bool json)
{
    if (wants_help(argc, argv, i,
                   "usage: qtctl [--config FILE] [--json] diag\n"
                   "  config consistency, Redis/Kafka reachability, kill switch, mode, pending\n"
                   "  proposals, heartbeat freshness, state/log paths, secrets (presence only).\n"
                   "  exit 1 when a check fails.\n"))
        return 0;
    for (; i < argc; i++) {
        int r;
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if ((r = opt_val("qtctl diag", "--config", argc, argv, &i, &config_path)) < 0)
            return EXIT_USAGE;
        else if (r == 0)
            return qt_cli_usage_error("qtctl diag", "unexpected argument '%s'", argv[i]);
    }
    ctx_t c;
    int rc = ctx_open(&c, "qtctl diag", config_path);
    if (rc != 0) {
        ctx_close(&c);
        return rc;
    }
    diag_t d = {json_array(), 0, 0};
    diag_configs(&d, &c);
    diag_stores(&d, &c);
    diag_paths_secrets(&d, &c);
    if (json) {
        print_json(json_pack("{s:o, s:i, s:i, s:b}", "checks", d.checks, "failures", d.fails,
                             "warnings", d.warns, "ok", d.fails == 0));
    } else {
        for (size_t k = 0; k < json_array_size(d.checks); k++) {
            json_t *o = json_array_get(d.checks, k);
            printf("%-5s %-28s %s\n", json_string_value(json_object_get(o, "status")),
                   json_string_value(json_object_get(o, "check")),
                   json_string_value(json_object_get(o, "detail")));
        }
        printf("%d failure(s), %d warning(s)\n", d.fails, d.warns);
        json_decref(d.checks);
    }
    ctx_close(&c);
    return d.fails ? EXIT_FAIL : 0;
}
