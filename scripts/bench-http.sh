#!/usr/bin/env bash
# What the HTTP collector costs a busy server: nginx (1 worker pinned to CPU 0)
# serving a 612-byte file to wrk (pinned to CPU 1, -t1 -c32), in interleaved
# rounds of three setups: no agent; the floor (empty BPF programs on the same
# hooks, tests/bench/floor.bpf.c); redscope (HTTP collector only). Both on the
# hooks --http.hooks=auto picks here, or those in HOOKS=socket|syscall.
# Prints figures, not a verdict. Needs root.
#
# Throughput here drifts by tens of percent over tens of seconds, whatever
# runs, so besides the medians of each setup it prints the median of each
# round's own losses (each setup against the same round's no-agent run; every
# other round runs its setups in reverse order, so a steady drift cancels),
# and the median of each round's redscope loss minus its floor loss: the
# figure to hold against the target of at most 2 points above the floor.
#
#   scripts/bench-http.sh [SECONDS_PER_RUN [ROUNDS]]     (default 10 3)
#   BENCH_PROFILE=1 scripts/bench-http.sh   adds one run of the floor and one of
#                                           redscope with bpf_stats on, and prints
#                                           BPF time per request and per program
#   BENCH_READS=1 scripts/bench-http.sh     adds a fourth setup to each round: the
#                                           floor making redscope's reads from user
#                                           memory and nothing else (socket hooks
#                                           only): what any collector that reads
#                                           method, path and status costs at least
set -euo pipefail

DURATION=${1:-10}
ROUNDS=${2:-3}
NGINX_PORT=18099
AGENT_PORT=19439
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

make -s bench >/dev/null
if [ -z "${HOOKS:-}" ]; then
	check_out=$("$ROOT/build/redscope" --check --no-collector.pgsql 2>&1 || true)
	HOOKS=$(sed -n 's/.*http: \(socket\|syscall\) hooks.*/\1/p' <<<"$check_out" | head -n1)
fi
case "$HOOKS" in
socket | syscall) ;;
*) echo "bench: HOOKS must be socket or syscall" >&2 && exit 2 ;;
esac
READS=${BENCH_READS:-0}
if [ "$READS" = 1 ] && [ "$HOOKS" != socket ]; then
	echo "bench: BENCH_READS=1 needs the socket hooks" >&2
	exit 2
fi
TMP=$(mktemp -d /tmp/redscope-bench.XXXXXX)
chmod 755 "$TMP" # nginx's worker runs as nobody
STATS_PREV= # kernel.bpf_stats_enabled to restore, when the profile changed it
LIFETIME=3600 # seconds any process started here may live at most
# shellcheck source=../tests/integration/proc_lib.sh
. "$ROOT/tests/integration/proc_lib.sh"
cleanup() {
	stop_wrappers
	[ -z "$STATS_PREV" ] || sysctl -q -w kernel.bpf_stats_enabled="$STATS_PREV"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# libbpf attaches tracepoints through tracefs; the floor loader does not mount it.
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing

# nginx as Debian ships it (sendfile on), but without an access log: the
# file writes would be measured too and they are not what this is about.
mkdir -p "$TMP/www" "$TMP/tmp"
head -c 612 /dev/zero | tr '\0' x >"$TMP/www/index.html"
cat >"$TMP/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
pid $TMP/nginx.pid;
error_log $TMP/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	keepalive_requests 100000;
	client_body_temp_path $TMP/tmp/body;
	proxy_temp_path $TMP/tmp/proxy;
	fastcgi_temp_path $TMP/tmp/fastcgi;
	uwsgi_temp_path $TMP/tmp/uwsgi;
	scgi_temp_path $TMP/tmp/scgi;
	server {
		listen 127.0.0.1:$NGINX_PORT;
		root $TMP/www;
	}
}
EOF
bounded taskset -c 0 nginx -e "$TMP/error.log" -c "$TMP/nginx.conf"
for i in $(seq 50); do
	(exec 3<>"/dev/tcp/127.0.0.1/$NGINX_PORT") 2>/dev/null && break
	sleep 0.1
done

URL=http://127.0.0.1:$NGINX_PORT/index.html
# run_wrk SECONDS: requests per second, as wrk reports it. Its total goes to
# $TMP/wrk.total.
run_wrk() {
	local out
	out=$(taskset -c 1 timeout $(($1 + 30)) wrk -t1 -c32 -d"$1"s "$URL")
	awk '/requests in/ {print $1}' <<<"$out" >"$TMP/wrk.total"
	awk '/^Requests\/sec:/ {print $2}' <<<"$out"
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
now_ns() { date +%s%N; }

start_agent() {
	local i
	bounded "$ROOT/build/redscope" --web.listen-address=127.0.0.1:$AGENT_PORT \
		--no-collector.pgsql --log.level=warn --http.hooks="$HOOKS"
	AGENT_PID=$BG_PID
	AGENT_WRAP=$BG_WRAP
	for i in $(seq 300); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$AGENT_PORT/health/ready")" = 200 ] && return 0
		sleep 0.1
	done
	echo "bench: the agent never became ready" >&2
	return 1
}

# start_floor [SET]: the floor's HTTP set (default: the hooks benchmarked).
start_floor() {
	bounded "$ROOT/build/bench/floor" --http="${1:-$HOOKS}" >"$TMP/floor.out"
	FLOOR_WRAP=$BG_WRAP
	FLOOR_PID=$BG_PID
	for i in $(seq 300); do
		grep -q attached "$TMP/floor.out" && return 0
		sleep 0.1
	done
	echo "bench: the floor never attached" >&2
	return 1
}

# shellcheck source=scripts/stats.sh
. "$ROOT/scripts/stats.sh"

none=() floor=() agent=() floor_loss=() agent_loss=() above=()
reads=() reads_loss=() reads_above=()
cpu_ticks_sum=0 cpu_ns_sum=0 hwm_kb=0 drops=0 counted=0 wrk_total=0
hz=$(getconf CLK_TCK)

echo "bench: nginx on CPU 0, wrk -t1 -c32 -d${DURATION}s on CPU 1, $ROUNDS rounds, $HOOKS hooks" >&2
run_wrk 2 >/dev/null # warm up nginx and the page cache
run_none() { none+=("$(run_wrk "$DURATION")"); }
run_floor() {
	start_floor
	floor+=("$(run_wrk "$DURATION")")
	stop_wrapper "$FLOOR_WRAP"
}
run_reads() {
	[ "$READS" = 1 ] || return 0
	start_floor "reads:$NGINX_PORT"
	reads+=("$(run_wrk "$DURATION")")
	stop_wrapper "$FLOOR_WRAP"
}
run_agent() {
	local t0 c0 h
	start_agent
	t0=$(now_ns)
	c0=$(cpu_ticks "$AGENT_PID")
	agent+=("$(run_wrk "$DURATION")")
	# One scrape per run, as a Prometheus server would do about every 10 s.
	curl -s "http://127.0.0.1:$AGENT_PORT/metrics" >"$TMP/metrics"
	cpu_ticks_sum=$((cpu_ticks_sum + $(cpu_ticks "$AGENT_PID") - c0))
	cpu_ns_sum=$((cpu_ns_sum + $(now_ns) - t0))
	h=$(awk '/^VmHWM:/ {print $2}' "/proc/$AGENT_PID/status")
	[ "$h" -gt "$hwm_kb" ] && hwm_kb=$h
	drops=$((drops + $(awk '/^redscope_events_dropped_total\{/ {s += $2} END {print s + 0}' "$TMP/metrics")))
	counted=$((counted + $(awk '/^http_requests_total\{/ && /endpoint="\/index.html"/ {s += $2} END {print s + 0}' "$TMP/metrics")))
	wrk_total=$((wrk_total + $(cat "$TMP/wrk.total")))
	stop_wrapper "$AGENT_WRAP"
}

for r in $(seq "$ROUNDS"); do
	# Every other round in reverse order, so that a steady drift of the
	# machine's speed favours neither end of the round.
	if [ $((r % 2)) = 1 ]; then
		run_none
		run_floor
		run_reads
		run_agent
	else
		run_agent
		run_reads
		run_floor
		run_none
	fi
	echo "bench: round $r: none ${none[-1]}, floor ${floor[-1]}, redscope ${agent[-1]} req/s${reads:+, floor + reads ${reads[-1]}}" >&2
	floor_loss+=("$(awk -v a="${floor[-1]}" -v b="${none[-1]}" 'BEGIN { print (b - a) / b * 100 }')")
	agent_loss+=("$(awk -v a="${agent[-1]}" -v b="${none[-1]}" 'BEGIN { print (b - a) / b * 100 }')")
	above+=("$(awk -v a="${agent_loss[-1]}" -v f="${floor_loss[-1]}" 'BEGIN { print a - f }')")
	if [ "$READS" = 1 ]; then
		reads_loss+=("$(awk -v a="${reads[-1]}" -v b="${none[-1]}" 'BEGIN { print (b - a) / b * 100 }')")
		reads_above+=("$(awk -v a="${reads_loss[-1]}" -v f="${floor_loss[-1]}" 'BEGIN { print a - f }')")
	fi
done

m_none=$(printf '%s\n' "${none[@]}" | median)
m_floor=$(printf '%s\n' "${floor[@]}" | median)
m_agent=$(printf '%s\n' "${agent[@]}" | median)
loss() { awk -v a="$1" -v b="$m_none" 'BEGIN { printf "%.1f %%", (b - a) / b * 100 }'; }
m_floor_loss=$(printf '%s\n' "${floor_loss[@]}" | median)
m_agent_loss=$(printf '%s\n' "${agent_loss[@]}" | median)
m_above=$(printf '%s\n' "${above[@]}" | median)
read -r ci_lo ci_hi ci_pct < <(printf '%s\n' "${above[@]}" | median_ci)
n_above2=$(printf '%s\n' "${above[@]}" | above2)
cpu_pct=$(awk -v t="$cpu_ticks_sum" -v hz="$hz" -v ns="$cpu_ns_sum" \
	'BEGIN { printf "%.2f %%", t / hz / (ns / 1e9) * 100 }')

printf '\n%-22s %12s %10s %12s\n' "setup" "req/s" "loss" "round loss"
printf '%-22s %12.0f %10s %12s\n' "no agent" "$m_none" "-" "-"
printf '%-22s %12.0f %10s %10.1f %%\n' "floor ($(sed -n 's/floor: \([0-9]*\) .*/\1/p' "$TMP/floor.out") empty progs)" \
	"$m_floor" "$(loss "$m_floor")" "$m_floor_loss"
printf '%-22s %12.0f %10s %10.1f %%\n' "redscope" "$m_agent" "$(loss "$m_agent")" "$m_agent_loss"
printf '(loss: of the medians; round loss: median over rounds of each round'"'"'s own loss)\n'
printf 'round losses (%%)        floor: %s; redscope: %s\n' \
	"$(printf '%.1f ' "${floor_loss[@]}")" "$(printf '%.1f ' "${agent_loss[@]}")"
printf 'redscope above floor     %.1f points: median over rounds of redscope'"'"'s loss minus the floor'"'"'s\n' \
	"$m_above"
printf '                         in the same round (%d of %d rounds more than 2 points above)\n' \
	"$n_above2" "$ROUNDS"
if [ "$ci_lo" = - ]; then
	printf '                         (too few rounds for an interval: 6 at least)\n'
else
	printf '                         %s %% interval for that median: %.1f to %.1f points\n' \
		"$ci_pct" "$ci_lo" "$ci_hi"
fi
printf '\nredscope userspace CPU   %s of one core (utime+stime over its runs, one scrape each)\n' "$cpu_pct"
printf 'redscope peak RSS        %.1f MB (VmHWM)\n' "$(awk -v k="$hwm_kb" 'BEGIN { print k / 1024 }')"
printf 'events dropped           %d (redscope_events_dropped_total, all rounds)\n' "$drops"
printf 'requests counted         %d of %d wrk completed (wrk leaves out those in flight at its end)\n' \
	"$counted" "$wrk_total"
printf 'rounds (req/s)           none: %s; floor: %s; redscope: %s\n' \
	"${none[*]}" "${floor[*]}" "${agent[*]}"

if [ "$READS" = 1 ]; then
	read -r ci_lo ci_hi ci_pct < <(printf '%s\n' "${reads_above[@]}" | median_ci)
	printf '\nfloor + reads            %.0f req/s, %s; round loss %.1f %%\n' \
		"$(printf '%s\n' "${reads[@]}" | median)" "$(loss "$(printf '%s\n' "${reads[@]}" | median)")" \
		"$(printf '%s\n' "${reads_loss[@]}" | median)"
	printf '  (the floor making redscope'"'"'s bpf_probe_read_user calls, nothing else)\n'
	printf 'reads above floor        %.1f points (median over rounds; %d of %d rounds more than 2 above)\n' \
		"$(printf '%s\n' "${reads_above[@]}" | median)" \
		"$(printf '%s\n' "${reads_above[@]}" | above2)" "$ROUNDS"
	[ "$ci_lo" = - ] || printf '                         %s %% interval: %.1f to %.1f points\n' \
		"$ci_pct" "$ci_lo" "$ci_hi"
	printf 'round losses (%%) reads:  %s\n' "$(printf '%.1f ' "${reads_loss[@]}")"
	printf 'rounds (req/s) reads:    %s\n' "${reads[*]}"
fi

[ "${BENCH_PROFILE:-0}" = 1 ] || exit 0

# One more run of the floor and of redscope with bpf_stats on (it adds two
# clock reads per program run, so these are not measured rounds): BPF time per
# request, in all and per program.
# profile PID LABEL: bpf_stats of the programs PID holds over one wrk run.
profile() {
	local pid=$1 label=$2 id
	run_wrk "$DURATION" >/dev/null
	for id in $(awk '$1 == "prog_id:" {print $2}' /proc/"$pid"/fdinfo/* 2>/dev/null | sort -un); do
		bpftool prog show id "$id" 2>/dev/null | awk '
			NR == 1 { for (i = 1; i <= NF; i++) {
				if ($i == "name") name = $(i + 1)
				if ($i == "run_time_ns") t = $(i + 1)
				if ($i == "run_cnt") c = $(i + 1) } }
			END { if (c > 0) printf "%-24s %12d %10.0f %14.1f\n", name, c, t / c, t / 1e6 }'
	done | sort -k4 -rn >"$TMP/profile"
	printf '\n%s: %.2f µs of BPF time per request\n' "$label" \
		"$(awk -v n="$(cat "$TMP/wrk.total")" '{ t += $4 } END { print t * 1000 / n }' "$TMP/profile")"
	printf '%-24s %12s %10s %14s\n' "program" "runs" "ns/run" "ms total"
	cat "$TMP/profile"
}

STATS_PREV=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -q -w kernel.bpf_stats_enabled=1
start_floor
profile "$FLOOR_PID" "floor"
stop_wrapper "$FLOOR_WRAP"
start_agent
profile "$AGENT_PID" "redscope"
stop_wrapper "$AGENT_WRAP"
if [ "$READS" = 1 ]; then
	start_floor "reads:$NGINX_PORT"
	profile "$FLOOR_PID" "floor + reads"
	stop_wrapper "$FLOOR_WRAP"
fi
