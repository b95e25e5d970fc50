/* qt_admin: the admin HTTP endpoint of every service (libmicrohttpd, own thread).
 *   GET /metrics  Prometheus text (qt_metrics_render)
 *   GET /healthz  200 "ok" while the process loop is alive, 503 otherwise
 *   GET /readyz   200 "ready" once the service set itself ready, 503 otherwise
 *   GET /status   JSON {"service":..,"healthy":..,"ready":..,"pid":..,"metrics":{..}}
 * Anything else: 404; non-GET: 405 (HEAD is answered like GET, without a body; 405
 * carries "Allow: GET, HEAD"). Malformed requests are counted in
 * qt_admin_http_errors_total (registered in `metrics` when given) and logged once.
 * The service starts healthy and not ready. Requests never touch service state except
 * reading atomics, so a hostile client cannot corrupt anything. Binds 127.0.0.1
 * unless bind_addr says otherwise. */
#ifndef QT_ADMIN_H
#define QT_ADMIN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "qt_metrics.h"

typedef struct qt_admin_t qt_admin_t;

/* port 0 picks a free port (tests). NULL + err on failure (e.g. port taken). */
qt_admin_t *qt_admin_new(const char *service, const char *bind_addr, uint16_t port,
                         qt_metrics_t *metrics, char *err, size_t errlen);
void qt_admin_destroy(qt_admin_t **self_p);
uint16_t qt_admin_port(const qt_admin_t *self);
void qt_admin_set_ready(qt_admin_t *self, bool ready);
void qt_admin_set_healthy(qt_admin_t *self, bool healthy);

int qt_admin_selftest(bool verbose);
#endif
