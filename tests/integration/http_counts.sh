#!/usr/bin/env bash
# Request counts against a real nginx: per status (200, 404, 500), per method
# (GET, POST, HEAD, an unknown one as _OTHER), from curl (a connection per
# request, and keep-alive) and wrk (keep-alive, 4 connections), compared
# exactly with what the clients and nginx's access log report; the same over a
# unix socket. Also: no drops, and `promtool check metrics` is clean on the
# resulting scrape.
. "$(dirname "$0")/lib.sh"

NGINX_PORT=18080
AGENT_PORT=19433
BASE=http://127.0.0.1:$NGINX_PORT
N=7

start_agent $AGENT_PORT
UNIX_SOCK=$TMP/nginx-http.sock
start_nginx $NGINX_PORT "
	listen unix:$UNIX_SOCK;"'
	location = /u/ok { return 200 "unix\n"; }
	location = /c/ok { return 200 "ok\n"; }
	location = /c/fail { return 500 "fail\n"; }
	location = /c/any { return 200 "any\n"; }
	location /c/static/ { }
	location /w/ { }'
mkdir -p "$NGINX_DIR/www/w" "$NGINX_DIR/www/c/static"
head -c 612 /dev/zero | tr '\0' x >"$NGINX_DIR/www/w/index.html"
printf 'static\n' >"$NGINX_DIR/www/c/static/file.txt"

# curl, one connection per request
curl_n $N "$BASE/c/ok"
curl_n $N "$BASE/c/missing"
curl_n $N "$BASE/c/fail"
curl_n $N -X POST --data 'a=1&b=2' "$BASE/c/any"
curl_n $N -I "$BASE/c/any"
curl_n $N -X BREW "$BASE/c/any"
# curl, keep-alive: N requests on one connection
curl_keepalive $N "$BASE/c/static/file.txt"

# over the unix socket: a connection per request, then N on one connection
for i in $(seq $N); do
	curl -s -o /dev/null --max-time 10 --unix-socket "$UNIX_SOCK" http://localhost/u/ok || true
done
urls=()
for i in $(seq $N); do urls+=(-o /dev/null http://localhost/u/ok); done
curl -s --max-time 10 --unix-socket "$UNIX_SOCK" "${urls[@]}" || true

# wrk: its total may leave out requests in flight when it stopped; nginx's
# log has those that were answered in full, which is what the agent counts.
wrk_out=$(timeout 30 wrk -t1 -c4 -d2s "$BASE/w/index.html")
wrk_total=$(awk '/requests in/ {print $1}' <<<"$wrk_out")
wrk_logged=$(nginx_log_count GET /w/index.html 200)

scrape "$TMP/m"
req() { msum "$TMP/m" http_requests_total 'service="nginx"' "$@"; }

check_eq "GET 200 from curl" $N "$(req 'method="GET"' 'endpoint="/c/ok"' 'status="200"')"
check_eq "GET 404 from curl" $N "$(req 'method="GET"' 'endpoint="/c/missing"' 'status="404"')"
check_eq "GET 500 from curl" $N "$(req 'method="GET"' 'endpoint="/c/fail"' 'status="500"')"
check_eq "POST 200" $N "$(req 'method="POST"' 'endpoint="/c/any"' 'status="200"')"
check_eq "HEAD 200" $N "$(req 'method="HEAD"' 'endpoint="/c/any"' 'status="200"')"
check_eq "unknown method BREW as _OTHER" \
	"$(nginx_log_count BREW /c/any 200)" "$(req 'method="_OTHER"' 'endpoint="/c/any"')"
check_eq "no series for /c/any beyond POST, HEAD, _OTHER" 3 \
	"$(nseries "$TMP/m" http_requests_total 'service="nginx"' 'endpoint="/c/any"')"
check_eq "keep-alive curl, sendfile body" $N \
	"$(req 'method="GET"' 'endpoint="/c/static/file.txt"' 'status="200"')"
check_eq "nginx logged each curl request once" $N "$(nginx_log_count GET /c/ok 200)"
check_eq "over a unix socket, per connection and keep-alive" $((2 * N)) \
	"$(req 'method="GET"' 'endpoint="/u/ok"' 'status="200"')"
check_eq "nginx logged as many unix-socket requests" $((2 * N)) "$(nginx_log_count GET /u/ok 200)"

got=$(req 'endpoint="/w/index.html"' 'status="200"')
check_eq "wrk requests equal nginx's log" "$wrk_logged" "$got"
# wrk cannot have more than its 4 connections' worth in flight at the end.
check "wrk's own total ($wrk_total) is within 4 of the count ($got)" \
	test "$wrk_total" -gt 100 -a "$wrk_total" -le "$got" -a "$got" -le $((wrk_total + 4))

check_eq "duration histogram count equals the requests" "$got" \
	"$(msum "$TMP/m" http_request_duration_seconds_count 'service="nginx"' \
		'endpoint="/w/index.html"')"
# The file is 612 bytes and nginx's headers are a few hundred: every response
# is in le=1000 and none in le=100.
check_eq "response sizes in le=1000" "$got" \
	"$(msum "$TMP/m" http_response_size_bytes_bucket 'endpoint="/w/index.html"' 'le="1000"')"
check_eq "no response size in le=100" 0 \
	"$(msum "$TMP/m" http_response_size_bytes_bucket 'endpoint="/w/index.html"' 'le="100"')"
check_eq "nothing in progress once the clients are done" 0 \
	"$(msum "$TMP/m" http_requests_in_progress 'service="nginx"')"
check_eq "no events dropped" 0 "$(msum "$TMP/m" redscope_events_dropped_total)"
# Runs the kernel skipped (a hook hit again, from an interrupt, while its
# program ran on that CPU) are a drop reason of their own, as the kernel
# counts them for the http programs (bpftool lists them when not zero).
kernel_misses=$(bpftool -j prog show | python3 -c 'import json, sys
print(sum(p.get("recursion_misses", 0) for p in json.load(sys.stdin)
          if p.get("name", "").startswith("http_")))')
check_eq "one recursion_miss series for the http collector" 1 \
	"$(nseries "$TMP/m" redscope_events_dropped_total 'collector="http"' 'reason="recursion_miss"')"
check_eq "recursion misses as the kernel counts them" "$kernel_misses" \
	"$(msum "$TMP/m" redscope_events_dropped_total 'collector="http"' 'reason="recursion_miss"')"
# The first series a CPU counts always gets a slot of its own in http_hot, so
# fewer series than these sit in http_stats (the slower home).
nser=$(nseries "$TMP/m" http_requests_total)
check "fewer http_stats entries than the $nser series: http_hot counts first" \
	[ "$(msum "$TMP/m" redscope_map_entries 'map="http_stats"')" -lt "$nser" ]

promtool_out=$(promtool check metrics <"$TMP/m" 2>&1) && rc=0 || rc=$?
check_eq "promtool check metrics exit status" 0 "$rc"
check_eq "promtool check metrics output lines" 0 "$(printf '%s' "$promtool_out" | grep -c . || true)"
[ -z "$promtool_out" ] || printf '%s\n' "$promtool_out" | sed 's/^/# promtool: /'

finish "$TMP/m"
