/* qt-report: the run summary, rebuilt from the durable log.
 *
 * Why from Kafka and not from the services' counters: the log is the record of what
 * happened. Counters reset when a service restarts (a chaos drill kills them); the log
 * does not. qt-report reads every pipeline topic from the beginning up to the high
 * watermark it sees at start, de-duplicates each kind of event by its deterministic id
 * (replays after a crash re-emit identical events), rebuilds positions and cash from
 * the fills, marks positions at the last close of each symbol, and reads the latest
 * reconciliation report from Redis. It prints a table and writes summary.json.
 *
 *   qt-report [--config FILE] [--out FILE] [--quiet]
 *
 * Money is fixed point throughout; values are printed as exact decimal strings. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qt_bus.h"
#include "qt_config.h"
#include "qt_envelope.h"
#include "qt_kafka.h"
#include "qt_log.h"
#include "qt_money.h"
#include "qt_redis.h"
#include "qt_symtab.h"

/* A small open-addressing set of strings (ids seen), so duplicates are counted once. */
typedef struct {
    char **keys;
    size_t cap, len;
} id_set_t;

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    return h;
}

/* Returns true if the id was new. Aborts on OOM (a CLI tool). */
static bool id_set_add(id_set_t *set, const char *key)
{
    if (set->len * 2 >= set->cap) {
        size_t ncap = set->cap ? set->cap * 2 : 1024;
        char **nkeys = calloc(ncap, sizeof *nkeys);
        if (!nkeys) abort();
        for (size_t i = 0; i < set->cap; i++) {
            if (!set->keys[i]) continue;
            size_t j = fnv1a(set->keys[i]) & (ncap - 1);
            while (nkeys[j]) j = (j + 1) & (ncap - 1);
            nkeys[j] = set->keys[i];
        }
        free(set->keys);
        set->keys = nkeys;
        set->cap = ncap;
    }
    size_t j = fnv1a(key) & (set->cap - 1);
    while (set->keys[j]) {
        if (strcmp(set->keys[j], key) == 0) return false;
        j = (j + 1) & (set->cap - 1);
    }
    set->keys[j] = strdup(key);
    if (!set->keys[j]) abort();
    set->len++;
    return true;
}

static void id_set_free(id_set_t *set)
{
    for (size_t i = 0; i < set->cap; i++) free(set->keys[i]);
    free(set->keys);
    memset(set, 0, sizeof *set);
}

typedef struct {
    char symbol[QT_MAX_SYMBOL + 1];
    qt_fixed_t qty;        /* from fills */
    qt_fixed_t last_close; /* from bars */
} sym_t;

/* Find-or-create. Aborts on OOM (a CLI tool); decoded envelopes carry symbols of at most
 * QT_MAX_SYMBOL chars, so a key that does not fit cannot reach here either. */
static sym_t *sym_get(qt_symtab_t *t, const char *symbol)
{
    void *s = NULL;
    if (qt_symtab_upsert(t, symbol, &s) < 0) abort();
    return s;
}

typedef struct {
    uint64_t bars, features, signals, targets, intents, decisions, rejects, orders, fills,
        expired, exec_rejected, dup_events;
    int64_t first_bar_ms, last_bar_ms;
    qt_fixed_t cash, fees, initial_cash;
    bool overflow;
    id_set_t seen;
    qt_symtab_t syms;      /* sym_t by symbol */
} report_t;

static void fmt_money(qt_fixed_t v, char *buf, size_t len)
{
    if (qt_fixed_format(v, buf, len) < 0) snprintf(buf, len, "?");
}

/* One event from any topic. The id namespaces are prefixed by kind so a single set
 * serves all topics. */
static void report_event(report_t *r, const qt_env_t *env)
{
    char id[256];
    switch (env->body_case) {
    case QT__V1__ENVELOPE__BODY_BAR: {
        const Qt__V1__Bar *b = env->bar;
        snprintf(id, sizeof id, "bar/%s/%" PRId64, b->symbol, b->open_time_ms);
        if (!id_set_add(&r->seen, id)) { r->dup_events++; return; }
        r->bars++;
        if (r->first_bar_ms == 0 || b->open_time_ms < r->first_bar_ms) r->first_bar_ms = b->open_time_ms;
        if (b->open_time_ms > r->last_bar_ms) r->last_bar_ms = b->open_time_ms;
        sym_get(&r->syms, b->symbol)->last_close = b->close;
        return;
    }
    case QT__V1__ENVELOPE__BODY_FEATURES:
        snprintf(id, sizeof id, "feat/%s/%" PRId64, env->features->symbol, env->features->bar_time_ms);
        if (id_set_add(&r->seen, id)) r->features++; else r->dup_events++;
        return;
    case QT__V1__ENVELOPE__BODY_SIGNAL:
        snprintf(id, sizeof id, "sig/%s/%s/%" PRId64, env->signal->model, env->signal->symbol,
                 env->signal->bar_time_ms);
        if (id_set_add(&r->seen, id)) r->signals++; else r->dup_events++;
        return;
    case QT__V1__ENVELOPE__BODY_TARGET:
        snprintf(id, sizeof id, "tgt/%" PRId64, env->target->bar_time_ms);
        if (id_set_add(&r->seen, id)) r->targets++; else r->dup_events++;
        return;
    case QT__V1__ENVELOPE__BODY_INTENT:
        snprintf(id, sizeof id, "int/%s", env->intent->intent_id);
        if (id_set_add(&r->seen, id)) r->intents++; else r->dup_events++;
        return;
    case QT__V1__ENVELOPE__BODY_DECISION:
        snprintf(id, sizeof id, "dec/%s", env->decision->intent_id);
        if (!id_set_add(&r->seen, id)) { r->dup_events++; return; }
        r->decisions++;
        if (!env->decision->approved) r->rejects++;
        return;
    case QT__V1__ENVELOPE__BODY_ORDER:
        snprintf(id, sizeof id, "ord/%s", env->order->client_order_id);
        if (id_set_add(&r->seen, id)) r->orders++; else r->dup_events++;
        return;
    case QT__V1__ENVELOPE__BODY_REPORT:
        snprintf(id, sizeof id, "rep/%s/%d", env->report->client_order_id, (int)env->report->status);
        if (!id_set_add(&r->seen, id)) { r->dup_events++; return; }
        if (env->report->status == QT__V1__ORDER_STATUS__ORDER_STATUS_EXPIRED) r->expired++;
        if (env->report->status == QT__V1__ORDER_STATUS__ORDER_STATUS_REJECTED) r->exec_rejected++;
        return;
    case QT__V1__ENVELOPE__BODY_FILL: {
        const Qt__V1__Fill *f = env->fill;
        snprintf(id, sizeof id, "fill/%s", f->fill_id);
        if (!id_set_add(&r->seen, id)) { r->dup_events++; return; }
        r->fills++;
        qt_fixed_t notional, signed_qty = f->qty;
        if (f->side == QT__V1__SIDE__SIDE_SELL) signed_qty = -f->qty;
        sym_t *s = sym_get(&r->syms, f->symbol);
        bool ok = qt_fixed_mul(f->qty, f->price, &notional) &&
                  qt_fixed_add(s->qty, signed_qty, &s->qty) &&
                  qt_fixed_add(r->fees, f->fee, &r->fees) &&
                  qt_fixed_sub(r->cash, f->fee, &r->cash) &&
                  (f->side == QT__V1__SIDE__SIDE_SELL ? qt_fixed_add(r->cash, notional, &r->cash)
                                                      : qt_fixed_sub(r->cash, notional, &r->cash));
        if (!ok) r->overflow = true;
        return;
    }
    default:
        return; /* watermarks, positions, heartbeats: not counted */
    }
}

static int read_topic(report_t *r, const char *brokers, const char *topic)
{
    char err[256];
    qt_kconsumer_t *c = qt_kconsumer_new(brokers, "qt-report", NULL, err, sizeof err);
    if (!c) {
        fprintf(stderr, "qt-report: kafka consumer: %s\n", err);
        return -1;
    }
    int64_t hw = qt_kafka_high_watermark(c, topic, 5000);
    if (hw < 0) {
        fprintf(stderr, "qt-report: cannot read the end offset of topic %s (is Kafka up?)\n", topic);
        qt_kconsumer_destroy(&c);
        return -1;
    }
    int rc = 0;
    if (hw > 0) {
        if (qt_kconsumer_assign(c, topic, QT_OFFSET_BEGINNING) != 0) rc = -1;
        int idle = 0;
        while (rc == 0) {
            qt_env_t *env = NULL;
            int64_t off = -1;
            char t[QT_TOPIC_MAX];
            int got = qt_kconsumer_poll_env(c, 500, &env, &off, t, sizeof t);
            if (got < 0) { rc = -1; break; }
            if (got == 0) {
                /* Skipped (invalid) payloads also return 0: only give up after a long quiet. */
                if (++idle > 20) {
                    fprintf(stderr, "qt-report: topic %s: stopped before offset %" PRId64 "\n", topic, hw);
                    rc = -1;
                }
                continue;
            }
            idle = 0;
            report_event(r, env);
            qt_env_free(env);
            if (off + 1 >= hw) break;
        }
    }
    qt_kconsumer_destroy(&c);
    return rc;
}

/* The latest reconciliation report (JSON of the ReconReport envelope) from Redis. */
static json_t *read_recon(qt_redis_t *redis)
{
    redisReply *rep = qt_redis_cmd(redis, "GET qt:recon:last");
    json_t *out = json_object();
    if (!rep || rep->type != REDIS_REPLY_STRING) {
        json_object_set_new(out, "ok", json_false());
        json_object_set_new(out, "available", json_false());
        if (rep) freeReplyObject(rep);
        return out;
    }
    json_error_t jerr;
    json_t *doc = json_loadb(rep->str, rep->len, 0, &jerr);
    freeReplyObject(rep);
    json_t *recon = doc ? json_object_get(doc, "recon") : NULL;
    if (!recon && doc) recon = doc;
    json_t *ok = recon ? json_object_get(recon, "ok") : NULL;
    json_t *mm = recon ? json_object_get(recon, "mismatches") : NULL;
    json_t *fin = recon ? json_object_get(recon, "final") : NULL;
    json_object_set_new(out, "available", json_true());
    json_object_set_new(out, "ok", json_boolean(ok && json_is_true(ok)));
    json_object_set_new(out, "mismatches", json_integer(mm && json_is_integer(mm) ? json_integer_value(mm) : 0));
    json_object_set_new(out, "final", json_boolean(fin && json_is_true(fin)));
    json_decref(doc);
    return out;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: qt-report [--config services.yml] [--out summary.json] [--quiet]\n");
}

int main(int argc, char **argv)
{
    const char *config_path = getenv("QT_CONFIG") ? getenv("QT_CONFIG") : "configs/services.yml";
    const char *out_path = NULL;
    bool quiet = false;
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "c:o:qh", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': config_path = optarg; break;
        case 'o': out_path = optarg; break;
        case 'q': quiet = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "qt-report: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    qt_log_init("qt-report", QT_LOG_WARN, NULL);

    char err[512];
    qt_config_t *cfg = qt_config_load(config_path, err, sizeof err);
    if (!cfg) {
        fprintf(stderr, "qt-report: %s\n", err);
        return 2;
    }
    /* configs/exec.yml sits next to services.yml and holds the paper account's cash. */
    char exec_path[1024];
    char *dup = strdup(config_path);
    if (!dup) abort();
    snprintf(exec_path, sizeof exec_path, "%s/exec.yml", dirname(dup));
    free(dup);
    qt_config_t *exec_cfg = qt_config_load(exec_path, err, sizeof err);
    if (!exec_cfg) {
        fprintf(stderr, "qt-report: %s\n", err);
        qt_config_destroy(&cfg);
        return 2;
    }
    report_t r;
    memset(&r, 0, sizeof r);
    QT_SYMTAB_INIT(&r.syms, sym_t, symbol, 0);
    r.initial_cash = qt_config_money(exec_cfg, "initial_cash", true, 0);
    r.cash = r.initial_cash;
    const char *brokers = qt_config_str(cfg, "kafka.brokers", NULL);
    const char *redis_host = qt_config_str(cfg, "redis.host", NULL);
    int redis_port = (int)qt_config_int(cfg, "redis.port", true, 0, 1, 65535);
    static const char *const logical[] = {"bars", "features", "signals", "targets", "intents",
                                          "decisions", "orders", "reports", "fills"};
    const char *topics[sizeof logical / sizeof logical[0]];
    for (size_t i = 0; i < sizeof logical / sizeof logical[0]; i++) {
        char path[64];
        snprintf(path, sizeof path, "topics.%s", logical[i]);
        topics[i] = qt_config_str(cfg, path, NULL);
    }
    const char *cerr = qt_config_error(cfg) ? qt_config_error(cfg) : qt_config_error(exec_cfg);
    if (cerr) {
        fprintf(stderr, "qt-report: %s\n", cerr);
        qt_config_destroy(&exec_cfg);
        qt_config_destroy(&cfg);
        return 2;
    }

    int rc = 0;
    for (size_t i = 0; i < sizeof topics / sizeof topics[0] && rc == 0; i++)
        if (read_topic(&r, brokers, topics[i]) != 0) rc = 1;

    qt_redis_t *redis = qt_redis_new(redis_host, redis_port, 1000, NULL);
    json_t *recon = read_recon(redis);
    qt_redis_destroy(&redis);

    /* Mark to market at each symbol's last close. */
    qt_fixed_t equity = r.cash;
    json_t *positions = json_object();
    char buf[QT_FIXED_STRLEN];
    size_t open_positions = 0;
    for (size_t i = 0; i < qt_symtab_size(&r.syms); i++) {   /* in symbol order */
        sym_t *s = qt_symtab_at(&r.syms, i);
        if (s->qty == 0) continue;
        open_positions++;
        qt_fixed_t value;
        if (!qt_fixed_mul(s->qty, s->last_close, &value) || !qt_fixed_add(equity, value, &equity))
            r.overflow = true;
        fmt_money(s->qty, buf, sizeof buf);
        json_object_set_new(positions, s->symbol, json_string(buf));
    }
    qt_fixed_t pnl = 0;
    if (!qt_fixed_sub(equity, r.initial_cash, &pnl)) r.overflow = true;

    json_t *sum = json_object();
    json_object_set_new(sum, "bars", json_integer((json_int_t)r.bars));
    json_object_set_new(sum, "features", json_integer((json_int_t)r.features));
    json_object_set_new(sum, "signals", json_integer((json_int_t)r.signals));
    json_object_set_new(sum, "targets", json_integer((json_int_t)r.targets));
    json_object_set_new(sum, "intents", json_integer((json_int_t)r.intents));
    json_object_set_new(sum, "decisions", json_integer((json_int_t)r.decisions));
    json_object_set_new(sum, "rejects", json_integer((json_int_t)r.rejects));
    json_object_set_new(sum, "orders", json_integer((json_int_t)r.orders));
    json_object_set_new(sum, "fills", json_integer((json_int_t)r.fills));
    json_object_set_new(sum, "expired", json_integer((json_int_t)r.expired));
    json_object_set_new(sum, "exec_rejected", json_integer((json_int_t)r.exec_rejected));
    json_object_set_new(sum, "duplicate_events_dropped", json_integer((json_int_t)r.dup_events));
    fmt_money(r.initial_cash, buf, sizeof buf);
    json_object_set_new(sum, "initial_cash", json_string(buf));
    fmt_money(r.cash, buf, sizeof buf);
    json_object_set_new(sum, "cash", json_string(buf));
    fmt_money(r.fees, buf, sizeof buf);
    json_object_set_new(sum, "fees", json_string(buf));
    fmt_money(equity, buf, sizeof buf);
    json_object_set_new(sum, "equity", json_string(buf));
    fmt_money(pnl, buf, sizeof buf);
    json_object_set_new(sum, "pnl", json_string(buf));
    json_object_set_new(sum, "positions", positions);
    json_object_set_new(sum, "first_bar_ms", json_integer(r.first_bar_ms));
    json_object_set_new(sum, "last_bar_ms", json_integer(r.last_bar_ms));
    json_object_set_new(sum, "recon", recon);
    json_object_set_new(sum, "complete", json_boolean(rc == 0 && !r.overflow));

    if (!quiet) {
        char pnl_s[QT_FIXED_STRLEN], fees_s[QT_FIXED_STRLEN], eq_s[QT_FIXED_STRLEN];
        fmt_money(pnl, pnl_s, sizeof pnl_s);
        fmt_money(r.fees, fees_s, sizeof fees_s);
        fmt_money(equity, eq_s, sizeof eq_s);
        json_t *ok = json_object_get(recon, "ok");
        printf("\n  Quantum Trader run summary (paper)\n");
        printf("  ---------------------------------------------\n");
        printf("  %-22s %" PRIu64 "\n", "bars", r.bars);
        printf("  %-22s %" PRIu64 "\n", "feature vectors", r.features);
        printf("  %-22s %" PRIu64 "\n", "signals", r.signals);
        printf("  %-22s %" PRIu64 "\n", "targets", r.targets);
        printf("  %-22s %" PRIu64 "\n", "intents", r.intents);
        printf("  %-22s %" PRIu64 "\n", "risk rejects", r.rejects);
        printf("  %-22s %" PRIu64 "\n", "orders", r.orders);
        printf("  %-22s %" PRIu64 "\n", "fills", r.fills);
        printf("  %-22s %" PRIu64 "\n", "expired (no next bar)", r.expired);
        printf("  %-22s %s\n", "fees (USDT)", fees_s);
        printf("  %-22s %s\n", "equity (USDT)", eq_s);
        printf("  %-22s %s\n", "pnl (USDT)", pnl_s);
        printf("  %-22s %zu\n", "open positions", open_positions);
        printf("  %-22s %s (%" JSON_INTEGER_FORMAT " mismatches)\n", "recon",
               ok && json_is_true(ok) ? "ok" : "NOT OK",
               json_integer_value(json_object_get(recon, "mismatches")));
        printf("  ---------------------------------------------\n");
    }
    if (out_path) {
        if (json_dump_file(sum, out_path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0) {
            fprintf(stderr, "qt-report: cannot write %s: %s\n", out_path, strerror(errno));
            rc = 1;
        } else if (!quiet) {
            printf("  summary written to %s\n", out_path);
        }
    } else {
        json_dumpf(sum, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("\n");
    }
    if (r.overflow) {
        fprintf(stderr, "qt-report: fixed-point overflow while summing; totals are incomplete\n");
        rc = 1;
    }
    json_decref(sum);
    id_set_free(&r.seen);
    qt_symtab_free(&r.syms);
    qt_config_destroy(&exec_cfg);
    qt_config_destroy(&cfg);
    return rc;
}
