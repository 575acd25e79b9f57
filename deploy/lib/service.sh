# shellcheck shell=bash
# Helpers shared by deploy/kafka/kafka.sh and deploy/apicurio/apicurio.sh:
# logging, timing, fetching jars with Maven, and the pid-file life cycle of
# a JVM service started in the background. Sourced, never run; the caller
# sets SERVICE_NAME (its script's name, for messages), POM and DEP_PLUGIN.

log() { printf '%s: %s\n' "$SERVICE_NAME" "$*"; }
die() { printf '%s: error: %s\n' "$SERVICE_NAME" "$*" >&2; exit 1; }

now() { printf '%s' "${EPOCHREALTIME:-$(date +%s.%N)}"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found on PATH ($2)"; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# usage prints the calling script's header comment (line 2 to `set -euo`).
usage() {
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
}

# mvn_copy_deps OUTDIR LOGFILE [MVN ARGS...]: copies the runtime
# dependencies of $POM from Maven Central into OUTDIR; on failure shows the
# end of the log, removes OUTDIR and dies.
mvn_copy_deps() {
	local out="$1" mvnlog="$2"
	shift 2
	if ! mvn -B -ntp -f "$POM" "$@" "$DEP_PLUGIN:copy-dependencies" \
		-DincludeScope=runtime -DoutputDirectory="$out" >"$mvnlog" 2>&1; then
		rm -rf "$out"
		tail -n 40 "$mvnlog" >&2
		die "fetch: mvn failed (full output: $mvnlog)"
	fi
}

# service_pid PIDFILE MARKER: the pid in PIDFILE if that process is alive
# and its command line contains MARKER (so a reused pid does not count),
# else nothing.
service_pid() {
	local file="$1" marker="$2" pid
	[[ -f "$file" ]] || return 0
	pid="$(cat "$file" 2>/dev/null || true)"
	[[ "$pid" =~ ^[0-9]+$ ]] || return 0
	kill -0 "$pid" 2>/dev/null || return 0
	if [[ -r "/proc/$pid/cmdline" ]]; then
		tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$marker" || return 0
	fi
	printf '%s' "$pid"
}

# stop_service PID PIDFILE TIMEOUT: SIGTERM, then SIGKILL after TIMEOUT
# seconds; removes PIDFILE once the process is gone.
stop_service() {
	local pid="$1" file="$2" timeout="$3" i
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < timeout * 5; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "stop: still running after ${timeout}s, SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		! kill -0 "$pid" 2>/dev/null || die "stop: pid $pid survives SIGKILL"
	fi
	rm -f "$file"
}
