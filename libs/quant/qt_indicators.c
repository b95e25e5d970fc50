/* qt_indicators: see qt_indicators.h for the definitions and the numerical choices. */
#include "qt_indicators.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- ring ---------------------------------------------------------------------- */

static bool ring_init(qt_ind_ring_t *r, uint32_t n) {
    if (n < 1 || n > QT_IND_MAX_WINDOW) return false;
    memset(r, 0, sizeof *r);
    r->n = n;
    return true;
}

static bool ring_full(const qt_ind_ring_t *r) { return r->count >= r->n; }

/* Pushes x; returns the value it replaced (0 when the ring was not full). */
static double ring_push(qt_ind_ring_t *r, double x) {
    double old = ring_full(r) ? r->v[r->pos] : 0.0;
    r->v[r->pos] = x;
    r->pos = (r->pos + 1u) % r->n;
    r->count++;
    return old;
}

static size_t ring_len(const qt_ind_ring_t *r) {
    return r->count < r->n ? (size_t)r->count : (size_t)r->n;
}

static void ring_save(const qt_ind_ring_t *r, qt_buf_t *b) {
    qt_buf_put_u32(b, r->n);
    qt_buf_put_u32(b, r->pos);
    qt_buf_put_u64(b, r->count);
    /* Only the slots ever written are meaningful; save all of them in slot order. */
    size_t len = ring_len(r);
    for (size_t i = 0; i < len; i++) qt_buf_put_f64(b, r->v[i]);
}

static bool ring_load(qt_ind_ring_t *r, qt_reader_t *rd, uint32_t expect_n) {
    memset(r, 0, sizeof *r);
    uint32_t n = qt_read_u32(rd);
    uint32_t pos = qt_read_u32(rd);
    uint64_t count = qt_read_u64(rd);
    if (rd->err || n != expect_n || n < 1 || n > QT_IND_MAX_WINDOW || pos >= n) return false;
    /* pos is a function of count: a snapshot where they disagree is corrupt. */
    if (pos != (uint32_t)(count % n)) return false;
    r->n = n;
    r->pos = pos;
    r->count = count;
    size_t len = ring_len(r);
    for (size_t i = 0; i < len; i++) {
        double x = qt_read_f64(rd);
        if (rd->err || !isfinite(x)) return false;
        r->v[i] = x;
    }
    return !rd->err;
}

/* ---- SMA ----------------------------------------------------------------------- */

bool qt_ind_sma_init(qt_ind_sma_t *s, uint32_t n) {
    if (!ring_init(&s->ring, n)) return false;
    s->sum = 0.0;
    return true;
}

bool qt_ind_sma_update(qt_ind_sma_t *s, double x) {
    if (!isfinite(x)) return false;
    double old = ring_push(&s->ring, x);
    if (s->ring.pos == 0) {
        /* The ring just wrapped: recompute the sum exactly (bounds the drift). */
        double sum = 0.0;
        for (uint32_t i = 0; i < s->ring.n; i++) sum += s->ring.v[i];
        s->sum = sum;
    } else {
        s->sum += x - old;
    }
    return true;
}

bool qt_ind_sma_ready(const qt_ind_sma_t *s) { return ring_full(&s->ring); }

double qt_ind_sma_value(const qt_ind_sma_t *s) {
    return qt_ind_sma_ready(s) ? s->sum / (double)s->ring.n : 0.0;
}

void qt_ind_sma_save(const qt_ind_sma_t *s, qt_buf_t *b) {
    ring_save(&s->ring, b);
    qt_buf_put_f64(b, s->sum);
}

bool qt_ind_sma_load(qt_ind_sma_t *s, qt_reader_t *r, uint32_t expect_n) {
    if (!ring_load(&s->ring, r, expect_n)) return false;
    s->sum = qt_read_f64(r);
    return !r->err && isfinite(s->sum);
}

/* ---- EMA ----------------------------------------------------------------------- */

bool qt_ind_ema_init(qt_ind_ema_t *e, uint32_t n) {
    if (n < 1 || n > QT_IND_MAX_WINDOW) return false;
    memset(e, 0, sizeof *e);
    e->n = n;
    e->alpha = 2.0 / ((double)n + 1.0);
    return true;
}

bool qt_ind_ema_update(qt_ind_ema_t *e, double x) {
    if (!isfinite(x)) return false;
    if (e->count < e->n) {
        e->seed_sum += x;
        e->count++;
        if (e->count == e->n) e->value = e->seed_sum / (double)e->n;
        return true;
    }
    e->value += e->alpha * (x - e->value);
    e->count++;
    return true;
}

bool qt_ind_ema_ready(const qt_ind_ema_t *e) { return e->count >= e->n; }
double qt_ind_ema_value(const qt_ind_ema_t *e) { return qt_ind_ema_ready(e) ? e->value : 0.0; }

void qt_ind_ema_save(const qt_ind_ema_t *e, qt_buf_t *b) {
    qt_buf_put_u32(b, e->n);
    qt_buf_put_u64(b, e->count);
    qt_buf_put_f64(b, e->seed_sum);
    qt_buf_put_f64(b, e->value);
}

bool qt_ind_ema_load(qt_ind_ema_t *e, qt_reader_t *r, uint32_t expect_n) {
    uint32_t n = qt_read_u32(r);
    if (r->err || n != expect_n || !qt_ind_ema_init(e, n)) return false;
    e->count = qt_read_u64(r);
    e->seed_sum = qt_read_f64(r);
    e->value = qt_read_f64(r);
    if (r->err || !isfinite(e->seed_sum) || !isfinite(e->value)) return false;
    if (e->count < e->n && e->value != 0.0) return false;  /* value only set once seeded */
    return true;
}

/* ---- rolling mean / stddev ------------------------------------------------------- */

bool qt_ind_rollstat_init(qt_ind_rollstat_t *r, uint32_t n) {
    if (n < 2 || !ring_init(&r->ring, n)) return false;
    r->mean = 0.0;
    r->m2 = 0.0;
    return true;
}

static void rollstat_recompute(qt_ind_rollstat_t *r) {
    size_t len = ring_len(&r->ring);
    double sum = 0.0;
    for (size_t i = 0; i < len; i++) sum += r->ring.v[i];
    double mean = len ? sum / (double)len : 0.0;
    double m2 = 0.0;
    for (size_t i = 0; i < len; i++) {
        double d = r->ring.v[i] - mean;
        m2 += d * d;
    }
    r->mean = mean;
    r->m2 = m2;
}

bool qt_ind_rollstat_update(qt_ind_rollstat_t *r, double x) {
    if (!isfinite(x)) return false;
    bool was_full = ring_full(&r->ring);
    double old = ring_push(&r->ring, x);
    if (r->ring.pos == 0) {
        rollstat_recompute(r);  /* exact every n updates: bounded drift */
    } else if (!was_full) {
        /* Growing window: classic Welford. */
        double k = (double)r->ring.count;
        double delta = x - r->mean;
        r->mean += delta / k;
        r->m2 += delta * (x - r->mean);
    } else {
        /* Sliding window: replace old by x. */
        double n = (double)r->ring.n;
        double old_mean = r->mean;
        double d = x - old;
        r->mean = old_mean + d / n;
        r->m2 += d * (x - r->mean + old - old_mean);
        if (r->m2 < 0.0) r->m2 = 0.0;
    }
    return true;
}

bool qt_ind_rollstat_ready(const qt_ind_rollstat_t *r) { return ring_full(&r->ring); }

double qt_ind_rollstat_mean(const qt_ind_rollstat_t *r) {
    return qt_ind_rollstat_ready(r) ? r->mean : 0.0;
}

double qt_ind_rollstat_stddev(const qt_ind_rollstat_t *r) {
    if (!qt_ind_rollstat_ready(r)) return 0.0;
    double var = r->m2 / ((double)r->ring.n - 1.0);
    return var > 0.0 ? sqrt(var) : 0.0;
}

void qt_ind_rollstat_save(const qt_ind_rollstat_t *s, qt_buf_t *b) {
    ring_save(&s->ring, b);
    qt_buf_put_f64(b, s->mean);
    qt_buf_put_f64(b, s->m2);
}

bool qt_ind_rollstat_load(qt_ind_rollstat_t *s, qt_reader_t *r, uint32_t expect_n) {
    if (expect_n < 2 || !ring_load(&s->ring, r, expect_n)) return false;
    s->mean = qt_read_f64(r);
    s->m2 = qt_read_f64(r);
    return !r->err && isfinite(s->mean) && isfinite(s->m2) && s->m2 >= 0.0;
}

/* ---- log-return volatility --------------------------------------------------------- */

bool qt_ind_rvol_init(qt_ind_rvol_t *v, uint32_t n) {
    if (!qt_ind_rollstat_init(&v->stat, n)) return false;
    v->has_prev = false;
    v->prev = 0.0;
    v->last_ret = 0.0;
    return true;
}

bool qt_ind_rvol_update(qt_ind_rvol_t *v, double price) {
    if (!isfinite(price) || !(price > 0.0)) return false;
    if (v->has_prev) {
        double r = log(price / v->prev);
        if (!isfinite(r) || !qt_ind_rollstat_update(&v->stat, r)) return false;
        v->last_ret = r;
    }
    v->prev = price;
    v->has_prev = true;
    return true;
}

bool qt_ind_rvol_ret_ready(const qt_ind_rvol_t *v) { return v->stat.ring.count > 0; }
double qt_ind_rvol_last_return(const qt_ind_rvol_t *v) {
    return qt_ind_rvol_ret_ready(v) ? v->last_ret : 0.0;
}
bool qt_ind_rvol_ready(const qt_ind_rvol_t *v) { return qt_ind_rollstat_ready(&v->stat); }
double qt_ind_rvol_mean(const qt_ind_rvol_t *v) { return qt_ind_rollstat_mean(&v->stat); }
double qt_ind_rvol_stddev(const qt_ind_rvol_t *v) { return qt_ind_rollstat_stddev(&v->stat); }

void qt_ind_rvol_save(const qt_ind_rvol_t *v, qt_buf_t *b) {
    qt_ind_rollstat_save(&v->stat, b);
    qt_buf_put_u32(b, v->has_prev ? 1u : 0u);
    qt_buf_put_f64(b, v->prev);
    qt_buf_put_f64(b, v->last_ret);
}

bool qt_ind_rvol_load(qt_ind_rvol_t *v, qt_reader_t *r, uint32_t expect_n) {
    if (!qt_ind_rollstat_load(&v->stat, r, expect_n)) return false;
    uint32_t hp = qt_read_u32(r);
    v->prev = qt_read_f64(r);
    v->last_ret = qt_read_f64(r);
    if (r->err || hp > 1u || !isfinite(v->prev) || !isfinite(v->last_ret)) return false;
    v->has_prev = hp == 1u;
    if (v->has_prev && !(v->prev > 0.0)) return false;
    if (!v->has_prev && (v->stat.ring.count != 0 || v->prev != 0.0)) return false;
    return true;
}

/* ---- batch definitions ------------------------------------------------------------- */

void qt_ind_sma_batch(const double *x, size_t len, uint32_t n, double *out) {
    for (size_t i = 0; i < len; i++) {
        if (n == 0 || i + 1 < n) {
            out[i] = NAN;
            continue;
        }
        double sum = 0.0;
        for (size_t j = i + 1 - n; j <= i; j++) sum += x[j];
        out[i] = sum / (double)n;
    }
}

void qt_ind_ema_batch(const double *x, size_t len, uint32_t n, double *out) {
    double alpha = 2.0 / ((double)n + 1.0), ema = 0.0;
    for (size_t i = 0; i < len; i++) {
        if (n == 0 || i + 1 < n) {
            out[i] = NAN;
        } else if (i + 1 == n) {
            double sum = 0.0;
            for (size_t j = 0; j < n; j++) sum += x[j];
            ema = sum / (double)n;
            out[i] = ema;
        } else {
            ema = alpha * x[i] + (1.0 - alpha) * ema;
            out[i] = ema;
        }
    }
}

void qt_ind_rollstat_batch(const double *x, size_t len, uint32_t n, double *mean_out,
                           double *stddev_out) {
    for (size_t i = 0; i < len; i++) {
        if (n < 2 || i + 1 < n) {
            mean_out[i] = NAN;
            stddev_out[i] = NAN;
            continue;
        }
        double sum = 0.0;
        for (size_t j = i + 1 - n; j <= i; j++) sum += x[j];
        double mean = sum / (double)n, ss = 0.0;
        for (size_t j = i + 1 - n; j <= i; j++) ss += (x[j] - mean) * (x[j] - mean);
        mean_out[i] = mean;
        stddev_out[i] = sqrt(ss / ((double)n - 1.0));
    }
}

void qt_ind_logret_stddev_batch(const double *p, size_t len, uint32_t n, double *out) {
    for (size_t i = 0; i < len; i++) {
        if (n < 2 || i < n) {  /* price i ends return i-1; n returns need i >= n */
            out[i] = NAN;
            continue;
        }
        double sum = 0.0;
        for (size_t j = i + 1 - n; j <= i; j++) sum += log(p[j] / p[j - 1]);
        double mean = sum / (double)n, ss = 0.0;
        for (size_t j = i + 1 - n; j <= i; j++) {
            double d = log(p[j] / p[j - 1]) - mean;
            ss += d * d;
        }
        out[i] = sqrt(ss / ((double)n - 1.0));
    }
}

/* ---- selftest ----------------------------------------------------------------------- */

int qt_indicators_selftest(bool verbose) {
    int fails = 0;
#define CHECK(c)                                                          \
    do {                                                                  \
        if (!(c)) {                                                       \
            fails++;                                                      \
            if (verbose) fprintf(stderr, "qt_indicators: FAIL %s\n", #c); \
        }                                                                 \
    } while (0)
    qt_ind_sma_t s;
    CHECK(qt_ind_sma_init(&s, 3));
    CHECK(!qt_ind_sma_init(&s, 0));
    qt_ind_sma_init(&s, 3);
    qt_ind_sma_update(&s, 1);
    qt_ind_sma_update(&s, 2);
    CHECK(!qt_ind_sma_ready(&s) && qt_ind_sma_value(&s) == 0.0);
    qt_ind_sma_update(&s, 3);
    CHECK(qt_ind_sma_ready(&s) && qt_ind_sma_value(&s) == 2.0);
    qt_ind_sma_update(&s, 10);
    CHECK(qt_ind_sma_value(&s) == 5.0);
    CHECK(!qt_ind_sma_update(&s, NAN) && qt_ind_sma_value(&s) == 5.0);

    qt_ind_ema_t e;
    qt_ind_ema_init(&e, 3);  /* alpha 0.5 */
    qt_ind_ema_update(&e, 1);
    qt_ind_ema_update(&e, 2);
    qt_ind_ema_update(&e, 3);
    CHECK(qt_ind_ema_ready(&e) && qt_ind_ema_value(&e) == 2.0);
    qt_ind_ema_update(&e, 4);
    CHECK(qt_ind_ema_value(&e) == 3.0);

    qt_ind_rollstat_t r;
    qt_ind_rollstat_init(&r, 4);
    const double xs[] = {2, 4, 4, 4, 5, 5, 7, 9};
    for (size_t i = 0; i < 8; i++) qt_ind_rollstat_update(&r, xs[i]);
    /* last 4: 5 5 7 9, mean 6.5, ss = 2.25+2.25+0.25+6.25 = 11, var = 11/3 */
    CHECK(fabs(qt_ind_rollstat_mean(&r) - 6.5) < 1e-12);
    CHECK(fabs(qt_ind_rollstat_stddev(&r) - sqrt(11.0 / 3.0)) < 1e-12);

    qt_ind_rvol_t v;
    qt_ind_rvol_init(&v, 2);
    CHECK(!qt_ind_rvol_update(&v, 0.0) && !qt_ind_rvol_update(&v, -1.0));
    qt_ind_rvol_update(&v, 100);
    qt_ind_rvol_update(&v, 110);
    CHECK(!qt_ind_rvol_ready(&v) && fabs(qt_ind_rvol_last_return(&v) - log(1.1)) < 1e-15);
    qt_ind_rvol_update(&v, 99);
    CHECK(qt_ind_rvol_ready(&v));
    double r1 = log(1.1), r2 = log(0.9), m = (r1 + r2) / 2;
    CHECK(fabs(qt_ind_rvol_stddev(&v) - sqrt((r1 - m) * (r1 - m) + (r2 - m) * (r2 - m))) < 1e-12);
#undef CHECK
    if (verbose) fprintf(stderr, "qt_indicators selftest: %s\n", fails ? "FAIL" : "ok");
    return fails ? -1 : 0;
}
