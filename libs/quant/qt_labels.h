/* qt_labels: supervised-learning labels over a price series (fixed-horizon returns,
 * volatility-adjusted returns, triple-barrier labels and meta-labels).
 *
 * Why: a model is only as honest as its labels. Fixed-horizon returns ignore the path
 * and the volatility regime; the triple-barrier method (Lopez de Prado, "Advances in
 * Financial Machine Learning" (AFML), 2018, ch. 3) labels each event by the FIRST of
 * three barriers its price path touches: a profit-take and a stop-loss set as multiples
 * of a volatility target known at the event start (no look-ahead), and a vertical
 * barrier (a maximum holding time). With a side (long/short from a primary model) the
 * label becomes a meta-label: 1 = act on the primary signal, 0 = pass.
 *
 * Indices are bar positions 0..n-1 in the input arrays. Every function is pure: no I/O,
 * no allocation unless stated, identical output for identical input. Definitions and
 * the tests that check them: docs/quant/statistics.md. */
#ifndef QT_LABELS_H
#define QT_LABELS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Fixed-horizon simple return: out[i] = close[i+h] / close[i] - 1 for i + h < n, NaN
 * otherwise (the last h bars, or when either price is not finite and > 0).
 * horizon >= 1. Returns 0, or -1 on bad arguments (NULL, horizon 0). */
int qt_label_fwd_return(const double *close, size_t n, size_t horizon, double *out);

/* Rolling volatility target: out[i] = sample standard deviation (n-1 denominator) of
 * the `window` simple one-bar returns close[j]/close[j-1]-1 for j = i-window+1 .. i,
 * i.e. only data known at bar i. NaN while fewer than `window` returns exist (i < window)
 * or when any price in the window is not finite and > 0. window >= 2. 0 / -1. */
int qt_label_rolling_vol(const double *close, size_t n, size_t window, double *out);

/* Volatility-adjusted fixed-horizon return: out[i] = fwd[i] / (vol[i] * sqrt(h)), where
 * fwd is qt_label_fwd_return and vol a per-bar volatility (e.g. qt_label_rolling_vol);
 * NaN where either is NaN or vol[i] <= 0. 0 / -1. */
int qt_label_vol_adjusted(const double *close, const double *vol, size_t n,
                          size_t horizon, double *out);

/* ---- triple barrier ---- */

typedef enum {
    QT_TB_PROFIT = 1,        /* upper (profit-take) barrier touched first */
    QT_TB_STOP = 2,          /* lower (stop-loss) barrier touched first */
    QT_TB_VERTICAL = 3       /* neither before the vertical barrier */
} qt_tb_barrier_t;

typedef struct {
    double pt_mult;          /* profit-take at +pt_mult * trgt[t0]; 0 disables it */
    double sl_mult;          /* stop-loss at -sl_mult * trgt[t0]; 0 disables it */
    size_t horizon;          /* vertical barrier at t0 + horizon bars (>= 1) */
    double min_target;       /* skip events with trgt[t0] < min_target (0 = keep all) */
    bool vertical_sign;      /* label at the vertical barrier: true = sign of the return
                                (AFML getBins), false = 0 ("no decision") */
} qt_tb_params_t;

typedef struct {
    size_t t0;               /* event start (entry at close[t0]) */
    size_t t1;               /* bar of the first touch, or t0 + horizon */
    double trgt;             /* volatility target at t0 */
    double ret;              /* return of the position from close[t0] to the exit, times
                                side (1 when no side): see the touch rules below */
    int8_t side;             /* +1 / -1 (+1 when no side was given) */
    int8_t label;            /* without side: -1 / 0 / +1; with side (meta): 0 / 1 */
    uint8_t barrier;         /* qt_tb_barrier_t */
} qt_tb_event_t;

/* Triple-barrier labels, AFML ch. 3 (getEvents / applyPtSlOnT1 / getBins), index-based.
 *
 * Inputs: close[n]; high[n] and low[n] may both be NULL (close-only path, exactly AFML)
 * or both given (intrabar touches); trgt[n] the volatility target per bar (e.g.
 * qt_label_rolling_vol; NaN/<=0 = no event at that bar); side[n] may be NULL (no side:
 * labels -1/0/+1) or +1/-1 per bar (0 = no event at that bar: meta-labelling of a
 * primary model's signals); t0s[n_t0] optional candidate event starts (strictly
 * increasing, < n), NULL = every bar.
 *
 * For an event at t0 with side s (1 without side), entry price c0 = close[t0], bars
 * j = t0+1 .. min(t0+horizon, n-1) are scanned in order:
 *  - close-only: r_j = s * (close[j]/c0 - 1); profit if pt_mult > 0 and
 *    r_j >= pt_mult*trgt, stop if sl_mult > 0 and r_j <= -sl_mult*trgt; ret = r_j.
 *  - high/low: for s=+1 the favourable extreme is high[j], the adverse one low[j] (for
 *    s=-1 the reverse); a touch of either barrier is checked on those extremes and ret
 *    is the barrier return itself (+pt_mult*trgt or -sl_mult*trgt; gaps ignored). If
 *    both barriers are touched within the same bar the order is unknown and the STOP is
 *    taken (conservative).
 *  - first touch wins; with no touch by t0 + horizon the event ends at the vertical
 *    barrier with ret = s * (close[t0+horizon]/c0 - 1).
 *  - an event whose vertical barrier lies past the data (t0 + horizon >= n) and that
 *    touched nothing before the end is dropped (its outcome is unknown).
 * Labels: PROFIT -> +1, STOP -> -1, VERTICAL -> sign(ret) if vertical_sign else 0.
 * With side (meta-label): label = 1 if the event's ret > 0 (PROFIT, or VERTICAL with
 * ret > 0 when vertical_sign) else 0.
 *
 * out must hold n_t0 events (n when t0s is NULL); the kept events are written in t0
 * order and their count stored in *n_out. Returns 0, or -1 on bad arguments (NULL
 * close/trgt/out/n_out, horizon 0, negative or non-finite multiples, exactly one of
 * high/low NULL, t0s not strictly increasing or out of range). */
int qt_label_triple_barrier(const double *close, const double *high, const double *low,
                            size_t n, const double *trgt, const int8_t *side,
                            const size_t *t0s, size_t n_t0, const qt_tb_params_t *p,
                            qt_tb_event_t *out, size_t *n_out);

/* Stable lower-case name of a barrier ("profit", "stop", "vertical"; "?" otherwise). */
const char *qt_tb_barrier_str(int barrier);

int qt_labels_selftest(bool verbose);
#endif
