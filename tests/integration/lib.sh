# Helpers for the integration tests: sourced, not run.
#
# Every process a test starts runs under `timeout` (a bounded lifetime even if
# the test is killed hard) and is stopped by pid in the EXIT trap. Servers
# listen on loopback only: nginx on 18080-18099, the agent on 19433-19439.
# Results are TAP-like lines, then "N passed, N failed".

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
REDSCOPE=${REDSCOPE:-$ROOT/build/redscope}
ECHO_MODULE=${ECHO_MODULE:-/usr/lib/nginx/modules/ngx_http_echo_module.so}
# Debian's python3: a pyenv shim or a venv on PATH would change the process name.
PYTHON=${PYTHON:-$([ -x /usr/bin/python3 ] && echo /usr/bin/python3 || command -v python3)}
# The pgsql collector is not under test here; its state must not decide readiness.
AGENT_FLAGS=(--no-collector.pgsql)
# HTTP_HOOKS=socket|syscall runs the agent on that set of hooks (tests/run-all.sh).
[ -z "${HTTP_HOOKS:-}" ] || AGENT_FLAGS+=(--http.hooks="$HTTP_HOOKS")
LIFETIME=300 # seconds any server we start may live at most

T_PASS=0
T_FAIL=0
# shellcheck source=proc_lib.sh
. "$ROOT/tests/integration/proc_lib.sh"
TMP=$(mktemp -d /tmp/redscope-it.XXXXXX)
chmod 755 "$TMP" # nginx workers run as nobody and serve files from here

if [ "$(id -u)" != 0 ]; then
	echo "integration tests need root (BPF)" >&2
	exit 1
fi

ok() {
	echo "ok - $*"
	T_PASS=$((T_PASS + 1))
}

not_ok() {
	echo "not ok - $*"
	T_FAIL=$((T_FAIL + 1))
}

# check_eq DESC WANT GOT
check_eq() {
	if [ "$2" = "$3" ]; then
		ok "$1 ($3)"
	else
		not_ok "$1: want $2, got $3"
	fi
}

# check DESC COMMAND...: passes when COMMAND succeeds.
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# finish [SCRAPE]: the summary line; on failure, the scrape's http_requests_total
# lines first, as comments, to see what was counted instead.
finish() {
	if [ "$T_FAIL" -gt 0 ] && [ -f "${1:-}" ]; then
		grep '^http_requests_total' "$1" | sed 's/^/# /' || true
	fi
	echo "$T_PASS passed, $T_FAIL failed"
	[ "$T_FAIL" -eq 0 ]
}

cleanup() {
	stop_wrappers
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_port PORT [HOST]: until something accepts there (connects and closes
# without sending a byte, so no request is counted anywhere).
wait_port() {
	local port=$1 host=${2:-127.0.0.1} i
	for i in $(seq 100); do
		if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "nothing listens on $host:$port" >&2
	return 1
}

# http_code URL: the status of a GET, 000 when there is no answer.
http_code() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1" || true
}

# start_agent PORT [FLAG...]: starts redscope on 127.0.0.1:PORT and waits for
# /health/ready 200. Sets AGENT_PID, AGENT_WRAP, AGENT_URL, AGENT_LOG.
start_agent() {
	local port=$1 i
	shift
	AGENT_URL=http://127.0.0.1:$port
	AGENT_LOG=$TMP/agent-$port.log
	bounded "$REDSCOPE" --web.listen-address="127.0.0.1:$port" "${AGENT_FLAGS[@]}" "$@" \
		>"$AGENT_LOG" 2>&1
	AGENT_PID=$BG_PID
	AGENT_WRAP=$BG_WRAP
	for i in $(seq 300); do
		[ "$(http_code "$AGENT_URL/health/ready")" = 200 ] && return 0
		kill -0 "$AGENT_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "agent on :$port never became ready; its log:" >&2
	cat "$AGENT_LOG" >&2
	return 1
}

# scrape FILE: saves the agent's /metrics.
scrape() {
	curl -sf --max-time 10 "$AGENT_URL/metrics" >"$1"
}

# msum FILE NAME FRAGMENT...: the sum of the samples of metric NAME (up to
# its label set) whose labels contain every FRAGMENT, e.g. 'status="200"'.
# 0 when none matches.
msum() {
	local file=$1 name=$2
	shift 2
	awk -v name="$name" -v frags="$(printf '%s\n' "$@")" '
		BEGIN { nf = split(frags, f, "\n"); s = 0 }
		{
			series = $1
			if (index(series, name "{") != 1 && series != name) next
			for (i = 1; i <= nf; i++)
				if (f[i] != "" && index(series, f[i]) == 0) next
			s += $2
		}
		END { printf "%d\n", s }' "$file"
}

# nseries FILE NAME FRAGMENT...: how many samples match, as msum.
nseries() {
	local file=$1 name=$2
	shift 2
	awk -v name="$name" -v frags="$(printf '%s\n' "$@")" '
		BEGIN { nf = split(frags, f, "\n"); n = 0 }
		{
			if (index($1, name "{") != 1) next
			for (i = 1; i <= nf; i++)
				if (f[i] != "" && index($1, f[i]) == 0) next
			n++
		}
		END { print n }' "$file"
}

# start_nginx PORT [LOCATIONS]: nginx on 127.0.0.1:PORT, one worker, the echo
# module loaded, everything (logs, temp, pid) under its own directory
# NGINX_DIR, static files from NGINX_DIR/www. The access log has one line per
# request: method, request-uri, status, request_completion ("OK" when the
# whole response was sent).
start_nginx() {
	local port=$1 locations=${2:-}
	NGINX_DIR=$TMP/nginx-$port
	mkdir -p "$NGINX_DIR/www" "$NGINX_DIR/tmp"
	printf 'hello\n' >"$NGINX_DIR/www/index.html"
	cat >"$NGINX_DIR/nginx.conf" <<EOF
load_module $ECHO_MODULE;
daemon off;
master_process on;
worker_processes 1;
pid $NGINX_DIR/nginx.pid;
error_log $NGINX_DIR/error.log warn;
events { worker_connections 1024; }
http {
	log_format rs '\$request_method \$request_uri \$status \$request_completion';
	access_log $NGINX_DIR/access.log rs;
	client_body_temp_path $NGINX_DIR/tmp/body;
	proxy_temp_path $NGINX_DIR/tmp/proxy;
	fastcgi_temp_path $NGINX_DIR/tmp/fastcgi;
	uwsgi_temp_path $NGINX_DIR/tmp/uwsgi;
	scgi_temp_path $NGINX_DIR/tmp/scgi;
	default_type text/plain;
	sendfile on; # as in Debian's nginx.conf: bodies of static files go out with sendfile
	tcp_nopush on;
	server {
		listen 127.0.0.1:$port;
		root $NGINX_DIR/www;
		$locations
	}
}
EOF
	bounded nginx -e "$NGINX_DIR/error.log" -c "$NGINX_DIR/nginx.conf"
	NGINX_WRAP=$BG_WRAP
	wait_port "$port"
}

# nginx_log_count METHOD PATH STATUS: completed requests nginx logged (PATH
# with its query string, as sent).
nginx_log_count() {
	sleep 0.3 # nginx logs after the last byte is sent
	awk -v m="$1" -v p="$2" -v s="$3" '$1 == m && $2 == p && $3 == s && $4 == "OK"' \
		"$NGINX_DIR/access.log" | wc -l
}

# curl_keepalive N URL: N requests on one connection.
curl_keepalive() {
	local args=() i
	for i in $(seq "$1"); do args+=(-o /dev/null "$2"); done
	curl -s --max-time 10 "${args[@]}" || true
}

# curl_n N CURL-ARGS...: N sequential requests, one connection each.
curl_n() {
	local n=$1 i
	shift
	for i in $(seq "$n"); do
		curl -s -o /dev/null --max-time 10 "$@" || true
	done
}

# agent_alive: the agent's pid is still there and /health/live answers 200.
agent_alive() {
	kill -0 "$AGENT_PID" 2>/dev/null && [ "$(http_code "$AGENT_URL/health/live")" = 200 ]
}
