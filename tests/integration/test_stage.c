/* Integration: qt_stage_run against real Kafka + Redis (env QT_KAFKA_BROKERS,
 * QT_REDIS_HOST, QT_REDIS_PORT).
 *
 * A tiny core (counts bars; state = count; emits one Bar per input bar carrying the
 * running count in `volume`, forwards watermarks) runs in forked children:
 *   ref:  one uninterrupted run to end of stream                    -> output R
 *   sig:  SIGTERM at bar 12 (mid-batch), restart, run to the end    -> output S
 *   kill: SIGKILL at bar 17 (mid-batch, outputs flushed first), restart, run to the
 *         end                                                    -> output K
 * Then: S == R exactly (SIGTERM checkpoints at the exact position: no duplicate, no
 * loss); K with duplicates dropped by sequence number == R, and every duplicate is
 * byte-identical to the original (deterministic re-emission). The restarted runs load
 * count 12 (sig: the SIGTERM checkpoint) and 15 (kill: the last watermark before the
 * kill), and every run ends with count 30. Publish times are zeroed before comparing.
 * Children are forked before the parent creates any Kafka/Redis client (threads). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "qt_checkpoint.h"
#include "qt_stage.h"

#define N_BATCHES 6
#define N_SYMS 5
#define N_BARS (N_BATCHES * N_SYMS)
#define FIX 100000000LL

static const char *g_brokers, *g_rhost, *g_rport;
static char g_dir[256], g_cfg[300];
static char g_in[96], g_out_ref[96], g_out_sig[96], g_out_kill[96], g_out_svc[96];
static char g_out_rdown[96];
static char g_svc_ref[64], g_svc_sig[64], g_svc_kill[64], g_svc_rdown[64];

/* ---- the test core ------------------------------------------------------------ */

typedef struct {
    const char *out_logical;
    uint64_t count;
    uint64_t raise_at; /* 0: never */
    int raise_sig;
    bool loaded;
    uint64_t loaded_count;
    pid_t proxy_down_at_pid; /* with raise_sig == SIGUSR1: tell this proxy to go down */
} core_t;

static qt_stage_result_t core_on_event(void *ctx, qt_service_t *svc, const qt_env_t *env)
{
    core_t *c = ctx;
    const char *out = qt_service_topic(svc, c->out_logical);
    if (env->body_case == QT__V1__ENVELOPE__BODY_BAR) {
        c->count++;
        Qt__V1__Bar bar = *env->bar;
        bar.volume = (int64_t)c->count * FIX;
        qt_env_t o;
        qt_env_init(&o, env->event_time_ns);
        o.body_case = QT__V1__ENVELOPE__BODY_BAR;
        o.bar = &bar;
        if (qt_service_publish(svc, "test.out", out, bar.symbol, &o) != 0)
            return QT_STAGE_FATAL;
        if (c->raise_at && c->count == c->raise_at) {
            /* before a SIGKILL, make the outputs since the last checkpoint durable so
             * the restart must re-emit them as duplicates */
            if (c->raise_sig == SIGKILL && qt_kproducer_flush(svc->producer, 10000) != 0)
                return QT_STAGE_FATAL;
            if (c->raise_sig == SIGUSR1) {
                /* Redis goes away mid-batch: the next checkpoint must wait for it */
                kill(c->proxy_down_at_pid, SIGUSR1);
                qt_clock_sleep_ns(svc->clock, 300 * 1000000LL);
                char path[400];
                snprintf(path, sizeof path, "%s/redis-down", g_dir);
                FILE *f = fopen(path, "w");
                if (f)
                    fclose(f);
            } else {
                raise(c->raise_sig);
            }
        }
        return QT_STAGE_CONTINUE;
    }
    if (env->body_case == QT__V1__ENVELOPE__BODY_WATERMARK) {
        Qt__V1__Watermark wm = *env->watermark;
        wm.count = c->count;
        qt_env_t o;
        qt_env_init(&o, env->event_time_ns);
        o.body_case = QT__V1__ENVELOPE__BODY_WATERMARK;
        o.watermark = &wm;
        if (qt_service_publish(svc, "test.watermark", out, "watermark", &o) != 0)
            return QT_STAGE_FATAL;
        if (env->watermark->end_of_stream) {
            qt_service_stop(svc); /* the test's way to end the loop */
            return QT_STAGE_DONE;
        }
        return QT_STAGE_CHECKPOINT;
    }
    return QT_STAGE_CONTINUE;
}

static void core_save(void *ctx, qt_buf_t *out)
{
    core_t *c = ctx;
    qt_buf_put_u64(out, c->count);
}

static bool core_load(void *ctx, qt_reader_t *r)
{
    core_t *c = ctx;
    c->count = qt_read_u64(r);
    c->loaded = true;
    c->loaded_count = c->count;
    return !r->err;
}

static const qt_stage_ops_t OPS = {core_on_event, core_save, core_load, NULL};

/* ---- children ------------------------------------------------------------------ */

static void write_result(const char *tag, const core_t *c, int rc)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s.result", g_dir, tag);
    FILE *f = fopen(path, "w");
    if (!f)
        _exit(90);
    fprintf(f, "%d %d %llu %llu\n", rc, c->loaded ? 1 : 0, (unsigned long long)c->loaded_count,
            (unsigned long long)c->count);
    fclose(f);
}

static int run_stage_child(const char *svc_name, const char *out_logical, uint64_t raise_at,
                           int sig, const char *tag)
{
    alarm(180); /* a hung child must not hang the test */
    char *argv[] = {(char *)"test_stage", (char *)"--config", g_cfg, (char *)"--instance",
                    (char *)"stagetest", (char *)"--no-admin", NULL};
    qt_service_t *svc = qt_service_new(svc_name, 6, argv, NULL);
    core_t core = {.out_logical = out_logical, .raise_at = raise_at, .raise_sig = sig};
    int rc = qt_stage_run(svc, "in", &OPS, &core);
    write_result(tag, &core, rc);
    qt_service_destroy(&svc);
    return rc;
}

static int produce_child(void)
{
    alarm(120);
    char err[256] = "";
    const char *topics[] = {g_in, g_out_ref, g_out_sig, g_out_kill};
    if (qt_kafka_ensure_topics(g_brokers, topics, NULL, 4, 15000, err, sizeof err) != 0) {
        fprintf(stderr, "ensure_topics: %s\n", err);
        return 10;
    }
    qt_kproducer_t *p = qt_kproducer_new(g_brokers, "test-stage-input", NULL, err, sizeof err);
    if (!p)
        return 11;
    uint64_t seq = 0;
    for (int b = 0; b < N_BATCHES; b++) {
        int64_t t_ms = 1700000000000LL + b * 14400000LL;
        for (int s = 0; s < N_SYMS; s++) {
            char sym[24];
            snprintf(sym, sizeof sym, "S%d_USDT", s);
            Qt__V1__Bar bar = QT__V1__BAR__INIT;
            bar.symbol = sym;
            bar.venue = (char *)"test";
            bar.interval = (char *)"4h";
            bar.open_time_ms = t_ms;
            bar.open = (100 + b + s) * FIX;
            bar.high = (110 + b + s) * FIX;
            bar.low = (90 + b + s) * FIX;
            bar.close = (105 + b + s) * FIX;
            bar.volume = 1;
            qt_env_t env;
            qt_env_init(&env, t_ms * 1000000);
            env.source = (char *)"test-ingest";
            env.seq = ++seq;
            env.body_case = QT__V1__ENVELOPE__BODY_BAR;
            env.bar = &bar;
            if (qt_kproducer_send_env(p, g_in, sym, &env) != 0)
                return 12;
        }
        /* a garbage message in the middle of the stream is skipped by every run */
        if (b == 2 && qt_kproducer_send(p, g_in, "junk", (const uint8_t *)"\x0a\xff", 2) != 0)
            return 13;
        Qt__V1__Watermark wm = QT__V1__WATERMARK__INIT;
        wm.stream = (char *)"bars.4h";
        wm.event_time_ms = t_ms;
        wm.end_of_stream = b == N_BATCHES - 1;
        wm.count = N_SYMS;
        qt_env_t env;
        qt_env_init(&env, t_ms * 1000000);
        env.source = (char *)"test-ingest";
        env.seq = ++seq;
        env.body_case = QT__V1__ENVELOPE__BODY_WATERMARK;
        env.watermark = &wm;
        if (qt_kproducer_send_env(p, g_in, "watermark", &env) != 0)
            return 14;
    }
    int rc = qt_kproducer_flush(p, 20000) == 0 ? 0 : 15;
    qt_kproducer_destroy(&p);
    return rc;
}

static void clear_child_state(void)
{
    qt_redis_t *r = qt_redis_new(g_rhost, atoi(g_rport), 1000, NULL);
    if (!r)
        _exit(20);
    const char *svcs[] = {g_svc_ref, g_svc_sig, g_svc_kill};
    for (size_t i = 0; i < 3; i++)
        if (qt_checkpoint_clear(r, svcs[i]) != 0)
            _exit(21);
    qt_redis_destroy(&r);
}

/* Forks; the child runs fn-like code selected by `what`; returns the wait status. */
enum { CH_PRODUCE, CH_CLEAR, CH_STAGE };
static int fork_run(int what, const char *svc, const char *out, uint64_t raise_at, int sig,
                    const char *tag)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int rc = 0;
        if (what == CH_PRODUCE)
            rc = produce_child();
        else if (what == CH_CLEAR)
            clear_child_state();
        else
            rc = run_stage_child(svc, out, raise_at, sig, tag);
        fflush(NULL);
        _exit(rc);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static void read_result(const char *tag, int *rc, int *loaded, uint64_t *loaded_count,
                        uint64_t *count)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s.result", g_dir, tag);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    unsigned long long lc = 0, c = 0;
    assert_int_equal(fscanf(f, "%d %d %llu %llu", rc, loaded, &lc, &c), 4);
    fclose(f);
    *loaded_count = lc;
    *count = c;
}

/* ---- verification (parent, after every child is done) --------------------------- */

typedef struct {
    uint8_t *bytes; /* encoded with publish_time_ns = 0 */
    size_t len;
    uint64_t seq;
    int body;
} out_t;

static size_t read_outputs(const char *topic, out_t *outs, size_t max)
{
    char err[256];
    char group[128];
    snprintf(group, sizeof group, "verify-%d-%s", (int)getpid(), topic);
    qt_kconsumer_t *c = qt_kconsumer_new(g_brokers, group, NULL, err, sizeof err);
    assert_non_null(c);
    int64_t hw = qt_kafka_high_watermark(c, topic, 10000);
    assert_true(hw > 0);
    assert_int_equal(qt_kconsumer_assign(c, topic, QT_OFFSET_BEGINNING), 0);
    size_t n = 0;
    int64_t next = 0;
    for (int tries = 0; tries < 600 && next < hw; tries++) {
        qt_env_t *env = NULL;
        int64_t off = -1;
        char t[128];
        int rc = qt_kconsumer_poll_env(c, 100, &env, &off, t, sizeof t);
        if (rc != 1)
            continue;
        next = off + 1;
        assert_true(n < max);
        env->publish_time_ns = 0;
        outs[n].seq = env->seq;
        outs[n].body = (int)env->body_case;
        outs[n].bytes = qt_env_encode(env, &outs[n].len);
        assert_non_null(outs[n].bytes);
        n++;
        qt_env_free(env);
    }
    assert_int_equal(next, hw);
    qt_kconsumer_destroy(&c);
    return n;
}

static void free_outputs(out_t *o, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(o[i].bytes);
}

static void assert_same(const out_t *a, const out_t *b)
{
    assert_int_equal(a->len, b->len);
    assert_memory_equal(a->bytes, b->bytes, a->len);
}

static void test_stage_restart_and_crash(void **state)
{
    (void)state;
    int st = fork_run(CH_CLEAR, NULL, NULL, 0, 0, NULL);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    st = fork_run(CH_PRODUCE, NULL, NULL, 0, 0, NULL);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);

    int rc, loaded;
    uint64_t lc, cnt;
    /* reference */
    st = fork_run(CH_STAGE, g_svc_ref, "out_ref", 0, 0, "ref");
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    read_result("ref", &rc, &loaded, &lc, &cnt);
    assert_int_equal(rc, 0);
    assert_int_equal(loaded, 0);
    assert_int_equal(cnt, N_BARS);

    /* SIGTERM mid-batch, restart */
    st = fork_run(CH_STAGE, g_svc_sig, "out_sig", 12, SIGTERM, "sig1");
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    read_result("sig1", &rc, &loaded, &lc, &cnt);
    assert_int_equal(cnt, 12);
    st = fork_run(CH_STAGE, g_svc_sig, "out_sig", 0, 0, "sig2");
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    read_result("sig2", &rc, &loaded, &lc, &cnt);
    assert_int_equal(loaded, 1);
    assert_int_equal(lc, 12);
    assert_int_equal(cnt, N_BARS);

    /* SIGKILL mid-batch, restart */
    st = fork_run(CH_STAGE, g_svc_kill, "out_kill", 17, SIGKILL, "kill1");
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGKILL);
    st = fork_run(CH_STAGE, g_svc_kill, "out_kill", 0, 0, "kill2");
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    read_result("kill2", &rc, &loaded, &lc, &cnt);
    assert_int_equal(loaded, 1);
    assert_int_equal(lc, 15); /* the checkpoint of the third watermark */
    assert_int_equal(cnt, N_BARS);

    /* outputs (the parent creates Kafka clients only now, after the last fork) */
    enum { MAXO = 256 };
    static out_t R[MAXO], S[MAXO], K[MAXO];
    size_t nr = read_outputs(g_out_ref, R, MAXO);
    size_t ns = read_outputs(g_out_sig, S, MAXO);
    size_t nk = read_outputs(g_out_kill, K, MAXO);
    assert_int_equal(nr, N_BARS + N_BATCHES);
    assert_int_equal(ns, nr);
    for (size_t i = 0; i < nr; i++)
        assert_same(&R[i], &S[i]);
    /* the reference itself: counts 1..30 in order, seqs contiguous per stream */
    uint64_t last_bar = 0, last_wm = 0;
    for (size_t i = 0; i < nr; i++) {
        if (R[i].body == QT__V1__ENVELOPE__BODY_BAR)
            assert_int_equal(R[i].seq, ++last_bar);
        else
            assert_int_equal(R[i].seq, ++last_wm);
    }
    assert_int_equal(last_bar, N_BARS);
    assert_int_equal(last_wm, N_BATCHES);
    /* crash run: duplicates (by seq per stream) are identical; deduplicated == R */
    assert_true(nk >= nr);
    static out_t *kept_bar[N_BARS + 1], *kept_wm[N_BATCHES + 1];
    size_t j = 0, dups = 0;
    last_bar = last_wm = 0;
    for (size_t i = 0; i < nk; i++) {
        bool is_bar = K[i].body == QT__V1__ENVELOPE__BODY_BAR;
        uint64_t *last = is_bar ? &last_bar : &last_wm;
        out_t **kept = is_bar ? kept_bar : kept_wm;
        assert_true(K[i].seq >= 1 && K[i].seq <= (is_bar ? N_BARS : N_BATCHES));
        if (K[i].seq <= *last) {
            assert_same(kept[K[i].seq], &K[i]);
            dups++;
            continue;
        }
        assert_int_equal(K[i].seq, *last + 1); /* no gap */
        *last = K[i].seq;
        kept[K[i].seq] = &K[i];
        assert_true(j < nr);
        assert_same(&R[j], &K[i]);
        j++;
    }
    assert_int_equal(j, nr);
    assert_int_equal(dups, nk - nr);
    assert_int_equal(dups, 2); /* bars 16 and 17: after the checkpoint, before the kill */
    print_message("crash run: %zu outputs, %zu duplicates dropped\n", nk, dups);
    free_outputs(R, nr);
    free_outputs(S, ns);
    free_outputs(K, nk);

    /* checkpoints were left behind by every service; clean up */
    qt_redis_t *r = qt_redis_new(g_rhost, atoi(g_rport), 1000, NULL);
    uint8_t *data = NULL;
    size_t len = 0;
    char why[128];
    assert_int_equal(qt_checkpoint_load(r, g_svc_ref, &data, &len, why, sizeof why), 1);
    free(data);
    assert_int_equal(qt_checkpoint_clear(r, g_svc_ref), 0);
    assert_int_equal(qt_checkpoint_clear(r, g_svc_sig), 0);
    assert_int_equal(qt_checkpoint_clear(r, g_svc_kill), 0);
    qt_redis_destroy(&r);
}

static void test_corrupt_checkpoint_refuses_to_start(void **state)
{
    (void)state;
    /* A child stores garbage under the service's checkpoint key; the stage exits 1. */
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(120);
        qt_redis_t *r = qt_redis_new(g_rhost, atoi(g_rport), 1000, NULL);
        redisReply *rep = qt_redis_cmd(r, "SET qt:ckpt:%s garbage", g_svc_ref);
        if (!rep)
            _exit(30);
        freeReplyObject(rep);
        qt_redis_destroy(&r);
        core_t core = {.out_logical = "out_ref"};
        char *argv[] = {(char *)"test_stage", (char *)"--config", g_cfg, (char *)"--no-admin",
                        NULL};
        qt_service_t *svc = qt_service_new(g_svc_ref, 4, argv, NULL);
        int rc = qt_stage_run(svc, "in", &OPS, &core);
        qt_service_destroy(&svc);
        r = qt_redis_new(g_rhost, atoi(g_rport), 1000, NULL);
        qt_checkpoint_clear(r, g_svc_ref);
        qt_redis_destroy(&r);
        _exit(rc == 1 && core.count == 0 ? 0 : 31);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_redis_down_waits_then_sigterm_exits_0(void **state)
{
    (void)state;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(60);
        setenv("QT_REDIS_PORT", "1", 1); /* overrides redis.port: nothing listens there */
        char *argv[] = {(char *)"test_stage", (char *)"--config", g_cfg, (char *)"--no-admin",
                        NULL};
        qt_service_t *svc = qt_service_new(g_svc_ref, 4, argv, NULL);
        core_t core = {.out_logical = "out_ref"};
        int rc = qt_stage_run(svc, "in", &OPS, &core);
        qt_service_destroy(&svc);
        _exit(rc == 0 && !core.loaded && core.count == 0 ? 0 : 40);
    }
    sleep(2); /* the child is waiting for Redis by now (it never starts from scratch) */
    int status = 0;
    assert_int_equal(waitpid(pid, &status, WNOHANG), 0); /* still waiting */
    assert_int_equal(kill(pid, SIGTERM), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- a Redis proxy we can take down and bring back (forked, single-threaded) ---- */

static volatile sig_atomic_t g_px_down, g_px_up, g_px_quit;
static void px_sig(int sig)
{
    if (sig == SIGUSR1)
        g_px_down = 1;
    else if (sig == SIGUSR2)
        g_px_up = 1;
    else
        g_px_quit = 1;
}

static int px_listen(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 16) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int px_connect_upstream(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(g_rport))};
    if (inet_pton(AF_INET, g_rhost, &a.sin_addr) != 1 ||
        connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void proxy_main(int port_fd)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = px_sig;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int lfd = px_listen(0);
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    if (lfd < 0 || getsockname(lfd, (struct sockaddr *)&a, &alen) != 0)
        _exit(70);
    int port = ntohs(a.sin_port);
    if (write(port_fd, &port, sizeof port) != (ssize_t)sizeof port)
        _exit(71);
    close(port_fd);
    enum { MAXP = 32 };
    int cl[MAXP], up[MAXP];
    size_t np = 0;
    while (!g_px_quit) {
        if (g_px_down) {
            g_px_down = 0;
            for (size_t i = 0; i < np; i++) {
                close(cl[i]);
                close(up[i]);
            }
            np = 0;
            if (lfd >= 0)
                close(lfd);
            lfd = -1;
        }
        if (g_px_up) {
            g_px_up = 0;
            if (lfd < 0)
                lfd = px_listen(port);
        }
        struct pollfd pf[1 + 2 * MAXP];
        nfds_t n = 0;
        if (lfd >= 0)
            pf[n++] = (struct pollfd){.fd = lfd, .events = POLLIN};
        for (size_t i = 0; i < np; i++) {
            pf[n++] = (struct pollfd){.fd = cl[i], .events = POLLIN};
            pf[n++] = (struct pollfd){.fd = up[i], .events = POLLIN};
        }
        if (poll(pf, n, 50) <= 0)
            continue;
        for (nfds_t k = 0; k < n; k++) {
            if (!(pf[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (pf[k].fd == lfd) {
                int c = accept(lfd, NULL, NULL);
                if (c < 0)
                    continue;
                int u = px_connect_upstream();
                if (u < 0 || np == MAXP) {
                    close(c);
                    if (u >= 0)
                        close(u);
                    continue;
                }
                cl[np] = c;
                up[np] = u;
                np++;
                continue;
            }
            for (size_t i = 0; i < np; i++) {
                int from = pf[k].fd == cl[i] ? cl[i] : pf[k].fd == up[i] ? up[i] : -1;
                if (from < 0)
                    continue;
                int to = from == cl[i] ? up[i] : cl[i];
                char buf[65536];
                ssize_t r = read(from, buf, sizeof buf);
                bool ok = r > 0;
                for (ssize_t off = 0; ok && off < r;) {
                    ssize_t w = write(to, buf + off, (size_t)(r - off));
                    if (w <= 0)
                        ok = false;
                    else
                        off += w;
                }
                if (!ok) {
                    close(cl[i]);
                    close(up[i]);
                    cl[i] = cl[np - 1];
                    up[i] = up[np - 1];
                    np--;
                }
                break;
            }
            break; /* the fd set changed or was served: poll again */
        }
    }
    _exit(0);
}

static void test_redis_down_at_checkpoint_retries(void **state)
{
    (void)state;
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    fflush(NULL);
    pid_t proxy = fork();
    assert_true(proxy >= 0);
    if (proxy == 0) {
        close(pfd[0]);
        proxy_main(pfd[1]);
    }
    close(pfd[1]);
    int port = 0;
    assert_int_equal(read(pfd[0], &port, sizeof port), (ssize_t)sizeof port);
    close(pfd[0]);
    char marker[400];
    snprintf(marker, sizeof marker, "%s/redis-down", g_dir);
    unlink(marker);

    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        alarm(120);
        char p[16];
        snprintf(p, sizeof p, "%d", port);
        setenv("QT_REDIS_PORT", p, 1); /* through the proxy */
        char *argv[] = {(char *)"test_stage", (char *)"--config", g_cfg, (char *)"--instance",
                        (char *)"stagetest", (char *)"--no-admin", NULL};
        qt_service_t *svc = qt_service_new(g_svc_rdown, 6, argv, NULL);
        core_t core = {.out_logical = "out_rdown", .raise_at = 7, .raise_sig = SIGUSR1,
                       .proxy_down_at_pid = proxy};
        int rc = qt_stage_run(svc, "in", &OPS, &core);
        uint64_t errors = qt_redis_errors(svc->redis);
        write_result("rdown", &core, rc);
        qt_service_destroy(&svc);
        _exit(rc == 0 && errors > 0 ? 0 : 80);
    }
    /* wait until Redis is down (the core wrote the marker), hold it down, bring it back */
    struct stat sb;
    for (int i = 0; i < 1200 && stat(marker, &sb) != 0; i++)
        usleep(50000);
    assert_int_equal(stat(marker, &sb), 0);
    sleep(2);
    int status = 0;
    assert_int_equal(waitpid(child, &status, WNOHANG), 0); /* still retrying, not done */
    assert_int_equal(kill(proxy, SIGUSR2), 0);
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(kill(proxy, SIGTERM), 0);
    assert_int_equal(waitpid(proxy, &status, 0), proxy);
    int rc, loaded;
    uint64_t lc, cnt;
    read_result("rdown", &rc, &loaded, &lc, &cnt);
    assert_int_equal(rc, 0);
    assert_int_equal(cnt, N_BARS);
    /* nothing skipped or duplicated: every output once, counts 1..30 in order */
    enum { MAXO = 256 };
    static out_t O[MAXO];
    size_t n = read_outputs(g_out_rdown, O, MAXO);
    assert_int_equal(n, N_BARS + N_BATCHES);
    uint64_t b = 0, w = 0;
    for (size_t i = 0; i < n; i++) {
        if (O[i].body == QT__V1__ENVELOPE__BODY_BAR)
            assert_int_equal(O[i].seq, ++b);
        else
            assert_int_equal(O[i].seq, ++w);
    }
    free_outputs(O, n);
    qt_redis_t *r = qt_redis_new(g_rhost, atoi(g_rport), 1000, NULL);
    uint8_t *data = NULL;
    size_t len = 0;
    uint64_t seq = 0;
    char why[128];
    assert_int_equal(qt_checkpoint_load_ex(r, g_svc_rdown, &data, &len, &seq, why, sizeof why),
                     1);
    assert_int_equal(seq, N_BATCHES + 1); /* one per watermark + the final one */
    free(data);
    assert_int_equal(qt_checkpoint_clear(r, g_svc_rdown), 0);
    qt_redis_destroy(&r);
}

/* Minimal HTTP/1.0 GET against the admin port: the status code, body into buf. */
static int http_get(uint16_t port, const char *path, char *buf, size_t buflen)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\n\r\n", path);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    size_t got = 0;
    ssize_t r;
    while (got + 1 < buflen && (r = read(fd, buf + got, buflen - 1 - got)) > 0)
        got += (size_t)r;
    buf[got] = '\0';
    close(fd);
    int code = -1;
    if (sscanf(buf, "HTTP/%*s %d", &code) != 1)
        return -1;
    return code;
}

/* qt_service itself: heartbeat in Redis, topics, config paths, publish, metrics. */
static int service_child(void)
{
    alarm(60);
    char *argv[] = {(char *)"test_stage", (char *)"--config", g_cfg, (char *)"--instance",
                    (char *)"svc-inst", (char *)"--no-admin", (char *)"extra", NULL};
    int argi = 0;
    qt_service_t *svc = qt_service_new(g_svc_sig, 7, argv, &argi);
    if (argi != 6)
        return 50;
    if (strcmp(svc->name, g_svc_sig) != 0 || strcmp(svc->instance, "svc-inst") != 0)
        return 51;
    /* qt_service_new sent the first heartbeat: the encoded Envelope, PX 3 * 200 ms */
    redisReply *rep = qt_redis_cmd(svc->redis, "GET qt:hb:%s", g_svc_sig);
    if (!rep || rep->type != REDIS_REPLY_STRING)
        return 52;
    qt_env_t *env = NULL;
    if (qt_env_decode((const uint8_t *)rep->str, rep->len, &env, NULL, 0) != QT_DECODE_OK)
        return 53;
    freeReplyObject(rep);
    if (env->body_case != QT__V1__ENVELOPE__BODY_HEARTBEAT ||
        strcmp(env->heartbeat->service, g_svc_sig) != 0 ||
        strcmp(env->heartbeat->instance, "svc-inst") != 0 || env->heartbeat->pid != getpid() ||
        strcmp(env->heartbeat->status, "ok") != 0 || strcmp(env->source, "svc-inst") != 0)
        return 54;
    qt_env_free(env);
    rep = qt_redis_cmd(svc->redis, "PTTL qt:hb:%s", g_svc_sig);
    if (!rep || rep->type != REDIS_REPLY_INTEGER || rep->integer <= 0 || rep->integer > 600)
        return 55;
    freeReplyObject(rep);
    /* processed count reaches the next heartbeat and the metrics */
    qt_service_note_processed(svc, 1700000000000);
    if (qt_counter_value(svc->processed_total) != 1 ||
        qt_gauge_value(svc->last_event_gauge) != 1700000000.0)   /* seconds */
        return 56;
    qt_clock_sleep_ns(svc->clock, 250 * 1000000LL);
    qt_service_tick(svc);
    rep = qt_redis_cmd(svc->redis, "GET qt:hb:%s", g_svc_sig);
    if (!rep || rep->type != REDIS_REPLY_STRING ||
        qt_env_decode((const uint8_t *)rep->str, rep->len, &env, NULL, 0) != QT_DECODE_OK)
        return 57;
    freeReplyObject(rep);
    if (env->heartbeat->processed != 1 || env->heartbeat->last_event_time_ms != 1700000000000 ||
        env->seq != 2)
        return 58;
    qt_env_free(env);
    if (!qt_service_topic(svc, "in") || strcmp(qt_service_topic(svc, "in"), g_in) != 0 ||
        qt_service_topic(svc, "nope") != NULL)
        return 59;
    char want[400];
    snprintf(want, sizeof want, "%s/risk.yml", g_dir);
    if (strcmp(qt_service_config_path(svc, "risk.yml"), want) != 0)
        return 60;
    /* publish: same envelope on both paths; stamped seq, caller's source restored */
    Qt__V1__Watermark wm = QT__V1__WATERMARK__INIT;
    wm.stream = (char *)"svc.test";
    wm.event_time_ms = 5;
    qt_env_t o;
    qt_env_init(&o, 5000000);
    o.body_case = QT__V1__ENVELOPE__BODY_WATERMARK;
    o.watermark = &wm;
    char *src = o.source;
    if (qt_service_publish(svc, "svc.wm", g_out_svc, "k", &o) != 0 || o.seq != 1 ||
        o.source != src || o.publish_time_ns <= 0)
        return 61;
    if (qt_service_publish(svc, "svc.wm", NULL, NULL, &o) != 0 || o.seq != 2)
        return 62;
    /* an invalid event is refused before anything is sent: the seq does not move */
    wm.event_time_ms = -1;
    if (qt_service_publish(svc, "svc.wm", g_out_svc, NULL, &o) != -1 ||
        qt_pub_seq(svc->pub, "svc.wm") != 2)
        return 66;
    wm.event_time_ms = 5;
    if (qt_kproducer_flush(svc->producer, 10000) != 0)
        return 63;
    if (!qt_service_running(svc))
        return 64;
    qt_service_set_ready(svc, true); /* no admin: a no-op, must not crash */
    qt_service_stop(svc);
    if (qt_service_running(svc))
        return 65;
    qt_service_destroy(&svc);
    return 0;
}

static void test_service_runtime(void **state)
{
    (void)state;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int rc = service_child();
        fflush(NULL);
        _exit(rc);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* With the admin endpoint: not ready until told, healthy, metrics exported. */
static int admin_child(void)
{
    alarm(60);
    char *argv[] = {(char *)"test_stage", (char *)"--config", g_cfg, NULL};
    qt_service_t *svc = qt_service_new(g_svc_kill, 3, argv, NULL);
    if (!svc->admin)
        return 100;
    uint16_t port = qt_admin_port(svc->admin);
    static char buf[65536];
    if (http_get(port, "/healthz", buf, sizeof buf) != 200)
        return 101;
    if (http_get(port, "/readyz", buf, sizeof buf) != 503)
        return 102;
    qt_service_set_ready(svc, true);
    if (http_get(port, "/readyz", buf, sizeof buf) != 200)
        return 103;
    (void)qt_service_killswitch(svc); /* registers/sets the tier gauge */
    if (http_get(port, "/metrics", buf, sizeof buf) != 200 ||
        !strstr(buf, "qt_events_processed_total") || !strstr(buf, "qt_killswitch_tier") ||
        !strstr(buf, "qt_last_event_timestamp_seconds"))
        return 104;
    qt_service_destroy(&svc);
    return 0;
}

static void test_service_admin(void **state)
{
    (void)state;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int rc = admin_child();
        fflush(NULL);
        _exit(rc);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* Kafka unreachable at start: the service waits (creating its topics) and a SIGTERM
 * ends it cleanly with status 0. */
static void test_kafka_down_at_start_sigterm_exits_0(void **state)
{
    (void)state;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(60);
        setenv("QT_KAFKA_BROKERS", "127.0.0.1:1", 1);
        char *argv[] = {(char *)"test_stage", (char *)"--config", g_cfg, (char *)"--no-admin",
                        NULL};
        qt_service_t *svc = qt_service_new(g_svc_kill, 4, argv, NULL);
        qt_service_destroy(&svc);
        _exit(77); /* never reached: the service must not start without Kafka */
    }
    sleep(2);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, WNOHANG), 0); /* still waiting for Kafka */
    assert_int_equal(kill(pid, SIGTERM), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_bad_mode_exits_2(void **state)
{
    (void)state;
    static const char *modes[] = {"live", "manual"};
    for (size_t m = 0; m < 2; m++) {
        char path[400];
        snprintf(path, sizeof path, "%s/%s.yml", g_dir, modes[m]);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fprintf(f, "mode: %s\nkafka:\n  brokers: %s\nservices:\n  %s:\n    pub: tcp://127.0.0.1:*\n"
                   "    admin_port: 0\n",
                modes[m], g_brokers, g_svc_ref);
        fclose(f);
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            alarm(30);
            char *argv[] = {(char *)"t", (char *)"--config", path, (char *)"--no-admin", NULL};
            qt_service_t *svc = qt_service_new(g_svc_ref, 4, argv, NULL);
            qt_service_destroy(&svc);
            _exit(0);
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 2);
    }
}

int main(void)
{
    g_brokers = getenv("QT_KAFKA_BROKERS");
    g_rhost = getenv("QT_REDIS_HOST");
    g_rport = getenv("QT_REDIS_PORT");
    if (!g_brokers || !*g_brokers || !g_rhost || !*g_rhost || !g_rport || !*g_rport) {
        fprintf(stderr, "test_stage: QT_KAFKA_BROKERS, QT_REDIS_HOST and QT_REDIS_PORT must "
                        "name a real Kafka and Redis (scripts/run-tests sets them)\n");
        return 1;
    }
    int pid = (int)getpid();
    snprintf(g_dir, sizeof g_dir, "/tmp/qt-test-stage-%d", pid);
    if (mkdir(g_dir, 0700) != 0) {
        perror(g_dir);
        return 1;
    }
    snprintf(g_in, sizeof g_in, "qt.test.stage.in.%d", pid);
    snprintf(g_out_ref, sizeof g_out_ref, "qt.test.stage.ref.%d", pid);
    snprintf(g_out_sig, sizeof g_out_sig, "qt.test.stage.sig.%d", pid);
    snprintf(g_out_kill, sizeof g_out_kill, "qt.test.stage.kill.%d", pid);
    snprintf(g_out_svc, sizeof g_out_svc, "qt.test.stage.svc.%d", pid);
    snprintf(g_out_rdown, sizeof g_out_rdown, "qt.test.stage.rdown.%d", pid);
    snprintf(g_svc_rdown, sizeof g_svc_rdown, "qt-st-rdown-%d", pid);
    snprintf(g_svc_ref, sizeof g_svc_ref, "qt-st-ref-%d", pid);
    snprintf(g_svc_sig, sizeof g_svc_sig, "qt-st-sig-%d", pid);
    snprintf(g_svc_kill, sizeof g_svc_kill, "qt-st-kill-%d", pid);
    snprintf(g_cfg, sizeof g_cfg, "%s/services.yml", g_dir);
    FILE *f = fopen(g_cfg, "w");
    if (!f)
        return 1;
    fprintf(f,
            "version: 1\nmode: paper\nredis:\n  host: %s\n  port: %s\n  timeout_ms: 1000\n"
            "kafka:\n  brokers: %s\ntopics:\n  in: %s\n  out_ref: %s\n  out_sig: %s\n"
            "  out_kill: %s\n  out_svc: %s\n  out_rdown: %s\nservices:\n",
            g_rhost, g_rport, g_brokers, g_in, g_out_ref, g_out_sig, g_out_kill, g_out_svc,
            g_out_rdown);
    const char *svcs[] = {g_svc_ref, g_svc_sig, g_svc_kill, g_svc_rdown};
    for (int i = 0; i < 4; i++)
        fprintf(f, "  %s:\n    pub: tcp://127.0.0.1:*\n    admin_port: 0\n", svcs[i]);
    fprintf(f, "heartbeat:\n  interval_ms: 200\n");
    fclose(f);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_mode_exits_2),
        cmocka_unit_test(test_service_runtime),
        cmocka_unit_test(test_service_admin),
        cmocka_unit_test(test_kafka_down_at_start_sigterm_exits_0),
        cmocka_unit_test(test_stage_restart_and_crash),
        cmocka_unit_test(test_corrupt_checkpoint_refuses_to_start),
        cmocka_unit_test(test_redis_down_waits_then_sigterm_exits_0),
        cmocka_unit_test(test_redis_down_at_checkpoint_retries),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "test_stage: could not remove %s\n", g_dir);
    return rc;
}
