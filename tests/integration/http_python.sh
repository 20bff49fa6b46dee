#!/usr/bin/env bash
# Python's http.server (recvfrom and sendto, a thread per request, HTTP/1.0:
# one connection per request) is counted exactly too, under its process name.
. "$(dirname "$0")/lib.sh"

PY_PORT=18090
AGENT_PORT=19436
BASE=http://127.0.0.1:$PY_PORT
N=9

mkdir -p "$TMP/www/docs"
printf 'hello from python\n' >"$TMP/www/docs/a.txt"
head -c 5000 /dev/zero | tr '\0' y >"$TMP/www/docs/big.txt"

start_agent $AGENT_PORT
bounded "$PYTHON" -m http.server "$PY_PORT" --bind 127.0.0.1 --directory "$TMP/www" \
	>"$TMP/py.log" 2>&1
PY_PID=$BG_PID
wait_port $PY_PORT
# The service label is the process's comm (its thread group leader's).
service=$(cat "/proc/$PY_PID/comm")
echo "# python's comm is $service"

curl_n $N "$BASE/docs/a.txt"
curl_n $N "$BASE/docs/big.txt"
curl_n $N "$BASE/docs/none.txt"
curl_n $N -I "$BASE/docs/a.txt"
curl_n $N -X POST -d x=1 "$BASE/docs/a.txt" # http.server answers 501

scrape "$TMP/m"
req() { msum "$TMP/m" http_requests_total "service=\"$service\"" "$@"; }
check_eq "GET 200" $N "$(req 'method="GET"' 'endpoint="/docs/a.txt"' 'status="200"')"
check_eq "GET 200, 5000-byte body" $N \
	"$(req 'method="GET"' 'endpoint="/docs/big.txt"' 'status="200"')"
check_eq "GET 404" $N "$(req 'method="GET"' 'endpoint="/docs/none.txt"' 'status="404"')"
check_eq "HEAD 200" $N "$(req 'method="HEAD"' 'endpoint="/docs/a.txt"' 'status="200"')"
check_eq "POST 501" $N "$(req 'method="POST"' 'endpoint="/docs/a.txt"' 'status="501"')"
check_eq "nothing else for this service" $((5 * N)) "$(req)"
# http.server logs one line per request on stderr.
check_eq "http.server logged as many" $((5 * N)) "$(grep -c '" [0-9][0-9][0-9] ' "$TMP/py.log")"
check_eq "5000-byte bodies are in le=10000 and not le=1000" "$N 0" \
	"$(msum "$TMP/m" http_response_size_bytes_bucket "service=\"$service\"" \
		'endpoint="/docs/big.txt"' 'le="10000"') $(msum "$TMP/m" \
		http_response_size_bytes_bucket "service=\"$service\"" 'endpoint="/docs/big.txt"' \
		'le="1000"')"
check_eq "nothing in progress" 0 "$(msum "$TMP/m" http_requests_in_progress "service=\"$service\"")"
check_eq "no events dropped" 0 "$(msum "$TMP/m" redscope_events_dropped_total)"

finish "$TMP/m"
