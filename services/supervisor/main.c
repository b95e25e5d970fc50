/* qt-supervisor: policy engine and modes (daemon). Thin: arguments, policy.yml, the
 * two Kafka inputs that feed the account tracker (qt.fills from the beginning: Fills
 * and exec's batch Watermarks; qt.bars from the beginning: closes for marking), and
 * the evaluation schedule. Every evaluate_every_ms it reads the kill switch, the mode,
 * the risk scale and the heartbeat keys from Redis, evaluates the policies (pure core,
 * supervisor.h), APPLIES the actions that reduce risk (kill switch raise with trigger
 * "policy", mode lowering, risk scale lowering) and records the others as proposals.
 * Every action is stored (sup_store.h) and published as a PolicyAction on ZMQ
 * "ctl.action" + Kafka "audit"; a mode change also as a ModeState on ZMQ "ctl.mode" +
 * Kafka "control" (key "mode"); a kill-switch raise as a KillSwitch on "ctl.killswitch"
 * + "control" (key "killswitch"). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qt_killswitch.h"
#include "qt_service.h"
#include "supervisor/sup_store.h"
#include "supervisor/supervisor.h"

#define SERVICE "qt-supervisor"

typedef struct {
    qt_service_t *svc;
    qt_ks_store_t ks;
    sup_mode_t config_mode;
    sup_record_t *pending;
    size_t n_pending;
    qt_counter_t *c_applied, *c_proposed, *c_failed;
} app_t;

static bool is_pending(void *ctx, const char *policy, const char *action, const char *params)
{
    app_t *a = ctx;
    for (size_t i = 0; i < a->n_pending; i++)
        if (strcmp(a->pending[i].policy, policy) == 0 &&
            strcmp(a->pending[i].action, action) == 0 &&
            strcmp(a->pending[i].params, params) == 0)
            return true;
    return false;
}

static void publish_record(app_t *a, const sup_record_t *rec, int64_t now)
{
    Qt__V1__PolicyAction pa;
    sup_record_to_proto(rec, &pa);
    qt_env_t env;
    qt_env_init(&env, now * 1000000LL);
    env.body_case = QT__V1__ENVELOPE__BODY_ACTION;
    env.action = &pa;
    if (qt_service_publish(a->svc, "ctl.action", qt_service_topic(a->svc, "audit"),
                           rec->action_id, &env) != 0)
        qt_log_once(QT_LOG_WARN, "action_publish_failed", "action_publish_failed", "detail",
                    "Redis holds the record; the audit topic is behind", NULL);
}

/* Applies one risk-reducing action. 0 applied; -1 failed (why filled). A refusal
 * because the state moved on meanwhile (already higher) counts as applied: the
 * state is at least as safe as asked. */
static int apply(app_t *a, const sup_action_t *act, int64_t now, char *why, size_t whylen)
{
    if (act->tier != QT__V1__KILL_SWITCH_TIER__KS_UNKNOWN) {
        qt_ks_state_t st;
        qt_ks_result_t r =
            qt_ks_store_raise(&a->ks, act->tier, "policy", SERVICE, act->reason, now, &st);
        if (r == QT_KS_NOT_HIGHER)
            return 0;
        if (r != QT_KS_RAISED) {
            snprintf(why, whylen, "kill switch raise: %s", qt_ks_result_name(r));
            return -1;
        }
        Qt__V1__KillSwitch ks = QT__V1__KILL_SWITCH__INIT;
        char *names[2] = {NULL, NULL};
        qt_ks_state_to_proto(&st, &ks, names);
        qt_env_t env;
        qt_env_init(&env, now * 1000000LL);
        env.body_case = QT__V1__ENVELOPE__BODY_KILLSWITCH;
        env.killswitch = &ks;
        (void)qt_service_publish(a->svc, "ctl.killswitch", qt_service_topic(a->svc, "control"),
                                 "killswitch", &env);
        return 0;
    }
    if (act->spec.kind == SUP_ACT_SET_MODE) {
        sup_mode_state_t ms;
        sup_mode_result_t r = sup_mode_lower(a->svc->redis, a->config_mode, act->spec.mode,
                                             SERVICE, act->reason, now, &ms);
        if (r == SUP_MODE_NOT_LOWER)
            return 0;
        if (r != SUP_MODE_SET) {
            snprintf(why, whylen, "mode: %s", sup_mode_result_name(r));
            return -1;
        }
        Qt__V1__ModeState pb;
        sup_mode_to_proto(&ms, &pb);
        qt_env_t env;
        qt_env_init(&env, now * 1000000LL);
        env.body_case = QT__V1__ENVELOPE__BODY_MODE;
        env.mode = &pb;
        (void)qt_service_publish(a->svc, "ctl.mode", qt_service_topic(a->svc, "control"), "mode",
                                 &env);
        return 0;
    }
    /* LOWER_RISK / SET_RISK_SCALE (lower only reaches here) */
    double cur = 1.0;
    if (sup_scale_read(a->svc->redis, &cur) == 0 && cur <= act->spec.factor)
        return 0;
    if (sup_scale_write(a->svc->redis, act->spec.factor) != 0) {
        snprintf(why, whylen, "risk scale write failed");
        return -1;
    }
    return 0;
}

/* Services of services.yml (self excluded) whose Redis heartbeat key is gone (it expires
 * after 3 missed intervals). Redis unreachable: 0 (that is the kill switch's job). */
static size_t stale_heartbeats(app_t *a)
{
    size_t n = qt_config_map_len(a->svc->cfg, "services"), stale = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = qt_config_map_key(a->svc->cfg, "services", i);
        if (!name || strcmp(name, SERVICE) == 0)
            continue;
        redisReply *r = qt_redis_cmd(a->svc->redis, "EXISTS qt:hb:%s", name);
        if (r && r->type == REDIS_REPLY_INTEGER && r->integer == 0)
            stale++;
        if (r)
            freeReplyObject(r);
    }
    return stale;
}

static void evaluate(app_t *a, const sup_policies_t *ps, const sup_book_t *book,
                     sup_eval_state_t *es, int64_t now)
{
    sup_inputs_t in;
    memset(&in, 0, sizeof in);
    sup_inputs_from_book(ps, book, &in);
    in.tier = qt_ks_store_read(&a->ks, NULL, NULL);
    sup_mode_state_t ms;
    (void)sup_mode_read(a->svc->redis, a->config_mode, &ms);   /* unreadable: UNKNOWN */
    in.mode = ms.mode;
    if (sup_scale_read(a->svc->redis, &in.risk_scale) != 0)
        in.risk_scale = 1.0;   /* unreadable: a lowering overwrites it with a valid value */
    in.stale_heartbeats = stale_heartbeats(a);
    free(a->pending);
    a->pending = NULL;
    a->n_pending = 0;
    if (sup_record_list(a->svc->redis, true, &a->pending, &a->n_pending) != 0)
        return;   /* cannot tell what is pending: try again next time */
    sup_action_t acts[SUP_MAX_POLICIES * SUP_MAX_ACTIONS];
    size_t n = sup_evaluate(ps, &in, now, es, is_pending, a, acts,
                            sizeof acts / sizeof acts[0]);
    for (size_t i = 0; i < n; i++) {
        sup_record_t rec;
        sup_record_from_action(&acts[i], SERVICE, now, &rec);
        if (acts[i].reduces_risk) {
            char why[200] = "";
            if (apply(a, &acts[i], now, why, sizeof why) != 0) {
                qt_counter_inc(a->c_failed);
                qt_log_once(QT_LOG_ERROR, "action_apply_failed", "action_apply_failed",
                            "action", rec.action, "detail", why, NULL);
                continue;   /* retried at the next evaluation: nothing recorded */
            }
            qt_counter_inc(a->c_applied);
        } else {
            qt_counter_inc(a->c_proposed);
        }
        if (sup_record_put(a->svc->redis, &rec) != 0) {
            qt_log_kv(QT_LOG_ERROR, "action_record_failed", "action_id", rec.action_id, NULL);
            continue;
        }
        qt_log_kv(QT_LOG_WARN, rec.reduces_risk ? "action_applied" : "action_proposed",
                  "action_id", rec.action_id, "action", rec.action, "params", rec.params,
                  "reason", rec.reason, NULL);
        publish_record(a, &rec, now);
    }
    if (n)
        (void)qt_service_flush(a->svc, 5000);
}

static int load_policies(const char *path, sup_policies_t *ps)
{
    char err[600];
    qt_config_t *c = qt_config_load(path, err, sizeof err);
    if (!c) {
        fprintf(stderr, "qt-supervisor: %s\n", err);
        return -1;
    }
    int rc = sup_policies_load(c, ps, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "qt-supervisor: %s\n", err);
    qt_config_destroy(&c);
    return rc;
}

static qt_fixed_t initial_cash(qt_service_t *svc)
{
    char err[512];
    qt_config_t *c = qt_config_load(qt_service_config_path(svc, "exec.yml"), err, sizeof err);
    qt_fixed_t cash = 100000 * QT_FIXED_SCALE;
    if (c) {
        cash = qt_config_money(c, "initial_cash", false, cash);
        if (qt_config_error(c))
            cash = -1;
        qt_config_destroy(&c);
    }
    return cash;
}

int main(int argc, char **argv)
{
    char ppath[4096];
    qt_service_sibling_config_path(argc, argv, "policy.yml", ppath, sizeof ppath);
    sup_policies_t ps;
    if (load_policies(ppath, &ps) != 0)
        return 2;   /* before touching anything */
    int argi = 1;
    qt_service_t *svc = qt_service_new(SERVICE, argc, argv, &argi);
    if (argi < argc) {
        fprintf(stderr, "qt-supervisor: unknown argument '%s'\n", argv[argi]);
        qt_service_destroy(&svc);
        return 2;
    }
    app_t a = {.svc = svc};
    qt_ks_store_redis(&a.ks, svc->redis);
    if (sup_mode_parse(qt_config_str(svc->cfg, "mode", "paper"), &a.config_mode) != 0)
        a.config_mode = SUP_MODE_OFF;   /* qt_service_new already refused anything else */
    ps.initial_cash = initial_cash(svc);
    if (ps.initial_cash <= 0) {
        fprintf(stderr, "qt-supervisor: exec.yml: bad initial_cash\n");
        qt_service_destroy(&svc);
        return 2;
    }
    a.c_applied = qt_metrics_counter(svc->metrics, "qt_supervisor_actions_total",
                                     "Policy actions", "state=\"applied\"");
    a.c_proposed = qt_metrics_counter(svc->metrics, "qt_supervisor_actions_total",
                                      "Policy actions", "state=\"proposed\"");
    a.c_failed = qt_metrics_counter(svc->metrics, "qt_supervisor_apply_failures_total",
                                    "Risk-reducing actions that could not be applied (retried)",
                                    NULL);
    qt_gauge_t *g_eq = qt_metrics_gauge(svc->metrics, "qt_supervisor_equity",
                                        "Paper equity as tracked by the supervisor", NULL);
    const char *fills_topic = qt_service_topic(svc, "fills");
    const char *bars_topic = qt_service_topic(svc, "bars");
    char err[512] = "";
    qt_kconsumer_t *fills = qt_kconsumer_new(svc->brokers, SERVICE, svc->metrics, err, sizeof err);
    qt_kconsumer_t *bars =
        qt_kconsumer_new(svc->brokers, SERVICE "-bars", svc->metrics, err, sizeof err);
    sup_book_t *book = sup_book_new(ps.initial_cash, 100000, 10000);
    if (!fills || !bars || !book || !fills_topic || !bars_topic ||
        qt_kconsumer_assign(fills, fills_topic, QT_OFFSET_BEGINNING) != 0 ||
        qt_kconsumer_assign(bars, bars_topic, QT_OFFSET_BEGINNING) != 0) {
        qt_log_kv(QT_LOG_ERROR, "supervisor_start_failed", "detail", err, NULL);
        qt_kconsumer_destroy(&fills);
        qt_kconsumer_destroy(&bars);
        sup_book_destroy(&book);
        qt_service_destroy(&svc);
        return 1;
    }
    qt_service_set_ready(svc, true);
    char np[16];
    snprintf(np, sizeof np, "%zu", ps.n);
    qt_log_kv(QT_LOG_INFO, "supervisor_started", "policies", np, "policy_file", ppath, NULL);
    sup_eval_state_t es;
    sup_eval_state_init(&es);
    int64_t next_eval = qt_clock_now_ms(svc->clock) + ps.evaluate_every_ms;
    while (qt_service_running(svc)) {
        qt_service_tick(svc);
        int got = 0;
        char topic[QT_TOPIC_MAX];
        for (int i = 0; i < 2000; i++) {   /* bars first: marks before the fills' samples */
            qt_env_t *env = NULL;
            int64_t off;
            if (qt_kconsumer_poll_env(bars, 0, &env, &off, topic, sizeof topic) != 1)
                break;
            got++;
            if (env->body_case == QT__V1__ENVELOPE__BODY_BAR)
                (void)sup_book_on_bar(book, env->bar->symbol, env->bar->open_time_ms,
                                      env->bar->close);
            qt_env_free(env);
        }
        for (int i = 0; i < 2000; i++) {
            qt_env_t *env = NULL;
            int64_t off;
            if (qt_kconsumer_poll_env(fills, i == 0 && !got ? 50 : 0, &env, &off, topic,
                                      sizeof topic) != 1)
                break;
            got++;
            if (env->body_case == QT__V1__ENVELOPE__BODY_FILL) {
                const Qt__V1__Fill *f = env->fill;
                int side = f->side == QT__V1__SIDE__SIDE_BUY ? 1 : -1;
                if (sup_book_on_fill(book, f->fill_id, f->symbol, side, f->qty, f->price,
                                     f->fee) < 0)
                    qt_log_once(QT_LOG_WARN, "fill_rejected", "fill_rejected", "fill_id",
                                f->fill_id ? f->fill_id : "", NULL);
                qt_service_note_processed(svc, env->event_time_ns / 1000000LL);
            } else if (env->body_case == QT__V1__ENVELOPE__BODY_WATERMARK) {
                sup_book_sample(book, env->watermark->event_time_ms);
            }
            qt_env_free(env);
        }
        int64_t now = qt_clock_now_ms(svc->clock);
        if (now >= next_eval) {
            next_eval = now + ps.evaluate_every_ms;
            qt_gauge_set(g_eq, sup_book_equity(book));
            evaluate(&a, &ps, book, &es, now);
        }
    }
    free(a.pending);
    sup_book_destroy(&book);
    qt_kconsumer_destroy(&fills);
    qt_kconsumer_destroy(&bars);
    qt_service_destroy(&svc);
    return 0;
}
