/* qt_bus: the ZeroMQ fast path. One PUB socket per service; subscribers connect to
 * the PUBs they need. A message is two frames: [topic][encoded Envelope].
 *
 * Publisher: stamps source, publish time and a per-topic sequence number (starting
 * at 1, or after the value restored with qt_pub_set_seq after a restart).
 * Subscriber: decodes and validates every frame (qt_env_decode), counts rejected
 * frames by reason (qt_bus_rejected_total{reason=...}), logs the first of each kind,
 * and tracks sequence numbers per (source, topic) to count gaps
 * (qt_bus_gaps_total, qt_bus_missed_total) and duplicates/reorders
 * (qt_bus_stale_total). Bad frames never reach the caller. */
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
 * 0 on success, -1 on failure (counted). Never blocks (HWM drops are counted). */
int qt_pub_send(qt_pub_t *self, const char *topic, qt_env_t *env);
/* Send already-encoded bytes as they are (tests: malformed frames). */
int qt_pub_send_raw(qt_pub_t *self, const char *topic, const uint8_t *buf, size_t len);
uint64_t qt_pub_seq(qt_pub_t *self, const char *topic);     /* last seq sent on topic */
void qt_pub_set_seq(qt_pub_t *self, const char *topic, uint64_t seq);

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

int qt_bus_selftest(bool verbose);
#endif
