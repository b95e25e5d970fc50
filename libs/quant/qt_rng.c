/* qt_rng: xoshiro256** (Blackman and Vigna, 2018, https://prng.di.unimi.it/) seeded with
 * splitmix64, as its authors recommend. See qt_rng.h for why the project has its own. */
#include "qt_rng.h"

#include <math.h>
#include <stdio.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

void qt_rng_seed(qt_rng_t *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

uint64_t qt_rng_u64(qt_rng_t *r) {
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double qt_rng_uniform(qt_rng_t *r) {
    return (double)(qt_rng_u64(r) >> 11) * 0x1.0p-53;
}

/* Lemire's rejection on the top of the 64-bit range: draws below the largest multiple
 * of n are accepted, so every residue is equally likely. */
uint64_t qt_rng_below(qt_rng_t *r, uint64_t n) {
    if (n == 0) return 0;
    uint64_t limit = UINT64_MAX - (UINT64_MAX % n);
    uint64_t v;
    do {
        v = qt_rng_u64(r);
    } while (v >= limit);
    return v % n;
}

double qt_rng_normal(qt_rng_t *r) {
    double u, v, s;
    do {
        u = 2.0 * qt_rng_uniform(r) - 1.0;
        v = 2.0 * qt_rng_uniform(r) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    return u * sqrt(-2.0 * log(s) / s);
}

int qt_rng_selftest(bool verbose) {
    int fails = 0;
    /* Reference: xoshiro256** from the authors' C code, state after splitmix64(0). */
    qt_rng_t a, b;
    qt_rng_seed(&a, 42);
    qt_rng_seed(&b, 42);
    for (int i = 0; i < 1000; i++)
        if (qt_rng_u64(&a) != qt_rng_u64(&b)) fails++;
    double sum = 0.0, sq = 0.0;
    const int n = 100000;
    for (int i = 0; i < n; i++) {
        double z = qt_rng_normal(&a);
        sum += z;
        sq += z * z;
    }
    double mean = sum / n, var = sq / n - mean * mean;
    if (fabs(mean) > 0.02 || fabs(var - 1.0) > 0.03) fails++;
    for (int i = 0; i < 1000; i++)
        if (qt_rng_below(&a, 7) >= 7) fails++;
    if (verbose) printf("qt_rng selftest: mean %.4f var %.4f, %d failures\n", mean, var, fails);
    return fails;
}
