/* qt-tail: print the events on a ZeroMQ PUB socket or a Kafka topic as JSON lines.
 *
 *   qt-tail [--config FILE] zmq ENDPOINT|SERVICE [TOPIC_PREFIX] [--max N] [--timeout S]
 *                                                               [--until-eos]
 *   qt-tail [--config FILE] kafka TOPIC [--from-beginning] [--max N] [--timeout S]
 *                                       [--until-eos]
 *
 * One line per event:
 *   zmq:   {"topic":"md.bar.BTC_USDT.4h","seq":12,"envelope":{...}}
 *   kafka: {"topic":"qt.bars","offset":41,"key":"BTC_USDT","envelope":{...}}
 * where "envelope" is qt_env_to_json (every field, enums by name, bytes as hex).
 *
 * Why: operators and scripts (the demo, the bench) need to see what is on the wire
 * without a protobuf toolchain. Every frame is decoded and validated exactly as a
 * service would; invalid frames are counted (by reason) and reported on stderr at exit,
 * never printed as events, so stdout is always valid JSON lines.
 *
 * Stop conditions: --max N events, --until-eos (after a Watermark with end_of_stream),
 * --timeout S (seconds of run time), SIGINT/SIGTERM, or a closed stdout.
 * Exit: 0 done; 1 connect/consume error; 2 usage/config error; 3 --timeout expired
 * before --max / --until-eos was satisfied. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qt_bus.h"
#include "qt_cli.h"
#include "qt_clock.h"
#include "qt_config.h"
#include "qt_envelope.h"
#include "qt_kafka.h"
#include "qt_log.h"
#include "qt_metrics.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define EXIT_TIMEOUT 3

static const char *g_prog = "qt-tail";
static volatile sig_atomic_t g_stop = 0;

static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: qt-tail [--config FILE] zmq ENDPOINT|SERVICE [TOPIC_PREFIX] [options]\n"
            "       qt-tail [--config FILE] kafka TOPIC [--from-beginning] [options]\n"
            "options:\n"
            "  --max N            stop after N events (N >= 1)\n"
            "  --timeout S        stop after S seconds (exit 3 if --max/--until-eos unmet)\n"
            "  --until-eos        stop after a Watermark with end_of_stream\n"
            "  --from-beginning   kafka: start at the oldest retained message (default: new)\n"
            "  --config FILE      services.yml (default: $QT_CONFIG or configs/services.yml)\n"
            "ENDPOINT is a ZeroMQ address (tcp://host:port, ipc://...); SERVICE a name in\n"
            "services.yml (e.g. qt-ingest). Kafka brokers: kafka.brokers / $QT_KAFKA_BROKERS.\n"
            "One JSON object per line on stdout; invalid frames are counted on stderr.\n");
}

typedef struct {
    const char *config_path;
    const char *mode;          /* "zmq" | "kafka" */
    const char *target;        /* endpoint, service or topic */
    const char *prefix;        /* zmq topic prefix */
    bool from_beginning;
    bool until_eos;
    uint64_t max;              /* 0 = unlimited */
    double timeout_s;          /* 0 = none */
} opts_t;

typedef struct {
    uint64_t printed;
    uint64_t invalid[QT_DECODE__COUNT];
    uint64_t invalid_total;
    bool eos_seen;
    bool out_closed;
} tally_t;

/* Writes one event line. "prefix_json" is the part before "envelope" (already JSON). */
static void emit(tally_t *t, const char *prefix_json, const qt_env_t *env) {
    char *ej = qt_env_to_json(env);
    if (ej == NULL) {
        fprintf(stderr, "%s: out of memory rendering an envelope\n", g_prog);
        return;
    }
    if (printf("{%s,\"envelope\":%s}\n", prefix_json, ej) < 0 || fflush(stdout) != 0) {
        t->out_closed = true;   /* e.g. EPIPE: the reader went away */
    } else {
        t->printed++;
    }
    free(ej);
    if (env->body_case == QT__V1__ENVELOPE__BODY_WATERMARK && env->watermark != NULL &&
        env->watermark->end_of_stream)
        t->eos_seen = true;
}

/* JSON string literal for arbitrary bytes (invalid UTF-8 -> hex with a "hex:" prefix). */
static char *json_str_bytes(const uint8_t *p, size_t n) {
    json_t *s = json_stringn((const char *)p, n);
    if (s == NULL) {
        char *hex = malloc(4 + 2 * n + 1);
        if (hex == NULL) return NULL;
        memcpy(hex, "hex:", 4);
        for (size_t i = 0; i < n; i++) snprintf(hex + 4 + 2 * i, 3, "%02x", p[i]);
        s = json_string(hex);
        free(hex);
        if (s == NULL) return NULL;
    }
    char *out = json_dumps(s, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(s);
    return out;
}

static bool done(const opts_t *o, const tally_t *t) {
    if (g_stop || t->out_closed) return true;
    if (o->max > 0 && t->printed >= o->max) return true;
    if (o->until_eos && t->eos_seen) return true;
    return false;
}

static bool goal_met(const opts_t *o, const tally_t *t) {
    if (o->max > 0 && t->printed >= o->max) return true;
    if (o->until_eos && t->eos_seen) return true;
    return false;
}

/* ------------------------------------------------------------------ zmq */

static int run_zmq(const opts_t *o, qt_config_t *cfg, qt_clock_t *clock, tally_t *t) {
    char endpoint[512];
    if (strstr(o->target, "://") != NULL) {
        if (strlen(o->target) >= sizeof(endpoint))
            return qt_cli_usage_error(g_prog, "endpoint too long: '%s'", o->target);
        snprintf(endpoint, sizeof(endpoint), "%s", o->target);
    } else {
        char key[256];
        if (strlen(o->target) > 128) return qt_cli_usage_error(g_prog, "service name too long: '%s'", o->target);
        snprintf(key, sizeof(key), "services.%s", o->target);
        if (!qt_config_has(cfg, key)) {
            fprintf(stderr,
                    "%s: '%s' is neither a ZeroMQ endpoint (tcp://host:port) nor a service in "
                    "%s\n",
                    g_prog, o->target, qt_config_name(cfg));
            return EXIT_USAGE;
        }
        snprintf(key, sizeof(key), "services.%s.pub", o->target);
        const char *ep = qt_config_str(cfg, key, NULL);
        const char *e = qt_config_error(cfg);
        if (e != NULL || ep == NULL || ep[0] == '\0') {
            fprintf(stderr, "%s: config: %s\n", g_prog, e ? e : "empty pub endpoint");
            return EXIT_USAGE;
        }
        if (strlen(ep) >= sizeof(endpoint)) {
            fprintf(stderr, "%s: config: endpoint of %s too long\n", g_prog, o->target);
            return EXIT_USAGE;
        }
        snprintf(endpoint, sizeof(endpoint), "%s", ep);
    }
    const char *prefix = o->prefix ? o->prefix : "";
    if (strlen(prefix) >= QT_TOPIC_MAX) return qt_cli_usage_error(g_prog, "topic prefix too long: '%s'", prefix);

    qt_metrics_t *metrics = qt_metrics_new("qt-tail");
    qt_sub_t *sub = metrics ? qt_sub_new(metrics) : NULL;
    int rc = 0;
    if (sub == NULL) {
        fprintf(stderr, "%s: cannot create a ZeroMQ subscriber\n", g_prog);
        rc = EXIT_FAIL;
        goto out;
    }
    if (qt_sub_connect(sub, endpoint) != 0) {
        fprintf(stderr, "%s: cannot connect to %s\n", g_prog, endpoint);
        rc = EXIT_FAIL;
        goto out;
    }
    if (qt_sub_subscribe(sub, prefix) != 0) {
        fprintf(stderr, "%s: cannot subscribe to '%s'\n", g_prog, prefix);
        rc = EXIT_FAIL;
        goto out;
    }
    int64_t deadline = o->timeout_s > 0 ? qt_clock_mono_ns(clock) + (int64_t)(o->timeout_s * 1e9)
                                        : INT64_MAX;
    bool timed_out = false;
    while (!done(o, t)) {
        int64_t now = qt_clock_mono_ns(clock);
        if (now >= deadline) {
            timed_out = true;
            break;
        }
        int64_t left_ms = (deadline - now) / 1000000;
        int wait_ms = left_ms < 200 ? (int)(left_ms > 0 ? left_ms : 1) : 200;
        char topic[QT_TOPIC_MAX];
        qt_env_t *env = NULL;
        int r = qt_sub_recv(sub, wait_ms, topic, sizeof(topic), &env);
        if (r < 0) {
            if (g_stop) break;   /* interrupted by SIGINT/SIGTERM */
            fprintf(stderr, "%s: ZeroMQ receive error on %s\n", g_prog, endpoint);
            rc = EXIT_FAIL;
            break;
        }
        if (r == 0) continue;
        char *tj = json_str_bytes((const uint8_t *)topic, strlen(topic));
        if (tj == NULL) {
            qt_env_free(env);
            fprintf(stderr, "%s: out of memory\n", g_prog);
            rc = EXIT_FAIL;
            break;
        }
        char head[QT_TOPIC_MAX * 8 + 64];
        snprintf(head, sizeof(head), "\"topic\":%s,\"seq\":%" PRIu64, tj, env->seq);
        free(tj);
        emit(t, head, env);
        qt_env_free(env);
    }
    t->invalid_total = qt_sub_rejected(sub);
    if (qt_sub_gaps(sub) > 0)
        fprintf(stderr, "%s: %" PRIu64 " sequence gaps (%" PRIu64 " messages missed)\n", g_prog,
                qt_sub_gaps(sub), qt_sub_missed(sub));
    if (rc == 0 && timed_out && (o->max > 0 || o->until_eos) && !goal_met(o, t)) rc = EXIT_TIMEOUT;
out:
    qt_sub_destroy(&sub);
    qt_metrics_destroy(&metrics);
    return rc;
}

/* ------------------------------------------------------------------ kafka */

static int run_kafka(const opts_t *o, qt_config_t *cfg, qt_clock_t *clock, tally_t *t) {
    const char *brokers = qt_config_str(cfg, "kafka.brokers", "127.0.0.1:9092");
    const char *e = qt_config_error(cfg);
    if (e != NULL) {
        fprintf(stderr, "%s: config: %s\n", g_prog, e);
        return EXIT_USAGE;
    }
    if (strlen(o->target) > 249) return qt_cli_usage_error(g_prog, "topic name too long: '%s'", o->target);
    for (const char *p = o->target; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            return qt_cli_usage_error(g_prog, "invalid Kafka topic name '%s' (allowed: [A-Za-z0-9._-])",
                               o->target);
    }
    char group[96];
    snprintf(group, sizeof(group), "qt-tail-%ld", (long)getpid());
    char err[512] = "";
    qt_metrics_t *metrics = qt_metrics_new("qt-tail");
    qt_kconsumer_t *cons = metrics ? qt_kconsumer_new(brokers, group, metrics, err, sizeof(err))
                                   : NULL;
    int rc = 0;
    if (cons == NULL) {
        fprintf(stderr, "%s: Kafka consumer for %s: %s\n", g_prog, brokers,
                err[0] ? err : "out of memory");
        rc = EXIT_FAIL;
        goto out;
    }
    if (qt_kconsumer_assign(cons, o->target,
                            o->from_beginning ? QT_OFFSET_BEGINNING : QT_OFFSET_END) != 0) {
        fprintf(stderr, "%s: cannot assign topic %s on %s\n", g_prog, o->target, brokers);
        rc = EXIT_FAIL;
        goto out;
    }
    int64_t deadline = o->timeout_s > 0 ? qt_clock_mono_ns(clock) + (int64_t)(o->timeout_s * 1e9)
                                        : INT64_MAX;
    bool timed_out = false;
    uint64_t errors = 0;
    while (!done(o, t)) {
        int64_t now = qt_clock_mono_ns(clock);
        if (now >= deadline) {
            timed_out = true;
            break;
        }
        int64_t left_ms = (deadline - now) / 1000000;
        int wait_ms = left_ms < 200 ? (int)(left_ms > 0 ? left_ms : 1) : 200;
        qt_kmsg_t msg;
        int r = qt_kconsumer_poll(cons, wait_ms, &msg);
        if (r < 0) {
            /* Transient broker errors are logged once by qt_kafka; keep polling. */
            errors++;
            continue;
        }
        if (r == 0) continue;
        qt_env_t *env = NULL;
        char why[256] = "";
        qt_decode_status_t st = qt_env_decode(msg.payload, msg.len, &env, why, sizeof(why));
        if (st != QT_DECODE_OK) {
            if ((unsigned)st < QT_DECODE__COUNT) t->invalid[st]++;
            if (t->invalid_total++ == 0)
                fprintf(stderr, "%s: first invalid message at offset %" PRId64 ": %s: %s\n",
                        g_prog, msg.offset, qt_decode_status_str(st), why);
            continue;
        }
        char *tj = json_str_bytes((const uint8_t *)(msg.topic ? msg.topic : o->target),
                                  strlen(msg.topic ? msg.topic : o->target));
        char *kj = msg.key ? json_str_bytes(msg.key, msg.key_len) : NULL;
        if (tj == NULL || (msg.key && kj == NULL)) {
            free(tj);
            free(kj);
            qt_env_free(env);
            fprintf(stderr, "%s: out of memory\n", g_prog);
            rc = EXIT_FAIL;
            break;
        }
        size_t hl = strlen(tj) + (kj ? strlen(kj) : 4) + 64;
        char *head = malloc(hl);
        if (head == NULL) {
            free(tj);
            free(kj);
            qt_env_free(env);
            fprintf(stderr, "%s: out of memory\n", g_prog);
            rc = EXIT_FAIL;
            break;
        }
        snprintf(head, hl, "\"topic\":%s,\"offset\":%" PRId64 ",\"key\":%s", tj, msg.offset,
                 kj ? kj : "null");
        emit(t, head, env);
        free(head);
        free(tj);
        free(kj);
        qt_env_free(env);
    }
    if (errors > 0) fprintf(stderr, "%s: %" PRIu64 " consumer errors while polling\n", g_prog, errors);
    if (rc == 0 && timed_out && (o->max > 0 || o->until_eos) && !goal_met(o, t)) rc = EXIT_TIMEOUT;
out:
    qt_kconsumer_destroy(&cons);
    qt_metrics_destroy(&metrics);
    return rc;
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv) {
    opts_t o;
    memset(&o, 0, sizeof(o));
    const char *positional[3] = {NULL, NULL, NULL};
    size_t npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--from-beginning") == 0) {
            o.from_beginning = true;
        } else if (strcmp(a, "--until-eos") == 0) {
            o.until_eos = true;
        } else if (strcmp(a, "--config") == 0 || strcmp(a, "--max") == 0 ||
                   strcmp(a, "--timeout") == 0) {
            if (i + 1 >= argc) return qt_cli_usage_error(g_prog, "%s needs a value", a);
            val = argv[++i];
            if (a[2] == 'c') {
                if (val[0] == '\0') return qt_cli_usage_error(g_prog, "--config needs a FILE%s", "");
                o.config_path = val;
            } else if (a[2] == 'm') {
                if (qt_cli_parse_u64(val, &o.max) != 0 || o.max == 0)
                    return qt_cli_usage_error(g_prog, "bad --max '%s' (expected an integer >= 1)", val);
            } else if (qt_cli_parse_seconds(val, 864000.0, &o.timeout_s) != 0) {
                return qt_cli_usage_error(g_prog, "bad --timeout '%s' (expected seconds > 0)", val);
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            return qt_cli_usage_error(g_prog, "unknown option '%s'", a);
        } else {
            if (npos >= 3) return qt_cli_usage_error(g_prog, "unexpected argument '%s'", a);
            positional[npos++] = a;
        }
    }
    if (npos == 0) {
        usage(stderr);
        return EXIT_USAGE;
    }
    o.mode = positional[0];
    if (strcmp(o.mode, "zmq") == 0) {
        if (npos < 2) return qt_cli_usage_error(g_prog, "zmq needs an ENDPOINT or SERVICE%s", "");
        if (o.from_beginning)
            return qt_cli_usage_error(g_prog, "--from-beginning applies to kafka only (ZeroMQ has no history)%s",
                               "");
        o.target = positional[1];
        o.prefix = npos > 2 ? positional[2] : NULL;
    } else if (strcmp(o.mode, "kafka") == 0) {
        if (npos < 2) return qt_cli_usage_error(g_prog, "kafka needs a TOPIC%s", "");
        if (npos > 2) return qt_cli_usage_error(g_prog, "unexpected argument '%s'", positional[2]);
        o.target = positional[1];
    } else {
        return qt_cli_usage_error(g_prog, "unknown mode '%s' (expected zmq or kafka)", o.mode);
    }
    if (o.target[0] == '\0') return qt_cli_usage_error(g_prog, "empty %s target", o.mode);
    if (o.config_path == NULL) {
        const char *e = getenv("QT_CONFIG");
        o.config_path = (e != NULL && e[0] != '\0') ? e : "configs/services.yml";
    }

    char err[512];
    qt_config_t *cfg = qt_config_load(o.config_path, err, sizeof(err));
    if (cfg == NULL) {
        fprintf(stderr, "%s: config: %s\n", g_prog, err);
        return EXIT_USAGE;
    }
    qt_log_init("qt-tail", QT_LOG_WARN, NULL);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);   /* a closed stdout is detected on write and ends the tail */

    qt_clock_t *clock = qt_clock_new_wall();
    tally_t t;
    memset(&t, 0, sizeof(t));
    int rc;
    if (clock == NULL) {
        fprintf(stderr, "%s: out of memory\n", g_prog);
        rc = EXIT_FAIL;
    } else if (strcmp(o.mode, "zmq") == 0) {
        rc = run_zmq(&o, cfg, clock, &t);
    } else {
        rc = run_kafka(&o, cfg, clock, &t);
    }
    if (t.invalid_total > 0) {
        fprintf(stderr, "%s: %" PRIu64 " invalid frames skipped", g_prog, t.invalid_total);
        bool first = true;
        for (int s = 1; s < QT_DECODE__COUNT; s++) {
            if (t.invalid[s] == 0) continue;
            fprintf(stderr, "%s%s=%" PRIu64, first ? " (" : ", ",
                    qt_decode_status_str((qt_decode_status_t)s), t.invalid[s]);
            first = false;
        }
        fprintf(stderr, "%s\n", first ? "" : ")");
    }
    if (rc == EXIT_TIMEOUT)
        fprintf(stderr, "%s: timeout after %.1f s with %" PRIu64 " events\n", g_prog, o.timeout_s,
                t.printed);
    qt_clock_destroy(&clock);
    qt_config_destroy(&cfg);
    return rc;
}
