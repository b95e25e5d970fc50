/* qt-optimizer: Signals (Kafka "signals") -> TargetPortfolio (ZeroMQ "opt.target",
 * Kafka "targets" key "target"), then the batch's Watermark ("opt.watermark", Kafka
 * "targets" key "watermark").
 *
 * Thin on purpose: arguments, config (configs/optimizer.yml and the qaoa: section of
 * configs/slas.yml), metrics, protobuf conversion. The batch logic, solvers, circuit
 * breaker and weights are in optimizer.c; the consume / checkpoint / SIGTERM loop is
 * qt_stage_run.
 *
 * Extra arguments (before the common ones of qt_service):
 *   --help            usage, exit 0
 *   --check-config    validate optimizer.yml and slas.yml, print the settings, exit 0
 *                     (2 when invalid); connects to nothing. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optimizer.h"
#include "qt_stage.h"

#define OUT_LOGICAL "targets"

typedef struct {
    optimizer_t *core;
    qt_clock_t *clock;
    qt_counter_t *targets, *duplicates, *stale, *superseded, *ignored;
    qt_counter_t *inv_symbol, *inv_number, *inv_time;
    qt_counter_t *skip_vol, *skip_price, *skip_score, *skip_not_ready;
    qt_counter_t *by_solver[5];          /* inverse_vol exact anneal greedy qaoa */
    qt_counter_t *qaoa_attempts, *qaoa_adopted, *qaoa_probes;
    qt_counter_t *qaoa_fallback[6];      /* by optimizer_qaoa_outcome_t */
    qt_counter_t *breaker_opens, *weights_fallback, *cov_diag, *classical_failed;
    qt_gauge_t *solve_ms, *positions, *gross, *breaker_state;
    qt_gauge_t *classical_s, *qaoa_s, *qaoa_s_max, *qaoa_s_spent, *gap, *shrinkage;
    uint64_t superseded_seen, opens_seen;
} app_t;

static const char *const SOLVER_LABELS[5] = {"inverse_vol", "exact", "anneal", "greedy",
                                             "qaoa"};

/* ms -> ns without overflow; false for times no real event can have. */
static bool ms_to_ns(int64_t ms, int64_t *ns)
{
    if (ms < 0 || ms > INT64_MAX / 1000000)
        return false;
    *ns = ms * 1000000;
    return true;
}

static int64_t core_clock(void *ud)
{
    return qt_clock_mono_ns((qt_clock_t *)ud);
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
    sig.alpha = s->alpha;
    sig.beta = s->beta;
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
    tp.solver = (char *)t->solver;
    tp.n_positions = t->n_positions;
    tp.positions = ptrs;
    tp.solve_ms = solve_ms;
    tp.breaker_state = (char *)t->breaker_state;
    tp.signals = t->signals;
    tp.objective = t->objective;
    tp.classical_objective = t->classical_objective;
    tp.qaoa_objective = t->qaoa_objective;
    tp.qaoa_ms = t->qaoa_ms;
    tp.classical_ms = t->classical_ms;
    tp.fallback_reason = (char *)optimizer_fallback_reason(t->qaoa);
    tp.budget = t->budget;
    tp.weighting = (char *)t->weighting;
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

/* Metrics and logs of one target's solver decision. */
static void note_decision(app_t *app, const optimizer_target_t *t)
{
    for (size_t i = 0; i < 5; i++)
        if (strcmp(t->solver, SOLVER_LABELS[i]) == 0)
            qt_counter_inc(app->by_solver[i]);
    qt_gauge_set(app->breaker_state, (double)optimizer_breaker_state(app->core));
    uint64_t opens = optimizer_breaker_opens(app->core);
    if (opens > app->opens_seen) {
        qt_counter_add(app->breaker_opens, opens - app->opens_seen);
        app->opens_seen = opens;
        qt_log_kv(QT_LOG_WARN, "breaker_open", "solver", "qaoa", "last_reason",
                  optimizer_fallback_reason(t->qaoa), NULL);
    }
    if (t->budget > 0 && strcmp(t->solver, "inverse_vol") != 0) {
        qt_gauge_set(app->classical_s, t->classical_ms / 1000.0);
        if (t->cov_rows == 0)
            qt_counter_inc(app->cov_diag);
        else
            qt_gauge_set(app->shrinkage, t->shrinkage);
    }
    if (t->classical_failed) {
        qt_counter_inc(app->classical_failed);
        qt_log_once(QT_LOG_WARN, "optimizer_classical_failed", "selection_failed", "reason",
                    "QUBO solve failed on this batch's numbers: inverse_vol target used",
                    NULL);
    }
    if (t->weights_fallback) {
        qt_counter_inc(app->weights_fallback);
        qt_log_once(QT_LOG_WARN, "optimizer_weights_fallback", "weights_fallback", "reason",
                    "mean_variance/risk_parity failed: inverse_vol used", NULL);
    }
    if (t->qaoa == OPT_QAOA_DISABLED)
        return;
    if (t->qaoa != OPT_QAOA_BREAKER_OPEN) {
        qt_counter_inc(app->qaoa_attempts);
        if (t->qaoa_probe)
            qt_counter_inc(app->qaoa_probes);
        double s = t->qaoa_ms / 1000.0;
        qt_gauge_set(app->qaoa_s, s);
        qt_gauge_add(app->qaoa_s_spent, s);
        if (s > qt_gauge_value(app->qaoa_s_max))
            qt_gauge_set(app->qaoa_s_max, s);
        if (t->qaoa == OPT_QAOA_ADOPTED || t->qaoa == OPT_QAOA_QUALITY)
            qt_gauge_set(app->gap, t->objective_gap);
    }
    if (t->qaoa == OPT_QAOA_ADOPTED)
        qt_counter_inc(app->qaoa_adopted);
    else
        qt_counter_inc(app->qaoa_fallback[t->qaoa]);
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
        qt_log_kv(QT_LOG_ERROR, "solve_failed", "where", "optimizer_on_watermark", "reason",
                  "out of memory", NULL);
        return QT_STAGE_FATAL;
    case OPT_WM_EMIT:
        break;
    }
    double solve_ms = (double)(qt_clock_mono_ns(svc->clock) - t0) / 1e6;
    note_superseded(app);
    note_decision(app, &t);
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
    app_t *app = ctx;
    if (!optimizer_load(app->core, r))
        return false;
    /* Openings before the restart are not counted again. */
    app->opens_seen = optimizer_breaker_opens(app->core);
    qt_gauge_set(app->breaker_state, (double)optimizer_breaker_state(app->core));
    return true;
}

/* A name-valued key: false (message on stderr) when present and unknown. */
static bool enum_key(qt_config_t *yml, const char *path, const char *key, const char *dflt,
                     bool (*parse)(const char *, int *), int *out, const char *choices)
{
    const char *v = qt_config_str(yml, key, dflt);
    if (qt_config_error(yml))
        return false;
    if (!parse(v, out)) {
        fprintf(stderr, "qt-optimizer: %s: key '%s': expected %s, got '%s'\n", path, key,
                choices, v);
        return false;
    }
    return true;
}

static bool parse_solver(const char *s, int *o)
{
    optimizer_solver_t v;
    if (!optimizer_solver_parse(s, &v))
        return false;
    *o = (int)v;
    return true;
}

static bool parse_weighting(const char *s, int *o)
{
    optimizer_weighting_t v;
    if (!optimizer_weighting_parse(s, &v))
        return false;
    *o = (int)v;
    return true;
}

static bool parse_adopt(const char *s, int *o)
{
    optimizer_adopt_t v;
    if (!optimizer_adopt_parse(s, &v))
        return false;
    *o = (int)v;
    return true;
}

/* Reads and validates configs/optimizer.yml and the qaoa: section of configs/slas.yml;
 * false (message on stderr) when bad. */
static bool load_config(const char *path, const char *slas_path, optimizer_config_t *cfg)
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
    cfg->max_candidates = (uint32_t)qt_config_int(yml, "optimizer.max_candidates", false,
                                                  cfg->max_candidates, 1,
                                                  OPTIMIZER_MAX_CANDIDATES);
    cfg->risk_aversion = qt_config_double(yml, "optimizer.risk_aversion", false,
                                          cfg->risk_aversion, 0.0, 1e6);
    cfg->cov_window = (uint32_t)qt_config_int(yml, "optimizer.cov_window", false,
                                              cfg->cov_window, 2, OPTIMIZER_MAX_COV_WINDOW);
    cfg->cov_min_obs = (uint32_t)qt_config_int(yml, "optimizer.cov_min_obs", false,
                                               cfg->cov_min_obs, 2, OPTIMIZER_MAX_COV_WINDOW);
    cfg->seed = (uint64_t)qt_config_int(yml, "optimizer.seed", false, (int64_t)cfg->seed, 0,
                                        INT64_MAX);
    cfg->qaoa_enabled = qt_config_bool(yml, "optimizer.qaoa.enabled", false, cfg->qaoa_enabled);
    cfg->qaoa_p = (uint32_t)qt_config_int(yml, "optimizer.qaoa.p", false, cfg->qaoa_p, 1, 16);
    cfg->qaoa_max_qubits = (uint32_t)qt_config_int(yml, "optimizer.qaoa.max_qubits", false,
                                                   cfg->qaoa_max_qubits, 1, 26);
    cfg->qaoa_multistart = (uint32_t)qt_config_int(yml, "optimizer.qaoa.multistart", false,
                                                   cfg->qaoa_multistart, 1, 64);
    cfg->qaoa_max_evals = (uint32_t)qt_config_int(yml, "optimizer.qaoa.max_evals", false,
                                                  cfg->qaoa_max_evals, 1, 100000);
    cfg->qaoa_shots = (uint32_t)qt_config_int(yml, "optimizer.qaoa.shots", false,
                                              cfg->qaoa_shots, 1, 1000000);
    int solver = 0, weighting = 0, adopt = 0;
    bool ok = enum_key(yml, path, "optimizer.solver", "inverse_vol", parse_solver, &solver,
                       "inverse_vol|exact|anneal|greedy") &&
              enum_key(yml, path, "optimizer.weighting", "inverse_vol", parse_weighting,
                       &weighting, "inverse_vol|mean_variance|risk_parity") &&
              enum_key(yml, path, "optimizer.qaoa.adopt", "identical", parse_adopt, &adopt,
                       "identical|tolerance");
    if (ok && qt_config_error(yml)) {
        fprintf(stderr, "qt-optimizer: %s\n", qt_config_error(yml));
        ok = false;
    } else if (!ok && qt_config_error(yml)) {
        fprintf(stderr, "qt-optimizer: %s\n", qt_config_error(yml));
    }
    cfg->solver = (optimizer_solver_t)solver;
    cfg->weighting = (optimizer_weighting_t)weighting;
    cfg->qaoa_adopt = (optimizer_adopt_t)adopt;
    qt_config_destroy(&yml);
    if (!ok)
        return false;

    /* The SLA side of QAOA lives with the other SLAs (configs/slas.yml, qaoa:). */
    qt_config_t *sl = qt_config_load(slas_path, err, sizeof err);
    if (!sl) {
        fprintf(stderr, "qt-optimizer: %s\n", err);
        return false;
    }
    cfg->qaoa_latency_ms = qt_config_double(sl, "qaoa.latency_ms", false, cfg->qaoa_latency_ms,
                                            1e-3, 600000.0);
    cfg->quality_tolerance = qt_config_double(sl, "qaoa.quality_tolerance", false,
                                              cfg->quality_tolerance, 0.0, 10.0);
    cfg->failures_to_open = (uint32_t)qt_config_int(sl, "qaoa.failures_to_open", false,
                                                    cfg->failures_to_open, 1, 1000);
    cfg->cooldown_ms = qt_config_int(sl, "qaoa.cooldown_ms", false, cfg->cooldown_ms, 0,
                                     86400000);
    if (qt_config_error(sl)) {
        fprintf(stderr, "qt-optimizer: %s\n", qt_config_error(sl));
        ok = false;
    }
    qt_config_destroy(&sl);
    if (ok) {
        const char *why = optimizer_config_check(cfg);
        if (why) {
            fprintf(stderr, "qt-optimizer: %s: %s\n", path, why);
            ok = false;
        }
    }
    return ok;
}

static void log_config(const optimizer_config_t *cfg, FILE *to)
{
    char line[1024];
    snprintf(line, sizeof line,
             "solver=%s weighting=%s min_score=%.6g gross_weight=%.6g max_weight=%.6g "
             "max_names=%u max_candidates=%u risk_aversion=%.6g cov_window=%u "
             "cov_min_obs=%u qaoa.enabled=%s qaoa.p=%u qaoa.max_qubits=%u qaoa.adopt=%s "
             "qaoa.latency_ms=%.6g qaoa.quality_tolerance=%.6g qaoa.failures_to_open=%u "
             "qaoa.cooldown_ms=%" PRId64,
             optimizer_solver_name(cfg->solver), optimizer_weighting_name(cfg->weighting),
             cfg->min_score, cfg->gross_weight, cfg->max_weight, cfg->max_names,
             cfg->max_candidates, cfg->risk_aversion, cfg->cov_window, cfg->cov_min_obs,
             cfg->qaoa_enabled ? "true" : "false", cfg->qaoa_p, cfg->qaoa_max_qubits,
             optimizer_adopt_name(cfg->qaoa_adopt), cfg->qaoa_latency_ms,
             cfg->quality_tolerance, cfg->failures_to_open, cfg->cooldown_ms);
    if (to)
        fprintf(to, "%s\n", line);
    else
        qt_log_kv(QT_LOG_INFO, "config", "settings", line, NULL);
}

static void register_metrics(app_t *app, qt_metrics_t *m)
{
    app->targets = qt_metrics_counter(m, "qt_optimizer_targets_total", "Targets emitted", NULL);
    app->duplicates = qt_metrics_counter(m, "qt_optimizer_duplicates_total",
                                         "Watermarks of already emitted batches dropped", NULL);
    app->stale = qt_metrics_counter(m, "qt_optimizer_stale_signals_total",
                                    "Signals of emitted or older batches dropped", NULL);
    app->superseded = qt_metrics_counter(m, "qt_optimizer_superseded_signals_total",
                                         "Signals of batches that never got a watermark", NULL);
    app->ignored = qt_metrics_counter(m, "qt_optimizer_ignored_total",
                                      "Events of other types on the input topic", NULL);
    app->inv_symbol = qt_metrics_counter(m, "qt_optimizer_invalid_total", "Signals dropped",
                                         "reason=\"symbol\"");
    app->inv_number = qt_metrics_counter(m, "qt_optimizer_invalid_total", "Signals dropped",
                                         "reason=\"value\"");
    app->inv_time = qt_metrics_counter(m, "qt_optimizer_invalid_total", "Signals dropped",
                                       "reason=\"time\"");
    const char *skip = "Signals left out of a target";
    app->skip_vol = qt_metrics_counter(m, "qt_optimizer_skipped_total", skip,
                                       "reason=\"volatility\"");
    app->skip_price = qt_metrics_counter(m, "qt_optimizer_skipped_total", skip,
                                         "reason=\"price\"");
    app->skip_score = qt_metrics_counter(m, "qt_optimizer_skipped_total", skip,
                                         "reason=\"score\"");
    app->skip_not_ready = qt_metrics_counter(m, "qt_optimizer_skipped_total", skip,
                                             "reason=\"not_ready\"");
    for (size_t i = 0; i < 5; i++) {
        char lab[64];
        snprintf(lab, sizeof lab, "solver=\"%s\"", SOLVER_LABELS[i]);
        app->by_solver[i] = qt_metrics_counter(m, "qt_optimizer_solver_targets_total",
                                               "Targets by the solver whose selection was "
                                               "published", lab);
    }
    app->qaoa_attempts = qt_metrics_counter(m, "qt_optimizer_qaoa_attempts_total",
                                            "QAOA runs (breaker closed or probing)", NULL);
    app->qaoa_adopted = qt_metrics_counter(m, "qt_optimizer_qaoa_success_total",
                                           "QAOA answers published", NULL);
    app->qaoa_probes = qt_metrics_counter(m, "qt_optimizer_qaoa_probes_total",
                                          "QAOA runs that were the half-open probe", NULL);
    for (int o = OPT_QAOA_DEADLINE; o <= OPT_QAOA_BREAKER_OPEN; o++) {
        char lab[64];
        snprintf(lab, sizeof lab, "reason=\"%s\"",
                 optimizer_fallback_reason((optimizer_qaoa_outcome_t)o));
        app->qaoa_fallback[o] = qt_metrics_counter(m, "qt_optimizer_qaoa_fallback_total",
                                                   "Targets with the classical answer "
                                                   "instead of QAOA's",
                                                   lab);
    }
    app->breaker_opens = qt_metrics_counter(m, "qt_optimizer_breaker_opens_total",
                                            "QAOA circuit breaker openings", NULL);
    app->weights_fallback = qt_metrics_counter(m, "qt_optimizer_weights_fallback_total",
                                               "mean_variance/risk_parity weights that "
                                               "failed (inverse_vol used)", NULL);
    app->cov_diag = qt_metrics_counter(m, "qt_optimizer_cov_fallback_total",
                                       "Selections with Sigma = diag(vol^2) (short history)",
                                       NULL);
    app->classical_failed = qt_metrics_counter(m, "qt_optimizer_classical_failed_total",
                                               "Batches whose QUBO solve failed (inverse_vol "
                                               "target used instead)", NULL);
    app->solve_ms = qt_metrics_gauge(m, "qt_optimizer_solve_seconds", "Last solve time (s)",
                                     NULL);
    app->positions = qt_metrics_gauge(m, "qt_optimizer_positions", "Names in the last target",
                                      NULL);
    app->gross = qt_metrics_gauge(m, "qt_optimizer_gross_weight",
                                  "Sum of weights of the last target", NULL);
    app->breaker_state = qt_metrics_gauge(m, "qt_optimizer_breaker_state",
                                          "QAOA breaker: 0 closed, 1 open, 2 half-open", NULL);
    app->classical_s = qt_metrics_gauge(m, "qt_optimizer_classical_solve_seconds",
                                        "Last classical selection time (s)", NULL);
    app->qaoa_s = qt_metrics_gauge(m, "qt_optimizer_qaoa_solve_seconds",
                                   "Last QAOA attempt time (s)", NULL);
    app->qaoa_s_max = qt_metrics_gauge(m, "qt_optimizer_qaoa_solve_max_seconds",
                                       "Longest QAOA attempt since start (s)", NULL);
    app->qaoa_s_spent = qt_metrics_gauge(m, "qt_optimizer_qaoa_spent_seconds",
                                         "Time spent in QAOA since start (s)", NULL);
    app->gap = qt_metrics_gauge(m, "qt_optimizer_objective_gap",
                                "Last relative gap of QAOA's objective to the classical one",
                                NULL);
    app->shrinkage = qt_metrics_gauge(m, "qt_optimizer_cov_shrinkage",
                                      "Last Ledoit-Wolf shrinkage intensity", NULL);
}

static void usage(FILE *to)
{
    fprintf(to,
            "usage: qt-optimizer [--check-config] [--config FILE] [--instance NAME]\n"
            "                    [--log-level LEVEL] [--no-admin]\n"
            "Reads optimizer.yml and slas.yml (qaoa:) next to services.yml.\n"
            "  --check-config  validate them, print the settings, exit (0 ok, 2 bad)\n");
}

int main(int argc, char **argv)
{
    /* --help / --check-config are ours; the rest goes to qt_service. */
    bool check_only = false;
    char **args = calloc((size_t)argc + 1, sizeof *args);
    if (!args)
        return 1;
    int nargs = 0;
    for (int i = 0; i < argc; i++) {
        if (i > 0 && (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)) {
            usage(stdout);
            free(args);
            return 0;
        }
        if (i > 0 && strcmp(argv[i], "--check-config") == 0)
            check_only = true;
        else
            args[nargs++] = argv[i];
    }
    char path[1024], slas[1024];
    qt_service_sibling_config_path(nargs, args, "optimizer.yml", path, sizeof path);
    qt_service_sibling_config_path(nargs, args, "slas.yml", slas, sizeof slas);
    optimizer_config_t cfg;
    if (!load_config(path, slas, &cfg)) {
        free(args);
        return 2;
    }
    if (check_only) {
        printf("qt-optimizer: %s and %s ok\n", path, slas);
        log_config(&cfg, stdout);
        free(args);
        return 0;
    }
    int argi = 1;
    qt_service_t *svc = qt_service_new("qt-optimizer", nargs, args, &argi);
    if (argi < nargs) {
        fprintf(stderr, "qt-optimizer: unknown argument '%s'\n", args[argi]);
        qt_service_destroy(&svc);
        free(args);
        return 2;
    }
    app_t app;
    memset(&app, 0, sizeof app);
    app.core = optimizer_new(&cfg);
    if (!app.core) {
        qt_service_destroy(&svc);
        free(args);
        return 1;
    }
    app.clock = svc->clock;
    optimizer_set_clock(app.core, core_clock, svc->clock);
    register_metrics(&app, svc->metrics);
    log_config(&cfg, NULL);

    const qt_stage_ops_t ops = {.on_event = on_event, .save = on_save, .load = on_load,
                                .idle = NULL};
    int rc = qt_stage_run(svc, "signals", &ops, &app);
    optimizer_destroy(&app.core);
    qt_service_destroy(&svc);
    free(args);
    return rc;
}
