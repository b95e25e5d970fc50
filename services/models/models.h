/* models: the pure core of qt-models (feature vectors -> model signals).
 *
 * Why one interface: the daemon, the backtest and the tests must be able to run any
 * model by configuration, and an ensemble must be able to combine them, so every model
 * is a "signal generator" behind one vtable (models_vtable_t): init from config,
 * on_features per symbol, on_watermark for cross-sectional models that need the whole
 * batch, save/load of the checkpoint marker, free. A generator only produces the raw
 * triple (ready, score in [-1, 1], confidence in [0, 1]) plus the per-bar volatility;
 * models_t wraps it into a Signal and the translator (models_ab_t, configs/alpha_beta.yml)
 * maps score/confidence/volatility to the optimizer's alpha and beta.
 *
 * Models (features are read BY NAME, names configurable; a missing, not-ready or
 * non-finite feature makes the signal not ready, never NaN). vol = max(v, 1e-6) with
 * v = the configured volatility feature (default "rvol", per-bar stddev of log returns):
 *   MA_v1       score = tanh(gain * (sma_fast / sma_slow - 1) / vol)      (the default)
 *   TSMOM_v1    time-series momentum (Moskowitz, Ooi, Pedersen 2012):
 *               score = tanh(gain * roc_scale * roc / (vol * sqrt(horizon))), roc = the
 *               N-bar rate of change feature (default roc_60, in percent: roc_scale 0.01,
 *               horizon 60): the N-bar return in N-bar standard deviations
 *   XSMOM_v1    cross-sectional momentum (Jegadeesh, Titman 1993): at the watermark the
 *               ready symbols of the batch are ranked by roc (ties by symbol name);
 *               score = 2 * rank / (n - 1) - 1 (worst -1, best +1); not ready while
 *               fewer than min_symbols symbols are ready
 *   MEANREV_v1  mean reversion: score = -tanh(gain * z), z = zscore feature (zscore_20)
 *   VOLTREND_v1 volatility-targeted trend (Moskowitz et al. 2012, Harvey et al. 2018):
 *               dir = sign(fast - slow) of two trend features (ema_fast, ema_slow),
 *               score = dir * min(1, target_vol / vol)  (position that targets target_vol)
 *   XGB_v1      gradient-boosted trees (libs/quant/qt_gbt.h) over the feature names of
 *               the loaded registry artifact: p = P(upper barrier first);
 *               score = 2p - 1; not ready until an artifact is installed
 *   ENSEMBLE_v1 weighted ensemble of per-symbol members (not XSMOM):
 *               score = sum w_i s_i / sum w_i, confidence = sum w_i c_i / sum w_i,
 *               ready only when every member is ready; vol = the first member's
 * confidence = |score| for every single model.
 *
 * Translator (per model name, defaults k_alpha 1, conf_power 0, beta 1, beta_uncertainty 0,
 * which reproduce MA_v1's alpha = score * vol and beta = 1):
 *   alpha = k_alpha * score * confidence^conf_power * volatility
 *   beta  = beta_base * (1 + beta_uncertainty * (1 - confidence))   (risk aversion)
 *   not ready: alpha = 0, beta = beta_base.
 * Signal.model_version = the registry artifact id of an installed XGBoost model, else
 * "builtin". */
#ifndef MODELS_H
#define MODELS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "qt/v1/market.pb-c.h"
#include "qt_buf.h"
#include "qt_gbt.h"
#include <jansson.h>

#define MODELS_MA_V1 "MA_v1"
#define MODELS_TSMOM "TSMOM_v1"
#define MODELS_XSMOM "XSMOM_v1"
#define MODELS_MEANREV "MEANREV_v1"
#define MODELS_VOLTREND "VOLTREND_v1"
#define MODELS_XGB "XGB_v1"
#define MODELS_ENSEMBLE "ENSEMBLE_v1"
#define MODELS_BUILTIN "builtin"
#define MODELS_VOL_FLOOR 1e-6
#define MODELS_SYMBOL_MAX 32
#define MODELS_FNAME_MAX 47          /* feature name length */
#define MODELS_MAX_MEMBERS 8
#define MODELS_MAX_XGB_FEATURES 64
#define MODELS_VERSION_MAX 71
#define MODELS_BATCH_MAX 4096        /* symbols per cross-sectional batch */

typedef char models_fname_t[MODELS_FNAME_MAX + 1];

typedef struct {
    char model[24];                   /* one of the names above (default MA_v1) */
    struct { double gain; } ma_v1;    /* (0, 1000], default 1 */
    struct { models_fname_t roc, vol; double horizon, gain, roc_scale; } tsmom; /* roc_60, rvol, 60, 1, 0.01 */
    struct { models_fname_t roc, vol; uint32_t min_symbols; } xsmom;  /* roc_60, rvol, 3 */
    struct { models_fname_t z, vol; double gain; } meanrev;           /* zscore_20, rvol, 0.5 */
    struct { models_fname_t fast, slow, vol; double target_vol; } voltrend; /* ema_*, rvol, 0.01 */
    struct { models_fname_t vol; char registry_name[64]; } xgb;       /* rvol, "xgb_v1" */
    struct {
        size_t n;
        char member[MODELS_MAX_MEMBERS][24];
        double weight[MODELS_MAX_MEMBERS];
    } ensemble;                       /* default MA_v1 0.5, TSMOM_v1 0.3, MEANREV_v1 0.2 */
    struct {
        uint32_t window;              /* live values per series (default 500, 10..100000) */
        uint32_t min_n;               /* no statistic below this many (default 100) */
        double psi_alert;             /* alert when PSI > this (default 0.25) */
        double ks_alert_p;            /* alert when the KS p-value < this (default 0.01) */
    } drift;
} models_cfg_t;

void models_cfg_default(models_cfg_t *cfg);
bool models_cfg_valid(const models_cfg_t *cfg, char *why, size_t whylen);

/* Translator coefficients for one model name. */
typedef struct {
    double k_alpha, conf_power, beta, beta_uncertainty;
} models_ab_coef_t;
typedef struct {
    models_ab_coef_t dflt;
    size_t n;
    char name[16][24];
    models_ab_coef_t coef[16];
} models_ab_t;
void models_ab_default(models_ab_t *ab);   /* every model: 1, 0, 1, 0 */
bool models_ab_valid(const models_ab_t *ab, char *why, size_t whylen);
const models_ab_coef_t *models_ab_for(const models_ab_t *ab, const char *model);
/* Fills sig->alpha and sig->beta from score/confidence/volatility/ready. */
void models_ab_apply(const models_ab_coef_t *c, Qt__V1__Signal *sig);

typedef enum {
    MODELS_OK = 0,            /* handled (a signal may or may not have been produced) */
    MODELS_INVALID            /* not a vector with feature_schema >= 1, bad symbol, bar time
                                 out of [0, INT64_MAX/1e6] ms */
} models_rc_t;

/* Legacy single-model entry point (MA_v1 with alpha = score * rvol, beta = 1): fills out
 * (strings point at static / fv storage: valid as long as fv is). */
models_rc_t models_ma_v1(const models_cfg_t *cfg, const Qt__V1__FeatureVector *fv,
                         Qt__V1__Signal *out);

/* ---- the signal-generator interface ---- */
typedef struct {
    bool ready;
    double score, confidence, vol;
} models_raw_t;

typedef struct models_gen models_gen_t;
typedef struct {
    const char *name;          /* Signal.model */
    bool cross_sectional;      /* true: on_features buffers, on_watermark emits */
    /* init: allocate state (g->state) from cfg; false with why on invalid config */
    bool (*init)(models_gen_t *g, const models_cfg_t *cfg, char *why, size_t whylen);
    /* per-symbol models: raw signal of one vector; cross-sectional: remember the input */
    void (*on_features)(models_gen_t *g, const Qt__V1__FeatureVector *fv, models_raw_t *out);
    /* cross-sectional: raw signals of the batch in the order of models_t's pending list */
    void (*on_watermark)(models_gen_t *g, size_t n, const double *key, const bool *have,
                         const char *const *symbols, models_raw_t *out);
    void (*save)(const models_gen_t *g, qt_buf_t *b);   /* config marker */
    bool (*load)(const models_gen_t *g, qt_reader_t *r);
    void (*free)(models_gen_t *g);
} models_vtable_t;

struct models_gen {
    const models_vtable_t *vt;
    const models_cfg_t *cfg;
    void *state;
};

/* One output signal with its own string storage (sig's pointers point into this struct:
 * never copy it by value). */
typedef struct {
    Qt__V1__Signal sig;
    char symbol[MODELS_SYMBOL_MAX + 1];
    char version[MODELS_VERSION_MAX + 1];
} models_out_t;

typedef struct models_t models_t;
models_t *models_new(const models_cfg_t *cfg, const models_ab_t *ab, char *why, size_t whylen);
void models_destroy(models_t **self_p);
const char *models_name(const models_t *self);
bool models_cross_sectional(const models_t *self);
const char *models_version(const models_t *self);     /* artifact id or "builtin" */
/* Per-symbol model: *emitted = true and out filled. Cross-sectional: the vector is kept
 * for the batch (same symbol again replaces it; more than MODELS_BATCH_MAX symbols:
 * MODELS_INVALID) and *emitted = false. */
models_rc_t models_on_features(models_t *self, const Qt__V1__FeatureVector *fv,
                               models_out_t *out, bool *emitted);
size_t models_pending(const models_t *self);
/* Cross-sectional: fills out[0..pending) (cap must be >= models_pending) in symbol order
 * and clears the batch; returns the count. Per-symbol models: 0. */
size_t models_on_watermark(models_t *self, models_out_t *out, size_t cap);
void models_save(const models_t *self, qt_buf_t *out);
bool models_load(models_t *self, qt_reader_t *r);

/* ---- XGBoost artifacts and hot swap ---- */
/* Does this model (or an ensemble member) need an XGBoost artifact? */
bool models_uses_xgb(const models_t *self);
/* Installs a booster (ownership taken, also on failure) with its feature names and
 * artifact id into every XGB generator; the previous booster is freed. Call between
 * batches only. 0 ok, -1 (booster freed) when the model has no XGB part or names bad. */
int models_install_xgb(models_t *self, qt_gbt_t *booster, const char *const *names,
                       size_t nnames, const char *version);

/* Reload driver, injected so it is testable without Redis:
 *   read_pointer(ud, id, idlen): 1 and the promoted id, 0 no pointer, -1 error;
 *   load(ud, id, &booster, names, &nnames): 0 ok (booster + up to MODELS_MAX_XGB_FEATURES
 *   names), -1 error. */
typedef struct {
    int (*read_pointer)(void *ud, char *id, size_t idlen);
    int (*load)(void *ud, const char *id, qt_gbt_t **booster, models_fname_t *names,
                size_t *nnames);
    void *ud;
    int64_t interval_ns;      /* minimum time between pointer reads */
    int64_t last_ns;          /* last read time (INT64_MIN: never) */
    char failed_id[MODELS_VERSION_MAX + 1];   /* an id that failed to load: not retried */
} models_reloader_t;
void models_reloader_init(models_reloader_t *r, int64_t interval_ns);
/* At most once per interval: reads the pointer; a new id is loaded and installed.
 * Returns 1 swapped, 0 nothing to do, -1 error (old model kept). */
int models_reload(models_t *self, models_reloader_t *r, int64_t now_ns);

/* ---- configuration files (services/models/models_config.c) ---- */
#include "qt_config.h"
/* Reads models.yml keys into *cfg (starting from models_cfg_default); registry_dir
 * (may be NULL) gets models.registry.dir (default "var/models"), *reload_s gets
 * models.xgb.reload_interval_s (default 10). Errors are recorded in c (qt_config_error);
 * false when the config is invalid (why filled). */
bool models_cfg_from_config(qt_config_t *c, models_cfg_t *cfg, char *registry_dir,
                            size_t dirlen, double *reload_s, char *why, size_t whylen);
/* Reads alpha_beta.yml: default.{k_alpha,conf_power,beta,beta_uncertainty} and
 * models.<MODEL>.{...} (missing keys inherit the default). */
bool models_ab_from_config(qt_config_t *c, models_ab_t *ab, char *why, size_t whylen);

/* Loads registry artifact id (qt_registry) into a booster + its feature names (meta
 * "features", 1..MODELS_MAX_XGB_FEATURES names) after verifying its hashes; 0 ok, -1 err. */
struct qt_registry_t;
int models_artifact_load(struct qt_registry_t *reg, const char *id, qt_gbt_t **booster,
                         models_fname_t *names, size_t *nnames, char *err, size_t errlen);

/* ---- drift of live features / predictions (libs/quant/qt_drift.h) ----
 * Reference = the artifact meta's "reference" object written by `qtctl models train`:
 * per feature name (and "_prediction") {edges: 9 decile edges, frac: 10 fractions,
 * sample: sorted order statistics}. Live values: the last `window` observations per
 * series (ring buffer). PSI uses the reference bins, KS the reference sample. */
typedef struct models_drift_t models_drift_t;
models_drift_t *models_drift_new(const json_t *meta, size_t window, char *err, size_t errlen);
void models_drift_destroy(models_drift_t **self_p);
/* Records one ready signal: each reference feature found (ready) in fv, and the
 * prediction p = (score + 1) / 2. Not-ready signals are ignored. */
void models_drift_observe(models_drift_t *self, const Qt__V1__FeatureVector *fv,
                          const Qt__V1__Signal *sig);
size_t models_drift_series(const models_drift_t *self);
/* Statistics of series k: false (nothing computed) while it holds fewer than min_n
 * live values. name: the feature name or "_prediction". */
bool models_drift_stat(const models_drift_t *self, size_t k, size_t min_n, const char **name,
                       double *psi, double *ks, double *ks_p, size_t *n);

#endif
