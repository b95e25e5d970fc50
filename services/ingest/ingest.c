/* ingest: replay core; see ingest.h. */
#include "ingest.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CKPT_MAGIC 0x47495451u   /* "QTIG" little-endian */
#define CKPT_VERSION 1u

typedef struct {
    char symbol[INGEST_SYMBOL_MAX + 1];
    qt_bar_t *bars;
    uint32_t *flags;        /* extra flags per bar, NULL = none */
    size_t n;
    size_t idx;             /* next bar to emit */
    int64_t last_emit_ms;   /* newest emitted bar (-1 = none) */
    size_t last_emit_idx;
    bool missing, stale;    /* freshness state */
} series_t;

struct ingest_t {
    int64_t interval_ms, start_ms, end_ms;
    series_t *series;       /* sorted by symbol */
    size_t nseries;
    bool started;
    ingest_item_t *items;   /* batch buffer, nseries slots */
};

ingest_t *ingest_new(int64_t interval_ms, int64_t start_ms, int64_t end_ms) {
    if (interval_ms <= 0) return NULL;
    if (end_ms < 0) end_ms = INT64_MAX;
    if (end_ms < start_ms) return NULL;
    ingest_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    self->interval_ms = interval_ms;
    self->start_ms = start_ms;
    self->end_ms = end_ms;
    return self;
}

void ingest_destroy(ingest_t **self_p) {
    if (!self_p || !*self_p) return;
    ingest_t *self = *self_p;
    for (size_t i = 0; i < self->nseries; i++) {
        free(self->series[i].bars);
        free(self->series[i].flags);
    }
    free(self->series);
    free(self->items);
    free(self);
    *self_p = NULL;
}

bool ingest_symbol_valid(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > INGEST_SYMBOL_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '_' && c != '-' && c != '.') return false;
    }
    return true;
}

static size_t first_at_or_after(const series_t *s, int64_t t) {
    size_t lo = 0, hi = s->n;   /* binary search: first bar with t_ms >= t */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->bars[mid].t_ms < t) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

int ingest_add_series(ingest_t *self, const char *symbol, const qt_bar_t *bars, size_t n) {
    return ingest_add_series_flags(self, symbol, bars, NULL, n);
}

int ingest_add_series_flags(ingest_t *self, const char *symbol, const qt_bar_t *bars,
                            const uint32_t *flags, size_t n) {
    if (!self || self->started || !ingest_symbol_valid(symbol)) return -1;
    if (self->nseries >= INGEST_MAX_SERIES || (n && !bars)) return -1;
    for (size_t i = 1; i < n; i++)
        if (bars[i].t_ms <= bars[i - 1].t_ms) return -1;
    size_t at = 0;
    while (at < self->nseries) {
        int c = strcmp(self->series[at].symbol, symbol);
        if (c == 0) return -1;
        if (c > 0) break;
        at++;
    }
    series_t *ns = realloc(self->series, (self->nseries + 1) * sizeof *ns);
    if (!ns) return -1;
    self->series = ns;
    series_t s = {0};
    snprintf(s.symbol, sizeof s.symbol, "%s", symbol);
    if (n) {
        s.bars = malloc(n * sizeof *s.bars);
        if (!s.bars) return -1;
        memcpy(s.bars, bars, n * sizeof *bars);
        if (flags) {
            s.flags = malloc(n * sizeof *s.flags);
            if (!s.flags) {
                free(s.bars);
                return -1;
            }
            memcpy(s.flags, flags, n * sizeof *flags);
        }
    }
    s.n = n;
    s.last_emit_ms = -1;
    s.idx = first_at_or_after(&s, self->start_ms);
    memmove(&self->series[at + 1], &self->series[at], (self->nseries - at) * sizeof s);
    self->series[at] = s;
    self->nseries++;
    return 0;
}

size_t ingest_series_count(const ingest_t *self) { return self ? self->nseries : 0; }

const char *ingest_series_symbol(const ingest_t *self, size_t i) {
    return self && i < self->nseries ? self->series[i].symbol : NULL;
}

bool ingest_last_bar(const ingest_t *self, size_t i, qt_bar_t *bar, uint32_t *flags) {
    if (!self || i >= self->nseries || self->series[i].last_emit_ms < 0) return false;
    const series_t *s = &self->series[i];
    *bar = s->bars[s->last_emit_idx];
    *flags = s->flags ? s->flags[s->last_emit_idx] : 0;
    return true;
}

size_t ingest_freshness(ingest_t *self, const ingest_batch_t *b, int64_t sla_ms,
                        ingest_fresh_ev_t *ev, size_t max, int64_t *ages) {
    size_t nev = 0;
    if (!self || !b) return 0;
    for (size_t i = 0; i < self->nseries; i++) {
        series_t *s = &self->series[i];
        int64_t age = s->last_emit_ms < 0 ? -1 : b->t_ms - s->last_emit_ms;
        if (ages) ages[i] = age;
        if (age < 0) continue;
        ingest_fresh_ev_t e = {INGEST_EV_MISSING, i, s->last_emit_ms, age};
        if (age == 0) {
            s->missing = false;
            if (s->stale) {
                s->stale = false;
                e.kind = INGEST_EV_FRESH;
                if (nev < max) ev[nev] = e;
                nev++;
            }
            continue;
        }
        if (!s->missing) {
            s->missing = true;
            if (nev < max) ev[nev] = e;
            nev++;
        }
        if (!s->stale && age > sla_ms) {
            s->stale = true;
            e.kind = INGEST_EV_STALE;
            if (nev < max) ev[nev] = e;
            nev++;
        }
    }
    return nev;
}

static bool head(const ingest_t *self, const series_t *s, int64_t *t) {
    if (s->idx >= s->n || s->bars[s->idx].t_ms > self->end_ms) return false;
    *t = s->bars[s->idx].t_ms;
    return true;
}

size_t ingest_remaining_bars(const ingest_t *self) {
    size_t total = 0;
    for (size_t i = 0; i < self->nseries; i++) {
        const series_t *s = &self->series[i];
        for (size_t j = s->idx; j < s->n && s->bars[j].t_ms <= self->end_ms; j++) total++;
    }
    return total;
}

size_t ingest_remaining_batches(const ingest_t *self) {
    /* k-way walk over copies of the cursors, counting distinct timestamps. */
    size_t *cur = calloc(self->nseries ? self->nseries : 1, sizeof *cur);
    if (!cur) return 0;
    for (size_t i = 0; i < self->nseries; i++) cur[i] = self->series[i].idx;
    size_t batches = 0;
    for (;;) {
        int64_t tmin = INT64_MAX;
        bool any = false;
        for (size_t i = 0; i < self->nseries; i++) {
            const series_t *s = &self->series[i];
            if (cur[i] < s->n && s->bars[cur[i]].t_ms <= self->end_ms &&
                s->bars[cur[i]].t_ms < tmin) {
                tmin = s->bars[cur[i]].t_ms;
                any = true;
            }
        }
        if (!any) break;
        batches++;
        for (size_t i = 0; i < self->nseries; i++) {
            const series_t *s = &self->series[i];
            if (cur[i] < s->n && s->bars[cur[i]].t_ms == tmin) cur[i]++;
        }
    }
    free(cur);
    return batches;
}

void ingest_resume_after(ingest_t *self, int64_t t_ms) {
    if (!self || t_ms == INT64_MAX) return;
    int64_t from = t_ms + 1 > self->start_ms ? t_ms + 1 : self->start_ms;
    for (size_t i = 0; i < self->nseries; i++) {
        series_t *s = &self->series[i];
        size_t k = first_at_or_after(s, from);
        if (k > s->idx) {
            s->idx = k;
            /* what the earlier run emitted: freshness continues from there */
            if (s->bars[k - 1].t_ms >= self->start_ms) {
                s->last_emit_ms = s->bars[k - 1].t_ms;
                s->last_emit_idx = k - 1;
            }
        }
    }
}

int ingest_next(ingest_t *self, ingest_batch_t *out) {
    if (!self) return 0;
    if (!self->started) {
        self->started = true;
        self->items = calloc(self->nseries ? self->nseries : 1, sizeof *self->items);
        if (!self->items) return 0;
    }
    if (!self->items) return 0;
    int64_t tmin = INT64_MAX, t;
    bool any = false;
    for (size_t i = 0; i < self->nseries; i++) {
        if (head(self, &self->series[i], &t) && t < tmin) {
            tmin = t;
            any = true;
        }
    }
    if (!any) return 0;
    size_t n = 0;
    bool more = false;
    for (size_t i = 0; i < self->nseries; i++) {
        series_t *s = &self->series[i];
        if (head(self, s, &t) && t == tmin) {
            ingest_item_t *it = &self->items[n++];
            it->symbol = s->symbol;
            it->bar = s->bars[s->idx];
            it->flags = s->flags ? s->flags[s->idx] : 0;
            s->last_emit_ms = it->bar.t_ms;
            s->last_emit_idx = s->idx;
            if (s->idx > 0 && s->bars[s->idx].t_ms - s->bars[s->idx - 1].t_ms > self->interval_ms)
                it->flags |= INGEST_BAR_FLAG_GAP_BEFORE;
            s->idx++;
        }
        if (head(self, s, &t)) more = true;
    }
    out->t_ms = tmin;
    out->n = n;
    out->items = self->items;
    out->end_of_stream = !more;
    return 1;
}

uint64_t ingest_count_gaps(const qt_bar_t *bars, size_t n, int64_t interval_ms) {
    uint64_t g = 0;
    for (size_t i = 1; i < n; i++)
        if (bars[i].t_ms - bars[i - 1].t_ms > interval_ms) g++;
    return g;
}

int64_t ingest_interval_ms(const char *s) {
    if (!s || !*s) return -1;
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (end == s || v <= 0 || v > 100000) return -1;
    int64_t unit;
    if (strcmp(end, "s") == 0) unit = 1000;
    else if (strcmp(end, "m") == 0) unit = 60000;
    else if (strcmp(end, "h") == 0) unit = 3600000;
    else if (strcmp(end, "d") == 0) unit = 86400000;
    else if (strcmp(end, "w") == 0) unit = 7LL * 86400000;
    else return -1;
    return (int64_t)v * unit;
}

bool ingest_symbol_from_filename(const char *base, const char *interval, char *out,
                                 size_t outlen) {
    if (!base || !interval || !*interval) return false;
    const char *suffixes[] = {".json", ".json.gz", ".csv", ".csv.gz"};
    size_t bl = strlen(base), il = strlen(interval);
    for (size_t k = 0; k < sizeof suffixes / sizeof *suffixes; k++) {
        size_t sl = strlen(suffixes[k]);
        if (bl < il + sl + 2) continue;
        if (strcmp(base + bl - sl, suffixes[k]) != 0) continue;
        const char *iv = base + bl - sl - il;
        if (strncmp(iv, interval, il) != 0 || iv[-1] != '-') continue;
        size_t symlen = (size_t)(iv - 1 - base);
        if (symlen == 0 || symlen > INGEST_SYMBOL_MAX || symlen + 1 > outlen) return false;
        memcpy(out, base, symlen);
        out[symlen] = '\0';
        return ingest_symbol_valid(out);
    }
    return false;
}

void ingest_ckpt_write(qt_buf_t *b, int64_t last_t_ms, const ingest_seq_t *seqs, size_t n) {
    qt_buf_put_u32(b, CKPT_MAGIC);
    qt_buf_put_u32(b, CKPT_VERSION);
    qt_buf_put_i64(b, last_t_ms);
    qt_buf_put_u32(b, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        qt_buf_put_str(b, seqs[i].topic);
        qt_buf_put_u64(b, seqs[i].seq);
    }
}

bool ingest_ckpt_read(const uint8_t *data, size_t len, ingest_ckpt_t *out) {
    memset(out, 0, sizeof *out);
    qt_reader_t r;
    qt_reader_init(&r, data, len);
    uint32_t magic = qt_read_u32(&r), ver = qt_read_u32(&r);
    int64_t last = qt_read_i64(&r);
    uint32_t n = qt_read_u32(&r);
    if (r.err || magic != CKPT_MAGIC || ver != CKPT_VERSION || last < 0 ||
        n > 2 * INGEST_MAX_SERIES + 16)
        return false;
    ingest_seq_t *seqs = calloc(n ? n : 1, sizeof *seqs);
    if (!seqs) return false;
    for (uint32_t i = 0; i < n; i++) {
        qt_read_str(&r, seqs[i].topic, sizeof seqs[i].topic);
        seqs[i].seq = qt_read_u64(&r);
        if (r.err || seqs[i].topic[0] == '\0') {
            free(seqs);
            return false;
        }
    }
    if (!qt_reader_done(&r)) {
        free(seqs);
        return false;
    }
    out->last_t_ms = last;
    out->nseqs = n;
    out->seqs = seqs;
    return true;
}

void ingest_ckpt_free(ingest_ckpt_t *c) {
    if (!c) return;
    free(c->seqs);
    c->seqs = NULL;
    c->nseqs = 0;
}
