/* qt_qaoa: state-vector QAOA simulator and angle optimiser (design in qt_qaoa.h).
 *
 * Performance notes (why the loops look like this):
 *  - Complex arithmetic is written out on (re, im) pairs: GCC's complex multiply calls
 *    __muldc3 (NaN/Inf rules) unless -ffast-math, which is several times slower.
 *  - X mixer: qubits j < QAOA_BLOCK_BITS act inside aligned blocks of 2^QAOA_BLOCK_BITS
 *    amplitudes (64 KiB), so the phase and those rotations are fused into one pass over
 *    memory per block; the higher qubits are applied QAOA_GROUP (4) at a time, one pass
 *    per group. Bytes moved per layer:
 *    2^n * (8 (cost) + 32 (read+write psi) * (1 + ceil(max(0, n - 12) / 4))).
 *  - Phase: an inline sincos (fast_sincos) instead of libm sin + cos.
 *  - Reductions (expectation, norm) sum fixed chunks of QAOA_CHUNK states sequentially,
 *    then add the chunk sums in index order: the result is the same for any number of
 *    threads. Every other loop is element-wise (no shared writes).
 */
#include "qt_qaoa.h"

#include <math.h>
#include <nlopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QAOA_BLOCK_BITS 12u
#define QAOA_CHUNK_BITS 12u
#define QAOA_PAR_MIN (1ull << 14) /* below this many states, loops run single-threaded */

struct qt_qaoa_sim_t {
    size_t n;
    uint64_t dim;
    double *psi;      /* 2 * dim doubles: (re, im) per state */
    double *cost;     /* dim */
    double *partial;  /* nchunks */
    uint64_t nchunks;
    double cmax_abs;  /* max |C[x]|: decides whether the fast sincos applies */
    qt_qaoa_mixer_t mixer;
    size_t budget;
    bool has_start;
    uint64_t start_index;
    qt_stop_fn should_stop;
    void *stop_ud;
};

static void set_err(char *err, size_t len, const char *fmt, ...) {
    if (err == NULL || len == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

void qt_qaoa_opts_default(qt_qaoa_opts_t *o) {
    memset(o, 0, sizeof(*o));
    o->p = 3;
    o->seed = 1;
    o->mixer = QT_QAOA_MIXER_X;
    o->optimizer = QT_QAOA_OPT_COBYLA;
    o->max_n = QT_QAOA_DEFAULT_MAX_N;
    o->multistart = 4;
    o->max_evals = 150;
    o->shots = 1024;
    o->warm_start = true;
}

static uint64_t nchunks_of(uint64_t dim) {
    uint64_t c = dim >> QAOA_CHUNK_BITS;
    return c == 0 ? 1 : c;
}

uint64_t qt_qaoa_mem_bytes(size_t n) {
    if (n > QT_QAOA_HARD_MAX_N) return 0;
    uint64_t dim = 1ull << n;
    return dim * (2 * sizeof(double) + sizeof(double)) + nchunks_of(dim) * sizeof(double);
}

size_t qt_qaoa_sim_n(const qt_qaoa_sim_t *self) { return self->n; }

/* C[x] for all x: C[0] = constant; for x with top bit k, C[x] = C[x - 2^k] + lin[k] +
 * sum_{j<k, bit j of x} quad[j][k]. O(n 2^n) total; each C[x] has a fixed summation
 * order, so the table is identical for any thread count. */
static void precompute_cost(qt_qaoa_sim_t *s, const qt_qubo_t *q) {
    size_t n = s->n;
    double *C = s->cost;
    C[0] = q->constant;
    for (size_t k = 0; k < n; k++) {
        uint64_t base = 1ull << k;
        const double lk = q->lin[k];
        double col[QT_QAOA_HARD_MAX_N] = {0};
        for (size_t j = 0; j < k; j++) col[j] = q->quad[j * n + k];
#pragma omp parallel for schedule(static) if (base >= QAOA_PAR_MIN)
        for (uint64_t low = 0; low < base; low++) {
            double d = lk;
            uint64_t m = low;
            while (m != 0) {
                d += col[__builtin_ctzll(m)];
                m &= m - 1;
            }
            C[base + low] = C[low] + d;
        }
    }
}

qt_qaoa_sim_t *qt_qaoa_sim_new(const qt_qubo_t *qubo, const qt_qaoa_opts_t *o, char *err,
                               size_t errlen) {
    qt_qaoa_opts_t def;
    if (o == NULL) {
        qt_qaoa_opts_default(&def);
        o = &def;
    }
    if (qubo == NULL || qubo->n == 0) {
        set_err(err, errlen, "qaoa: empty QUBO");
        return NULL;
    }
    size_t n = qubo->n;
    unsigned max_n = o->max_n ? o->max_n : QT_QAOA_DEFAULT_MAX_N;
    if (max_n > QT_QAOA_HARD_MAX_N) max_n = QT_QAOA_HARD_MAX_N;
    if (n > max_n) {
        set_err(err, errlen, "qaoa: n=%zu qubits exceeds max_n=%u (state of 2^n amplitudes)", n,
                max_n);
        return NULL;
    }
    uint64_t need = qt_qaoa_mem_bytes(n);
    if (o->mem_limit_bytes != 0 && need > o->mem_limit_bytes) {
        set_err(err, errlen, "qaoa: n=%zu needs %llu bytes, above the memory limit of %llu bytes",
                n, (unsigned long long)need, (unsigned long long)o->mem_limit_bytes);
        return NULL;
    }
    if (o->mem_available_bytes != 0 && need > o->mem_available_bytes) {
        set_err(err, errlen, "qaoa: n=%zu needs %llu bytes, more than the %llu bytes available", n,
                (unsigned long long)need, (unsigned long long)o->mem_available_bytes);
        return NULL;
    }
    if (o->mixer != QT_QAOA_MIXER_X && o->mixer != QT_QAOA_MIXER_XY) {
        set_err(err, errlen, "qaoa: unknown mixer %d", (int)o->mixer);
        return NULL;
    }
    qt_qaoa_sim_t *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        set_err(err, errlen, "qaoa: out of memory");
        return NULL;
    }
    s->n = n;
    s->dim = 1ull << n;
    s->nchunks = nchunks_of(s->dim);
    s->mixer = o->mixer;
    s->budget = qubo->budget;
    s->should_stop = o->should_stop;
    s->stop_ud = o->stop_ud;
    if (o->mixer == QT_QAOA_MIXER_XY && o->xy_start != NULL) {
        s->has_start = true;
        for (size_t i = 0; i < n; i++)
            if (o->xy_start[i]) s->start_index |= 1ull << i;
    }
    s->psi = malloc(s->dim * 2 * sizeof(double));
    s->cost = malloc(s->dim * sizeof(double));
    s->partial = malloc(s->nchunks * sizeof(double));
    if (s->psi == NULL || s->cost == NULL || s->partial == NULL) {
        set_err(err, errlen, "qaoa: out of memory allocating %llu bytes for n=%zu",
                (unsigned long long)need, n);
        qt_qaoa_sim_destroy(&s);
        return NULL;
    }
    precompute_cost(s, qubo);
    for (uint64_t x = 0; x < s->dim; x++)
        if (fabs(s->cost[x]) > s->cmax_abs) s->cmax_abs = fabs(s->cost[x]);
    qt_qaoa_sim_reset(s);
    return s;
}

void qt_qaoa_sim_destroy(qt_qaoa_sim_t **self_p) {
    if (self_p == NULL || *self_p == NULL) return;
    qt_qaoa_sim_t *s = *self_p;
    free(s->psi);
    free(s->cost);
    free(s->partial);
    free(s);
    *self_p = NULL;
}

void qt_qaoa_sim_reset(qt_qaoa_sim_t *s) {
    double *psi = s->psi;
    const uint64_t dim = s->dim;
    if (s->mixer == QT_QAOA_MIXER_X) {
        const double a = 1.0 / sqrt((double)dim);
#pragma omp parallel for schedule(static) if (dim >= QAOA_PAR_MIN)
        for (uint64_t x = 0; x < dim; x++) {
            psi[2 * x] = a;
            psi[2 * x + 1] = 0;
        }
    } else if (s->has_start) {
        memset(psi, 0, dim * 2 * sizeof(double));
        psi[2 * s->start_index] = 1.0;
    } else {
        /* Dicke state |D^n_B>: uniform over the states of Hamming weight B. */
        uint64_t cnt = 0;
        for (uint64_t x = 0; x < dim; x++)
            if ((size_t)__builtin_popcountll(x) == s->budget) cnt++;
        const double a = cnt ? 1.0 / sqrt((double)cnt) : 0.0;
        const size_t B = s->budget;
#pragma omp parallel for schedule(static) if (dim >= QAOA_PAR_MIN)
        for (uint64_t x = 0; x < dim; x++) {
            psi[2 * x] = (size_t)__builtin_popcountll(x) == B ? a : 0.0;
            psi[2 * x + 1] = 0;
        }
    }
}

/* sin and cos of t for |t| <= QAOA_FAST_TRIG_MAX: Cody-Waite reduction by pi/2 in three
 * parts (fdlibm's constants; k * part is exact for |k| < 2^20) and fdlibm's kernel
 * polynomials on [-pi/4, pi/4] (error about 1 ulp). Why not libm: sin + cos per state is
 * the bulk of the phase layer, and this inline version is several times faster while
 * keeping |e^{it}| = 1 to ~1e-16 (tests: norm 1e-12, amplitudes vs cexp 1e-14). */
#define QAOA_FAST_TRIG_MAX 1.0e5
static inline void fast_sincos(double t, double *sn, double *cs) {
    const double inv_pio2 = 6.36619772367581382433e-01;
    const double p1 = 1.57079632673412561417e+00, p2 = 6.07710050630396597660e-11,
                 p3 = 2.02226624871116645580e-21;
    const double shifter = 6755399441055744.0; /* 1.5 * 2^52: rounds to nearest */
    double kd = (t * inv_pio2 + shifter) - shifter;
    double r = ((t - kd * p1) - kd * p2) - kd * p3;
    long long k = (long long)kd;
    double z = r * r;
    double s = r + r * z * (-1.66666666666666324348e-01 +
                            z * (8.33333333332248946124e-03 +
                                 z * (-1.98412698298579493134e-04 +
                                      z * (2.75573137070700676789e-06 +
                                           z * (-2.50507602534068634195e-08 +
                                                z * 1.58969099521155010221e-10)))));
    double c = 1.0 - 0.5 * z + z * z * (4.16666666666666019037e-02 +
                                        z * (-1.38888888888741095749e-03 +
                                             z * (2.48015872894767294178e-05 +
                                                  z * (-2.75573143513906633035e-07 +
                                                       z * (2.08757232129817482790e-09 +
                                                            z * -1.13596475577881948265e-11)))));
    switch (k & 3) {
    case 0: *sn = s; *cs = c; break;
    case 1: *sn = c; *cs = -s; break;
    case 2: *sn = -s; *cs = -c; break;
    default: *sn = -c; *cs = s; break;
    }
}

/* psi[x] *= exp(-i gamma C[x]) over [lo, hi). fast: |gamma| max|C| <= QAOA_FAST_TRIG_MAX. */
static inline void phase_range(double *psi, const double *C, double gamma, uint64_t lo,
                               uint64_t hi, bool fast) {
    for (uint64_t x = lo; x < hi; x++) {
        double c, sn;
        if (fast) {
            fast_sincos(gamma * C[x], &sn, &c);
        } else {
            c = cos(gamma * C[x]);
            sn = sin(gamma * C[x]);
        }
        double re = psi[2 * x], im = psi[2 * x + 1];
        psi[2 * x] = re * c + im * sn;
        psi[2 * x + 1] = im * c - re * sn;
    }
}

/* (a, b) <- (c a - i s b, -i s a + c b): exp(-i theta X) on the pair, c = cos, s = sin. */
static inline void rot_pair(double *pa, double *pb, double c, double sn) {
    double ar = pa[0], ai = pa[1], br = pb[0], bi = pb[1];
    pa[0] = c * ar + sn * bi;
    pa[1] = c * ai - sn * br;
    pb[0] = c * br + sn * ai;
    pb[1] = c * bi - sn * ar;
}

/* exp(-i beta X_j) on qubits 0..bits-1 inside the block [lo, lo + 2^bits). */
static inline void rx_block(double *psi, uint64_t lo, unsigned bits, double c, double sn) {
    uint64_t size = 1ull << bits;
    for (unsigned j = 0; j < bits; j++) {
        uint64_t step = 1ull << j;
        for (uint64_t x = 0; x < size; x++) {
            if (x & step) continue;
            rot_pair(psi + 2 * (lo + x), psi + 2 * (lo + x + step), c, sn);
        }
    }
}

/* exp(-i beta X_j) for the g consecutive qubits j .. j+g-1 (g <= QAOA_GROUP) over the
 * whole state in ONE pass: each step gathers the 2^g amplitudes that differ only in those
 * bits, applies the g rotations locally and writes them back. Why: every pass over a
 * state larger than the caches costs a full read + write of memory, so grouping the
 * high qubits g at a time divides that traffic by g. */
#define QAOA_GROUP 4u
static void rx_qubits(qt_qaoa_sim_t *s, unsigned j, unsigned g, double c, double sn) {
    double *psi = s->psi;
    const uint64_t nb = s->dim >> g, lowmask = (1ull << j) - 1;
    const unsigned m = 1u << g;
#pragma omp parallel for schedule(static) if (nb >= (QAOA_PAR_MIN >> QAOA_GROUP))
    for (uint64_t k = 0; k < nb; k++) {
        uint64_t base = ((k & ~lowmask) << g) | (k & lowmask);
        double loc[2 * (1u << QAOA_GROUP)];
        for (unsigned t = 0; t < m; t++) {
            uint64_t a = base | ((uint64_t)t << j);
            loc[2 * t] = psi[2 * a];
            loc[2 * t + 1] = psi[2 * a + 1];
        }
        for (unsigned b = 0; b < g; b++) {
            unsigned step = 1u << b;
            for (unsigned t = 0; t < m; t++)
                if (!(t & step)) rot_pair(loc + 2 * t, loc + 2 * (t + step), c, sn);
        }
        for (unsigned t = 0; t < m; t++) {
            uint64_t a = base | ((uint64_t)t << j);
            psi[2 * a] = loc[2 * t];
            psi[2 * a + 1] = loc[2 * t + 1];
        }
    }
}

/* Qubits bits .. n-1 in groups of up to QAOA_GROUP. */
static void rx_high(qt_qaoa_sim_t *s, unsigned bits, double c, double sn) {
    unsigned n = (unsigned)s->n;
    for (unsigned j = bits; j < n; j += QAOA_GROUP) {
        unsigned g = n - j < QAOA_GROUP ? n - j : QAOA_GROUP;
        rx_qubits(s, j, g, c, sn);
    }
}

void qt_qaoa_sim_phase(qt_qaoa_sim_t *s, double gamma) {
    double *psi = s->psi;
    const double *C = s->cost;
    const uint64_t nch = s->nchunks, dim = s->dim;
    const bool fast = fabs(gamma) * s->cmax_abs <= QAOA_FAST_TRIG_MAX;
#pragma omp parallel for schedule(static) if (dim >= QAOA_PAR_MIN)
    for (uint64_t b = 0; b < nch; b++) {
        uint64_t lo = b << QAOA_CHUNK_BITS, hi = lo + (1ull << QAOA_CHUNK_BITS);
        if (hi > dim) hi = dim;
        phase_range(psi, C, gamma, lo, hi, fast);
    }
}

/* exp(-i beta (X_a X_b + Y_a Y_b)): rotates each (|..1_a..0_b..>, |..0_a..1_b..>) pair by
 * angle 2 beta (XX + YY acts as 2 * swap on the one-excitation subspace of the edge). */
static void xy_edge(qt_qaoa_sim_t *s, unsigned a, unsigned b, double c, double sn) {
    double *psi = s->psi;
    const uint64_t dim = s->dim, ma = 1ull << a, mb = 1ull << b;
#pragma omp parallel for schedule(static) if (dim >= QAOA_PAR_MIN)
    for (uint64_t x = 0; x < dim; x++) {
        if (!(x & ma) || (x & mb)) continue;
        uint64_t y = x ^ ma ^ mb;
        rot_pair(psi + 2 * x, psi + 2 * y, c, sn);
    }
}

void qt_qaoa_sim_mix(qt_qaoa_sim_t *s, double beta) {
    size_t n = s->n;
    if (s->mixer == QT_QAOA_MIXER_X) {
        double c = cos(beta), sn = sin(beta);
        unsigned bits = n < QAOA_BLOCK_BITS ? (unsigned)n : QAOA_BLOCK_BITS;
        uint64_t nblk = s->dim >> bits;
        double *psi = s->psi;
#pragma omp parallel for schedule(static) if (s->dim >= QAOA_PAR_MIN)
        for (uint64_t b = 0; b < nblk; b++) rx_block(psi, b << bits, bits, c, sn);
        rx_high(s, bits, c, sn);
        return;
    }
    if (n < 2) return;
    double c = cos(2.0 * beta), sn = sin(2.0 * beta);
    if (n == 2) {
        xy_edge(s, 0, 1, c, sn);
        return;
    }
    for (unsigned i = 0; i + 1 < n; i += 2) xy_edge(s, i, i + 1, c, sn);
    for (unsigned i = 1; i + 1 < n; i += 2) xy_edge(s, i, i + 1, c, sn);
    xy_edge(s, (unsigned)n - 1, 0, c, sn);
}

/* One layer with the X mixer, fused: phase + low-qubit rotations per block, then the
 * high qubits. Same arithmetic per amplitude as qt_qaoa_sim_phase + qt_qaoa_sim_mix. */
static void layer(qt_qaoa_sim_t *s, double gamma, double beta) {
    if (s->mixer != QT_QAOA_MIXER_X) {
        qt_qaoa_sim_phase(s, gamma);
        qt_qaoa_sim_mix(s, beta);
        return;
    }
    size_t n = s->n;
    double c = cos(beta), sn = sin(beta);
    unsigned bits = n < QAOA_BLOCK_BITS ? (unsigned)n : QAOA_BLOCK_BITS;
    uint64_t nblk = s->dim >> bits;
    double *psi = s->psi;
    const double *C = s->cost;
    const bool fast = fabs(gamma) * s->cmax_abs <= QAOA_FAST_TRIG_MAX;
#pragma omp parallel for schedule(static) if (s->dim >= QAOA_PAR_MIN)
    for (uint64_t b = 0; b < nblk; b++) {
        uint64_t lo = b << bits;
        phase_range(psi, C, gamma, lo, lo + (1ull << bits), fast);
        rx_block(psi, lo, bits, c, sn);
    }
    rx_high(s, bits, c, sn);
}

int qt_qaoa_sim_run(qt_qaoa_sim_t *s, unsigned p, const double *gammas, const double *betas) {
    qt_qaoa_sim_reset(s);
    for (unsigned l = 0; l < p; l++) {
        if (s->should_stop != NULL && s->should_stop(s->stop_ud)) return -1;
        layer(s, gammas[l], betas[l]);
    }
    return 0;
}

/* sum over x of w(x) |psi_x|^2 with w = C (with_cost) or 1, in fixed chunks. */
static double weighted_sum(const qt_qaoa_sim_t *s, bool with_cost) {
    const double *psi = s->psi, *C = s->cost;
    double *part = s->partial;
    const uint64_t nch = s->nchunks, dim = s->dim;
#pragma omp parallel for schedule(static) if (dim >= QAOA_PAR_MIN)
    for (uint64_t b = 0; b < nch; b++) {
        uint64_t lo = b << QAOA_CHUNK_BITS, hi = lo + (1ull << QAOA_CHUNK_BITS);
        if (hi > dim) hi = dim;
        double acc = 0;
        for (uint64_t x = lo; x < hi; x++) {
            double pr = psi[2 * x] * psi[2 * x] + psi[2 * x + 1] * psi[2 * x + 1];
            acc += with_cost ? pr * C[x] : pr;
        }
        part[b] = acc;
    }
    double sum = 0;
    for (uint64_t b = 0; b < nch; b++) sum += part[b];
    return sum;
}

double qt_qaoa_sim_expectation(const qt_qaoa_sim_t *s) { return weighted_sum(s, true); }
double qt_qaoa_sim_norm2(const qt_qaoa_sim_t *s) { return weighted_sum(s, false); }

const double complex *qt_qaoa_sim_state(const qt_qaoa_sim_t *s) {
    /* C17 6.2.5: a double complex has the representation of double[2] (re, im). */
    return (const double complex *)(const void *)s->psi;
}

const double *qt_qaoa_sim_cost(const qt_qaoa_sim_t *s) { return s->cost; }

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void qt_qaoa_sim_sample(const qt_qaoa_sim_t *s, qt_rng_t *rng, size_t shots, uint64_t *out) {
    if (shots == 0) return;
    double *u = malloc(shots * sizeof(double));
    double norm = qt_qaoa_sim_norm2(s);
    if (u == NULL) {
        /* No memory for the sorted draws: fall back to one draw at a time (O(shots 2^n)). */
        for (size_t k = 0; k < shots; k++) {
            double t = qt_rng_uniform(rng) * norm, acc = 0;
            uint64_t x = 0;
            for (; x + 1 < s->dim; x++) {
                acc += s->psi[2 * x] * s->psi[2 * x] + s->psi[2 * x + 1] * s->psi[2 * x + 1];
                if (t < acc) break;
            }
            out[k] = x;
        }
        return;
    }
    for (size_t k = 0; k < shots; k++) u[k] = qt_rng_uniform(rng) * norm;
    qsort(u, shots, sizeof(double), cmp_double);
    double acc = 0;
    size_t k = 0;
    for (uint64_t x = 0; x < s->dim && k < shots; x++) {
        acc += s->psi[2 * x] * s->psi[2 * x] + s->psi[2 * x + 1] * s->psi[2 * x + 1];
        while (k < shots && u[k] < acc) out[k++] = x;
    }
    /* Rounding can leave the last draws just above the final cumulative sum: they
     * belong to the last state with non-zero probability. */
    if (k < shots) {
        uint64_t last = 0;
        for (uint64_t x = s->dim; x-- > 0;)
            if (s->psi[2 * x] != 0 || s->psi[2 * x + 1] != 0) {
                last = x;
                break;
            }
        while (k < shots) out[k++] = last;
    }
    free(u);
}

/* ------------------------------------------------------------------ optimisation */

typedef struct {
    qt_qaoa_sim_t *sim;
    unsigned p;
    double scale;         /* gamma = gamma' / scale */
    uint64_t evals;
    bool stopped;
    double best_f;
    double best_x[2 * QT_QAOA_MAX_P];
    nlopt_opt opt;
} qaoa_ctx_t;

/* params: gamma'_1..p, beta_1..p. Returns <C>; tracks the best point seen. */
static double qaoa_objective(unsigned np, const double *x, double *grad, void *data) {
    (void)grad;
    qaoa_ctx_t *c = data;
    double g[QT_QAOA_MAX_P];
    for (unsigned l = 0; l < c->p; l++) g[l] = x[l] / c->scale;
    if (c->sim->should_stop != NULL && c->sim->should_stop(c->sim->stop_ud)) {
        c->stopped = true;
        if (c->opt != NULL) nlopt_force_stop(c->opt);
        return HUGE_VAL;
    }
    if (qt_qaoa_sim_run(c->sim, c->p, g, x + c->p) != 0) {
        c->stopped = true;
        if (c->opt != NULL) nlopt_force_stop(c->opt);
        return HUGE_VAL;
    }
    double e = qt_qaoa_sim_expectation(c->sim);
    c->evals++;
    if (e < c->best_f) {
        c->best_f = e;
        memcpy(c->best_x, x, np * sizeof(double));
    }
    return e;
}

/* Local optimisation from x0 (2p values); the best point seen ends in c->best_x.
 * 0 ok (including forced stop and round-off limits), -1 NLopt failure. */
static int local_opt(qaoa_ctx_t *c, const qt_qaoa_opts_t *o, const double *x0, char *err,
                     size_t errlen) {
    unsigned p = c->p, np = 2 * p;
    nlopt_opt opt = nlopt_create(o->optimizer == QT_QAOA_OPT_BOBYQA ? NLOPT_LN_BOBYQA
                                                                     : NLOPT_LN_COBYLA,
                                 np);
    if (opt == NULL) {
        set_err(err, errlen, "qaoa: nlopt_create failed");
        return -1;
    }
    double lb[2 * QT_QAOA_MAX_P] = {0}, ub[2 * QT_QAOA_MAX_P] = {0}, x[2 * QT_QAOA_MAX_P] = {0};
    for (unsigned l = 0; l < p; l++) {
        lb[l] = 0.0;
        ub[l] = M_PI;
        lb[p + l] = -M_PI / 2;
        ub[p + l] = M_PI / 2;
    }
    for (unsigned k = 0; k < np; k++) {
        x[k] = x0[k];
        if (x[k] < lb[k]) x[k] = lb[k];
        if (x[k] > ub[k]) x[k] = ub[k];
    }
    c->opt = opt;
    nlopt_set_lower_bounds(opt, lb);
    nlopt_set_upper_bounds(opt, ub);
    nlopt_set_min_objective(opt, qaoa_objective, c);
    nlopt_set_maxeval(opt, o->max_evals ? (int)o->max_evals : 150);
    nlopt_set_xtol_abs1(opt, 1e-5);
    double step[2 * QT_QAOA_MAX_P];
    for (unsigned k = 0; k < np; k++) step[k] = 0.1;
    nlopt_set_initial_step(opt, step);
    double f = 0;
    nlopt_result rc = nlopt_optimize(opt, x, &f);
    nlopt_destroy(opt);
    c->opt = NULL;
    if (rc < 0 && rc != NLOPT_FORCED_STOP && rc != NLOPT_ROUNDOFF_LIMITED) {
        set_err(err, errlen, "qaoa: NLopt failed (code %d)", (int)rc);
        return -1;
    }
    return 0;
}

/* INTERP (Zhou et al. 2020): p-layer angles a[0..p-1] -> p+1 layers,
 * a'_i = (i/p) a_{i-1} + ((p-i)/p) a_i for i = 0..p (a_{-1} = a_p = 0). */
static void interp(const double *a, unsigned p, double *out) {
    for (unsigned i = 0; i <= p; i++) {
        double prev = i >= 1 ? a[i - 1] : 0.0, cur = i < p ? a[i] : 0.0;
        out[i] = ((double)i / p) * prev + ((double)(p - i) / p) * cur;
    }
}

/* Angle scale s: the standard deviation of C over the states of the initial superposition
 * (all 2^n for the X mixer, the weight-B states for XY), 1 when C is constant there.
 * Why: gamma * (C - mean) is the phase spread the first layer creates; with
 * gamma' = gamma * s the useful range of gamma' is O(1) whatever the units of mu and
 * Sigma and however large the penalty (which inflates C's range on infeasible states
 * but not on the feasible ones the XY mixer sees). Fixed-order sum: deterministic. */
static double cost_scale(const qt_qaoa_sim_t *s) {
    const double *C = s->cost;
    bool xy = s->mixer == QT_QAOA_MIXER_XY;
    double sum = 0, cnt = 0;
    for (uint64_t x = 0; x < s->dim; x++) {
        if (xy && (size_t)__builtin_popcountll(x) != s->budget) continue;
        sum += C[x];
        cnt += 1;
    }
    if (cnt == 0) return 1.0;
    double mean = sum / cnt, var = 0;
    for (uint64_t x = 0; x < s->dim; x++) {
        if (xy && (size_t)__builtin_popcountll(x) != s->budget) continue;
        var += (C[x] - mean) * (C[x] - mean);
    }
    double sd = sqrt(var / cnt);
    return sd > 0 && isfinite(sd) ? sd : 1.0;
}

int qt_qaoa_solve(const qt_qubo_problem_t *prob, double penalty, const qt_qaoa_opts_t *o,
                  qt_qaoa_result_t *r) {
    qt_qaoa_opts_t def;
    if (o == NULL) {
        qt_qaoa_opts_default(&def);
        o = &def;
    }
    if (r == NULL) return -1;
    memset(r, 0, sizeof(*r));
    r->approx_ratio = NAN;
    r->optimum = NAN;
    if (o->p < 1 || o->p > QT_QAOA_MAX_P) {
        set_err(r->error, sizeof r->error, "qaoa: p=%u, expected 1..%u", o->p, QT_QAOA_MAX_P);
        return -1;
    }
    unsigned max_n = o->max_n ? o->max_n : QT_QAOA_DEFAULT_MAX_N;
    if (max_n > QT_QAOA_HARD_MAX_N) max_n = QT_QAOA_HARD_MAX_N;
    if (qt_qubo_validate(prob, 0, r->error, sizeof r->error) != 0) return -1;
    if (prob->n > max_n) {
        set_err(r->error, sizeof r->error,
                "qaoa: n=%zu qubits exceeds max_n=%u (state of 2^n amplitudes)", prob->n, max_n);
        return -1;
    }
    if (o->mixer == QT_QAOA_MIXER_XY && o->xy_start != NULL &&
        qt_qubo_weight(prob->n, o->xy_start) != prob->budget) {
        set_err(r->error, sizeof r->error, "qaoa: xy_start does not have %zu assets selected",
                prob->budget);
        return -1;
    }
    qt_qubo_t *q = qt_qubo_new(prob, penalty, r->error, sizeof r->error);
    if (q == NULL) return -1;
    qt_qaoa_sim_t *sim = qt_qaoa_sim_new(q, o, r->error, sizeof r->error);
    r->penalty = q->penalty;
    qt_qubo_destroy(&q);
    if (sim == NULL) return -1;
    double scale = cost_scale(sim);
    size_t n = prob->n, B = prob->budget;
    unsigned P = o->p;
    r->n = n;
    r->p = P;

    qaoa_ctx_t c = {.sim = sim, .scale = scale};
    qt_rng_t rng;
    qt_rng_seed(&rng, o->seed);
    double cur[2 * QT_QAOA_MAX_P] = {0}; /* best angles so far (gamma', beta) at cur_p */
    unsigned cur_p = 0;
    unsigned first_p = o->warm_start ? 1 : P;
    unsigned starts = o->multistart ? o->multistart : 1;
    int rc = 0;
    /* Multi-start at first_p layers. */
    c.p = first_p;
    c.best_f = HUGE_VAL;
    for (unsigned s = 0; s < starts && !c.stopped && rc == 0; s++) {
        double x0[2 * QT_QAOA_MAX_P];
        for (unsigned l = 0; l < first_p; l++) {
            x0[l] = qt_rng_uniform(&rng) * M_PI;
            x0[first_p + l] = (qt_rng_uniform(&rng) - 0.5) * M_PI;
        }
        rc = local_opt(&c, o, x0, r->error, sizeof r->error);
    }
    if (c.best_f < HUGE_VAL) {
        memcpy(cur, c.best_x, 2 * first_p * sizeof(double));
        cur_p = first_p;
    }
    /* Layer by layer: interpolate p-1 -> p, refine. */
    for (unsigned p = first_p + 1; p <= P && !c.stopped && rc == 0 && cur_p == p - 1; p++) {
        double x0[2 * QT_QAOA_MAX_P];
        interp(cur, p - 1, x0);
        interp(cur + (p - 1), p - 1, x0 + p);
        c.p = p;
        c.best_f = HUGE_VAL;
        rc = local_opt(&c, o, x0, r->error, sizeof r->error);
        if (c.best_f < HUGE_VAL) {
            memcpy(cur, c.best_x, 2 * p * sizeof(double));
            cur_p = p;
        }
    }
    if (rc != 0) {
        qt_qaoa_sim_destroy(&sim);
        return -1;
    }
    r->stopped = c.stopped;
    r->evaluations = c.evals;
    /* Final state: the best angles found (cur_p layers; 0 layers = the initial state when
     * stopped before the first evaluation finished). This run ignores should_stop. */
    r->p = cur_p;
    double gam[QT_QAOA_MAX_P], bet[QT_QAOA_MAX_P];
    for (unsigned l = 0; l < cur_p; l++) {
        gam[l] = cur[l] / scale;
        bet[l] = cur[cur_p + l];
        r->gammas[l] = gam[l];
        r->betas[l] = bet[l];
    }
    sim->should_stop = NULL;
    qt_qaoa_sim_run(sim, cur_p, gam, bet);
    r->expectation = qt_qaoa_sim_expectation(sim);

    /* Exact optimum, extremes and best-state probability from the cost table. */
    const double *C = sim->cost, *psi = sim->psi;
    double cmin_feas = HUGE_VAL, cmin = HUGE_VAL, cmax = -HUGE_VAL;
    uint64_t arg = 0;
    bool xy = o->mixer == QT_QAOA_MIXER_XY;
    for (uint64_t x = 0; x < sim->dim; x++) {
        bool feas = (size_t)__builtin_popcountll(x) == B;
        if (xy && !feas) continue;
        if (C[x] < cmin) cmin = C[x];
        if (C[x] > cmax) cmax = C[x];
        if (feas && C[x] < cmin_feas) {
            cmin_feas = C[x];
            arg = x;
        }
    }
    double tol = 1e-9 * (1.0 + fabs(cmin_feas));
    double pbest = 0;
    for (uint64_t x = 0; x < sim->dim; x++)
        if ((size_t)__builtin_popcountll(x) == B && C[x] <= cmin_feas + tol)
            pbest += psi[2 * x] * psi[2 * x] + psi[2 * x + 1] * psi[2 * x + 1];
    r->best_probability = pbest;
    uint8_t y[QT_QAOA_HARD_MAX_N];
    for (size_t i = 0; i < n; i++) y[i] = (arg >> i) & 1u;
    r->optimum = qt_qubo_objective(prob, y);
    r->approx_ratio = cmax > cmin ? (cmax - r->expectation) / (cmax - cmin) : 1.0;

    /* Sampling: best feasible sample, else the most frequent one. */
    size_t shots = o->shots ? o->shots : 1024;
    uint64_t *smp = malloc(shots * sizeof(uint64_t));
    if (smp == NULL) {
        set_err(r->error, sizeof r->error, "qaoa: out of memory for %zu shots", shots);
        qt_qaoa_sim_destroy(&sim);
        return -1;
    }
    qt_qaoa_sim_sample(sim, &rng, shots, smp);
    bool found = false;
    uint64_t best_x = 0, mode_x = smp[0];
    size_t mode_cnt = 0, run = 0;
    for (size_t k = 0; k < shots; k++) {
        run = (k > 0 && smp[k] == smp[k - 1]) ? run + 1 : 1;
        if (run > mode_cnt) {
            mode_cnt = run;
            mode_x = smp[k];
        }
        if ((size_t)__builtin_popcountll(smp[k]) == B && (!found || C[smp[k]] < C[best_x])) {
            best_x = smp[k];
            found = true;
        }
    }
    free(smp);
    uint64_t pick = found ? best_x : mode_x;
    for (size_t i = 0; i < n; i++) r->selection[i] = (pick >> i) & 1u;
    r->feasible = found;
    r->objective = qt_qubo_objective(prob, r->selection);
    qt_qaoa_sim_destroy(&sim);
    return 0;
}

/* ------------------------------------------------------------------ selftest */

/* A single RX rotation: n = 1, cost C = x (lin = 1). Start |+>, one layer:
 * <C> = (1 + sin(2 beta) sin(gamma)) / 2 (derivation in test_qaoa.c). Plus the norm. */
int qt_qaoa_selftest(bool verbose) {
    int fails = 0;
    double lin[1] = {1.0}, quad[1] = {0.0};
    qt_qubo_t *q = qt_qubo_new_raw(1, lin, quad, 0.0);
    if (q == NULL) return 1;
    qt_qaoa_sim_t *s = qt_qaoa_sim_new(q, NULL, NULL, 0);
    qt_qubo_destroy(&q);
    if (s == NULL) return 1;
    const double gs[3] = {0.3, 1.1, 2.5}, bs[3] = {0.2, -0.7, 1.3};
    for (int k = 0; k < 3; k++) {
        qt_qaoa_sim_run(s, 1, &gs[k], &bs[k]);
        double want = 0.5 * (1.0 + sin(2.0 * bs[k]) * sin(gs[k]));
        if (fabs(qt_qaoa_sim_expectation(s) - want) > 1e-12) fails++;
        if (fabs(qt_qaoa_sim_norm2(s) - 1.0) > 1e-12) fails++;
    }
    qt_qaoa_sim_destroy(&s);
    if (verbose) fprintf(stderr, "qt_qaoa selftest: %d failure(s)\n", fails);
    return fails;
}
