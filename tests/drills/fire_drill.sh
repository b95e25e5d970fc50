#!/usr/bin/env bash
# Fire drill (issue 7): during ONE paper run over the demo stack (eight services, real
# Redis + Kafka, replay paced with --speed), raise each kill-switch tier in turn and show
# what it does, from the events the pipeline published (qt.decisions carries the tier
# qt-risk decided under) and the paper broker's book (Redis qt:paper:pos):
#   NORMAL      until the replay is 20 % through its window (event time seen by qt-risk)
#   THROTTLE    20 % .. 35 %: every approved buy is scaled: approved_qty <= requested / 2
#               (risk.yml killswitch.throttle_factor 0.5), and at least one buy happened
#   NO_NEW      35 % .. 45 %: no buy is approved (new exposure stops); sells still pass,
#               so the strategy's own exits drain the book
#   NORMAL      again (two operators' approvals, qtp_killswitch_normal) until positions
#               are open again
#   FLATTEN_ALL then: every position in qt:paper:pos reaches 0; the time from the raise
#               to flat is MEASURED (polled every 50 ms), no approved buy after it
# Raising needs one actor (`qtctl killswitch raise`); the run is reconciled at the end. Measured figures are printed and, with
# QTP_DRILL_OUT=FILE, written there as JSON (docs/drills/fire-drill.md records them).
#
# Usage: BUILD_DIR=build tests/drills/fire_drill.sh   (not in `make test`: see
# docs/drills/fire-drill.md, "Open defect")
# Env: QTP_FIRE_SPEED (batches/s, default 5).
set -euo pipefail
# shellcheck source=tests/integration/lib_pipeline.sh
. "$(dirname "$0")/../integration/lib_pipeline.sh"
qtp_init

START="2022-06-01T00:00:00Z"
END="2022-08-01T00:00:00Z"
SPEED="${QTP_FIRE_SPEED:-5}"
S_MS=$(qtp_iso_ms "$START")
E_MS=$(qtp_iso_ms "$END")
now_ms() { echo $(($(date +%s%N) / 1000000)); }

qtp_run_new fire "$START" "$END"
qtp_killswitch_normal
qtp_services_up ARGS_ingest="--speed $SPEED"

# Progress = event time of the last input qt-risk processed (its metrics, admin #5).
risk_event_ms() {
    qtp_metrics 5 | awk '/^qt_last_event_timestamp_seconds/ { printf "%.0f\n", $2 * 1000 }' | tail -1
}
wait_progress() { # percent
    local want=$((S_MS + (E_MS - S_MS) * $1 / 100)) t0 ev
    t0=$(date +%s)
    while :; do
        ev="$(risk_event_ms)"
        [ -n "$ev" ] && [ "$ev" -ge "$want" ] && return 0
        [ $(($(date +%s) - t0)) -lt 300 ] || { qtp_dump_logs; qtp_fail "qt-risk did not reach $1 % of the window in 300 s (at ${ev:-nothing})"; }
        sleep 0.2
    done
}
raise() { # tier
    "$QTP_BIN/qtctl" --config "$QTP_CFG" killswitch raise "$1" --reason "fire drill" --by fire_drill \
        >>"$QTP_RUN/raise.out" 2>&1 || { cat "$QTP_RUN/raise.out" >&2; qtp_fail "qtctl killswitch raise $1 failed"; }
    qtp_eq "tier after raise" "$(qtp_redis HGET qt:killswitch tier)" "$1"
}
open_positions() { qtp_redis HVALS qt:paper:pos | awk '$1 != 0' | wc -l; }

wait_progress 20
raise THROTTLE
qtp_note "THROTTLE raised at $(date -u -d @$(($(risk_event_ms) / 1000)) +%FT%TZ) (event time)"
wait_progress 35
raise NO_NEW
qtp_note "NO_NEW raised at $(date -u -d @$(($(risk_event_ms) / 1000)) +%FT%TZ)"
wait_progress 45
qtp_killswitch_normal
qtp_note "lowered to NORMAL by two approvals at $(date -u -d @$(($(risk_event_ms) / 1000)) +%FT%TZ)"
T_WAIT=$(date +%s)
until [ "$(open_positions)" -gt 0 ]; do
    [ $(($(date +%s) - T_WAIT)) -lt 120 ] || qtp_fail "no position opened within 120 s after going back to NORMAL"
    sleep 0.05
done
# a little more exposure to unwind: a few more batches
sleep 1
OPEN_AT_FLATTEN=$(open_positions)
[ "$OPEN_AT_FLATTEN" -gt 0 ] || qtp_fail "no open position when FLATTEN_ALL was due"
[ "$(risk_event_ms)" -lt $((S_MS + (E_MS - S_MS) * 90 / 100)) ] \
    || qtp_fail "FLATTEN_ALL due after 90 % of the window: too little left to flatten (QTP_FIRE_SPEED)"
raise FLATTEN_ALL
T_RAISE=$(now_ms)
EV_RAISE=$(risk_event_ms)
while [ "$(open_positions)" -gt 0 ]; do
    [ $(($(now_ms) - T_RAISE)) -lt 120000 ] || qtp_fail "positions not flat 120 s after FLATTEN_ALL: $(qtp_redis HGETALL qt:paper:pos | tr '\n' ' ')"
    sleep 0.05
done
T_FLAT=$(now_ms)
EV_FLAT=$(risk_event_ms)
FLAT_MS=$((T_FLAT - T_RAISE))
qtp_ok "FLATTEN_ALL: $OPEN_AT_FLATTEN open position(s) flat after $FLAT_MS ms (wall), $(((EV_FLAT - EV_RAISE) / 3600000)) h of event time at $SPEED batches/s"

qtp_wait_recon 300
qtp_eq "open positions at the end" "$(open_positions)" 0
qtp_tail qt.decisions "$QTP_RUN/decisions.jsonl"

# One line per decision: tier side approved requested approved_qty (first copy of an id).
jq -r 'select(.envelope.decision != null) | .envelope.decision
       | [.intent_id, (.killswitch_tier|tostring), .side, (.approved|tostring),
          (.requested_qty|tostring), ((.approved_qty // 0)|tostring)] | @tsv' \
    "$QTP_RUN/decisions.jsonl" | awk -F'\t' '!seen[$1]++' >"$QTP_RUN/decisions.tsv"
tier_no() { # name -> the number the events carry
    case "$1" in NORMAL) echo 1 ;; WARN) echo 2 ;; THROTTLE) echo 3 ;; NO_NEW) echo 4 ;; FLATTEN_ALL) echo 5 ;; esac
}
count() { # awk condition over $2 tier $3 side $4 approved $5 req $6 appr
    awk -F'\t' "$1 { n++ } END { print n + 0 }" "$QTP_RUN/decisions.tsv"
}
T3=$(tier_no THROTTLE)
T4=$(tier_no NO_NEW)
T5=$(tier_no FLATTEN_ALL)
grep -q . "$QTP_RUN/decisions.tsv" || qtp_fail "no decisions on qt.decisions"
# killswitch_tier may be rendered as a number or an enum name: normalise to numbers
sed -i -E 's/\tKS_NORMAL\t/\t1\t/; s/\tKS_WARN\t/\t2\t/; s/\tKS_THROTTLE\t/\t3\t/; s/\tKS_NO_NEW\t/\t4\t/; s/\tKS_FLATTEN_ALL\t/\t5\t/' \
    "$QTP_RUN/decisions.tsv"

N_BUY_NORMAL=$(count '$2 == 1 && $3 == "SIDE_BUY" && $4 == "true"')
N_BUY_T=$(count "\$2 == $T3 && \$3 == \"SIDE_BUY\" && \$4 == \"true\"")
N_BUY_T_OVER=$(count "\$2 == $T3 && \$3 == \"SIDE_BUY\" && \$4 == \"true\" && \$6 * 2 > \$5")
[ "$N_BUY_T" -gt 0 ] || qtp_fail "no approved buy while THROTTLE was up: the drill showed nothing (slow it down: QTP_FIRE_SPEED)"
qtp_eq "approved buys under THROTTLE above requested/2" "$N_BUY_T_OVER" 0
RATIO_NORMAL=$(awk -F'\t' '$2 == 1 && $3 == "SIDE_BUY" && $4 == "true" && $5 > 0 { s += $6 / $5; n++ } END { if (n) printf "%.3f", s / n; else print "n/a" }' "$QTP_RUN/decisions.tsv")
RATIO_T=$(awk -F'\t' -v t="$T3" '$2 == t && $3 == "SIDE_BUY" && $4 == "true" && $5 > 0 { s += $6 / $5; n++ } END { if (n) printf "%.3f", s / n; else print "n/a" }' "$QTP_RUN/decisions.tsv")
qtp_ok "THROTTLE: $N_BUY_T approved buys, each <= requested/2 (mean approved/requested $RATIO_T; under NORMAL $RATIO_NORMAL over $N_BUY_NORMAL buys)"

N_NONEW=$(count "\$2 == $T4")
N_NONEW_BUY_OK=$(count "\$2 == $T4 && \$3 == \"SIDE_BUY\" && \$4 == \"true\"")
N_NONEW_BUY_NO=$(count "\$2 == $T4 && \$3 == \"SIDE_BUY\" && \$4 == \"false\"")
[ "$N_NONEW" -gt 0 ] || qtp_fail "no decision while NO_NEW was up"
qtp_eq "approved buys under NO_NEW" "$N_NONEW_BUY_OK" 0
qtp_ok "NO_NEW: $N_NONEW decisions, $N_NONEW_BUY_NO buys rejected, 0 approved"

N_FLAT_BUY_OK=$(count "\$2 == $T5 && \$3 == \"SIDE_BUY\" && \$4 == \"true\"")
N_FLAT_SELL=$(count "\$2 == $T5 && \$3 == \"SIDE_SELL\" && \$4 == \"true\"")
qtp_eq "approved buys under FLATTEN_ALL" "$N_FLAT_BUY_OK" 0
# A race the drill cannot avoid: the strategy's own sells decided (under NORMAL) in the
# batch before risk read FLATTEN_ALL may close the last positions first. That is only an
# explanation when the book went flat within one bar of event time after the raise;
# otherwise the flattening must show as sells approved under FLATTEN_ALL.
if [ "$N_FLAT_SELL" -eq 0 ]; then
    [ $((EV_FLAT - EV_RAISE)) -le 14400000 ] \
        || qtp_fail "no approved sell under FLATTEN_ALL, yet the positions went flat $(((EV_FLAT - EV_RAISE) / 3600000)) h of event time after the raise"
    qtp_note "FLATTEN_ALL: the positions were closed by sells decided in the bar before the raise (no sell left for FLATTEN_ALL to approve)"
fi
qtp_ok "FLATTEN_ALL: $N_FLAT_SELL closing sells, 0 buys"

if [ -n "${QTP_DRILL_OUT:-}" ]; then
    jq -n --argjson speed "$SPEED" --argjson flat "$FLAT_MS" --argjson open "$OPEN_AT_FLATTEN" \
        --argjson evh "$(((EV_FLAT - EV_RAISE) / 3600000))" --argjson bt "$N_BUY_T" \
        --arg rt "$RATIO_T" --arg rn "$RATIO_NORMAL" --argjson nn "$N_NONEW" \
        --argjson nnr "$N_NONEW_BUY_NO" --argjson fs "$N_FLAT_SELL" \
        '{speed_batches_per_s: $speed, flatten_wall_ms: $flat, open_positions_at_flatten: $open,
          flatten_event_hours: $evh, throttle_buys: $bt, throttle_mean_ratio: $rt,
          normal_mean_ratio: $rn, no_new_decisions: $nn, no_new_buys_rejected: $nnr,
          flatten_sells: $fs}' >"$QTP_DRILL_OUT"
fi
qtp_run_down
qtp_pass
