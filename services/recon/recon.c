/* recon: see recon.h. */
#include "recon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qt_symtab.h"

struct recon_t {
    qt_fixed_t initial_cash, cash;
    qt_symtab_t pos;           /* recon_pos_t rebuilt, by symbol (zeros kept) */
    qt_symtab_t snap;          /* recon_pos_t: broker snapshot since the last watermark */
    char **ids;                /* open-addressing set of fill ids */
    size_t nids, capids;
    uint64_t fills, dups;
};

recon_t *recon_new(qt_fixed_t initial_cash)
{
    recon_t *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->initial_cash = r->cash = initial_cash;
    QT_SYMTAB_INIT(&r->pos, recon_pos_t, symbol, 0);
    QT_SYMTAB_INIT(&r->snap, recon_pos_t, symbol, 0);
    r->capids = 1024;
    r->ids = calloc(r->capids, sizeof(char *));
    if (!r->ids) {
        free(r);
        return NULL;
    }
    return r;
}

void recon_destroy(recon_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    recon_t *r = *self_p;
    for (size_t i = 0; i < r->capids; i++)
        free(r->ids[i]);
    free(r->ids);
    qt_symtab_free(&r->pos);
    qt_symtab_free(&r->snap);
    free(r);
    *self_p = NULL;
}

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* true if present; otherwise *slot = insertion slot */
static bool ids_find(char **ids, size_t cap, const char *id, size_t *slot)
{
    size_t i = (size_t)(fnv(id) & (cap - 1));
    while (ids[i]) {
        if (strcmp(ids[i], id) == 0)
            return true;
        i = (i + 1) & (cap - 1);
    }
    *slot = i;
    return false;
}

static bool ids_grow(recon_t *r)
{
    size_t cap = r->capids * 2;
    char **n = calloc(cap, sizeof(char *));
    if (!n)
        return false;
    for (size_t i = 0; i < r->capids; i++)
        if (r->ids[i]) {
            size_t s = 0;
            (void)ids_find(n, cap, r->ids[i], &s);
            n[s] = r->ids[i];
        }
    free(r->ids);
    r->ids = n;
    r->capids = cap;
    return true;
}

static bool sym_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n <= QT_MAX_SYMBOL;
}

static recon_pos_t *pos_get(qt_symtab_t *t, const char *sym)
{
    void *p = NULL;
    (void)qt_symtab_upsert(t, sym, &p);
    return p;
}

int recon_on_fill(recon_t *self, const Qt__V1__Fill *f)
{
    if (!f || !f->fill_id || !f->fill_id[0] || strlen(f->fill_id) > 256 || !sym_ok(f->symbol) ||
        f->qty <= 0 || f->price <= 0 || f->fee < 0 ||
        (f->side != QT__V1__SIDE__SIDE_BUY && f->side != QT__V1__SIDE__SIDE_SELL))
        return -1;
    size_t slot = 0;
    if (ids_find(self->ids, self->capids, f->fill_id, &slot)) {
        self->dups++;
        return 0;
    }
    qt_fixed_t notional, cash, q;
    bool buy = f->side == QT__V1__SIDE__SIDE_BUY;
    recon_pos_t *p = pos_get(&self->pos, f->symbol);
    if (!p || !qt_fixed_mul(f->price, f->qty, &notional) ||
        !qt_fixed_sub(self->cash, buy ? notional : -notional, &cash) ||
        !qt_fixed_sub(cash, f->fee, &cash) || !qt_fixed_add(p->qty, buy ? f->qty : -f->qty, &q))
        return -1;
    char *id = strdup(f->fill_id);
    if (!id)
        return -1;
    if ((self->nids + 1) * 2 > self->capids) {
        if (!ids_grow(self)) {
            free(id);
            return -1;
        }
        (void)ids_find(self->ids, self->capids, id, &slot);
    }
    self->ids[slot] = id;
    self->nids++;
    p->qty = q;
    self->cash = cash;
    self->fills++;
    return 1;
}

int recon_on_position(recon_t *self, const Qt__V1__Position *pos)
{
    if (!pos || !sym_ok(pos->symbol))
        return -1;
    recon_pos_t *p = pos_get(&self->snap, pos->symbol);
    if (!p)
        return -1;
    p->qty = pos->qty;
    return 0;
}

static void detail_add(recon_report_t *rep, const char *fmt_sym, qt_fixed_t a, qt_fixed_t b,
                       const char *source)
{
    char sa[QT_FIXED_STRLEN], sb[QT_FIXED_STRLEN];
    qt_fixed_format(a, sa, sizeof sa);
    qt_fixed_format(b, sb, sizeof sb);
    size_t used = strlen(rep->detail);
    if (used + 1 < sizeof(rep->detail))
        snprintf(rep->detail + used, sizeof(rep->detail) - used, "%s%s: rebuilt %s != %s %s",
                 used ? "; " : "", fmt_sym, sa, source, sb);
    rep->mismatches++;
    rep->ok = false;
}

void recon_check_positions(const recon_t *self, recon_report_t *rep, const recon_pos_t *pos,
                           size_t n, const char *source)
{
    /* merge two sorted lists (rebuilt may contain zeros; broker lists may too) */
    const recon_pos_t *mine = qt_symtab_data(&self->pos);
    size_t npos = qt_symtab_size(&self->pos);
    size_t i = 0, j = 0;
    while (i < npos || j < n) {
        int c;
        if (i >= npos)
            c = 1;
        else if (j >= n)
            c = -1;
        else
            c = strcmp(mine[i].symbol, pos[j].symbol);
        if (c < 0) {
            if (mine[i].qty != 0)
                detail_add(rep, mine[i].symbol, mine[i].qty, 0, source);
            i++;
        } else if (c > 0) {
            if (pos[j].qty != 0)
                detail_add(rep, pos[j].symbol, 0, pos[j].qty, source);
            j++;
        } else {
            if (mine[i].qty != pos[j].qty)
                detail_add(rep, pos[j].symbol, mine[i].qty, pos[j].qty, source);
            i++;
            j++;
        }
    }
}

void recon_check_cash(const recon_t *self, recon_report_t *rep, qt_fixed_t broker_cash,
                      const char *source)
{
    if (self->cash != broker_cash)
        detail_add(rep, "cash", self->cash, broker_cash, source);
}

int recon_on_watermark(recon_t *self, bool end_of_stream, recon_report_t *out)
{
    memset(out, 0, sizeof(*out));
    out->ok = true;
    out->final = end_of_stream;
    out->fills_seen = self->fills;
    out->duplicate_fills = self->dups;
    out->cash = self->cash;
    size_t npos = qt_symtab_size(&self->pos), nsnap = qt_symtab_size(&self->snap);
    out->rebuilt = calloc(npos + 1, sizeof(recon_pos_t));
    out->broker = calloc(nsnap + 1, sizeof(recon_pos_t));
    if (!out->rebuilt || !out->broker) {
        recon_report_free(out);
        return -1;
    }
    for (size_t i = 0; i < npos; i++) {
        const recon_pos_t *p = qt_symtab_at(&self->pos, i);
        if (p->qty != 0)
            out->rebuilt[out->n_rebuilt++] = *p;
    }
    for (size_t i = 0; i < nsnap; i++) {   /* the snapshot table is in symbol order */
        const recon_pos_t *p = qt_symtab_at(&self->snap, i);
        if (p->qty != 0)
            out->broker[out->n_broker++] = *p;
    }
    recon_check_positions(self, out, out->broker, out->n_broker, "broker");
    qt_symtab_clear(&self->snap);
    return 0;
}

void recon_report_free(recon_report_t *rep)
{
    if (!rep)
        return;
    free(rep->rebuilt);
    free(rep->broker);
    rep->rebuilt = rep->broker = NULL;
    rep->n_rebuilt = rep->n_broker = 0;
}

qt_fixed_t recon_position(const recon_t *self, const char *symbol)
{
    const recon_pos_t *p = qt_symtab_find(&self->pos, symbol);
    return p ? p->qty : 0;
}
qt_fixed_t recon_cash(const recon_t *self) { return self->cash; }
uint64_t recon_fills_seen(const recon_t *self) { return self->fills; }
uint64_t recon_duplicates(const recon_t *self) { return self->dups; }

int recon_report_to_pb(const recon_report_t *rep, recon_pb_t *pb)
{
    memset(pb, 0, sizeof(*pb));
    qt__v1__recon_report__init(&pb->msg);
    size_t n = rep->n_rebuilt + rep->n_broker;
    pb->pos = calloc(n + 1, sizeof(Qt__V1__Position));
    pb->ptrs = calloc(n + 1, sizeof(Qt__V1__Position *));
    if (!pb->pos || !pb->ptrs) {
        recon_pb_free(pb);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const recon_pos_t *s = i < rep->n_rebuilt ? &rep->rebuilt[i]
                                                  : &rep->broker[i - rep->n_rebuilt];
        qt__v1__position__init(&pb->pos[i]);
        pb->pos[i].account = (char *)"paper";
        pb->pos[i].symbol = (char *)s->symbol;
        pb->pos[i].qty = s->qty;
        pb->ptrs[i] = &pb->pos[i];
    }
    pb->msg.ok = rep->ok;
    pb->msg.mismatches = rep->mismatches;
    pb->msg.n_rebuilt = rep->n_rebuilt;
    pb->msg.rebuilt = pb->ptrs;
    pb->msg.n_broker = rep->n_broker;
    pb->msg.broker = pb->ptrs + rep->n_rebuilt;
    pb->msg.fills_seen = rep->fills_seen;
    pb->msg.duplicate_fills = rep->duplicate_fills;
    pb->msg.final = rep->final;
    pb->msg.detail = (char *)rep->detail;
    return 0;
}

void recon_pb_free(recon_pb_t *pb)
{
    free(pb->pos);
    free(pb->ptrs);
    pb->pos = NULL;
    pb->ptrs = NULL;
}

int recon_selftest(bool verbose)
{
    int fails = 0;
    recon_t *r = recon_new(0);
    Qt__V1__Fill f = QT__V1__FILL__INIT;
    f.fill_id = (char *)"QT-1-X-1";
    f.symbol = (char *)"X";
    f.side = QT__V1__SIDE__SIDE_BUY;
    f.qty = QT_FIXED_SCALE;
    f.price = 2 * QT_FIXED_SCALE;
    fails += recon_on_fill(r, &f) != 1;
    fails += recon_on_fill(r, &f) != 0;
    fails += recon_position(r, "X") != QT_FIXED_SCALE || recon_cash(r) != -2 * QT_FIXED_SCALE;
    recon_destroy(&r);
    if (verbose)
        fprintf(stderr, "recon selftest: %s\n", fails ? "FAILED" : "ok");
    return fails ? -1 : 0;
}
