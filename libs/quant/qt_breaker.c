/* qt_breaker: circuit breaker state machine (see qt_breaker.h).
 *
 * Why elapsed time is computed in unsigned arithmetic: the times come from the caller
 * (and from checkpoints), so any int64 pair must work without signed overflow; when
 * now >= then, (uint64)now - (uint64)then is the exact difference. */
#include "qt_breaker.h"

#include <stdio.h>
#include <stdlib.h>

#define MAX_FAILURES 1000000u
#define MAX_COOLDOWN_MS 86400000LL

struct qt_breaker_t {
    uint32_t failures_to_open;
    int64_t cooldown_ms;
    qt_breaker_snapshot_t s;
};

qt_breaker_t *qt_breaker_new(uint32_t failures_to_open, int64_t cooldown_ms)
{
    if (failures_to_open < 1 || failures_to_open > MAX_FAILURES || cooldown_ms < 0 ||
        cooldown_ms > MAX_COOLDOWN_MS)
        return NULL;
    qt_breaker_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->failures_to_open = failures_to_open;
    self->cooldown_ms = cooldown_ms;
    self->s.state = QT_BREAKER_CLOSED;
    return self;
}

void qt_breaker_destroy(qt_breaker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

/* True when a cool-down has passed since opened_at; a clock that went backwards
 * re-anchors opened_at to now (the cool-down restarts). */
static bool cooled_down(qt_breaker_t *self, int64_t now_ms)
{
    if (now_ms < self->s.opened_at_ms) {
        self->s.opened_at_ms = now_ms;
        return self->cooldown_ms == 0;
    }
    uint64_t elapsed = (uint64_t)now_ms - (uint64_t)self->s.opened_at_ms;
    return elapsed >= (uint64_t)self->cooldown_ms;
}

static void open_now(qt_breaker_t *self, int64_t now_ms)
{
    self->s.state = QT_BREAKER_OPEN;
    self->s.failures = 0;
    self->s.opened_at_ms = now_ms;
    self->s.opens++;
}

qt_breaker_decision_t qt_breaker_allow(qt_breaker_t *self, int64_t now_ms)
{
    switch (self->s.state) {
    case QT_BREAKER_CLOSED:
        return QT_BREAKER_RUN;
    case QT_BREAKER_OPEN:
    case QT_BREAKER_HALF_OPEN:
        /* OPEN: the cool-down after the open; HALF_OPEN: the time given to the probe. */
        if (!cooled_down(self, now_ms))
            return QT_BREAKER_SKIP;
        self->s.state = QT_BREAKER_HALF_OPEN;
        self->s.opened_at_ms = now_ms;
        self->s.probes++;
        return QT_BREAKER_PROBE;
    }
    return QT_BREAKER_SKIP;
}

void qt_breaker_success(qt_breaker_t *self, int64_t now_ms)
{
    (void)now_ms;
    if (self->s.state == QT_BREAKER_OPEN)
        return;
    self->s.state = QT_BREAKER_CLOSED;
    self->s.failures = 0;
}

void qt_breaker_failure(qt_breaker_t *self, int64_t now_ms)
{
    switch (self->s.state) {
    case QT_BREAKER_CLOSED:
        self->s.failures++;
        if (self->s.failures >= self->failures_to_open)
            open_now(self, now_ms);
        break;
    case QT_BREAKER_HALF_OPEN:
        open_now(self, now_ms);
        break;
    case QT_BREAKER_OPEN:
        break;
    }
}

qt_breaker_state_t qt_breaker_state(const qt_breaker_t *self) { return self->s.state; }
uint32_t qt_breaker_failures(const qt_breaker_t *self) { return self->s.failures; }

const char *qt_breaker_state_name(qt_breaker_state_t s)
{
    switch (s) {
    case QT_BREAKER_CLOSED:
        return "closed";
    case QT_BREAKER_OPEN:
        return "open";
    case QT_BREAKER_HALF_OPEN:
        return "half_open";
    }
    return "unknown";
}

void qt_breaker_snapshot(const qt_breaker_t *self, qt_breaker_snapshot_t *out)
{
    *out = self->s;
}

bool qt_breaker_restore(qt_breaker_t *self, const qt_breaker_snapshot_t *snap)
{
    switch (snap->state) {
    case QT_BREAKER_CLOSED:
        if (snap->failures >= self->failures_to_open)
            return false;
        break;
    case QT_BREAKER_OPEN:
    case QT_BREAKER_HALF_OPEN:
        if (snap->failures != 0)
            return false;
        break;
    default:
        return false;
    }
    self->s = *snap;
    return true;
}

int qt_breaker_selftest(bool verbose)
{
    int fails = 0;
    qt_breaker_t *b = qt_breaker_new(2, 100);
    if (!b)
        return 1;
    /* Two failures open it; skipped during the cool-down; one probe after it. */
    if (qt_breaker_allow(b, 0) != QT_BREAKER_RUN) fails++;
    qt_breaker_failure(b, 0);
    if (qt_breaker_state(b) != QT_BREAKER_CLOSED || qt_breaker_failures(b) != 1) fails++;
    qt_breaker_failure(b, 10);
    if (qt_breaker_state(b) != QT_BREAKER_OPEN) fails++;
    if (qt_breaker_allow(b, 109) != QT_BREAKER_SKIP) fails++;
    if (qt_breaker_allow(b, 110) != QT_BREAKER_PROBE) fails++;
    if (qt_breaker_allow(b, 111) != QT_BREAKER_SKIP) fails++;
    qt_breaker_success(b, 112);
    if (qt_breaker_state(b) != QT_BREAKER_CLOSED || qt_breaker_failures(b) != 0) fails++;
    /* A success between failures resets the count. */
    qt_breaker_failure(b, 200);
    qt_breaker_success(b, 201);
    qt_breaker_failure(b, 202);
    if (qt_breaker_state(b) != QT_BREAKER_CLOSED) fails++;
    qt_breaker_snapshot_t snap;
    qt_breaker_snapshot(b, &snap);
    if (snap.opens != 1 || snap.probes != 1 || snap.failures != 1) fails++;
    /* Invalid parameters. */
    if (qt_breaker_new(0, 1) || qt_breaker_new(1, -1)) fails++;
    qt_breaker_destroy(&b);
    if (b) fails++;
    if (verbose)
        printf("qt_breaker selftest: %d failures\n", fails);
    return fails;
}
