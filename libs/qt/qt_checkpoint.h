/* qt_checkpoint: a service's state snapshot, stored atomically in Redis.
 *
 * Why: SIGKILL must lose nothing. A service persists, in ONE Redis value, both its
 * state and the input position (Kafka offsets) that state corresponds to. After a
 * restart it loads the snapshot and resumes reading at that position, so state and
 * input can never disagree. Outputs emitted after the snapshot are emitted again
 * (identical, deterministic) and dropped downstream as duplicates.
 * Record: magic "QTCK", u32 format version, u64 sequence, u32 payload length,
 * payload, SHA-256 of everything before it. A corrupt or truncated record is
 * refused (-1), never half-loaded. Key: "qt:ckpt:<service>". */
#ifndef QT_CHECKPOINT_H
#define QT_CHECKPOINT_H
#include <stddef.h>
#include <stdint.h>
#include "qt_redis.h"

/* 0 ok, -1 error (Redis down: the caller must not advance its Kafka commit). */
int qt_checkpoint_save(qt_redis_t *r, const char *service, const uint8_t *state, size_t len);
/* 1 loaded (*state malloc'd), 0 none stored, -1 error or corrupt (reason in why). */
int qt_checkpoint_load(qt_redis_t *r, const char *service, uint8_t **state, size_t *len,
                       char *why, size_t whylen);
int qt_checkpoint_clear(qt_redis_t *r, const char *service);

int qt_checkpoint_selftest(bool verbose);
#endif
