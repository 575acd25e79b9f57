#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft, broker+controller in one JVM)
# on loopback, for CI and integration tests. Needs only Java 17+ and Maven:
# the broker's jars come from Maven Central (see pom.xml beside this script).
#
#   kafka.sh fetch
#   kafka.sh start   [--dir DIR] [--port 19092] [--controller-port 19093] [--sasl-port 19094]
#   kafka.sh stop    [--dir DIR]
#   kafka.sh restart [--dir DIR]      # same data, same ports
#   kafka.sh status  [--dir DIR]      # exit 0 running, 3 not running
#
# Listeners (all on 127.0.0.1):
#   PLAINTEXT       --port             the bootstrap address for tests
#   SASL_PLAINTEXT  --sasl-port        mechanism PLAIN, user stockledger / stockledger-secret
#   CONTROLLER      --controller-port  KRaft quorum only; clients never use it
#
# Environment:
#   STOCKLEDGER_KAFKA_HOME      jar cache (default ~/.cache/stockledger/kafka-VERSION; jars in libs/)
#   STOCKLEDGER_KAFKA_DIR       default --dir (default ${TMPDIR:-/tmp}/stockledger-kafka)
#   STOCKLEDGER_KAFKA_HEAP      heap flags (default "-Xms256m -Xmx512m")
#   STOCKLEDGER_KAFKA_JVM_OPTS  extra JVM flags
#   STOCKLEDGER_KAFKA_MVN_ARGS  extra mvn arguments for fetch (e.g. -Dmaven.repo.local=...)
#   STOCKLEDGER_KAFKA_START_TIMEOUT  seconds to wait for readiness (default 180)
#   STOCKLEDGER_KAFKA_STOP_TIMEOUT   seconds between SIGTERM and SIGKILL (default 30)
#
# DIR holds: server.properties, log4j2.properties, ports.env, cluster.id,
# data/ (the log dirs), broker.log (appended across restarts), format.log,
# broker.pid.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
POM="$SCRIPT_DIR/pom.xml"
DEP_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
SERVICE_NAME=kafka.sh
# shellcheck source=../lib/service.sh
source "$SCRIPT_DIR/../lib/service.sh"

# The one place the version lives is pom.xml.
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\([^<]*\)</kafka.version>.*:\1:p' "$POM")"
[[ -n "$KAFKA_VERSION" ]] || { echo "kafka.sh: no <kafka.version> in $POM" >&2; exit 1; }

KAFKA_HOME="${STOCKLEDGER_KAFKA_HOME:-${HOME:-/tmp}/.cache/stockledger/kafka-$KAFKA_VERSION}"
LIBS="$KAFKA_HOME/libs"
STAMP="$KAFKA_HOME/libs.stamp"

DEFAULT_PORT=19092
DEFAULT_CONTROLLER_PORT=19093
DEFAULT_SASL_PORT=19094
SASL_USER=stockledger
SASL_PASSWORD=stockledger-secret

# elapsed START -> "1.234s"

need_java17() {
	need java "Java 17+ runs the broker"
	local v
	v="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
	if ! [[ "$v" =~ ^[0-9]+$ ]] || ((v < 17)); then
		die "Kafka $KAFKA_VERSION needs Java 17+, java on PATH is ${v:-unknown}"
	fi
}

# ---------------------------------------------------------------- fetch

stamp_content() {
	printf 'kafka %s\npom %s\n' "$KAFKA_VERSION" "$(sha256sum "$POM" | cut -d' ' -f1)"
}

is_fetched() {
	[[ -f "$STAMP" && -d "$LIBS" ]] && [[ "$(cat "$STAMP")" == "$(stamp_content)" ]]
}

cmd_fetch() {
	local t0; t0="$(now)"
	if is_fetched; then
		log "fetch: kafka $KAFKA_VERSION already in $LIBS ($(elapsed "$t0"))"
		return 0
	fi
	need_java17
	need mvn "Maven fetches the broker's jars from Maven Central"
	mkdir -p "$KAFKA_HOME"
	# One fetch at a time per cache dir (parallel CI jobs on one machine).
	exec 9>"$KAFKA_HOME/.fetch.lock"
	if command -v flock >/dev/null 2>&1; then flock 9; fi
	if is_fetched; then
		log "fetch: kafka $KAFKA_VERSION already in $LIBS ($(elapsed "$t0"))"
		return 0
	fi
	rm -rf "$KAFKA_HOME"/libs.tmp.* # left by an interrupted fetch
	log "fetch: kafka $KAFKA_VERSION jars from Maven Central into $LIBS (first time can take minutes)"
	local tmp; tmp="$(mktemp -d "$KAFKA_HOME/libs.tmp.XXXXXX")"
	local mvnlog="$KAFKA_HOME/fetch.log"
	# shellcheck disable=SC2086 # STOCKLEDGER_KAFKA_MVN_ARGS is a list of words
	mvn_copy_deps "$tmp" "$mvnlog" ${STOCKLEDGER_KAFKA_MVN_ARGS:-}
	local j
	for j in "kafka_2.13-$KAFKA_VERSION.jar" "kafka-clients-$KAFKA_VERSION.jar"; do
		[[ -f "$tmp/$j" ]] || { rm -rf "$tmp"; die "fetch: $j missing after mvn (see $mvnlog)"; }
	done
	if ! compgen -G "$tmp/log4j-core-*.jar" >/dev/null || ! compgen -G "$tmp/log4j-slf4j-impl-*.jar" >/dev/null; then
		rm -rf "$tmp"
		die "fetch: log4j2 backend missing after mvn (see $mvnlog)"
	fi
	rm -rf "$LIBS"
	mv "$tmp" "$LIBS"
	stamp_content >"$STAMP"
	log "fetch: $(find "$LIBS" -name '*.jar' | wc -l) jars, $(du -sh "$LIBS" | cut -f1) in $(elapsed "$t0")"
}

# ---------------------------------------------------------------- process helpers

# pid of the broker running from DIR, or nothing. A pid file whose process is
# gone, or is no longer this DIR's broker (pid reuse), does not count.
broker_pid() { service_pid "$1/broker.pid" "$1/server.properties"; }

load_ports() { # DIR: sets PORT CONTROLLER_PORT SASL_PORT from DIR/ports.env if present
	if [[ -f "$1/ports.env" ]]; then
		# shellcheck disable=SC1091
		source "$1/ports.env"
	fi
}

print_addresses() {
	echo "bootstrap: 127.0.0.1:$PORT"
	echo "bootstrap (SASL_PLAINTEXT, PLAIN $SASL_USER/$SASL_PASSWORD): 127.0.0.1:$SASL_PORT"
}

# ---------------------------------------------------------------- config

new_cluster_id() { # 16 random bytes, base64url without padding: a Kafka Uuid
	local id
	while :; do
		id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | cut -c1-22)"
		[[ "$id" != -* && "$id" != AAAAAAAAAAAAAAAAAAAAA* ]] && break
	done
	printf '%s' "$id"
}

write_config() {
	local dir="$1"
	cat >"$dir/ports.env" <<EOF
PORT=$PORT
CONTROLLER_PORT=$CONTROLLER_PORT
SASL_PORT=$SASL_PORT
EOF
	# java.util.Properties: no trailing comments on value lines.
	cat >"$dir/server.properties" <<EOF
# Written by deploy/kafka/kafka.sh; rewritten on every start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT,SASL_PLAINTEXT://127.0.0.1:$SASL_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT,SASL_PLAINTEXT://127.0.0.1:$SASL_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
inter.broker.listener.name=PLAINTEXT

# SASL/PLAIN for clients on the SASL_PLAINTEXT listener only.
listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="$SASL_USER" password="$SASL_PASSWORD" user_$SASL_USER="$SASL_PASSWORD";

log.dirs=$dir/data
num.partitions=4
auto.create.topics.enable=false

# One node: internal topics with one replica, or their coordinators never come up.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1

# Fast for tests.
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
transaction.abort.timed.out.transaction.cleanup.interval.ms=2000
EOF
	cat >"$dir/log4j2.properties" <<'EOF'
# Written by deploy/kafka/kafka.sh. Everything goes to stdout, which kafka.sh
# appends to DIR/broker.log.
name=stockledger-kafka
appender.out.type=Console
appender.out.name=STDOUT
appender.out.layout.type=PatternLayout
appender.out.layout.pattern=[%d] %p %m (%c)%n
rootLogger.level=INFO
rootLogger.appenderRef.out.ref=STDOUT
logger.request.name=kafka.request.logger
logger.request.level=WARN
logger.statechange.name=state.change.logger
logger.statechange.level=WARN
EOF
}

# ---------------------------------------------------------------- start / stop

parse_dir_and_ports() { # sets DIR, and PORT etc. only when given
	DIR="${STOCKLEDGER_KAFKA_DIR:-${TMPDIR:-/tmp}/stockledger-kafka}"
	ARG_PORT="" ARG_CPORT="" ARG_SPORT=""
	while [[ $# -gt 0 ]]; do
		case "$1" in
		--dir) DIR="${2:?--dir needs a value}"; shift 2 ;;
		--dir=*) DIR="${1#*=}"; shift ;;
		--port) ARG_PORT="${2:?--port needs a value}"; shift 2 ;;
		--port=*) ARG_PORT="${1#*=}"; shift ;;
		--controller-port) ARG_CPORT="${2:?--controller-port needs a value}"; shift 2 ;;
		--controller-port=*) ARG_CPORT="${1#*=}"; shift ;;
		--sasl-port) ARG_SPORT="${2:?--sasl-port needs a value}"; shift 2 ;;
		--sasl-port=*) ARG_SPORT="${1#*=}"; shift ;;
		-h | --help) usage; exit 0 ;;
		*) die "unknown argument: $1" ;;
		esac
	done
	DIR="$(realpath -m -- "$DIR")"
	# Ports: flags, else what this DIR last used, else the defaults.
	PORT="" CONTROLLER_PORT="" SASL_PORT=""
	load_ports "$DIR"
	PORT="${ARG_PORT:-${PORT:-$DEFAULT_PORT}}"
	CONTROLLER_PORT="${ARG_CPORT:-${CONTROLLER_PORT:-$DEFAULT_CONTROLLER_PORT}}"
	SASL_PORT="${ARG_SPORT:-${SASL_PORT:-$DEFAULT_SASL_PORT}}"
	local p
	for p in "$PORT" "$CONTROLLER_PORT" "$SASL_PORT"; do
		if ! [[ "$p" =~ ^[0-9]+$ ]] || ((p < 1 || p > 65535)); then die "bad port: $p"; fi
	done
	[[ "$PORT" != "$CONTROLLER_PORT" && "$PORT" != "$SASL_PORT" && "$CONTROLLER_PORT" != "$SASL_PORT" ]] ||
		die "the three ports must differ"
}

java_cmd() { # the JVM flags shared by the storage tool and the broker
	local heap="${STOCKLEDGER_KAFKA_HEAP:--Xms256m -Xmx512m}"
	# shellcheck disable=SC2206
	JAVA_ARGS=($heap -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError
		-Djava.awt.headless=true
		${STOCKLEDGER_KAFKA_JVM_OPTS:-}
		"-Dlog4j2.configurationFile=$DIR/log4j2.properties"
		-cp "$LIBS/*")
}

cmd_start() {
	parse_dir_and_ports "$@"
	local t0; t0="$(now)"
	local pid; pid="$(broker_pid "$DIR")"
	if [[ -n "$pid" ]]; then
		log "start: already running (pid $pid, dir $DIR)"
		print_addresses
		return 0
	fi
	mkdir -p "$DIR"
	rm -f "$DIR/broker.pid"
	cmd_fetch
	need_java17
	local p
	for p in "$PORT" "$CONTROLLER_PORT" "$SASL_PORT"; do
		! port_open "$p" || die "start: port $p on 127.0.0.1 is already in use (another broker? pick other ports)"
	done

	write_config "$DIR"
	[[ -s "$DIR/cluster.id" ]] || new_cluster_id >"$DIR/cluster.id"
	local cluster_id; cluster_id="$(cat "$DIR/cluster.id")"
	java_cmd

	local t1; t1="$(now)"
	if ! java "${JAVA_ARGS[@]}" kafka.tools.StorageTool format \
		-t "$cluster_id" -c "$DIR/server.properties" --ignore-formatted \
		>"$DIR/format.log" 2>&1; then
		cat "$DIR/format.log" >&2
		die "start: formatting storage failed"
	fi
	log "start: storage ready (cluster $cluster_id) in $(elapsed "$t1")"

	local t2; t2="$(now)"
	touch "$DIR/broker.log"
	local from; from=$(($(stat -c %s "$DIR/broker.log") + 1))
	printf '\n===== kafka.sh start %s =====\n' "$(date -u +%FT%TZ)" >>"$DIR/broker.log"
	# setsid: its own session, so a Ctrl-C or the caller's exit leaves it alone.
	setsid java "${JAVA_ARGS[@]}" kafka.Kafka "$DIR/server.properties" \
		>>"$DIR/broker.log" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$DIR/broker.pid"

	local timeout="${STOCKLEDGER_KAFKA_START_TIMEOUT:-180}" started=""
	local deadline=$((SECONDS + timeout))
	while :; do
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 60 "$DIR/broker.log" >&2
			rm -f "$DIR/broker.pid"
			die "start: broker exited during startup (log: $DIR/broker.log)"
		fi
		if [[ -z "$started" ]] && tail -c +"$from" "$DIR/broker.log" | grep -q 'Kafka Server started'; then
			started=1
		fi
		if [[ -n "$started" ]] && port_open "$PORT"; then
			break
		fi
		if ((SECONDS >= deadline)); then
			tail -n 60 "$DIR/broker.log" >&2
			stop_pid "$pid" "$DIR"
			die "start: not ready after ${timeout}s (log: $DIR/broker.log)"
		fi
		sleep 0.2
	done
	log "start: ready (pid $pid, dir $DIR) in $(elapsed "$t2") (whole start $(elapsed "$t0"))"
	print_addresses
}

stop_pid() { stop_service "$1" "$2/broker.pid" "${STOCKLEDGER_KAFKA_STOP_TIMEOUT:-30}"; } # PID DIR

cmd_stop() {
	parse_dir_and_ports "$@"
	local t0; t0="$(now)"
	local pid; pid="$(broker_pid "$DIR")"
	if [[ -z "$pid" ]]; then
		rm -f "$DIR/broker.pid"
		log "stop: not running (dir $DIR)"
		return 0
	fi
	stop_pid "$pid" "$DIR"
	log "stop: stopped pid $pid in $(elapsed "$t0")"
}

cmd_restart() {
	local t0; t0="$(now)"
	cmd_stop "$@"
	cmd_start "$@"
	log "restart: done in $(elapsed "$t0")"
}

cmd_status() {
	parse_dir_and_ports "$@"
	local pid; pid="$(broker_pid "$DIR")"
	if [[ -z "$pid" ]]; then
		echo "not running (dir $DIR)"
		return 3
	fi
	if port_open "$PORT"; then
		echo "running (pid $pid, dir $DIR, kafka $KAFKA_VERSION)"
	else
		echo "starting or stopping: pid $pid, port $PORT not accepting (dir $DIR)"
	fi
	print_addresses
}

main() {
	local cmd="${1:-}"
	[[ $# -gt 0 ]] && shift
	case "$cmd" in
	fetch) cmd_fetch ;;
	start) cmd_start "$@" ;;
	stop) cmd_stop "$@" ;;
	restart) cmd_restart "$@" ;;
	status) cmd_status "$@" ;;
	-h | --help | help) usage ;;
	*) usage >&2; exit 2 ;;
	esac
}

main "$@"
