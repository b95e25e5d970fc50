/* qt_symtab: a sorted, growable array of fixed-size records keyed by a string.
 *
 * Why: every stage keeps small per-symbol (or per-order-id) tables - positions,
 * pending signals, bar series, order records - and each used to carry its own copy
 * of the same binary search + realloc + memmove insert. One tested implementation
 * replaces them. The records stay a plain contiguous array in key order, so a
 * caller can still hand qt_symtab_data() to code that takes (array, n), snapshots
 * iterate in a deterministic order, and equal contents give equal bytes.
 *
 * Record layout: the key is the record's FIRST member, a char array holding a
 * NUL-terminated string (e.g. `char symbol[QT_MAX_SYMBOL + 1]`). Keys compare with
 * strcmp. Use QT_SYMTAB_INIT(&t, type, member, max) which checks at compile time
 * that the member is first and takes its size.
 *
 * Contract:
 *   - find: O(log n), never allocates; a key that could not fit is simply absent.
 *   - upsert (find-or-insert): keeps the order; a new record is all zero bytes
 *     except its key. A key that does not fit the key array (strlen >= key size)
 *     or is empty/NULL is refused (QT_SYMTAB_BADKEY), never truncated. With a
 *     bound (max_elems > 0) an insert beyond it fails (QT_SYMTAB_FULL); on
 *     allocation failure (QT_SYMTAB_NOMEM) the table is unchanged.
 *   - pointers returned by find/upsert/at/data are valid only until the next
 *     insert, remove, reserve or free (the array may move, records shift).
 *   - iteration: qt_symtab_at(t, i) for i < qt_symtab_size(t) is in key order.
 * A qt_symtab_t is a plain value owned by its container: init, use, free. It is
 * not thread-safe. A zeroed struct is NOT valid: call init. */
#ifndef QT_SYMTAB_H
#define QT_SYMTAB_H
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    unsigned char *data;       /* n records of elem_size bytes, sorted by key */
    size_t n, cap;
    size_t elem_size;          /* sizeof the record */
    size_t key_size;           /* sizeof the key array (first member), >= 2 */
    size_t max_elems;          /* 0: unbounded */
} qt_symtab_t;

typedef enum {
    QT_SYMTAB_FOUND = 0,       /* key existed: *elem is the record */
    QT_SYMTAB_INSERTED = 1,    /* new zeroed record with the key: *elem */
    QT_SYMTAB_FULL = -1,       /* max_elems reached */
    QT_SYMTAB_NOMEM = -2,      /* allocation failed (table unchanged) */
    QT_SYMTAB_BADKEY = -3      /* NULL, empty or too long for the key array */
} qt_symtab_rc_t;

/* elem_size >= key_size >= 2 (else the table refuses every insert). */
void qt_symtab_init(qt_symtab_t *t, size_t elem_size, size_t key_size, size_t max_elems);

/* Typed init: `type` is the record type, `member` its first member (the key). */
#define QT_SYMTAB_INIT(t, type, member, max)                                            \
    do {                                                                                \
        _Static_assert(offsetof(type, member) == 0, "qt_symtab: key must be first");    \
        qt_symtab_init((t), sizeof(type), sizeof(((type *)0)->member), (max));          \
    } while (0)

/* Frees the records; the table is empty and reusable (same sizes and bound). */
void qt_symtab_free(qt_symtab_t *t);
/* Drops every record, keeps the memory. */
void qt_symtab_clear(qt_symtab_t *t);
/* Makes room for `n` records in total without further allocation (an insert up to
 * that many cannot fail with NOMEM). false on allocation failure or n beyond the
 * bound. */
bool qt_symtab_reserve(qt_symtab_t *t, size_t n);

/* The record with this key, or NULL. */
void *qt_symtab_find(const qt_symtab_t *t, const char *key);
/* Find-or-insert; *elem (may be NULL) set on FOUND/INSERTED, NULL otherwise. */
qt_symtab_rc_t qt_symtab_upsert(qt_symtab_t *t, const char *key, void **elem);
/* Removes the record with this key: true if it existed. */
bool qt_symtab_remove(qt_symtab_t *t, const char *key);

size_t qt_symtab_size(const qt_symtab_t *t);
/* i-th record in key order, NULL when i >= size. */
void *qt_symtab_at(const qt_symtab_t *t, size_t i);
/* The contiguous sorted array (NULL when nothing was ever allocated). */
void *qt_symtab_data(const qt_symtab_t *t);

int qt_symtab_selftest(bool verbose);
#endif
