/* qt_klines: strict parsers of Binance klines and CoinGecko market_chart bodies.
 *
 * Why jansson and not a hand-written scanner: the bodies are small (<= 1000 rows per
 * page), jansson is already the project's JSON library, and it gives us the strictness we
 * want for free (one value, no trailing bytes, duplicate keys rejected, bounded nesting).
 * Prices never go through a double: Binance sends them as strings and the string text is
 * parsed exactly with qt_fixed_parse_n. See qt_klines.h for the accepted shapes. */
#include "qt_klines.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void qt_klines_init(qt_klines_t *k) { memset(k, 0, sizeof *k); }

void qt_klines_free(qt_klines_t *k) {
    if (!k) return;
    free(k->rows);
    memset(k, 0, sizeof *k);
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static const char *json_kind(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

/* Loads one JSON value with the common strictness rules. NULL with err set. */
static json_t *load(const char *body, size_t len, char *err, size_t errlen) {
    if (!body && len) {
        set_err(err, errlen, "no body");
        return NULL;
    }
    if (len > QT_KLINES_MAX_BODY) {
        set_err(err, errlen, "body of %zu bytes exceeds the %u byte limit", len,
                QT_KLINES_MAX_BODY);
        return NULL;
    }
    json_error_t je;
    json_t *root = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        set_err(err, errlen, "invalid JSON at line %d column %d: %s", je.line, je.column,
                je.text);
        return NULL;
    }
    return root;
}

static const char *const kline_field[12] = {
    "open_time", "open",   "high",           "low",
    "close",     "volume", "close_time",     "quote_volume",
    "trades",    "taker_buy_base", "taker_buy_quote", "ignore"};

static int int_field(const json_t *v, size_t row, int f, int64_t *out, char *err,
                     size_t errlen) {
    if (!json_is_integer(v)) {
        set_err(err, errlen, "row %zu field %d (%s): expected an integer, got %s", row, f + 1,
                kline_field[f], json_kind(v));
        return -1;
    }
    json_int_t x = json_integer_value(v);
    if (x < 0) {
        set_err(err, errlen, "row %zu field %d (%s): negative", row, f + 1, kline_field[f]);
        return -1;
    }
    *out = (int64_t)x;
    return 0;
}

static int dec_field(const json_t *v, size_t row, int f, qt_fixed_t *out, char *err,
                     size_t errlen) {
    if (!json_is_string(v)) {
        set_err(err, errlen, "row %zu field %d (%s): expected a decimal string, got %s", row,
                f + 1, kline_field[f], json_kind(v));
        return -1;
    }
    qt_money_status_t st = qt_fixed_parse_n(json_string_value(v), json_string_length(v), out);
    if (st != QT_MONEY_OK) {
        set_err(err, errlen, "row %zu field %d (%s): %s", row, f + 1, kline_field[f],
                qt_money_status_str(st));
        return -1;
    }
    return 0;
}

static int parse_kline_row(const json_t *a, size_t row, qt_kline_t *k, char *err,
                           size_t errlen) {
    if (!json_is_array(a)) {
        set_err(err, errlen, "row %zu: expected an array, got %s", row, json_kind(a));
        return -1;
    }
    if (json_array_size(a) != 12) {
        set_err(err, errlen, "row %zu: expected 12 fields, got %zu", row, json_array_size(a));
        return -1;
    }
    qt_fixed_t *dec[12] = {NULL,      &k->open,         &k->high,       &k->low,
                           &k->close, &k->volume,       NULL,           &k->quote_volume,
                           NULL,      &k->taker_base,   &k->taker_quote, NULL};
    int64_t *ints[12] = {&k->open_ms, NULL, NULL, NULL, NULL, NULL, &k->close_ms,
                         NULL,        &k->trades, NULL, NULL, NULL};
    for (int f = 0; f < 12; f++) {
        const json_t *v = json_array_get(a, (size_t)f);
        if (ints[f]) {
            if (int_field(v, row, f, ints[f], err, errlen) != 0) return -1;
        } else if (dec[f]) {
            if (dec_field(v, row, f, dec[f], err, errlen) != 0) return -1;
        } else if (!json_is_string(v)) { /* field 12: "ignore", a string in every response */
            set_err(err, errlen, "row %zu field 12 (ignore): expected a string, got %s", row,
                    json_kind(v));
            return -1;
        }
    }
    return 0;
}

int qt_klines_parse(qt_klines_t *k, const char *body, size_t len, char *err, size_t errlen) {
    qt_klines_free(k);
    json_t *root = load(body, len, err, errlen);
    if (!root) return -1;
    int rc = -1;
    if (!json_is_array(root)) {
        set_err(err, errlen, "expected a JSON array of klines, got %s", json_kind(root));
        goto done;
    }
    size_t n = json_array_size(root);
    if (n > QT_KLINES_MAX_ROWS) {
        set_err(err, errlen, "%zu rows exceed the %u row limit", n, QT_KLINES_MAX_ROWS);
        goto done;
    }
    if (n) {
        k->rows = calloc(n, sizeof *k->rows);
        if (!k->rows) {
            set_err(err, errlen, "out of memory");
            goto done;
        }
        k->cap = n;
    }
    for (size_t i = 0; i < n; i++)
        if (parse_kline_row(json_array_get(root, i), i + 1, &k->rows[i], err, errlen) != 0)
            goto done;
    k->n = n;
    rc = 0;
done:
    if (rc != 0) qt_klines_free(k);
    json_decref(root);
    return rc;
}

/* ---- CoinGecko ---- */

void qt_market_chart_init(qt_market_chart_t *m) { memset(m, 0, sizeof *m); }

void qt_market_chart_free(qt_market_chart_t *m) {
    if (!m) return;
    free(m->prices);
    free(m->volumes);
    memset(m, 0, sizeof *m);
}

/* Parses one [[ms, value], ...] array named key. min_exclusive: value must be > 0 (prices)
 * rather than >= 0 (volumes, market caps). out may be NULL (checked, not returned). */
static int parse_points(const json_t *root, const char *key, bool required, bool positive,
                        qt_point_t **out, size_t *nout, char *err, size_t errlen) {
    const json_t *arr = json_object_get(root, key);
    if (!arr) {
        if (!required) return 0;
        set_err(err, errlen, "missing key \"%s\"", key);
        return -1;
    }
    if (!json_is_array(arr)) {
        set_err(err, errlen, "\"%s\": expected an array, got %s", key, json_kind(arr));
        return -1;
    }
    size_t n = json_array_size(arr);
    if (n > QT_KLINES_MAX_ROWS) {
        set_err(err, errlen, "\"%s\": %zu points exceed the %u point limit", key, n,
                QT_KLINES_MAX_ROWS);
        return -1;
    }
    qt_point_t *p = NULL;
    if (out && n) {
        p = calloc(n, sizeof *p);
        if (!p) {
            set_err(err, errlen, "out of memory");
            return -1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *pair = json_array_get(arr, i);
        if (!json_is_array(pair) || json_array_size(pair) != 2) {
            set_err(err, errlen, "\"%s\" point %zu: expected [unix_ms, value]", key, i + 1);
            goto fail;
        }
        const json_t *t = json_array_get(pair, 0), *v = json_array_get(pair, 1);
        if (!json_is_integer(t) || json_integer_value(t) < 0) {
            set_err(err, errlen, "\"%s\" point %zu: time must be an integer >= 0, got %s", key,
                    i + 1, json_kind(t));
            goto fail;
        }
        if (!json_is_number(v)) {
            set_err(err, errlen, "\"%s\" point %zu: value must be a number, got %s", key, i + 1,
                    json_kind(v));
            goto fail;
        }
        double x = json_number_value(v);
        if (!isfinite(x) || (positive ? !(x > 0.0) : !(x >= 0.0))) {
            set_err(err, errlen, "\"%s\" point %zu: value %.17g out of range", key, i + 1, x);
            goto fail;
        }
        if (p) {
            p[i].t_ms = (int64_t)json_integer_value(t);
            p[i].value = x;
        }
    }
    if (out) {
        *out = p;
        *nout = n;
    }
    return 0;
fail:
    free(p);
    return -1;
}

int qt_market_chart_parse(qt_market_chart_t *m, const char *body, size_t len, char *err,
                          size_t errlen) {
    qt_market_chart_free(m);
    json_t *root = load(body, len, err, errlen);
    if (!root) return -1;
    int rc = -1;
    if (!json_is_object(root)) {
        set_err(err, errlen, "expected a JSON object, got %s", json_kind(root));
        goto done;
    }
    if (parse_points(root, "prices", true, true, &m->prices, &m->nprices, err, errlen) != 0)
        goto done;
    if (parse_points(root, "total_volumes", true, false, &m->volumes, &m->nvolumes, err,
                     errlen) != 0)
        goto done;
    if (parse_points(root, "market_caps", false, false, NULL, NULL, err, errlen) != 0)
        goto done;
    rc = 0;
done:
    if (rc != 0) qt_market_chart_free(m);
    json_decref(root);
    return rc;
}

/* ---- names ---- */

int64_t qt_klines_interval_ms(const char *interval) {
    static const struct {
        const char *name;
        int64_t ms;
    } tab[] = {{"1s", 1000LL},          {"1m", 60000LL},       {"3m", 180000LL},
               {"5m", 300000LL},        {"15m", 900000LL},     {"30m", 1800000LL},
               {"1h", 3600000LL},       {"2h", 7200000LL},     {"4h", 14400000LL},
               {"6h", 21600000LL},      {"8h", 28800000LL},    {"12h", 43200000LL},
               {"1d", 86400000LL},      {"3d", 259200000LL},   {"1w", 604800000LL}};
    if (!interval) return -1;
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (strcmp(interval, tab[i].name) == 0) return tab[i].ms;
    return -1;
}

static bool upper_alnum(const char *s, size_t n) {
    if (n < 1 || n > 15) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9'))) return false;
    return true;
}

bool qt_klines_pair_to_symbol(const char *pair, char *out, size_t outlen) {
    if (!pair || !out) return false;
    const char *us = strchr(pair, '_');
    if (!us || strchr(us + 1, '_')) return false;
    size_t nb = (size_t)(us - pair), nq = strlen(us + 1);
    if (!upper_alnum(pair, nb) || !upper_alnum(us + 1, nq)) return false;
    if (nb + nq + 1 > outlen) return false;
    memcpy(out, pair, nb);
    memcpy(out + nb, us + 1, nq + 1);
    return true;
}

static const struct {
    const char *base, *id;
} coins[] = {
    {"AAVE", "aave"},          {"ADA", "cardano"},        {"ALGO", "algorand"},
    {"APE", "apecoin"},        {"ATOM", "cosmos"},        {"AVAX", "avalanche-2"},
    {"BCH", "bitcoin-cash"},   {"BNB", "binancecoin"},    {"BTC", "bitcoin"},
    {"CHZ", "chiliz"},         {"DOGE", "dogecoin"},      {"DOT", "polkadot"},
    {"EGLD", "elrond-erd-2"},  {"EOS", "eos"},            {"ETC", "ethereum-classic"},
    {"ETH", "ethereum"},       {"FLOW", "flow"},          {"FTM", "fantom"},
    {"FTT", "ftx-token"},      {"LINK", "chainlink"},     {"LTC", "litecoin"},
    {"MANA", "decentraland"},  {"MATIC", "matic-network"}, {"NEAR", "near"},
    {"SAND", "the-sandbox"},   {"SOL", "solana"},         {"THETA", "theta-token"},
    {"TRX", "tron"},           {"VET", "vechain"},        {"XLM", "stellar"},
    {"XMR", "monero"},         {"XRP", "ripple"},         {"XTZ", "tezos"},
};

const char *qt_coingecko_id(const char *base) {
    if (!base) return NULL;
    for (size_t i = 0; i < sizeof coins / sizeof coins[0]; i++)
        if (strcmp(base, coins[i].base) == 0) return coins[i].id;
    return NULL;
}

const char *qt_coingecko_base(const char *id) {
    if (!id) return NULL;
    for (size_t i = 0; i < sizeof coins / sizeof coins[0]; i++)
        if (strcmp(id, coins[i].id) == 0) return coins[i].base;
    return NULL;
}

int qt_klines_selftest(bool verbose) {
    int fails = 0;
    static const char ok[] =
        "[[1499040000000,\"0.01634790\",\"0.80000000\",\"0.01575800\",\"0.01577100\","
        "\"148976.11427815\",1499644799999,\"2434.19055334\",308,\"1756.87402397\","
        "\"28.46694368\",\"0\"]]";
    qt_klines_t k;
    qt_klines_init(&k);
    char err[200] = "";
    if (qt_klines_parse(&k, ok, strlen(ok), err, sizeof err) != 0 || k.n != 1) fails++;
    else if (k.rows[0].open_ms != 1499040000000LL || k.rows[0].open != 1634790 ||
             k.rows[0].high != 80000000 || k.rows[0].volume != 14897611427815LL ||
             k.rows[0].trades != 308 || k.rows[0].close_ms != 1499644799999LL)
        fails++;
    static const char num[] = "[[1,1.5,\"1\",\"1\",\"1\",\"1\",2,\"1\",3,\"1\",\"1\",\"0\"]]";
    if (qt_klines_parse(&k, num, strlen(num), err, sizeof err) == 0 || k.n != 0) fails++;
    if (!strstr(err, "row 1 field 2 (open)")) fails++;
    if (qt_klines_parse(&k, ok, strlen(ok) - 5, err, sizeof err) == 0) fails++;
    qt_klines_free(&k);
    static const char mc[] = "{\"prices\":[[1711843200000,69702.3087473573]],"
                             "\"total_volumes\":[[1711843200000,16408802301.8374]]}";
    qt_market_chart_t m;
    qt_market_chart_init(&m);
    if (qt_market_chart_parse(&m, mc, strlen(mc), err, sizeof err) != 0 || m.nprices != 1 ||
        m.prices[0].value != 69702.3087473573 || m.nvolumes != 1)
        fails++;
    qt_market_chart_free(&m);
    if (qt_klines_interval_ms("4h") != 14400000LL || qt_klines_interval_ms("1M") != -1) fails++;
    char sym[32];
    if (!qt_klines_pair_to_symbol("BTC_USDT", sym, sizeof sym) || strcmp(sym, "BTCUSDT") != 0)
        fails++;
    if (verbose) printf("qt_klines selftest: %d failures\n", fails);
    return fails;
}
