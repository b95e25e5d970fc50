/* qt-bench stats: the statistics of libs/quant on 1M returns, one core.
 *
 *   qt-bench stats [--n 1000000] [--reps 5] [--seed 42]
 *
 * Workload (seeded qt_rng, so every run sees the same data): n per-period returns
 * N(0.0003, 0.01) with every 1000th a NaN; a price path built from them; positions
 * +1/-1/0 switching every 50 periods on average.
 * Timed, each the median of --reps runs (qt_clock monotonic):
 *   baseline   a plain NaN-skipping sum over the same array (the memory-bound floor)
 *   perf       qt_stats_perf: every return statistic (two passes + drawdown)
 *   trades     qt_stats_trades_from_positions + qt_stats_trades
 *   positions  qt_stats_positions (1 asset)
 *   overfit    perf again + PSR + MinTRL + DSR from its moments (closed forms)
 *   pbo        qt_pbo_cscv on the returns as a (n/10) x 10 matrix, S = 16
 *   cpcv       build CPCV N = 10, k = 2 with 20-period labels + its split 0
 *   labels     rolling vol (20) + triple barrier (pt = sl = 2, horizon 20, closes)
 * Output: one JSON object with ms per workload, ns per return, the ratio to the baseline,
 * and a checksum of the results (keeps the work observable). Exit 0 ok, 1 failure,
 * 2 usage. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_quant.h"
#include "qt_cli.h"
#include "qt_clock.h"
#include "qt_cv.h"
#include "qt_labels.h"
#include "qt_overfit.h"
#include "qt_rng.h"
#include "qt_stats.h"

#define PROG "qt-bench stats"
#define N_WORK 8

static const char *const g_names[N_WORK] = {"baseline", "perf", "trades", "positions",
                                            "overfit", "pbo", "cpcv", "labels"};

typedef struct {
    size_t n;
    double *r, *close, *pos, *tg;
    qt_trade_t *trades;
    qt_tb_event_t *ev;
    size_t *train;
    int64_t *t0, *t1;
    double sink;
} work_t;

static int run(work_t *w, int which) {
    size_t n = w->n;
    switch (which) {
    case 0: {
        double s = 0;
        for (size_t i = 0; i < n; i++)
            if (w->r[i] == w->r[i]) s += w->r[i]; /* skips NaN, as the statistics do */
        w->sink += s;
        return 0;
    }
    case 1: {
        qt_perf_t p;
        if (qt_stats_perf(w->r, n, 252, &p) != 0) return -1;
        w->sink += p.sharpe + p.sortino + p.max_drawdown + p.kurtosis;
        return 0;
    }
    case 2: {
        size_t k;
        qt_trade_stats_t s;
        if (qt_stats_trades_from_positions(w->pos, w->r, n, w->trades, &k) != 0 ||
            qt_stats_trades(w->trades, k, &s) != 0)
            return -1;
        w->sink += s.hit_ratio + s.avg_holding;
        return 0;
    }
    case 3: {
        qt_pos_stats_t s;
        if (qt_stats_positions(w->pos, n, 1, 252, &s) != 0) return -1;
        w->sink += s.turnover + s.exposure;
        return 0;
    }
    case 4: {
        qt_perf_t p;
        if (qt_stats_perf(w->r, n, 252, &p) != 0) return -1;
        double sr = p.sharpe_per_period, nn = (double)p.n_obs;
        w->sink += qt_psr(sr, 0, nn, p.skew, p.kurtosis) +
                   qt_min_trl(fabs(sr) + 0.01, 0, p.skew, p.kurtosis, 0.05) +
                   qt_dsr(sr, nn, p.skew, p.kurtosis, 100, 1e-4, NULL);
        return 0;
    }
    case 5: {
        qt_pbo_t p;
        /* w->tg: the returns without the NaN holes, read as 10 strategy columns */
        if (qt_pbo_cscv(w->tg, n / 10, 10, 16, &p, NULL) != 0) return -1;
        w->sink += p.pbo;
        return 0;
    }
    case 6: {
        char err[128];
        qt_cv_t *cv = qt_cv_cpcv_new(n, w->t0, w->t1, 10, 2, 20, err, sizeof err);
        if (!cv) return -1;
        size_t nt;
        int rc = qt_cv_split(cv, 0, NULL, w->train, &nt, NULL, NULL);
        w->sink += (double)nt;
        qt_cv_destroy(&cv);
        return rc;
    }
    case 7: {
        double *vol = malloc(n * sizeof *vol);
        if (!vol) return -1;
        qt_tb_params_t p = {.pt_mult = 2, .sl_mult = 2, .horizon = 20, .vertical_sign = true};
        size_t k;
        int rc = qt_label_rolling_vol(w->close, n, 20, vol) != 0 ||
                         qt_label_triple_barrier(w->close, NULL, NULL, n, vol, NULL, NULL, 0, &p,
                                                 w->ev, &k) != 0
                     ? -1
                     : 0;
        if (rc == 0) w->sink += (double)k + (k ? w->ev[k / 2].ret : 0.0);
        free(vol);
        return rc;
    }
    default: return -1;
    }
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int bench_stats(int argc, char **argv, int i) {
    uint64_t n = 1000000, reps = 5, seed = 42;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            printf("usage: qt-bench stats [--n 1000000] [--reps 5] [--seed 42]\n");
            return 0;
        }
        if (i + 1 >= argc) return qt_cli_usage_error(PROG, "missing value after '%s'", a);
        const char *v = argv[++i];
        uint64_t *dst;
        if (strcmp(a, "--n") == 0) dst = &n;
        else if (strcmp(a, "--reps") == 0) dst = &reps;
        else if (strcmp(a, "--seed") == 0) dst = &seed;
        else return qt_cli_usage_error(PROG, "unknown option '%s'", a);
        if (qt_cli_parse_u64(v, dst) != 0) return qt_cli_usage_error(PROG, "'%s': expected an unsigned integer", v);
    }
    if (n < 1000 || n > 100000000) return qt_cli_usage_error(PROG, "--n must be in 1000..1e8%s", "");
    if (reps < 1 || reps > 101) return qt_cli_usage_error(PROG, "--reps must be in 1..101%s", "");
    work_t w = {.n = (size_t)n};
    w.r = malloc(n * sizeof *w.r);
    w.close = malloc(n * sizeof *w.close);
    w.pos = malloc(n * sizeof *w.pos);
    w.tg = malloc(n * sizeof *w.tg);
    w.trades = malloc((n / 2 + 1) * sizeof *w.trades);
    w.ev = malloc(n * sizeof *w.ev);
    w.train = malloc(n * sizeof *w.train);
    w.t0 = malloc(n * sizeof *w.t0);
    w.t1 = malloc(n * sizeof *w.t1);
    int rc = 0;
    qt_clock_t *clk = qt_clock_new_wall();
    int64_t *ts = malloc(reps * sizeof *ts);
    if (!w.r || !w.close || !w.pos || !w.tg || !w.trades || !w.ev || !w.train || !w.t0 ||
        !w.t1 || !clk || !ts) {
        fprintf(stderr, PROG ": out of memory\n");
        rc = 1;
        goto done;
    }
    qt_rng_t g;
    qt_rng_seed(&g, seed);
    double price = 100.0, cur = 1.0;
    for (size_t k = 0; k < n; k++) {
        double x = 0.0003 + 0.01 * qt_rng_normal(&g);
        price *= 1.0 + x;
        w.close[k] = price;
        w.r[k] = (k % 1000 == 999) ? NAN : x;
        if (qt_rng_below(&g, 50) == 0) cur = (double)((int)qt_rng_below(&g, 3) - 1);
        w.pos[k] = cur;
        w.tg[k] = x; /* finite returns for the PBO matrix */
        w.t0[k] = (int64_t)k;
        w.t1[k] = (int64_t)(k + 20 < n ? k + 20 : n - 1);
    }
    double ms[N_WORK];
    for (int j = 0; j < N_WORK; j++) {
        for (uint64_t rep = 0; rep < reps; rep++) {
            int64_t a = qt_clock_mono_ns(clk);
            if (run(&w, j) != 0) {
                fprintf(stderr, PROG ": %s failed\n", g_names[j]);
                rc = 1;
                goto done;
            }
            ts[rep] = qt_clock_mono_ns(clk) - a;
        }
        qsort(ts, reps, sizeof *ts, cmp_i64);
        ms[j] = (double)ts[reps / 2] / 1e6;
    }
    printf("{\"bench\": \"stats\", \"n\": %" PRIu64 ", \"reps\": %" PRIu64 ", \"seed\": %" PRIu64
           ", \"ms\": {",
           n, reps, seed);
    for (int j = 0; j < N_WORK; j++) printf("%s\"%s\": %.3f", j ? ", " : "", g_names[j], ms[j]);
    printf("}, \"ns_per_return\": {");
    for (int j = 0; j < N_WORK; j++)
        printf("%s\"%s\": %.3f", j ? ", " : "", g_names[j], ms[j] * 1e6 / (double)n);
    printf("}, \"ratio_to_baseline\": {");
    for (int j = 1; j < N_WORK; j++)
        printf("%s\"%s\": %.1f", j > 1 ? ", " : "", g_names[j], ms[0] > 0 ? ms[j] / ms[0] : 0.0);
    printf("}, \"checksum\": %.10g}\n", w.sink);
done:
    qt_clock_destroy(&clk);
    free(ts);
    free(w.r);
    free(w.close);
    free(w.pos);
    free(w.tg);
    free(w.trades);
    free(w.ev);
    free(w.train);
    free(w.t0);
    free(w.t1);
    return rc;
}
