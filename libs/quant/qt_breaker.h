/* qt_breaker: a circuit breaker state machine (closed / open / half-open).
 *
 * Why: the production path of qt-optimizer must never wait on a research solver
 * (QAOA). A breaker that trips after M consecutive failures stops paying the latency
 * of a solver that keeps failing, and probes it again, once, after a cool-down.
 * Pure: no clock, no I/O, no globals. The caller passes the time (ms, from qt_clock)
 * with every call, so unit tests drive it with made-up times and a service can pass
 * whatever clock it trusts.
 *
 * States and transitions (M = failures_to_open >= 1, C = cooldown_ms >= 0):
 *   CLOSED:    allow() -> RUN. success() resets the failure count; failure() counts,
 *              and the M-th consecutive failure opens the breaker (opened_at = now).
 *   OPEN:      allow() -> SKIP until now - opened_at >= C; then the breaker goes
 *              HALF_OPEN (opened_at = now, the probe's start) and that one call
 *              returns PROBE.
 *   HALF_OPEN: the probe is in flight: further allow() calls -> SKIP (one probe), until
 *              success() closes (count 0) or failure() re-opens (opened_at = now). A
 *              probe that never reports (caller crashed mid-attempt) is given up after
 *              another cool-down: allow() then grants a new PROBE, so the breaker
 *              cannot stick half-open.
 * A clock that went backwards (now < opened_at, e.g. a restored snapshot after a
 * reboot of a monotonic clock) restarts the cool-down from now: the breaker waits at
 * most one more cool-down instead of forever.
 * success()/failure() while OPEN (no attempt was allowed) change nothing. */
#ifndef QT_BREAKER_H
#define QT_BREAKER_H
#include <stdbool.h>
#include <stdint.h>

typedef enum {
    QT_BREAKER_CLOSED = 0,
    QT_BREAKER_OPEN = 1,
    QT_BREAKER_HALF_OPEN = 2
} qt_breaker_state_t;

typedef enum {
    QT_BREAKER_RUN = 0,    /* closed: attempt the guarded call */
    QT_BREAKER_PROBE = 1,  /* half-open: attempt it once, as the probe */
    QT_BREAKER_SKIP = 2    /* open (or probe in flight): do not attempt */
} qt_breaker_decision_t;

/* Everything the breaker remembers: what a checkpoint saves. */
typedef struct {
    qt_breaker_state_t state;
    uint32_t failures;        /* consecutive failures while closed (< M when closed) */
    int64_t opened_at_ms;     /* open: when it opened; half-open: when the probe started */
    uint64_t opens;           /* closed/half-open -> open transitions so far */
    uint64_t probes;          /* half-open probes granted so far */
} qt_breaker_snapshot_t;

typedef struct qt_breaker_t qt_breaker_t;

/* failures_to_open in 1..1000000, cooldown_ms in 0..86400000 (one day); NULL otherwise
 * or on OOM. Starts CLOSED with no failures. */
qt_breaker_t *qt_breaker_new(uint32_t failures_to_open, int64_t cooldown_ms);
void qt_breaker_destroy(qt_breaker_t **self_p);

qt_breaker_decision_t qt_breaker_allow(qt_breaker_t *self, int64_t now_ms);
void qt_breaker_success(qt_breaker_t *self, int64_t now_ms);
void qt_breaker_failure(qt_breaker_t *self, int64_t now_ms);

qt_breaker_state_t qt_breaker_state(const qt_breaker_t *self);
uint32_t qt_breaker_failures(const qt_breaker_t *self);
/* "closed" | "open" | "half_open" ("unknown" for other values). */
const char *qt_breaker_state_name(qt_breaker_state_t s);

void qt_breaker_snapshot(const qt_breaker_t *self, qt_breaker_snapshot_t *out);
/* False (state unchanged) when snap is inconsistent: unknown state, or
 * failures >= failures_to_open while closed, or failures != 0 while not closed. */
bool qt_breaker_restore(qt_breaker_t *self, const qt_breaker_snapshot_t *snap);

int qt_breaker_selftest(bool verbose);
#endif
