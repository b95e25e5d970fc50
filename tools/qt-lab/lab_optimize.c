/* qt-lab qaoa | optimize: the asset-selection problem of issue 5 from a JSON file,
 * solved by the QAOA simulator (libs/quant/qt_qaoa.h) or a classical solver
 * (libs/quant/qt_solvers.h), optionally followed by the weight step (qt_weights.h).
 *
 *   qt-lab qaoa --problem FILE.json [--p 3] [--seed 1] [--mixer x|xy] [--max-n 26]
 *   qt-lab optimize --problem FILE.json --solver qaoa|exact|anneal|greedy
 *                   [--p 3] [--seed 1] [--mixer x|xy] [--max-n 26]
 *
 * Problem file: {"mu": [n numbers], "sigma": [[n x n numbers]], "q": number >= 0,
 * "budget": integer 1..n} and optional keys:
 *   "penalty": number > 0        QUBO penalty P (default: the rule of qt_qubo.h)
 *   "names": [n strings]         echoed in the output ("selected_names")
 *   "shots", "multistart", "max_evals": positive integers (QAOA)
 *   "optimizer": "cobyla"|"bobyqa" (QAOA angle optimiser)
 *   "sweeps", "restarts": positive integers (anneal)
 *   "weights": {"method": "meanvar"|"invvol"|"erc", "gross": > 0, "cap": > 0}
 *                                adds "weights" (n numbers, 0 for unselected)
 * Unknown keys are an error (a typo must not be silently ignored).
 *
 * Output (one JSON object): selection (0/1 array), objective, feasible, gammas, betas
 * (per layer; [] for classical solvers), penalty, expectation (of the penalised cost C),
 * best_probability, approx_ratio, optimum (exact constrained minimum when known), p,
 * iterations (objective evaluations), stopped, solver, wall_ms; null where a figure
 * does not apply. Exit 0 ok, 1 bad problem file or solver error (the message names the
 * file and key), 2 usage error. */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qt_sysinfo.h"
#include "qt_cli.h"
#include "qt_clock.h"
#include "qt_lab.h"
#include "qt_qaoa.h"
#include "qt_qubo.h"
#include "qt_solvers.h"
#include "qt_weights.h"

typedef struct {
    size_t n;
    double *mu, *sigma;
    double q;
    size_t budget;
    double penalty;           /* 0 = rule */
    json_t *names;            /* borrowed from root, may be NULL */
    uint64_t shots, multistart, max_evals, sweeps, restarts;
    qt_qaoa_optimizer_t optimizer;
    bool has_weights;
    qt_weights_opts_t wopts;
} lab_problem_t;

static void problem_free(lab_problem_t *p) {
    free(p->mu);
    free(p->sigma);
    p->mu = p->sigma = NULL;
}

static int bad(const char *file, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: %s: %s\n", qt_lab_prog, file, msg);
    return -1;
}

static int get_number(const char *file, json_t *v, const char *key, double *out) {
    if (!json_is_number(v)) return bad(file, "key '%s': expected a number", key);
    double d = json_number_value(v);
    if (!isfinite(d)) return bad(file, "key '%s': not a finite number", key);
    *out = d;
    return 0;
}

static int get_posint(const char *file, json_t *root, const char *key, uint64_t max,
                      uint64_t *out) {
    json_t *v = json_object_get(root, key);
    if (v == NULL) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 1 ||
        (uint64_t)json_integer_value(v) > max)
        return bad(file, "key '%s': expected an integer 1..%" PRIu64, key, max);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int parse_weights(const char *file, json_t *w, lab_problem_t *p) {
    if (!json_is_object(w)) return bad(file, "key 'weights': expected an object");
    qt_weights_opts_default(&p->wopts);
    p->wopts.q = p->q;
    const char *k;
    json_t *v;
    json_object_foreach(w, k, v) {
        if (strcmp(k, "method") == 0) {
            const char *m = json_string_value(v);
            if (m != NULL && strcmp(m, "meanvar") == 0) p->wopts.method = QT_WEIGHTS_MEANVAR;
            else if (m != NULL && strcmp(m, "invvol") == 0) p->wopts.method = QT_WEIGHTS_INVVOL;
            else if (m != NULL && strcmp(m, "erc") == 0) p->wopts.method = QT_WEIGHTS_ERC;
            else return bad(file, "key 'weights.method': expected \"meanvar\", \"invvol\" or \"erc\"");
        } else if (strcmp(k, "gross") == 0 || strcmp(k, "cap") == 0) {
            double d;
            char key[32];
            snprintf(key, sizeof key, "weights.%s", k);
            if (get_number(file, v, key, &d) != 0) return -1;
            if (d <= 0) return bad(file, "key '%s': must be > 0", key);
            if (k[0] == 'g') p->wopts.gross = d;
            else p->wopts.cap = d;
        } else {
            return bad(file, "key 'weights.%s': unknown (expected method, gross, cap)", k);
        }
    }
    p->has_weights = true;
    return 0;
}

/* Reads and validates the problem file; -1 after printing what was wrong. */
static int load_problem(const char *file, lab_problem_t *p, json_t **root_out) {
    memset(p, 0, sizeof(*p));
    p->optimizer = QT_QAOA_OPT_COBYLA;
    json_error_t je;
    json_t *root = json_load_file(file, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        if (je.line > 0)
            fprintf(stderr, "%s: %s:%d:%d: %s\n", qt_lab_prog, file, je.line, je.column, je.text);
        else
            fprintf(stderr, "%s: %s\n", qt_lab_prog, je.text);
        return -1;
    }
    *root_out = root;
    if (!json_is_object(root)) return bad(file, "top level: expected an object");
    static const char *const known[] = {"mu", "sigma", "q", "budget", "penalty", "names",
                                        "shots", "multistart", "max_evals", "optimizer",
                                        "sweeps", "restarts", "weights"};
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v) {
        bool ok = false;
        for (size_t j = 0; j < sizeof known / sizeof known[0]; j++)
            if (strcmp(k, known[j]) == 0) ok = true;
        if (!ok) return bad(file, "key '%s': unknown", k);
    }
    json_t *mu = json_object_get(root, "mu");
    if (!json_is_array(mu) || json_array_size(mu) == 0)
        return bad(file, "key 'mu': expected a non-empty array of numbers");
    size_t n = json_array_size(mu);
    if (n > QT_QUBO_MAX_N) return bad(file, "key 'mu': %zu assets, at most %u", n, QT_QUBO_MAX_N);
    p->n = n;
    p->mu = calloc(n, sizeof(double));
    p->sigma = calloc(n * n, sizeof(double));
    if (p->mu == NULL || p->sigma == NULL) return bad(file, "out of memory for n=%zu", n);
    char key[64];
    for (size_t i = 0; i < n; i++) {
        snprintf(key, sizeof key, "mu[%zu]", i);
        if (get_number(file, json_array_get(mu, i), key, &p->mu[i]) != 0) return -1;
    }
    json_t *sg = json_object_get(root, "sigma");
    if (!json_is_array(sg) || json_array_size(sg) != n)
        return bad(file, "key 'sigma': expected an array of %zu rows", n);
    for (size_t i = 0; i < n; i++) {
        json_t *row = json_array_get(sg, i);
        if (!json_is_array(row) || json_array_size(row) != n)
            return bad(file, "key 'sigma[%zu]': expected an array of %zu numbers", i, n);
        for (size_t j = 0; j < n; j++) {
            snprintf(key, sizeof key, "sigma[%zu][%zu]", i, j);
            if (get_number(file, json_array_get(row, j), key, &p->sigma[i * n + j]) != 0)
                return -1;
        }
    }
    if (get_number(file, json_object_get(root, "q"), "q", &p->q) != 0) return -1;
    json_t *b = json_object_get(root, "budget");
    if (!json_is_integer(b) || json_integer_value(b) < 1 || (size_t)json_integer_value(b) > n)
        return bad(file, "key 'budget': expected an integer 1..%zu", n);
    p->budget = (size_t)json_integer_value(b);
    if ((v = json_object_get(root, "penalty")) != NULL) {
        if (get_number(file, v, "penalty", &p->penalty) != 0) return -1;
        if (p->penalty <= 0) return bad(file, "key 'penalty': must be > 0");
    }
    if ((v = json_object_get(root, "names")) != NULL) {
        if (!json_is_array(v) || json_array_size(v) != n)
            return bad(file, "key 'names': expected an array of %zu strings", n);
        for (size_t i = 0; i < n; i++)
            if (!json_is_string(json_array_get(v, i)))
                return bad(file, "key 'names[%zu]': expected a string", i);
        p->names = v;
    }
    if (get_posint(file, root, "shots", 1000000, &p->shots) != 0 ||
        get_posint(file, root, "multistart", 1000, &p->multistart) != 0 ||
        get_posint(file, root, "max_evals", 1000000, &p->max_evals) != 0 ||
        get_posint(file, root, "sweeps", 100000000, &p->sweeps) != 0 ||
        get_posint(file, root, "restarts", 10000, &p->restarts) != 0)
        return -1;
    if ((v = json_object_get(root, "optimizer")) != NULL) {
        const char *s = json_string_value(v);
        if (s != NULL && strcmp(s, "cobyla") == 0) p->optimizer = QT_QAOA_OPT_COBYLA;
        else if (s != NULL && strcmp(s, "bobyqa") == 0) p->optimizer = QT_QAOA_OPT_BOBYQA;
        else return bad(file, "key 'optimizer': expected \"cobyla\" or \"bobyqa\"");
    }
    if ((v = json_object_get(root, "weights")) != NULL && parse_weights(file, v, p) != 0)
        return -1;
    /* The library's own checks (symmetry, variances, q >= 0) name the key too. */
    qt_qubo_problem_t qp = {.n = n, .mu = p->mu, .sigma = p->sigma, .q = p->q, .budget = p->budget};
    char err[256];
    if (qt_qubo_validate(&qp, 0, err, sizeof err) != 0) return bad(file, "%s", err);
    return 0;
}

static json_t *real_or_null(double d) { return isfinite(d) ? json_real(d) : json_null(); }

static json_t *selection_json(const uint8_t *x, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, json_integer(x[i] ? 1 : 0));
    return a;
}

static void usage(FILE *f, bool optimize) {
    if (optimize)
        fprintf(f, "usage: qt-lab optimize --problem FILE.json --solver qaoa|exact|anneal|greedy\n"
                   "                       [--p 3] [--seed 1] [--mixer x|xy] [--max-n 26]\n");
    else
        fprintf(f, "usage: qt-lab qaoa --problem FILE.json [--p 3] [--seed 1] [--mixer x|xy]"
                   " [--max-n 26]\n");
    fprintf(f, "Problem file: {\"mu\": [..n..], \"sigma\": [[..n x n..]], \"q\": 0.5, \"budget\": 2}\n"
               "optional keys: penalty, names, shots, multistart, max_evals, optimizer\n"
               "(cobyla|bobyqa), sweeps, restarts, weights {method meanvar|invvol|erc, gross, cap}.\n"
               "Prints one JSON object. Exit 0 ok, 1 bad file / solver error, 2 usage.\n");
}

static int run(int argc, char **argv, int i, bool optimize) {
    const char *cmd = optimize ? "optimize" : "qaoa";
    const char *file = NULL, *solver = optimize ? NULL : "qaoa";
    uint64_t p = 3, seed = 1, max_n = QT_QAOA_DEFAULT_MAX_N;
    qt_qaoa_mixer_t mixer = QT_QAOA_MIXER_X;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout, optimize);
            return 0;
        }
        if (i + 1 >= argc) return qt_cli_usage_error(qt_lab_prog, "missing value after '%s'", a);
        const char *v = argv[++i];
        if (strcmp(a, "--problem") == 0) {
            file = v;
        } else if (strcmp(a, "--solver") == 0 && optimize) {
            if (strcmp(v, "qaoa") && strcmp(v, "exact") && strcmp(v, "anneal") && strcmp(v, "greedy"))
                return qt_cli_usage_error(qt_lab_prog,
                                          "--solver '%s': expected qaoa, exact, anneal or greedy", v);
            solver = v;
        } else if (strcmp(a, "--p") == 0) {
            if (qt_cli_parse_u64(v, &p) != 0 || p < 1 || p > QT_QAOA_MAX_P)
                return qt_cli_usage_error(qt_lab_prog, "--p '%s': expected an integer 1..16", v);
        } else if (strcmp(a, "--seed") == 0) {
            if (qt_cli_parse_u64(v, &seed) != 0)
                return qt_cli_usage_error(qt_lab_prog, "--seed '%s': expected an unsigned integer", v);
        } else if (strcmp(a, "--max-n") == 0) {
            if (qt_cli_parse_u64(v, &max_n) != 0 || max_n < 1 || max_n > QT_QAOA_HARD_MAX_N)
                return qt_cli_usage_error(qt_lab_prog, "--max-n '%s': expected an integer 1..32", v);
        } else if (strcmp(a, "--mixer") == 0) {
            if (strcmp(v, "x") == 0) mixer = QT_QAOA_MIXER_X;
            else if (strcmp(v, "xy") == 0) mixer = QT_QAOA_MIXER_XY;
            else return qt_cli_usage_error(qt_lab_prog, "--mixer '%s': expected x or xy", v);
        } else {
            return qt_cli_usage_error(qt_lab_prog, "unknown option '%s'", a);
        }
    }
    if (file == NULL) return qt_cli_usage_error(qt_lab_prog, "%s needs --problem FILE.json", cmd);
    if (solver == NULL) return qt_cli_usage_error(qt_lab_prog, "%s needs --solver", cmd);

    lab_problem_t lp;
    json_t *root = NULL;
    if (load_problem(file, &lp, &root) != 0) {
        problem_free(&lp);
        json_decref(root);
        return QT_LAB_EXIT_FAIL;
    }
    qt_qubo_problem_t qp = {.n = lp.n, .mu = lp.mu, .sigma = lp.sigma, .q = lp.q, .budget = lp.budget};
    qt_clock_t *clk = qt_clock_new_wall();
    int64_t t0 = qt_clock_mono_ns(clk);
    json_t *out = json_object();
    uint8_t *x = calloc(lp.n, 1);
    int rc = 0;
    char err[256] = "";
    if (x == NULL) {
        fprintf(stderr, "%s: out of memory\n", qt_lab_prog);
        rc = QT_LAB_EXIT_FAIL;
        goto done;
    }
    if (strcmp(solver, "qaoa") == 0) {
        qt_qaoa_opts_t o;
        qt_qaoa_opts_default(&o);
        o.p = (unsigned)p;
        o.seed = seed;
        o.mixer = mixer;
        o.max_n = (unsigned)max_n;
        o.optimizer = lp.optimizer;
        o.mem_available_bytes = qt_sysinfo_mem_available_bytes();
        if (lp.shots) o.shots = (unsigned)lp.shots;
        if (lp.multistart) o.multistart = (unsigned)lp.multistart;
        if (lp.max_evals) o.max_evals = (unsigned)lp.max_evals;
        qt_qaoa_result_t *r = calloc(1, sizeof(*r));
        if (r == NULL || qt_qaoa_solve(&qp, lp.penalty, &o, r) != 0) {
            fprintf(stderr, "%s: %s: %s\n", qt_lab_prog, file, r ? r->error : "out of memory");
            free(r);
            rc = QT_LAB_EXIT_FAIL;
            goto done;
        }
        memcpy(x, r->selection, lp.n);
        json_t *g = json_array(), *b = json_array();
        for (unsigned l = 0; l < r->p; l++) {
            json_array_append_new(g, json_real(r->gammas[l]));
            json_array_append_new(b, json_real(r->betas[l]));
        }
        json_object_set_new(out, "solver", json_string("qaoa"));
        json_object_set_new(out, "selection", selection_json(x, lp.n));
        json_object_set_new(out, "objective", json_real(r->objective));
        json_object_set_new(out, "feasible", json_boolean(r->feasible));
        json_object_set_new(out, "optimum", real_or_null(r->optimum));
        json_object_set_new(out, "mixer", json_string(mixer == QT_QAOA_MIXER_XY ? "xy" : "x"));
        json_object_set_new(out, "p", json_integer(r->p));
        json_object_set_new(out, "gammas", g);
        json_object_set_new(out, "betas", b);
        json_object_set_new(out, "penalty", json_real(r->penalty));
        json_object_set_new(out, "expectation", json_real(r->expectation));
        json_object_set_new(out, "best_probability", json_real(r->best_probability));
        json_object_set_new(out, "approx_ratio", real_or_null(r->approx_ratio));
        json_object_set_new(out, "iterations", json_integer((json_int_t)r->evaluations));
        json_object_set_new(out, "stopped", json_boolean(r->stopped));
        json_object_set_new(out, "seed", json_integer((json_int_t)seed));
        free(r);
    } else {
        qt_solver_opts_t o;
        qt_solver_opts_default(&o);
        o.seed = seed;
        if (lp.sweeps) o.sweeps = (unsigned)lp.sweeps;
        if (lp.restarts) o.restarts = (unsigned)lp.restarts;
        qt_solver_result_t r;
        int src = strcmp(solver, "exact") == 0    ? qt_solve_exact(&qp, &o, x, &r, err, sizeof err)
                  : strcmp(solver, "anneal") == 0 ? qt_solve_anneal(&qp, &o, x, &r, err, sizeof err)
                                                  : qt_solve_greedy(&qp, &o, x, &r, err, sizeof err);
        if (src != 0) {
            fprintf(stderr, "%s: %s: %s\n", qt_lab_prog, file, err);
            rc = QT_LAB_EXIT_FAIL;
            goto done;
        }
        bool exact = strcmp(solver, "exact") == 0;
        json_object_set_new(out, "solver", json_string(solver));
        json_object_set_new(out, "selection", selection_json(x, lp.n));
        json_object_set_new(out, "objective", json_real(r.objective));
        json_object_set_new(out, "feasible", json_boolean(r.feasible));
        json_object_set_new(out, "optimum", exact && !r.stopped ? json_real(r.objective) : json_null());
        json_object_set_new(out, "p", json_null());
        json_object_set_new(out, "gammas", json_array());
        json_object_set_new(out, "betas", json_array());
        json_object_set_new(out, "penalty",
                            json_real(lp.penalty > 0 ? lp.penalty : qt_qubo_penalty_rule(&qp)));
        json_object_set_new(out, "expectation", json_null());
        json_object_set_new(out, "best_probability", json_null());
        json_object_set_new(out, "approx_ratio", json_null());
        json_object_set_new(out, "iterations", json_integer((json_int_t)r.evaluations));
        json_object_set_new(out, "stopped", json_boolean(r.stopped));
        json_object_set_new(out, "seed", json_integer((json_int_t)seed));
    }
    if (lp.names != NULL) {
        json_t *sn = json_array();
        for (size_t k = 0; k < lp.n; k++)
            if (x[k]) json_array_append(sn, json_array_get(lp.names, k));
        json_object_set_new(out, "selected_names", sn);
    }
    if (lp.has_weights) {
        double *w = calloc(lp.n, sizeof(double));
        qt_weights_info_t wi;
        if (w == NULL ||
            qt_weights_for_selection(lp.n, lp.mu, lp.sigma, x, &lp.wopts, w, &wi, err, sizeof err) != 0) {
            fprintf(stderr, "%s: %s: %s\n", qt_lab_prog, file, w ? err : "out of memory");
            free(w);
            rc = QT_LAB_EXIT_FAIL;
            goto done;
        }
        json_t *wa = json_array();
        for (size_t k = 0; k < lp.n; k++) json_array_append_new(wa, json_real(w[k]));
        json_object_set_new(out, "weights", wa);
        free(w);
    }
    json_object_set_new(out, "n", json_integer((json_int_t)lp.n));
    json_object_set_new(out, "budget", json_integer((json_int_t)lp.budget));
    json_object_set_new(out, "wall_ms", json_real((double)(qt_clock_mono_ns(clk) - t0) / 1e6));
    char *s = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    if (s == NULL) {
        fprintf(stderr, "%s: out of memory rendering JSON\n", qt_lab_prog);
        rc = QT_LAB_EXIT_FAIL;
    } else {
        puts(s);
        free(s);
    }
done:
    free(x);
    json_decref(out);
    qt_clock_destroy(&clk);
    problem_free(&lp);
    json_decref(root);
    return rc;
}

int qt_lab_qaoa(int argc, char **argv, int i) { return run(argc, argv, i, false); }
int qt_lab_optimize(int argc, char **argv, int i) { return run(argc, argv, i, true); }
