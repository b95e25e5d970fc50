/* Integration: qt_kafka against a real Kafka (env QT_KAFKA_BROKERS).
 * Topic names carry the pid so reruns never see each other's messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "qt_clock.h"
#include "qt_kafka.h"
#include "qt_metrics.h"

static const char *g_brokers;
static char g_topic[96];
static char g_topic2[96];
static char g_ctl[96];
static char g_group[96];
#define N_MSGS 25

static void make_env(qt_env_t *env, Qt__V1__Watermark *wm, char *stream, int i)
{
    qt_env_init(env, (int64_t)(1700000000000 + i * 1000) * 1000000);
    qt__v1__watermark__init(wm);
    snprintf(stream, 32, "bars.test.%d", i);
    wm->stream = stream;
    wm->event_time_ms = 1700000000000 + i * 1000;
    wm->count = (uint64_t)i;
    env->source = (char *)"test_kafka";
    env->seq = (uint64_t)i + 1;
    env->body_case = QT__V1__ENVELOPE__BODY_WATERMARK;
    env->watermark = wm;
}

static void test_ensure_topics_idempotent(void **state)
{
    (void)state;
    const char *topics[] = {g_topic, g_topic2, g_ctl};
    const bool compacted[] = {false, false, true};
    char err[256] = "";
    assert_int_equal(qt_kafka_ensure_topics(g_brokers, topics, compacted, 3, 10000, err,
                                            sizeof err),
                     0);
    assert_int_equal(qt_kafka_ensure_topics(g_brokers, topics, compacted, 3, 10000, err,
                                            sizeof err),
                     0);
    assert_int_equal(qt_kafka_ensure_topics(g_brokers, topics, NULL, 2, 10000, err, sizeof err),
                     0);
    /* an invalid topic name is an error with a message */
    const char *bad[] = {"bad topic name!"};
    err[0] = '\0';
    assert_int_equal(qt_kafka_ensure_topics(g_brokers, bad, NULL, 1, 10000, err, sizeof err),
                     -1);
    assert_true(strlen(err) > 0);
}

static void test_produce_consume_commit_resume(void **state)
{
    (void)state;
    char err[256] = "";
    qt_metrics_t *m = qt_metrics_new("test_kafka");
    qt_kproducer_t *p = qt_kproducer_new(g_brokers, "test-producer", m, err, sizeof err);
    assert_non_null(p);
    uint8_t *sent[N_MSGS];
    size_t sent_len[N_MSGS];
    for (int i = 0; i < N_MSGS; i++) {
        qt_env_t env;
        Qt__V1__Watermark wm;
        char stream[32];
        make_env(&env, &wm, stream, i);
        sent[i] = qt_env_encode(&env, &sent_len[i]);
        assert_non_null(sent[i]);
        if (i % 2)
            assert_int_equal(qt_kproducer_send_env(p, g_topic, "watermark", &env), 0);
        else
            assert_int_equal(qt_kproducer_send(p, g_topic, NULL, sent[i], sent_len[i]), 0);
    }
    /* one garbage payload after the valid ones, then one more valid message */
    assert_int_equal(qt_kproducer_send(p, g_topic, "junk", (const uint8_t *)"\xff\xff\x01", 3),
                     0);
    qt_env_t env;
    Qt__V1__Watermark wm;
    char stream[32];
    make_env(&env, &wm, stream, N_MSGS);
    assert_int_equal(qt_kproducer_send_env(p, g_topic, NULL, &env), 0);
    assert_int_equal(qt_kproducer_flush(p, 15000), 0);
    assert_int_equal(qt_kproducer_delivery_failures(p), 0);
    assert_int_equal(qt_kproducer_outq_len(p), 0);

    qt_kconsumer_t *c = qt_kconsumer_new(g_brokers, g_group, m, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(qt_kconsumer_committed(c, g_topic, 10000), -1); /* nothing committed */
    assert_int_equal(qt_kafka_high_watermark(c, g_topic, 10000), N_MSGS + 2);
    assert_int_equal(qt_kconsumer_assign(c, g_topic, QT_OFFSET_STORED), 0);
    /* raw: the first N_MSGS back in order, identical bytes */
    for (int i = 0; i < N_MSGS; i++) {
        qt_kmsg_t msg;
        int rc = 0;
        for (int tries = 0; tries < 200 && rc == 0; tries++)
            rc = qt_kconsumer_poll(c, 100, &msg);
        assert_int_equal(rc, 1);
        assert_int_equal(msg.offset, i);
        assert_string_equal(msg.topic, g_topic);
        assert_int_equal(msg.len, sent_len[i]);
        assert_memory_equal(msg.payload, sent[i], sent_len[i]);
        if (i % 2) {
            assert_int_equal(msg.key_len, 9);
            assert_memory_equal(msg.key, "watermark", 9);
        } else {
            assert_int_equal(msg.key_len, 0);
        }
        assert_true(msg.timestamp_ms > 0);
        if (i == 9)
            assert_int_equal(qt_kconsumer_commit(c, g_topic, 10), 0);
    }
    assert_int_equal(qt_kconsumer_committed(c, g_topic, 10000), 10);
    /* decoded: the garbage message is counted and skipped (0), then the valid one */
    qt_env_t *got = NULL;
    int64_t off = -1;
    char topic[96];
    int rc = 0;
    for (int tries = 0; tries < 200 && rc == 0; tries++) {
        rc = qt_kconsumer_poll_env(c, 100, &got, &off, topic, sizeof topic);
        if (rc == 0)
            assert_null(got);
    }
    assert_int_equal(rc, 1);
    assert_int_equal(off, N_MSGS + 1);
    assert_string_equal(topic, g_topic);
    assert_int_equal(got->body_case, QT__V1__ENVELOPE__BODY_WATERMARK);
    assert_int_equal(got->watermark->count, N_MSGS);
    qt_env_free(got);
    qt_counter_t *rej = qt_metrics_find_counter(m, "qt_kafka_rejected_total",
                                                "reason=\"malformed\"");
    assert_non_null(rej);
    assert_int_equal(qt_counter_value(rej), 1);
    /* nothing more */
    qt_kmsg_t msg;
    assert_int_equal(qt_kconsumer_poll(c, 200, &msg), 0);
    qt_kconsumer_destroy(&c);
    assert_null(c);

    /* a new consumer of the same group resumes at the committed offset */
    c = qt_kconsumer_new(g_brokers, g_group, NULL, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(qt_kconsumer_assign(c, g_topic, QT_OFFSET_STORED), 0);
    rc = 0;
    for (int tries = 0; tries < 200 && rc == 0; tries++)
        rc = qt_kconsumer_poll_env(c, 100, &got, &off, topic, sizeof topic);
    assert_int_equal(rc, 1);
    assert_int_equal(off, 10);
    assert_int_equal(got->watermark->count, 10);
    qt_env_free(got);
    /* adding a second topic keeps the first one's position */
    assert_int_equal(qt_kproducer_send(p, g_topic2, NULL, sent[3], sent_len[3]), 0);
    assert_int_equal(qt_kproducer_flush(p, 15000), 0);
    assert_int_equal(qt_kconsumer_assign(c, g_topic2, QT_OFFSET_BEGINNING), 0);
    int64_t next1 = 11;
    bool got2 = false;
    for (int tries = 0; tries < 400 && (next1 < N_MSGS + 2 || !got2); tries++) {
        rc = qt_kconsumer_poll(c, 100, &msg);
        if (rc != 1)
            continue;
        if (strcmp(msg.topic, g_topic) == 0) {
            assert_int_equal(msg.offset, next1);
            next1++;
        } else {
            assert_string_equal(msg.topic, g_topic2);
            assert_int_equal(msg.offset, 0);
            assert_memory_equal(msg.payload, sent[3], sent_len[3]);
            got2 = true;
        }
    }
    assert_int_equal(next1, N_MSGS + 2);
    assert_true(got2);
    /* explicit offsets */
    qt_kconsumer_destroy(&c);
    c = qt_kconsumer_new(g_brokers, g_group, NULL, err, sizeof err);
    assert_int_equal(qt_kconsumer_assign(c, g_topic, 20), 0);
    rc = 0;
    for (int tries = 0; tries < 200 && rc == 0; tries++)
        rc = qt_kconsumer_poll(c, 100, &msg);
    assert_int_equal(rc, 1);
    assert_int_equal(msg.offset, 20);
    qt_kconsumer_destroy(&c);

    for (int i = 0; i < N_MSGS; i++)
        free(sent[i]);
    qt_kproducer_destroy(&p);
    assert_null(p);
    qt_metrics_destroy(&m);
}

static void test_flush_to_dead_broker_fails_in_time(void **state)
{
    (void)state;
    char err[256];
    qt_metrics_t *m = qt_metrics_new("test_kafka");
    qt_kproducer_t *p = qt_kproducer_new("127.0.0.1:1", "test-dead", m, err, sizeof err);
    assert_non_null(p);
    assert_int_equal(qt_kproducer_send(p, g_topic, "k", (const uint8_t *)"x", 1), 0);
    qt_clock_t *clk = qt_clock_new_wall();
    int64_t t0 = qt_clock_mono_ns(clk);
    assert_int_equal(qt_kproducer_flush(p, 1000), -1);
    int64_t ms = (qt_clock_mono_ns(clk) - t0) / 1000000;
    assert_true(ms >= 900 && ms < 3000);
    assert_int_equal(qt_kproducer_outq_len(p), 1);
    qt_kproducer_purge(p);
    t0 = qt_clock_mono_ns(clk);
    qt_kproducer_destroy(&p); /* nothing left: no 10 s wait */
    assert_true((qt_clock_mono_ns(clk) - t0) / 1000000 < 5000);
    qt_counter_t *c = qt_metrics_find_counter(m, "qt_kafka_delivery_failed_total", NULL);
    assert_non_null(c);
    assert_int_equal(qt_counter_value(c), 1); /* the purged message */
    qt_clock_destroy(&clk);
    qt_metrics_destroy(&m);
    /* ensure_topics against a dead broker: -1 within its timeout */
    const char *t[] = {g_topic};
    err[0] = '\0';
    assert_int_equal(qt_kafka_ensure_topics("127.0.0.1:1", t, NULL, 1, 1000, err, sizeof err), -1);
    assert_true(strlen(err) > 0);
}

static void count_tick(void *arg)
{
    (*(int *)arg)++;
}

/* Regression (found by the Kafka-outage drill): a flush against a broker that is down
 * must keep calling the heartbeat tick between slices, or the watchdog takes the
 * service for dead. 1000 ms in 100 ms slices: 10 slices, a tick between each. */
static void test_ticking_flush_keeps_the_heartbeat(void **state)
{
    (void)state;
    char err[256];
    qt_kproducer_t *p = qt_kproducer_new("127.0.0.1:1", "test-dead-tick", NULL, err, sizeof err);
    assert_non_null(p);
    assert_int_equal(qt_kproducer_send(p, g_topic, "k", (const uint8_t *)"x", 1), 0);
    int ticks = 0;
    assert_int_equal(qt_kproducer_flush_ticking(p, 1000, 100, count_tick, &ticks), -1);
    assert_int_equal(ticks, 9);
    qt_kproducer_purge(p);
    qt_kproducer_destroy(&p);

    /* A live broker: the same call delivers and reports success. */
    qt_kproducer_t *live = qt_kproducer_new(getenv("QT_KAFKA_BROKERS"), "test-live-tick", NULL,
                                            err, sizeof err);
    assert_non_null(live);
    assert_int_equal(qt_kproducer_send(live, g_topic, "k", (const uint8_t *)"y", 1), 0);
    ticks = 0;
    assert_int_equal(qt_kproducer_flush_ticking(live, 10000, 100, count_tick, &ticks), 0);
    qt_kproducer_destroy(&live);
}

/* Regression (the Kafka-outage drill under ASan): the lag-only commit of the stage loop
 * and qt-exec must not block while the group coordinator is unreachable, or the service
 * stops heartbeating. With a dead broker the async commit is queued and returns at once. */
static void test_async_commit_never_blocks(void **state)
{
    (void)state;
    char err[256];
    qt_kconsumer_t *c = qt_kconsumer_new("127.0.0.1:1", "test-async-commit", NULL, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(qt_kconsumer_assign(c, g_topic, 0), 0);
    qt_clock_t *clk = qt_clock_new_wall();
    int64_t t0 = qt_clock_mono_ns(clk);
    for (int i = 1; i <= 5; i++)
        assert_int_equal(qt_kconsumer_commit_async(c, g_topic, i), 0);
    int64_t ms = (qt_clock_mono_ns(clk) - t0) / 1000000;
    assert_true(ms < 1000);   /* 5 commits; a synchronous one would wait for a coordinator */
    assert_int_equal(qt_kconsumer_commit_async(c, g_topic, -1), -1);   /* bad offset */
    qt_clock_destroy(&clk);
    qt_kconsumer_destroy(&c);
}

static void test_selftest(void **state)
{
    (void)state;
    assert_int_equal(qt_kafka_selftest(true), 0);
}

int main(void)
{
    g_brokers = getenv("QT_KAFKA_BROKERS");
    if (!g_brokers || !*g_brokers) {
        fprintf(stderr, "test_kafka: QT_KAFKA_BROKERS must name a real Kafka "
                        "(scripts/run-tests sets it)\n");
        return 1;
    }
    int pid = (int)getpid();
    snprintf(g_topic, sizeof g_topic, "qt.test.kafka.%d", pid);
    snprintf(g_topic2, sizeof g_topic2, "qt.test.kafka2.%d", pid);
    snprintf(g_ctl, sizeof g_ctl, "qt.test.control.%d", pid);
    snprintf(g_group, sizeof g_group, "qt-test-kafka-%d", pid);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selftest),
        cmocka_unit_test(test_ensure_topics_idempotent),
        cmocka_unit_test(test_produce_consume_commit_resume),
        cmocka_unit_test(test_flush_to_dead_broker_fails_in_time),
        cmocka_unit_test(test_ticking_flush_keeps_the_heartbeat),
        cmocka_unit_test(test_async_commit_never_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
