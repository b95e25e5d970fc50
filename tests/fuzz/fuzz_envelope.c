/* Fuzz target: qt_env_decode on arbitrary bytes (the bus and Kafka trust boundary).
 *
 * Properties checked on every input (a violation aborts, which libFuzzer reports):
 * - decode never crashes, leaks or reads out of bounds, whatever the bytes;
 * - a rejected input yields no envelope and a stable, non-empty status name;
 * - an accepted input re-validates, re-encodes, and its encoding decodes again to an
 *   envelope whose encoding is byte-identical (canonical round trip);
 * - both renderings to JSON succeed and are valid one-line JSON.
 * Built two ways: with libFuzzer by scripts/fuzz, and in the normal build with
 * tests/fuzz/driver/replay_main.c, which replays tests/fuzz/corpus/envelope. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qt_envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_json(const qt_env_t *env) {
    char *js = qt_env_to_json(env);
    if (!js) abort();
    if (strchr(js, '\n')) abort();
    json_error_t err;
    json_t *root = json_loads(js, 0, &err);
    if (!root || !json_is_object(root)) abort();
    if (!json_object_get(root, qt_env_body_name(env))) abort(); /* the body is rendered */
    json_decref(root);
    free(js);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char why[256];
    qt_env_t *env = (qt_env_t *)(uintptr_t)1;
    qt_decode_status_t st = qt_env_decode(data, size, &env, why, sizeof why);
    const char *name = qt_decode_status_str(st);
    if (!name || !*name || strcmp(name, "unknown") == 0) abort();
    if (st != QT_DECODE_OK) {
        if (env != NULL) abort();
        if (why[0] == '\0') abort(); /* every rejection says why */
        return 0;
    }
    if (!env) abort();
    if (!qt_env_validate(env, why, sizeof why)) abort();
    if (strcmp(qt_env_body_name(env), "none") == 0) abort();

    size_t len = 0;
    uint8_t *buf = qt_env_encode(env, &len);
    if (!buf) abort();
    qt_env_t *again = NULL;
    if (qt_env_decode(buf, len, &again, why, sizeof why) != QT_DECODE_OK) abort();
    if (again->body_case != env->body_case || again->seq != env->seq) abort();
    size_t len2 = 0;
    uint8_t *buf2 = qt_env_encode(again, &len2);
    if (!buf2 || len2 != len || memcmp(buf, buf2, len) != 0) abort();

    check_json(env);
    check_json(again);

    free(buf);
    free(buf2);
    qt_env_free(again);
    qt_env_free(env);
    return 0;
}
