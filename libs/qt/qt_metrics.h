/* qt_metrics: counters and gauges, rendered in the Prometheus text format.
 *
 * Why: every bad input, gap, reject and restart must be visible to operators.
 * Counters/gauges are registered once (stable pointers), updated lock-free with
 * atomics from any thread, rendered under a mutex by the admin HTTP thread.
 * Every metric name is prefixed "qt_"; the service name is a label on each sample. */
#ifndef QT_METRICS_H
#define QT_METRICS_H
#include <stdbool.h>
#include <stdint.h>

typedef struct qt_metrics_t qt_metrics_t;
typedef struct qt_counter_t qt_counter_t;
typedef struct qt_gauge_t qt_gauge_t;

qt_metrics_t *qt_metrics_new(const char *service);
void qt_metrics_destroy(qt_metrics_t **self_p);

/* name: [a-z_][a-z0-9_]*, must start with "qt_" and (counters) end with "_total";
 * gauges must not end with "_total" (Prometheus lint rejects that).
 * labels: NULL or preformatted Prometheus labels without braces: "reason=\"truncated\"";
 * several pairs are comma-separated, values escape only \\ \" and \n; the label name
 * "service" is reserved (added to every sample). help: NULL/"" means the name is used.
 * Registering the same name+labels again returns the same pointer. Invalid names or
 * labels, or one name used as both counter and gauge, abort() (a programming error,
 * not input). At most 4096 series per registry: past that a private sink is returned
 * (updates work, never rendered), so label values cannot grow memory without bound.
 * The update functions below accept NULL (no-op / 0). */
qt_counter_t *qt_metrics_counter(qt_metrics_t *self, const char *name, const char *help,
                                 const char *labels);
qt_gauge_t *qt_metrics_gauge(qt_metrics_t *self, const char *name, const char *help,
                             const char *labels);
void qt_counter_inc(qt_counter_t *c);
void qt_counter_add(qt_counter_t *c, uint64_t n);
uint64_t qt_counter_value(const qt_counter_t *c);
void qt_gauge_set(qt_gauge_t *g, double v);
/* Atomically adds delta (may be negative) to the gauge. */
void qt_gauge_add(qt_gauge_t *g, double delta);
double qt_gauge_value(const qt_gauge_t *g);

/* Lookup by name+labels (NULL labels == no labels); NULL when not registered. */
qt_counter_t *qt_metrics_find_counter(qt_metrics_t *self, const char *name, const char *labels);
qt_gauge_t *qt_metrics_find_gauge(qt_metrics_t *self, const char *name, const char *labels);

/* Prometheus text exposition (HELP, TYPE, samples), malloc'd; caller frees. */
char *qt_metrics_render(qt_metrics_t *self);
/* JSON object {"name{labels}": value, ...}, malloc'd; for qtctl status. The service
 * label is not repeated in the keys; counters are integers, gauges reals, and a
 * non-finite gauge is null (JSON has no NaN/Inf). */
char *qt_metrics_render_json(qt_metrics_t *self);

int qt_metrics_selftest(bool verbose);
#endif
