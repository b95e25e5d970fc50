#!/usr/bin/env bash
# Dead-man drill (issue 7): with the eight services running and the kill switch NORMAL,
# qt-exec dies; measure the time until qt-watchdog raises the tier configured for it in
# configs/slas.yml (FLATTEN_ALL: losing execution must unwind, not just stop opening).
#
# How qt-exec "dies" without supervisord resurrecting it (autorestart would hide the
# silence): SIGSTOP first (from that instant the process is silent: no heartbeat), then
# `supervisorctl stop` in the background, which ends it with SIGKILL after stopwaitsecs
# (a stopped process cannot honour SIGTERM) and marks it STOPPED, so it is not restarted.
#
# Measured (printed, and written to $QTP_DRILL_OUT when set, as JSON):
#   kill_to_written_ms       SIGSTOP -> set_at_ms the watchdog wrote with FLATTEN_ALL
#   kill_to_seen_ms          SIGSTOP -> this script saw FLATTEN_ALL in Redis (50 ms polls)
#   silence_at_detection_ms  from the watchdog's reason: last heartbeat -> decision
# Asserted: tier FLATTEN_ALL, set_by qt-watchdog, trigger watchdog, reason names qt-exec,
# silence_at_detection <= SLA + 1 s, kill_to_written <= SLA + 2 s (the last beat may
# precede the kill by up to one heartbeat interval).
#
# Usage: BUILD_DIR=build tests/integration/test_deadman_drill.sh
set -euo pipefail
# shellcheck source=tests/integration/lib_pipeline.sh
. "$(dirname "$0")/lib_pipeline.sh"
qtp_init

sla_of() { # service
    awk -v s="  $1:" 'index($0, s) == 1 { if (match($0, /heartbeat_sla_ms: *[0-9]+/)) { v = substr($0, RSTART, RLENGTH); sub(/.*: */, "", v); print v } }' \
        "$QTP_ROOT/configs/slas.yml"
}
SLA_MS="$(sla_of qt-exec)"
[ -n "$SLA_MS" ] || qtp_fail "qt-exec heartbeat_sla_ms not found in configs/slas.yml"
grep -qE '^  qt-exec: .*tier: FLATTEN_ALL' "$QTP_ROOT/configs/slas.yml" \
    || qtp_fail "configs/slas.yml: qt-exec is not configured with tier: FLATTEN_ALL"
now_ms() { echo $(($(date +%s%N) / 1000000)); }

qtp_run_new deadman "2022-06-01T00:00:00Z" "2022-06-03T00:00:00Z"
qtp_killswitch_normal
qtp_services_up
qtp_wait_recon 180
# Past the watchdog's start-up grace (= the SLA): every service has been seen by now.
sleep $(((SLA_MS + 999) / 1000 + 1))
[ "$(qtp_redis HGET qt:killswitch tier)" = NORMAL ] \
    || qtp_fail "kill switch not NORMAL before the drill: $(qtp_redis HGETALL qt:killswitch | tr '\n' ' ')"

PID="$("$QTP_ROOT/scripts/services" ctl "$QTP_VAR" pid qt-exec)"
case "$PID" in '' | *[!0-9]* | 0) qtp_fail "qt-exec not running (pid '$PID')" ;; esac
kill -STOP "$PID"
KILL_MS=$(now_ms)
("$QTP_ROOT/scripts/services" ctl "$QTP_VAR" stop qt-exec >"$QTP_RUN/stop-exec.out" 2>&1 || true) &
STOPPER=$!
TIER=""
while [ "$(now_ms)" -le $((KILL_MS + SLA_MS + 10000)) ]; do
    TIER="$(qtp_redis HGET qt:killswitch tier)"
    [ "$TIER" = FLATTEN_ALL ] && break
    sleep 0.05
done
RAISED_MS=$(now_ms)
[ "$TIER" = FLATTEN_ALL ] || qtp_fail "kill switch not FLATTEN_ALL $((SLA_MS + 10000)) ms after qt-exec stopped (tier $TIER)"
SET_AT="$(qtp_redis HGET qt:killswitch set_at_ms)"
BY="$(qtp_redis HGET qt:killswitch set_by)"
TRIGGER="$(qtp_redis HGET qt:killswitch trigger)"
REASON="$(qtp_redis HGET qt:killswitch reason)"
qtp_eq "raised by" "$BY" qt-watchdog
qtp_eq "trigger" "$TRIGGER" watchdog
case "$REASON" in *qt-exec*) ;; *) qtp_fail "reason does not name qt-exec: '$REASON'" ;; esac
KILL_TO_RAISE=$((RAISED_MS - KILL_MS))
KILL_TO_SET=$((SET_AT - KILL_MS))
[ "$KILL_TO_SET" -le $((SLA_MS + 2000)) ] \
    || qtp_fail "FLATTEN_ALL written $KILL_TO_SET ms after qt-exec died: over SLA $SLA_MS ms + 1 s (+1 s heartbeat interval)"
# The watchdog's own reason carries the measured silence: "(<age> ms > sla <sla> ms)".
AGE_MS="$(printf '%s' "$REASON" | sed -nE 's/.*\(([0-9]+) ms > sla.*/\1/p')"
[ -n "$AGE_MS" ] || qtp_fail "no age in the reason '$REASON'"
[ "$AGE_MS" -le $((SLA_MS + 1000)) ] || qtp_fail "detected $AGE_MS ms after the last heartbeat: over SLA + 1 s"
qtp_ok "qt-exec killed: FLATTEN_ALL by qt-watchdog written $KILL_TO_SET ms after the kill (seen by this poll after $KILL_TO_RAISE ms); silence at detection $AGE_MS ms (SLA $SLA_MS ms): $REASON"

# The watchdog never lowers it; it stays FLATTEN_ALL while exec is gone.
sleep 2
qtp_eq "tier 2 s later" "$(qtp_redis HGET qt:killswitch tier)" FLATTEN_ALL
wait "$STOPPER" || true
if [ -n "${QTP_DRILL_OUT:-}" ]; then
    jq -n --argjson sla "$SLA_MS" --argjson k2s "$KILL_TO_SET" --argjson k2r "$KILL_TO_RAISE" \
        --argjson age "$AGE_MS" --arg reason "$REASON" \
        '{sla_ms: $sla, kill_to_written_ms: $k2s, kill_to_seen_ms: $k2r, silence_at_detection_ms: $age, reason: $reason}' \
        >"$QTP_DRILL_OUT"
fi
qtp_run_down
qtp_pass
