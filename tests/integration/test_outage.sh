#!/usr/bin/env bash
# Outage drills on the whole pipeline: the Kafka broker, then Redis, goes away in the
# middle of a paced replay of real data, and comes back on the same port with the same
# storage (scripts/test-stack stop-kafka/start-kafka, stop-redis/start-redis). Three runs
# of the same slice (33 pairs, 2022-06-01 .. 2022-07-15), each on its own fresh Redis +
# Kafka (tests/integration/lib_pipeline.sh), all paced with ARGS_ingest="--speed N":
#   clean:  undisturbed (the reference summary and fills; no KILL_SWITCH reject at all).
#   kafka:  the broker is stopped for QTP_KAFKA_DOWN s (default 9) once the replay is
#           QTP_OUTAGE_AT s (default 8) past risk's first checkpoint. Producers queue and
#           flushes time out, so no stage checkpoints past undelivered output; nothing
#           is lost (the outage is far below message.timeout.ms = 30 s), so:
#           - no service exited or was restarted (qt_stage exits 1 only when a delivery
#             definitively FAILED, which must not happen here);
#           - the kill switch is still NORMAL (heartbeats go over ZeroMQ);
#           - final recon ok, orders == intents, one fill_id per client_order_id;
#           - summary.json equal to the clean run's in every field but
#             duplicate_events_dropped, and the same fills.
#   redis:  Redis is stopped for QTP_REDIS_DOWN s (default 3.5, under the 5 s heartbeat
#           SLA of configs/slas.yml) at the same point. test-stack runs Redis with
#           appendonly yes and stops it with SIGTERM, so nothing written is lost: checked
#           (the kill switch hash and every checkpoint key are identical across the
#           restart). The services fail closed and wait:
#           - no service exited or was restarted;
#           - qt-risk read the kill switch as NO_NEW while Redis was down: qt.decisions
#             holds KILL_SWITCH rejects, every one published (publish_time_ns, wall
#             clock) between the stop and Redis being back (+1 s for the 250 ms cache);
#           - checkpoints resume after Redis returns (every stage's qt:ckpt:* changes);
#           - the kill switch is NORMAL at the end (the watchdog raised nothing);
#           - final recon ok, orders == intents, one fill_id per client_order_id.
#           Its results may legitimately differ from the clean run (fail-closed changes
#           decisions): the differences are printed, not asserted.
# It prints the outage lengths, the time each service took to checkpoint again after the
# broker / Redis was back, and the rejects made during the Redis outage.
#
# Usage: BUILD_DIR=build tests/integration/test_outage.sh   (or through scripts/run-tests)
# Env: QT_DATA_DIR, QTP_OUTAGE_SPEED (batches/s, default 10), QTP_OUTAGE_AT (s, default 8),
#      QTP_KAFKA_DOWN (s, default 9), QTP_REDIS_DOWN (s, default 3.5), QTP_REDIS_SPEED
#      (batches/s of the Redis run, default 3: must stay below 4, the 250 ms kill-switch cache).
#      QTP_OUTAGE_ONLY=kafka|redis: the clean run and that drill only (default: both).
set -euo pipefail
# shellcheck source=tests/integration/lib_pipeline.sh
. "$(dirname "$0")/lib_pipeline.sh"
qtp_init

START="2022-06-01T00:00:00Z"
END="2022-07-15T00:00:00Z"
SPEED="${QTP_OUTAGE_SPEED:-10}"
OUTAGE_AT="${QTP_OUTAGE_AT:-8}"
KAFKA_DOWN="${QTP_KAFKA_DOWN:-9}"
REDIS_DOWN="${QTP_REDIS_DOWN:-3.5}"
REDIS_SPEED="${QTP_REDIS_SPEED:-3}"
SLA_MS=$(awk '/^  qt-risk:/ { if (match($0, /heartbeat_sla_ms: *[0-9]+/)) { v = substr($0, RSTART, RLENGTH); sub(/.*: */, "", v); print v } }' \
    "$QTP_ROOT/configs/slas.yml")
[ -n "$SLA_MS" ] || qtp_fail "qt-risk heartbeat_sla_ms not found in configs/slas.yml"
[ "$(echo "$REDIS_DOWN * 1000 < $SLA_MS" | bc)" = 1 ] \
    || qtp_fail "QTP_REDIS_DOWN=$REDIS_DOWN s is not below the watchdog SLA ($SLA_MS ms)"
S_MS=$(qtp_iso_ms "$START")
E_MS=$(qtp_iso_ms "$END")
EXP_TIMES=$(qtp_window_times "$S_MS" "$E_MS")
echo "window $START .. $END: $EXP_TIMES batches at $SPEED/s (~$((EXP_TIMES / SPEED)) s per run)"

# The stages that checkpoint in Redis (qt:ckpt:<name>), and recon's report.
CKPT_SERVICES="ingest features models optimizer risk exec"
now_s() { date +%s.%N; }
dt() { printf '%.2f' "$(echo "$2 - $1" | bc)"; } # from to -> seconds

# A fingerprint of every checkpoint (the sealed record's header carries its sequence, so
# it changes at every save) and of recon's last report: "name=md5 ..." (name=- if absent
# or Redis unreachable).
ckpt_sigs() {
    local s out="" v
    for s in $CKPT_SERVICES; do
        v="$(qtp_redis GETRANGE "qt:ckpt:qt-$s" 0 255 2>/dev/null | md5sum | cut -c1-12)" || v=-
        out="$out $s=$v"
    done
    v="$(qtp_redis GET qt:recon:last 2>/dev/null | md5sum | cut -c1-12)" || v=-
    echo "${out# } recon=$v"
}

# After an outage ended at T_BACK (epoch s, fractional), with SIGS the fingerprints at
# that moment: waits (up to 60 s) until every service's fingerprint changed, and prints
# "name=seconds" per service (time from T_BACK to its first checkpoint/report) in
# RECOVERY, the slowest in RECOVERY_MAX. A service whose fingerprint never changes fails
# the test, unless the replay ended before the outage did.
wait_recovery() { # t_back sigs
    local t_back="$1" sigs="$2" pending now cur s old new
    declare -A seen=()
    pending="$CKPT_SERVICES recon"
    RECOVERY=""
    RECOVERY_MAX=0
    while [ -n "$pending" ]; do
        now=$(now_s)
        [ "$(echo "$now - $t_back < 60" | bc)" = 1 ] \
            || { qtp_dump_logs; qtp_fail "no new checkpoint from:$pending within 60 s of the outage's end"; }
        cur="$(ckpt_sigs)"
        for s in $pending; do
            old="$(echo " $sigs" | sed -nE "s/.* $s=([^ ]+).*/\1/p")"
            new="$(echo " $cur" | sed -nE "s/.* $s=([^ ]+).*/\1/p")"
            if [ "$new" != "$old" ] && [ "$new" != - ]; then
                seen[$s]="$(dt "$t_back" "$now")"
            fi
        done
        pending=""
        for s in $CKPT_SERVICES recon; do
            [ -n "${seen[$s]:-}" ] || pending="$pending $s"
        done
        [ -z "$pending" ] || sleep 0.05
    done
    for s in $CKPT_SERVICES recon; do
        RECOVERY="$RECOVERY $s=${seen[$s]}s"
        [ "$(echo "${seen[$s]} > $RECOVERY_MAX" | bc)" = 0 ] || RECOVERY_MAX="${seen[$s]}"
    done
    RECOVERY="${RECOVERY# }"
}

# Waits until the replay is OUTAGE_AT s past risk's first checkpoint (mid-run), then
# fails if it already ended (the outage would not fall mid-run).
wait_mid_run() {
    for _ in $(seq 1 150); do
        [ "$(qtp_redis EXISTS qt:ckpt:qt-risk)" = 1 ] && break
        sleep 0.1
    done
    [ "$(qtp_redis EXISTS qt:ckpt:qt-risk)" = 1 ] || { qtp_dump_logs; qtp_fail "qt-risk never checkpointed (15 s)"; }
    sleep "$OUTAGE_AT"
    final_seen && qtp_fail "the replay ended before the outage: slow it down (QTP_OUTAGE_SPEED=$SPEED)"
    return 0
}
final_seen() { [ "$(qtp_redis GET qt:recon:last 2>/dev/null | jq -r '.recon.final // .final // false' 2>/dev/null)" = true ]; }

# Fills (distinct, sorted) in fills.tsv and the one-fill-per-order / identical-copies
# check, on the current run.
collect_fills() {
    qtp_tail qt.fills "$QTP_RUN/fills.jsonl"
    qtp_fills_table "$QTP_RUN/fills.jsonl" | sort >"$QTP_RUN/fills.tsv"
}
check_one_fill_per_order() { # label
    local bad ids distinct
    bad=$(jq -r 'select(.envelope.fill != null) | .envelope.fill | [.client_order_id, .fill_id] | @tsv' "$QTP_RUN/fills.jsonl" \
        | sort -u | cut -f1 | uniq -d)
    [ -z "$bad" ] || qtp_fail "$1: client_order_ids with more than one distinct fill_id: $(echo "$bad" | head -5 | tr '\n' ' ')"
    ids=$(jq -r 'select(.envelope.fill != null) | .envelope.fill.fill_id' "$QTP_RUN/fills.jsonl" | sort -u | wc -l)
    distinct=$(jq -c 'select(.envelope.fill != null) | [.envelope.event_time_ns, .envelope.fill]' "$QTP_RUN/fills.jsonl" | sort -u | wc -l)
    qtp_eq "$1: distinct fills vs distinct fill_ids (copies of a fill differ)" "$distinct" "$ids"
    qtp_ok "$1: one fill_id per client_order_id, copies identical ($ids fills)"
}
# Decisions as "intent_id approved codes publish_time_ns", first copy per intent_id.
collect_decisions() {
    qtp_tail qt.decisions "$QTP_RUN/decisions.jsonl"
    jq -r 'select(.envelope.decision != null)
           | [.envelope.decision.intent_id, (.envelope.decision.approved|tostring),
              ([.envelope.decision.reasons[]?.code] | join(",")), (.envelope.publish_time_ns|tostring)] | @tsv' \
        "$QTP_RUN/decisions.jsonl" | awk -F'\t' '!seen[$1]++' >"$QTP_RUN/decisions.tsv"
}
ks_rejects() { awk -F'\t' '$2 == "false" && $3 ~ /(^|,)KILL_SWITCH(,|$)/' "$1"; }
sj() { jq -r "$2" "$1/summary.json"; }
common_checks() { # label
    local run="$QTP_RUN"
    [ "$(sj "$run" .recon.ok)" = true ] || qtp_fail "$1: recon.ok is $(sj "$run" .recon.ok) ($(sj "$run" .recon.mismatches) mismatches)"
    qtp_eq "$1: recon mismatches" "$(sj "$run" .recon.mismatches)" 0
    qtp_eq "$1: orders vs intents (lost intents)" "$(sj "$run" .orders)" "$(sj "$run" .intents)"
    qtp_eq "$1: bars" "$(sj "$run" .bars)" "$(sj "$CLEAN" .bars)"
    qtp_eq "$1: targets (every batch went through)" "$(sj "$run" .targets)" "$EXP_TIMES"
    qtp_ok "$1: recon ok, orders $(sj "$run" .orders) == intents $(sj "$run" .intents), all $EXP_TIMES batches"
}
no_output_lost() { # label
    ! grep -l '"stage_output_lost"\|kafka_delivery_failed' "$QTP_VAR"/log/*.log >&2 \
        || qtp_fail "$1: a Kafka delivery failed (files above): output was lost"
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
collect_decisions
CLEAN="$QTP_RUN"
[ "$(sj "$CLEAN" .fills)" -gt 0 ] || qtp_fail "clean run: no fills"
common_checks "clean run"
CLEAN_KS=$(ks_rejects "$CLEAN/decisions.tsv" | wc -l)
qtp_eq "clean run: KILL_SWITCH rejects" "$CLEAN_KS" 0
echo "clean run: $(($(date +%s) - T0)) s, fills $(sj "$CLEAN" .fills), rejects $(sj "$CLEAN" .rejects), pnl $(sj "$CLEAN" .pnl)"
qtp_run_down
qtp_clean_exits

# The aimed batch of the Redis drill: the first batch past a third of the window in which
# the clean run had a buy decision (so NO_NEW has something to reject), and the batch
# before it (the trigger).
TIMES=($(jq -n --argjson s "$S_MS" --argjson e "$E_MS" '[inputs | .[] | select(.[0] >= $s and .[0] <= $e) | .[0]] | unique | .[]' "$QTP_SRC"/$QTP_GLOB))
BUY_TIMES=" $(jq -r 'select(.envelope.decision.side == "SIDE_BUY") | .envelope.decision.bar_time_ms | tostring' "$CLEAN/decisions.jsonl" | sort -u | paste -sd' ') "
AIM=""
for ((i = ${#TIMES[@]} / 3; i < ${#TIMES[@]}; i++)); do
    case "$BUY_TIMES" in *" ${TIMES[$i]} "*) AIM="${TIMES[$i]}"; PREV="${TIMES[$((i - 1))]}"; AIM_I=$i; break ;; esac
done
[ -n "$AIM" ] || qtp_fail "clean run: no buy decision in the last two thirds of the window"
echo "Redis drill aimed at batch $AIM_I ($(date -u -d @$((AIM / 1000)) +%FT%TZ), $(jq -r --arg t "$AIM" 'select(.envelope.decision.side == "SIDE_BUY" and (.envelope.decision.bar_time_ms|tostring) == $t) | .envelope.decision.symbol' "$CLEAN/decisions.jsonl" | sort -u | wc -l) buy decision(s) in the clean run)"

# ================================================================== Kafka down
if [ "${QTP_OUTAGE_ONLY:-kafka}" = kafka ] || [ "${QTP_OUTAGE_ONLY:-}" = "" ]; then
T0=$(date +%s)
qtp_run_new kafka "$START" "$END"
qtp_killswitch_normal
qtp_services_up ARGS_ingest="--speed $SPEED"
wait_mid_run
K_STOP0=$(now_s)
"$QTP_ROOT/scripts/test-stack" stop-kafka "$QTP_RUN" >"$QTP_RUN/stop-kafka.out" 2>&1 \
    || { cat "$QTP_RUN/stop-kafka.out" >&2; qtp_fail "test-stack stop-kafka failed"; }
K_STOP1=$(now_s)
qtp_note "Kafka stopped ($(dt "$K_STOP0" "$K_STOP1") s to shut down)"
sleep "$KAFKA_DOWN"
final_seen && qtp_fail "the replay ended while Kafka was down"
K_SIGS="$(ckpt_sigs)"   # nothing can checkpoint with the broker down (no flush succeeds)
K_START0=$(now_s)
"$QTP_ROOT/scripts/test-stack" start-kafka "$QTP_RUN" >"$QTP_RUN/start-kafka.out" 2>&1 \
    || { cat "$QTP_RUN/start-kafka.out" >&2; qtp_fail "test-stack start-kafka failed"; }
K_BACK=$(now_s)
qtp_note "Kafka back ($(dt "$K_START0" "$K_BACK") s to start)"
wait_recovery "$K_BACK" "$K_SIGS"
K_RECOVERY="$RECOVERY"
K_RECOVERY_MAX="$RECOVERY_MAX"
qtp_note "every service checkpointed again within $K_RECOVERY_MAX s: $K_RECOVERY"
qtp_wait_recon 300
K_TIER="$(qtp_redis HGET qt:killswitch tier)"
qtp_report "$QTP_RUN/summary.json"
collect_fills
collect_decisions
KAFKA="$QTP_RUN"
qtp_restarts
K_RESTARTS="$QTP_RESTARTS_BY"
K_FLUSH_RETRIES=$(grep -c '"stage_flush_retry"\|"batch_retry"\|"flush_failed"' "$QTP_VAR"/log/*.log | awk -F: '{ n += $2 } END { print n + 0 }')
echo "kafka run: $(($(date +%s) - T0)) s; broker down $(dt "$K_STOP0" "$K_BACK") s (stop issued -> ready again; $(dt "$K_STOP1" "$K_START0") s fully down)"
echo "  time to first checkpoint after the broker was back: $K_RECOVERY"
echo "  supervisord restarts: $K_RESTARTS; flush-retry log lines: $K_FLUSH_RETRIES; duplicates dropped by qt-report: $(sj "$KAFKA" .duplicate_events_dropped)"
[ "$QTP_RESTARTS" = 0 ] || { qtp_dump_logs; qtp_fail "kafka run: services exited and were restarted: $K_RESTARTS"; }
no_output_lost "kafka run"
qtp_eq "kafka run: kill switch tier (set by $(qtp_redis HGET qt:killswitch set_by))" "$K_TIER" NORMAL
common_checks "kafka run"
check_one_fill_per_order "kafka run"
qtp_eq "kafka run: KILL_SWITCH rejects" "$(ks_rejects "$KAFKA/decisions.tsv" | wc -l)" 0
jq -S 'del(.duplicate_events_dropped)' "$CLEAN/summary.json" >"$QTP_TMP/clean.cmp"
jq -S 'del(.duplicate_events_dropped)' "$KAFKA/summary.json" >"$QTP_TMP/kafka.cmp"
if ! cmp -s "$QTP_TMP/clean.cmp" "$QTP_TMP/kafka.cmp"; then
    diff "$QTP_TMP/clean.cmp" "$QTP_TMP/kafka.cmp" >&2 || true
    qtp_fail "the Kafka-outage run's summary differs from the clean run's (diff above: < clean, > kafka)"
fi
if ! cmp -s "$CLEAN/fills.tsv" "$KAFKA/fills.tsv"; then
    diff "$CLEAN/fills.tsv" "$KAFKA/fills.tsv" | head -20 >&2 || true
    qtp_fail "the Kafka-outage run's fills differ from the clean run's (< clean, > kafka)"
fi
qtp_ok "kafka run == clean run: fills $(sj "$KAFKA" .fills), orders $(sj "$KAFKA" .orders), pnl $(sj "$KAFKA" .pnl), kill switch NORMAL, no restart"
qtp_run_down
fi

# ================================================================== Redis down
if [ "${QTP_OUTAGE_ONLY:-redis}" = redis ] || [ "${QTP_OUTAGE_ONLY:-}" = "" ]; then
T0=$(date +%s)
qtp_run_new redis "$START" "$END"
qtp_eq "redis run: Redis appendonly" "$(qtp_redis CONFIG GET appendonly | tail -1)" yes
qtp_killswitch_normal
qtp_services_up ARGS_ingest="--speed $REDIS_SPEED"
# Aim: stop Redis right after qt-risk finished batch PREV (its risk.watermark, published
# after its decisions and just before its checkpoint), PREV being the batch before AIM.
# Redis refuses connections ~0.1 s after SIGTERM, the next batch reaches risk 1/speed s
# later (more than the 250 ms kill-switch cache), so risk has to read the tier for AIM
# with Redis down. Only that one batch can be decided during the outage: every stage
# blocks in its checkpoint retry loop right after it (qt_stage.c stage_checkpoint).
for _ in $(seq 1 150); do
    [ "$(qtp_redis EXISTS qt:ckpt:qt-risk)" = 1 ] && break
    sleep 0.1
done
KS_BEFORE="$(qtp_redis HGETALL qt:killswitch | paste -sd' ')"
HIT=""
while IFS= read -r line; do
    t="$(jq -r '.envelope.watermark.event_time_ms | tostring' <<<"$line")"
    if [ "$t" = "$PREV" ]; then HIT=1; break; fi
    [ "$t" -lt "$PREV" ] 2>/dev/null || break
done < <("$QTP_BIN/qt-tail" --config "$QTP_CFG" zmq qt-risk risk.watermark --timeout 200 2>"$QTP_RUN/aim.err")
[ -n "$HIT" ] || { cat "$QTP_RUN/aim.err" >&2; qtp_fail "redis run: did not see qt-risk's watermark for batch $PREV (last seen: ${t:-none})"; }
R_STOP0=$(now_s)
"$QTP_ROOT/scripts/test-stack" stop-redis "$QTP_RUN" >"$QTP_RUN/stop-redis.out" 2>&1 \
    || { cat "$QTP_RUN/stop-redis.out" >&2; qtp_fail "test-stack stop-redis failed"; }
R_STOP1=$(now_s)
qtp_note "Redis stopped ($(dt "$R_STOP0" "$R_STOP1") s to shut down)"
# Down for REDIS_DOWN s in all, counted from the stop command.
REST=$(echo "$REDIS_DOWN - ($(now_s) - $R_STOP0)" | bc)
[ "$(echo "$REST > 0" | bc)" = 0 ] || sleep "$REST"
# The keys as the AOF kept them, read right after the restart,
# before any service could write (services retry every 100 ms .. 2 s).
R_START0=$(now_s)
"$QTP_ROOT/scripts/test-stack" start-redis "$QTP_RUN" >"$QTP_RUN/start-redis.out" 2>&1 \
    || { cat "$QTP_RUN/start-redis.out" >&2; qtp_fail "test-stack start-redis failed"; }
R_BACK=$(now_s)
R_SIGS="$(ckpt_sigs)"
KS_AFTER="$(qtp_redis HGETALL qt:killswitch | paste -sd' ')"
qtp_note "Redis back ($(dt "$R_START0" "$R_BACK") s to start): down $(dt "$R_STOP0" "$R_BACK") s"
[ "$KS_AFTER" = "$KS_BEFORE" ] \
    || qtp_fail "the kill switch did not survive the Redis restart: before '$KS_BEFORE', after '$KS_AFTER' (data lost)"
for s in $CKPT_SERVICES; do
    [ "$(qtp_redis EXISTS "qt:ckpt:qt-$s")" = 1 ] || qtp_fail "qt:ckpt:qt-$s missing after the Redis restart (data lost)"
done
qtp_ok "Redis restart kept the kill switch ($KS_AFTER) and every checkpoint (appendonly yes, SIGTERM)"
wait_recovery "$R_BACK" "$R_SIGS"
R_RECOVERY="$RECOVERY"
R_RECOVERY_MAX="$RECOVERY_MAX"
qtp_note "every service checkpointed again within $R_RECOVERY_MAX s: $R_RECOVERY"
qtp_wait_recon 300
R_TIER="$(qtp_redis HGET qt:killswitch tier)"
qtp_report "$QTP_RUN/summary.json"
collect_fills
collect_decisions
REDIS="$QTP_RUN"
qtp_restarts
R_RESTARTS="$QTP_RESTARTS_BY"
ks_rejects "$REDIS/decisions.tsv" >"$REDIS/ks_rejects.tsv"
R_KS=$(wc -l <"$REDIS/ks_rejects.tsv")
# Window in ns: from the stop command to Redis back + 1 s (250 ms kill-switch cache and
# scheduling).
W0=$(echo "$R_STOP0 * 1000000000 / 1" | bc)
W1=$(echo "($R_BACK + 1) * 1000000000 / 1" | bc)
OUTSIDE=$(awk -F'\t' -v a="$W0" -v b="$W1" '$4 < a || $4 > b' "$REDIS/ks_rejects.tsv")
KS_BATCHES=$(cut -f1 "$REDIS/ks_rejects.tsv" | cut -d- -f1 | sort -u | paste -sd' ')
echo "redis run: $(($(date +%s) - T0)) s; Redis down $(dt "$R_STOP0" "$R_BACK") s (stop issued -> answering PING again)"
echo "  time to first checkpoint after Redis was back: $R_RECOVERY"
echo "  KILL_SWITCH rejects (fail closed) during the outage: $R_KS, in batch(es) $KS_BATCHES; exec_rejected $(sj "$REDIS" .exec_rejected)"
awk -F'\t' -v a="$W0" '{ printf "    %s %s published %.2f s after the stop\n", $1, $3, ($4 - a) / 1e9 }' "$REDIS/ks_rejects.tsv" | head -20
echo "  supervisord restarts: $R_RESTARTS; duplicates dropped by qt-report: $(sj "$REDIS" .duplicate_events_dropped)"
[ "$QTP_RESTARTS" = 0 ] || { qtp_dump_logs; qtp_fail "redis run: services exited and were restarted: $R_RESTARTS"; }
qtp_eq "redis run: kill switch tier at the end (set by $(qtp_redis HGET qt:killswitch set_by): $(qtp_redis HGET qt:killswitch reason))" "$R_TIER" NORMAL
[ "$R_KS" -gt 0 ] || qtp_fail "redis run: no KILL_SWITCH reject on qt.decisions: qt-risk did not fail closed while Redis was down"
[ -z "$OUTSIDE" ] || { echo "$OUTSIDE" >&2; qtp_fail "redis run: KILL_SWITCH rejects published outside the outage (above; window $W0..$W1 ns)"; }
qtp_eq "redis run: batches with KILL_SWITCH rejects (only the aimed one)" "$KS_BATCHES" "$AIM"
qtp_ok "redis run: qt-risk failed closed: $R_KS KILL_SWITCH rejects, all published while Redis was down"
common_checks "redis run"
check_one_fill_per_order "redis run"
echo "redis run vs clean run (expected to differ only through the fail-closed decisions):"
for k in intents rejects decisions orders fills expired exec_rejected cash fees equity pnl; do
    c="$(sj "$CLEAN" ".$k")"
    r="$(sj "$REDIS" ".$k")"
    [ "$c" = "$r" ] && printf '  %-14s %s (same)\n' "$k" "$c" || printf '  %-14s clean %s, redis %s\n' "$k" "$c" "$r"
done
printf '  %-14s clean %s\n  %-14s redis %s\n' positions "$(jq -c .positions "$CLEAN/summary.json")" "" "$(jq -c .positions "$REDIS/summary.json")"
echo "  fills only in clean: $(comm -23 "$CLEAN/fills.tsv" "$REDIS/fills.tsv" | wc -l), only in redis run: $(comm -13 "$CLEAN/fills.tsv" "$REDIS/fills.tsv" | wc -l)"
qtp_run_down
fi

qtp_pass
echo "test_outage: all checks passed in $(qtp_elapsed) s"
