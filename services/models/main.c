/* qt-models: FeatureVector (Kafka "features") -> Signal MA_v1 (sig.MA_v1.<symbol>,
 * Kafka "signals"); watermarks forwarded on sig.watermark.
 * Thin: config, metrics, the qt_stage loop; the logic is services/models/models.c.
 * Usage: qt-models [common options: --config --instance --log-level --no-admin]
 * Config: models.yml next to services.yml (optional; see configs/models.yml). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "models/models.h"
#include "qt_stage.h"

typedef struct {
    models_cfg_t cfg;
    qt_counter_t *emitted, *ready, *invalid, *ignored;
} ctx_t;

static qt_stage_result_t on_event(void *vctx, qt_service_t *svc, const qt_env_t *env) {
    ctx_t *ctx = vctx;
    if (env->body_case == QT__V1__ENVELOPE__BODY_FEATURES) {
        const Qt__V1__FeatureVector *fv = env->features;
        Qt__V1__Signal sig;
        if (models_ma_v1(&ctx->cfg, fv, &sig) != MODELS_OK) {
            qt_counter_inc(ctx->invalid);
            qt_log_once(QT_LOG_WARN, "models_invalid", "invalid_features_dropped", "symbol",
                        fv->symbol ? fv->symbol : "", NULL);
            return QT_STAGE_CONTINUE;
        }
        qt_env_t out;
        qt_env_init(&out, fv->bar_time_ms * 1000000);
        out.body_case = QT__V1__ENVELOPE__BODY_SIGNAL;
        out.signal = &sig;
        char topic[96];
        snprintf(topic, sizeof topic, "sig.%s.%s", MODELS_MA_V1, sig.symbol);
        if (qt_service_publish(svc, topic, qt_service_topic(svc, "signals"), sig.symbol, &out) != 0) {
            qt_log_kv(QT_LOG_ERROR, "publish_failed", "topic", topic, NULL);
            return QT_STAGE_FATAL;
        }
        qt_counter_inc(ctx->emitted);
        if (sig.ready) qt_counter_inc(ctx->ready);
        return QT_STAGE_CONTINUE;
    }
    if (env->body_case == QT__V1__ENVELOPE__BODY_WATERMARK) {
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
        return QT_STAGE_CHECKPOINT;
    }
    qt_counter_inc(ctx->ignored);
    qt_log_once(QT_LOG_WARN, "models_ignored", "unexpected_event_ignored", "body",
                qt_env_body_name(env), NULL);
    return QT_STAGE_CONTINUE;
}

static void save(void *vctx, qt_buf_t *out) { models_save(&((ctx_t *)vctx)->cfg, out); }
static bool load(void *vctx, qt_reader_t *r) { return models_load(&((ctx_t *)vctx)->cfg, r); }

int main(int argc, char **argv) {
    int argi = 0;
    qt_service_t *svc = qt_service_new("qt-models", argc, argv, &argi);
    if (argi < argc) {
        fprintf(stderr, "qt-models: unknown argument '%s'\n", argv[argi]);
        qt_service_destroy(&svc);
        return 2;
    }
    ctx_t ctx = {0};
    models_cfg_default(&ctx.cfg);
    const char *path = qt_service_config_path(svc, "models.yml");
    if (access(path, F_OK) == 0) {
        char err[512] = "";
        qt_config_t *mc = qt_config_load(path, err, sizeof err);
        if (!mc) {
            fprintf(stderr, "qt-models: %s\n", err);
            qt_service_destroy(&svc);
            return 2;
        }
        const char *model = qt_config_str(mc, "models.model", MODELS_MA_V1);
        ctx.cfg.gain = qt_config_double(mc, "models.ma_v1.gain", false, 1.0, 1e-9, 1000.0);
        if (!qt_config_error(mc) && strcmp(model, MODELS_MA_V1) != 0) {
            fprintf(stderr, "qt-models: %s: key 'models.model': expected MA_v1, got '%s'\n", path,
                    model);
            qt_config_destroy(&mc);
            qt_service_destroy(&svc);
            return 2;
        }
        if (qt_config_error(mc)) {
            fprintf(stderr, "qt-models: %s\n", qt_config_error(mc));
            qt_config_destroy(&mc);
            qt_service_destroy(&svc);
            return 2;
        }
        qt_config_destroy(&mc);
    } else {
        qt_log_kv(QT_LOG_INFO, "config_defaults", "file", path, NULL);
    }
    char why[128];
    if (!models_cfg_valid(&ctx.cfg, why, sizeof why)) {
        fprintf(stderr, "qt-models: %s: %s\n", path, why);
        qt_service_destroy(&svc);
        return 2;
    }
    qt_metrics_t *m = svc->metrics;
    ctx.emitted = qt_metrics_counter(m, "qt_models_signals_total", "Signals published", NULL);
    ctx.ready = qt_metrics_counter(m, "qt_models_signals_ready_total",
                                   "Signals published with ready=true", NULL);
    ctx.invalid = qt_metrics_counter(m, "qt_models_invalid_total",
                                     "Feature vectors dropped (schema, symbol, time)", NULL);
    ctx.ignored = qt_metrics_counter(m, "qt_models_ignored_total",
                                     "Input events of an unexpected type", NULL);
    char g[32];
    snprintf(g, sizeof g, "%g", ctx.cfg.gain);
    qt_log_kv(QT_LOG_INFO, "models_start", "model", MODELS_MA_V1, "gain", g, NULL);
    qt_stage_ops_t ops = {.on_event = on_event, .save = save, .load = load, .idle = NULL};
    int rc = qt_stage_run(svc, "features", &ops, &ctx);
    qt_service_destroy(&svc);
    return rc;
}
