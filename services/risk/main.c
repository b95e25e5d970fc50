/* qt-risk: TargetPortfolio (Kafka "targets") -> RiskDecision (ZeroMQ "risk.decision",
 * Kafka "decisions" key symbol) for every order considered, and OrderIntent
 * ("risk.intent", Kafka "intents" key symbol) for every approved one; then the batch's
 * Watermark ("risk.watermark", Kafka "intents" key "watermark").
 *
 * Thin on purpose: arguments, config (configs/risk.yml, validated before anything
 * else happens), the kill-switch read (qt_service_killswitch: cached, fails closed),
 * metrics and protobuf conversion. The limits are in risk.c; the consume /
 * checkpoint / SIGTERM loop is qt_stage_run. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qt_stage.h"
#include "risk.h"

static const char *const CODES[] = {RISK_CODE_KILL_SWITCH, RISK_CODE_MAX_POSITION_NOTIONAL,
                                    RISK_CODE_MAX_GROSS_EXPOSURE, RISK_CODE_MAX_OPEN_POSITIONS,
                                    RISK_CODE_MIN_TRADE_NOTIONAL, RISK_CODE_INSUFFICIENT_CASH,
                                    RISK_CODE_EQUITY_DEPLETED, RISK_CODE_STALE_DATA,
                                    RISK_CODE_PRICE_BAND, RISK_CODE_COOLDOWN,
                                    RISK_CODE_DAILY_LOSS, RISK_CODE_MAX_DRAWDOWN,
                                    RISK_CODE_ORDER_RATE, RISK_CODE_FIXED_FRACTIONAL,
                                    RISK_CODE_VOL_TARGET, RISK_CODE_KELLY_CEILING};
#define N_CODES (sizeof CODES / sizeof CODES[0])

typedef struct {
    risk_t *core;
    qt_counter_t *approved, *rejected, *dup_target, *dup_wm, *invalid, *skipped_min, *skipped_band,
        *ignored;
    qt_counter_t *rejects[N_CODES], *clipped[N_CODES];
    qt_gauge_t *gross, *open, *cash, *equity;
    uint64_t intents_in_batch;
} app_t;

static bool ms_to_ns(int64_t ms, int64_t *ns)
{
    if (ms < 0 || ms > INT64_MAX / 1000000)
        return false;
    *ns = ms * 1000000;
    return true;
}

static size_t code_index(const char *code)
{
    for (size_t i = 0; i < N_CODES; i++)
        if (strcmp(CODES[i], code) == 0)
            return i;
    return 0;
}

static int publish_decision(qt_service_t *svc, const risk_decision_t *d, int64_t event_ns)
{
    Qt__V1__RejectReason rr[RISK_MAX_REASONS], *rrp[RISK_MAX_REASONS];
    for (size_t i = 0; i < d->n_reasons; i++) {
        Qt__V1__RejectReason init = QT__V1__REJECT_REASON__INIT;
        rr[i] = init;
        rr[i].code = (char *)d->reasons[i].code;
        rr[i].detail = (char *)d->reasons[i].detail;
        rr[i].value = d->reasons[i].value;
        rr[i].limit = d->reasons[i].limit;
        rrp[i] = &rr[i];
    }
    Qt__V1__RiskDecision rd = QT__V1__RISK_DECISION__INIT;
    rd.intent_id = (char *)d->intent_id;
    rd.symbol = (char *)d->symbol;
    rd.approved = d->approved;
    rd.requested_qty = d->requested_qty;
    rd.approved_qty = d->approved_qty;
    rd.side = d->side;
    rd.n_reasons = d->n_reasons;
    rd.reasons = d->n_reasons ? rrp : NULL;
    rd.bar_time_ms = d->bar_time_ms;
    rd.killswitch_tier = (int32_t)d->tier;
    qt_env_t env;
    qt_env_init(&env, event_ns);
    env.body_case = QT__V1__ENVELOPE__BODY_DECISION;
    env.decision = &rd;
    return qt_service_publish(svc, "risk.decision", qt_service_topic(svc, "decisions"),
                              d->symbol, &env);
}

static int publish_intent(qt_service_t *svc, const risk_decision_t *d, int64_t event_ns)
{
    Qt__V1__OrderIntent oi = QT__V1__ORDER_INTENT__INIT;
    oi.intent_id = (char *)d->intent_id;
    oi.symbol = (char *)d->symbol;
    oi.side = d->side;
    oi.qty = d->approved_qty;
    oi.ref_price = d->ref_price;
    oi.bar_time_ms = d->bar_time_ms;
    oi.reduce_only = d->reduce_only;
    oi.reason = (char *)d->intent_reason;
    qt_env_t env;
    qt_env_init(&env, event_ns);
    env.body_case = QT__V1__ENVELOPE__BODY_INTENT;
    env.intent = &oi;
    return qt_service_publish(svc, "risk.intent", qt_service_topic(svc, "intents"), d->symbol,
                              &env);
}

static void log_decision(const risk_decision_t *d)
{
    char req[QT_FIXED_STRLEN], appr[QT_FIXED_STRLEN], px[QT_FIXED_STRLEN];
    qt_fixed_format(d->requested_qty, req, sizeof req);
    qt_fixed_format(d->approved_qty, appr, sizeof appr);
    qt_fixed_format(d->ref_price, px, sizeof px);
    const char *code = d->n_reasons ? d->reasons[d->n_reasons - 1].code : "";
    char val[QT_FIXED_STRLEN] = "", lim[QT_FIXED_STRLEN] = "";
    if (d->n_reasons) {
        qt_fixed_format(d->reasons[d->n_reasons - 1].value, val, sizeof val);
        qt_fixed_format(d->reasons[d->n_reasons - 1].limit, lim, sizeof lim);
    }
    qt_log_kv(d->approved ? QT_LOG_INFO : QT_LOG_WARN,
              d->approved ? "intent_approved" : "intent_rejected", "intent_id", d->intent_id,
              "side", risk_side_name(d->side), "requested_qty", req, "approved_qty", appr,
              "ref_price", px, "code", code, "value", val, "limit", lim, NULL);
}

static void update_gauges(app_t *app)
{
    qt_fixed_t gross;
    if (risk_gross_exposure(app->core, &gross))
        qt_gauge_set(app->gross, qt_fixed_to_double(gross));
    qt_gauge_set(app->open, (double)risk_open_positions(app->core));
    qt_gauge_set(app->cash, qt_fixed_to_double(risk_cash(app->core)));
    qt_fixed_t equity;
    if (risk_equity(app->core, &equity))
        qt_gauge_set(app->equity, qt_fixed_to_double(equity));
}

static qt_stage_result_t on_target(app_t *app, qt_service_t *svc,
                                   const Qt__V1__TargetPortfolio *tp)
{
    int64_t event_ns;
    if (!ms_to_ns(tp->bar_time_ms, &event_ns) || tp->n_positions > RISK_MAX_SYMBOLS) {
        qt_counter_inc(app->invalid);
        qt_log_once(QT_LOG_WARN, "risk_bad_target", "target_dropped", "reason",
                    "bar time out of range or too many positions", NULL);
        return QT_STAGE_CONTINUE;
    }
    risk_target_pos_t *pos = NULL;
    if (tp->n_positions > 0) {
        pos = calloc(tp->n_positions, sizeof *pos);
        if (!pos) {
            qt_log_kv(QT_LOG_ERROR, "out_of_memory", "where", "on_target", NULL);
            return QT_STAGE_FATAL;
        }
    }
    bool symbols_ok = true;
    for (size_t i = 0; i < tp->n_positions; i++) {
        const Qt__V1__TargetPosition *p = tp->positions[i];
        size_t len = p && p->symbol ? strlen(p->symbol) : 0;
        if (len == 0 || len > RISK_SYMBOL_MAX) {
            symbols_ok = false;
            break;
        }
        memcpy(pos[i].symbol, p->symbol, len + 1);
        pos[i].weight = p->weight;
        pos[i].ref_price = p->ref_price;
    }
    risk_status_t st = RISK_INVALID;
    risk_result_t res = {0};
    Qt__V1__KillSwitchTier tier = QT__V1__KILL_SWITCH_TIER__KS_UNKNOWN;
    if (symbols_ok) {
        tier = qt_service_killswitch(svc);
        risk_target_t t = {.bar_time_ms = tp->bar_time_ms, .positions = pos,
                           .n_positions = tp->n_positions};
        st = risk_on_target(app->core, &t, tier, &res);
    }
    free(pos);
    switch (st) {
    case RISK_DUPLICATE:
        qt_counter_inc(app->dup_target);
        qt_log_once(QT_LOG_INFO, "risk_dup_target", "target_duplicate", "reason",
                    "bar time <= last processed target (replay)", NULL);
        return QT_STAGE_CONTINUE;
    case RISK_INVALID:
        qt_counter_inc(app->invalid);
        qt_log_once(QT_LOG_WARN, "risk_invalid_target", "target_dropped", "reason",
                    "bad symbol, weight or price, repeated symbol, or out of fixed-point range",
                    NULL);
        return QT_STAGE_CONTINUE;
    case RISK_ERROR:
        /* The core left its state unchanged; nothing was published. */
        qt_log_kv(QT_LOG_ERROR, "target_failed", "reason", "out of memory", NULL);
        return QT_STAGE_FATAL;
    case RISK_OK:
        break;
    }
    qt_counter_add(app->skipped_min, res.skipped_min_notional);
    qt_counter_add(app->skipped_band, res.skipped_band);
    for (size_t i = 0; i < res.n_decisions; i++) {
        const risk_decision_t *d = &res.decisions[i];
        if (publish_decision(svc, d, event_ns) != 0 ||
            (d->approved && publish_intent(svc, d, event_ns) != 0)) {
            /* No checkpoint: the restart restores the state before this target and
             * re-emits identical events (downstream drops what it already has). */
            qt_log_kv(QT_LOG_ERROR, "publish_failed", "intent_id", d->intent_id, NULL);
            risk_result_free(&res);
            return QT_STAGE_FATAL;
        }
        log_decision(d);
        if (d->approved) {
            qt_counter_inc(app->approved);
            app->intents_in_batch++;
            for (size_t k = 0; k < d->n_reasons; k++)
                qt_counter_inc(app->clipped[code_index(d->reasons[k].code)]);
        } else {
            qt_counter_inc(app->rejected);
            for (size_t k = 0; k < d->n_reasons; k++)
                qt_counter_inc(app->rejects[code_index(d->reasons[k].code)]);
        }
    }
    risk_result_free(&res);
    update_gauges(app);
    return QT_STAGE_CONTINUE;
}

static qt_stage_result_t on_watermark(app_t *app, qt_service_t *svc,
                                      const Qt__V1__Watermark *wm)
{
    const bool eos = wm->end_of_stream;
    int64_t event_ns;
    if (!ms_to_ns(wm->event_time_ms, &event_ns)) {
        qt_counter_inc(app->invalid);
        return QT_STAGE_CONTINUE;
    }
    if (!risk_on_watermark(app->core, wm->event_time_ms)) {
        qt_counter_inc(app->dup_wm);
        return eos ? QT_STAGE_DONE : QT_STAGE_CONTINUE;
    }
    Qt__V1__Watermark out = QT__V1__WATERMARK__INIT;
    out.stream = wm->stream;
    out.event_time_ms = wm->event_time_ms;
    out.end_of_stream = eos;
    out.count = app->intents_in_batch;
    qt_env_t env;
    qt_env_init(&env, event_ns);
    env.body_case = QT__V1__ENVELOPE__BODY_WATERMARK;
    env.watermark = &out;
    if (qt_service_publish(svc, "risk.watermark", qt_service_topic(svc, "intents"),
                           "watermark", &env) != 0) {
        qt_log_kv(QT_LOG_ERROR, "publish_failed", "what", "watermark", NULL);
        return QT_STAGE_FATAL;
    }
    app->intents_in_batch = 0;
    if (eos)
        qt_log_kv(QT_LOG_INFO, "end_of_stream", "stream", wm->stream ? wm->stream : "", NULL);
    return eos ? QT_STAGE_DONE : QT_STAGE_CHECKPOINT;
}

static qt_stage_result_t on_event(void *ctx, qt_service_t *svc, const qt_env_t *env)
{
    app_t *app = ctx;
    switch (env->body_case) {
    case QT__V1__ENVELOPE__BODY_TARGET:
        return on_target(app, svc, env->target);
    case QT__V1__ENVELOPE__BODY_WATERMARK:
        return on_watermark(app, svc, env->watermark);
    default:
        qt_counter_inc(app->ignored);
        qt_log_once(QT_LOG_WARN, "risk_ignored", "event_ignored", "body",
                    qt_env_body_name(env), NULL);
        return QT_STAGE_CONTINUE;
    }
}

static void on_save(void *ctx, qt_buf_t *out)
{
    risk_save(((app_t *)ctx)->core, out);
}

static bool on_load(void *ctx, qt_reader_t *r)
{
    app_t *app = ctx;
    if (!risk_load(app->core, r))
        return false;
    app->intents_in_batch = 0;
    update_gauges(app);
    return true;
}

/* Reads and validates configs/risk.yml; false (message on stderr) when bad. */
static bool load_config(const char *path, risk_config_t *cfg)
{
    risk_config_defaults(cfg);
    char err[512];
    qt_config_t *yml = qt_config_load(path, err, sizeof err);
    if (!yml) {
        fprintf(stderr, "qt-risk: %s\n", err);
        return false;
    }
    risk_config_read(yml, cfg);
    bool ok = true;
    if (qt_config_error(yml)) {
        fprintf(stderr, "qt-risk: %s\n", qt_config_error(yml));
        ok = false;
    } else {
        const char *why = risk_config_check(cfg);
        if (why) {
            fprintf(stderr, "qt-risk: %s: %s\n", path, why);
            ok = false;
        }
    }
    qt_config_destroy(&yml);
    return ok;
}

int main(int argc, char **argv)
{
    char path[1024];
    qt_service_sibling_config_path(argc, argv, "risk.yml", path, sizeof path);
    risk_config_t cfg;
    if (!load_config(path, &cfg))
        return 2;
    int argi = 1;
    qt_service_t *svc = qt_service_new("qt-risk", argc, argv, &argi);
    if (argi < argc) {
        fprintf(stderr, "qt-risk: unknown argument '%s'\n", argv[argi]);
        qt_service_destroy(&svc);
        return 2;
    }
    app_t app;
    memset(&app, 0, sizeof app);
    app.core = risk_new(&cfg);
    if (!app.core) {
        qt_service_destroy(&svc);
        return 1;
    }
    qt_metrics_t *m = svc->metrics;
    app.approved = qt_metrics_counter(m, "qt_risk_decisions_total", "Risk decisions",
                                      "result=\"approved\"");
    app.rejected = qt_metrics_counter(m, "qt_risk_decisions_total", "Risk decisions",
                                      "result=\"rejected\"");
    for (size_t i = 0; i < N_CODES; i++) {
        char labels[64];
        snprintf(labels, sizeof labels, "code=\"%s\"", CODES[i]);
        app.rejects[i] = qt_metrics_counter(m, "qt_risk_rejects_total",
                                            "Reasons on rejected decisions", labels);
        app.clipped[i] = qt_metrics_counter(m, "qt_risk_clipped_total",
                                            "Reasons on approved but reduced decisions", labels);
    }
    app.dup_target = qt_metrics_counter(m, "qt_risk_duplicates_total",
                                        "Replayed inputs dropped", "kind=\"target\"");
    app.dup_wm = qt_metrics_counter(m, "qt_risk_duplicates_total", "Replayed inputs dropped",
                                    "kind=\"watermark\"");
    app.invalid = qt_metrics_counter(m, "qt_risk_invalid_total", "Invalid targets dropped",
                                     NULL);
    app.skipped_min = qt_metrics_counter(m, "qt_risk_skipped_total",
                                         "Deltas below min_trade_notional (no order)",
                                         "reason=\"min_trade_notional\"");
    app.skipped_band = qt_metrics_counter(m, "qt_risk_skipped_total",
                                          "Deltas inside the rebalance band (no order)",
                                          "reason=\"rebalance_band\"");
    app.ignored = qt_metrics_counter(m, "qt_risk_ignored_total",
                                     "Events of other types on the input topic", NULL);
    app.gross = qt_metrics_gauge(m, "qt_risk_gross_exposure", "Gross exposure (quote)", NULL);
    app.open = qt_metrics_gauge(m, "qt_risk_open_positions", "Open positions", NULL);
    app.cash = qt_metrics_gauge(m, "qt_risk_cash_est", "Estimated cash (quote)", NULL);
    app.equity = qt_metrics_gauge(m, "qt_risk_equity_est", "Estimated equity (quote)", NULL);

    char cap[QT_FIXED_STRLEN], mpn[QT_FIXED_STRLEN], mge[QT_FIXED_STRLEN], mop[16], bps[24],
        band[32];
    qt_fixed_format(cfg.capital, cap, sizeof cap);
    qt_fixed_format(cfg.max_position_notional, mpn, sizeof mpn);
    qt_fixed_format(cfg.max_gross_exposure, mge, sizeof mge);
    snprintf(mop, sizeof mop, "%" PRIu32, cfg.max_open_positions);
    snprintf(bps, sizeof bps, "%" PRId64, cfg.cost_buffer_bps);
    snprintf(band, sizeof band, "%g", cfg.rebalance_band);
    qt_log_kv(QT_LOG_INFO, "config", "initial_capital", cap, "cost_buffer_bps", bps,
              "rebalance_band", band, "max_position_notional", mpn, "max_gross_exposure", mge,
              "max_open_positions", mop, NULL);

    const qt_stage_ops_t ops = {.on_event = on_event, .save = on_save, .load = on_load,
                                .idle = NULL};
    int rc = qt_stage_run(svc, "targets", &ops, &app);
    risk_destroy(&app.core);
    qt_service_destroy(&svc);
    return rc;
}
