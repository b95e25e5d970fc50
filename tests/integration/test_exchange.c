/* Integration test of the market-data network side against the recorded-exchange server.
 *
 * Starts build/bin/qt-fakex (BUILD_DIR/bin, default build/bin) on an ephemeral port of
 * 127.0.0.1 and drives, for every fault kind the server offers:
 *  A. the client (qt_exchange) on a SIMULATED clock, so every wait (backoff with seeded
 *     jitter, Retry-After, weight pause, CoinGecko spacing) is asserted to the millisecond;
 *  B. `qt-ingest fetch` (ingest_fetch_run, in process, wall clock, short backoff) into a
 *     temporary curated store: the documented outcome of each fault, and for every failed
 *     fetch that the store's files (bars.qtb, index.json, catalog.json) are byte-identical
 *     afterwards and still verify.
 * Data: the real BTC/USDT 4h candles (SOURCES.md, section 1). The window 2018-07-03 ..
 * 2018-07-05 holds 11 candles and one real exchange outage (the 04:00 candle of
 * 2018-07-04 was never produced); 2018-07-05 .. 2018-07-07 holds 12, no gap.
 * No Redis or Kafka needed. Runs in a few seconds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ingest/fetch.h"
#include "qt_bars.h"
#include "qt_clock.h"
#include "qt_exchange.h"
#include "qt_metrics.h"
#include "qt_store.h"

#define H4 14400000LL
#define W1_FROM 1530576000000LL   /* 2018-07-03 00:00 UTC */
#define W1_TO 1530748800000LL     /* 2018-07-05 00:00 */
#define W1_HOLE 1530676800000LL   /* 2018-07-04 04:00: missing in the recording */
#define W2_FROM W1_TO
#define W2_TO 1530921600000LL     /* 2018-07-07 00:00 */
#define W2_PICK (W2_FROM + 2 * H4)

static pid_t g_pid = -1;
static char g_url[64];
static qt_bars_t g_btc; /* the recording, for exact comparisons */

/* ---- fault server control ---- */

static size_t sink(char *p, size_t s, size_t n, void *ud) {
    (void)p;
    (void)ud;
    return s * n;
}

static long http(const char *method, const char *path) {
    char url[512];
    snprintf(url, sizeof url, "%s%s", g_url, path);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (strcmp(method, "POST") == 0) curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    long code = 0;
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    return code;
}

static void fault(const char *query) {
    char path[256];
    snprintf(path, sizeof path, "/_fault?%s", query);
    assert_int_equal(http("POST", path), 200);
}

static int start_server(void **state) {
    (void)state;
    const char *bd = getenv("BUILD_DIR");
    char bin[512];
    snprintf(bin, sizeof bin, "%s/bin/qt-fakex", bd && *bd ? bd : "build");
    int fds[2];
    if (pipe(fds) != 0) return -1;
    g_pid = fork();
    if (g_pid < 0) return -1;
    if (g_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* no orphan server if this test aborts */
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl(bin, "qt-fakex", "--port", "0", (char *)NULL);
        fprintf(stderr, "test_exchange: cannot run %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    char buf[64] = "";
    size_t n = 0;
    while (n + 1 < sizeof buf) {
        ssize_t k = read(fds[0], buf + n, 1);
        if (k <= 0 || buf[n] == '\n') break;
        n++;
    }
    buf[n] = '\0';
    close(fds[0]);
    unsigned port = 0;
    if (sscanf(buf, "port=%u", &port) != 1 || port == 0) {
        fprintf(stderr, "test_exchange: qt-fakex (%s) did not report a port\n", bin);
        return -1;
    }
    snprintf(g_url, sizeof g_url, "http://127.0.0.1:%u", port);
    const char *dd = getenv("QT_DATA_DIR");
    char path[1024], err[256];
    snprintf(path, sizeof path, "%s/raw/djienne-3EMA_SRSI_ATR-binance/4h/BTC_USDT-4h.json",
             dd && *dd ? dd : "../shared/data");
    qt_bars_init(&g_btc);
    if (qt_bars_load_file(&g_btc, path, err, sizeof err) != 0) {
        fprintf(stderr, "test_exchange: %s\n", err);
        return -1;
    }
    return 0;
}

static int stop_server(void **state) {
    (void)state;
    if (g_pid > 0) {
        kill(g_pid, SIGTERM);
        int st = 0;
        waitpid(g_pid, &st, 0);
        g_pid = -1;
    }
    qt_bars_free(&g_btc);
    return 0;
}

static const qt_bar_t *recorded(int64_t t) {
    for (size_t i = 0; i < g_btc.n; i++)
        if (g_btc.bars[i].t_ms == t) return &g_btc.bars[i];
    return NULL;
}

/* ---- A. the client on a simulated clock ---- */

typedef struct {
    qt_clock_t *clock;
    qt_metrics_t *metrics;
    qt_exchange_t *ex;
    qt_exchange_config_t cfg;
    qt_klines_t k;
} cl_t;

static void cl_open(cl_t *c, void (*tweak)(qt_exchange_config_t *)) {
    memset(c, 0, sizeof *c);
    fault("kind=none");
    /* 30 s into a minute: the weight pause is then exactly 30 s */
    c->clock = qt_clock_new_sim((1599999960000LL + 30000LL) * 1000000LL);
    c->metrics = qt_metrics_new("test");
    qt_exchange_config_defaults(&c->cfg);
    c->cfg.binance_url = g_url;
    static char cg[96];
    snprintf(cg, sizeof cg, "%s/api/v3", g_url);
    c->cfg.coingecko_url = cg;
    c->cfg.page_limit = 5;
    c->cfg.timeout_ms = 2000;
    c->cfg.seed = 42;
    if (tweak) tweak(&c->cfg);
    char err[256];
    c->ex = qt_exchange_new(&c->cfg, c->clock, c->metrics, err, sizeof err);
    assert_non_null(c->ex);
    qt_klines_init(&c->k);
}

static void cl_close(cl_t *c) {
    qt_klines_free(&c->k);
    qt_exchange_destroy(&c->ex);
    assert_null(c->ex);
    qt_metrics_destroy(&c->metrics);
    qt_clock_destroy(&c->clock);
}

static qt_ex_status_t cl_fetch(cl_t *c, int64_t from, int64_t to, char *err, size_t errlen) {
    qt_klines_free(&c->k);
    return qt_exchange_binance_klines(c->ex, "BTCUSDT", "4h", from, to, &c->k, err, errlen);
}

static uint64_t outcome(cl_t *c, const char *source, const char *o) {
    char labels[96];
    snprintf(labels, sizeof labels, "source=\"%s\",outcome=\"%s\"", source, o);
    return qt_counter_value(qt_metrics_find_counter(c->metrics, "qt_exchange_requests_total", labels));
}

static void test_client_paging_real_data(void **state) {
    (void)state;
    cl_t c;
    cl_open(&c, NULL);
    char err[256];
    assert_int_equal(cl_fetch(&c, W1_FROM, W1_TO - 1, err, sizeof err), QT_EX_OK);
    assert_int_equal(c.k.n, 11); /* 12 slots, one real outage */
    for (size_t i = 0; i < c.k.n; i++) {
        const qt_bar_t *b = recorded(c.k.rows[i].open_ms);
        assert_non_null(b);
        assert_true(c.k.rows[i].open == b->open && c.k.rows[i].high == b->high &&
                    c.k.rows[i].low == b->low && c.k.rows[i].close == b->close &&
                    c.k.rows[i].volume == b->volume);
        assert_true(c.k.rows[i].close_ms == c.k.rows[i].open_ms + H4 - 1);
        assert_true(c.k.rows[i].open_ms != W1_HOLE);
    }
    assert_true(c.k.rows[0].open == 661529000000LL); /* 6615.29 */
    const qt_exchange_stats_t *s = qt_exchange_stats(c.ex);
    assert_int_equal(s->pages, 4); /* 5 + 5 + 1 rows, then an empty page */
    assert_int_equal(s->requests, 4);
    assert_int_equal(s->retries, 0);
    assert_int_equal(s->slept_ms, 0);
    assert_true(s->last_weight > 0);
    assert_int_equal(outcome(&c, "binance", "ok"), 4);
    cl_close(&c);
}

static void test_client_500_backoff_with_seeded_jitter(void **state) {
    (void)state;
    cl_t c;
    cl_open(&c, NULL);
    /* the same seed draws the same delays: a reference client predicts them */
    qt_exchange_t *ref = qt_exchange_new(&c.cfg, c.clock, NULL, NULL, 0);
    assert_non_null(ref);
    int64_t d1 = qt_exchange_backoff_ms(ref, 1), d2 = qt_exchange_backoff_ms(ref, 2);
    assert_true(d1 >= 250 && d1 <= 500);
    assert_true(d2 >= 500 && d2 <= 1000);
    qt_exchange_destroy(&ref);
    fault("kind=500&count=2");
    char err[256];
    assert_int_equal(cl_fetch(&c, W2_FROM, W2_FROM + 4 * H4, err, sizeof err), QT_EX_OK);
    assert_int_equal(c.k.n, 5);
    const qt_exchange_stats_t *s = qt_exchange_stats(c.ex);
    assert_int_equal(s->http_5xx, 2);
    assert_int_equal(s->retries, 2);
    assert_int_equal(s->slept_ms, d1 + d2);
    assert_int_equal(outcome(&c, "binance", "http_5xx"), 2);
    cl_close(&c);
    /* persistent 5xx: gives up after max_attempts, never more requests */
    cl_open(&c, NULL);
    fault("kind=500&count=0");
    assert_int_equal(cl_fetch(&c, W2_FROM, W2_TO - 1, err, sizeof err), QT_EX_ERETRY);
    assert_non_null(strstr(err, "gave up after 5 attempts; last: HTTP 500"));
    assert_int_equal(qt_exchange_stats(c.ex)->requests, 5);
    assert_int_equal(c.k.n, 0);
    fault("kind=none");
    cl_close(&c);
}

static void test_client_429_retry_after(void **state) {
    (void)state;
    cl_t c;
    cl_open(&c, NULL);
    fault("kind=429&count=1&retry_after=7");
    char err[256];
    assert_int_equal(cl_fetch(&c, W2_FROM, W2_FROM, err, sizeof err), QT_EX_OK);
    assert_int_equal(c.k.n, 1);
    const qt_exchange_stats_t *s = qt_exchange_stats(c.ex);
    assert_int_equal(s->rate_limited, 1);
    assert_int_equal(s->slept_ms, 7000); /* exactly Retry-After, no jitter */
    cl_close(&c);
    /* a Retry-After longer than we accept to wait: stop, one request only */
    cl_open(&c, NULL);
    fault("kind=429&count=1&retry_after=3600");
    assert_int_equal(cl_fetch(&c, W2_FROM, W2_FROM, err, sizeof err), QT_EX_ERATE);
    assert_non_null(strstr(err, "Retry-After 3600"));
    assert_int_equal(qt_exchange_stats(c.ex)->requests, 1);
    assert_int_equal(qt_exchange_stats(c.ex)->slept_ms, 0);
    cl_close(&c);
}

static void test_client_418_stops(void **state) {
    (void)state;
    cl_t c;
    cl_open(&c, NULL);
    fault("kind=418&count=0&retry_after=120");
    char err[256];
    assert_int_equal(cl_fetch(&c, W2_FROM, W2_TO - 1, err, sizeof err), QT_EX_EBANNED);
    assert_non_null(strstr(err, "418"));
    assert_non_null(strstr(err, "Retry-After 120"));
    assert_int_equal(qt_exchange_stats(c.ex)->requests, 1);
    /* later calls send nothing */
    assert_int_equal(cl_fetch(&c, W2_FROM, W2_TO - 1, err, sizeof err), QT_EX_EBANNED);
    assert_int_equal(qt_exchange_stats(c.ex)->requests, 1);
    assert_int_equal(outcome(&c, "binance", "banned"), 1);
    fault("kind=none");
    cl_close(&c);
}

static void test_client_malformed_bodies(void **state) {
    (void)state;
    const char *kinds[] = {"truncate", "numbers"};
    for (int i = 0; i < 2; i++) {
        cl_t c;
        cl_open(&c, NULL);
        char q[64], err[256];
        snprintf(q, sizeof q, "kind=%s&count=1", kinds[i]);
        fault(q);
        assert_int_equal(cl_fetch(&c, W2_FROM, W2_FROM + 4 * H4, err, sizeof err), QT_EX_OK);
        assert_int_equal(c.k.n, 5);
        assert_int_equal(qt_exchange_stats(c.ex)->malformed, 1);
        assert_int_equal(qt_exchange_stats(c.ex)->retries, 1);
        cl_close(&c);
        cl_open(&c, NULL);
        snprintf(q, sizeof q, "kind=%s&count=0", kinds[i]);
        fault(q);
        assert_int_equal(cl_fetch(&c, W2_FROM, W2_FROM + 4 * H4, err, sizeof err), QT_EX_ERETRY);
        assert_non_null(strstr(err, i == 0 ? "invalid JSON" : "row 1 field 2 (open): expected a decimal string, got a number"));
        assert_int_equal(qt_exchange_stats(c.ex)->malformed, 5);
        fault("kind=none");
        cl_close(&c);
    }
}

static void short_timeout(qt_exchange_config_t *cfg) {
    cfg->timeout_ms = 300;
    cfg->connect_timeout_ms = 300;
}

static void test_client_slow_response_times_out(void **state) {
    (void)state;
    cl_t c;
    cl_open(&c, short_timeout);
    fault("kind=slow&count=1&delay_ms=1500");
    char err[256];
    assert_int_equal(cl_fetch(&c, W2_FROM, W2_FROM + H4, err, sizeof err), QT_EX_OK);
    assert_int_equal(c.k.n, 2);
    assert_int_equal(qt_exchange_stats(c.ex)->network, 1);
    assert_int_equal(outcome(&c, "binance", "network"), 1);
    cl_close(&c);
}

static void test_client_returns_rows_as_received(void **state) {
    (void)state;
    cl_t c;
    char err[256];
    cl_open(&c, NULL);
    fault("kind=duplicate&count=1");
    assert_int_equal(cl_fetch(&c, W2_FROM, W2_FROM + 3 * H4, err, sizeof err), QT_EX_OK);
    assert_int_equal(c.k.n, 5);
    assert_true(c.k.rows[1].open_ms == c.k.rows[2].open_ms);
    cl_close(&c);
    cl_open(&c, NULL);
    fault("kind=outoforder&count=1");
    assert_int_equal(cl_fetch(&c, W2_FROM, W2_FROM + 3 * H4, err, sizeof err), QT_EX_OK);
    assert_int_equal(c.k.n, 4);
    assert_true(c.k.rows[1].open_ms == W2_FROM + 2 * H4 && c.k.rows[2].open_ms == W2_FROM + H4);
    cl_close(&c);
    cl_open(&c, NULL);
    char q[96];
    snprintf(q, sizeof q, "kind=missing&count=1&at=%lld", (long long)W2_PICK);
    fault(q);
    assert_int_equal(cl_fetch(&c, W2_FROM, W2_FROM + 3 * H4, err, sizeof err), QT_EX_OK);
    assert_int_equal(c.k.n, 3);
    for (size_t i = 0; i < c.k.n; i++) assert_true(c.k.rows[i].open_ms != W2_PICK);
    cl_close(&c);
}

static void test_client_weight_pause(void **state) {
    (void)state;
    cl_t c;
    cl_open(&c, NULL);
    fault("kind=weight&count=1&value=1100"); /* cap is 1000 */
    char err[256];
    assert_int_equal(cl_fetch(&c, W2_FROM, W2_FROM + 6 * H4, err, sizeof err), QT_EX_OK);
    assert_int_equal(c.k.n, 7);
    const qt_exchange_stats_t *s = qt_exchange_stats(c.ex);
    assert_int_equal(s->weight_pauses, 1);
    assert_int_equal(s->slept_ms, 30000); /* to the next minute boundary */
    assert_int_equal(qt_counter_value(qt_metrics_find_counter(
                         c.metrics, "qt_exchange_weight_pauses_total", "source=\"binance\"")),
                     1);
    cl_close(&c);
}

static void test_client_coingecko(void **state) {
    (void)state;
    cl_t c;
    cl_open(&c, NULL);
    qt_market_chart_t m;
    qt_market_chart_init(&m);
    char err[256];
    assert_int_equal(qt_exchange_coingecko_range(c.ex, "bitcoin", W2_FROM, W2_TO, &m, err, sizeof err),
                     QT_EX_OK);
    assert_int_equal(m.nprices, 13); /* close times W2_FROM .. W2_TO, every 4h */
    assert_true(m.prices[0].t_ms == W2_FROM);
    assert_true(m.prices[0].value == qt_fixed_to_double(recorded(W2_FROM - H4)->close));
    assert_true(m.prices[12].value == qt_fixed_to_double(recorded(W2_TO - H4)->close));
    assert_int_equal(qt_exchange_stats(c.ex)->slept_ms, 0);
    /* its own rate limit: the second call waits the configured spacing (6 s) */
    assert_int_equal(qt_exchange_coingecko_range(c.ex, "bitcoin", W2_FROM, W2_TO, &m, err, sizeof err),
                     QT_EX_OK);
    assert_int_equal(qt_exchange_stats(c.ex)->slept_ms, 6000);
    fault("kind=truncate&count=0");
    assert_int_equal(qt_exchange_coingecko_range(c.ex, "bitcoin", W2_FROM, W2_TO, &m, err, sizeof err),
                     QT_EX_ERETRY);
    assert_int_equal(m.nprices, 0);
    fault("kind=none");
    assert_int_equal(qt_exchange_coingecko_range(c.ex, "nosuchcoin", W2_FROM, W2_TO, &m, err, sizeof err),
                     QT_EX_EHTTP);
    assert_int_equal(qt_exchange_coingecko_range(c.ex, "Bad/Id", W2_FROM, W2_TO, &m, err, sizeof err),
                     QT_EX_EUSAGE);
    qt_market_chart_free(&m);
    assert_int_equal(outcome(&c, "coingecko", "malformed"), 5);
    cl_close(&c);
}

static void test_client_selftest_and_config(void **state) {
    (void)state;
    assert_int_equal(qt_exchange_selftest(false), 0);
    qt_exchange_config_t cfg;
    qt_exchange_config_defaults(&cfg);
    assert_string_equal(cfg.binance_url, "https://api.binance.com"); /* TLS by default */
    qt_clock_t *clk = qt_clock_new_sim(0);
    char err[128];
    cfg.page_limit = 1001;
    assert_null(qt_exchange_new(&cfg, clk, NULL, err, sizeof err));
    qt_exchange_config_defaults(&cfg);
    cfg.binance_url = "https://api.binance.com/ bad";
    assert_null(qt_exchange_new(&cfg, clk, NULL, err, sizeof err));
    qt_exchange_config_defaults(&cfg);
    qt_exchange_t *ex = qt_exchange_new(&cfg, clk, NULL, err, sizeof err);
    qt_klines_t k;
    qt_klines_init(&k);
    assert_int_equal(qt_exchange_binance_klines(ex, "BTC_USDT", "4h", 0, 1, &k, err, sizeof err), QT_EX_EUSAGE);
    assert_int_equal(qt_exchange_binance_klines(ex, "BTCUSDT", "1M", 0, 1, &k, err, sizeof err), QT_EX_EUSAGE);
    assert_int_equal(qt_exchange_binance_klines(ex, "BTCUSDT", "4h", 5, 1, &k, err, sizeof err), QT_EX_EUSAGE);
    assert_int_equal(qt_exchange_stats(ex)->requests, 0);
    qt_exchange_destroy(&ex);
    qt_clock_destroy(&clk);
    /* hostile query parameters: Binance-style 400, counted, server still fine */
    assert_int_equal(http("GET", "/api/v3/klines?symbol=BTCUSDT&interval=4h&limit=5000"), 400);
    assert_int_equal(http("GET", "/api/v3/klines?symbol=btc%00&interval=4h"), 400);
    assert_int_equal(http("GET", "/api/v3/klines?symbol=BTCUSDT&interval=7h"), 400);
    assert_int_equal(http("GET", "/api/v3/klines?symbol=BTCUSDT&interval=4h&startTime=-1"), 400);
    assert_int_equal(http("GET", "/api/v3/klines?symbol=BTCUSDT&interval=4h&startTime=99999999999999999999999"), 400);
    assert_int_equal(http("GET", "/api/v3/klines?symbol=NOPEUSDT&interval=4h"), 400);
    assert_int_equal(http("POST", "/_fault?kind=explode"), 400);
    assert_int_equal(http("GET", "/api/v3/klines?symbol=BTCUSDT&interval=4h&limit=1"), 200);
}

/* ---- B. qt-ingest fetch into a store ---- */

typedef struct {
    char dir[256];
    json_t *out;
} st_t;

static void st_new(st_t *s) {
    const char *t = getenv("TMPDIR");
    snprintf(s->dir, sizeof s->dir, "%s/qt-exchange-XXXXXX", t && *t ? t : "/tmp");
    assert_non_null(mkdtemp(s->dir));
    s->out = NULL;
}

static void st_free(st_t *s) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
    assert_int_equal(system(cmd), 0);
    json_decref(s->out);
}

/* Runs fetch with the common options plus extra ones; parses the --json report. */
static int run_fetch(st_t *s, const char *source, int64_t from, int64_t to, const char *extra) {
    char f[32], t[32], url[96];
    snprintf(f, sizeof f, "%lld", (long long)from);
    snprintf(t, sizeof t, "%lld", (long long)to);
    snprintf(url, sizeof url, "%s%s", g_url, strcmp(source, "coingecko") == 0 ? "/api/v3" : "");
    char *argv[40] = {"fetch", "--source", (char *)source, "--symbols", "BTC_USDT", "--interval",
                      "4h", "--from", f, "--to", t, "--store", s->dir, "--base-url", url,
                      "--json", "--backoff-ms", "10", "--max-attempts", "3", "--timeout-ms",
                      "400", "--cg-interval-ms", "0"};
    int argc = 24;
    char extra_copy[256];
    if (extra) {
        snprintf(extra_copy, sizeof extra_copy, "%s", extra);
        for (char *tok = strtok(extra_copy, " "); tok && argc < 39; tok = strtok(NULL, " "))
            argv[argc++] = tok;
    }
    FILE *out = tmpfile();
    assert_non_null(out);
    int rc = ingest_fetch_run(argc, argv, 1, out);
    json_decref(s->out);
    s->out = NULL;
    rewind(out);
    json_error_t je;
    s->out = json_loadf(out, 0, &je);
    fclose(out);
    return rc;
}

static json_int_t sym_int(const st_t *s, const char *key) {
    json_t *sym = json_array_get(json_object_get(s->out, "symbols"), 0);
    json_t *v = json_object_get(sym, key);
    if (!json_is_integer(v)) fail_msg("report has no integer '%s'", key);
    return json_integer_value(v);
}

static bool sym_ok(const st_t *s) {
    json_t *sym = json_array_get(json_object_get(s->out, "symbols"), 0);
    return json_is_true(json_object_get(sym, "ok"));
}

static const char *sym_err(const st_t *s) {
    json_t *sym = json_array_get(json_object_get(s->out, "symbols"), 0);
    const char *e = json_string_value(json_object_get(sym, "error"));
    return e ? e : "";
}

typedef struct {
    char *bars, *index, *catalog;
    size_t nbars, nindex, ncatalog;
} snap_t;

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    *n = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

static void snap(const st_t *s, snap_t *p) {
    char path[512];
    snprintf(path, sizeof path, "%s/binance/BTC_USDT/4h/bars.qtb", s->dir);
    p->bars = slurp(path, &p->nbars);
    snprintf(path, sizeof path, "%s/binance/BTC_USDT/4h/index.json", s->dir);
    p->index = slurp(path, &p->nindex);
    snprintf(path, sizeof path, "%s/catalog.json", s->dir);
    p->catalog = slurp(path, &p->ncatalog);
    assert_non_null(p->bars);
    assert_non_null(p->index);
    assert_non_null(p->catalog);
}

static void snap_same(const snap_t *a, const snap_t *b) {
    assert_int_equal(a->nbars, b->nbars);
    assert_memory_equal(a->bars, b->bars, a->nbars);
    assert_int_equal(a->nindex, b->nindex);
    assert_memory_equal(a->index, b->index, a->nindex);
    assert_int_equal(a->ncatalog, b->ncatalog);
    assert_memory_equal(a->catalog, b->catalog, a->ncatalog);
}

static void snap_free(snap_t *p) {
    free(p->bars);
    free(p->index);
    free(p->catalog);
}

static qt_store_row_t *stored(const st_t *s, size_t *n) {
    char err[256];
    qt_store_t *st = qt_store_open(s->dir, err, sizeof err);
    assert_non_null(st);
    qt_store_row_t *rows = NULL;
    assert_int_equal(qt_store_read(st, "binance", "BTC_USDT", "4h", &rows, n, err, sizeof err), 0);
    assert_int_equal(qt_store_verify(st, "binance", "BTC_USDT", "4h", err, sizeof err), 0);
    qt_store_destroy(&st);
    return rows;
}

static const qt_store_row_t *row_at(const qt_store_row_t *r, size_t n, int64_t t) {
    for (size_t i = 0; i < n; i++)
        if (r[i].bar.t_ms == t) return &r[i];
    return NULL;
}

static void assert_matches_recording(const qt_store_row_t *r, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const qt_bar_t *b = recorded(r[i].bar.t_ms);
        assert_non_null(b);
        assert_true(b->open == r[i].bar.open && b->high == r[i].bar.high &&
                    b->low == r[i].bar.low && b->close == r[i].bar.close &&
                    b->volume == r[i].bar.volume);
    }
}

static void test_fetch_real_gap_and_idempotent_rerun(void **state) {
    (void)state;
    fault("kind=none");
    st_t s;
    st_new(&s);
    assert_int_equal(run_fetch(&s, "binance", W1_FROM, W1_TO, NULL), 0);
    assert_true(sym_ok(&s));
    assert_int_equal(sym_int(&s, "received"), 11);
    assert_int_equal(sym_int(&s, "appended"), 11);
    assert_int_equal(sym_int(&s, "gaps"), 1);
    assert_int_equal(sym_int(&s, "missing"), 1);
    assert_int_equal(sym_int(&s, "backfill_requests"), 1); /* the source was asked again */
    assert_int_equal(sym_int(&s, "backfilled"), 0);         /* and could not supply it */
    json_t *g = json_array_get(json_object_get(json_array_get(json_object_get(s.out, "symbols"), 0),
                                               "gap_ranges"), 0);
    assert_true(json_integer_value(json_array_get(g, 0)) == W1_HOLE);
    assert_true(json_integer_value(json_array_get(g, 1)) == W1_HOLE);
    size_t n = 0;
    qt_store_row_t *r = stored(&s, &n);
    assert_int_equal(n, 11);
    assert_matches_recording(r, n);
    assert_null(row_at(r, n, W1_HOLE));
    assert_int_equal(row_at(r, n, W1_HOLE + H4)->flags, QT__V1__BAR_FLAG__BAR_FLAG_GAP_BEFORE);
    assert_int_equal(row_at(r, n, W1_HOLE - H4)->flags, 0);
    free(r);
    snap_t a, b;
    snap(&s, &a);
    /* re-run: nothing changes */
    assert_int_equal(run_fetch(&s, "binance", W1_FROM, W1_TO, NULL), 0);
    assert_int_equal(sym_int(&s, "appended"), 0);
    assert_int_equal(sym_int(&s, "unchanged"), 11);
    snap(&s, &b);
    snap_same(&a, &b);
    snap_free(&a);
    snap_free(&b);
    /* CoinGecko cross-check against the stored closes: the fake serves the same closes */
    assert_int_equal(run_fetch(&s, "coingecko", W1_FROM, W1_TO, NULL), 0);
    json_t *sym = json_array_get(json_object_get(s.out, "symbols"), 0);
    assert_int_equal(json_integer_value(json_object_get(sym, "points")), 11);
    assert_int_equal(json_integer_value(json_object_get(sym, "matched")), 11);
    assert_true(json_real_value(json_object_get(sym, "max_rel_diff")) < 1e-12);
    st_free(&s);
}

/* Faults that make the fetch fail: exit 1, the reason in the report, store untouched. */
static void test_fetch_failures_leave_store_untouched(void **state) {
    (void)state;
    st_t s;
    st_new(&s);
    fault("kind=none");
    assert_int_equal(run_fetch(&s, "binance", W1_FROM, W1_TO, NULL), 0);
    snap_t before;
    snap(&s, &before);
    static const struct {
        const char *fault, *expect;
    } cases[] = {
        {"kind=500&count=0", "retries_exhausted"},
        {"kind=429&count=0&retry_after=3600", "Retry-After 3600"},
        {"kind=418&count=0&retry_after=60", "banned"},
        {"kind=truncate&count=0", "invalid JSON"},
        {"kind=numbers&count=0", "expected a decimal string, got a number"},
        {"kind=slow&count=0&delay_ms=1000", "retries_exhausted"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fault(cases[i].fault);
        /* W2 would add 12 new bars if it succeeded */
        assert_int_equal(run_fetch(&s, "binance", W2_FROM, W2_TO, NULL), 1);
        assert_false(sym_ok(&s));
        if (!strstr(sym_err(&s), cases[i].expect))
            fail_msg("%s: error '%s' lacks '%s'", cases[i].fault, sym_err(&s), cases[i].expect);
        assert_int_equal(json_integer_value(json_object_get(s.out, "exit")), 1);
        snap_t after;
        snap(&s, &after);
        snap_same(&before, &after);
        snap_free(&after);
        size_t n = 0;
        free(stored(&s, &n)); /* still verifies */
        assert_int_equal(n, 11);
    }
    fault("kind=none");
    snap_free(&before);
    st_free(&s);
}

/* Transient faults and reordering: the fetch succeeds and stores exactly the recording. */
static void test_fetch_recovers_from_transient_faults(void **state) {
    (void)state;
    static const struct {
        const char *fault, *counter;
        json_int_t expect;
    } cases[] = {
        {"kind=500&count=2", "received", 12},
        {"kind=429&count=1&retry_after=1", "received", 12},
        {"kind=truncate&count=1", "received", 12},
        {"kind=numbers&count=1", "received", 12},
        {"kind=slow&count=1&delay_ms=1000", "received", 12},
        {"kind=duplicate&count=1", "duplicates", 1},
        {"kind=outoforder&count=1", "out_of_order", 1},
        {"kind=weight&count=1&value=10", "received", 12},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        st_t s;
        st_new(&s);
        fault(cases[i].fault);
        assert_int_equal(run_fetch(&s, "binance", W2_FROM, W2_TO, NULL), 0);
        assert_true(sym_ok(&s));
        assert_int_equal(sym_int(&s, cases[i].counter), cases[i].expect);
        assert_int_equal(sym_int(&s, "appended"), 12);
        assert_int_equal(sym_int(&s, "gaps"), 0);
        size_t n = 0;
        qt_store_row_t *r = stored(&s, &n);
        assert_int_equal(n, 12);
        assert_matches_recording(r, n);
        for (size_t k = 0; k < n; k++) assert_int_equal(r[k].flags, 0);
        free(r);
        st_free(&s);
    }
    fault("kind=none");
}

static void test_fetch_missing_candle_backfill(void **state) {
    (void)state;
    char q[96];
    /* missing once: the refetch of the hole supplies it */
    st_t s;
    st_new(&s);
    snprintf(q, sizeof q, "kind=missing&count=1&at=%lld", (long long)W2_PICK);
    fault(q);
    assert_int_equal(run_fetch(&s, "binance", W2_FROM, W2_TO, NULL), 0);
    assert_int_equal(sym_int(&s, "received"), 11);
    assert_int_equal(sym_int(&s, "backfilled"), 1);
    assert_int_equal(sym_int(&s, "gaps"), 0);
    size_t n = 0;
    qt_store_row_t *r = stored(&s, &n);
    assert_int_equal(n, 12);
    assert_matches_recording(r, n);
    assert_int_equal(row_at(r, n, W2_PICK)->flags, QT__V1__BAR_FLAG__BAR_FLAG_BACKFILLED);
    assert_int_equal(row_at(r, n, W2_PICK + H4)->flags, 0);
    free(r);
    st_free(&s);
    /* missing for good: recorded, counted, the next bar marked */
    st_new(&s);
    snprintf(q, sizeof q, "kind=missing&count=0&at=%lld", (long long)W2_PICK);
    fault(q);
    assert_int_equal(run_fetch(&s, "binance", W2_FROM, W2_TO, NULL), 0);
    assert_int_equal(sym_int(&s, "gaps"), 1);
    assert_int_equal(sym_int(&s, "missing"), 1);
    assert_int_equal(sym_int(&s, "backfilled"), 0);
    r = stored(&s, &n);
    assert_int_equal(n, 11);
    assert_null(row_at(r, n, W2_PICK));
    assert_int_equal(row_at(r, n, W2_PICK + H4)->flags, QT__V1__BAR_FLAG__BAR_FLAG_GAP_BEFORE);
    free(r);
    /* the source later supplies it: the hole is filled, stored history untouched */
    fault("kind=none");
    assert_int_equal(run_fetch(&s, "binance", W2_FROM, W2_TO, NULL), 0);
    assert_int_equal(sym_int(&s, "appended"), 1);
    assert_int_equal(sym_int(&s, "unchanged"), 11);
    r = stored(&s, &n);
    assert_int_equal(n, 12);
    assert_matches_recording(r, n);
    free(r);
    st_free(&s);
}

/* --source file: the recording itself; a gap cannot be refetched, so it is recorded. */
static void test_fetch_from_file(void **state) {
    (void)state;
    st_t s;
    st_new(&s);
    const char *dd = getenv("QT_DATA_DIR");
    char extra[600];
    snprintf(extra, sizeof extra, "--data-dir %s/raw/djienne-3EMA_SRSI_ATR-binance/4h",
             dd && *dd ? dd : "../shared/data");
    assert_int_equal(run_fetch(&s, "file", W1_FROM, W1_TO, extra), 0);
    assert_int_equal(sym_int(&s, "received"), (json_int_t)g_btc.n);
    assert_int_equal(sym_int(&s, "outside"), (json_int_t)g_btc.n - 11);
    assert_int_equal(sym_int(&s, "appended"), 11);
    assert_int_equal(sym_int(&s, "gaps"), 1);
    assert_int_equal(sym_int(&s, "backfill_requests"), 0);
    size_t n = 0;
    qt_store_row_t *r = stored(&s, &n);
    assert_int_equal(n, 11);
    assert_matches_recording(r, n);
    assert_int_equal(row_at(r, n, W1_HOLE + H4)->flags, QT__V1__BAR_FLAG__BAR_FLAG_GAP_BEFORE);
    free(r);
    /* the same candles from the exchange afterwards: all unchanged */
    fault("kind=none");
    assert_int_equal(run_fetch(&s, "binance", W1_FROM, W1_TO, NULL), 0);
    assert_int_equal(sym_int(&s, "unchanged"), 11);
    assert_int_equal(sym_int(&s, "appended"), 0);
    st_free(&s);
}

static void test_fetch_usage_errors(void **state) {
    (void)state;
    st_t s;
    st_new(&s);
    const char *bad[] = {"--interval 1M", "--interval 4h --source ftp", "--symbols BTCUSDT",
                         "--from 2020-13-01", "--max-attempts 0", "--bogus 1", "--seed x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(run_fetch(&s, "binance", W1_FROM, W1_TO, bad[i]), 2);
    assert_int_equal(run_fetch(&s, "binance", W1_TO, W1_FROM, NULL), 2); /* to <= from */
    /* coingecko without stored closes: a clear failure, nothing stored */
    assert_int_equal(run_fetch(&s, "coingecko", W1_FROM, W1_TO, NULL), 1);
    assert_non_null(strstr(sym_err(&s), "fetch --source binance first"));
    st_free(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_paging_real_data),
        cmocka_unit_test(test_client_500_backoff_with_seeded_jitter),
        cmocka_unit_test(test_client_429_retry_after),
        cmocka_unit_test(test_client_418_stops),
        cmocka_unit_test(test_client_malformed_bodies),
        cmocka_unit_test(test_client_slow_response_times_out),
        cmocka_unit_test(test_client_returns_rows_as_received),
        cmocka_unit_test(test_client_weight_pause),
        cmocka_unit_test(test_client_coingecko),
        cmocka_unit_test(test_client_selftest_and_config),
        cmocka_unit_test(test_fetch_real_gap_and_idempotent_rerun),
        cmocka_unit_test(test_fetch_failures_leave_store_untouched),
        cmocka_unit_test(test_fetch_recovers_from_transient_faults),
        cmocka_unit_test(test_fetch_missing_candle_backfill),
        cmocka_unit_test(test_fetch_from_file),
        cmocka_unit_test(test_fetch_usage_errors),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
