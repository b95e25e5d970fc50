/* qt_exchange: REST clients for market data (libcurl): Binance spot klines and CoinGecko
 * market_chart/range.
 *
 * Why one small client with a written-down policy: an exchange answers with rate limits,
 * bans, 5xx and slow or broken bodies, and a fetcher that hammers it on error gets banned
 * (HTTP 418). The policy below is what docs/data-sources.md documents and what
 * tests/integration/test_exchange.c checks against the recorded-exchange server
 * (tools/qt-fakex):
 *
 *  - every request: connect timeout + total timeout; no redirects; only http/https;
 *    TLS peer and host verification stay ON (libcurl's defaults, never changed here).
 *    A plain http:// base URL is accepted only because the caller asked for it
 *    explicitly (the local test server); the defaults are https.
 *  - 200 + a body that parses (qt_klines.h): success.
 *  - 200 + a malformed body (truncated, a number where a string belongs, ...), a network
 *    error or timeout, or a 5xx: retried with exponential backoff and jitter,
 *    delay = d/2 + U[0, d/2] with d = min(backoff_max, backoff_base * 2^(attempt-1)),
 *    U from the seeded qt_rng (same seed -> same delays), up to max_attempts attempts.
 *  - 429: waits Retry-After seconds (or the backoff delay when absent) and retries (counts
 *    as an attempt); a Retry-After above retry_after_max_ms gives up (QT_EX_ERATE).
 *  - 418 (Binance: IP banned): stops at once, no retry (QT_EX_EBANNED; err says for how
 *    long). Every later call on this client fails with QT_EX_EBANNED without a request.
 *  - other 4xx: not retried (QT_EX_EHTTP, err carries the exchange's message).
 *  - Binance weight: after each response, X-MBX-USED-WEIGHT-1m >= weight_cap pauses until
 *    the next minute boundary of the clock (Binance's weight window) before the next request.
 *  - CoinGecko: at most one request per coingecko_interval_ms (its own, tighter limit).
 * All waiting goes through qt_clock_sleep_ns, so a simulated clock makes the waits
 * instant and exactly measurable (stats.slept_ms).
 *
 * Paging (Binance): startTime = from, endTime = to, limit = page_limit (<= 1000); the next
 * page starts at (largest open time received) + 1; stops at an empty page or when the
 * next start passes `to`. A page whose rows all lie before its startTime is an error
 * (the server is not honouring startTime; paging could loop forever). Rows are returned AS
 * RECEIVED (duplicates, out-of-order rows and holes included): validation is the caller's.
 *
 * Metrics (when a registry is given): qt_exchange_requests_total{source, outcome} with
 * outcome in ok | malformed | network | http_5xx | rate_limited | banned | http_4xx, and
 * qt_exchange_weight_pauses_total{source="binance"}. Not thread-safe: one client per thread. */
#ifndef QT_EXCHANGE_H
#define QT_EXCHANGE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qt_clock.h"
#include "qt_klines.h"
#include "qt_metrics.h"

typedef struct {
    const char *binance_url;       /* default "https://api.binance.com" */
    const char *coingecko_url;     /* default "https://api.coingecko.com/api/v3" */
    long connect_timeout_ms;       /* default 5000 */
    long timeout_ms;               /* whole request, default 30000 */
    int max_attempts;              /* per request, >= 1, default 5 */
    int64_t backoff_base_ms;       /* default 500 */
    int64_t backoff_max_ms;        /* default 30000 */
    int64_t retry_after_max_ms;    /* default 120000 */
    uint32_t weight_cap;           /* default 1000 (Binance allows 6000/min) */
    int64_t coingecko_interval_ms; /* default 6000 (public API: about 10 calls/min) */
    uint32_t page_limit;           /* 1..1000, default 1000 */
    uint64_t seed;                 /* jitter stream, default 1 */
} qt_exchange_config_t;

typedef enum {
    QT_EX_OK = 0,
    QT_EX_EUSAGE = -1,   /* bad arguments (symbol, interval, range) */
    QT_EX_ERETRY = -2,   /* retries exhausted (5xx, network, malformed bodies) */
    QT_EX_ERATE = -3,    /* rate limited with a Retry-After we will not wait for */
    QT_EX_EBANNED = -4,  /* HTTP 418 */
    QT_EX_EHTTP = -5,    /* another 4xx */
    QT_EX_EDATA = -6     /* the server broke the paging contract / too many rows */
} qt_ex_status_t;

typedef struct {
    uint64_t requests, pages, retries;
    uint64_t ok, malformed, network, http_5xx, rate_limited, banned, http_4xx;
    uint64_t weight_pauses;
    int64_t slept_ms;              /* total time waited (backoff, Retry-After, limits) */
    int64_t last_weight;           /* last X-MBX-USED-WEIGHT-1m, -1 when never seen */
} qt_exchange_stats_t;

void qt_exchange_config_defaults(qt_exchange_config_t *c);
/* clock: required (borrowed); metrics: optional (borrowed). NULL on a bad config (err set). */
typedef struct qt_exchange_t qt_exchange_t;
qt_exchange_t *qt_exchange_new(const qt_exchange_config_t *cfg, qt_clock_t *clock,
                               qt_metrics_t *metrics, char *err, size_t errlen);
void qt_exchange_destroy(qt_exchange_t **self_p);
const qt_exchange_stats_t *qt_exchange_stats(const qt_exchange_t *self);
const char *qt_ex_status_str(qt_ex_status_t st);

/* Klines with open time in [from_ms, to_ms] for a Binance symbol ("BTCUSDT") and interval
 * ("4h"), appended to out as received. On failure out keeps the pages received so far. */
qt_ex_status_t qt_exchange_binance_klines(qt_exchange_t *self, const char *symbol,
                                          const char *interval, int64_t from_ms, int64_t to_ms,
                                          qt_klines_t *out, char *err, size_t errlen);

/* CoinGecko /coins/{id}/market_chart/range?vs_currency=usd&from=<s>&to=<s> (seconds,
 * from_ms rounded down, to_ms rounded up). out replaced. */
qt_ex_status_t qt_exchange_coingecko_range(qt_exchange_t *self, const char *coin_id,
                                           int64_t from_ms, int64_t to_ms,
                                           qt_market_chart_t *out, char *err, size_t errlen);

/* The backoff delay in ms before retry number `attempt` (1-based), drawing jitter from
 * the client's generator. Exposed for the tests. */
int64_t qt_exchange_backoff_ms(qt_exchange_t *self, int attempt);

int qt_exchange_selftest(bool verbose);
#endif
