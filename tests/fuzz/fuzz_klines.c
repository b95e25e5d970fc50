/* Fuzz target: the exchange response parsers (qt_klines_parse, qt_market_chart_parse) on
 * arbitrary bytes: a response body is the trust boundary of qt-ingest fetch.
 *
 * Properties checked on every input (a violation aborts, which libFuzzer reports):
 * - neither parser crashes, leaks or reads out of bounds, whatever the bytes;
 * - a rejected body leaves the output empty (n == 0, rows NULL) and says why;
 * - an accepted klines body re-serialises (canonical decimals from qt_fixed_format) to a
 *   body that parses to exactly the same rows (no value is lost or invented);
 * - an accepted market_chart body has only finite values, prices > 0, volumes >= 0 and
 *   times >= 0.
 * Built two ways: with libFuzzer by scripts/fuzz, and in the normal build with
 * tests/fuzz/driver/replay_main.c, which replays tests/fuzz/corpus/klines. */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qt_klines.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t put_fixed(char *out, qt_fixed_t v) {
    char buf[QT_FIXED_STRLEN];
    int n = qt_fixed_format(v, buf, sizeof buf);
    if (n < 0) abort();
    out[0] = '"';
    memcpy(out + 1, buf, (size_t)n);
    out[n + 1] = '"';
    out[n + 2] = ',';
    return (size_t)n + 3;
}

static void roundtrip(const qt_klines_t *k) {
    size_t cap = k->n * 400 + 16, n = 0;
    char *s = malloc(cap);
    if (!s) abort();
    s[n++] = '[';
    for (size_t i = 0; i < k->n; i++) {
        const qt_kline_t *r = &k->rows[i];
        n += (size_t)snprintf(s + n, cap - n, "%s[%" PRId64 ",", i ? "," : "", r->open_ms);
        n += put_fixed(s + n, r->open);
        n += put_fixed(s + n, r->high);
        n += put_fixed(s + n, r->low);
        n += put_fixed(s + n, r->close);
        n += put_fixed(s + n, r->volume);
        n += (size_t)snprintf(s + n, cap - n, "%" PRId64 ",", r->close_ms);
        n += put_fixed(s + n, r->quote_volume);
        n += (size_t)snprintf(s + n, cap - n, "%" PRId64 ",", r->trades);
        n += put_fixed(s + n, r->taker_base);
        n += put_fixed(s + n, r->taker_quote);
        n += (size_t)snprintf(s + n, cap - n, "\"0\"]");
    }
    s[n++] = ']';
    qt_klines_t again;
    qt_klines_init(&again);
    char err[256];
    if (qt_klines_parse(&again, s, n, err, sizeof err) != 0) abort();
    if (again.n != k->n) abort();
    for (size_t i = 0; i < k->n; i++)
        if (memcmp(&again.rows[i], &k->rows[i], sizeof k->rows[i]) != 0) abort();
    qt_klines_free(&again);
    free(s);
}

static void check_points(const qt_point_t *p, size_t n, bool positive) {
    for (size_t i = 0; i < n; i++) {
        if (p[i].t_ms < 0 || !isfinite(p[i].value)) abort();
        if (positive ? !(p[i].value > 0) : !(p[i].value >= 0)) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *body = (const char *)data;
    char err[256];
    qt_klines_t k;
    qt_klines_init(&k);
    err[0] = '\0';
    if (qt_klines_parse(&k, body, size, err, sizeof err) != 0) {
        if (k.n != 0 || k.rows != NULL || err[0] == '\0') abort();
    } else {
        if (k.n > 0 && !k.rows) abort();
        for (size_t i = 0; i < k.n; i++)
            if (k.rows[i].open_ms < 0 || k.rows[i].close_ms < 0 || k.rows[i].trades < 0) abort();
        roundtrip(&k);
    }
    qt_klines_free(&k);

    qt_market_chart_t m;
    qt_market_chart_init(&m);
    err[0] = '\0';
    if (qt_market_chart_parse(&m, body, size, err, sizeof err) != 0) {
        if (m.nprices || m.nvolumes || m.prices || m.volumes || err[0] == '\0') abort();
    } else {
        check_points(m.prices, m.nprices, true);
        check_points(m.volumes, m.nvolumes, false);
    }
    qt_market_chart_free(&m);
    return 0;
}
