/* Tests for qt_envelope: every body type round-trips byte-for-byte; each decode status is
 * produced by the input that should produce it; every semantic rule rejects the value it
 * is about and names the field; the JSON rendering is exact, ordered and deterministic;
 * an interned publisher source stamped into a decoded envelope is never freed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qt_envelope.h"
#include "../lib/qt_testenv.h"

/* Sample envelopes of every body type: tests/lib/qt_testenv. */

/* Encode + decode; asserts the status and returns the decoded envelope (or NULL). */
static qt_env_t *roundtrip(const qt_env_t *env, qt_decode_status_t expect, char *why,
                           size_t whylen) {
    size_t len = 0;
    uint8_t *buf = qt_env_encode(env, &len);
    assert_non_null(buf);
    qt_env_t *out = (qt_env_t *)(uintptr_t)1;
    qt_decode_status_t st = qt_env_decode(buf, len, &out, why, whylen);
    free(buf);
    if (st != expect) fail_msg("status %s, expected %s (%s)", qt_decode_status_str(st),
                               qt_decode_status_str(expect), why);
    if (expect == QT_DECODE_OK) assert_non_null(out);
    else assert_null(out);
    return out;
}

/* The semantic check of `s` fails with a why containing `field`. */
static void expect_invalid(qt_testenv_t *s, const char *field) {
    char why[256] = "";
    assert_false(qt_env_validate(&s->env, why, sizeof why));
    if (!strstr(why, field)) fail_msg("why \"%s\" does not name \"%s\"", why, field);
    char why2[256] = "";
    roundtrip(&s->env, QT_DECODE_INVALID, why2, sizeof why2);
    assert_string_equal(why, why2);
}

/* ---------------------------------------------------------------- tests */

static void test_selftest(void **state) {
    (void)state;
    assert_int_equal(qt_envelope_selftest(false), 0);
}

static void test_status_names(void **state) {
    (void)state;
    assert_string_equal(qt_decode_status_str(QT_DECODE_OK), "ok");
    assert_string_equal(qt_decode_status_str(QT_DECODE_EMPTY), "empty");
    assert_string_equal(qt_decode_status_str(QT_DECODE_OVERSIZE), "oversize");
    assert_string_equal(qt_decode_status_str(QT_DECODE_MALFORMED), "malformed");
    assert_string_equal(qt_decode_status_str(QT_DECODE_VERSION), "version");
    assert_string_equal(qt_decode_status_str(QT_DECODE_NO_BODY), "no_body");
    assert_string_equal(qt_decode_status_str(QT_DECODE_INVALID), "invalid");
    assert_string_equal(qt_decode_status_str(QT_DECODE__COUNT), "unknown");
}

/* Every body type: valid, decodes to the same values, re-encodes to the same bytes. */
static void test_roundtrip_all_bodies(void **state) {
    (void)state;
    for (size_t k = 0; k < qt_testenv_nkinds; k++) {
        qt_testenv_t s;
        qt_testenv_init(&s, qt_testenv_kinds[k]);
        char why[256] = "";
        if (!qt_env_validate(&s.env, why, sizeof why))
            fail_msg("sample %s invalid: %s", qt_testenv_kind_names[k], why);
        assert_string_equal(qt_env_body_name(&s.env), qt_testenv_kind_names[k]);
        size_t len = 0;
        uint8_t *buf = qt_env_encode(&s.env, &len);
        assert_non_null(buf);
        qt_env_t *d = NULL;
        assert_int_equal(qt_env_decode(buf, len, &d, why, sizeof why), QT_DECODE_OK);
        assert_non_null(d);
        assert_int_equal(d->body_case, qt_testenv_kinds[k]);
        assert_int_equal(d->schema_version, QT_SCHEMA_VERSION);
        assert_string_equal(d->source, "qt-test");
        assert_true(d->seq == 42);
        assert_true(d->event_time_ns == 1700000000000000000LL);
        assert_int_equal(d->trace_id.len, 16);
        assert_memory_equal(d->trace_id.data, s.trace, 16);
        size_t len2 = 0;
        uint8_t *buf2 = qt_env_encode(d, &len2);
        assert_non_null(buf2);
        assert_int_equal(len, len2);
        assert_memory_equal(buf, buf2, len);
        /* the JSON of the original and the decoded copy are identical */
        char *j1 = qt_env_to_json(&s.env), *j2 = qt_env_to_json(d);
        assert_non_null(j1);
        assert_non_null(j2);
        assert_string_equal(j1, j2);
        free(j1);
        free(j2);
        free(buf);
        free(buf2);
        qt_env_free(d);
    }
}

static void test_roundtrip_values(void **state) {
    (void)state;
    qt_testenv_t s;
    char why[256];
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_BAR);
    qt_env_t *d = roundtrip(&s.env, QT_DECODE_OK, why, sizeof why);
    assert_string_equal(d->bar->symbol, "BTC_USDT");
    assert_string_equal(d->bar->interval, "4h");
    assert_true(d->bar->open == 3650000000000LL && d->bar->high == 3700000000000LL);
    assert_true(d->bar->low == 3600000000000LL && d->bar->close == 3680000000000LL);
    assert_true(d->bar->volume == 123456789012LL);
    assert_int_equal(d->bar->flags, 1);
    qt_env_free(d);

    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_FEATURES);
    d = roundtrip(&s.env, QT_DECODE_OK, why, sizeof why);
    assert_int_equal(d->features->n_features, 3);
    assert_string_equal(d->features->features[1]->name, "ret_1");
    assert_true(d->features->features[1]->value == -0.0125);
    assert_false(d->features->features[2]->ready);
    qt_env_free(d);

    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_RECON);
    d = roundtrip(&s.env, QT_DECODE_OK, why, sizeof why);
    assert_int_equal(d->recon->n_rebuilt, 1);
    assert_true(d->recon->broker[0]->qty == 1400000LL);
    assert_string_equal(d->recon->detail, "BTC_USDT qty differs");
    qt_env_free(d);
}

static void test_decode_statuses(void **state) {
    (void)state;
    char why[256];
    qt_env_t *out = (qt_env_t *)(uintptr_t)1;
    /* empty */
    assert_int_equal(qt_env_decode((const uint8_t *)"x", 0, &out, why, sizeof why),
                     QT_DECODE_EMPTY);
    assert_null(out);
    /* oversize: checked before parsing */
    uint8_t *big = calloc(QT_MAX_FRAME + 1, 1);
    assert_non_null(big);
    assert_int_equal(qt_env_decode(big, QT_MAX_FRAME + 1, &out, why, sizeof why),
                     QT_DECODE_OVERSIZE);
    assert_non_null(strstr(why, "262145"));
    free(big);
    /* garbage */
    const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    assert_int_equal(qt_env_decode(garbage, sizeof garbage, &out, why, sizeof why),
                     QT_DECODE_MALFORMED);
    assert_null(out);
    /* NULL buffer with a length */
    assert_int_equal(qt_env_decode(NULL, 5, &out, why, sizeof why), QT_DECODE_MALFORMED);
    /* every strict prefix of a valid frame is rejected (never OK with wrong content) */
    qt_testenv_t s;
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_FILL);
    size_t len = 0;
    uint8_t *buf = qt_env_encode(&s.env, &len);
    assert_non_null(buf);
    size_t malformed = 0;
    for (size_t cut = 1; cut < len; cut++) {
        qt_decode_status_t st = qt_env_decode(buf, cut, &out, NULL, 0);
        assert_int_not_equal(st, QT_DECODE_OK);
        assert_null(out);
        if (st == QT_DECODE_MALFORMED) malformed++;
    }
    assert_true(malformed > len / 2);
    free(buf);
    /* wrong version */
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_HEARTBEAT);
    s.env.schema_version = 2;
    roundtrip(&s.env, QT_DECODE_VERSION, why, sizeof why);
    assert_non_null(strstr(why, "schema_version=2"));
    s.env.schema_version = 0;
    roundtrip(&s.env, QT_DECODE_VERSION, why, sizeof why);
    /* no body */
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_HEARTBEAT);
    s.env.body_case = QT__V1__ENVELOPE__BODY__NOT_SET;
    s.env.heartbeat = NULL;
    roundtrip(&s.env, QT_DECODE_NO_BODY, why, sizeof why);
    assert_string_equal(qt_env_body_name(&s.env), "none");
    /* status without an out pointer still works and leaks nothing */
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_HEARTBEAT);
    buf = qt_env_encode(&s.env, &len);
    assert_int_equal(qt_env_decode(buf, len, NULL, NULL, 0), QT_DECODE_OK);
    free(buf);
}

/* Hand-written wire bytes: a body field number this version does not know is no body. */
static void test_unknown_body_field(void **state) {
    (void)state;
    /* schema_version=1 (08 01); field 30, length-delimited, 0 bytes (f2 01 00) */
    const uint8_t wire[] = {0x08, 0x01, 0xf2, 0x01, 0x00};
    qt_env_t *out = NULL;
    assert_int_equal(qt_env_decode(wire, sizeof wire, &out, NULL, 0), QT_DECODE_NO_BODY);
    assert_null(out);
    /* An empty heartbeat body (field 21) is present but has no service */
    const uint8_t hb[] = {0x08, 0x01, 0xaa, 0x01, 0x00};
    char why[128];
    assert_int_equal(qt_env_decode(hb, sizeof hb, &out, why, sizeof why), QT_DECODE_INVALID);
    assert_string_equal(why, "heartbeat.service is empty");
}

/* Found by fuzzing: protobuf-c accepts an overlong tag for field number 0 (81 00) and
 * keeps it as an unknown field, but cannot decode its own re-encoding of it. */
static void test_field_zero_is_malformed(void **state) {
    (void)state;
    /* schema_version=1; heartbeat{service="a"}; then 81 00 + 8 bytes (field 0, fixed64) */
    const uint8_t wire[] = {0x08, 0x01, 0xaa, 0x01, 0x03, 0x0a, 0x01, 'a', 0x81, 0x00,
                            0, 0, 0, 0, 0, 0, 0, 0};
    char why[128];
    qt_env_t *out = NULL;
    assert_int_equal(qt_env_decode(wire, sizeof wire, &out, why, sizeof why),
                     QT_DECODE_MALFORMED);
    assert_null(out);
    assert_non_null(strstr(why, "illegal number 0"));
    /* the same inside a nested message */
    const uint8_t nested[] = {0x08, 0x01, 0xaa, 0x01, 0x0d, 0x0a, 0x01, 'a', 0x81, 0x00,
                              0, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(qt_env_decode(nested, sizeof nested, &out, why, sizeof why),
                     QT_DECODE_MALFORMED);
    assert_non_null(strstr(why, "Heartbeat"));
    /* a legal unknown field (number 30, varint) is kept and survives a round trip */
    const uint8_t fwd[] = {0x08, 0x01, 0xaa, 0x01, 0x03, 0x0a, 0x01, 'a', 0xf0, 0x01, 0x05};
    assert_int_equal(qt_env_decode(fwd, sizeof fwd, &out, why, sizeof why), QT_DECODE_OK);
    size_t len;
    uint8_t *buf = qt_env_encode(out, &len);
    assert_int_equal(len, sizeof fwd);
    assert_memory_equal(buf, fwd, len);
    free(buf);
    qt_env_free(out);
}

static void test_invalid_utf8_is_malformed(void **state) {
    (void)state;
    qt_testenv_t s;
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_ORDER);
    char bad[] = {'p', 'a', (char)0xC3, (char)0x28, 0}; /* bad continuation byte */
    s.order.mode = bad;
    char why[256];
    assert_false(qt_env_validate(&s.env, why, sizeof why));
    roundtrip(&s.env, QT_DECODE_MALFORMED, why, sizeof why);
    assert_non_null(strstr(why, "Order.mode"));
    /* overlong encoding and a surrogate are invalid too */
    char overlong[] = {(char)0xC0, (char)0xAF, 0};
    s.order.mode = overlong;
    roundtrip(&s.env, QT_DECODE_MALFORMED, why, sizeof why);
    char surrogate[] = {(char)0xED, (char)0xA0, (char)0x80, 0};
    s.order.mode = surrogate;
    roundtrip(&s.env, QT_DECODE_MALFORMED, why, sizeof why);
    /* valid multi-byte UTF-8 is fine */
    s.order.mode = "pap\xC3\xA9r \xE2\x82\xAC \xF0\x9F\x98\x80";
    qt_env_t *d = roundtrip(&s.env, QT_DECODE_OK, why, sizeof why);
    qt_env_free(d);
    /* nested: a string inside a repeated message */
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_DECISION);
    char bad2[] = {(char)0xFF, 0};
    s.rr.detail = bad2;
    roundtrip(&s.env, QT_DECODE_MALFORMED, why, sizeof why);
    assert_non_null(strstr(why, "RejectReason.detail"));
}

static void test_envelope_rules(void **state) {
    (void)state;
    qt_testenv_t s;
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_WATERMARK);
    s.env.trace_id.len = 15;
    expect_invalid(&s, "trace_id");
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_WATERMARK);
    s.env.span_id.len = 4;
    expect_invalid(&s, "span_id");
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_WATERMARK);
    s.env.trace_id.len = 0;
    s.env.span_id.len = 0;
    assert_true(qt_env_validate(&s.env, NULL, 0));
    char longsrc[200];
    memset(longsrc, 'a', sizeof longsrc - 1);
    longsrc[sizeof longsrc - 1] = 0;
    s.env.source = longsrc;
    expect_invalid(&s, "source");
    assert_false(qt_env_validate(NULL, NULL, 0));
    /* body case set but pointer missing (in-memory misuse) */
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_BAR);
    s.env.bar = NULL;
    char why[128];
    assert_false(qt_env_validate(&s.env, why, sizeof why));
    assert_non_null(strstr(why, "bar"));
}

static void test_bar_rules(void **state) {
    (void)state;
    qt_testenv_t s;
#define BAR_CASE(stmt, field)                        \
    do {                                             \
        qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_BAR); \
        stmt;                                        \
        expect_invalid(&s, field);                   \
    } while (0)
    BAR_CASE(s.bar.symbol = "", "bar.symbol is empty");
    BAR_CASE(s.bar.symbol = "BTC USDT", "bar.symbol=\"BTC USDT\"");
    BAR_CASE(s.bar.symbol = "BTC\"X", "bar.symbol");
    BAR_CASE(s.bar.symbol = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456", "longer than 32");
    BAR_CASE(s.bar.interval = "", "bar.interval is empty");
    BAR_CASE(s.bar.open_time_ms = 0, "bar.open_time_ms=0");
    BAR_CASE(s.bar.open = 0, "bar.open=0");
    BAR_CASE(s.bar.high = -5, "bar.high=-5");
    BAR_CASE(s.bar.low = 0, "bar.low=0");
    BAR_CASE(s.bar.close = INT64_MIN, "bar.close=-9223372036854775808");
    BAR_CASE(s.bar.volume = -1, "bar.volume=-1");
    BAR_CASE(s.bar.low = 3660000000000LL, "bar.low=3660000000000 > min(open,close)=3650000000000");
    BAR_CASE(s.bar.high = 3670000000000LL, "bar.high=3670000000000 < max(open,close)=3680000000000");
    BAR_CASE((s.bar.low = 3800000000000LL, s.bar.high = 3700000000000LL), "bar.low=3800000000000 > bar.high");
#undef BAR_CASE
    /* boundaries that are valid: symbol of exactly 32 chars with every allowed class,
     * flat candle (o=h=l=c), zero volume */
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_BAR);
    s.bar.symbol = "Ab9_./-Ab9_./-Ab9_./-Ab9_./-Ab9_";
    assert_int_equal(strlen(s.bar.symbol), QT_MAX_SYMBOL);
    s.bar.open = s.bar.high = s.bar.low = s.bar.close = 1;
    s.bar.volume = 0;
    char why[256];
    if (!qt_env_validate(&s.env, why, sizeof why)) fail_msg("%s", why);
}

static void test_features_rules(void **state) {
    (void)state;
    qt_testenv_t s;
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_FEATURES);
    s.feat[1].value = NAN;
    expect_invalid(&s, "features.features[1] (ret_1).value=nan");
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_FEATURES);
    s.feat[0].value = -INFINITY;
    expect_invalid(&s, "value=-inf");
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_FEATURES);
    s.feat[2].name = "";
    expect_invalid(&s, "features.features[].name is empty");
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_FEATURES);
    s.fv.symbol = "bad symbol";
    expect_invalid(&s, "features.symbol");
    /* count bound: QT_MAX_FEATURES ok, one more rejected */
    Qt__V1__Feature f = QT__V1__FEATURE__INIT;
    f.name = "x";
    f.value = 1.0;
    Qt__V1__Feature **many = malloc((QT_MAX_FEATURES + 1) * sizeof *many);
    assert_non_null(many);
    for (size_t i = 0; i <= QT_MAX_FEATURES; i++) many[i] = &f;
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_FEATURES);
    s.fv.features = many;
    s.fv.n_features = QT_MAX_FEATURES;
    assert_true(qt_env_validate(&s.env, NULL, 0));
    s.fv.n_features = QT_MAX_FEATURES + 1;
    expect_invalid(&s, "features.features count=257 > 256");
    free(many);
}

static void test_signal_rules(void **state) {
    (void)state;
    qt_testenv_t s;
#define SIG_CASE(stmt, field)                           \
    do {                                                \
        qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_SIGNAL); \
        stmt;                                           \
        expect_invalid(&s, field);                      \
    } while (0)
    SIG_CASE(s.sig.score = 1.0000001, "signal.score=1 outside [-1, 1]");
    SIG_CASE(s.sig.score = -1.5, "signal.score=-1.5");
    SIG_CASE(s.sig.score = NAN, "signal.score=nan");
    SIG_CASE(s.sig.confidence = -0.01, "signal.confidence=-0.01");
    SIG_CASE(s.sig.confidence = 1.01, "signal.confidence=1.01");
    SIG_CASE(s.sig.alpha = INFINITY, "signal.alpha=inf");
    SIG_CASE(s.sig.beta = NAN, "signal.beta=nan");
    SIG_CASE(s.sig.volatility = -0.1, "signal.volatility=-0.1");
    SIG_CASE(s.sig.volatility = INFINITY, "signal.volatility=inf");
    SIG_CASE(s.sig.model = "", "signal.model is empty");
    SIG_CASE(s.sig.symbol = "", "signal.symbol is empty");
#undef SIG_CASE
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_SIGNAL);
    s.sig.score = 1.0;
    s.sig.confidence = 0.0;
    s.sig.volatility = 0.0;
    assert_true(qt_env_validate(&s.env, NULL, 0));
    s.sig.score = -1.0;
    s.sig.confidence = 1.0;
    assert_true(qt_env_validate(&s.env, NULL, 0));
}

static void test_target_rules(void **state) {
    (void)state;
    qt_testenv_t s;
#define TGT_CASE(stmt, field)                           \
    do {                                                \
        qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_TARGET); \
        stmt;                                           \
        expect_invalid(&s, field);                      \
    } while (0)
    TGT_CASE(s.tp[0].weight = 1.5, "target.positions[0] (BTC_USDT).weight=1.5 outside [0, 1]");
    TGT_CASE(s.tp[1].weight = -0.1, "target.positions[1] (ETH_USDT).weight=-0.1");
    TGT_CASE(s.tp[0].weight = NAN, "weight=nan");
    TGT_CASE(s.tp[0].ref_price = 0, "target.positions[0] (BTC_USDT).ref_price=0 must be > 0");
    TGT_CASE(s.tp[1].ref_price = -1, "ref_price=-1 < 0");
    TGT_CASE(s.tp[1].symbol = "ETH USDT", "target.positions[].symbol");
    TGT_CASE(s.tp[1].symbol = "BTC_USDT", "symbol \"BTC_USDT\" listed twice");
    TGT_CASE(s.target.solve_ms = NAN, "target.solve_ms=nan");
    TGT_CASE(s.target.objective = INFINITY, "target.objective=inf");
    TGT_CASE(s.target.qaoa_objective = NAN, "target.qaoa_objective=nan");
    TGT_CASE(s.target.classical_objective = -INFINITY, "target.classical_objective=-inf");
    TGT_CASE(s.target.qaoa_ms = NAN, "target.qaoa_ms=nan");
#undef TGT_CASE
    /* count bound, with distinct valid symbols so only the count is wrong */
    Qt__V1__TargetPosition *tps = calloc(QT_MAX_TARGETS + 1, sizeof *tps);
    Qt__V1__TargetPosition **tpp = calloc(QT_MAX_TARGETS + 1, sizeof *tpp);
    char (*syms)[16] = calloc(QT_MAX_TARGETS + 1, sizeof *syms);
    assert_true(tps && tpp && syms);
    for (size_t i = 0; i <= QT_MAX_TARGETS; i++) {
        qt__v1__target_position__init(&tps[i]);
        snprintf(syms[i], sizeof syms[i], "S%zu", i);
        tps[i].symbol = syms[i];
        tps[i].weight = 0.001;
        tps[i].ref_price = 100;
        tpp[i] = &tps[i];
    }
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_TARGET);
    s.target.positions = tpp;
    s.target.n_positions = QT_MAX_TARGETS;
    assert_true(qt_env_validate(&s.env, NULL, 0));
    s.target.n_positions = QT_MAX_TARGETS + 1;
    expect_invalid(&s, "target.positions count=257 > 256");
    free(tps);
    free(tpp);
    free(syms);
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_TARGET);
    s.target.n_positions = 0;
    assert_true(qt_env_validate(&s.env, NULL, 0)); /* empty target = all flat */
}

static void test_order_flow_rules(void **state) {
    (void)state;
    qt_testenv_t s;
#define CASE(kind, stmt, field)    \
    do {                           \
        qt_testenv_init(&s, kind);     \
        stmt;                      \
        expect_invalid(&s, field); \
    } while (0)
    CASE(QT__V1__ENVELOPE__BODY_INTENT, s.intent.intent_id = "", "intent.intent_id is empty");
    CASE(QT__V1__ENVELOPE__BODY_INTENT, s.intent.side = QT__V1__SIDE__SIDE_UNSPECIFIED,
         "intent.side=0 is not BUY or SELL");
    CASE(QT__V1__ENVELOPE__BODY_INTENT, s.intent.side = (Qt__V1__Side)7, "intent.side=7");
    CASE(QT__V1__ENVELOPE__BODY_INTENT, s.intent.qty = 0, "intent.qty=0 must be > 0");
    CASE(QT__V1__ENVELOPE__BODY_INTENT, s.intent.qty = -3, "intent.qty=-3");
    CASE(QT__V1__ENVELOPE__BODY_INTENT, s.intent.ref_price = 0, "intent.ref_price=0");
    CASE(QT__V1__ENVELOPE__BODY_INTENT, s.intent.symbol = "", "intent.symbol is empty");
    CASE(QT__V1__ENVELOPE__BODY_DECISION, s.decision.intent_id = "", "decision.intent_id");
    CASE(QT__V1__ENVELOPE__BODY_DECISION, s.decision.approved_qty = -1, "decision.approved_qty=-1");
    CASE(QT__V1__ENVELOPE__BODY_DECISION, s.decision.killswitch_tier = 9,
         "decision.killswitch_tier=9");
    CASE(QT__V1__ENVELOPE__BODY_DECISION, s.decision.side = (Qt__V1__Side)-1, "decision.side=-1");
    CASE(QT__V1__ENVELOPE__BODY_ORDER, s.order.client_order_id = "", "order.client_order_id");
    CASE(QT__V1__ENVELOPE__BODY_ORDER, s.order.side = QT__V1__SIDE__SIDE_UNSPECIFIED, "order.side=0");
    CASE(QT__V1__ENVELOPE__BODY_ORDER, s.order.qty = 0, "order.qty=0");
    CASE(QT__V1__ENVELOPE__BODY_ORDER, s.order.ref_price = -1, "order.ref_price=-1");
    CASE(QT__V1__ENVELOPE__BODY_REPORT,
         s.report.status = QT__V1__ORDER_STATUS__ORDER_STATUS_UNSPECIFIED, "report.status=0");
    CASE(QT__V1__ENVELOPE__BODY_REPORT, s.report.status = (Qt__V1__OrderStatus)99,
         "report.status=99");
    CASE(QT__V1__ENVELOPE__BODY_REPORT, s.report.filled_qty = -1, "report.filled_qty=-1");
    CASE(QT__V1__ENVELOPE__BODY_REPORT, s.report.avg_price = -1, "report.avg_price=-1");
    CASE(QT__V1__ENVELOPE__BODY_FILL, s.fill.fill_id = "", "fill.fill_id is empty");
    CASE(QT__V1__ENVELOPE__BODY_FILL, s.fill.qty = 0, "fill.qty=0");
    CASE(QT__V1__ENVELOPE__BODY_FILL, s.fill.price = 0, "fill.price=0");
    CASE(QT__V1__ENVELOPE__BODY_FILL, s.fill.fee = -1, "fill.fee=-1 must be >= 0");
    CASE(QT__V1__ENVELOPE__BODY_FILL, s.fill.side = (Qt__V1__Side)3, "fill.side=3");
    CASE(QT__V1__ENVELOPE__BODY_POSITION, s.pos[0].symbol = "", "position.symbol is empty");
    CASE(QT__V1__ENVELOPE__BODY_POSITION, s.pos[0].mark_price = -1, "position.mark_price=-1");
    CASE(QT__V1__ENVELOPE__BODY_RECON, s.pos[2].avg_price = -2, "recon.broker[].avg_price=-2");
    CASE(QT__V1__ENVELOPE__BODY_RECON, s.pos[1].symbol = "x y", "recon.rebuilt[].symbol");
#undef CASE
    /* zero fee, rejected report with no fill and a short position are all valid */
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_FILL);
    s.fill.fee = 0;
    assert_true(qt_env_validate(&s.env, NULL, 0));
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_REPORT);
    s.report.status = QT__V1__ORDER_STATUS__ORDER_STATUS_REJECTED;
    s.report.filled_qty = 0;
    s.report.avg_price = 0;
    assert_true(qt_env_validate(&s.env, NULL, 0));
}

static void test_control_rules(void **state) {
    (void)state;
    qt_testenv_t s;
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_KILLSWITCH);
    for (int t = 0; t <= 5; t++) {
        s.ks.tier = (Qt__V1__KillSwitchTier)t;
        assert_true(qt_env_validate(&s.env, NULL, 0)); /* KS_UNKNOWN included: fail closed */
    }
    s.ks.tier = (Qt__V1__KillSwitchTier)6;
    expect_invalid(&s, "killswitch.tier=6");
    s.ks.tier = (Qt__V1__KillSwitchTier)-1;
    expect_invalid(&s, "killswitch.tier=-1");
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_HEARTBEAT);
    s.hb.service = "";
    expect_invalid(&s, "heartbeat.service is empty");
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_WATERMARK);
    s.wm.event_time_ms = -1;
    expect_invalid(&s, "watermark.event_time_ms=-1");
    /* kill switch audit fields */
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_KILLSWITCH);
    s.ks.previous_tier = (Qt__V1__KillSwitchTier)9;
    expect_invalid(&s, "killswitch.previous_tier=9");
    char *ops[9] = {"alice", "bob", "", "d", "e", "f", "g", "h", "i"};
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_KILLSWITCH);
    s.ks.approved_by = ops;
    s.ks.n_approved_by = 2;
    assert_true(qt_env_validate(&s.env, NULL, 0));
    s.ks.n_approved_by = 3;
    expect_invalid(&s, "killswitch.approved_by[] is empty");
    s.ks.n_approved_by = 9;
    expect_invalid(&s, "killswitch.approved_by count=9 > 8");
    /* data alerts */
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_ALERT);
    s.alert.kind = "late";
    expect_invalid(&s, "alert.kind=\"late\" is not stale|gap|invalid");
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_ALERT);
    s.alert.symbol = "";
    expect_invalid(&s, "alert.symbol is empty");
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_ALERT);
    s.alert.age_ms = -5;
    expect_invalid(&s, "alert.age_ms=-5");
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_ALERT);
    s.alert.active = 0; /* clearing an alert is valid */
    assert_true(qt_env_validate(&s.env, NULL, 0));
    /* modes and policy actions */
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_MODE);
    s.mode.mode = "yolo";
    expect_invalid(&s, "mode.mode=\"yolo\" is not off|manual|paper|live");
    static const char *const modes[] = {"off", "manual", "paper", "live"};
    for (size_t k = 0; k < 4; k++) {
        s.mode.mode = (char *)modes[k];
        assert_true(qt_env_validate(&s.env, NULL, 0));
    }
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_ACTION);
    s.action.state = "done";
    expect_invalid(&s, "action.state=\"done\"");
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_ACTION);
    s.action.action_id = "";
    expect_invalid(&s, "action.action_id is empty");
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_ACTION);
    s.action.action = "";
    expect_invalid(&s, "action.action is empty");
}

static void test_json_exact(void **state) {
    (void)state;
    qt_testenv_t s;
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_BAR);
    char *j = qt_env_to_json(&s.env);
    assert_non_null(j);
    assert_string_equal(
        j, "{\"schema_version\":1,\"source\":\"qt-test\",\"seq\":42,"
           "\"event_time_ns\":1700000000000000000,\"publish_time_ns\":1700000000001000000,"
           "\"trace_id\":\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",\"span_id\":\"1011121314151617\","
           "\"bar\":{\"symbol\":\"BTC_USDT\",\"venue\":\"binance\",\"interval\":\"4h\","
           "\"open_time_ms\":1700000000000,\"open\":3650000000000,\"high\":3700000000000,"
           "\"low\":3600000000000,\"close\":3680000000000,\"volume\":123456789012,\"flags\":1}}");
    assert_null(strchr(j, '\n'));
    free(j);

    /* enums by name, repeated messages as arrays, doubles, bools */
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_DECISION);
    j = qt_env_to_json(&s.env);
    assert_non_null(j);
    assert_non_null(strstr(j, "\"side\":\"SIDE_SELL\""));
    assert_non_null(strstr(j, "\"approved\":false"));
    assert_non_null(strstr(j, "\"reasons\":[{\"code\":\"MAX_POSITION_NOTIONAL\",\"detail\":"
                              "\"notional above limit\",\"value\":600000000000,\"limit\":500000000000}]"));
    assert_non_null(strstr(j, "\"killswitch_tier\":1")); /* int32 field, not an enum */
    free(j);

    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_FEATURES);
    j = qt_env_to_json(&s.env);
    json_error_t err;
    json_t *root = json_loads(j, 0, &err);
    assert_non_null(root);
    json_t *fs = json_object_get(json_object_get(root, "features"), "features");
    assert_int_equal(json_array_size(fs), 3);
    assert_true(json_real_value(json_object_get(json_array_get(fs, 0), "value")) == 36500.25);
    assert_true(json_real_value(json_object_get(json_array_get(fs, 1), "value")) == -0.0125);
    assert_true(json_is_false(json_object_get(json_array_get(fs, 2), "ready")));
    /* only the set oneof member appears */
    assert_null(json_object_get(root, "bar"));
    json_decref(root);
    free(j);

    /* a tier is rendered by name; an unknown enum value as its number */
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_KILLSWITCH);
    j = qt_env_to_json(&s.env);
    assert_non_null(strstr(j, "\"tier\":\"KS_NO_NEW\""));
    free(j);
    s.ks.tier = (Qt__V1__KillSwitchTier)77;
    j = qt_env_to_json(&s.env);
    assert_non_null(strstr(j, "\"tier\":77"));
    free(j);
}

static void test_json_edge_values(void **state) {
    (void)state;
    qt_testenv_t s;
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_SIGNAL);
    s.env.seq = UINT64_MAX;               /* beyond int64: exact decimal string */
    s.env.event_time_ns = INT64_MIN;      /* int64 extremes stay integers */
    s.env.trace_id.len = 0;
    s.sig.alpha = NAN;                    /* in-memory only; rendered, not crashed on */
    s.sig.beta = -INFINITY;
    char bad[] = {'M', (char)0xFF, 'A', 0}; /* invalid UTF-8: replaced, output still JSON */
    s.sig.model = bad;
    char *j = qt_env_to_json(&s.env);
    assert_non_null(j);
    assert_non_null(strstr(j, "\"seq\":\"18446744073709551615\""));
    assert_non_null(strstr(j, "\"event_time_ns\":-9223372036854775808"));
    assert_non_null(strstr(j, "\"trace_id\":\"\""));
    assert_non_null(strstr(j, "\"alpha\":\"NaN\""));
    assert_non_null(strstr(j, "\"beta\":\"-Infinity\""));
    assert_non_null(strstr(j, "\"model\":\"M\xEF\xBF\xBD" "A\""));
    json_error_t err;
    json_t *root = json_loads(j, 0, &err);
    assert_non_null(root);
    json_decref(root);
    free(j);
    assert_null(qt_env_to_json(NULL));
}

static void test_json_deterministic(void **state) {
    (void)state;
    for (size_t k = 0; k < qt_testenv_nkinds; k++) {
        qt_testenv_t s;
        qt_testenv_init(&s, qt_testenv_kinds[k]);
        char *a = qt_env_to_json(&s.env);
        char *b = qt_env_to_json(&s.env);
        assert_non_null(a);
        assert_string_equal(a, b);
        /* keys come in field order: schema_version first, the body last */
        assert_int_equal(strncmp(a, "{\"schema_version\":1,\"source\":", 29), 0);
        char key[32];
        snprintf(key, sizeof key, ",\"%s\":{", qt_testenv_kind_names[k]);
        assert_non_null(strstr(a, key));
        free(a);
        free(b);
    }
}

static void test_init_encode(void **state) {
    (void)state;
    qt_env_t env;
    qt_env_init(&env, 123);
    assert_int_equal(env.schema_version, QT_SCHEMA_VERSION);
    assert_true(env.event_time_ns == 123);
    assert_int_equal(env.body_case, QT__V1__ENVELOPE__BODY__NOT_SET);
    assert_string_equal(env.source, "");
    size_t len = 99;
    uint8_t *buf = qt_env_encode(&env, &len);
    assert_non_null(buf);
    /* 08 01 (version) 20 7b (event time 123) */
    assert_int_equal(len, 4);
    const uint8_t expect[] = {0x08, 0x01, 0x20, 0x7b};
    assert_memory_equal(buf, expect, 4);
    free(buf);
    assert_null(qt_env_encode(NULL, &len));
    assert_int_equal(len, 0);
    qt_env_free(NULL);
}

/* A decoded envelope whose source is replaced by an interned string (what qt_pub_send
 * does when forwarding) frees cleanly: ASan/valgrind would flag a bad free. */
static void test_intern_and_free(void **state) {
    (void)state;
    const char *a = qt_env_intern("qt-features");
    const char *b = qt_env_intern("qt-features");
    const char *c = qt_env_intern("qt-models");
    assert_non_null(a);
    assert_ptr_equal(a, b);
    assert_ptr_not_equal(a, c);
    assert_string_equal(c, "qt-models");
    char longs[200];
    memset(longs, 'x', sizeof longs - 1);
    longs[sizeof longs - 1] = 0;
    assert_null(qt_env_intern(longs));
    assert_null(qt_env_intern(NULL));

    qt_testenv_t s;
    qt_testenv_init(&s, QT__V1__ENVELOPE__BODY_HEARTBEAT);
    s.env.source = "";
    char why[128];
    qt_env_t *d = roundtrip(&s.env, QT_DECODE_OK, why, sizeof why);
    d->source = (char *)a;
    qt_env_free(d);
    assert_string_equal(a, "qt-features"); /* still alive */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selftest),
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_roundtrip_all_bodies),
        cmocka_unit_test(test_roundtrip_values),
        cmocka_unit_test(test_decode_statuses),
        cmocka_unit_test(test_unknown_body_field),
        cmocka_unit_test(test_field_zero_is_malformed),
        cmocka_unit_test(test_invalid_utf8_is_malformed),
        cmocka_unit_test(test_envelope_rules),
        cmocka_unit_test(test_bar_rules),
        cmocka_unit_test(test_features_rules),
        cmocka_unit_test(test_signal_rules),
        cmocka_unit_test(test_target_rules),
        cmocka_unit_test(test_order_flow_rules),
        cmocka_unit_test(test_control_rules),
        cmocka_unit_test(test_json_exact),
        cmocka_unit_test(test_json_edge_values),
        cmocka_unit_test(test_json_deterministic),
        cmocka_unit_test(test_init_encode),
        cmocka_unit_test(test_intern_and_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
