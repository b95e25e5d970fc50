/* qt_bus: the ZeroMQ fast path. One PUB socket per service; subscribers connect to
 * the PUBs they need. A message is two frames: [topic][encoded Envelope].
 *
 * Publisher: stamps source, publish time and a per-topic sequence number (starting
 * at 1, or after the value restored with qt_pub_set_seq after a restart).
 * Subscriber: decodes and validates every frame (qt_env_decode), counts rejected
 * frames by reason (qt_bus_rejected_total{reason=...}), logs the first of each kind,
 * and tracks sequence numbers per (source, topic) to count gaps
 * (qt_bus_gaps_total, qt_bus_missed_total) and duplicates/reorders
 * (qt_bus_stale_total). Bad frames never reach the caller.
 *
 * Sequence rules at the subscriber, per (source, topic) stream:
 *   first message seen        accepted, no gap (we may have joined mid-stream);
 *   seq == last + 1           in order;
 *   seq >  last + 1           gap: qt_bus_gaps_total += 1, qt_bus_missed_total += the
 *                             number of messages skipped; delivered;
 *   seq == 1 (and <= last)    publisher restart: qt_bus_restarts_total, tracking resets;
 *   other seq <= last         stale (duplicate / reorder / re-emitted after a checkpoint
 *                             restore): qt_bus_stale_total; STILL DELIVERED; receivers
 *                             de-duplicate by event time (see docs/developer.md);
 *   seq == 0                  unsequenced (not from qt_pub): delivered, not tracked.
 * Per-subscriber HWM drops at a PUB socket are invisible to the publisher: they show up
 * as gaps here. Rejected frames are counted under reason = qt_decode_status_str(status),
 * "frames" (not exactly 2 parts) or "topic" (empty, > QT_TOPIC_MAX, not printable ASCII).
 * Objects are not thread-safe (one thread per pub/sub); all share one zmq context. */
#ifndef QT_BUS_H
#define QT_BUS_H
#include <stddef.h>
#include <stdint.h>
#include "qt_clock.h"
#include "qt_envelope.h"
#include "qt_metrics.h"

#define QT_TOPIC_MAX 128

typedef struct qt_pub_t qt_pub_t;
typedef struct qt_sub_t qt_sub_t;

/* endpoint e.g. "tcp://127.0.0.1:5551". NULL + err on failure (e.g. address in use). */
qt_pub_t *qt_pub_new(const char *endpoint, const char *source, qt_clock_t *clock,
                     qt_metrics_t *metrics, char *err, size_t errlen);
void qt_pub_destroy(qt_pub_t **self_p);
/* Sets env->source, env->seq (next for this topic), env->publish_time_ns; sends.
 * 0 on success, -1 on failure (counted). Never blocks (HWM drops are counted).
 * env is validated first (qt_env_validate): an invalid envelope or topic is not sent,
 * is counted in qt_bus_send_errors_total and consumes no seq. Once stamped, the seq is
 * consumed even if the send fails (subscribers see the loss as a gap).
 * env->source then points to a process-lifetime string of the publisher, except when env
 * already had a non-empty source of its own (e.g. a decoded envelope being forwarded):
 * that pointer is put back after encoding, so qt_env_free(env) stays safe. */
int qt_pub_send(qt_pub_t *self, const char *topic, qt_env_t *env);
/* Send already-encoded bytes as they are (tests: malformed frames). */
int qt_pub_send_raw(qt_pub_t *self, const char *topic, const uint8_t *buf, size_t len);
uint64_t qt_pub_seq(qt_pub_t *self, const char *topic);     /* last seq sent on topic */
/* The next message on topic gets seq + 1. */
void qt_pub_set_seq(qt_pub_t *self, const char *topic, uint64_t seq);
/* The endpoint actually bound (ZMQ_LAST_ENDPOINT: resolves "tcp://127.0.0.1:*" to the
 * chosen port); valid until qt_pub_destroy. */
const char *qt_pub_endpoint(const qt_pub_t *self);
/* Enumerate the topics this publisher knows (sent on, or restored with qt_pub_set_seq)
 * with their last seq, in a stable order (sorted by topic name, bytewise). Fills up to max entries of
 * names/seqs (names stay valid until the next qt_pub_send/qt_pub_set_seq/destroy) and
 * returns the total number of topics (may exceed max: call again with a larger array).
 * Used by qt_stage to checkpoint sequence numbers so they continue after a restart. */
size_t qt_pub_topics(qt_pub_t *self, const char **names, uint64_t *seqs, size_t max);

qt_sub_t *qt_sub_new(qt_metrics_t *metrics);
void qt_sub_destroy(qt_sub_t **self_p);
int qt_sub_connect(qt_sub_t *self, const char *endpoint);
/* Topic prefix ("" = everything). */
int qt_sub_subscribe(qt_sub_t *self, const char *topic_prefix);
/* 1: a valid envelope (caller frees with qt_env_free), topic copied to topic[];
 * 0: timeout; -1: socket error. Rejected frames are consumed and counted, not returned. */
int qt_sub_recv(qt_sub_t *self, int timeout_ms, char *topic, size_t topiclen, qt_env_t **env);
uint64_t qt_sub_gaps(const qt_sub_t *self);      /* gap events */
uint64_t qt_sub_missed(const qt_sub_t *self);    /* messages missing inside gaps */
uint64_t qt_sub_rejected(const qt_sub_t *self);  /* frames rejected, all reasons */
uint64_t qt_sub_stale(const qt_sub_t *self);     /* seq <= last seen (still delivered) */
uint64_t qt_sub_restarts(const qt_sub_t *self);  /* publisher restarts (seq back to 1) */
uint64_t qt_sub_received(const qt_sub_t *self);  /* valid envelopes returned */

int qt_bus_selftest(bool verbose);
#endif
