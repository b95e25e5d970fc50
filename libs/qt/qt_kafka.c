/* qt_kafka: librdkafka producer/consumer/admin with the foundation's guarantees.
 *
 * Producer: idempotent, acks=all, linger 1 ms; message.timeout.ms=30000 so a message
 * that cannot be delivered (dead broker) eventually fails instead of waiting forever.
 * Delivery reports are counted; qt_kproducer_flush returns -1 when anything failed
 * since the previous flush or when the caller's timeout expired first.
 * Consumer: manual assignment of partition 0 per topic (the assignment list grows as
 * topics are added; existing partitions keep their current position), no auto-commit,
 * no auto offset store: the owner commits explicitly once its state is persisted.
 * librdkafka's own log lines (warning and worse) are routed to qt_log. */
#include "qt_kafka.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "qt_log.h"

struct qt_kproducer_t {
    rd_kafka_t *rk;
    uint64_t failed_total;     /* delivery failures since creation */
    uint64_t failed_at_flush;  /* failed_total at the last flush */
    qt_counter_t *c_delivery_failed;
    qt_counter_t *c_send_failed;
};

struct qt_kconsumer_t {
    rd_kafka_t *rk;
    rd_kafka_topic_partition_list_t *assignment;
    rd_kafka_message_t *held;  /* backs the last qt_kmsg_t handed out */
    qt_metrics_t *metrics;
    qt_counter_t *c_errors;
};

static void set_err(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
    if (err && errlen)
        snprintf(err, errlen, fmt, a ? a : "", b ? b : "");
}

/* ---- common configuration --------------------------------------------------------- */

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    char lvl[8];
    snprintf(lvl, sizeof lvl, "%d", level);
    qt_log_kv(QT_LOG_WARN, "rdkafka_log", "syslog_level", lvl, "facility", fac, "msg", buf,
              NULL);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)opaque;
    char key[96];
    snprintf(key, sizeof key, "rdkafka_error:%s:%d", rd_kafka_name(rk), err);
    qt_log_once(QT_LOG_WARN, key, "rdkafka_error", "client", rd_kafka_name(rk), "error",
                rd_kafka_err2name((rd_kafka_resp_err_t)err), "reason", reason, NULL);
}

static int conf_set(rd_kafka_conf_t *conf, const char *k, const char *v, char *err,
                    size_t errlen)
{
    char e[256];
    if (rd_kafka_conf_set(conf, k, v, e, sizeof e) != RD_KAFKA_CONF_OK) {
        set_err(err, errlen, "kafka config %s: %s", k, e);
        return -1;
    }
    return 0;
}

static rd_kafka_conf_t *base_conf(const char *brokers, const char *client_id, char *err,
                                  size_t errlen)
{
    if (!brokers || !*brokers) {
        set_err(err, errlen, "kafka: no brokers%s%s", NULL, NULL);
        return NULL;
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!conf) {
        set_err(err, errlen, "kafka: out of memory%s%s", NULL, NULL);
        return NULL;
    }
    if (conf_set(conf, "bootstrap.servers", brokers, err, errlen) != 0 ||
        conf_set(conf, "client.id", client_id && *client_id ? client_id : "qt", err,
                 errlen) != 0 ||
        conf_set(conf, "log_level", "4", err, errlen) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    return conf;
}

/* ---- admin ------------------------------------------------------------------------ */

int qt_kafka_ensure_topics(const char *brokers, const char *const *topics,
                           const bool *compacted, size_t n, int timeout_ms, char *err,
                           size_t errlen)
{
    if (n == 0)
        return 0;
    if (!topics || timeout_ms <= 0) {
        set_err(err, errlen, "ensure_topics: bad arguments%s%s", NULL, NULL);
        return -1;
    }
    rd_kafka_conf_t *conf = base_conf(brokers, "qt-admin", err, errlen);
    if (!conf)
        return -1;
    char e[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        set_err(err, errlen, "kafka admin client: %s%s", e, NULL);
        return -1;
    }
    int rc = -1;
    rd_kafka_NewTopic_t **nts = calloc(n, sizeof *nts);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_event_t *ev = NULL;
    if (!nts || !q || !opts) {
        set_err(err, errlen, "ensure_topics: out of memory%s%s", NULL, NULL);
        goto out;
    }
    if (rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, e, sizeof e) ||
        rd_kafka_AdminOptions_set_operation_timeout(opts, timeout_ms, e, sizeof e)) {
        set_err(err, errlen, "ensure_topics: %s%s", e, NULL);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        nts[i] = rd_kafka_NewTopic_new(topics[i], 1, 1, e, sizeof e);
        if (!nts[i]) {
            set_err(err, errlen, "ensure_topics: topic '%s': %s", topics[i], e);
            goto out;
        }
        if (compacted && compacted[i] &&
            rd_kafka_NewTopic_set_config(nts[i], "cleanup.policy", "compact")) {
            set_err(err, errlen, "ensure_topics: topic '%s': cannot set cleanup.policy%s",
                    topics[i], NULL);
            goto out;
        }
    }
    rd_kafka_CreateTopics(rk, nts, n, opts, q);
    /* librdkafka enforces the request timeout; the margin covers scheduling. */
    ev = rd_kafka_queue_poll(q, timeout_ms + 2000);
    if (!ev) {
        set_err(err, errlen, "ensure_topics: timed out waiting for %s%s", brokers, NULL);
        goto out;
    }
    if (rd_kafka_event_error(ev)) {
        set_err(err, errlen, "ensure_topics: %s%s", rd_kafka_event_error_string(ev), NULL);
        goto out;
    }
    const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
    if (!res) {
        set_err(err, errlen, "ensure_topics: unexpected event %s%s", rd_kafka_event_name(ev),
                NULL);
        goto out;
    }
    size_t cnt = 0;
    const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &cnt);
    rc = 0;
    for (size_t i = 0; i < cnt; i++) {
        rd_kafka_resp_err_t te = rd_kafka_topic_result_error(tr[i]);
        if (te == RD_KAFKA_RESP_ERR_NO_ERROR || te == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
            continue;
        const char *msg = rd_kafka_topic_result_error_string(tr[i]);
        set_err(err, errlen, "ensure_topics: topic '%s': %s", rd_kafka_topic_result_name(tr[i]),
                msg ? msg : rd_kafka_err2str(te));
        rc = -1;
        break;
    }
    if (rc == 0 && cnt != n) {
        set_err(err, errlen, "ensure_topics: incomplete result%s%s", NULL, NULL);
        rc = -1;
    }
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    if (nts) {
        for (size_t i = 0; i < n; i++)
            if (nts[i])
                rd_kafka_NewTopic_destroy(nts[i]);
        free(nts);
    }
    if (opts)
        rd_kafka_AdminOptions_destroy(opts);
    if (q)
        rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return rc;
}

/* ---- producer --------------------------------------------------------------------- */

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    qt_kproducer_t *self = opaque;
    if (!self || !m->err)
        return;
    self->failed_total++;
    if (self->c_delivery_failed)
        qt_counter_inc(self->c_delivery_failed);
    char key[96];
    snprintf(key, sizeof key, "kafka_delivery_failed:%d", (int)m->err);
    qt_log_once(QT_LOG_ERROR, key, "kafka_delivery_failed", "topic",
                m->rkt ? rd_kafka_topic_name(m->rkt) : "?", "error", rd_kafka_err2name(m->err),
                NULL);
}

qt_kproducer_t *qt_kproducer_new(const char *brokers, const char *client_id,
                                 qt_metrics_t *metrics, char *err, size_t errlen)
{
    qt_kproducer_t *self = calloc(1, sizeof *self);
    if (!self) {
        set_err(err, errlen, "kafka producer: out of memory%s%s", NULL, NULL);
        return NULL;
    }
    rd_kafka_conf_t *conf = base_conf(brokers, client_id, err, errlen);
    if (!conf) {
        free(self);
        return NULL;
    }
    if (conf_set(conf, "enable.idempotence", "true", err, errlen) ||
        conf_set(conf, "acks", "all", err, errlen) ||
        conf_set(conf, "linger.ms", "1", err, errlen) ||
        conf_set(conf, "message.timeout.ms", "30000", err, errlen)) {
        rd_kafka_conf_destroy(conf);
        free(self);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
    rd_kafka_conf_set_opaque(conf, self);
    char e[512];
    self->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e);
    if (!self->rk) {
        rd_kafka_conf_destroy(conf);
        free(self);
        set_err(err, errlen, "kafka producer: %s%s", e, NULL);
        return NULL;
    }
    if (metrics) {
        self->c_delivery_failed =
            qt_metrics_counter(metrics, "qt_kafka_delivery_failed_total",
                               "Kafka messages whose delivery failed", NULL);
        self->c_send_failed = qt_metrics_counter(metrics, "qt_kafka_send_failed_total",
                                                 "Kafka messages that could not be queued",
                                                 NULL);
    }
    return self;
}

void qt_kproducer_destroy(qt_kproducer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    qt_kproducer_t *self = *self_p;
    if (rd_kafka_flush(self->rk, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        char n[32];
        snprintf(n, sizeof n, "%d", rd_kafka_outq_len(self->rk));
        qt_log_kv(QT_LOG_ERROR, "kafka_undelivered_at_shutdown", "messages", n, NULL);
        qt_kproducer_purge(self);
    }
    rd_kafka_destroy(self->rk);
    free(self);
    *self_p = NULL;
}

static void count_send_failed(qt_kproducer_t *self, const char *topic, rd_kafka_resp_err_t e)
{
    if (self->c_send_failed)
        qt_counter_inc(self->c_send_failed);
    char key[96];
    snprintf(key, sizeof key, "kafka_send_failed:%d", (int)e);
    qt_log_once(QT_LOG_ERROR, key, "kafka_send_failed", "topic", topic ? topic : "(null)",
                "error", rd_kafka_err2name(e), NULL);
}

int qt_kproducer_send(qt_kproducer_t *self, const char *topic, const char *key,
                      const uint8_t *buf, size_t len)
{
    if (!self)
        return -1;
    if (!topic || !*topic || (!buf && len)) {
        count_send_failed(self, topic, RD_KAFKA_RESP_ERR__INVALID_ARG);
        return -1;
    }
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    /* Queue full: serve deliveries and retry. Bounded: message.timeout.ms (30 s) makes
     * the queue drain even with a dead broker; we give up after ~60 s of polling. */
    for (int tries = 0; tries < 600; tries++) {
        e = rd_kafka_producev(self->rk, RD_KAFKA_V_TOPIC(topic),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                              RD_KAFKA_V_VALUE((void *)buf, len), RD_KAFKA_V_END);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            break;
        rd_kafka_poll(self->rk, 100);
    }
    rd_kafka_poll(self->rk, 0);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        count_send_failed(self, topic, e);
        return -1;
    }
    return 0;
}

int qt_kproducer_send_env(qt_kproducer_t *self, const char *topic, const char *key,
                          const qt_env_t *env)
{
    if (!self || !env)
        return -1;
    size_t len = 0;
    uint8_t *buf = qt_env_encode(env, &len);
    if (!buf) {
        count_send_failed(self, topic, RD_KAFKA_RESP_ERR__FAIL);
        return -1;
    }
    int rc = qt_kproducer_send(self, topic, key, buf, len);
    free(buf);
    return rc;
}

int qt_kproducer_flush(qt_kproducer_t *self, int timeout_ms)
{
    return qt_kproducer_flush_ticking(self, timeout_ms, 0, NULL, NULL);
}

int qt_kproducer_flush_ticking(qt_kproducer_t *self, int timeout_ms, int slice_ms,
                               void (*tick)(void *arg), void *arg)
{
    if (!self)
        return -1;
    int left = timeout_ms < 0 ? 0 : timeout_ms;
    if (slice_ms <= 0 || !tick)
        slice_ms = left;
    rd_kafka_resp_err_t e;
    for (;;) {
        int slice = left < slice_ms ? left : slice_ms;
        /* rd_kafka_flush returns early once the queue is empty, so `left` is an upper
         * bound of the time still allowed. */
        e = rd_kafka_flush(self->rk, slice);
        left -= slice;
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR || left <= 0)
            break;
        tick(arg);
    }
    bool failed = self->failed_total != self->failed_at_flush;
    self->failed_at_flush = self->failed_total;
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        qt_log_once(QT_LOG_WARN, "kafka_flush_timeout", "kafka_flush_timeout", "error",
                    rd_kafka_err2name(e), NULL);
        return -1;
    }
    return failed ? -1 : 0;
}

void qt_kproducer_poll(qt_kproducer_t *self)
{
    if (self)
        rd_kafka_poll(self->rk, 0);
}

uint64_t qt_kproducer_delivery_failures(const qt_kproducer_t *self)
{
    return self ? self->failed_total : 0;
}

int qt_kproducer_outq_len(qt_kproducer_t *self)
{
    return self ? rd_kafka_outq_len(self->rk) : 0;
}

void qt_kproducer_purge(qt_kproducer_t *self)
{
    if (!self)
        return;
    rd_kafka_purge(self->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    /* purged messages get delivery reports (counted as failures): serve them */
    rd_kafka_poll(self->rk, 0);
}

/* ---- consumer --------------------------------------------------------------------- */

qt_kconsumer_t *qt_kconsumer_new(const char *brokers, const char *group_id,
                                 qt_metrics_t *metrics, char *err, size_t errlen)
{
    if (!group_id || !*group_id) {
        set_err(err, errlen, "kafka consumer: group id required%s%s", NULL, NULL);
        return NULL;
    }
    qt_kconsumer_t *self = calloc(1, sizeof *self);
    if (!self) {
        set_err(err, errlen, "kafka consumer: out of memory%s%s", NULL, NULL);
        return NULL;
    }
    rd_kafka_conf_t *conf = base_conf(brokers, group_id, err, errlen);
    if (!conf) {
        free(self);
        return NULL;
    }
    if (conf_set(conf, "group.id", group_id, err, errlen) ||
        conf_set(conf, "enable.auto.commit", "false", err, errlen) ||
        conf_set(conf, "enable.auto.offset.store", "false", err, errlen) ||
        conf_set(conf, "auto.offset.reset", "earliest", err, errlen) ||
        conf_set(conf, "fetch.wait.max.ms", "10", err, errlen) ||
        /* Assign-only consumers never join the group, so the session timeout only bounds
         * how long a queued commit waits for a coordinator: at the 45 s default a
         * consumer destroyed during a Kafka outage blocks 45 s on shutdown. */
        conf_set(conf, "session.timeout.ms", "6000", err, errlen)) {
        rd_kafka_conf_destroy(conf);
        free(self);
        return NULL;
    }
    char e[512];
    self->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof e);
    if (!self->rk) {
        rd_kafka_conf_destroy(conf);
        free(self);
        set_err(err, errlen, "kafka consumer: %s%s", e, NULL);
        return NULL;
    }
    rd_kafka_poll_set_consumer(self->rk);
    self->assignment = rd_kafka_topic_partition_list_new(4);
    if (!self->assignment) {
        rd_kafka_destroy(self->rk);
        free(self);
        set_err(err, errlen, "kafka consumer: out of memory%s%s", NULL, NULL);
        return NULL;
    }
    self->metrics = metrics;
    if (metrics)
        self->c_errors = qt_metrics_counter(metrics, "qt_kafka_consume_errors_total",
                                            "Kafka consumer errors", NULL);
    return self;
}

void qt_kconsumer_destroy(qt_kconsumer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    qt_kconsumer_t *self = *self_p;
    if (self->held)
        rd_kafka_message_destroy(self->held);
    rd_kafka_topic_partition_list_destroy(self->assignment);
    /* No rd_kafka_consumer_close: the consumer only assigns (it never joins a group) and
     * never auto-commits, so close has nothing to do but wait for queued lag-only async
     * commits, which with the broker down takes tens of seconds (a service must stop
     * promptly on SIGTERM; its Redis checkpoint is the source of truth). */
    rd_kafka_destroy_flags(self->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    free(self);
    *self_p = NULL;
}

int qt_kconsumer_assign(qt_kconsumer_t *self, const char *topic, int64_t offset)
{
    if (!self || !topic || !*topic)
        return -1;
    if (offset < 0 && offset != QT_OFFSET_BEGINNING && offset != QT_OFFSET_END &&
        offset != QT_OFFSET_STORED)
        return -1;
    /* Existing partitions must not jump back to the offset they were first assigned at:
     * record their current position before re-assigning the whole list. */
    if (self->assignment->cnt > 0) {
        rd_kafka_topic_partition_list_t *pos =
            rd_kafka_topic_partition_list_copy(self->assignment);
        if (pos && rd_kafka_position(self->rk, pos) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            for (int i = 0; i < pos->cnt; i++)
                if (pos->elems[i].offset >= 0)
                    self->assignment->elems[i].offset = pos->elems[i].offset;
        }
        if (pos)
            rd_kafka_topic_partition_list_destroy(pos);
    }
    rd_kafka_topic_partition_t *tp =
        rd_kafka_topic_partition_list_find(self->assignment, topic, 0);
    if (!tp)
        tp = rd_kafka_topic_partition_list_add(self->assignment, topic, 0);
    tp->offset = offset == QT_OFFSET_STORED    ? RD_KAFKA_OFFSET_STORED
                 : offset == QT_OFFSET_BEGINNING ? RD_KAFKA_OFFSET_BEGINNING
                 : offset == QT_OFFSET_END       ? RD_KAFKA_OFFSET_END
                                                 : offset;
    rd_kafka_resp_err_t e = rd_kafka_assign(self->rk, self->assignment);
    if (e) {
        qt_log_kv(QT_LOG_ERROR, "kafka_assign_failed", "topic", topic, "error",
                  rd_kafka_err2name(e), NULL);
        return -1;
    }
    return 0;
}

int qt_kconsumer_poll(qt_kconsumer_t *self, int timeout_ms, qt_kmsg_t *msg)
{
    if (!self || !msg)
        return -1;
    if (self->held) {
        rd_kafka_message_destroy(self->held);
        self->held = NULL;
    }
    rd_kafka_message_t *m = rd_kafka_consumer_poll(self->rk, timeout_ms < 0 ? 0 : timeout_ms);
    if (!m)
        return 0;
    if (m->err) {
        int rc = 0;
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (self->c_errors)
                qt_counter_inc(self->c_errors);
            char key[96];
            snprintf(key, sizeof key, "kafka_consume_error:%d", (int)m->err);
            qt_log_once(QT_LOG_WARN, key, "kafka_consume_error", "topic",
                        m->rkt ? rd_kafka_topic_name(m->rkt) : "?", "error",
                        rd_kafka_err2name(m->err), NULL);
            rc = -1;
        }
        rd_kafka_message_destroy(m);
        return rc;
    }
    self->held = m;
    memset(msg, 0, sizeof *msg);
    msg->topic = rd_kafka_topic_name(m->rkt);
    msg->offset = m->offset;
    msg->key = m->key;
    msg->key_len = m->key_len;
    msg->payload = m->payload;
    msg->len = m->len;
    rd_kafka_timestamp_type_t tstype;
    msg->timestamp_ms = rd_kafka_message_timestamp(m, &tstype);
    return 1;
}

int qt_kconsumer_poll_env(qt_kconsumer_t *self, int timeout_ms, qt_env_t **env,
                          int64_t *offset, char *topic, size_t topiclen)
{
    if (!env)
        return -1;
    *env = NULL;
    qt_kmsg_t msg;
    int rc = qt_kconsumer_poll(self, timeout_ms, &msg);
    if (rc != 1)
        return rc;
    char why[160] = "";
    qt_decode_status_t st = qt_env_decode(msg.payload, msg.len, env, why, sizeof why);
    if (st != QT_DECODE_OK) {
        const char *reason = qt_decode_status_str(st);
        if (self->metrics) {
            char labels[64];
            snprintf(labels, sizeof labels, "reason=\"%s\"", reason);
            qt_counter_t *c = qt_metrics_counter(self->metrics, "qt_kafka_rejected_total",
                                                 "Kafka messages rejected (not a valid envelope)",
                                                 labels);
            if (c)
                qt_counter_inc(c);
        }
        char key[160], off[32];
        snprintf(key, sizeof key, "kafka_rejected:%s:%s", msg.topic, reason);
        snprintf(off, sizeof off, "%" PRId64, msg.offset);
        qt_log_once(QT_LOG_WARN, key, "kafka_message_rejected", "topic", msg.topic, "offset",
                    off, "reason", reason, "detail", why, NULL);
        *env = NULL;
        return 0;
    }
    if (offset)
        *offset = msg.offset;
    if (topic && topiclen)
        snprintf(topic, topiclen, "%s", msg.topic);
    return 1;
}

static int consumer_commit(qt_kconsumer_t *self, const char *topic, int64_t next_offset,
                           bool async);

int qt_kconsumer_commit(qt_kconsumer_t *self, const char *topic, int64_t next_offset)
{
    return consumer_commit(self, topic, next_offset, false);
}

int qt_kconsumer_commit_async(qt_kconsumer_t *self, const char *topic, int64_t next_offset)
{
    return consumer_commit(self, topic, next_offset, true);
}

static int consumer_commit(qt_kconsumer_t *self, const char *topic, int64_t next_offset,
                           bool async)
{
    if (!self || !topic || next_offset < 0)
        return -1;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    if (!l)
        return -1;
    rd_kafka_topic_partition_list_add(l, topic, 0)->offset = next_offset;
    rd_kafka_resp_err_t e = rd_kafka_commit(self->rk, l, async ? 1 : 0);
    if (!e && l->elems[0].err)
        e = l->elems[0].err;
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        char key[96];
        snprintf(key, sizeof key, "kafka_commit_failed:%d", (int)e);
        qt_log_once(QT_LOG_WARN, key, "kafka_commit_failed", "topic", topic, "error",
                    rd_kafka_err2name(e), NULL);
        return -1;
    }
    return 0;
}

int64_t qt_kconsumer_committed(qt_kconsumer_t *self, const char *topic, int timeout_ms)
{
    if (!self || !topic)
        return -2;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    if (!l)
        return -2;
    rd_kafka_topic_partition_list_add(l, topic, 0);
    rd_kafka_resp_err_t e = rd_kafka_committed(self->rk, l, timeout_ms);
    int64_t off = -2;
    if (!e && !l->elems[0].err)
        off = l->elems[0].offset >= 0 ? l->elems[0].offset : -1;
    rd_kafka_topic_partition_list_destroy(l);
    return off;
}

int64_t qt_kafka_high_watermark(qt_kconsumer_t *self, const char *topic, int timeout_ms)
{
    if (!self || !topic)
        return -1;
    int64_t lo = 0, hi = 0;
    if (rd_kafka_query_watermark_offsets(self->rk, topic, 0, &lo, &hi, timeout_ms))
        return -1;
    return hi;
}

/* ---- self-test: no broker needed --------------------------------------------------- */

int qt_kafka_selftest(bool verbose)
{
    int fails = 0;
#define CHECK(c)                                                                            \
    do {                                                                                    \
        if (!(c)) {                                                                         \
            fails++;                                                                        \
            if (verbose)                                                                    \
                fprintf(stderr, "qt_kafka selftest: %s:%d: %s\n", __FILE__, __LINE__, #c);  \
        }                                                                                   \
    } while (0)
    char err[256];
    CHECK(qt_kproducer_new("", "x", NULL, err, sizeof err) == NULL);
    CHECK(qt_kconsumer_new("127.0.0.1:1", "", NULL, err, sizeof err) == NULL);
    /* A broker that is not there: queued, flush fails within its timeout. */
    qt_kproducer_t *p = qt_kproducer_new("127.0.0.1:1", "selftest", NULL, err, sizeof err);
    CHECK(p != NULL);
    if (p) {
        CHECK(qt_kproducer_send(p, "qt.selftest", "k", (const uint8_t *)"v", 1) == 0);
        CHECK(qt_kproducer_send(p, NULL, NULL, NULL, 0) == -1);
        CHECK(qt_kproducer_flush(p, 200) == -1);
        CHECK(qt_kproducer_outq_len(p) >= 1);
        qt_kproducer_purge(p);
        qt_kproducer_destroy(&p);
        CHECK(p == NULL);
    }
    qt_kconsumer_t *c = qt_kconsumer_new("127.0.0.1:1", "selftest", NULL, err, sizeof err);
    CHECK(c != NULL);
    if (c) {
        /* (no real assignment here: librdkafka 2.0.2 leaks a request buffer when a
         * consumer assigned to an unreachable broker is closed) */
        CHECK(qt_kconsumer_assign(c, "qt.selftest", -5) == -1);
        CHECK(qt_kconsumer_assign(c, "", 0) == -1);
        qt_kconsumer_destroy(&c);
    }
#undef CHECK
    return fails ? -1 : 0;
}
