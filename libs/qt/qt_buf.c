/* qt_buf: growable byte buffer + bounds-checked reader (see qt_buf.h).
 *
 * Why this shape: checkpoints round-trip through Redis and must be treated as
 * hostile input. The writer never fails loudly (a sticky `oom` flag instead), the
 * reader never reads past the end (a sticky `err` flag, and every later read
 * returns 0 / "" so callers can check once at the end with qt_reader_done). */
#include "qt_buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void qt_buf_init(qt_buf_t *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->oom = false;
}

void qt_buf_free(qt_buf_t *b)
{
    if (!b)
        return;
    free(b->data);
    qt_buf_init(b);
}

/* Ensures room for n more bytes; false (and oom set) when impossible. */
static bool buf_reserve(qt_buf_t *b, size_t n)
{
    if (b->oom)
        return false;
    if (n > SIZE_MAX - b->len) {
        b->oom = true;
        return false;
    }
    size_t need = b->len + n;
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    uint8_t *p = realloc(b->data, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void qt_buf_put_bytes(qt_buf_t *b, const void *p, size_t n)
{
    if (n == 0 || !buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void qt_buf_put_u32(qt_buf_t *b, uint32_t v)
{
    uint8_t t[4];
    for (int i = 0; i < 4; i++)
        t[i] = (uint8_t)(v >> (8 * i));
    qt_buf_put_bytes(b, t, sizeof t);
}

void qt_buf_put_u64(qt_buf_t *b, uint64_t v)
{
    uint8_t t[8];
    for (int i = 0; i < 8; i++)
        t[i] = (uint8_t)(v >> (8 * i));
    qt_buf_put_bytes(b, t, sizeof t);
}

void qt_buf_put_i64(qt_buf_t *b, int64_t v)
{
    qt_buf_put_u64(b, (uint64_t)v);
}

void qt_buf_put_f64(qt_buf_t *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    qt_buf_put_u64(b, u);
}

void qt_buf_put_str(qt_buf_t *b, const char *s)
{
    if (!s)
        s = "";
    size_t n = strlen(s);
    if (n > UINT32_MAX) {
        b->oom = true;
        return;
    }
    qt_buf_put_u32(b, (uint32_t)n);
    qt_buf_put_bytes(b, s, n);
}

void qt_reader_init(qt_reader_t *r, const uint8_t *data, size_t len)
{
    r->data = data;
    r->len = data ? len : 0;
    r->pos = 0;
    r->err = false;
}

/* Returns a pointer to n readable bytes and advances, or NULL (err set). */
static const uint8_t *reader_take(qt_reader_t *r, size_t n)
{
    if (r->err)
        return NULL;
    if (r->pos > r->len || n > r->len - r->pos) {
        r->err = true;
        return NULL;
    }
    const uint8_t *p = r->data + r->pos;
    r->pos += n;
    return p;
}

uint32_t qt_read_u32(qt_reader_t *r)
{
    const uint8_t *p = reader_take(r, 4);
    if (!p)
        return 0;
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

uint64_t qt_read_u64(qt_reader_t *r)
{
    const uint8_t *p = reader_take(r, 8);
    if (!p)
        return 0;
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

int64_t qt_read_i64(qt_reader_t *r)
{
    uint64_t u = qt_read_u64(r);
    int64_t v;
    memcpy(&v, &u, sizeof v); /* two's complement reinterpretation, no UB */
    return v;
}

double qt_read_f64(qt_reader_t *r)
{
    uint64_t u = qt_read_u64(r);
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

void qt_read_str(qt_reader_t *r, char *out, size_t outlen)
{
    if (out && outlen)
        out[0] = '\0';
    uint32_t n = qt_read_u32(r);
    if (r->err)
        return;
    if (!out || outlen == 0 || (size_t)n >= outlen) {
        r->err = true;
        return;
    }
    const uint8_t *p = reader_take(r, n);
    if (!p)
        return;
    if (n)
        memcpy(out, p, n);
    out[n] = '\0';
}

bool qt_reader_done(const qt_reader_t *r)
{
    return !r->err && r->pos == r->len;
}

/* ---------------------------------------------------------------- selftest */

int qt_buf_selftest(bool verbose)
{
    int fails = 0;
#define CHECK(c)                                                                   \
    do {                                                                           \
        if (!(c)) {                                                                \
            fails++;                                                               \
            if (verbose)                                                           \
                fprintf(stderr, "qt_buf selftest: %s:%d: %s\n", __FILE__, __LINE__, #c); \
        }                                                                          \
    } while (0)

    qt_buf_t b;
    qt_buf_init(&b);
    qt_buf_put_u32(&b, 0xA1B2C3D4u);
    qt_buf_put_u64(&b, 0x0102030405060708ull);
    qt_buf_put_i64(&b, INT64_MIN);
    qt_buf_put_f64(&b, -1.5);
    qt_buf_put_str(&b, "hello");
    qt_buf_put_str(&b, "");
    CHECK(!b.oom);
    CHECK(b.len == 4 + 8 + 8 + 8 + 4 + 5 + 4);
    CHECK(b.data[0] == 0xD4 && b.data[3] == 0xA1); /* little-endian */

    for (size_t cut = 0; cut <= b.len; cut++) {
        qt_reader_t r;
        qt_reader_init(&r, b.data, cut);
        char s1[16], s2[16];
        uint32_t a = qt_read_u32(&r);
        uint64_t c = qt_read_u64(&r);
        int64_t d = qt_read_i64(&r);
        double e = qt_read_f64(&r);
        qt_read_str(&r, s1, sizeof s1);
        qt_read_str(&r, s2, sizeof s2);
        if (cut == b.len) {
            CHECK(qt_reader_done(&r));
            CHECK(a == 0xA1B2C3D4u && c == 0x0102030405060708ull && d == INT64_MIN);
            CHECK(e == -1.5 && strcmp(s1, "hello") == 0 && s2[0] == '\0');
        } else {
            CHECK(r.err && !qt_reader_done(&r));
            CHECK(r.pos <= cut);
        }
    }
    /* string too long for the destination */
    qt_reader_t r;
    qt_reader_init(&r, b.data + 28, 9);
    char small[5];
    qt_read_str(&r, small, sizeof small);
    CHECK(r.err && small[0] == '\0');
    qt_buf_free(&b);
    CHECK(b.data == NULL && b.len == 0);
#undef CHECK
    if (verbose)
        fprintf(stderr, "qt_buf selftest: %s\n", fails ? "FAILED" : "ok");
    return fails ? -1 : 0;
}
