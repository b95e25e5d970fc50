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
