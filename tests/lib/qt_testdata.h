/* qt_testdata: the real research bars for tests (linked into every test binary).
 *
 * Files live under $QT_DATA_DIR (unset or empty: ../shared/data, relative to the repo
 * root where tests run). Loading goes through qt_bars (exact fixed-point prices, every
 * row validated); a test that asks for real data fails loudly when the file is missing
 * or any row is rejected, instead of testing against a partial series. */
#ifndef QT_TESTDATA_H
#define QT_TESTDATA_H
#include <stddef.h>
#include <stdint.h>
#include "qt_bars.h"

/* $QT_DATA_DIR, or "../shared/data" when unset or empty. */
const char *qt_testdata_dir(void);

/* "<dir>/raw/djienne-3EMA_SRSI_ATR-binance/4h/<pair>-4h.json" into buf (cmocka failure
 * when it does not fit). pair like "BTC_USDT". */
void qt_testdata_path_4h(const char *pair, char *buf, size_t len);

/* Loads that file into *out (qt_bars_init'ed here; release with qt_bars_free). Fails the
 * current cmocka test, naming the path, when the file cannot be loaded, when any row is
 * rejected, or when it holds no bars. */
void qt_testdata_load_4h(const char *pair, qt_bars_t *out);

/* Index of the bar opening at t_ms, -1 when there is none (bars are strictly
 * increasing in time, as qt_bars guarantees). */
long qt_testdata_index_of(const qt_bars_t *b, int64_t t_ms);

#endif
