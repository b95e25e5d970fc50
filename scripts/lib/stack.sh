# shellcheck shell=bash
# Quantum Trader: shared functions for the local Redis + Kafka stack.
#
# Sourced (not run) by scripts/bootstrap, dev-up, dev-down, test-stack, kafka-run and
# run-tests. Why one library: dev-up (fixed ports under ./var) and test-stack (free ports
# under a temp dir) must start, probe and stop the servers the same way, and the Kafka
# version, cache location and broker settings must be defined exactly once.
#
# Layout of a stack directory D (dev-up uses D=./var):
#   D/redis/      redis.conf-less: redis-server started with flags; appendonly files,
#                 redis.pid, redis.log
#   D/kafka/      server.properties, log4j.properties, data/ (KRaft log dirs, formatted on
#                 first start), logs/ (server.log), kafka.pid, kafka.out (JVM stdout/err)
#
# Every function fails with a message naming what failed (qt_die); callers use `set -eu`.

QT_KAFKA_VERSION="${QT_KAFKA_VERSION:-3.7.1}"   # must match scripts/kafka/pom.xml
QT_KAFKA_SCALA="${QT_KAFKA_SCALA:-2.13}"
QT_KAFKA_HOME="${QT_KAFKA_HOME:-${HOME:-/root}/.cache/qt/kafka-${QT_KAFKA_VERSION}}"
QT_KAFKA_HEAP="${QT_KAFKA_HEAP:--Xmx512m -Xms128m}"
QT_KAFKA_READY_TIMEOUT="${QT_KAFKA_READY_TIMEOUT:-60}"
QT_REDIS_READY_TIMEOUT="${QT_REDIS_READY_TIMEOUT:-20}"
QT_STOP_TIMEOUT="${QT_STOP_TIMEOUT:-30}"

qt_die() {
    printf '%s: error: %s\n' "${QT_PROG:-${0##*/}}" "$*" >&2
    exit 1
}

qt_info() {
    printf '%s: %s\n' "${QT_PROG:-${0##*/}}" "$*" >&2
}

# Repository root (the directory holding this scripts/ dir).
qt_repo_root() {
    (cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
}

# ---------------------------------------------------------------------------------------
# configs/services.yml lookup.
# A deliberately tiny reader for two-level keys ("section.key"). It relies on the file
# keeping this shape (documented in configs/services.yml's neighbours and here):
#     section:            <- at column 0
#       key: value        <- indented, scalar on the same line, optional "# comment"
# Used keys: redis.port, kafka.brokers, kafka.controller_port.
qt_yaml_get() { # file dotted.key
    local file="$1" key="$2" section name
    section="${key%%.*}"
    name="${key#*.}"
    [ -r "$file" ] || qt_die "cannot read $file (looking up $key)"
    awk -v sec="$section" -v k="$name" '
        /^[^[:space:]#][^:]*:/ { insec = ($0 ~ ("^" sec ":")); next }
        insec && $0 ~ ("^[[:space:]]+" k ":") {
            v = $0
            sub(/^[^:]*:[[:space:]]*/, "", v)
            sub(/[[:space:]]+#.*$/, "", v)
            gsub(/["\047]/, "", v)
            sub(/[[:space:]]+$/, "", v)
            print v
            found = 1
            exit
        }
        END { if (!found) exit 1 }
    ' "$file" || qt_die "key $key not found in $file (expected '${section}:' then an indented '${name}: value' line)"
}

# ---------------------------------------------------------------------------------------
# Ports.

# True when something accepts TCP connections (or listens) on 127.0.0.1:port or any
# address on that port.
qt_port_in_use() { # port
    local port="$1"
    if command -v ss >/dev/null 2>&1; then
        if [ -n "$(ss -Htln "sport = :$port" 2>/dev/null)" ]; then
            return 0
        fi
    fi
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

# Describes who listens on a port (best effort; for error messages).
qt_port_owner() { # port
    local port="$1" out=""
    if command -v ss >/dev/null 2>&1; then
        out="$(ss -Htlnp "sport = :$port" 2>/dev/null | sed -n 's/.*users:((\(.*\)))/\1/p' | head -1)"
    fi
    printf '%s' "${out:-unknown process}"
}

# First free port >= start, skipping the ones listed after it.
qt_free_port() { # start [taken...]
    local p="$1" t skip
    shift
    while [ "$p" -lt 65535 ]; do
        skip=0
        for t in "$@"; do [ "$t" = "$p" ] && skip=1; done
        if [ "$skip" = 0 ] && ! qt_port_in_use "$p"; then
            printf '%s\n' "$p"
            return 0
        fi
        p=$((p + 1))
    done
    qt_die "no free TCP port found from $1 upwards"
}

# ---------------------------------------------------------------------------------------
# Processes.

# Prints the pid in a pidfile if that process is alive and its command line mentions
# `marker` (guards against a recycled pid); returns 1 otherwise.
qt_pid_alive() { # pidfile marker
    local pidfile="$1" marker="$2" pid
    [ -s "$pidfile" ] || return 1
    pid="$(tr -dc '0-9' <"$pidfile")"
    [ -n "$pid" ] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    if [ -r "/proc/$pid/cmdline" ]; then
        tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$marker" || return 1
    fi
    printf '%s\n' "$pid"
}

# SIGTERM, wait up to QT_STOP_TIMEOUT s, then SIGKILL. Idempotent.
qt_stop_pidfile() { # pidfile marker name
    local pidfile="$1" marker="$2" name="$3" pid i
    if ! pid="$(qt_pid_alive "$pidfile" "$marker")"; then
        rm -f "$pidfile"
        qt_info "$name: not running"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    i=0
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$i" -ge $((QT_STOP_TIMEOUT * 10)) ]; then
            qt_info "$name: pid $pid still alive after ${QT_STOP_TIMEOUT}s, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.2
            break
        fi
        sleep 0.1
        i=$((i + 1))
    done
    rm -f "$pidfile"
    qt_info "$name: stopped (pid $pid)"
}

# ---------------------------------------------------------------------------------------
# Redis.

qt_redis_start() { # dir port
    local dir="$1" port="$2" pid i
    dir="$(mkdir -p "$dir" && cd "$dir" && pwd)"
    command -v redis-server >/dev/null 2>&1 || qt_die "redis-server not installed (run scripts/bootstrap)"
    if pid="$(qt_pid_alive "$dir/redis.pid" "redis-server")"; then
        if qt_redis_ping "$port"; then
            qt_info "redis: already running (pid $pid, port $port)"
            return 0
        fi
        qt_die "redis: pid $pid from $dir/redis.pid is alive but does not answer on port $port"
    fi
    if qt_port_in_use "$port"; then
        qt_die "redis: port $port is already taken by $(qt_port_owner "$port"); stop it or choose another port (QT_REDIS_PORT)"
    fi
    rm -f "$dir/redis.pid"
    redis-server --port "$port" --bind 127.0.0.1 --daemonize yes \
        --pidfile "$dir/redis.pid" --dir "$dir" --logfile "$dir/redis.log" \
        --appendonly yes --save '' --protected-mode yes \
        </dev/null >/dev/null 2>&1 || qt_die "redis-server failed to start on port $port (log: $dir/redis.log)"
    i=0
    while ! qt_redis_ping "$port"; do
        if [ "$i" -ge $((QT_REDIS_READY_TIMEOUT * 10)) ]; then
            tail -n 20 "$dir/redis.log" >&2 2>/dev/null || true
            qt_die "redis on port $port did not answer PING within ${QT_REDIS_READY_TIMEOUT}s (log above: $dir/redis.log)"
        fi
        sleep 0.1
        i=$((i + 1))
    done
    qt_info "redis: ready on 127.0.0.1:$port (dir $dir)"
}

qt_redis_ping() { # port
    [ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = "PONG" ]
}

qt_redis_stop() { # dir
    qt_stop_pidfile "$1/redis.pid" "redis-server" "redis"
}

# ---------------------------------------------------------------------------------------
# Kafka (KRaft, single node: combined broker + controller).

qt_kafka_cp() {
    printf '%s/libs/*' "$QT_KAFKA_HOME"
}

qt_kafka_installed() {
    [ -f "$QT_KAFKA_HOME/.complete" ] && [ -d "$QT_KAFKA_HOME/libs" ]
}

qt_kafka_java() { # main-class args... (runs a Kafka tool in the foreground)
    qt_kafka_installed || qt_die "Kafka $QT_KAFKA_VERSION not installed in $QT_KAFKA_HOME (run scripts/bootstrap)"
    command -v java >/dev/null 2>&1 || qt_die "java not found (run scripts/bootstrap)"
    java -Xmx256m -Djava.awt.headless=true \
        -Dlog4j.configuration="file:$QT_KAFKA_HOME/tools-log4j.properties" \
        -cp "$(qt_kafka_cp)" "$@"
}

qt_kafka_write_config() { # dir port controller_port
    local dir="$1" port="$2" cport="$3"
    mkdir -p "$dir/data" "$dir/logs"
    cat >"$dir/server.properties" <<EOF
# Generated by scripts/lib/stack.sh: single-node KRaft (broker + controller). Rewritten on
# every start; the data lives in data/.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
default.replication.factor=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
group.initial.rebalance.delay.ms=0
# Replayed market data carries old timestamps: never delete by time.
log.retention.ms=-1
log.segment.bytes=67108864
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
EOF
    cat >"$dir/log4j.properties" <<EOF
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=$dir/logs/server.log
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.request.logger=WARN
EOF
}

# Formats the KRaft storage once (data/meta.properties marks it formatted).
qt_kafka_format() { # dir
    local dir="$1" id
    if [ -f "$dir/data/meta.properties" ]; then
        return 0
    fi
    if [ -s "$dir/cluster.id" ]; then
        id="$(cat "$dir/cluster.id")"
    else
        id="$(qt_kafka_java kafka.tools.StorageTool random-uuid 2>>"$dir/format.log" | tail -n 1)" \
            || { cat "$dir/format.log" >&2; qt_die "kafka: StorageTool random-uuid failed"; }
        [ -n "$id" ] || qt_die "kafka: StorageTool random-uuid printed nothing"
        printf '%s\n' "$id" >"$dir/cluster.id"
    fi
    qt_kafka_java kafka.tools.StorageTool format -t "$id" -c "$dir/server.properties" \
        >>"$dir/format.log" 2>&1 \
        || { tail -n 20 "$dir/format.log" >&2; qt_die "kafka: formatting storage in $dir/data failed (log above: $dir/format.log)"; }
}

# Raw Kafka protocol probe, no JVM: sends a Metadata v4 request (no topics) and succeeds
# when the answer carries our correlation id and lists at least one broker. In KRaft the
# broker opens its PLAINTEXT listener only once it has caught up and been unfenced, so
# this is a real "ready to serve" check, and it takes milliseconds.
qt_kafka_probe() { # port
    local port="$1" hex
    hex="$(
        exec 2>/dev/null
        exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
        # size=23 | api_key=3 (Metadata) | version=4 | correlation=0x51540001 |
        # client_id="qt-probe" | topics=[] | allow_auto_topic_creation=false
        printf '\x00\x00\x00\x17\x00\x03\x00\x04\x51\x54\x00\x01\x00\x08qt-probe\x00\x00\x00\x00\x00' >&3
        timeout 3 head -c 16 <&3 | od -An -tx1 | tr -d ' \n'
    )" || return 1
    # bytes: size(4) correlation(4) throttle_ms(4) broker_count(4)
    [ "${#hex}" -eq 32 ] || return 1
    [ "${hex:8:8}" = "51540001" ] || return 1
    [ "$((16#${hex:24:8}))" -ge 1 ]
}

qt_kafka_start() { # dir port controller_port
    local dir="$1" port="$2" cport="$3" pid i t0 p
    dir="$(mkdir -p "$dir" && cd "$dir" && pwd)"
    qt_kafka_installed || qt_die "Kafka $QT_KAFKA_VERSION not installed in $QT_KAFKA_HOME (run scripts/bootstrap)"
    command -v java >/dev/null 2>&1 || qt_die "java not found (run scripts/bootstrap)"
    if pid="$(qt_pid_alive "$dir/kafka.pid" "$dir/server.properties")"; then
        if qt_kafka_probe "$port"; then
            qt_info "kafka: already running (pid $pid, port $port)"
            return 0
        fi
        qt_info "kafka: pid $pid is alive but not answering on $port yet; waiting"
        qt_kafka_wait "$dir" "$port" "$pid"
        return 0
    fi
    for p in "$port" "$cport"; do
        if qt_port_in_use "$p"; then
            qt_die "kafka: port $p is already taken by $(qt_port_owner "$p"); stop it or choose other ports (QT_KAFKA_PORT / QT_KAFKA_CONTROLLER_PORT)"
        fi
    done
    rm -f "$dir/kafka.pid"
    qt_kafka_write_config "$dir" "$port" "$cport"
    qt_kafka_format "$dir"
    t0=$(date +%s.%N)
    # setsid + all fds redirected: the broker outlives this script and never holds the
    # caller's pipes (so `$(test-stack start ...)` returns).
    # shellcheck disable=SC2086
    setsid java $QT_KAFKA_HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
        -Dkafka.logs.dir="$dir/logs" -Dlog4j.configuration="file:$dir/log4j.properties" \
        -cp "$(qt_kafka_cp)" kafka.Kafka "$dir/server.properties" \
        </dev/null >"$dir/kafka.out" 2>&1 &
    pid=$!
    printf '%s\n' "$pid" >"$dir/kafka.pid"
    qt_kafka_wait "$dir" "$port" "$pid"
    qt_info "kafka: ready on 127.0.0.1:$port (controller $cport, pid $pid, $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s, dir $dir)"
}

qt_kafka_wait() { # dir port pid
    local dir="$1" port="$2" pid="$3" i=0
    while ! qt_kafka_probe "$port"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            qt_kafka_log_tail "$dir"
            qt_die "kafka broker (pid $pid) exited during startup (logs above: $dir/logs/server.log, $dir/kafka.out)"
        fi
        if [ "$i" -ge $((QT_KAFKA_READY_TIMEOUT * 5)) ]; then
            qt_kafka_log_tail "$dir"
            qt_die "kafka broker on 127.0.0.1:$port not ready within ${QT_KAFKA_READY_TIMEOUT}s (pid $pid still running; logs above)"
        fi
        sleep 0.2
        i=$((i + 1))
    done
}

qt_kafka_log_tail() { # dir
    local dir="$1"
    {
        echo "---- $dir/kafka.out (tail) ----"
        tail -n 20 "$dir/kafka.out" 2>/dev/null || true
        echo "---- $dir/logs/server.log (tail) ----"
        tail -n 40 "$dir/logs/server.log" 2>/dev/null || true
        echo "----"
    } >&2
}

qt_kafka_stop() { # dir
    local dir="$1"
    [ -d "$dir" ] && dir="$(cd "$dir" && pwd)"
    qt_stop_pidfile "$dir/kafka.pid" "$dir/server.properties" "kafka"
}
