/* Fuzz target: the freqtrade JSON OHLCV parser (qt_rows_parse_json / qt_bars_parse_json)
 * and the audit on what it returns: recorded files are hostile input.
 *
 * Properties checked on every input (a violation aborts, which libFuzzer reports):
 * - parsing never crashes, leaks or reads out of bounds, whatever the bytes;
 * - rows and bars agree: both parsers succeed or fail together; bars.rows == rows.n and
 *   bars.n + rejected == rows.n; a failure says why (non-empty err);
 * - every kept bar passes the row checks and times strictly increase;
 * - every parsed row has a time in [0, year 3000]; row numbers are 1..n in order;
 * - the audit runs; its clean count equals the bars kept, and its per-row verdict counts
 *   add up to its counters.
 * Built with libFuzzer by scripts/fuzz, and in the normal build with
 * tests/fuzz/driver/replay_main.c, which replays tests/fuzz/corpus/freqtrade. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_bars_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_bars_check((const char *)data, size, qt_rows_parse_json, qt_bars_parse_json);
    return 0;
}
