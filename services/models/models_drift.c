/* models_drift: live PSI / KS of an XGBoost model's inputs and predictions against the
 * training reference stored in its registry meta (see models.h). Why in the core: the
 * daemon exports the figures as metrics, the tests check them without Kafka. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models.h"
#include "qt_drift.h"

#define SERIES_MAX (MODELS_MAX_XGB_FEATURES + 1)
#define SAMPLE_MAX 4096

typedef struct {
    models_fname_t name;
    qt_psi_ref_t ref;
    double *sample;
    size_t nsample;
    double *ring;
    size_t head, count;
} series_t;

struct models_drift_t {
    series_t s[SERIES_MAX];
    size_t n, window;
};

void models_drift_destroy(models_drift_t **self_p) {
    if (!self_p || !*self_p) return;
    models_drift_t *d = *self_p;
    for (size_t k = 0; k < d->n; k++) {
        free(d->s[k].sample);
        free(d->s[k].ring);
    }
    free(d);
    *self_p = NULL;
}

/* One series from {edges, frac, sample}; false on anything malformed. */
static bool series_from(series_t *s, const char *name, const json_t *o, size_t window) {
    json_t *e = json_object_get(o, "edges"), *f = json_object_get(o, "frac"),
           *sm = json_object_get(o, "sample");
    size_t nb = json_array_size(f);
    if (strlen(name) > MODELS_FNAME_MAX || !json_is_array(e) || !json_is_array(f) ||
        !json_is_array(sm) || nb < 2 || nb > QT_DRIFT_MAX_BINS || json_array_size(e) != nb - 1 ||
        json_array_size(sm) < 2 || json_array_size(sm) > SAMPLE_MAX)
        return false;
    double edges[QT_DRIFT_MAX_BINS], frac[QT_DRIFT_MAX_BINS];
    for (size_t k = 0; k < nb; k++) {
        if (k + 1 < nb) {
            if (!json_is_number(json_array_get(e, k))) return false;
            edges[k] = json_number_value(json_array_get(e, k));
        }
        if (!json_is_number(json_array_get(f, k))) return false;
        frac[k] = json_number_value(json_array_get(f, k));
    }
    if (qt_psi_ref_set(&s->ref, edges, frac, nb) != 0) return false;
    snprintf(s->name, sizeof s->name, "%s", name);
    s->nsample = json_array_size(sm);
    s->sample = malloc(s->nsample * sizeof *s->sample);
    s->ring = malloc(window * sizeof *s->ring);
    if (!s->sample || !s->ring) return false;
    for (size_t k = 0; k < s->nsample; k++) {
        json_t *v = json_array_get(sm, k);
        if (!json_is_number(v) || !isfinite(json_number_value(v))) return false;
        s->sample[k] = json_number_value(v);
    }
    return true;
}

models_drift_t *models_drift_new(const json_t *meta, size_t window, char *err, size_t errlen) {
    const json_t *ref = json_object_get(meta, "reference");
    if (!json_is_object(ref) || window < 2 || window > 1000000) {
        if (err) snprintf(err, errlen, "meta has no 'reference' object (or window invalid)");
        return NULL;
    }
    models_drift_t *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->window = window;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)ref, key, v) {
        if (d->n == SERIES_MAX) break;
        series_t *s = &d->s[d->n++];
        if (!series_from(s, key, v, window)) {
            if (err) snprintf(err, errlen, "reference '%s' malformed", key);
            models_drift_destroy(&d);
            return NULL;
        }
    }
    if (d->n == 0) {
        if (err) snprintf(err, errlen, "reference is empty");
        models_drift_destroy(&d);
    }
    return d;
}

static void push(models_drift_t *d, series_t *s, double x) {
    if (!isfinite(x)) return;
    s->ring[s->head] = x;
    s->head = (s->head + 1) % d->window;
    if (s->count < d->window) s->count++;
}

void models_drift_observe(models_drift_t *self, const Qt__V1__FeatureVector *fv,
                          const Qt__V1__Signal *sig) {
    if (!self || !sig || !sig->ready) return;
    for (size_t k = 0; k < self->n; k++) {
        series_t *s = &self->s[k];
        if (strcmp(s->name, "_prediction") == 0) {
            push(self, s, (sig->score + 1.0) / 2.0);
            continue;
        }
        for (size_t i = 0; fv && i < fv->n_features; i++) {
            const Qt__V1__Feature *f = fv->features[i];
            if (f && f->name && f->ready && strcmp(f->name, s->name) == 0) {
                push(self, s, f->value);
                break;
            }
        }
    }
}

size_t models_drift_series(const models_drift_t *self) { return self ? self->n : 0; }

bool models_drift_stat(const models_drift_t *self, size_t k, size_t min_n, const char **name,
                       double *psi, double *ks, double *ks_p, size_t *n) {
    if (!self || k >= self->n) return false;
    const series_t *s = &self->s[k];
    *name = s->name;
    *n = s->count;
    if (s->count < min_n || s->count < 1) return false;
    *psi = qt_psi(&s->ref, s->ring, s->count, 0.0);
    *ks = qt_ks_stat(s->ring, s->count, s->sample, s->nsample);
    *ks_p = qt_ks_pvalue(*ks, s->count, s->nsample);
    return isfinite(*psi) && isfinite(*ks);
}
