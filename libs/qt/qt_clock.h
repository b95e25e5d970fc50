/* qt_clock: the only source of time in Quantum Trader.
 *
 * Why: determinism. A backtest runs the same service cores as production, so no
 * code may call time()/clock_gettime() directly; it asks a qt_clock_t, which is
 * either the wall clock or a simulated clock that only moves when told to.
 * (libs/qt/qt_clock.c is the one file allowed to read the system clocks.) */
#ifndef QT_CLOCK_H
#define QT_CLOCK_H
#include <stdbool.h>
#include <stdint.h>

typedef struct qt_clock_t qt_clock_t;

qt_clock_t *qt_clock_new_wall(void);
/* Simulated clock starting at start_ns (UTC ns). */
qt_clock_t *qt_clock_new_sim(int64_t start_ns);
void qt_clock_destroy(qt_clock_t **self_p);

bool qt_clock_is_sim(const qt_clock_t *self);
/* Current UTC time in ns (wall: CLOCK_REALTIME; sim: the simulated time). */
int64_t qt_clock_now_ns(qt_clock_t *self);
int64_t qt_clock_now_ms(qt_clock_t *self);
/* Monotonic ns for measuring durations (wall: CLOCK_MONOTONIC; sim: simulated time). */
int64_t qt_clock_mono_ns(qt_clock_t *self);
/* Simulated clocks only (no-op returning -1 on a wall clock). Time never goes back:
 * qt_clock_set to an earlier time returns -1 and leaves the clock unchanged. */
int qt_clock_advance(qt_clock_t *self, int64_t delta_ns);
int qt_clock_set(qt_clock_t *self, int64_t now_ns);
/* Wall: sleeps; sim: advances the simulated time by ns. */
void qt_clock_sleep_ns(qt_clock_t *self, int64_t ns);

/* Self-test: returns 0 when every check passes. */
int qt_clock_selftest(bool verbose);
#endif
