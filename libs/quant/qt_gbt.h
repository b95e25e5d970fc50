/* qt_gbt: gradient-boosted trees for binary classification, through the XGBoost C API
 * (libxgboost 1.7). Why a wrapper: the rest of the project must not see handles,
 * JSON parameter strings or XGBoost's error convention, and every model it trains must
 * be reproducible: training runs with nthread=1, a fixed seed, tree_method=hist and
 * rows/columns in the caller's order, so the same matrix + labels + parameters + seed
 * give a byte-identical saved model (tests/unit/test_gbt.c checks it through sha256).
 * Models are saved as XGBoost's JSON model format into a malloc'd buffer and loaded back
 * from one; the number of columns is checked on load. Only JSON is accepted on load:
 * XGBoost 1.7's UBJSON reader reads past the end of a truncated buffer (ASan), its JSON
 * reader does not. Still, load only bytes whose hash was verified (qt_registry does).
 * Objective: binary:logistic (label 0/1, optional per-row weights); predictions are
 * probabilities of class 1. A qt_gbt_t may be used by one thread at a time. */
#ifndef QT_GBT_H
#define QT_GBT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t rounds;          /* boosting rounds, 1..10000 (default 100) */
    uint32_t max_depth;       /* 1..16 (default 3) */
    double eta;               /* learning rate (0, 1] (default 0.05) */
    double subsample;         /* row subsampling (0, 1] (default 0.8) */
    double colsample;         /* column subsampling per tree (0, 1] (default 0.8) */
    double min_child_weight;  /* >= 0 (default 5) */
    double lambda;            /* L2 >= 0 (default 1) */
    uint64_t seed;            /* XGBoost's seed (default 42); reduced to 31 bits */
} qt_gbt_params_t;

typedef struct qt_gbt_t qt_gbt_t;

void qt_gbt_params_default(qt_gbt_params_t *p);
bool qt_gbt_params_valid(const qt_gbt_params_t *p, char *why, size_t whylen);

/* Trains on X (nrows x ncols, row-major, finite or NaN = missing), y in {0, 1}, w
 * (NULL = all 1). NULL with a message in err on invalid input or an XGBoost error. */
qt_gbt_t *qt_gbt_train(const float *X, size_t nrows, size_t ncols, const float *y,
                       const float *w, const qt_gbt_params_t *p, char *err, size_t errlen);
/* Probability of class 1 for each of nrows rows of X into out. 0 ok, -1 error. */
int qt_gbt_predict(qt_gbt_t *self, const float *X, size_t nrows, float *out);
/* Serialises into *buf (malloc'd, caller frees). 0 ok, -1 error. */
int qt_gbt_save(qt_gbt_t *self, uint8_t **buf, size_t *len);
/* Loads a saved model that must expect ncols features. NULL with err on failure. */
qt_gbt_t *qt_gbt_load(const uint8_t *buf, size_t len, size_t ncols, char *err, size_t errlen);
size_t qt_gbt_ncols(const qt_gbt_t *self);
void qt_gbt_destroy(qt_gbt_t **self_p);

/* Binary log loss and accuracy (threshold 0.5) of probabilities p against y; p clipped
 * to [1e-15, 1 - 1e-15]. */
double qt_gbt_logloss(const float *p, const float *y, size_t n);
double qt_gbt_accuracy(const float *p, const float *y, size_t n);

int qt_gbt_selftest(bool verbose);
#endif
