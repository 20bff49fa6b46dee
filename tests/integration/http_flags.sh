#!/usr/bin/env bash
# The agent's command line, its health endpoints and its signals, as README
# describes them.
. "$(dirname "$0")/lib.sh"

AGENT_PORT=19433
URL=http://127.0.0.1:$AGENT_PORT

# run_cli ARG...: runs the agent to completion; sets RC, OUT, ERR.
run_cli() {
	RC=0
	timeout 30 "$REDSCOPE" "$@" >"$TMP/out" 2>"$TMP/err" || RC=$?
	OUT=$(cat "$TMP/out")
	ERR=$(cat "$TMP/err")
}
lines() { printf '%s' "$1" | grep -c . || true; }

run_cli --no-such-flag
check_eq "unknown flag: exit 2" 2 $RC
check_eq "unknown flag: one line on stderr" 1 "$(lines "$ERR")"
check "unknown flag: the line names the flag" grep -q -- '--no-such-flag' "$TMP/err"
check_eq "unknown flag: nothing on stdout" 0 "$(lines "$OUT")"
run_cli --http.max-endpoints=0
check_eq "bad value: exit 2" 2 $RC
check_eq "bad value: one line on stderr" 1 "$(lines "$ERR")"
run_cli --version
check_eq "--version: exit 0" 0 $RC
run_cli --help
check "--help: exit 0 and lists --http.max-endpoints" \
	test $RC -eq 0 -a -n "$(grep -e '--http.max-endpoints' "$TMP/out")"

# Without privileges: one line naming the missing capabilities, exit 1.
if command -v setpriv >/dev/null; then
	# A copy nobody can run, wherever the checkout lives.
	unpriv=$(mktemp -d)
	chmod 755 "$unpriv"
	cp "$REDSCOPE" "$unpriv/redscope"
	RC=0
	timeout 30 setpriv --reuid=65534 --regid=65534 --clear-groups "$unpriv/redscope" \
		--web.listen-address=127.0.0.1:$AGENT_PORT >"$TMP/out" 2>"$TMP/err" || RC=$?
	rm -rf "$unpriv"
	check_eq "unprivileged: exit 1" 1 $RC
	check_eq "unprivileged: one line on stderr" 1 "$(lines "$(cat "$TMP/err")")"
	check "unprivileged: names CAP_BPF and CAP_PERFMON" \
		grep -q 'missing capabilities CAP_BPF and CAP_PERFMON' "$TMP/err"
fi

run_cli --check "${AGENT_FLAGS[@]}"
check_eq "--check: exit 0" 0 $RC
# The programs of the hooks in use (--http.hooks, see bpf/http.bpf.c).
HOOKS=$(sed -n 's/.*http: \(socket\|syscall\) hooks.*/\1/p' "$TMP/err" | head -n1)
check "--check: says which hooks (${HOOKS:-none})" test -n "$HOOKS"
[ -z "${HTTP_HOOKS:-}" ] || check_eq "--check: the hooks asked for" "$HTTP_HOOKS" "$HOOKS"
if [ "$HOOKS" = socket ]; then NPROGS=4 PROG=http_sock_recv; else NPROGS=12 PROG=http_exit_accept4; fi
check_eq "--check: one line per HTTP program, each attached" $NPROGS \
	"$(grep -cE '^program +http +http_[a-z0-9_]+ +attached$' "$TMP/out" || true)"
check "--check: names $PROG" grep -qE "$PROG .*attached" "$TMP/out"
check_eq "--check: verdict line" "check: ok, every program attached" "$(tail -n1 "$TMP/out")"

# Startup: /health/startup answers 503 until the programs are attached, then
# 200 for good; /health/ready is never 200 before it.
bounded "$REDSCOPE" --web.listen-address=127.0.0.1:$AGENT_PORT "${AGENT_FLAGS[@]}" \
	>"$TMP/agent.log" 2>&1
AGENT_PID=$BG_PID AGENT_WRAP=$BG_WRAP AGENT_URL=$URL
seq_codes=""
for i in $(seq 300); do
	# ready first: a 200 there means startup already answers 200, while the
	# other order can see the agent finish starting between the two requests.
	r=$(http_code "$URL/health/ready")
	s=$(http_code "$URL/health/startup")
	seq_codes+="$s/$r "
	[ "$s" = 200 ] && [ "$r" = 200 ] && break
	sleep 0.02
done
echo "# startup/ready codes while starting: $(tr ' ' '\n' <<<"$seq_codes" | uniq -c | xargs)"
check "startup: only 000 or 503 before 200, never back" \
	grep -qE '^((000|503)/(000|503) )*(200/(200|503) )*200/200 $' <<<"$seq_codes"

check_eq "/health/live" 200 "$(http_code "$URL/health/live")"
check_eq "/health/ready" 200 "$(http_code "$URL/health/ready")"
check_eq "/health/ready says ok" ok "$(curl -s --max-time 5 "$URL/health/ready")"
check_eq "/health/startup" 200 "$(http_code "$URL/health/startup")"
check_eq "/health/detailed" 200 "$(http_code "$URL/health/detailed")"
curl -s --max-time 5 "$URL/health/detailed" >"$TMP/detailed.json"
check "/health/detailed is valid JSON" "$PYTHON" -m json.tool "$TMP/detailed.json" /dev/null
check_eq "/health/detailed: ready, the http collector up, $NPROGS programs attached, its maps" \
	"True True $NPROGS 0 True" "$("$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))
http = [c for c in d["collectors"] if c["name"] == "http"]
progs = [p for p in d["programs"] if p["collector"] == "http" and p["attached"]]
print(d["ready"], bool(http) and http[0]["up"], len(progs),
      sum(http[0]["drops"].values()) if http else -1,
      {"http_conns", "http_stats"} <= {m["name"] for m in d["maps"]} and bool(d["version"]))
' "$TMP/detailed.json")"
check_eq "/ answers" 200 "$(http_code "$URL/")"
check_eq "other paths: 404" 404 "$(http_code "$URL/nope")"
check_eq "other methods: 405" 405 "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$URL/metrics")"
check_eq "metrics content type" "text/plain; version=0.0.4; charset=utf-8" \
	"$(curl -s -o /dev/null -w '%{content_type}' "$URL/metrics")"

run_cli --web.listen-address=127.0.0.1:$AGENT_PORT "${AGENT_FLAGS[@]}"
check_eq "port in use: exit 1" 1 $RC
check_eq "port in use: one line on stderr" 1 "$(lines "$ERR")"
check "port in use: the line names the address and the cause ($ERR)" \
	grep -q "127.0.0.1:$AGENT_PORT.*in use" "$TMP/err"
check "the first agent is unharmed" agent_alive

# SIGTERM: exit 0 within a second, every program detached. (Other agents may
# run on this host: only the programs this one loaded are looked at.)
our_progs() { cat /proc/"$1"/fdinfo/* 2>/dev/null | awk '$1 == "prog_id:" {print $2}' | sort -u; }
progs=$(our_progs "$AGENT_PID" | xargs)
check_eq "the agent holds $NPROGS programs" $NPROGS "$(wc -w <<<"$progs")"
start=$(date +%s%N)
kill -TERM "$AGENT_PID"
for i in $(seq 100); do
	kill -0 "$AGENT_PID" 2>/dev/null || break
	sleep 0.01
done
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
check "SIGTERM: gone within 1 s (${elapsed_ms} ms)" test $elapsed_ms -le 1000
rc=0
wait "$AGENT_WRAP" || rc=$? # timeout passes on its child's status
check_eq "SIGTERM: exit 0" 0 $rc
# Detached programs are freed by the kernel after an RCU grace period, not at
# once when the last fd closes: a second is plenty.
for i in $(seq 50); do
	left=0
	for id in $progs; do bpftool prog show id "$id" >/dev/null 2>&1 && left=$((left + 1)); done
	[ $left = 0 ] && break
	sleep 0.02
done
check_eq "SIGTERM: its programs are gone within a second" 0 $left

finish
