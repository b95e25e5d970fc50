/* qt-exec: paper execution daemon. Thin: arguments, config, the two Kafka consumers
 * (intents from the checkpoint, bars from the beginning), and the loop that feeds
 * the exec engine (exec.h). The crash-safety reasoning is in docs/services/exec.md.
 * The operating mode (Redis qt:mode, absent = services.yml `mode`) is read through
 * sup_store (cached 250 ms, a failed read is never cached) and enforced by the engine;
 * manual-mode orders are appended to exec.yml manual_orders_path as JSON lines. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec.h"
#include "qt_checkpoint.h"
#include "qt_service.h"
#include "supervisor/sup_store.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define SERVICE "qt-exec"

typedef struct {
    qt_service_t *svc;
    qt_kconsumer_t *intents;
    const char *intents_topic;
    int64_t last_batch_ms;
    qt_counter_t *c_orders, *c_fills, *c_rejected, *c_expired, *c_replays, *c_invalid,
        *c_batches, *c_step_errors;
    qt_gauge_t *g_unresolved;
    exec_stats_t seen;
    sup_mode_t config_mode;
    exec_mode_t mode;
    int64_t mode_read_mono_ns;
    bool mode_valid;
    char manual_path[1024];
    qt_counter_t *c_manual, *c_manual_bad;
} app_t;

static redisReply *redis_cmd(void *ctx, int argc, const char **argv, const size_t *argvlen)
{
    return qt_redis_cmdargv((qt_redis_t *)ctx, argc, argv, argvlen);
}

static int io_publish(void *ctx, const char *zmq, const char *logical, const char *key,
                      qt_env_t *env)
{
    app_t *a = ctx;
    return qt_service_publish(a->svc, zmq, qt_service_topic(a->svc, logical), key, env);
}

static Qt__V1__KillSwitchTier io_ks(void *ctx)
{
    return qt_service_killswitch(((app_t *)ctx)->svc);
}

static exec_mode_t io_mode(void *ctx)
{
    app_t *a = ctx;
    int64_t now = qt_clock_mono_ns(a->svc->clock);
    if (a->mode_valid && now - a->mode_read_mono_ns < 250LL * 1000000LL)
        return a->mode;
    sup_mode_state_t st;
    int rc = sup_mode_read(a->svc->redis, a->config_mode, &st);
    exec_mode_t m;
    if (rc != 0)
        m = st.present ? EXEC_MODE_INVALID : EXEC_MODE_UNREADABLE;
    else
        m = st.mode == SUP_MODE_OFF      ? EXEC_MODE_OFF
            : st.mode == SUP_MODE_MANUAL ? EXEC_MODE_MANUAL
            : st.mode == SUP_MODE_PAPER  ? EXEC_MODE_PAPER
            : st.mode == SUP_MODE_LIVE   ? EXEC_MODE_LIVE
                                         : EXEC_MODE_INVALID;
    if (m != a->mode || !a->mode_valid)
        qt_log_kv(m == EXEC_MODE_PAPER ? QT_LOG_INFO : QT_LOG_WARN, "exec_mode", "mode",
                  rc != 0 ? (st.present ? "invalid" : "unreadable") : sup_mode_name(st.mode),
                  NULL);
    a->mode = m;
    a->mode_valid = m != EXEC_MODE_UNREADABLE;   /* never cache a failed read */
    a->mode_read_mono_ns = now;
    return m;
}

/* mkdir -p of the parent directories of path. */
static void make_parents(const char *path)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            (void)mkdir(buf, 0750);
            *p = '/';
        }
}

/* Appends the command line (O_APPEND, one write, fsync): at-least-once, see exec.h. */
static int io_manual(void *ctx, const exec_order_t *o)
{
    app_t *a = ctx;
    char line[1200];
    if (exec_manual_line(o, line, sizeof line - 1) != 0) {
        /* hostile ids: never block the stream on them; the REJECTED record stays */
        qt_counter_inc(a->c_manual_bad);
        qt_log_once(QT_LOG_ERROR, "manual_line_invalid", "manual_line_invalid", "coid",
                    "(not printable)", NULL);
        return 0;
    }
    size_t len = strlen(line);
    line[len++] = '\n';
    make_parents(a->manual_path);
    int fd = open(a->manual_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        qt_log_once(QT_LOG_ERROR, "manual_open_failed", "manual_open_failed", "path",
                    a->manual_path, "error", strerror(errno), NULL);
        return -1;
    }
    ssize_t w = write(fd, line, len);
    int rc = (w == (ssize_t)len && fsync(fd) == 0) ? 0 : -1;
    close(fd);
    if (rc == 0) {
        qt_counter_inc(a->c_manual);
        qt_log_kv(QT_LOG_WARN, "manual_order", "client_order_id", o->coid, "path",
                  a->manual_path, NULL);
    }
    return rc;
}

static int64_t io_now(void *ctx)
{
    return qt_clock_now_ms(((app_t *)ctx)->svc->clock);
}

/* Flush -> checkpoint -> commit: never checkpoint past an undelivered event. */
static int io_batch_done(void *ctx, int64_t t, bool eos, int64_t next_offset)
{
    app_t *a = ctx;
    if (qt_service_flush(a->svc, 10000) != 0) {
        qt_log_kv(QT_LOG_WARN, "flush_failed", "detail", "checkpoint deferred", NULL);
        return -1;
    }
    qt_buf_t b;
    qt_buf_init(&b);
    exec_ckpt_encode(&b, next_offset, t);
    int rc = b.oom ? -1 : qt_checkpoint_save(a->svc->redis, SERVICE, b.data, b.len);
    qt_buf_free(&b);
    if (rc != 0) {
        qt_log_kv(QT_LOG_WARN, "checkpoint_failed", "detail", "redis", NULL);
        return -1;
    }
    a->last_batch_ms = t;
    (void)qt_kconsumer_commit_async(a->intents, a->intents_topic, next_offset); /* lag only */
    char ts[32], off[32];
    snprintf(ts, sizeof ts, "%" PRId64, t);
    snprintf(off, sizeof off, "%" PRId64, next_offset);
    qt_log_kv(eos ? QT_LOG_INFO : QT_LOG_DEBUG, "batch_done", "time_ms", ts, "next_offset", off,
              "end_of_stream", eos ? "true" : "false", NULL);
    return 0;
}

static void sync_metrics(app_t *a, const exec_engine_t *eng)
{
    const exec_stats_t *s = exec_engine_stats(eng);
#define BUMP(f, c)                                                                            \
    if (s->f > a->seen.f)                                                                     \
        qt_counter_add(a->c, s->f - a->seen.f);
    BUMP(orders, c_orders)
    BUMP(fills, c_fills)
    BUMP(rejected, c_rejected)
    BUMP(expired, c_expired)
    BUMP(replays, c_replays)
    BUMP(invalid, c_invalid)
    BUMP(batches, c_batches)
#undef BUMP
    a->seen = *s;
    qt_gauge_set(a->g_unresolved, (double)exec_engine_unresolved(eng));
}

static bool load_paper_config(qt_service_t *svc, paper_config_t *pc, char *manual_path,
                              size_t manual_len)
{
    const char *path = qt_service_config_path(svc, "exec.yml");
    char err[512];
    qt_config_t *c = qt_config_load(path, err, sizeof err);
    if (!c) {
        fprintf(stderr, "qt-exec: %s\n", err);
        return false;
    }
    paper_config_defaults(pc);
    pc->fee_bps = qt_config_int(c, "fee_bps", false, pc->fee_bps, 0, 1000);
    pc->slippage_bps = qt_config_int(c, "slippage_bps", false, pc->slippage_bps, 0, 1000);
    pc->initial_cash = qt_config_money(c, "initial_cash", false, pc->initial_cash);
    const char *mp = qt_config_str(c, "manual_orders_path", "var/manual/orders.jsonl");
    snprintf(manual_path, manual_len, "%s", mp ? mp : "");
    const char *e = qt_config_error(c);
    if (!e && (!mp || !*mp || strlen(mp) >= manual_len))
        e = "key 'manual_orders_path': expected a file path";
    if (!e)
        e = paper_config_check(pc);
    if (e)
        fprintf(stderr, "qt-exec: %s: %s\n", path, e);
    qt_config_destroy(&c);
    return e == NULL;
}

int main(int argc, char **argv)
{
    int argi = 1;
    qt_service_t *svc = qt_service_new(SERVICE, argc, argv, &argi);
    if (argi < argc) {
        fprintf(stderr, "qt-exec: unknown argument '%s'\n", argv[argi]);
        qt_service_destroy(&svc);
        return 2;
    }
    const char *mode = qt_config_str(svc->cfg, "mode", "paper");
    if (strcmp(mode, "paper") != 0) {
        fprintf(stderr, "qt-exec: mode '%s' refused: only 'paper' exists in the foundation\n",
                mode);
        qt_service_destroy(&svc);
        return 2;
    }
    paper_config_t pc;
    char manual_path[1024];
    if (!load_paper_config(svc, &pc, manual_path, sizeof manual_path)) {
        qt_service_destroy(&svc);
        return 2;
    }

    app_t a = {.svc = svc, .last_batch_ms = -1, .config_mode = SUP_MODE_PAPER};
    snprintf(a.manual_path, sizeof a.manual_path, "%s", manual_path);
    a.intents_topic = qt_service_topic(svc, "intents");
    const char *bars_topic = qt_service_topic(svc, "bars");
    qt_metrics_t *m = svc->metrics;
    a.c_orders = qt_metrics_counter(m, "qt_exec_orders_total", "New paper orders", NULL);
    a.c_fills = qt_metrics_counter(m, "qt_exec_fills_total", "Paper fills applied", NULL);
    a.c_rejected = qt_metrics_counter(m, "qt_exec_rejected_total",
                                      "Intents refused by the kill switch", "reason=\"kill_switch\"");
    a.c_expired = qt_metrics_counter(m, "qt_exec_expired_total", "Orders expired (no next bar)", NULL);
    a.c_replays = qt_metrics_counter(m, "qt_exec_replays_total",
                                     "Intents whose order was already claimed (replay)", NULL);
    a.c_invalid = qt_metrics_counter(m, "qt_exec_rejected_intents_total", "Invalid intents dropped",
                                     "reason=\"invalid\"");
    a.c_batches = qt_metrics_counter(m, "qt_exec_batches_total", "Intent batches completed", NULL);
    a.c_step_errors = qt_metrics_counter(m, "qt_exec_step_errors_total",
                                         "Engine steps that failed (Redis/Kafka) and were retried", NULL);
    a.c_manual = qt_metrics_counter(m, "qt_exec_manual_orders_total",
                                    "Manual-mode orders written for a human", NULL);
    a.c_manual_bad = qt_metrics_counter(m, "qt_exec_manual_orders_invalid_total",
                                        "Manual-mode orders whose ids cannot be written", NULL);
    a.g_unresolved = qt_metrics_gauge(m, "qt_exec_unresolved_intents", "Intents not yet resolved", NULL);

    const char *topics[] = {a.intents_topic, bars_topic, qt_service_topic(svc, "orders"),
                            qt_service_topic(svc, "reports"), qt_service_topic(svc, "fills")};
    char err[256];
    while (qt_service_running(svc) &&
           qt_kafka_ensure_topics(svc->brokers, topics, NULL, 5, 5000, err, sizeof err) != 0) {
        qt_log_kv(QT_LOG_WARN, "kafka_unavailable", "detail", err, NULL);
        qt_clock_sleep_ns(svc->clock, 1000000000LL);
    }

    exec_store_t *store = exec_store_new_redis(redis_cmd, svc->redis, pc.initial_cash);
    /* Checkpoint first: without Redis we wait (starting from scratch would re-trade). */
    int64_t start_offset = QT_OFFSET_BEGINNING;
    for (;;) {
        if (!qt_service_running(svc))
            break;
        uint8_t *st = NULL;
        size_t len = 0;
        char why[160] = "";
        int r = qt_checkpoint_load(svc->redis, SERVICE, &st, &len, why, sizeof why);
        if (r == 1) {
            int64_t off, t;
            bool ok = exec_ckpt_decode(st, len, &off, &t);
            free(st);
            if (!ok) {
                qt_log_kv(QT_LOG_ERROR, "checkpoint_invalid", "detail", "bad payload", NULL);
                exec_store_destroy(&store);
                qt_service_destroy(&svc);
                return 1;
            }
            start_offset = off;
            a.last_batch_ms = t;
        }
        if (r >= 0 && exec_store_init(store) == 0)
            break;
        if (r < 0 && qt_redis_ping(svc->redis)) {
            qt_log_kv(QT_LOG_ERROR, "checkpoint_corrupt", "detail", why, NULL);
            exec_store_destroy(&store);
            qt_service_destroy(&svc);
            return 1;
        }
        qt_log_once(QT_LOG_WARN, "exec_redis_wait", "redis_unavailable", "detail",
                    "waiting for Redis before starting", NULL);
        qt_service_tick(svc);
        qt_clock_sleep_ns(svc->clock, 500000000LL);
    }

    a.intents = qt_kconsumer_new(svc->brokers, SERVICE, m, err, sizeof err);
    qt_kconsumer_t *bars = qt_kconsumer_new(svc->brokers, SERVICE "-bars", m, err, sizeof err);
    if (!a.intents || !bars || qt_kconsumer_assign(a.intents, a.intents_topic, start_offset) != 0 ||
        qt_kconsumer_assign(bars, bars_topic, QT_OFFSET_BEGINNING) != 0) {
        qt_log_kv(QT_LOG_ERROR, "kafka_consumer_failed", "detail", err, NULL);
        qt_kconsumer_destroy(&a.intents);
        qt_kconsumer_destroy(&bars);
        exec_store_destroy(&store);
        qt_service_destroy(&svc);
        return 1;
    }
    char so[32];
    snprintf(so, sizeof so, "%" PRId64, start_offset);
    qt_log_kv(QT_LOG_INFO, "exec_started", "mode", "paper", "intents_offset", so, NULL);

    exec_io_t io = {io_publish, io_ks, io_now, io_batch_done, &a};
    exec_engine_t *eng = exec_engine_new(&pc, store, &io);
    if (!eng) {
        qt_log_kv(QT_LOG_ERROR, "exec_engine_failed", NULL);
        return 1;
    }
    exec_mode_io_t mio = {io_mode, io_manual, &a};
    exec_engine_set_mode_io(eng, &mio);
    if (svc->admin)
        qt_admin_set_ready(svc->admin, true);

    int64_t retry_at = 0;
    while (qt_service_running(svc)) {
        qt_service_tick(svc);
        int got = 0;
        char topic[QT_TOPIC_MAX];
        /* bars first: an intent's fill bar must be known before it is waited on */
        for (int i = 0; i < 2000; i++) {
            qt_env_t *env = NULL;
            int64_t off;
            if (qt_kconsumer_poll_env(bars, 0, &env, &off, topic, sizeof topic) != 1)
                break;
            got++;
            if (env->body_case == QT__V1__ENVELOPE__BODY_BAR)
                (void)exec_engine_on_bar(eng, env->bar);
            else if (env->body_case == QT__V1__ENVELOPE__BODY_WATERMARK)
                exec_engine_on_bars_watermark(eng, env->watermark);
            qt_env_free(env);
        }
        for (int i = 0; i < 500 && exec_engine_wants_intents(eng); i++) {
            qt_env_t *env = NULL;
            int64_t off;
            if (qt_kconsumer_poll_env(a.intents, 0, &env, &off, topic, sizeof topic) != 1)
                break;
            got++;
            int64_t ev = env->event_time_ns / 1000000LL;
            if (env->body_case == QT__V1__ENVELOPE__BODY_INTENT) {
                if (exec_engine_on_intent(eng, off, env->intent) < 0) {
                    qt_log_kv(QT_LOG_ERROR, "out_of_memory", NULL);
                    qt_env_free(env);
                    goto out;
                }
                qt_service_note_processed(svc, ev);
            } else if (env->body_case == QT__V1__ENVELOPE__BODY_WATERMARK) {
                if (exec_engine_on_intents_watermark(eng, off, env->watermark) < 0) {
                    qt_env_free(env);
                    goto out;
                }
            }
            qt_env_free(env);
            /* resolve as we go so that one batch's intents do not pile up */
            if (i % 64 == 63)
                break;
        }
        int64_t now = qt_clock_now_ms(svc->clock);
        if (now >= retry_at) {
            int r = exec_engine_step(eng);
            if (r < 0) {
                qt_counter_inc(a.c_step_errors);
                qt_log_once(QT_LOG_WARN, "exec_step_failed", "step_failed", "detail",
                            "Redis or Kafka unavailable; retrying (idempotent)", NULL);
                retry_at = now + 250;
            } else {
                got += r;
            }
        }
        sync_metrics(&a, eng);
        if (!got) {
            /* idle: block briefly on intents (or bars while intents are held back) */
            qt_kconsumer_t *c = exec_engine_wants_intents(eng) ? a.intents : bars;
            qt_env_t *env = NULL;
            int64_t off;
            if (qt_kconsumer_poll_env(c, 50, &env, &off, topic, sizeof topic) == 1) {
                if (c == bars) {
                    if (env->body_case == QT__V1__ENVELOPE__BODY_BAR)
                        (void)exec_engine_on_bar(eng, env->bar);
                    else if (env->body_case == QT__V1__ENVELOPE__BODY_WATERMARK)
                        exec_engine_on_bars_watermark(eng, env->watermark);
                } else if (env->body_case == QT__V1__ENVELOPE__BODY_INTENT) {
                    if (exec_engine_on_intent(eng, off, env->intent) >= 0)
                        qt_service_note_processed(svc, env->event_time_ns / 1000000LL);
                } else if (env->body_case == QT__V1__ENVELOPE__BODY_WATERMARK) {
                    (void)exec_engine_on_intents_watermark(eng, off, env->watermark);
                }
                qt_env_free(env);
            }
        }
    }
out:
    qt_log_kv(QT_LOG_INFO, "exec_stopping", NULL);
    exec_engine_destroy(&eng);
    qt_kconsumer_destroy(&a.intents);
    qt_kconsumer_destroy(&bars);
    exec_store_destroy(&store);
    qt_service_destroy(&svc); /* flushes Kafka */
    return 0;
}
