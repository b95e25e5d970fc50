/* qt_rng: the one seeded pseudo-random generator of the project (xoshiro256**, seeded
 * through splitmix64). Why our own: the same seed must give the same stream on every
 * machine and libc, so runs are byte-for-byte reproducible; rand()/random() are neither
 * portable nor independent per user. A qt_rng_t is plain state: copy it to fork a stream.
 * Not for cryptography. */
#ifndef QT_RNG_H
#define QT_RNG_H
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint64_t s[4];
} qt_rng_t;

/* Seeds the state from one 64-bit seed (any value, 0 included). */
void qt_rng_seed(qt_rng_t *r, uint64_t seed);
/* Next 64 random bits. */
uint64_t qt_rng_u64(qt_rng_t *r);
/* Uniform double in [0, 1) with 53 random bits. */
double qt_rng_uniform(qt_rng_t *r);
/* Uniform integer in [0, n) without modulo bias (n > 0; returns 0 when n == 0). */
uint64_t qt_rng_below(qt_rng_t *r, uint64_t n);
/* Standard normal N(0, 1) (Marsaglia polar method; no cached second value, so the
 * stream depends only on the state). */
double qt_rng_normal(qt_rng_t *r);

int qt_rng_selftest(bool verbose);
#endif
