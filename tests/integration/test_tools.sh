#!/usr/bin/env bash
# Integration test of the operator tools (qtctl, qt-tail, qt-bench) against a real Redis
# and Kafka (scripts/run-tests provides them: QT_REDIS_HOST, QT_REDIS_PORT,
# QT_KAFKA_BROKERS, BUILD_DIR). Exits non-zero on the first failed check.
#
# What it asserts:
#   - kill switch: `get` on an absent key reports absent / NO_NEW (fail closed); set/raise
#     never lower; one operator's approval, the same operator twice, a forged token and an
#     operator without a key never lower; two distinct operators' approvals do (version 1,
#     approved_by both), a raise voids a pending approval; bad tiers and missing --reason
#     are usage errors (exit 2); Redis unreachable is a clear error (exit 1)
#   - qt-tail kafka prints valid JSON lines for the KillSwitch envelopes qtctl mirrored
#     to the control topic (a per-run topic via QT_TOPICS_CONTROL, so the content is
#     exactly what this test produced)
#   - qtctl status exits 1 when services are down, 0 when every service answers /status
#     (a static HTTP server stands in for a service), and --json is one valid object
#   - qtctl wait-recon: timeout -> 3, final ok -> 0, final not ok -> 1
#   - qt-tail zmq with nothing published: --timeout expires -> 3; qt-bench machine/rss JSON
set -euo pipefail
cd "$(dirname "$0")/../.."

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
ok() { echo "ok: $*"; }

: "${QT_REDIS_HOST:?QT_REDIS_HOST not set: run through scripts/run-tests (real Redis needed)}"
: "${QT_REDIS_PORT:?QT_REDIS_PORT not set: run through scripts/run-tests (real Redis needed)}"
: "${QT_KAFKA_BROKERS:?QT_KAFKA_BROKERS not set: run through scripts/run-tests (real Kafka needed)}"
: "${BUILD_DIR:?BUILD_DIR not set: run through scripts/run-tests}"
BIN="$BUILD_DIR/bin"
for t in qtctl qt-tail qt-bench; do
    [ -x "$BIN/$t" ] || fail "$BIN/$t not built"
done
command -v redis-cli >/dev/null || fail "redis-cli not found (Debian redis-tools)"
command -v python3 >/dev/null || fail "python3 not found (used to validate JSON output)"
export QT_REDIS_HOST QT_REDIS_PORT QT_KAFKA_BROKERS

TMP="$(mktemp -d "${TMPDIR:-/tmp}/qt-test-tools.XXXXXX")"
HTTP_PID=""
cleanup() {
    if [ -n "$HTTP_PID" ]; then kill "$HTTP_PID" 2>/dev/null || true; wait "$HTTP_PID" 2>/dev/null || true; fi
    rm -rf "$TMP"
}
trap cleanup EXIT

rcli() { redis-cli -h "$QT_REDIS_HOST" -p "$QT_REDIS_PORT" "$@"; }
# run EXPECTED_RC CMD... : runs CMD, stdout -> $TMP/out, stderr -> $TMP/err, checks rc.
run() {
    local want="$1" rc=0
    shift
    "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
    if [ "$rc" != "$want" ]; then
        echo "--- stdout:" >&2; cat "$TMP/out" >&2
        echo "--- stderr:" >&2; cat "$TMP/err" >&2
        fail "'$*' exited $rc, expected $want"
    fi
}
contains() { # FILE TEXT
    grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "expected '$2' in $1"; }
}
# pyjson FILE EXPR: every line of FILE is JSON; EXPR (python, over `docs`) must be true.
pyjson() {
    python3 - "$1" "$2" <<'EOF' || { cat "$1" >&2; fail "JSON check failed: $2"; }
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ok = eval(sys.argv[2], {"docs": docs})
sys.exit(0 if ok else 1)
EOF
}
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

rcli PING | grep -q PONG || fail "test Redis at $QT_REDIS_HOST:$QT_REDIS_PORT not answering"

# ------------------------------------------------------------------ usage errors (exit 2)
run 2 "$BIN/qtctl"
run 2 "$BIN/qtctl" bogus
run 2 "$BIN/qtctl" killswitch
run 2 "$BIN/qtctl" killswitch set
run 2 "$BIN/qtctl" killswitch set BOGUS --reason x
contains "$TMP/err" "bad TIER"
run 2 "$BIN/qtctl" killswitch set UNKNOWN --reason x
run 2 "$BIN/qtctl" killswitch set NORMAL
contains "$TMP/err" "--reason"
run 2 "$BIN/qtctl" killswitch set NORMAL --reason ""
run 2 "$BIN/qtctl" killswitch set NORMAL --reason x --by ""
run 2 "$BIN/qtctl" killswitch get extra
run 2 "$BIN/qtctl" wait-recon --timeout abc
run 2 "$BIN/qtctl" wait-recon --timeout -1
run 2 "$BIN/qtctl" --config "$TMP/nonexistent.yml" killswitch get
run 2 "$BIN/qtctl" status extra
run 2 "$BIN/qt-tail"
run 2 "$BIN/qt-tail" kafka
run 2 "$BIN/qt-tail" kafka qt.control --max 0
run 2 "$BIN/qt-tail" kafka qt.control --timeout x
run 2 "$BIN/qt-tail" kafka 'bad topic!'
run 2 "$BIN/qt-tail" zmq no-such-service
run 2 "$BIN/qt-tail" zmq tcp://127.0.0.1:1 --from-beginning
run 2 "$BIN/qt-tail" udp x
run 2 "$BIN/qt-bench"
run 2 "$BIN/qt-bench" rss abc
run 2 "$BIN/qt-bench" rss 0
run 2 "$BIN/qt-bench" zmq-hop --n 0
run 2 "$BIN/qt-bench" zmq-hop --payload json
run 2 "$BIN/qt-bench" machine extra
ok "usage errors exit 2"

# ------------------------------------------------------------------ kill switch
rcli DEL qt:killswitch >/dev/null
run 0 "$BIN/qtctl" killswitch get
contains "$TMP/out" "absent"
contains "$TMP/out" "NO_NEW"
run 0 "$BIN/qtctl" --json killswitch get
pyjson "$TMP/out" 'len(docs)==1 and docs[0]["state"]=="absent" and docs[0]["effective_tier"]=="NO_NEW" and docs[0]["fail_closed"] is True'
ok "absent kill switch reads as NO_NEW (fail closed)"

# A per-run control topic, so the tail below sees exactly what this test produced.
export QT_TOPICS_CONTROL="qt.test.control.$$.$RANDOM"
# Two test operators (keys generated for this run, mode 600) and an outsider whose key
# is not in the verifying key directory.
export QT_OPERATOR_KEYS_DIR="$TMP/operator-keys"
(umask 077 && mkdir -p "$QT_OPERATOR_KEYS_DIR" "$TMP/outsider" &&
    openssl rand -hex 32 >"$QT_OPERATOR_KEYS_DIR/tester_a.key" &&
    openssl rand -hex 32 >"$QT_OPERATOR_KEYS_DIR/tester_b.key" &&
    openssl rand -hex 32 >"$TMP/outsider/mallory.key") || fail "could not create operator keys"
# Lowering with one operator is impossible: raise/set refuse to lower (absent = NO_NEW).
run 1 "$BIN/qtctl" killswitch set NORMAL --reason "one operator" --by tester
contains "$TMP/err" "approve-lower"
run 1 "$BIN/qtctl" killswitch raise WARN --reason "one operator" --by tester
[ "$(rcli EXISTS qt:killswitch)" = 0 ] || fail "a refused raise wrote the kill switch"
run 2 "$BIN/qtctl" killswitch approve-lower NORMAL
contains "$TMP/err" "--operator"
run 2 "$BIN/qtctl" killswitch approve-lower NORMAL --operator Tester_A
run 2 env -u QT_OPERATOR_KEYS_DIR "$BIN/qtctl" killswitch approve-lower NORMAL --operator tester_a
contains "$TMP/err" "QT_OPERATOR_KEYS_DIR"
# an operator without a key in the verifying directory, even with her own key file
run 1 "$BIN/qtctl" killswitch approve-lower NORMAL --operator mallory --key-file "$TMP/outsider/mallory.key"
contains "$TMP/err" "no key"
# tester_b claiming to be tester_a with tester_b's key: the token does not verify
run 1 "$BIN/qtctl" killswitch approve-lower NORMAL --operator tester_a --key-file "$QT_OPERATOR_KEYS_DIR/tester_b.key"
contains "$TMP/err" "does not verify"
run 0 "$BIN/qtctl" --json killswitch approve-lower NORMAL --operator tester_a --reason "tools test start"
pyjson "$TMP/out" '(lambda d: d["result"]=="RECORDED" and d["tier"]=="NO_NEW" and d["pending_approval"]["operator"]=="tester_a")(docs[0])'
[ "$(rcli EXISTS qt:killswitch)" = 0 ] || fail "one approval changed the kill switch"
run 0 "$BIN/qtctl" --json killswitch status
pyjson "$TMP/out" '(lambda d: d["state"]=="absent" and d["effective_tier"]=="NO_NEW" and d["pending_approval"]["operator"]=="tester_a")(docs[0])'
run 1 "$BIN/qtctl" killswitch approve-lower NORMAL --operator tester_a --reason "tools test start"
contains "$TMP/err" "already approved"
[ "$(rcli EXISTS qt:killswitch)" = 0 ] || fail "the same operator twice changed the kill switch"
# the key may also come from the environment (never printed)
KEY_B="$(cat "$QT_OPERATOR_KEYS_DIR/tester_b.key")"
run 0 env QT_OPERATOR_KEY_TESTER_B="$KEY_B" "$BIN/qtctl" killswitch approve-lower NORMAL --operator tester_b --reason "tools test start"
contains "$TMP/out" "lowered to NORMAL"
if grep -q "$KEY_B" "$TMP/out" "$TMP/err"; then fail "qtctl printed an operator key"; fi
run 0 "$BIN/qtctl" --json killswitch get
pyjson "$TMP/out" '(lambda d: d["state"]=="set" and d["tier"]=="NORMAL" and d["effective_tier"]=="NORMAL" and d["version"]==1 and d["set_by"]=="tester_a+tester_b" and d["reason"]=="tools test start" and d["trigger"]=="approval" and d["previous_tier"]=="NO_NEW" and d["approved_by"]==["tester_a","tester_b"] and d["valid"] is True and d["fail_closed"] is False and d["pending_approval"] is None)(docs[0])'
[ "$(rcli HGET qt:killswitch tier)" = "NORMAL" ] || fail "Redis qt:killswitch tier is not NORMAL"
run 0 "$BIN/qtctl" --json killswitch set flatten_all --reason "drill: raise" --by tester2
pyjson "$TMP/out" '(lambda d: d["result"]=="RAISED" and d["tier"]=="FLATTEN_ALL" and d["version"]==2 and d["previous_tier"]=="NORMAL" and d["trigger"]=="operator" and d["kafka_mirrored"] is True)(docs[0])'
run 0 "$BIN/qtctl" killswitch status
contains "$TMP/out" "FLATTEN_ALL"
contains "$TMP/out" "version 2"
contains "$TMP/out" "tester2"
[ "$(rcli HGET qt:killswitch version)" = "2" ] || fail "Redis qt:killswitch version is not 2"
run 1 "$BIN/qtctl" killswitch raise NO_NEW --reason "not a raise" --by tester2
[ "$(rcli HGET qt:killswitch version)" = "2" ] || fail "a refused raise changed the version"
# approvals are bound to the version: a change in between (here the version bump the
# watchdog's writer makes) voids the first one
run 0 "$BIN/qtctl" killswitch approve-lower NO_NEW --operator tester_b
rcli HINCRBY qt:killswitch version 1 >/dev/null
run 0 "$BIN/qtctl" killswitch approve-lower NO_NEW --operator tester_a
contains "$TMP/out" "recorded"
[ "$(rcli HGET qt:killswitch tier)" = "FLATTEN_ALL" ] || fail "a stale approval combined with a new one"
rcli DEL qt:killswitch >/dev/null
run 0 env -u USER "$BIN/qtctl" --json killswitch raise NO_NEW --reason "default operator" --trigger recon
pyjson "$TMP/out" '(lambda d: d["set_by"]=="operator" and d["version"]==1 and d["trigger"]=="recon")(docs[0])'
[ "$(rcli EXISTS qt:killswitch:pending)" = 0 ] || fail "a raise left a pending approval behind"
ok "kill switch: raise-only set/raise, two distinct operators' approvals lower it (versions 1..2)"

# Tampered state: the library fails closed and qtctl says so.
rcli HSET qt:killswitch tier BANANA >/dev/null
run 0 "$BIN/qtctl" --json killswitch get
pyjson "$TMP/out" '(lambda d: d["valid"] is False and d["effective_tier"]=="NO_NEW" and d["fail_closed"] is True)(docs[0])'
run 0 "$BIN/qtctl" killswitch get
contains "$TMP/out" "INVALID"
# a raise is never blocked by a corrupt state: below NO_NEW refused, NO_NEW and up replace it
run 1 "$BIN/qtctl" killswitch raise WARN --reason "below NO_NEW on a tampered state"
run 0 "$BIN/qtctl" --json killswitch raise FLATTEN_ALL --reason "on a tampered state" --by tester3
pyjson "$TMP/out" '(lambda d: d["result"]=="RAISED" and d["tier"]=="FLATTEN_ALL" and d["version"]==2 and d["kafka_mirrored"] is True)(docs[0])'
run 0 "$BIN/qtctl" --json killswitch get
pyjson "$TMP/out" '(lambda d: d["valid"] is True and d["effective_tier"]=="FLATTEN_ALL" and d["set_by"]=="tester3")(docs[0])'
ok "invalid stored kill switch reported as fail-closed NO_NEW; a raise replaces it"

# ------------------------------------------------------------------ qt-tail kafka
run 0 "$BIN/qt-tail" kafka "$QT_TOPICS_CONTROL" --from-beginning --max 4 --timeout 60
[ "$(wc -l <"$TMP/out")" = 4 ] || { cat "$TMP/out"; fail "expected 4 lines from qt-tail"; }
pyjson "$TMP/out" 'all(set(d) >= {"topic","offset","key","envelope"} for d in docs)'
pyjson "$TMP/out" '[d["offset"] for d in docs]==[0,1,2,3] and all(d["key"]=="killswitch" for d in docs)'
pyjson "$TMP/out" 'all(isinstance(d["envelope"].get("killswitch"), dict) for d in docs)'
pyjson "$TMP/out" '[d["envelope"]["killswitch"]["set_by"] for d in docs]==["tester_a+tester_b","tester2","operator","tester3"]'
pyjson "$TMP/out" 'str(docs[1]["envelope"]["killswitch"]["tier"]).endswith("FLATTEN_ALL") and docs[1]["envelope"]["killswitch"]["reason"]=="drill: raise"'
pyjson "$TMP/out" 'docs[0]["envelope"]["killswitch"].get("approved_by")==["tester_a","tester_b"]'
ok "qt-tail kafka prints the mirrored KillSwitch envelopes as JSON lines"
# --timeout before --max is satisfied: exit 3, and what was read is still printed.
run 3 "$BIN/qt-tail" kafka "$QT_TOPICS_CONTROL" --from-beginning --max 10 --timeout 5
[ "$(wc -l <"$TMP/out")" = 4 ] || fail "expected the 4 lines before the timeout"
ok "qt-tail kafka --timeout exit 3"

# A malformed message on the topic is counted on stderr, never printed.
BAD_TOPIC="qt.test.bad.$$.$RANDOM"
export QT_TOPICS_CONTROL="$BAD_TOPIC"
rcli DEL qt:killswitch qt:killswitch:pending >/dev/null
run 0 "$BIN/qtctl" killswitch raise NO_NEW --reason "before junk" --by tester
if command -v kcat >/dev/null 2>&1; then
    printf 'not a protobuf envelope' | kcat -P -b "$QT_KAFKA_BROKERS" -t "$BAD_TOPIC"
    run 0 "$BIN/qtctl" killswitch raise FLATTEN_ALL --reason "after junk" --by tester
    run 0 "$BIN/qt-tail" kafka "$BAD_TOPIC" --from-beginning --max 2 --timeout 60
    pyjson "$TMP/out" 'len(docs)==2'
    contains "$TMP/err" "invalid"
    ok "qt-tail skips and counts malformed Kafka messages"
else
    echo "note: kcat not installed: malformed-Kafka-message check not run (covered by qt_kafka/qt_envelope tests)"
fi
unset QT_TOPICS_CONTROL

# ------------------------------------------------------------------ Redis unreachable
DEAD_PORT="$(free_port)"
run 1 env QT_REDIS_PORT="$DEAD_PORT" "$BIN/qtctl" killswitch get
contains "$TMP/err" "Redis unreachable"
run 1 env QT_REDIS_PORT="$DEAD_PORT" "$BIN/qtctl" killswitch raise FLATTEN_ALL --reason x
contains "$TMP/err" "Redis unreachable"
contains "$TMP/err" "NOT changed"
run 1 env QT_REDIS_PORT="$DEAD_PORT" "$BIN/qtctl" killswitch approve-lower NORMAL --operator tester_a
contains "$TMP/err" "NOT changed"
unset QT_OPERATOR_KEYS_DIR
ok "Redis unreachable: exit 1 with a clear error"

# ------------------------------------------------------------------ qtctl status
P1="$(free_port)"
P2="$(free_port)"
cat >"$TMP/down.yml" <<EOF
version: 1
redis:
  host: $QT_REDIS_HOST
  port: $QT_REDIS_PORT
kafka:
  brokers: $QT_KAFKA_BROKERS
services:
  qt-alpha:
    pub: tcp://127.0.0.1:5991
    admin_port: $P1
  qt-beta:
    pub: tcp://127.0.0.1:5992
    admin_port: $P2
EOF
rcli DEL qt:hb:qt-alpha qt:hb:qt-beta >/dev/null
run 1 "$BIN/qtctl" --config "$TMP/down.yml" status
contains "$TMP/out" "qt-alpha"
contains "$TMP/out" "down"
run 1 "$BIN/qtctl" --config "$TMP/down.yml" --json status
pyjson "$TMP/out" '(lambda d: d["all_up"] is False and len(d["services"])==2 and all(s["up"] is False for s in d["services"]) and d["killswitch"]["state"]=="set")(docs[0])'
ok "qtctl status exit 1 when services are down"

# One service that answers /status (a static file served over HTTP stands in for it).
mkdir -p "$TMP/www"
cat >"$TMP/www/status" <<'EOF'
{"service":"qt-alpha","healthy":true,"ready":true,"pid":4242,"metrics":{"qt_events_processed_total{service=\"qt-alpha\"}":1234,"qt_last_event_timestamp_seconds{service=\"qt-alpha\"}":1665446400,"qt_bus_rejected_total{reason=\"malformed\"}":2,"qt_kafka_rejected_total{reason=\"invalid\"}":1,"qt_bus_gaps_total":5}}
EOF
(cd "$TMP/www" && exec python3 -m http.server --bind 127.0.0.1 "$P1") >"$TMP/http.log" 2>&1 &
HTTP_PID=$!
for _ in $(seq 1 50); do
    curl -sf --noproxy '*' "http://127.0.0.1:$P1/status" >/dev/null 2>&1 && break
    sleep 0.1
done
cat >"$TMP/up.yml" <<EOF
version: 1
redis:
  host: $QT_REDIS_HOST
  port: $QT_REDIS_PORT
services:
  qt-alpha:
    pub: tcp://127.0.0.1:5991
    admin_port: $P1
EOF
# qt:hb:<service> holds the encoded Heartbeat Envelope (qt_service); hand-encode one.
python3 - >"$TMP/hb.bin" <<'EOF2'
import sys, time
def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)
def field(num, wt, payload):
    return varint(num << 3 | wt) + payload
def s(num, text):
    b = text.encode()
    return field(num, 2, varint(len(b)) + b)
now = time.time_ns()
hb = s(1, "qt-alpha") + s(2, "qt-alpha") + s(7, "ok")
env = (field(1, 0, varint(1)) + s(2, "qt-alpha") + field(3, 0, varint(1)) +
       field(4, 0, varint(now)) + field(5, 0, varint(now)) +
       field(21, 2, varint(len(hb)) + hb))
sys.stdout.buffer.write(env)
EOF2
rcli -x SET qt:hb:qt-alpha <"$TMP/hb.bin" >/dev/null
run 0 "$BIN/qtctl" --config "$TMP/up.yml" --json status
pyjson "$TMP/out" '(lambda s: s["up"] and s["ready"] and s["healthy"] and s["pid"]==4242 and s["processed"]==1234 and s["rejected"]==3 and s["gaps"]==5 and s["last_event_time"]=="2022-10-11T00:00:00.000Z" and s["heartbeat"]=="ok" and s["heartbeat_age_ms"] is not None and -1000 <= s["heartbeat_age_ms"] < 60000)(docs[0]["services"][0])'
run 0 "$BIN/qtctl" --config "$TMP/up.yml" status
contains "$TMP/out" "2022-10-11T00:00:00.000Z"
contains "$TMP/out" "1234"
# Mixed: one up, one down -> 1.
run 1 "$BIN/qtctl" --config "$TMP/down.yml" --json status
pyjson "$TMP/out" '(lambda d: [s["up"] for s in d["services"]]==[True, False])(docs[0])'
pyjson "$TMP/out" '(lambda d: [s["heartbeat"] for s in d["services"]]==["ok", "absent"])(docs[0])'
rcli SET qt:hb:qt-beta garbage >/dev/null
run 1 "$BIN/qtctl" --config "$TMP/down.yml" --json status
pyjson "$TMP/out" '(lambda d: d["services"][1]["heartbeat"]=="unreadable")(docs[0])'
rcli DEL qt:hb:qt-beta >/dev/null
rcli DEL qt:hb:qt-alpha >/dev/null
ok "qtctl status reads /status, metrics and heartbeat age"

# ------------------------------------------------------------------ wait-recon
rcli DEL qt:recon:last >/dev/null
run 3 "$BIN/qtctl" wait-recon --timeout 1
contains "$TMP/err" "timeout"
rcli SET qt:recon:last '{"ok":true,"final":false,"fills_seen":3}' >/dev/null
run 3 "$BIN/qtctl" wait-recon --timeout 1
rcli SET qt:recon:last '{"ok":true,"final":true,"fills_seen":7,"mismatches":0}' >/dev/null
run 0 "$BIN/qtctl" wait-recon --timeout 5
pyjson "$TMP/out" 'docs[0]["fills_seen"]==7'
rcli SET qt:recon:last '{"ok":false,"final":true,"mismatches":2}' >/dev/null
run 1 "$BIN/qtctl" wait-recon --timeout 5
# The JSON of a whole ReconReport envelope (fields under "recon") is understood too.
rcli SET qt:recon:last '{"schema_version":1,"source":"qt-recon","recon":{"ok":true,"final":true,"fills_seen":9}}' >/dev/null
run 0 "$BIN/qtctl" wait-recon --timeout 5
pyjson "$TMP/out" 'docs[0]["recon"]["fills_seen"]==9'
# The report arriving while waiting.
rcli DEL qt:recon:last >/dev/null
( sleep 1; rcli SET qt:recon:last '{"ok":true,"final":true}' >/dev/null ) &
SETTER_PID=$!
run 0 "$BIN/qtctl" wait-recon --timeout 20
wait "$SETTER_PID"
rcli DEL qt:recon:last >/dev/null
ok "wait-recon: timeout 3, ok 0, not ok 1"

# ------------------------------------------------------------------ qt-tail zmq, qt-bench
ZP="$(free_port)"
run 3 "$BIN/qt-tail" zmq "tcp://127.0.0.1:$ZP" md. --max 1 --timeout 1
[ ! -s "$TMP/out" ] || fail "qt-tail zmq printed something with no publisher"
ok "qt-tail zmq --timeout exit 3"

run 0 "$BIN/qt-bench" machine
pyjson "$TMP/out" '(lambda d: d["cores"]>=1 and d["mem_total_kb"]>0 and isinstance(d["model"], str))(docs[0])'
run 0 "$BIN/qt-bench" rss "self=$$" "$$"
pyjson "$TMP/out" '(lambda d: d["rss_kb"]["self"]>0 and d["rss_kb"][str('"$$"')]>0)(docs[0])'
run 0 "$BIN/qt-bench" zmq-hop --n 500 --rate 5000
pyjson "$TMP/out" '(lambda h: h["n"]>=490 and 0 < h["p50"] <= h["p99"] <= h["max"])(docs[0]["zmq_hop_latency_us"])'
ok "qt-bench machine, rss, zmq-hop"

echo "test_tools: all checks passed"
