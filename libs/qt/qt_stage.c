/* qt_stage: consume -> process -> publish -> checkpoint (see qt_stage.h for the why).
 *
 * Checkpoint payload (inside the qt_checkpoint record, little-endian via qt_buf):
 *   u32 format (1) | i64 next_offset | u32 n_pub_topics | n x (str topic, u64 seq)
 *   | core state bytes (exactly what ops->save appended)
 * Ordering at a checkpoint, and why:
 *   1. flush the Kafka producer: the outputs of everything before next_offset must be
 *      durable before the checkpoint says "done up to here". A flush that times out is
 *      retried forever (outputs still queued). A delivery that FAILED since the last
 *      checkpoint means output was lost: we must not checkpoint past it, and it cannot
 *      be re-sent from here, so the loop exits 1 and the restart replays from the last
 *      checkpoint (re-emitting identical events; downstream drops duplicates).
 *   2. save the checkpoint; Redis down: retry with backoff, never skip.
 *   3. commit the Kafka offset (lag monitoring only; failure is logged, not fatal). */
#include "qt_stage.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qt_checkpoint.h"

#define STAGE_FORMAT 1u
#define STAGE_MAX_PUB_TOPICS 4096u
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000

typedef struct {
    qt_service_t *svc;
    const char *topic;
    const qt_stage_ops_t *ops;
    void *ctx;
    qt_kconsumer_t *consumer;
    int64_t next_offset;
    uint64_t failures_at_ckpt; /* producer delivery failures at the last checkpoint */
} stage_t;

/* Sleeps ms in 100 ms steps, serving heartbeats; ignores the stop flag on purpose
 * (a checkpoint in progress must finish even after SIGTERM). */
static void backoff_sleep(qt_service_t *svc, int *ms)
{
    int left = *ms;
    while (left > 0) {
        int step = left < 100 ? left : 100;
        qt_clock_sleep_ns(svc->clock, (int64_t)step * 1000000);
        qt_service_tick(svc);
        left -= step;
    }
    *ms = *ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : *ms * 2;
}

/* 0 ok; -1 the loop must exit 1 (output lost, or state could not be encoded). */
static int stage_checkpoint(stage_t *st)
{
    qt_service_t *svc = st->svc;
    int backoff = BACKOFF_MIN_MS;
    for (;;) {
        int rc = qt_service_flush(svc, 5000);
        if (qt_kproducer_delivery_failures(svc->producer) != st->failures_at_ckpt) {
            qt_log_kv(QT_LOG_ERROR, "stage_output_lost", "why",
                      "a Kafka delivery failed since the last checkpoint; exiting to replay "
                      "from it",
                      NULL);
            return -1;
        }
        if (rc == 0)
            break;
        qt_log_once(QT_LOG_WARN, "stage_flush_retry", "stage_flush_retry", "why",
                    "Kafka flush timed out; retrying (no checkpoint past undelivered output)",
                    NULL);
        backoff_sleep(svc, &backoff);
    }

    size_t n = qt_pub_topics(svc->pub, NULL, NULL, 0);
    if (n > STAGE_MAX_PUB_TOPICS) {
        qt_log_kv(QT_LOG_ERROR, "stage_checkpoint_failed", "why", "too many publish topics",
                  NULL);
        return -1;
    }
    const char **names = calloc(n ? n : 1, sizeof *names);
    uint64_t *seqs = calloc(n ? n : 1, sizeof *seqs);
    qt_buf_t b;
    qt_buf_init(&b);
    if (names && seqs) {
        size_t got = qt_pub_topics(svc->pub, names, seqs, n);
        if (got < n)
            n = got;
        qt_buf_put_u32(&b, STAGE_FORMAT);
        qt_buf_put_i64(&b, st->next_offset);
        qt_buf_put_u32(&b, (uint32_t)n);
        for (size_t i = 0; i < n; i++) {
            qt_buf_put_str(&b, names[i]);
            qt_buf_put_u64(&b, seqs[i]);
        }
        if (st->ops->save)
            st->ops->save(st->ctx, &b);
    }
    bool oom = !names || !seqs || b.oom;
    free(names);
    free(seqs);
    if (oom) {
        qt_buf_free(&b);
        qt_log_kv(QT_LOG_ERROR, "stage_checkpoint_failed", "why", "out of memory", NULL);
        return -1;
    }

    backoff = BACKOFF_MIN_MS;
    while (qt_checkpoint_save(svc->redis, svc->name, b.data, b.len) != 0) {
        qt_log_once(QT_LOG_WARN, "stage_checkpoint_retry", "stage_checkpoint_retry", "why",
                    "Redis unavailable; retrying the checkpoint (never skipped)", NULL);
        backoff_sleep(svc, &backoff);
    }
    qt_buf_free(&b);
    st->failures_at_ckpt = qt_kproducer_delivery_failures(svc->producer);
    (void)qt_kconsumer_commit_async(st->consumer, st->topic, st->next_offset);
    return 0;
}

/* 1 loaded, 0 no checkpoint, -1 refuse to start, -2 stopped while waiting for Redis. */
static int stage_restore(stage_t *st)
{
    qt_service_t *svc = st->svc;
    uint8_t *data = NULL;
    size_t len = 0;
    uint64_t seq = 0;
    char why[256] = "";
    int backoff = BACKOFF_MIN_MS;
    int rc;
    for (;;) {
        rc = qt_checkpoint_load_ex(svc->redis, svc->name, &data, &len, &seq, why, sizeof why);
        if (rc != -1)
            break;
        qt_log_once(QT_LOG_WARN, "stage_waiting_for_redis", "stage_waiting_for_redis", "why",
                    why, NULL);
        if (!qt_service_running(svc))
            return -2;
        backoff_sleep(svc, &backoff);
    }
    if (rc == -2) {
        qt_log_kv(QT_LOG_ERROR, "stage_checkpoint_corrupt", "why", why, NULL);
        return -1;
    }
    if (rc == 0) {
        st->next_offset = 0;
        qt_log_kv(QT_LOG_INFO, "stage_no_checkpoint", "topic", st->topic, "why",
                  "starting from the beginning of the input with empty state", NULL);
        return 0;
    }
    const char *bad = NULL;
    qt_reader_t r;
    qt_reader_init(&r, data, len);
    uint32_t fmt = qt_read_u32(&r);
    int64_t off = qt_read_i64(&r);
    uint32_t n = qt_read_u32(&r);
    if (r.err)
        bad = "truncated header";
    else if (fmt != STAGE_FORMAT)
        bad = "unsupported stage format";
    else if (off < 0)
        bad = "negative offset";
    else if (n > STAGE_MAX_PUB_TOPICS)
        bad = "too many publish topics";
    for (uint32_t i = 0; !bad && i < n; i++) {
        char topic[QT_TOPIC_MAX];
        qt_read_str(&r, topic, sizeof topic);
        uint64_t s = qt_read_u64(&r);
        if (r.err || !topic[0])
            bad = "bad publish topic entry";
        else
            qt_pub_set_seq(svc->pub, topic, s);
    }
    if (!bad) {
        qt_reader_t core;
        qt_reader_init(&core, data + r.pos, len - r.pos);
        bool ok = st->ops->load ? st->ops->load(st->ctx, &core) : core.len == 0;
        if (!ok || !qt_reader_done(&core))
            bad = "core state refused by load (or not fully consumed)";
    }
    free(data);
    if (bad) {
        qt_log_kv(QT_LOG_ERROR, "stage_checkpoint_invalid", "why", bad, NULL);
        return -1;
    }
    st->next_offset = off;
    char offs[32], seqs[32];
    snprintf(offs, sizeof offs, "%" PRId64, off);
    snprintf(seqs, sizeof seqs, "%" PRIu64, seq);
    qt_log_kv(QT_LOG_INFO, "stage_checkpoint_loaded", "topic", st->topic, "next_offset", offs,
              "checkpoint_seq", seqs, NULL);
    return 1;
}

int qt_stage_run(qt_service_t *svc, const char *input_logical, const qt_stage_ops_t *ops,
                 void *ctx)
{
    if (!svc || !ops || !ops->on_event || !input_logical)
        return 1;
    stage_t st = {.svc = svc, .ops = ops, .ctx = ctx};
    st.topic = qt_service_topic(svc, input_logical);
    if (!st.topic) {
        qt_log_kv(QT_LOG_ERROR, "stage_no_topic", "logical", input_logical, "why",
                  "no such key under topics: in the config", NULL);
        return 1;
    }
    qt_service_set_ready(svc, false);
    int rc = stage_restore(&st);
    if (rc == -2)
        return 0; /* stopped before anything was loaded or processed: nothing to save */
    if (rc == -1)
        return 1;
    st.consumer = qt_service_consumer(svc, NULL);
    if (qt_kconsumer_assign(st.consumer, st.topic, st.next_offset) != 0) {
        qt_kconsumer_destroy(&st.consumer);
        return 1;
    }
    st.failures_at_ckpt = qt_kproducer_delivery_failures(svc->producer);
    qt_service_set_ready(svc, true);
    qt_log_kv(QT_LOG_INFO, "stage_running", "topic", st.topic, NULL);

    int status = 0;
    bool eos_logged = false;
    while (qt_service_running(svc)) {
        qt_service_tick(svc);
        qt_env_t *env = NULL;
        int64_t off = -1;
        char topic[QT_TOPIC_MAX];
        int prc = qt_kconsumer_poll_env(st.consumer, 100, &env, &off, topic, sizeof topic);
        if (prc != 1) {
            if (ops->idle)
                ops->idle(ctx, svc);
            continue;
        }
        if (off < st.next_offset) { /* never expected after an explicit assign */
            qt_env_free(env);
            continue;
        }
        qt_stage_result_t res = ops->on_event(ctx, svc, env);
        st.next_offset = off + 1;
        qt_service_note_processed(svc, env->event_time_ns / 1000000);
        qt_env_free(env);
        if (res == QT_STAGE_CONTINUE)
            continue;
        if (res != QT_STAGE_CHECKPOINT && res != QT_STAGE_DONE) {
            qt_log_kv(QT_LOG_ERROR, "stage_fatal", "why",
                      res == QT_STAGE_FATAL ? "core returned FATAL" : "unknown core result",
                      NULL);
            status = 1;
            break;
        }
        if (stage_checkpoint(&st) != 0) {
            status = 1;
            break;
        }
        if (res == QT_STAGE_DONE && !eos_logged) {
            eos_logged = true;
            qt_log_kv(QT_LOG_INFO, "stage_end_of_stream", "topic", st.topic, NULL);
        }
    }
    if (status == 0) {
        /* SIGTERM (or qt_service_stop): final checkpoint, then leave. */
        qt_log_kv(QT_LOG_INFO, "stage_stopping", "topic", st.topic, NULL);
        if (stage_checkpoint(&st) != 0)
            status = 1;
    }
    qt_service_set_ready(svc, false);
    qt_kconsumer_destroy(&st.consumer);
    return status;
}
