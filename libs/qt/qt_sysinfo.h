/* qt_sysinfo: facts about the machine that callers of the pure libraries need to pass in.
 * Why here: libs/quant does no I/O, yet the QAOA simulator must refuse a state vector that
 * does not fit in memory instead of being OOM-killed; the CLI, the benchmark and
 * qt-optimizer all read the same number the same way. */
#ifndef QT_SYSINFO_H
#define QT_SYSINFO_H
#include <stdbool.h>
#include <stdint.h>

/* MemAvailable of /proc/meminfo in bytes; 0 when unknown (file missing or unparsable). */
uint64_t qt_sysinfo_mem_available_bytes(void);
/* The same from the text of a meminfo file (NUL-terminated); 0 when absent or malformed. */
uint64_t qt_sysinfo_parse_mem_available(const char *meminfo_text);

int qt_sysinfo_selftest(bool verbose);
#endif
