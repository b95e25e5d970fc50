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

/* Like qt_checkpoint_load, and also tells a corrupt record from an unreachable Redis
 * and returns the record's sequence number (seq may be NULL):
 * 1 loaded, 0 none stored, -1 Redis error (retry later), -2 corrupt (never load). */
int qt_checkpoint_load_ex(qt_redis_t *r, const char *service, uint8_t **state, size_t *len,
                          uint64_t *seq, char *why, size_t whylen);

/* Pure record codec (no I/O), used by save/load and unit-tested on every truncation.
 * The sequence number of a save is the stored record's + 1 (1 for the first save). */
#define QT_CKPT_MAGIC "QTCK"
#define QT_CKPT_FORMAT 1u
#define QT_CKPT_HEADER 20u           /* magic + format + seq + payload length */
#define QT_CKPT_OVERHEAD (20u + 32u) /* header + SHA-256 */
#define QT_CKPT_MAX_PAYLOAD (256u * 1024u * 1024u)
/* Encoded record (malloc'd, *reclen set), or NULL (payload too large / OOM). */
uint8_t *qt_checkpoint_encode(uint64_t seq, const uint8_t *payload, size_t len,
                              size_t *reclen);
/* 0: valid; *payload points INTO rec (not copied), *len and *seq set.
 * -1: corrupt or truncated (bad magic, format, length, or digest), reason in why. */
int qt_checkpoint_decode(const uint8_t *rec, size_t reclen, uint64_t *seq,
                         const uint8_t **payload, size_t *len, char *why, size_t whylen);

int qt_checkpoint_selftest(bool verbose);
#endif
