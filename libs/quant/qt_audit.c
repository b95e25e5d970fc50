/* qt_audit: series checks and cleaning policy; definitions in qt_audit.h. */
#include "qt_audit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const PROBLEM_NAMES[] = {"malformed", "non_finite", "non_positive",
                                            "negative_volume", "ohlc", "duplicate",
                                            "out_of_order", "off_grid", "outlier",
                                            "gap_before"};

const char *qt_audit_problem_str(uint32_t bit) {
    for (unsigned i = 0; i < sizeof PROBLEM_NAMES / sizeof *PROBLEM_NAMES; i++)
        if (bit == (1u << i)) return PROBLEM_NAMES[i];
    return NULL;
}

void qt_audit_free(qt_audit_t *a) {
    if (!a) return;
    free(a->gap_ranges);
    free(a->verdict);
    memset(a, 0, sizeof *a);
}

void qt_audit_add_counts(qt_audit_t *d, const qt_audit_t *s) {
    d->rows += s->rows;
    d->gaps += s->gaps;
    d->n_gap_ranges += s->n_gap_ranges;
    d->duplicates += s->duplicates;
    d->out_of_order += s->out_of_order;
    d->ohlc_violations += s->ohlc_violations;
    d->non_finite += s->non_finite;
    d->non_positive += s->non_positive;
    d->negative_volume += s->negative_volume;
    d->malformed += s->malformed;
    d->off_grid += s->off_grid;
    d->outliers += s->outliers;
    d->clean += s->clean;
}

static bool has_time(const qt_row_t *r) {
    return r->parsed || (r->why != QT_BARS_REJ_TIME && r->why != QT_BARS_REJ_COLUMNS);
}

static int cmp_dbl(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Median of a sorted array. */
static double median_sorted(const double *v, size_t n) {
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Marks rows with a time seen before (duplicate) or earlier than the latest seen
 * (out_of_order). Duplicate detection needs the set of earlier times: a sorted copy of
 * (time, row) pairs; a row is a duplicate when an earlier row index has the same time. */
typedef struct {
    int64_t t;
    size_t i;
} trow_t;

static int cmp_trow(const void *x, const void *y) {
    const trow_t *a = x, *b = y;
    if (a->t != b->t) return (a->t > b->t) - (a->t < b->t);
    return (a->i > b->i) - (a->i < b->i);
}

static int order_checks(const qt_rows_t *rows, qt_audit_t *a, int64_t interval_ms) {
    size_t n = rows->n, m = 0;
    trow_t *tr = malloc((n ? n : 1) * sizeof *tr);
    if (!tr) return -1;
    for (size_t i = 0; i < n; i++)
        if (has_time(&rows->rows[i])) tr[m++] = (trow_t){rows->rows[i].t_ms, i};
    qsort(tr, m, sizeof *tr, cmp_trow);
    for (size_t k = 1; k < m; k++)
        if (tr[k].t == tr[k - 1].t) a->verdict[tr[k].i] |= QT_AUDIT_DUPLICATE;
    /* gaps over the distinct sorted times */
    if (interval_ms > 0) {
        size_t cap = 0;
        for (size_t k = 1; k < m; k++) {
            int64_t d = tr[k].t - tr[k - 1].t;
            if (d <= interval_ms) continue;
            int64_t missing = d % interval_ms == 0 ? d / interval_ms - 1 : d / interval_ms;
            if (missing <= 0) continue;
            if (a->n_gap_ranges == cap) {
                size_t nc = cap ? cap * 2 : 16;
                qt_gap_range_t *ng = realloc(a->gap_ranges, nc * sizeof *ng);
                if (!ng) {
                    free(tr);
                    return -1;
                }
                a->gap_ranges = ng;
                cap = nc;
            }
            a->gap_ranges[a->n_gap_ranges++] =
                (qt_gap_range_t){tr[k - 1].t + interval_ms, tr[k - 1].t + missing * interval_ms};
            a->gaps += (uint64_t)missing;
        }
    }
    free(tr);
    bool any = false;
    int64_t tmax = 0;
    for (size_t i = 0; i < n; i++) {
        const qt_row_t *r = &rows->rows[i];
        if (!has_time(r)) continue;
        if (!(a->verdict[i] & QT_AUDIT_DUPLICATE) && any && r->t_ms < tmax)
            a->verdict[i] |= QT_AUDIT_OUT_OF_ORDER;
        if (!any || r->t_ms > tmax) tmax = r->t_ms;
        any = true;
        if (interval_ms > 0 && r->t_ms % interval_ms != 0) a->verdict[i] |= QT_AUDIT_OFF_GRID;
    }
    return 0;
}

/* Outliers over the clean rows (see the header). clean[] holds their row indices. */
static int outlier_checks(const qt_rows_t *rows, const size_t *clean, size_t nc, qt_audit_t *a,
                          const qt_audit_params_t *p) {
    if (nc < 4) return 0;
    double *ret = malloc((nc - 1) * sizeof *ret), *dev = malloc((nc - 1) * sizeof *dev);
    size_t *end = malloc((nc - 1) * sizeof *end);
    if (!ret || !dev || !end) {
        free(ret), free(dev), free(end);
        return -1;
    }
    size_t nr = 0;
    for (size_t k = 1; k < nc; k++) {
        const qt_row_t *r0 = &rows->rows[clean[k - 1]], *r1 = &rows->rows[clean[k]];
        if (p->interval_ms > 0 && r1->t_ms - r0->t_ms != p->interval_ms) continue;
        ret[nr] = log((double)r1->close / (double)r0->close);
        end[nr] = clean[k];
        nr++;
    }
    if (nr >= 3) {
        memcpy(dev, ret, nr * sizeof *dev);
        qsort(dev, nr, sizeof *dev, cmp_dbl);
        double med = median_sorted(dev, nr);
        for (size_t k = 0; k < nr; k++) dev[k] = fabs(ret[k] - med);
        qsort(dev, nr, sizeof *dev, cmp_dbl);
        double mad = median_sorted(dev, nr);
        if (mad > 0) {
            for (size_t k = 0; k < nr; k++) {
                double z = 0.6745 * (ret[k] - med) / mad;
                if (fabs(z) > p->outlier_z) a->verdict[end[k]] |= QT_AUDIT_OUTLIER;
            }
        }
    }
    free(ret), free(dev), free(end);
    return 0;
}

int qt_audit_run(const qt_rows_t *rows, const qt_audit_params_t *p, qt_audit_t *a) {
    memset(a, 0, sizeof *a);
    a->first_ms = a->last_ms = a->age_ms = -1;
    if (!rows || !p || !(p->outlier_z > 0) || p->stale_after_ms < 0) return -1;
    size_t n = rows->n;
    a->rows = n;
    a->verdict = calloc(n ? n : 1, sizeof *a->verdict);
    size_t *clean = malloc((n ? n : 1) * sizeof *clean);
    if (!a->verdict || !clean) {
        free(clean);
        qt_audit_free(a);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const qt_row_t *r = &rows->rows[i];
        uint32_t v = 0;
        if (!r->parsed) {
            v |= r->why == QT_BARS_REJ_NONFINITE ? QT_AUDIT_NONFINITE : QT_AUDIT_MALFORMED;
        } else {
            if (r->open <= 0 || r->high <= 0 || r->low <= 0 || r->close <= 0)
                v |= QT_AUDIT_NONPOSITIVE;
            if (r->volume < 0) v |= QT_AUDIT_NEGVOLUME;
            if (r->high < r->open || r->high < r->close || r->high < r->low ||
                r->low > r->open || r->low > r->close)
                v |= QT_AUDIT_OHLC;
        }
        a->verdict[i] = v;
    }
    if (order_checks(rows, a, p->interval_ms) != 0) {
        free(clean);
        qt_audit_free(a);
        return -1;
    }
    /* the clean rows: what qt_bars keeps */
    size_t nc = 0;
    for (size_t i = 0; i < n; i++) {
        const qt_row_t *r = &rows->rows[i];
        if (!r->parsed || qt_bars_check_row(r, NULL) >= 0) continue;
        if (nc && r->t_ms <= rows->rows[clean[nc - 1]].t_ms) continue;
        if (nc && p->interval_ms > 0 && r->t_ms - rows->rows[clean[nc - 1]].t_ms > p->interval_ms)
            a->verdict[i] |= QT_AUDIT_GAP_BEFORE;
        clean[nc++] = i;
    }
    a->clean = nc;
    if (outlier_checks(rows, clean, nc, a, p) != 0) {
        free(clean);
        qt_audit_free(a);
        return -1;
    }
    if (nc) {
        a->first_ms = rows->rows[clean[0]].t_ms;
        a->last_ms = rows->rows[clean[nc - 1]].t_ms;
        if (p->now_ms >= 0) {
            a->age_ms = p->now_ms - a->last_ms;
            a->stale = p->stale_after_ms > 0 && a->age_ms > p->stale_after_ms;
        }
    }
    free(clean);
    for (size_t i = 0; i < n; i++) {
        uint32_t v = a->verdict[i];
        a->malformed += !!(v & QT_AUDIT_MALFORMED);
        a->non_finite += !!(v & QT_AUDIT_NONFINITE);
        a->non_positive += !!(v & QT_AUDIT_NONPOSITIVE);
        a->negative_volume += !!(v & QT_AUDIT_NEGVOLUME);
        a->ohlc_violations += !!(v & QT_AUDIT_OHLC);
        a->duplicates += !!(v & QT_AUDIT_DUPLICATE);
        a->out_of_order += !!(v & QT_AUDIT_OUT_OF_ORDER);
        a->off_grid += !!(v & QT_AUDIT_OFF_GRID);
        a->outliers += !!(v & QT_AUDIT_OUTLIER);
    }
    return 0;
}

/* ---- cleaning policy ----------------------------------------------------------------- */

static const char *const ACTION_NAMES[] = {"drop", "quarantine", "flag"};

const char *qt_policy_action_str(qt_policy_action_t a) {
    return (unsigned)a < 3 ? ACTION_NAMES[a] : "unknown";
}

void qt_policy_default(qt_policy_t *p) {
    for (int i = 0; i < QT_AUDIT_PROBLEMS; i++) p->action[i] = QT_POLICY_QUARANTINE;
    p->action[8] = QT_POLICY_FLAG;   /* outlier */
}

int qt_policy_set(qt_policy_t *p, const char *problem, const char *action) {
    int bit = -1, act = -1;
    for (int i = 0; i < QT_AUDIT_PROBLEMS; i++)
        if (problem && strcmp(problem, PROBLEM_NAMES[i]) == 0) bit = i;
    for (int i = 0; i < 3; i++)
        if (action && strcmp(action, ACTION_NAMES[i]) == 0) act = i;
    if (bit < 0 || act < 0) return -1;
    if (act == QT_POLICY_FLAG && bit != 7 && bit != 8) return -1;
    p->action[bit] = (qt_policy_action_t)act;
    return 0;
}

void qt_cleaned_free(qt_cleaned_t *c) {
    if (!c) return;
    free(c->bars);
    free(c->suspect);
    free(c->quarantine);
    memset(c, 0, sizeof *c);
}

int qt_audit_clean(const qt_rows_t *rows, const qt_audit_t *a, const qt_policy_t *p,
                   qt_cleaned_t *out) {
    memset(out, 0, sizeof *out);
    size_t n = rows->n;
    out->bars = malloc((n ? n : 1) * sizeof *out->bars);
    out->suspect = malloc((n ? n : 1) * sizeof *out->suspect);
    out->quarantine = malloc((n ? n : 1) * sizeof *out->quarantine);
    if (!out->bars || !out->suspect || !out->quarantine || a->rows != n) {
        qt_cleaned_free(out);
        return -1;
    }
    uint32_t quar = 0, drop = 0, flag = 0;
    for (int i = 0; i < QT_AUDIT_PROBLEMS; i++) {
        if (p->action[i] == QT_POLICY_QUARANTINE) quar |= 1u << i;
        else if (p->action[i] == QT_POLICY_FLAG) flag |= 1u << i;
        else drop |= 1u << i;
    }
    /* Duplicate and out-of-order rows can never be kept (one bar per time, in order). */
    uint32_t never = QT_AUDIT_DUPLICATE | QT_AUDIT_OUT_OF_ORDER | QT_AUDIT_MALFORMED |
                     QT_AUDIT_NONFINITE | QT_AUDIT_NONPOSITIVE | QT_AUDIT_NEGVOLUME |
                     QT_AUDIT_OHLC;
    for (size_t i = 0; i < n; i++) {
        const qt_row_t *r = &rows->rows[i];
        uint32_t v = a->verdict[i] & ((1u << QT_AUDIT_PROBLEMS) - 1);
        bool kept_by_order = r->parsed && qt_bars_check_row(r, NULL) < 0 &&
                             (out->n == 0 || r->t_ms > out->bars[out->n - 1].t_ms);
        if (v & quar) {
            out->quarantine[out->n_quarantine++] = (qt_quarantine_item_t){i, v & quar};
        } else if ((v & drop) || (v & never) || !kept_by_order) {
            out->n_dropped++;
        } else {
            out->bars[out->n] = (qt_bar_t){r->t_ms, r->open, r->high, r->low, r->close, r->volume};
            out->suspect[out->n] = v & flag;
            out->n++;
        }
    }
    return 0;
}

/* ---- selftest ------------------------------------------------------------------------ */

int qt_audit_selftest(bool verbose) {
    int fails = 0;
#define CHECK(c)                                                      \
    do {                                                              \
        if (!(c)) {                                                   \
            fails++;                                                  \
            if (verbose) fprintf(stderr, "qt_audit: FAIL %s\n", #c); \
        }                                                             \
    } while (0)
    /* 1h grid: rows at 0,1,2 (dup of 2), 5 (gap 3..4), 4 (out of order), NaN at 6,
     * 7 with high < close */
    const char *j = "[[0,1,1,1,1,1],[3600000,1,1,1,1,1],[7200000,1,1,1,1,1],"
                    "[7200000,1,1,1,1,1],[18000000,1,1,1,1,1],[14400000,1,1,1,1,1],"
                    "[21600000,NaN,1,1,1,1],[25200000,1,1,1,2,1]]";
    qt_rows_t r;
    qt_rows_init(&r);
    char err[128];
    CHECK(qt_rows_parse_json(&r, j, strlen(j), err, sizeof err) == 0 && r.n == 8);
    qt_audit_params_t p = {3600000, QT_AUDIT_DEFAULT_Z, -1, 0};
    qt_audit_t a;
    CHECK(qt_audit_run(&r, &p, &a) == 0);
    CHECK(a.rows == 8 && a.duplicates == 1 && a.out_of_order == 1 && a.non_finite == 1);
    CHECK(a.ohlc_violations == 1 && a.gaps == 1 && a.n_gap_ranges == 1);
    CHECK(a.n_gap_ranges == 1 && a.gap_ranges[0].first_ms == 10800000 &&
          a.gap_ranges[0].last_ms == 10800000);
    qt_policy_t pol;
    qt_policy_default(&pol);
    qt_cleaned_t c;
    CHECK(qt_audit_clean(&r, &a, &pol, &c) == 0);
    CHECK(c.n == 4 && c.n_quarantine == 4 && c.n_dropped == 0);
    qt_cleaned_free(&c);
    qt_audit_free(&a);
    qt_rows_free(&r);
    CHECK(qt_policy_set(&pol, "ohlc", "flag") == -1);
    CHECK(qt_policy_set(&pol, "outlier", "drop") == 0 && pol.action[8] == QT_POLICY_DROP);
#undef CHECK
    if (verbose) fprintf(stderr, "qt_audit selftest: %s\n", fails ? "FAIL" : "ok");
    return fails;
}
