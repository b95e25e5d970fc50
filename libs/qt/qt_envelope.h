/* qt_envelope: encode, decode and validate the Envelope that carries every event.
 *
 * Why: every frame from the bus is hostile. Decoding checks size, protobuf
 * well-formedness, schema version, that a body is present, and the body's
 * semantics (positive finite prices, OHLC consistency, non-empty bounded symbols,
 * finite doubles...). A frame that fails is never handed to service logic.
 * Rejections are counted by the caller (qt_bus / qt_kafka) per status. */
#ifndef QT_ENVELOPE_H
#define QT_ENVELOPE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "qt/v1/envelope.pb-c.h"
#include "qt_clock.h"

#define QT_SCHEMA_VERSION 1u
#define QT_MAX_FRAME (256u * 1024u)  /* largest accepted encoded envelope, bytes */
#define QT_MAX_SYMBOL 32u            /* longest accepted symbol */
#define QT_MAX_FEATURES 256u         /* most features in one FeatureVector */
#define QT_MAX_TARGETS 256u          /* most positions in one TargetPortfolio */

typedef Qt__V1__Envelope qt_env_t;

typedef enum {
    QT_DECODE_OK = 0,
    QT_DECODE_EMPTY,       /* zero-length frame */
    QT_DECODE_OVERSIZE,    /* > QT_MAX_FRAME */
    QT_DECODE_MALFORMED,   /* not a valid protobuf Envelope (truncated, bad wire type...) */
    QT_DECODE_VERSION,     /* schema_version != QT_SCHEMA_VERSION */
    QT_DECODE_NO_BODY,     /* no oneof body set */
    QT_DECODE_INVALID,     /* well-formed but semantically invalid body */
    QT_DECODE__COUNT
} qt_decode_status_t;

/* Stable lower-case name, used as the metric label: "empty", "oversize", ... */
const char *qt_decode_status_str(qt_decode_status_t st);

/* Decode + validate. On QT_DECODE_OK *out is set (free with qt_env_free); otherwise
 * *out is NULL and, if why != NULL, a one-line reason is written there. */
qt_decode_status_t qt_env_decode(const uint8_t *buf, size_t len, qt_env_t **out, char *why,
                                 size_t whylen);
void qt_env_free(qt_env_t *env);

/* Semantic validation of an envelope built in memory (also used by decode).
 * Checks, besides the per-body rules: schema version, every string valid UTF-8 (proto3)
 * and no unknown field numbered 0 (a decoded frame failing either is QT_DECODE_MALFORMED), source <= 128 bytes, trace_id
 * 0 or 16 bytes, span_id 0 or 8 bytes. KillSwitch tier KS_UNKNOWN is accepted (read as
 * NO_NEW by consumers); values outside the enum are not. */
bool qt_env_validate(const qt_env_t *env, char *why, size_t whylen);

/* A process-lifetime copy of s (<= 128 bytes; NULL if longer or the table of 1024 is
 * full); the same pointer for equal strings. Publishers stamp env->source with an interned
 * string, and qt_env_free never frees an interned source, so stamping an envelope that
 * came from qt_env_decode is safe. */
const char *qt_env_intern(const char *s);

/* Encoded bytes, malloc'd; *len set. NULL on allocation failure. */
uint8_t *qt_env_encode(const qt_env_t *env, size_t *len);

/* Initialise a stack envelope: schema version, event time; body left unset.
 * source/seq/publish time are filled by the publisher (qt_pub_send / qt_service_publish). */
void qt_env_init(qt_env_t *env, int64_t event_time_ns);

/* Human name of the body case: "bar", "features", ... ("none" when unset). */
const char *qt_env_body_name(const qt_env_t *env);

/* JSON rendering of a whole envelope (all fields, enums by name, bytes as hex),
 * one line, malloc'd. Generic over the protobuf-c descriptors, so new fields
 * appear without code changes. Used by qt-tail and qtctl. */
char *qt_env_to_json(const qt_env_t *env);

int qt_envelope_selftest(bool verbose);
#endif
