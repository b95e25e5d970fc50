/* qt-models: FeatureVector (Kafka "features") -> Signal (sig.<model>.<symbol>, Kafka
 * "signals"); watermarks forwarded on sig.watermark after the batch's signals.
 * Thin: config, metrics, the qt_stage loop; the logic is services/models/models.c.
 * Usage: qt-models [common options: --config --instance --log-level --no-admin]
 * Config: models.yml and alpha_beta.yml next to services.yml (both optional).
 * XGB_v1 (alone or in the ensemble): the promoted artifact named models.xgb.registry_name
 * is read from Redis "qt:models:promoted:<name>" at start and then at watermarks (at most
 * every reload_interval_s), loaded from the registry directory and swapped in between
 * two batches (no restart). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/models.h"
#include "qt_registry.h"
#include "qt_stage.h"

typedef struct {
    models_t *m;
    models_out_t *outs;           /* MODELS_BATCH_MAX, for cross-sectional batches */
    qt_registry_t *reg;
    models_reloader_t rl;
    qt_service_t *svc;
    char redis_key[128];
    models_cfg_t cfg;
    models_drift_t *drift;        /* of the installed artifact (NULL: none / no reference) */
    json_t *loaded_meta;          /* meta of the artifact the last load produced */
    bool alert_psi[MODELS_MAX_XGB_FEATURES + 1], alert_ks[MODELS_MAX_XGB_FEATURES + 1];
    qt_counter_t *emitted, *ready, *invalid, *ignored, *swaps, *swap_errors;
} ctx_t;

static int publish(qt_service_t *svc, models_out_t *o) {
    qt_env_t out;
    qt_env_init(&out, o->sig.bar_time_ms * 1000000);
    out.body_case = QT__V1__ENVELOPE__BODY_SIGNAL;
    out.signal = &o->sig;
    char topic[96];
    snprintf(topic, sizeof topic, "sig.%s.%s", o->sig.model, o->sig.symbol);
    if (qt_service_publish(svc, topic, qt_service_topic(svc, "signals"), o->sig.symbol, &out) != 0) {
        qt_log_kv(QT_LOG_ERROR, "publish_failed", "topic", topic, NULL);
        return -1;
    }
    return 0;
}

/* Redis pointer read for the reloader: 1 found, 0 absent, -1 Redis error. */
static int read_pointer(void *ud, char *id, size_t idlen) {
    ctx_t *ctx = ud;
    redisReply *r = qt_redis_cmd(ctx->svc->redis, "GET %s", ctx->redis_key);
    if (!r) return -1;
    int rc = -1;
    if (r->type == REDIS_REPLY_NIL) rc = 0;
    else if (r->type == REDIS_REPLY_STRING && qt_registry_id_valid(r->str)) {
        snprintf(id, idlen, "%s", r->str);
        rc = 1;
    } else {
        qt_log_once(QT_LOG_WARN, "models_bad_pointer", "promotion_pointer_invalid", "key",
                    ctx->redis_key, NULL);
    }
    freeReplyObject(r);
    return rc;
}

static int load_artifact(void *ud, const char *id, qt_gbt_t **b, models_fname_t *names,
                         size_t *n) {
    ctx_t *ctx = ud;
    char err[512] = "";
    if (models_artifact_load(ctx->reg, id, b, names, n, err, sizeof err) != 0) {
        qt_log_kv(QT_LOG_ERROR, "model_load_failed", "id", id, "error", err, NULL);
        return -1;
    }
    json_decref(ctx->loaded_meta);
    ctx->loaded_meta = NULL;
    if (qt_registry_get(ctx->reg, id, &ctx->loaded_meta, NULL, NULL, err, sizeof err) != 0)
        ctx->loaded_meta = NULL;
    return 0;
}

/* Drift gauges per series; an alert (counter + warning) when a statistic crosses its
 * threshold (edge-triggered, re-armed when it goes back). */
static void drift_export(ctx_t *ctx) {
    qt_metrics_t *m = ctx->svc->metrics;
    for (size_t k = 0; k < models_drift_series(ctx->drift); k++) {
        const char *name;
        double psi, ks, p;
        size_t n;
        if (!models_drift_stat(ctx->drift, k, ctx->cfg.drift.min_n, &name, &psi, &ks, &p, &n))
            continue;
        char lab[96], lab2[128];
        snprintf(lab, sizeof lab, "feature=\"%s\"", name);
        qt_gauge_set(qt_metrics_gauge(m, "qt_models_drift_psi", "PSI of live vs training values", lab), psi);
        qt_gauge_set(qt_metrics_gauge(m, "qt_models_drift_ks", "KS statistic of live vs training values", lab), ks);
        qt_gauge_set(qt_metrics_gauge(m, "qt_models_drift_ks_pvalue", "Asymptotic KS p-value", lab), p);
        bool hot_psi = psi > ctx->cfg.drift.psi_alert, hot_ks = p < ctx->cfg.drift.ks_alert_p;
        const char *stat[2] = {"psi", "ks"};
        bool hot[2] = {hot_psi, hot_ks}, *was[2] = {&ctx->alert_psi[k], &ctx->alert_ks[k]};
        for (int j = 0; j < 2; j++) {
            if (hot[j] && !*was[j]) {
                snprintf(lab2, sizeof lab2, "%s,stat=\"%s\"", lab, stat[j]);
                qt_counter_inc(qt_metrics_counter(m, "qt_models_drift_alerts_total",
                                                  "Drift statistics crossing their alert threshold", lab2));
                char v[32];
                snprintf(v, sizeof v, "%.4f", j == 0 ? psi : p);
                qt_log_kv(QT_LOG_WARN, "model_drift_alert", "feature", name, "stat", stat[j],
                          "value", v, NULL);
            }
            *was[j] = hot[j];
        }
    }
}

static void maybe_reload(ctx_t *ctx) {
    if (!ctx->reg) return;
    int r = models_reload(ctx->m, &ctx->rl, qt_clock_mono_ns(ctx->svc->clock));
    if (r == 1) {
        char err[256] = "";
        models_drift_destroy(&ctx->drift);
        memset(ctx->alert_psi, 0, sizeof ctx->alert_psi);
        memset(ctx->alert_ks, 0, sizeof ctx->alert_ks);
        if (ctx->loaded_meta)
            ctx->drift = models_drift_new(ctx->loaded_meta, ctx->cfg.drift.window, err, sizeof err);
        if (!ctx->drift)
            qt_log_kv(QT_LOG_WARN, "drift_disabled", "version", models_version(ctx->m), "why",
                      *err ? err : "no meta", NULL);
        qt_counter_inc(ctx->swaps);
        qt_log_kv(QT_LOG_INFO, "model_swapped", "model", models_name(ctx->m), "version",
                  models_version(ctx->m), NULL);
    } else if (r < 0) {
        qt_counter_inc(ctx->swap_errors);
    }
}

static qt_stage_result_t on_event(void *vctx, qt_service_t *svc, const qt_env_t *env) {
    ctx_t *ctx = vctx;
    if (env->body_case == QT__V1__ENVELOPE__BODY_FEATURES) {
        const Qt__V1__FeatureVector *fv = env->features;
        bool emitted = false;
        if (models_on_features(ctx->m, fv, &ctx->outs[0], &emitted) != MODELS_OK) {
            qt_counter_inc(ctx->invalid);
            qt_log_once(QT_LOG_WARN, "models_invalid", "invalid_features_dropped", "symbol",
                        fv->symbol ? fv->symbol : "", NULL);
            return QT_STAGE_CONTINUE;
        }
        if (emitted) {
            if (ctx->drift) models_drift_observe(ctx->drift, fv, &ctx->outs[0].sig);
            if (publish(svc, &ctx->outs[0]) != 0) return QT_STAGE_FATAL;
            qt_counter_inc(ctx->emitted);
            if (ctx->outs[0].sig.ready) qt_counter_inc(ctx->ready);
        }
        return QT_STAGE_CONTINUE;
    }
    if (env->body_case == QT__V1__ENVELOPE__BODY_WATERMARK) {
        size_t n = models_on_watermark(ctx->m, ctx->outs, MODELS_BATCH_MAX);
        for (size_t i = 0; i < n; i++) {
            if (publish(svc, &ctx->outs[i]) != 0) return QT_STAGE_FATAL;
            qt_counter_inc(ctx->emitted);
            if (ctx->outs[i].sig.ready) qt_counter_inc(ctx->ready);
        }
        Qt__V1__Watermark wm = *env->watermark;
        qt_env_t out;
        qt_env_init(&out, env->event_time_ns);
        out.body_case = QT__V1__ENVELOPE__BODY_WATERMARK;
        out.watermark = &wm;
        if (qt_service_publish(svc, "sig.watermark", qt_service_topic(svc, "signals"), "watermark",
                               &out) != 0) {
            qt_log_kv(QT_LOG_ERROR, "publish_failed", "topic", "sig.watermark", NULL);
            return QT_STAGE_FATAL;
        }
        if (wm.end_of_stream) {
            qt_log_kv(QT_LOG_INFO, "end_of_stream", "stream", wm.stream ? wm.stream : "", NULL);
            return QT_STAGE_DONE;
        }
        if (ctx->drift) drift_export(ctx);
        maybe_reload(ctx);   /* between two batches */
        return QT_STAGE_CHECKPOINT;
    }
    qt_counter_inc(ctx->ignored);
    qt_log_once(QT_LOG_WARN, "models_ignored", "unexpected_event_ignored", "body",
                qt_env_body_name(env), NULL);
    return QT_STAGE_CONTINUE;
}

static void save(void *vctx, qt_buf_t *out) { models_save(((ctx_t *)vctx)->m, out); }
static bool load(void *vctx, qt_reader_t *r) { return models_load(((ctx_t *)vctx)->m, r); }

static int fail(qt_service_t **svc, ctx_t *ctx, int rc) {
    models_destroy(&ctx->m);
    models_drift_destroy(&ctx->drift);
    json_decref(ctx->loaded_meta);
    qt_registry_close(&ctx->reg);
    free(ctx->outs);
    qt_service_destroy(svc);
    return rc;
}

/* Loads one optional YAML file next to services.yml with fn; 0 ok, 2 on error. */
static int load_yml(qt_service_t *svc, const char *file, qt_config_t **out) {
    const char *path = qt_service_config_path(svc, file);
    *out = NULL;
    if (access(path, F_OK) != 0) {
        qt_log_kv(QT_LOG_INFO, "config_defaults", "file", path, NULL);
        return 0;
    }
    char err[512] = "";
    *out = qt_config_load(path, err, sizeof err);
    if (!*out) {
        fprintf(stderr, "qt-models: %s\n", err);
        return 2;
    }
    return 0;
}

int main(int argc, char **argv) {
    int argi = 0;
    qt_service_t *svc = qt_service_new("qt-models", argc, argv, &argi);
    ctx_t ctx = {0};
    ctx.svc = svc;
    if (argi < argc) {
        fprintf(stderr, "qt-models: unknown argument '%s'\n", argv[argi]);
        return fail(&svc, &ctx, 2);
    }
    models_cfg_t cfg;
    models_ab_t ab;
    char regdir[1024] = "var/models", why[512] = "";
    double reload_s = 10.0;
    models_cfg_default(&cfg);
    models_ab_default(&ab);
    qt_config_t *mc = NULL, *ac = NULL;
    if (load_yml(svc, "models.yml", &mc) != 0) return fail(&svc, &ctx, 2);
    if (mc && !models_cfg_from_config(mc, &cfg, regdir, sizeof regdir, &reload_s, why, sizeof why)) {
        fprintf(stderr, "qt-models: %s: %s\n", qt_config_name(mc), why);
        qt_config_destroy(&mc);
        return fail(&svc, &ctx, 2);
    }
    qt_config_destroy(&mc);
    if (load_yml(svc, "alpha_beta.yml", &ac) != 0) return fail(&svc, &ctx, 2);
    if (ac && !models_ab_from_config(ac, &ab, why, sizeof why)) {
        fprintf(stderr, "qt-models: %s: %s\n", qt_config_name(ac), why);
        qt_config_destroy(&ac);
        return fail(&svc, &ctx, 2);
    }
    qt_config_destroy(&ac);
    ctx.cfg = cfg;
    ctx.m = models_new(&cfg, &ab, why, sizeof why);
    ctx.outs = calloc(MODELS_BATCH_MAX, sizeof *ctx.outs);
    if (!ctx.m || !ctx.outs) {
        fprintf(stderr, "qt-models: models.yml: %s\n", ctx.m ? "out of memory" : why);
        return fail(&svc, &ctx, 2);
    }
    qt_metrics_t *m = svc->metrics;
    ctx.emitted = qt_metrics_counter(m, "qt_models_signals_total", "Signals published", NULL);
    ctx.ready = qt_metrics_counter(m, "qt_models_signals_ready_total",
                                   "Signals published with ready=true", NULL);
    ctx.invalid = qt_metrics_counter(m, "qt_models_invalid_total",
                                     "Feature vectors dropped (schema, symbol, time)", NULL);
    ctx.ignored = qt_metrics_counter(m, "qt_models_ignored_total",
                                     "Input events of an unexpected type", NULL);
    ctx.swaps = qt_metrics_counter(m, "qt_models_swaps_total",
                                   "Promoted XGBoost artifacts swapped in", NULL);
    ctx.swap_errors = qt_metrics_counter(m, "qt_models_swap_errors_total",
                                         "Promotion pointer reads or artifact loads that failed",
                                         NULL);
    if (models_uses_xgb(ctx.m)) {
        char err[512] = "";
        ctx.reg = qt_registry_open(regdir, err, sizeof err);
        if (!ctx.reg) {
            fprintf(stderr, "qt-models: %s\n", err);
            return fail(&svc, &ctx, 2);
        }
        snprintf(ctx.redis_key, sizeof ctx.redis_key, "%s%s", QT_REGISTRY_REDIS_PREFIX,
                 cfg.xgb.registry_name);
        models_reloader_init(&ctx.rl, (int64_t)(reload_s * 1e9));
        ctx.rl.read_pointer = read_pointer;
        ctx.rl.load = load_artifact;
        ctx.rl.ud = &ctx;
        maybe_reload(&ctx);
        if (strcmp(models_version(ctx.m), MODELS_BUILTIN) == 0)
            qt_log_kv(QT_LOG_WARN, "no_promoted_model", "key", ctx.redis_key, NULL);
    }
    qt_log_kv(QT_LOG_INFO, "models_start", "model", models_name(ctx.m), "version",
              models_version(ctx.m), NULL);
    qt_stage_ops_t ops = {.on_event = on_event, .save = save, .load = load, .idle = NULL};
    int rc = qt_stage_run(svc, "features", &ops, &ctx);
    return fail(&svc, &ctx, rc);
}
