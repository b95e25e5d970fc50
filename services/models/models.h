/* models: the pure core of qt-models (feature vectors -> model signals).
 *
 * MA_v1, a moving-average trend signal, stateless: each signal is a function of one
 * FeatureVector (feature_schema 1, see services/features/features.h):
 *   ready      = sma_fast, sma_slow and rvol all ready (and sma_slow > 0)
 *   vol        = max(rvol, 1e-6)                       (per-bar stddev of log returns)
 *   trend      = sma_fast / sma_slow - 1               (relative MA spread)
 *   score      = tanh(k * trend / vol)                 in (-1, 1); k = `gain` (default 1)
 *   confidence = |score|
 *   alpha      = score * rvol   (expected next-bar return proxy: a full-conviction
 *                                signal is worth one per-bar standard deviation)
 *   beta       = 1              (no market model yet)
 *   volatility = rvol, close = the vector's close
 * Not ready: score = confidence = alpha = 0, beta = 1, volatility = rvol if ready else 0,
 * ready = false (the signal is still emitted so downstream sees every symbol each batch).
 * trend/vol is the MA spread measured in per-bar standard deviations, so the same gain
 * works across assets of very different volatility. Every output is finite. */
#ifndef MODELS_H
#define MODELS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "qt/v1/market.pb-c.h"
#include "qt_buf.h"

#define MODELS_MA_V1 "MA_v1"
#define MODELS_VOL_FLOOR 1e-6
#define MODELS_SYMBOL_MAX 32

typedef struct {
    double gain;    /* k in score = tanh(k * trend / vol); (0, 1000] */
} models_cfg_t;

void models_cfg_default(models_cfg_t *cfg);   /* gain 1.0 */
bool models_cfg_valid(const models_cfg_t *cfg, char *why, size_t whylen);

typedef enum {
    MODELS_OK = 0,            /* *out filled (ready or not) */
    MODELS_INVALID            /* not a schema-1 vector, bad symbol, bar time out of [0, INT64_MAX/1e6] ms */
} models_rc_t;

/* Fills out (a Qt__V1__Signal with out->model / out->symbol pointing at static / fv
 * storage: valid as long as fv is). */
models_rc_t models_ma_v1(const models_cfg_t *cfg, const Qt__V1__FeatureVector *fv,
                         Qt__V1__Signal *out);

/* Stage state: the model is stateless; the snapshot only records the model id and gain
 * so a restart with a different configuration is refused instead of silently mixing. */
void models_save(const models_cfg_t *cfg, qt_buf_t *out);
bool models_load(const models_cfg_t *cfg, qt_reader_t *r);

#endif
