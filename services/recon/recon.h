/* recon: the qt-recon core. Rebuilds the paper account from the fills log and checks
 * it against what the broker says it holds.
 *
 * Why from the log: qt.fills is the durable record of every execution; if positions
 * rebuilt from it ever differ from the broker's book, either a fill was lost, doubled
 * or the book was changed behind our back. Recon's state is therefore NOT persisted:
 * the daemon re-reads qt.fills from the beginning at every start (design decision,
 * docs/services/recon.md), so recon cannot drift from the log it audits.
 *
 * Fills are de-duplicated by fill_id (exec re-publishes identical fills after a
 * restart). Positions are signed quantities per symbol; cash = initial cash +
 * sum(-(signed notional) - fee) with notional = qt_fixed_mul(price, qty), exactly the
 * paper broker's arithmetic. The Position events exec publishes right before each of
 * its Watermarks are the broker's book at that point of the log: on each Watermark
 * every symbol's rebuilt qty must equal the broker's (absent = 0). */
#ifndef RECON_H
#define RECON_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "qt_envelope.h"
#include "qt_money.h"

typedef struct {
    char symbol[QT_MAX_SYMBOL + 1];
    qt_fixed_t qty;
} recon_pos_t;

typedef struct {
    bool ok;
    uint32_t mismatches;
    recon_pos_t *rebuilt;      /* non-zero rebuilt positions, sorted by symbol */
    size_t n_rebuilt;
    recon_pos_t *broker;       /* the broker snapshot compared against, sorted */
    size_t n_broker;
    uint64_t fills_seen;       /* distinct fills applied */
    uint64_t duplicate_fills;
    bool final;
    qt_fixed_t cash;           /* rebuilt cash */
    char detail[1024];         /* "BTC_USDT: rebuilt 1 != broker 0.5; ..." ("" when ok) */
} recon_report_t;

typedef struct recon_t recon_t;

recon_t *recon_new(qt_fixed_t initial_cash);
void recon_destroy(recon_t **self_p);

/* 1 applied, 0 duplicate fill_id (counted), -1 invalid fill (bad side, qty <= 0,
 * price <= 0, fee < 0, empty or oversized id/symbol, arithmetic overflow). */
int recon_on_fill(recon_t *self, const Qt__V1__Fill *fill);
/* A broker Position event (snapshot since the previous watermark). -1 invalid. */
int recon_on_position(recon_t *self, const Qt__V1__Position *pos);
/* An exec Watermark: compare the rebuilt book with the snapshot collected since the
 * previous watermark, clear the snapshot, fill *out (free with recon_report_free). */
int recon_on_watermark(recon_t *self, bool end_of_stream, recon_report_t *out);
/* Extra checks into an existing report (e.g. Redis qt:paper:pos at end of stream);
 * `source` labels the detail. Each differing symbol counts one mismatch. */
void recon_check_positions(const recon_t *self, recon_report_t *rep, const recon_pos_t *pos,
                           size_t n, const char *source);
void recon_check_cash(const recon_t *self, recon_report_t *rep, qt_fixed_t broker_cash,
                      const char *source);
void recon_report_free(recon_report_t *rep);

qt_fixed_t recon_position(const recon_t *self, const char *symbol);
qt_fixed_t recon_cash(const recon_t *self);
uint64_t recon_fills_seen(const recon_t *self);
uint64_t recon_duplicates(const recon_t *self);

/* Protobuf view of a report (the strings and arrays point into *rep and *pb). */
typedef struct {
    Qt__V1__ReconReport msg;
    Qt__V1__Position *pos;     /* n_rebuilt + n_broker */
    Qt__V1__Position **ptrs;
} recon_pb_t;
int recon_report_to_pb(const recon_report_t *rep, recon_pb_t *pb);
void recon_pb_free(recon_pb_t *pb);

int recon_selftest(bool verbose);
#endif
