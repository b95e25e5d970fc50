/* watchdog: see watchdog.h. */
#include "watchdog.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qt_heartbeat.h"

struct watchdog_t {
    qt_hb_table_t *table;
    int64_t start_ms;
    int64_t grace_ms;
    watchdog_sla_t slas[QT_HB_TABLE_MAX]; /* as configured, tier normalised */
    size_t n;
};

watchdog_t *watchdog_new(const watchdog_sla_t *slas, size_t n, int64_t grace_ms,
                         int64_t start_ms)
{
    if (!slas && n)
        return NULL;
    watchdog_t *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->table = qt_hb_table_new();
    w->start_ms = start_ms;
    w->grace_ms = grace_ms;
    if (!w->table) {
        free(w);
        return NULL;
    }
    if (n > QT_HB_TABLE_MAX) {
        watchdog_destroy(&w);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        Qt__V1__KillSwitchTier t = slas[i].tier;
        if (t == QT__V1__KILL_SWITCH_TIER__KS_UNKNOWN)
            t = QT__V1__KILL_SWITCH_TIER__KS_NO_NEW;
        if ((t != QT__V1__KILL_SWITCH_TIER__KS_NO_NEW &&
             t != QT__V1__KILL_SWITCH_TIER__KS_FLATTEN_ALL) ||
            qt_hb_table_watch(w->table, slas[i].service, slas[i].sla_ms, slas[i].required) != 0) {
            watchdog_destroy(&w);
            return NULL;
        }
        w->slas[i] = slas[i];
        w->slas[i].tier = t;
        w->n = i + 1;
    }
    (void)qt_hb_table_evaluate(w->table, start_ms); /* pins the table's start */
    return w;
}

void watchdog_destroy(watchdog_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    qt_hb_table_destroy(&(*self_p)->table);
    free(*self_p);
    *self_p = NULL;
}

int watchdog_heartbeat(watchdog_t *self, const char *service, int64_t now_ms)
{
    return qt_hb_table_seen(self->table, service, now_ms);
}

/* Tier configured for a service; a name listed twice: the last entry wins, as
 * qt_hb_table_watch does for the SLA. */
static Qt__V1__KillSwitchTier tier_of(const watchdog_t *self, const char *service)
{
    for (size_t i = self->n; i-- > 0;)
        if (strcmp(self->slas[i].service, service) == 0)
            return self->slas[i].tier;
    return QT__V1__KILL_SWITCH_TIER__KS_NO_NEW;
}

void watchdog_evaluate(watchdog_t *self, int64_t now_ms, Qt__V1__KillSwitchTier current,
                       watchdog_decision_t *out)
{
    memset(out, 0, sizeof(*out));
    (void)qt_hb_table_evaluate(self->table, now_ms);
    size_t n = qt_hb_table_len(self->table);
    for (size_t i = 0; i < n; i++) {
        const qt_hb_entry_t *e = qt_hb_table_entry(self->table, i);
        int64_t grace = self->grace_ms >= 0 ? self->grace_ms : e->sla_ms;
        if (!e->stale || now_ms - self->start_ms < grace)
            continue;
        out->stale++;
        if (!e->required)
            continue;
        out->stale_required++;
        Qt__V1__KillSwitchTier t = tier_of(self, e->service);
        if (t > out->tier) {
            out->tier = t;
            int64_t since = e->last_seen_ms >= 0 ? e->last_seen_ms : self->start_ms;
            snprintf(out->service, sizeof out->service, "%s", e->service);
            snprintf(out->reason, sizeof out->reason,
                     "heartbeat missing: %s (%" PRId64 " ms > sla %" PRId64 " ms)", e->service,
                     now_ms - since, e->sla_ms);
        }
    }
    if (current == QT__V1__KILL_SWITCH_TIER__KS_UNKNOWN)
        current = QT__V1__KILL_SWITCH_TIER__KS_NO_NEW;   /* fail closed */
    out->raise = out->stale_required > 0 && current < out->tier;
}

int watchdog_selftest(bool verbose)
{
    int fails = 0;
    watchdog_sla_t s = {"qt-risk", 1000, true, QT__V1__KILL_SWITCH_TIER__KS_FLATTEN_ALL};
    watchdog_t *w = watchdog_new(&s, 1, -1, 0);
    watchdog_decision_t d;
    watchdog_evaluate(w, 1000, QT__V1__KILL_SWITCH_TIER__KS_NORMAL, &d);
    fails += d.raise;
    watchdog_evaluate(w, 1001, QT__V1__KILL_SWITCH_TIER__KS_NORMAL, &d);
    fails += !d.raise || d.tier != QT__V1__KILL_SWITCH_TIER__KS_FLATTEN_ALL;
    watchdog_evaluate(w, 1001, QT__V1__KILL_SWITCH_TIER__KS_NO_NEW, &d);
    fails += !d.raise;
    watchdog_evaluate(w, 1001, QT__V1__KILL_SWITCH_TIER__KS_FLATTEN_ALL, &d);
    fails += d.raise;
    watchdog_destroy(&w);
    if (verbose)
        fprintf(stderr, "watchdog selftest: %s\n", fails ? "FAILED" : "ok");
    return fails ? -1 : 0;
}
