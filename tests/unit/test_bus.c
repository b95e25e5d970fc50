/* Tests for qt_bus over real TCP loopback sockets: every body type arrives intact with
 * source/seq/publish time stamped; sequence numbers are per topic; gaps, stale
 * messages and publisher restarts are counted (and stale ones still delivered); every
 * kind of malformed frame is rejected, counted under its reason, never returned, and
 * the next valid message still arrives; invalid sends consume no sequence number. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "qt_bus.h"
#include "../lib/qt_testenv.h"
#include "qt_log.h"

#define SIM_T0 1700000000000000000LL

typedef struct {
    qt_metrics_t *m;
    qt_clock_t *clk;
    qt_pub_t *pub;
    qt_sub_t *sub;
    FILE *logf;
    char *logbuf;
    size_t loglen;
} fx_t;

/* Envelopes of every body type: tests/lib/qt_testenv (msg_init = init + tag). */

typedef qt_testenv_t msg_t;

static void msg_init(msg_t *m, Qt__V1__Envelope__BodyCase kind, int64_t tag) {
    qt_testenv_init(m, kind);
    qt_testenv_set_tag(m, tag);
}

/* ---------------------------------------------------------------- fixture */

static uint64_t counter_val(qt_metrics_t *m, const char *name, const char *labels) {
    qt_counter_t *c = qt_metrics_find_counter(m, name, labels);
    return c ? qt_counter_value(c) : 0;
}

static uint64_t rejected(fx_t *f, const char *reason) {
    char labels[64];
    snprintf(labels, sizeof labels, "reason=\"%s\"", reason);
    return counter_val(f->m, "qt_bus_rejected_total", labels);
}

/* Receive until a message arrives on `topic` (others, e.g. late probes, are skipped). */
static qt_env_t *recv_on(fx_t *f, const char *topic) {
    char t[QT_TOPIC_MAX + 1];
    for (int i = 0; i < 100; i++) {
        qt_env_t *e = NULL;
        int r = qt_sub_recv(f->sub, 100, t, sizeof t, &e);
        assert_int_not_equal(r, -1);
        if (r == 0) continue;
        if (strcmp(t, topic) == 0) return e;
        qt_env_free(e);
    }
    fail_msg("nothing received on %s", topic);
    return NULL;
}

/* Slow joiner: publish probes until the subscriber hears one. */
static void warm_up(fx_t *f) {
    msg_t m;
    msg_init(&m, QT__V1__ENVELOPE__BODY_HEARTBEAT, 0);
    char t[QT_TOPIC_MAX + 1];
    for (int i = 0; i < 500; i++) {
        assert_int_equal(qt_pub_send(f->pub, "probe", &m.env), 0);
        qt_env_t *e = NULL;
        if (qt_sub_recv(f->sub, 10, t, sizeof t, &e) == 1) {
            qt_env_free(e);
            /* drain the other probes in flight */
            while (qt_sub_recv(f->sub, 50, t, sizeof t, &e) == 1) qt_env_free(e);
            return;
        }
    }
    fail_msg("subscriber never joined");
}

static int setup(void **state) {
    fx_t *f = calloc(1, sizeof *f);
    if (!f) return -1;
    /* Logs go to memory: the tests check the log-once lines. */
    f->logf = open_memstream(&f->logbuf, &f->loglen);
    qt_log_init("test_bus", QT_LOG_DEBUG, NULL);
    qt_log_set_stream(f->logf);
    f->m = qt_metrics_new("test_bus");
    f->clk = qt_clock_new_sim(SIM_T0);
    char err[256];
    f->pub = qt_pub_new("tcp://127.0.0.1:*", "qt-test", f->clk, f->m, err, sizeof err);
    f->sub = qt_sub_new(f->m);
    if (!f->logf || !f->m || !f->clk || !f->pub || !f->sub) return -1;
    if (qt_sub_connect(f->sub, qt_pub_endpoint(f->pub)) != 0) return -1;
    if (qt_sub_subscribe(f->sub, "") != 0) return -1;
    *state = f;
    warm_up(f);
    return 0;
}

static int teardown(void **state) {
    fx_t *f = *state;
    qt_pub_destroy(&f->pub);
    qt_sub_destroy(&f->sub);
    qt_clock_destroy(&f->clk);
    qt_metrics_destroy(&f->m);
    qt_log_set_stream(NULL);
    fclose(f->logf);
    free(f->logbuf);
    free(f);
    return 0;
}

/* ---------------------------------------------------------------- tests */

static void test_selftest(void **state) {
    (void)state;
    assert_int_equal(qt_bus_selftest(false), 0);
}

static void test_endpoint_resolved(void **state) {
    fx_t *f = *state;
    const char *ep = qt_pub_endpoint(f->pub);
    assert_non_null(ep);
    assert_int_equal(strncmp(ep, "tcp://127.0.0.1:", 16), 0);
    assert_null(strchr(ep, '*'));
    assert_true(atoi(ep + 16) > 0);
}

static void test_roundtrip_all_bodies(void **state) {
    fx_t *f = *state;
    qt_clock_set(f->clk, SIM_T0 + 5000);
    for (size_t k = 0; k < qt_testenv_nkinds; k++) {
        msg_t m;
        msg_init(&m, qt_testenv_kinds[k], 1000 + (int64_t)k);
        char topic[64];
        snprintf(topic, sizeof topic, "rt.%s", qt_env_body_name(&m.env));
        assert_int_equal(qt_pub_send(f->pub, topic, &m.env), 0);
        /* the publisher stamped the caller's envelope */
        assert_string_equal(m.env.source, "qt-test");
        assert_true(m.env.seq == 1);
        assert_true(m.env.publish_time_ns == SIM_T0 + 5000);
        qt_env_t *e = recv_on(f, topic);
        assert_int_equal(e->body_case, qt_testenv_kinds[k]);
        assert_string_equal(e->source, "qt-test");
        assert_true(e->seq == 1);
        assert_true(e->publish_time_ns == SIM_T0 + 5000);
        assert_true(e->event_time_ns == SIM_T0 + 1000 + (int64_t)k);
        assert_true(qt_testenv_tag(e) == 1000 + (int64_t)k);
        /* byte-identical to what was sent */
        size_t l1, l2;
        uint8_t *b1 = qt_env_encode(&m.env, &l1), *b2 = qt_env_encode(e, &l2);
        assert_int_equal(l1, l2);
        assert_memory_equal(b1, b2, l1);
        free(b1);
        free(b2);
        qt_env_free(e);
    }
    assert_int_equal(qt_sub_gaps(f->sub), 0);
    assert_int_equal(qt_sub_rejected(f->sub), 0);
}

static void test_seq_per_topic(void **state) {
    fx_t *f = *state;
    msg_t m;
    msg_init(&m, QT__V1__ENVELOPE__BODY_WATERMARK, 1);
    assert_true(qt_pub_seq(f->pub, "s.a") == 0);
    for (int i = 0; i < 3; i++) assert_int_equal(qt_pub_send(f->pub, "s.a", &m.env), 0);
    assert_int_equal(qt_pub_send(f->pub, "s.b", &m.env), 0);
    assert_true(qt_pub_seq(f->pub, "s.a") == 3);
    assert_true(qt_pub_seq(f->pub, "s.b") == 1);
    uint64_t expect_a = 1;
    int got = 0;
    char t[QT_TOPIC_MAX + 1];
    while (got < 4) {
        qt_env_t *e = NULL;
        int r = qt_sub_recv(f->sub, 1000, t, sizeof t, &e);
        assert_int_equal(r, 1);
        if (strcmp(t, "s.a") == 0) {
            assert_true(e->seq == expect_a);
            expect_a++;
            got++;
        } else if (strcmp(t, "s.b") == 0) {
            assert_true(e->seq == 1);
            got++;
        }
        qt_env_free(e);
    }
    assert_int_equal(qt_sub_gaps(f->sub), 0);
    assert_int_equal(qt_sub_stale(f->sub), 0);
}

/* What qt_stage checkpoints: every topic with its last seq, sorted by name; restoring
 * them into a new publisher continues the sequences. */
static void test_topics_enumeration(void **state) {
    fx_t *f = *state;
    msg_t m;
    msg_init(&m, QT__V1__ENVELOPE__BODY_WATERMARK, 1);
    assert_int_equal(qt_pub_send(f->pub, "t.zeta", &m.env), 0);
    assert_int_equal(qt_pub_send(f->pub, "t.alpha", &m.env), 0);
    assert_int_equal(qt_pub_send(f->pub, "t.alpha", &m.env), 0);
    qt_pub_set_seq(f->pub, "t.mid", 41);
    size_t n = qt_pub_topics(f->pub, NULL, NULL, 0);
    assert_int_equal(n, 4); /* probe, t.alpha, t.mid, t.zeta */
    const char *names[4];
    uint64_t seqs[4];
    assert_int_equal(qt_pub_topics(f->pub, names, seqs, 4), 4);
    assert_string_equal(names[0], "probe");
    assert_string_equal(names[1], "t.alpha");
    assert_true(seqs[1] == 2);
    assert_string_equal(names[2], "t.mid");
    assert_true(seqs[2] == 41);
    assert_string_equal(names[3], "t.zeta");
    assert_true(seqs[3] == 1);
    /* a smaller array gets a prefix, the total is still returned */
    const char *two[2];
    assert_int_equal(qt_pub_topics(f->pub, two, NULL, 2), 4);
    assert_string_equal(two[1], "t.alpha");
    assert_int_equal(qt_pub_topics(NULL, NULL, NULL, 0), 0);
    /* restore into a fresh publisher: sequences continue */
    char err[256];
    qt_pub_t *p2 = qt_pub_new("tcp://127.0.0.1:*", "qt-test", f->clk, NULL, err, sizeof err);
    assert_non_null(p2);
    char saved[4][QT_TOPIC_MAX + 1];
    for (size_t i = 0; i < 4; i++) snprintf(saved[i], sizeof saved[i], "%s", names[i]);
    for (size_t i = 0; i < 4; i++) qt_pub_set_seq(p2, saved[i], seqs[i]);
    assert_int_equal(qt_pub_send(p2, "t.mid", &m.env), 0);
    assert_true(m.env.seq == 42);
    assert_true(qt_pub_seq(p2, "t.alpha") == 2);
    qt_pub_destroy(&p2);
}

static void test_gap_detection(void **state) {
    fx_t *f = *state;
    msg_t m;
    msg_init(&m, QT__V1__ENVELOPE__BODY_BAR, 7);
    assert_int_equal(qt_pub_send(f->pub, "md.bar.BTC_USDT.4h", &m.env), 0);
    qt_env_t *e = recv_on(f, "md.bar.BTC_USDT.4h");
    assert_true(e->seq == 1);
    qt_env_free(e);
    qt_pub_set_seq(f->pub, "md.bar.BTC_USDT.4h", 10); /* seqs 2..10 never sent */
    assert_true(qt_pub_seq(f->pub, "md.bar.BTC_USDT.4h") == 10);
    assert_int_equal(qt_pub_send(f->pub, "md.bar.BTC_USDT.4h", &m.env), 0);
    e = recv_on(f, "md.bar.BTC_USDT.4h");
    assert_true(e->seq == 11);
    qt_env_free(e);
    assert_int_equal(qt_sub_gaps(f->sub), 1);
    assert_int_equal(qt_sub_missed(f->sub), 9);
    assert_true(counter_val(f->m, "qt_bus_gaps_total", NULL) == 1);
    assert_true(counter_val(f->m, "qt_bus_missed_total", NULL) == 9);
    /* in order again: no new gap */
    assert_int_equal(qt_pub_send(f->pub, "md.bar.BTC_USDT.4h", &m.env), 0);
    e = recv_on(f, "md.bar.BTC_USDT.4h");
    assert_true(e->seq == 12);
    qt_env_free(e);
    assert_int_equal(qt_sub_gaps(f->sub), 1);
    /* a second gap adds up */
    qt_pub_set_seq(f->pub, "md.bar.BTC_USDT.4h", 14);
    assert_int_equal(qt_pub_send(f->pub, "md.bar.BTC_USDT.4h", &m.env), 0);
    qt_env_free(recv_on(f, "md.bar.BTC_USDT.4h"));
    assert_int_equal(qt_sub_gaps(f->sub), 2);
    assert_int_equal(qt_sub_missed(f->sub), 11);
    /* logged once (this is the first gap in the process: the selftest runs last) */
    fflush(f->logf);
    assert_non_null(f->logbuf);
    assert_non_null(strstr(f->logbuf, "\"bus_gap\""));
}

static void test_stale_and_restart(void **state) {
    fx_t *f = *state;
    msg_t m;
    msg_init(&m, QT__V1__ENVELOPE__BODY_SIGNAL, 1);
    for (int i = 0; i < 5; i++) assert_int_equal(qt_pub_send(f->pub, "sig.x", &m.env), 0);
    for (int i = 0; i < 5; i++) qt_env_free(recv_on(f, "sig.x"));
    /* re-emission after a checkpoint restore: seq 3 and 4 again; delivered, counted stale */
    qt_pub_set_seq(f->pub, "sig.x", 2);
    assert_int_equal(qt_pub_send(f->pub, "sig.x", &m.env), 0);
    assert_int_equal(qt_pub_send(f->pub, "sig.x", &m.env), 0);
    qt_env_t *e = recv_on(f, "sig.x");
    assert_true(e->seq == 3);
    qt_env_free(e);
    e = recv_on(f, "sig.x");
    assert_true(e->seq == 4);
    qt_env_free(e);
    assert_int_equal(qt_sub_stale(f->sub), 2);
    assert_true(counter_val(f->m, "qt_bus_stale_total", NULL) == 2);
    assert_int_equal(qt_sub_gaps(f->sub), 0);
    /* continuing past the old high mark is in order again */
    qt_pub_set_seq(f->pub, "sig.x", 5);
    assert_int_equal(qt_pub_send(f->pub, "sig.x", &m.env), 0);
    qt_env_free(recv_on(f, "sig.x"));
    assert_int_equal(qt_sub_gaps(f->sub), 0);
    /* publisher restart: back to 1 */
    qt_pub_set_seq(f->pub, "sig.x", 0);
    assert_int_equal(qt_pub_send(f->pub, "sig.x", &m.env), 0);
    assert_int_equal(qt_pub_send(f->pub, "sig.x", &m.env), 0);
    e = recv_on(f, "sig.x");
    assert_true(e->seq == 1);
    qt_env_free(e);
    qt_env_free(recv_on(f, "sig.x"));
    assert_int_equal(qt_sub_restarts(f->sub), 1);
    assert_true(counter_val(f->m, "qt_bus_restarts_total", NULL) == 1);
    assert_int_equal(qt_sub_gaps(f->sub), 0);
    assert_int_equal(qt_sub_stale(f->sub), 2);
}

/* Same topic from two publishers (two sources): tracked as separate streams. */
static void test_streams_per_source(void **state) {
    fx_t *f = *state;
    char err[256];
    qt_pub_t *p2 = qt_pub_new("tcp://127.0.0.1:*", "qt-other", f->clk, f->m, err, sizeof err);
    assert_non_null(p2);
    assert_int_equal(qt_sub_connect(f->sub, qt_pub_endpoint(p2)), 0);
    msg_t m;
    msg_init(&m, QT__V1__ENVELOPE__BODY_HEARTBEAT, 3);
    char t[QT_TOPIC_MAX + 1];
    int heard = 0;
    for (int i = 0; i < 500 && !heard; i++) { /* slow joiner for p2 */
        qt_pub_send(p2, "probe2", &m.env);
        qt_env_t *e = NULL;
        if (qt_sub_recv(f->sub, 10, t, sizeof t, &e) == 1) {
            heard = strcmp(t, "probe2") == 0;
            qt_env_free(e);
        }
    }
    assert_true(heard);
    qt_pub_set_seq(f->pub, "sys.heartbeat.x", 100);
    assert_int_equal(qt_pub_send(f->pub, "sys.heartbeat.x", &m.env), 0);
    qt_env_t *e = recv_on(f, "sys.heartbeat.x");
    assert_true(e->seq == 101); /* first seen: no gap although 1..100 were never heard */
    qt_env_free(e);
    assert_int_equal(qt_pub_send(p2, "sys.heartbeat.x", &m.env), 0); /* seq 1 from qt-other */
    e = recv_on(f, "sys.heartbeat.x");
    assert_string_equal(e->source, "qt-other");
    assert_true(e->seq == 1);
    qt_env_free(e);
    assert_int_equal(qt_pub_send(f->pub, "sys.heartbeat.x", &m.env), 0);
    e = recv_on(f, "sys.heartbeat.x");
    assert_string_equal(e->source, "qt-test");
    assert_true(e->seq == 102);
    qt_env_free(e);
    assert_int_equal(qt_sub_gaps(f->sub), 0);
    assert_int_equal(qt_sub_restarts(f->sub), 0);
    assert_int_equal(qt_sub_stale(f->sub), 0);
    qt_pub_destroy(&p2);
    assert_null(p2);
}

/* Sends a valid marker and asserts that it (not the bad frame) is what arrives next. */
static void expect_marker_next(fx_t *f, int64_t tag) {
    msg_t m;
    msg_init(&m, QT__V1__ENVELOPE__BODY_WATERMARK, tag);
    assert_int_equal(qt_pub_send(f->pub, "bad.t", &m.env), 0);
    qt_env_t *e = recv_on(f, "bad.t");
    assert_int_equal(e->body_case, QT__V1__ENVELOPE__BODY_WATERMARK);
    assert_true(e->watermark->event_time_ms == tag);
    qt_env_free(e);
}

static void test_malformed_frames(void **state) {
    fx_t *f = *state;
    uint64_t rej0 = qt_sub_rejected(f->sub);
    /* raw garbage */
    const uint8_t garbage[] = {0xde, 0xad, 0xbe, 0xef, 0xff, 0xff, 0xff};
    assert_int_equal(qt_pub_send_raw(f->pub, "bad.t", garbage, sizeof garbage), 0);
    expect_marker_next(f, 1);
    assert_true(rejected(f, "malformed") == 1);
    /* truncated valid frame */
    msg_t m;
    msg_init(&m, QT__V1__ENVELOPE__BODY_FILL, 5);
    size_t len;
    uint8_t *buf = qt_env_encode(&m.env, &len);
    assert_int_equal(qt_pub_send_raw(f->pub, "bad.t", buf, len / 2), 0);
    expect_marker_next(f, 2);
    assert_true(rejected(f, "malformed") == 2);
    free(buf);
    /* wrong schema version */
    m.env.schema_version = 2;
    buf = qt_env_encode(&m.env, &len);
    assert_int_equal(qt_pub_send_raw(f->pub, "bad.t", buf, len), 0);
    free(buf);
    expect_marker_next(f, 3);
    assert_true(rejected(f, "version") == 1);
    /* no body */
    m.env.schema_version = QT_SCHEMA_VERSION;
    m.env.body_case = QT__V1__ENVELOPE__BODY__NOT_SET;
    buf = qt_env_encode(&m.env, &len);
    assert_int_equal(qt_pub_send_raw(f->pub, "bad.t", buf, len), 0);
    free(buf);
    expect_marker_next(f, 4);
    assert_true(rejected(f, "no_body") == 1);
    /* semantically invalid body: NaN score */
    msg_init(&m, QT__V1__ENVELOPE__BODY_SIGNAL, 5);
    m.sig.score = 0.0 / 0.0;
    buf = qt_env_encode(&m.env, &len);
    assert_int_equal(qt_pub_send_raw(f->pub, "bad.t", buf, len), 0);
    free(buf);
    expect_marker_next(f, 5);
    assert_true(rejected(f, "invalid") == 1);
    /* empty payload */
    assert_int_equal(qt_pub_send_raw(f->pub, "bad.t", NULL, 0), 0);
    expect_marker_next(f, 6);
    assert_true(rejected(f, "empty") == 1);
    /* oversize: QT_MAX_FRAME + 1 bytes */
    uint8_t *big = calloc(QT_MAX_FRAME + 1, 1);
    assert_non_null(big);
    assert_int_equal(qt_pub_send_raw(f->pub, "bad.t", big, QT_MAX_FRAME + 1), 0);
    free(big);
    expect_marker_next(f, 7);
    assert_true(rejected(f, "oversize") == 1);
    assert_true(qt_sub_rejected(f->sub) == rej0 + 7);
    /* logged once per reason: one line for two malformed frames */
    fflush(f->logf);
    const char *p = f->logbuf;
    int n = 0;
    while ((p = strstr(p, "\"reason\":\"malformed\"")) != NULL) {
        n++;
        p++;
    }
    assert_int_equal(n, 1);
    assert_non_null(strstr(f->logbuf, "\"bus_frame_rejected\""));
    /* the marker topic never saw a gap: rejected raw frames carry no seq */
    assert_int_equal(qt_sub_gaps(f->sub), 0);
}

/* Frames only a foreign socket can produce: wrong part counts and bad topics. */
static void test_bad_framing(void **state) {
    fx_t *f = *state;
    void *ctx = zmq_ctx_new();
    void *raw = zmq_socket(ctx, ZMQ_PUB);
    int linger = 0;
    zmq_setsockopt(raw, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal(zmq_bind(raw, "tcp://127.0.0.1:*"), 0);
    char ep[256];
    size_t eplen = sizeof ep;
    assert_int_equal(zmq_getsockopt(raw, ZMQ_LAST_ENDPOINT, ep, &eplen), 0);
    assert_int_equal(qt_sub_connect(f->sub, ep), 0);

    msg_t m;
    msg_init(&m, QT__V1__ENVELOPE__BODY_HEARTBEAT, 9);
    m.env.source = "raw";
    size_t len;
    uint8_t *good = qt_env_encode(&m.env, &len);
    char t[QT_TOPIC_MAX + 1];
    int heard = 0;
    for (int i = 0; i < 500 && !heard; i++) { /* slow joiner */
        zmq_send(raw, "raw.ok", 6, ZMQ_SNDMORE);
        zmq_send(raw, good, len, 0);
        qt_env_t *e = NULL;
        if (qt_sub_recv(f->sub, 10, t, sizeof t, &e) == 1) {
            heard = strcmp(t, "raw.ok") == 0;
            qt_env_free(e);
        }
    }
    assert_true(heard);
    qt_env_t *e = NULL;
    while (qt_sub_recv(f->sub, 50, t, sizeof t, &e) == 1) qt_env_free(e);

    uint64_t frames0 = rejected(f, "frames"), topic0 = rejected(f, "topic");
    /* three parts */
    zmq_send(raw, "raw.3", 5, ZMQ_SNDMORE);
    zmq_send(raw, good, len, ZMQ_SNDMORE);
    zmq_send(raw, "x", 1, 0);
    /* one part */
    zmq_send(raw, "raw.1", 5, 0);
    /* topic longer than QT_TOPIC_MAX */
    char longt[QT_TOPIC_MAX + 10];
    memset(longt, 'a', sizeof longt);
    zmq_send(raw, longt, sizeof longt, ZMQ_SNDMORE);
    zmq_send(raw, good, len, 0);
    /* topic with a control character and one with a space */
    zmq_send(raw, "raw\x01x", 5, ZMQ_SNDMORE);
    zmq_send(raw, good, len, 0);
    zmq_send(raw, "raw x", 5, ZMQ_SNDMORE);
    zmq_send(raw, good, len, 0);
    /* then a valid one: the only thing returned */
    zmq_send(raw, "raw.after", 9, ZMQ_SNDMORE);
    zmq_send(raw, good, len, 0);
    e = NULL;
    int r = qt_sub_recv(f->sub, 2000, t, sizeof t, &e);
    assert_int_equal(r, 1);
    assert_string_equal(t, "raw.after");
    assert_string_equal(e->source, "raw");
    assert_true(e->heartbeat->uptime_ms == 9);
    qt_env_free(e);
    assert_true(rejected(f, "frames") == frames0 + 2);
    assert_true(rejected(f, "topic") == topic0 + 3);
    /* unsequenced (seq 0) messages are delivered and never counted as gaps/stale */
    assert_int_equal(qt_sub_gaps(f->sub), 0);
    assert_int_equal(qt_sub_stale(f->sub), 0);
    free(good);
    zmq_close(raw);
    zmq_ctx_term(ctx);
}

/* Only garbage arrives: recv returns 0 at the timeout, nothing leaks out. */
static void test_only_garbage_times_out(void **state) {
    fx_t *f = *state;
    for (int i = 0; i < 50; i++)
        assert_int_equal(qt_pub_send_raw(f->pub, "junk", (const uint8_t *)"\xff", 1), 0);
    char t[QT_TOPIC_MAX + 1];
    qt_env_t *e = (qt_env_t *)(uintptr_t)1;
    assert_int_equal(qt_sub_recv(f->sub, 300, t, sizeof t, &e), 0);
    assert_null(e);
    assert_true(rejected(f, "malformed") == 50);
    /* timeout 0 with nothing queued */
    assert_int_equal(qt_sub_recv(f->sub, 0, t, sizeof t, &e), 0);
}

static void test_timeout_waits(void **state) {
    fx_t *f = *state;
    qt_clock_t *wall = qt_clock_new_wall();
    char t[QT_TOPIC_MAX + 1];
    qt_env_t *e = NULL;
    int64_t t0 = qt_clock_mono_ns(wall);
    assert_int_equal(qt_sub_recv(f->sub, 100, t, sizeof t, &e), 0);
    int64_t dt = qt_clock_mono_ns(wall) - t0;
    assert_true(dt >= 95 * 1000000LL);
    assert_true(dt < 2000 * 1000000LL);
    qt_clock_destroy(&wall);
}

static void test_invalid_sends(void **state) {
    fx_t *f = *state;
    msg_t m;
    msg_init(&m, QT__V1__ENVELOPE__BODY_INTENT, 1);
    m.intent.qty = 0; /* invalid */
    uint64_t err0 = counter_val(f->m, "qt_bus_send_errors_total", NULL);
    assert_int_equal(qt_pub_send(f->pub, "risk.intent", &m.env), -1);
    assert_true(qt_pub_seq(f->pub, "risk.intent") == 0); /* no seq consumed */
    m.intent.qty = 5;
    assert_int_equal(qt_pub_send(f->pub, "", &m.env), -1);
    assert_int_equal(qt_pub_send(f->pub, "has space", &m.env), -1);
    assert_int_equal(qt_pub_send(f->pub, NULL, &m.env), -1);
    char longt[QT_TOPIC_MAX + 2];
    memset(longt, 't', sizeof longt - 1);
    longt[sizeof longt - 1] = 0;
    assert_int_equal(qt_pub_send(f->pub, longt, &m.env), -1);
    longt[QT_TOPIC_MAX] = 0; /* exactly QT_TOPIC_MAX: fine */
    assert_int_equal(qt_pub_send(f->pub, longt, &m.env), 0);
    qt_env_free(recv_on(f, longt));
    assert_true(counter_val(f->m, "qt_bus_send_errors_total", NULL) == err0 + 5);
    assert_int_equal(qt_pub_send(NULL, "x", &m.env), -1);
    assert_int_equal(qt_pub_send(f->pub, "x", NULL), -1);
    assert_int_equal(qt_pub_send(f->pub, "risk.intent", &m.env), 0);
    assert_true(qt_pub_seq(f->pub, "risk.intent") == 1);
    qt_env_t *e = recv_on(f, "risk.intent");
    assert_true(e->seq == 1);
    qt_env_free(e);
    assert_true(counter_val(f->m, "qt_bus_sent_total", NULL) > 0);
}

/* Forwarding a decoded envelope: its own source string is put back after sending (so
 * qt_env_free does not free the publisher's string, nor leak its own). */
static void test_forward_decoded(void **state) {
    fx_t *f = *state;
    msg_t m;
    msg_init(&m, QT__V1__ENVELOPE__BODY_WATERMARK, 77);
    m.env.source = "upstream";
    size_t len;
    uint8_t *buf = qt_env_encode(&m.env, &len);
    qt_env_t *d = NULL;
    assert_int_equal(qt_env_decode(buf, len, &d, NULL, 0), QT_DECODE_OK);
    free(buf);
    char *own = d->source;
    assert_int_equal(qt_pub_send(f->pub, "fwd", d), 0);
    assert_ptr_equal(d->source, own);
    assert_string_equal(d->source, "upstream");
    qt_env_free(d);
    qt_env_t *e = recv_on(f, "fwd");
    assert_string_equal(e->source, "qt-test"); /* on the wire: the publisher's source */
    /* forward the received one (empty-string case is covered by stamping in place) */
    free(e->source);
    e->source = (char *)protobuf_c_empty_string;
    assert_int_equal(qt_pub_send(f->pub, "fwd", e), 0);
    assert_string_equal(e->source, "qt-test");
    qt_env_free(e); /* must not free the publisher's interned source */
    e = recv_on(f, "fwd");
    assert_true(e->seq == 2);
    qt_env_free(e);
}

static void test_bind_conflict_and_nulls(void **state) {
    fx_t *f = *state;
    char err[256] = "";
    qt_pub_t *p = qt_pub_new(qt_pub_endpoint(f->pub), "dup", NULL, NULL, err, sizeof err);
    assert_null(p);
    assert_non_null(strstr(err, qt_pub_endpoint(f->pub)));
    assert_non_null(strstr(err, "in use"));
    p = qt_pub_new("bogus://x", "dup", NULL, NULL, err, sizeof err);
    assert_null(p);
    assert_non_null(strstr(err, "bogus://x"));
    char longsrc[300];
    memset(longsrc, 's', sizeof longsrc - 1);
    longsrc[sizeof longsrc - 1] = 0;
    assert_null(qt_pub_new("tcp://127.0.0.1:*", longsrc, NULL, NULL, err, sizeof err));
    qt_pub_destroy(&p);
    qt_pub_destroy(NULL);
    qt_sub_t *s = NULL;
    qt_sub_destroy(&s);
    qt_sub_destroy(NULL);
    assert_int_equal(qt_sub_connect(f->sub, "nonsense"), -1);
    assert_int_equal(qt_sub_recv(NULL, 0, NULL, 0, NULL), -1);
    assert_int_equal(qt_sub_gaps(NULL), 0);
    /* a publisher without metrics or clock works too */
    p = qt_pub_new("tcp://127.0.0.1:*", "bare", NULL, NULL, err, sizeof err);
    assert_non_null(p);
    msg_t m;
    msg_init(&m, QT__V1__ENVELOPE__BODY_HEARTBEAT, 1);
    assert_int_equal(qt_pub_send(p, "x", &m.env), 0);
    assert_true(m.env.publish_time_ns > SIM_T0); /* wall clock, after 2023 */
    qt_pub_destroy(&p);
}

/* Subscription prefixes filter on the topic frame. */
static void test_prefix_filter(void **state) {
    fx_t *f = *state;
    qt_sub_t *s2 = qt_sub_new(NULL);
    assert_non_null(s2);
    assert_int_equal(qt_sub_connect(s2, qt_pub_endpoint(f->pub)), 0);
    assert_int_equal(qt_sub_subscribe(s2, "md."), 0);
    msg_t m;
    msg_init(&m, QT__V1__ENVELOPE__BODY_BAR, 1);
    char t[QT_TOPIC_MAX + 1];
    int heard = 0;
    for (int i = 0; i < 500 && !heard; i++) {
        qt_pub_send(f->pub, "md.probe", &m.env);
        qt_env_t *e = NULL;
        if (qt_sub_recv(s2, 10, t, sizeof t, &e) == 1) {
            heard = 1;
            qt_env_free(e);
        }
    }
    assert_true(heard);
    qt_env_t *e = NULL;
    while (qt_sub_recv(s2, 50, t, sizeof t, &e) == 1) qt_env_free(e);
    qt_pub_send(f->pub, "feat.BTC_USDT", &m.env);
    qt_pub_send(f->pub, "md.bar.BTC_USDT.4h", &m.env);
    assert_int_equal(qt_sub_recv(s2, 1000, t, sizeof t, &e), 1);
    assert_string_equal(t, "md.bar.BTC_USDT.4h");
    qt_env_free(e);
    /* small topic buffer: truncated, NUL-terminated */
    qt_pub_send(f->pub, "md.bar.ETH_USDT.4h", &m.env);
    char small[6];
    assert_int_equal(qt_sub_recv(s2, 1000, small, sizeof small, &e), 1);
    assert_string_equal(small, "md.ba");
    qt_env_free(e);
    qt_sub_destroy(&s2);
    assert_null(s2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_endpoint_resolved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roundtrip_all_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seq_per_topic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_topics_enumeration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gap_detection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_and_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_streams_per_source, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_framing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_only_garbage_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_sends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_decoded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bind_conflict_and_nulls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefix_filter, setup, teardown),
        cmocka_unit_test(test_selftest), /* last: its gap would take the log-once slot */
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
