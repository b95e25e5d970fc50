/* qt-recon: rebuilds the paper account from qt.fills (read from the beginning at every
 * start: recon keeps no state of its own) and reconciles it with the broker's
 * Position snapshots on each exec Watermark, and with Redis qt:paper:pos/cash at the
 * end of the stream. Reports go to ZMQ "recon.report", Kafka topic "recon" and Redis
 * qt:recon:last (JSON). While catching up on history only the latest report is
 * published. Raising the kill switch on a desync is a later issue (see recon.md). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec.h"
#include "qt_service.h"
#include "recon/recon.h"

#define SERVICE "qt-recon"

typedef struct {
    qt_service_t *svc;
    recon_t *r;
    qt_counter_t *c_dups, *c_fills, *c_invalid, *c_reports, *c_mismatch;
    qt_gauge_t *g_ok;
} app_t;

static redisReply *redis_cmd(void *ctx, int argc, const char **argv, const size_t *argvlen)
{
    return qt_redis_cmdargv((qt_redis_t *)ctx, argc, argv, argvlen);
}

/* The broker's book straight from Redis (end of stream). */
static void final_redis_check(app_t *a, qt_fixed_t initial_cash, recon_report_t *rep)
{
    exec_store_t *st = exec_store_new_redis(redis_cmd, a->svc->redis, initial_cash);
    exec_position_t *pos = NULL;
    size_t n = 0;
    qt_fixed_t cash = 0;
    if (!st || exec_store_positions(st, &pos, &n) != 0 || exec_store_cash(st, &cash) != 0) {
        size_t used = strlen(rep->detail);
        snprintf(rep->detail + used, sizeof(rep->detail) - used, "%sredis unreadable",
                 used ? "; " : "");
        rep->ok = false;
        rep->mismatches++;
    } else {
        recon_pos_t *rp = calloc(n + 1, sizeof(*rp));
        for (size_t i = 0; rp && i < n; i++) {
            snprintf(rp[i].symbol, sizeof rp[i].symbol, "%s", pos[i].symbol);
            rp[i].qty = pos[i].qty;
        }
        if (rp) {
            recon_check_positions(a->r, rep, rp, n, "redis");
            recon_check_cash(a->r, rep, cash, "redis");
        }
        free(rp);
    }
    free(pos);
    exec_store_destroy(&st);
}

static void publish_report(app_t *a, const recon_report_t *rep, int64_t t_ms)
{
    recon_pb_t pb;
    if (recon_report_to_pb(rep, &pb) != 0)
        return;
    qt_env_t env;
    qt_env_init(&env, t_ms * 1000000LL);
    env.body_case = QT__V1__ENVELOPE__BODY_RECON;
    env.recon = &pb.msg;
    if (qt_service_publish(a->svc, "recon.report", qt_service_topic(a->svc, "recon"), "recon",
                           &env) == 0)
        qt_counter_inc(a->c_reports);
    /* qt_service_publish restores the caller's source after stamping its copies; the
     * Redis copy names its producer too. */
    env.source = (char *)a->svc->instance;
    char *json = qt_env_to_json(&env);
    if (json) {
        redisReply *r = qt_redis_cmd(a->svc->redis, "SET qt:recon:last %s", json);
        if (r)
            freeReplyObject(r);
        free(json);
    }
    recon_pb_free(&pb);
}

int main(int argc, char **argv)
{
    int argi = 1;
    qt_service_t *svc = qt_service_new(SERVICE, argc, argv, &argi);
    if (argi < argc) {
        fprintf(stderr, "qt-recon: unknown argument '%s'\n", argv[argi]);
        qt_service_destroy(&svc);
        return 2;
    }
    /* initial cash of the paper account: configs/exec.yml */
    paper_config_t pc;
    paper_config_defaults(&pc);
    char err[512];
    qt_config_t *ec = qt_config_load(qt_service_config_path(svc, "exec.yml"), err, sizeof err);
    if (!ec) {
        fprintf(stderr, "qt-recon: %s\n", err);
        qt_service_destroy(&svc);
        return 2;
    }
    pc.initial_cash = qt_config_money(ec, "initial_cash", false, pc.initial_cash);
    if (qt_config_error(ec)) {
        fprintf(stderr, "qt-recon: %s\n", qt_config_error(ec));
        qt_config_destroy(&ec);
        qt_service_destroy(&svc);
        return 2;
    }
    qt_config_destroy(&ec);

    app_t a = {.svc = svc, .r = recon_new(pc.initial_cash)};
    qt_metrics_t *m = svc->metrics;
    a.c_dups = qt_metrics_counter(m, "qt_recon_duplicate_fills_total",
                                  "Fills seen again with a known fill_id (dropped)", NULL);
    a.c_fills = qt_metrics_counter(m, "qt_recon_fills_total", "Distinct fills applied", NULL);
    a.c_invalid = qt_metrics_counter(m, "qt_recon_rejected_total", "Invalid fills/positions",
                                     "reason=\"invalid\"");
    a.c_reports = qt_metrics_counter(m, "qt_recon_reports_total", "Reports published", NULL);
    a.c_mismatch = qt_metrics_counter(m, "qt_recon_mismatches_total",
                                      "Symbols found out of sync (per report)", NULL);
    a.g_ok = qt_metrics_gauge(m, "qt_recon_ok", "1 when the last reconciliation matched", NULL);
    qt_gauge_set(a.g_ok, 1);

    const char *fills_topic = qt_service_topic(svc, "fills");
    const char *topics[] = {fills_topic, qt_service_topic(svc, "recon")};
    while (qt_service_running(svc) &&
           qt_kafka_ensure_topics(svc->brokers, topics, NULL, 2, 5000, err, sizeof err) != 0) {
        qt_log_kv(QT_LOG_WARN, "kafka_unavailable", "detail", err, NULL);
        qt_clock_sleep_ns(svc->clock, 1000000000LL);
    }
    qt_kconsumer_t *c = qt_kconsumer_new(svc->brokers, SERVICE, m, err, sizeof err);
    if (!c || qt_kconsumer_assign(c, fills_topic, QT_OFFSET_BEGINNING) != 0) {
        qt_log_kv(QT_LOG_ERROR, "kafka_consumer_failed", "detail", err, NULL);
        qt_kconsumer_destroy(&c);
        recon_destroy(&a.r);
        qt_service_destroy(&svc);
        return 1;
    }
    int64_t hw_start = qt_kafka_high_watermark(c, fills_topic, 5000);
    if (svc->admin)
        qt_admin_set_ready(svc->admin, true);
    char hw[32];
    snprintf(hw, sizeof hw, "%" PRId64, hw_start);
    qt_log_kv(QT_LOG_INFO, "recon_started", "replaying_until_offset", hw, NULL);

    recon_report_t held = {0};
    bool have_held = false;
    int64_t held_t = 0;
    while (qt_service_running(svc)) {
        qt_service_tick(svc);
        qt_env_t *env = NULL;
        int64_t off = 0;
        char topic[QT_TOPIC_MAX];
        int rc = qt_kconsumer_poll_env(c, 100, &env, &off, topic, sizeof topic);
        bool catching_up = rc == 1 && off + 1 < hw_start;
        if (rc != 1) {
            if (have_held) { /* caught up: the latest historical report */
                publish_report(&a, &held, held_t);
                recon_report_free(&held);
                have_held = false;
            }
            continue;
        }
        int64_t ev = env->event_time_ns / 1000000LL;
        if (env->body_case == QT__V1__ENVELOPE__BODY_FILL) {
            int r = recon_on_fill(a.r, env->fill);
            if (r == 1)
                qt_counter_inc(a.c_fills);
            else if (r == 0)
                qt_counter_inc(a.c_dups);
            else
                qt_counter_inc(a.c_invalid);
            qt_service_note_processed(svc, ev);
        } else if (env->body_case == QT__V1__ENVELOPE__BODY_POSITION) {
            if (recon_on_position(a.r, env->position) != 0)
                qt_counter_inc(a.c_invalid);
        } else if (env->body_case == QT__V1__ENVELOPE__BODY_WATERMARK) {
            recon_report_t rep;
            bool eos = env->watermark->end_of_stream;
            if (recon_on_watermark(a.r, eos, &rep) == 0) {
                if (eos && !catching_up)
                    final_redis_check(&a, pc.initial_cash, &rep);
                qt_gauge_set(a.g_ok, rep.ok ? 1 : 0);
                if (rep.mismatches)
                    qt_counter_add(a.c_mismatch, rep.mismatches);
                if (!rep.ok)
                    qt_log_kv(QT_LOG_ERROR, "recon_mismatch", "detail", rep.detail, "final",
                              eos ? "true" : "false", NULL);
                if (catching_up) {
                    recon_report_free(&held);
                    held = rep;
                    held_t = env->watermark->event_time_ms;
                    have_held = true;
                } else {
                    recon_report_free(&held);
                    have_held = false;
                    publish_report(&a, &rep, env->watermark->event_time_ms);
                    recon_report_free(&rep);
                    if (eos) {
                        char fs[32];
                        snprintf(fs, sizeof fs, "%" PRIu64, recon_fills_seen(a.r));
                        qt_log_kv(QT_LOG_INFO, "recon_final", "ok", rep.ok ? "true" : "false",
                                  "fills", fs, NULL);
                    }
                }
            }
        }
        qt_env_free(env);
    }
    recon_report_free(&held);
    qt_kconsumer_destroy(&c);
    recon_destroy(&a.r);
    qt_service_destroy(&svc);
    return 0;
}
