#!/usr/bin/env bash
# Chaos test: kill -9 every service in turn during a paced replay and require the result
# to be exactly the undisturbed one (the recovery model of docs/developer.md: checkpoint +
# offset in Redis, identical re-emission, downstream de-duplication, exec's Redis claim).
#
# Two runs of the same real slice (33 pairs, 2022-06-01 .. 2022-07-15), each on its own
# fresh Redis + Kafka (tests/integration/lib_pipeline.sh), both paced with
# ARGS_ingest="--speed N" so a run lasts ~25 s:
#   clean:  undisturbed.
#   chaos:  while the replay runs, kill -9 each of the eight services in turn (watchdog
#           included, downstream first), 2 s apart, each right after it published part of
#           a batch (before its checkpoint); supervisord restarts each one.
# Then, for the chaos run:
#   - every service was really restarted (supervisord's log shows a second spawn)
#   - the kill switch is still NORMAL (no outage was long enough for the watchdog's SLA)
#   - final reconciliation ok, 0 mismatches
#   - orders == intents (no intent lost between risk and exec)
#   - on qt.fills: every client_order_id has exactly one distinct fill_id, and all copies
#     of a fill_id carry the same fill (no order executed twice); on qt.orders every copy
#     of a client_order_id is the same order
#   - summary.json equal to the clean run's in every field but duplicate_events_dropped
#     (bars .. fills, orders, cash, fees, equity, pnl, positions, recon), and the same set
#     of fills (id, symbol, side, qty, price, fee)
# It prints the restarts per service, the duplicate events qt-report dropped, and the
# services' duplicate/replay counters (read from /metrics before shutdown; they count
# since each service's last restart).
#
# Usage: BUILD_DIR=build tests/integration/test_chaos.sh   (or through scripts/run-tests)
# Env: QT_DATA_DIR, QTP_CHAOS_SPEED (batches/s, default 10), QTP_KILL_GAP (s, default 2).
set -euo pipefail
# shellcheck source=tests/integration/lib_pipeline.sh
. "$(dirname "$0")/lib_pipeline.sh"
qtp_init

START="2022-06-01T00:00:00Z"
END="2022-07-15T00:00:00Z"
SPEED="${QTP_CHAOS_SPEED:-10}"
KILL_GAP="${QTP_KILL_GAP:-2}"
S_MS=$(qtp_iso_ms "$START")
E_MS=$(qtp_iso_ms "$END")
EXP_TIMES=$(qtp_window_times "$S_MS" "$E_MS")
echo "window $START .. $END: $EXP_TIMES batches at $SPEED/s (~$((EXP_TIMES / SPEED)) s per run)"

# Fills of the current run: one line per distinct fill (sorted) in $QTP_RUN/fills.tsv.
collect_fills() {
    qtp_tail qt.fills "$QTP_RUN/fills.jsonl"
    qtp_fills_table "$QTP_RUN/fills.jsonl" | sort >"$QTP_RUN/fills.tsv"
}

# ================================================================== clean run
T0=$(date +%s)
qtp_run_new clean "$START" "$END"
qtp_killswitch_normal
qtp_services_up ARGS_ingest="--speed $SPEED"
qtp_wait_recon 300
qtp_report "$QTP_RUN/summary.json"
qtp_no_restarts
collect_fills
CLEAN="$QTP_RUN"
[ "$(jq -r .recon.ok "$CLEAN/summary.json")" = true ] || qtp_fail "clean run: recon not ok"
[ "$(jq -r .fills "$CLEAN/summary.json")" -gt 0 ] || qtp_fail "clean run: no fills"
qtp_eq "clean run: duplicate events" "$(jq -r .duplicate_events_dropped "$CLEAN/summary.json")" 0
echo "clean run: $(($(date +%s) - T0)) s, fills $(jq -r .fills "$CLEAN/summary.json"), pnl $(jq -r .pnl "$CLEAN/summary.json")"
qtp_run_down

# ================================================================== chaos run
T0=$(date +%s)
qtp_run_new chaos "$START" "$END"
qtp_killswitch_normal
qtp_services_up ARGS_ingest="--speed $SPEED"
# Let the replay get going (a few batches through every stage) before the first kill.
for _ in $(seq 1 100); do
    [ "$(qtp_redis EXISTS qt:ckpt:qt-risk)" = 1 ] && break
    sleep 0.1
done
# Each kill is aimed at the worst moment: right after the service published part of its
# output for a batch (seen on its ZeroMQ PUB with qt-tail), i.e. with output out and the
# checkpoint not yet written, so the restart must replay and downstream must drop the
# re-emitted events. The pid is looked up before waiting (supervisorctl takes ~0.5 s) so
# the kill -9 lands within milliseconds of the trigger; if no trigger event comes within
# 2 s (e.g. no decision in that stretch of data) it is killed anyway. Downstream first:
# the duplicates a restarted service re-emits are then counted by consumers that are not
# killed afterwards, so their /metrics still show them at the end.
#   service   trigger (ZeroMQ publisher, topic prefix)
KILL_PLAN="watchdog:qt-watchdog:sys.heartbeat.
recon:qt-exec:exec.fill
exec:qt-exec:exec.order
risk:qt-risk:risk.decision
optimizer:qt-optimizer:opt.target
models:qt-models:sig.
features:qt-features:feat.
ingest:qt-ingest:md.bar."
kill_on_event() { # service trigger_service topic_prefix
    local pid rc=0
    pid="$("$QTP_ROOT/scripts/services" ctl "$QTP_VAR" pid "qt-$1" 2>/dev/null || true)"
    case "$pid" in ''|*[!0-9]*|0) qtp_fail "qt-$1 is not running before its kill (supervisorctl pid: '$pid')" ;; esac
    "$QTP_BIN/qt-tail" --config "$QTP_CFG" zmq "$2" "$3" --max 1 --timeout 2 >/dev/null 2>&1 || rc=$?
    kill -9 "$pid" || qtp_fail "kill -9 $pid (qt-$1) failed"
    if [ "$rc" = 0 ]; then qtp_note "kill -9 qt-$1 (pid $pid) right after a $3 event of $2"
    else qtp_note "kill -9 qt-$1 (pid $pid) (no $3 event of $2 within 2 s)"; fi
    echo "$1" >>"$QTP_RUN/kills.log"
}
NEXT_KILL=$(date +%s.%N)
for k in $KILL_PLAN; do
    IFS=: read -r s trig prefix <<<"$k"
    # Kills start KILL_GAP apart (the time the kill itself takes is included).
    NEXT_KILL=$(echo "$NEXT_KILL + $KILL_GAP" | bc)
    WAIT=$(echo "$NEXT_KILL - $(date +%s.%N)" | bc)
    [ "$(echo "$WAIT > 0" | bc)" = 0 ] || sleep "$WAIT"
    [ "$(qtp_redis GET qt:recon:last | jq -r '.recon.final // .final // false' 2>/dev/null)" != true ] \
        || qtp_fail "the replay ended before qt-$s was killed: slow it down (QTP_CHAOS_SPEED=$SPEED)"
    kill_on_event "$s" "$trig" "$prefix"
done
qtp_wait_recon 300
# The services' own counters, before shutdown (they restart from 0 with the process).
METRICS=""
i=0
for s in $QTP_SERVICES; do
    i=$((i + 1))
    m="$(qtp_metrics "$i" | grep -E '^qt_[a-z_]*(duplicate|replays|stale_watermarks|superseded)[a-z_]*(\{[^}]*\})? ' \
        | awk '$2 != 0 { printf "%s=%s ", $1, $2 }' || true)"
    [ -z "$m" ] || METRICS="$METRICS  qt-$s: $m"$'\n'
done
TIER="$(qtp_redis HGET qt:killswitch tier)"
qtp_report "$QTP_RUN/summary.json"
collect_fills
qtp_tail qt.orders "$QTP_RUN/orders.jsonl"
CHAOS="$QTP_RUN"
qtp_restarts
RESTARTS="$QTP_RESTARTS_BY"
echo "chaos run: $(($(date +%s) - T0)) s"
echo "supervisord restarts: $RESTARTS (total $QTP_RESTARTS)"
echo "duplicate events dropped by qt-report: $(jq -r .duplicate_events_dropped "$CHAOS/summary.json")"
printf 'service duplicate/replay counters (non-zero, since last restart):\n%s' "${METRICS:-  (none)
}"

# ------------------------------------------------------------------ assertions
for s in $QTP_SERVICES; do
    n="$(echo " $RESTARTS" | sed -nE "s/.* $s=([0-9]+).*/\1/p")"
    [ "${n:-0}" = 1 ] || qtp_fail "qt-$s was started $((${n:-0} + 1)) times, expected 2 (one kill): restarts $RESTARTS (a crash after the restart? see $QTP_VAR/log/$s.log)"
done
[ "$TIER" = NORMAL ] || qtp_fail "kill switch is '$TIER' after the chaos run (set by $(qtp_redis HGET qt:killswitch set_by): $(qtp_redis HGET qt:killswitch reason)); an outage exceeded the watchdog SLA, so the runs cannot be compared"
cs() { jq -r "$1" "$CHAOS/summary.json"; }
[ "$(cs .recon.ok)" = true ] || qtp_fail "chaos run: recon.ok is $(cs .recon.ok) ($(cs .recon.mismatches) mismatches)"
qtp_eq "chaos run: recon mismatches" "$(cs .recon.mismatches)" 0
qtp_eq "chaos run: orders vs intents (lost intents)" "$(cs .orders)" "$(cs .intents)"
qtp_ok "chaos run: recon ok, orders $(cs .orders) == intents $(cs .intents), kill switch NORMAL"

# One distinct fill per order; all copies of a fill identical.
BAD=$(jq -r 'select(.envelope.fill != null) | .envelope.fill | [.client_order_id, .fill_id] | @tsv' "$CHAOS/fills.jsonl" \
    | sort -u | cut -f1 | uniq -d)
[ -z "$BAD" ] || qtp_fail "client_order_ids with more than one distinct fill_id (a duplicate order): $(echo "$BAD" | head -5 | tr '\n' ' ')"
COPIES=$(jq -r 'select(.envelope.fill != null) | .envelope.fill.fill_id' "$CHAOS/fills.jsonl" | wc -l)
DISTINCT_IDS=$(jq -r 'select(.envelope.fill != null) | .envelope.fill.fill_id' "$CHAOS/fills.jsonl" | sort -u | wc -l)
DISTINCT_FILLS=$(jq -c 'select(.envelope.fill != null) | [.envelope.event_time_ns, .envelope.fill]' "$CHAOS/fills.jsonl" | sort -u | wc -l)
[ "$DISTINCT_FILLS" = "$DISTINCT_IDS" ] || {
    jq -c 'select(.envelope.fill != null) | [.envelope.event_time_ns, .envelope.fill]' "$CHAOS/fills.jsonl" | sort -u \
        | jq -r '.[1].fill_id' | uniq -d | head -3 | while read -r id; do
            jq -c --arg id "$id" 'select(.envelope.fill.fill_id == $id) | .envelope' "$CHAOS/fills.jsonl" >&2
        done
    qtp_fail "copies of the same fill_id differ: $DISTINCT_IDS fill_ids but $DISTINCT_FILLS distinct fills (examples above)"
}
ORD_IDS=$(jq -r 'select(.envelope.order != null) | .envelope.order.client_order_id' "$CHAOS/orders.jsonl" | sort -u | wc -l)
ORD_DISTINCT=$(jq -c 'select(.envelope.order != null) | .envelope.order' "$CHAOS/orders.jsonl" | sort -u | wc -l)
[ "$ORD_IDS" = "$ORD_DISTINCT" ] || qtp_fail "copies of the same client_order_id on qt.orders differ: $ORD_IDS ids, $ORD_DISTINCT distinct orders"
qtp_eq "chaos run: distinct client_order_ids on qt.orders vs qt-report orders" "$ORD_IDS" "$(cs .orders)"
qtp_ok "no duplicate order: $DISTINCT_IDS fills ($COPIES copies on qt.fills), one fill_id per client_order_id, copies identical"

# Equal to the undisturbed run.
jq -S 'del(.duplicate_events_dropped)' "$CLEAN/summary.json" >"$QTP_TMP/clean.cmp"
jq -S 'del(.duplicate_events_dropped)' "$CHAOS/summary.json" >"$QTP_TMP/chaos.cmp"
if ! cmp -s "$QTP_TMP/clean.cmp" "$QTP_TMP/chaos.cmp"; then
    diff "$QTP_TMP/clean.cmp" "$QTP_TMP/chaos.cmp" >&2 || true
    for k in fills orders intents cash pnl; do
        [ "$(jq -r ".$k" "$QTP_TMP/clean.cmp")" = "$(jq -r ".$k" "$QTP_TMP/chaos.cmp")" ] \
            || echo "  $k: clean $(jq -r ".$k" "$QTP_TMP/clean.cmp"), chaos $(jq -r ".$k" "$QTP_TMP/chaos.cmp")" >&2
    done
    qtp_fail "the chaos run's summary differs from the clean run's (diff above: < clean, > chaos)"
fi
if ! cmp -s "$CLEAN/fills.tsv" "$CHAOS/fills.tsv"; then
    diff "$CLEAN/fills.tsv" "$CHAOS/fills.tsv" | head -20 >&2 || true
    qtp_fail "the chaos run's fills differ from the clean run's (first differences above: < clean, > chaos)"
fi
qtp_ok "chaos == clean: fills $(cs .fills), orders $(cs .orders), cash $(cs .cash), pnl $(cs .pnl), positions $(jq -c .positions "$CHAOS/summary.json")"
qtp_run_down

qtp_pass
echo "test_chaos: all checks passed in $(qtp_elapsed) s"
