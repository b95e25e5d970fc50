/* Integration: the model registry's Redis side against a real Redis (env QT_REDIS_HOST /
 * QT_REDIS_PORT; fails loudly when unset). Promote / rollback set the pointer
 * "qt:models:promoted:<name>" together with the index; an unreachable Redis leaves the
 * index unchanged; and the qt-models hot-reload path (pointer read from Redis -> artifact
 * loaded from the registry -> booster swapped in) picks up a promotion and a rollback
 * without a restart. */
#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "models/models.h"
#include "qt_redis.h"
#include "qt_registry.h"

static const char *g_host;
static int g_port;
static char g_dir[64];
static char g_name[64];

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *f) {
    (void)sb, (void)flag, (void)f;
    return remove(p);
}

/* A real (tiny) XGBoost model over (roc_1, zscore_20) stored as an artifact. */
static void put_model(qt_registry_t *reg, uint64_t seed, char id[65]) {
    enum { N = 200 };
    float X[2 * N], y[N];
    for (int i = 0; i < N; i++) {
        X[2 * i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
        X[2 * i + 1] = (float)((i * 53) % 97) / 40.0f - 1.2f;
        y[i] = X[2 * i] + 0.3f * X[2 * i + 1] > 0.0f ? 1.0f : 0.0f;
    }
    qt_gbt_params_t p;
    qt_gbt_params_default(&p);
    p.rounds = 5;
    p.seed = seed;
    p.min_child_weight = 1.0;
    char err[256];
    qt_gbt_t *g = qt_gbt_train(X, N, 2, y, NULL, &p, err, sizeof err);
    assert_non_null(g);
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(qt_gbt_save(g, &buf, &len), 0);
    json_t *meta = json_pack("{s:s, s:s, s:[s, s], s:I}", "name", g_name, "kind", "xgboost",
                             "features", "roc_1", "zscore_20", "seed", (json_int_t)seed);
    assert_int_equal(qt_registry_put(reg, meta, "model.json", buf, len, 1, id, err, sizeof err), 0);
    json_decref(meta);
    free(buf);
    qt_gbt_destroy(&g);
}

typedef struct {
    qt_redis_t *redis;
    qt_registry_t *reg;
} ud_t;

static int read_ptr(void *vud, char *id, size_t idlen) {
    ud_t *u = vud;
    char got[65];
    int r = qt_registry_redis_get(u->redis, g_name, got);
    if (r == 1) snprintf(id, idlen, "%s", got);
    return r;
}

static int load(void *vud, const char *id, qt_gbt_t **b, models_fname_t *names, size_t *n) {
    ud_t *u = vud;
    char err[512];
    return models_artifact_load(u->reg, id, b, names, n, err, sizeof err);
}

static void test_promote_rollback_redis(void **state) {
    (void)state;
    char err[512], a[65], b[65], got[65];
    qt_registry_t *reg = qt_registry_open(g_dir, err, sizeof err);
    assert_non_null(reg);
    qt_redis_t *redis = qt_redis_new(g_host, g_port, 1000, NULL);
    assert_true(qt_redis_ping(redis));
    put_model(reg, 1, a);
    put_model(reg, 2, b);
    assert_string_not_equal(a, b);
    assert_int_equal(qt_registry_redis_get(redis, g_name, got), 0);   /* absent */

    /* qt-models' reload path, as main.c wires it */
    models_cfg_t cfg;
    models_cfg_default(&cfg);
    snprintf(cfg.model, sizeof cfg.model, "XGB_v1");
    snprintf(cfg.xgb.registry_name, sizeof cfg.xgb.registry_name, "%s", g_name);
    models_t *m = models_new(&cfg, NULL, err, sizeof err);
    assert_non_null(m);
    ud_t ud = {redis, reg};
    models_reloader_t rl;
    models_reloader_init(&rl, 0);
    rl.read_pointer = read_ptr;
    rl.load = load;
    rl.ud = &ud;
    assert_int_equal(models_reload(m, &rl, 1), 0);
    assert_string_equal(models_version(m), "builtin");

    assert_int_equal(qt_registry_promote(reg, a, "it", "first", 10, qt_registry_redis_set, redis,
                                         err, sizeof err), 0);
    assert_int_equal(qt_registry_redis_get(redis, g_name, got), 1);
    assert_string_equal(got, a);
    assert_int_equal(models_reload(m, &rl, 2), 1);
    assert_string_equal(models_version(m), a);

    assert_int_equal(qt_registry_promote(reg, b, "it", "second", 20, qt_registry_redis_set, redis,
                                         err, sizeof err), 0);
    assert_int_equal(qt_registry_redis_get(redis, g_name, got), 1);
    assert_string_equal(got, b);
    assert_int_equal(models_reload(m, &rl, 3), 1);
    assert_string_equal(models_version(m), b);

    char rid[65];
    assert_int_equal(qt_registry_rollback(reg, g_name, "it", "regression", 30,
                                          qt_registry_redis_set, redis, rid, err, sizeof err), 0);
    assert_string_equal(rid, a);
    assert_int_equal(qt_registry_redis_get(redis, g_name, got), 1);
    assert_string_equal(got, a);
    assert_int_equal(models_reload(m, &rl, 4), 1);
    assert_string_equal(models_version(m), a);

    /* a garbage pointer is an error, the model in use stays */
    redisReply *r = qt_redis_cmd(redis, "SET %s%s %s", QT_REGISTRY_REDIS_PREFIX, g_name, "junk");
    freeReplyObject(r);
    assert_int_equal(models_reload(m, &rl, 5), -1);
    assert_string_equal(models_version(m), a);

    /* Redis unreachable: promotion refused, index unchanged */
    qt_redis_t *dead = qt_redis_new("127.0.0.1", 1, 200, NULL);
    assert_int_equal(qt_registry_promote(reg, b, "it", "x", 40, qt_registry_redis_set, dead, err,
                                         sizeof err), -1);
    assert_non_null(strstr(err, "unreachable"));
    assert_int_equal(qt_registry_promoted(reg, g_name, got, err, sizeof err), 1);
    assert_string_equal(got, a);
    qt_redis_destroy(&dead);

    r = qt_redis_cmd(redis, "DEL %s%s", QT_REGISTRY_REDIS_PREFIX, g_name);
    freeReplyObject(r);
    models_destroy(&m);
    qt_redis_destroy(&redis);
    qt_registry_close(&reg);
}

int main(void) {
    g_host = getenv("QT_REDIS_HOST");
    const char *port = getenv("QT_REDIS_PORT");
    if (!g_host || !*g_host || !port || !*port) {
        fprintf(stderr, "test_registry: QT_REDIS_HOST and QT_REDIS_PORT must name a real Redis "
                        "(scripts/run-tests sets them)\n");
        return 1;
    }
    g_port = atoi(port);
    snprintf(g_dir, sizeof g_dir, "/tmp/qt_registry_it.XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    snprintf(g_name, sizeof g_name, "it_model_%d", (int)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_promote_rollback_redis),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    nftw(g_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
