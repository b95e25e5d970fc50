/* Corpus replay driver: a main() for fuzz targets in the normal (gcc) build, so every
 * stored corpus input runs as a regression test under ASan/UBSan/valgrind without
 * libFuzzer.
 *
 *   fuzz_<name> [FILE|DIR]...   replays each FILE and each regular file in each DIR
 *                               (sorted by name; dot files skipped). Arguments starting
 *                               with '-' (libFuzzer flags) are ignored.
 *   fuzz_<name>                 with no paths: replays tests/fuzz/corpus/<name>
 *                               (relative to the current directory).
 * Exit status: 0 when every input ran (a crash aborts the process); 1 when a path cannot
 * be read or nothing at all was replayed (an empty corpus tests nothing). */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int replay_file(const char *path, size_t *count) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return -1;
    }
    for (;;) {
        if (len == cap) {
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                fclose(f);
                return -1;
            }
            buf = nb;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        fprintf(stderr, "replay: %s: read error\n", path);
        free(buf);
        return -1;
    }
    /* Give the target an exactly-sized copy so ASan catches reads past the end. */
    uint8_t *exact = malloc(len ? len : 1);
    if (!exact) {
        free(buf);
        return -1;
    }
    memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    (*count)++;
    return 0;
}

static int skip_dots(const struct dirent *d) { return d->d_name[0] != '.'; }

static int replay_path(const char *path, size_t *count) {
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) return replay_file(path, count);
    struct dirent **names = NULL;
    int n = scandir(path, &names, skip_dots, alphasort);
    if (n < 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        size_t plen = strlen(path) + strlen(names[i]->d_name) + 2;
        char *full = malloc(plen);
        if (!full) {
            rc = -1;
        } else {
            snprintf(full, plen, "%s/%s", path, names[i]->d_name);
            struct stat fst;
            if (stat(full, &fst) == 0 && S_ISREG(fst.st_mode) && replay_file(full, count) != 0)
                rc = -1;
            free(full);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv) {
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    size_t count = 0;
    int rc = 0, paths = 0;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-') continue;
        paths++;
        if (replay_path(argv[i], &count) != 0) rc = 1;
    }
    if (paths == 0) {
        const char *base = strrchr(argv[0], '/');
        base = base ? base + 1 : argv[0];
        if (strncmp(base, "fuzz_", 5) == 0) base += 5;
        char dir[512];
        snprintf(dir, sizeof dir, "tests/fuzz/corpus/%s", base);
        if (replay_path(dir, &count) != 0) rc = 1;
    }
    if (count == 0) {
        fprintf(stderr, "replay: no inputs replayed\n");
        rc = 1;
    }
    fprintf(stderr, "replay: %zu input(s), %s\n", count, rc ? "FAILED" : "ok");
    return rc;
}
