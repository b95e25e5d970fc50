/* qt_sysinfo: see qt_sysinfo.h. */
#include "qt_sysinfo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Finds the line "MemAvailable: <kB> kB". Strict: digits only, no overflow. */
uint64_t qt_sysinfo_parse_mem_available(const char *text) {
    if (text == NULL) return 0;
    const char *key = "MemAvailable:";
    const char *p = text;
    while ((p = strstr(p, key)) != NULL) {
        if (p != text && p[-1] != '\n') {
            p += strlen(key);
            continue;
        }
        p += strlen(key);
        while (*p == ' ' || *p == '\t') p++;
        if (*p < '0' || *p > '9') return 0;
        errno = 0;
        char *end = NULL;
        unsigned long long kb = strtoull(p, &end, 10);
        if (errno != 0 || end == p || strncmp(end, " kB", 3) != 0) return 0;
        if (kb > UINT64_MAX / 1024u) return 0;
        return (uint64_t)kb * 1024u;
    }
    return 0;
}

uint64_t qt_sysinfo_mem_available_bytes(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (f == NULL) return 0;
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return qt_sysinfo_parse_mem_available(buf);
}

int qt_sysinfo_selftest(bool verbose) {
    int fails = 0;
    if (qt_sysinfo_parse_mem_available("MemTotal: 10 kB\nMemAvailable:   2048 kB\n") != 2097152u)
        fails++;
    if (qt_sysinfo_parse_mem_available("MemAvailable: x kB\n") != 0) fails++;
    if (verbose) printf("qt_sysinfo selftest: %d failures\n", fails);
    return fails;
}
