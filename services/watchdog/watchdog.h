/* watchdog: the qt-watchdog core (dead-man's switch), pure: time is passed in.
 *
 * Why: a trading system must stop opening positions when a part that guards it has
 * gone silent. The watchdog runs as its own process with its own connections,
 * watches every service's heartbeat against a per-service SLA (configs/slas.yml),
 * and when a REQUIRED service is stale it raises the kill switch to that service's
 * configured tier (NO_NEW by default; FLATTEN_ALL for losing execution or risk:
 * without them nothing would unwind open positions safely, so the system flattens).
 * With several stale required services the highest tier wins. It only ever raises:
 * if the current tier is already at or above that tier (unreadable reads as NO_NEW)
 * it does nothing more; lowering is for two human approvers.
 *
 * Grace period: right after the watchdog starts nothing counts as missing until
 * grace_ms has passed (default: each service's own SLA), so a fleet starting
 * together does not trip the switch. Staleness itself comes from qt_hb_table
 * (libs/qt/qt_heartbeat.h): stale once now - last_seen > sla (never seen: since
 * the watchdog started). */
#ifndef WATCHDOG_H
#define WATCHDOG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "qt/v1/control.pb-c.h"

#define WATCHDOG_NAME_MAX 63

typedef struct {
    char service[WATCHDOG_NAME_MAX + 1];
    int64_t sla_ms;
    bool required;
    /* tier raised when this required service is stale: NO_NEW or FLATTEN_ALL
     * (KS_UNKNOWN = 0, i.e. left out of an initializer, means NO_NEW) */
    Qt__V1__KillSwitchTier tier;
} watchdog_sla_t;

typedef struct watchdog_t watchdog_t;

/* grace_ms < 0: each service's grace is its own SLA. NULL on bad arguments. */
watchdog_t *watchdog_new(const watchdog_sla_t *slas, size_t n, int64_t grace_ms,
                         int64_t start_ms);
void watchdog_destroy(watchdog_t **self_p);

/* A heartbeat from service at now_ms; -1 for a service not watched. */
int watchdog_heartbeat(watchdog_t *self, const char *service, int64_t now_ms);

typedef struct {
    size_t stale;             /* stale services past their grace (required or not) */
    size_t stale_required;    /* of which required */
    bool raise;               /* write `tier` now */
    Qt__V1__KillSwitchTier tier; /* highest configured tier of the stale required services
                                    (KS_UNKNOWN when none is stale) */
    char service[WATCHDOG_NAME_MAX + 1]; /* stale required service with the highest
                                            tier, first in table order ("" if none) */
    char reason[256];         /* "heartbeat missing: qt-risk (6001 ms > sla 5000 ms)" */
} watchdog_decision_t;

/* Evaluate at now_ms given the current kill-switch tier. raise is true only when a
 * required service is stale past its grace and current < tier (UNKNOWN counts as
 * NO_NEW: fail closed, so only a FLATTEN_ALL service raises over it). */
void watchdog_evaluate(watchdog_t *self, int64_t now_ms, Qt__V1__KillSwitchTier current,
                       watchdog_decision_t *out);

int watchdog_selftest(bool verbose);
#endif
