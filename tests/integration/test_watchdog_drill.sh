#!/usr/bin/env bash
# Watchdog drill (dead-man's switch, invariant 3): with all eight services running and the
# kill switch NORMAL, stop qt-risk (a required service, configs/slas.yml) and require that
# qt-watchdog raises the kill switch to FLATTEN_ALL (the tier slas.yml gives qt-risk) in Redis, attributed to itself and naming
# qt-risk, within the SLA + 1 s of risk's last heartbeat. Also require that stopping a
# service that is not required (qt-models) raises nothing.
#
# Real processes, real heartbeats over ZeroMQ, real Redis: nothing is simulated here (the
# decision logic itself is unit-tested with a simulated clock in tests/unit/test_watchdog.c).
#
# Usage: BUILD_DIR=build tests/integration/test_watchdog_drill.sh   (or through scripts/run-tests)
set -euo pipefail
# shellcheck source=tests/integration/lib_pipeline.sh
. "$(dirname "$0")/lib_pipeline.sh"
qtp_init

SLA_MS=$(awk '/^  qt-risk:/ { if (match($0, /heartbeat_sla_ms: *[0-9]+/)) { v = substr($0, RSTART, RLENGTH); sub(/.*: */, "", v); print v } }' \
    "$QTP_ROOT/configs/slas.yml")
[ -n "$SLA_MS" ] || qtp_fail "qt-risk heartbeat_sla_ms not found in configs/slas.yml"
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# A short window: the replay ends in a few seconds, the services keep heartbeating after.
qtp_run_new drill "2022-06-01T00:00:00Z" "2022-06-03T00:00:00Z"
qtp_killswitch_normal
qtp_services_up
qtp_wait_recon 120
# Past the watchdog's start-up grace (= the SLA): every service has been seen by now.
sleep $(( (SLA_MS + 999) / 1000 + 1 ))
[ "$(qtp_redis HGET qt:killswitch tier)" = NORMAL ] \
    || qtp_fail "kill switch left NORMAL before the drill: $(qtp_redis HGETALL qt:killswitch | tr '\n' ' ')"

# 1. A service that is not required goes silent: nothing is raised.
"$QTP_ROOT/scripts/services" ctl "$QTP_VAR" stop qt-models >/dev/null
sleep $(( (SLA_MS + 999) / 1000 + 2 ))
[ "$(qtp_redis HGET qt:killswitch tier)" = NORMAL ] \
    || qtp_fail "the watchdog raised the kill switch for qt-models, which is not required: $(qtp_redis HGETALL qt:killswitch | tr '\n' ' ')"
qtp_ok "qt-models silent for more than its SLA: kill switch still NORMAL (not required)"

# 2. A required service goes silent: FLATTEN_ALL within SLA + 1 s of its last heartbeat.
# Its heartbeat goes out every heartbeat.interval_ms (1 s), so the last one is at most 1 s
# before the stop; the bound measured from the stop is SLA + 1 s.
"$QTP_ROOT/scripts/services" ctl "$QTP_VAR" stop qt-risk >/dev/null
STOP_MS=$(now_ms)
DEADLINE_MS=$((STOP_MS + SLA_MS + 1000 + 1000))   # + 1 s: the last beat may precede the stop
TIER=""
while [ "$(now_ms)" -le $((DEADLINE_MS + 5000)) ]; do
    TIER="$(qtp_redis HGET qt:killswitch tier)"
    [ "$TIER" = FLATTEN_ALL ] && break
    sleep 0.1
done
RAISED_MS=$(now_ms)
[ "$TIER" = FLATTEN_ALL ] || qtp_fail "kill switch not raised to FLATTEN_ALL $((SLA_MS + 7000)) ms after stopping qt-risk (tier $TIER)"
[ "$RAISED_MS" -le "$DEADLINE_MS" ] \
    || qtp_fail "FLATTEN_ALL raised $((RAISED_MS - STOP_MS)) ms after qt-risk stopped: over SLA $SLA_MS ms + 1 s (+1 s heartbeat interval)"
BY="$(qtp_redis HGET qt:killswitch set_by)"
REASON="$(qtp_redis HGET qt:killswitch reason)"
qtp_eq "kill switch raised by" "$BY" qt-watchdog
case "$REASON" in *qt-risk*) ;; *) qtp_fail "kill switch reason does not name qt-risk: '$REASON'" ;; esac
qtp_ok "qt-risk stopped: FLATTEN_ALL by qt-watchdog after $((RAISED_MS - STOP_MS)) ms (SLA $SLA_MS ms): $REASON"

# 3. The watchdog never lowers it: bring risk back, the tier stays FLATTEN_ALL.
"$QTP_ROOT/scripts/services" ctl "$QTP_VAR" start qt-risk >/dev/null
sleep 3
qtp_eq "tier after qt-risk came back (the watchdog never lowers)" "$(qtp_redis HGET qt:killswitch tier)" FLATTEN_ALL
qtp_ok "the watchdog does not lower the kill switch when the service returns"
qtp_pass
