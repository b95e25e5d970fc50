/* bt_config: configs/backtest.yml + the service configs it reuses -> the cores' config
 * structs.
 *
 * Why here and not in the cores: models and risk have their readers in their cores
 * (models_cfg_from_config, models_ab_from_config, risk_config_read) and they are called
 * as is. features, optimizer, exec and ingest read their YAML keys in their main.c
 * (static functions), which the backtest cannot call; the key lists below mirror those
 * KEY FOR KEY (same names, defaults and bounds) so that the backtest runs the cores with
 * the settings the daemons use. This is a temporary duplicate of wiring, not of logic:
 * the refactor that removes it (move each load_config into its core as
 * <svc>_config_from_config(qt_config_t *, cfg *)) is listed in docs/backtest.md. */
#include "bt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qt_audit.h"
#include "qt_bars.h"
#include "qt_config.h"
#include "ingest/ingest.h"

static int fail_cfg(qt_config_t **c, const char *msg_file, const char *msg) {
    fprintf(stderr, "qt-backtest: %s%s%s\n", msg_file ? msg_file : "", msg_file ? ": " : "", msg);
    qt_config_destroy(c);
    return 2;
}

/* Opens configs_dir/name (required: the backtest must know what the daemons run). */
static qt_config_t *open_cfg(bt_config_t *cfg, const char *name) {
    if (cfg->nfiles >= BT_MAX_FILES) return NULL;
    char *path = cfg->files[cfg->nfiles];
    char dir[BT_PATH_MAX / 2];
    memcpy(dir, cfg->configs_dir, sizeof dir);
    snprintf(path, BT_PATH_MAX, "%.500s/%.200s", dir, name);
    char err[512] = "";
    qt_config_t *c = qt_config_load(path, err, sizeof err);
    if (!c) {
        fprintf(stderr, "qt-backtest: %s\n", err);
        return NULL;
    }
    cfg->nfiles++;
    return c;
}

static int check_err(qt_config_t **c) {
    if (qt_config_error(*c)) return fail_cfg(c, NULL, qt_config_error(*c));
    qt_config_destroy(c);
    return 0;
}

static void copy(char *dst, size_t len, const char *src) { snprintf(dst, len, "%s", src ? src : ""); }

/* mirror of services/ingest/main.c load_config (the keys the replay needs) */
static int load_ingest(bt_config_t *cfg, char *start, size_t slen, char *end, size_t elen) {
    qt_config_t *y = open_cfg(cfg, "ingest.yml");
    if (!y) return 2;
    const char *env_dir = getenv("QT_DATA_DIR");
    copy(cfg->data_dir, sizeof cfg->data_dir,
         qt_config_str(y, "data_dir", env_dir && *env_dir ? env_dir : "../shared/data"));
    copy(cfg->source, sizeof cfg->source,
         qt_config_str(y, "ingest.source", "raw/djienne-3EMA_SRSI_ATR-binance/4h"));
    copy(cfg->interval, sizeof cfg->interval, qt_config_str(y, "ingest.interval", "4h"));
    copy(cfg->glob, sizeof cfg->glob, qt_config_str(y, "ingest.glob", ""));
    copy(cfg->venue, sizeof cfg->venue, qt_config_str(y, "ingest.venue", "binance"));
    copy(start, slen, qt_config_str(y, "ingest.start", "2022-03-17T00:00:00Z"));
    copy(end, elen, qt_config_str(y, "ingest.end", ""));
    cfg->outlier_z = qt_config_double(y, "ingest.outlier_z", false, QT_AUDIT_DEFAULT_Z, 0.1, 1e6);
    qt_policy_default(&cfg->policy);
    size_t npol = qt_config_map_len(y, "ingest.policy");
    for (size_t k = 0; k < npol; k++) {
        const char *prob = qt_config_map_key(y, "ingest.policy", k);
        char key[128], msg[300];
        snprintf(key, sizeof key, "ingest.policy.%.100s", prob ? prob : "");
        const char *act = qt_config_str(y, key, "");
        if (!prob || !act || qt_policy_set(&cfg->policy, prob, act) != 0) {
            snprintf(msg, sizeof msg, "%s: '%.60s' is not drop|quarantine|flag for a known problem",
                     key, act ? act : "");
            return fail_cfg(&y, qt_config_name(y), msg);
        }
    }
    if (qt_config_has(y, "ingest.pairs") && qt_config_seq_len(y, "ingest.pairs") > 0 &&
        !cfg->symbols) {
        size_t np = qt_config_seq_len(y, "ingest.pairs");
        cfg->symbols = calloc(np, sizeof *cfg->symbols);
        if (!cfg->symbols) return fail_cfg(&y, NULL, "out of memory");
        for (size_t i = 0; i < np; i++) {
            const char *p = qt_config_seq_str(y, "ingest.pairs", i);
            cfg->symbols[i] = strdup(p ? p : "");
            if (!cfg->symbols[i]) return fail_cfg(&y, NULL, "out of memory");
            cfg->nsymbols++;
        }
    }
    if (!cfg->glob[0]) snprintf(cfg->glob, sizeof cfg->glob, "*-%s.json*", cfg->interval);
    cfg->interval_ms = ingest_interval_ms(cfg->interval);
    if (cfg->interval_ms <= 0) return fail_cfg(&y, qt_config_name(y), "ingest.interval not understood");
    return check_err(&y);
}

/* mirror of services/features/main.c */
static int load_features(bt_config_t *cfg) {
    features_cfg_t *f = &cfg->feat;
    features_cfg_default(f);
    qt_config_t *fc = open_cfg(cfg, "features.yml");
    if (!fc) return 2;
    f->sma_fast = (uint32_t)qt_config_int(fc, "features.sma_fast", false, 10, 1, QT_IND_MAX_WINDOW);
    f->sma_slow = (uint32_t)qt_config_int(fc, "features.sma_slow", false, 30, 1, QT_IND_MAX_WINDOW);
    f->ema_fast = (uint32_t)qt_config_int(fc, "features.ema_fast", false, 12, 1, QT_IND_MAX_WINDOW);
    f->ema_slow = (uint32_t)qt_config_int(fc, "features.ema_slow", false, 26, 1, QT_IND_MAX_WINDOW);
    f->rvol = (uint32_t)qt_config_int(fc, "features.rvol", false, 20, 2, QT_IND_MAX_WINDOW);
    f->max_symbols = (uint32_t)qt_config_int(fc, "features.max_symbols", false, 1024, 1,
                                             FEATURES_MAX_SYMBOLS_LIMIT);
    const char *spec = qt_config_str(fc, "features.spec", FEATURES_DEFAULT_SPEC);
    if (spec && strlen(spec) >= sizeof f->spec)
        return fail_cfg(&fc, qt_config_name(fc), "features.spec too long");
    if (spec) snprintf(f->spec, sizeof f->spec, "%s", spec);
    const char *hz = qt_config_str(fc, "features.horizons", "");
    if (hz && strlen(hz) >= sizeof f->horizons)
        return fail_cfg(&fc, qt_config_name(fc), "features.horizons too long");
    if (hz) snprintf(f->horizons, sizeof f->horizons, "%s", hz);
    char why[160];
    if (!qt_config_error(fc) && !features_cfg_valid(f, why, sizeof why))
        return fail_cfg(&fc, qt_config_name(fc), why);
    return check_err(&fc);
}

/* models: the core's own loaders */
static int load_models(bt_config_t *cfg) {
    models_cfg_default(&cfg->models);
    models_ab_default(&cfg->ab);
    char regdir[BT_PATH_MAX], why[512] = "";
    double reload_s = 10;
    qt_config_t *mc = open_cfg(cfg, "models.yml");
    if (!mc) return 2;
    if (!models_cfg_from_config(mc, &cfg->models, regdir, sizeof regdir, &reload_s, why, sizeof why))
        return fail_cfg(&mc, qt_config_name(mc), why);
    qt_config_destroy(&mc);
    qt_config_t *ac = open_cfg(cfg, "alpha_beta.yml");
    if (!ac) return 2;
    if (!models_ab_from_config(ac, &cfg->ab, why, sizeof why))
        return fail_cfg(&ac, qt_config_name(ac), why);
    qt_config_destroy(&ac);
    return 0;
}

static int enum_key(qt_config_t *y, const char *key, const char *dflt, int which, int *out) {
    const char *v = qt_config_str(y, key, dflt);
    bool ok = false;
    if (which == 0) { optimizer_solver_t s; ok = v && optimizer_solver_parse(v, &s); if (ok) *out = (int)s; }
    if (which == 1) { optimizer_weighting_t w; ok = v && optimizer_weighting_parse(v, &w); if (ok) *out = (int)w; }
    if (which == 2) { optimizer_adopt_t a; ok = v && optimizer_adopt_parse(v, &a); if (ok) *out = (int)a; }
    if (!ok) fprintf(stderr, "qt-backtest: %s: key '%s': unknown value '%s'\n", qt_config_name(y), key, v ? v : "");
    return ok ? 0 : 2;
}

/* mirror of services/optimizer/main.c load_config */
static int load_optimizer(bt_config_t *cfg) {
    optimizer_config_t *o = &cfg->opt;
    optimizer_config_defaults(o);
    qt_config_t *y = open_cfg(cfg, "optimizer.yml");
    if (!y) return 2;
    o->min_score = qt_config_double(y, "optimizer.min_score", false, o->min_score, -1.0, 0.999999);
    o->gross_weight = qt_config_double(y, "optimizer.gross_weight", false, o->gross_weight, 1e-6, 1.0);
    o->max_weight = qt_config_double(y, "optimizer.max_weight", false, o->max_weight, 1e-6, 1.0);
    o->max_names = (uint32_t)qt_config_int(y, "optimizer.max_names", false, o->max_names, 1, 1024);
    o->max_candidates = (uint32_t)qt_config_int(y, "optimizer.max_candidates", false,
                                                o->max_candidates, 1, OPTIMIZER_MAX_CANDIDATES);
    o->risk_aversion = qt_config_double(y, "optimizer.risk_aversion", false, o->risk_aversion, 0.0, 1e6);
    o->cov_window = (uint32_t)qt_config_int(y, "optimizer.cov_window", false, o->cov_window, 2,
                                            OPTIMIZER_MAX_COV_WINDOW);
    o->cov_min_obs = (uint32_t)qt_config_int(y, "optimizer.cov_min_obs", false, o->cov_min_obs, 2,
                                             OPTIMIZER_MAX_COV_WINDOW);
    o->seed = (uint64_t)qt_config_int(y, "optimizer.seed", false, (int64_t)o->seed, 0, INT64_MAX);
    o->qaoa_enabled = qt_config_bool(y, "optimizer.qaoa.enabled", false, o->qaoa_enabled);
    o->qaoa_p = (uint32_t)qt_config_int(y, "optimizer.qaoa.p", false, o->qaoa_p, 1, 16);
    o->qaoa_max_qubits = (uint32_t)qt_config_int(y, "optimizer.qaoa.max_qubits", false, o->qaoa_max_qubits, 1, 26);
    o->qaoa_multistart = (uint32_t)qt_config_int(y, "optimizer.qaoa.multistart", false, o->qaoa_multistart, 1, 64);
    o->qaoa_max_evals = (uint32_t)qt_config_int(y, "optimizer.qaoa.max_evals", false, o->qaoa_max_evals, 1, 100000);
    o->qaoa_shots = (uint32_t)qt_config_int(y, "optimizer.qaoa.shots", false, o->qaoa_shots, 1, 1000000);
    int s = 0, w = 0, a = 0;
    if (enum_key(y, "optimizer.solver", "inverse_vol", 0, &s) ||
        enum_key(y, "optimizer.weighting", "inverse_vol", 1, &w) ||
        enum_key(y, "optimizer.qaoa.adopt", "identical", 2, &a)) {
        qt_config_destroy(&y);
        return 2;
    }
    o->solver = (optimizer_solver_t)s;
    o->weighting = (optimizer_weighting_t)w;
    o->qaoa_adopt = (optimizer_adopt_t)a;
    if (check_err(&y)) return 2;
    qt_config_t *sl = open_cfg(cfg, "slas.yml");
    if (!sl) return 2;
    o->qaoa_latency_ms = qt_config_double(sl, "qaoa.latency_ms", false, o->qaoa_latency_ms, 1e-3, 600000.0);
    o->quality_tolerance = qt_config_double(sl, "qaoa.quality_tolerance", false, o->quality_tolerance, 0.0, 10.0);
    o->failures_to_open = (uint32_t)qt_config_int(sl, "qaoa.failures_to_open", false, o->failures_to_open, 1, 1000);
    o->cooldown_ms = qt_config_int(sl, "qaoa.cooldown_ms", false, o->cooldown_ms, 0, 86400000);
    return check_err(&sl);
}

/* risk: the core's own reader (risk_config_read) */
static int load_risk(bt_config_t *cfg) {
    risk_config_defaults(&cfg->risk);
    qt_config_t *y = open_cfg(cfg, "risk.yml");
    if (!y) return 2;
    risk_config_read(y, &cfg->risk);
    return check_err(&y);
}

/* mirror of services/exec/main.c load_paper_config */
static int load_exec(bt_config_t *cfg) {
    paper_config_t *p = &cfg->paper;
    paper_config_defaults(p);
    qt_config_t *c = open_cfg(cfg, "exec.yml");
    if (!c) return 2;
    p->fee_bps = qt_config_int(c, "fee_bps", false, p->fee_bps, 0, 1000);
    p->slippage_bps = qt_config_int(c, "slippage_bps", false, p->slippage_bps, 0, 1000);
    p->initial_cash = qt_config_money(c, "initial_cash", false, p->initial_cash);
    return check_err(&c);
}

static int parse_time(const char *file, const char *key, const char *s, int64_t *ms) {
    if (!qt_bars_parse_time(s, strlen(s), ms)) {
        fprintf(stderr, "qt-backtest: %s: %s: '%s' is not a date/time\n", file, key, s);
        return 2;
    }
    return 0;
}

int bt_config_set_param(bt_config_t *cfg, const char *name, double v, char *why, size_t whylen) {
    const char *err = NULL;
    char buf[160] = "";
    bool integer = v == (double)(int64_t)v && v >= 0 && v <= 1e6;
    if (strcmp(name, "features.sma_fast") == 0 && integer) cfg->feat.sma_fast = (uint32_t)v;
    else if (strcmp(name, "features.sma_slow") == 0 && integer) cfg->feat.sma_slow = (uint32_t)v;
    else if (strcmp(name, "features.rvol") == 0 && integer) cfg->feat.rvol = (uint32_t)v;
    else if (strcmp(name, "models.ma_v1.gain") == 0) cfg->models.ma_v1.gain = v;
    else if (strcmp(name, "optimizer.max_names") == 0 && integer) cfg->opt.max_names = (uint32_t)v;
    else if (strcmp(name, "optimizer.min_score") == 0) cfg->opt.min_score = v;
    else if (strcmp(name, "optimizer.max_weight") == 0) cfg->opt.max_weight = v;
    else if (strcmp(name, "risk.rebalance_band") == 0) cfg->risk.rebalance_band = v;
    else {
        snprintf(why, whylen, "%s: unknown grid parameter or not an integer where one is needed", name);
        return -1;
    }
    if (!features_cfg_valid(&cfg->feat, buf, sizeof buf)) err = buf;
    else if (!models_cfg_valid(&cfg->models, buf, sizeof buf)) err = buf;
    else if ((err = optimizer_config_check(&cfg->opt)) != NULL) {
    } else if ((err = risk_config_check(&cfg->risk)) != NULL) {
    }
    if (err) {
        snprintf(why, whylen, "%s = %g: %s", name, v, err);
        return -1;
    }
    return 0;
}

/* grid: param / values, param2 / values2, blocks, pbo_max, dsr_min */
static int load_grid(qt_config_t *b, const char *path, bt_config_t *cfg) {
    cfg->grid.blocks = (uint32_t)qt_config_int(b, "grid.blocks", false, 8, 2, 20);
    cfg->grid.pbo_max = qt_config_double(b, "grid.pbo_max", false, 0.5, 0.0, 1.0);
    cfg->grid.dsr_min = qt_config_double(b, "grid.dsr_min", false, 0.95, 0.0, 1.0);
    cfg->grid.wf_folds = (uint32_t)qt_config_int(b, "grid.wf_folds", false, 4, 0, 64);
    cfg->grid.cpcv_groups = (uint32_t)qt_config_int(b, "grid.cpcv_groups", false, 6, 0, 16);
    cfg->grid.cpcv_test = (uint32_t)qt_config_int(b, "grid.cpcv_test", false, 2, 1, 15);
    cfg->grid.cpcv_embargo = (uint32_t)qt_config_int(b, "grid.cpcv_embargo", false, 0, 0, 100000);
    if (cfg->grid.cpcv_groups && (cfg->grid.cpcv_groups < 2 || cfg->grid.cpcv_test >= cfg->grid.cpcv_groups)) {
        fprintf(stderr, "qt-backtest: %s: grid.cpcv_groups must be 0 or >= 2 and > grid.cpcv_test\n", path);
        return 2;
    }
    if (cfg->grid.blocks % 2) {
        fprintf(stderr, "qt-backtest: %s: grid.blocks must be even\n", path);
        return 2;
    }
    const char *pk[2] = {"grid.param", "grid.param2"}, *vk[2] = {"grid.values", "grid.values2"};
    for (int k = 0; k < 2; k++) {
        const char *name = qt_config_str(b, pk[k], "");
        if (!name || !name[0]) continue;
        snprintf(cfg->grid.param[k], sizeof cfg->grid.param[k], "%s", name);
        size_t n = qt_config_has(b, vk[k]) ? qt_config_seq_len(b, vk[k]) : 0;
        if (n == 0 || n > BT_GRID_MAX) {
            fprintf(stderr, "qt-backtest: %s: %s: 1..%d values needed\n", path, vk[k], BT_GRID_MAX);
            return 2;
        }
        for (size_t i = 0; i < n; i++) {
            const char *sv = qt_config_seq_str(b, vk[k], i);
            char *end = NULL;
            double v = sv ? strtod(sv, &end) : 0;
            if (!sv || !*sv || !end || *end || !isfinite(v)) {
                fprintf(stderr, "qt-backtest: %s: %s[%zu]: '%s' is not a number\n", path, vk[k], i,
                        sv ? sv : "");
                return 2;
            }
            cfg->grid.values[k][i] = v;
        }
        cfg->grid.nvalues[k] = n;
    }
    if (cfg->grid.nvalues[1] && !cfg->grid.nvalues[0]) {
        fprintf(stderr, "qt-backtest: %s: grid.param2 without grid.param\n", path);
        return 2;
    }
    return 0;
}

int bt_config_load(const char *path, bt_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    if (cfg->nfiles < BT_MAX_FILES) snprintf(cfg->files[cfg->nfiles++], BT_PATH_MAX, "%s", path);
    char err[512] = "";
    qt_config_t *b = qt_config_load(path, err, sizeof err);
    if (!b) {
        fprintf(stderr, "qt-backtest: %s\n", err);
        return 2;
    }
    (void)qt_config_int(b, "version", true, 1, 1, 1);
    copy(cfg->configs_dir, sizeof cfg->configs_dir, qt_config_str(b, "backtest.configs", "configs"));
    char bstart[64], bend[64];
    copy(bstart, sizeof bstart, qt_config_str(b, "backtest.start", ""));
    copy(bend, sizeof bend, qt_config_str(b, "backtest.end", ""));
    cfg->periods_per_year = qt_config_double(b, "backtest.periods_per_year", false, 2190.0, 1e-6, 1e9);
    size_t ns = qt_config_has(b, "backtest.symbols") ? qt_config_seq_len(b, "backtest.symbols") : 0;
    if (ns) {
        cfg->symbols = calloc(ns, sizeof *cfg->symbols);
        if (!cfg->symbols) return fail_cfg(&b, NULL, "out of memory");
        for (size_t i = 0; i < ns; i++) {
            const char *s = qt_config_seq_str(b, "backtest.symbols", i);
            if (!s || !ingest_symbol_valid(s)) return fail_cfg(&b, path, "backtest.symbols: invalid symbol");
            cfg->symbols[i] = strdup(s);
            if (!cfg->symbols[i]) return fail_cfg(&b, NULL, "out of memory");
            cfg->nsymbols++;
        }
    }
    char istart[64], iend[64];
    int rc = load_ingest(cfg, istart, sizeof istart, iend, sizeof iend);
    if (!rc) rc = load_features(cfg);
    if (!rc) rc = load_models(cfg);
    if (!rc) rc = load_optimizer(cfg);
    if (!rc) rc = load_risk(cfg);
    if (!rc) rc = load_exec(cfg);
    if (rc) {
        qt_config_destroy(&b);
        return rc;
    }
    /* overrides (absent: the service configs' values) */
    cfg->opt.seed = (uint64_t)qt_config_int(b, "backtest.seed", false, (int64_t)cfg->opt.seed, 0, INT64_MAX);
    cfg->seed = cfg->opt.seed;
    if (qt_config_has(b, "backtest.initial_cash")) {
        qt_fixed_t cash = qt_config_money(b, "backtest.initial_cash", true, 0);
        cfg->paper.initial_cash = cash;
        cfg->risk.capital = cash;
    }
    cfg->paper.fee_bps = qt_config_int(b, "backtest.costs.fee_bps", false, cfg->paper.fee_bps, 0, 1000);
    cfg->paper.slippage_bps =
        qt_config_int(b, "backtest.costs.slippage_bps", false, cfg->paper.slippage_bps, 0, 1000);
    if (load_grid(b, path, cfg) != 0) {
        qt_config_destroy(&b);
        return 2;
    }
    if (qt_config_error(b)) return fail_cfg(&b, NULL, qt_config_error(b));
    const char *s = bstart[0] ? bstart : istart, *e = bend[0] ? bend : iend;
    if (parse_time(path, "start", s, &cfg->start_ms)) return fail_cfg(&b, NULL, "bad start");
    cfg->end_ms = -1;
    if (e[0] && parse_time(path, "end", e, &cfg->end_ms)) return fail_cfg(&b, NULL, "bad end");
    if (cfg->start_ms < 0 || cfg->start_ms > FEATURES_MAX_TIME_MS || cfg->end_ms > FEATURES_MAX_TIME_MS)
        return fail_cfg(&b, path, "start/end outside 1970 .. 2262 (ns must fit in int64)");
    if (cfg->end_ms >= 0 && cfg->end_ms < cfg->start_ms) return fail_cfg(&b, path, "end before start");
    const char *why = optimizer_config_check(&cfg->opt);
    if (!why) why = risk_config_check(&cfg->risk);
    if (!why) why = paper_config_check(&cfg->paper);
    if (why) return fail_cfg(&b, path, why);
    if (cfg->risk.capital != cfg->paper.initial_cash)
        fprintf(stderr, "qt-backtest: warning: risk capital differs from the broker's initial cash\n");
    qt_config_destroy(&b);
    return 0;
}

void bt_config_free(bt_config_t *cfg) {
    if (!cfg) return;
    for (size_t i = 0; i < cfg->nsymbols; i++) free(cfg->symbols[i]);
    free(cfg->symbols);
    cfg->symbols = NULL;
    cfg->nsymbols = 0;
}
