/* qt-optimizer: Signals (Kafka "signals") -> TargetPortfolio (ZeroMQ "opt.target",
 * Kafka "targets" key "target"), then the batch's Watermark ("opt.watermark", Kafka
 * "targets" key "watermark").
 *
 * Thin on purpose: arguments, config (configs/optimizer.yml), metrics, protobuf
 * conversion. The batch logic and the weights are in optimizer.c; the consume /
 * checkpoint / SIGTERM loop is qt_stage_run. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optimizer.h"
#include "qt_stage.h"

#define OUT_LOGICAL "targets"

typedef struct {
    optimizer_t *core;
    qt_counter_t *targets, *duplicates, *stale, *superseded, *ignored;
    qt_counter_t *inv_symbol, *inv_number, *inv_time;
    qt_counter_t *skip_vol, *skip_price, *skip_score, *skip_not_ready;
    qt_gauge_t *solve_ms, *positions, *gross;
    uint64_t superseded_seen;
} app_t;

/* ms -> ns without overflow; false for times no real event can have. */
static bool ms_to_ns(int64_t ms, int64_t *ns)
{
    if (ms < 0 || ms > INT64_MAX / 1000000)
        return false;
    *ns = ms * 1000000;
    return true;
}

static void note_superseded(app_t *app)
{
    uint64_t now = optimizer_superseded(app->core);
    if (now > app->superseded_seen) {
        qt_counter_add(app->superseded, now - app->superseded_seen);
        qt_log_once(QT_LOG_WARN, "optimizer_superseded", "batch_superseded", "reason",
                    "signals of a batch whose watermark never came were dropped", NULL);
        app->superseded_seen = now;
    }
}

static qt_stage_result_t on_signal(app_t *app, const Qt__V1__Signal *s)
{
    optimizer_signal_t sig;
    memset(&sig, 0, sizeof sig);
    size_t len = s->symbol ? strlen(s->symbol) : 0;
    if (len == 0 || len > OPTIMIZER_SYMBOL_MAX) {
        qt_counter_inc(app->inv_symbol);
        qt_log_once(QT_LOG_WARN, "optimizer_bad_symbol", "signal_dropped", "reason",
                    "bad symbol", NULL);
        return QT_STAGE_CONTINUE;
    }
    memcpy(sig.symbol, s->symbol, len + 1);
    sig.bar_time_ms = s->bar_time_ms;
    sig.score = s->score;
    sig.volatility = s->volatility;
    sig.close = s->close;
    sig.ready = s->ready;
    switch (optimizer_on_signal(app->core, &sig)) {
    case OPT_SIG_ACCEPTED:
        break;
    case OPT_SIG_STALE:
        qt_counter_inc(app->stale);
        qt_log_once(QT_LOG_INFO, "optimizer_stale", "signal_stale", "symbol", sig.symbol,
                    "reason", "bar time of an emitted or older batch (replay)", NULL);
        break;
    case OPT_SIG_INVALID:
        qt_counter_inc(app->inv_number);
        qt_log_once(QT_LOG_WARN, "optimizer_invalid", "signal_dropped", "symbol", sig.symbol,
                    "reason", "non-finite number or batch full", NULL);
        break;
    case OPT_SIG_ERROR:
        qt_log_kv(QT_LOG_ERROR, "out_of_memory", "where", "optimizer_on_signal", NULL);
        return QT_STAGE_FATAL;
    }
    note_superseded(app);
    return QT_STAGE_CONTINUE;
}

static int publish_target(app_t *app, qt_service_t *svc, const optimizer_target_t *t,
                          double solve_ms, int64_t event_ns)
{
    Qt__V1__TargetPortfolio tp = QT__V1__TARGET_PORTFOLIO__INIT;
    Qt__V1__TargetPosition *items = NULL, **ptrs = NULL;
    if (t->n_positions > 0) {
        items = calloc(t->n_positions, sizeof *items);
        ptrs = calloc(t->n_positions, sizeof *ptrs);
        if (!items || !ptrs) {
            free(items);
            free(ptrs);
            return -1;
        }
    }
    double gross = 0.0;
    for (size_t i = 0; i < t->n_positions; i++) {
        Qt__V1__TargetPosition init = QT__V1__TARGET_POSITION__INIT;
        items[i] = init;
        items[i].symbol = (char *)t->positions[i].symbol;
        items[i].weight = t->positions[i].weight;
        items[i].ref_price = t->positions[i].ref_price;
        ptrs[i] = &items[i];
        gross += t->positions[i].weight;
    }
    tp.bar_time_ms = t->bar_time_ms;
    tp.solver = (char *)"inverse_vol";
    tp.n_positions = t->n_positions;
    tp.positions = ptrs;
    tp.solve_ms = solve_ms;
    tp.breaker_state = (char *)"closed";
    tp.signals = t->signals;
    qt_env_t env;
    qt_env_init(&env, event_ns);
    env.body_case = QT__V1__ENVELOPE__BODY_TARGET;
    env.target = &tp;
    int rc = qt_service_publish(svc, "opt.target", qt_service_topic(svc, OUT_LOGICAL),
                                "target", &env);
    free(items);
    free(ptrs);
    qt_gauge_set(app->solve_ms, solve_ms / 1000.0);
    qt_gauge_set(app->positions, (double)t->n_positions);
    qt_gauge_set(app->gross, gross);
    return rc;
}

static qt_stage_result_t on_watermark(app_t *app, qt_service_t *svc,
                                      const Qt__V1__Watermark *wm)
{
    const bool eos = wm->end_of_stream;
    int64_t event_ns;
    if (!ms_to_ns(wm->event_time_ms, &event_ns)) {
        qt_counter_inc(app->inv_time);
        qt_log_once(QT_LOG_WARN, "optimizer_bad_wm", "watermark_dropped", "reason",
                    "event time out of range", NULL);
        return QT_STAGE_CONTINUE;
    }
    int64_t t0 = qt_clock_mono_ns(svc->clock);
    optimizer_target_t t;
    switch (optimizer_on_watermark(app->core, wm->event_time_ms, &t)) {
    case OPT_WM_DUPLICATE:
        qt_counter_inc(app->duplicates);
        qt_log_once(QT_LOG_INFO, "optimizer_dup_wm", "watermark_duplicate", "reason",
                    "batch already emitted (replay)", NULL);
        return eos ? QT_STAGE_DONE : QT_STAGE_CONTINUE;
    case OPT_WM_ERROR:
        qt_log_kv(QT_LOG_ERROR, "out_of_memory", "where", "optimizer_on_watermark", NULL);
        return QT_STAGE_FATAL;
    case OPT_WM_EMIT:
        break;
    }
    double solve_ms = (double)(qt_clock_mono_ns(svc->clock) - t0) / 1e6;
    note_superseded(app);
    qt_counter_add(app->skip_vol, t.skipped_vol);
    qt_counter_add(app->skip_price, t.skipped_price);
    qt_counter_add(app->skip_score, t.below_score);
    qt_counter_add(app->skip_not_ready, t.not_ready);
    if (t.skipped_vol > 0)
        qt_log_once(QT_LOG_WARN, "optimizer_skip_vol", "signal_skipped", "reason",
                    "volatility <= 0", NULL);
    int rc = publish_target(app, svc, &t, solve_ms, event_ns);
    optimizer_target_free(&t);
    if (rc != 0) {
        /* Not checkpointed: after the restart the batch is replayed and re-emitted. */
        qt_log_kv(QT_LOG_ERROR, "publish_failed", "what", "target", NULL);
        return QT_STAGE_FATAL;
    }
    qt_counter_inc(app->targets);

    Qt__V1__Watermark out = QT__V1__WATERMARK__INIT;
    out.stream = wm->stream;
    out.event_time_ms = wm->event_time_ms;
    out.end_of_stream = eos;
    out.count = 1;   /* one target per batch */
    qt_env_t env;
    qt_env_init(&env, event_ns);
    env.body_case = QT__V1__ENVELOPE__BODY_WATERMARK;
    env.watermark = &out;
    if (qt_service_publish(svc, "opt.watermark", qt_service_topic(svc, OUT_LOGICAL),
                           "watermark", &env) != 0) {
        qt_log_kv(QT_LOG_ERROR, "publish_failed", "what", "watermark", NULL);
        return QT_STAGE_FATAL;
    }
    if (eos)
        qt_log_kv(QT_LOG_INFO, "end_of_stream", "stream", wm->stream ? wm->stream : "", NULL);
    return eos ? QT_STAGE_DONE : QT_STAGE_CHECKPOINT;
}

static qt_stage_result_t on_event(void *ctx, qt_service_t *svc, const qt_env_t *env)
{
    app_t *app = ctx;
    switch (env->body_case) {
    case QT__V1__ENVELOPE__BODY_SIGNAL:
        return on_signal(app, env->signal);
    case QT__V1__ENVELOPE__BODY_WATERMARK:
        return on_watermark(app, svc, env->watermark);
    default:
        qt_counter_inc(app->ignored);
        qt_log_once(QT_LOG_WARN, "optimizer_ignored", "event_ignored", "body",
                    qt_env_body_name(env), NULL);
        return QT_STAGE_CONTINUE;
    }
}

static void on_save(void *ctx, qt_buf_t *out)
{
    optimizer_save(((app_t *)ctx)->core, out);
}

static bool on_load(void *ctx, qt_reader_t *r)
{
    return optimizer_load(((app_t *)ctx)->core, r);
}

/* Reads and validates configs/optimizer.yml; false (message on stderr) when bad. */
static bool load_config(const char *path, optimizer_config_t *cfg)
{
    optimizer_config_defaults(cfg);
    char err[512];
    qt_config_t *yml = qt_config_load(path, err, sizeof err);
    if (!yml) {
        fprintf(stderr, "qt-optimizer: %s\n", err);
        return false;
    }
    cfg->min_score = qt_config_double(yml, "optimizer.min_score", false, cfg->min_score,
                                      -1.0, 0.999999);
    cfg->gross_weight = qt_config_double(yml, "optimizer.gross_weight", false,
                                         cfg->gross_weight, 1e-6, 1.0);
    cfg->max_weight = qt_config_double(yml, "optimizer.max_weight", false, cfg->max_weight,
                                       1e-6, 1.0);
    cfg->max_names = (uint32_t)qt_config_int(yml, "optimizer.max_names", false, cfg->max_names,
                                             1, 1024);
    const char *solver = qt_config_str(yml, "optimizer.solver", "inverse_vol");
    bool ok = true;
    if (qt_config_error(yml)) {
        fprintf(stderr, "qt-optimizer: %s\n", qt_config_error(yml));
        ok = false;
    } else if (strcmp(solver, "inverse_vol") != 0) {
        fprintf(stderr,
                "qt-optimizer: %s: key 'optimizer.solver': expected 'inverse_vol' (the only "
                "solver of the foundation), got '%s'\n",
                path, solver);
        ok = false;
    } else {
        const char *why = optimizer_config_check(cfg);
        if (why) {
            fprintf(stderr, "qt-optimizer: %s: %s\n", path, why);
            ok = false;
        }
    }
    qt_config_destroy(&yml);
    return ok;
}

int main(int argc, char **argv)
{
    char path[1024];
    qt_service_sibling_config_path(argc, argv, "optimizer.yml", path, sizeof path);
    optimizer_config_t cfg;
    if (!load_config(path, &cfg))
        return 2;
    int argi = 1;
    qt_service_t *svc = qt_service_new("qt-optimizer", argc, argv, &argi);
    if (argi < argc) {
        fprintf(stderr, "qt-optimizer: unknown argument '%s'\n", argv[argi]);
        qt_service_destroy(&svc);
        return 2;
    }
    app_t app;
    memset(&app, 0, sizeof app);
    app.core = optimizer_new(&cfg);
    if (!app.core) {
        qt_service_destroy(&svc);
        return 1;
    }
    qt_metrics_t *m = svc->metrics;
    app.targets = qt_metrics_counter(m, "qt_optimizer_targets_total", "Targets emitted", NULL);
    app.duplicates = qt_metrics_counter(m, "qt_optimizer_duplicates_total",
                                        "Watermarks of already emitted batches dropped", NULL);
    app.stale = qt_metrics_counter(m, "qt_optimizer_stale_signals_total",
                                   "Signals of emitted or older batches dropped", NULL);
    app.superseded = qt_metrics_counter(m, "qt_optimizer_superseded_signals_total",
                                        "Signals of batches that never got a watermark", NULL);
    app.ignored = qt_metrics_counter(m, "qt_optimizer_ignored_total",
                                     "Events of other types on the input topic", NULL);
    app.inv_symbol = qt_metrics_counter(m, "qt_optimizer_invalid_total", "Signals dropped",
                                        "reason=\"symbol\"");
    app.inv_number = qt_metrics_counter(m, "qt_optimizer_invalid_total", "Signals dropped",
                                        "reason=\"value\"");
    app.inv_time = qt_metrics_counter(m, "qt_optimizer_invalid_total", "Signals dropped",
                                      "reason=\"time\"");
    app.skip_vol = qt_metrics_counter(m, "qt_optimizer_skipped_total",
                                      "Signals left out of a target", "reason=\"volatility\"");
    app.skip_price = qt_metrics_counter(m, "qt_optimizer_skipped_total",
                                        "Signals left out of a target", "reason=\"price\"");
    app.skip_score = qt_metrics_counter(m, "qt_optimizer_skipped_total",
                                        "Signals left out of a target", "reason=\"score\"");
    app.skip_not_ready = qt_metrics_counter(m, "qt_optimizer_skipped_total",
                                            "Signals left out of a target",
                                            "reason=\"not_ready\"");
    app.solve_ms = qt_metrics_gauge(m, "qt_optimizer_solve_seconds", "Last solve time (s)", NULL);
    app.positions = qt_metrics_gauge(m, "qt_optimizer_positions", "Names in the last target",
                                     NULL);
    app.gross = qt_metrics_gauge(m, "qt_optimizer_gross_weight", "Sum of weights of the last target",
                                 NULL);
    char b1[32], b2[32], b3[32];
    snprintf(b1, sizeof b1, "%.6g", cfg.min_score);
    snprintf(b2, sizeof b2, "%.6g", cfg.gross_weight);
    snprintf(b3, sizeof b3, "%.6g", cfg.max_weight);
    qt_log_kv(QT_LOG_INFO, "config", "solver", "inverse_vol", "min_score", b1, "gross_weight",
              b2, "max_weight", b3, NULL);

    const qt_stage_ops_t ops = {.on_event = on_event, .save = on_save, .load = on_load,
                                .idle = NULL};
    int rc = qt_stage_run(svc, "signals", &ops, &app);
    optimizer_destroy(&app.core);
    qt_service_destroy(&svc);
    return rc;
}
