/* ingest fetch: the `qt-ingest fetch` subcommand (docs/data-sources.md).
 *
 *   qt-ingest fetch --source binance|coingecko|file --symbols BTC_USDT,ETH_USDT
 *                   --interval 4h --from T --to T [--base-url URL] [--store DIR] [--json]
 *                   [--venue NAME] [--data-dir DIR] [--max-attempts N] [--backoff-ms MS]
 *                   [--timeout-ms MS] [--retry-after-max-ms MS] [--weight-cap N]
 *                   [--cg-interval-ms MS] [--seed N]
 *
 * Why a one-shot command and not part of the daemon: downloading history is an operator
 * action that must be repeatable (idempotent), inspectable (--json report) and safe to
 * interrupt; the replay daemon only reads the curated store / files.
 *
 * What it does per symbol (BASE_QUOTE, the store's name; Binance symbol = BASEQUOTE):
 *  1. fetch candles with open time in [from, to) (binance: REST via qt_exchange; file:
 *     <data-dir>/<SYMBOL>-<interval>.json[.gz] via qt_bars; default data-dir
 *     $QT_DATA_DIR/raw/djienne-3EMA_SRSI_ATR-binance/<interval>, QT_DATA_DIR defaulting
 *     to ../shared/data);
 *  2. validate: out-of-order rows are counted and sorted; identical duplicates counted and
 *     dropped; a duplicate open time with different values, a row off the interval grid
 *     or a row failing the OHLC/positivity checks fails the symbol (nothing stored);
 *  3. gaps: a missing grid time between two known candles (fetched or already stored) is a
 *     gap; binance refetches each missing range once (bars obtained that way carry
 *     BAR_FLAG_BACKFILLED); still missing -> recorded in the report, counted, and the next
 *     newly stored bar gets BAR_FLAG_GAP_BEFORE;
 *  4. store: bars already in the store with identical OHLCV are left alone (idempotent
 *     re-runs); a stored open time with different OHLCV is a conflict and fails the symbol
 *     (history is never rewritten); new bars are appended (qt_store_append) and the
 *     catalog rewritten when anything was appended.
 * --source coingecko stores nothing: it fetches market_chart/range for the pair's coin and
 * cross-checks each price point at time t with the stored close of the bar that closes at
 * t (open + interval == t), reporting matched points and the max relative difference.
 * T: epoch ms, epoch seconds or ISO 8601 (qt_bars_parse_time). Default store
 * "data/curated", venue "binance". --base-url replaces the source's base URL (an explicit
 * http:// URL is how tests point it at tools/qt-fakex; the default URLs are https).
 * Exit: 0 every symbol fetched (gaps recorded are not failures), 1 a symbol failed (source
 * error, bad data, conflict, store error), 2 usage. */
#ifndef INGEST_FETCH_H
#define INGEST_FETCH_H
#include <stdio.h>

/* argv[i..argc) are the subcommand's arguments; the report goes to stdout. */
int ingest_fetch_main(int argc, char **argv, int i);
/* Same, with the report written to out (the tests capture it). */
int ingest_fetch_run(int argc, char **argv, int i, FILE *out);
#endif
