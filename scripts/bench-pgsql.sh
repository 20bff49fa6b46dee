#!/usr/bin/env bash
# What the PostgreSQL collector costs a busy server: PostgreSQL 15 (pinned to
# CPU 0) under `pgbench -n -S -c4` (pinned to CPU 1), in interleaved rounds of
# five setups:
#   no agent;
#   floor: empty programs on every hook redscope attaches with both collectors
#     on (tests/bench/floor.bpf.c: the hooks each collector picks on this
#     kernel, socket or syscall; 7 programs with both on socket hooks);
#   redscope (defaults: HTTP and PostgreSQL collectors);
#   floor, PostgreSQL hooks only (4 programs on socket hooks, 6 on syscall);
#   redscope --no-collector.http.
# Then one more redscope run with kernel.bpf_stats_enabled=1 (restored after)
# for the run time of each pgsql_* program; it is not one of the measured
# rounds because the stats add two clock reads to every program run.
# Prints figures, not a verdict. Needs root.
#
#   scripts/bench-pgsql.sh [-t SECONDS_PER_RUN] [-r ROUNDS] [--no-profile]
#   (default -t 10 -r 3)
set -euo pipefail

DURATION=10
ROUNDS=3
PROFILE=1
while (($#)); do
	case $1 in
	-t | --seconds) DURATION=$2 && shift 2 ;;
	-r | --rounds) ROUNDS=$2 && shift 2 ;;
	--no-profile) PROFILE=0 && shift ;;
	*)
		echo "usage: $0 [-t SECONDS_PER_RUN] [-r ROUNDS] [--no-profile]" >&2
		exit 2
		;;
	esac
done
[[ $DURATION =~ ^[1-9][0-9]*$ && $ROUNDS =~ ^[1-9][0-9]*$ ]] || {
	echo "bench: -t and -r take positive integers" >&2
	exit 2
}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
make -s bench >/dev/null
# The floor carries the hooks the agent picks on this kernel, for each collector
# (PGSQL_HOOKS=socket|syscall makes the agent take those, see pg_lib.sh).
check_out=$("$ROOT/build/redscope" --check ${PGSQL_HOOKS:+--pgsql.hooks=$PGSQL_HOOKS} 2>&1 || true)
FLOOR_HTTP=--http=socket
grep -q 'http: socket hooks' <<<"$check_out" || FLOOR_HTTP=--http=syscall
FLOOR_PG=--pgsql=socket
grep -q 'pgsql: socket hooks' <<<"$check_out" || FLOOR_PG=--pgsql=syscall
# shellcheck source=../tests/integration/pg_lib.sh
. tests/integration/pg_lib.sh
export PGSSLMODE=disable
DB=rsbench_pg # the agent sees every PostgreSQL on the host: a name of our own

FLOOR_PID=""
STATS_PREV="" # kernel.bpf_stats_enabled to restore, once we changed it
bench_cleanup() {
	if [[ -n $FLOOR_PID ]]; then
		kill -TERM "$FLOOR_PID" 2>/dev/null || true
		wait "$FLOOR_PID" 2>/dev/null || true
		FLOOR_PID=""
	fi
	[[ -z $STATS_PREV ]] || sysctl -q -w kernel.bpf_stats_enabled="$STATS_PREV"
	STATS_PREV=""
}

PG_LIFETIME=$((ROUNDS * 5 * (DURATION + 15) + 300))
pg_setup
trap 'bench_cleanup; pg_cleanup' EXIT
# libbpf attaches tracepoints through tracefs; the floor loader does not mount it.
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing

pg_init 0
PG_CPUS=0 pg_start
psql_sock postgres -c "create database $DB"
pgbench -q -i -s 1 -h "$PG_SOCK" -p "$PG_PORT" -U postgres "$DB" >"$PG_TMP/init.log" 2>&1 ||
	die "pgbench -i failed: $(tail -3 "$PG_TMP/init.log")"

# run_pgbench SECONDS: tps (without initial connection time); the number of
# transactions processed goes to $PG_TMP/pgbench.n.
run_pgbench() {
	local out
	out=$(taskset -c 1 timeout $(($1 + 60)) pgbench -n -S -c4 -T "$1" -h 127.0.0.1 -p "$PG_PORT" \
		-U postgres "$DB" 2>&1) || die "pgbench failed: $(tail -3 <<<"$out")"
	awk '/^number of transactions actually processed:/ {print $NF}' <<<"$out" >"$PG_TMP/pgbench.n"
	awk '/^tps = / {print $3}' <<<"$out"
}

floor_start() {
	local i
	"$ROOT/build/bench/floor" "$@" >"$PG_TMP/floor.out" 2>&1 &
	FLOOR_PID=$!
	for ((i = 0; i < 300; i++)); do
		grep -q attached "$PG_TMP/floor.out" && return 0
		kill -0 "$FLOOR_PID" 2>/dev/null || break
		sleep 0.1
	done
	die "the floor never attached: $(cat "$PG_TMP/floor.out")"
}
floor_stop() { bench_cleanup; }

# Tracing programs (tracepoint, kprobe/uprobe, fentry) loaded on the host,
# taken while none of ours is: others' agents running at the same time make
# every figure move, so each run says how many there were.
others_progs() {
	bpftool prog show -j 2>/dev/null |
		"$PY" -c "import json,sys; print(sum(p['type'] in ('tracepoint','kprobe','tracing','raw_tracepoint') for p in json.load(sys.stdin)))"
}
OTHERS_MAX=0
# The programs of a setup just stopped are freed by the kernel an RCU grace
# period or so later: wait for them (up to 2 s) so they are not taken for
# others'.
settled_others() {
	local n i
	for ((i = 0; i < 20; i++)); do
		n=$(others_progs)
		((n == 0)) && break
		sleep 0.1
	done
	echo "$n"
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
SELECTS='db_queries_total'
counted_selects() { metric "$1" "$SELECTS" database="$DB" operation=SELECT; }

# One run of setup $1; appends its tps to the array named $1.
declare -a none floor redscope floor_pg redscope_pg
cpu_ticks_sum=0 cpu_s_sum=0 counted=0 sent=0
run_setup() {
	local name=$1 tps c0 t0 m0 m1 o0 o1
	o0=$(settled_others)
	case $name in
	none) tps=$(run_pgbench "$DURATION") ;;
	floor | floor_pg)
		if [[ $name == floor ]]; then floor_start $FLOOR_PG $FLOOR_HTTP; else floor_start $FLOOR_PG --http=none; fi
		tps=$(run_pgbench "$DURATION")
		floor_stop
		;;
	redscope | redscope_pg)
		if [[ $name == redscope ]]; then agent_start --log.level=warn; else
			agent_start --log.level=warn --no-collector.http
		fi
		scrape "$PG_TMP/m0"
		c0=$(cpu_ticks "$AGENT_PID")
		t0=$(date +%s.%N)
		tps=$(run_pgbench "$DURATION")
		# One scrape per run, as Prometheus would every 10 s or so.
		scrape "$PG_TMP/m1"
		cpu_ticks_sum=$((cpu_ticks_sum + $(cpu_ticks "$AGENT_PID") - c0))
		cpu_s_sum=$(awk -v a="$cpu_s_sum" -v t0="$t0" -v t1="$(date +%s.%N)" 'BEGIN {print a + t1 - t0}')
		sleep 0.5 # let the last statements land before the count
		scrape "$PG_TMP/m1"
		m0=$(counted_selects "$PG_TMP/m0")
		m1=$(counted_selects "$PG_TMP/m1")
		counted=$((counted + m1 - m0))
		# pgbench's main connection sends two SELECTs of its own first.
		sent=$((sent + $(cat "$PG_TMP/pgbench.n") + 2))
		drops=$(grep '^redscope_events_dropped_total{collector="pgsql"' "$PG_TMP/m1" | grep -v ' 0$' | tr '\n' ' ' || true)
		[[ -z $drops ]] || log "drops: $drops"
		agent_stop
		;;
	esac
	o1=$(settled_others)
	((o0 > o1)) || o0=$o1
	((o0 > OTHERS_MAX)) && OTHERS_MAX=$o0
	tps=$(printf '%.0f' "$tps")
	((o0 == 0)) || tps+="(!$o0)"
	eval "$name+=(\"\$tps\")"
}

SETUPS=(none floor redscope floor_pg redscope_pg)
echo "bench: PostgreSQL 15 on CPU 0, pgbench -n -S -c4 -T $DURATION on CPU 1, $ROUNDS rounds" >&2
run_pgbench 3 >/dev/null # warm up the server and the page cache
for ((r = 1; r <= ROUNDS; r++)); do
	# Rotate the order each round so no setup always runs right after another.
	line=""
	for ((k = 0; k < ${#SETUPS[@]}; k++)); do
		s=${SETUPS[$(((k + r - 1) % ${#SETUPS[@]}))]}
		run_setup "$s"
		eval "line+=\" $s \${$s[-1]}\""
	done
	echo "bench: round $r (tps):$line" >&2
done

((OTHERS_MAX == 0)) || echo "bench: (!N): N tracing programs of others were loaded around that run" >&2
# Medians over all runs, those marked (!N) included.
median() { sed 's/(.*//' | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
m_none=$(printf '%s\n' "${none[@]}" | median)
row() {
	local label=$1 arr=$2 m
	eval "m=\$(printf '%s\n' \"\${$arr[@]}\" | median)"
	if [[ $arr == none ]]; then
		printf '%-40s %10.0f %8s\n' "$label" "$m" "-"
	else
		printf '%-40s %10.0f %8s\n' "$label" "$m" \
			"$(awk -v a="$m" -v b="$m_none" 'BEGIN { printf "%.1f %%", (b - a) / b * 100 }')"
	fi
}
printf '\n%-40s %10s %8s\n' "setup (median of $ROUNDS)" "tps" "loss"
row "no agent" none
row "floor (empty progs, both collectors)" floor
row "redscope (both collectors)" redscope
row "floor, PostgreSQL only (${FLOOR_PG#--pgsql=} hooks)" floor_pg
row "redscope --no-collector.http" redscope_pg
printf '\nrounds (tps): none %s; floor %s; redscope %s; floor_pg %s; redscope_pg %s\n' \
	"${none[*]}" "${floor[*]}" "${redscope[*]}" "${floor_pg[*]}" "${redscope_pg[*]}"
printf 'redscope userspace CPU   %s of one core (utime+stime over its runs)\n' \
	"$(awk -v t="$cpu_ticks_sum" -v hz="$(getconf CLK_TCK)" -v s="$cpu_s_sum" 'BEGIN { printf "%.2f %%", t / hz / s * 100 }')"
printf 'SELECTs counted          %d of %d pgbench sent (its transactions + 2 startup queries, redscope runs)\n' \
	"$counted" "$sent"

((PROFILE)) || exit 0

# Per-program cost: one more default redscope run with bpf_stats on.
agent_start --log.level=warn
STATS_PREV=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -q -w kernel.bpf_stats_enabled=1
tps=$(run_pgbench "$DURATION")
ids=$(awk '$1 == "prog_id:" {print $2}' /proc/"$AGENT_PID"/fdinfo/* 2>/dev/null | sort -un | tr '\n' ' ')
bpftool prog show -j >"$PG_TMP/progs.json"
sysctl -q -w kernel.bpf_stats_enabled="$STATS_PREV"
STATS_PREV=""
n=$(cat "$PG_TMP/pgbench.n")
printf '\nprofile run (bpf_stats on, not a measured round): %s tps, %s transactions\n' "$tps" "$n"
"$PY" - "$PG_TMP/progs.json" "$n" $ids <<'EOF'
import json, sys
progs, n, ids = json.load(open(sys.argv[1])), int(sys.argv[2]), {int(i) for i in sys.argv[3:]}
rows = [(p["name"], p.get("run_cnt", 0), p.get("run_time_ns", 0)) for p in progs if p["id"] in ids]
print("%-24s %12s %8s %10s %12s" % ("program", "runs", "ns/run", "ms total", "ns/txn"))
for name, cnt, ns in sorted(rows, key=lambda r: -r[2]):
    if name.startswith("pgsql_"):
        print("%-24s %12d %8.0f %10.1f %12.0f" % (name, cnt, ns / cnt if cnt else 0, ns / 1e6, ns / n if n else 0))
for prefix, label in (("pgsql_", "all pgsql_* programs"), ("http_", "all http_* programs")):
    ns = sum(r[2] for r in rows if r[0].startswith(prefix))
    print("%-24s %12s %8s %10.1f %12.0f" % (label, "", "", ns / 1e6, ns / n if n else 0))
EOF
agent_stop
