/* qt_stage: the consume -> process -> publish -> checkpoint loop shared by every
 * pipeline service that reads one Kafka topic (features, models, optimizer, risk).
 *
 * Why one loop: "SIGKILL loses nothing" is subtle and must be written once.
 *   1. On start, load the checkpoint (qt_checkpoint) of this service: the core's state
 *      plus the next input offset and the ZeroMQ/stream sequence numbers. Without a
 *      checkpoint, start from the beginning of the topic with empty state.
 *      If Redis is unreachable the loop waits (and /readyz stays 503): starting from
 *      scratch would silently re-trade history.
 *   2. Poll envelopes from the input topic (bad payloads are counted and skipped by
 *      qt_kafka); hand each to ops->on_event, which publishes through
 *      qt_service_publish.
 *   3. After an event for which ops->on_event returned QT_STAGE_CHECKPOINT (a
 *      Watermark: the end of a batch), or on SIGTERM: flush the Kafka producer (if any
 *      delivery failed, do not checkpoint: retry the flush), save the checkpoint (state
 *      + next offset), then commit the offset to Kafka asynchronously (lag monitoring only; the
 *      checkpoint is the source of truth).
 * Output emitted after the last checkpoint is re-emitted after a crash, identical
 * (cores are deterministic), and dropped by downstream duplicate checks. */
#ifndef QT_STAGE_H
#define QT_STAGE_H
#include "qt_buf.h"
#include "qt_service.h"

typedef enum {
    QT_STAGE_CONTINUE = 0,   /* processed, no checkpoint needed now */
    QT_STAGE_CHECKPOINT = 1, /* processed; checkpoint after this event */
    QT_STAGE_DONE = 2,       /* processed; end of stream: checkpoint and keep serving */
    QT_STAGE_FATAL = -1      /* unrecoverable: checkpoint NOT taken, loop exits 1 */
} qt_stage_result_t;

typedef struct {
    /* Process one valid envelope read at `offset`. */
    qt_stage_result_t (*on_event)(void *ctx, qt_service_t *svc, const qt_env_t *env);
    /* Append the core state to out (the loop adds offsets itself). */
    void (*save)(void *ctx, qt_buf_t *out);
    /* Restore the core state from r (which holds exactly what save wrote); return
     * false when it is invalid (the loop then refuses to start: exit 1). */
    bool (*load)(void *ctx, qt_reader_t *r);
    /* Optional: called every loop iteration with no event (idle work); may be NULL. */
    void (*idle)(void *ctx, qt_service_t *svc);
} qt_stage_ops_t;

/* Runs until SIGTERM (returns 0 after a final checkpoint) or a fatal error (1).
 * input_logical: key under topics: in services.yml ("bars", "features", ...). */
int qt_stage_run(qt_service_t *svc, const char *input_logical, const qt_stage_ops_t *ops,
                 void *ctx);

/* Publish topics the stage loop restores: the loop saves/restores qt_pub seq numbers
 * for the ZeroMQ topics published so far, so sequence numbers continue after restart. */
#endif
