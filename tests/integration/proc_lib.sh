# Starting and stopping the processes a test or benchmark owns: sourced, not
# run (by tests/integration/lib.sh and scripts/bench-http.sh).
#
# Each runs under `timeout` (a bounded lifetime, even when the script is killed
# hard) and is stopped by the pid of that wrapper. The sourcing script sets
# LIFETIME (seconds) and calls stop_wrappers in its EXIT trap.

WRAPPERS=() # pids of the `timeout` wrappers bounded() started

# bounded CMD...: runs CMD in the background under timeout; sets BG_WRAP to the
# wrapper's pid and BG_PID to the command's own pid.
bounded() {
	local i
	timeout -k 5 "$LIFETIME" "$@" &
	BG_WRAP=$!
	WRAPPERS+=("$BG_WRAP")
	BG_PID=
	for i in $(seq 100); do
		BG_PID=$(pgrep -P "$BG_WRAP" | head -n1 || true)
		[ -n "$BG_PID" ] && return 0
		sleep 0.02
	done
	echo "bounded: no child under $BG_WRAP for $*" >&2
	return 1
}

# stop_wrapper PID: SIGTERM to the timeout wrapper (it passes it to its child),
# SIGKILL if it is still there after 5 s.
stop_wrapper() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# stop_wrappers: every process bounded() started.
stop_wrappers() {
	local pid
	for pid in "${WRAPPERS[@]}"; do stop_wrapper "$pid"; done
}
