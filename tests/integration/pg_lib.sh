# shellcheck shell=bash
# Helpers for the PostgreSQL integration tests and benchmark: a throwaway
# PostgreSQL 15 (Debian) in a temporary directory, the agent, scrapes.
# Source it; it sets a trap that stops exactly what it started.
#
# Everything here talks only to 127.0.0.1 and to the unix socket in our own
# temporary directory. Ports: PostgreSQL in 15432-15439, agent in 19450-19459.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
RS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
AGENT_BIN=${AGENT_BIN:-$RS_ROOT/build/redscope}
# Upper bound on the life of everything we start, in seconds: a watchdog
# tears the server and agent down if the script dies or overruns.
PG_LIFETIME=${PG_LIFETIME:-900}

PG_TMP=""      # our temporary directory (owned by postgres)
PG_DATA=""     # data directory
PG_SOCK=""     # unix socket directory
PG_PORT=""     # TCP port on 127.0.0.1
PG_STARTED=0   # 1 while our server runs
AGENT_PORT=""  # agent listen port
AGENT_PID=""   # pid of the agent we started
AGENT_LOG=""
WATCHDOG_PID=""

log() { printf '# %s\n' "$*" >&2; }
die() {
	printf 'fatal: %s\n' "$*" >&2
	exit 1
}
as_pg() { runuser -u postgres -- "$@"; }

# A port in [lo, hi] nobody listens on (TCP, any address).
free_port() {
	local lo=$1 hi=$2 p
	for ((p = lo; p <= hi; p++)); do
		if [[ -z $(ss -Htln "sport = :$p") ]]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# Stops only what this script started: our agent pid, our data directory.
pg_cleanup() {
	local rc=$?
	set +e
	agent_stop
	pg_stop
	if [[ -n $WATCHDOG_PID ]]; then
		kill "$WATCHDOG_PID" 2>/dev/null
		wait "$WATCHDOG_PID" 2>/dev/null
		WATCHDOG_PID=""
	fi
	[[ -n $PG_TMP && -d $PG_TMP ]] && rm -rf "$PG_TMP"
	return $rc
}

# Creates the temporary directory, installs the trap and the watchdog.
pg_setup() {
	PG_TMP=$(mktemp -d /tmp/redscope-pgit.XXXXXX)
	chmod 755 "$PG_TMP"
	PG_DATA=$PG_TMP/data
	PG_SOCK=$PG_TMP/sock
	mkdir -p "$PG_SOCK"
	write_prom_py
	chown postgres: "$PG_TMP" "$PG_SOCK"
	trap pg_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM

	# If we die without running the trap (SIGKILL) or overrun, the watchdog
	# stops our server (by data directory) and our agent (by recorded pid).
	local main=$$ tmp=$PG_TMP data=$PG_DATA life=$PG_LIFETIME bin=$PG_BIN
	(
		trap - EXIT INT TERM
		end=$((SECONDS + life))
		while kill -0 "$main" 2>/dev/null && ((SECONDS < end)); do
			sleep 1
		done
		if kill -0 "$main" 2>/dev/null; then
			echo "watchdog: lifetime of ${life}s exceeded, stopping" >&2
			kill -TERM "$main" 2>/dev/null
			sleep 10
		fi
		[[ -d $tmp ]] || exit 0
		if [[ -f $tmp/agent.pid ]]; then
			apid=$(cat "$tmp/agent.pid")
			grep -qa redscope "/proc/$apid/cmdline" 2>/dev/null && kill -TERM "$apid"
		fi
		[[ -f $data/postmaster.pid ]] &&
			runuser -u postgres -- "$bin/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1
		rm -rf "$tmp"
	) </dev/null >/dev/null 2>&1 &
	WATCHDOG_PID=$!
}

# initdb with pg_stat_statements preloaded; $1 = 1 to turn TLS on.
pg_init() {
	local ssl=${1:-0}
	PG_PORT=$(free_port 15432 15439) || die "no free port in 15432-15439"
	as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 \
		--no-sync --no-instructions >"$PG_TMP/initdb.log" 2>&1 ||
		die "initdb failed: $(tail -5 "$PG_TMP/initdb.log")"
	cat >>"$PG_DATA/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_SOCK'
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
pg_stat_statements.max = 5000
max_connections = 40
fsync = off
synchronous_commit = off
full_page_writes = off
deadlock_timeout = '100ms'
log_min_messages = warning
EOF
	if ((ssl)); then
		# Self-signed certificate; the server wants the key private to it.
		openssl req -new -x509 -days 2 -nodes -newkey rsa:2048 -subj /CN=127.0.0.1 \
			-keyout "$PG_DATA/server.key" -out "$PG_DATA/server.crt" >/dev/null 2>&1 ||
			die "openssl failed"
		chown postgres: "$PG_DATA/server.key" "$PG_DATA/server.crt"
		chmod 600 "$PG_DATA/server.key"
		printf "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n" \
			>>"$PG_DATA/postgresql.conf"
	fi
}

# Extra lines for postgresql.conf (before pg_start).
pg_conf() { printf '%s\n' "$@" >>"$PG_DATA/postgresql.conf"; }

# PG_CPUS (e.g. 0) pins the server, and so every backend, to those CPUs.
pg_start() {
	${PG_CPUS:+taskset -c "$PG_CPUS"} runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_TMP/server.log" -w -t 60 start >/dev/null ||
		die "pg_ctl start failed: $(tail -5 "$PG_TMP/server.log")"
	PG_STARTED=1
	log "postgres on 127.0.0.1:$PG_PORT and $PG_SOCK (pid $(head -1 "$PG_DATA/postmaster.pid"))"
}

pg_stop() {
	if ((PG_STARTED)) && [[ -f $PG_DATA/postmaster.pid ]]; then
		as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null 2>&1
	fi
	PG_STARTED=0
}

# psql on our unix socket (control connections); $1 = database, rest = psql args.
psql_sock() {
	local db=$1
	shift
	psql -X -q -A -t -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" -U postgres -d "$db" "$@"
}
# psql over TCP to 127.0.0.1; $1 = database.
psql_tcp() {
	local db=$1
	shift
	psql -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "$db" "$@"
}

# Starts the agent on a free port in 19450-19459 with extra flags "$@" and
# waits until /health/ready answers 200. PGSQL_HOOKS=socket|syscall runs it
# on that set of hooks (tests/run-all.sh).
agent_start() {
	local hooks=()
	[[ -z ${PGSQL_HOOKS:-} ]] || hooks=(--pgsql.hooks="$PGSQL_HOOKS")
	AGENT_PORT=$(free_port 19450 19459) || die "no free port in 19450-19459"
	AGENT_LOG=$PG_TMP/agent.$AGENT_PORT.log
	# The agent must not hold the write end of a fifo a test keeps a psql
	# session on (it would never see end-of-file): close every fd above 2.
	(
		for f in /proc/self/fd/*; do
			fd=${f##*/}
			if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
		done
		exec "$AGENT_BIN" --web.listen-address="127.0.0.1:$AGENT_PORT" "${hooks[@]}" "$@"
	) >"$AGENT_LOG" 2>&1 &
	AGENT_PID=$!
	echo "$AGENT_PID" >"$PG_TMP/agent.pid"
	local i
	for ((i = 0; i < 300; i++)); do
		if ! kill -0 "$AGENT_PID" 2>/dev/null; then
			wait "$AGENT_PID" 2>/dev/null
			AGENT_PID=""
			die "agent exited: $(tail -5 "$AGENT_LOG")"
		fi
		[[ $(curl -s -o /dev/null -w '%{http_code}' \
			"http://127.0.0.1:$AGENT_PORT/health/ready") == 200 ]] && {
			log "agent pid $AGENT_PID on 127.0.0.1:$AGENT_PORT ($*)"
			return 0
		}
		sleep 0.1
	done
	die "agent not ready after 30 s: $(curl -s "http://127.0.0.1:$AGENT_PORT/health/ready")"
}

agent_stop() {
	if [[ -n $AGENT_PID ]]; then
		kill -TERM "$AGENT_PID" 2>/dev/null
		wait "$AGENT_PID" 2>/dev/null
		AGENT_PID=""
		rm -f "$PG_TMP/agent.pid"
	fi
}

# Writes a full /metrics scrape to file $1.
scrape() {
	curl -sf "http://127.0.0.1:$AGENT_PORT/metrics" -o "$1" || die "scrape failed"
}

# python3 without a version-manager shim in front (a shim costs ~0.4 s a call).
PY=${PY:-$(command -v /usr/bin/python3 || command -v python3)}

# The scrape reader, written into the temporary directory by pg_setup.
write_prom_py() {
	cat >"$PG_TMP/prom.py" <<'EOF'
import re, sys

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def unesc(v):
    return re.sub(r'\\(.)', lambda m: "\n" if m.group(1) == "n" else m.group(1), v)


def samples(path):
    for line in open(path):
        if line.startswith("#"):
            continue
        m = LINE.match(line)
        if m:
            yield m.group(1), {k: unesc(v) for k, v in LABEL.findall(m.group(3) or "")}, float(m.group(4))


def total(path, name, want):
    return sum(v for n, l, v in samples(path) if n == name and all(l.get(k) == x for k, x in want.items()))


def num(x):
    return str(int(x)) if x == int(x) else repr(x)


def norm(q):
    return " ".join(q.strip().rstrip(";").split())


cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "sum":  # FILE NAME [k=v...]
    print(num(total(args[0], args[1], dict(a.split("=", 1) for a in args[2:]))))
elif cmd == "delta":  # FILE0 FILE1 NAME [k=v...]
    want = dict(a.split("=", 1) for a in args[3:])
    print(num(total(args[1], args[2], want) - total(args[0], args[2], want)))
elif cmd == "ops":  # FILE0 FILE1 DATABASE: "OP N" per operation whose count moved
    def by_op(path):
        d = {}
        for n, l, v in samples(path):
            if n == "db_queries_total" and l.get("database") == args[2]:
                d[l.get("operation")] = d.get(l.get("operation"), 0) + v
        return d
    a, b = by_op(args[0]), by_op(args[1])
    for op in sorted(set(a) | set(b)):
        if b.get(op, 0) != a.get(op, 0):
            print(op, num(b.get(op, 0) - a.get(op, 0)))
elif cmd == "fp":  # FILE DATABASE QUERY: fingerprints of db_statement_info for QUERY
    for n, l, v in samples(args[0]):
        if n == "db_statement_info" and l.get("database") == args[1] and norm(l.get("query", "")) == norm(args[2]):
            print(l.get("fingerprint", ""))
EOF
}

# metric FILE NAME [label=value ...]: sum of the samples of NAME whose labels
# include every label=value given (give them all for an exact series); 0 when
# none match.
metric() { "$PY" "$PG_TMP/prom.py" sum "$@"; }
