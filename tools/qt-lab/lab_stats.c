/* qt-lab stats | dsr | pbo | cpcv: the statistics of libs/quant (qt_stats, qt_overfit,
 * qt_cv) from the command line, one JSON object on stdout each.
 *
 * Why here: researchers check a backtest's returns, the deflated Sharpe of a search, the
 * PBO of a parameter sweep and the CPCV layout without writing C. Inputs are hostile:
 * every number is parsed strictly (whole token, finite), a bad line is reported as
 * file:line, exit 2 for usage errors and 1 for bad data. Non-finite results (e.g. a
 * Sortino with no losing period) are printed as JSON null. Definitions and sources:
 * docs/quant/statistics.md. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "qt_cli.h"
#include "qt_cv.h"
#include "qt_lab.h"
#include "qt_overfit.h"
#include "qt_stats.h"

/* Strict finite decimal double: the whole string of [0-9+-.eE] (no blanks, no hex, no
 * nan/inf), no overflow or underflow. */
static int parse_double(const char *s, double *out) {
    if (!s || !*s || strspn(s, "0123456789+-.eE") != strlen(s)) return -1;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (*end != '\0' || errno == ERANGE || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

/* A short printable copy of hostile text for an error message (non-printable bytes
 * become '?', at most 40 characters). */
static const char *shown(const char *s, char *buf, size_t len) {
    size_t k = 0;
    for (; s[k] && k + 1 < len && k < 40; k++)
        buf[k] = (s[k] >= 0x20 && s[k] < 0x7f) ? s[k] : '?';
    buf[k] = '\0';
    return buf;
}

static json_t *jreal(double x) { return isfinite(x) ? json_real(x) : json_null(); }

static int print_json(json_t *o) {
    int rc = json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(17)) == 0 ? 0 : 1;
    fputc('\n', stdout);
    json_decref(o);
    return rc;
}

static bool is_help(const char *a) { return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0; }

/* Trims trailing CR/LF/blanks in place. */
static void rtrim(char *s) {
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
}

/* ---------------------------------------------------------------- stats */

static void stats_usage(FILE *f) {
    fprintf(f,
            "usage: qt-lab stats --returns FILE [--periods 252] [--sr-star S] [--alpha A]\n"
            "  FILE: one per-period simple return per line (decimal, e.g. 0.012); 'NaN' marks a\n"
            "  period without an observation; empty lines are ignored.\n"
            "  --periods  periods per year for annualisation (default 252)\n"
            "  --sr-star  benchmark PER-PERIOD Sharpe for psr / min_trl (default 0)\n"
            "  --alpha    significance for min_trl (default 0.05)\n"
            "Prints sharpe, sortino, calmar, max_drawdown, max_dd_duration, annual_return,\n"
            "annual_volatility, total_return, skew, kurtosis (non-excess), hit_ratio, psr,\n"
            "min_trl, ... (empyrical conventions, docs/quant/statistics.md).\n"
            "Exit 0 ok, 1 bad file, 2 usage.\n");
}

/* Reads one value per line. 0 ok, -1 (message printed). */
static int read_returns(const char *path, double **out, size_t *n_out) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "qt-lab stats: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0, n = 0, vcap = 0, lineno = 0;
    double *v = NULL;
    int rc = 0;
    while (getline(&line, &cap, f) != -1) {
        lineno++;
        rtrim(line);
        if (!*line) continue;
        double x;
        if (strcasecmp(line, "nan") == 0) {
            x = NAN;
        } else if (parse_double(line, &x) != 0) {
            char sb[48];
            fprintf(stderr, "qt-lab stats: %s:%zu: '%s' is not a finite number or NaN\n",
                    path, lineno, shown(line, sb, sizeof sb));
            rc = -1;
            break;
        }
        if (n == vcap) {
            vcap = vcap ? vcap * 2 : 1024;
            double *nv = realloc(v, vcap * sizeof *v);
            if (!nv) {
                fprintf(stderr, "qt-lab stats: out of memory\n");
                rc = -1;
                break;
            }
            v = nv;
        }
        v[n++] = x;
    }
    if (rc == 0 && ferror(f)) {
        fprintf(stderr, "qt-lab stats: read error on %s\n", path);
        rc = -1;
    }
    free(line);
    fclose(f);
    if (rc != 0) {
        free(v);
        return -1;
    }
    *out = v;
    *n_out = n;
    return 0;
}

int qt_lab_stats(int argc, char **argv, int i) {
    const char *file = NULL;
    double periods = 252, sr_star = 0, alpha = 0.05;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (is_help(a)) {
            stats_usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) return qt_cli_usage_error(qt_lab_prog, "missing value after '%s'", a);
        const char *v = argv[++i];
        if (strcmp(a, "--returns") == 0) file = v;
        else if (strcmp(a, "--periods") == 0) {
            if (parse_double(v, &periods) != 0 || periods <= 0)
                return qt_cli_usage_error(qt_lab_prog, "--periods '%s': expected a number > 0", v);
        } else if (strcmp(a, "--sr-star") == 0) {
            if (parse_double(v, &sr_star) != 0)
                return qt_cli_usage_error(qt_lab_prog, "--sr-star '%s': expected a number", v);
        } else if (strcmp(a, "--alpha") == 0) {
            if (parse_double(v, &alpha) != 0 || alpha <= 0 || alpha >= 1)
                return qt_cli_usage_error(qt_lab_prog, "--alpha '%s': expected a number in (0, 1)", v);
        } else
            return qt_cli_usage_error(qt_lab_prog, "stats: unknown option '%s'", a);
    }
    if (!file) return qt_cli_usage_error(qt_lab_prog, "stats needs --returns FILE%s", "");
    double *r;
    size_t n;
    if (read_returns(file, &r, &n) != 0) return QT_LAB_EXIT_FAIL;
    qt_perf_t p;
    if (qt_stats_perf(r, n, periods, &p) != 0) {
        fprintf(stderr, "qt-lab stats: %s: need at least 2 finite returns (got %zu lines)\n",
                file, n);
        free(r);
        return QT_LAB_EXIT_FAIL;
    }
    free(r);
    json_t *o = json_object();
    json_object_set_new(o, "n_periods", json_integer((json_int_t)p.n_periods));
    json_object_set_new(o, "n_obs", json_integer((json_int_t)p.n_obs));
    json_object_set_new(o, "periods_per_year", json_real(periods));
    json_object_set_new(o, "mean", jreal(p.mean));
    json_object_set_new(o, "std", jreal(p.std));
    json_object_set_new(o, "sharpe", jreal(p.sharpe));
    json_object_set_new(o, "sharpe_per_period", jreal(p.sharpe_per_period));
    json_object_set_new(o, "sortino", jreal(p.sortino));
    json_object_set_new(o, "downside_deviation", jreal(p.downside_deviation));
    json_object_set_new(o, "calmar", jreal(p.calmar));
    json_object_set_new(o, "max_drawdown", jreal(p.max_drawdown));
    json_object_set_new(o, "max_dd_duration", json_integer((json_int_t)p.max_dd_duration));
    json_object_set_new(o, "max_dd_recovered", json_boolean(p.max_dd_recovered));
    json_object_set_new(o, "total_return", jreal(p.total_return));
    json_object_set_new(o, "annual_return", jreal(p.annual_return));
    json_object_set_new(o, "annual_volatility", jreal(p.annual_volatility));
    json_object_set_new(o, "skew", jreal(p.skew));
    json_object_set_new(o, "kurtosis", jreal(p.kurtosis));
    json_object_set_new(o, "hit_ratio", jreal(p.hit_ratio));
    double sr = p.sharpe_per_period, no = (double)p.n_obs;
    json_object_set_new(o, "sr_star", json_real(sr_star));
    json_object_set_new(o, "psr", jreal(qt_psr(sr, sr_star, no, p.skew, p.kurtosis)));
    json_object_set_new(o, "min_trl", jreal(qt_min_trl(sr, sr_star, p.skew, p.kurtosis, alpha)));
    return print_json(o);
}

/* ---------------------------------------------------------------- dsr */

static void dsr_usage(FILE *f) {
    fprintf(f,
            "usage: qt-lab dsr --sr S --n T --trials N --var-trials V [--skew G3] [--kurt G4]\n"
            "                  [--periods P --tests M]\n"
            "  --sr          observed PER-PERIOD Sharpe ratio of the selected strategy\n"
            "  --n           number of return observations (>= 2)\n"
            "  --trials      number of independent trials N (>= 2)\n"
            "  --var-trials  variance of the per-period Sharpe ratios across the trials\n"
            "  --skew/--kurt skewness and NON-excess kurtosis of the returns (default 0, 3)\n"
            "  --periods/--tests  also print the Harvey-Liu Bonferroni haircut Sharpe for M\n"
            "                tests (annualised with P periods a year)\n"
            "Prints dsr, sr0 (expected maximum Sharpe of N null trials), psr (vs 0), min_trl.\n"
            "Exit 0 ok, 1 undefined result, 2 usage.\n");
}

int qt_lab_dsr(int argc, char **argv, int i) {
    double sr = NAN, n = NAN, trials = NAN, var = NAN, skew = 0, kurt = 3, periods = NAN;
    uint64_t tests = 0;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (is_help(a)) {
            dsr_usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) return qt_cli_usage_error(qt_lab_prog, "missing value after '%s'", a);
        const char *v = argv[++i];
        double *dst = NULL;
        if (strcmp(a, "--sr") == 0) dst = &sr;
        else if (strcmp(a, "--n") == 0) dst = &n;
        else if (strcmp(a, "--trials") == 0) dst = &trials;
        else if (strcmp(a, "--var-trials") == 0) dst = &var;
        else if (strcmp(a, "--skew") == 0) dst = &skew;
        else if (strcmp(a, "--kurt") == 0) dst = &kurt;
        else if (strcmp(a, "--periods") == 0) dst = &periods;
        else if (strcmp(a, "--tests") == 0) {
            if (qt_cli_parse_u64(v, &tests) != 0 || tests == 0)
                return qt_cli_usage_error(qt_lab_prog, "--tests '%s': expected an integer >= 1", v);
            continue;
        } else
            return qt_cli_usage_error(qt_lab_prog, "dsr: unknown option '%s'", a);
        if (parse_double(v, dst) != 0)
            return qt_cli_usage_error(qt_lab_prog, "'%s': expected a finite number", v);
    }
    if (isnan(sr)) return qt_cli_usage_error(qt_lab_prog, "dsr needs --sr%s", "");
    if (!(n >= 2)) return qt_cli_usage_error(qt_lab_prog, "dsr needs --n >= 2%s", "");
    if (!(trials >= 2)) return qt_cli_usage_error(qt_lab_prog, "dsr needs --trials >= 2%s", "");
    if (!(var >= 0)) return qt_cli_usage_error(qt_lab_prog, "dsr needs --var-trials >= 0%s", "");
    if ((tests > 0) != !isnan(periods))
        return qt_cli_usage_error(qt_lab_prog, "--periods and --tests go together%s", "");
    if (!isnan(periods) && !(periods > 0))
        return qt_cli_usage_error(qt_lab_prog, "--periods must be > 0%s", "");
    double sr0, d = qt_dsr(sr, n, skew, kurt, trials, var, &sr0);
    if (isnan(d)) {
        fprintf(stderr, "qt-lab dsr: undefined: 1 - skew*sr + (kurt-1)/4*sr^2 must be > 0\n");
        return QT_LAB_EXIT_FAIL;
    }
    json_t *o = json_object();
    json_object_set_new(o, "dsr", jreal(d));
    json_object_set_new(o, "sr0", jreal(sr0));
    json_object_set_new(o, "psr", jreal(qt_psr(sr, 0, n, skew, kurt)));
    json_object_set_new(o, "min_trl", jreal(qt_min_trl(sr, sr0, skew, kurt, 0.05)));
    json_object_set_new(o, "sr", json_real(sr));
    json_object_set_new(o, "n", json_real(n));
    json_object_set_new(o, "trials", json_real(trials));
    json_object_set_new(o, "var_trials", json_real(var));
    json_object_set_new(o, "skew", json_real(skew));
    json_object_set_new(o, "kurt", json_real(kurt));
    if (tests > 0) {
        qt_haircut_t h;
        json_t *hc = json_object();
        if (sr > 0 && qt_haircut_sharpe(sr * sqrt(periods), n, periods, (size_t)tests, NULL,
                                        QT_HAIRCUT_BONFERRONI, &h) == 0) {
            json_object_set_new(hc, "method", json_string("bonferroni"));
            json_object_set_new(hc, "tests", json_integer((json_int_t)tests));
            json_object_set_new(hc, "sr_annual", jreal(sr * sqrt(periods)));
            json_object_set_new(hc, "p_single", jreal(h.p_single));
            json_object_set_new(hc, "p_adjusted", jreal(h.p_adjusted));
            json_object_set_new(hc, "sr_haircut", jreal(h.sr_haircut));
            json_object_set_new(hc, "haircut", jreal(h.haircut));
        }
        json_object_set_new(o, "haircut", hc);
    }
    return print_json(o);
}

/* ---------------------------------------------------------------- pbo */

static void pbo_usage(FILE *f) {
    fprintf(f,
            "usage: qt-lab pbo --matrix FILE [--blocks 16]\n"
            "  FILE: CSV, one column per strategy (>= 2), one row per period, per-period\n"
            "  returns; an optional first line of column names (non-numeric) is skipped.\n"
            "  --blocks  even number S of row blocks, 2..%u (C(S, S/2) combinations)\n"
            "Prints pbo, n_combinations, logit_mean, prob_oos_loss, degradation_slope,\n"
            "degradation_intercept. Exit 0 ok, 1 bad file, 2 usage.\n",
            QT_PBO_MAX_BLOCKS);
}

/* Splits a CSV line in place on ','; returns the field count (at most max). */
static size_t split_csv(char *s, char **fields, size_t max) {
    size_t k = 0;
    for (;;) {
        if (k == max) return max + 1;
        fields[k++] = s;
        char *c = strchr(s, ',');
        if (!c) return k;
        *c = '\0';
        s = c + 1;
    }
}

#define PBO_MAX_COLS 4096u

int qt_lab_pbo(int argc, char **argv, int i) {
    const char *file = NULL;
    uint64_t blocks = 16;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (is_help(a)) {
            pbo_usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) return qt_cli_usage_error(qt_lab_prog, "missing value after '%s'", a);
        const char *v = argv[++i];
        if (strcmp(a, "--matrix") == 0) file = v;
        else if (strcmp(a, "--blocks") == 0) {
            if (qt_cli_parse_u64(v, &blocks) != 0 || blocks < 2 || blocks % 2 ||
                blocks > QT_PBO_MAX_BLOCKS)
                return qt_cli_usage_error(qt_lab_prog, "--blocks '%s': expected an even integer 2..20", v);
        } else
            return qt_cli_usage_error(qt_lab_prog, "pbo: unknown option '%s'", a);
    }
    if (!file) return qt_cli_usage_error(qt_lab_prog, "pbo needs --matrix FILE%s", "");
    FILE *f = fopen(file, "r");
    if (!f) {
        fprintf(stderr, "qt-lab pbo: cannot open %s: %s\n", file, strerror(errno));
        return QT_LAB_EXIT_FAIL;
    }
    char *line = NULL, *fields[PBO_MAX_COLS + 1];
    size_t cap = 0, lineno = 0, ncol = 0, rows = 0, vcap = 0;
    double *m = NULL;
    int rc = 0;
    while (getline(&line, &cap, f) != -1) {
        lineno++;
        rtrim(line);
        if (!*line) continue;
        size_t k = split_csv(line, fields, PBO_MAX_COLS);
        if (k > PBO_MAX_COLS) {
            fprintf(stderr, "qt-lab pbo: %s:%zu: more than %u columns\n", file, lineno, PBO_MAX_COLS);
            rc = 1;
            break;
        }
        double x;
        if (ncol == 0 && rows == 0 && parse_double(fields[0], &x) != 0) {
            ncol = k; /* header line */
            continue;
        }
        if (ncol == 0) ncol = k;
        if (k != ncol) {
            fprintf(stderr, "qt-lab pbo: %s:%zu: %zu columns, expected %zu\n", file, lineno, k, ncol);
            rc = 1;
            break;
        }
        if (rows * ncol + ncol > vcap) {
            vcap = vcap ? vcap * 2 : 1024 * ncol;
            double *nm = realloc(m, vcap * sizeof *m);
            if (!nm) {
                fprintf(stderr, "qt-lab pbo: out of memory\n");
                rc = 1;
                break;
            }
            m = nm;
        }
        for (size_t j = 0; j < k; j++) {
            if (parse_double(fields[j], &m[rows * ncol + j]) != 0) {
                char sb[48];
                fprintf(stderr, "qt-lab pbo: %s:%zu: column %zu: '%s' is not a finite number\n",
                        file, lineno, j + 1, shown(fields[j], sb, sizeof sb));
                rc = 1;
                break;
            }
        }
        if (rc) break;
        rows++;
    }
    free(line);
    fclose(f);
    if (rc == 0 && ncol < 2) {
        fprintf(stderr, "qt-lab pbo: %s: need at least 2 strategy columns\n", file);
        rc = 1;
    }
    if (rc == 0 && rows < 2 * blocks) {
        fprintf(stderr, "qt-lab pbo: %s: %zu rows, need at least 2 x blocks = %u\n", file, rows,
                (unsigned)(2 * blocks));
        rc = 1;
    }
    qt_pbo_t p;
    if (rc == 0 && qt_pbo_cscv(m, rows, ncol, (size_t)blocks, &p, NULL) != 0) {
        fprintf(stderr, "qt-lab pbo: computation failed (out of memory?)\n");
        rc = 1;
    }
    free(m);
    if (rc) return QT_LAB_EXIT_FAIL;
    json_t *o = json_object();
    json_object_set_new(o, "pbo", jreal(p.pbo));
    json_object_set_new(o, "n_combinations", json_integer((json_int_t)p.n_combinations));
    json_object_set_new(o, "n_strategies", json_integer((json_int_t)ncol));
    json_object_set_new(o, "n_rows", json_integer((json_int_t)rows));
    json_object_set_new(o, "blocks", json_integer((json_int_t)blocks));
    json_object_set_new(o, "logit_mean", jreal(p.logit_mean));
    json_object_set_new(o, "prob_oos_loss", jreal(p.prob_oos_loss));
    json_object_set_new(o, "degradation_slope", jreal(p.slope));
    json_object_set_new(o, "degradation_intercept", jreal(p.intercept));
    return print_json(o);
}

/* ---------------------------------------------------------------- cpcv */

static void cpcv_usage(FILE *f) {
    fprintf(f,
            "usage: qt-lab cpcv --n-obs N --folds N --test-folds k [--purge p] [--embargo e]\n"
            "  Observation i has the label interval [i, min(i + p, N - 1)] (p = --purge, the\n"
            "  label horizon in observations, default 0). A training observation is dropped\n"
            "  when its interval meets a test fold's span extended by e observations\n"
            "  (--embargo, default 0). Folds are contiguous (numpy.array_split sizes).\n"
            "Prints n_splits = C(N, k), n_paths = C(N, k) k / N, splits (each with\n"
            "test_folds and the train indices) and paths (per path, the split used for each\n"
            "fold). Output is streamed; at most 1e8 train indices in total.\n"
            "Exit 0 ok, 2 usage.\n");
}

int qt_lab_cpcv(int argc, char **argv, int i) {
    uint64_t n = 0, folds = 0, k = 0, purge = 0, embargo = 0;
    bool have_n = false, have_f = false, have_k = false;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (is_help(a)) {
            cpcv_usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) return qt_cli_usage_error(qt_lab_prog, "missing value after '%s'", a);
        const char *v = argv[++i];
        uint64_t *dst;
        if (strcmp(a, "--n-obs") == 0) dst = &n, have_n = true;
        else if (strcmp(a, "--folds") == 0) dst = &folds, have_f = true;
        else if (strcmp(a, "--test-folds") == 0) dst = &k, have_k = true;
        else if (strcmp(a, "--purge") == 0) dst = &purge;
        else if (strcmp(a, "--embargo") == 0) dst = &embargo;
        else return qt_cli_usage_error(qt_lab_prog, "cpcv: unknown option '%s'", a);
        if (qt_cli_parse_u64(v, dst) != 0 || *dst > 100000000u)
            return qt_cli_usage_error(qt_lab_prog, "'%s': expected an integer 0..100000000", v);
    }
    if (!have_n || !have_f || !have_k)
        return qt_cli_usage_error(qt_lab_prog, "cpcv needs --n-obs, --folds and --test-folds%s", "");
    int64_t *t0 = malloc((n ? n : 1) * sizeof *t0), *t1 = malloc((n ? n : 1) * sizeof *t1);
    size_t *train = malloc((n ? n : 1) * sizeof *train);
    if (!t0 || !t1 || !train) {
        free(t0), free(t1), free(train);
        fprintf(stderr, "qt-lab cpcv: out of memory\n");
        return QT_LAB_EXIT_FAIL;
    }
    for (uint64_t j = 0; j < n; j++) {
        t0[j] = (int64_t)j;
        t1[j] = (int64_t)(j + purge < n ? j + purge : n - 1);
    }
    char err[160];
    qt_cv_t *cv = qt_cv_cpcv_new((size_t)n, t0, t1, (size_t)folds, (size_t)k, (int64_t)embargo,
                                 err, sizeof err);
    free(t0);
    free(t1);
    if (!cv) {
        free(train);
        return qt_cli_usage_error(qt_lab_prog, "cpcv: %s", err);
    }
    size_t ns = qt_cv_n_splits(cv), np = qt_cv_n_paths(cv);
    if ((double)ns * (double)n > 1e8) {
        qt_cv_destroy(&cv);
        free(train);
        return qt_cli_usage_error(qt_lab_prog, "cpcv: %s", "output too large (splits x n-obs > 1e8)");
    }
    printf("{\n  \"n_obs\": %llu,\n  \"folds\": %llu,\n  \"test_folds\": %llu,\n"
           "  \"purge\": %llu,\n  \"embargo\": %llu,\n  \"n_splits\": %zu,\n  \"n_paths\": %zu,\n"
           "  \"splits\": [",
           (unsigned long long)n, (unsigned long long)folds, (unsigned long long)k,
           (unsigned long long)purge, (unsigned long long)embargo, ns, np);
    size_t groups[QT_CV_MAX_TEST_GROUPS];
    for (size_t s = 0; s < ns; s++) {
        size_t nt;
        qt_cv_split(cv, s, groups, train, &nt, NULL, NULL);
        printf("%s\n    {\"test_folds\": [", s ? "," : "");
        for (size_t g = 0; g < k; g++) printf("%s%zu", g ? ", " : "", groups[g]);
        printf("], \"train\": [");
        for (size_t t = 0; t < nt; t++) printf("%s%zu", t ? "," : "", train[t]);
        printf("]}");
    }
    printf("\n  ],\n  \"paths\": [");
    for (size_t p = 0; p < np; p++) {
        printf("%s\n    [", p ? "," : "");
        for (size_t g = 0; g < folds; g++) printf("%s%zu", g ? ", " : "", qt_cv_path_split(cv, p, g));
        printf("]");
    }
    printf("\n  ]\n}\n");
    qt_cv_destroy(&cv);
    free(train);
    return fflush(stdout) == 0 ? 0 : QT_LAB_EXIT_FAIL;
}
