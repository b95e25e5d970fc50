#!/usr/bin/env bash
# Whole-pipeline integration test: the eight services under supervisord, on real Binance
# 4h candles (all 33 pairs, 2022-06-01 .. 2022-07-15, the June 2022 crash), each run on its
# own fresh Redis + Kafka (tests/integration/lib_pipeline.sh). Every figure the system
# reports is checked against a computation made here independently of the services:
#
# Run A (paper, kill switch NORMAL):
#   - bars == candles in the window counted with jq from the raw JSON files;
#     features == signals == bars; targets == distinct candle times in the window;
#     first/last bar time == the window bounds
#   - decisions == intents + rejects; orders == intents (nothing lost between risk and
#     exec); fills + expired + exec_rejected == orders; fills > 0
#   - final reconciliation ok with 0 mismatches
#   - the paper broker's book in Redis (qt:paper:pos, fixed point) == the positions
#     rebuilt here from the qt.fills events (one per fill_id, signed qty summed with bc)
#     == qt-report's positions; qt:paper:cash == qt-report's cash
#   - PnL recomputed with bc: cash = initial_cash - sum(buy qty*price) + sum(sell qty*price)
#     - sum(fee); equity = cash + sum(qty * last close of the symbol in the window, read
#     from the raw files); pnl = equity - initial_cash; equal to qt-report's pnl within the
#     fixed-point rounding of the products (n_fills + n_positions) * 1e-8
# Run B: the same from scratch on a new stack: summary.json byte-identical to run A's and
#   the same fills (id, symbol, side, qty, price, fee) in the same order (determinism).
# Run C: a short window with the kill switch never set (absent = NO_NEW, fail closed):
#   zero intents, orders and fills, rejects > 0, every reject code KILL_SWITCH (qt.decisions).
#
# Usage: BUILD_DIR=build tests/integration/test_pipeline.sh   (or through scripts/run-tests)
# Env: QT_DATA_DIR (default ../shared/data), QTP_RECON_TIMEOUT (s, default 180).
set -euo pipefail
# shellcheck source=tests/integration/lib_pipeline.sh
. "$(dirname "$0")/lib_pipeline.sh"
qtp_init
export BC_LINE_LENGTH=0

START="2022-06-01T00:00:00Z"
END="2022-07-15T00:00:00Z"
KS_END="2022-06-12T00:00:00Z"        # run C: long enough for the first buy signals
RECON_TIMEOUT="${QTP_RECON_TIMEOUT:-180}"
S_MS=$(qtp_iso_ms "$START")
E_MS=$(qtp_iso_ms "$END")

# ------------------------------------------------------------------ expectations (raw data)
EXP_BARS=$(qtp_window_bars "$S_MS" "$E_MS")
EXP_TIMES=$(qtp_window_times "$S_MS" "$E_MS")
qtp_window_last_closes "$S_MS" "$E_MS" >"$QTP_TMP/last_closes"
[ "$EXP_BARS" -gt 0 ] && [ "$EXP_TIMES" -gt 0 ] || qtp_fail "no candles in $START .. $END under $QTP_SRC"
INITIAL_CASH=$(qtp_yaml_scalar "$QTP_ROOT/configs/exec.yml" initial_cash)
[ -n "$INITIAL_CASH" ] || qtp_fail "initial_cash not found in configs/exec.yml"
echo "raw data: $EXP_BARS candles at $EXP_TIMES times in $START .. $END; initial cash $INITIAL_CASH"

# One complete paper run of the window with the kill switch NORMAL; leaves the run up
# (QTP_RUN, QTP_CFG, ...) with its summary in $QTP_RUN/summary.json.
paper_run() { # name
    local t0
    t0=$(date +%s)
    qtp_run_new "$1" "$START" "$END"
    qtp_killswitch_normal
    qtp_services_up
    qtp_wait_recon "$RECON_TIMEOUT"
    qtp_report "$QTP_RUN/summary.json"
    qtp_no_restarts
    qtp_metrics_promtool
    qtp_tail qt.fills "$QTP_RUN/fills.jsonl"
    qtp_fills_table "$QTP_RUN/fills.jsonl" >"$QTP_RUN/fills.tsv"
    echo "run $1: $(($(date +%s) - t0)) s"
}

sj() { jq -r "$1" "$QTP_RUN/summary.json"; }

# ================================================================== run A
paper_run a
SUM_A="$QTP_RUN/summary.json"
BARS=$(sj .bars); FEATURES=$(sj .features); SIGNALS=$(sj .signals); TARGETS=$(sj .targets)
INTENTS=$(sj .intents); DECISIONS=$(sj .decisions); REJECTS=$(sj .rejects); ORDERS=$(sj .orders)
FILLS=$(sj .fills); EXPIRED=$(sj .expired); EXEC_REJ=$(sj .exec_rejected)

qtp_eq "bars (qt-report) vs candles in the raw files" "$BARS" "$EXP_BARS"
qtp_eq "features vs bars" "$FEATURES" "$BARS"
qtp_eq "signals vs bars" "$SIGNALS" "$BARS"
qtp_eq "targets vs distinct candle times in the window" "$TARGETS" "$EXP_TIMES"
qtp_eq "first bar time (ms)" "$(sj .first_bar_ms)" "$S_MS"
qtp_eq "last bar time (ms)" "$(sj .last_bar_ms)" "$E_MS"
qtp_ok "bars $BARS, features $FEATURES, signals $SIGNALS, targets $TARGETS"

[ "$FILLS" -gt 0 ] || qtp_fail "fills: got $FILLS, expected > 0"
qtp_eq "decisions vs intents + rejects ($INTENTS + $REJECTS)" "$DECISIONS" "$((INTENTS + REJECTS))"
qtp_eq "orders vs intents" "$ORDERS" "$INTENTS"
qtp_eq "fills + expired + exec_rejected ($FILLS + $EXPIRED + $EXEC_REJ) vs orders" "$((FILLS + EXPIRED + EXEC_REJ))" "$ORDERS"
qtp_eq "duplicate events in an undisturbed run" "$(sj .duplicate_events_dropped)" 0
qtp_ok "intents $INTENTS, rejects $REJECTS, orders $ORDERS, fills $FILLS, expired $EXPIRED, exec rejected $EXEC_REJ"

[ "$(sj .recon.ok)" = true ] || qtp_fail "recon.ok is $(sj .recon.ok), expected true"
qtp_eq "recon mismatches" "$(sj .recon.mismatches)" 0
[ "$(sj .recon.final)" = true ] || qtp_fail "recon.final is $(sj .recon.final), expected true"
qtp_ok "final reconciliation ok, 0 mismatches"

# ------------------------------------------------------------------ positions
NF=$(wc -l <"$QTP_RUN/fills.tsv")
qtp_eq "distinct fill_ids on qt.fills vs qt-report fills" "$NF" "$FILLS"
# jq 1.6 reads numbers as doubles: integers stay exact only below 2^53.
awk -F'\t' '$4 > 9e15 || $5 > 9e15 || $6 > 9e15 { bad = 1 } END { exit bad }' "$QTP_RUN/fills.tsv" \
    || qtp_fail "a fill's qty/price/fee exceeds 2^53 (jq would round it): cannot check exactly"
awk -F'\t' '$3 != "B" && $3 != "S" { exit 1 }' "$QTP_RUN/fills.tsv" || qtp_fail "a fill with a side other than BUY/SELL"
qtp_positions_from_fills "$QTP_RUN/fills.tsv" | sort >"$QTP_RUN/pos_rebuilt"
qtp_redis HGETALL qt:paper:pos | paste - - | awk '$2 != 0 { print $1, $2 }' | sort >"$QTP_RUN/pos_redis"
jq -r '.positions | to_entries[] | "\(.key) \(.value)"' "$SUM_A" | while read -r sym q; do
    echo "$sym $(echo "scale=0; ($q * 100000000) / 1" | bc)"
done | sort >"$QTP_RUN/pos_report"
NPOS=$(wc -l <"$QTP_RUN/pos_rebuilt")
[ "$NPOS" -gt 0 ] || qtp_fail "no open position at the end: the PnL check would not exercise marking to market"
diff "$QTP_RUN/pos_redis" "$QTP_RUN/pos_rebuilt" >"$QTP_RUN/pos.diff" \
    || { cat "$QTP_RUN/pos.diff" >&2; qtp_fail "Redis qt:paper:pos (<) != positions rebuilt from qt.fills (>)"; }
diff "$QTP_RUN/pos_report" "$QTP_RUN/pos_rebuilt" >"$QTP_RUN/pos.diff" \
    || { cat "$QTP_RUN/pos.diff" >&2; qtp_fail "qt-report positions (<) != positions rebuilt from qt.fills (>)"; }
qtp_ok "$NPOS open positions: Redis qt:paper:pos == rebuilt from $NF fills == qt-report"

# ------------------------------------------------------------------ cash, equity, PnL (bc)
# Exact sums: notional in units of 1e-16 (qty and price are 1e-8 integers), fees in 1e-8.
{
    echo "n = 0; f = 0"
    awk -F'\t' '{ print "n = n " ($3 == "B" ? "+" : "-") " " $4 " * " $5 "; f = f + " $6 }' "$QTP_RUN/fills.tsv"
    echo "scale = 16"
    echo "$INITIAL_CASH - n / 10^16 - f / 10^8"
} | bc >"$QTP_RUN/cash_bc"
CASH_BC=$(cat "$QTP_RUN/cash_bc")
MARK="0"
while read -r sym q; do
    close=$(awk -v s="$sym" '$1 == s { print $2 }' "$QTP_TMP/last_closes")
    case "$close" in ''|none) qtp_fail "no candle of $sym in the window to mark its position" ;; esac
    MARK="$MARK + $q / 10^8 * $(qtp_dec "$close")"
done <"$QTP_RUN/pos_rebuilt"
EQUITY_BC=$(echo "scale = 16; $CASH_BC + $MARK" | bc)
PNL_BC=$(echo "scale = 16; $EQUITY_BC - $INITIAL_CASH" | bc)
TOL=$(echo "scale = 8; ($NF + $NPOS) / 10^8" | bc)
CASH_REDIS=$(qtp_redis GET qt:paper:cash)
[ "$(echo "$(sj .cash) * 10^8 == $CASH_REDIS" | bc)" = 1 ] \
    || qtp_fail "qt-report cash $(sj .cash) != Redis qt:paper:cash $CASH_REDIS (1e-8 units)"
qtp_within "$(sj .cash)" "$CASH_BC" "$NF / 10^8" \
    || qtp_fail "cash: qt-report $(sj .cash) vs bc $CASH_BC: differs by more than $NF fills * 1e-8"
qtp_within "$(sj .equity)" "$EQUITY_BC" "$TOL" \
    || qtp_fail "equity: qt-report $(sj .equity) vs bc $EQUITY_BC: differs by more than $TOL"
qtp_within "$(sj .pnl)" "$PNL_BC" "$TOL" \
    || qtp_fail "pnl: qt-report $(sj .pnl) vs bc $PNL_BC: differs by more than $TOL ($NF fills + $NPOS positions) * 1e-8"
qtp_ok "pnl $(sj .pnl) (bc: $PNL_BC, tolerance $TOL), cash $(sj .cash) == Redis, fees $(sj .fees)"
cp "$QTP_RUN/fills.tsv" "$QTP_TMP/fills_a.tsv"
qtp_run_down
qtp_clean_exits

# ================================================================== run B (determinism)
paper_run b
cmp "$SUM_A" "$QTP_RUN/summary.json" >/dev/null || {
    diff "$SUM_A" "$QTP_RUN/summary.json" >&2 || true
    qtp_fail "summary.json of run B differs from run A (diff above: < A, > B): the replay is not deterministic"
}
cmp "$QTP_TMP/fills_a.tsv" "$QTP_RUN/fills.tsv" >/dev/null || {
    diff "$QTP_TMP/fills_a.tsv" "$QTP_RUN/fills.tsv" | head -20 >&2 || true
    qtp_fail "the fills of run B differ from run A's (first differences above)"
}
qtp_ok "run B from scratch: summary.json byte-identical, same $FILLS fills in the same order"
qtp_run_down

# ================================================================== run C (kill switch absent)
qtp_run_new c "$START" "$KS_END"
qtp_eq "qt:killswitch exists before run C" "$(qtp_redis EXISTS qt:killswitch)" 0
qtp_services_up
qtp_wait_recon "$RECON_TIMEOUT"
qtp_report "$QTP_RUN/summary.json"
qtp_no_restarts
qtp_tail qt.decisions "$QTP_RUN/decisions.jsonl"
qtp_eq "run C (kill switch absent) bars" "$(sj .bars)" "$(qtp_window_bars "$S_MS" "$(qtp_iso_ms "$KS_END")")"
qtp_eq "run C (kill switch absent) fills" "$(sj .fills)" 0
qtp_eq "run C (kill switch absent) orders" "$(sj .orders)" 0
qtp_eq "run C (kill switch absent) intents" "$(sj .intents)" 0
KS_REJ=$(sj .rejects)
[ "$KS_REJ" -gt 0 ] || qtp_fail "run C (kill switch absent): rejects $KS_REJ, expected > 0 (no buy was attempted: window too short?)"
[ "$(sj .recon.ok)" = true ] || qtp_fail "run C: recon.ok is $(sj .recon.ok)"
jq -r 'select(.envelope.decision != null) | .envelope.decision
       | [.intent_id, (.approved|tostring), ([.reasons[].code] | join(","))] | @tsv' \
    "$QTP_RUN/decisions.jsonl" | awk -F'\t' '!seen[$1]++' >"$QTP_RUN/decisions.tsv"
qtp_eq "run C: distinct decisions on qt.decisions vs qt-report rejects" "$(wc -l <"$QTP_RUN/decisions.tsv")" "$KS_REJ"
BAD=$(awk -F'\t' '$2 != "false" || $3 != "KILL_SWITCH"' "$QTP_RUN/decisions.tsv" | wc -l)
[ "$BAD" = 0 ] || {
    awk -F'\t' '$2 != "false" || $3 != "KILL_SWITCH"' "$QTP_RUN/decisions.tsv" | head -5 >&2
    qtp_fail "run C: $BAD decisions not rejected with exactly KILL_SWITCH (first ones above)"
}
qtp_ok "kill switch absent: 0 fills, $KS_REJ rejects, all KILL_SWITCH"
qtp_run_down

qtp_pass
echo "test_pipeline: all checks passed in $(qtp_elapsed) s"
