/* Integration: qt_checkpoint against a real Redis (env QT_REDIS_HOST / QT_REDIS_PORT). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "qt_checkpoint.h"

static const char *g_host;
static int g_port;
static char g_svc[64];

static qt_redis_t *client(void)
{
    qt_redis_t *r = qt_redis_new(g_host, g_port, 1000, NULL);
    assert_non_null(r);
    return r;
}

static void test_none_then_round_trip(void **state)
{
    (void)state;
    qt_redis_t *r = client();
    assert_int_equal(qt_checkpoint_clear(r, g_svc), 0);
    uint8_t *st = NULL;
    size_t len = 7;
    char why[128];
    assert_int_equal(qt_checkpoint_load(r, g_svc, &st, &len, why, sizeof why), 0);
    assert_null(st);
    assert_int_equal(len, 0);

    uint8_t data[1000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i ^ 0x5a);
    assert_int_equal(qt_checkpoint_save(r, g_svc, data, sizeof data), 0);
    uint64_t seq = 0;
    assert_int_equal(qt_checkpoint_load_ex(r, g_svc, &st, &len, &seq, why, sizeof why), 1);
    assert_int_equal(len, sizeof data);
    assert_memory_equal(st, data, sizeof data);
    assert_int_equal(seq, 1);
    free(st);

    /* a second save replaces the state and advances the sequence */
    assert_int_equal(qt_checkpoint_save(r, g_svc, data, 10), 0);
    assert_int_equal(qt_checkpoint_load_ex(r, g_svc, &st, &len, &seq, why, sizeof why), 1);
    assert_int_equal(len, 10);
    assert_int_equal(seq, 2);
    free(st);
    /* empty state is a valid state */
    assert_int_equal(qt_checkpoint_save(r, g_svc, NULL, 0), 0);
    assert_int_equal(qt_checkpoint_load(r, g_svc, &st, &len, why, sizeof why), 1);
    assert_int_equal(len, 0);
    free(st);
    assert_int_equal(qt_checkpoint_clear(r, g_svc), 0);
    assert_int_equal(qt_checkpoint_load(r, g_svc, &st, &len, why, sizeof why), 0);
    qt_redis_destroy(&r);
}

static void set_raw(qt_redis_t *r, const void *buf, size_t len)
{
    char key[128];
    snprintf(key, sizeof key, "qt:ckpt:%s", g_svc);
    redisReply *rep = qt_redis_cmd(r, "SET %s %b", key, buf, len);
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_STATUS);
    freeReplyObject(rep);
}

static void test_corrupt_refused(void **state)
{
    (void)state;
    qt_redis_t *r = client();
    uint8_t data[64];
    memset(data, 0xab, sizeof data);
    assert_int_equal(qt_checkpoint_save(r, g_svc, data, sizeof data), 0);
    char key[128];
    snprintf(key, sizeof key, "qt:ckpt:%s", g_svc);
    redisReply *rep = qt_redis_cmd(r, "GET %s", key);
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_STRING);
    size_t reclen = rep->len;
    uint8_t *rec = malloc(reclen);
    assert_non_null(rec);
    memcpy(rec, rep->str, reclen);
    freeReplyObject(rep);

    uint8_t *st = NULL;
    size_t len = 0;
    char why[128];
    /* one flipped payload byte */
    rec[30] ^= 0x10;
    set_raw(r, rec, reclen);
    assert_int_equal(qt_checkpoint_load(r, g_svc, &st, &len, why, sizeof why), -1);
    assert_null(st);
    assert_string_equal(why, "sha-256 mismatch");
    assert_int_equal(qt_checkpoint_load_ex(r, g_svc, &st, &len, NULL, why, sizeof why), -2);
    rec[30] ^= 0x10;
    /* truncated (a partial write) */
    set_raw(r, rec, reclen - 1);
    assert_int_equal(qt_checkpoint_load(r, g_svc, &st, &len, why, sizeof why), -1);
    assert_null(st);
    /* something else entirely */
    set_raw(r, "hello", 5);
    assert_int_equal(qt_checkpoint_load_ex(r, g_svc, &st, &len, NULL, why, sizeof why), -2);
    /* the intact record loads again */
    set_raw(r, rec, reclen);
    assert_int_equal(qt_checkpoint_load(r, g_svc, &st, &len, why, sizeof why), 1);
    assert_int_equal(len, sizeof data);
    assert_memory_equal(st, data, sizeof data);
    free(st);
    /* a save over a garbage value starts the sequence again at 1 */
    set_raw(r, "garbage-garbage-garbage", 23);
    assert_int_equal(qt_checkpoint_save(r, g_svc, data, 3), 0);
    uint64_t seq = 0;
    assert_int_equal(qt_checkpoint_load_ex(r, g_svc, &st, &len, &seq, why, sizeof why), 1);
    assert_int_equal(seq, 1);
    free(st);
    free(rec);
    assert_int_equal(qt_checkpoint_clear(r, g_svc), 0);
    qt_redis_destroy(&r);
}

static void test_redis_down(void **state)
{
    (void)state;
    qt_redis_t *r = qt_redis_new("127.0.0.1", 1, 300, NULL);
    uint8_t *st = NULL;
    size_t len = 0;
    char why[128];
    uint8_t b = 1;
    assert_int_equal(qt_checkpoint_save(r, g_svc, &b, 1), -1);
    assert_int_equal(qt_checkpoint_load_ex(r, g_svc, &st, &len, NULL, why, sizeof why), -1);
    assert_string_equal(why, "redis unreachable");
    assert_int_equal(qt_checkpoint_load(r, g_svc, &st, &len, why, sizeof why), -1);
    assert_null(st);
    qt_redis_destroy(&r);
}

int main(void)
{
    g_host = getenv("QT_REDIS_HOST");
    const char *port = getenv("QT_REDIS_PORT");
    if (!g_host || !*g_host || !port || !*port) {
        fprintf(stderr, "test_checkpoint: QT_REDIS_HOST and QT_REDIS_PORT must name a real "
                        "Redis (scripts/run-tests sets them)\n");
        return 1;
    }
    g_port = atoi(port);
    snprintf(g_svc, sizeof g_svc, "test-ckpt-%d", (int)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_none_then_round_trip),
        cmocka_unit_test(test_corrupt_refused),
        cmocka_unit_test(test_redis_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
