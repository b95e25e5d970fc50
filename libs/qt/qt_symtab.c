/* qt_symtab: see qt_symtab.h. */
#include "qt_symtab.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QT_SYMTAB_MIN_CAP 16u

void qt_symtab_init(qt_symtab_t *t, size_t elem_size, size_t key_size, size_t max_elems)
{
    memset(t, 0, sizeof *t);
    t->elem_size = elem_size;
    t->key_size = key_size;
    t->max_elems = max_elems;
}

void qt_symtab_free(qt_symtab_t *t)
{
    if (!t)
        return;
    free(t->data);
    t->data = NULL;
    t->n = t->cap = 0;
}

void qt_symtab_clear(qt_symtab_t *t)
{
    t->n = 0;
}

static bool sizes_ok(const qt_symtab_t *t)
{
    return t->key_size >= 2 && t->elem_size >= t->key_size;
}

static unsigned char *rec(const qt_symtab_t *t, size_t i)
{
    return t->data + i * t->elem_size;
}

/* Binary search: true + *at = index when found, else *at = insertion point. */
static bool locate(const qt_symtab_t *t, const char *key, size_t *at)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp((const char *)rec(t, mid), key);
        if (c == 0) {
            *at = mid;
            return true;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *at = lo;
    return false;
}

/* Length of key if it fits the key array (1 .. key_size - 1), else 0. */
static size_t key_len(const qt_symtab_t *t, const char *key)
{
    if (!key || !sizes_ok(t))
        return 0;
    size_t n = strnlen(key, t->key_size);
    return n < t->key_size ? n : 0;
}

bool qt_symtab_reserve(qt_symtab_t *t, size_t n)
{
    if (n <= t->cap)
        return true;
    if (!sizes_ok(t) || (t->max_elems && n > t->max_elems) || n > SIZE_MAX / t->elem_size)
        return false;
    unsigned char *d = realloc(t->data, n * t->elem_size);
    if (!d)
        return false;
    t->data = d;
    t->cap = n;
    return true;
}

static bool grow(qt_symtab_t *t)
{
    size_t cap = t->cap ? t->cap : QT_SYMTAB_MIN_CAP / 2;
    cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
    if (t->max_elems && cap > t->max_elems)
        cap = t->max_elems;
    return qt_symtab_reserve(t, cap);
}

void *qt_symtab_find(const qt_symtab_t *t, const char *key)
{
    size_t at;
    if (!key_len(t, key) || !locate(t, key, &at))
        return NULL;
    return rec(t, at);
}

qt_symtab_rc_t qt_symtab_upsert(qt_symtab_t *t, const char *key, void **elem)
{
    if (elem)
        *elem = NULL;
    size_t len = key_len(t, key);
    if (!len)
        return QT_SYMTAB_BADKEY;
    size_t at;
    if (locate(t, key, &at)) {
        if (elem)
            *elem = rec(t, at);
        return QT_SYMTAB_FOUND;
    }
    if (t->max_elems && t->n >= t->max_elems)
        return QT_SYMTAB_FULL;
    if (t->n == t->cap && !grow(t))
        return QT_SYMTAB_NOMEM;
    unsigned char *r = rec(t, at);
    if (at < t->n)
        memmove(r + t->elem_size, r, (t->n - at) * t->elem_size);
    memset(r, 0, t->elem_size);
    memcpy(r, key, len);
    t->n++;
    if (elem)
        *elem = r;
    return QT_SYMTAB_INSERTED;
}

bool qt_symtab_remove(qt_symtab_t *t, const char *key)
{
    size_t at;
    if (!key_len(t, key) || !locate(t, key, &at))
        return false;
    if (at + 1 < t->n)
        memmove(rec(t, at), rec(t, at + 1), (t->n - at - 1) * t->elem_size);
    t->n--;
    return true;
}

size_t qt_symtab_size(const qt_symtab_t *t)
{
    return t->n;
}

void *qt_symtab_at(const qt_symtab_t *t, size_t i)
{
    return i < t->n ? rec(t, i) : NULL;
}

void *qt_symtab_data(const qt_symtab_t *t)
{
    return t->data;
}

/* ------------------------------------------------------------------ selftest */

typedef struct {
    char key[8];
    int value;
} st_rec_t;

int qt_symtab_selftest(bool verbose)
{
    int fails = 0;
    qt_symtab_t t;
    QT_SYMTAB_INIT(&t, st_rec_t, key, 3);
    void *e = NULL;
    fails += qt_symtab_upsert(&t, "b", &e) != QT_SYMTAB_INSERTED || !e;
    if (e)
        ((st_rec_t *)e)->value = 2;
    fails += qt_symtab_upsert(&t, "a", &e) != QT_SYMTAB_INSERTED || !e ||
             ((st_rec_t *)e)->value != 0;
    fails += qt_symtab_upsert(&t, "b", &e) != QT_SYMTAB_FOUND || !e || ((st_rec_t *)e)->value != 2;
    fails += qt_symtab_upsert(&t, "1234567", NULL) != QT_SYMTAB_INSERTED;   /* 7 fits */
    fails += qt_symtab_upsert(&t, "c", NULL) != QT_SYMTAB_FULL;
    fails += qt_symtab_upsert(&t, "12345678", NULL) != QT_SYMTAB_BADKEY;   /* 8 does not */
    fails += qt_symtab_upsert(&t, "", NULL) != QT_SYMTAB_BADKEY;
    fails += qt_symtab_find(&t, "12345678") != NULL || qt_symtab_find(&t, NULL) != NULL;
    fails += qt_symtab_size(&t) != 3;
    const st_rec_t *r0 = qt_symtab_at(&t, 0), *r1 = qt_symtab_at(&t, 1);
    fails += !r0 || !r1 || strcmp(r0->key, "1234567") != 0 || strcmp(r1->key, "a") != 0;
    fails += qt_symtab_at(&t, 3) != NULL;
    fails += !qt_symtab_remove(&t, "a") || qt_symtab_remove(&t, "a") || qt_symtab_size(&t) != 2;
    fails += qt_symtab_find(&t, "a") != NULL || qt_symtab_find(&t, "b") == NULL;
    qt_symtab_free(&t);
    fails += qt_symtab_size(&t) != 0 || qt_symtab_data(&t) != NULL;
    if (verbose)
        fprintf(stderr, "qt_symtab selftest: %s\n", fails ? "FAILED" : "ok");
    return fails ? -1 : 0;
}
