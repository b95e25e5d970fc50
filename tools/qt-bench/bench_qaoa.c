/* qt-bench qaoa [--max-n N] [--quick]: figures for the QAOA simulator and the classical
 * solvers (issue 5). One JSON object on stdout; progress on stderr. Figures only.
 *
 * Instances: a seeded factor model with crypto-like magnitudes (3 factors, loadings
 * N(0, 0.01^2) per 4h bar, idiosyncratic variance 1e-4 (1 + U)), mu_i = 0.001 +
 * 0.002 N(0, 1), q = 5, budget n/2 unless stated. Seed 7 throughout.
 *
 *  copy_bandwidth_gbs {"1","2"}: memcpy of a 256 MiB buffer (best of 3), per thread
 *      count, counting read + write: 2 * 256 MiB / time. The physical limit the layer's
 *      implied bandwidth is compared with.
 *  layer[]: for n in 16, 20, 24, 26 (up to --max-n) and 1, 2 threads:
 *      cost_precompute_ms (the O(n 2^n) table), layer_ms (one fused phase + X-mixer
 *      layer, mean of layers_timed), expectation_ms (one <C> reduction),
 *      evaluation_ms_p1 (what the angle optimiser pays per objective evaluation at p = 1:
 *      reset + 1 layer + <C>; each further layer adds layer_ms),
 *      bytes_per_layer = 2^n (8 + 32 (1 + ceil(max(0, n - 12) / 4))) (the cost read
 *      once, the state read + written once per pass: one fused pass for the phase and
 *      qubits 0..11, one pass per group of 4 higher qubits) and implied_gbs =
 *      bytes_per_layer / layer time. Big n times fewer layers (layers_timed says how many).
 *  time_to_solution[]: qt_qaoa_solve (X mixer, COBYLA, warm start p = 1 .. p) for
 *      n = 12, 16, 20 and p = 1..5: wall_ms, evaluations, found_optimum (sampled best
 *      == exact optimum), best_probability, approx_ratio. Budgets per stage: n = 12
 *      multistart 2, max_evals 40; n = 16: 2, 30; n = 20: 1, 8 (keeps the whole run
 *      near 2 minutes); 1 thread (the 2-core machine is shared).
 *  exact[]: qt_solve_exact latency for n = 20, 25, 30, budget n/2.
 *  heuristics[]: anneal (defaults: 2000 sweeps, 4 restarts) and greedy latency and gap
 *      to the exact optimum for n = 30 (budget 15), 50 (budget 5), 100 (budget 4): small
 *      budgets keep exact enumeration possible at 50 and 100 assets.
 *  peak_rss_kb: VmHWM of this process at the end (dominated by the largest n).
 * --max-n N limits the simulator sizes (default 26); --quick: n <= 20, no n = 30 exact.
 * A size that does not fit in MemAvailable is reported as "unavailable: ..." in its row.
 * Exit 0 ok, 1 a measurement failed, 2 usage. */
#include <jansson.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qt_sysinfo.h"
#include "bench_quant.h"
#include "qt_cli.h"
#include "qt_clock.h"
#include "qt_qaoa.h"
#include "qt_qubo.h"
#include "qt_rng.h"
#include "qt_solvers.h"

static const char *g_prog = "qt-bench qaoa";

typedef struct {
    size_t n;
    double *mu, *sigma;
    qt_qubo_problem_t p;
} inst_t;

static int inst_make(inst_t *in, size_t n, size_t budget, uint64_t seed) {
    in->n = n;
    in->mu = malloc(n * sizeof(double));
    in->sigma = malloc(n * n * sizeof(double));
    double *L = malloc(n * 3 * sizeof(double));
    if (in->mu == NULL || in->sigma == NULL || L == NULL) {
        free(L);
        return -1;
    }
    qt_rng_t r;
    qt_rng_seed(&r, seed);
    for (size_t i = 0; i < n * 3; i++) L[i] = 0.01 * qt_rng_normal(&r);
    for (size_t i = 0; i < n; i++) in->mu[i] = 0.001 + 0.002 * qt_rng_normal(&r);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j <= i; j++) {
            double s = 0;
            for (size_t k = 0; k < 3; k++) s += L[i * 3 + k] * L[j * 3 + k];
            if (i == j) s += 1e-4 * (1.0 + qt_rng_uniform(&r));
            in->sigma[i * n + j] = in->sigma[j * n + i] = s;
        }
    free(L);
    in->p = (qt_qubo_problem_t){.n = n, .mu = in->mu, .sigma = in->sigma, .q = 5.0, .budget = budget};
    return 0;
}

static void inst_free(inst_t *in) {
    free(in->mu);
    free(in->sigma);
}

static double ms_since(qt_clock_t *c, int64_t t0) { return (double)(qt_clock_mono_ns(c) - t0) / 1e6; }
static double r3(double x) { return round(x * 1000.0) / 1000.0; }

static json_t *copy_bandwidth(qt_clock_t *clk) {
    const size_t sz = 256u << 20;
    char *a = malloc(sz), *b = malloc(sz);
    json_t *o = json_object();
    if (a == NULL || b == NULL) {
        free(a);
        free(b);
        json_object_set_new(o, "error", json_string("unavailable: no memory for 2 x 256 MiB"));
        return o;
    }
    memset(a, 1, sz);
    memset(b, 2, sz);
    for (int t = 1; t <= 2; t++) {
        omp_set_num_threads(t);
        double best = INFINITY;
        for (int rep = 0; rep < 3; rep++) {
            int64_t t0 = qt_clock_mono_ns(clk);
#pragma omp parallel num_threads(t)
            {
                int id = omp_get_thread_num(), nt = omp_get_num_threads();
                size_t chunk = sz / (size_t)nt, lo = (size_t)id * chunk;
                size_t len = id == nt - 1 ? sz - lo : chunk;
                memcpy(b + lo, a + lo, len);
            }
            double ms = ms_since(clk, t0);
            if (ms < best) best = ms;
        }
        char key[4];
        snprintf(key, sizeof key, "%d", t);
        json_object_set_new(o, key, json_real(r3(2.0 * (double)sz / (best / 1e3) / 1e9)));
    }
    free(a);
    free(b);
    return o;
}

static json_t *layer_bench(qt_clock_t *clk, size_t n, int threads, int *fail) {
    json_t *o = json_object();
    json_object_set_new(o, "n", json_integer((json_int_t)n));
    json_object_set_new(o, "threads", json_integer(threads));
    omp_set_num_threads(threads);
    inst_t in;
    if (inst_make(&in, n, n / 2, 7) != 0) {
        json_object_set_new(o, "error", json_string("out of memory"));
        *fail = 1;
        return o;
    }
    char err[256];
    qt_qubo_t *q = qt_qubo_new(&in.p, 0, err, sizeof err);
    qt_qaoa_opts_t opts;
    qt_qaoa_opts_default(&opts);
    opts.max_n = (unsigned)n;
    opts.mem_available_bytes = qt_sysinfo_mem_available_bytes();
    int64_t t0 = qt_clock_mono_ns(clk);
    qt_qaoa_sim_t *s = q ? qt_qaoa_sim_new(q, &opts, err, sizeof err) : NULL;
    double pre = ms_since(clk, t0);
    if (s == NULL) {
        /* A memory refusal is a figure of this machine ("unavailable: ..."), not a failed
         * measurement; anything else fails the run. */
        char msg[300];
        snprintf(msg, sizeof msg, "unavailable: %s", q ? err : "QUBO build failed");
        json_object_set_new(o, "error", json_string(msg));
        if (q == NULL || strstr(err, "available") == NULL) *fail = 1;
        qt_qubo_destroy(&q);
        inst_free(&in);
        return o;
    }
    int layers = n >= 26 ? 1 : (n >= 24 ? 2 : (n >= 20 ? 10 : 50));
    double gamma = 1.0 / q->penalty, beta = 0.3;
    t0 = qt_clock_mono_ns(clk);
    for (int l = 0; l < layers; l++) {
        double g = gamma * (1 + 0.1 * l);
        qt_qaoa_sim_run(s, 1, &g, &beta); /* reset + one layer */
    }
    double run1 = ms_since(clk, t0) / layers;
    /* Subtract the reset (timed separately) to get the layer alone. */
    t0 = qt_clock_mono_ns(clk);
    for (int l = 0; l < layers; l++) qt_qaoa_sim_reset(s);
    double reset = ms_since(clk, t0) / layers;
    t0 = qt_clock_mono_ns(clk);
    double e = 0;
    for (int l = 0; l < layers; l++) e += qt_qaoa_sim_expectation(s);
    double expms = ms_since(clk, t0) / layers;
    int evals = n >= 24 ? 1 : 5;
    t0 = qt_clock_mono_ns(clk);
    for (int l = 0; l < evals; l++) {
        qt_qaoa_sim_run(s, 1, &gamma, &beta);
        e += qt_qaoa_sim_expectation(s);
    }
    double evalms = ms_since(clk, t0) / evals;
    double layer_ms = run1 - reset > 0 ? run1 - reset : run1;
    double dim = ldexp(1.0, (int)n);
    double passes = 1.0 + (n > 12 ? (double)((n - 12 + 3) / 4) : 0.0);
    double bytes = dim * (8.0 + 32.0 * passes);
    json_object_set_new(o, "state_mb", json_real(r3(dim * 24.0 / 1048576.0)));
    json_object_set_new(o, "cost_precompute_ms", json_real(r3(pre)));
    json_object_set_new(o, "layers_timed", json_integer(layers));
    json_object_set_new(o, "layer_ms", json_real(r3(layer_ms)));
    json_object_set_new(o, "reset_ms", json_real(r3(reset)));
    json_object_set_new(o, "expectation_ms", json_real(r3(expms)));
    json_object_set_new(o, "evaluation_ms_p1", json_real(r3(evalms)));
    json_object_set_new(o, "bytes_per_layer", json_integer((json_int_t)bytes));
    json_object_set_new(o, "implied_gbs", json_real(r3(bytes / (layer_ms / 1e3) / 1e9)));
    json_object_set_new(o, "checksum", json_real(e)); /* keeps the work observable */
    qt_qaoa_sim_destroy(&s);
    qt_qubo_destroy(&q);
    inst_free(&in);
    return o;
}

static json_t *tts_bench(qt_clock_t *clk, size_t n, unsigned p, int *fail) {
    json_t *o = json_object();
    json_object_set_new(o, "n", json_integer((json_int_t)n));
    json_object_set_new(o, "p", json_integer(p));
    inst_t in;
    if (inst_make(&in, n, n / 2, 7) != 0) {
        *fail = 1;
        json_object_set_new(o, "error", json_string("out of memory"));
        return o;
    }
    qt_qaoa_opts_t opts;
    qt_qaoa_opts_default(&opts);
    opts.p = p;
    opts.seed = 7;
    opts.multistart = n >= 20 ? 1 : 2;
    opts.max_evals = n >= 20 ? 8 : (n >= 16 ? 30 : 40);
    qt_qaoa_result_t *r = calloc(1, sizeof(*r));
    int64_t t0 = qt_clock_mono_ns(clk);
    int rc = r ? qt_qaoa_solve(&in.p, 0, &opts, r) : -1;
    double ms = ms_since(clk, t0);
    if (rc != 0) {
        *fail = 1;
        json_object_set_new(o, "error", json_string(r ? r->error : "out of memory"));
    } else {
        json_object_set_new(o, "multistart", json_integer(opts.multistart));
        json_object_set_new(o, "max_evals", json_integer(opts.max_evals));
        json_object_set_new(o, "wall_ms", json_real(r3(ms)));
        json_object_set_new(o, "evaluations", json_integer((json_int_t)r->evaluations));
        json_object_set_new(o, "feasible", json_boolean(r->feasible));
        json_object_set_new(o, "found_optimum",
                            json_boolean(r->feasible && r->objective <= r->optimum + 1e-12));
        json_object_set_new(o, "best_probability", json_real(r->best_probability));
        json_object_set_new(o, "approx_ratio", json_real(r->approx_ratio));
    }
    free(r);
    inst_free(&in);
    return o;
}

static json_t *exact_bench(qt_clock_t *clk, size_t n, size_t B, double *obj, int *fail) {
    json_t *o = json_object();
    json_object_set_new(o, "n", json_integer((json_int_t)n));
    json_object_set_new(o, "budget", json_integer((json_int_t)B));
    inst_t in;
    uint8_t *x = malloc(n);
    if (x == NULL || inst_make(&in, n, B, 7) != 0) {
        free(x);
        *fail = 1;
        json_object_set_new(o, "error", json_string("out of memory"));
        return o;
    }
    qt_solver_result_t r;
    char err[256];
    int64_t t0 = qt_clock_mono_ns(clk);
    if (qt_solve_exact(&in.p, NULL, x, &r, err, sizeof err) != 0) {
        *fail = 1;
        json_object_set_new(o, "error", json_string(err));
    } else {
        double ms = ms_since(clk, t0);
        json_object_set_new(o, "selections", json_integer((json_int_t)r.evaluations));
        json_object_set_new(o, "wall_ms", json_real(r3(ms)));
        json_object_set_new(o, "ns_per_selection", json_real(r3(ms * 1e6 / (double)r.evaluations)));
        json_object_set_new(o, "objective", json_real(r.objective));
        if (obj != NULL) *obj = r.objective;
    }
    free(x);
    inst_free(&in);
    return o;
}

static json_t *heur_bench(qt_clock_t *clk, size_t n, size_t B, double exact_obj, double exact_ms,
                          int *fail) {
    json_t *o = json_object();
    json_object_set_new(o, "n", json_integer((json_int_t)n));
    json_object_set_new(o, "budget", json_integer((json_int_t)B));
    json_object_set_new(o, "exact_objective", json_real(exact_obj));
    json_object_set_new(o, "exact_ms", json_real(r3(exact_ms)));
    inst_t in;
    uint8_t *x = malloc(n);
    if (x == NULL || inst_make(&in, n, B, 7) != 0) {
        free(x);
        *fail = 1;
        json_object_set_new(o, "error", json_string("out of memory"));
        return o;
    }
    for (int k = 0; k < 2; k++) {
        qt_solver_result_t r;
        char err[256];
        int64_t t0 = qt_clock_mono_ns(clk);
        int rc = k == 0 ? qt_solve_anneal(&in.p, NULL, x, &r, err, sizeof err)
                        : qt_solve_greedy(&in.p, NULL, x, &r, err, sizeof err);
        double ms = ms_since(clk, t0);
        json_t *h = json_object();
        if (rc != 0) {
            *fail = 1;
            json_object_set_new(h, "error", json_string(err));
        } else {
            json_object_set_new(h, "wall_ms", json_real(r3(ms)));
            json_object_set_new(h, "objective", json_real(r.objective));
            json_object_set_new(h, "gap", json_real(r.objective - exact_obj));
            json_object_set_new(h, "rel_gap", json_real((r.objective - exact_obj) / fabs(exact_obj)));
        }
        json_object_set_new(o, k == 0 ? "anneal" : "greedy", h);
    }
    free(x);
    inst_free(&in);
    return o;
}

static long long peak_rss_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL) return -1;
    char line[256];
    long long kb = -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmHWM: %lld kB", &kb) == 1) break;
    fclose(f);
    return kb;
}

int bench_qaoa(int argc, char **argv, int i) {
    uint64_t max_n = 26;
    bool quick = false;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: qt-bench qaoa [--max-n N] [--quick]\n"
                   "  simulator layers (n = 16, 20, 24, 26; 1 and 2 threads) against memcpy\n"
                   "  bandwidth, QAOA time to solution (n = 12, 16, 20; p = 1..5), exact\n"
                   "  latency (n = 20, 25, 30), anneal/greedy gaps (n = 30, 50, 100).\n"
                   "  --max-n N: largest simulated n (12..30, default 26); --quick: n <= 20,\n"
                   "  no n = 30 enumeration. One JSON object on stdout.\n");
            return 0;
        }
        if (strcmp(argv[i], "--quick") == 0) {
            quick = true;
        } else if (strcmp(argv[i], "--max-n") == 0 && i + 1 < argc) {
            if (qt_cli_parse_u64(argv[++i], &max_n) != 0 || max_n < 12 || max_n > 30)
                return qt_cli_usage_error(g_prog, "--max-n '%s': expected 12..30", argv[i]);
        } else {
            return qt_cli_usage_error(g_prog, "unknown argument '%s' (expected --max-n N, --quick)",
                                      argv[i]);
        }
    }
    if (quick && max_n > 20) max_n = 20;
    qt_clock_t *clk = qt_clock_new_wall();
    int64_t start = qt_clock_mono_ns(clk);
    int fail = 0;
    json_t *out = json_object();
    json_t *mach = json_object();
    json_object_set_new(mach, "cores", json_integer(sysconf(_SC_NPROCESSORS_ONLN)));
    json_object_set_new(mach, "omp_max_threads", json_integer(omp_get_max_threads()));
    json_object_set_new(out, "machine", mach);
    fprintf(stderr, "%s: copy bandwidth\n", g_prog);
    json_object_set_new(out, "copy_bandwidth_gbs", copy_bandwidth(clk));

    json_t *layers = json_array();
    const size_t ns[4] = {16, 20, 24, 26};
    for (int k = 0; k < 4; k++) {
        if (ns[k] > max_n) continue;
        for (int t = 1; t <= 2; t++) {
            fprintf(stderr, "%s: layer n=%zu threads=%d\n", g_prog, ns[k], t);
            json_array_append_new(layers, layer_bench(clk, ns[k], t, &fail));
        }
    }
    json_object_set_new(out, "layer", layers);

    omp_set_num_threads(1);
    json_t *tts = json_array();
    const size_t tn[3] = {12, 16, 20};
    for (int k = 0; k < 3; k++)
        for (unsigned p = 1; p <= 5; p++) {
            fprintf(stderr, "%s: time to solution n=%zu p=%u\n", g_prog, tn[k], p);
            json_array_append_new(tts, tts_bench(clk, tn[k], p, &fail));
        }
    json_object_set_new(out, "time_to_solution", tts);

    json_t *ex = json_array();
    const size_t en[3] = {20, 25, 30};
    double obj30 = NAN, ms30 = NAN;
    for (int k = 0; k < 3; k++) {
        if (quick && en[k] == 30) continue;
        fprintf(stderr, "%s: exact n=%zu\n", g_prog, en[k]);
        json_t *e = exact_bench(clk, en[k], en[k] / 2, en[k] == 30 ? &obj30 : NULL, &fail);
        if (en[k] == 30) ms30 = json_real_value(json_object_get(e, "wall_ms"));
        json_array_append_new(ex, e);
    }
    json_object_set_new(out, "exact", ex);

    json_t *heur = json_array();
    const size_t hn[3] = {30, 50, 100}, hb[3] = {15, 5, 4};
    for (int k = 0; k < 3; k++) {
        double obj = NAN, ms = NAN;
        if (hn[k] == 30 && quick) continue;
        if (hn[k] == 30) {
            obj = obj30;
            ms = ms30;
        } else {
            fprintf(stderr, "%s: exact n=%zu budget=%zu\n", g_prog, hn[k], hb[k]);
            json_t *e = exact_bench(clk, hn[k], hb[k], &obj, &fail);
            ms = json_real_value(json_object_get(e, "wall_ms"));
            json_decref(e);
        }
        fprintf(stderr, "%s: anneal/greedy n=%zu\n", g_prog, hn[k]);
        json_array_append_new(heur, heur_bench(clk, hn[k], hb[k], obj, ms, &fail));
    }
    json_object_set_new(out, "heuristics", heur);
    json_object_set_new(out, "peak_rss_kb", json_integer(peak_rss_kb()));
    json_object_set_new(out, "wall_s", json_real(r3(ms_since(clk, start) / 1e3)));
    char *s = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
    if (s != NULL) {
        puts(s);
        free(s);
    } else {
        fail = 1;
    }
    json_decref(out);
    qt_clock_destroy(&clk);
    return fail ? 1 : 0;
}
