/* qt-ingest: replays recorded bars from files onto the bus; audits data files.
 * Thin: config, file listing/loading (qt_bars), publish/flush/checkpoint loop; the merge
 * and watermark logic is services/ingest/ingest.c.
 * Usage:
 *   qt-ingest audit [options] FILE...      data-quality audit, no Redis/Kafka (audit.c)
 *   qt-ingest fetch ...                    exchange download (fetch.c, when built)
 *   qt-ingest catalog [--store DIR] [--verify]   curated store listing (catalog.c)
 *   qt-ingest [serve] [common options] [--speed N]   the daemon (default subcommand)
 *   --speed N   0 (default): as fast as possible; N > 0: N timestamps (batches) per second
 * Config: ingest.yml next to services.yml (optional; see configs/ingest.yml for keys). */
#include <dirent.h>
#include <fnmatch.h>
#include <jansson.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ingest/audit.h"
#include "ingest/catalog.h"
#include "ingest/ingest.h"
#if defined(__has_include)
#if __has_include("ingest/fetch.h")
#include "ingest/fetch.h"
#define INGEST_HAVE_FETCH 1
#endif
#endif
#include "qt_audit.h"
#include "qt_checkpoint.h"
#include "qt_service.h"

#define SERVICE "qt-ingest"
#define DEFAULT_DATA_DIR "../shared/data"
#define DEFAULT_SOURCE "raw/djienne-3EMA_SRSI_ATR-binance/4h"
#define DEFAULT_START "2022-03-17T12:00:00Z"
#define DEFAULT_QUARANTINE "var/ingest/quarantine.jsonl"
#define MAX_FRESH_EVENTS 8192

typedef struct {
    char data_dir[512], source[512], glob[128], interval[16], venue[32], start[40], end[40];
    char **pairs;
    size_t npairs;
    double speed;
    qt_policy_t policy;          /* ingest.policy.<problem>: drop|quarantine|flag */
    double outlier_z;            /* ingest.outlier_z */
    char quarantine[512];        /* ingest.quarantine: JSON-lines file of quarantined rows */
    int64_t sla_ms;              /* slas.yml data.staleness_sla_ms; -1 = 2 intervals */
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
    qt_counter_t *problems[QT_AUDIT_PROBLEMS], *quarantined, *dropped, *suspect, *alerts;
    qt_gauge_t **age;            /* per core series: qt_ingest_bar_age_seconds{symbol} */
    qt_gauge_t *stale_symbols;
    int64_t *ages;
    ingest_fresh_ev_t *events;
    FILE *qfile;
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
    qt_policy_default(&c->policy);
    c->outlier_z = QT_AUDIT_DEFAULT_Z;
    copy(c->quarantine, sizeof c->quarantine, DEFAULT_QUARANTINE);
    c->sla_ms = -1;
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
        c->outlier_z = qt_config_double(y, "ingest.outlier_z", false, QT_AUDIT_DEFAULT_Z, 0.1, 1e6);
        copy(c->quarantine, sizeof c->quarantine,
             qt_config_str(y, "ingest.quarantine", c->quarantine));
        size_t npol = qt_config_map_len(y, "ingest.policy");
        for (size_t k = 0; k < npol; k++) {
            const char *prob = qt_config_map_key(y, "ingest.policy", k);
            char key[128];
            snprintf(key, sizeof key, "ingest.policy.%s", prob ? prob : "");
            const char *act = qt_config_str(y, key, "");
            if (!prob || qt_policy_set(&c->policy, prob, act) != 0) {
                char msg[300];
                snprintf(msg, sizeof msg, "%s: %s: '%s' is not drop|quarantine|flag for a known "
                         "problem (flag only for outlier, off_grid)", path, key, act);
                qt_config_destroy(&y);
                die(a, 2, msg);
            }
        }
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
    /* The staleness SLA lives with the other SLAs (configs/slas.yml, data.staleness_sla_ms). */
    const char *spath = qt_service_config_path(a->svc, "slas.yml");
    if (access(spath, F_OK) == 0) {
        char err[512] = "";
        qt_config_t *y = qt_config_load(spath, err, sizeof err);
        if (!y) die(a, 2, err);
        /* absent: -1 = two candles (resolved once the interval is known); env
         * QT_DATA_STALENESS_SLA_MS overrides */
        c->sla_ms = qt_config_int(y, "data.staleness_sla_ms", false, -1, 1, 365LL * 86400000);
        if (qt_config_error(y)) {
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", qt_config_error(y));
            qt_config_destroy(&y);
            die(a, 2, msg);
        }
        qt_config_destroy(&y);
    }
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

/* Every replayed symbol must be an asset of configs/assets.yml (when that file exists)
 * for this venue and interval: the universe is configured, not whatever files are lying in
 * the directory. */
static void check_assets(app_t *a) {
    const char *path = qt_service_config_path(a->svc, "assets.yml");
    if (access(path, F_OK) != 0) {
        qt_log_kv(QT_LOG_INFO, "assets_unchecked", "file", path, NULL);
        return;
    }
    char err[512] = "";
    qt_config_t *y = qt_config_load(path, err, sizeof err);
    if (!y) die(a, 2, err);
    size_t n = qt_config_seq_len(y, "assets");
    for (size_t i = 0; i < a->nsymbols; i++) {
        bool found = false;
        for (size_t k = 0; k < n && !found; k++) {
            char key[96];
            snprintf(key, sizeof key, "assets.%zu.symbol", k);
            const char *sym = qt_config_str(y, key, "");
            snprintf(key, sizeof key, "assets.%zu.venue", k);
            const char *venue = qt_config_str(y, key, "");
            if (strcmp(sym, a->symbols[i]) != 0 || strcmp(venue, a->cfg.venue) != 0) continue;
            snprintf(key, sizeof key, "assets.%zu.intervals", k);
            size_t ni = qt_config_seq_len(y, key);
            for (size_t j = 0; j < ni && !found; j++) {
                const char *iv = qt_config_seq_str(y, key, j);
                found = iv && strcmp(iv, a->cfg.interval) == 0;
            }
        }
        if (!found) {
            char msg[400];
            snprintf(msg, sizeof msg, "%s: symbol %s is not an asset of venue %s with interval %s",
                     path, a->symbols[i], a->cfg.venue, a->cfg.interval);
            qt_config_destroy(&y);
            die(a, 2, msg);
        }
    }
    if (qt_config_error(y)) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", qt_config_error(y));
        qt_config_destroy(&y);
        die(a, 2, msg);
    }
    qt_config_destroy(&y);
}

static void open_quarantine(app_t *a) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s", a->cfg.quarantine);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        for (char *p = dir + 1; *p; p++) {   /* mkdir -p */
            if (*p != '/') continue;
            *p = '\0';
            mkdir(dir, 0755);
            *p = '/';
        }
        mkdir(dir, 0755);
    }
    /* Rewritten on every start: the quarantine is a function of the files and the policy. */
    a->qfile = fopen(a->cfg.quarantine, "w");
}

/* One JSON line per quarantined row: file, row, open time (-1 when unreadable), reasons. */
static void quarantine_rows(app_t *a, const char *file, const qt_rows_t *r, const qt_cleaned_t *c) {
    for (size_t k = 0; k < c->n_quarantine; k++) {
        const qt_row_t *row = &r->rows[c->quarantine[k].row_index];
        json_t *reasons = json_array();
        for (int bit = 0; bit < QT_AUDIT_PROBLEMS; bit++)
            if (c->quarantine[k].reasons & (1u << bit))
                json_array_append_new(reasons, json_string(qt_audit_problem_str(1u << bit)));
        bool have_t = row->parsed || (row->why != QT_BARS_REJ_TIME && row->why != QT_BARS_REJ_COLUMNS);
        json_t *o = json_pack("{s:s,s:I,s:I,s:o}", "file", file, "row", (json_int_t)row->row,
                              "open_time_ms", (json_int_t)(have_t ? row->t_ms : -1), "reasons",
                              reasons);
        char *txt = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(o);
        if (!txt || fprintf(a->qfile, "%s\n", txt) < 0) {
            free(txt);
            die(a, 1, "cannot write the quarantine file");
        }
        free(txt);
    }
}

static void load_series(app_t *a) {
    a->symbols = calloc(a->nfiles, sizeof *a->symbols);
    if (!a->symbols) die(a, 1, "out of memory");
    char err[1024], num[32];
    int64_t interval_ms = ingest_interval_ms(a->cfg.interval);
    for (size_t i = 0; i < a->nfiles; i++) {
        const char *base = strrchr(a->files[i], '/');
        base = base ? base + 1 : a->files[i];
        char *sym = a->symbols[a->nsymbols];
        if (!ingest_symbol_from_filename(base, a->cfg.interval, sym, INGEST_SYMBOL_MAX + 1)) {
            snprintf(err, sizeof err, "%s: file name is not <SYMBOL>-%s.json[.gz]", a->files[i],
                     a->cfg.interval);
            die(a, 2, err);
        }
        /* rows as written -> audit -> cleaning policy (docs/data-quality.md) */
        qt_rows_t r;
        qt_rows_init(&r);
        if (qt_rows_load_file(&r, a->files[i], err, sizeof err) != 0) die(a, 2, err);
        qt_bars_t b;   /* the row checks, only for qt_ingest_rows_rejected_total{reason} */
        qt_bars_init(&b);
        if (qt_bars_from_rows(&b, &r) != 0) die(a, 1, "out of memory");
        for (int k = 0; k < QT_BARS_REJ__COUNT; k++) qt_counter_add(a->rejected[k], b.rejected[k]);
        uint64_t rej = qt_bars_rejected_total(&b);
        if (rej) {
            snprintf(num, sizeof num, "%llu", (unsigned long long)rej);
            qt_log_kv(QT_LOG_WARN, "rows_rejected", "file", a->files[i], "count", num, "first",
                      b.first_reject, NULL);
        }
        qt_bars_free(&b);
        qt_audit_params_t p = {interval_ms, a->cfg.outlier_z, -1, 0};
        qt_audit_t au;
        qt_cleaned_t c;
        if (qt_audit_run(&r, &p, &au) != 0 || qt_audit_clean(&r, &au, &a->cfg.policy, &c) != 0)
            die(a, 1, "out of memory");
        for (size_t k = 0; k < au.rows; k++)
            for (int bit = 0; bit < QT_AUDIT_PROBLEMS; bit++)
                if (au.verdict[k] & (1u << bit)) qt_counter_inc(a->problems[bit]);
        qt_counter_add(a->quarantined, c.n_quarantine);
        qt_counter_add(a->dropped, c.n_dropped);
        if (c.n_quarantine) {
            if (!a->qfile) {
                snprintf(err, sizeof err, "%s: %zu rows to quarantine but %s cannot be written",
                         a->files[i], c.n_quarantine, a->cfg.quarantine);
                die(a, 2, err);
            }
            quarantine_rows(a, a->files[i], &r, &c);
            snprintf(num, sizeof num, "%zu", c.n_quarantine);
            qt_log_kv(QT_LOG_WARN, "rows_quarantined", "file", a->files[i], "count", num,
                      "quarantine", a->cfg.quarantine, NULL);
        }
        uint32_t *flags = malloc((c.n ? c.n : 1) * sizeof *flags);
        if (!flags) die(a, 1, "out of memory");
        for (size_t k = 0; k < c.n; k++) flags[k] = c.suspect[k] ? INGEST_BAR_FLAG_SUSPECT : 0;
        int rc = ingest_add_series_flags(a->core, sym, c.bars, flags, c.n);
        free(flags);
        qt_cleaned_free(&c);
        qt_audit_free(&au);
        qt_rows_free(&r);
        if (rc != 0) {
            snprintf(err, sizeof err, "%s: cannot add series %s (duplicate symbol?)", a->files[i], sym);
            die(a, 2, err);
        }
        a->nsymbols++;
    }
    if (a->qfile && fflush(a->qfile) != 0) die(a, 1, "cannot write the quarantine file");
    a->nseqs = 2 * a->nsymbols + 1;
    a->seqs = calloc(a->nseqs, sizeof *a->seqs);
    if (!a->seqs) die(a, 1, "out of memory");
    for (size_t i = 0; i < a->nsymbols; i++) {
        snprintf(a->seqs[i].topic, sizeof a->seqs[i].topic, "md.bar.%s.%s", a->symbols[i],
                 a->cfg.interval);
        snprintf(a->seqs[a->nsymbols + 1 + i].topic, sizeof a->seqs[0].topic, "md.alert.%s",
                 a->symbols[i]);
    }
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

/* DataAlert{kind="stale"} for every STALE (active) / FRESH (cleared) event of this batch,
 * on ZeroMQ md.alert.<symbol> and Kafka qt.alerts (key = symbol). */
static bool publish_alerts(app_t *a, const ingest_batch_t *b, size_t nev) {
    const char *ktopic = qt_service_topic(a->svc, "alerts");
    char topic[INGEST_TOPIC_MAX], detail[160];
    for (size_t k = 0; k < nev && k < MAX_FRESH_EVENTS; k++) {
        const ingest_fresh_ev_t *e = &a->events[k];
        if (e->kind == INGEST_EV_MISSING) continue;
        const char *sym = ingest_series_symbol(a->core, e->series);
        Qt__V1__DataAlert al = QT__V1__DATA_ALERT__INIT;
        al.symbol = (char *)sym;
        al.interval = a->cfg.interval;
        al.kind = "stale";
        al.active = e->kind == INGEST_EV_STALE;
        al.last_bar_ms = e->last_bar_ms;
        al.age_ms = e->age_ms;
        al.sla_ms = a->cfg.sla_ms;
        snprintf(detail, sizeof detail, "%s: newest bar %lld ms old at batch %lld (replay time)",
                 al.active ? "stale" : "fresh again", (long long)e->age_ms, (long long)b->t_ms);
        al.detail = detail;
        qt_env_t env;
        qt_env_init(&env, b->t_ms * 1000000);
        env.body_case = QT__V1__ENVELOPE__BODY_ALERT;
        env.alert = &al;
        snprintf(topic, sizeof topic, "md.alert.%s", sym);
        if (qt_service_publish(a->svc, topic, ktopic, sym, &env) != 0) {
            qt_counter_inc(a->publish_fail);
            return false;
        }
    }
    return true;
}

/* MISSING: the symbol is absent from this batch; its last-good cache entry is re-written
 * with BAR_FLAG_STALE so a consumer reading qt:lastgood:bar:<symbol> sees the bar is old. */
static void lastgood_stale(app_t *a, size_t nev) {
    for (size_t k = 0; k < nev && k < MAX_FRESH_EVENTS; k++) {
        const ingest_fresh_ev_t *e = &a->events[k];
        if (e->kind != INGEST_EV_MISSING) continue;
        qt_bar_t last;
        uint32_t fl = 0;
        if (!ingest_last_bar(a->core, e->series, &last, &fl)) continue;
        const char *sym = ingest_series_symbol(a->core, e->series);
        Qt__V1__Bar bar = QT__V1__BAR__INIT;
        bar.symbol = (char *)sym;
        bar.venue = a->cfg.venue;
        bar.interval = a->cfg.interval;
        bar.open_time_ms = last.t_ms;
        bar.open = last.open, bar.high = last.high, bar.low = last.low, bar.close = last.close;
        bar.volume = last.volume;
        bar.flags = fl | INGEST_BAR_FLAG_STALE;
        qt_env_t env;
        qt_env_init(&env, last.t_ms * 1000000);
        env.body_case = QT__V1__ENVELOPE__BODY_BAR;
        env.bar = &bar;
        size_t len = 0;
        uint8_t *enc = qt_env_encode(&env, &len);
        if (!enc || qt_redis_lastgood_set(a->svc->redis, "bar", sym, enc, len) != 0) {
            qt_counter_inc(a->lastgood_err);
            qt_log_once(QT_LOG_WARN, "ingest_lastgood", "lastgood_write_failed", "symbol", sym, NULL);
        }
        free(enc);
    }
}

static bool publish_batch(app_t *a, const ingest_batch_t *b, size_t nev) {
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
    if (!publish_alerts(a, b, nev)) return false;
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

static int serve_main(int argc, char **argv) {
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
    for (int bit = 0; bit < QT_AUDIT_PROBLEMS; bit++) {
        char lbl[64];
        snprintf(lbl, sizeof lbl, "problem=\"%s\"", qt_audit_problem_str(1u << bit));
        a.problems[bit] = qt_metrics_counter(m, "qt_ingest_rows_problems_total",
                                             "Data file rows with this audit problem", lbl);
    }
    a.quarantined = qt_metrics_counter(m, "qt_ingest_rows_quarantined_total",
                                       "Rows written to the quarantine file (policy)", NULL);
    a.dropped = qt_metrics_counter(m, "qt_ingest_rows_dropped_total",
                                   "Rows dropped by the cleaning policy", NULL);
    a.suspect = qt_metrics_counter(m, "qt_ingest_bars_suspect_total",
                                   "Bars published with BAR_FLAG_SUSPECT (policy flag)", NULL);
    a.alerts = qt_metrics_counter(m, "qt_ingest_alerts_total",
                                  "DataAlert events published (stale raised or cleared)", NULL);
    a.stale_symbols = qt_metrics_gauge(m, "qt_ingest_stale_symbols",
                                       "Symbols whose newest bar is older than the staleness SLA", NULL);
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
    open_quarantine(&a);
    load_series(&a);
    check_assets(&a);
    if (a.cfg.sla_ms < 0) a.cfg.sla_ms = 2 * interval_ms;   /* default: two candles */
    size_t nser = ingest_series_count(a.core);
    a.age = calloc(nser ? nser : 1, sizeof *a.age);
    a.ages = calloc(nser ? nser : 1, sizeof *a.ages);
    a.events = calloc(MAX_FRESH_EVENTS, sizeof *a.events);
    if (!a.age || !a.ages || !a.events) die(&a, 1, "out of memory");
    for (size_t i = 0; i < nser; i++) {
        char lbl[96];
        snprintf(lbl, sizeof lbl, "symbol=\"%s\"", ingest_series_symbol(a.core, i));
        a.age[i] = qt_metrics_gauge(m, "qt_ingest_bar_age_seconds",
                                    "Replay time of the last batch minus the open time of the "
                                    "symbol's newest bar (s)", lbl);
    }
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
        /* Freshness at this batch's time (replay clock): events + per-symbol ages. */
        size_t nev = ingest_freshness(a.core, &b, a.cfg.sla_ms, a.events, MAX_FRESH_EVENTS, a.ages);
        if (nev > MAX_FRESH_EVENTS) nev = MAX_FRESH_EVENTS;
        /* Publish + flush; on any failure re-publish the whole batch (downstream drops the
         * duplicates) and never checkpoint past an undelivered event. */
        int64_t backoff = 100000000LL;
        for (;;) {
            bool pub_ok = publish_batch(&a, &b, nev);
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
        lastgood_stale(&a, nev);
        size_t nstale = 0;
        for (size_t i = 0; i < ingest_series_count(a.core); i++) {
            if (a.ages[i] >= 0) qt_gauge_set(a.age[i], (double)a.ages[i] / 1000.0);
            if (a.ages[i] > a.cfg.sla_ms) nstale++;
        }
        qt_gauge_set(a.stale_symbols, (double)nstale);
        for (size_t k = 0; k < nev; k++) {
            if (a.events[k].kind == INGEST_EV_MISSING) continue;
            qt_counter_inc(a.alerts);
            char t1[32], t2[32];
            snprintf(t1, sizeof t1, "%lld", (long long)a.events[k].age_ms);
            snprintf(t2, sizeof t2, "%lld", (long long)b.t_ms);
            qt_log_kv(QT_LOG_WARN, a.events[k].kind == INGEST_EV_STALE ? "data_stale" : "data_fresh",
                      "symbol", ingest_series_symbol(a.core, a.events[k].series), "age_ms", t1,
                      "batch_ms", t2, NULL);
        }
        qt_counter_inc(a.batches);
        for (size_t i = 0; i < b.n; i++)
            if (b.items[i].flags & INGEST_BAR_FLAG_GAP_BEFORE) qt_counter_inc(a.gaps);
        for (size_t i = 0; i < b.n; i++)
            if (b.items[i].flags & INGEST_BAR_FLAG_SUSPECT) qt_counter_inc(a.suspect);
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
    free(a.age);
    free(a.ages);
    free(a.events);
    if (a.qfile) fclose(a.qfile);
    qt_service_destroy(&a.svc);
    return 0;
}

int main(int argc, char **argv) {
    /* Subcommands that need no Redis/Kafka run before qt_service_new. */
    if (argc > 1 && strcmp(argv[1], "audit") == 0) return ingest_audit_main(argc, argv, 2, stdout);
    if (argc > 1 && strcmp(argv[1], "catalog") == 0) return ingest_catalog_main(argc, argv, 2, stdout);
#ifdef INGEST_HAVE_FETCH
    if (argc > 1 && strcmp(argv[1], "fetch") == 0) return ingest_fetch_main(argc, argv, 2);
#endif
    if (argc > 1 && strcmp(argv[1], "serve") == 0) {
        argv[1] = argv[0];
        return serve_main(argc - 1, argv + 1);
    }
    return serve_main(argc, argv);
}
