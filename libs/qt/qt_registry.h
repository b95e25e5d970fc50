/* qt_registry: the content-addressed model registry.
 *
 * Why: a trained model must be reproducible, immutable and traceable. Each artifact is
 * stored once under <dir>/<id>/ as the model file plus meta.json, where
 *   id = sha256( model bytes || "\n" || canonical JSON of the caller's meta )
 * (canonical = sorted keys, compact, 17 significant digits). The caller's meta holds
 * everything that determines the model (name, kind, params, feature names, feature
 * schema version, training-data hash, seed) and its CV metrics, so the same data +
 * parameters + seed give the same id. The registry adds id, model_file, model_sha256 and
 * created_ms (not part of the id). Reads verify both hashes (tampering -> error).
 * <dir>/index.json lists the artifacts and, per model name, the promoted id and the
 * history of earlier promotions; it is rewritten atomically (temp + fsync + rename)
 * under an flock on <dir>/.lock. Promotion = index + an external pointer (Redis key
 * "qt:models:promoted:<name>", set by the injected pointer callback so this file is
 * testable without a server): the index is written to a temp file, the pointer is set,
 * then the temp file is renamed; a pointer failure leaves both unchanged. Every
 * promotion / rollback appends a JSON line to <dir>/audit.jsonl and logs it (qt_log). */
#ifndef QT_REGISTRY_H
#define QT_REGISTRY_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QT_REGISTRY_ID_LEN 64
#define QT_REGISTRY_REDIS_PREFIX "qt:models:promoted:"
#define QT_REGISTRY_HISTORY_MAX 32

typedef struct qt_registry_t qt_registry_t;

/* Sets the promotion pointer of name to id. 0 ok, -1 failure (err filled). */
typedef int (*qt_registry_pointer_fn)(void *ud, const char *name, const char *id, char *err,
                                      size_t errlen);

/* Opens (creating the directory if needed). NULL with err on failure. */
qt_registry_t *qt_registry_open(const char *dir, char *err, size_t errlen);
void qt_registry_close(qt_registry_t **self_p);
const char *qt_registry_dir(const qt_registry_t *self);

/* Lowercase hex sha256 of data into hex (65 bytes). */
void qt_registry_sha256_hex(const void *data, size_t len, char hex[QT_REGISTRY_ID_LEN + 1]);
/* True if s is 64 lowercase hex digits. */
bool qt_registry_id_valid(const char *s);

/* Stores an artifact. meta: a JSON object that must contain "name" (string
 * [A-Za-z0-9_.-]{1,63}); model_file: "model.ubj" or "model.json". Idempotent: an existing
 * artifact with the same id is kept as is. 0 ok with id filled, -1 error. */
int qt_registry_put(qt_registry_t *self, const json_t *meta, const char *model_file,
                    const uint8_t *model, size_t len, int64_t now_ms,
                    char id[QT_REGISTRY_ID_LEN + 1], char *err, size_t errlen);
/* Loads and verifies an artifact: *meta (new reference) and, if model != NULL, the model
 * bytes (malloc'd). 0 ok, -1 error (unknown id, unreadable, hash mismatch). */
int qt_registry_get(qt_registry_t *self, const char *id, json_t **meta, uint8_t **model,
                    size_t *len, char *err, size_t errlen);
/* The index (new reference; an empty index when none exists yet), NULL on a corrupt one. */
json_t *qt_registry_index(qt_registry_t *self, char *err, size_t errlen);
/* Promoted id of name from the index: 1 found, 0 none, -1 error. */
int qt_registry_promoted(qt_registry_t *self, const char *name,
                         char id[QT_REGISTRY_ID_LEN + 1], char *err, size_t errlen);
/* Promotes artifact id (its meta name) / rolls name back to its previous promotion.
 * by/reason are recorded in the audit log. 0 ok, -1 error (nothing changed). */
int qt_registry_promote(qt_registry_t *self, const char *id, const char *by,
                        const char *reason, int64_t now_ms, qt_registry_pointer_fn set_pointer,
                        void *ud, char *err, size_t errlen);
int qt_registry_rollback(qt_registry_t *self, const char *name, const char *by,
                         const char *reason, int64_t now_ms, qt_registry_pointer_fn set_pointer,
                         void *ud, char id_out[QT_REGISTRY_ID_LEN + 1], char *err,
                         size_t errlen);

/* The Redis side of the pointer (key QT_REGISTRY_REDIS_PREFIX<name>). set: a
 * qt_registry_pointer_fn whose ud is a qt_redis_t *. get: 1 with the id, 0 absent,
 * -1 Redis error or a value that is not an id. */
int qt_registry_redis_set(void *redis, const char *name, const char *id, char *err,
                          size_t errlen);
struct qt_redis_t;
int qt_registry_redis_get(struct qt_redis_t *redis, const char *name,
                          char id[QT_REGISTRY_ID_LEN + 1]);

int qt_registry_selftest(bool verbose);
#endif
