/* qt_heartbeat: liveness beacons for the watchdog (dead-man's switch).
 * A heartbeat is due every interval_ms (by the service's clock). The watchdog keeps a
 * table of the last heartbeat per service and decides staleness against per-service
 * SLAs; the table logic is pure so it is unit-tested with a simulated clock. */
#ifndef QT_HEARTBEAT_H
#define QT_HEARTBEAT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct qt_hb_table_t qt_hb_table_t;

#define QT_HB_TABLE_MAX 64     /* services a table can watch */
#define QT_HB_NAME_MAX 64      /* longest service name (bytes, without NUL) */
/* Semantics details: watching a service again updates its SLA and required flag
 * (keeps last_seen); a heartbeat older than the last one recorded does not move
 * last_seen back; a heartbeat clears the entry's stale flag immediately; staleness
 * is strict: stale when now - last_seen > sla. */

typedef struct {
    const char *service;
    int64_t last_seen_ms;      /* -1 never */
    int64_t sla_ms;
    bool required;
    bool stale;
} qt_hb_entry_t;

qt_hb_table_t *qt_hb_table_new(void);
void qt_hb_table_destroy(qt_hb_table_t **self_p);
/* Declare a service to watch with its SLA; returns -1 on a full table or bad args. */
int qt_hb_table_watch(qt_hb_table_t *self, const char *service, int64_t sla_ms, bool required);
/* Record a heartbeat seen at now_ms; unknown services are ignored (returns -1). */
int qt_hb_table_seen(qt_hb_table_t *self, const char *service, int64_t now_ms);
/* Recompute staleness at now_ms. A watched service never seen is stale once
 * now_ms - start_ms > sla (start_ms given at the first evaluate call).
 * Returns the number of required services that are stale. */
size_t qt_hb_table_evaluate(qt_hb_table_t *self, int64_t now_ms);
size_t qt_hb_table_len(const qt_hb_table_t *self);
const qt_hb_entry_t *qt_hb_table_entry(const qt_hb_table_t *self, size_t i);

int qt_heartbeat_selftest(bool verbose);
#endif
