/* qt-watchdog: the dead-man's switch daemon. Its own process and connections: a
 * ZeroMQ SUB on every service's PUB (services.<name>.pub) for "sys.heartbeat.", its own
 * Redis connection for the kill switch. Decisions come from the pure core
 * (watchdog.h) with the wall clock; raising goes through qt_killswitch's store
 * (trigger "watchdog", one compare-and-set on the version, never lowers) to the
 * tier configured for the stale service (slas.yml services.<name>.tier: NO_NEW
 * default, FLATTEN_ALL for qt-exec / qt-risk) and is announced on ZMQ
 * "ctl.killswitch" and Kafka topic "control" (key "killswitch"). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qt_killswitch.h"
#include "qt_service.h"
#include "watchdog/watchdog.h"

#define SERVICE "qt-watchdog"

int main(int argc, char **argv)
{
    int argi = 1;
    qt_service_t *svc = qt_service_new(SERVICE, argc, argv, &argi);
    if (argi < argc) {
        fprintf(stderr, "qt-watchdog: unknown argument '%s'\n", argv[argi]);
        qt_service_destroy(&svc);
        return 2;
    }
    char err[512];
    const char *slas_path = qt_service_config_path(svc, "slas.yml");
    char slas_file[1024];
    snprintf(slas_file, sizeof slas_file, "%s", slas_path);
    qt_config_t *sc = qt_config_load(slas_file, err, sizeof err);
    if (!sc) {
        fprintf(stderr, "qt-watchdog: %s\n", err);
        qt_service_destroy(&svc);
        return 2;
    }
    int64_t dflt_sla = qt_config_int(sc, "default_sla_ms", false, 5000, 1, 86400000);
    bool dflt_req = qt_config_bool(sc, "default_required", false, false);
    int64_t every = qt_config_int(sc, "evaluate_every_ms", false, 100, 10, 60000);
    int64_t grace = qt_config_has(sc, "grace_ms")
                        ? qt_config_int(sc, "grace_ms", true, 0, 0, 86400000)
                        : -1;
    size_t nsvc = qt_config_map_len(svc->cfg, "services");
    watchdog_sla_t *slas = calloc(nsvc + 1, sizeof(*slas));
    qt_sub_t *sub = qt_sub_new(svc->metrics);
    size_t n = 0;
    for (size_t i = 0; slas && sub && i < nsvc; i++) {
        const char *name = qt_config_map_key(svc->cfg, "services", i);
        if (!name || strcmp(name, SERVICE) == 0)
            continue;
        char path[256];
        snprintf(path, sizeof path, "services.%s.pub", name);
        const char *ep = qt_config_str(svc->cfg, path, NULL);
        snprintf(path, sizeof path, "services.%s.heartbeat_sla_ms", name);
        int64_t sla = qt_config_int(sc, path, false, dflt_sla, 1, 86400000);
        snprintf(path, sizeof path, "services.%s.required", name);
        bool req = qt_config_bool(sc, path, false, dflt_req);
        snprintf(path, sizeof path, "services.%s.tier", name);
        const char *tname = qt_config_str(sc, path, "NO_NEW");
        qt_ks_tier_t tier = QT__V1__KILL_SWITCH_TIER__KS_NO_NEW;
        if (qt_ks_tier_parse(tname, &tier) != 0 ||
            (tier != QT__V1__KILL_SWITCH_TIER__KS_NO_NEW &&
             tier != QT__V1__KILL_SWITCH_TIER__KS_FLATTEN_ALL)) {
            fprintf(stderr, "qt-watchdog: %s: key '%s': expected NO_NEW or FLATTEN_ALL, got '%s'\n",
                    slas_file, path, tname);
            free(slas);
            qt_sub_destroy(&sub);
            qt_config_destroy(&sc);
            qt_service_destroy(&svc);
            return 2;
        }
        if (strlen(name) > WATCHDOG_NAME_MAX || !ep || !*ep)
            continue;
        snprintf(slas[n].service, sizeof slas[n].service, "%s", name);
        slas[n].sla_ms = sla;
        slas[n].required = req;
        slas[n].tier = tier;
        n++;
        if (qt_sub_connect(sub, ep) != 0)
            qt_log_kv(QT_LOG_WARN, "sub_connect_failed", "service", name, "endpoint", ep, NULL);
    }
    const char *cerr = qt_config_error(sc) ? qt_config_error(sc) : qt_config_error(svc->cfg);
    if (cerr || !slas || !sub) {
        fprintf(stderr, "qt-watchdog: %s\n", cerr ? cerr : "out of memory");
        free(slas);
        qt_sub_destroy(&sub);
        qt_config_destroy(&sc);
        qt_service_destroy(&svc);
        return 2;
    }
    qt_config_destroy(&sc);
    qt_sub_subscribe(sub, "sys.heartbeat.");

    int64_t start = qt_clock_now_ms(svc->clock);
    watchdog_t *w = watchdog_new(slas, n, grace, start);
    free(slas);
    if (!w) {
        fprintf(stderr, "qt-watchdog: bad SLA table in %s\n", slas_file);
        qt_sub_destroy(&sub);
        qt_service_destroy(&svc);
        return 2;
    }
    qt_counter_t *c_trig = qt_metrics_counter(svc->metrics, "qt_watchdog_triggers_total",
                                              "Kill-switch raises by the watchdog", NULL);
    qt_counter_t *c_fail = qt_metrics_counter(svc->metrics, "qt_watchdog_trigger_failures_total",
                                              "Kill-switch writes that failed (retried)", NULL);
    qt_gauge_t *g_stale = qt_metrics_gauge(svc->metrics, "qt_watchdog_stale_services",
                                           "Services whose heartbeat is past its SLA", NULL);
    qt_counter_t *c_hb = qt_metrics_counter(svc->metrics, "qt_watchdog_heartbeats_total",
                                            "Heartbeats received", NULL);
    const char *control = qt_service_topic(svc, "control");
    const char *topics[] = {control};
    const bool compacted[] = {true};
    if (qt_kafka_ensure_topics(svc->brokers, topics, compacted, 1, 5000, err, sizeof err) != 0)
        qt_log_kv(QT_LOG_WARN, "kafka_unavailable", "detail", err, NULL);
    if (svc->admin)
        qt_admin_set_ready(svc->admin, true);
    char ns[32];
    snprintf(ns, sizeof ns, "%zu", n);
    qt_log_kv(QT_LOG_INFO, "watchdog_started", "watched", ns, NULL);

    qt_ks_store_t store;
    qt_ks_store_redis(&store, svc->redis);
    int64_t next_eval = start;
    while (qt_service_running(svc)) {
        qt_service_tick(svc);
        char topic[QT_TOPIC_MAX];
        qt_env_t *env = NULL;
        int r = qt_sub_recv(sub, (int)every, topic, sizeof topic, &env);
        int64_t now = qt_clock_now_ms(svc->clock);
        if (r == 1) {
            if (env->body_case == QT__V1__ENVELOPE__BODY_HEARTBEAT && env->heartbeat->service) {
                qt_counter_inc(c_hb);
                (void)watchdog_heartbeat(w, env->heartbeat->service, now);
                qt_service_note_processed(svc, now);
            }
            qt_env_free(env);
        }
        if (now < next_eval)
            continue;
        next_eval = now + every;
        /* fail closed: an unreadable state reads as NO_NEW (a FLATTEN_ALL service still
         * raises over it; the store then replaces the unreadable state) */
        Qt__V1__KillSwitchTier tier = qt_ks_store_read(&store, NULL, NULL);
        watchdog_decision_t d;
        watchdog_evaluate(w, now, tier, &d);
        qt_gauge_set(g_stale, (double)d.stale);
        if (!d.raise)
            continue;
        qt_ks_state_t st;
        qt_ks_result_t res =
            qt_ks_store_raise(&store, d.tier, "watchdog", SERVICE, d.reason, now, &st);
        if (res == QT_KS_NOT_HIGHER)
            continue;   /* someone raised it meanwhile: nothing to do */
        if (res != QT_KS_RAISED) {
            qt_counter_inc(c_fail);
            qt_log_once(QT_LOG_ERROR, "watchdog_write_failed", "killswitch_write_failed",
                        "reason", d.reason, "result", qt_ks_result_name(res), NULL);
            continue;
        }
        qt_counter_inc(c_trig);
        qt_log_kv(QT_LOG_ERROR, "killswitch_raised", "tier", qt_ks_tier_name(d.tier), "reason",
                  d.reason, "service", d.service, NULL);
        Qt__V1__KillSwitch ks = QT__V1__KILL_SWITCH__INIT;
        char *names[2] = {NULL, NULL};
        qt_ks_state_to_proto(&st, &ks, names);
        qt_env_t kenv;
        qt_env_init(&kenv, now * 1000000LL);
        kenv.body_case = QT__V1__ENVELOPE__BODY_KILLSWITCH;
        kenv.killswitch = &ks;
        if (qt_service_publish(svc, "ctl.killswitch", control, "killswitch", &kenv) != 0 ||
            qt_service_flush(svc, 5000) != 0)
            qt_log_kv(QT_LOG_WARN, "killswitch_publish_failed", "detail",
                      "Redis holds the state; the control topic mirror is behind", NULL);
    }
    watchdog_destroy(&w);
    qt_sub_destroy(&sub);
    qt_service_destroy(&svc);
    return 0;
}
