/* qt-bench: measurements for `make bench` (scripts/bench). Prints figures as JSON, never
 * pass/fail.
 *
 *   qt-bench zmq-hop [--n N] [--rate R] [--payload bar]
 *       One ZeroMQ hop, as services do it: the parent publishes N Bar envelopes (real BTC
 *       4h prices) paced at R/s; a forked child subscribes, decodes + validates each one,
 *       re-encodes it and publishes it back on its own PUB socket; the parent's
 *       subscriber decodes it again. latency = round trip / 2 (monotonic clock of the
 *       parent). {"zmq_hop_latency_us":{"p50":..,"p99":..,"max":..,"n":..,"lost":..}}
 *   qt-bench machine
 *       {"cores":..,"model":..,"mem_total_kb":..}
 *   qt-bench rss [NAME=]PID...
 *       {"rss_kb":{"NAME or PID": kB or null}} from /proc/PID/status (VmRSS)
 *   qt-bench pipeline [--config FILE] [--timeout S] [--fills]
 *       Reads the bars, features (and fills) topics of a finished replay from the start
 *       and derives throughput (first bar published -> features end_of_stream
 *       watermark published) and bar -> fill latency from the envelopes' publish
 *       times. See docs/tools.md for the exact definitions.
 *
 * Percentiles are exact: samples are sorted and the nearest-rank value is reported
 * (p = sorted[ceil(q * n) - 1]).
 * Exit: 0 ok, 1 measurement failed, 2 usage error. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "qt_bus.h"
#include "bench_quant.h"
#include "qt_cli.h"
#include "qt_clock.h"
#include "qt_config.h"
#include "qt_envelope.h"
#include "qt_kafka.h"
#include "qt_log.h"
#include "qt_metrics.h"
#include "qt_money.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2

#define BAR_FILE "raw/djienne-3EMA_SRSI_ATR-binance/4h/BTC_USDT-4h.json"
#define BAR_TOPIC "md.bar.BTC_USDT.4h"
#define WARM_TOPIC "bench.warmup"
#define MAX_BARS 1000

static const char *g_prog = "qt-bench";
static volatile sig_atomic_t g_stop = 0;

static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: qt-bench zmq-hop [--n N] [--rate R] [--payload bar] [--raw]\n"
            "       qt-bench machine\n"
            "       qt-bench rss [NAME=]PID...\n"
            "       qt-bench pipeline [--config FILE] [--timeout S] [--fills]\n"
            "  zmq-hop   one-hop ZeroMQ latency (round trip / 2), N messages (default 20000)\n"
            "            at R msg/s (default 10000); payload: real BTC 4h bars from\n"
            "            $QT_DATA_DIR (default ../shared/data)/" BAR_FILE "\n"
            "            --raw: baseline, the echo forwards frames untouched (plain libzmq)\n"
            "  machine   cores, CPU model, memory\n"
            "  rss       resident set size (kB) of each process\n"
            "  pipeline  throughput and bar->fill latency of a finished replay (Kafka)\n"
            "  features | stats | models | qaoa | ingest [ARGS]\n"
            "            library benchmarks (bench_*.c; each documents its own ARGS)\n"
            "Output: one JSON object on stdout. Exit 0 ok, 1 failed, 2 usage.\n");
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

/* ------------------------------------------------------------------ percentiles */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest rank on sorted samples: the smallest value with at least q of the samples <= it. */
static double pct_sorted(const double *v, size_t n, double q) {
    if (n == 0) return NAN;
    double rank = ceil(q * (double)n);
    size_t k = rank < 1.0 ? 0 : (size_t)rank - 1;
    if (k >= n) k = n - 1;
    return v[k];
}

static double round3(double x) { return round(x * 1000.0) / 1000.0; }

/* {"p50":..,"p99":..,"max":..,"mean":..,"n":..}; sorts v in place. */
static json_t *latency_json(double *v, size_t n) {
    json_t *o = json_object();
    if (n == 0) {
        json_object_set_new(o, "p50", json_null());
        json_object_set_new(o, "p99", json_null());
        json_object_set_new(o, "max", json_null());
        json_object_set_new(o, "n", json_integer(0));
        return o;
    }
    qsort(v, n, sizeof(*v), cmp_double);
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += v[i];
    json_object_set_new(o, "p50", json_real(round3(pct_sorted(v, n, 0.50))));
    json_object_set_new(o, "p99", json_real(round3(pct_sorted(v, n, 0.99))));
    json_object_set_new(o, "max", json_real(round3(v[n - 1])));
    json_object_set_new(o, "mean", json_real(round3(sum / (double)n)));
    json_object_set_new(o, "n", json_integer((json_int_t)n));
    return o;
}

/* ------------------------------------------------------------------ machine */

static int cmd_machine(void) {
    char model[256] = "unknown";
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    long long mem_kb = -1;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f != NULL) {
        char line[512];
        while (fgets(line, sizeof(line), f) != NULL) {
            if (strncmp(line, "model name", 10) == 0 || strncmp(line, "Model", 5) == 0) {
                char *c = strchr(line, ':');
                if (c == NULL) continue;
                c++;
                while (*c == ' ' || *c == '\t') c++;
                size_t n = strcspn(c, "\n");
                if (n >= sizeof(model)) n = sizeof(model) - 1;
                memcpy(model, c, n);
                model[n] = '\0';
                break;
            }
        }
        fclose(f);
    }
    f = fopen("/proc/meminfo", "r");
    if (f != NULL) {
        char line[256];
        while (fgets(line, sizeof(line), f) != NULL) {
            if (sscanf(line, "MemTotal: %lld kB", &mem_kb) == 1) break;
        }
        fclose(f);
    }
    json_t *o = json_object();
    json_object_set_new(o, "cores", cores > 0 ? json_integer(cores) : json_null());
    json_object_set_new(o, "model", json_string(model));
    json_object_set_new(o, "mem_total_kb", mem_kb >= 0 ? json_integer(mem_kb) : json_null());
    print_json(o);
    json_decref(o);
    return 0;
}

/* ------------------------------------------------------------------ rss */

/* VmRSS (current) and VmHWM (peak) of pid, kB; -1 when unavailable. */
static long long rss_kb(long pid, long long *hwm) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    *hwm = -1;
    FILE *f = fopen(path, "r");
    if (f == NULL) return -1;
    char line[256];
    long long kb = -1, x;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "VmRSS: %lld kB", &x) == 1) kb = x;
        else if (sscanf(line, "VmHWM: %lld kB", &x) == 1) *hwm = x;
    }
    fclose(f);
    return kb;
}

static int cmd_rss(int argc, char **argv, int i) {
    if (i >= argc) return qt_cli_usage_error(g_prog, "rss needs at least one [NAME=]PID%s", "");
    /* Validate everything before measuring anything. */
    for (int k = i; k < argc; k++) {
        const char *eq = strchr(argv[k], '=');
        const char *pid_s = eq ? eq + 1 : argv[k];
        uint64_t pid;
        if (eq == argv[k]) return qt_cli_usage_error(g_prog, "empty NAME in '%s'", argv[k]);
        if (qt_cli_parse_u64(pid_s, &pid) != 0 || pid == 0 || pid > 4194304)
            return qt_cli_usage_error(g_prog, "bad PID in '%s' (expected [NAME=]PID, PID in 1..4194304)",
                               argv[k]);
    }
    json_t *o = json_object(), *m = json_object(), *hw = json_object();
    int rc = 0;
    for (int k = i; k < argc; k++) {
        const char *eq = strchr(argv[k], '=');
        const char *pid_s = eq ? eq + 1 : argv[k];
        char name[128];
        size_t n = eq ? (size_t)(eq - argv[k]) : strlen(argv[k]);
        if (n >= sizeof(name)) n = sizeof(name) - 1;
        memcpy(name, argv[k], n);
        name[n] = '\0';
        uint64_t pid = 0;
        (void)qt_cli_parse_u64(pid_s, &pid);
        long long hwm = -1;
        long long kb = rss_kb((long)pid, &hwm);
        if (kb < 0) {
            fprintf(stderr, "%s: no such process or no VmRSS: %s\n", g_prog, pid_s);
            rc = EXIT_FAIL;
        }
        json_object_set_new(m, name, kb >= 0 ? json_integer(kb) : json_null());
        json_object_set_new(hw, name, hwm >= 0 ? json_integer(hwm) : json_null());
    }
    json_object_set_new(o, "rss_kb", m);
    json_object_set_new(o, "peak_rss_kb", hw);
    print_json(o);
    json_decref(o);
    return rc;
}

/* ------------------------------------------------------------------ bars */

typedef struct {
    int64_t open_time_ms;
    qt_fixed_t o, h, l, c, v;
} bar_row_t;

static int load_bars(bar_row_t *rows, size_t cap, size_t *n) {
    const char *dir = getenv("QT_DATA_DIR");
    if (dir == NULL || dir[0] == '\0') dir = "../shared/data";
    char path[1024];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, BAR_FILE) >= sizeof(path)) {
        fprintf(stderr, "%s: QT_DATA_DIR too long\n", g_prog);
        return -1;
    }
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (root == NULL) {
        fprintf(stderr, "%s: %s: %s (line %d)\n", g_prog, path, jerr.text, jerr.line);
        return -1;
    }
    if (!json_is_array(root)) {
        fprintf(stderr, "%s: %s: expected an array of klines\n", g_prog, path);
        json_decref(root);
        return -1;
    }
    size_t total = json_array_size(root);
    size_t start = total > cap ? total - cap : 0;
    size_t k = 0;
    for (size_t i = start; i < total; i++) {
        json_t *r = json_array_get(root, i);
        if (!json_is_array(r) || json_array_size(r) < 6) continue;
        bool ok = json_is_number(json_array_get(r, 0));
        double f[6];
        for (size_t j = 0; j < 6 && ok; j++) {
            json_t *x = json_array_get(r, j);
            ok = json_is_number(x);
            if (ok) f[j] = json_number_value(x);
        }
        if (!ok || !isfinite(f[0]) || f[0] < 0 || f[0] > 9.0e15) continue;
        bar_row_t *b = &rows[k];
        b->open_time_ms = (int64_t)f[0];
        if (qt_fixed_from_double(f[1], &b->o) != QT_MONEY_OK ||
            qt_fixed_from_double(f[2], &b->h) != QT_MONEY_OK ||
            qt_fixed_from_double(f[3], &b->l) != QT_MONEY_OK ||
            qt_fixed_from_double(f[4], &b->c) != QT_MONEY_OK ||
            qt_fixed_from_double(f[5], &b->v) != QT_MONEY_OK)
            continue;
        if (b->o <= 0 || b->h < b->l || b->h < b->o || b->h < b->c || b->l > b->o ||
            b->l > b->c || b->l <= 0 || b->v < 0)
            continue;
        k++;
    }
    json_decref(root);
    if (k == 0) {
        fprintf(stderr, "%s: %s: no valid klines\n", g_prog, path);
        return -1;
    }
    *n = k;
    return 0;
}

static void bar_env(qt_env_t *env, Qt__V1__Bar *bar, const bar_row_t *r) {
    *bar = (Qt__V1__Bar)QT__V1__BAR__INIT;
    bar->symbol = (char *)"BTC_USDT";
    bar->venue = (char *)"binance";
    bar->interval = (char *)"4h";
    bar->open_time_ms = r->open_time_ms;
    bar->open = r->o;
    bar->high = r->h;
    bar->low = r->l;
    bar->close = r->c;
    bar->volume = r->v;
    qt_env_init(env, r->open_time_ms * 1000000);
    env->body_case = QT__V1__ENVELOPE__BODY_BAR;
    env->bar = bar;
}

/* ------------------------------------------------------------------ zmq-hop */

/* A free TCP port on 127.0.0.1 (bound then released: the kernel does not hand it out
 * again immediately). */
static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t al = sizeof(a);
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &al) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* Child: echo every valid envelope back, re-encoded, on its own PUB socket. */
static int echo_main(const char *ep_in, const char *ep_out, pid_t parent) {
    char err[256] = "";
    qt_clock_t *clock = qt_clock_new_wall();
    qt_metrics_t *metrics = qt_metrics_new("qt-bench-echo");
    qt_pub_t *pub = NULL;
    qt_sub_t *sub = NULL;
    int rc = 0;
    if (clock == NULL || metrics == NULL) {
        rc = EXIT_FAIL;
        goto out;
    }
    pub = qt_pub_new(ep_out, "qt-bench-echo", clock, metrics, err, sizeof(err));
    sub = qt_sub_new(metrics);
    if (pub == NULL || sub == NULL || qt_sub_connect(sub, ep_in) != 0 ||
        qt_sub_subscribe(sub, "") != 0) {
        fprintf(stderr, "%s: echo: cannot set up sockets (%s)\n", g_prog, err);
        rc = EXIT_FAIL;
        goto out;
    }
    while (!g_stop && getppid() == parent) {
        char topic[QT_TOPIC_MAX];
        qt_env_t *env = NULL;
        int r = qt_sub_recv(sub, 100, topic, sizeof(topic), &env);
        if (r < 0) {
            if (g_stop) break;
            fprintf(stderr, "%s: echo: receive error\n", g_prog);
            rc = EXIT_FAIL;
            break;
        }
        if (r == 0) continue;
        size_t len = 0;
        uint8_t *buf = qt_env_encode(env, &len);
        qt_env_free(env);
        if (buf == NULL) continue;
        (void)qt_pub_send_raw(pub, topic, buf, len);
        free(buf);
    }
out:
    qt_sub_destroy(&sub);
    qt_pub_destroy(&pub);
    qt_metrics_destroy(&metrics);
    qt_clock_destroy(&clock);
    return rc;
}

/* Child, --raw baseline: forward every [topic][payload] message untouched with plain
 * libzmq (no decode, no validation, no re-encode, no stamping). The difference between
 * this hop and echo_main's is what qt_bus + qt_envelope cost on one side. */
static int echo_raw_main(const char *ep_in, const char *ep_out, pid_t parent) {
    int rc = 0;
    void *ctx = zmq_ctx_new();
    void *sub = ctx ? zmq_socket(ctx, ZMQ_SUB) : NULL;
    void *pub = ctx ? zmq_socket(ctx, ZMQ_PUB) : NULL;
    int linger = 0, hwm = 100000;
    if (sub == NULL || pub == NULL ||
        zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_setsockopt(pub, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_setsockopt(pub, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0) != 0 || zmq_connect(sub, ep_in) != 0 ||
        zmq_bind(pub, ep_out) != 0) {
        fprintf(stderr, "%s: echo --raw: cannot set up sockets: %s\n", g_prog, zmq_strerror(zmq_errno()));
        rc = EXIT_FAIL;
        goto out;
    }
    while (!g_stop && getppid() == parent) {
        zmq_pollitem_t item = {sub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 100) <= 0)
            continue;
        /* Forward every frame of the message as it came, keeping the MORE flag. */
        for (;;) {
            zmq_msg_t msg;
            zmq_msg_init(&msg);
            if (zmq_msg_recv(&msg, sub, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&msg);
                break;
            }
            int more = zmq_msg_more(&msg);
            (void)zmq_msg_send(&msg, pub, (more ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT);
            zmq_msg_close(&msg);
            if (!more)
                break;
        }
    }
out:
    if (sub) zmq_close(sub);
    if (pub) zmq_close(pub);
    if (ctx) zmq_ctx_term(ctx);
    return rc;
}

typedef struct {
    qt_sub_t *sub;
    int64_t *recv_ns;     /* written by the receiver thread only; read after join */
    uint64_t n;
    atomic_bool done;
    atomic_bool warm;
    atomic_uint_fast64_t received;
    atomic_bool failed;
} rx_t;

static void *rx_main(void *arg) {
    rx_t *rx = arg;
    qt_clock_t *clock = qt_clock_new_wall();
    if (clock == NULL) {
        atomic_store(&rx->failed, true);
        return NULL;
    }
    while (!atomic_load(&rx->done)) {
        char topic[QT_TOPIC_MAX];
        qt_env_t *env = NULL;
        int r = qt_sub_recv(rx->sub, 20, topic, sizeof(topic), &env);
        if (r < 0) {
            if (g_stop) break;
            atomic_store(&rx->failed, true);
            break;
        }
        if (r == 0) continue;
        int64_t now = qt_clock_mono_ns(clock);
        if (strcmp(topic, WARM_TOPIC) == 0) {
            atomic_store(&rx->warm, true);
        } else if (strcmp(topic, BAR_TOPIC) == 0 && env->seq >= 1 && env->seq <= rx->n &&
                   rx->recv_ns[env->seq - 1] == 0) {
            rx->recv_ns[env->seq - 1] = now;
            atomic_fetch_add(&rx->received, 1);
        }
        qt_env_free(env);
    }
    qt_clock_destroy(&clock);
    return NULL;
}

static int cmd_zmq_hop(int argc, char **argv, int i) {
    uint64_t n = 20000, rate = 10000;
    bool raw = false;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--raw") == 0) {
            raw = true;
            continue;
        }
        if (strcmp(a, "--n") == 0 || strcmp(a, "--rate") == 0 || strcmp(a, "--payload") == 0) {
            if (i + 1 >= argc) return qt_cli_usage_error(g_prog, "%s needs a value", a);
            const char *v = argv[++i];
            if (a[2] == 'n') {
                if (qt_cli_parse_u64(v, &n) != 0 || n < 1 || n > 10000000)
                    return qt_cli_usage_error(g_prog, "bad --n '%s' (expected 1..10000000)", v);
            } else if (a[2] == 'r') {
                if (qt_cli_parse_u64(v, &rate) != 0 || rate < 1 || rate > 1000000)
                    return qt_cli_usage_error(g_prog, "bad --rate '%s' (expected 1..1000000 msg/s)", v);
            } else if (strcmp(v, "bar") != 0) {
                return qt_cli_usage_error(g_prog, "bad --payload '%s' (supported: bar)", v);
            }
        } else {
            return qt_cli_usage_error(g_prog, "zmq-hop: unexpected argument '%s'", a);
        }
    }
    bar_row_t *rows = calloc(MAX_BARS, sizeof(*rows));
    size_t nrows = 0;
    if (rows == NULL) return EXIT_FAIL;
    if (load_bars(rows, MAX_BARS, &nrows) != 0) {
        free(rows);
        return EXIT_FAIL;
    }
    int pa = free_port(), pb = free_port();
    if (pa < 0 || pb < 0 || pa == pb) {
        fprintf(stderr, "%s: cannot find free TCP ports on 127.0.0.1\n", g_prog);
        free(rows);
        return EXIT_FAIL;
    }
    char ep_a[64], ep_b[64];
    snprintf(ep_a, sizeof(ep_a), "tcp://127.0.0.1:%d", pa);
    snprintf(ep_b, sizeof(ep_b), "tcp://127.0.0.1:%d", pb);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid();
    pid_t child = fork();   /* before any ZeroMQ context exists in this process */
    if (child < 0) {
        fprintf(stderr, "%s: fork: %s\n", g_prog, strerror(errno));
        free(rows);
        return EXIT_FAIL;
    }
    if (child == 0) {
        free(rows);
        int crc = raw ? echo_raw_main(ep_a, ep_b, parent) : echo_main(ep_a, ep_b, parent);
        _exit(crc);
    }

    int rc = 0;
    char err[256] = "";
    qt_clock_t *clock = qt_clock_new_wall();
    qt_metrics_t *metrics = qt_metrics_new("qt-bench");
    qt_pub_t *pub = NULL;
    rx_t rx;
    memset(&rx, 0, sizeof(rx));
    atomic_init(&rx.done, false);
    atomic_init(&rx.warm, false);
    atomic_init(&rx.received, 0);
    atomic_init(&rx.failed, false);
    rx.n = n;
    int64_t *send_ns = calloc(n, sizeof(*send_ns));
    rx.recv_ns = calloc(n, sizeof(*rx.recv_ns));
    double *lat = NULL;
    bool rx_started = false;
    pthread_t th;
    if (clock == NULL || metrics == NULL || send_ns == NULL || rx.recv_ns == NULL) {
        fprintf(stderr, "%s: out of memory\n", g_prog);
        rc = EXIT_FAIL;
        goto out;
    }
    pub = qt_pub_new(ep_a, "qt-bench", clock, metrics, err, sizeof(err));
    rx.sub = qt_sub_new(metrics);
    if (pub == NULL || rx.sub == NULL || qt_sub_connect(rx.sub, ep_b) != 0 ||
        qt_sub_subscribe(rx.sub, "") != 0) {
        fprintf(stderr, "%s: cannot set up sockets on %s / %s: %s\n", g_prog, ep_a, ep_b, err);
        rc = EXIT_FAIL;
        goto out;
    }
    if (pthread_create(&th, NULL, rx_main, &rx) != 0) {
        fprintf(stderr, "%s: cannot start the receiver thread\n", g_prog);
        rc = EXIT_FAIL;
        goto out;
    }
    rx_started = true;

    /* Warm-up: both subscriptions must be live before measuring (slow joiner). */
    qt_env_t env;
    Qt__V1__Bar bar;
    int64_t warm_deadline = qt_clock_mono_ns(clock) + 10000000000LL;
    while (!atomic_load(&rx.warm) && !g_stop && !atomic_load(&rx.failed)) {
        if (qt_clock_mono_ns(clock) > warm_deadline) break;
        bar_env(&env, &bar, &rows[0]);
        (void)qt_pub_send(pub, WARM_TOPIC, &env);
        qt_clock_sleep_ns(clock, 20000000);
    }
    if (!atomic_load(&rx.warm)) {
        fprintf(stderr, "%s: echo process did not answer within 10 s\n", g_prog);
        rc = EXIT_FAIL;
        goto out;
    }
    qt_clock_sleep_ns(clock, 100000000);   /* let warm-up echoes drain */

    const int64_t interval = 1000000000LL / (int64_t)rate;
    int64_t t0 = qt_clock_mono_ns(clock);
    uint64_t sent = 0, send_fail = 0;
    for (uint64_t k = 0; k < n && !g_stop; k++) {
        int64_t target = t0 + (int64_t)k * interval;
        for (;;) {
            int64_t now = qt_clock_mono_ns(clock);
            if (now >= target) break;
            if (target - now > 200000) qt_clock_sleep_ns(clock, target - now - 100000);
        }
        bar_env(&env, &bar, &rows[k % nrows]);
        if (raw) {
            /* Baseline: the bytes are ready before the clock starts, as a pure transport. */
            env.seq = k + 1;
            env.source = (char *)"qt-bench";
            env.publish_time_ns = qt_clock_now_ns(clock);
            size_t blen = 0;
            uint8_t *bytes = qt_env_encode(&env, &blen);
            if (bytes == NULL) {
                rc = EXIT_FAIL;
                goto out;
            }
            send_ns[k] = qt_clock_mono_ns(clock);
            if (qt_pub_send_raw(pub, BAR_TOPIC, bytes, blen) != 0) send_fail++;
            free(bytes);
            sent++;
            continue;
        }
        send_ns[k] = qt_clock_mono_ns(clock);
        if (qt_pub_send(pub, BAR_TOPIC, &env) != 0) send_fail++;
        sent++;
        if (qt_pub_seq(pub, BAR_TOPIC) != k + 1) {
            fprintf(stderr, "%s: unexpected publisher sequence %" PRIu64 " for message %" PRIu64
                            "\n", g_prog, qt_pub_seq(pub, BAR_TOPIC), k + 1);
            rc = EXIT_FAIL;
            goto out;
        }
    }
    /* Wait for the stragglers (at most 3 s). */
    int64_t end_deadline = qt_clock_mono_ns(clock) + 3000000000LL;
    while (atomic_load(&rx.received) < sent && !g_stop && !atomic_load(&rx.failed) &&
           qt_clock_mono_ns(clock) < end_deadline)
        qt_clock_sleep_ns(clock, 1000000);
    int64_t elapsed = qt_clock_mono_ns(clock) - t0;

    atomic_store(&rx.done, true);
    pthread_join(th, NULL);
    rx_started = false;
    if (atomic_load(&rx.failed)) {
        fprintf(stderr, "%s: receive error\n", g_prog);
        rc = EXIT_FAIL;
        goto out;
    }
    if (g_stop) {
        fprintf(stderr, "%s: interrupted\n", g_prog);
        rc = EXIT_FAIL;
        goto out;
    }
    lat = malloc((size_t)sent * sizeof(*lat));
    if (lat == NULL && sent > 0) {
        rc = EXIT_FAIL;
        goto out;
    }
    size_t m = 0;
    for (uint64_t k = 0; k < sent; k++) {
        if (rx.recv_ns[k] == 0) continue;
        lat[m++] = (double)(rx.recv_ns[k] - send_ns[k]) / 2.0 / 1000.0;
    }
    json_t *root = json_object();
    json_t *l = latency_json(lat, m);
    json_object_set_new(l, "lost", json_integer((json_int_t)(sent - m)));
    json_object_set_new(l, "send_failed", json_integer((json_int_t)send_fail));
    json_object_set_new(l, "rate_per_s", json_integer((json_int_t)rate));
    json_object_set_new(l, "payload", json_string("bar"));
    json_object_set_new(l, "echo", json_string(raw ? "raw forward (baseline)" : "decode+validate+encode"));
    json_object_set_new(l, "duration_s", json_real(round3((double)elapsed / 1e9)));
    json_object_set_new(root, "zmq_hop_latency_us", l);
    print_json(root);
    json_decref(root);
    if (m == 0) {
        fprintf(stderr, "%s: no echo received\n", g_prog);
        rc = EXIT_FAIL;
    }
out:
    if (rx_started) {
        atomic_store(&rx.done, true);
        pthread_join(th, NULL);
    }
    qt_sub_destroy(&rx.sub);
    qt_pub_destroy(&pub);
    kill(child, SIGTERM);
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (rc == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
        fprintf(stderr, "%s: echo process failed\n", g_prog);
        rc = EXIT_FAIL;
    }
    free(lat);
    free(send_ns);
    free(rx.recv_ns);
    free(rows);
    qt_metrics_destroy(&metrics);
    qt_clock_destroy(&clock);
    return rc;
}

/* ------------------------------------------------------------------ pipeline */

typedef struct {
    char symbol[QT_MAX_SYMBOL + 1];
    int64_t time_ms;
    int64_t pub_ns;
} bar_key_t;

static int cmp_bar_key(const void *a, const void *b) {
    const bar_key_t *x = a, *y = b;
    int c = strcmp(x->symbol, y->symbol);
    if (c != 0) return c;
    return (x->time_ms > y->time_ms) - (x->time_ms < y->time_ms);
}

typedef struct {
    char symbol[QT_MAX_SYMBOL + 1];
    int64_t fill_time_ms, intent_bar_ms;
    int64_t pub_ns;
} fill_rec_t;

typedef struct {
    bar_key_t *bars;
    size_t nbars, capbars;
    fill_rec_t *fills;
    size_t nfills, capfills;
    uint64_t features, batches;
    bar_key_t *intents;       /* symbol + bar_time_ms + publish time of each OrderIntent */
    size_t nintents, capintents;
    int64_t first_bar_pub, last_bar_pub;
    int64_t feat_eos_pub;
    bool bars_eos, feat_eos, fills_eos;
    uint64_t invalid;
} pipe_t;

static bool grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t nc = *cap ? *cap * 2 : 1024;
    while (nc < need) nc *= 2;
    void *np = realloc(*p, nc * elem);
    if (np == NULL) return false;
    *p = np;
    *cap = nc;
    return true;
}

static bool is_eos(const qt_env_t *env) {
    return env->body_case == QT__V1__ENVELOPE__BODY_WATERMARK && env->watermark != NULL &&
           env->watermark->end_of_stream;
}

static int cmd_pipeline(int argc, char **argv, int i) {
    const char *config_path = NULL;
    double timeout_s = 300.0;
    bool need_fills = false;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--config") == 0 || strcmp(a, "--timeout") == 0) {
            if (i + 1 >= argc) return qt_cli_usage_error(g_prog, "%s needs a value", a);
            const char *v = argv[++i];
            if (a[2] == 'c') {
                if (v[0] == '\0') return qt_cli_usage_error(g_prog, "--config needs a FILE%s", "");
                config_path = v;
            } else if (qt_cli_parse_seconds(v, 86400.0, &timeout_s) != 0) {
                return qt_cli_usage_error(g_prog, "bad --timeout '%s' (expected seconds in (0, 86400])", v);
            }
        } else if (strcmp(a, "--fills") == 0) {
            need_fills = true;
        } else {
            return qt_cli_usage_error(g_prog, "pipeline: unexpected argument '%s'", a);
        }
    }
    if (config_path == NULL) {
        const char *e = getenv("QT_CONFIG");
        config_path = (e != NULL && e[0] != '\0') ? e : "configs/services.yml";
    }
    char err[512] = "";
    qt_config_t *cfg = qt_config_load(config_path, err, sizeof(err));
    if (cfg == NULL) {
        fprintf(stderr, "%s: config: %s\n", g_prog, err);
        return EXIT_USAGE;
    }
    const char *brokers = qt_config_str(cfg, "kafka.brokers", "127.0.0.1:9092");
    const char *t_bars = qt_config_str(cfg, "topics.bars", "qt.bars");
    const char *t_feat = qt_config_str(cfg, "topics.features", "qt.features");
    const char *t_fills = qt_config_str(cfg, "topics.fills", "qt.fills");
    const char *t_intents = qt_config_str(cfg, "topics.intents", "qt.intents");
    if (qt_config_error(cfg) != NULL) {
        fprintf(stderr, "%s: config: %s\n", g_prog, qt_config_error(cfg));
        qt_config_destroy(&cfg);
        return EXIT_USAGE;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    pipe_t p;
    memset(&p, 0, sizeof(p));
    p.first_bar_pub = INT64_MAX;
    p.last_bar_pub = INT64_MIN;
    p.feat_eos_pub = -1;
    int rc = 0;
    char group[64];
    snprintf(group, sizeof(group), "qt-bench-%ld", (long)getpid());
    qt_clock_t *clock = qt_clock_new_wall();
    qt_metrics_t *metrics = qt_metrics_new("qt-bench");
    qt_kconsumer_t *cons =
        metrics ? qt_kconsumer_new(brokers, group, metrics, err, sizeof(err)) : NULL;
    double *lat = NULL, *lat2 = NULL;
    if (clock == NULL || cons == NULL) {
        fprintf(stderr, "%s: Kafka consumer for %s: %s\n", g_prog, brokers, err);
        rc = EXIT_FAIL;
        goto out;
    }
    if (qt_kconsumer_assign(cons, t_bars, QT_OFFSET_BEGINNING) != 0 ||
        qt_kconsumer_assign(cons, t_feat, QT_OFFSET_BEGINNING) != 0 ||
        (need_fills && (qt_kconsumer_assign(cons, t_fills, QT_OFFSET_BEGINNING) != 0 ||
                        qt_kconsumer_assign(cons, t_intents, QT_OFFSET_BEGINNING) != 0))) {
        fprintf(stderr, "%s: cannot assign topics on %s\n", g_prog, brokers);
        rc = EXIT_FAIL;
        goto out;
    }
    int64_t deadline = qt_clock_mono_ns(clock) + (int64_t)(timeout_s * 1e9);
    while (!g_stop && !(p.bars_eos && p.feat_eos && (!need_fills || p.fills_eos))) {
        if (qt_clock_mono_ns(clock) >= deadline) break;
        qt_kmsg_t msg;
        int r = qt_kconsumer_poll(cons, 200, &msg);
        if (r <= 0) continue;
        qt_env_t *env = NULL;
        if (qt_env_decode(msg.payload, msg.len, &env, NULL, 0) != QT_DECODE_OK) {
            p.invalid++;
            continue;
        }
        const char *topic = msg.topic ? msg.topic : "";
        if (strcmp(topic, t_bars) == 0) {
            if (env->body_case == QT__V1__ENVELOPE__BODY_BAR) {
                if (!grow((void **)&p.bars, &p.capbars, p.nbars + 1, sizeof(*p.bars))) {
                    qt_env_free(env);
                    rc = EXIT_FAIL;
                    goto out;
                }
                bar_key_t *b = &p.bars[p.nbars++];
                snprintf(b->symbol, sizeof(b->symbol), "%s", env->bar->symbol);
                b->time_ms = env->bar->open_time_ms;
                b->pub_ns = env->publish_time_ns;
                if (b->pub_ns < p.first_bar_pub) p.first_bar_pub = b->pub_ns;
                if (b->pub_ns > p.last_bar_pub) p.last_bar_pub = b->pub_ns;
            } else if (env->body_case == QT__V1__ENVELOPE__BODY_WATERMARK) {
                p.batches++;   /* one watermark closes each batch, the last one with eos */
                if (env->watermark->end_of_stream) p.bars_eos = true;
            }
        } else if (strcmp(topic, t_feat) == 0) {
            if (env->body_case == QT__V1__ENVELOPE__BODY_FEATURES) {
                p.features++;
            } else if (is_eos(env) && !p.feat_eos) {
                p.feat_eos = true;
                p.feat_eos_pub = env->publish_time_ns;
            }
        } else if (strcmp(topic, t_intents) == 0) {
            if (env->body_case == QT__V1__ENVELOPE__BODY_INTENT) {
                if (!grow((void **)&p.intents, &p.capintents, p.nintents + 1,
                          sizeof(*p.intents))) {
                    qt_env_free(env);
                    rc = EXIT_FAIL;
                    goto out;
                }
                bar_key_t *it = &p.intents[p.nintents++];
                snprintf(it->symbol, sizeof(it->symbol), "%s", env->intent->symbol);
                it->time_ms = env->intent->bar_time_ms;
                it->pub_ns = env->publish_time_ns;
            }
        } else if (strcmp(topic, t_fills) == 0) {
            if (env->body_case == QT__V1__ENVELOPE__BODY_FILL) {
                if (!grow((void **)&p.fills, &p.capfills, p.nfills + 1, sizeof(*p.fills))) {
                    qt_env_free(env);
                    rc = EXIT_FAIL;
                    goto out;
                }
                fill_rec_t *f = &p.fills[p.nfills++];
                snprintf(f->symbol, sizeof(f->symbol), "%s", env->fill->symbol);
                f->fill_time_ms = env->fill->fill_time_ms;
                f->intent_bar_ms = env->fill->intent_bar_time_ms;
                f->pub_ns = env->publish_time_ns;
            } else if (is_eos(env)) {
                p.fills_eos = true;
            }
        }
        qt_env_free(env);
    }
    bool complete = p.bars_eos && p.feat_eos && (!need_fills || p.fills_eos);
    json_t *root = json_object();
    json_object_set_new(root, "complete", json_boolean(complete));
    json_object_set_new(root, "bars", json_integer((json_int_t)p.nbars));
    json_object_set_new(root, "batches", json_integer((json_int_t)p.batches));
    json_object_set_new(root, "features", json_integer((json_int_t)p.features));
    json_object_set_new(root, "invalid_messages", json_integer((json_int_t)p.invalid));
    json_object_set_new(root, "zero_loss",
                        json_boolean(complete && p.nbars > 0 && p.features == p.nbars));
    if (p.feat_eos && p.nbars > 0 && p.feat_eos_pub > p.first_bar_pub) {
        double span_s = (double)(p.feat_eos_pub - p.first_bar_pub) / 1e9;
        json_object_set_new(root, "span_s", json_real(round3(span_s)));
        json_object_set_new(root, "bars_per_s", json_real(round((double)p.nbars / span_s)));
        json_object_set_new(root, "ingest_span_s",
                            json_real(round3((double)(p.last_bar_pub - p.first_bar_pub) / 1e9)));
    } else {
        json_object_set_new(root, "bars_per_s", json_null());
    }
    if (need_fills) {
        qsort(p.bars, p.nbars, sizeof(*p.bars), cmp_bar_key);
        size_t nl = (p.nfills > p.nintents ? p.nfills : p.nintents) + 1;
        lat = malloc(nl * sizeof(*lat));
        lat2 = malloc((p.nfills + 1) * sizeof(*lat2));
        if (lat == NULL || lat2 == NULL) {
            json_decref(root);
            rc = EXIT_FAIL;
            goto out;
        }
        size_t n1 = 0, n2 = 0, unmatched = 0;
        for (size_t k = 0; k < p.nfills; k++) {
            bar_key_t key;
            memset(&key, 0, sizeof(key));
            snprintf(key.symbol, sizeof(key.symbol), "%s", p.fills[k].symbol);
            key.time_ms = p.fills[k].fill_time_ms;
            const bar_key_t *b = bsearch(&key, p.bars, p.nbars, sizeof(*p.bars), cmp_bar_key);
            if (b != NULL)
                lat[n1++] = (double)(p.fills[k].pub_ns - b->pub_ns) / 1000.0;
            else
                unmatched++;
            key.time_ms = p.fills[k].intent_bar_ms;
            b = bsearch(&key, p.bars, p.nbars, sizeof(*p.bars), cmp_bar_key);
            if (b != NULL) lat2[n2++] = (double)(p.fills[k].pub_ns - b->pub_ns) / 1000.0;
        }
        json_object_set_new(root, "fills", json_integer((json_int_t)p.nfills));
        json_object_set_new(root, "fills_unmatched", json_integer((json_int_t)unmatched));
        json_object_set_new(root, "bar_to_fill_latency_us", latency_json(lat, n1));
        json_object_set_new(root, "intent_bar_to_fill_latency_us", latency_json(lat2, n2));
        /* Decision path: bar published -> OrderIntent published for that bar and symbol
         * (lat is free again: latency_json above consumed it). */
        size_t n3 = 0;
        for (size_t k = 0; k < p.nintents; k++) {
            const bar_key_t *b =
                bsearch(&p.intents[k], p.bars, p.nbars, sizeof(*p.bars), cmp_bar_key);
            if (b != NULL) lat[n3++] = (double)(p.intents[k].pub_ns - b->pub_ns) / 1000.0;
        }
        json_object_set_new(root, "intents", json_integer((json_int_t)p.nintents));
        json_object_set_new(root, "bar_to_intent_latency_us", latency_json(lat, n3));
    }
    print_json(root);
    json_decref(root);
    if (!complete) {
        fprintf(stderr, "%s: incomplete replay (bars eos %d, features eos %d, fills eos %d)\n",
                g_prog, p.bars_eos, p.feat_eos, p.fills_eos);
        rc = EXIT_FAIL;
    }
out:
    free(lat);
    free(lat2);
    free(p.bars);
    free(p.fills);
    free(p.intents);
    qt_kconsumer_destroy(&cons);
    qt_metrics_destroy(&metrics);
    qt_clock_destroy(&clock);
    qt_config_destroy(&cfg);
    return rc;
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
        usage(stdout);
        return 0;
    }
    qt_log_init("qt-bench", QT_LOG_WARN, NULL);
    if (strcmp(cmd, "machine") == 0) {
        if (argc > 2) return qt_cli_usage_error(g_prog, "machine: unexpected argument '%s'", argv[2]);
        return cmd_machine();
    }
    if (strcmp(cmd, "rss") == 0) return cmd_rss(argc, argv, 2);
    if (strcmp(cmd, "zmq-hop") == 0) return cmd_zmq_hop(argc, argv, 2);
    if (strcmp(cmd, "pipeline") == 0) return cmd_pipeline(argc, argv, 2);
    if (strcmp(cmd, "features") == 0) return bench_features(argc, argv, 2);
    if (strcmp(cmd, "stats") == 0) return bench_stats(argc, argv, 2);
    if (strcmp(cmd, "models") == 0) return bench_models(argc, argv, 2);
    if (strcmp(cmd, "qaoa") == 0) return bench_qaoa(argc, argv, 2);
    if (strcmp(cmd, "ingest") == 0) return bench_ingest(argc, argv, 2);
    return qt_cli_usage_error(g_prog, "unknown command '%s' (expected zmq-hop, machine, rss, pipeline, features, stats, models, qaoa, ingest)", cmd);
}
