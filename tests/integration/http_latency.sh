#!/usr/bin/env bash
# Latency buckets are exact: nginx's echo module answers after a fixed sleep,
# so 50 ms requests must land in le=0.1 and not le=0.05, and 300 ms requests
# in le=0.5 and not le=0.25 (the default buckets). Fast requests between slow
# ones on one keep-alive connection land in le=0.005: each request's start
# and end are its own, never an earlier event's time on that connection.
. "$(dirname "$0")/lib.sh"

NGINX_PORT=18081
AGENT_PORT=19434
BASE=http://127.0.0.1:$NGINX_PORT
N50=6
N300=4
NMIX=5

start_agent $AGENT_PORT
start_nginx $NGINX_PORT '
	location = /sleep50 { echo_sleep 0.05; echo ok; }
	location = /sleep300 { echo_sleep 0.3; echo ok; }
	location = /fast { return 200 ok; }'

curl_n $N50 "$BASE/sleep50"
curl_keepalive $N300 "$BASE/sleep300" # chunked responses on one connection
# one connection: slow, fast, slow, fast, ...
args=()
for i in $(seq $NMIX); do args+=(-o /dev/null "$BASE/sleep50" -o /dev/null "$BASE/fast"); done
curl -s --max-time 10 "${args[@]}" || true

scrape "$TMP/m"
bucket() { msum "$TMP/m" http_request_duration_seconds_bucket 'service="nginx"' "endpoint=\"$1\"" "le=\"$2\""; }

check_eq "50 ms requests counted" $((N50 + NMIX)) \
	"$(msum "$TMP/m" http_requests_total 'service="nginx"' 'endpoint="/sleep50"' 'status="200"')"
check_eq "50 ms: none in le=0.05" 0 "$(bucket /sleep50 0.05)"
check_eq "50 ms: all in le=0.1" $((N50 + NMIX)) "$(bucket /sleep50 0.1)"
check_eq "50 ms: all in +Inf" $((N50 + NMIX)) "$(bucket /sleep50 +Inf)"
check_eq "fast requests after slow ones counted" $NMIX \
	"$(msum "$TMP/m" http_requests_total 'service="nginx"' 'endpoint="/fast"' 'status="200"')"
check_eq "fast requests after slow ones: all in le=0.005" $NMIX "$(bucket /fast 0.005)"
check_eq "300 ms requests counted" $N300 \
	"$(msum "$TMP/m" http_requests_total 'service="nginx"' 'endpoint="/sleep300"' 'status="200"')"
check_eq "300 ms: none in le=0.25" 0 "$(bucket /sleep300 0.25)"
check_eq "300 ms: all in le=0.5" $N300 "$(bucket /sleep300 0.5)"
# The sum is in seconds: at least the sleeps, and not much more on loopback.
sum=$(awk '$1 ~ /^http_request_duration_seconds_sum\{.*endpoint="\/sleep300"/ {print $2}' "$TMP/m")
check "300 ms: sum $sum s is between 1.19 and 2.0" \
	awk -v s="$sum" 'BEGIN { exit !(s >= 1.19 && s < 2.0) }'
check_eq "no events dropped" 0 "$(msum "$TMP/m" redscope_events_dropped_total)"

finish "$TMP/m"
