/* qt_klines: strict parsers of exchange REST response bodies (no I/O).
 *
 * Why: a response body is hostile input. The HTTP clients (libs/qt/qt_exchange.h), the
 * recorded-exchange server's tests and the data store's importer of recorded Binance
 * files all need the same answer to "what exactly did the exchange send?", with an error
 * that names the row and the field when the answer is "something malformed". Nothing is
 * repaired here: duplicates and out-of-order rows are returned AS WRITTEN (the fetcher
 * decides what they mean); anything that is not the documented shape fails the whole body.
 *
 * Binance GET /api/v3/klines: a JSON array of 12-element arrays
 *   [open_ms, "open", "high", "low", "close", "volume", close_ms, "quote_volume",
 *    trades, "taker_buy_base", "taker_buy_quote", "ignore"]
 * Times and the trade count must be JSON integers (>= 0); every price and volume must be
 * a JSON STRING holding a decimal, parsed exactly with qt_fixed_parse (> 8 decimals are
 * rounded half to even). A number where a string belongs (the "numbers" fault) is an
 * error ("row 3 field 2 (open): expected a decimal string, got a number"). Field 12 must
 * be a string (its content is ignored). Values are not checked for OHLC consistency
 * (that is the store's / the validator's job) but must parse and fit the fixed range.
 *
 * CoinGecko GET /coins/{id}/market_chart[/range]: an object with arrays "prices",
 * "total_volumes" (required) and "market_caps" (optional, checked but not returned), each
 * of [unix_ms, value] pairs: unix_ms a JSON integer >= 0, value a JSON number (integer or
 * real). CoinGecko sends floating-point numbers, so values are kept as double: they are
 * used for cross-checking closes (a statistic), never stored as prices. Prices must be
 * > 0, volumes >= 0. Other keys are ignored; duplicate keys are an error.
 *
 * Common: the whole body must be one JSON value (trailing bytes, truncation, duplicate
 * object keys and \u0000 are errors; err carries jansson's line/column). Bounded: bodies
 * longer than QT_KLINES_MAX_BODY bytes and more than QT_KLINES_MAX_ROWS rows are refused.
 * On error the output is left empty (n == 0) and err is set. */
#ifndef QT_KLINES_H
#define QT_KLINES_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qt_money.h"

#define QT_KLINES_MAX_BODY (64u * 1024u * 1024u)
#define QT_KLINES_MAX_ROWS 2000000u

typedef struct {
    int64_t open_ms, close_ms;
    qt_fixed_t open, high, low, close, volume;
    qt_fixed_t quote_volume, taker_base, taker_quote;
    int64_t trades;
} qt_kline_t;

typedef struct {
    qt_kline_t *rows;        /* in body order, as written */
    size_t n, cap;
} qt_klines_t;

void qt_klines_init(qt_klines_t *k);
void qt_klines_free(qt_klines_t *k);
/* Parses a Binance klines body into k (replacing its contents). 0 ok, -1 (err set). */
int qt_klines_parse(qt_klines_t *k, const char *body, size_t len, char *err, size_t errlen);

typedef struct {
    int64_t t_ms;
    double value;
} qt_point_t;

typedef struct {
    qt_point_t *prices;      /* as written */
    size_t nprices;
    qt_point_t *volumes;     /* "total_volumes", as written */
    size_t nvolumes;
} qt_market_chart_t;

void qt_market_chart_init(qt_market_chart_t *m);
void qt_market_chart_free(qt_market_chart_t *m);
/* Parses a CoinGecko market_chart body into m (replacing its contents). 0 ok / -1. */
int qt_market_chart_parse(qt_market_chart_t *m, const char *body, size_t len, char *err,
                          size_t errlen);

/* Length in ms of a Binance interval name: 1s 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d
 * 1w. -1 for anything else ("1M" too: a month has no fixed length, so no grid). */
int64_t qt_klines_interval_ms(const char *interval);

/* Binance symbol of a store pair name: "BTC_USDT" -> "BTCUSDT". False when pair is not
 * BASE_QUOTE with 1..15 chars of [A-Z0-9] on each side. */
bool qt_klines_pair_to_symbol(const char *pair, char *out, size_t outlen);
/* CoinGecko coin id for a base asset ("BTC" -> "bitcoin"), from a fixed table covering
 * the 33 assets of the recorded data set; NULL when unknown. And back (id -> base). */
const char *qt_coingecko_id(const char *base);
const char *qt_coingecko_base(const char *id);

int qt_klines_selftest(bool verbose);
#endif
