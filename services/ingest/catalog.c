/* ingest catalog: `qt-ingest catalog`; see catalog.h. */
#include "ingest/catalog.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "qt_cli.h"
#include "qt_store.h"

#define PROG "qt-ingest catalog"

int ingest_catalog_main(int argc, char **argv, int i, FILE *out) {
    const char *root = "data/curated";
    bool verify = false;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--verify") == 0) {
            verify = true;
        } else if (strcmp(argv[i], "--store") == 0 && i + 1 < argc) {
            root = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0) {
            fprintf(out, "usage: qt-ingest catalog [--store DIR] [--verify]\n");
            return 0;
        } else {
            return qt_cli_usage_error(PROG, "unknown argument '%s'", argv[i]);
        }
    }
    char err[1024];
    qt_store_t *s = qt_store_open(root, err, sizeof err);
    if (!s) {
        fprintf(stderr, PROG ": %s\n", err);
        return 1;
    }
    qt_store_entry_t *e = NULL;
    size_t n = 0;
    if (qt_store_catalog(s, &e, &n, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        qt_store_destroy(&s);
        return 1;
    }
    int rc = 0;
    json_t *arr = json_array();
    for (size_t k = 0; k < n; k++) {
        json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:s}", "venue", e[k].venue, "symbol",
                              e[k].symbol, "interval", e[k].interval, "rows",
                              (json_int_t)e[k].rows, "first_ms", (json_int_t)e[k].first_ms,
                              "last_ms", (json_int_t)e[k].last_ms, "sha256", e[k].sha256);
        if (verify) {
            bool ok = qt_store_verify(s, e[k].venue, e[k].symbol, e[k].interval, err,
                                      sizeof err) == 0;
            json_object_set_new(o, "verified", json_boolean(ok));
            if (!ok) {
                json_object_set_new(o, "error", json_string(err));
                rc = 1;
            }
        }
        json_array_append_new(arr, o);
    }
    json_t *root_o = json_pack("{s:s,s:o}", "store", root, "datasets", arr);
    char *txt = json_dumps(root_o, JSON_COMPACT);
    if (txt) fprintf(out, "%s\n", txt);
    free(txt);
    json_decref(root_o);
    free(e);
    qt_store_destroy(&s);
    return rc;
}
