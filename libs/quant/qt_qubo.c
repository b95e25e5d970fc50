/* qt_qubo: selection problem -> penalised QUBO -> Ising form. The formulas and the
 * penalty rule with its proof are in qt_qubo.h; this file only evaluates them. */
#include "qt_qubo.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_err(char *err, size_t len, const char *fmt, ...) {
    if (err == NULL || len == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

int qt_qubo_validate(const qt_qubo_problem_t *p, size_t max_n, char *err, size_t errlen) {
    if (max_n == 0 || max_n > QT_QUBO_MAX_N) max_n = QT_QUBO_MAX_N;
    if (p == NULL) {
        set_err(err, errlen, "problem: missing");
        return -1;
    }
    if (p->n == 0 || p->n > max_n) {
        set_err(err, errlen, "n: %zu assets, expected 1..%zu", p->n, max_n);
        return -1;
    }
    if (p->mu == NULL || p->sigma == NULL) {
        set_err(err, errlen, "%s: missing", p->mu == NULL ? "mu" : "sigma");
        return -1;
    }
    size_t n = p->n;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(p->mu[i])) {
            set_err(err, errlen, "mu[%zu]: not a finite number", i);
            return -1;
        }
    double amax = 0;
    for (size_t i = 0; i < n * n; i++) {
        if (!isfinite(p->sigma[i])) {
            set_err(err, errlen, "sigma[%zu][%zu]: not a finite number", i / n, i % n);
            return -1;
        }
        if (fabs(p->sigma[i]) > amax) amax = fabs(p->sigma[i]);
    }
    for (size_t i = 0; i < n; i++) {
        if (p->sigma[i * n + i] < 0) {
            set_err(err, errlen, "sigma[%zu][%zu]: negative variance", i, i);
            return -1;
        }
        for (size_t j = i + 1; j < n; j++)
            if (fabs(p->sigma[i * n + j] - p->sigma[j * n + i]) > 1e-9 * (1.0 + amax)) {
                set_err(err, errlen, "sigma[%zu][%zu] != sigma[%zu][%zu]: not symmetric", i, j,
                        j, i);
                return -1;
            }
    }
    if (!isfinite(p->q) || p->q < 0) {
        set_err(err, errlen, "q: must be a finite number >= 0");
        return -1;
    }
    if (p->budget < 1 || p->budget > n) {
        set_err(err, errlen, "budget: %zu, expected 1..%zu", p->budget, n);
        return -1;
    }
    /* Magnitudes: every QUBO coefficient and energy is bounded by a few times
     * P n^2 with P ~ 1.1 D; refuse inputs where that overflows a double. */
    double d = qt_qubo_flip_bound(p);
    double nn = (double)n;
    if (!isfinite(d) || !isfinite(4.0 * (1.1 * d + 1.0) * nn * nn) ||
        !isfinite(p->q * amax * nn * nn)) {
        set_err(err, errlen, "mu/sigma/q: values too large (the QUBO energies would overflow)");
        return -1;
    }
    return 0;
}

double qt_qubo_objective(const qt_qubo_problem_t *p, const uint8_t *x) {
    size_t n = p->n;
    double quad = 0, lin = 0;
    for (size_t i = 0; i < n; i++) {
        if (!x[i]) continue;
        lin += p->mu[i];
        for (size_t j = 0; j < n; j++)
            if (x[j]) quad += p->sigma[i * n + j];
    }
    return p->q * quad - lin;
}

size_t qt_qubo_weight(size_t n, const uint8_t *x) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += x[i] ? 1 : 0;
    return k;
}

double qt_qubo_flip_bound(const qt_qubo_problem_t *p) {
    size_t n = p->n;
    double d = 0;
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < n; j++)
            if (j != i) s += fabs(p->sigma[i * n + j]);
        double di = fabs(p->q * p->sigma[i * n + i] - p->mu[i]) + 2.0 * fabs(p->q) * s;
        if (di > d) d = di;
    }
    return d;
}

double qt_qubo_penalty_rule(const qt_qubo_problem_t *p) {
    double d = qt_qubo_flip_bound(p);
    return 1.1 * d + 1e-9 * (1.0 + d);
}

bool qt_qubo_penalty_is_safe(const qt_qubo_problem_t *p, double penalty) {
    return isfinite(penalty) && penalty > qt_qubo_flip_bound(p);
}

/* Allocates the arrays of a QUBO of size n (zeroed). */
static qt_qubo_t *qubo_alloc(size_t n) {
    qt_qubo_t *q = calloc(1, sizeof(*q));
    if (q == NULL) return NULL;
    q->n = n;
    q->lin = calloc(n, sizeof(double));
    q->quad = calloc(n * n, sizeof(double));
    q->h = calloc(n, sizeof(double));
    q->J = calloc(n * n, sizeof(double));
    if (q->lin == NULL || q->quad == NULL || q->h == NULL || q->J == NULL) qt_qubo_destroy(&q);
    return q;
}

/* Ising form from lin/quad/constant (formulas in the header). */
static void qubo_make_ising(qt_qubo_t *q) {
    size_t n = q->n;
    double off = q->constant;
    for (size_t i = 0; i < n; i++) {
        off += q->lin[i] / 2.0;
        double s = 0;
        for (size_t j = 0; j < n; j++) {
            if (j == i) continue;
            q->J[i * n + j] = q->quad[i * n + j] / 4.0;
            s += q->quad[i * n + j];
            if (j > i) off += q->quad[i * n + j] / 4.0;
        }
        q->h[i] = -q->lin[i] / 2.0 - s / 4.0;
    }
    q->ising_offset = off;
}

qt_qubo_t *qt_qubo_new(const qt_qubo_problem_t *p, double penalty, char *err, size_t errlen) {
    if (qt_qubo_validate(p, 0, err, errlen) != 0) return NULL;
    size_t n = p->n;
    double P = (isfinite(penalty) && penalty > 0) ? penalty : qt_qubo_penalty_rule(p);
    qt_qubo_t *q = qubo_alloc(n);
    if (q == NULL) {
        set_err(err, errlen, "out of memory building the QUBO (n=%zu)", n);
        return NULL;
    }
    double B = (double)p->budget;
    q->budget = p->budget;
    q->penalty = P;
    q->constant = P * B * B;
    for (size_t i = 0; i < n; i++) {
        q->lin[i] = p->q * p->sigma[i * n + i] - p->mu[i] + P * (1.0 - 2.0 * B);
        for (size_t j = 0; j < n; j++) {
            if (j == i) continue;
            /* Symmetrise exactly: use the mean of the two (validated equal to 1e-9). */
            double s = 0.5 * (p->sigma[i * n + j] + p->sigma[j * n + i]);
            q->quad[i * n + j] = 2.0 * p->q * s + 2.0 * P;
        }
    }
    qubo_make_ising(q);
    return q;
}

qt_qubo_t *qt_qubo_new_raw(size_t n, const double *lin, const double *quad, double constant) {
    if (n == 0 || lin == NULL || quad == NULL) return NULL;
    qt_qubo_t *q = qubo_alloc(n);
    if (q == NULL) return NULL;
    q->constant = constant;
    for (size_t i = 0; i < n; i++) {
        q->lin[i] = lin[i];
        for (size_t j = i + 1; j < n; j++) {
            q->quad[i * n + j] = quad[i * n + j];
            q->quad[j * n + i] = quad[i * n + j];
        }
    }
    qubo_make_ising(q);
    return q;
}

void qt_qubo_destroy(qt_qubo_t **self_p) {
    if (self_p == NULL || *self_p == NULL) return;
    qt_qubo_t *q = *self_p;
    free(q->lin);
    free(q->quad);
    free(q->h);
    free(q->J);
    free(q);
    *self_p = NULL;
}

double qt_qubo_energy(const qt_qubo_t *self, const uint8_t *x) {
    size_t n = self->n;
    double e = self->constant;
    for (size_t i = 0; i < n; i++) {
        if (!x[i]) continue;
        e += self->lin[i];
        for (size_t j = i + 1; j < n; j++)
            if (x[j]) e += self->quad[i * n + j];
    }
    return e;
}

double qt_qubo_energy_bits(const qt_qubo_t *self, uint64_t bits) {
    size_t n = self->n;
    double e = self->constant;
    for (size_t i = 0; i < n && i < 64; i++) {
        if (!((bits >> i) & 1u)) continue;
        e += self->lin[i];
        for (size_t j = i + 1; j < n && j < 64; j++)
            if ((bits >> j) & 1u) e += self->quad[i * n + j];
    }
    return e;
}

double qt_qubo_ising_energy(const qt_qubo_t *self, const uint8_t *x) {
    size_t n = self->n;
    double e = self->ising_offset;
    for (size_t i = 0; i < n; i++) {
        double zi = x[i] ? -1.0 : 1.0;
        e += self->h[i] * zi;
        for (size_t j = i + 1; j < n; j++) e += self->J[i * n + j] * zi * (x[j] ? -1.0 : 1.0);
    }
    return e;
}

/* Self-test: a 3-asset problem checked by hand, QUBO == f + P (k-B)^2 on all 8 states,
 * Ising == QUBO, penalised minimum feasible. */
int qt_qubo_selftest(bool verbose) {
    int fails = 0;
    const double mu[3] = {0.3, 0.1, 0.2};
    const double sigma[9] = {0.04, 0.01, 0.0, 0.01, 0.09, -0.02, 0.0, -0.02, 0.16};
    qt_qubo_problem_t p = {.n = 3, .mu = mu, .sigma = sigma, .q = 0.5, .budget = 2};
    char err[128];
    if (qt_qubo_validate(&p, 0, err, sizeof err) != 0) fails++;
    uint8_t x[3] = {1, 0, 1};
    /* f = 0.5 * (0.04 + 0.16 + 2*0) - 0.5 = -0.4 */
    if (fabs(qt_qubo_objective(&p, x) - (-0.4)) > 1e-15) fails++;
    qt_qubo_t *q = qt_qubo_new(&p, 0, err, sizeof err);
    if (q == NULL) return fails + 1;
    double best_feas = INFINITY, best_all = INFINITY;
    for (unsigned b = 0; b < 8; b++) {
        uint8_t y[3] = {(uint8_t)(b & 1), (uint8_t)((b >> 1) & 1), (uint8_t)((b >> 2) & 1)};
        double k = (double)qt_qubo_weight(3, y) - 2.0;
        double e = qt_qubo_objective(&p, y) + q->penalty * k * k;
        if (fabs(qt_qubo_energy(q, y) - e) > 1e-12) fails++;
        if (fabs(qt_qubo_energy_bits(q, b) - e) > 1e-12) fails++;
        if (fabs(qt_qubo_ising_energy(q, y) - e) > 1e-12) fails++;
        if (k == 0 && e < best_feas) best_feas = e;
        if (e < best_all) best_all = e;
    }
    if (best_all != best_feas) fails++;
    {
        double bad[9];
        memcpy(bad, sigma, sizeof bad);
        bad[1] = 0.5;
        qt_qubo_problem_t pb = p;
        pb.sigma = bad;
        if (qt_qubo_validate(&pb, 0, err, sizeof err) == 0 || strstr(err, "sigma[0][1]") == NULL)
            fails++;
    }
    qt_qubo_destroy(&q);
    if (q != NULL) fails++;
    if (verbose) fprintf(stderr, "qt_qubo_selftest: %d failure(s)\n", fails);
    return fails;
}
