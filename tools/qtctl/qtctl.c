/* qtctl: the operator's control CLI.
 *
 *   qtctl [--config FILE] [--json] status
 *   qtctl [--config FILE] [--json] killswitch status|get
 *   qtctl [--config FILE] [--json] killswitch raise|set TIER --reason TEXT [--by NAME]
 *                                                  [--trigger T]
 *   qtctl [--config FILE] [--json] killswitch approve-lower TIER --operator NAME
 *                                                  [--key-file F] [--reason TEXT]
 *   qtctl [--config FILE] wait-recon [--timeout S]
 *
 * Why a separate tool and not curl + redis-cli: the operator needs one view that reads
 * the same config the services read (services.yml with its QT_* overrides), talks to the
 * admin endpoints, Redis and Kafka with the same libraries (so the kill switch is
 * written with the same atomic Lua script and version rule every service reads), and
 * reports fail-closed semantics in plain words ("absent: services act as NO_NEW").
 *
 * Kill switch (libs/qt/qt_killswitch.h): `raise` (alias `set`) only ever raises; a
 * lowering needs `approve-lower` from two distinct operators within the approval window
 * (services.yml killswitch.approval_window_s, default 300 s; env
 * QT_KILLSWITCH_APPROVAL_WINDOW_S). Each approval is an HMAC-SHA256 token over (target
 * tier, current version, operator, issued-at) signed with the operator's key: from
 * --key-file, else $QT_OPERATOR_KEY_<NAME>, else $QT_OPERATOR_KEYS_DIR/<name>.key.
 * Tokens are verified against $QT_OPERATOR_KEYS_DIR only (the control host's key
 * directory), so a key in the caller's environment cannot vouch for itself. Keys are
 * never printed or logged.
 *
 * Exit codes: 0 ok; 1 a failure (service down, Redis unreachable, Kafka mirror failed,
 * reconciliation not ok); 2 bad arguments or config; 3 wait-recon timed out. */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qt_cli.h"
#include "qtctl_models.h"
#include "qtctl_ops.h"
#include "qt_clock.h"
#include "qt_config.h"
#include "qt_envelope.h"
#include "qt_kafka.h"
#include "qt_killswitch.h"
#include "qt_log.h"
#include "qt_metrics.h"
#include "qt_redis.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define EXIT_TIMEOUT 3

#define MAX_SERVICES 64
#define HTTP_TIMEOUT_MS 1000L
#define HTTP_MAX_BODY (4u * 1024u * 1024u)
#define KS_KEY "qt:killswitch"
#define RECON_KEY "qt:recon:last"

static const char *g_prog = "qtctl";

static void usage(FILE *f) {
    fprintf(f,
            "usage: qtctl [--config FILE] [--json] COMMAND ...\n"
            "  status                              services, heartbeats, kill switch\n"
            "  killswitch status|get               current kill-switch state (Redis)\n"
            "  killswitch raise|set TIER --reason TEXT [--by NAME] [--trigger T]\n"
            "                                      raise only (TIER above the current one)\n"
            "                                      TIER: NORMAL|WARN|THROTTLE|NO_NEW|FLATTEN_ALL\n"
            "  killswitch approve-lower TIER --operator NAME [--key-file F] [--reason TEXT]\n"
            "                                      one of the two operator approvals a lowering needs\n"
            "  wait-recon [--timeout S]            wait for the final reconciliation report\n"
            "  models list|show|promote|rollback|train ...   model registry (qtctl models --help)\n"
            "  mode get|set ...  |  actions list|approve|reject ...  |  diag   (see docs/tools.md)\n"
            "options:\n"
            "  --config FILE   services.yml (default: $QT_CONFIG or configs/services.yml)\n"
            "  --json          machine-readable output (one JSON object)\n"
            "exit: 0 ok, 1 failure, 2 usage/config error, 3 timeout (wait-recon)\n");
}

/* ------------------------------------------------------------------ options */

typedef struct {
    const char *config_path;
    bool json;
} opts_t;

/* Handles --config FILE / --config=FILE / --json at argv[*i]. Returns 1 if consumed,
 * 0 if not a common option, -1 on a usage error (message printed). */
static int common_opt(opts_t *o, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    if (strcmp(a, "--json") == 0) {
        o->json = true;
        return 1;
    }
    if (strcmp(a, "--config") == 0) {
        if (*i + 1 >= argc || argv[*i + 1][0] == '\0') {
            qt_cli_usage_error(g_prog, "--config needs a FILE argument%s", "");
            return -1;
        }
        o->config_path = argv[++*i];
        return 1;
    }
    if (strncmp(a, "--config=", 9) == 0) {
        if (a[9] == '\0') {
            qt_cli_usage_error(g_prog, "--config needs a FILE argument%s", "");
            return -1;
        }
        o->config_path = a + 9;
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ config */

typedef struct {
    char name[64];
    int port;
} svc_t;

typedef struct {
    qt_config_t *cfg;
    const char *redis_host;
    int redis_port;
    int redis_timeout_ms;
    const char *brokers;
    const char *control_topic;
    size_t nsvc;
    svc_t svc[MAX_SERVICES];
} conf_t;

static int load_conf(conf_t *c, const char *path, bool need_services) {
    char err[512];
    memset(c, 0, sizeof(*c));
    c->cfg = qt_config_load(path, err, sizeof(err));
    if (c->cfg == NULL) {
        fprintf(stderr, "%s: config: %s\n", g_prog, err);
        return EXIT_USAGE;
    }
    c->redis_host = qt_config_str(c->cfg, "redis.host", "127.0.0.1");
    c->redis_port = (int)qt_config_int(c->cfg, "redis.port", false, 6379, 1, 65535);
    c->redis_timeout_ms = (int)qt_config_int(c->cfg, "redis.timeout_ms", false, 500, 1, 60000);
    c->brokers = qt_config_str(c->cfg, "kafka.brokers", "127.0.0.1:9092");
    c->control_topic = qt_config_str(c->cfg, "topics.control", "qt.control");
    if (need_services) {
        size_t n = qt_config_map_len(c->cfg, "services");
        if (n == 0) {
            fprintf(stderr, "%s: config %s: no 'services' map\n", g_prog, path);
            return EXIT_USAGE;
        }
        if (n > MAX_SERVICES) {
            fprintf(stderr, "%s: config %s: more than %d services\n", g_prog, path,
                    MAX_SERVICES);
            return EXIT_USAGE;
        }
        for (size_t i = 0; i < n; i++) {
            const char *name = qt_config_map_key(c->cfg, "services", i);
            if (name == NULL || strlen(name) >= sizeof(c->svc[i].name)) {
                fprintf(stderr, "%s: config %s: bad service name at index %zu\n", g_prog,
                        path, i);
                return EXIT_USAGE;
            }
            char key[160];
            snprintf(key, sizeof(key), "services.%s.admin_port", name);
            snprintf(c->svc[i].name, sizeof(c->svc[i].name), "%s", name);
            c->svc[i].port = (int)qt_config_int(c->cfg, key, true, 0, 1, 65535);
        }
        c->nsvc = n;
    }
    const char *e = qt_config_error(c->cfg);
    if (e != NULL) {
        fprintf(stderr, "%s: config: %s\n", g_prog, e);
        return EXIT_USAGE;
    }
    return 0;
}

/* ------------------------------------------------------------------ helpers */

/* "2024-01-02T03:04:05.678Z" for a UTC ms timestamp; no clock is read. */
static void iso_ms(int64_t ms, char *buf, size_t len) {
    int64_t sec = ms / 1000;
    int64_t rem = ms % 1000;
    if (rem < 0) {
        rem += 1000;
        sec -= 1;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL) {
        snprintf(buf, len, "%" PRId64 "ms", ms);
        return;
    }
    char base[32];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03dZ", base, (int)rem);
}

static void print_json(json_t *obj) {
    char *s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
    if (s != NULL) {
        puts(s);
        free(s);
    } else {
        fprintf(stderr, "%s: out of memory rendering JSON\n", g_prog);
    }
}

/* A metric value (double) as a JSON integer when it is one in range, else a real. */
static json_t *num_json(double v) {
    if (isfinite(v) && v >= -9.0e18 && v <= 9.0e18 && v == floor(v))
        return json_integer((json_int_t)v);
    return json_real(v);
}

/* Parse a decimal int64 from a Redis string reply; -1 when not a clean integer. */
static int parse_i64(const char *s, size_t len, int64_t *out) {
    char tmp[32];
    if (len == 0 || len >= sizeof(tmp)) return -1;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    char *end = NULL;
    errno = 0;
    long long v = strtoll(tmp, &end, 10);
    if (errno != 0 || end == tmp || *end != '\0') return -1;
    *out = (int64_t)v;
    return 0;
}

/* ------------------------------------------------------------------ kill switch view */

typedef enum { KS_VIEW_UNREACHABLE = 0, KS_VIEW_ABSENT, KS_VIEW_SET } ks_view_state_t;

typedef struct {
    ks_view_state_t state;
    qt_ks_tier_t effective;        /* what every service acts on (fail closed) */
    char stored_tier[32];          /* raw stored field */
    bool have_version;
    uint64_t version;
    char set_by[128];
    char reason[512];
    bool have_set_at;
    int64_t set_at_ms;
    bool valid;                    /* stored state parsed cleanly by qt_redis_killswitch_read */
    char trigger[32];
    char previous_tier[32];
    char approved_by[80];
    bool pending;                  /* a first approval waiting for a second operator */
    char p_operator[40];
    char p_target[32];
    char p_version[24];
    int64_t p_recorded_at_ms;
} ks_view_t;

static void copy_field(char *dst, size_t dstlen, const redisReply *v) {
    size_t n = v->len < dstlen - 1 ? v->len : dstlen - 1;
    memcpy(dst, v->str, n);
    dst[n] = '\0';
}

/* The pending approval (qt:killswitch:pending), for display only: whether it can still
 * count is decided by qt_killswitch when the second approval arrives. */
static void ks_pending_read(qt_redis_t *r, ks_view_t *v) {
    redisReply *rep = qt_redis_cmd(r, "HGETALL %s:pending", KS_KEY);
    if (rep == NULL) return;
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements > 0) {
        v->pending = true;
        for (size_t i = 0; i + 1 < rep->elements; i += 2) {
            const redisReply *k = rep->element[i], *val = rep->element[i + 1];
            if (k->type != REDIS_REPLY_STRING || val->type != REDIS_REPLY_STRING) continue;
            if (strcmp(k->str, "operator") == 0)
                copy_field(v->p_operator, sizeof(v->p_operator), val);
            else if (strcmp(k->str, "target") == 0)
                copy_field(v->p_target, sizeof(v->p_target), val);
            else if (strcmp(k->str, "version") == 0)
                copy_field(v->p_version, sizeof(v->p_version), val);
            else if (strcmp(k->str, "recorded_at_ms") == 0)
                (void)parse_i64(val->str, val->len, &v->p_recorded_at_ms);
        }
    }
    freeReplyObject(rep);
}

/* Reads the kill switch: the raw hash for display and, through the library, the tier
 * every service acts on. */
static void ks_view_read(qt_redis_t *r, ks_view_t *v) {
    memset(v, 0, sizeof(*v));
    v->effective = QT__V1__KILL_SWITCH_TIER__KS_NO_NEW;
    if (!qt_redis_ping(r)) {
        v->state = KS_VIEW_UNREACHABLE;
        return;
    }
    redisReply *rep = qt_redis_cmd(r, "HGETALL %s", KS_KEY);
    if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
        if (rep) freeReplyObject(rep);
        v->state = KS_VIEW_UNREACHABLE;
        return;
    }
    if (rep->type != REDIS_REPLY_ARRAY ||
        rep->elements == 0) {
        freeReplyObject(rep);
        v->state = KS_VIEW_ABSENT;
        ks_pending_read(r, v);
        return;
    }
    v->state = KS_VIEW_SET;
    for (size_t i = 0; i + 1 < rep->elements; i += 2) {
        const redisReply *k = rep->element[i], *val = rep->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || val->type != REDIS_REPLY_STRING) continue;
        if (strcmp(k->str, "tier") == 0) {
            copy_field(v->stored_tier, sizeof(v->stored_tier), val);
        } else if (strcmp(k->str, "version") == 0) {
            int64_t x;
            if (parse_i64(val->str, val->len, &x) == 0 && x >= 0) {
                v->have_version = true;
                v->version = (uint64_t)x;
            }
        } else if (strcmp(k->str, "set_by") == 0) {
            copy_field(v->set_by, sizeof(v->set_by), val);
        } else if (strcmp(k->str, "reason") == 0) {
            copy_field(v->reason, sizeof(v->reason), val);
        } else if (strcmp(k->str, "set_at_ms") == 0) {
            int64_t x;
            if (parse_i64(val->str, val->len, &x) == 0) {
                v->have_set_at = true;
                v->set_at_ms = x;
            }
        } else if (strcmp(k->str, "trigger") == 0) {
            copy_field(v->trigger, sizeof(v->trigger), val);
        } else if (strcmp(k->str, "previous_tier") == 0) {
            copy_field(v->previous_tier, sizeof(v->previous_tier), val);
        } else if (strcmp(k->str, "approved_by") == 0) {
            copy_field(v->approved_by, sizeof(v->approved_by), val);
        }
    }
    freeReplyObject(rep);
    ks_pending_read(r, v);
    v->effective = qt_redis_killswitch_read(r, NULL);
    /* The library fails closed on anything invalid; the stored tier must match. */
    qt_ks_tier_t stored;
    v->valid = v->stored_tier[0] != '\0' && qt_ks_tier_parse(v->stored_tier, &stored) == 0 &&
               stored == v->effective;
    if (!v->valid && v->stored_tier[0] != '\0') {
        /* The stored tier may be numeric in the library's encoding. */
        int64_t num;
        if (parse_i64(v->stored_tier, strlen(v->stored_tier), &num) == 0 &&
            num == (int64_t)v->effective)
            v->valid = true;
    }
}

static json_t *ks_view_json(const ks_view_t *v) {
    json_t *o = json_object();
    const char *st = v->state == KS_VIEW_SET      ? "set"
                     : v->state == KS_VIEW_ABSENT ? "absent"
                                                  : "unreachable";
    json_object_set_new(o, "state", json_string(st));
    json_object_set_new(o, "effective_tier", json_string(qt_ks_tier_name(v->effective)));
    json_object_set_new(o, "fail_closed", json_boolean(v->state != KS_VIEW_SET || !v->valid));
    if (v->state == KS_VIEW_SET) {
        json_object_set_new(o, "tier", json_string(v->stored_tier));
        json_object_set_new(o, "valid", json_boolean(v->valid));
        json_object_set_new(o, "version",
                            v->have_version ? json_integer((json_int_t)v->version) : json_null());
        json_object_set_new(o, "set_by", json_string(v->set_by));
        json_object_set_new(o, "reason", json_string(v->reason));
        if (v->have_set_at) {
            char iso[48];
            iso_ms(v->set_at_ms, iso, sizeof(iso));
            json_object_set_new(o, "set_at_ms", json_integer((json_int_t)v->set_at_ms));
            json_object_set_new(o, "set_at", json_string(iso));
        } else {
            json_object_set_new(o, "set_at_ms", json_null());
        }
        json_object_set_new(o, "trigger", json_string(v->trigger));
        json_object_set_new(o, "previous_tier", json_string(v->previous_tier));
        json_t *ab = json_array();
        char tmp[sizeof(v->approved_by)];
        snprintf(tmp, sizeof(tmp), "%s", v->approved_by);
        char *save = NULL;
        for (char *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save))
            json_array_append_new(ab, json_string(t));
        json_object_set_new(o, "approved_by", ab);
    }
    if (v->pending) {
        json_t *p = json_object();
        json_object_set_new(p, "operator", json_string(v->p_operator));
        json_object_set_new(p, "target", json_string(v->p_target));
        json_object_set_new(p, "version", json_string(v->p_version));
        json_object_set_new(p, "recorded_at_ms", json_integer((json_int_t)v->p_recorded_at_ms));
        json_object_set_new(o, "pending_approval", p);
    } else {
        json_object_set_new(o, "pending_approval", json_null());
    }
    return o;
}

static void ks_view_print(const ks_view_t *v, FILE *f) {
    switch (v->state) {
    case KS_VIEW_UNREACHABLE:
        fprintf(f, "kill switch: UNKNOWN (Redis unreachable): services fail closed to %s\n",
                qt_ks_tier_name(v->effective));
        break;
    case KS_VIEW_ABSENT:
        fprintf(f,
                "kill switch: absent (never set): services fail closed to NO_NEW "
                "(lowering it needs two operators: 'qtctl killswitch approve-lower NORMAL "
                "--operator NAME')\n");
        break;
    case KS_VIEW_SET: {
        char iso[48] = "-";
        if (v->have_set_at) iso_ms(v->set_at_ms, iso, sizeof(iso));
        if (v->valid) {
            fprintf(f, "kill switch: %s  version %" PRIu64 "  by %s  at %s  reason: %s\n",
                    qt_ks_tier_name(v->effective), v->have_version ? v->version : 0,
                    v->set_by[0] ? v->set_by : "-", iso, v->reason[0] ? v->reason : "-");
            if (v->trigger[0] || v->previous_tier[0])
                fprintf(f, "  trigger %s  previous %s%s%s\n", v->trigger[0] ? v->trigger : "-",
                        v->previous_tier[0] ? v->previous_tier : "-",
                        v->approved_by[0] ? "  approved by " : "", v->approved_by);
        } else {
            fprintf(f,
                    "kill switch: INVALID stored state (tier '%s'): services fail closed to "
                    "%s; by %s at %s reason: %s\n",
                    v->stored_tier, qt_ks_tier_name(v->effective),
                    v->set_by[0] ? v->set_by : "-", iso, v->reason[0] ? v->reason : "-");
        }
        break;
    }
    }
    if (v->pending)
        fprintf(f, "  pending approval: %s -> %s (for version %s), waiting for a second operator\n",
                v->p_operator, v->p_target, v->p_version);
}

/* ------------------------------------------------------------------ status */

typedef struct {
    char *data;
    size_t len;
    bool overflow;
} membuf_t;

static size_t on_http_data(char *p, size_t size, size_t nmemb, void *ud) {
    membuf_t *b = ud;
    if (size != 0 && nmemb > SIZE_MAX / size) return 0;
    size_t n = size * nmemb;
    if (b->len + n > HTTP_MAX_BODY) {
        b->overflow = true;
        return 0;   /* aborts the transfer */
    }
    char *nd = realloc(b->data, b->len + n + 1);
    if (nd == NULL) return 0;
    b->data = nd;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

typedef struct {
    const svc_t *svc;
    CURL *easy;
    membuf_t body;
    char curl_err[CURL_ERROR_SIZE];
    /* results */
    bool up;
    char error[256];
    bool healthy, ready;
    bool have_pid;
    int64_t pid;
    bool have_last, have_processed, have_rejected, have_gaps;
    double last_event_ms;
    double processed, rejected, gaps;
    bool have_hb, hb_bad;
    char hb_status[32];
    int64_t hb_age_ms;
    int64_t hb_ms;
} svc_status_t;

/* Metric keys in /status are "name" or "name{labels}"; returns the base name length. */
static size_t metric_base_len(const char *key) {
    const char *b = strchr(key, '{');
    return b ? (size_t)(b - key) : strlen(key);
}

static bool base_is(const char *key, const char *name) {
    size_t n = metric_base_len(key);
    return n == strlen(name) && strncmp(key, name, n) == 0;
}

static bool base_has(const char *key, const char *part, const char *suffix) {
    size_t n = metric_base_len(key);
    char base[160];
    if (n >= sizeof(base)) return false;
    memcpy(base, key, n);
    base[n] = '\0';
    size_t sl = strlen(suffix);
    return strstr(base, part) != NULL && n >= sl && strcmp(base + n - sl, suffix) == 0;
}

static void parse_status_body(svc_status_t *s) {
    json_error_t jerr;
    json_t *root = json_loadb(s->body.data ? s->body.data : "", s->body.len, 0, &jerr);
    if (root == NULL || !json_is_object(root)) {
        s->up = false;
        snprintf(s->error, sizeof(s->error), "bad /status JSON: %s", root ? "not an object" : jerr.text);
        json_decref(root);
        return;
    }
    s->healthy = json_is_true(json_object_get(root, "healthy"));
    s->ready = json_is_true(json_object_get(root, "ready"));
    json_t *pid = json_object_get(root, "pid");
    if (json_is_integer(pid)) {
        s->have_pid = true;
        s->pid = (int64_t)json_integer_value(pid);
    }
    json_t *m = json_object_get(root, "metrics");
    if (json_is_object(m)) {
        const char *key;
        json_t *val;
        json_object_foreach(m, key, val) {
            if (!json_is_number(val)) continue;
            double x = json_number_value(val);
            if (!isfinite(x)) continue;
            if (base_is(key, "qt_last_event_timestamp_seconds")) {
                if (x < 0.0 || x > 9.0e12) continue;   /* not a plausible Unix time */
                x = x * 1000.0;                          /* seconds -> ms */
                if (!s->have_last || x > s->last_event_ms) s->last_event_ms = x;
                s->have_last = true;
            } else if (base_is(key, "qt_events_processed_total")) {
                s->processed += x;
                s->have_processed = true;
            } else if (base_has(key, "reject", "_total")) {
                s->rejected += x;
                s->have_rejected = true;
            } else if (base_has(key, "gaps", "_total")) {
                s->gaps += x;
                s->have_gaps = true;
            }
        }
    }
    json_decref(root);
}

/* GET every /status concurrently (one 1 s budget for all, not one per service). */
static int fetch_statuses(svc_status_t *st, size_t n) {
    CURLM *multi = curl_multi_init();
    if (multi == NULL) return -1;
    for (size_t i = 0; i < n; i++) {
        char url[128];
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/status", st[i].svc->port);
        CURL *e = curl_easy_init();
        if (e == NULL) {
            snprintf(st[i].error, sizeof(st[i].error), "curl init failed");
            continue;
        }
        st[i].easy = e;
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, HTTP_TIMEOUT_MS);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, HTTP_TIMEOUT_MS);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_http_data);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &st[i].body);
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, st[i].curl_err);
        curl_easy_setopt(e, CURLOPT_PRIVATE, &st[i]);
        curl_multi_add_handle(multi, e);
    }
    int running = 0;
    do {
        CURLMcode mc = curl_multi_perform(multi, &running);
        if (mc != CURLM_OK) break;
        if (running) curl_multi_poll(multi, NULL, 0, 100, NULL);
    } while (running);
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE) continue;
        svc_status_t *s = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
        if (s == NULL) continue;
        if (msg->data.result != CURLE_OK) {
            snprintf(s->error, sizeof(s->error), "%s",
                     s->body.overflow ? "response too large"
                     : s->curl_err[0] ? s->curl_err
                                      : curl_easy_strerror(msg->data.result));
            continue;
        }
        long code = 0;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
        if (code != 200) {
            snprintf(s->error, sizeof(s->error), "HTTP %ld from /status", code);
            continue;
        }
        s->up = true;
        parse_status_body(s);
    }
    for (size_t i = 0; i < n; i++) {
        if (st[i].easy) {
            curl_multi_remove_handle(multi, st[i].easy);
            curl_easy_cleanup(st[i].easy);
            st[i].easy = NULL;
        }
        if (!st[i].up && st[i].error[0] == '\0')
            snprintf(st[i].error, sizeof(st[i].error), "no response");
    }
    curl_multi_cleanup(multi);
    return 0;
}

/* Heartbeat record qt:hb:<service> (written by qt_service): the encoded Envelope of the
 * last Heartbeat, expiring after three missed intervals. 1 found (*ms = its publish time,
 * *hb_status = the service's own status word), 0 absent/expired, -1 unreadable. */
static int hb_read(qt_redis_t *r, const char *service, int64_t *ms, char *hb_status,
                   size_t stlen) {
    redisReply *rep = qt_redis_cmd(r, "GET qt:hb:%s", service);
    if (rep == NULL) return -1;
    int rc = 0;
    if (rep->type == REDIS_REPLY_STRING) {
        qt_env_t *env = NULL;
        rc = -1;
        if (qt_env_decode((const uint8_t *)rep->str, rep->len, &env, NULL, 0) == QT_DECODE_OK) {
            if (env->body_case == QT__V1__ENVELOPE__BODY_HEARTBEAT) {
                *ms = (env->publish_time_ns > 0 ? env->publish_time_ns : env->event_time_ns) /
                      1000000;
                snprintf(hb_status, stlen, "%s",
                         env->heartbeat->status ? env->heartbeat->status : "");
                rc = 1;
            }
            qt_env_free(env);
        }
    } else if (rep->type != REDIS_REPLY_NIL) {
        rc = -1;
    }
    freeReplyObject(rep);
    return rc;
}

static int cmd_status(const opts_t *o) {
    conf_t c;
    int rc = load_conf(&c, o->config_path, true);
    if (rc != 0) {
        qt_config_destroy(&c.cfg);
        return rc;
    }
    svc_status_t *st = calloc(c.nsvc, sizeof(*st));
    qt_clock_t *clock = qt_clock_new_wall();
    qt_metrics_t *metrics = qt_metrics_new("qtctl");
    qt_redis_t *redis = NULL;
    if (st == NULL || clock == NULL || metrics == NULL) {
        fprintf(stderr, "%s: out of memory\n", g_prog);
        rc = EXIT_FAIL;
        goto out;
    }
    for (size_t i = 0; i < c.nsvc; i++) st[i].svc = &c.svc[i];
    if (fetch_statuses(st, c.nsvc) != 0) {
        fprintf(stderr, "%s: libcurl multi init failed\n", g_prog);
        rc = EXIT_FAIL;
        goto out;
    }
    redis = qt_redis_new(c.redis_host, c.redis_port, c.redis_timeout_ms, metrics);
    if (redis == NULL) {
        fprintf(stderr, "%s: out of memory\n", g_prog);
        rc = EXIT_FAIL;
        goto out;
    }
    ks_view_t ks;
    ks_view_read(redis, &ks);
    bool redis_ok = ks.state != KS_VIEW_UNREACHABLE;
    int64_t now_ms = qt_clock_now_ms(clock);
    if (redis_ok) {
        for (size_t i = 0; i < c.nsvc; i++) {
            int64_t hb = 0;
            int r = hb_read(redis, st[i].svc->name, &hb, st[i].hb_status, sizeof(st[i].hb_status));
            if (r == 1) {
                st[i].have_hb = true;
                st[i].hb_ms = hb;
                st[i].hb_age_ms = now_ms - hb;
            } else if (r < 0) {
                st[i].hb_bad = true;
            }
        }
    }
    bool all_up = true;
    for (size_t i = 0; i < c.nsvc; i++) all_up = all_up && st[i].up;

    if (o->json) {
        json_t *root = json_object();
        json_object_set_new(root, "ok", json_boolean(all_up && redis_ok));
        json_object_set_new(root, "all_up", json_boolean(all_up));
        json_object_set_new(root, "redis", json_string(redis_ok ? "ok" : "unreachable"));
        json_object_set_new(root, "now_ms", json_integer((json_int_t)now_ms));
        json_t *arr = json_array();
        for (size_t i = 0; i < c.nsvc; i++) {
            const svc_status_t *s = &st[i];
            json_t *e = json_object();
            json_object_set_new(e, "service", json_string(s->svc->name));
            json_object_set_new(e, "admin_port", json_integer(s->svc->port));
            json_object_set_new(e, "up", json_boolean(s->up));
            if (s->up) {
                json_object_set_new(e, "healthy", json_boolean(s->healthy));
                json_object_set_new(e, "ready", json_boolean(s->ready));
                json_object_set_new(e, "pid", s->have_pid ? json_integer((json_int_t)s->pid)
                                                          : json_null());
            } else {
                json_object_set_new(e, "error", json_string(s->error));
            }
            if (s->have_last && s->last_event_ms > 0) {
                char iso[48];
                iso_ms((int64_t)s->last_event_ms, iso, sizeof(iso));
                json_object_set_new(e, "last_event_time_ms",
                                    num_json(s->last_event_ms));
                json_object_set_new(e, "last_event_time", json_string(iso));
            } else {
                json_object_set_new(e, "last_event_time_ms", json_null());
                json_object_set_new(e, "last_event_time", json_null());
            }
            json_object_set_new(e, "processed", s->have_processed
                                                    ? num_json(s->processed)
                                                    : json_null());
            json_object_set_new(e, "rejected", s->have_rejected
                                                   ? num_json(s->rejected)
                                                   : json_null());
            json_object_set_new(e, "gaps", s->have_gaps ? num_json(s->gaps)
                                                        : json_null());
            json_object_set_new(e, "heartbeat_age_ms",
                                s->have_hb ? json_integer((json_int_t)s->hb_age_ms) : json_null());
            json_object_set_new(e, "heartbeat",
                                json_string(s->have_hb  ? (s->hb_status[0] ? s->hb_status : "ok")
                                            : s->hb_bad ? "unreadable"
                                            : redis_ok  ? "absent"
                                                        : "unknown"));
            json_array_append_new(arr, e);
        }
        json_object_set_new(root, "services", arr);
        json_object_set_new(root, "killswitch", ks_view_json(&ks));
        print_json(root);
        json_decref(root);
    } else {
        printf("%-14s %-5s %-5s %-24s %10s %8s %6s %8s\n", "SERVICE", "STATE", "READY",
               "LAST EVENT", "PROCESSED", "REJECTED", "GAPS", "HB AGE");
        for (size_t i = 0; i < c.nsvc; i++) {
            const svc_status_t *s = &st[i];
            char last[48] = "-", proc[24] = "-", rej[24] = "-", gaps[24] = "-", hb[24] = "-";
            if (s->have_last && s->last_event_ms > 0)
                iso_ms((int64_t)s->last_event_ms, last, sizeof(last));
            if (s->have_processed) snprintf(proc, sizeof(proc), "%.0f", s->processed);
            if (s->have_rejected) snprintf(rej, sizeof(rej), "%.0f", s->rejected);
            if (s->have_gaps) snprintf(gaps, sizeof(gaps), "%.0f", s->gaps);
            if (s->have_hb)
                snprintf(hb, sizeof(hb), "%.1fs", (double)s->hb_age_ms / 1000.0);
            else if (s->hb_bad)
                snprintf(hb, sizeof(hb), "bad");
            else if (redis_ok)
                snprintf(hb, sizeof(hb), "none");
            printf("%-14s %-5s %-5s %-24s %10s %8s %6s %8s", s->svc->name,
                   s->up ? (s->healthy ? "up" : "unhealthy") : "down",
                   s->up ? (s->ready ? "yes" : "no") : "-", last, proc, rej, gaps, hb);
            if (!s->up) printf("  (%s)", s->error);
            printf("\n");
        }
        if (!redis_ok)
            printf("redis: unreachable at %s:%d\n", c.redis_host, c.redis_port);
        ks_view_print(&ks, stdout);
    }
    rc = (all_up && redis_ok) ? 0 : EXIT_FAIL;
out:
    if (st) {
        for (size_t i = 0; i < c.nsvc; i++) free(st[i].body.data);
        free(st);
    }
    qt_redis_destroy(&redis);
    qt_metrics_destroy(&metrics);
    qt_clock_destroy(&clock);
    qt_config_destroy(&c.cfg);
    return rc;
}

/* ------------------------------------------------------------------ killswitch */

static int ks_get(const opts_t *o) {
    conf_t c;
    int rc = load_conf(&c, o->config_path, false);
    if (rc != 0) {
        qt_config_destroy(&c.cfg);
        return rc;
    }
    qt_metrics_t *metrics = qt_metrics_new("qtctl");
    qt_redis_t *redis = metrics ? qt_redis_new(c.redis_host, c.redis_port, c.redis_timeout_ms,
                                               metrics)
                                : NULL;
    if (redis == NULL) {
        fprintf(stderr, "%s: out of memory\n", g_prog);
        qt_metrics_destroy(&metrics);
        qt_config_destroy(&c.cfg);
        return EXIT_FAIL;
    }
    ks_view_t ks;
    ks_view_read(redis, &ks);
    if (ks.state == KS_VIEW_UNREACHABLE) {
        fprintf(stderr,
                "%s: Redis unreachable at %s:%d: cannot read the kill switch "
                "(services fail closed to NO_NEW)\n",
                g_prog, c.redis_host, c.redis_port);
        rc = EXIT_FAIL;
    } else if (o->json) {
        json_t *j = ks_view_json(&ks);
        print_json(j);
        json_decref(j);
    } else {
        ks_view_print(&ks, stdout);
    }
    qt_redis_destroy(&redis);
    qt_metrics_destroy(&metrics);
    qt_config_destroy(&c.cfg);
    return rc;
}

/* Mirrors *st to the compacted control topic (key "killswitch"), flushed before exit.
 * NULL on success, else a static or err-held description. */
static const char *ks_mirror(const conf_t *c, qt_metrics_t *metrics, const qt_ks_state_t *st,
                             int64_t now_ns, char *err, size_t errlen) {
    Qt__V1__KillSwitch ks;
    char *names[2] = {NULL, NULL};
    qt_ks_state_to_proto(st, &ks, names);
    qt_env_t env;
    qt_env_init(&env, now_ns);
    env.source = (char *)"qtctl";
    env.seq = st->version;
    env.publish_time_ns = now_ns;
    env.body_case = QT__V1__ENVELOPE__BODY_KILLSWITCH;
    env.killswitch = &ks;
    const char *topics[1] = {c->control_topic};
    const bool compacted[1] = {true};
    size_t len = 0;
    uint8_t *buf = qt_env_encode(&env, &len);
    qt_kproducer_t *prod = NULL;
    const char *fail = NULL;
    if (buf == NULL) {
        fail = "out of memory encoding the envelope";
    } else if (qt_kafka_ensure_topics(c->brokers, topics, compacted, 1, 10000, err, errlen) !=
               0) {
        fail = err;
    } else if ((prod = qt_kproducer_new(c->brokers, "qtctl", metrics, err, errlen)) == NULL) {
        fail = err;
    } else if (qt_kproducer_send(prod, c->control_topic, "killswitch", buf, len) != 0) {
        fail = "produce failed";
    } else if (qt_kproducer_flush(prod, 10000) != 0) {
        fail = "delivery not confirmed within 10 s";
    }
    free(buf);
    qt_kproducer_destroy(&prod);
    return fail;
}

/* Adds the state's fields to j (flat, so `--json` keeps the keys `killswitch set` had). */
static void ks_state_json(json_t *j, const qt_ks_state_t *st) {
    json_object_set_new(j, "tier", json_string(qt_ks_tier_name(qt_ks_effective(st))));
    json_object_set_new(j, "present", json_boolean(st->present));
    json_object_set_new(j, "version", json_integer((json_int_t)st->version));
    json_object_set_new(j, "set_by", json_string(st->set_by));
    json_object_set_new(j, "reason", json_string(st->reason));
    json_object_set_new(j, "set_at_ms", json_integer((json_int_t)st->set_at_ms));
    json_object_set_new(j, "trigger", json_string(st->trigger));
    json_object_set_new(j, "previous_tier", json_string(qt_ks_tier_name(st->previous_tier)));
    json_t *ab = json_array();
    for (size_t i = 0; i < st->n_approved_by; i++)
        json_array_append_new(ab, json_string(st->approved_by[i]));
    json_object_set_new(j, "approved_by", ab);
}

typedef struct {
    bool approve;              /* false: raise */
    qt_ks_tier_t tier;
    const char *reason;
    const char *by;            /* raise */
    const char *trigger;       /* raise */
    const char *op;            /* approve */
    const char *key_file;      /* approve, optional */
} ks_req_t;

/* Signing key of the operator: --key-file, else $QT_OPERATOR_KEY_<NAME>, else
 * $QT_OPERATOR_KEYS_DIR/<name>.key. */
static int ks_signing_key(const ks_req_t *q, qt_ks_keyring_t *kr, char *err, size_t errlen) {
    if (q->key_file != NULL) return qt_ks_keyring_add_file(kr, q->op, q->key_file, err, errlen);
    char var[64];
    snprintf(var, sizeof(var), "QT_OPERATOR_KEY_");
    size_t n = strlen(var);
    for (const char *p = q->op; *p && n + 1 < sizeof(var); p++)
        var[n++] = (*p >= 'a' && *p <= 'z') ? (char)(*p - 'a' + 'A') : *p;
    var[n] = '\0';
    const char *e = getenv(var);
    if (e != NULL) {
        char e2[200];
        if (qt_ks_keyring_add_hex(kr, q->op, e, e2, sizeof(e2)) != 0) {
            snprintf(err, errlen, "environment %s: %s", var, e2);
            return -1;
        }
        return 0;
    }
    const char *dir = getenv("QT_OPERATOR_KEYS_DIR");
    if (dir != NULL && dir[0] != '\0') {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s.key", dir, q->op);
        return qt_ks_keyring_add_file(kr, q->op, path, err, errlen);
    }
    snprintf(err, errlen, "no key for operator '%s': give --key-file, set %s or "
             "QT_OPERATOR_KEYS_DIR", q->op, var);
    return -1;
}

static int ks_change(const opts_t *o, const ks_req_t *q) {
    conf_t c;
    int rc = load_conf(&c, o->config_path, false);
    int64_t window_s = 300;
    if (rc == 0) {
        window_s = qt_config_int(c.cfg, "killswitch.approval_window_s", false, 300, 10, 86400);
        const char *e = qt_config_error(c.cfg);
        if (e != NULL) {
            fprintf(stderr, "%s: config: %s\n", g_prog, e);
            rc = EXIT_USAGE;
        }
    }
    if (rc != 0) {
        qt_config_destroy(&c.cfg);
        return rc;
    }
    qt_clock_t *clock = qt_clock_new_wall();
    qt_metrics_t *metrics = qt_metrics_new("qtctl");
    qt_redis_t *redis = NULL;
    qt_ks_keyring_t *signer = NULL, *verifier = NULL;
    char err[512] = "";
    if (clock == NULL || metrics == NULL) {
        fprintf(stderr, "%s: out of memory\n", g_prog);
        rc = EXIT_FAIL;
        goto out;
    }
    if (q->approve) {
        signer = qt_ks_keyring_new();
        verifier = qt_ks_keyring_new();
        const char *dir = getenv("QT_OPERATOR_KEYS_DIR");
        if (signer == NULL || verifier == NULL) {
            fprintf(stderr, "%s: out of memory\n", g_prog);
            rc = EXIT_FAIL;
            goto out;
        }
        if (dir == NULL || dir[0] == '\0') {
            fprintf(stderr, "%s: QT_OPERATOR_KEYS_DIR is not set: no operator keys to verify "
                            "approvals with; kill switch NOT changed\n", g_prog);
            rc = EXIT_USAGE;
            goto out;
        }
        if (qt_ks_keyring_load_dir(verifier, dir, err, sizeof(err)) != 0 ||
            ks_signing_key(q, signer, err, sizeof(err)) != 0) {
            fprintf(stderr, "%s: %s; kill switch NOT changed\n", g_prog, err);
            rc = EXIT_USAGE;
            goto out;
        }
    }
    redis = qt_redis_new(c.redis_host, c.redis_port, c.redis_timeout_ms, metrics);
    if (redis == NULL || !qt_redis_ping(redis)) {
        fprintf(stderr, "%s: Redis unreachable at %s:%d: kill switch NOT changed\n", g_prog,
                c.redis_host, c.redis_port);
        rc = EXIT_FAIL;
        goto out;
    }
    qt_ks_store_t store;
    qt_ks_store_redis(&store, redis);
    int64_t now_ns = qt_clock_now_ns(clock);
    int64_t now_ms = now_ns / 1000000;
    qt_ks_state_t st;
    qt_ks_pending_t pend;
    qt_ks_pending_init(&pend);
    qt_ks_result_t res;
    if (!q->approve) {
        res = qt_ks_store_raise(&store, q->tier, q->trigger, q->by, q->reason, now_ms, &st);
    } else {
        /* Sign for the version we read now; if it changes before our CAS the token no
         * longer verifies (BAD_TOKEN) and the operator re-runs the command. */
        qt_ks_state_t cur;
        if (qt_ks_store_read(&store, &cur, NULL) == QT__V1__KILL_SWITCH_TIER__KS_NO_NEW &&
            store.load(store.ctx, &cur, &pend) != 0) {
            fprintf(stderr, "%s: kill switch state in Redis is unreadable or invalid: NOT "
                            "changed (services fail closed to NO_NEW)\n", g_prog);
            rc = EXIT_FAIL;
            goto out;
        }
        char token[QT_KS_TOKEN_HEX + 1];
        if (qt_ks_sign(signer, q->tier, cur.version, q->op, now_ms, token) != 0) {
            fprintf(stderr, "%s: cannot sign the approval\n", g_prog);
            rc = EXIT_FAIL;
            goto out;
        }
        res = qt_ks_store_approve(&store, verifier, window_s * 1000, q->tier, q->op, now_ms,
                                  token, q->reason, now_ms, &st, &pend);
    }
    bool changed = res == QT_KS_RAISED || res == QT_KS_LOWERED;
    const char *fail = NULL;
    if (changed) fail = ks_mirror(&c, metrics, &st, now_ns, err, sizeof(err));
    if (o->json) {
        json_t *j = json_object();
        json_object_set_new(j, "result", json_string(qt_ks_result_name(res)));
        ks_state_json(j, &st);
        if (res == QT_KS_RECORDED) {
            json_t *p = json_object();
            json_object_set_new(p, "operator", json_string(pend.operator_name));
            json_object_set_new(p, "target", json_string(qt_ks_tier_name(pend.target)));
            json_object_set_new(p, "version", json_integer((json_int_t)pend.version));
            json_object_set_new(p, "window_s", json_integer((json_int_t)window_s));
            json_object_set_new(j, "pending_approval", p);
        }
        json_object_set_new(j, "redis", json_boolean(res != QT_KS_STORE_ERROR));
        if (changed) {
            json_object_set_new(j, "kafka_mirrored", json_boolean(fail == NULL));
            if (fail) json_object_set_new(j, "kafka_error", json_string(fail));
        }
        print_json(j);
        json_decref(j);
    }
    const char *tn = qt_ks_tier_name(q->tier);
    switch (res) {
    case QT_KS_RAISED:
    case QT_KS_LOWERED:
        if (!o->json)
            printf("kill switch %s to %s (version %" PRIu64 ", by %s, trigger %s): %s\n",
                   res == QT_KS_RAISED ? "raised" : "lowered",
                   qt_ks_tier_name(qt_ks_effective(&st)), st.version, st.set_by,
                   st.trigger, st.reason);
        break;
    case QT_KS_RECORDED:
        if (!o->json)
            printf("approval by %s to lower the kill switch to %s recorded (version %" PRIu64
                   "); a second, different operator must approve within %" PRId64 " s\n",
                   q->op, tn, st.version, window_s);
        break;
    case QT_KS_NOT_HIGHER:
        fprintf(stderr, "%s: %s is not above the current tier %s: raise only raises; lowering "
                        "needs two operators (killswitch approve-lower); NOT changed\n",
                g_prog, tn, qt_ks_tier_name(qt_ks_effective(&st)));
        rc = EXIT_FAIL;
        break;
    case QT_KS_NOT_LOWER:
        fprintf(stderr, "%s: %s is not below the current tier %s: nothing to approve\n", g_prog,
                tn, qt_ks_tier_name(qt_ks_effective(&st)));
        rc = EXIT_FAIL;
        break;
    case QT_KS_SAME_OPERATOR:
        fprintf(stderr, "%s: %s already approved this change: a second, different operator "
                        "must approve; NOT changed\n", g_prog, q->op);
        rc = EXIT_FAIL;
        break;
    case QT_KS_UNKNOWN_OPERATOR:
        fprintf(stderr, "%s: operator '%s' has no key in QT_OPERATOR_KEYS_DIR: NOT changed\n",
                g_prog, q->op);
        rc = EXIT_FAIL;
        break;
    case QT_KS_BAD_TOKEN:
        fprintf(stderr, "%s: approval token of '%s' does not verify (wrong key, or the state "
                        "changed meanwhile: re-run); NOT changed\n", g_prog, q->op);
        rc = EXIT_FAIL;
        break;
    case QT_KS_STORE_ERROR:
        fprintf(stderr, "%s: Redis read/write of the kill switch failed (or its state is "
                        "invalid): kill switch NOT changed\n", g_prog);
        rc = EXIT_FAIL;
        break;
    default:
        fprintf(stderr, "%s: kill switch NOT changed: %s\n", g_prog, qt_ks_result_name(res));
        rc = EXIT_FAIL;
        break;
    }
    if (fail != NULL) {
        fprintf(stderr,
                "%s: kill switch written to Redis (authoritative; services act on it) but NOT "
                "mirrored to Kafka topic %s at %s: %s\n",
                g_prog, c.control_topic, c.brokers, fail);
        rc = EXIT_FAIL;
    }
out:
    qt_ks_keyring_destroy(&signer);
    qt_ks_keyring_destroy(&verifier);
    qt_redis_destroy(&redis);
    qt_metrics_destroy(&metrics);
    qt_clock_destroy(&clock);
    qt_config_destroy(&c.cfg);
    return rc;
}

/* --name VALUE / --name=VALUE at argv[*i]; 1 matched (*val set), 0 not, -1 usage error. */
static int opt_value(const char *name, int argc, char **argv, int *i, const char **val) {
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strcmp(a, name) == 0) {
        if (*i + 1 >= argc) {
            qt_cli_usage_error(g_prog, "%s needs a value", name);
            return -1;
        }
        *val = argv[++*i];
        return 1;
    }
    if (strncmp(a, name, n) == 0 && a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    return 0;
}

static int cmd_killswitch(opts_t *o, int argc, char **argv, int i) {
    if (i >= argc)
        return qt_cli_usage_error(g_prog, "killswitch needs status, raise or approve-lower%s", "");
    const char *sub = argv[i++];
    if (strcmp(sub, "get") == 0 || strcmp(sub, "status") == 0) {
        for (; i < argc; i++) {
            int r = common_opt(o, argc, argv, &i);
            if (r < 0) return EXIT_USAGE;
            if (r == 0)
                return qt_cli_usage_error(g_prog, "killswitch status: unexpected argument '%s'",
                                          argv[i]);
        }
        return ks_get(o);
    }
    bool approve = strcmp(sub, "approve-lower") == 0;
    if (!approve && strcmp(sub, "set") != 0 && strcmp(sub, "raise") != 0)
        return qt_cli_usage_error(g_prog,
                                  "killswitch: unknown subcommand '%s' (expected status, raise "
                                  "or approve-lower)", sub);
    ks_req_t q = {.approve = approve, .trigger = "operator"};
    const char *tier_s = NULL;
    for (; i < argc; i++) {
        int r = common_opt(o, argc, argv, &i);
        if (r < 0) return EXIT_USAGE;
        if (r == 1) continue;
        const char *a = argv[i];
        const char *v = NULL;
        if ((r = opt_value("--reason", argc, argv, &i, &v)) != 0) {
            if (r < 0) return EXIT_USAGE;
            q.reason = v;
        } else if (!approve && (r = opt_value("--by", argc, argv, &i, &v)) != 0) {
            if (r < 0) return EXIT_USAGE;
            q.by = v;
        } else if (!approve && (r = opt_value("--trigger", argc, argv, &i, &v)) != 0) {
            if (r < 0) return EXIT_USAGE;
            q.trigger = v;
        } else if (approve && (r = opt_value("--operator", argc, argv, &i, &v)) != 0) {
            if (r < 0) return EXIT_USAGE;
            q.op = v;
        } else if (approve && (r = opt_value("--key-file", argc, argv, &i, &v)) != 0) {
            if (r < 0) return EXIT_USAGE;
            q.key_file = v;
        } else if (a[0] == '-' && a[1] != '\0') {
            return qt_cli_usage_error(g_prog, "killswitch: unknown option '%s'", a);
        } else if (tier_s == NULL) {
            tier_s = a;
        } else {
            return qt_cli_usage_error(g_prog, "killswitch: unexpected argument '%s'", a);
        }
    }
    if (tier_s == NULL)
        return qt_cli_usage_error(g_prog, "killswitch %s needs a TIER (NORMAL|WARN|THROTTLE|NO_NEW|FLATTEN_ALL)",
                                  sub);
    if (qt_ks_tier_parse(tier_s, &q.tier) != 0 || q.tier == QT__V1__KILL_SWITCH_TIER__KS_UNKNOWN)
        return qt_cli_usage_error(g_prog, "bad TIER '%s' (expected NORMAL|WARN|THROTTLE|NO_NEW|FLATTEN_ALL)",
                                  tier_s);
    if (approve) {
        if (q.reason == NULL) q.reason = "two-operator approval";
        if (q.op == NULL)
            return qt_cli_usage_error(g_prog, "killswitch approve-lower needs --operator NAME%s", "");
        if (!qt_ks_operator_ok(q.op))
            return qt_cli_usage_error(g_prog, "bad --operator '%s' (expected [a-z0-9_]{1,32})", q.op);
        if (q.key_file != NULL && q.key_file[0] == '\0')
            return qt_cli_usage_error(g_prog, "--key-file must not be empty%s", "");
    } else {
        if (q.by == NULL) {
            const char *u = getenv("USER");
            q.by = (u != NULL && u[0] != '\0') ? u : "operator";
        }
        if (q.by[0] == '\0') return qt_cli_usage_error(g_prog, "--by must not be empty%s", "");
        if (strlen(q.by) > QT_KS_WHO_MAX)
            return qt_cli_usage_error(g_prog, "--by is longer than 100 characters%s", "");
        static const char *const trig[] = {"operator", "drawdown", "daily_loss", "watchdog",
                                           "recon", "policy"};
        bool tok = false;
        for (size_t k = 0; k < sizeof(trig) / sizeof(trig[0]); k++)
            if (strcmp(q.trigger, trig[k]) == 0) tok = true;
        if (!tok)
            return qt_cli_usage_error(g_prog, "bad --trigger '%s' (expected operator|drawdown|daily_loss|watchdog|recon|policy)",
                                      q.trigger);
    }
    if (q.reason == NULL || q.reason[0] == '\0')
        return qt_cli_usage_error(g_prog, "killswitch %s needs a non-empty --reason TEXT", sub);
    if (strlen(q.reason) > 400)
        return qt_cli_usage_error(g_prog, "--reason is longer than 400 characters%s", "");
    for (const char *p = q.reason; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return qt_cli_usage_error(g_prog, "--reason must not contain control characters%s", "");
    for (const char *p = q.by ? q.by : ""; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return qt_cli_usage_error(g_prog, "--by must not contain control characters%s", "");
    return ks_change(o, &q);
}

/* ------------------------------------------------------------------ wait-recon */

static volatile sig_atomic_t g_stop = 0;
static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

/* qt:recon:last holds either the ReconReport fields at the top level or the JSON of the
 * whole envelope (qt_env_to_json), where they sit under "recon". */
static json_t *recon_body(json_t *root) {
    json_t *r = json_object_get(root, "recon");
    return json_is_object(r) ? r : root;
}

static int cmd_wait_recon(opts_t *o, int argc, char **argv, int i) {
    double timeout_s = 600.0;
    for (; i < argc; i++) {
        int r = common_opt(o, argc, argv, &i);
        if (r < 0) return EXIT_USAGE;
        if (r == 1) continue;
        const char *a = argv[i];
        const char *val = NULL;
        if (strcmp(a, "--timeout") == 0) {
            if (i + 1 >= argc) return qt_cli_usage_error(g_prog, "--timeout needs a value in seconds%s", "");
            val = argv[++i];
        } else if (strncmp(a, "--timeout=", 10) == 0) {
            val = a + 10;
        } else {
            return qt_cli_usage_error(g_prog, "wait-recon: unexpected argument '%s'", a);
        }
        if (qt_cli_parse_seconds(val, 86400.0, &timeout_s) != 0)
            return qt_cli_usage_error(g_prog, "bad --timeout '%s' (expected seconds in (0, 86400])", val);
    }
    conf_t c;
    int rc = load_conf(&c, o->config_path, false);
    if (rc != 0) {
        qt_config_destroy(&c.cfg);
        return rc;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    qt_clock_t *clock = qt_clock_new_wall();
    qt_metrics_t *metrics = qt_metrics_new("qtctl");
    qt_redis_t *redis =
        metrics ? qt_redis_new(c.redis_host, c.redis_port, c.redis_timeout_ms, metrics) : NULL;
    if (clock == NULL || redis == NULL) {
        fprintf(stderr, "%s: out of memory\n", g_prog);
        rc = EXIT_FAIL;
        goto out;
    }
    int64_t deadline = qt_clock_mono_ns(clock) + (int64_t)(timeout_s * 1e9);
    bool reachable_once = false, warned = false, last_unreachable = false;
    char last_seen[64] = "no report yet";
    rc = EXIT_TIMEOUT;
    while (!g_stop) {
        redisReply *rep = qt_redis_cmd(redis, "GET %s", RECON_KEY);
        if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
            last_unreachable = true;
            if (!warned) {
                fprintf(stderr, "%s: Redis unreachable at %s:%d, retrying until timeout\n",
                        g_prog, c.redis_host, c.redis_port);
                warned = true;
            }
        } else {
            last_unreachable = false;
            reachable_once = true;
            if (rep->type == REDIS_REPLY_STRING) {
                json_error_t jerr;
                json_t *root = json_loadb(rep->str, rep->len, 0, &jerr);
                if (root == NULL || !json_is_object(root)) {
                    snprintf(last_seen, sizeof(last_seen), "unparseable report");
                } else if (json_is_true(json_object_get(recon_body(root), "final"))) {
                    print_json(root);
                    bool ok = json_is_true(json_object_get(recon_body(root), "ok"));
                    if (!ok)
                        fprintf(stderr, "%s: final reconciliation NOT ok\n", g_prog);
                    rc = ok ? 0 : EXIT_FAIL;
                    json_decref(root);
                    freeReplyObject(rep);
                    break;
                } else {
                    snprintf(last_seen, sizeof(last_seen), "latest report not final");
                }
                json_decref(root);
            }
        }
        if (rep) freeReplyObject(rep);
        int64_t now = qt_clock_mono_ns(clock);
        if (now >= deadline) break;
        int64_t nap = deadline - now < 200000000 ? deadline - now : 200000000;
        qt_clock_sleep_ns(clock, nap);
    }
    if (rc == EXIT_TIMEOUT) {
        if (g_stop)
            fprintf(stderr, "%s: interrupted before a final reconciliation report\n", g_prog);
        else
            fprintf(stderr, "%s: timeout after %.1f s waiting for a final report in %s (%s)\n",
                    g_prog, timeout_s, RECON_KEY,
                    last_unreachable ? (reachable_once ? "Redis unreachable now"
                                                       : "Redis unreachable")
                                     : last_seen);
    }
out:
    qt_redis_destroy(&redis);
    qt_metrics_destroy(&metrics);
    qt_clock_destroy(&clock);
    qt_config_destroy(&c.cfg);
    return rc;
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv) {
    opts_t o = {.config_path = NULL, .json = false};
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
        int r = common_opt(&o, argc, argv, &i);
        if (r < 0) return EXIT_USAGE;
        if (r == 0) break;
    }
    if (i >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[i++];
    if (o.config_path == NULL) {
        const char *e = getenv("QT_CONFIG");
        o.config_path = (e != NULL && e[0] != '\0') ? e : "configs/services.yml";
    }
    qt_log_init("qtctl", QT_LOG_WARN, NULL);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "%s: libcurl initialisation failed\n", g_prog);
        return EXIT_FAIL;
    }
    int rc;
    if (strcmp(cmd, "status") == 0) {
        rc = 0;
        for (; i < argc; i++) {
            int r = common_opt(&o, argc, argv, &i);
            if (r < 0) {
                rc = EXIT_USAGE;
                break;
            }
            if (r == 0) {
                rc = qt_cli_usage_error(g_prog, "status: unexpected argument '%s'", argv[i]);
                break;
            }
        }
        if (rc == 0) rc = cmd_status(&o);
    } else if (strcmp(cmd, "killswitch") == 0) {
        rc = cmd_killswitch(&o, argc, argv, i);
    } else if (strcmp(cmd, "wait-recon") == 0) {
        rc = cmd_wait_recon(&o, argc, argv, i);
    } else if (strcmp(cmd, "models") == 0) {
        rc = qtctl_models(argc, argv, i, o.config_path, o.json);
    } else if (strcmp(cmd, "mode") == 0) {
        rc = qtctl_mode(argc, argv, i, o.config_path, o.json);
    } else if (strcmp(cmd, "actions") == 0) {
        rc = qtctl_actions(argc, argv, i, o.config_path, o.json);
    } else if (strcmp(cmd, "diag") == 0) {
        rc = qtctl_diag(argc, argv, i, o.config_path, o.json);
    } else {
        rc = qt_cli_usage_error(g_prog, "unknown command '%s' (expected status, killswitch, wait-recon, models)", cmd);
    }
    curl_global_cleanup();
    return rc;
}
