/* models_config: configs/models.yml and configs/alpha_beta.yml -> models_cfg_t /
 * models_ab_t. Why separate from the daemon: the unit tests parse the shipped files
 * and qtctl reads the registry directory from the same keys. Every key is optional
 * (defaults in models_cfg_default / models_ab_default); a wrong type or range stops
 * the service with the file, line and key (qt_config). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models.h"
#include "qt_registry.h"

static void get_name(qt_config_t *c, const char *path, char *dst, size_t len) {
    const char *s = qt_config_str(c, path, dst);
    if (strlen(s) >= len) {
        /* too long: keep a marker that fails validation with the key in the message */
        snprintf(dst, len, "%s", "");
        return;
    }
    if (s != dst) snprintf(dst, len, "%s", s);
}

bool models_cfg_from_config(qt_config_t *c, models_cfg_t *cfg, char *registry_dir,
                            size_t dirlen, double *reload_s, char *why, size_t whylen) {
    models_cfg_default(cfg);
    get_name(c, "models.model", cfg->model, sizeof cfg->model);
    cfg->ma_v1.gain = qt_config_double(c, "models.ma_v1.gain", false, 1.0, 1e-9, 1000.0);
    get_name(c, "models.tsmom.roc_feature", cfg->tsmom.roc, sizeof cfg->tsmom.roc);
    get_name(c, "models.tsmom.vol_feature", cfg->tsmom.vol, sizeof cfg->tsmom.vol);
    cfg->tsmom.horizon = qt_config_double(c, "models.tsmom.horizon", false, 60.0, 1.0, 10000.0);
    cfg->tsmom.gain = qt_config_double(c, "models.tsmom.gain", false, 1.0, 1e-9, 1000.0);
    cfg->tsmom.roc_scale =
        qt_config_double(c, "models.tsmom.roc_scale", false, 0.01, 1e-9, 1.0);
    get_name(c, "models.xsmom.roc_feature", cfg->xsmom.roc, sizeof cfg->xsmom.roc);
    get_name(c, "models.xsmom.vol_feature", cfg->xsmom.vol, sizeof cfg->xsmom.vol);
    cfg->xsmom.min_symbols =
        (uint32_t)qt_config_int(c, "models.xsmom.min_symbols", false, 3, 2, MODELS_BATCH_MAX);
    get_name(c, "models.meanrev.z_feature", cfg->meanrev.z, sizeof cfg->meanrev.z);
    get_name(c, "models.meanrev.vol_feature", cfg->meanrev.vol, sizeof cfg->meanrev.vol);
    cfg->meanrev.gain = qt_config_double(c, "models.meanrev.gain", false, 0.5, 1e-9, 1000.0);
    get_name(c, "models.voltrend.fast_feature", cfg->voltrend.fast, sizeof cfg->voltrend.fast);
    get_name(c, "models.voltrend.slow_feature", cfg->voltrend.slow, sizeof cfg->voltrend.slow);
    get_name(c, "models.voltrend.vol_feature", cfg->voltrend.vol, sizeof cfg->voltrend.vol);
    cfg->voltrend.target_vol =
        qt_config_double(c, "models.voltrend.target_vol", false, 0.01, 1e-9, 1.0);
    get_name(c, "models.xgb.vol_feature", cfg->xgb.vol, sizeof cfg->xgb.vol);
    get_name(c, "models.xgb.registry_name", cfg->xgb.registry_name, sizeof cfg->xgb.registry_name);
    double rs = qt_config_double(c, "models.xgb.reload_interval_s", false, 10.0, 0.0, 86400.0);
    if (reload_s) *reload_s = rs;
    cfg->drift.window = (uint32_t)qt_config_int(c, "models.drift.window", false, 500, 10, 100000);
    cfg->drift.min_n = (uint32_t)qt_config_int(c, "models.drift.min_n", false, 100, 2, 100000);
    cfg->drift.psi_alert = qt_config_double(c, "models.drift.psi_alert", false, 0.25, 1e-9, 100.0);
    cfg->drift.ks_alert_p = qt_config_double(c, "models.drift.ks_alert_p", false, 0.01, 1e-12, 0.999);
    if (registry_dir) {
        const char *d = qt_config_str(c, "models.registry.dir", "var/models");
        if (strlen(d) == 0 || strlen(d) >= dirlen) {
            if (why) snprintf(why, whylen, "key 'models.registry.dir': empty or too long");
            return false;
        }
        snprintf(registry_dir, dirlen, "%s", d);
    }
    size_t n = qt_config_seq_len(c, "models.ensemble.members");
    size_t nw = qt_config_seq_len(c, "models.ensemble.weights");
    if (n > 0 || nw > 0) {
        if (n != nw || n > MODELS_MAX_MEMBERS) {
            if (why)
                snprintf(why, whylen,
                         "keys 'models.ensemble.members'/'weights': need the same length 1..%d",
                         MODELS_MAX_MEMBERS);
            return false;
        }
        cfg->ensemble.n = n;
        for (size_t i = 0; i < n; i++) {
            const char *m = qt_config_seq_str(c, "models.ensemble.members", i);
            snprintf(cfg->ensemble.member[i], sizeof cfg->ensemble.member[i], "%s", m ? m : "");
            char key[64];
            snprintf(key, sizeof key, "models.ensemble.weights.%zu", i);
            cfg->ensemble.weight[i] = qt_config_double(c, key, true, 0.0, 1e-9, 1000.0);
        }
    }
    if (qt_config_error(c)) {
        if (why) snprintf(why, whylen, "%s", qt_config_error(c));
        return false;
    }
    return models_cfg_valid(cfg, why, whylen);
}

static void get_coef(qt_config_t *c, const char *prefix, const models_ab_coef_t *dflt,
                     models_ab_coef_t *out) {
    char k[128];
    snprintf(k, sizeof k, "%s.k_alpha", prefix);
    out->k_alpha = qt_config_double(c, k, false, dflt->k_alpha, 0.0, 1000.0);
    snprintf(k, sizeof k, "%s.conf_power", prefix);
    out->conf_power = qt_config_double(c, k, false, dflt->conf_power, 0.0, 10.0);
    snprintf(k, sizeof k, "%s.beta", prefix);
    out->beta = qt_config_double(c, k, false, dflt->beta, 1e-9, 1000.0);
    snprintf(k, sizeof k, "%s.beta_uncertainty", prefix);
    out->beta_uncertainty = qt_config_double(c, k, false, dflt->beta_uncertainty, 0.0, 100.0);
}

bool models_ab_from_config(qt_config_t *c, models_ab_t *ab, char *why, size_t whylen) {
    models_ab_default(ab);
    models_ab_coef_t d = ab->dflt;
    get_coef(c, "default", &d, &ab->dflt);
    size_t n = qt_config_map_len(c, "models");
    if (n > sizeof ab->name / sizeof ab->name[0]) {
        if (why) snprintf(why, whylen, "key 'models': more than 16 models");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const char *name = qt_config_map_key(c, "models", i);
        if (!name || strlen(name) >= sizeof ab->name[0]) {
            if (why) snprintf(why, whylen, "key 'models': model name %zu invalid", i);
            return false;
        }
        snprintf(ab->name[i], sizeof ab->name[i], "%s", name);
        char prefix[64];
        snprintf(prefix, sizeof prefix, "models.%s", name);
        get_coef(c, prefix, &ab->dflt, &ab->coef[i]);
        ab->n = i + 1;
    }
    if (qt_config_error(c)) {
        if (why) snprintf(why, whylen, "%s", qt_config_error(c));
        return false;
    }
    return models_ab_valid(ab, why, whylen);
}

int models_artifact_load(struct qt_registry_t *reg, const char *id, qt_gbt_t **booster,
                         models_fname_t *names, size_t *nnames, char *err, size_t errlen) {
    json_t *meta = NULL;
    uint8_t *bytes = NULL;
    size_t len = 0;
    *booster = NULL;
    *nnames = 0;
    if (qt_registry_get(reg, id, &meta, &bytes, &len, err, errlen) != 0) return -1;
    json_t *f = json_object_get(meta, "features");
    size_t n = json_array_size(f);
    int rc = -1;
    if (!json_is_array(f) || n < 1 || n > MODELS_MAX_XGB_FEATURES) {
        if (err) snprintf(err, errlen, "artifact %s: meta 'features' must list 1..%d names", id,
                          MODELS_MAX_XGB_FEATURES);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(f, i));
        if (!s || strlen(s) == 0 || strlen(s) > MODELS_FNAME_MAX) {
            if (err) snprintf(err, errlen, "artifact %s: feature %zu invalid", id, i);
            goto out;
        }
        snprintf(names[i], sizeof names[i], "%s", s);
    }
    *booster = qt_gbt_load(bytes, len, n, err, errlen);
    if (*booster) {
        *nnames = n;
        rc = 0;
    }
out:
    free(bytes);
    json_decref(meta);
    return rc;
}
