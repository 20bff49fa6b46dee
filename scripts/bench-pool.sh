#!/usr/bin/env bash
# Pools the rounds of several saved scripts/bench-http.sh outputs: one run's
# median moves by more than the target's margin here (see README), so the
# figure to judge the collector by is the median over every round of every run
# of the same BPF code, with the sign test's interval. The rounds come from the
# losses each run printed, rounded to 0.1 %, so a run's median here may differ
# by 0.1 from the one it printed.
#
#   scripts/bench-pool.sh OUTPUT...     e.g. tests/bench/results/epyc/http-*.txt
#
# Runs made with BENCH_READS=1 also give each round's "floor + reads" loss
# minus its floor loss; those are pooled on a line of their own.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/stats.sh
. "$ROOT/scripts/stats.sh"

[ $# -gt 0 ] || { echo "usage: scripts/bench-pool.sh OUTPUT..." >&2 && exit 2; }

# Each round's redscope loss minus its floor loss, from a run's "round losses" line.
above_of() {
	sed -n 's/^round losses (%) *floor: \(.*\); redscope: \(.*\)$/\1;\2/p' "$1" |
		awk -F';' '{ nf = split($1, f, " "); nr = split($2, r, " ")
			if (nf != nr) exit 1
			for (i = 1; i <= nf; i++) printf "%.2f\n", r[i] - f[i] }'
}

# Each round's floor-plus-reads loss minus its floor loss, where the run has them.
reads_above_of() {
	local floor_list reads_list
	floor_list=$(sed -n 's/^round losses (%) *floor: \(.*\); redscope: .*$/\1/p' "$1")
	reads_list=$(sed -n 's/^round losses (%) reads: *\(.*\)$/\1/p' "$1")
	[ -n "$reads_list" ] || return 0
	awk -v f="$floor_list" -v r="$reads_list" 'BEGIN { nf = split(f, a, " "); nr = split(r, b, " ")
		if (nf != nr) exit 1
		for (i = 1; i <= nf; i++) printf "%.2f\n", b[i] - a[i] }'
}

# pooled LABEL VALUE...: the median of the pooled rounds and its interval.
pooled() {
	local label=$1 lo hi pct interval
	shift
	read -r lo hi pct < <(printf '%s\n' "$@" | median_ci)
	if [ "$lo" = - ]; then
		interval="too few rounds for an interval (6 at least)"
	else
		interval="$pct % interval $lo to $hi"
	fi
	printf '%s: %d rounds, median %.1f points above the floor, %s, %d rounds above 2\n' \
		"$label" $# "$(printf '%s\n' "$@" | median)" "$interval" \
		"$(printf '%s\n' "$@" | above2)"
}

all=() reads=()
for out in "$@"; do
	[ -r "$out" ] || { echo "bench-pool: cannot read $out" >&2 && exit 1; }
	mapfile -t run < <(above_of "$out")
	if [ ${#run[@]} -eq 0 ]; then
		printf 'bench-pool: %s: %s\n' "$out" \
			'no "round losses" line of scripts/bench-http.sh, or its two lists differ in length' >&2
		exit 1
	fi
	printf '%-48s %3d rounds, median %5.1f points above the floor\n' \
		"$out" ${#run[@]} "$(printf '%s\n' "${run[@]}" | median)"
	all+=("${run[@]}")
	mapfile -t run < <(reads_above_of "$out")
	if [ ${#run[@]} -eq 0 ] && grep -q '^round losses (%) reads:' "$out"; then
		printf 'bench-pool: %s: its "round losses (%%) reads" list and its floor list differ in length\n' \
			"$out" >&2
		exit 1
	fi
	reads+=("${run[@]}")
done
pooled pooled "${all[@]}"
[ ${#reads[@]} -eq 0 ] || pooled "floor + reads, pooled" "${reads[@]}"
