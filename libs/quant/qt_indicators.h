/* qt_indicators: streaming technical indicators, O(1) (amortised) per update.
 *
 * Why streaming: qt-features sees one bar at a time and must keep per-symbol state that
 * fits in a checkpoint; recomputing windows per bar would be O(n) and hide drift bugs.
 * Why batch twins: every streaming indicator has a batch function that computes the
 * same quantity directly from an array (the textbook definition, no shared code), and
 * the tests show streaming == batch on real data. The batch functions are the spec.
 *
 * State is plain structs with inline windows (at most QT_IND_MAX_WINDOW values), so a
 * copy of the struct is a snapshot and serialisation (qt_ind_*_save/load with qt_buf)
 * is exact: a loaded indicator continues bit-for-bit like the one that was saved.
 *
 * Definitions (value is 0 and ready is false while warming up):
 *  - SMA(n): mean of the last n inputs; ready after n inputs.
 *    The running sum is updated with +new -old (O(1)) and recomputed exactly from the
 *    window every time the ring wraps (every n updates), so rounding drift is bounded
 *    to n steps: amortised O(1), and never accumulates over a long replay.
 *  - EMA(n): alpha = 2 / (n + 1). Seeded with the SMA of the first n inputs (TA-Lib
 *    convention, not "seed with the first value"); ready at the n-th input, then
 *    ema += alpha * (x - ema).
 *  - Rolling mean / sample standard deviation over the last n values (n >= 2):
 *    sliding Welford update (mean += (x_new - x_old) / n,
 *    M2 += (x_new - x_old) * (x_new - mean_new + x_old - mean_old)), M2 clamped at 0,
 *    and an exact two-pass recompute from the window every time the ring wraps.
 *    Standard deviation uses the n - 1 denominator.
 *  - Log-return volatility (qt_ind_rvol_t): r_t = ln(p_t / p_{t-1}) for consecutive
 *    positive inputs, fed to a rolling window of n returns: ready after n + 1 prices.
 * Non-finite or (for prices) non-positive inputs are refused (return false) and leave
 * the state untouched: a NaN never enters a window. */
#ifndef QT_INDICATORS_H
#define QT_INDICATORS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "qt_buf.h"

#define QT_IND_MAX_WINDOW 256u

/* Ring of the last n values (internal to the indicators, exposed for snapshots). */
typedef struct {
    uint32_t n;            /* window length, 1..QT_IND_MAX_WINDOW */
    uint32_t pos;          /* next slot to write */
    uint64_t count;        /* values pushed so far */
    double v[QT_IND_MAX_WINDOW];
} qt_ind_ring_t;

typedef struct {
    qt_ind_ring_t ring;
    double sum;
} qt_ind_sma_t;

typedef struct {
    uint32_t n;
    uint64_t count;
    double alpha;
    double seed_sum;       /* sum of the first n inputs (warm-up) */
    double value;
} qt_ind_ema_t;

typedef struct {
    qt_ind_ring_t ring;
    double mean;
    double m2;             /* sum of squared deviations from mean over the window */
} qt_ind_rollstat_t;

typedef struct {
    qt_ind_rollstat_t stat;
    bool has_prev;
    double prev;           /* previous price */
    double last_ret;       /* last log return (0 before the second price) */
} qt_ind_rvol_t;

/* ---- issue 4 indicators (TA-Lib warm-up conventions; see docs/quant/features.md) ----
 * Index i below is 0-based (bar i is the (i+1)-th input).
 *  - WMA(n): sum_{j=1..n} j x_{i-n+j} / (n(n+1)/2); ready at i = n-1. O(1): running
 *    sum S and weighted sum W (W += n x - S_old; S += x - x_old), both recomputed
 *    exactly from the window when the ring wraps (bounded drift, like the SMA).
 *  - RSI(n), Wilder: gains/losses of close-to-close changes; first value at i = n from
 *    the simple means of the first n gains and losses, then avg = (avg (n-1) + g) / n.
 *    RSI = 100 avg_gain / (avg_gain + avg_loss); 0 when both are 0 (TA-Lib).
 *  - ATR(n), Wilder: TR_i = max(H-L, |H-C_{i-1}|, |L-C_{i-1}|) from i = 1 (bar 0 has no
 *    TR, TA-Lib); first value at i = n = mean(TR_1..TR_n); then (atr (n-1) + TR) / n.
 *  - MACD(f, s, g), f < s: TA-Lib TA_MACD: both EMAs start at i = s-1, the slow one
 *    seeded with mean(x_0..x_{s-1}), the FAST one with mean(x_{s-f}..x_{s-1}) (TA-Lib
 *    moves the fast start so both begin together); macd = fast - slow; signal =
 *    EMA(g) of macd seeded with the mean of its first g values; hist = macd - signal.
 *    All three are ready at i = s + g - 2 (TA-Lib's outBegIdx: 33 for 12/26/9).
 *  - Bollinger(n, k): mid = SMA(n), upper/lower = mid +- k sigma, sigma the POPULATION
 *    standard deviation (divide by n, TA-Lib TA_STDDEV); ready at i = n-1.
 *  - Stochastic fast (n, d) (TA-Lib STOCHF): %K = 100 (C - LL_n) / (HH_n - LL_n), 0 when
 *    HH == LL; %D = SMA(d) of %K; both ready at i = n + d - 2 (TA-Lib outBegIdx).
 *    HH/LL by monotonic deques: amortised O(1).
 *  - ROC(n) = 100 (x_i / x_{i-n} - 1), MOM(n) = x_i - x_{i-n}; ready at i = n.
 *  - Range volatility (per bar, not annualised), over the last n bars, ready at n-1:
 *    Parkinson: sqrt(mean(ln(H/L)^2) / (4 ln 2));
 *    Garman-Klass: sqrt(mean(0.5 ln(H/L)^2 - (2 ln 2 - 1) ln(C/O)^2)) (mean clamped >= 0).
 *  - z-score(n): (x_i - mean_n) / sd_n, sd the sample (n-1) stddev; 0 when sd == 0;
 *    ready at n-1.
 *  - OBV (TA-Lib): obv_0 = v_0; +v if C > C_prev, -v if C < C_prev, else unchanged;
 *    ready at i = 0.
 *  - VWAP(n) rolling: sum(tp v) / sum(v) over the last n bars, tp = (H + L + C) / 3;
 *    ready at n-1 and only while sum(v) > 0 (not ready, value 0, otherwise). */
typedef struct {
    qt_ind_ring_t ring;
    double sum, wsum;
} qt_ind_wma_t;

typedef struct {
    uint32_t n;
    uint64_t count;        /* prices seen */
    double prev;
    double avg_gain, avg_loss;   /* sums during warm-up, Wilder averages after */
} qt_ind_rsi_t;

typedef struct {
    uint32_t n;
    uint64_t count;        /* bars seen */
    double prev_close;
    double atr;            /* sum of TRs during warm-up, Wilder average after */
} qt_ind_atr_t;

typedef struct {
    uint32_t fast, slow, signal;
    uint64_t count;        /* prices seen */
    qt_ind_sma_t fast_seed;     /* SMA(fast) until the fast EMA starts at i = slow-1 */
    double fast_alpha, fast_ema;
    qt_ind_ema_t slow_ema;
    qt_ind_ema_t sig;      /* EMA(signal) of macd */
    double macd;
} qt_ind_macd_t;

typedef struct {
    double k;              /* band width in population standard deviations */
    qt_ind_rollstat_t stat;
} qt_ind_bbands_t;

/* Monotonic deque of sequence numbers (positions of window values). */
typedef struct {
    uint32_t head, len;
    uint64_t seq[QT_IND_MAX_WINDOW];
} qt_ind_deque_t;

typedef struct {
    qt_ind_ring_t hi, lo;  /* last n highs / lows */
    qt_ind_deque_t dmax, dmin;
    qt_ind_sma_t d;        /* SMA(d) of %K */
    double k;              /* last %K */
} qt_ind_stoch_t;

typedef struct {
    qt_ind_ring_t ring;    /* last n + 1 prices */
} qt_ind_roc_t;

typedef struct {
    qt_ind_sma_t mean;     /* SMA of the per-bar term */
    bool gk;               /* false: Parkinson, true: Garman-Klass */
} qt_ind_rangevol_t;

typedef struct {
    uint64_t count;
    double prev_close, obv;
} qt_ind_obv_t;

typedef struct {
    qt_ind_sma_t pv, v;    /* rolling sums of tp*v and v (as means) */
} qt_ind_vwap_t;

bool qt_ind_wma_init(qt_ind_wma_t *w, uint32_t n);            /* 1..MAX */
bool qt_ind_wma_update(qt_ind_wma_t *w, double x);
bool qt_ind_wma_ready(const qt_ind_wma_t *w);
double qt_ind_wma_value(const qt_ind_wma_t *w);

bool qt_ind_rsi_init(qt_ind_rsi_t *r, uint32_t n);            /* 1..MAX */
bool qt_ind_rsi_update(qt_ind_rsi_t *r, double x);
bool qt_ind_rsi_ready(const qt_ind_rsi_t *r);
double qt_ind_rsi_value(const qt_ind_rsi_t *r);

bool qt_ind_atr_init(qt_ind_atr_t *a, uint32_t n);            /* 1..MAX */
bool qt_ind_atr_update(qt_ind_atr_t *a, double high, double low, double close);
bool qt_ind_atr_ready(const qt_ind_atr_t *a);
double qt_ind_atr_value(const qt_ind_atr_t *a);

/* 1 <= fast < slow <= MAX, 1 <= signal <= MAX. */
bool qt_ind_macd_init(qt_ind_macd_t *m, uint32_t fast, uint32_t slow, uint32_t signal);
bool qt_ind_macd_update(qt_ind_macd_t *m, double x);
bool qt_ind_macd_ready(const qt_ind_macd_t *m);
double qt_ind_macd_value(const qt_ind_macd_t *m);   /* 0 until ready (all three) */
double qt_ind_macd_signal(const qt_ind_macd_t *m);
double qt_ind_macd_hist(const qt_ind_macd_t *m);

/* n 2..MAX, k finite and >= 0. */
bool qt_ind_bbands_init(qt_ind_bbands_t *b, uint32_t n, double k);
bool qt_ind_bbands_update(qt_ind_bbands_t *b, double x);
bool qt_ind_bbands_ready(const qt_ind_bbands_t *b);
void qt_ind_bbands_value(const qt_ind_bbands_t *b, double *mid, double *upper, double *lower);

bool qt_ind_stoch_init(qt_ind_stoch_t *s, uint32_t n, uint32_t d);   /* 1..MAX each */
bool qt_ind_stoch_update(qt_ind_stoch_t *s, double high, double low, double close);
bool qt_ind_stoch_ready(const qt_ind_stoch_t *s);
double qt_ind_stoch_k(const qt_ind_stoch_t *s);
double qt_ind_stoch_d(const qt_ind_stoch_t *s);

bool qt_ind_roc_init(qt_ind_roc_t *r, uint32_t n);            /* 1..MAX-1 */
bool qt_ind_roc_update(qt_ind_roc_t *r, double x);            /* x finite and > 0 */
bool qt_ind_roc_ready(const qt_ind_roc_t *r);
double qt_ind_roc_value(const qt_ind_roc_t *r);               /* ROC, percent */
double qt_ind_mom_value(const qt_ind_roc_t *r);               /* momentum x_i - x_{i-n} */

bool qt_ind_rangevol_init(qt_ind_rangevol_t *v, uint32_t n, bool garman_klass);  /* 1..MAX */
bool qt_ind_rangevol_update(qt_ind_rangevol_t *v, double open, double high, double low,
                            double close);
bool qt_ind_rangevol_ready(const qt_ind_rangevol_t *v);
double qt_ind_rangevol_value(const qt_ind_rangevol_t *v);

void qt_ind_obv_init(qt_ind_obv_t *o);
bool qt_ind_obv_update(qt_ind_obv_t *o, double close, double volume);
bool qt_ind_obv_ready(const qt_ind_obv_t *o);
double qt_ind_obv_value(const qt_ind_obv_t *o);

bool qt_ind_vwap_init(qt_ind_vwap_t *v, uint32_t n);          /* 1..MAX */
bool qt_ind_vwap_update(qt_ind_vwap_t *v, double high, double low, double close,
                        double volume);
bool qt_ind_vwap_ready(const qt_ind_vwap_t *v);
double qt_ind_vwap_value(const qt_ind_vwap_t *v);

/* z-score uses a qt_ind_rollstat_t over the raw inputs (its newest value is x_i). */
double qt_ind_zscore_value(const qt_ind_rollstat_t *r);   /* 0 until ready */

/* Serialisation of the new indicators (same contract as below). */
void qt_ind_wma_save(const qt_ind_wma_t *w, qt_buf_t *b);
bool qt_ind_wma_load(qt_ind_wma_t *w, qt_reader_t *r, uint32_t expect_n);
void qt_ind_rsi_save(const qt_ind_rsi_t *x, qt_buf_t *b);
bool qt_ind_rsi_load(qt_ind_rsi_t *x, qt_reader_t *r, uint32_t expect_n);
void qt_ind_atr_save(const qt_ind_atr_t *x, qt_buf_t *b);
bool qt_ind_atr_load(qt_ind_atr_t *x, qt_reader_t *r, uint32_t expect_n);
void qt_ind_macd_save(const qt_ind_macd_t *x, qt_buf_t *b);
bool qt_ind_macd_load(qt_ind_macd_t *x, qt_reader_t *r, uint32_t fast, uint32_t slow,
                      uint32_t signal);
void qt_ind_bbands_save(const qt_ind_bbands_t *x, qt_buf_t *b);
bool qt_ind_bbands_load(qt_ind_bbands_t *x, qt_reader_t *r, uint32_t expect_n, double k);
void qt_ind_stoch_save(const qt_ind_stoch_t *x, qt_buf_t *b);
bool qt_ind_stoch_load(qt_ind_stoch_t *x, qt_reader_t *r, uint32_t n, uint32_t d);
void qt_ind_roc_save(const qt_ind_roc_t *x, qt_buf_t *b);
bool qt_ind_roc_load(qt_ind_roc_t *x, qt_reader_t *r, uint32_t expect_n);
void qt_ind_rangevol_save(const qt_ind_rangevol_t *x, qt_buf_t *b);
bool qt_ind_rangevol_load(qt_ind_rangevol_t *x, qt_reader_t *r, uint32_t expect_n, bool gk);
void qt_ind_obv_save(const qt_ind_obv_t *x, qt_buf_t *b);
bool qt_ind_obv_load(qt_ind_obv_t *x, qt_reader_t *r);
void qt_ind_vwap_save(const qt_ind_vwap_t *x, qt_buf_t *b);
bool qt_ind_vwap_load(qt_ind_vwap_t *x, qt_reader_t *r, uint32_t expect_n);

/* Batch twins (textbook definitions over arrays; out[i] NAN while not ready). */
void qt_ind_wma_batch(const double *x, size_t len, uint32_t n, double *out);
void qt_ind_rsi_batch(const double *x, size_t len, uint32_t n, double *out);
void qt_ind_atr_batch(const double *h, const double *l, const double *c, size_t len,
                      uint32_t n, double *out);
void qt_ind_macd_batch(const double *x, size_t len, uint32_t fast, uint32_t slow,
                       uint32_t signal, double *macd, double *sig, double *hist);
void qt_ind_bbands_batch(const double *x, size_t len, uint32_t n, double k, double *mid,
                         double *upper, double *lower);
void qt_ind_stoch_batch(const double *h, const double *l, const double *c, size_t len,
                        uint32_t n, uint32_t d, double *k_out, double *d_out);
void qt_ind_roc_batch(const double *x, size_t len, uint32_t n, double *roc, double *mom);
void qt_ind_rangevol_batch(const double *o, const double *h, const double *l,
                           const double *c, size_t len, uint32_t n, bool garman_klass,
                           double *out);
void qt_ind_zscore_batch(const double *x, size_t len, uint32_t n, double *out);
void qt_ind_obv_batch(const double *c, const double *v, size_t len, double *out);
void qt_ind_vwap_batch(const double *h, const double *l, const double *c, const double *v,
                       size_t len, uint32_t n, double *out);

/* init: false when n is out of range (SMA/EMA: 1..MAX; rollstat/rvol: 2..MAX). */
bool qt_ind_sma_init(qt_ind_sma_t *s, uint32_t n);
bool qt_ind_sma_update(qt_ind_sma_t *s, double x);
bool qt_ind_sma_ready(const qt_ind_sma_t *s);
double qt_ind_sma_value(const qt_ind_sma_t *s);   /* 0 until ready */

bool qt_ind_ema_init(qt_ind_ema_t *e, uint32_t n);
bool qt_ind_ema_update(qt_ind_ema_t *e, double x);
bool qt_ind_ema_ready(const qt_ind_ema_t *e);
double qt_ind_ema_value(const qt_ind_ema_t *e);   /* 0 until ready */

bool qt_ind_rollstat_init(qt_ind_rollstat_t *r, uint32_t n);
bool qt_ind_rollstat_update(qt_ind_rollstat_t *r, double x);
bool qt_ind_rollstat_ready(const qt_ind_rollstat_t *r);
double qt_ind_rollstat_mean(const qt_ind_rollstat_t *r);    /* 0 until ready */
double qt_ind_rollstat_stddev(const qt_ind_rollstat_t *r);  /* sample (n-1); 0 until ready */

bool qt_ind_rvol_init(qt_ind_rvol_t *v, uint32_t n);
/* price must be finite and > 0. */
bool qt_ind_rvol_update(qt_ind_rvol_t *v, double price);
bool qt_ind_rvol_ret_ready(const qt_ind_rvol_t *v);     /* at least two prices seen */
double qt_ind_rvol_last_return(const qt_ind_rvol_t *v); /* 0 until ret ready */
bool qt_ind_rvol_ready(const qt_ind_rvol_t *v);
double qt_ind_rvol_mean(const qt_ind_rvol_t *v);
double qt_ind_rvol_stddev(const qt_ind_rvol_t *v);

/* Serialisation (exact: doubles as IEEE bits). load validates every field (window
 * within range and equal to expect_n, positions consistent, all values finite) and
 * returns false on anything wrong; on false *x is unspecified. */
void qt_ind_sma_save(const qt_ind_sma_t *s, qt_buf_t *b);
bool qt_ind_sma_load(qt_ind_sma_t *s, qt_reader_t *r, uint32_t expect_n);
void qt_ind_ema_save(const qt_ind_ema_t *e, qt_buf_t *b);
bool qt_ind_ema_load(qt_ind_ema_t *e, qt_reader_t *r, uint32_t expect_n);
void qt_ind_rollstat_save(const qt_ind_rollstat_t *s, qt_buf_t *b);
bool qt_ind_rollstat_load(qt_ind_rollstat_t *s, qt_reader_t *r, uint32_t expect_n);
void qt_ind_rvol_save(const qt_ind_rvol_t *v, qt_buf_t *b);
bool qt_ind_rvol_load(qt_ind_rvol_t *v, qt_reader_t *r, uint32_t expect_n);

/* Batch definitions. out[i] is the indicator after input i, NAN while not ready.
 * sma: direct sum of x[i-n+1..i]. ema: seed = mean(x[0..n-1]), then recursion.
 * rolling mean/stddev: two-pass over x[i-n+1..i]. logret_stddev: returns computed
 * from prices, out[i] = stddev of the n returns ending at price i (NAN before). */
void qt_ind_sma_batch(const double *x, size_t len, uint32_t n, double *out);
void qt_ind_ema_batch(const double *x, size_t len, uint32_t n, double *out);
void qt_ind_rollstat_batch(const double *x, size_t len, uint32_t n, double *mean_out,
                           double *stddev_out);
void qt_ind_logret_stddev_batch(const double *prices, size_t len, uint32_t n, double *out);

int qt_indicators_selftest(bool verbose);
#endif
