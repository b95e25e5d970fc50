# shellcheck shell=bash
# Quantum Trader: shared helpers of the whole-pipeline integration tests
# (tests/integration/test_pipeline.sh, tests/integration/test_chaos.sh). Sourced, not run.
#
# A "run" is one complete, isolated replay: its own Redis + Kafka (scripts/test-stack, on
# free ports), its own copy of configs/ with the ZeroMQ and admin ports moved to a free
# range (so it never collides with `make demo` or another test), its own supervisord
# (scripts/services) and its own log directory. Every run lives in $QTP_TMP/<name>;
# everything started is stopped by the EXIT trap installed by qtp_init, and $QTP_TMP is
# removed when the test passed (kept, and its path printed, when it failed).
#
#   qtp_init                     checks tools/env, creates $QTP_TMP, installs the trap
#   qtp_run_new NAME START END   stack + configs + ports for a run; makes it current
#   qtp_killswitch_normal        kill switch -> NORMAL (it starts absent = NO_NEW) by two
#                                test operators' approvals (keys in $QTP_RUN/operator-keys)
#   qtp_services_up [KEY=V...]   start the 8 services (extra args go to scripts/services up)
#   qtp_wait_recon SECONDS       wait for the final reconciliation report (must be ok)
#   qtp_report OUT               qt-report --out OUT (must be complete)
#   qtp_tail TOPIC OUT           every event of a Kafka topic as JSON lines
#   qtp_run_down                 stop the current run's services and stack
#   qtp_window_*                 independent counts from the raw JSON files (jq only)
#   qtp_fail / qtp_ok / qtp_eq   assertions with clear messages
#
# Environment: BUILD_DIR (required; e.g. build or build/san), QT_DATA_DIR (default
# ../shared/data beside the repo). The QT_REDIS_*/QT_KAFKA_BROKERS of scripts/run-tests are
# ignored: each run brings its own stack so runs can be compared from a clean state.

QTP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
QTP_SERVICES="ingest features models optimizer risk exec recon watchdog"
QTP_TMP=""
QTP_RUNS=""          # run directories started (for the trap), space separated
QTP_FAILED=1         # cleared by qtp_pass
QTP_T0=$(date +%s)

qtp_fail() {
    echo "FAIL: $*" >&2
    exit 1
}
qtp_ok() { echo "ok: $*"; }
qtp_note() { echo "  .. [$(qtp_elapsed) s] $*"; }

# qtp_eq WHAT GOT WANT: integer equality with a message naming both numbers.
qtp_eq() {
    [ "$2" = "$3" ] || qtp_fail "$1: got $2, expected $3"
}

qtp_elapsed() { echo $(($(date +%s) - QTP_T0)); }

qtp_init() {
    : "${BUILD_DIR:?BUILD_DIR not set (e.g. BUILD_DIR=build $0, or run through scripts/run-tests)}"
    case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$QTP_ROOT/$BUILD_DIR" ;; esac
    BUILD_DIR="$(cd "$BUILD_DIR" 2>/dev/null && pwd)" || qtp_fail "BUILD_DIR $BUILD_DIR does not exist (run make)"
    export BUILD_DIR
    QTP_BIN="$BUILD_DIR/bin"
    local b
    for b in qtctl qt-tail qt-report $(for s in $QTP_SERVICES; do echo "qt-$s"; done); do
        [ -x "$QTP_BIN/$b" ] || qtp_fail "$QTP_BIN/$b not built (make BUILD=${BUILD_DIR#"$QTP_ROOT"/} all)"
    done
    for b in jq bc redis-cli supervisord supervisorctl curl ss; do
        command -v "$b" >/dev/null 2>&1 || qtp_fail "$b not installed (scripts/bootstrap)"
    done
    : "${QT_DATA_DIR:=$QTP_ROOT/../shared/data}"
    QT_DATA_DIR="$(cd "$QT_DATA_DIR" 2>/dev/null && pwd)" || qtp_fail "QT_DATA_DIR $QT_DATA_DIR does not exist"
    export QT_DATA_DIR
    QTP_SRC="$QT_DATA_DIR/$(qtp_yaml_scalar "$QTP_ROOT/configs/ingest.yml" source)"
    QTP_GLOB="$(qtp_yaml_scalar "$QTP_ROOT/configs/ingest.yml" glob)"
    [ -d "$QTP_SRC" ] || qtp_fail "raw data directory $QTP_SRC missing"
    # The run-tests stack is not ours; never let its variables leak into a run.
    unset QT_REDIS_HOST QT_REDIS_PORT QT_KAFKA_BROKERS QT_CONFIG
    case "$BUILD_DIR" in
        *san*)
            export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
            export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
            ;;
    esac
    QTP_TMP="$(mktemp -d "${TMPDIR:-/tmp}/qt-${0##*/}.XXXXXX")"
    trap qtp_teardown EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    cd "$QTP_ROOT"
}

qtp_pass() { QTP_FAILED=0; }

qtp_teardown() {
    local rc=$? r
    for r in $QTP_RUNS; do
        "$QTP_ROOT/scripts/services" down "$r/var" >/dev/null 2>&1 || true
        "$QTP_ROOT/scripts/test-stack" stop "$r" >/dev/null 2>&1 || true
    done
    if [ "$rc" = 0 ] && [ "$QTP_FAILED" = 0 ]; then
        rm -rf "$QTP_TMP"
    elif [ -n "$QTP_TMP" ]; then
        echo "logs and state kept in $QTP_TMP (<run>/var/log/*.log, <run>/summary.json)" >&2
        [ "$rc" != 0 ] || rc=1
    fi
    exit "$rc"
}

# The value of a top-level or nested "key: value" line of a simple YAML file (first match,
# quotes and comments stripped).
qtp_yaml_scalar() { # file key
    sed -nE "s/^[[:space:]]*$2:[[:space:]]*//p" "$1" | head -1 \
        | sed -E 's/[[:space:]]+#.*$//; s/^"(.*)"$/\1/; s/^'"'"'(.*)'"'"'$/\1/; s/[[:space:]]+$//'
}

# ISO UTC (YYYY-MM-DDTHH:MM:SSZ) -> epoch ms.
qtp_iso_ms() { echo $(($(date -u -d "$1" +%s) * 1000)); }

# ------------------------------------------------------------------ independent data view
# All of these read the raw freqtrade JSON files ([[ms,o,h,l,c,v],...]) with jq, never
# through the services: they are what the pipeline's output is checked against.

# Number of candles with open time in [START_MS, END_MS] over every file of the glob.
qtp_window_bars() { # start_ms end_ms
    local f n=0 c
    for f in "$QTP_SRC"/$QTP_GLOB; do
        c="$(jq --argjson s "$1" --argjson e "$2" '[.[] | select(.[0] >= $s and .[0] <= $e)] | length' "$f")"
        n=$((n + c))
    done
    echo "$n"
}

# Number of distinct candle times in the window (= batches = targets).
qtp_window_times() { # start_ms end_ms
    jq -n --argjson s "$1" --argjson e "$2" \
        '[inputs | .[] | select(.[0] >= $s and .[0] <= $e) | .[0]] | unique | length' "$QTP_SRC"/$QTP_GLOB
}

# "SYMBOL close" of the last candle of each symbol in the window, one per line. The close
# is printed as jq prints the number (shortest round trip; an exponent is turned into a
# plain decimal by qtp_dec).
qtp_window_last_closes() { # start_ms end_ms
    local f sym
    for f in "$QTP_SRC"/$QTP_GLOB; do
        sym="${f##*/}"
        sym="${sym%%-*}"
        printf '%s %s\n' "$sym" "$(jq --argjson s "$1" --argjson e "$2" \
            '[.[] | select(.[0] >= $s and .[0] <= $e)] | last | if . == null then "none" else .[4] end' "$f")"
    done
}

# A jq number (maybe 1.5e-05) as a decimal bc understands.
qtp_dec() {
    case "$1" in
        *[eE]*) echo "scale=30; ${1%%[eE]*} * 10^(${1##*[eE]})" | sed 's/(+/(/' | bc ;;
        *) echo "$1" ;;
    esac
}

# |A - B| <= TOL, all decimals, with bc.
qtp_within() { # a b tol
    [ "$(echo "scale = 20; d = ($1) - ($2); if (d < 0) d = -d; d <= ($3)" | bc)" = 1 ]
}

# ------------------------------------------------------------------ one run
# Picks a base B (multiple of 10, below the ephemeral range) with B+1..B+8 all free.
qtp_free_base() { # [avoid_base]
    local tries=0 b i busy
    while [ "$tries" -lt 200 ]; do
        b=$(((RANDOM % 1100) * 10 + 20000))
        tries=$((tries + 1))
        [ "$b" != "${1:-}" ] || continue
        busy=0
        for i in 1 2 3 4 5 6 7 8; do
            if [ -n "$(ss -Htln "sport = :$((b + i))" 2>/dev/null)" ]; then busy=1; break; fi
        done
        [ "$busy" = 1 ] || { echo "$b"; return 0; }
    done
    qtp_fail "no free block of 8 TCP ports found in 20000..31000"
}

# qtp_run_new NAME START_ISO END_ISO: a fresh stack + configs; sets QTP_RUN (dir), QTP_CFG
# (services.yml), QTP_VAR, QTP_ADMIN_BASE (admin port of qt-<i-th service> = base + i),
# exports QT_REDIS_*/QT_KAFKA_BROKERS/QT_INGEST_START/QT_INGEST_END for the run.
qtp_run_new() {
    local name="$1" zb ab envline
    QTP_RUN="$QTP_TMP/$name"
    mkdir -p "$QTP_RUN/cfg" "$QTP_RUN/var"
    QTP_RUNS="$QTP_RUNS $QTP_RUN"
    qtp_note "run $name: starting Redis + Kafka"
    envline="$("$QTP_ROOT/scripts/test-stack" start "$QTP_RUN" 2>"$QTP_RUN/stack.err")" \
        || { cat "$QTP_RUN/stack.err" >&2; qtp_fail "run $name: scripts/test-stack start failed"; }
    eval "$envline"
    export QT_REDIS_HOST QT_REDIS_PORT QT_KAFKA_BROKERS
    cp "$QTP_ROOT"/configs/*.yml "$QTP_RUN/cfg/"
    QTP_CFG="$QTP_RUN/cfg/services.yml"
    QTP_VAR="$QTP_RUN/var"
    zb="$(qtp_free_base)"
    ab="$(qtp_free_base "$zb")"
    QTP_ADMIN_BASE="$ab"
    # Ports of the run written into its own services.yml too, so every tool given
    # --config talks to this run whatever the environment says.
    sed -i -E \
        -e "s|tcp://127\.0\.0\.1:555([1-8])|tcp://127.0.0.1:$((zb / 10))\1|" \
        -e "s|admin_port: 910([1-8])|admin_port: $((ab / 10))\1|" \
        -e "s|^(  port:) 6379|\1 $QT_REDIS_PORT|" \
        -e "s|^(  brokers:) .*|\1 $QT_KAFKA_BROKERS|" \
        "$QTP_CFG"
    grep -q "tcp://127.0.0.1:$((zb + 1))" "$QTP_CFG" && grep -q "admin_port: $((ab + 8))" "$QTP_CFG" \
        || qtp_fail "run $name: could not move the ports in $QTP_CFG (configs/services.yml changed shape?)"
    export QT_INGEST_START="$2" QT_INGEST_END="$3"
    redis-cli -p "$QT_REDIS_PORT" PING | grep -q PONG || qtp_fail "run $name: Redis on $QT_REDIS_PORT not answering"
    qtp_note "run $name: redis $QT_REDIS_PORT, kafka $QT_KAFKA_BROKERS, zmq $((zb + 1))-$((zb + 8)), admin $((ab + 1))-$((ab + 8)), window $2 .. $3"
}

qtp_redis() { redis-cli -p "$QT_REDIS_PORT" "$@"; }

# Two test operator keys under the run's temp dir (mode 600, dir 700): lowering the kill
# switch needs approvals by two distinct operators (qtctl killswitch approve-lower).
qtp_operator_keys() {
    export QT_OPERATOR_KEYS_DIR="$QTP_RUN/operator-keys"
    if [ ! -f "$QT_OPERATOR_KEYS_DIR/test_a.key" ]; then
        (umask 077 && mkdir -p "$QT_OPERATOR_KEYS_DIR" &&
            for o in test_a test_b; do openssl rand -hex 32 >"$QT_OPERATOR_KEYS_DIR/$o.key"; done) \
            || qtp_fail "could not create the test operator keys"
    fi
}

qtp_killswitch_normal() {
    qtp_operator_keys
    [ "$(qtp_redis HGET qt:killswitch tier)" = NORMAL ] && return 0
    local o
    for o in test_a test_b; do
        "$QTP_BIN/qtctl" --config "$QTP_CFG" killswitch approve-lower NORMAL --operator "$o" \
            --reason "integration test" >>"$QTP_RUN/killswitch.out" 2>&1 \
            || { cat "$QTP_RUN/killswitch.out" >&2; qtp_fail "qtctl killswitch approve-lower NORMAL --operator $o failed"; }
    done
    [ "$(qtp_redis HGET qt:killswitch tier)" = NORMAL ] || qtp_fail "kill switch not NORMAL in Redis after two approvals"
    [ "$(qtp_redis HGET qt:killswitch approved_by)" = test_a,test_b ] || qtp_fail "kill switch approved_by is not test_a,test_b"
}

qtp_services_up() {
    qtp_note "starting the services $*"
    "$QTP_ROOT/scripts/services" up "$QTP_VAR" BIN="$QTP_BIN" CONFIG="$QTP_CFG" "$@" >"$QTP_RUN/services-up.out" 2>&1 \
        || { cat "$QTP_RUN/services-up.out" >&2; qtp_fail "scripts/services up failed"; }
    "$QTP_ROOT/scripts/services" wait "$QTP_VAR" 30 >"$QTP_RUN/services-wait.out" 2>&1 \
        || { cat "$QTP_RUN/services-wait.out" >&2; qtp_dump_logs; qtp_fail "not every service RUNNING within 30 s"; }
}

# Last lines of every service log of the current run (on failure).
qtp_dump_logs() {
    local s
    for s in $QTP_SERVICES; do
        echo "----- $QTP_VAR/log/$s.log (last 15 lines)" >&2
        tail -n 15 "$QTP_VAR/log/$s.log" >&2 2>/dev/null || true
    done
}

# Waits for the final ReconReport; it must be ok. Prints the wait time.
qtp_wait_recon() { # seconds
    local rc=0 t0
    t0=$(date +%s)
    "$QTP_BIN/qtctl" --config "$QTP_CFG" wait-recon --timeout "$1" >"$QTP_RUN/recon.json" 2>"$QTP_RUN/recon.err" || rc=$?
    case "$rc" in
        0) qtp_note "final reconciliation after $(($(date +%s) - t0)) s" ;;
        1) cat "$QTP_RUN/recon.json" "$QTP_RUN/recon.err" >&2; qtp_fail "final reconciliation NOT ok (qt:recon:last above)" ;;
        3) qtp_redis GET qt:recon:last >&2 || true; "$QTP_ROOT/scripts/services" status "$QTP_VAR" >&2 || true
           qtp_dump_logs; qtp_fail "no final reconciliation report within $1 s" ;;
        *) cat "$QTP_RUN/recon.err" >&2; qtp_fail "qtctl wait-recon exited $rc" ;;
    esac
}

# qt-report of the current run into OUT; must be complete with recon ok, 0 mismatches.
qtp_report() { # out
    "$QTP_BIN/qt-report" --config "$QTP_CFG" --out "$1" --quiet 2>"$QTP_RUN/report.err" \
        || { cat "$QTP_RUN/report.err" >&2; qtp_fail "qt-report failed"; }
    [ "$(jq -r .complete "$1")" = true ] || { cat "$1" >&2; qtp_fail "qt-report: summary not complete"; }
}

# Every event of a Kafka topic (from offset 0) as JSON lines in OUT. qt-tail stops after
# --timeout (exit 3 is the expected way out); the offsets must then be 0..n-1.
qtp_tail() { # topic out
    local rc=0 n last
    "$QTP_BIN/qt-tail" --config "$QTP_CFG" kafka "$1" --from-beginning --timeout "${QTP_TAIL_TIMEOUT:-4}" \
        >"$2" 2>"$2.err" || rc=$?
    [ "$rc" = 0 ] || [ "$rc" = 3 ] || { cat "$2.err" >&2; qtp_fail "qt-tail kafka $1 exited $rc"; }
    n=$(wc -l <"$2")
    if [ "$n" -gt 0 ]; then
        last="$(tail -n 1 "$2" | jq .offset)"
        [ "$last" = $((n - 1)) ] || qtp_fail "qt-tail kafka $1: $n lines but last offset $last (incomplete or gapped read)"
    fi
}

# Stops the current run's services (SIGTERM, so a sanitizer build reports leaks at exit)
# and stack, then fails if any service log holds a sanitizer report.
qtp_run_down() {
    "$QTP_ROOT/scripts/services" down "$QTP_VAR" >/dev/null 2>&1 || true
    "$QTP_ROOT/scripts/test-stack" stop "$QTP_RUN" >/dev/null 2>&1 || true
    if grep -lE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$QTP_VAR"/log/*.log >"$QTP_RUN/san.hits" 2>/dev/null; then
        grep -hE -A12 "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" $(cat "$QTP_RUN/san.hits") | head -40 >&2
        qtp_fail "sanitizer report in $(tr "\n" " " <"$QTP_RUN/san.hits")(first lines above)"
    fi
}

# After qtp_run_down of an undisturbed run: every service stopped by SIGTERM must have
# drained and exited 0 (supervisord logs "stopped: qt-x (exit status 0)"; a service that
# ignored SIGTERM past stopwaitsecs shows "terminated by SIGKILL").
qtp_clean_exits() {
    local s log="$QTP_VAR/log/supervisord.log"
    for s in $QTP_SERVICES; do
        grep -q "stopped: qt-$s (exit status 0)" "$log" \
            || { grep "qt-$s" "$log" | tail -3 >&2; qtp_fail "qt-$s did not exit 0 on SIGTERM (supervisord log above)"; }
    done
    ! grep -E "(exited|stopped): qt-[a-z]+ \((exit status [1-9]|terminated by SIG)" "$log" >&2 \
        || qtp_fail "a service exited non-zero or was killed during shutdown (lines above)"
    qtp_ok "all services drained and exited 0 on SIGTERM"
}

# Fails if supervisord restarted any service of the current run (a crash).
qtp_no_restarts() {
    qtp_restarts
    [ "$QTP_RESTARTS" = 0 ] || { qtp_dump_logs; qtp_fail "services restarted during an undisturbed run (crash?): $QTP_RESTARTS_BY"; }
}

# How many times supervisord (re)started each service: "name=N ..." and the total of
# restarts (spawns beyond the first) in QTP_RESTARTS; sets QTP_RESTARTS_BY to the former.
# Call it directly (not in $(...)).
qtp_restarts() {
    local s n out=""
    QTP_RESTARTS=0
    for s in $QTP_SERVICES; do
        n=$(grep -c "spawned: 'qt-$s'" "$QTP_VAR/log/supervisord.log" 2>/dev/null || true)
        n=$((${n:-0} - 1))
        [ "$n" -ge 0 ] || n=0
        out="$out $s=$n"
        QTP_RESTARTS=$((QTP_RESTARTS + n))
    done
    QTP_RESTARTS_BY="${out# }"
}

# Prometheus text of service #i (1 = ingest .. 8 = watchdog) of the current run.
qtp_metrics() { # index
    curl -sf --noproxy '*' --max-time 2 "http://127.0.0.1:$((QTP_ADMIN_BASE + $1))/metrics" || true
}

# Every service's live /metrics must be valid Prometheus text (`promtool check metrics`,
# which also lints naming: counters end in _total, HELP present, ...).
qtp_metrics_promtool() {
    local i s out
    command -v promtool >/dev/null 2>&1 || qtp_fail "promtool not installed (scripts/bootstrap installs prometheus)"
    i=0
    for s in $QTP_SERVICES; do
        i=$((i + 1))
        out="$QTP_RUN/metrics.$s.txt"
        qtp_metrics "$i" >"$out"
        [ -s "$out" ] || qtp_fail "qt-$s: empty /metrics on admin port $((QTP_ADMIN_BASE + i))"
        promtool check metrics <"$out" >"$out.promtool" 2>&1 \
            || { cat "$out.promtool" >&2; qtp_fail "qt-$s: /metrics fails promtool check metrics"; }
    done
    qtp_ok "/metrics of all $i services pass promtool check metrics"
}

# ------------------------------------------------------------------ fills
# Fills of a qt.fills tail (JSON lines) as "fill_id symbol side qty price fee" (fixed-point
# integers, 1e-8), one per distinct fill_id (first copy), in log order.
qtp_fills_table() { # tail_file
    jq -r 'select(.envelope.fill != null) | .envelope.fill
           | [.fill_id, .symbol, (if .side == "SIDE_SELL" then "S" elif .side == "SIDE_BUY" then "B" else "?" end),
              (.qty|tostring), (.price|tostring), (.fee|tostring)] | @tsv' "$1" \
        | awk -F'\t' '!seen[$1]++'
}

# Positions rebuilt from a fills table: "SYMBOL qty_fixed" for every non-zero position,
# sorted; summed with bc (exact integers).
qtp_positions_from_fills() { # fills_table
    local sym
    for sym in $(cut -f2 "$1" | sort -u); do
        awk -F'\t' -v s="$sym" '$2 == s { print ($3 == "B" ? "+" : "-") $4 }' "$1" \
            | { echo 0; cat; } | paste -sd' ' | sed 's/ //g' | bc \
            | awk -v s="$sym" '$1 != 0 { print s, $1 }'
    done
}
