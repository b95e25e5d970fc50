/* qt-backtest: the event-driven backtest over the service cores.
 *
 * Why: a backtest that re-implements the strategy, the risk gate or the fills measures
 * something else than what runs. This tool links the very cores the daemons run
 * (features, models, optimizer, risk, and qt-exec's engine with its in-memory store and
 * paper market model) and drives them in one process, batch by batch, the way the bus
 * drives them in the demo stack:
 *
 *   for each candle time t (ingest core: bars in symbol order, gap flags, window):
 *     sim clock := t
 *     every bar -> exec engine (the broker learns the open) and features_on_bar
 *                  -> models_on_features -> optimizer_on_signal
 *     bars Watermark(t) -> exec; exec step: intents of t-1 fill at the open of t
 *     books marked at the closes of t -> one equity row
 *     Watermark(t) -> features -> models (cross-sectional signals) -> optimizer target
 *                  -> risk_on_target (kill switch NORMAL, as the demo sets it)
 *                  -> risk_on_watermark -> approved intents + Watermark -> exec engine
 *
 * Fills reach the books (libs/quant/qt_portfolio) through the engine's publish seam:
 * the Fill events the daemon would publish. The books' cash is checked against the
 * broker's (exec store) at every bar and the positions at the end: any difference is an
 * error (exit 1).
 * Time comes only from a simulated qt_clock (no wall time in any output; the wall time
 * of the run goes to stderr). Outputs: see usage() and docs/backtest.md. */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bt.h"
#include "exec/exec.h"
#include "ingest/ingest.h"
#include "qt_audit.h"
#include "qt_bars.h"
#include "qt_cli.h"
#include "qt_clock.h"
#include "qt_overfit.h"
#include "qt_portfolio.h"
#include "qt_stats.h"

#define PROG "qt-backtest"

/* ------------------------------------------------------------------ records */
typedef struct {
    char fill_id[EXEC_ID_MAX + 8];
    char symbol[QT_MAX_SYMBOL + 1];
    Qt__V1__Side side;
    int64_t time_ms, intent_bar_ms;
    qt_fixed_t qty, price, notional, fee, realised, pos_after, cash_after;
} fill_rec_t;

typedef struct {
    int64_t t_ms;
    qt_pf_totals_t tot;
    double ret;
} eq_rec_t;

typedef struct {
    uint64_t bars, batches, vectors, signals, signals_ready, targets;
    uint64_t approved, rejected, skipped_min, skipped_band;
    uint64_t rejects_by_code[16];
    uint64_t orders, reports_expired, reports_rejected;
    uint64_t qaoa_adopted, qaoa_fallback;
} counts_t;

static const char *const CODES[] = {RISK_CODE_KILL_SWITCH, RISK_CODE_MAX_POSITION_NOTIONAL,
                                    RISK_CODE_MAX_GROSS_EXPOSURE, RISK_CODE_MAX_OPEN_POSITIONS,
                                    RISK_CODE_MIN_TRADE_NOTIONAL, RISK_CODE_INSUFFICIENT_CASH,
                                    RISK_CODE_EQUITY_DEPLETED, RISK_CODE_STALE_DATA,
                                    RISK_CODE_PRICE_BAND, RISK_CODE_COOLDOWN,
                                    RISK_CODE_DAILY_LOSS, RISK_CODE_MAX_DRAWDOWN,
                                    RISK_CODE_ORDER_RATE, RISK_CODE_FIXED_FRACTIONAL,
                                    RISK_CODE_VOL_TARGET};
#define N_CODES (sizeof CODES / sizeof CODES[0])

typedef struct {
    bt_config_t cfg;
    qt_clock_t *clock;
    qt_portfolio_t *pf;
    fill_rec_t *fills;
    size_t nfills, capfills;
    qt_trade_t *trips;
    size_t ntrips, captrips;
    eq_rec_t *eq;
    size_t neq, capeq;
    double *weights;          /* neq x nsym, for qt_stats_positions */
    size_t nsym;
    const char **symtab;      /* ingest's sorted symbols */
    counts_t n;
    bool failed;              /* a books error inside a callback */
    EVP_MD_CTX *data_hash;
} bt_t;

static bool grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t c = *cap ? *cap : 256;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q) return false;
    *p = q;
    *cap = c;
    return true;
}

/* ------------------------------------------------------------------ exec io seam */
static int io_publish(void *ctx, const char *zmq, const char *logical, const char *key,
                      qt_env_t *env) {
    (void)zmq, (void)logical, (void)key;
    bt_t *bt = ctx;
    if (env->body_case == QT__V1__ENVELOPE__BODY_ORDER) {
        bt->n.orders++;
    } else if (env->body_case == QT__V1__ENVELOPE__BODY_REPORT) {
        const Qt__V1__ExecutionReport *r = env->report;
        if (r->status == QT__V1__ORDER_STATUS__ORDER_STATUS_EXPIRED) bt->n.reports_expired++;
        if (r->status == QT__V1__ORDER_STATUS__ORDER_STATUS_REJECTED) bt->n.reports_rejected++;
    } else if (env->body_case == QT__V1__ENVELOPE__BODY_FILL) {
        const Qt__V1__Fill *f = env->fill;
        qt_fixed_t dq = f->side == QT__V1__SIDE__SIDE_BUY ? f->qty : -f->qty;
        qt_pf_fill_t r;
        if (!grow((void **)&bt->fills, &bt->capfills, bt->nfills + 1, sizeof *bt->fills) ||
            qt_portfolio_fill(bt->pf, f->symbol, dq, f->price, f->fee, f->fill_time_ms, &r) != 0) {
            bt->failed = true;
            return 0;   /* not a publish failure: the run stops with an error after the step */
        }
        fill_rec_t *fr = &bt->fills[bt->nfills++];
        snprintf(fr->fill_id, sizeof fr->fill_id, "%s", f->fill_id);
        snprintf(fr->symbol, sizeof fr->symbol, "%s", f->symbol);
        fr->side = f->side;
        fr->time_ms = f->fill_time_ms;
        fr->intent_bar_ms = f->intent_bar_time_ms;
        fr->qty = f->qty;
        fr->price = f->price;
        fr->notional = r.notional < 0 ? -r.notional : r.notional;
        fr->fee = f->fee;
        fr->realised = r.realised;
        fr->pos_after = r.position_after;
        fr->cash_after = r.cash_after;
        if (r.trip_closed) {
            if (!grow((void **)&bt->trips, &bt->captrips, bt->ntrips + 1, sizeof *bt->trips)) {
                bt->failed = true;
                return 0;
            }
            bt->trips[bt->ntrips++] = (qt_trade_t){.entry = r.trip_entry_ms,
                                                   .exit = f->fill_time_ms,
                                                   .pnl = qt_fixed_to_double(r.trip_pnl)};
        }
    }
    return 0;
}

static Qt__V1__KillSwitchTier io_ks(void *ctx) {
    (void)ctx;
    return QT__V1__KILL_SWITCH_TIER__KS_NORMAL;
}

static int64_t io_now(void *ctx) { return qt_clock_now_ms(((bt_t *)ctx)->clock); }

static int io_batch_done(void *ctx, int64_t t, bool eos, int64_t next) {
    (void)ctx, (void)t, (void)eos, (void)next;
    return 0;
}

static int64_t opt_clock(void *ud) { return qt_clock_mono_ns((qt_clock_t *)ud); }

/* ------------------------------------------------------------------ data */
static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool wanted(const bt_config_t *c, const char *sym) {
    if (!c->symbols) return true;
    for (size_t i = 0; i < c->nsymbols; i++)
        if (strcmp(c->symbols[i], sym) == 0) return true;
    return false;
}

/* The files of ingest.source matching ingest.glob (sorted), read as qt-ingest reads
 * them: rows as written -> qt_audit -> cleaning policy (ingest.policy) ->
 * ingest_add_series_flags. Rows the policy quarantines are left out (the daemon also
 * writes them to its quarantine file; the backtest does not). 0 / 2 (bad files) / 1. */
static int load_data(bt_t *bt, ingest_t *ing) {
    const bt_config_t *c = &bt->cfg;
    char dir[2 * BT_PATH_MAX + 2];
    snprintf(dir, sizeof dir, "%s/%s", c->data_dir, c->source);
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, PROG ": cannot open data directory %s: %s (set QT_DATA_DIR or data_dir)\n",
                dir, strerror(errno));
        return 2;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || fnmatch(c->glob, de->d_name, 0) != 0) continue;
        if (!grow((void **)&names, &cap, n + 1, sizeof *names) || !(names[n] = strdup(de->d_name))) {
            rc = 1;
            break;
        }
        n++;
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp_str);
    size_t used = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char sym[INGEST_SYMBOL_MAX + 1], path[3 * BT_PATH_MAX], err[1024];
        if (!ingest_symbol_from_filename(names[i], c->interval, sym, sizeof sym)) {
            fprintf(stderr, PROG ": %s/%s: file name is not <SYMBOL>-%s.json[.gz]\n", dir,
                    names[i], c->interval);
            rc = 2;
            break;
        }
        if (!wanted(c, sym)) continue;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        qt_rows_t r;
        qt_rows_init(&r);
        if (qt_rows_load_file(&r, path, err, sizeof err) != 0) {
            fprintf(stderr, PROG ": %s\n", err);
            qt_rows_free(&r);
            rc = 2;
            break;
        }
        qt_audit_params_t p = {c->interval_ms, c->outlier_z, -1, 0};
        qt_audit_t au;
        qt_cleaned_t cl;
        memset(&cl, 0, sizeof cl);
        if (qt_audit_run(&r, &p, &au) != 0) {
            qt_rows_free(&r);
            rc = 1;
            break;
        }
        if (qt_audit_clean(&r, &au, &c->policy, &cl) != 0) {
            qt_audit_free(&au);
            qt_rows_free(&r);
            rc = 1;
            break;
        }
        uint32_t *flags = malloc((cl.n ? cl.n : 1) * sizeof *flags);
        if (flags) {
            for (size_t k = 0; k < cl.n; k++) flags[k] = cl.suspect[k] ? INGEST_BAR_FLAG_SUSPECT : 0;
            if (ingest_add_series_flags(ing, sym, cl.bars, flags, cl.n) != 0) {
                fprintf(stderr, PROG ": %s: cannot add series %s\n", path, sym);
                rc = 2;
            }
        } else {
            rc = 1;
        }
        free(flags);
        qt_cleaned_free(&cl);
        qt_audit_free(&au);
        qt_rows_free(&r);
        used++;
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    if (rc == 0 && used == 0) {
        fprintf(stderr, PROG ": no data files in %s match %s and the symbols\n", dir, c->glob);
        rc = 2;
    }
    if (rc == 0 && c->symbols && used != c->nsymbols) {
        fprintf(stderr, PROG ": %zu of %zu configured symbols have no data file\n",
                c->nsymbols - used, c->nsymbols);
        rc = 2;
    }
    return rc;
}

/* ------------------------------------------------------------------ the run */
static size_t sym_index(const bt_t *bt, const char *sym) {
    size_t lo = 0, hi = bt->nsym;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(bt->symtab[mid], sym);
        if (c == 0) return mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return SIZE_MAX;
}

static void hash_i64(EVP_MD_CTX *h, int64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)v >> (8 * i));
    EVP_DigestUpdate(h, b, sizeof b);
}

static void to_opt_signal(const Qt__V1__Signal *s, optimizer_signal_t *o) {
    memset(o, 0, sizeof *o);
    snprintf(o->symbol, sizeof o->symbol, "%s", s->symbol ? s->symbol : "");
    o->bar_time_ms = s->bar_time_ms;
    o->score = s->score;
    o->volatility = s->volatility;
    o->close = s->close;
    o->ready = s->ready;
    o->alpha = s->alpha;
    o->beta = s->beta;
}

static void count_signal(bt_t *bt, optimizer_t *opt, const models_out_t *o) {
    bt->n.signals++;
    if (o->sig.ready) bt->n.signals_ready++;
    optimizer_signal_t s;
    to_opt_signal(&o->sig, &s);
    (void)optimizer_on_signal(opt, &s);
}

/* Target -> risk -> intents -> exec. 0 / -1 (error, message printed). */
static int risk_and_exec(bt_t *bt, risk_t *risk, exec_engine_t *eng, const optimizer_target_t *tg,
                         int64_t *offset) {
    risk_target_pos_t *pos = NULL;
    if (tg->n_positions) {
        pos = calloc(tg->n_positions, sizeof *pos);
        if (!pos) return -1;
    }
    for (size_t i = 0; i < tg->n_positions; i++) {
        snprintf(pos[i].symbol, sizeof pos[i].symbol, "%s", tg->positions[i].symbol);
        pos[i].weight = tg->positions[i].weight;
        pos[i].ref_price = tg->positions[i].ref_price;
    }
    risk_target_t rt = {.bar_time_ms = tg->bar_time_ms, .positions = pos,
                        .n_positions = tg->n_positions};
    risk_result_t res = {0};
    risk_status_t st = risk_on_target(risk, &rt, QT__V1__KILL_SWITCH_TIER__KS_NORMAL, &res);
    free(pos);
    if (st == RISK_ERROR) {
        fprintf(stderr, PROG ": risk: out of memory\n");
        return -1;
    }
    if (st == RISK_OK) {
        bt->n.skipped_min += res.skipped_min_notional;
        bt->n.skipped_band += res.skipped_band;
        for (size_t i = 0; i < res.n_decisions; i++) {
            const risk_decision_t *d = &res.decisions[i];
            if (!d->approved) {
                bt->n.rejected++;
                for (size_t k = 0; k < d->n_reasons; k++)
                    for (size_t c = 0; c < N_CODES; c++)
                        if (strcmp(CODES[c], d->reasons[k].code) == 0) bt->n.rejects_by_code[c]++;
                continue;
            }
            bt->n.approved++;
            Qt__V1__OrderIntent oi = QT__V1__ORDER_INTENT__INIT;
            oi.intent_id = (char *)d->intent_id;
            oi.symbol = (char *)d->symbol;
            oi.side = d->side;
            oi.qty = d->approved_qty;
            oi.ref_price = d->ref_price;
            oi.bar_time_ms = d->bar_time_ms;
            oi.reduce_only = d->reduce_only;
            oi.reason = (char *)d->intent_reason;
            if (exec_engine_on_intent(eng, (*offset)++, &oi) < 0) {
                risk_result_free(&res);
                fprintf(stderr, PROG ": exec: out of memory\n");
                return -1;
            }
        }
    }
    risk_result_free(&res);
    return 0;
}

static int record_equity(bt_t *bt, int64_t t) {
    if (!grow((void **)&bt->eq, &bt->capeq, bt->neq + 1, sizeof *bt->eq)) return -1;
    size_t cap_w = bt->capeq * bt->nsym;
    double *w = realloc(bt->weights, (cap_w ? cap_w : 1) * sizeof *w);
    if (!w) return -1;
    bt->weights = w;
    eq_rec_t *e = &bt->eq[bt->neq];
    if (qt_portfolio_totals(bt->pf, &e->tot) != 0) return -1;
    e->t_ms = t;
    double prev = qt_fixed_to_double(bt->neq ? bt->eq[bt->neq - 1].tot.equity : bt->cfg.paper.initial_cash);
    e->ret = prev > 0 ? qt_fixed_to_double(e->tot.equity) / prev - 1.0 : NAN;
    double eqd = qt_fixed_to_double(e->tot.equity);
    double *row = &bt->weights[bt->neq * bt->nsym];
    for (size_t i = 0; i < bt->nsym; i++) row[i] = 0.0;
    for (size_t i = 0; i < qt_portfolio_symbols(bt->pf); i++) {
        const char *s;
        qt_fixed_t q, basis, mark, v;
        qt_portfolio_at(bt->pf, i, &s, &q, &basis, &mark);
        size_t k = sym_index(bt, s);
        if (q == 0 || k == SIZE_MAX || !qt_fixed_mul(q, mark, &v) || !(eqd > 0)) continue;
        row[k] = qt_fixed_to_double(v) / eqd;
    }
    bt->neq++;
    return 0;
}

/* Cross-check of the books with the broker's account: cash and every position. */
static int check_books(bt_t *bt, exec_store_t *store) {
    qt_fixed_t cash;
    if (exec_store_cash(store, &cash) != 0 || cash != qt_portfolio_cash(bt->pf)) {
        fprintf(stderr, PROG ": books: cash differs from the broker's\n");
        return -1;
    }
    exec_position_t *ps = NULL;
    size_t np = 0;
    if (exec_store_positions(store, &ps, &np) != 0) return -1;
    int rc = 0;
    size_t held = 0;
    for (size_t i = 0; i < qt_portfolio_symbols(bt->pf); i++) {
        qt_fixed_t q;
        const char *s;
        qt_portfolio_at(bt->pf, i, &s, &q, NULL, NULL);
        if (q != 0) held++;
    }
    if (held != np) rc = -1;
    for (size_t i = 0; i < np && rc == 0; i++)
        if (qt_portfolio_position(bt->pf, ps[i].symbol) != ps[i].qty) rc = -1;
    free(ps);
    if (rc) fprintf(stderr, PROG ": books: positions differ from the broker's\n");
    return rc;
}

static int run(bt_t *bt) {
    bt_config_t *c = &bt->cfg;
    int rc = 1;
    ingest_t *ing = ingest_new(c->interval_ms, c->start_ms, c->end_ms);
    features_t *feat = NULL;
    models_t *models = NULL;
    optimizer_t *opt = NULL;
    risk_t *risk = NULL;
    exec_store_t *store = NULL;
    exec_engine_t *eng = NULL;
    models_out_t *outs = calloc(MODELS_BATCH_MAX, sizeof *outs);
    char why[512] = "";
    bt->clock = qt_clock_new_sim(c->start_ms * 1000000);
    bt->pf = qt_portfolio_new(c->paper.initial_cash);
    bt->data_hash = EVP_MD_CTX_new();
    if (!ing || !outs || !bt->clock || !bt->pf || !bt->data_hash ||
        EVP_DigestInit_ex(bt->data_hash, EVP_sha256(), NULL) != 1)
        goto out;
    if ((rc = load_data(bt, ing)) != 0) goto out;
    rc = 1;
    bt->nsym = ingest_series_count(ing);
    bt->symtab = calloc(bt->nsym, sizeof *bt->symtab);
    if (!bt->symtab) goto out;
    for (size_t i = 0; i < bt->nsym; i++) bt->symtab[i] = ingest_series_symbol(ing, i);
    feat = features_new(&c->feat);
    models = models_new(&c->models, &c->ab, why, sizeof why);
    if (models && models_uses_xgb(models)) {
        fprintf(stderr, PROG ": model %s needs a registry artifact (XGB_v1): not supported by "
                "the backtest yet\n", models_name(models));
        rc = 2;
        goto out;
    }
    opt = optimizer_new(&c->opt);
    risk = risk_new(&c->risk);
    store = exec_store_new_mem(c->paper.initial_cash);
    exec_io_t io = {.publish = io_publish, .killswitch = io_ks, .now_ms = io_now,
                    .batch_done = io_batch_done, .ctx = bt};
    if (!feat || !models || !opt || !risk || !store || exec_store_init(store) != 0) {
        if (!models) fprintf(stderr, PROG ": models: %s\n", why);
        goto out;
    }
    optimizer_set_clock(opt, opt_clock, bt->clock);
    eng = exec_engine_new(&c->paper, store, &io);
    if (!eng) goto out;
    char stream[32];
    snprintf(stream, sizeof stream, "bars.%s", c->interval);
    int64_t offset = 0;
    ingest_batch_t b;
    while (ingest_next(ing, &b) == 1) {
        if (b.t_ms < 0 || b.t_ms > FEATURES_MAX_TIME_MS || qt_clock_set(bt->clock, b.t_ms * 1000000) != 0) {
            fprintf(stderr, PROG ": bar time %" PRId64 " out of range\n", b.t_ms);
            goto out;
        }
        bt->n.batches++;
        for (size_t i = 0; i < b.n; i++) {
            const ingest_item_t *it = &b.items[i];
            Qt__V1__Bar bar = QT__V1__BAR__INIT;
            bar.symbol = (char *)it->symbol;
            bar.venue = c->venue;
            bar.interval = c->interval;
            bar.open_time_ms = it->bar.t_ms;
            bar.open = it->bar.open;
            bar.high = it->bar.high;
            bar.low = it->bar.low;
            bar.close = it->bar.close;
            bar.volume = it->bar.volume;
            bar.flags = it->flags;
            EVP_DigestUpdate(bt->data_hash, it->symbol, strlen(it->symbol) + 1);
            hash_i64(bt->data_hash, it->bar.t_ms);
            hash_i64(bt->data_hash, it->bar.open);
            hash_i64(bt->data_hash, it->bar.high);
            hash_i64(bt->data_hash, it->bar.low);
            hash_i64(bt->data_hash, it->bar.close);
            hash_i64(bt->data_hash, it->bar.volume);
            hash_i64(bt->data_hash, it->flags);
            bt->n.bars++;
            (void)exec_engine_on_bar(eng, &bar);
            features_vec_t v;
            if (features_on_bar(feat, &bar, &v) != FEATURES_EMIT) continue;
            bt->n.vectors++;
            features_pb_t pb;
            features_vec_to_pb(&v, &pb);
            bool emitted = false;
            if (models_on_features(models, &pb.fv, &outs[0], &emitted) == MODELS_OK && emitted)
                count_signal(bt, opt, &outs[0]);
        }
        Qt__V1__Watermark wm = QT__V1__WATERMARK__INIT;
        wm.stream = stream;
        wm.event_time_ms = b.t_ms;
        wm.end_of_stream = b.end_of_stream;
        wm.count = b.n;
        exec_engine_on_bars_watermark(eng, &wm);
        if (exec_engine_step(eng) < 0 || bt->failed) goto books;
        qt_fixed_t broker_cash;   /* the books follow the broker at every bar, not only at the end */
        if (exec_store_cash(store, &broker_cash) != 0 || broker_cash != qt_portfolio_cash(bt->pf)) {
            fprintf(stderr, PROG ": books: cash differs from the broker's at %" PRId64 "\n", b.t_ms);
            goto out;
        }
        for (size_t i = 0; i < b.n; i++)
            if (qt_portfolio_mark(bt->pf, b.items[i].symbol, b.items[i].bar.close) != 0) goto books;
        if (record_equity(bt, b.t_ms) != 0) goto books;
        Qt__V1__Watermark fwm;
        if (!features_on_watermark(feat, &wm, &fwm)) continue;
        size_t ns = models_on_watermark(models, outs, MODELS_BATCH_MAX);
        for (size_t i = 0; i < ns; i++) count_signal(bt, opt, &outs[i]);
        optimizer_target_t tg;
        optimizer_wm_result_t wr = optimizer_on_watermark(opt, b.t_ms, &tg);
        if (wr == OPT_WM_ERROR) {
            fprintf(stderr, PROG ": optimizer: out of memory\n");
            goto out;
        }
        if (wr == OPT_WM_EMIT) {
            bt->n.targets++;
            if (tg.qaoa == OPT_QAOA_ADOPTED) bt->n.qaoa_adopted++;
            else if (tg.qaoa != OPT_QAOA_DISABLED) bt->n.qaoa_fallback++;
            int r = risk_and_exec(bt, risk, eng, &tg, &offset);
            optimizer_target_free(&tg);
            if (r != 0) goto out;
        }
        (void)risk_on_watermark(risk, b.t_ms);
        if (exec_engine_on_intents_watermark(eng, offset++, &wm) < 0) goto out;
        if (exec_engine_step(eng) < 0 || bt->failed) goto books;
    }
    if (exec_engine_step(eng) < 0 || bt->failed) goto books;
    if (bt->neq < 2) {
        fprintf(stderr, PROG ": fewer than 2 batches in the window: no statistics\n");
        rc = 2;
        goto out;
    }
    rc = check_books(bt, store) == 0 ? 0 : 1;
    goto out;
books:
    fprintf(stderr, PROG ": exec engine or books failed at a fill (overflow or OOM)\n");
    rc = 1;
out:
    exec_engine_destroy(&eng);
    exec_store_destroy(&store);
    risk_destroy(&risk);
    optimizer_destroy(&opt);
    models_destroy(&models);
    features_destroy(&feat);
    free(outs);
    free(bt->symtab);   /* the strings belong to the ingest core */
    bt->symtab = NULL;
    ingest_destroy(&ing);
    return rc;
}

/* ------------------------------------------------------------------ outputs */
static void fx(FILE *f, qt_fixed_t v) {
    char b[QT_FIXED_STRLEN];
    qt_fixed_format(v, b, sizeof b);
    fputs(b, f);
}

static void iso(int64_t ms, char *out, size_t len) {
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&s, &tm) || strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, len, "?");
}

/* JSON number: %.17g (round-trips a double), null when not finite. */
static void jnum(FILE *f, const char *key, double v, bool *first) {
    fprintf(f, "%s\n  \"%s\": ", *first ? "" : ",", key);
    *first = false;
    if (isfinite(v)) fprintf(f, "%.17g", v);
    else fputs("null", f);
}
static void jint(FILE *f, const char *key, uint64_t v, bool *first) {
    fprintf(f, "%s\n  \"%s\": %" PRIu64, *first ? "" : ",", key, v);
    *first = false;
}
static void jmoney(FILE *f, const char *key, qt_fixed_t v, bool *first) {
    fprintf(f, "%s\n  \"%s\": \"", *first ? "" : ",", key);
    *first = false;
    fx(f, v);
    fputc('"', f);
}
static void jbool(FILE *f, const char *key, bool v, bool *first) {
    fprintf(f, "%s\n  \"%s\": %s", *first ? "" : ",", key, v ? "true" : "false");
    *first = false;
}

/* metrics.json: one flat object, keys in a fixed order (golden files compare key by key).
 * Money is a decimal string (exact), statistics are doubles. */
static int write_metrics(bt_t *bt, FILE *f) {
    const bt_config_t *c = &bt->cfg;
    double *r = malloc(bt->neq * sizeof *r);
    if (!r) return -1;
    for (size_t i = 0; i < bt->neq; i++) r[i] = bt->eq[i].ret;
    qt_perf_t p;
    int prc = qt_stats_perf(r, bt->neq, c->periods_per_year, &p);
    free(r);
    const eq_rec_t *last = &bt->eq[bt->neq - 1];
    qt_fixed_t pnl = last->tot.equity - c->paper.initial_cash;
    bool first = true;
    fputc('{', f);
    jint(f, "schema", 1, &first);
    jnum(f, "periods_per_year", c->periods_per_year, &first);
    jint(f, "start_ms", (uint64_t)bt->eq[0].t_ms, &first);
    jint(f, "end_ms", (uint64_t)last->t_ms, &first);
    jint(f, "symbols", bt->nsym, &first);
    jint(f, "bars", bt->n.bars, &first);
    jint(f, "batches", bt->n.batches, &first);
    jint(f, "fee_bps", (uint64_t)c->paper.fee_bps, &first);
    jint(f, "slippage_bps", (uint64_t)c->paper.slippage_bps, &first);
    jint(f, "seed", c->seed, &first);
    jmoney(f, "initial_cash", c->paper.initial_cash, &first);
    jmoney(f, "final_equity", last->tot.equity, &first);
    jmoney(f, "final_cash", last->tot.cash, &first);
    jmoney(f, "final_positions_value", last->tot.positions_value, &first);
    jmoney(f, "pnl", pnl, &first);
    jmoney(f, "realised_pnl", last->tot.realised, &first);
    jmoney(f, "unrealised_pnl", last->tot.unrealised, &first);
    jmoney(f, "fees", last->tot.fees, &first);
    jint(f, "open_positions", last->tot.open_positions, &first);
    bool ok = prc == 0;
    jnum(f, "sharpe", ok ? p.sharpe : NAN, &first);
    jnum(f, "sortino", ok ? p.sortino : NAN, &first);
    jnum(f, "calmar", ok ? p.calmar : NAN, &first);
    jnum(f, "total_return", ok ? p.total_return : NAN, &first);
    jnum(f, "annual_return", ok ? p.annual_return : NAN, &first);
    jnum(f, "annual_volatility", ok ? p.annual_volatility : NAN, &first);
    jnum(f, "max_drawdown", ok ? p.max_drawdown : NAN, &first);
    jint(f, "max_dd_duration", ok ? p.max_dd_duration : 0, &first);
    jbool(f, "max_dd_recovered", ok && p.max_dd_recovered, &first);
    jnum(f, "mean", ok ? p.mean : NAN, &first);
    jnum(f, "std", ok ? p.std : NAN, &first);
    jnum(f, "sharpe_per_period", ok ? p.sharpe_per_period : NAN, &first);
    jnum(f, "downside_deviation", ok ? p.downside_deviation : NAN, &first);
    jnum(f, "skew", ok ? p.skew : NAN, &first);
    jnum(f, "kurtosis", ok ? p.kurtosis : NAN, &first);
    jnum(f, "hit_ratio", ok ? p.hit_ratio : NAN, &first);
    jnum(f, "psr", ok ? qt_psr(p.sharpe_per_period, 0.0, (double)p.n_obs, p.skew, p.kurtosis) : NAN,
         &first);
    jnum(f, "min_trl", ok ? qt_min_trl(p.sharpe_per_period, 0.0, p.skew, p.kurtosis, 0.05) : NAN,
         &first);
    /* fills and round trips */
    uint64_t buys = 0;
    for (size_t i = 0; i < bt->nfills; i++) buys += bt->fills[i].side == QT__V1__SIDE__SIDE_BUY;
    jint(f, "fills", bt->nfills, &first);
    jint(f, "buys", buys, &first);
    jint(f, "sells", bt->nfills - buys, &first);
    qt_trade_stats_t ts;
    bool tok = bt->ntrips > 0 && qt_stats_trades(bt->trips, bt->ntrips, &ts) == 0;
    jint(f, "round_trips", bt->ntrips, &first);
    jnum(f, "trade_hit_ratio", tok ? ts.hit_ratio : NAN, &first);
    jnum(f, "avg_holding_bars", tok ? ts.avg_holding / (double)c->interval_ms : NAN, &first);
    jnum(f, "profit_factor", tok ? ts.profit_factor : NAN, &first);
    jnum(f, "gross_profit", tok ? ts.gross_profit : NAN, &first);
    jnum(f, "gross_loss", tok ? ts.gross_loss : NAN, &first);
    jnum(f, "avg_win", tok ? ts.avg_win : NAN, &first);
    jnum(f, "avg_loss", tok ? ts.avg_loss : NAN, &first);
    /* positions (weights = position value / equity at each close) */
    qt_pos_stats_t ps;
    bool pok = qt_stats_positions(bt->weights, bt->neq, bt->nsym, c->periods_per_year, &ps) == 0;
    jnum(f, "turnover", pok ? ps.turnover : NAN, &first);
    jnum(f, "annual_turnover", pok ? ps.annual_turnover : NAN, &first);
    jnum(f, "exposure", pok ? ps.exposure : NAN, &first);
    jnum(f, "gross_exposure", pok ? ps.gross_exposure : NAN, &first);
    jnum(f, "net_exposure", pok ? ps.net_exposure : NAN, &first);
    /* the pipeline's counts */
    jint(f, "feature_vectors", bt->n.vectors, &first);
    jint(f, "signals", bt->n.signals, &first);
    jint(f, "signals_ready", bt->n.signals_ready, &first);
    jint(f, "targets", bt->n.targets, &first);
    jint(f, "qaoa_adopted", bt->n.qaoa_adopted, &first);
    jint(f, "qaoa_fallback", bt->n.qaoa_fallback, &first);
    jint(f, "risk_approved", bt->n.approved, &first);
    jint(f, "risk_rejected", bt->n.rejected, &first);
    jint(f, "risk_skipped_min_notional", bt->n.skipped_min, &first);
    jint(f, "risk_skipped_band", bt->n.skipped_band, &first);
    for (size_t k = 0; k < N_CODES; k++) {
        char key[64];
        snprintf(key, sizeof key, "risk_rejects_%s", CODES[k]);
        jint(f, key, bt->n.rejects_by_code[k], &first);
    }
    jint(f, "orders", bt->n.orders, &first);
    jint(f, "orders_expired", bt->n.reports_expired, &first);
    jint(f, "orders_rejected", bt->n.reports_rejected, &first);
    fputs("\n}\n", f);
    return 0;
}

static const char *side_name(Qt__V1__Side s) { return s == QT__V1__SIDE__SIDE_BUY ? "buy" : "sell"; }

static void write_trades(const bt_t *bt, FILE *f) {
    fputs("fill_id,time_ms,time,intent_bar_ms,symbol,side,qty,price,notional,fee,realised_pnl,"
          "position_after,cash_after\n", f);
    for (size_t i = 0; i < bt->nfills; i++) {
        const fill_rec_t *r = &bt->fills[i];
        char t[32];
        iso(r->time_ms, t, sizeof t);
        fprintf(f, "%s,%" PRId64 ",%s,%" PRId64 ",%s,%s,", r->fill_id, r->time_ms, t,
                r->intent_bar_ms, r->symbol, side_name(r->side));
        qt_fixed_t v[7] = {r->qty, r->price, r->notional, r->fee, r->realised, r->pos_after,
                           r->cash_after};
        for (int k = 0; k < 7; k++) {
            fx(f, v[k]);
            fputc(k == 6 ? '\n' : ',', f);
        }
    }
}

static void write_equity(const bt_t *bt, FILE *f) {
    fputs("time_ms,time,cash,positions_value,equity,realised_pnl,unrealised_pnl,fees,"
          "open_positions,return\n", f);
    for (size_t i = 0; i < bt->neq; i++) {
        const eq_rec_t *e = &bt->eq[i];
        char t[32];
        iso(e->t_ms, t, sizeof t);
        fprintf(f, "%" PRId64 ",%s,", e->t_ms, t);
        qt_fixed_t v[6] = {e->tot.cash, e->tot.positions_value, e->tot.equity, e->tot.realised,
                           e->tot.unrealised, e->tot.fees};
        for (int k = 0; k < 6; k++) {
            fx(f, v[k]);
            fputc(',', f);
        }
        fprintf(f, "%zu,%.17g\n", e->tot.open_positions, e->ret);
    }
}

static void hex(const unsigned char *d, size_t n, char *out) {
    for (size_t i = 0; i < n; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static int sha256_hex(const void *a, size_t alen, const void *b, size_t blen, char out[65]) {
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    int ok = h && EVP_DigestInit_ex(h, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(h, a, alen) == 1 && (!b || EVP_DigestUpdate(h, b, blen) == 1) &&
             EVP_DigestFinal_ex(h, md, &mdlen) == 1 && mdlen == 32;
    EVP_MD_CTX_free(h);
    if (ok) hex(md, 32, out);
    return ok ? 0 : -1;
}

/* Renders into memory (for hashing), then writes DIR/name. */
typedef struct {
    char *buf;
    size_t len;
} blob_t;

static int save_blob(const char *dir, const char *name, const blob_t *b) {
    char path[2 * BT_PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, PROG ": cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    bool ok = fwrite(b->buf, 1, b->len, f) == b->len;
    ok = (fclose(f) == 0) && ok;
    if (!ok) fprintf(stderr, PROG ": cannot write %s\n", path);
    return ok ? 0 : -1;
}

/* Hash of every configuration file read (names and bytes, in reading order). */
static int config_hash(const bt_config_t *c, char out[65]) {
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    if (!h || EVP_DigestInit_ex(h, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(h);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < c->nfiles && rc == 0; i++) {
        const char *base = strrchr(c->files[i], '/');
        base = base ? base + 1 : c->files[i];
        EVP_DigestUpdate(h, base, strlen(base) + 1);
        FILE *f = fopen(c->files[i], "rb");
        if (!f) {
            rc = -1;
            break;
        }
        char buf[8192];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0) EVP_DigestUpdate(h, buf, n);
        if (ferror(f)) rc = -1;
        fclose(f);
    }
    unsigned char md[32];
    unsigned int len = 0;
    if (rc == 0 && EVP_DigestFinal_ex(h, md, &len) == 1 && len == 32) hex(md, 32, out);
    else rc = -1;
    EVP_MD_CTX_free(h);
    return rc;
}

/* The checkout's commit: .git/HEAD (a ref or a detached hash) read as a file; "unknown"
 * when there is no repository (not a git command: no process is started). */
static void git_commit(char *out, size_t len) {
    snprintf(out, len, "unknown");
    char head[256] = "";
    FILE *f = fopen(".git/HEAD", "r");
    if (!f) return;
    bool got = fgets(head, sizeof head, f) != NULL;
    fclose(f);
    if (!got) return;
    head[strcspn(head, "\r\n")] = '\0';
    char hash[128] = "";
    if (strncmp(head, "ref: ", 5) == 0) {
        char path[300];
        snprintf(path, sizeof path, ".git/%s", head + 5);
        f = fopen(path, "r");
        if (f) {
            if (fgets(hash, sizeof hash, f)) hash[strcspn(hash, "\r\n")] = '\0';
            fclose(f);
        } else if ((f = fopen(".git/packed-refs", "r")) != NULL) {
            char line[512];
            size_t rl = strlen(head + 5);
            while (fgets(line, sizeof line, f)) {
                line[strcspn(line, "\r\n")] = '\0';
                char *sp = strchr(line, ' ');
                if (sp && strlen(sp + 1) == rl && strcmp(sp + 1, head + 5) == 0) {
                    *sp = '\0';
                    snprintf(hash, sizeof hash, "%.100s", line);
                    break;
                }
            }
            fclose(f);
        }
    } else {
        snprintf(hash, sizeof hash, "%.100s", head);
    }
    if (strlen(hash) == 40 && strspn(hash, "0123456789abcdef") == 40) snprintf(out, len, "%.40s", hash);
}

/* report.html and portfolio_snapshot.png (bt_report.c). */
static int write_views(const bt_t *bt, const char *dir, const blob_t *metrics) {
    int64_t *t = malloc(bt->neq * sizeof *t);
    double *eq = malloc(bt->neq * sizeof *eq);
    size_t np = qt_portfolio_symbols(bt->pf), nw = 0;
    const char **names = calloc(np ? np : 1, sizeof *names);
    double *w = calloc(np ? np : 1, sizeof *w);
    int rc = -1;
    if (t && eq && names && w) {
        for (size_t i = 0; i < bt->neq; i++) {
            t[i] = bt->eq[i].t_ms;
            eq[i] = qt_fixed_to_double(bt->eq[i].tot.equity);
        }
        double last = eq[bt->neq - 1];
        for (size_t i = 0; i < np; i++) {
            const char *s;
            qt_fixed_t q, mark, v;
            qt_portfolio_at(bt->pf, i, &s, &q, NULL, &mark);
            if (q == 0 || !qt_fixed_mul(q, mark, &v)) continue;
            names[nw] = s;
            w[nw++] = last > 0 ? qt_fixed_to_double(v) / last : 0.0;
        }
        char p1[2 * BT_PATH_MAX], p2[2 * BT_PATH_MAX];
        snprintf(p1, sizeof p1, "%s/report.html", dir);
        snprintf(p2, sizeof p2, "%s/portfolio_snapshot.png", dir);
        rc = bt_report_html(p1, t, eq, bt->neq, metrics->buf, metrics->len) == 0 &&
                     bt_report_png(p2, eq, bt->neq, names, w, nw) == 0
                 ? 0
                 : -1;
    }
    free(t);
    free(eq);
    free(names);
    free(w);
    return rc;
}

/* A JSON string body: quotes, backslashes and control characters escaped. */
static void jstr(FILE *f, const char *s) {
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
        else fputc(ch, f);
    }
}

static int outputs(bt_t *bt, const char *dir, const char *run_log, const char *cfg_path,
                   bool quiet, char art_out[65]) {
    blob_t m = {0}, t = {0}, e = {0};
    FILE *fm = open_memstream(&m.buf, &m.len), *ft = open_memstream(&t.buf, &t.len),
         *fe = open_memstream(&e.buf, &e.len);
    int rc = -1;
    if (!fm || !ft || !fe) goto done;
    if (write_metrics(bt, fm) != 0) goto done;
    write_trades(bt, ft);
    write_equity(bt, fe);
    if (fclose(fm) != 0 || fclose(ft) != 0 || fclose(fe) != 0) {
        fm = ft = fe = NULL;
        goto done;
    }
    fm = ft = fe = NULL;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, PROG ": cannot create %s: %s\n", dir, strerror(errno));
        goto done;
    }
    if (save_blob(dir, "metrics.json", &m) || save_blob(dir, "trades.csv", &t) ||
        save_blob(dir, "equity.csv", &e) || write_views(bt, dir, &m) != 0)
        goto done;
    char hm[65], ht[65], he[65], art[65], hc[65], hd[65], run_id[65], commit[64];
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (sha256_hex(m.buf, m.len, NULL, 0, hm) || sha256_hex(t.buf, t.len, NULL, 0, ht) ||
        sha256_hex(e.buf, e.len, NULL, 0, he) || sha256_hex(m.buf, m.len, t.buf, t.len, art) ||
        config_hash(&bt->cfg, hc) != 0 || EVP_DigestFinal_ex(bt->data_hash, md, &mdlen) != 1)
        goto done;
    hex(md, 32, hd);
    char seed[24], idsrc[400];
    snprintf(seed, sizeof seed, "%" PRIu64, bt->cfg.seed);
    snprintf(idsrc, sizeof idsrc, "%s:%s:%s:%s", hc, hd, seed, bt->cfg.params);
    if (sha256_hex(idsrc, strlen(idsrc), NULL, 0, run_id)) goto done;
    run_id[16] = '\0';
    git_commit(commit, sizeof commit);
    char logpath[2 * BT_PATH_MAX];
    if (run_log) snprintf(logpath, sizeof logpath, "%s", run_log);
    else snprintf(logpath, sizeof logpath, "%s/run_log.jsonl", dir);
    FILE *lf = fopen(logpath, "a");
    if (!lf) {
        fprintf(stderr, PROG ": cannot append to %s: %s\n", logpath, strerror(errno));
        goto done;
    }
    /* metrics embedded as written (one line: newlines of the pretty form removed) */
    fprintf(lf, "{\"run_id\": \"%s\", \"git_commit\": \"%s\", \"config\": \"", run_id,
            commit);
    jstr(lf, cfg_path);
    fputs("\", \"params\": \"", lf);
    jstr(lf, bt->cfg.params);
    fprintf(lf, "\", \"config_hash\": \"%s\", \"data_hash\": \"%s\", \"seed\": %s, \"metrics\": ",
            hc, hd, seed);
    for (size_t i = 0; i < m.len; i++)
        if (m.buf[i] != '\n') fputc(m.buf[i], lf);
    fprintf(lf, ", \"artifacts\": {\"metrics.json\": \"%s\", \"trades.csv\": \"%s\", "
                "\"equity.csv\": \"%s\"}, \"artifact_sha256\": \"%s\"}\n",
            hm, ht, he, art);
    if (fclose(lf) != 0) goto done;
    if (art_out) memcpy(art_out, art, 65);
    if (!quiet) {
        printf("run_id: %s\nout: %s\nfills: %zu\nfinal_equity: ", run_id, dir, bt->nfills);
        fx(stdout, bt->eq[bt->neq - 1].tot.equity);
        printf("\nartifact sha256: %s\n", art);
    }
    rc = 0;
done:
    if (fm) fclose(fm);
    if (ft) fclose(ft);
    if (fe) fclose(fe);
    free(m.buf);
    free(t.buf);
    free(e.buf);
    return rc;
}

/* ------------------------------------------------------------------ main */
int bt_run_one(const bt_config_t *cfg, const char *out_dir, const char *run_log,
               const char *cfg_path, bool quiet, char art[65]) {
    bt_t *bt = calloc(1, sizeof *bt);
    if (!bt) return 1;
    bt->cfg = *cfg;   /* shallow: the symbol list stays owned by the caller */
    qt_clock_t *wall = qt_clock_new_wall();
    int64_t t0 = wall ? qt_clock_mono_ns(wall) : 0;
    int rc = run(bt);
    if (rc == 0) rc = outputs(bt, out_dir, run_log, cfg_path, quiet, art) == 0 ? 0 : 1;
    if (wall && rc == 0 && !quiet) {
        double s = (double)(qt_clock_mono_ns(wall) - t0) / 1e9;
        fprintf(stderr, PROG ": %" PRIu64 " bars in %.2f s wall (%.0f bars/s)\n", bt->n.bars, s,
                s > 0 ? (double)bt->n.bars / s : 0.0);
    }
    qt_clock_destroy(&wall);
    qt_clock_destroy(&bt->clock);
    qt_portfolio_destroy(&bt->pf);
    EVP_MD_CTX_free(bt->data_hash);
    free(bt->fills);
    free(bt->trips);
    free(bt->eq);
    free(bt->weights);
    free(bt);
    return rc;
}

/* `config`: the effective settings the cores will run with, one flat JSON object (the
 * integration test compares the optimizer part with `qt-optimizer --check-config`, which
 * guards bt_config.c's mirror of the service's reader). */
static void print_config(const bt_config_t *c) {
    const optimizer_config_t *o = &c->opt;
    char cap[QT_FIXED_STRLEN], cash[QT_FIXED_STRLEN];
    qt_fixed_format(c->risk.capital, cap, sizeof cap);
    qt_fixed_format(c->paper.initial_cash, cash, sizeof cash);
    printf("{\"start_ms\": %" PRId64 ", \"end_ms\": %" PRId64 ", \"interval\": \"%s\", "
           "\"symbols\": %zu, \"periods_per_year\": %.17g,\n",
           c->start_ms, c->end_ms, c->interval, c->nsymbols, c->periods_per_year);
    printf(" \"features.sma_fast\": %u, \"features.sma_slow\": %u, \"features.ema_fast\": %u, "
           "\"features.ema_slow\": %u, \"features.rvol\": %u, \"features.spec\": \"%s\", "
           "\"features.horizons\": \"%s\",\n",
           c->feat.sma_fast, c->feat.sma_slow, c->feat.ema_fast, c->feat.ema_slow, c->feat.rvol,
           c->feat.spec, c->feat.horizons);
    printf(" \"models.model\": \"%s\", \"models.ma_v1.gain\": %.17g,\n", c->models.model,
           c->models.ma_v1.gain);
    printf(" \"optimizer.solver\": \"%s\", \"optimizer.weighting\": \"%s\", "
           "\"optimizer.min_score\": %.17g, \"optimizer.gross_weight\": %.17g, "
           "\"optimizer.max_weight\": %.17g, \"optimizer.max_names\": %u, "
           "\"optimizer.max_candidates\": %u, \"optimizer.risk_aversion\": %.17g, "
           "\"optimizer.cov_window\": %u, \"optimizer.cov_min_obs\": %u, "
           "\"optimizer.seed\": %" PRIu64 ", \"optimizer.qaoa.enabled\": %s, "
           "\"optimizer.qaoa.p\": %u, \"optimizer.qaoa.max_qubits\": %u, "
           "\"optimizer.qaoa.adopt\": \"%s\", \"optimizer.qaoa.latency_ms\": %.17g, "
           "\"optimizer.qaoa.quality_tolerance\": %.17g, \"optimizer.qaoa.failures_to_open\": %u, "
           "\"optimizer.qaoa.cooldown_ms\": %" PRId64 ",\n",
           optimizer_solver_name(o->solver), optimizer_weighting_name(o->weighting), o->min_score,
           o->gross_weight, o->max_weight, o->max_names, o->max_candidates, o->risk_aversion,
           o->cov_window, o->cov_min_obs, o->seed, o->qaoa_enabled ? "true" : "false", o->qaoa_p,
           o->qaoa_max_qubits, optimizer_adopt_name(o->qaoa_adopt), o->qaoa_latency_ms,
           o->quality_tolerance, o->failures_to_open, o->cooldown_ms);
    printf(" \"risk.capital\": \"%s\", \"risk.cost_buffer_bps\": %" PRId64
           ", \"risk.max_open_positions\": %u, \"risk.max_drawdown\": %.17g,\n",
           cap, c->risk.cost_buffer_bps, c->risk.max_open_positions, c->risk.max_drawdown);
    printf(" \"exec.fee_bps\": %" PRId64 ", \"exec.slippage_bps\": %" PRId64
           ", \"exec.initial_cash\": \"%s\"}\n",
           c->paper.fee_bps, c->paper.slippage_bps, cash);
}

static void usage(FILE *to) {
    fprintf(to,
            "usage: " PROG " run  --config FILE --out DIR [--run-log FILE]\n"
            "       " PROG " grid --config FILE --out DIR [--run-log FILE] [-j N]\n"
            "       " PROG " config --config FILE   (the effective settings, JSON)\n"
            "  run: replays the configured bars through the service cores (features, models,\n"
            "  optimizer, risk, the paper broker) on a simulated clock and writes\n"
            "  DIR/metrics.json, DIR/trades.csv, DIR/equity.csv and appends one line to the\n"
            "  run log (default DIR/run_log.jsonl). The last line printed is\n"
            "  'artifact sha256: <hex>' over metrics.json then trades.csv.\n"
            "  grid: one run per trial of the config's grid: section (DIR/trial_NNN/), in a\n"
            "  pool of N processes (default 1), then PBO, DSR and the verdict in DIR/grid.json;\n"
            "  the last line is 'artifact sha256: <hex>' of grid.json.\n"
            "  Exit: 0 ok, 1 bad data or a books mismatch, 2 usage or configuration error.\n");
}

int main(int argc, char **argv) {
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    bool grid = argc >= 2 && strcmp(argv[1], "grid") == 0;
    bool show = argc >= 2 && strcmp(argv[1], "config") == 0;
    if (argc < 2 || (!grid && !show && strcmp(argv[1], "run") != 0)) {
        usage(stderr);
        return 2;
    }
    const char *cfg_path = NULL, *out = NULL, *run_log = NULL, *jobs_s = NULL;
    for (int i = 2; i < argc; i++) {
        const char **dst = NULL;
        if (strcmp(argv[i], "--config") == 0) dst = &cfg_path;
        else if (strcmp(argv[i], "--out") == 0) dst = &out;
        else if (strcmp(argv[i], "--run-log") == 0) dst = &run_log;
        else if (grid && strcmp(argv[i], "-j") == 0) dst = &jobs_s;
        else if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, PROG ": unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
        if (i + 1 >= argc || !argv[i + 1][0]) {
            fprintf(stderr, PROG ": %s needs a value\n", argv[i]);
            return 2;
        }
        *dst = argv[++i];
    }
    if (!cfg_path || (!out && !show)) {
        fprintf(stderr, PROG ": %s needs --config FILE and --out DIR\n", argv[1]);
        return 2;
    }
    uint64_t jobs = 1;
    if (jobs_s && (qt_cli_parse_u64(jobs_s, &jobs) != 0 || jobs < 1 || jobs > 256)) {
        fprintf(stderr, PROG ": -j: expected an integer in [1, 256], got '%s'\n", jobs_s);
        return 2;
    }
    bt_config_t *cfg = calloc(1, sizeof *cfg);
    if (!cfg) return 1;
    int rc = bt_config_load(cfg_path, cfg);
    if (rc == 0) {
        if (show) print_config(cfg);
        else if (grid) rc = bt_grid(cfg, out, run_log, cfg_path, (unsigned)jobs);
        else rc = bt_run_one(cfg, out, run_log, cfg_path, false, NULL);
    }
    bt_config_free(cfg);
    free(cfg);
    return rc;
}
