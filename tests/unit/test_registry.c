/* Unit tests: libs/qt/qt_registry, the file side (the Redis pointer is an injected
 * function here; tests/integration/test_registry.c runs it against a real Redis):
 * content addressing, idempotent put, tamper detection, index, atomic promotion (a
 * failing pointer leaves everything unchanged), rollback, audit lines, hostile files. */
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "qt_registry.h"

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *f) {
    (void)sb, (void)flag, (void)f;
    return remove(p);
}

static char g_dir[64];

static int setup(void **state) {
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/qt_registry_test.XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    return nftw(g_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

typedef struct {
    int calls;
    bool fail;
    char name[64], id[65];
} ptr_t;

static int fake_ptr(void *ud, const char *name, const char *id, char *err, size_t errlen) {
    ptr_t *p = ud;
    p->calls++;
    if (p->fail) {
        snprintf(err, errlen, "pointer store down");
        return -1;
    }
    snprintf(p->name, sizeof p->name, "%s", name);
    snprintf(p->id, sizeof p->id, "%s", id);
    return 0;
}

static json_t *meta(const char *name, int seed) {
    return json_pack("{s:s, s:s, s:{s:i, s:f}, s:[s, s], s:i, s:s, s:i, s:{s:f}}", "name", name,
                     "kind", "xgboost", "params", "rounds", 10, "eta", 0.05, "features", "roc_1",
                     "zscore_20", "feature_schema", 1, "data_hash", "abc", "seed", seed, "cv",
                     "logloss", 0.69);
}

static size_t count_lines(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = 0;
    int c;
    while ((c = fgetc(f)) != EOF) n += c == '\n';
    fclose(f);
    return n;
}

static void write_file(const char *path, const char *s) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(s, f);
    fclose(f);
}

static void test_selftest(void **state) {
    (void)state;
    assert_int_equal(qt_registry_selftest(false), 0);
}

static void test_put_get(void **state) {
    (void)state;
    char err[512], id1[65], id2[65], id3[65];
    qt_registry_t *r = qt_registry_open(g_dir, err, sizeof err);
    assert_non_null(r);
    const uint8_t model[] = "MODEL-BYTES-1";
    json_t *m = meta("xgb_v1", 42);
    assert_int_equal(qt_registry_put(r, m, "model.ubj", model, sizeof model, 1000, id1, err, sizeof err), 0);
    assert_true(qt_registry_id_valid(id1));
    /* same content: same id, idempotent (created_ms of the first put kept) */
    assert_int_equal(qt_registry_put(r, m, "model.ubj", model, sizeof model, 2000, id2, err, sizeof err), 0);
    assert_string_equal(id1, id2);
    /* the id is sha256(model || "\n" || canonical meta) */
    char *canon = json_dumps(m, JSON_SORT_KEYS | JSON_COMPACT | JSON_REAL_PRECISION(17));
    size_t cl = strlen(canon);
    uint8_t *buf = malloc(sizeof model + 1 + cl);
    memcpy(buf, model, sizeof model);
    buf[sizeof model] = '\n';
    memcpy(buf + sizeof model + 1, canon, cl);
    char want[65];
    qt_registry_sha256_hex(buf, sizeof model + 1 + cl, want);
    assert_string_equal(id1, want);
    free(buf);
    free(canon);
    /* another seed: another id */
    json_t *m2 = meta("xgb_v1", 43);
    assert_int_equal(qt_registry_put(r, m2, "model.ubj", model, sizeof model, 3000, id3, err, sizeof err), 0);
    assert_string_not_equal(id1, id3);
    /* get verifies and returns meta + bytes */
    json_t *got = NULL;
    uint8_t *bytes = NULL;
    size_t len = 0;
    assert_int_equal(qt_registry_get(r, id1, &got, &bytes, &len, err, sizeof err), 0);
    assert_int_equal(len, sizeof model);
    assert_memory_equal(bytes, model, len);
    assert_int_equal(json_integer_value(json_object_get(got, "created_ms")), 1000);
    assert_string_equal(json_string_value(json_object_get(got, "id")), id1);
    assert_string_equal(json_string_value(json_object_get(got, "model_file")), "model.ubj");
    free(bytes);
    json_decref(got);
    /* index lists both, once each */
    json_t *ix = qt_registry_index(r, err, sizeof err);
    assert_non_null(ix);
    assert_int_equal(json_array_size(json_object_get(ix, "artifacts")), 2);
    json_decref(ix);
    /* invalid input */
    json_t *bad = json_pack("{s:s}", "name", "bad name");
    assert_int_equal(qt_registry_put(r, bad, "model.ubj", model, sizeof model, 1, id2, err, sizeof err), -1);
    json_decref(bad);
    bad = json_pack("{s:s, s:s}", "name", "ok", "id", "x");
    assert_int_equal(qt_registry_put(r, bad, "model.ubj", model, sizeof model, 1, id2, err, sizeof err), -1);
    assert_non_null(strstr(err, "reserved"));
    json_decref(bad);
    assert_int_equal(qt_registry_put(r, m, "../x", model, sizeof model, 1, id2, err, sizeof err), -1);
    assert_int_equal(qt_registry_put(r, m, "model.ubj", model, 0, 1, id2, err, sizeof err), -1);
    assert_int_equal(qt_registry_get(r, "nothex", &got, NULL, NULL, err, sizeof err), -1);
    assert_int_equal(qt_registry_get(r, "0000000000000000000000000000000000000000000000000000000000000000",
                                     &got, NULL, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "not found"));
    /* tampering: change one byte of the model, then of the meta */
    char p[256];
    snprintf(p, sizeof p, "%s/%s/model.ubj", g_dir, id3);
    write_file(p, "MODEL-BYTES-2");
    assert_int_equal(qt_registry_get(r, id3, &got, &bytes, &len, err, sizeof err), -1);
    assert_non_null(strstr(err, "hash mismatch"));
    assert_null(got);
    snprintf(p, sizeof p, "%s/%s/meta.json", g_dir, id1);
    FILE *f = fopen(p, "r");
    char mt[4096];
    size_t ml = fread(mt, 1, sizeof mt - 1, f);
    fclose(f);
    mt[ml] = '\0';
    char *s = strstr(mt, "\"seed\": 42");
    assert_non_null(s);
    s[9] = '3';   /* seed 43 */
    write_file(p, mt);
    assert_int_equal(qt_registry_get(r, id1, &got, NULL, NULL, err, sizeof err), -1);
    write_file(p, "{\"id\": 1");   /* not JSON */
    assert_int_equal(qt_registry_get(r, id1, &got, NULL, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "corrupt"));
    json_decref(m);
    json_decref(m2);
    qt_registry_close(&r);
    assert_null(r);
}

static void test_promote_rollback(void **state) {
    (void)state;
    char err[512], a[65], b[65], c[65], got[65];
    qt_registry_t *r = qt_registry_open(g_dir, err, sizeof err);
    const uint8_t ma[] = "A", mb[] = "B", mc[] = "C";
    json_t *m = meta("xgb_v1", 1), *o = meta("other", 1);
    assert_int_equal(qt_registry_put(r, m, "model.ubj", ma, 1, 10, a, err, sizeof err), 0);
    assert_int_equal(qt_registry_put(r, m, "model.ubj", mb, 1, 20, b, err, sizeof err), 0);
    assert_int_equal(qt_registry_put(r, o, "model.json", mc, 1, 30, c, err, sizeof err), 0);
    char audit[256];
    snprintf(audit, sizeof audit, "%s/audit.jsonl", g_dir);
    ptr_t p = {0};
    assert_int_equal(qt_registry_promoted(r, "xgb_v1", got, err, sizeof err), 0);
    assert_int_equal(qt_registry_rollback(r, "xgb_v1", "t", "r", 1, fake_ptr, &p, got, err, sizeof err), -1);
    assert_non_null(strstr(err, "no earlier promotion"));
    assert_int_equal(qt_registry_promote(r, a, "alice", "first", 100, fake_ptr, &p, err, sizeof err), 0);
    assert_int_equal(p.calls, 1);
    assert_string_equal(p.name, "xgb_v1");
    assert_string_equal(p.id, a);
    assert_int_equal(qt_registry_promoted(r, "xgb_v1", got, err, sizeof err), 1);
    assert_string_equal(got, a);
    assert_int_equal(qt_registry_promote(r, b, "bob", "better cv", 200, fake_ptr, &p, err, sizeof err), 0);
    assert_int_equal(qt_registry_promote(r, c, "bob", "other model", 210, fake_ptr, &p, err, sizeof err), 0);
    assert_string_equal(p.name, "other");
    assert_int_equal(count_lines(audit), 3);
    /* pointer failure: index and audit unchanged, no temp file left */
    p.fail = true;
    assert_int_equal(qt_registry_promote(r, a, "eve", "x", 300, fake_ptr, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "pointer store down"));
    assert_int_equal(qt_registry_promoted(r, "xgb_v1", got, err, sizeof err), 1);
    assert_string_equal(got, b);
    assert_int_equal(count_lines(audit), 3);
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s/index.json.tmp.%ld", g_dir, (long)getpid());
    assert_int_not_equal(access(tmp, F_OK), 0);
    assert_int_equal(qt_registry_rollback(r, "xgb_v1", "eve", "x", 300, fake_ptr, &p, got, err, sizeof err), -1);
    assert_int_equal(qt_registry_promoted(r, "xgb_v1", got, err, sizeof err), 1);
    assert_string_equal(got, b);
    p.fail = false;
    /* rollback b -> a */
    char rid[65] = "";
    assert_int_equal(qt_registry_rollback(r, "xgb_v1", "carol", "regression", 400, fake_ptr, &p, rid, err, sizeof err), 0);
    assert_string_equal(rid, a);
    assert_string_equal(p.id, a);
    assert_int_equal(qt_registry_promoted(r, "xgb_v1", got, err, sizeof err), 1);
    assert_string_equal(got, a);
    assert_int_equal(qt_registry_rollback(r, "xgb_v1", "carol", "again", 500, fake_ptr, &p, rid, err, sizeof err), -1);
    assert_int_equal(count_lines(audit), 4);
    /* audit line content */
    FILE *f = fopen(audit, "r");
    char line[1024], last[1024] = "";
    while (fgets(line, sizeof line, f)) snprintf(last, sizeof last, "%s", line);
    fclose(f);
    json_error_t je;
    json_t *j = json_loads(last, 0, &je);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "action")), "rollback");
    assert_string_equal(json_string_value(json_object_get(j, "id")), a);
    assert_string_equal(json_string_value(json_object_get(j, "previous")), b);
    assert_string_equal(json_string_value(json_object_get(j, "by")), "carol");
    assert_string_equal(json_string_value(json_object_get(j, "reason")), "regression");
    assert_int_equal(json_integer_value(json_object_get(j, "ts_ms")), 400);
    json_decref(j);
    /* promoting the current one again only re-asserts the pointer (no audit line) */
    p.calls = 0;
    assert_int_equal(qt_registry_promote(r, a, "x", "y", 600, fake_ptr, &p, err, sizeof err), 0);
    assert_int_equal(p.calls, 1);
    assert_int_equal(count_lines(audit), 4);
    /* unknown id */
    assert_int_equal(qt_registry_promote(r, "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
                                         "x", "y", 1, fake_ptr, &p, err, sizeof err), -1);
    /* a corrupt index is an error, never silently replaced */
    char ixp[256];
    snprintf(ixp, sizeof ixp, "%s/index.json", g_dir);
    write_file(ixp, "{\"version\": 1, \"artifacts\": [{\"id\": \"zz\"}], \"promoted\": {}}");
    assert_null(qt_registry_index(r, err, sizeof err));
    assert_int_equal(qt_registry_promote(r, b, "x", "y", 1, fake_ptr, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "corrupt index"));
    write_file(ixp, "[");
    assert_int_equal(qt_registry_promoted(r, "xgb_v1", got, err, sizeof err), -1);
    json_decref(m);
    json_decref(o);
    qt_registry_close(&r);
    assert_null(qt_registry_open("", err, sizeof err));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selftest),
        cmocka_unit_test_setup_teardown(test_put_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_promote_rollback, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
