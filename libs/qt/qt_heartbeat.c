/* qt_heartbeat: the watchdog's table of last heartbeats, pure (time passed in).
 * Why pure: the dead-man's switch must fire within a bounded, tested time; with
 * explicit times the bound is unit-tested exactly, without sleeping. */
#include "qt_heartbeat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct qt_hb_table_t {
    qt_hb_entry_t entries[QT_HB_TABLE_MAX];
    char names[QT_HB_TABLE_MAX][QT_HB_NAME_MAX + 1];
    size_t len;
    bool started;
    int64_t start_ms;
};

qt_hb_table_t *qt_hb_table_new(void)
{
    return calloc(1, sizeof(qt_hb_table_t));
}

void qt_hb_table_destroy(qt_hb_table_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

static qt_hb_entry_t *find(qt_hb_table_t *self, const char *service)
{
    for (size_t i = 0; i < self->len; i++)
        if (strcmp(self->names[i], service) == 0)
            return &self->entries[i];
    return NULL;
}

int qt_hb_table_watch(qt_hb_table_t *self, const char *service, int64_t sla_ms, bool required)
{
    if (!self || !service || !*service || strlen(service) > QT_HB_NAME_MAX || sla_ms <= 0)
        return -1;
    qt_hb_entry_t *e = find(self, service);
    if (!e) {
        if (self->len >= QT_HB_TABLE_MAX)
            return -1;
        size_t i = self->len++;
        memcpy(self->names[i], service, strlen(service) + 1);
        e = &self->entries[i];
        e->service = self->names[i];
        e->last_seen_ms = -1;
        e->stale = false;
    }
    e->sla_ms = sla_ms;
    e->required = required;
    return 0;
}

int qt_hb_table_seen(qt_hb_table_t *self, const char *service, int64_t now_ms)
{
    if (!self || !service || now_ms < 0)
        return -1;
    qt_hb_entry_t *e = find(self, service);
    if (!e)
        return -1;
    if (now_ms > e->last_seen_ms)
        e->last_seen_ms = now_ms;
    e->stale = false;
    return 0;
}

size_t qt_hb_table_evaluate(qt_hb_table_t *self, int64_t now_ms)
{
    if (!self)
        return 0;
    if (!self->started) {
        self->started = true;
        self->start_ms = now_ms;
    }
    size_t stale_required = 0;
    for (size_t i = 0; i < self->len; i++) {
        qt_hb_entry_t *e = &self->entries[i];
        int64_t since = e->last_seen_ms >= 0 ? e->last_seen_ms : self->start_ms;
        /* now < since (a clock stepping back) reads as "just seen", never as stale */
        e->stale = now_ms > since && now_ms - since > e->sla_ms;
        if (e->stale && e->required)
            stale_required++;
    }
    return stale_required;
}

size_t qt_hb_table_len(const qt_hb_table_t *self)
{
    return self ? self->len : 0;
}

const qt_hb_entry_t *qt_hb_table_entry(const qt_hb_table_t *self, size_t i)
{
    if (!self || i >= self->len)
        return NULL;
    return &self->entries[i];
}

int qt_heartbeat_selftest(bool verbose)
{
    int fails = 0;
#define CHECK(c)                                                                            \
    do {                                                                                    \
        if (!(c)) {                                                                         \
            fails++;                                                                        \
            if (verbose)                                                                    \
                fprintf(stderr, "qt_heartbeat selftest: %s:%d: %s\n", __FILE__, __LINE__,   \
                        #c);                                                                \
        }                                                                                   \
    } while (0)
    qt_hb_table_t *t = qt_hb_table_new();
    CHECK(t != NULL);
    if (t) {
        CHECK(qt_hb_table_watch(t, "qt-risk", 3000, true) == 0);
        CHECK(qt_hb_table_watch(t, "qt-models", 5000, false) == 0);
        CHECK(qt_hb_table_evaluate(t, 1000) == 0);
        CHECK(qt_hb_table_evaluate(t, 4000) == 0);  /* exactly at the SLA: not yet */
        CHECK(qt_hb_table_evaluate(t, 4001) == 1);  /* never seen, past the SLA */
        CHECK(qt_hb_table_seen(t, "qt-risk", 4002) == 0);
        CHECK(qt_hb_table_evaluate(t, 7002) == 0);
        CHECK(qt_hb_table_evaluate(t, 7003) == 1);
        CHECK(qt_hb_table_entry(t, 1)->stale);      /* optional and stale, not counted */
        CHECK(qt_hb_table_seen(t, "nobody", 1) == -1);
        qt_hb_table_destroy(&t);
        CHECK(t == NULL);
    }
#undef CHECK
    return fails ? -1 : 0;
}
