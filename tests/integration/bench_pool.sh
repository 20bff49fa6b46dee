#!/usr/bin/env bash
# scripts/bench-pool.sh, the figure README holds against the HTTP benchmark's
# target: per run and pooled medians of redscope's loss minus the floor's, the
# sign test's interval, and clear errors for what is not a benchmark output.
. "$(dirname "$0")/lib.sh"

POOL=$ROOT/scripts/bench-pool.sh

# bench_output FILE FLOOR_LOSSES REDSCOPE_LOSSES: the lines of a
# scripts/bench-http.sh output that the pooling reads, among others it skips.
bench_output() {
	{
		echo "bench: nginx on CPU 0, wrk -t1 -c32 -d8s on CPU 1, 10 rounds, socket hooks"
		echo "redscope                      34664     -6.1 %        3.3 %"
		echo "round losses (%)        floor: $2; redscope: $3"
		echo "redscope above floor     9.9 points: median over rounds"
	} >"$1"
}

# Rounds 1..10 above the floor in one run, 11..20 in the other (in another order).
bench_output "$TMP/a.txt" "0.0 0.0 0.0 0.0 0.0 0.0 0.0 0.0 0.0 0.0 " \
	"1.0 2.0 3.0 4.0 5.0 6.0 7.0 8.0 9.0 10.0 "
bench_output "$TMP/b.txt" "1.0 -1.0 2.5 1.0 1.0 1.0 1.0 1.0 1.0 1.0 " \
	"21.0 10.0 15.5 20.0 18.0 17.0 16.0 15.0 19.0 13.0 "
out=$("$POOL" "$TMP/a.txt" "$TMP/b.txt")
check_eq "first run: 10 rounds, median 5 (the lower middle)" 1 \
	"$(grep -c 'a.txt  *10 rounds, median   5.0 points' <<<"$out")"
check_eq "second run: 10 rounds, median 15" 1 \
	"$(grep -c 'b.txt  *10 rounds, median  15.0 points' <<<"$out")"
# 20 rounds: the sign test's interval is the 6th to the 15th smallest, with
# odds 1 - 2 P(Binomial(20, 1/2) <= 5) = 95.9 %.
check_eq "pooled: 20 rounds, median 10, 96 % interval 6 to 15, 18 above 2" \
	"pooled: 20 rounds, median 10.0 points above the floor, 96 % interval 6.00 to 15.00, 18 rounds above 2" \
	"$(tail -n1 <<<"$out")"

# Runs with BENCH_READS=1: each round's floor-plus-reads loss minus its floor
# loss, pooled on a line of its own; a run without them adds nothing there.
cp "$TMP/a.txt" "$TMP/r1.txt"
echo "round losses (%) reads:  0.5 1.5 2.5 3.5 4.5 5.5 6.5 7.5 8.5 9.5 " >>"$TMP/r1.txt"
cp "$TMP/b.txt" "$TMP/r2.txt"
echo "round losses (%) reads:  3.0 1.0 4.5 3.0 3.0 3.0 3.0 3.0 3.0 3.0 " >>"$TMP/r2.txt"
out=$("$POOL" "$TMP/r1.txt" "$TMP/r2.txt" "$TMP/a.txt")
check_eq "reads pooled: 20 rounds (0.5..9.5 and ten of 2), median 2, interval 2 to 4.5 (6th and 15th)" \
	"floor + reads, pooled: 20 rounds, median 2.0 points above the floor, 96 % interval 2.00 to 4.50, 8 rounds above 2" \
	"$(tail -n1 <<<"$out")"
check_eq "redscope pooled over the three runs: 30 rounds" 1 \
	"$(grep -c '^pooled: 30 rounds' <<<"$out")"
out=$("$POOL" "$TMP/a.txt" "$TMP/b.txt")
check_eq "no run with reads: no reads line" 0 "$(grep -c 'reads' <<<"$out")"

bench_output "$TMP/short.txt" "0.0 0.0 " "1.0 "
cp "$TMP/a.txt" "$TMP/badreads.txt"
echo "round losses (%) reads:  1.0 2.0 " >>"$TMP/badreads.txt"
echo "no round losses here" >"$TMP/none.txt"
for bad in short.txt none.txt missing.txt badreads.txt; do
	rc=0
	err=$("$POOL" "$TMP/$bad" 2>&1 >/dev/null) || rc=$?
	check "$bad: exit 1 with one clear line ($err)" \
		test "$rc" = 1 -a "$(wc -l <<<"$err")" = 1 -a -n "${err##*$'\n'*}"
done
rc=0
"$POOL" >/dev/null 2>&1 || rc=$?
check_eq "no output given: usage, exit 2" 2 "$rc"

finish
