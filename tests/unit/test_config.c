/* Tests for qt_config: tree + dotted paths, typed getters with exact error texts
 * (file:line, key, expectation, value), first error wins, env overrides, and rejection
 * of aliases/anchors/tags/duplicate keys/complex keys/deep nesting/NUL/bad UTF-8. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qt_config.h"

static qt_config_t *parse_ok(const char *y)
{
    char err[512] = "";
    qt_config_t *c = qt_config_parse(y, strlen(y), "t.yml", err, sizeof err);
    if (!c)
        fail_msg("parse failed: %s", err);
    return c;
}

/* Parses y expecting failure; returns the error text (static). */
static const char *parse_err(const char *y, size_t len)
{
    static char err[512];
    err[0] = '\0';
    qt_config_t *c = qt_config_parse(y, len, "bad.yml", err, sizeof err);
    if (c) {
        qt_config_destroy(&c);
        fail_msg("parse unexpectedly succeeded: %s", y);
    }
    assert_true(err[0] != '\0');
    return err;
}

#define assert_contains(hay, needle)                                                      \
    do {                                                                                  \
        if (!strstr((hay), (needle)))                                                     \
            fail_msg("'%s' does not contain '%s'", (hay), (needle));                      \
    } while (0)

static const char *GOOD =
    "# risk limits\n"                       /* 1 */
    "version: 1\n"                          /* 2 */
    "mode: paper\n"                         /* 3 */
    "limits:\n"                             /* 4 */
    "  max_gross: 250000.50\n"              /* 5 */
    "  max_orders: 40\n"                    /* 6 */
    "  fraction: 0.25\n"                    /* 7 */
    "  enabled: yes\n"                      /* 8 */
    "  name: \"quoted: value\"\n"           /* 9 */
    "  empty:\n"                            /* 10 */
    "symbols: [BTC_USDT, ETH_USDT, 'SOL_USDT']\n" /* 11 */
    "assets:\n"                             /* 12 */
    "  - symbol: BTC_USDT\n"                /* 13 */
    "    tick: 0.01\n"                      /* 14 */
    "  - symbol: ETH_USDT\n"                /* 15 */
    "    tick: 0.001\n"                     /* 16 */
    "services:\n"                           /* 17 */
    "  qt-risk: {admin_port: 9105, pub: 'tcp://127.0.0.1:5555'}\n" /* 18 */
    "  qt-exec:\n"                          /* 19 */
    "    admin_port: 9106\n"                /* 20 */
    "topics:\n"                             /* 21 */
    "  md.bar: qt.bars\n"                   /* 22 */
    "  neg: -17\n";                         /* 23 */

static void test_selftest(void **state)
{
    (void)state;
    assert_int_equal(qt_config_selftest(false), 0);
}

static void test_good_tree(void **state)
{
    (void)state;
    qt_config_t *c = parse_ok(GOOD);
    assert_string_equal(qt_config_name(c), "t.yml");
    assert_int_equal(qt_config_int(c, "version", true, 0, 1, 1), 1);
    assert_string_equal(qt_config_str(c, "mode", NULL), "paper");
    assert_true(qt_config_money(c, "limits.max_gross", true, 0) == 25000050000000LL);
    assert_int_equal(qt_config_int(c, "limits.max_orders", true, 0, 0, 1000), 40);
    assert_true(qt_config_double(c, "limits.fraction", true, 0, 0, 1) == 0.25);
    assert_true(qt_config_bool(c, "limits.enabled", true, false));
    assert_string_equal(qt_config_str(c, "limits.name", NULL), "quoted: value");
    assert_string_equal(qt_config_str(c, "limits.empty", NULL), "");
    assert_int_equal(qt_config_seq_len(c, "symbols"), 3);
    assert_string_equal(qt_config_seq_str(c, "symbols", 0), "BTC_USDT");
    assert_string_equal(qt_config_seq_str(c, "symbols", 2), "SOL_USDT");
    assert_null(qt_config_seq_str(c, "symbols", 3));
    assert_int_equal(qt_config_seq_len(c, "assets"), 2);
    assert_null(qt_config_seq_str(c, "assets", 0)); /* a map, not a scalar */
    assert_string_equal(qt_config_str(c, "assets.1.symbol", NULL), "ETH_USDT");
    assert_true(qt_config_money(c, "assets.0.tick", true, 0) == 1000000);
    assert_false(qt_config_has(c, "assets.2.symbol"));
    assert_false(qt_config_has(c, "assets.x"));
    assert_int_equal(qt_config_int(c, "services.qt-risk.admin_port", true, 0, 1, 65535), 9105);
    assert_string_equal(qt_config_str(c, "services.qt-risk.pub", NULL), "tcp://127.0.0.1:5555");
    assert_int_equal(qt_config_int(c, "services.qt-exec.admin_port", true, 0, 1, 65535), 9106);
    assert_string_equal(qt_config_str(c, "topics.md.bar", NULL), "qt.bars"); /* dotted key */
    assert_int_equal(qt_config_int(c, "topics.neg", true, 0, -100, 100), -17);
    /* map keys in file order */
    assert_int_equal(qt_config_map_len(c, ""), 7);
    assert_string_equal(qt_config_map_key(c, "", 0), "version");
    assert_string_equal(qt_config_map_key(c, "", 6), "topics");
    assert_null(qt_config_map_key(c, "", 7));
    assert_int_equal(qt_config_map_len(c, "services"), 2);
    assert_string_equal(qt_config_map_key(c, "services", 0), "qt-risk");
    assert_string_equal(qt_config_map_key(c, "services", 1), "qt-exec");
    assert_true(qt_config_has(c, "limits"));
    assert_true(qt_config_has(c, "limits.max_orders"));
    assert_false(qt_config_has(c, "limits.nope"));
    assert_false(qt_config_has(c, "limits.max_orders.deeper"));
    assert_null(qt_config_error(c));
    qt_config_destroy(&c);
    assert_null(c);
    qt_config_destroy(&c);
    qt_config_destroy(NULL);
}

static void test_defaults_without_error(void **state)
{
    (void)state;
    qt_config_t *c = parse_ok(GOOD);
    assert_string_equal(qt_config_str(c, "nope", "dflt"), "dflt");
    assert_int_equal(qt_config_int(c, "limits.nope", false, 77, 0, 100), 77);
    assert_true(qt_config_double(c, "x.y.z", false, 1.5, 0, 2) == 1.5);
    assert_true(qt_config_bool(c, "nope", false, true));
    assert_true(qt_config_money(c, "nope", false, 42) == 42);
    assert_int_equal(qt_config_seq_len(c, "nope"), 0);
    assert_int_equal(qt_config_map_len(c, "nope"), 0);
    assert_null(qt_config_map_key(c, "nope", 0));
    assert_null(qt_config_error(c));
    qt_config_destroy(&c);
}

static void expect_first_error(const char *y, void (*get)(qt_config_t *), const char *want)
{
    qt_config_t *c = parse_ok(y);
    get(c);
    const char *e = qt_config_error(c);
    assert_non_null(e);
    assert_string_equal(e, want);
    qt_config_destroy(&c);
}

static void g_int_bad(qt_config_t *c) { assert_int_equal(qt_config_int(c, "limits.max_orders", true, 5, 0, 100), 5); }
static void g_int_range(qt_config_t *c) { assert_int_equal(qt_config_int(c, "limits.max_orders", true, 5, 0, 10), 5); }
static void g_int_missing(qt_config_t *c) { assert_int_equal(qt_config_int(c, "limits.max_gross2", true, 3, 0, 10), 3); }
static void g_int_missing_top(qt_config_t *c) { qt_config_int(c, "nothere", true, 3, 0, 10); }
static void g_int_map(qt_config_t *c) { qt_config_int(c, "limits", true, 3, 0, 10); }
static void g_str_seq(qt_config_t *c) { assert_string_equal(qt_config_str(c, "symbols", "d"), "d"); }
static void g_str_req(qt_config_t *c) { assert_string_equal(qt_config_str(c, "services.qt-exec.pub", NULL), ""); }
static void g_dbl_nan(qt_config_t *c) { assert_true(qt_config_double(c, "limits.fraction", true, 0.5, 0, 1) == 0.5); }
static void g_bool(qt_config_t *c) { assert_true(qt_config_bool(c, "limits.enabled", true, true)); }
static void g_money(qt_config_t *c) { assert_true(qt_config_money(c, "limits.max_gross", true, 9) == 9); }
static void g_first_wins(qt_config_t *c)
{
    qt_config_int(c, "limits.max_orders", true, 5, 0, 10);
    qt_config_bool(c, "limits.enabled", true, true);
    /* later good reads still work */
    assert_int_equal(qt_config_int(c, "limits.max_orders", true, 0, 0, 100), 40);
}

static const char *BAD_VALUES =
    "version: 1\n"                          /* 1 */
    "limits:\n"                             /* 2 */
    "  max_orders: 40x\n"                   /* 3 */
    "  fraction: nan\n"                     /* 4 */
    "  enabled: maybe\n"                    /* 5 */
    "  max_gross: 1.2.3\n"                  /* 6 */
    "symbols: [a, b]\n"                     /* 7 */
    "services:\n"                           /* 8 */
    "  qt-exec:\n"                          /* 9 */
    "    admin_port: 9106\n";               /* 10 */

static const char *RANGE =
    "limits:\n"
    "\n"
    "  max_orders: 40\n";

static void test_getter_errors(void **state)
{
    (void)state;
    expect_first_error(BAD_VALUES, g_int_bad,
                       "t.yml:3: key 'limits.max_orders': expected integer in [0, 100], got '40x'");
    expect_first_error(RANGE, g_int_range,
                       "t.yml:3: key 'limits.max_orders': expected integer in [0, 10], got '40'");
    expect_first_error(RANGE, g_int_missing,
                       "t.yml:3: key 'limits.max_gross2': expected integer in [0, 10], missing");
    expect_first_error(RANGE, g_int_missing_top,
                       "t.yml:1: key 'nothere': expected integer in [0, 10], missing");
    expect_first_error(RANGE, g_int_map,
                       "t.yml:3: key 'limits': expected integer in [0, 10], got a mapping");
    expect_first_error(BAD_VALUES, g_str_seq,
                       "t.yml:7: key 'symbols': expected string, got a sequence");
    expect_first_error(BAD_VALUES, g_str_req,
                       "t.yml:10: key 'services.qt-exec.pub': expected string, missing");
    expect_first_error(BAD_VALUES, g_dbl_nan,
                       "t.yml:4: key 'limits.fraction': expected number in [0, 1], got 'nan'");
    expect_first_error(BAD_VALUES, g_bool,
                       "t.yml:5: key 'limits.enabled': expected boolean (true/false), got 'maybe'");
    expect_first_error(BAD_VALUES, g_money,
                       "t.yml:6: key 'limits.max_gross': expected decimal amount (up to 8 "
                       "decimals, |x| < 92233720368), got '1.2.3' (not a decimal number)");
    expect_first_error(RANGE, g_first_wins,
                       "t.yml:3: key 'limits.max_orders': expected integer in [0, 10], got '40'");
}

static void test_typed_parsing(void **state)
{
    (void)state;
    const char *y = "i1: -9223372036854775808\n"
                    "i2: 9223372036854775807\n"
                    "i3: 9223372036854775808\n"
                    "i4: '12'\n"
                    "i5: +5\n"
                    "i6: 0x10\n"
                    "i7: 1e3\n"
                    "i8: ''\n"
                    "d1: 1e-3\n"
                    "d2: -.5\n"
                    "d3: 0x1p3\n"
                    "d4: inf\n"
                    "d5: 1e999\n"
                    "d6: ' 1'\n"
                    "b1: true\nb2: FALSE\nb3: on\nb4: 'no'\nb5: 1\n"
                    "m1: 1e-9\nm2: \"0.01634790\"\nm3: 100000000000\n"
                    "long: 0123456789012345678901234567890123456789012345678901234567890123456789\n";
    qt_config_t *c = parse_ok(y);
    assert_true(qt_config_int(c, "i1", true, 0, INT64_MIN, INT64_MAX) == INT64_MIN);
    assert_true(qt_config_int(c, "i2", true, 0, INT64_MIN, INT64_MAX) == INT64_MAX);
    assert_int_equal(qt_config_int(c, "i4", true, 0, 0, 100), 12); /* quoted digits are fine */
    assert_int_equal(qt_config_int(c, "i5", true, 0, 0, 100), 5);
    assert_true(qt_config_double(c, "d1", true, 0, 0, 1) == 1e-3);
    assert_true(qt_config_double(c, "d2", true, 0, -1, 1) == -0.5);
    assert_true(qt_config_bool(c, "b1", true, false));
    assert_false(qt_config_bool(c, "b2", true, true));
    assert_true(qt_config_bool(c, "b3", true, false));
    assert_false(qt_config_bool(c, "b4", true, true));
    assert_true(qt_config_money(c, "m1", true, 5) == 0); /* rounds half-even to 0 */
    assert_true(qt_config_money(c, "m2", true, 5) == 1634790);
    assert_null(qt_config_error(c));
    qt_config_destroy(&c);
    /* each bad one on a fresh config, so each error is the first */
    const char *bad_int[] = {"i3", "i6", "i7", "i8"};
    for (size_t i = 0; i < 4; i++) {
        c = parse_ok(y);
        qt_config_int(c, bad_int[i], true, 0, INT64_MIN, INT64_MAX);
        assert_non_null(qt_config_error(c));
        qt_config_destroy(&c);
    }
    const char *bad_dbl[] = {"d3", "d4", "d5", "d6"};
    for (size_t i = 0; i < 4; i++) {
        c = parse_ok(y);
        qt_config_double(c, bad_dbl[i], true, 0, -1e300, 1e300);
        assert_non_null(qt_config_error(c));
        qt_config_destroy(&c);
    }
    c = parse_ok(y);
    qt_config_bool(c, "b5", true, false);
    assert_non_null(qt_config_error(c));
    qt_config_destroy(&c);
    c = parse_ok(y);
    qt_config_money(c, "m3", true, 0);
    assert_contains(qt_config_error(c), "out of range");
    qt_config_destroy(&c);
    c = parse_ok(y);
    qt_config_int(c, "long", true, 0, 0, 1);
    assert_contains(qt_config_error(c), "got '0123456789012345678901234567890123456789012345678901234567890123'...");
    qt_config_destroy(&c);
}

static void test_env_override(void **state)
{
    (void)state;
    qt_config_t *c = parse_ok(GOOD);
    setenv("QT_SERVICES_QT_RISK_ADMIN_PORT", "9999", 1);
    setenv("QT_LIMITS_ENABLED", "false", 1);
    setenv("QT_MODE", "live", 1);
    setenv("QT_ONLY_ENV_KEY", "0.5", 1);
    setenv("QT_TOPICS_MD_BAR", "other.topic", 1);
    assert_int_equal(qt_config_int(c, "services.qt-risk.admin_port", true, 0, 1, 65535), 9999);
    assert_false(qt_config_bool(c, "limits.enabled", true, true));
    const char *mode = qt_config_str(c, "mode", NULL);
    assert_string_equal(mode, "live");
    assert_true(qt_config_money(c, "only.env-key", true, 0) == 50000000);
    assert_true(qt_config_has(c, "only.env_key"));
    assert_string_equal(qt_config_str(c, "topics.md.bar", NULL), "other.topic");
    assert_null(qt_config_error(c));
    /* the returned string stays valid after the environment changes */
    setenv("QT_MODE", "paper-but-longer-value-to-force-realloc", 1);
    unsetenv("QT_MODE");
    assert_string_equal(mode, "live");
    assert_string_equal(qt_config_str(c, "mode", NULL), "paper");
    /* a bad env value names the variable */
    setenv("QT_LIMITS_MAX_ORDERS", "lots", 1);
    qt_config_int(c, "limits.max_orders", true, 0, 0, 100);
    assert_string_equal(qt_config_error(c), "env QT_LIMITS_MAX_ORDERS: key 'limits.max_orders': "
                                            "expected integer in [0, 100], got 'lots'");
    unsetenv("QT_SERVICES_QT_RISK_ADMIN_PORT");
    unsetenv("QT_LIMITS_ENABLED");
    unsetenv("QT_ONLY_ENV_KEY");
    unsetenv("QT_TOPICS_MD_BAR");
    unsetenv("QT_LIMITS_MAX_ORDERS");
    qt_config_destroy(&c);
}

static void test_reject_structure(void **state)
{
    (void)state;
    const char *e;
    e = parse_err("a: &x 1\nb: *x\n", 14);
    assert_contains(e, "bad.yml:1:4: anchors are not allowed");
    const char *alias = "a: 1\nb: *x\n";
    e = parse_err(alias, strlen(alias)); /* undefined alias: still an alias */
    assert_contains(e, "bad.yml:2:");
    const char *merge = "base: &b {x: 1}\nderived:\n  <<: *b\n";
    e = parse_err(merge, strlen(merge));
    assert_contains(e, "anchors are not allowed");
    const char *tag = "a: !!str 5\n";
    e = parse_err(tag, strlen(tag));
    assert_contains(e, "bad.yml:1:4: tags are not allowed");
    const char *custom = "a: !secret x\n";
    e = parse_err(custom, strlen(custom));
    assert_contains(e, "tags are not allowed");
    const char *dup = "a: 1\nb:\n  c: 1\n  d: 2\n  c: 3\n";
    e = parse_err(dup, strlen(dup));
    assert_string_equal(e, "bad.yml:5:3: duplicate key 'c' (lines 3 and 5)");
    const char *cplx = "? [a, b]\n: 1\n";
    e = parse_err(cplx, strlen(cplx));
    assert_contains(e, "map keys must be scalars");
    const char *cplx2 = "{a: 1}: 2\n";
    e = parse_err(cplx2, strlen(cplx2));
    assert_contains(e, "bad.yml:1:");
    const char *multi = "a: 1\n---\nb: 2\n";
    e = parse_err(multi, strlen(multi));
    assert_contains(e, "bad.yml:2:1: more than one YAML document");
    const char *seq = "- a\n- b\n";
    e = parse_err(seq, strlen(seq));
    assert_contains(e, "top level of a config must be a mapping");
    const char *scalar = "just text\n";
    e = parse_err(scalar, strlen(scalar));
    assert_contains(e, "top level of a config must be a mapping");
    const char *syntax = "a: 1\nb: [1, 2\nc: 3\n";
    e = parse_err(syntax, strlen(syntax));
    assert_true(strncmp(e, "bad.yml:", 8) == 0);
    const char *indent = "a:\n  b: 1\n c: 2\n";
    e = parse_err(indent, strlen(indent));
    assert_contains(e, "bad.yml:3:");
    const char *nul = "a: \"x\\0y\"\n";
    e = parse_err(nul, strlen(nul));
    assert_contains(e, "NUL byte");
    const char rawnul[] = "a: x\0y\n";
    e = parse_err(rawnul, sizeof rawnul - 1);
    assert_true(strncmp(e, "bad.yml:", 8) == 0);
    const char *utf8 = "a: caf\xe9\n";
    e = parse_err(utf8, strlen(utf8));
    assert_contains(e, "UTF-8");
    e = parse_err("a: 1", 0x7FFFFFFF); /* claimed length over the bound: refused unread */
    assert_contains(e, "larger than");
    assert_null(qt_config_parse(NULL, 0, "x", NULL, 0)); /* NULL err buffer is fine */
}

static void test_depth_bound(void **state)
{
    (void)state;
    char y[4096];
    /* 32 nested maps: accepted; 33: rejected */
    for (int depth = 31; depth <= 33; depth++) {
        size_t o = 0;
        for (int i = 0; i < depth; i++)
            o += (size_t)snprintf(y + o, sizeof y - o, "%*sk%d:\n", 2 * i, "", i);
        o += (size_t)snprintf(y + o, sizeof y - o, "%*sv: 1\n", 2 * depth, "");
        char err[256];
        qt_config_t *c = qt_config_parse(y, o, "deep.yml", err, sizeof err);
        if (depth + 1 <= 32) {
            assert_non_null(c);
            char path[512];
            size_t p = 0;
            for (int i = 0; i < depth; i++)
                p += (size_t)snprintf(path + p, sizeof path - p, "k%d.", i);
            snprintf(path + p, sizeof path - p, "v");
            assert_int_equal(qt_config_int(c, path, true, 0, 0, 9), 1);
            qt_config_destroy(&c);
        } else {
            assert_null(c);
            assert_contains(err, "nesting deeper than 32");
        }
    }
    /* flow-style bomb */
    char flow[200];
    memset(flow, '[', 100);
    memcpy(flow, "a: ", 3);
    memset(flow + 100, ']', 97);
    flow[197] = '\n';
    flow[198] = '\0';
    const char *e = parse_err(flow, 198);
    assert_contains(e, "nesting deeper than 32");
}

static void test_empty_documents(void **state)
{
    (void)state;
    const char *texts[] = {"", "# only a comment\n", "---\n", "---\n...\n", "~\n"};
    for (size_t i = 0; i < 5; i++) {
        char err[256];
        qt_config_t *c = qt_config_parse(texts[i], strlen(texts[i]), "e.yml", err, sizeof err);
        if (!c)
            fail_msg("'%s': %s", texts[i], err);
        assert_int_equal(qt_config_map_len(c, ""), 0);
        assert_int_equal(qt_config_int(c, "a", false, 7, 0, 10), 7);
        qt_config_int(c, "a.b", true, 7, 0, 10);
        assert_contains(qt_config_error(c), "e.yml:1: key 'a.b'");
        qt_config_destroy(&c);
    }
}

static void test_container_type_errors(void **state)
{
    (void)state;
    qt_config_t *c = parse_ok(GOOD);
    assert_int_equal(qt_config_seq_len(c, "limits"), 0);
    assert_string_equal(qt_config_error(c), "t.yml:5: key 'limits': expected a sequence, got a mapping");
    qt_config_destroy(&c);
    c = parse_ok(GOOD);
    assert_int_equal(qt_config_map_len(c, "mode"), 0);
    assert_string_equal(qt_config_error(c), "t.yml:3: key 'mode': expected a mapping, got 'paper'");
    qt_config_destroy(&c);
}

static void test_truncated_every_length(void **state)
{
    (void)state;
    size_t n = strlen(GOOD);
    for (size_t cut = 0; cut <= n; cut++) {
        char *copy = malloc(cut ? cut : 1); /* exact size: ASan catches overreads */
        assert_non_null(copy);
        memcpy(copy, GOOD, cut);
        char err[256];
        qt_config_t *c = qt_config_parse(copy, cut, "cut.yml", err, sizeof err);
        if (c) {
            qt_config_int(c, "limits.max_orders", false, 0, 0, 100);
            qt_config_destroy(&c);
        } else {
            assert_true(strncmp(err, "cut.yml:", 8) == 0);
        }
        free(copy);
    }
}

static void test_load_files(void **state)
{
    (void)state;
    char err[512];
    qt_config_t *c = qt_config_load("/nonexistent/dir/x.yml", err, sizeof err);
    assert_null(c);
    assert_string_equal(err, "/nonexistent/dir/x.yml: No such file or directory");

    char path[] = "/tmp/qt_config_test_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *y = "a:\n  b: 3\n  c: oops\n";
    assert_int_equal(write(fd, y, strlen(y)), (ssize_t)strlen(y));
    close(fd);
    c = qt_config_load(path, err, sizeof err);
    assert_non_null(c);
    assert_string_equal(qt_config_name(c), path);
    assert_int_equal(qt_config_int(c, "a.b", true, 0, 0, 5), 3);
    qt_config_int(c, "a.c", true, 0, 0, 5);
    char want[256];
    snprintf(want, sizeof want, "%s:3: key 'a.c': expected integer in [0, 5], got 'oops'", path);
    assert_string_equal(qt_config_error(c), want);
    qt_config_destroy(&c);
    unlink(path);

    /* the project's own services.yml loads and has every service's admin port */
    const char *svc = "configs/services.yml";
    if (access(svc, R_OK) != 0)
        svc = "../../../configs/services.yml";
    if (access(svc, R_OK) == 0) {
        c = qt_config_load(svc, err, sizeof err);
        if (!c)
            fail_msg("%s", err);
        size_t n = qt_config_map_len(c, "services");
        assert_true(n >= 1);
        for (size_t i = 0; i < n; i++) {
            char key[256];
            snprintf(key, sizeof key, "services.%s.admin_port", qt_config_map_key(c, "services", i));
            int64_t port = qt_config_int(c, key, true, 0, 1, 65535);
            assert_true(port > 0);
        }
        assert_null(qt_config_error(c));
        qt_config_destroy(&c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selftest),
        cmocka_unit_test(test_good_tree),
        cmocka_unit_test(test_defaults_without_error),
        cmocka_unit_test(test_getter_errors),
        cmocka_unit_test(test_typed_parsing),
        cmocka_unit_test(test_env_override),
        cmocka_unit_test(test_reject_structure),
        cmocka_unit_test(test_depth_bound),
        cmocka_unit_test(test_empty_documents),
        cmocka_unit_test(test_container_type_errors),
        cmocka_unit_test(test_truncated_every_length),
        cmocka_unit_test(test_load_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
