/* qt-ingest: replays recorded bars from files onto the bus.
 * Thin: config, file listing/loading (qt_bars), publish/flush/checkpoint loop; the merge
 * and watermark logic is services/ingest/ingest.c.
 * Usage: qt-ingest [common options] [--speed N]
 *   --speed N   0 (default): as fast as possible; N > 0: N timestamps (batches) per second
 * Config: ingest.yml next to services.yml (optional; see configs/ingest.yml for keys). */
#include <dirent.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ingest/ingest.h"
#include "qt_checkpoint.h"
#include "qt_service.h"

#define SERVICE "qt-ingest"
#define DEFAULT_DATA_DIR "../shared/data"
#define DEFAULT_SOURCE "raw/djienne-3EMA_SRSI_ATR-binance/4h"
#define DEFAULT_START "2022-03-17T12:00:00Z"

typedef struct {
    char data_dir[512], source[512], glob[128], interval[16], venue[32], start[40], end[40];
    char **pairs;
    size_t npairs;
    double speed;
} icfg_t;

typedef struct {
    qt_service_t *svc;
    ingest_t *core;
    icfg_t cfg;
    char **files;
    size_t nfiles;
    char (*symbols)[INGEST_SYMBOL_MAX + 1];
    size_t nsymbols;
    ingest_seq_t *seqs;      /* one per bar topic + md.watermark */
    size_t nseqs;
    qt_counter_t *bars, *batches, *gaps, *flush_fail, *ckpt_fail, *lastgood_err, *publish_fail;
    qt_counter_t *rejected[QT_BARS_REJ__COUNT];
} app_t;

static void die(app_t *a, int code, const char *msg) {
    fprintf(stderr, SERVICE ": %s\n", msg);
    qt_service_destroy(&a->svc);
    exit(code);
}

static void copy(char *dst, size_t n, const char *src) { snprintf(dst, n, "%s", src ? src : ""); }

static void load_config(app_t *a, int argc, char **argv, int argi) {
    icfg_t *c = &a->cfg;
    const char *env_dir = getenv("QT_DATA_DIR");
    copy(c->data_dir, sizeof c->data_dir, env_dir && *env_dir ? env_dir : DEFAULT_DATA_DIR);
    copy(c->source, sizeof c->source, DEFAULT_SOURCE);
    copy(c->interval, sizeof c->interval, "4h");
    copy(c->venue, sizeof c->venue, "binance");
    copy(c->start, sizeof c->start, DEFAULT_START);
    c->glob[0] = c->end[0] = '\0';
    c->speed = 0;
    const char *path = qt_service_config_path(a->svc, "ingest.yml");
    if (access(path, F_OK) == 0) {
        char err[512] = "";
        qt_config_t *y = qt_config_load(path, err, sizeof err);
        if (!y) die(a, 2, err);
        /* data_dir at top level: QT_DATA_DIR overrides it (qt_config env rule). */
        copy(c->data_dir, sizeof c->data_dir, qt_config_str(y, "data_dir", c->data_dir));
        copy(c->source, sizeof c->source, qt_config_str(y, "ingest.source", c->source));
        copy(c->interval, sizeof c->interval, qt_config_str(y, "ingest.interval", c->interval));
        copy(c->glob, sizeof c->glob, qt_config_str(y, "ingest.glob", ""));
        copy(c->venue, sizeof c->venue, qt_config_str(y, "ingest.venue", c->venue));
        copy(c->start, sizeof c->start, qt_config_str(y, "ingest.start", c->start));
        copy(c->end, sizeof c->end, qt_config_str(y, "ingest.end", ""));
        c->speed = qt_config_double(y, "ingest.speed", false, 0.0, 0.0, 1e6);
        size_t np = qt_config_has(y, "ingest.pairs") ? qt_config_seq_len(y, "ingest.pairs") : 0;
        if (np) {
            c->pairs = calloc(np, sizeof *c->pairs);
            for (size_t i = 0; c->pairs && i < np; i++) {
                const char *p = qt_config_seq_str(y, "ingest.pairs", i);
                c->pairs[i] = strdup(p ? p : "");
            }
            c->npairs = c->pairs ? np : 0;
        }
        if (qt_config_error(y)) {
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", qt_config_error(y));
            qt_config_destroy(&y);
            die(a, 2, msg);
        }
        qt_config_destroy(&y);
    } else {
        qt_log_kv(QT_LOG_INFO, "config_defaults", "file", path, NULL);
    }
    for (int i = argi; i < argc; i++) {
        if (strcmp(argv[i], "--speed") == 0 && i + 1 < argc) {
            char *end = NULL;
            c->speed = strtod(argv[++i], &end);
            if (!end || *end || !(c->speed >= 0 && c->speed <= 1e6)) die(a, 2, "--speed: expected a number in [0, 1e6]");
        } else {
            char msg[256];
            snprintf(msg, sizeof msg, "unknown argument '%s' (usage: " SERVICE " [--speed N])", argv[i]);
            die(a, 2, msg);
        }
    }
    if (!c->glob[0]) snprintf(c->glob, sizeof c->glob, "*-%s.json*", c->interval);
    for (size_t i = 0; i < c->npairs; i++)
        if (!ingest_symbol_valid(c->pairs[i])) die(a, 2, "ingest.pairs: invalid pair name");
}

static int cmp_str(const void *x, const void *y) {
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static void add_file(app_t *a, const char *path) {
    char **nf = realloc(a->files, (a->nfiles + 1) * sizeof *nf);
    if (!nf || !(nf[a->nfiles] = strdup(path))) die(a, 1, "out of memory");
    a->files = nf;
    a->nfiles++;
}

static void list_files(app_t *a, char *dir, size_t dirlen) {
    icfg_t *c = &a->cfg;
    if (c->source[0] == '/') snprintf(dir, dirlen, "%s", c->source);
    else snprintf(dir, dirlen, "%s/%s", c->data_dir, c->source);
    char path[1600];
    if (c->npairs) {
        for (size_t i = 0; i < c->npairs; i++) {
            snprintf(path, sizeof path, "%s/%s-%s.json", dir, c->pairs[i], c->interval);
            if (access(path, R_OK) != 0)
                snprintf(path, sizeof path, "%s/%s-%s.json.gz", dir, c->pairs[i], c->interval);
            if (access(path, R_OK) != 0) {
                char msg[2000];
                snprintf(msg, sizeof msg, "no data file for pair %s in %s", c->pairs[i], dir);
                die(a, 2, msg);
            }
            add_file(a, path);
        }
        return;
    }
    DIR *d = opendir(dir);
    if (!d) {
        char msg[1200];
        snprintf(msg, sizeof msg, "cannot open data directory %s (set QT_DATA_DIR or data_dir)", dir);
        die(a, 2, msg);
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || fnmatch(c->glob, de->d_name, 0) != 0) continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        add_file(a, path);
    }
    closedir(d);
    if (!a->nfiles) die(a, 2, "no data files match ingest.glob");
    qsort(a->files, a->nfiles, sizeof *a->files, cmp_str);
}

static void load_series(app_t *a) {
    a->symbols = calloc(a->nfiles, sizeof *a->symbols);
    if (!a->symbols) die(a, 1, "out of memory");
    char err[1024], num[32];
    for (size_t i = 0; i < a->nfiles; i++) {
        const char *base = strrchr(a->files[i], '/');
        base = base ? base + 1 : a->files[i];
        char *sym = a->symbols[a->nsymbols];
        if (!ingest_symbol_from_filename(base, a->cfg.interval, sym, INGEST_SYMBOL_MAX + 1)) {
            snprintf(err, sizeof err, "%s: file name is not <SYMBOL>-%s.json[.gz]", a->files[i],
                     a->cfg.interval);
            die(a, 2, err);
        }
        qt_bars_t b;
        qt_bars_init(&b);
        if (qt_bars_load_file(&b, a->files[i], err, sizeof err) != 0) die(a, 2, err);
        for (int r = 0; r < QT_BARS_REJ__COUNT; r++) qt_counter_add(a->rejected[r], b.rejected[r]);
        uint64_t rej = qt_bars_rejected_total(&b);
        if (rej) {
            snprintf(num, sizeof num, "%llu", (unsigned long long)rej);
            qt_log_kv(QT_LOG_WARN, "rows_rejected", "file", a->files[i], "count", num, "first",
                      b.first_reject, NULL);
        }
        if (ingest_add_series(a->core, sym, b.bars, b.n) != 0) {
            qt_bars_free(&b);
            snprintf(err, sizeof err, "%s: cannot add series %s (duplicate symbol?)", a->files[i], sym);
            die(a, 2, err);
        }
        qt_bars_free(&b);
        a->nsymbols++;
    }
    a->nseqs = a->nsymbols + 1;
    a->seqs = calloc(a->nseqs, sizeof *a->seqs);
    if (!a->seqs) die(a, 1, "out of memory");
    for (size_t i = 0; i < a->nsymbols; i++)
        snprintf(a->seqs[i].topic, sizeof a->seqs[i].topic, "md.bar.%s.%s", a->symbols[i],
                 a->cfg.interval);
    snprintf(a->seqs[a->nsymbols].topic, sizeof a->seqs[0].topic, "md.watermark");
}

static void nap(app_t *a, int64_t ns) {
    /* Sleep in small steps so SIGTERM is honoured promptly. */
    while (ns > 0 && qt_service_running(a->svc)) {
        int64_t step = ns < 100000000 ? ns : 100000000;
        qt_clock_sleep_ns(a->svc->clock, step);
        ns -= step;
        qt_service_tick(a->svc);
    }
}

/* Restores the checkpoint: returns the last completed batch time, or -1 for none. */
static int64_t restore(app_t *a) {
    for (;;) {
        uint8_t *buf = NULL;
        size_t len = 0;
        char why[256] = "";
        int rc = qt_checkpoint_load(a->svc->redis, SERVICE, &buf, &len, why, sizeof why);
        if (rc == 0) return -1;
        if (rc == 1) {
            ingest_ckpt_t c;
            bool ok = ingest_ckpt_read(buf, len, &c);
            free(buf);
            if (!ok) die(a, 1, "checkpoint qt:ckpt:qt-ingest is invalid; refusing to start");
            for (size_t i = 0; i < c.nseqs; i++) qt_pub_set_seq(a->svc->pub, c.seqs[i].topic, c.seqs[i].seq);
            int64_t t = c.last_t_ms;
            ingest_ckpt_free(&c);
            return t;
        }
        if (qt_redis_ping(a->svc->redis)) {
            char msg[400];
            snprintf(msg, sizeof msg, "checkpoint unreadable (%s); refusing to start", why);
            die(a, 1, msg);
        }
        /* Redis down: wait (starting from scratch would re-publish history). */
        qt_log_once(QT_LOG_WARN, "ingest_redis_wait", "checkpoint_wait", "reason", why, NULL);
        nap(a, 1000000000LL);
        if (!qt_service_running(a->svc)) return -2;
    }
}

static bool publish_batch(app_t *a, const ingest_batch_t *b) {
    qt_service_t *svc = a->svc;
    const char *ktopic = qt_service_topic(svc, "bars");
    char topic[INGEST_TOPIC_MAX];
    for (size_t i = 0; i < b->n; i++) {
        const ingest_item_t *it = &b->items[i];
        Qt__V1__Bar bar = QT__V1__BAR__INIT;
        bar.symbol = (char *)it->symbol;
        bar.venue = a->cfg.venue;
        bar.interval = a->cfg.interval;
        bar.open_time_ms = it->bar.t_ms;
        bar.open = it->bar.open;
        bar.high = it->bar.high;
        bar.low = it->bar.low;
        bar.close = it->bar.close;
        bar.volume = it->bar.volume;
        bar.flags = it->flags;
        qt_env_t env;
        qt_env_init(&env, it->bar.t_ms * 1000000);
        env.body_case = QT__V1__ENVELOPE__BODY_BAR;
        env.bar = &bar;
        snprintf(topic, sizeof topic, "md.bar.%s.%s", it->symbol, a->cfg.interval);
        if (qt_service_publish(svc, topic, ktopic, it->symbol, &env) != 0) {
            qt_counter_inc(a->publish_fail);
            return false;
        }
        size_t len = 0;
        uint8_t *enc = qt_env_encode(&env, &len);
        if (!enc || qt_redis_lastgood_set(svc->redis, "bar", it->symbol, enc, len) != 0) {
            qt_counter_inc(a->lastgood_err);
            qt_log_once(QT_LOG_WARN, "ingest_lastgood", "lastgood_write_failed", "symbol",
                        it->symbol, NULL);
        }
        free(enc);
    }
    Qt__V1__Watermark wm = QT__V1__WATERMARK__INIT;
    char stream[32];
    snprintf(stream, sizeof stream, "bars.%s", a->cfg.interval);
    wm.stream = stream;
    wm.event_time_ms = b->t_ms;
    wm.end_of_stream = b->end_of_stream;
    wm.count = b->n;
    qt_env_t env;
    qt_env_init(&env, b->t_ms * 1000000);
    env.body_case = QT__V1__ENVELOPE__BODY_WATERMARK;
    env.watermark = &wm;
    if (qt_service_publish(svc, "md.watermark", ktopic, "watermark", &env) != 0) {
        qt_counter_inc(a->publish_fail);
        return false;
    }
    return true;
}

static bool save_checkpoint(app_t *a, int64_t t) {
    for (size_t i = 0; i < a->nseqs; i++) a->seqs[i].seq = qt_pub_seq(a->svc->pub, a->seqs[i].topic);
    qt_buf_t b;
    qt_buf_init(&b);
    ingest_ckpt_write(&b, t, a->seqs, a->nseqs);
    bool ok = !b.oom && qt_checkpoint_save(a->svc->redis, SERVICE, b.data, b.len) == 0;
    qt_buf_free(&b);
    return ok;
}

int main(int argc, char **argv) {
    app_t a = {0};
    int argi = 0;
    a.svc = qt_service_new(SERVICE, argc, argv, &argi);
    load_config(&a, argc, argv, argi);
    qt_metrics_t *m = a.svc->metrics;
    for (int r = 0; r < QT_BARS_REJ__COUNT; r++) {
        char lbl[64];
        snprintf(lbl, sizeof lbl, "reason=\"%s\"", qt_bars_reject_str((qt_bars_reject_t)r));
        a.rejected[r] = qt_metrics_counter(m, "qt_ingest_rows_rejected_total",
                                           "Data file rows rejected by validation", lbl);
    }
    a.bars = qt_metrics_counter(m, "qt_ingest_bars_total", "Bars published", NULL);
    a.batches = qt_metrics_counter(m, "qt_ingest_batches_total", "Batches (watermarks) published", NULL);
    a.gaps = qt_metrics_counter(m, "qt_ingest_gaps_total", "Bars published with BAR_FLAG_GAP_BEFORE", NULL);
    a.flush_fail = qt_metrics_counter(m, "qt_ingest_flush_failures_total",
                                      "Kafka flushes that failed (batch re-published)", NULL);
    a.ckpt_fail = qt_metrics_counter(m, "qt_ingest_checkpoint_failures_total",
                                     "Checkpoint saves that failed (retried)", NULL);
    a.lastgood_err = qt_metrics_counter(m, "qt_ingest_lastgood_errors_total",
                                        "Last-good bar cache writes that failed", NULL);
    a.publish_fail = qt_metrics_counter(m, "qt_ingest_publish_failures_total",
                                        "Publishes that failed (batch re-published)", NULL);
    qt_gauge_t *last_batch = qt_metrics_gauge(m, "qt_ingest_last_batch_timestamp_seconds",
                                              "Open time of the last checkpointed batch (Unix s)", NULL);

    int64_t interval_ms = ingest_interval_ms(a.cfg.interval);
    if (interval_ms <= 0) die(&a, 2, "ingest.interval: expected e.g. 1m, 15m, 1h, 4h, 1d");
    int64_t start_ms = 0, end_ms = -1;
    if (a.cfg.start[0] && !qt_bars_parse_time(a.cfg.start, strlen(a.cfg.start), &start_ms))
        die(&a, 2, "ingest.start: expected an ISO time (2022-03-17T00:00:00Z) or epoch ms");
    if (a.cfg.end[0] && !qt_bars_parse_time(a.cfg.end, strlen(a.cfg.end), &end_ms))
        die(&a, 2, "ingest.end: expected an ISO time or epoch ms (empty: until the end)");
    a.core = ingest_new(interval_ms, start_ms, end_ms);
    if (!a.core) die(&a, 2, "ingest.end is before ingest.start");
    char dir[1024];
    list_files(&a, dir, sizeof dir);
    load_series(&a);
    size_t total_batches = ingest_remaining_batches(a.core);
    if (total_batches == 0) die(&a, 2, "no bars inside [ingest.start, ingest.end]");

    int64_t resume = restore(&a);
    if (resume == -2) {
        ingest_destroy(&a.core);
        qt_service_destroy(&a.svc);
        return 0;
    }
    if (resume >= 0) ingest_resume_after(a.core, resume);
    char n1[32], n2[32], n3[32], n4[32];
    snprintf(n1, sizeof n1, "%zu", a.nsymbols);
    snprintf(n2, sizeof n2, "%zu", ingest_remaining_bars(a.core));
    snprintf(n3, sizeof n3, "%zu", ingest_remaining_batches(a.core));
    snprintf(n4, sizeof n4, "%lld", (long long)resume);
    qt_log_kv(QT_LOG_INFO, "ingest_start", "dir", dir, "symbols", n1, "bars", n2, "batches", n3,
              "resume_after_ms", n4, NULL);
    qt_service_set_ready(a.svc, true);

    int64_t period_ns = a.cfg.speed > 0 ? (int64_t)(1e9 / a.cfg.speed) : 0;
    int64_t next_due = qt_clock_mono_ns(a.svc->clock);
    bool done = ingest_remaining_batches(a.core) == 0;
    if (done) qt_log_kv(QT_LOG_INFO, "end_of_stream", "note", "already replayed (checkpoint)", NULL);
    while (qt_service_running(a.svc)) {
        qt_service_tick(a.svc);
        if (done) {
            nap(&a, 200000000LL);
            continue;
        }
        if (period_ns) {
            int64_t now = qt_clock_mono_ns(a.svc->clock);
            if (now < next_due) {
                nap(&a, next_due - now < 100000000 ? next_due - now : 100000000);
                continue;
            }
            next_due += period_ns;
            if (next_due < now) next_due = now;   /* do not burst after a stall */
        }
        ingest_batch_t b;
        if (ingest_next(a.core, &b) != 1) {
            done = true;
            continue;
        }
        /* Publish + flush; on any failure re-publish the whole batch (downstream drops the
         * duplicates) and never checkpoint past an undelivered event. */
        int64_t backoff = 100000000LL;
        for (;;) {
            bool pub_ok = publish_batch(&a, &b);
            int frc = qt_service_flush(a.svc, 10000);
            if (pub_ok && frc == 0) break;
            qt_counter_inc(a.flush_fail);
            qt_log_kv(QT_LOG_WARN, "batch_retry", "reason", pub_ok ? "kafka_flush" : "publish", NULL);
            if (!qt_service_running(a.svc)) goto out;
            nap(&a, backoff);
            if (backoff < 5000000000LL) backoff *= 2;
        }
        while (!save_checkpoint(&a, b.t_ms)) {
            qt_counter_inc(a.ckpt_fail);
            qt_log_once(QT_LOG_WARN, "ingest_ckpt", "checkpoint_failed", "service", SERVICE, NULL);
            if (!qt_service_running(a.svc)) goto out;
            nap(&a, 1000000000LL);
        }
        qt_counter_add(a.bars, b.n);
        qt_counter_inc(a.batches);
        for (size_t i = 0; i < b.n; i++)
            if (b.items[i].flags & INGEST_BAR_FLAG_GAP_BEFORE) qt_counter_inc(a.gaps);
        qt_gauge_set(last_batch, (double)b.t_ms / 1000.0);
        qt_service_note_processed(a.svc, b.t_ms);
        if (b.end_of_stream) {
            snprintf(n1, sizeof n1, "%llu", (unsigned long long)qt_counter_value(a.batches));
            snprintf(n2, sizeof n2, "%llu", (unsigned long long)qt_counter_value(a.bars));
            qt_log_kv(QT_LOG_INFO, "end_of_stream", "batches", n1, "bars", n2, NULL);
            done = true;
        }
    }
out:
    qt_log_kv(QT_LOG_INFO, "shutdown", "reason", "signal", NULL);
    ingest_destroy(&a.core);
    for (size_t i = 0; i < a.nfiles; i++) free(a.files[i]);
    free(a.files);
    for (size_t i = 0; i < a.cfg.npairs; i++) free(a.cfg.pairs[i]);
    free(a.cfg.pairs);
    free(a.symbols);
    free(a.seqs);
    qt_service_destroy(&a.svc);
    return 0;
}
