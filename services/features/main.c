/* qt-features: bars (Kafka "bars") -> FeatureVector (feat.<symbol>, Kafka "features").
 * Thin: config, metrics, the qt_stage loop; the logic is services/features/features.c.
 * Usage: qt-features [common options: --config --instance --log-level --no-admin]
 * Config: features.yml next to services.yml (optional; see configs/features.yml). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "features/features.h"
#include "qt_stage.h"

typedef struct {
    features_t *core;
    qt_counter_t *emitted, *duplicates, *invalid, *full, *stale_wm, *ignored, *fs_rejected;
} ctx_t;

static qt_stage_result_t on_event(void *vctx, qt_service_t *svc, const qt_env_t *env) {
    ctx_t *ctx = vctx;
    if (env->body_case == QT__V1__ENVELOPE__BODY_BAR) {
        const Qt__V1__Bar *bar = env->bar;
        features_vec_t v;
        uint64_t fs_rej = features_stats(ctx->core)->fs_rejected;
        features_rc_t rc = features_on_bar(ctx->core, bar, &v);
        if (features_stats(ctx->core)->fs_rejected != fs_rej) {
            qt_counter_inc(ctx->fs_rejected);
            qt_log_once(QT_LOG_WARN, "features_spec_rejected", "bar_ohlcv_invalid_for_spec",
                        "symbol", bar->symbol ? bar->symbol : "", NULL);
        }
        switch (rc) {
        case FEATURES_DUPLICATE:
            qt_counter_inc(ctx->duplicates);
            qt_log_once(QT_LOG_INFO, "features_duplicate", "duplicate_bar_dropped", "symbol",
                        bar->symbol, NULL);
            return QT_STAGE_CONTINUE;
        case FEATURES_INVALID:
            qt_counter_inc(ctx->invalid);
            qt_log_once(QT_LOG_WARN, "features_invalid", "invalid_bar_dropped", "symbol",
                        bar->symbol ? bar->symbol : "", NULL);
            return QT_STAGE_CONTINUE;
        case FEATURES_FULL:
            qt_counter_inc(ctx->full);
            qt_log_once(QT_LOG_ERROR, "features_full", "symbol_table_full", "symbol",
                        bar->symbol, NULL);
            return QT_STAGE_CONTINUE;
        case FEATURES_EMIT:
            break;
        }
        features_pb_t pb;
        features_vec_to_pb(&v, &pb);
        qt_env_t out;
        qt_env_init(&out, v.bar_time_ms * 1000000);
        out.body_case = QT__V1__ENVELOPE__BODY_FEATURES;
        out.features = &pb.fv;
        char topic[96];
        snprintf(topic, sizeof topic, "feat.%s", v.symbol);
        if (qt_service_publish(svc, topic, qt_service_topic(svc, "features"), v.symbol, &out) != 0) {
            /* Not checkpointing past an event that may not have reached Kafka: exit and
             * let the restart replay from the last checkpoint (duplicates are dropped). */
            qt_log_kv(QT_LOG_ERROR, "publish_failed", "topic", topic, NULL);
            return QT_STAGE_FATAL;
        }
        qt_counter_inc(ctx->emitted);
        return QT_STAGE_CONTINUE;
    }
    if (env->body_case == QT__V1__ENVELOPE__BODY_WATERMARK) {
        Qt__V1__Watermark wm;
        if (!features_on_watermark(ctx->core, env->watermark, &wm)) {
            qt_counter_inc(ctx->stale_wm);
            return QT_STAGE_CONTINUE;
        }
        qt_env_t out;
        qt_env_init(&out, env->event_time_ns);
        out.body_case = QT__V1__ENVELOPE__BODY_WATERMARK;
        out.watermark = &wm;
        if (qt_service_publish(svc, "feat.watermark", qt_service_topic(svc, "features"),
                               "watermark", &out) != 0) {
            qt_log_kv(QT_LOG_ERROR, "publish_failed", "topic", "feat.watermark", NULL);
            return QT_STAGE_FATAL;
        }
        if (wm.end_of_stream) {
            qt_log_kv(QT_LOG_INFO, "end_of_stream", "stream", wm.stream ? wm.stream : "", NULL);
            return QT_STAGE_DONE;
        }
        return QT_STAGE_CHECKPOINT;
    }
    qt_counter_inc(ctx->ignored);
    qt_log_once(QT_LOG_WARN, "features_ignored", "unexpected_event_ignored", "body",
                qt_env_body_name(env), NULL);
    return QT_STAGE_CONTINUE;
}

static void save(void *vctx, qt_buf_t *out) { features_save(((ctx_t *)vctx)->core, out); }
static bool load(void *vctx, qt_reader_t *r) { return features_load(((ctx_t *)vctx)->core, r); }

int main(int argc, char **argv) {
    int argi = 0;
    qt_service_t *svc = qt_service_new("qt-features", argc, argv, &argi);
    if (argi < argc) {
        fprintf(stderr, "qt-features: unknown argument '%s'\n", argv[argi]);
        qt_service_destroy(&svc);
        return 2;
    }
    features_cfg_t cfg;
    features_cfg_default(&cfg);
    const char *path = qt_service_config_path(svc, "features.yml");
    if (access(path, F_OK) == 0) {
        char err[512] = "";
        qt_config_t *fc = qt_config_load(path, err, sizeof err);
        if (!fc) {
            fprintf(stderr, "qt-features: %s\n", err);
            qt_service_destroy(&svc);
            return 2;
        }
        cfg.sma_fast = (uint32_t)qt_config_int(fc, "features.sma_fast", false, 10, 1, QT_IND_MAX_WINDOW);
        cfg.sma_slow = (uint32_t)qt_config_int(fc, "features.sma_slow", false, 30, 1, QT_IND_MAX_WINDOW);
        cfg.ema_fast = (uint32_t)qt_config_int(fc, "features.ema_fast", false, 12, 1, QT_IND_MAX_WINDOW);
        cfg.ema_slow = (uint32_t)qt_config_int(fc, "features.ema_slow", false, 26, 1, QT_IND_MAX_WINDOW);
        cfg.rvol = (uint32_t)qt_config_int(fc, "features.rvol", false, 20, 2, QT_IND_MAX_WINDOW);
        cfg.max_symbols = (uint32_t)qt_config_int(fc, "features.max_symbols", false, 1024, 1,
                                                  FEATURES_MAX_SYMBOLS_LIMIT);
        const char *spec = qt_config_str(fc, "features.spec", FEATURES_DEFAULT_SPEC);
        if (spec && strlen(spec) >= sizeof cfg.spec) {
            fprintf(stderr, "qt-features: %s: features.spec longer than %zu characters\n", path,
                    sizeof cfg.spec - 1);
            qt_config_destroy(&fc);
            qt_service_destroy(&svc);
            return 2;
        }
        if (spec) snprintf(cfg.spec, sizeof cfg.spec, "%s", spec);
        const char *hz = qt_config_str(fc, "features.horizons", "");
        if (hz && strlen(hz) >= sizeof cfg.horizons) {
            fprintf(stderr, "qt-features: %s: features.horizons longer than %zu characters\n",
                    path, sizeof cfg.horizons - 1);
            qt_config_destroy(&fc);
            qt_service_destroy(&svc);
            return 2;
        }
        if (hz) snprintf(cfg.horizons, sizeof cfg.horizons, "%s", hz);
        if (qt_config_error(fc)) {
            fprintf(stderr, "qt-features: %s\n", qt_config_error(fc));
            qt_config_destroy(&fc);
            qt_service_destroy(&svc);
            return 2;
        }
        qt_config_destroy(&fc);
    } else {
        qt_log_kv(QT_LOG_INFO, "config_defaults", "file", path, NULL);
    }
    char why[160];
    if (!features_cfg_valid(&cfg, why, sizeof why)) {
        fprintf(stderr, "qt-features: %s: %s\n", path, why);
        qt_service_destroy(&svc);
        return 2;
    }
    ctx_t ctx = {0};
    ctx.core = features_new(&cfg);
    if (!ctx.core) {
        fprintf(stderr, "qt-features: out of memory\n");
        qt_service_destroy(&svc);
        return 1;
    }
    qt_metrics_t *m = svc->metrics;
    ctx.emitted = qt_metrics_counter(m, "qt_features_emitted_total", "Feature vectors published", NULL);
    ctx.duplicates = qt_metrics_counter(m, "qt_features_duplicates_total",
                                        "Bars dropped: open time <= last processed for the symbol", NULL);
    ctx.invalid = qt_metrics_counter(m, "qt_features_invalid_total", "Invalid bars dropped", NULL);
    ctx.full = qt_metrics_counter(m, "qt_features_symbols_full_total",
                                  "Bars dropped: symbol table full (max_symbols)", NULL);
    ctx.stale_wm = qt_metrics_counter(m, "qt_features_stale_watermarks_total",
                                      "Watermarks dropped: time <= last forwarded", NULL);
    ctx.ignored = qt_metrics_counter(m, "qt_features_ignored_total",
                                     "Input events of an unexpected type", NULL);
    ctx.fs_rejected = qt_metrics_counter(m, "qt_features_spec_rejected_total",
                                         "Bars whose spec features could not be computed "
                                         "(invalid OHLCV): published not ready", NULL);
    char w[96];
    snprintf(w, sizeof w, "sma %u/%u ema %u/%u rvol %u", cfg.sma_fast, cfg.sma_slow, cfg.ema_fast,
             cfg.ema_slow, cfg.rvol);
    qt_log_kv(QT_LOG_INFO, "features_start", "windows", w, "spec", cfg.spec, "horizons",
              cfg.horizons, NULL);
    qt_stage_ops_t ops = {.on_event = on_event, .save = save, .load = load, .idle = NULL};
    int rc = qt_stage_run(svc, "bars", &ops, &ctx);
    features_destroy(&ctx.core);
    qt_service_destroy(&svc);
    return rc;
}
