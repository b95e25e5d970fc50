/* qt_service: the runtime every daemon shares, so each main.c stays thin.
 *
 * qt_service_new parses the common arguments
 *     --config FILE        services.yml (default configs/services.yml, env QT_CONFIG)
 *     --instance NAME      instance id (default: service name)
 *     --log-level LEVEL    debug|info|warn|error (default info, env QT_LOG_LEVEL)
 *     --no-admin           do not start the admin HTTP endpoint (tests)
 * and service-specific ones through `extra` (getopt-style parsing stays in main.c:
 * qt_service_new stops at the first argument it does not know and leaves it in
 * *argi). It loads and validates the config (exit 2 with a clear message on error,
 * before touching any state), sets up log, metrics, admin HTTP, Redis, the Kafka
 * producer, the ZeroMQ PUB socket, the heartbeat and SIGTERM/SIGINT handling.
 * Every service publishes through qt_service_publish: ZeroMQ fast path and the Kafka
 * topic in one call. Heartbeats go out on "sys.heartbeat.<service>" every
 * heartbeat.interval_ms and into Redis "qt:hb:<service>". */
#ifndef QT_SERVICE_H
#define QT_SERVICE_H
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include "qt_admin.h"
#include "qt_bus.h"
#include "qt_clock.h"
#include "qt_config.h"
#include "qt_kafka.h"
#include "qt_log.h"
#include "qt_metrics.h"
#include "qt_redis.h"

typedef struct {
    const char *name;          /* "qt-risk" */
    const char *instance;
    qt_config_t *cfg;          /* services.yml */
    const char *config_dir;    /* directory of services.yml (for risk.yml etc.) */
    qt_clock_t *clock;         /* wall clock */
    qt_metrics_t *metrics;
    qt_admin_t *admin;         /* NULL with --no-admin */
    qt_redis_t *redis;
    qt_kproducer_t *producer;
    qt_pub_t *pub;
    const char *brokers;
    int64_t started_ns;
    uint64_t processed;        /* inputs processed; reported in heartbeats */
    int64_t last_event_ms;     /* event time of the last input; in heartbeats */
    qt_counter_t *processed_total;
    qt_gauge_t *last_event_gauge;
    struct qt_service_priv *priv;
} qt_service_t;

/* Exits the process (status 2) with a message on bad arguments or config (also: mode
 * other than "paper"; "live" is refused), status 1 when the admin port or the PUB
 * endpoint cannot be bound, status 0 on SIGTERM while still waiting for Kafka (the
 * topics under topics: are created at start, "control" compacted; it retries until
 * Kafka answers). argi may be NULL: then unknown arguments are an error (exit 2).
 * Optional keys besides the ones above: services.<name>.admin_bind (default
 * 127.0.0.1). The Redis heartbeat value "qt:hb:<name>" is the encoded Heartbeat
 * Envelope (qt_env_decode), with PX = 3 * heartbeat.interval_ms. */
qt_service_t *qt_service_new(const char *name, int argc, char **argv, int *argi);
void qt_service_destroy(qt_service_t **self_p);   /* flushes Kafka, closes everything */

/* False once SIGTERM/SIGINT arrived. */
bool qt_service_running(const qt_service_t *self);
/* Ask the loop to end as if SIGTERM had arrived (this service object only): after
 * this, qt_service_running is false. For tests and cores that decide to stop. */
void qt_service_stop(qt_service_t *self);
/* /readyz: set ready (no-op with --no-admin). The service starts not ready;
 * qt_stage_run sets it once the checkpoint is loaded and the consumer assigned;
 * other daemons call it when they can serve. */
void qt_service_set_ready(qt_service_t *self, bool ready);
/* Call every loop iteration: sends the heartbeat when due, refreshes health. */
void qt_service_tick(qt_service_t *self);
/* Record that one input with this event time was processed (metrics + heartbeat). */
void qt_service_note_processed(qt_service_t *self, int64_t event_time_ms);
/* Publish env on ZeroMQ topic zmq_topic (may be NULL) and Kafka topic kafka_topic
 * (may be NULL) with key. 0 ok, -1 if either failed. */
int qt_service_publish(qt_service_t *self, const char *zmq_topic, const char *kafka_topic,
                       const char *key, qt_env_t *env);
/* Flush the Kafka producer (up to timeout_ms), sending heartbeats while it waits:
 * qt_kproducer_flush semantics (0 all delivered; -1 timeout or a delivery failed). Every
 * service flushes through this, never with a bare blocking flush. */
int qt_service_flush(qt_service_t *self, int timeout_ms);
/* Kafka topic name from services.yml "topics.<logical>" (e.g. "bars" -> "qt.bars"). */
const char *qt_service_topic(qt_service_t *self, const char *logical);
/* Effective kill switch tier, cached for up to 250 ms; fails closed (KS_NO_NEW).
 * A silent watchdog counts as WARN: effective = max(stored tier, WARN) while the
 * watchdog's heartbeat (Redis "qt:hb:qt-watchdog", its publish time) is older than
 * the watchdog SLA (slas.yml services.qt-watchdog.heartbeat_sla_ms, else
 * default_sla_ms, else 5000) or absent, once this service has run for that SLA
 * (start-up grace). Not applied in qt-watchdog itself. Exposed as the gauge
 * qt_killswitch_tier (effective) and qt_watchdog_silent (0/1). */
qt_ks_tier_t qt_service_killswitch(qt_service_t *self);
/* True when the last kill-switch refresh found the watchdog silent (see above). */
bool qt_service_watchdog_silent(const qt_service_t *self);
/* Pure rule behind the above: tier, raised to WARN when silent (UNKNOWN stays as is:
 * callers fail closed on it). */
qt_ks_tier_t qt_service_effective_tier(qt_ks_tier_t stored, bool watchdog_silent);
/* Pure: is a watchdog heartbeat published at hb_time_ms (< 0: none) silent at now_ms?
 * Silent when absent or now - hb_time > sla_ms, unless the service has been up for
 * less than sla_ms (uptime_ms), so a fleet starting together is not WARN. */
bool qt_service_watchdog_is_silent(int64_t hb_time_ms, int64_t now_ms, int64_t sla_ms,
                                   int64_t uptime_ms);
/* A new Kafka consumer for this service (group "<name>"); exits on failure. */
qt_kconsumer_t *qt_service_consumer(qt_service_t *self, const char *group_suffix);
/* Path of a file next to services.yml ("risk.yml" -> "<config_dir>/risk.yml"); static buffer. */
const char *qt_service_config_path(qt_service_t *self, const char *file);

/* Path of `file` next to the services.yml that qt_service_new would load, worked out from
 * the same arguments (--config FILE / --config=FILE, else env QT_CONFIG, else
 * configs/services.yml) WITHOUT connecting to anything: a service validates its own
 * config file with it before qt_service_new (which waits for Kafka), so a bad file exits
 * 2 at once, before anything is touched. */
void qt_service_sibling_config_path(int argc, char **argv, const char *file, char *out,
                                    size_t outlen);

int qt_service_selftest(bool verbose);
#endif
