/* bt_grid: a strategy family as N trials (the cartesian product of up to two parameter
 * lists), run in a fork pool, then judged for overfitting.
 *
 * Why processes: the cores are single-threaded and own their state, so a trial is just
 * another backtest; a fork pool (-j N) uses N cores without any shared state, and each
 * trial writes its own directory. The results do not depend on N: the trials are
 * collected by index, never in completion order. The parent runs no core code before it
 * forks (only the config load), so no OpenMP thread pool (QAOA) exists across a fork.
 *
 * Judgement (libs/quant/qt_overfit.h, docs/quant/statistics.md):
 *   - PBO by CSCV over the T x N matrix of per-bar returns (Bailey, Borwein, Lopez de
 *     Prado & Zhu 2017), grid.blocks contiguous blocks;
 *   - DSR of the best trial (highest per-bar Sharpe, lowest index on ties): PSR against
 *     the expected maximum Sharpe of N trials with the trials' Sharpe variance (Bailey &
 *     Lopez de Prado 2014);
 *   - verdict "pass" when PBO < grid.pbo_max (default 0.5) and DSR >= grid.dsr_min
 *     (default 0.95), else "fail";
 *   - a walk-forward selection and CPCV selection paths over the trials (walk_forward,
 *     cpcv_paths below), reported apart (not gated). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bt.h"
#include "qt_cv.h"
#include "qt_overfit.h"
#include "qt_stats.h"

#define PROG "qt-backtest"

/* The return column (last) of an equity.csv. 0 / -1 (message printed). */
static int read_returns(const char *path, double **out, size_t *n) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[1024];
    size_t cap = 0, k = 0;
    double *r = NULL;
    int rc = 0;
    bool header = true;
    while (fgets(line, sizeof line, f)) {
        if (header) {
            header = false;
            continue;
        }
        char *c = strrchr(line, ',');
        char *end = NULL;
        double v = c ? strtod(c + 1, &end) : NAN;
        if (!c || !end || (*end != '\n' && *end != '\0') || !isfinite(v)) {
            fprintf(stderr, PROG ": %s:%zu: bad return\n", path, k + 2);
            rc = -1;
            break;
        }
        if (k == cap) {
            cap = cap ? 2 * cap : 1024;
            double *q = realloc(r, cap * sizeof *q);
            if (!q) {
                rc = -1;
                break;
            }
            r = q;
        }
        r[k++] = v;
    }
    fclose(f);
    if (rc) {
        free(r);
        return -1;
    }
    *out = r;
    *n = k;
    return 0;
}

static void jnum(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.17g", v);
    else fputs("null", f);
}

/* Anchored walk-forward selection over the trial streams. The T rows are cut into K + 1
 * contiguous blocks (numpy.array_split sizes: the first T % (K + 1) blocks get one more
 * row); for fold f = 1..K the trial with the highest per-bar Sharpe over rows
 * [0, start_f) (qt_stats_perf; lowest index on ties) is chosen, and its returns over
 * block f join the out-of-sample stream. Each trial's stream is its own continuous run
 * (positions carried over the fold boundary): this is a selection between the trials'
 * equity streams, not a re-run from flat at each boundary. 0 / -1 (too few rows, OOM). */
static int walk_forward(const double *m, size_t t_rows, size_t n, uint32_t k, double ppy,
                        size_t *choice, size_t *start, size_t *end, double *is_sr, double *oos,
                        size_t *n_oos) {
    size_t parts = (size_t)k + 1;
    if (k == 0 || t_rows < 2 * parts) return -1;
    double *col = malloc(t_rows * sizeof *col);
    if (!col) return -1;
    size_t row = 0, no = 0;
    int rc = 0;
    for (size_t b = 0; b < parts && rc == 0; b++) {
        size_t len = t_rows / parts + (b < t_rows % parts ? 1 : 0);
        if (b > 0) {
            size_t f = b - 1, best = 0;
            double best_sr = -INFINITY;
            for (size_t j = 0; j < n; j++) {
                for (size_t t = 0; t < row; t++) col[t] = m[t * n + j];
                qt_perf_t p;
                double sr = qt_stats_perf(col, row, ppy, &p) == 0 ? p.sharpe_per_period : NAN;
                if (sr > best_sr) {   /* NaN never wins */
                    best_sr = sr;
                    best = j;
                }
            }
            choice[f] = best;
            start[f] = row;
            end[f] = row + len;
            is_sr[f] = best_sr;
            for (size_t t = row; t < row + len; t++) oos[no++] = m[t * n + best];
        }
        row += len;
    }
    free(col);
    *n_oos = no;
    return rc;
}

/* CPCV selection paths over the trial streams (AFML ch. 12, libs/quant/qt_cv.h):
 * observations = the bars (point labels t0 = t1 = row), N groups, k test groups, an
 * embargo in bars. For each split the trial with the best per-bar Sharpe over the
 * split's purged and embargoed training rows is chosen (lowest index on ties); path p
 * takes, for every group g, the returns of the trial chosen by the split that supplies g
 * on path p (qt_cv_path_split). Each path is a complete out-of-sample history of the
 * selection rule; *sharpe (malloc'd, *n_paths entries) gets their annualised Sharpe.
 * 0 / -1 (bad sizes: message printed, or OOM). */
static int cpcv_paths(const double *m, size_t t_rows, size_t n, const bt_config_t *cfg,
                      size_t *n_splits, size_t *n_paths, double **sharpe) {
    int64_t *t0 = malloc(t_rows * sizeof *t0);
    size_t *train = malloc(t_rows * sizeof *train), *choice = NULL;
    double *col = malloc(t_rows * sizeof *col), *sr = NULL;
    char err[256] = "";
    qt_cv_t *cv = NULL;
    int rc = -1;
    if (!t0 || !train || !col) goto done;
    for (size_t i = 0; i < t_rows; i++) t0[i] = (int64_t)i;
    cv = qt_cv_cpcv_new(t_rows, t0, NULL, cfg->grid.cpcv_groups, cfg->grid.cpcv_test,
                        (int64_t)cfg->grid.cpcv_embargo, err, sizeof err);
    if (!cv) {
        fprintf(stderr, PROG ": CPCV: %s\n", err[0] ? err : "out of memory");
        goto done;
    }
    size_t ns = qt_cv_n_splits(cv), np = qt_cv_n_paths(cv), ng = qt_cv_n_groups(cv);
    choice = calloc(ns, sizeof *choice);
    sr = calloc(np ? np : 1, sizeof *sr);
    if (!choice || !sr) goto done;
    for (size_t s = 0; s < ns; s++) {
        size_t ntr = 0;
        if (qt_cv_split(cv, s, NULL, train, &ntr, NULL, NULL) != 0) goto done;
        double best_sr = -INFINITY;
        for (size_t j = 0; j < n; j++) {
            for (size_t i = 0; i < ntr; i++) col[i] = m[train[i] * n + j];
            qt_perf_t p;
            double v = qt_stats_perf(col, ntr, cfg->periods_per_year, &p) == 0 ? p.sharpe_per_period : NAN;
            if (v > best_sr) {   /* NaN never wins; all NaN: trial 0 */
                best_sr = v;
                choice[s] = j;
            }
        }
    }
    for (size_t p = 0; p < np; p++) {
        for (size_t g = 0; g < ng; g++) {
            size_t s = qt_cv_path_split(cv, p, g), b, e;
            if (s == SIZE_MAX) goto done;
            qt_cv_group_range(cv, g, &b, &e);
            for (size_t t = b; t < e; t++) col[t] = m[t * n + choice[s]];
        }
        qt_perf_t pf;
        sr[p] = qt_stats_perf(col, t_rows, cfg->periods_per_year, &pf) == 0 ? pf.sharpe : NAN;
    }
    *n_splits = ns;
    *n_paths = np;
    *sharpe = sr;
    sr = NULL;
    rc = 0;
done:
    qt_cv_destroy(&cv);
    free(t0);
    free(train);
    free(col);
    free(choice);
    free(sr);
    return rc;
}

static int run_pool(const bt_config_t *trials, size_t n, const char *out_dir,
                    const char *cfg_path, unsigned jobs) {
    pid_t *pids = calloc(n, sizeof *pids);
    int *status = calloc(n, sizeof *status);
    if (!pids || !status) {
        free(pids);
        free(status);
        return 1;
    }
    size_t next = 0, running = 0;
    int rc = 0;
    fflush(NULL);
    while (next < n || running > 0) {
        while (running < jobs && next < n && rc == 0) {
            pid_t pid = fork();
            if (pid < 0) {
                fprintf(stderr, PROG ": fork: %s\n", strerror(errno));
                rc = 1;
                break;
            }
            if (pid == 0) {
                char dir[BT_PATH_MAX + 32];
                snprintf(dir, sizeof dir, "%.1000s/trial_%03zu", out_dir, next);
                int r = bt_run_one(&trials[next], dir, NULL, cfg_path, true, NULL);
                fflush(NULL);
                _exit(r);
            }
            pids[next++] = pid;
            running++;
        }
        if (running == 0) break;
        int st = 0;
        pid_t pid = waitpid(-1, &st, 0);
        if (pid < 0) {
            if (errno == EINTR) continue;
            rc = 1;
            break;
        }
        for (size_t k = 0; k < next; k++)
            if (pids[k] == pid) {
                status[k] = WIFEXITED(st) ? WEXITSTATUS(st) : 1;
                if (status[k] != 0) {
                    fprintf(stderr, PROG ": trial %zu (%s) failed (exit %d)\n", k,
                            trials[k].params, status[k]);
                    if (rc == 0) rc = status[k];
                }
                running--;
            }
    }
    free(pids);
    free(status);
    return rc;
}

int bt_grid(const bt_config_t *cfg, const char *out_dir, const char *run_log,
            const char *cfg_path, unsigned jobs) {
    size_t n0 = cfg->grid.nvalues[0], n1 = cfg->grid.nvalues[1] ? cfg->grid.nvalues[1] : 1;
    size_t n = n0 * n1;
    if (n0 == 0 || n < 2) {
        fprintf(stderr, PROG ": %s: grid needs grid.param and at least 2 trials\n", cfg_path);
        return 2;
    }
    bt_config_t *trials = calloc(n, sizeof *trials);
    if (!trials) return 1;
    int rc = 0;
    for (size_t i = 0; i < n0 && rc == 0; i++)
        for (size_t j = 0; j < n1 && rc == 0; j++) {
            bt_config_t *t = &trials[i * n1 + j];
            *t = *cfg;
            char why[256];
            if (bt_config_set_param(t, cfg->grid.param[0], cfg->grid.values[0][i], why, sizeof why) ||
                (cfg->grid.nvalues[1] &&
                 bt_config_set_param(t, cfg->grid.param[1], cfg->grid.values[1][j], why, sizeof why))) {
                fprintf(stderr, PROG ": %s: grid: %s\n", cfg_path, why);
                rc = 2;
                break;
            }
            if (cfg->grid.nvalues[1])
                snprintf(t->params, sizeof t->params, "%s=%.17g,%s=%.17g", cfg->grid.param[0],
                         cfg->grid.values[0][i], cfg->grid.param[1], cfg->grid.values[1][j]);
            else
                snprintf(t->params, sizeof t->params, "%s=%.17g", cfg->grid.param[0],
                         cfg->grid.values[0][i]);
        }
    if (rc == 0 && mkdir(out_dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, PROG ": cannot create %s: %s\n", out_dir, strerror(errno));
        rc = 1;
    }
    if (rc == 0) rc = run_pool(trials, n, out_dir, cfg_path, jobs);
    double *m = NULL, *sr = NULL;
    qt_perf_t *perf = NULL;
    size_t t_rows = 0;
    if (rc == 0) {
        perf = calloc(n, sizeof *perf);
        sr = calloc(n, sizeof *sr);
        if (!perf || !sr) rc = 1;
    }
    for (size_t k = 0; k < n && rc == 0; k++) {
        char path[BT_PATH_MAX + 64];
        snprintf(path, sizeof path, "%.1000s/trial_%03zu/equity.csv", out_dir, k);
        double *r = NULL;
        size_t nr = 0;
        if (read_returns(path, &r, &nr) != 0) {
            rc = 1;
            break;
        }
        if (k == 0) {
            t_rows = nr;
            m = calloc(t_rows * n, sizeof *m);
            if (!m) rc = 1;
        } else if (nr != t_rows) {
            fprintf(stderr, PROG ": trial %zu has %zu bars, trial 0 %zu\n", k, nr, t_rows);
            rc = 1;
        }
        for (size_t t = 0; t < nr && rc == 0; t++) m[t * n + k] = r[t];
        if (rc == 0 && qt_stats_perf(r, nr, cfg->periods_per_year, &perf[k]) != 0) {
            fprintf(stderr, PROG ": trial %zu: no statistics (too few bars)\n", k);
            rc = 1;
        }
        free(r);
        if (rc == 0) sr[k] = perf[k].sharpe_per_period;
    }
    qt_pbo_t pbo;
    if (rc == 0 && qt_pbo_cscv(m, t_rows, n, cfg->grid.blocks, &pbo, NULL) != 0) {
        fprintf(stderr, PROG ": PBO needs >= %u bars and finite returns (have %zu bars)\n",
                2 * cfg->grid.blocks, t_rows);
        rc = 2;
    }
    if (rc == 0) {
        size_t best = 0;
        double mean = 0, var = 0;
        for (size_t k = 0; k < n; k++) {
            if (sr[k] > sr[best]) best = k;
            mean += sr[k];
        }
        mean /= (double)n;
        for (size_t k = 0; k < n; k++) var += (sr[k] - mean) * (sr[k] - mean);
        var /= (double)(n - 1);
        double sr0 = NAN;
        double dsr = qt_dsr(sr[best], (double)perf[best].n_obs, perf[best].skew,
                            perf[best].kurtosis, (double)n, var, &sr0);
        bool pass = pbo.pbo < cfg->grid.pbo_max && isfinite(dsr) && dsr >= cfg->grid.dsr_min;
        uint32_t wf_k = cfg->grid.wf_folds;
        size_t wf_choice[64], wf_start[64], wf_end[64], n_oos = 0;
        double wf_is[64];
        double *oos = malloc(t_rows * sizeof *oos);
        qt_perf_t wf_perf;
        bool wf_ok = oos && walk_forward(m, t_rows, n, wf_k, cfg->periods_per_year, wf_choice,
                                         wf_start, wf_end, wf_is, oos, &n_oos) == 0 &&
                     qt_stats_perf(oos, n_oos, cfg->periods_per_year, &wf_perf) == 0;
        size_t cv_splits = 0, cv_paths = 0;
        double *cv_sr = NULL;
        bool cv_ok = cfg->grid.cpcv_groups > 0 &&
                     cpcv_paths(m, t_rows, n, cfg, &cv_splits, &cv_paths, &cv_sr) == 0;
        if (cfg->grid.cpcv_groups > 0 && !cv_ok) rc = 2;
        char *buf = NULL;
        size_t len = 0;
        FILE *f = rc == 0 ? open_memstream(&buf, &len) : NULL;
        if (!f) rc = rc ? rc : 1;
        else {
            fprintf(f, "{\n  \"schema\": 1,\n  \"params\": [\"%s\"", cfg->grid.param[0]);
            if (cfg->grid.nvalues[1]) fprintf(f, ", \"%s\"", cfg->grid.param[1]);
            fprintf(f, "],\n  \"n_trials\": %zu,\n  \"bars\": %zu,\n  \"trials\": [", n, t_rows);
            for (size_t k = 0; k < n; k++) {
                fprintf(f, "%s\n    {\"index\": %zu, \"params\": \"%s\", \"sharpe\": ", k ? "," : "",
                        k, trials[k].params);
                jnum(f, perf[k].sharpe);
                fputs(", \"sharpe_per_period\": ", f);
                jnum(f, sr[k]);
                fputs(", \"total_return\": ", f);
                jnum(f, perf[k].total_return);
                fputs(", \"max_drawdown\": ", f);
                jnum(f, perf[k].max_drawdown);
                fputc('}', f);
            }
            fprintf(f, "\n  ],\n  \"best_index\": %zu,\n  \"best_params\": \"%s\",\n", best,
                    trials[best].params);
            fprintf(f, "  \"blocks\": %u,\n  \"pbo\": ", cfg->grid.blocks);
            jnum(f, pbo.pbo);
            fprintf(f, ",\n  \"pbo_combinations\": %zu,\n  \"logit_mean\": ", pbo.n_combinations);
            jnum(f, pbo.logit_mean);
            fputs(",\n  \"prob_oos_loss\": ", f);
            jnum(f, pbo.prob_oos_loss);
            fputs(",\n  \"var_trials_sharpe\": ", f);
            jnum(f, var);
            fputs(",\n  \"sr0\": ", f);
            jnum(f, sr0);
            fputs(",\n  \"dsr\": ", f);
            jnum(f, dsr);
            fputs(",\n  \"pbo_max\": ", f);
            jnum(f, cfg->grid.pbo_max);
            fputs(",\n  \"dsr_min\": ", f);
            jnum(f, cfg->grid.dsr_min);
            fprintf(f, ",\n  \"wf_folds\": %u,\n  \"wf\": [", wf_ok ? wf_k : 0);
            for (uint32_t i = 0; wf_ok && i < wf_k; i++) {
                fprintf(f, "%s\n    {\"fold\": %u, \"start_row\": %zu, \"end_row\": %zu, "
                           "\"trial\": %zu, \"is_sharpe_per_period\": ",
                        i ? "," : "", i + 1, wf_start[i], wf_end[i], wf_choice[i]);
                jnum(f, wf_is[i]);
                fputc('}', f);
            }
            fputs(wf_ok ? "\n  ],\n  \"wf_oos_sharpe\": " : "],\n  \"wf_oos_sharpe\": ", f);
            jnum(f, wf_ok ? wf_perf.sharpe : NAN);
            fputs(",\n  \"wf_oos_total_return\": ", f);
            jnum(f, wf_ok ? wf_perf.total_return : NAN);
            fputs(",\n  \"wf_oos_max_drawdown\": ", f);
            jnum(f, wf_ok ? wf_perf.max_drawdown : NAN);
            fprintf(f, ",\n  \"cpcv_groups\": %u,\n  \"cpcv_test\": %u,\n  \"cpcv_embargo\": %u,"
                       "\n  \"cpcv_splits\": %zu,\n  \"cpcv_paths\": %zu,\n  \"cpcv_path_sharpe\": [",
                    cv_ok ? cfg->grid.cpcv_groups : 0, cfg->grid.cpcv_test,
                    cfg->grid.cpcv_embargo, cv_splits, cv_paths);
            double cv_mean = 0, cv_min = INFINITY;
            size_t cv_pos = 0;
            for (size_t p = 0; p < cv_paths; p++) {
                fputs(p ? ", " : "", f);
                jnum(f, cv_sr[p]);
                cv_mean += cv_sr[p] / (double)cv_paths;
                if (cv_sr[p] < cv_min) cv_min = cv_sr[p];
                if (cv_sr[p] > 0) cv_pos++;
            }
            fputs("],\n  \"cpcv_sharpe_mean\": ", f);
            jnum(f, cv_paths ? cv_mean : NAN);
            fputs(",\n  \"cpcv_sharpe_min\": ", f);
            jnum(f, cv_paths ? cv_min : NAN);
            fputs(",\n  \"cpcv_paths_positive\": ", f);
            jnum(f, cv_paths ? (double)cv_pos / (double)cv_paths : NAN);
            fprintf(f, ",\n  \"verdict\": \"%s\"\n}\n", pass ? "pass" : "fail");
            if (fclose(f) != 0) rc = 1;
        }
        char path[BT_PATH_MAX + 64], hexs[65] = "";
        unsigned char md[32];
        unsigned int mdlen = 0;
        if (rc == 0) {
            snprintf(path, sizeof path, "%.1000s/grid.json", out_dir);
            FILE *g = fopen(path, "wb");
            bool ok = g && fwrite(buf, 1, len, g) == len;
            if (g && fclose(g) != 0) ok = false;
            if (!ok || EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
                fprintf(stderr, PROG ": cannot write %s\n", path);
                rc = 1;
            }
        }
        if (rc == 0) {
            for (int i = 0; i < 32; i++) snprintf(hexs + 2 * i, 3, "%02x", md[i]);
            if (run_log) snprintf(path, sizeof path, "%.1000s", run_log);
            else snprintf(path, sizeof path, "%.1000s/run_log.jsonl", out_dir);
            FILE *lf = fopen(path, "a");
            if (!lf) {
                fprintf(stderr, PROG ": cannot append to %s\n", path);
                rc = 1;
            } else {
                fprintf(lf, "{\"kind\": \"grid\", \"n_trials\": %zu, \"best_params\": \"%s\", "
                            "\"pbo\": ", n, trials[best].params);
                jnum(lf, pbo.pbo);
                fputs(", \"dsr\": ", lf);
                jnum(lf, dsr);
                fprintf(lf, ", \"verdict\": \"%s\", \"grid_sha256\": \"%s\"}\n",
                        pass ? "pass" : "fail", hexs);
                if (fclose(lf) != 0) rc = 1;
            }
        }
        if (rc == 0) {
            printf("trials: %zu\nbest: %s\npbo: %.6f\ndsr: %.6f\nverdict: %s\n", n,
                   trials[best].params, pbo.pbo, dsr, pass ? "pass" : "fail");
            printf("artifact sha256: %s\n", hexs);
        }
        free(buf);
        free(oos);
        free(cv_sr);
    }
    free(m);
    free(sr);
    free(perf);
    free(trials);
    return rc;
}
