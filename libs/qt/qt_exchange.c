/* qt_exchange: libcurl clients for Binance klines and CoinGecko market_chart/range.
 * The retry, rate-limit and TLS policy is documented in qt_exchange.h and
 * docs/data-sources.md; this file is its one implementation. */
#include "qt_exchange.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qt_rng.h"

#define URL_MAX 1024

struct qt_exchange_t {
    qt_exchange_config_t cfg;
    char binance_url[512], coingecko_url[512];
    qt_clock_t *clock;
    qt_metrics_t *metrics;
    CURL *curl;
    qt_rng_t rng;
    qt_exchange_stats_t st;
    bool banned;
    int64_t ban_until_ms;
    int64_t weight_pause_until_ms;   /* 0: no pause pending */
    int64_t cg_last_ms;              /* mono ms of the last CoinGecko request, -1 never */
};

typedef struct {
    char *data;
    size_t len, cap;
    bool overflow;
    int64_t retry_after_s;  /* -1 when absent */
    int64_t weight;         /* -1 when absent */
} resp_t;

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void qt_exchange_config_defaults(qt_exchange_config_t *c) {
    memset(c, 0, sizeof *c);
    c->binance_url = "https://api.binance.com";
    c->coingecko_url = "https://api.coingecko.com/api/v3";
    c->connect_timeout_ms = 5000;
    c->timeout_ms = 30000;
    c->max_attempts = 5;
    c->backoff_base_ms = 500;
    c->backoff_max_ms = 30000;
    c->retry_after_max_ms = 120000;
    c->weight_cap = 1000;
    c->coingecko_interval_ms = 6000;
    c->page_limit = 1000;
    c->seed = 1;
}

const char *qt_ex_status_str(qt_ex_status_t st) {
    switch (st) {
    case QT_EX_OK: return "ok";
    case QT_EX_EUSAGE: return "usage";
    case QT_EX_ERETRY: return "retries_exhausted";
    case QT_EX_ERATE: return "rate_limited";
    case QT_EX_EBANNED: return "banned";
    case QT_EX_EHTTP: return "http_error";
    case QT_EX_EDATA: return "bad_data";
    }
    return "unknown";
}

/* A base URL: http:// or https://, printable, no spaces/quotes, no trailing slash kept. */
static bool copy_base(const char *in, char *out, size_t outlen) {
    if (!in) return false;
    if (strncmp(in, "https://", 8) != 0 && strncmp(in, "http://", 7) != 0) return false;
    size_t n = strlen(in);
    if (n < 9 || n >= outlen) return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)in[i] <= 0x20 || (unsigned char)in[i] >= 0x7f || in[i] == '"' ||
            in[i] == '?' || in[i] == '#')
            return false;
    memcpy(out, in, n + 1);
    while (n > 0 && out[n - 1] == '/') out[--n] = '\0';
    return true;
}

qt_exchange_t *qt_exchange_new(const qt_exchange_config_t *cfg, qt_clock_t *clock,
                               qt_metrics_t *metrics, char *err, size_t errlen) {
    if (!cfg || !clock) {
        set_err(err, errlen, "config and clock are required");
        return NULL;
    }
    if (cfg->max_attempts < 1 || cfg->max_attempts > 100 || cfg->page_limit < 1 ||
        cfg->page_limit > 1000 || cfg->connect_timeout_ms < 1 || cfg->timeout_ms < 1 ||
        cfg->backoff_base_ms < 0 || cfg->backoff_max_ms < cfg->backoff_base_ms ||
        cfg->backoff_max_ms > 3600000 || cfg->retry_after_max_ms < 0 ||
        cfg->coingecko_interval_ms < 0 || cfg->weight_cap < 1) {
        set_err(err, errlen, "invalid exchange client configuration");
        return NULL;
    }
    qt_exchange_t *self = calloc(1, sizeof *self);
    if (!self) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    self->cfg = *cfg;
    if (!copy_base(cfg->binance_url, self->binance_url, sizeof self->binance_url) ||
        !copy_base(cfg->coingecko_url, self->coingecko_url, sizeof self->coingecko_url)) {
        set_err(err, errlen, "base URL must be http:// or https:// followed by a host");
        free(self);
        return NULL;
    }
    self->cfg.binance_url = self->binance_url;
    self->cfg.coingecko_url = self->coingecko_url;
    self->clock = clock;
    self->metrics = metrics;
    self->cg_last_ms = -1;
    self->st.last_weight = -1;
    qt_rng_seed(&self->rng, cfg->seed);
    /* curl_global_init is implicit in curl_easy_init (thread-unsafe only on first use). */
    self->curl = curl_easy_init();
    if (!self->curl) {
        set_err(err, errlen, "curl_easy_init failed");
        free(self);
        return NULL;
    }
    return self;
}

void qt_exchange_destroy(qt_exchange_t **self_p) {
    if (!self_p || !*self_p) return;
    qt_exchange_t *self = *self_p;
    if (self->curl) curl_easy_cleanup(self->curl);
    free(self);
    *self_p = NULL;
}

const qt_exchange_stats_t *qt_exchange_stats(const qt_exchange_t *self) { return &self->st; }

static void count(qt_exchange_t *self, const char *source, const char *outcome) {
    if (!self->metrics) return;
    char labels[96];
    snprintf(labels, sizeof labels, "source=\"%s\",outcome=\"%s\"", source, outcome);
    qt_counter_inc(qt_metrics_counter(self->metrics, "qt_exchange_requests_total",
                                      "REST requests by source and outcome", labels));
}

static void sleep_ms(qt_exchange_t *self, int64_t ms) {
    if (ms <= 0) return;
    qt_clock_sleep_ns(self->clock, ms * 1000000LL);
    self->st.slept_ms += ms;
}

int64_t qt_exchange_backoff_ms(qt_exchange_t *self, int attempt) {
    int64_t d = self->cfg.backoff_base_ms;
    for (int i = 1; i < attempt && d < self->cfg.backoff_max_ms; i++) d *= 2;
    if (d > self->cfg.backoff_max_ms) d = self->cfg.backoff_max_ms;
    int64_t half = d / 2;
    return half + (int64_t)qt_rng_below(&self->rng, (uint64_t)(d - half) + 1);
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud) {
    resp_t *r = ud;
    size_t n = size * nmemb;
    if (r->len + n > QT_KLINES_MAX_BODY) {
        r->overflow = true;
        return 0; /* aborts the transfer */
    }
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 65536;
        while (cap < r->len + n + 1) cap *= 2;
        char *p = realloc(r->data, cap);
        if (!p) return 0;
        r->data = p;
        r->cap = cap;
    }
    memcpy(r->data + r->len, ptr, n);
    r->len += n;
    r->data[r->len] = '\0';
    return n;
}

/* Strict non-negative integer header value (at most 12 digits); -1 otherwise. */
static int64_t header_int(const char *v, size_t n) {
    while (n && (*v == ' ' || *v == '\t')) v++, n--;
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ')) n--;
    if (n == 0 || n > 12) return -1;
    int64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9') return -1;
        x = x * 10 + (v[i] - '0');
    }
    return x;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud) {
    resp_t *r = ud;
    size_t n = size * nitems;
    static const char ra[] = "retry-after:", w[] = "x-mbx-used-weight-1m:";
    if (n > sizeof ra - 1 && strncasecmp(buf, ra, sizeof ra - 1) == 0)
        r->retry_after_s = header_int(buf + sizeof ra - 1, n - (sizeof ra - 1));
    else if (n > sizeof w - 1 && strncasecmp(buf, w, sizeof w - 1) == 0)
        r->weight = header_int(buf + sizeof w - 1, n - (sizeof w - 1));
    return n;
}

/* One GET. Returns the HTTP status (>= 100) or -1 on a transport error (err set). */
static long http_get(qt_exchange_t *self, const char *url, resp_t *r, char *err,
                     size_t errlen) {
    free(r->data);
    memset(r, 0, sizeof *r);
    r->retry_after_s = -1;
    r->weight = -1;
    CURL *c = self->curl;
    curl_easy_reset(c);
    char ebuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, self->cfg.connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, self->cfg.timeout_ms);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "quantum-trader/1 (qt-ingest fetch)");
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, ""); /* gzip/deflate if offered */
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    /* CURLOPT_SSL_VERIFYPEER / CURLOPT_SSL_VERIFYHOST are deliberately left at their
     * defaults (on): see the header. */
    self->st.requests++;
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        set_err(err, errlen, "%s: %s", r->overflow ? "body too large" : curl_easy_strerror(cc),
                ebuf[0] ? ebuf : url);
        return -1;
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

/* Short printable excerpt of a body for error messages. */
static void excerpt(const resp_t *r, char *out, size_t outlen) {
    size_t j = 0;
    for (size_t i = 0; r->data && i < r->len && j + 1 < outlen && i < 120; i++)
        out[j++] = (r->data[i] >= 0x20 && r->data[i] < 0x7f) ? r->data[i] : '?';
    out[j] = '\0';
}

typedef int (*parse_fn)(void *out, const char *body, size_t len, char *err, size_t errlen);

/* The retry loop shared by both sources (policy in the header). */
static qt_ex_status_t request(qt_exchange_t *self, const char *source, const char *url,
                              parse_fn parse, void *out, char *err, size_t errlen) {
    bool binance = strcmp(source, "binance") == 0;
    if (self->banned) {
        set_err(err, errlen, "client is banned (HTTP 418 earlier); no request sent");
        return QT_EX_EBANNED;
    }
    resp_t r = {0};
    qt_ex_status_t rc = QT_EX_ERETRY;
    char why[512] = "";
    for (int attempt = 1; attempt <= self->cfg.max_attempts; attempt++) {
        if (attempt > 1) self->st.retries++;
        if (binance && self->weight_pause_until_ms > 0) {
            int64_t now = qt_clock_now_ms(self->clock);
            if (now < self->weight_pause_until_ms) {
                self->st.weight_pauses++;
                if (self->metrics)
                    qt_counter_inc(qt_metrics_counter(
                        self->metrics, "qt_exchange_weight_pauses_total",
                        "pauses because the used request weight reached the cap",
                        "source=\"binance\""));
                sleep_ms(self, self->weight_pause_until_ms - now);
            }
            self->weight_pause_until_ms = 0;
        }
        if (!binance && self->cfg.coingecko_interval_ms > 0 && self->cg_last_ms >= 0) {
            int64_t since = qt_clock_mono_ns(self->clock) / 1000000 - self->cg_last_ms;
            if (since < self->cfg.coingecko_interval_ms)
                sleep_ms(self, self->cfg.coingecko_interval_ms - since);
        }
        if (!binance) self->cg_last_ms = qt_clock_mono_ns(self->clock) / 1000000;
        long status = http_get(self, url, &r, why, sizeof why);
        if (binance && r.weight >= 0) {
            self->st.last_weight = r.weight;
            if ((uint64_t)r.weight >= self->cfg.weight_cap) {
                int64_t now = qt_clock_now_ms(self->clock);
                self->weight_pause_until_ms = now - now % 60000 + 60000;
            }
        }
        int64_t wait = -1; /* -1: backoff delay */
        if (status < 0) {
            self->st.network++;
            count(self, source, "network");
        } else if (status == 200) {
            char perr[256];
            if (parse(out, r.data ? r.data : "", r.len, perr, sizeof perr) == 0) {
                self->st.ok++;
                count(self, source, "ok");
                rc = QT_EX_OK;
                goto done;
            }
            self->st.malformed++;
            count(self, source, "malformed");
            snprintf(why, sizeof why, "malformed body: %s", perr);
        } else if (status == 418) {
            self->st.banned++;
            count(self, source, "banned");
            self->banned = true;
            set_err(err, errlen, "HTTP 418 from %s: banned (Retry-After %" PRId64 " s); stopped",
                    source, r.retry_after_s);
            rc = QT_EX_EBANNED;
            goto done;
        } else if (status == 429) {
            self->st.rate_limited++;
            count(self, source, "rate_limited");
            snprintf(why, sizeof why, "HTTP 429 (Retry-After %" PRId64 " s)", r.retry_after_s);
            if (r.retry_after_s >= 0) {
                if (r.retry_after_s > self->cfg.retry_after_max_ms / 1000) {
                    set_err(err, errlen,
                            "HTTP 429 from %s with Retry-After %" PRId64
                            " s, above the %" PRId64 " ms limit; gave up",
                            source, r.retry_after_s, self->cfg.retry_after_max_ms);
                    rc = QT_EX_ERATE;
                    goto done;
                }
                wait = r.retry_after_s * 1000;
            }
            rc = QT_EX_ERATE;
        } else if (status >= 500) {
            self->st.http_5xx++;
            count(self, source, "http_5xx");
            char ex[128];
            excerpt(&r, ex, sizeof ex);
            snprintf(why, sizeof why, "HTTP %ld: %s", status, ex);
        } else {
            self->st.http_4xx++;
            count(self, source, "http_4xx");
            char ex[128];
            excerpt(&r, ex, sizeof ex);
            set_err(err, errlen, "HTTP %ld from %s: %s", status, source, ex);
            rc = QT_EX_EHTTP;
            goto done;
        }
        if (status != 429) rc = QT_EX_ERETRY;
        if (attempt == self->cfg.max_attempts) break;
        sleep_ms(self, wait >= 0 ? wait : qt_exchange_backoff_ms(self, attempt));
    }
    set_err(err, errlen, "%s: gave up after %d attempts; last: %s", source,
            self->cfg.max_attempts, why);
done:
    free(r.data);
    return rc;
}

static int parse_klines_cb(void *out, const char *body, size_t len, char *err, size_t errlen) {
    return qt_klines_parse(out, body, len, err, errlen);
}

static int parse_chart_cb(void *out, const char *body, size_t len, char *err, size_t errlen) {
    return qt_market_chart_parse(out, body, len, err, errlen);
}

static bool symbol_ok(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n < 2 || n > 32) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9'))) return false;
    return true;
}

qt_ex_status_t qt_exchange_binance_klines(qt_exchange_t *self, const char *symbol,
                                          const char *interval, int64_t from_ms, int64_t to_ms,
                                          qt_klines_t *out, char *err, size_t errlen) {
    if (!self || !out || !symbol_ok(symbol) || qt_klines_interval_ms(interval) < 0 ||
        from_ms < 0 || to_ms < from_ms) {
        set_err(err, errlen, "invalid symbol, interval or range");
        return QT_EX_EUSAGE;
    }
    int64_t start = from_ms;
    qt_klines_t page;
    qt_klines_init(&page);
    qt_ex_status_t rc = QT_EX_OK;
    while (start <= to_ms) {
        char url[URL_MAX];
        snprintf(url, sizeof url,
                 "%s/api/v3/klines?symbol=%s&interval=%s&startTime=%" PRId64
                 "&endTime=%" PRId64 "&limit=%u",
                 self->binance_url, symbol, interval, start, to_ms, self->cfg.page_limit);
        rc = request(self, "binance", url, parse_klines_cb, &page, err, errlen);
        if (rc != QT_EX_OK) break;
        self->st.pages++;
        if (page.n == 0) break;
        int64_t maxopen = -1;
        for (size_t i = 0; i < page.n; i++)
            if (page.rows[i].open_ms > maxopen) maxopen = page.rows[i].open_ms;
        if (maxopen < start) {
            set_err(err, errlen, "binance: page for startTime=%" PRId64
                    " holds only earlier candles; paging stopped", start);
            rc = QT_EX_EDATA;
            break;
        }
        if (out->n + page.n > QT_KLINES_MAX_ROWS) {
            set_err(err, errlen, "binance: more than %u rows", QT_KLINES_MAX_ROWS);
            rc = QT_EX_EDATA;
            break;
        }
        if (out->n + page.n > out->cap) {
            size_t cap = out->cap ? out->cap : 1024;
            while (cap < out->n + page.n) cap *= 2;
            qt_kline_t *p = realloc(out->rows, cap * sizeof *p);
            if (!p) {
                set_err(err, errlen, "out of memory");
                rc = QT_EX_EDATA;
                break;
            }
            out->rows = p;
            out->cap = cap;
        }
        memcpy(out->rows + out->n, page.rows, page.n * sizeof *page.rows);
        out->n += page.n;
        start = maxopen + 1;
    }
    qt_klines_free(&page);
    return rc;
}

static bool coin_id_ok(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > 64) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

qt_ex_status_t qt_exchange_coingecko_range(qt_exchange_t *self, const char *coin_id,
                                           int64_t from_ms, int64_t to_ms,
                                           qt_market_chart_t *out, char *err, size_t errlen) {
    if (!self || !out || !coin_id_ok(coin_id) || from_ms < 0 || to_ms < from_ms) {
        set_err(err, errlen, "invalid coin id or range");
        return QT_EX_EUSAGE;
    }
    char url[URL_MAX];
    snprintf(url, sizeof url,
             "%s/coins/%s/market_chart/range?vs_currency=usd&from=%" PRId64 "&to=%" PRId64,
             self->coingecko_url, coin_id, from_ms / 1000, (to_ms + 999) / 1000);
    qt_ex_status_t rc = request(self, "coingecko", url, parse_chart_cb, out, err, errlen);
    if (rc == QT_EX_OK) self->st.pages++;
    return rc;
}

int qt_exchange_selftest(bool verbose) {
    int fails = 0;
    qt_exchange_config_t c;
    qt_exchange_config_defaults(&c);
    qt_clock_t *clk = qt_clock_new_sim(0);
    char err[256];
    qt_exchange_t *a = qt_exchange_new(&c, clk, NULL, err, sizeof err);
    qt_exchange_t *b = qt_exchange_new(&c, clk, NULL, err, sizeof err);
    if (!a || !b) fails++;
    else
        for (int i = 1; i <= 10; i++) {
            int64_t da = qt_exchange_backoff_ms(a, i), db = qt_exchange_backoff_ms(b, i);
            int64_t d = c.backoff_base_ms << (i - 1);
            if (d > c.backoff_max_ms) d = c.backoff_max_ms;
            if (da != db || da < d / 2 || da > d) fails++;
        }
    qt_exchange_destroy(&a);
    qt_exchange_destroy(&b);
    c.binance_url = "ftp://x";
    if (qt_exchange_new(&c, clk, NULL, err, sizeof err) != NULL) fails++;
    qt_clock_destroy(&clk);
    if (verbose) printf("qt_exchange selftest: %d failures\n", fails);
    return fails;
}
