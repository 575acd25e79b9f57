#!/usr/bin/env bash
# A real Apicurio Registry (Confluent-compatible schema registry) on
# loopback, with in-memory storage, for CI and integration tests. Needs Java
# 21+ and Maven: the server comes from Maven Central (see pom.xml beside
# this script) as the Quarkus fast-jar distribution
# io.apicurio:apicurio-registry-app:VERSION:tar.gz:all (quarkus-run.jar,
# lib/, app/, quarkus/); the plain apicurio-registry-app jar is only the
# application's classes.
#
#   apicurio.sh fetch
#   apicurio.sh start  [--dir DIR] [--port 18081]
#   apicurio.sh stop   [--dir DIR]
#   apicurio.sh status [--dir DIR]      # exit 0 running, 3 not running
#
# The Confluent-compatible API is http://127.0.0.1:PORT/apis/ccompat/v7
# (start and status print it). Storage is an in-memory H2 database: a stop
# forgets every schema. No authentication.
#
# Environment:
#   STOCKLEDGER_APICURIO_HOME      cache (default ~/.cache/stockledger/apicurio-VERSION; server in dist/)
#   STOCKLEDGER_APICURIO_DIR       default --dir (default ${TMPDIR:-/tmp}/stockledger-apicurio)
#   STOCKLEDGER_APICURIO_JAVA      the java to run it with (default: the first Java 21+ among
#                                  $JAVA_HOME/bin/java, java on PATH, /usr/lib/jvm/*/bin/java)
#   STOCKLEDGER_APICURIO_HEAP      heap flags (default "-Xms128m -Xmx512m")
#   STOCKLEDGER_APICURIO_JVM_OPTS  extra JVM flags (e.g. -Dkey=value Quarkus settings)
#   STOCKLEDGER_APICURIO_MVN_ARGS  extra mvn arguments for fetch (e.g. -Dmaven.repo.local=...)
#   STOCKLEDGER_APICURIO_START_TIMEOUT  seconds to wait for readiness (default 180)
#   STOCKLEDGER_APICURIO_STOP_TIMEOUT   seconds between SIGTERM and SIGKILL (default 30)
#
# DIR holds: port.env, registry.log (appended across starts), registry.pid.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
POM="$SCRIPT_DIR/pom.xml"
DEP_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
SERVICE_NAME=apicurio.sh
# shellcheck source=../lib/service.sh
source "$SCRIPT_DIR/../lib/service.sh"

# The one place the version lives is pom.xml.
APICURIO_VERSION="$(sed -n 's:.*<apicurio.version>\([^<]*\)</apicurio.version>.*:\1:p' "$POM")"
[[ -n "$APICURIO_VERSION" ]] || { echo "apicurio.sh: no <apicurio.version> in $POM" >&2; exit 1; }

APICURIO_HOME="${STOCKLEDGER_APICURIO_HOME:-${HOME:-/tmp}/.cache/stockledger/apicurio-$APICURIO_VERSION}"
DIST="$APICURIO_HOME/dist"
STAMP="$APICURIO_HOME/dist.stamp"
ARCHIVE="apicurio-registry-app-$APICURIO_VERSION-all.tar.gz"

DEFAULT_PORT=18081
CCOMPAT_PATH=/apis/ccompat/v7

java_version() { # JAVA -> its major version, or nothing
	"$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p'
}

# find_java sets JAVA to a Java 21+ binary (Apicurio 3.3's classes are Java 21).
find_java() {
	local c v
	if [[ -n "${STOCKLEDGER_APICURIO_JAVA:-}" ]]; then
		v="$(java_version "$STOCKLEDGER_APICURIO_JAVA" || true)"
		if ! [[ "$v" =~ ^[0-9]+$ ]] || ((v < 21)); then
			die "STOCKLEDGER_APICURIO_JAVA=$STOCKLEDGER_APICURIO_JAVA is Java ${v:-unknown}, Apicurio $APICURIO_VERSION needs 21+"
		fi
		JAVA="$STOCKLEDGER_APICURIO_JAVA"
		return
	fi
	for c in ${JAVA_HOME:+"$JAVA_HOME/bin/java"} "$(command -v java || true)" /usr/lib/jvm/*/bin/java; do
		[[ -n "$c" && -x "$c" ]] || continue
		v="$(java_version "$c" || true)"
		if [[ "$v" =~ ^[0-9]+$ ]] && ((v >= 21)); then
			JAVA="$c"
			return
		fi
	done
	die "Apicurio $APICURIO_VERSION needs Java 21+; none found (set STOCKLEDGER_APICURIO_JAVA)"
}

# ---------------------------------------------------------------- fetch

stamp_content() {
	printf 'apicurio %s\npom %s\n' "$APICURIO_VERSION" "$(sha256sum "$POM" | cut -d' ' -f1)"
}

is_fetched() {
	[[ -f "$STAMP" && -f "$DIST/quarkus-run.jar" ]] && [[ "$(cat "$STAMP")" == "$(stamp_content)" ]]
}

cmd_fetch() {
	local t0; t0="$(now)"
	if is_fetched; then
		log "fetch: apicurio registry $APICURIO_VERSION already in $DIST ($(elapsed "$t0"))"
		return 0
	fi
	need mvn "Maven fetches the registry from Maven Central"
	need tar "the registry comes as a tar.gz"
	mkdir -p "$APICURIO_HOME"
	exec 9>"$APICURIO_HOME/.fetch.lock"
	if command -v flock >/dev/null 2>&1; then flock 9; fi
	if is_fetched; then
		log "fetch: apicurio registry $APICURIO_VERSION already in $DIST ($(elapsed "$t0"))"
		return 0
	fi
	rm -rf "$APICURIO_HOME"/dist.tmp.* "$APICURIO_HOME"/archive.tmp.*
	log "fetch: apicurio registry $APICURIO_VERSION from Maven Central into $DIST (about 160 MB)"
	local arch; arch="$(mktemp -d "$APICURIO_HOME/archive.tmp.XXXXXX")"
	local mvnlog="$APICURIO_HOME/fetch.log"
	# shellcheck disable=SC2086 # STOCKLEDGER_APICURIO_MVN_ARGS is a list of words
	mvn_copy_deps "$arch" "$mvnlog" ${STOCKLEDGER_APICURIO_MVN_ARGS:-}
	[[ -f "$arch/$ARCHIVE" ]] || { rm -rf "$arch"; die "fetch: $ARCHIVE missing after mvn (see $mvnlog)"; }
	local tmp; tmp="$(mktemp -d "$APICURIO_HOME/dist.tmp.XXXXXX")"
	if ! tar -xzf "$arch/$ARCHIVE" -C "$tmp"; then
		rm -rf "$arch" "$tmp"
		die "fetch: unpacking $ARCHIVE failed"
	fi
	rm -rf "$arch"
	[[ -f "$tmp/quarkus-run.jar" && -d "$tmp/lib" ]] || { rm -rf "$tmp"; die "fetch: $ARCHIVE is not a Quarkus fast-jar layout (no quarkus-run.jar, lib/)"; }
	rm -rf "$DIST"
	mv "$tmp" "$DIST"
	stamp_content >"$STAMP"
	log "fetch: $(du -sh "$DIST" | cut -f1) in $(elapsed "$t0")"
}

# ---------------------------------------------------------------- process helpers

# pid of the registry running from DIR, or nothing (a stale pid file, or a
# reused pid that is not this DIR's registry, does not count).
registry_pid() { service_pid "$1/registry.pid" "-Dstockledger.apicurio.dir=$1 "; }

# ready PORT: the Confluent-compatible API answers (GET /subjects is 200).
ready() {
	local code
	code="$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$1$CCOMPAT_PATH/subjects" 2>/dev/null || true)"
	[[ "$code" == 200 ]]
}

print_addresses() {
	echo "ccompat: http://127.0.0.1:$PORT$CCOMPAT_PATH"
}

parse_dir_and_port() { # sets DIR and PORT
	DIR="${STOCKLEDGER_APICURIO_DIR:-${TMPDIR:-/tmp}/stockledger-apicurio}"
	local arg_port=""
	while [[ $# -gt 0 ]]; do
		case "$1" in
		--dir) DIR="${2:?--dir needs a value}"; shift 2 ;;
		--dir=*) DIR="${1#*=}"; shift ;;
		--port) arg_port="${2:?--port needs a value}"; shift 2 ;;
		--port=*) arg_port="${1#*=}"; shift ;;
		-h | --help) usage; exit 0 ;;
		*) die "unknown argument: $1" ;;
		esac
	done
	DIR="$(realpath -m -- "$DIR")"
	PORT=""
	if [[ -f "$DIR/port.env" ]]; then
		# shellcheck disable=SC1091
		source "$DIR/port.env"
	fi
	PORT="${arg_port:-${PORT:-$DEFAULT_PORT}}"
	if ! [[ "$PORT" =~ ^[0-9]+$ ]] || ((PORT < 1 || PORT > 65535)); then die "bad port: $PORT"; fi
}

# ---------------------------------------------------------------- start / stop

cmd_start() {
	parse_dir_and_port "$@"
	local t0; t0="$(now)"
	local pid; pid="$(registry_pid "$DIR")"
	if [[ -n "$pid" ]]; then
		log "start: already running (pid $pid, dir $DIR)"
		print_addresses
		return 0
	fi
	need curl "readiness is checked over HTTP"
	mkdir -p "$DIR"
	rm -f "$DIR/registry.pid"
	cmd_fetch
	find_java
	! port_open "$PORT" || die "start: port $PORT on 127.0.0.1 is already in use (another registry? pick another port)"
	echo "PORT=$PORT" >"$DIR/port.env"

	local heap="${STOCKLEDGER_APICURIO_HEAP:--Xms128m -Xmx512m}"
	# shellcheck disable=SC2206
	local args=($heap -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true
		"-Dstockledger.apicurio.dir=$DIR"
		-Dquarkus.http.host=127.0.0.1 "-Dquarkus.http.port=$PORT"
		# The management interface (health, metrics) is fixed on at build
		# time and binds 0.0.0.0:9000 by default: loopback, any free port.
		-Dquarkus.management.host=127.0.0.1 -Dquarkus.management.port=0
		# In-memory H2, a small pool.
		-Dapicurio.storage.kind=sql -Dapicurio.storage.sql.kind=h2
		"-Dapicurio.datasource.url=jdbc:h2:mem:stockledger"
		-Dapicurio.datasource.jdbc.initial-size=2 -Dapicurio.datasource.jdbc.min-size=2 -Dapicurio.datasource.jdbc.max-size=16
		"-Dapicurio.storage.snapshot.location=$DIR"
		${STOCKLEDGER_APICURIO_JVM_OPTS:-}
		-jar "$DIST/quarkus-run.jar")

	touch "$DIR/registry.log"
	printf '\n===== apicurio.sh start %s (%s) =====\n' "$(date -u +%FT%TZ)" "$JAVA" >>"$DIR/registry.log"
	# setsid: its own session, so a Ctrl-C or the caller's exit leaves it alone.
	(cd "$DIR" && exec setsid "$JAVA" "${args[@]}" >>"$DIR/registry.log" 2>&1 </dev/null) &
	pid=$!
	echo "$pid" >"$DIR/registry.pid"

	local timeout="${STOCKLEDGER_APICURIO_START_TIMEOUT:-180}"
	local deadline=$((SECONDS + timeout))
	while ! ready "$PORT"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 40 "$DIR/registry.log" >&2
			rm -f "$DIR/registry.pid"
			die "start: registry exited during startup (log: $DIR/registry.log)"
		fi
		if ((SECONDS >= deadline)); then
			tail -n 40 "$DIR/registry.log" >&2
			stop_pid "$pid" "$DIR"
			die "start: not ready after ${timeout}s (log: $DIR/registry.log)"
		fi
		sleep 0.3
	done
	log "start: ready (pid $pid, dir $DIR) in $(elapsed "$t0")"
	print_addresses
}

stop_pid() { stop_service "$1" "$2/registry.pid" "${STOCKLEDGER_APICURIO_STOP_TIMEOUT:-30}"; } # PID DIR

cmd_stop() {
	parse_dir_and_port "$@"
	local t0; t0="$(now)"
	local pid; pid="$(registry_pid "$DIR")"
	if [[ -z "$pid" ]]; then
		rm -f "$DIR/registry.pid"
		log "stop: not running (dir $DIR)"
		return 0
	fi
	stop_pid "$pid" "$DIR"
	log "stop: stopped pid $pid in $(elapsed "$t0")"
}

cmd_status() {
	parse_dir_and_port "$@"
	local pid; pid="$(registry_pid "$DIR")"
	if [[ -z "$pid" ]]; then
		echo "not running (dir $DIR)"
		return 3
	fi
	if ready "$PORT"; then
		echo "running (pid $pid, dir $DIR, apicurio registry $APICURIO_VERSION)"
	else
		echo "starting or stopping: pid $pid, port $PORT not answering (dir $DIR)"
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
	status) cmd_status "$@" ;;
	-h | --help | help) usage ;;
	*) usage >&2; exit 2 ;;
	esac
}

main "$@"
