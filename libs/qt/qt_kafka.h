/* qt_kafka: the durable log (librdkafka).
 *
 * Producer: enable.idempotence=true, acks=all, ordered per partition; delivery
 * failures are counted (qt_kafka_delivery_failed_total) and make qt_kproducer_flush
 * return -1, so a caller never checkpoints past an undelivered event.
 * Consumer: explicit partition assignment (partition 0: every topic has a single
 * partition in the foundation, so the log is totally ordered), no auto-commit;
 * the caller commits offsets after its state is persisted.
 * Topics are created with qt_kafka_ensure_topics (idempotent). */
#ifndef QT_KAFKA_H
#define QT_KAFKA_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "qt_envelope.h"
#include "qt_metrics.h"

#define QT_OFFSET_BEGINNING (-2)
#define QT_OFFSET_END (-1)
#define QT_OFFSET_STORED (-1000)   /* the group's committed offset, else beginning */

typedef struct qt_kproducer_t qt_kproducer_t;
typedef struct qt_kconsumer_t qt_kconsumer_t;

/* Creates the topics that do not exist (1 partition, replication 1). compacted[i]
 * sets cleanup.policy=compact (may be NULL). 0 on success; -1 + err. */
int qt_kafka_ensure_topics(const char *brokers, const char *const *topics,
                           const bool *compacted, size_t n, int timeout_ms, char *err,
                           size_t errlen);

qt_kproducer_t *qt_kproducer_new(const char *brokers, const char *client_id,
                                 qt_metrics_t *metrics, char *err, size_t errlen);
/* Flushes (up to 10 s) and frees. */
void qt_kproducer_destroy(qt_kproducer_t **self_p);
/* Queue a message; key may be NULL. 0 queued, -1 failed (counted). Blocks briefly
 * (polling deliveries) when the local queue is full rather than dropping. */
int qt_kproducer_send(qt_kproducer_t *self, const char *topic, const char *key,
                      const uint8_t *buf, size_t len);
int qt_kproducer_send_env(qt_kproducer_t *self, const char *topic, const char *key,
                          const qt_env_t *env);
/* Wait until everything queued is delivered. 0 when all delivered; -1 on timeout or if
 * any delivery failed since the last flush. */
int qt_kproducer_flush(qt_kproducer_t *self, int timeout_ms);
/* qt_kproducer_flush in slices of slice_ms, calling tick(arg) between slices: a long
 * flush (broker down) must not silence the caller's heartbeat, or the watchdog takes a
 * healthy service for a dead one. Same result as qt_kproducer_flush. */
int qt_kproducer_flush_ticking(qt_kproducer_t *self, int timeout_ms, int slice_ms,
                               void (*tick)(void *arg), void *arg);
/* Serve delivery callbacks without blocking. */
void qt_kproducer_poll(qt_kproducer_t *self);
/* Total delivery failures since creation (monotone). A caller that sees it grow
 * knows output was lost (not merely slow) and must replay from its last checkpoint. */
uint64_t qt_kproducer_delivery_failures(const qt_kproducer_t *self);
/* Messages queued or in flight (not yet delivered or failed). */
int qt_kproducer_outq_len(qt_kproducer_t *self);
/* Drop everything queued or in flight (counted as delivery failures); for shutdown
 * after a flush already failed, so destroy does not wait 10 s for a dead broker. */
void qt_kproducer_purge(qt_kproducer_t *self);

typedef struct {
    const char *topic;
    int64_t offset;
    const uint8_t *key;
    size_t key_len;
    const uint8_t *payload;
    size_t len;
    int64_t timestamp_ms;
} qt_kmsg_t;

/* group_id is used for committed offsets (lag visible to operators). */
qt_kconsumer_t *qt_kconsumer_new(const char *brokers, const char *group_id,
                                 qt_metrics_t *metrics, char *err, size_t errlen);
void qt_kconsumer_destroy(qt_kconsumer_t **self_p);
/* Adds topic partition 0 to the assignment, starting at offset (>= 0), or
 * QT_OFFSET_BEGINNING / QT_OFFSET_END / QT_OFFSET_STORED. 0 / -1. */
int qt_kconsumer_assign(qt_kconsumer_t *self, const char *topic, int64_t offset);
/* 1: *msg filled (valid until the next poll or destroy); 0: nothing within timeout;
 * -1: error (counted, logged once). Partition EOF is not an error (returns 0). */
int qt_kconsumer_poll(qt_kconsumer_t *self, int timeout_ms, qt_kmsg_t *msg);
/* Same, decoded: 1 with *env (free with qt_env_free) and *offset; bad payloads are
 * counted (qt_kafka_rejected_total{reason}), logged once, skipped (return 0 then). */
int qt_kconsumer_poll_env(qt_kconsumer_t *self, int timeout_ms, qt_env_t **env,
                          int64_t *offset, char *topic, size_t topiclen);
/* Synchronously commit next_offset (the offset of the next message to read) for topic. */
int qt_kconsumer_commit(qt_kconsumer_t *self, const char *topic, int64_t next_offset);
/* The same, asynchronous: queued and sent in the background, never blocks. For commits
 * that only serve lag monitoring (the stage loop and qt-exec, whose source of truth is the
 * Redis checkpoint): a synchronous commit blocks for seconds while the group coordinator
 * comes back after a Kafka outage, and a service blocked there sends no heartbeat (found
 * by the Kafka-outage drill under ASan: the watchdog raised NO_NEW for qt-exec).
 * 0 queued, -1 on an immediate local error (logged once). */
int qt_kconsumer_commit_async(qt_kconsumer_t *self, const char *topic, int64_t next_offset);
/* Committed offset of the group for topic, or -1 when none; -2 on error. */
int64_t qt_kconsumer_committed(qt_kconsumer_t *self, const char *topic, int timeout_ms);
/* High watermark (offset of the next message to be written), -1 on error. */
int64_t qt_kafka_high_watermark(qt_kconsumer_t *self, const char *topic, int timeout_ms);

int qt_kafka_selftest(bool verbose);
#endif
