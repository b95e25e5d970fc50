/* qt_buf: a growable byte buffer with a bounds-checked reader, for state snapshots
 * (qt_checkpoint) and other private binary records.
 * Why: checkpoints come back from Redis and must be treated as hostile; every read
 * checks length and sets a sticky error instead of reading past the end.
 * Integers are little-endian fixed width; strings are u32 length + bytes. */
#ifndef QT_BUF_H
#define QT_BUF_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *data;
    size_t len, cap;
    bool oom;          /* sticky: an allocation failed */
} qt_buf_t;

void qt_buf_init(qt_buf_t *b);
void qt_buf_free(qt_buf_t *b);
void qt_buf_put_u32(qt_buf_t *b, uint32_t v);
void qt_buf_put_u64(qt_buf_t *b, uint64_t v);
void qt_buf_put_i64(qt_buf_t *b, int64_t v);
void qt_buf_put_f64(qt_buf_t *b, double v);
void qt_buf_put_str(qt_buf_t *b, const char *s);
void qt_buf_put_bytes(qt_buf_t *b, const void *p, size_t n);

typedef struct {
    const uint8_t *data;
    size_t len, pos;
    bool err;          /* sticky: a read ran past the end or a length was absurd */
} qt_reader_t;

void qt_reader_init(qt_reader_t *r, const uint8_t *data, size_t len);
uint32_t qt_read_u32(qt_reader_t *r);
uint64_t qt_read_u64(qt_reader_t *r);
int64_t qt_read_i64(qt_reader_t *r);
double qt_read_f64(qt_reader_t *r);
/* Copies a string into out (NUL-terminated); err when it does not fit in outlen. */
void qt_read_str(qt_reader_t *r, char *out, size_t outlen);
/* True when no error occurred and every byte was consumed. */
bool qt_reader_done(const qt_reader_t *r);

int qt_buf_selftest(bool verbose);
#endif
