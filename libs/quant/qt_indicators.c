/* qt_indicators: see qt_indicators.h for the definitions and the numerical choices. */
#include "qt_indicators.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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

/* ---- issue 4 indicators (definitions in qt_indicators.h) ---------------------------- */

static double ring_newest(const qt_ind_ring_t *r) { return r->v[(r->pos + r->n - 1u) % r->n]; }

static bool n_ok(uint32_t n) { return n >= 1 && n <= QT_IND_MAX_WINDOW; }

/* WMA */
bool qt_ind_wma_init(qt_ind_wma_t *w, uint32_t n) {
    if (!ring_init(&w->ring, n)) return false;
    w->sum = 0.0;
    w->wsum = 0.0;
    return true;
}

bool qt_ind_wma_update(qt_ind_wma_t *w, double x) {
    if (!isfinite(x)) return false;
    bool was_full = ring_full(&w->ring);
    double old = ring_push(&w->ring, x);
    if (w->ring.pos == 0) {
        /* Wrapped: slot 0 is the oldest; exact recompute bounds the drift. */
        double s = 0.0, ws = 0.0;
        for (uint32_t i = 0; i < w->ring.n; i++) {
            s += w->ring.v[i];
            ws += (double)(i + 1u) * w->ring.v[i];
        }
        w->sum = s;
        w->wsum = ws;
    } else if (!was_full) {
        w->sum += x;
        w->wsum += (double)w->ring.count * x;
    } else {
        w->wsum += (double)w->ring.n * x - w->sum;
        w->sum += x - old;
    }
    return true;
}

bool qt_ind_wma_ready(const qt_ind_wma_t *w) { return ring_full(&w->ring); }
double qt_ind_wma_value(const qt_ind_wma_t *w) {
    double n = (double)w->ring.n;
    return qt_ind_wma_ready(w) ? w->wsum / (n * (n + 1.0) / 2.0) : 0.0;
}

void qt_ind_wma_save(const qt_ind_wma_t *w, qt_buf_t *b) {
    ring_save(&w->ring, b);
    qt_buf_put_f64(b, w->sum);
    qt_buf_put_f64(b, w->wsum);
}

bool qt_ind_wma_load(qt_ind_wma_t *w, qt_reader_t *r, uint32_t expect_n) {
    if (!ring_load(&w->ring, r, expect_n)) return false;
    w->sum = qt_read_f64(r);
    w->wsum = qt_read_f64(r);
    return !r->err && isfinite(w->sum) && isfinite(w->wsum);
}

/* RSI (Wilder) */
bool qt_ind_rsi_init(qt_ind_rsi_t *x, uint32_t n) {
    if (!n_ok(n)) return false;
    memset(x, 0, sizeof *x);
    x->n = n;
    return true;
}

bool qt_ind_rsi_update(qt_ind_rsi_t *x, double p) {
    if (!isfinite(p)) return false;
    if (x->count == 0) {
        x->prev = p;
        x->count = 1;
        return true;
    }
    double d = p - x->prev, g = d > 0.0 ? d : 0.0, l = d < 0.0 ? -d : 0.0;
    double nd = (double)x->n;
    if (x->count <= x->n) {          /* change number `count` of the first n: sums */
        x->avg_gain += g;
        x->avg_loss += l;
        if (x->count == x->n) {
            x->avg_gain /= nd;
            x->avg_loss /= nd;
        }
    } else {
        x->avg_gain = (x->avg_gain * (nd - 1.0) + g) / nd;
        x->avg_loss = (x->avg_loss * (nd - 1.0) + l) / nd;
    }
    x->prev = p;
    x->count++;
    return true;
}

bool qt_ind_rsi_ready(const qt_ind_rsi_t *x) { return x->count > x->n; }
double qt_ind_rsi_value(const qt_ind_rsi_t *x) {
    if (!qt_ind_rsi_ready(x)) return 0.0;
    double t = x->avg_gain + x->avg_loss;
    return t != 0.0 ? 100.0 * (x->avg_gain / t) : 0.0;
}

void qt_ind_rsi_save(const qt_ind_rsi_t *x, qt_buf_t *b) {
    qt_buf_put_u32(b, x->n);
    qt_buf_put_u64(b, x->count);
    qt_buf_put_f64(b, x->prev);
    qt_buf_put_f64(b, x->avg_gain);
    qt_buf_put_f64(b, x->avg_loss);
}

bool qt_ind_rsi_load(qt_ind_rsi_t *x, qt_reader_t *r, uint32_t expect_n) {
    uint32_t n = qt_read_u32(r);
    if (r->err || n != expect_n || !qt_ind_rsi_init(x, n)) return false;
    x->count = qt_read_u64(r);
    x->prev = qt_read_f64(r);
    x->avg_gain = qt_read_f64(r);
    x->avg_loss = qt_read_f64(r);
    return !r->err && isfinite(x->prev) && isfinite(x->avg_gain) && isfinite(x->avg_loss) &&
           x->avg_gain >= 0.0 && x->avg_loss >= 0.0;
}

/* ATR (Wilder) */
bool qt_ind_atr_init(qt_ind_atr_t *a, uint32_t n) {
    if (!n_ok(n)) return false;
    memset(a, 0, sizeof *a);
    a->n = n;
    return true;
}

static double true_range(double h, double l, double pc) {
    double tr = h - l, a = fabs(h - pc), b = fabs(l - pc);
    if (a > tr) tr = a;
    if (b > tr) tr = b;
    return tr;
}

bool qt_ind_atr_update(qt_ind_atr_t *a, double h, double l, double c) {
    if (!isfinite(h) || !isfinite(l) || !isfinite(c) || h < l) return false;
    if (a->count > 0) {
        double tr = true_range(h, l, a->prev_close), nd = (double)a->n;
        if (a->count <= a->n) {
            a->atr += tr;
            if (a->count == a->n) a->atr /= nd;
        } else {
            a->atr = (a->atr * (nd - 1.0) + tr) / nd;
        }
    }
    a->prev_close = c;
    a->count++;
    return true;
}

bool qt_ind_atr_ready(const qt_ind_atr_t *a) { return a->count > a->n; }
double qt_ind_atr_value(const qt_ind_atr_t *a) { return qt_ind_atr_ready(a) ? a->atr : 0.0; }

void qt_ind_atr_save(const qt_ind_atr_t *a, qt_buf_t *b) {
    qt_buf_put_u32(b, a->n);
    qt_buf_put_u64(b, a->count);
    qt_buf_put_f64(b, a->prev_close);
    qt_buf_put_f64(b, a->atr);
}

bool qt_ind_atr_load(qt_ind_atr_t *a, qt_reader_t *r, uint32_t expect_n) {
    uint32_t n = qt_read_u32(r);
    if (r->err || n != expect_n || !qt_ind_atr_init(a, n)) return false;
    a->count = qt_read_u64(r);
    a->prev_close = qt_read_f64(r);
    a->atr = qt_read_f64(r);
    return !r->err && isfinite(a->prev_close) && isfinite(a->atr) && a->atr >= 0.0;
}

/* MACD (TA-Lib alignment: both EMAs start at i = slow-1) */
bool qt_ind_macd_init(qt_ind_macd_t *m, uint32_t fast, uint32_t slow, uint32_t signal) {
    if (!n_ok(fast) || !n_ok(slow) || !n_ok(signal) || fast >= slow) return false;
    memset(m, 0, sizeof *m);
    m->fast = fast;
    m->slow = slow;
    m->signal = signal;
    m->fast_alpha = 2.0 / ((double)fast + 1.0);
    return qt_ind_sma_init(&m->fast_seed, fast) && qt_ind_ema_init(&m->slow_ema, slow) &&
           qt_ind_ema_init(&m->sig, signal);
}

bool qt_ind_macd_update(qt_ind_macd_t *m, double x) {
    if (!isfinite(x)) return false;
    uint64_t i = m->count;
    qt_ind_ema_update(&m->slow_ema, x);
    if (i + 1 < m->slow) {
        ring_push(&m->fast_seed.ring, x);
    } else if (i + 1 == m->slow) {
        ring_push(&m->fast_seed.ring, x);
        /* seed = mean of x[slow-fast .. slow-1], summed oldest first (as the batch) */
        const qt_ind_ring_t *rg = &m->fast_seed.ring;
        double sum = 0.0;
        for (uint32_t k = 0; k < rg->n; k++) sum += rg->v[(rg->pos + k) % rg->n];
        m->fast_ema = sum / (double)m->fast;
    } else {
        m->fast_ema = (x - m->fast_ema) * m->fast_alpha + m->fast_ema;
    }
    if (i + 1 >= m->slow) {
        m->macd = m->fast_ema - m->slow_ema.value;
        qt_ind_ema_update(&m->sig, m->macd);
    }
    m->count++;
    return true;
}

bool qt_ind_macd_ready(const qt_ind_macd_t *m) { return qt_ind_ema_ready(&m->sig); }
double qt_ind_macd_value(const qt_ind_macd_t *m) { return qt_ind_macd_ready(m) ? m->macd : 0.0; }
double qt_ind_macd_signal(const qt_ind_macd_t *m) {
    return qt_ind_macd_ready(m) ? m->sig.value : 0.0;
}
double qt_ind_macd_hist(const qt_ind_macd_t *m) {
    return qt_ind_macd_ready(m) ? m->macd - m->sig.value : 0.0;
}

void qt_ind_macd_save(const qt_ind_macd_t *m, qt_buf_t *b) {
    qt_buf_put_u64(b, m->count);
    ring_save(&m->fast_seed.ring, b);
    qt_buf_put_f64(b, m->fast_ema);
    qt_ind_ema_save(&m->slow_ema, b);
    qt_ind_ema_save(&m->sig, b);
    qt_buf_put_f64(b, m->macd);
}

bool qt_ind_macd_load(qt_ind_macd_t *m, qt_reader_t *r, uint32_t fast, uint32_t slow,
                      uint32_t signal) {
    if (!qt_ind_macd_init(m, fast, slow, signal)) return false;
    m->count = qt_read_u64(r);
    if (r->err || !ring_load(&m->fast_seed.ring, r, fast)) return false;
    m->fast_ema = qt_read_f64(r);
    if (r->err || !qt_ind_ema_load(&m->slow_ema, r, slow) || !qt_ind_ema_load(&m->sig, r, signal))
        return false;
    m->macd = qt_read_f64(r);
    uint64_t seeded = m->count < slow ? m->count : slow;   /* fast ring stops at slow */
    return !r->err && isfinite(m->fast_ema) && isfinite(m->macd) &&
           m->slow_ema.count == m->count && m->fast_seed.ring.count == seeded &&
           m->sig.count == (m->count >= slow ? m->count - slow + 1 : 0);
}

/* Bollinger bands */
bool qt_ind_bbands_init(qt_ind_bbands_t *b, uint32_t n, double k) {
    if (!isfinite(k) || k < 0.0 || !qt_ind_rollstat_init(&b->stat, n)) return false;
    b->k = k;
    return true;
}

bool qt_ind_bbands_update(qt_ind_bbands_t *b, double x) { return qt_ind_rollstat_update(&b->stat, x); }
bool qt_ind_bbands_ready(const qt_ind_bbands_t *b) { return qt_ind_rollstat_ready(&b->stat); }

void qt_ind_bbands_value(const qt_ind_bbands_t *b, double *mid, double *upper, double *lower) {
    if (!qt_ind_bbands_ready(b)) {
        *mid = *upper = *lower = 0.0;
        return;
    }
    double var = b->stat.m2 / (double)b->stat.ring.n, sd = var > 0.0 ? sqrt(var) : 0.0;
    *mid = b->stat.mean;
    *upper = b->stat.mean + b->k * sd;
    *lower = b->stat.mean - b->k * sd;
}

void qt_ind_bbands_save(const qt_ind_bbands_t *x, qt_buf_t *b) {
    qt_buf_put_f64(b, x->k);
    qt_ind_rollstat_save(&x->stat, b);
}

bool qt_ind_bbands_load(qt_ind_bbands_t *x, qt_reader_t *r, uint32_t expect_n, double k) {
    double kk = qt_read_f64(r);
    if (r->err || kk != k || !qt_ind_bbands_init(x, expect_n, k)) return false;
    return qt_ind_rollstat_load(&x->stat, r, expect_n);
}

/* Stochastic (fast): monotonic deques over the rings of highs and lows. The deque holds
 * sequence numbers; the value of seq s is ring.v[s % n] while s is in the window. */
static double dq_val(const qt_ind_ring_t *rg, uint64_t s) { return rg->v[s % rg->n]; }

static void dq_push(qt_ind_deque_t *d, const qt_ind_ring_t *rg, uint64_t s, bool is_max) {
    uint32_t n = rg->n;
    double x = dq_val(rg, s);
    while (d->len > 0) {
        double back = dq_val(rg, d->seq[(d->head + d->len - 1u) % n]);
        if (is_max ? back <= x : back >= x) d->len--;
        else break;
    }
    while (d->len > 0 && d->seq[d->head] + n <= s) {   /* left the window */
        d->head = (d->head + 1u) % n;
        d->len--;
    }
    d->seq[(d->head + d->len) % n] = s;
    d->len++;
}

static void dq_rebuild(qt_ind_deque_t *d, const qt_ind_ring_t *rg, bool is_max) {
    memset(d, 0, sizeof *d);
    uint64_t len = ring_len(rg);
    for (uint64_t s = rg->count - len; s < rg->count; s++) dq_push(d, rg, s, is_max);
}

bool qt_ind_stoch_init(qt_ind_stoch_t *s, uint32_t n, uint32_t d) {
    memset(s, 0, sizeof *s);
    return ring_init(&s->hi, n) && ring_init(&s->lo, n) && qt_ind_sma_init(&s->d, d);
}

bool qt_ind_stoch_update(qt_ind_stoch_t *s, double h, double l, double c) {
    if (!isfinite(h) || !isfinite(l) || !isfinite(c) || h < l) return false;
    uint64_t seq = s->hi.count;
    ring_push(&s->hi, h);
    ring_push(&s->lo, l);
    dq_push(&s->dmax, &s->hi, seq, true);
    dq_push(&s->dmin, &s->lo, seq, false);
    if (ring_full(&s->hi)) {
        double hh = dq_val(&s->hi, s->dmax.seq[s->dmax.head]);
        double ll = dq_val(&s->lo, s->dmin.seq[s->dmin.head]);
        double diff = (hh - ll) / 100.0;   /* TA-Lib STOCHF arithmetic */
        s->k = diff != 0.0 ? (c - ll) / diff : 0.0;
        qt_ind_sma_update(&s->d, s->k);
    }
    return true;
}

bool qt_ind_stoch_ready(const qt_ind_stoch_t *s) { return qt_ind_sma_ready(&s->d); }
double qt_ind_stoch_k(const qt_ind_stoch_t *s) { return qt_ind_stoch_ready(s) ? s->k : 0.0; }
double qt_ind_stoch_d(const qt_ind_stoch_t *s) { return qt_ind_sma_value(&s->d); }

void qt_ind_stoch_save(const qt_ind_stoch_t *s, qt_buf_t *b) {
    ring_save(&s->hi, b);
    ring_save(&s->lo, b);
    qt_ind_sma_save(&s->d, b);
    qt_buf_put_f64(b, s->k);
}

bool qt_ind_stoch_load(qt_ind_stoch_t *s, qt_reader_t *r, uint32_t n, uint32_t d) {
    memset(s, 0, sizeof *s);
    if (!ring_load(&s->hi, r, n) || !ring_load(&s->lo, r, n) || !qt_ind_sma_load(&s->d, r, d))
        return false;
    s->k = qt_read_f64(r);
    if (r->err || !isfinite(s->k) || s->hi.count != s->lo.count) return false;
    uint64_t ks = s->hi.count >= n ? s->hi.count - n + 1 : 0;   /* %K values produced */
    if (s->d.ring.count != ks) return false;
    dq_rebuild(&s->dmax, &s->hi, true);
    dq_rebuild(&s->dmin, &s->lo, false);
    return true;
}

/* ROC / momentum */
bool qt_ind_roc_init(qt_ind_roc_t *x, uint32_t n) {
    return n >= 1 && n < QT_IND_MAX_WINDOW && ring_init(&x->ring, n + 1u);
}

bool qt_ind_roc_update(qt_ind_roc_t *x, double p) {
    if (!isfinite(p) || !(p > 0.0)) return false;
    ring_push(&x->ring, p);
    return true;
}

bool qt_ind_roc_ready(const qt_ind_roc_t *x) { return ring_full(&x->ring); }
double qt_ind_roc_value(const qt_ind_roc_t *x) {
    if (!qt_ind_roc_ready(x)) return 0.0;
    double old = x->ring.v[x->ring.pos];   /* oldest: x_{i-n} */
    return ((ring_newest(&x->ring) / old) - 1.0) * 100.0;
}
double qt_ind_mom_value(const qt_ind_roc_t *x) {
    return qt_ind_roc_ready(x) ? ring_newest(&x->ring) - x->ring.v[x->ring.pos] : 0.0;
}

void qt_ind_roc_save(const qt_ind_roc_t *x, qt_buf_t *b) { ring_save(&x->ring, b); }
bool qt_ind_roc_load(qt_ind_roc_t *x, qt_reader_t *r, uint32_t expect_n) {
    if (expect_n < 1 || expect_n >= QT_IND_MAX_WINDOW || !ring_load(&x->ring, r, expect_n + 1u))
        return false;
    for (size_t i = 0; i < ring_len(&x->ring); i++)
        if (!(x->ring.v[i] > 0.0)) return false;
    return true;
}

/* Range volatility (Parkinson, Garman-Klass) */
static const double LN2 = 0.69314718055994530942;

bool qt_ind_rangevol_init(qt_ind_rangevol_t *v, uint32_t n, bool gk) {
    v->gk = gk;
    return qt_ind_sma_init(&v->mean, n);
}

static double rangevol_term(bool gk, double o, double h, double l, double c) {
    double hl = log(h / l);
    if (!gk) return hl * hl;
    double co = log(c / o);
    return 0.5 * hl * hl - (2.0 * LN2 - 1.0) * co * co;
}

bool qt_ind_rangevol_update(qt_ind_rangevol_t *v, double o, double h, double l, double c) {
    if (!isfinite(o) || !isfinite(h) || !isfinite(l) || !isfinite(c) || !(o > 0.0) ||
        !(h > 0.0) || !(l > 0.0) || !(c > 0.0) || h < l)
        return false;
    double u = rangevol_term(v->gk, o, h, l, c);
    return isfinite(u) && qt_ind_sma_update(&v->mean, u);
}

bool qt_ind_rangevol_ready(const qt_ind_rangevol_t *v) { return qt_ind_sma_ready(&v->mean); }
double qt_ind_rangevol_value(const qt_ind_rangevol_t *v) {
    if (!qt_ind_rangevol_ready(v)) return 0.0;
    double m = qt_ind_sma_value(&v->mean);
    if (!v->gk) m /= 4.0 * LN2;
    return m > 0.0 ? sqrt(m) : 0.0;
}

void qt_ind_rangevol_save(const qt_ind_rangevol_t *x, qt_buf_t *b) {
    qt_buf_put_u32(b, x->gk ? 1u : 0u);
    qt_ind_sma_save(&x->mean, b);
}
bool qt_ind_rangevol_load(qt_ind_rangevol_t *x, qt_reader_t *r, uint32_t expect_n, bool gk) {
    uint32_t g = qt_read_u32(r);
    if (r->err || g != (gk ? 1u : 0u)) return false;
    x->gk = gk;
    return qt_ind_sma_load(&x->mean, r, expect_n);
}

/* OBV */
void qt_ind_obv_init(qt_ind_obv_t *o) { memset(o, 0, sizeof *o); }

bool qt_ind_obv_update(qt_ind_obv_t *o, double c, double v) {
    if (!isfinite(c) || !isfinite(v) || v < 0.0) return false;
    if (o->count == 0) o->obv = v;
    else if (c > o->prev_close) o->obv += v;
    else if (c < o->prev_close) o->obv -= v;
    if (!isfinite(o->obv)) return false;   /* cannot happen with bar volumes; refuse */
    o->prev_close = c;
    o->count++;
    return true;
}

bool qt_ind_obv_ready(const qt_ind_obv_t *o) { return o->count > 0; }
double qt_ind_obv_value(const qt_ind_obv_t *o) { return o->count > 0 ? o->obv : 0.0; }

void qt_ind_obv_save(const qt_ind_obv_t *o, qt_buf_t *b) {
    qt_buf_put_u64(b, o->count);
    qt_buf_put_f64(b, o->prev_close);
    qt_buf_put_f64(b, o->obv);
}
bool qt_ind_obv_load(qt_ind_obv_t *o, qt_reader_t *r) {
    o->count = qt_read_u64(r);
    o->prev_close = qt_read_f64(r);
    o->obv = qt_read_f64(r);
    return !r->err && isfinite(o->prev_close) && isfinite(o->obv);
}

/* rolling VWAP */
bool qt_ind_vwap_init(qt_ind_vwap_t *v, uint32_t n) {
    return qt_ind_sma_init(&v->pv, n) && qt_ind_sma_init(&v->v, n);
}

bool qt_ind_vwap_update(qt_ind_vwap_t *v, double h, double l, double c, double vol) {
    if (!isfinite(h) || !isfinite(l) || !isfinite(c) || !isfinite(vol) || vol < 0.0)
        return false;
    double tp = (h + l + c) / 3.0;
    if (!isfinite(tp * vol)) return false;
    qt_ind_sma_update(&v->pv, tp * vol);
    qt_ind_sma_update(&v->v, vol);
    return true;
}

bool qt_ind_vwap_ready(const qt_ind_vwap_t *v) { return qt_ind_sma_ready(&v->v) && v->v.sum > 0.0; }
double qt_ind_vwap_value(const qt_ind_vwap_t *v) {
    return qt_ind_vwap_ready(v) ? v->pv.sum / v->v.sum : 0.0;
}

void qt_ind_vwap_save(const qt_ind_vwap_t *x, qt_buf_t *b) {
    qt_ind_sma_save(&x->pv, b);
    qt_ind_sma_save(&x->v, b);
}
bool qt_ind_vwap_load(qt_ind_vwap_t *x, qt_reader_t *r, uint32_t expect_n) {
    return qt_ind_sma_load(&x->pv, r, expect_n) && qt_ind_sma_load(&x->v, r, expect_n) &&
           x->pv.ring.count == x->v.ring.count;
}

/* z-score */
double qt_ind_zscore_value(const qt_ind_rollstat_t *r) {
    double sd = qt_ind_rollstat_stddev(r);
    if (!qt_ind_rollstat_ready(r) || !(sd > 0.0)) return 0.0;
    return (ring_newest(&r->ring) - r->mean) / sd;
}

/* ---- batch twins of the issue 4 indicators ---------------------------------------- */

void qt_ind_wma_batch(const double *x, size_t len, uint32_t n, double *out) {
    double den = (double)n * ((double)n + 1.0) / 2.0;
    for (size_t i = 0; i < len; i++) {
        if (n == 0 || i + 1 < n) {
            out[i] = NAN;
            continue;
        }
        double ws = 0.0;
        for (uint32_t j = 1; j <= n; j++) ws += (double)j * x[i + 1 - n + (j - 1)];
        out[i] = ws / den;
    }
}

void qt_ind_rsi_batch(const double *x, size_t len, uint32_t n, double *out) {
    double ag = 0.0, al = 0.0, nd = (double)n;
    for (size_t i = 0; i < len; i++) {
        out[i] = NAN;
        if (n == 0 || i == 0) continue;
        double d = x[i] - x[i - 1], g = d > 0.0 ? d : 0.0, l = d < 0.0 ? -d : 0.0;
        if (i < n) {
            ag += g;
            al += l;
            continue;
        }
        if (i == n) {
            ag = (ag + g) / nd;
            al = (al + l) / nd;
        } else {
            ag = (ag * (nd - 1.0) + g) / nd;
            al = (al * (nd - 1.0) + l) / nd;
        }
        out[i] = ag + al != 0.0 ? 100.0 * (ag / (ag + al)) : 0.0;
    }
}

void qt_ind_atr_batch(const double *h, const double *l, const double *c, size_t len,
                      uint32_t n, double *out) {
    double atr = 0.0, nd = (double)n;
    for (size_t i = 0; i < len; i++) {
        out[i] = NAN;
        if (n == 0 || i == 0) continue;
        double tr = true_range(h[i], l[i], c[i - 1]);
        if (i < n) {
            atr += tr;
            continue;
        }
        atr = i == n ? (atr + tr) / nd : (atr * (nd - 1.0) + tr) / nd;
        out[i] = atr;
    }
}

void qt_ind_macd_batch(const double *x, size_t len, uint32_t fast, uint32_t slow,
                       uint32_t signal, double *macd, double *sig, double *hist) {
    for (size_t i = 0; i < len; i++) macd[i] = sig[i] = hist[i] = NAN;
    if (fast == 0 || fast >= slow || signal == 0 || len < slow) return;
    double fa = 2.0 / ((double)fast + 1.0), sa = 2.0 / ((double)slow + 1.0);
    double ga = 2.0 / ((double)signal + 1.0);
    size_t s0 = slow - 1;
    double fs = 0.0, ss = 0.0;
    for (size_t j = 0; j <= s0; j++) ss += x[j];
    for (size_t j = slow - fast; j <= s0; j++) fs += x[j];
    double fe = fs / (double)fast, se = ss / (double)slow;
    double *m = malloc(len * sizeof *m);
    if (!m) return;
    for (size_t i = s0; i < len; i++) {
        if (i > s0) {
            fe = (x[i] - fe) * fa + fe;
            se = se + sa * (x[i] - se);
        }
        m[i] = fe - se;
    }
    size_t g0 = s0 + signal - 1;   /* first signal index */
    double sg = 0.0;
    for (size_t i = s0; i < len && i <= g0; i++) sg += m[i];
    if (g0 < len) sg /= (double)signal;
    for (size_t i = g0; i < len; i++) {
        if (i > g0) sg = sg + ga * (m[i] - sg);
        macd[i] = m[i];
        sig[i] = sg;
        hist[i] = m[i] - sg;
    }
    free(m);
}

void qt_ind_bbands_batch(const double *x, size_t len, uint32_t n, double k, double *mid,
                         double *upper, double *lower) {
    for (size_t i = 0; i < len; i++) {
        if (n < 2 || i + 1 < n) {
            mid[i] = upper[i] = lower[i] = NAN;
            continue;
        }
        double sum = 0.0, ss = 0.0;
        for (size_t j = i + 1 - n; j <= i; j++) sum += x[j];
        double mean = sum / (double)n;
        for (size_t j = i + 1 - n; j <= i; j++) ss += (x[j] - mean) * (x[j] - mean);
        double sd = sqrt(ss / (double)n);
        mid[i] = mean;
        upper[i] = mean + k * sd;
        lower[i] = mean - k * sd;
    }
}

void qt_ind_stoch_batch(const double *h, const double *l, const double *c, size_t len,
                        uint32_t n, uint32_t d, double *k_out, double *d_out) {
    double *kk = malloc((len ? len : 1) * sizeof *kk);
    for (size_t i = 0; i < len; i++) {
        k_out[i] = d_out[i] = NAN;
        if (!kk) continue;
        kk[i] = NAN;
        if (n == 0 || i + 1 < n) continue;
        double hh = h[i + 1 - n], ll = l[i + 1 - n];
        for (size_t j = i + 2 - n; j <= i; j++) {
            if (h[j] > hh) hh = h[j];
            if (l[j] < ll) ll = l[j];
        }
        double diff = (hh - ll) / 100.0;
        kk[i] = diff != 0.0 ? (c[i] - ll) / diff : 0.0;
        if (d == 0 || i + 2 < (size_t)n + d) continue;
        double s = 0.0;
        for (size_t j = i + 1 - d; j <= i; j++) s += kk[j];
        k_out[i] = kk[i];
        d_out[i] = s / (double)d;
    }
    free(kk);
}

void qt_ind_roc_batch(const double *x, size_t len, uint32_t n, double *roc, double *mom) {
    for (size_t i = 0; i < len; i++) {
        if (n == 0 || i < n) {
            roc[i] = mom[i] = NAN;
            continue;
        }
        roc[i] = ((x[i] / x[i - n]) - 1.0) * 100.0;
        mom[i] = x[i] - x[i - n];
    }
}

void qt_ind_rangevol_batch(const double *o, const double *h, const double *l,
                           const double *c, size_t len, uint32_t n, bool gk, double *out) {
    for (size_t i = 0; i < len; i++) {
        if (n == 0 || i + 1 < n) {
            out[i] = NAN;
            continue;
        }
        double s = 0.0;
        for (size_t j = i + 1 - n; j <= i; j++) s += rangevol_term(gk, o[j], h[j], l[j], c[j]);
        double m = s / (double)n;
        if (!gk) m /= 4.0 * LN2;
        out[i] = m > 0.0 ? sqrt(m) : 0.0;
    }
}

void qt_ind_zscore_batch(const double *x, size_t len, uint32_t n, double *out) {
    for (size_t i = 0; i < len; i++) {
        if (n < 2 || i + 1 < n) {
            out[i] = NAN;
            continue;
        }
        double sum = 0.0, ss = 0.0;
        for (size_t j = i + 1 - n; j <= i; j++) sum += x[j];
        double mean = sum / (double)n;
        for (size_t j = i + 1 - n; j <= i; j++) ss += (x[j] - mean) * (x[j] - mean);
        double sd = sqrt(ss / ((double)n - 1.0));
        out[i] = sd > 0.0 ? (x[i] - mean) / sd : 0.0;
    }
}

void qt_ind_obv_batch(const double *c, const double *v, size_t len, double *out) {
    double obv = 0.0;
    for (size_t i = 0; i < len; i++) {
        if (i == 0) obv = v[0];
        else if (c[i] > c[i - 1]) obv += v[i];
        else if (c[i] < c[i - 1]) obv -= v[i];
        out[i] = obv;
    }
}

void qt_ind_vwap_batch(const double *h, const double *l, const double *c, const double *v,
                       size_t len, uint32_t n, double *out) {
    for (size_t i = 0; i < len; i++) {
        out[i] = NAN;
        if (n == 0 || i + 1 < n) continue;
        double pv = 0.0, sv = 0.0;
        for (size_t j = i + 1 - n; j <= i; j++) {
            pv += (h[j] + l[j] + c[j]) / 3.0 * v[j];
            sv += v[j];
        }
        if (sv > 0.0) out[i] = pv / sv;
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

    /* issue 4 indicators, hand-computed (TA-Lib conventions) */
    qt_ind_rsi_t rs;
    qt_ind_rsi_init(&rs, 2);
    const double rx[] = {10, 11, 10.5, 11.5};   /* changes +1, -0.5, +1 */
    for (int i = 0; i < 4; i++) qt_ind_rsi_update(&rs, rx[i]);
    /* seed g 0.5 l 0.25 at i=2; i=3: g (0.5+1)/2 = 0.75, l 0.125 -> 100*0.75/0.875 */
    CHECK(qt_ind_rsi_ready(&rs) && fabs(qt_ind_rsi_value(&rs) - 100.0 * 0.75 / 0.875) < 1e-12);
    qt_ind_atr_t at;
    qt_ind_atr_init(&at, 2);
    qt_ind_atr_update(&at, 10, 8, 9);
    qt_ind_atr_update(&at, 12, 9, 11);    /* TR 3 */
    CHECK(!qt_ind_atr_ready(&at));
    qt_ind_atr_update(&at, 13, 11, 12);   /* TR 2 -> ATR 2.5 */
    CHECK(qt_ind_atr_ready(&at) && qt_ind_atr_value(&at) == 2.5);
    qt_ind_obv_t ob;
    qt_ind_obv_init(&ob);
    qt_ind_obv_update(&ob, 10, 100);
    qt_ind_obv_update(&ob, 9, 40);
    CHECK(qt_ind_obv_value(&ob) == 60.0);
    qt_ind_wma_t wm;
    qt_ind_wma_init(&wm, 2);
    qt_ind_wma_update(&wm, 3);
    qt_ind_wma_update(&wm, 6);            /* (3 + 12) / 3 = 5 */
    CHECK(qt_ind_wma_value(&wm) == 5.0);
#undef CHECK
    if (verbose) fprintf(stderr, "qt_indicators selftest: %s\n", fails ? "FAIL" : "ok");
    return fails ? -1 : 0;
}
