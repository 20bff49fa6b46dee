#!/usr/bin/env bash
# Runs every test suite: the unit test binaries in build/tests/unit/, then every
# executable tests/integration/*.sh, in sorted order. Each suite ends with a
# line "N passed, N failed"; this script sums them into one such final line and
# exits non-zero when a test failed, or a suite failed, crashed or printed no
# summary.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SUITE_TIMEOUT=${SUITE_TIMEOUT:-300} # seconds: a hung suite must not hang CI

passed=0
failed=0
broken=() # suites that exited non-zero or printed no summary
results=()

run_suite() {
	local name=$1 out rc summary p f
	shift
	echo "=== $name"
	out=$(mktemp)
	# A suite's own output streams as it runs; its last line is parsed after.
	set +e
	timeout -k 10 "$SUITE_TIMEOUT" "$@" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	set -e
	summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n1 || true)
	rm -f "$out"
	if [ -z "$summary" ]; then
		broken+=("$name")
		results+=("$(printf '%-40s no summary (exit %d)' "$name" "$rc")")
		return
	fi
	p=${summary%% passed*}
	f=${summary#*, }
	f=${f%% failed}
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		broken+=("$name") # a crash after its summary, or a failure it did not count
	fi
	results+=("$(printf '%-40s %s (exit %d)' "$name" "$summary" "$rc")")
}

# The hooks --http.hooks=auto and --pgsql.hooks=auto pick here, and the others.
check_out=$(build/redscope --check 2>&1 || true)
# other_hooks COLLECTOR: the set of hooks auto did not pick for it.
other_hooks() {
	if grep -q "$1: socket hooks" <<<"$check_out"; then echo syscall; else echo socket; fi
}
OTHER_HOOKS=$(other_hooks http)
OTHER_PG_HOOKS=$(other_hooks pgsql)

shopt -s nullglob
for t in build/tests/unit/*; do
	[ -f "$t" ] && [ -x "$t" ] || continue
	run_suite "unit/${t##*/}" "$t"
done
for t in tests/integration/*.sh; do
	if [ ! -x "$t" ]; then # lib.sh and other sourced helpers are not executable
		case "${t##*/}" in
		*lib.sh) ;;
		*) echo "=== integration/${t##*/}: not executable, skipped" ;;
		esac
		continue
	fi
	run_suite "integration/${t##*/}" "$t"
done
# The HTTP collector has two sets of hooks (--http.hooks): the suites above ran
# the one this kernel gets by default; the HTTP suites run again on the other.
for t in tests/integration/http_*.sh; do
	[ -x "$t" ] || continue
	HTTP_HOOKS=$OTHER_HOOKS run_suite "integration/${t##*/} ($OTHER_HOOKS hooks)" "$t"
done
# And the PostgreSQL suite on the PostgreSQL collector's other hooks.
PGSQL_HOOKS=$OTHER_PG_HOOKS run_suite "integration/pgsql.sh ($OTHER_PG_HOOKS hooks)" \
	tests/integration/pgsql.sh

echo "=== results"
printf '%s\n' "${results[@]}"
if [ ${#broken[@]} -gt 0 ]; then
	echo "suites that crashed, failed or printed no summary: ${broken[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ ${#broken[@]} -eq 0 ] && [ ${#results[@]} -gt 0 ]
