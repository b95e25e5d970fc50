/* qt_clock: wall or simulated time (see qt_clock.h).
 *
 * This is the ONLY file in the tree allowed to call clock_gettime()/nanosleep().
 * The simulated time is an atomic so a backtest driver thread may advance it while
 * other threads (logging, metrics) read it; it never goes backwards. */
#include "qt_clock.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct qt_clock_t {
    bool sim;
    _Atomic int64_t sim_ns;
};

qt_clock_t *qt_clock_new_wall(void)
{
    qt_clock_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->sim = false;
    atomic_init(&self->sim_ns, 0);
    return self;
}

qt_clock_t *qt_clock_new_sim(int64_t start_ns)
{
    qt_clock_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->sim = true;
    atomic_init(&self->sim_ns, start_ns);
    return self;
}

void qt_clock_destroy(qt_clock_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

bool qt_clock_is_sim(const qt_clock_t *self)
{
    return self && self->sim;
}

static int64_t read_clock(clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000000LL + (int64_t)ts.tv_nsec;
}

int64_t qt_clock_now_ns(qt_clock_t *self)
{
    if (self && self->sim)
        return atomic_load(&self->sim_ns);
    return read_clock(CLOCK_REALTIME);
}

int64_t qt_clock_now_ms(qt_clock_t *self)
{
    int64_t ns = qt_clock_now_ns(self);
    /* floor division so pre-1970 simulated times stay monotone */
    int64_t ms = ns / 1000000;
    if (ns % 1000000 < 0)
        ms--;
    return ms;
}

int64_t qt_clock_mono_ns(qt_clock_t *self)
{
    if (self && self->sim)
        return atomic_load(&self->sim_ns);
    return read_clock(CLOCK_MONOTONIC);
}

int qt_clock_advance(qt_clock_t *self, int64_t delta_ns)
{
    if (!self || !self->sim || delta_ns < 0)
        return -1;
    int64_t cur = atomic_load(&self->sim_ns);
    for (;;) {
        if (cur > INT64_MAX - delta_ns)
            return -1;
        if (atomic_compare_exchange_weak(&self->sim_ns, &cur, cur + delta_ns))
            return 0;
    }
}

int qt_clock_set(qt_clock_t *self, int64_t now_ns)
{
    if (!self || !self->sim)
        return -1;
    int64_t cur = atomic_load(&self->sim_ns);
    for (;;) {
        if (now_ns < cur)
            return -1;
        if (atomic_compare_exchange_weak(&self->sim_ns, &cur, now_ns))
            return 0;
    }
}

void qt_clock_sleep_ns(qt_clock_t *self, int64_t ns)
{
    if (ns <= 0)
        return;
    if (self && self->sim) {
        if (qt_clock_advance(self, ns) != 0)
            (void)qt_clock_set(self, INT64_MAX); /* saturate */
        return;
    }
    struct timespec req = {.tv_sec = (time_t)(ns / 1000000000LL),
                           .tv_nsec = (long)(ns % 1000000000LL)};
    struct timespec rem;
    while (nanosleep(&req, &rem) != 0 && errno == EINTR)
        req = rem;
}

/* ---------------------------------------------------------------- selftest */

int qt_clock_selftest(bool verbose)
{
    int fails = 0;
#define CHECK(c)                                                                       \
    do {                                                                               \
        if (!(c)) {                                                                    \
            fails++;                                                                   \
            if (verbose)                                                               \
                fprintf(stderr, "qt_clock selftest: %s:%d: %s\n", __FILE__, __LINE__, #c); \
        }                                                                              \
    } while (0)

    qt_clock_t *s = qt_clock_new_sim(1000);
    CHECK(s && qt_clock_is_sim(s));
    CHECK(qt_clock_now_ns(s) == 1000);
    CHECK(qt_clock_advance(s, 500) == 0 && qt_clock_now_ns(s) == 1500);
    CHECK(qt_clock_set(s, 1499) == -1 && qt_clock_now_ns(s) == 1500);
    CHECK(qt_clock_set(s, 3000000) == 0 && qt_clock_now_ms(s) == 3);
    CHECK(qt_clock_advance(s, -1) == -1 && qt_clock_now_ns(s) == 3000000);
    qt_clock_sleep_ns(s, 7);
    CHECK(qt_clock_mono_ns(s) == 3000007);
    qt_clock_destroy(&s);
    CHECK(s == NULL);

    qt_clock_t *w = qt_clock_new_wall();
    CHECK(w && !qt_clock_is_sim(w));
    CHECK(qt_clock_advance(w, 1) == -1 && qt_clock_set(w, 1) == -1);
    int64_t m0 = qt_clock_mono_ns(w);
    qt_clock_sleep_ns(w, 1000000);
    int64_t m1 = qt_clock_mono_ns(w);
    CHECK(m1 - m0 >= 1000000);
    CHECK(qt_clock_now_ns(w) > 1600000000LL * 1000000000LL); /* after 2020 */
    qt_clock_destroy(&w);
#undef CHECK
    if (verbose)
        fprintf(stderr, "qt_clock selftest: %s\n", fails ? "FAILED" : "ok");
    return fails ? -1 : 0;
}
