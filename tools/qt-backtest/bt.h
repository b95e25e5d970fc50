/* qt-backtest: shared declarations of the tool's files.
 *
 * bt_config.c reads configs/backtest.yml and the service configs it points at into the
 * cores' config structs; qt_backtest.c runs the cores batch by batch and writes the
 * outputs. See docs/backtest.md. */
#ifndef BT_H
#define BT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exec/paper.h"
#include "features/features.h"
#include "models/models.h"
#include "optimizer/optimizer.h"
#include "qt_audit.h"
#include "risk/risk.h"

#define BT_MAX_FILES 16
#define BT_PATH_MAX 1024
#define BT_GRID_MAX 32

typedef struct {
    /* backtest.yml */
    char configs_dir[BT_PATH_MAX / 2];   /* service configs directory */
    int64_t start_ms, end_ms;        /* replay window; end_ms < 0: to the end */
    char **symbols;                  /* only these (NULL: every file ingest would read) */
    size_t nsymbols;
    uint64_t seed;                   /* optimizer seed (anneal / QAOA) */
    double periods_per_year;         /* annualisation: 2190 for 4h bars (6 x 365) */
    /* ingest.yml */
    char data_dir[BT_PATH_MAX], source[BT_PATH_MAX], glob[128], interval[16], venue[32];
    double outlier_z;
    qt_policy_t policy;              /* ingest.policy (cleaning), default qt_policy_default */
    int64_t interval_ms;
    /* the cores */
    features_cfg_t feat;
    models_cfg_t models;
    models_ab_t ab;
    optimizer_config_t opt;
    risk_config_t risk;
    paper_config_t paper;
    /* grid: (backtest.yml grid:) trials = the cartesian product of up to two parameter
     * lists; gates PBO < pbo_max and DSR >= dsr_min give the verdict */
    struct {
        char param[2][48];
        double values[2][BT_GRID_MAX];
        size_t nvalues[2];           /* 0: that parameter is not used */
        uint32_t blocks;             /* CSCV blocks S (even, 2..20), default 8 */
        double pbo_max, dsr_min;     /* defaults 0.5, 0.95 */
        uint32_t wf_folds;           /* walk-forward OOS folds, 0 = off (default 4) */
        uint32_t cpcv_groups;        /* CPCV groups N, 0 = off (default 6) */
        uint32_t cpcv_test;          /* test groups k per split (default 2) */
        uint32_t cpcv_embargo;       /* bars embargoed after each test group (default 0) */
    } grid;
    char params[160];                /* grid trial: "name=value[,name=value]" ("" for run) */
    /* every configuration file read, in reading order (hashed into the run log) */
    char files[BT_MAX_FILES][BT_PATH_MAX];
    size_t nfiles;
} bt_config_t;

/* Loads the backtest config FILE and the service configs. 0 ok; 2 on a bad file or
 * value (message on stderr naming the file and key). */
int bt_config_load(const char *path, bt_config_t *cfg);
void bt_config_free(bt_config_t *cfg);
/* Sets one grid parameter by name (features.sma_fast, features.sma_slow, features.rvol,
 * models.ma_v1.gain, optimizer.max_names, optimizer.min_score, optimizer.max_weight,
 * risk.rebalance_band) and re-validates the core's config. 0, or -1 with why. */
int bt_config_set_param(bt_config_t *cfg, const char *name, double v, char *why, size_t whylen);

/* One backtest (qt_backtest.c): runs cfg and writes out_dir (metrics.json, trades.csv,
 * equity.csv, a line in run_log or out_dir/run_log.jsonl). quiet: nothing on stdout.
 * art (may be NULL) receives the artifact hash. 0 ok, 1 data/books error, 2 config. */
int bt_run_one(const bt_config_t *cfg, const char *out_dir, const char *run_log,
               const char *cfg_path, bool quiet, char art[65]);
/* The grid (bt_grid.c): every trial in a fork pool of `jobs` processes, then PBO/DSR
 * and the verdict into out_dir/grid.json. Exit code as bt_run_one. */
int bt_grid(const bt_config_t *cfg, const char *out_dir, const char *run_log,
            const char *cfg_path, unsigned jobs);

/* report.html (inline SVG: equity and drawdown, the metrics) and portfolio_snapshot.png
 * (cairo: equity, drawdown, the final position weights) of one run (bt_report.c).
 * t_ms/equity: n points; names/weights: the final positions (nw); metrics: the
 * metrics.json text. 0 / -1 (message printed). */
int bt_report_html(const char *path, const int64_t *t_ms, const double *equity, size_t n,
                   const char *metrics, size_t mlen);
int bt_report_png(const char *path, const double *equity, size_t n, const char *const *names,
                  const double *weights, size_t nw);
#endif
