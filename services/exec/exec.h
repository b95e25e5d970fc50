/* exec: the qt-exec core (paper mode). Turns OrderIntents into orders, fills and
 * reports, exactly once per intent, whatever crashes in between.
 *
 * Why this shape: the invariant "no lost intent, no duplicate order" rests on three
 * pieces that must be reasoned about together, so they live here, behind small
 * seams that the daemon, the backtest and the tests fill in:
 *   - exec_store_t: the order book + paper account. Two implementations with the
 *     same semantics: Redis (every transition is ONE atomic command or Lua script;
 *     the daemon and the integration test) and memory (backtest, unit tests).
 *   - exec_io_t: publishing (ZeroMQ + Kafka in the daemon), the kill switch, the
 *     clock, and the end-of-batch hook that flushes Kafka and checkpoints.
 *   - exec_engine_t: the state machine over the two input streams.
 *
 * Per intent (ids from docs/developer.md): client_order_id = "QT-" + intent_id,
 * fill_id = client_order_id + "-1".
 *   1. claim: if no order record exists, the kill switch is consulted (exposure-
 *      increasing intents are refused under NO_NEW / FLATTEN_ALL / UNKNOWN) and the
 *      record is created with status NEW or REJECTED (HSETNX: first writer wins).
 *      An existing record is a replay: the stored record governs, never the new
 *      decision.
 *   2. NEW: publish the Order; wait for the symbol's next bar (paper.h).
 *   3. fill: one atomic step NEW -> FILLED + position += signed qty + cash += delta;
 *      then publish Fill and ExecutionReport FILLED. A record already FILLED is
 *      re-published from the stored values (identical event, same fill_id) and
 *      positions are not touched.
 *   4. end of both streams: NEW orders without a next bar become EXPIRED.
 * Intents batches: after a Watermark(t) on the intents stream, once every intent
 * before it is resolved, the broker's positions (Position events, by symbol) and a
 * Watermark go out on the fills topic, then io->batch_done flushes + checkpoints the
 * first unresolved intent offset. See docs/services/exec.md for the crash analysis. */
#ifndef EXEC_H
#define EXEC_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <hiredis/hiredis.h>
#include "paper.h"
#include "qt_buf.h"
#include "qt_envelope.h"
#include "qt_money.h"
#include "qt/v1/control.pb-c.h"

#define EXEC_ID_MAX 96

typedef enum {
    EXEC_ST_NONE = 0,
    EXEC_ST_NEW,
    EXEC_ST_FILLED,
    EXEC_ST_REJECTED,
    EXEC_ST_EXPIRED
} exec_status_t;

const char *exec_status_name(exec_status_t st);          /* "NEW", ... */
exec_status_t exec_status_parse(const char *s);          /* EXEC_ST_NONE if unknown */

/* One order record: what the store keeps under qt:exec:order:<client_order_id>. */
typedef struct {
    char coid[EXEC_ID_MAX + 4];
    char intent_id[EXEC_ID_MAX];
    char symbol[QT_MAX_SYMBOL + 1];
    Qt__V1__Side side;
    qt_fixed_t qty;
    qt_fixed_t ref_price;
    int64_t bar_time_ms;
    int64_t created_ms;
    exec_status_t status;
    /* set when FILLED */
    char fill_id[EXEC_ID_MAX + 8];
    qt_fixed_t fill_price;
    qt_fixed_t fee;
    int64_t fill_time_ms;
    /* set when REJECTED / EXPIRED */
    char reason[64];
} exec_order_t;

/* Ids. 0 ok, -1 when the result does not fit. */
int exec_client_order_id(const char *intent_id, char *out, size_t outlen);
int exec_fill_id(const char *coid, char *out, size_t outlen);

/* Validates an intent and builds its order record (status NEW, created_ms given).
 * false (with a static reason) on an empty/oversized id or symbol, a bad side or
 * qty <= 0. */
bool exec_order_from_intent(const Qt__V1__OrderIntent *in, int64_t created_ms, exec_order_t *o,
                            const char **why);

/* Kill-switch gate: NORMAL/WARN/THROTTLE allow everything; any other tier (NO_NEW,
 * FLATTEN_ALL, UNKNOWN) allows only intents that reduce |position| without
 * flipping it (pos != 0, opposite sign, |qty| <= |pos|). */
bool exec_ks_allows(Qt__V1__KillSwitchTier tier, qt_fixed_t pos, Qt__V1__Side side,
                    qt_fixed_t qty);

/* Events built from an order record (for publishing and for comparing replays).
 * They point into *o (strings), so *o must outlive them. */
void exec_build_order(const exec_order_t *o, Qt__V1__Order *out);
void exec_build_fill(const exec_order_t *o, Qt__V1__Fill *out);
void exec_build_report(const exec_order_t *o, Qt__V1__ExecutionReport *out);

/* ------------------------------------------------------------------ store */

typedef struct {
    char symbol[QT_MAX_SYMBOL + 1];
    qt_fixed_t qty;
} exec_position_t;

/* Redis command seam: the daemon passes qt_redis_cmdargv, tests a hiredis context. */
typedef redisReply *(*exec_redis_cmd_fn)(void *ctx, int argc, const char **argv,
                                         const size_t *argvlen);

typedef struct exec_store_t exec_store_t;

exec_store_t *exec_store_new_mem(qt_fixed_t initial_cash);
exec_store_t *exec_store_new_redis(exec_redis_cmd_fn cmd, void *cmd_ctx, qt_fixed_t initial_cash);
void exec_store_destroy(exec_store_t **self_p);

/* Initialise the paper account (cash = initial_cash unless it exists). 0 / -1. */
int exec_store_init(exec_store_t *self);
/* If no record for o->coid exists, store *o (with o->status, NEW or REJECTED) and
 * return 1; otherwise copy the stored record to *stored and return 0. -1: store
 * unreachable or the stored record is unreadable. */
int exec_store_claim(exec_store_t *self, const exec_order_t *o, exec_order_t *stored);
/* Atomically: if the record's status is NEW, set FILLED with o's fill fields
 * (fill_id, fill_price, fee, fill_time_ms), add qty_delta to the symbol's position
 * and cash_delta to cash, return 1. Otherwise copy the stored record, return 0.
 * -1 on error (nothing applied). */
int exec_store_fill(exec_store_t *self, const exec_order_t *o, qt_fixed_t qty_delta,
                    qt_fixed_t cash_delta, exec_order_t *stored);
/* If the status is NEW: set EXPIRED with o->reason, return 1; else 0 + *stored. */
int exec_store_expire(exec_store_t *self, const exec_order_t *o, exec_order_t *stored);
/* Read one record: 1 found, 0 absent, -1 error. */
int exec_store_get(exec_store_t *self, const char *coid, exec_order_t *out);
int exec_store_position(exec_store_t *self, const char *symbol, qt_fixed_t *qty);
int exec_store_cash(exec_store_t *self, qt_fixed_t *cash);
/* Non-zero positions sorted by symbol (malloc'd array, free()). 0 / -1. */
int exec_store_positions(exec_store_t *self, exec_position_t **out, size_t *n);

/* ------------------------------------------------------------------ engine */

typedef struct {
    /* Publish env on ZeroMQ topic zmq_topic and Kafka topic `kafka_logical`
     * (services.yml topics: "orders", "reports", "fills") with key. 0 / -1. */
    int (*publish)(void *ctx, const char *zmq_topic, const char *kafka_logical, const char *key,
                   qt_env_t *env);
    Qt__V1__KillSwitchTier (*killswitch)(void *ctx);
    int64_t (*now_ms)(void *ctx);
    /* The positions + watermark of an intents batch were published: flush, save
     * the checkpoint (next_offset = first intents offset to read after a restart),
     * commit. 0 ok; -1: not persisted, the batch is completed again next step. */
    int (*batch_done)(void *ctx, int64_t batch_time_ms, bool end_of_stream, int64_t next_offset);
    void *ctx;
} exec_io_t;

typedef struct {
    uint64_t intents;          /* intents accepted into the engine */
    uint64_t invalid;          /* intents dropped as invalid */
    uint64_t orders;           /* first claims with status NEW (new orders) */
    uint64_t fills;            /* fills applied to the account by this engine */
    uint64_t rejected;         /* first claims refused by the kill switch */
    uint64_t expired;          /* NEW -> EXPIRED applied by this engine */
    uint64_t replays;          /* intents whose record already existed */
    uint64_t batches;          /* intents batches completed */
    uint64_t bars;             /* new bars recorded */
} exec_stats_t;

typedef struct exec_engine_t exec_engine_t;

/* store and io are borrowed. */
exec_engine_t *exec_engine_new(const paper_config_t *cfg, exec_store_t *store,
                               const exec_io_t *io);
void exec_engine_destroy(exec_engine_t **self_p);

/* Bars stream. 1 new, 0 known, -1 invalid. */
int exec_engine_on_bar(exec_engine_t *self, const Qt__V1__Bar *bar);
void exec_engine_on_bars_watermark(exec_engine_t *self, const Qt__V1__Watermark *wm);
/* Intents stream, in offset order. on_intent: 1 queued, 0 dropped (invalid or an
 * offset already seen), -1 out of memory. */
int exec_engine_on_intent(exec_engine_t *self, int64_t offset, const Qt__V1__OrderIntent *in);
int exec_engine_on_intents_watermark(exec_engine_t *self, int64_t offset,
                                     const Qt__V1__Watermark *wm);
/* Resolve everything that can be resolved now. Returns the number of transitions
 * made (>= 0), or -1 when the store or a publish failed (nothing is lost: the
 * same step is retried, idempotently, on the next call). */
int exec_engine_step(exec_engine_t *self);
/* False while an intents batch is open (its watermark was read, some intent before
 * it is unresolved) and the bars stream has not ended: the caller stops reading
 * intents so that batches complete in order. */
bool exec_engine_wants_intents(const exec_engine_t *self);
size_t exec_engine_unresolved(const exec_engine_t *self);
const exec_stats_t *exec_engine_stats(const exec_engine_t *self);
const paper_broker_t *exec_engine_broker(const exec_engine_t *self);

/* ------------------------------------------------------------------ modes */

/* Operating mode (qt:mode, docs/services/supervisor.md) as exec enforces it on each
 * NEW intent (at the claim; a replay keeps its stored decision):
 *   PAPER      the paper broker, as without a mode seam (the default);
 *   MANUAL     claimed REJECTED (reason "manual mode") and handed to manual_order
 *              (a command line for a human; never sent anywhere);
 *   OFF        claimed REJECTED (reason "mode off");
 *   LIVE       claimed REJECTED (reason "live mode: no live broker");
 *   INVALID    stored mode unreadable as a mode: like OFF (reason "mode invalid");
 *   UNREADABLE Redis unreachable: nothing is claimed, the step fails and is retried
 *              (no order now, no permanent decision either).
 * The kill-switch gate comes first: an intent it refuses is REJECTED "kill switch". */
typedef enum {
    EXEC_MODE_OFF = 0,
    EXEC_MODE_MANUAL,
    EXEC_MODE_PAPER,
    EXEC_MODE_LIVE,
    EXEC_MODE_INVALID,
    EXEC_MODE_UNREADABLE
} exec_mode_t;

typedef struct {
    exec_mode_t (*mode)(void *ctx);
    /* The order record of a manual-mode intent: write the command line. 0 / -1 (the
     * step is retried; the record is then a replay and is handed over again, so the
     * list is at-least-once: de-duplicate by client_order_id). */
    int (*manual_order)(void *ctx, const exec_order_t *o);
    void *ctx;
} exec_mode_io_t;

/* Installs the mode seam (copied); without one the engine is in paper mode. */
void exec_engine_set_mode_io(exec_engine_t *self, const exec_mode_io_t *mio);
/* One JSON line (no newline) for a human: client_order_id, intent_id, symbol, side,
 * qty, ref_price, bar_time_ms, created_ms, command ("BUY 0.5 BTC_USDT at market, ref
 * 30000.1"). 0 / -1 when it does not fit. */
int exec_manual_line(const exec_order_t *o, char *out, size_t outlen);

/* Checkpoint payload: format version, next intents offset, last batch time. */
void exec_ckpt_encode(qt_buf_t *out, int64_t next_offset, int64_t last_batch_ms);
bool exec_ckpt_decode(const uint8_t *buf, size_t len, int64_t *next_offset,
                      int64_t *last_batch_ms);

int exec_selftest(bool verbose);
#endif
