/* Fuzz target: the CSV OHLCV parser (qt_rows_parse_csv / qt_bars_parse_csv: header
 * detection, ',' or ';', quoted fields, every date form) and the audit on its rows.
 * Same properties as fuzz_freqtrade.c (see tests/fuzz/fuzz_bars_common.h). Replayed in the
 * normal build from tests/fuzz/corpus/csv. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_bars_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_bars_check((const char *)data, size, qt_rows_parse_csv, qt_bars_parse_csv);
    return 0;
}
