/* qt_solvers: exact (revolving-door enumeration), simulated annealing and greedy for the
 * budget-constrained selection problem. Definitions and schedules are in qt_solvers.h.
 *
 * Common machinery: for a selection x keep g = Σx (g_i = sum_j Σ_ij x_j). Then
 *   swap out a, in b:  Δf = q (Σ_aa + Σ_bb - 2 Σ_ab + 2 (g_b - g_a)) - μ_b + μ_a
 *   add i:             Δf = q (Σ_ii + 2 g_i) - μ_i
 * ((x+d)'Σ(x+d) = x'Σx + 2 d'Σx + d'Σd), and g is updated in O(n) per accepted move.
 * Incremental sums drift by rounding, so f and g are recomputed from x every 2^16
 * enumeration steps / every anneal sweep, and the returned objective is always the
 * direct qt_qubo_objective of the returned x. */
#include "qt_solvers.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qt_rng.h"

static void set_err(char *err, size_t len, const char *fmt, ...) {
    if (err == NULL || len == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

void qt_solver_opts_default(qt_solver_opts_t *o) {
    memset(o, 0, sizeof(*o));
    o->seed = 1;
    o->sweeps = 2000;
    o->restarts = 4;
    o->max_steps = 2000000000ull;
}

uint64_t qt_solvers_binomial(size_t n, size_t k) {
    if (k > n) return 0;
    if (k > n - k) k = n - k;
    /* c_i = C(n-k+i, i) is an exact integer at every step; guard the product. */
    unsigned __int128 c = 1;
    for (size_t i = 1; i <= k; i++) {
        c = c * (unsigned __int128)(n - k + i) / i;
        if (c > UINT64_MAX) return UINT64_MAX;
    }
    return (uint64_t)c;
}

/* g = Σx, returns f(x). */
static double state_sync(const qt_qubo_problem_t *p, const uint8_t *x, double *g) {
    size_t n = p->n;
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < n; j++)
            if (x[j]) s += p->sigma[i * n + j];
        g[i] = s;
    }
    return qt_qubo_objective(p, x);
}

static inline double swap_delta(const qt_qubo_problem_t *p, const double *g, size_t a, size_t b) {
    size_t n = p->n;
    const double *S = p->sigma;
    return p->q * (S[a * n + a] + S[b * n + b] - 2.0 * S[a * n + b] + 2.0 * (g[b] - g[a])) -
           p->mu[b] + p->mu[a];
}

static inline void swap_apply(const qt_qubo_problem_t *p, double *g, uint8_t *x, size_t a,
                              size_t b) {
    size_t n = p->n;
    const double *S = p->sigma;
    for (size_t i = 0; i < n; i++) g[i] += S[i * n + b] - S[i * n + a];
    x[a] = 0;
    x[b] = 1;
}

static int check_common(const qt_qubo_problem_t *p, uint8_t *x, qt_solver_result_t *r, char *err,
                        size_t errlen) {
    if (qt_qubo_validate(p, 0, err, errlen) != 0) return -1;
    if (x == NULL || r == NULL) {
        set_err(err, errlen, "solver: NULL output");
        return -1;
    }
    memset(r, 0, sizeof(*r));
    return 0;
}

/* ------------------------------------------------------------------ exact */

/* Knuth's Algorithm R (revolving-door combinations, TAOCP 7.2.1.3) for 1 < t < n.
 * c[1..t] is the current combination, c[t+1] = n. Advances to the next combination and
 * reports the element that left (*out) and entered (*in); false when done. */
static bool revolving_next(size_t *c, size_t t, size_t *out, size_t *in) {
    size_t j;
    if (t & 1u) {
        if (c[1] + 1 < c[2]) {
            *out = c[1];
            *in = c[1] + 1;
            c[1]++;
            return true;
        }
        j = 2;
        goto r4;
    } else {
        if (c[1] > 0) {
            *out = c[1];
            *in = c[1] - 1;
            c[1]--;
            return true;
        }
        j = 2;
        goto r5;
    }
r4: /* c[j] == c[j-1] + 1: try to decrease c[j] */
    if (c[j] >= j) {
        *out = c[j];
        *in = j - 2;
        c[j] = c[j - 1];
        c[j - 1] = j - 2;
        return true;
    }
    j++;
r5: /* c[j-1] == j - 2: try to increase c[j] */
    if (c[j] + 1 < c[j + 1]) {
        *out = j - 2;
        *in = c[j] + 1;
        c[j - 1] = c[j];
        c[j]++;
        return true;
    }
    j++;
    if (j <= t) goto r4;
    return false;
}

int qt_solve_exact(const qt_qubo_problem_t *p, const qt_solver_opts_t *o, uint8_t *x,
                   qt_solver_result_t *r, char *err, size_t errlen) {
    qt_solver_opts_t def;
    if (o == NULL) {
        qt_solver_opts_default(&def);
        o = &def;
    }
    if (check_common(p, x, r, err, errlen) != 0) return -1;
    size_t n = p->n, t = p->budget;
    uint64_t total = qt_solvers_binomial(n, t);
    if (o->max_steps != 0 && total > o->max_steps) {
        set_err(err, errlen, "exact: C(%zu,%zu) = %llu selections exceed max_steps %llu", n, t,
                (unsigned long long)total, (unsigned long long)o->max_steps);
        return -1;
    }
    uint8_t *cur = calloc(n, 1);
    double *g = calloc(n, sizeof(double));
    size_t *c = calloc(t + 2, sizeof(size_t));
    if (cur == NULL || g == NULL || c == NULL) {
        free(cur);
        free(g);
        free(c);
        set_err(err, errlen, "exact: out of memory");
        return -1;
    }
    for (size_t j = 1; j <= t; j++) {
        c[j] = j - 1;
        cur[j - 1] = 1;
    }
    c[t + 1] = n;
    double f = state_sync(p, cur, g);
    double best = f;
    memcpy(x, cur, n);
    uint64_t visited = 1;
    if (t == 1 && n > 1) {
        /* Single asset: walk 0, 1, ..., n-1 (each step one out, one in). */
        for (size_t i = 1; i < n; i++) {
            f += swap_delta(p, g, i - 1, i);
            swap_apply(p, g, cur, i - 1, i);
            visited++;
            if (f < best) {
                best = f;
                memcpy(x, cur, n);
            }
        }
    } else if (t < n) {
        size_t out, in;
        while (revolving_next(c, t, &out, &in)) {
            f += swap_delta(p, g, out, in);
            swap_apply(p, g, cur, out, in);
            visited++;
            if ((visited & 0xFFFFu) == 0) f = state_sync(p, cur, g);
            if (f < best) {
                best = f;
                memcpy(x, cur, n);
            }
            if ((visited & 0xFFFFFu) == 0 && o->should_stop != NULL && o->should_stop(o->stop_ud)) {
                r->stopped = true;
                break;
            }
        }
    }
    free(cur);
    free(g);
    free(c);
    r->objective = qt_qubo_objective(p, x);
    r->feasible = qt_qubo_weight(n, x) == t;
    r->evaluations = visited;
    return 0;
}

/* ------------------------------------------------------------------ anneal */

/* Best-improvement swap descent until no swap lowers f by more than a rounding margin. */
static double swap_descent(const qt_qubo_problem_t *p, uint8_t *x, double *g, double f,
                           uint64_t *evals) {
    size_t n = p->n;
    for (;;) {
        double best = 0;
        size_t ba = n, bb = n;
        for (size_t a = 0; a < n; a++) {
            if (!x[a]) continue;
            for (size_t b = 0; b < n; b++) {
                if (x[b]) continue;
                double d = swap_delta(p, g, a, b);
                (*evals)++;
                if (d < best) {
                    best = d;
                    ba = a;
                    bb = b;
                }
            }
        }
        if (ba == n || best > -1e-12 * (1.0 + fabs(f))) break;
        swap_apply(p, g, x, ba, bb);
        f = state_sync(p, x, g);
    }
    return f;
}

int qt_solve_anneal(const qt_qubo_problem_t *p, const qt_solver_opts_t *o, uint8_t *x,
                    qt_solver_result_t *r, char *err, size_t errlen) {
    qt_solver_opts_t def;
    if (o == NULL) {
        qt_solver_opts_default(&def);
        o = &def;
    }
    if (check_common(p, x, r, err, errlen) != 0) return -1;
    size_t n = p->n, B = p->budget;
    unsigned sweeps = o->sweeps ? o->sweeps : 1;
    unsigned restarts = o->restarts ? o->restarts : 1;
    uint8_t *cur = calloc(n, 1), *runbest = calloc(n, 1);
    double *g = calloc(n, sizeof(double));
    size_t *sel = calloc(n, sizeof(size_t)), *uns = calloc(n, sizeof(size_t));
    if (cur == NULL || runbest == NULL || g == NULL || sel == NULL || uns == NULL) {
        free(cur);
        free(runbest);
        free(g);
        free(sel);
        free(uns);
        set_err(err, errlen, "anneal: out of memory");
        return -1;
    }
    double best_all = INFINITY;
    uint64_t evals = 0;
    for (unsigned rs = 0; rs < restarts && !r->stopped; rs++) {
        qt_rng_t rng;
        qt_rng_seed(&rng, o->seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(rs + 1)));
        /* Random feasible start: partial Fisher-Yates over the indices. */
        for (size_t i = 0; i < n; i++) sel[i] = i;
        for (size_t i = 0; i < B; i++) {
            size_t k = i + (size_t)qt_rng_below(&rng, n - i);
            size_t tmp = sel[i];
            sel[i] = sel[k];
            sel[k] = tmp;
        }
        memset(cur, 0, n);
        for (size_t i = 0; i < B; i++) cur[sel[i]] = 1;
        size_t ns = 0, nu = 0;
        for (size_t i = 0; i < n; i++) {
            if (cur[i]) sel[ns++] = i;
            else uns[nu++] = i;
        }
        double f = state_sync(p, cur, g);
        double fbest = f;
        memcpy(runbest, cur, n);
        if (nu > 0) {
            /* T0 from 100 random swap proposals (not applied). */
            double sum = 0;
            for (int k = 0; k < 100; k++) {
                size_t a = sel[qt_rng_below(&rng, ns)], b = uns[qt_rng_below(&rng, nu)];
                sum += fabs(swap_delta(p, g, a, b));
            }
            double t0 = sum / 100.0 / log(2.0);
            if (!(t0 > 1e-300)) t0 = 1e-300;
            double t1 = t0 * 1e-4;
            for (unsigned k = 0; k < sweeps; k++) {
                double T = sweeps > 1 ? t0 * pow(t1 / t0, (double)k / (double)(sweeps - 1)) : t1;
                for (size_t m = 0; m < n; m++) {
                    size_t ia = (size_t)qt_rng_below(&rng, ns), ib = (size_t)qt_rng_below(&rng, nu);
                    size_t a = sel[ia], b = uns[ib];
                    double d = swap_delta(p, g, a, b);
                    evals++;
                    double u = qt_rng_uniform(&rng);
                    if (d <= 0 || u < exp(-d / T)) {
                        swap_apply(p, g, cur, a, b);
                        sel[ia] = b;
                        uns[ib] = a;
                        f += d;
                        if (f < fbest) {
                            fbest = f;
                            memcpy(runbest, cur, n);
                        }
                    }
                }
                f = state_sync(p, cur, g);
                if (o->should_stop != NULL && o->should_stop(o->stop_ud)) {
                    r->stopped = true;
                    break;
                }
            }
        }
        fbest = state_sync(p, runbest, g);
        fbest = swap_descent(p, runbest, g, fbest, &evals);
        if (fbest < best_all) {
            best_all = fbest;
            memcpy(x, runbest, n);
        }
    }
    free(cur);
    free(runbest);
    free(g);
    free(sel);
    free(uns);
    r->objective = qt_qubo_objective(p, x);
    r->feasible = qt_qubo_weight(n, x) == B;
    r->evaluations = evals;
    return 0;
}

/* ------------------------------------------------------------------ greedy */

int qt_solve_greedy(const qt_qubo_problem_t *p, const qt_solver_opts_t *o, uint8_t *x,
                    qt_solver_result_t *r, char *err, size_t errlen) {
    (void)o;
    if (check_common(p, x, r, err, errlen) != 0) return -1;
    size_t n = p->n;
    double *g = calloc(n, sizeof(double));
    if (g == NULL) {
        set_err(err, errlen, "greedy: out of memory");
        return -1;
    }
    memset(x, 0, n);
    uint64_t evals = 0;
    for (size_t step = 0; step < p->budget; step++) {
        size_t bi = n;
        double bd = INFINITY;
        for (size_t i = 0; i < n; i++) {
            if (x[i]) continue;
            double d = p->q * (p->sigma[i * n + i] + 2.0 * g[i]) - p->mu[i];
            evals++;
            if (d < bd) {
                bd = d;
                bi = i;
            }
        }
        x[bi] = 1;
        for (size_t i = 0; i < n; i++) g[i] += p->sigma[i * n + bi];
    }
    free(g);
    r->objective = qt_qubo_objective(p, x);
    r->feasible = qt_qubo_weight(n, x) == p->budget;
    r->evaluations = evals;
    return 0;
}

/* ------------------------------------------------------------------ selftest */

/* Exact == brute force over all 2^n on a small fixed instance for every budget; anneal
 * and greedy feasible and never better than exact. */
int qt_solvers_selftest(bool verbose) {
    int fails = 0;
    enum { N = 7 };
    double mu[N], sigma[N * N];
    qt_rng_t rng;
    qt_rng_seed(&rng, 42);
    double a[N * N];
    for (size_t i = 0; i < N * N; i++) a[i] = qt_rng_normal(&rng);
    for (size_t i = 0; i < N; i++) {
        mu[i] = qt_rng_normal(&rng);
        for (size_t j = 0; j < N; j++) {
            double s = 0;
            for (size_t k = 0; k < N; k++) s += a[i * N + k] * a[j * N + k];
            sigma[i * N + j] = s / N;
        }
    }
    if (qt_solvers_binomial(30, 15) != 155117520ull) fails++;
    for (size_t B = 1; B <= N; B++) {
        qt_qubo_problem_t p = {.n = N, .mu = mu, .sigma = sigma, .q = 0.7, .budget = B};
        double bf = INFINITY;
        for (unsigned m = 0; m < (1u << N); m++) {
            uint8_t y[N];
            for (size_t i = 0; i < N; i++) y[i] = (m >> i) & 1u;
            if (qt_qubo_weight(N, y) != B) continue;
            double f = qt_qubo_objective(&p, y);
            if (f < bf) bf = f;
        }
        uint8_t x[N];
        qt_solver_result_t r;
        if (qt_solve_exact(&p, NULL, x, &r, NULL, 0) != 0 || fabs(r.objective - bf) > 1e-12 ||
            r.evaluations != qt_solvers_binomial(N, B))
            fails++;
        if (qt_solve_anneal(&p, NULL, x, &r, NULL, 0) != 0 || !r.feasible ||
            r.objective < bf - 1e-12)
            fails++;
        if (qt_solve_greedy(&p, NULL, x, &r, NULL, 0) != 0 || !r.feasible ||
            r.objective < bf - 1e-12)
            fails++;
    }
    if (verbose) fprintf(stderr, "qt_solvers selftest: %d failure(s)\n", fails);
    return fails;
}
