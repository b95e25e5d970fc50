/* qt_metrics: counters and gauges, Prometheus text + JSON rendering (see qt_metrics.h).
 *
 * Why this shape: the hot path (qt_counter_inc, qt_gauge_set) is one relaxed atomic
 * operation on a heap object whose address never changes, so any thread may update
 * without locks. Registration and rendering take the registry mutex. Series are
 * grouped by metric name ("family") so HELP and TYPE appear exactly once per name
 * whatever the number of label sets, as the exposition format requires.
 *
 * Names and label strings are validated at registration: an invalid one is a
 * programming error and aborts (with a message), because a single malformed line
 * would make Prometheus reject the whole scrape. The number of series per registry
 * is bounded (QT_METRICS_MAX_SERIES): past it, registration returns a private sink
 * that counts but is never rendered, so label values derived from hostile input
 * cannot grow memory without bound. */
#include "qt_metrics.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qt_buf.h"

#define QT_METRICS_MAX_SERIES 4096

struct qt_counter_t {
    _Atomic uint64_t v;
};

struct qt_gauge_t {
    _Atomic uint64_t bits; /* the double's bit pattern: atomic doubles are not portable */
};

typedef enum { KIND_COUNTER, KIND_GAUGE } kind_t;

typedef struct {
    char *labels; /* "" when none */
    void *metric; /* qt_counter_t * or qt_gauge_t * */
} series_t;

typedef struct {
    char *name;
    char *help;
    kind_t kind;
    series_t *series;
    size_t n, cap;
} family_t;

struct qt_metrics_t {
    pthread_mutex_t mu;
    char *service;
    family_t *fam;
    size_t nfam, capfam;
    size_t nseries;
    qt_counter_t sink_counter; /* returned past the series bound; never rendered */
    qt_gauge_t sink_gauge;
};

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "qt_metrics: out of memory\n");
        abort();
    }
    return p;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = xmalloc(n);
    memcpy(p, s, n);
    return p;
}

static void *xgrow(void *p, size_t *cap, size_t elem)
{
    size_t nc = *cap ? *cap * 2 : 8;
    void *q = realloc(p, nc * elem);
    if (!q) {
        fprintf(stderr, "qt_metrics: out of memory\n");
        abort();
    }
    *cap = nc;
    return q;
}

qt_metrics_t *qt_metrics_new(const char *service)
{
    qt_metrics_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->service = strdup(service ? service : "unknown");
    if (!self->service || pthread_mutex_init(&self->mu, NULL) != 0) {
        free(self->service);
        free(self);
        return NULL;
    }
    atomic_init(&self->sink_counter.v, 0);
    atomic_init(&self->sink_gauge.bits, 0);
    return self;
}

void qt_metrics_destroy(qt_metrics_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    qt_metrics_t *self = *self_p;
    for (size_t i = 0; i < self->nfam; i++) {
        family_t *f = &self->fam[i];
        for (size_t j = 0; j < f->n; j++) {
            free(f->series[j].labels);
            free(f->series[j].metric);
        }
        free(f->series);
        free(f->name);
        free(f->help);
    }
    free(self->fam);
    free(self->service);
    pthread_mutex_destroy(&self->mu);
    free(self);
    *self_p = NULL;
}

/* ------------------------------------------------------------- validation */

static bool valid_name(const char *name, kind_t kind)
{
    if (!name || strncmp(name, "qt_", 3) != 0)
        return false;
    for (const char *p = name; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || c == '_' || (p != name && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    size_t n = strlen(name);
    bool total = n >= 6 && strcmp(name + n - 6, "_total") == 0;
    if (kind == KIND_COUNTER)
        return total && n > 9; /* "qt_" + something + "_total" */
    return !total && n > 3;
}

/* labels: name="value"(,name="value")*, value escapes \\ \" \n only, no raw newline;
 * names [a-zA-Z_][a-zA-Z0-9_]*, not "__*", not "service", not repeated. */
static bool valid_labels(const char *s)
{
    if (!s || !*s)
        return true;
    const char *names[32];
    size_t lens[32];
    size_t nn = 0;
    const char *p = s;
    for (;;) {
        const char *start = p;
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_'))
            return false;
        p++;
        while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
               (*p >= '0' && *p <= '9'))
            p++;
        size_t len = (size_t)(p - start);
        if (len >= 2 && start[0] == '_' && start[1] == '_')
            return false;
        if (len == 7 && strncmp(start, "service", 7) == 0)
            return false;
        for (size_t i = 0; i < nn; i++)
            if (lens[i] == len && strncmp(names[i], start, len) == 0)
                return false;
        if (nn == 32)
            return false;
        names[nn] = start;
        lens[nn++] = len;
        if (*p++ != '=')
            return false;
        if (*p++ != '"')
            return false;
        for (;;) {
            if (*p == '\0' || *p == '\n')
                return false;
            if (*p == '"')
                break;
            if (*p == '\\') {
                p++;
                if (*p != '\\' && *p != '"' && *p != 'n')
                    return false;
            }
            p++;
        }
        p++; /* closing quote */
        if (*p == '\0')
            return true;
        if (*p++ != ',')
            return false;
    }
}

/* ----------------------------------------------------------- registration */

static family_t *find_family(qt_metrics_t *self, const char *name)
{
    for (size_t i = 0; i < self->nfam; i++)
        if (strcmp(self->fam[i].name, name) == 0)
            return &self->fam[i];
    return NULL;
}

static series_t *find_series(family_t *f, const char *labels)
{
    for (size_t j = 0; j < f->n; j++)
        if (strcmp(f->series[j].labels, labels) == 0)
            return &f->series[j];
    return NULL;
}

static void *reg(qt_metrics_t *self, kind_t kind, const char *name, const char *help,
                 const char *labels)
{
    if (!self) {
        fprintf(stderr, "qt_metrics: register '%s' on a NULL registry\n", name ? name : "");
        abort();
    }
    if (!valid_name(name, kind)) {
        fprintf(stderr, "qt_metrics: invalid %s name '%s'\n",
                kind == KIND_COUNTER ? "counter" : "gauge", name ? name : "(null)");
        abort();
    }
    if (!labels)
        labels = "";
    if (!valid_labels(labels)) {
        fprintf(stderr, "qt_metrics: invalid labels for '%s': %s\n", name, labels);
        abort();
    }
    void *result;
    pthread_mutex_lock(&self->mu);
    family_t *f = find_family(self, name);
    if (f && f->kind != kind) {
        pthread_mutex_unlock(&self->mu);
        fprintf(stderr, "qt_metrics: '%s' registered as both counter and gauge\n", name);
        abort();
    }
    series_t *s = f ? find_series(f, labels) : NULL;
    if (s) {
        result = s->metric;
    } else if (self->nseries >= QT_METRICS_MAX_SERIES) {
        result = kind == KIND_COUNTER ? (void *)&self->sink_counter : (void *)&self->sink_gauge;
    } else {
        if (!f) {
            if (self->nfam == self->capfam)
                self->fam = xgrow(self->fam, &self->capfam, sizeof *self->fam);
            f = &self->fam[self->nfam++];
            memset(f, 0, sizeof *f);
            f->name = xstrdup(name);
            f->help = xstrdup(help && *help ? help : name);
            f->kind = kind;
        }
        if (f->n == f->cap)
            f->series = xgrow(f->series, &f->cap, sizeof *f->series);
        s = &f->series[f->n++];
        s->labels = xstrdup(labels);
        if (kind == KIND_COUNTER) {
            qt_counter_t *c = xmalloc(sizeof *c);
            atomic_init(&c->v, 0);
            s->metric = c;
        } else {
            qt_gauge_t *g = xmalloc(sizeof *g);
            double zero = 0.0;
            uint64_t bits;
            memcpy(&bits, &zero, sizeof bits);
            atomic_init(&g->bits, bits);
            s->metric = g;
        }
        self->nseries++;
        result = s->metric;
    }
    pthread_mutex_unlock(&self->mu);
    return result;
}

qt_counter_t *qt_metrics_counter(qt_metrics_t *self, const char *name, const char *help,
                                 const char *labels)
{
    return reg(self, KIND_COUNTER, name, help, labels);
}

qt_gauge_t *qt_metrics_gauge(qt_metrics_t *self, const char *name, const char *help,
                             const char *labels)
{
    return reg(self, KIND_GAUGE, name, help, labels);
}

qt_counter_t *qt_metrics_find_counter(qt_metrics_t *self, const char *name, const char *labels)
{
    if (!self || !name)
        return NULL;
    qt_counter_t *c = NULL;
    pthread_mutex_lock(&self->mu);
    family_t *f = find_family(self, name);
    if (f && f->kind == KIND_COUNTER) {
        series_t *s = find_series(f, labels ? labels : "");
        if (s)
            c = s->metric;
    }
    pthread_mutex_unlock(&self->mu);
    return c;
}

qt_gauge_t *qt_metrics_find_gauge(qt_metrics_t *self, const char *name, const char *labels)
{
    if (!self || !name)
        return NULL;
    qt_gauge_t *g = NULL;
    pthread_mutex_lock(&self->mu);
    family_t *f = find_family(self, name);
    if (f && f->kind == KIND_GAUGE) {
        series_t *s = find_series(f, labels ? labels : "");
        if (s)
            g = s->metric;
    }
    pthread_mutex_unlock(&self->mu);
    return g;
}

/* ---------------------------------------------------------------- updates */

void qt_counter_inc(qt_counter_t *c)
{
    if (c)
        atomic_fetch_add_explicit(&c->v, 1, memory_order_relaxed);
}

void qt_counter_add(qt_counter_t *c, uint64_t n)
{
    if (c)
        atomic_fetch_add_explicit(&c->v, n, memory_order_relaxed);
}

uint64_t qt_counter_value(const qt_counter_t *c)
{
    return c ? atomic_load_explicit(&((qt_counter_t *)c)->v, memory_order_relaxed) : 0;
}

void qt_gauge_set(qt_gauge_t *g, double v)
{
    if (!g)
        return;
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    atomic_store_explicit(&g->bits, bits, memory_order_relaxed);
}

void qt_gauge_add(qt_gauge_t *g, double delta)
{
    if (!g)
        return;
    uint64_t old = atomic_load_explicit(&g->bits, memory_order_relaxed);
    for (;;) {
        double d;
        memcpy(&d, &old, sizeof d);
        d += delta;
        uint64_t nb;
        memcpy(&nb, &d, sizeof nb);
        if (atomic_compare_exchange_weak_explicit(&g->bits, &old, nb, memory_order_relaxed,
                                                  memory_order_relaxed))
            return;
    }
}

double qt_gauge_value(const qt_gauge_t *g)
{
    if (!g)
        return 0.0;
    uint64_t bits = atomic_load_explicit(&((qt_gauge_t *)g)->bits, memory_order_relaxed);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* -------------------------------------------------------------- rendering */

static void put(qt_buf_t *b, const char *s)
{
    qt_buf_put_bytes(b, s, strlen(s));
}

/* HELP text escaping: backslash and newline. */
static void put_help(qt_buf_t *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            put(b, "\\\\");
        else if (*s == '\n')
            put(b, "\\n");
        else
            qt_buf_put_bytes(b, s, 1);
    }
}

/* Label value escaping: backslash, double quote, newline. */
static void put_label_value(qt_buf_t *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            put(b, "\\\\");
        else if (*s == '"')
            put(b, "\\\"");
        else if (*s == '\n')
            put(b, "\\n");
        else
            qt_buf_put_bytes(b, s, 1);
    }
}

static void format_double(double v, char *out, size_t len)
{
    if (isnan(v))
        snprintf(out, len, "NaN");
    else if (isinf(v))
        snprintf(out, len, v > 0 ? "+Inf" : "-Inf");
    else
        snprintf(out, len, "%.17g", v);
}

char *qt_metrics_render(qt_metrics_t *self)
{
    if (!self)
        return NULL;
    qt_buf_t b;
    qt_buf_init(&b);
    pthread_mutex_lock(&self->mu);
    for (size_t i = 0; i < self->nfam; i++) {
        family_t *f = &self->fam[i];
        put(&b, "# HELP ");
        put(&b, f->name);
        put(&b, " ");
        put_help(&b, f->help);
        put(&b, "\n# TYPE ");
        put(&b, f->name);
        put(&b, f->kind == KIND_COUNTER ? " counter\n" : " gauge\n");
        for (size_t j = 0; j < f->n; j++) {
            series_t *s = &f->series[j];
            put(&b, f->name);
            put(&b, "{service=\"");
            put_label_value(&b, self->service);
            put(&b, "\"");
            if (s->labels[0]) {
                put(&b, ",");
                put(&b, s->labels);
            }
            put(&b, "} ");
            char num[64];
            if (f->kind == KIND_COUNTER)
                snprintf(num, sizeof num, "%llu",
                         (unsigned long long)qt_counter_value((qt_counter_t *)s->metric));
            else
                format_double(qt_gauge_value((qt_gauge_t *)s->metric), num, sizeof num);
            put(&b, num);
            put(&b, "\n");
        }
    }
    pthread_mutex_unlock(&self->mu);
    qt_buf_put_bytes(&b, "", 1); /* NUL */
    if (b.oom) {
        qt_buf_free(&b);
        return NULL;
    }
    return (char *)b.data; /* ownership passes to the caller */
}

char *qt_metrics_render_json(qt_metrics_t *self)
{
    if (!self)
        return NULL;
    json_t *root = json_object();
    if (!root)
        return NULL;
    char key[1024];
    pthread_mutex_lock(&self->mu);
    for (size_t i = 0; i < self->nfam; i++) {
        family_t *f = &self->fam[i];
        for (size_t j = 0; j < f->n; j++) {
            series_t *s = &f->series[j];
            const char *k = f->name;
            char *heap = NULL;
            if (s->labels[0]) {
                int n = snprintf(key, sizeof key, "%s{%s}", f->name, s->labels);
                if (n < 0)
                    continue;
                if ((size_t)n < sizeof key) {
                    k = key;
                } else {
                    heap = malloc((size_t)n + 1);
                    if (!heap)
                        continue;
                    snprintf(heap, (size_t)n + 1, "%s{%s}", f->name, s->labels);
                    k = heap;
                }
            }
            json_t *v;
            if (f->kind == KIND_COUNTER) {
                uint64_t c = qt_counter_value((qt_counter_t *)s->metric);
                v = json_integer(c > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)c);
            } else {
                double d = qt_gauge_value((qt_gauge_t *)s->metric);
                v = isfinite(d) ? json_real(d) : json_null(); /* JSON has no NaN/Inf */
            }
            json_object_set_new(root, k, v);
            free(heap);
        }
    }
    pthread_mutex_unlock(&self->mu);
    char *out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    return out;
}

/* ---------------------------------------------------------------- selftest */

int qt_metrics_selftest(bool verbose)
{
    int fails = 0;
#define CHECK(c)                                                                         \
    do {                                                                                 \
        if (!(c)) {                                                                      \
            fails++;                                                                     \
            if (verbose)                                                                 \
                fprintf(stderr, "qt_metrics selftest: %s:%d: %s\n", __FILE__, __LINE__, #c); \
        }                                                                                \
    } while (0)
    qt_metrics_t *m = qt_metrics_new("qt-self");
    if (!m)
        return -1;
    qt_counter_t *a = qt_metrics_counter(m, "qt_frames_total", "Frames.", "reason=\"ok\"");
    qt_counter_t *b = qt_metrics_counter(m, "qt_frames_total", "Frames.", "reason=\"bad\"");
    qt_gauge_t *g = qt_metrics_gauge(m, "qt_lag_seconds", "Lag.", NULL);
    CHECK(a && b && a != b && g);
    CHECK(qt_metrics_counter(m, "qt_frames_total", "x", "reason=\"ok\"") == a);
    qt_counter_inc(a);
    qt_counter_add(b, 5);
    qt_gauge_set(g, 1.5);
    CHECK(qt_counter_value(a) == 1 && qt_counter_value(b) == 5 && qt_gauge_value(g) == 1.5);
    CHECK(qt_metrics_find_counter(m, "qt_frames_total", "reason=\"bad\"") == b);
    CHECK(qt_metrics_find_counter(m, "qt_frames_total", NULL) == NULL);
    char *txt = qt_metrics_render(m);
    const char *want = "# HELP qt_frames_total Frames.\n"
                       "# TYPE qt_frames_total counter\n"
                       "qt_frames_total{service=\"qt-self\",reason=\"ok\"} 1\n"
                       "qt_frames_total{service=\"qt-self\",reason=\"bad\"} 5\n"
                       "# HELP qt_lag_seconds Lag.\n"
                       "# TYPE qt_lag_seconds gauge\n"
                       "qt_lag_seconds{service=\"qt-self\"} 1.5\n";
    CHECK(txt && strcmp(txt, want) == 0);
    free(txt);
    char *js = qt_metrics_render_json(m);
    CHECK(js && strcmp(js, "{\"qt_frames_total{reason=\\\"ok\\\"}\":1,"
                           "\"qt_frames_total{reason=\\\"bad\\\"}\":5,"
                           "\"qt_lag_seconds\":1.5}") == 0);
    free(js);
    qt_metrics_destroy(&m);
    CHECK(m == NULL);
#undef CHECK
    if (verbose)
        fprintf(stderr, "qt_metrics selftest: %s\n", fails ? "FAILED" : "ok");
    return fails ? -1 : 0;
}
