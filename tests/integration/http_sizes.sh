#!/usr/bin/env bash
# Request and response sizes are exact: raw clients that know every byte they
# sent and received (one connection each, read to EOF) against the _sum of the
# size histograms; with bodies in one write or several, HEAD, chunked bodies,
# an HTTP/1.0 body that ends with the connection. And the in-progress gauge
# while a request is being served.
. "$(dirname "$0")/lib.sh"

NGINX_PORT=18085
AGENT_PORT=19436

start_agent $AGENT_PORT
start_nginx $NGINX_PORT '
	location = /s/up { echo_read_request_body; echo done; }
	location = /s/chunk { echo_sleep 0.01; echo one; echo two; }
	location = /s/fixed { return 200 "fixed body\n"; }
	location = /s/slow { echo_sleep 3; echo slow; }'

# exchange METHOD PATH [BODY_BYTES [split|http10]]: prints "request-bytes response-bytes".
exchange() {
	timeout 20 "$PYTHON" - "$NGINX_PORT" "$@" <<'PY'
import socket, sys, time
port, method, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
n = int(sys.argv[4]) if len(sys.argv) > 4 else 0
mode = sys.argv[5] if len(sys.argv) > 5 else ""
version = b"HTTP/1.0" if mode == "http10" else b"HTTP/1.1"
req = b"%s %s %s\r\nHost: t\r\nConnection: close\r\n" % (method.encode(), path.encode(), version)
if n:
    req += b"Content-Length: %d\r\n" % n
req += b"\r\n"
s = socket.create_connection(("127.0.0.1", port), timeout=10)
if mode == "split":  # headers, then the body in two writes
    s.sendall(req); time.sleep(0.05)
    s.sendall(b"x" * (n // 2)); time.sleep(0.05)
    s.sendall(b"x" * (n - n // 2))
else:
    s.sendall(req + b"x" * n)
got = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    got += b
print(len(req) + n, len(got))
PY
}

declare -A req_sum resp_sum
add() { # add ENDPOINT-KEY "req resp"
	local r=${2% *} p=${2#* }
	req_sum[$1]=$((${req_sum[$1]:-0} + r))
	resp_sum[$1]=$((${resp_sum[$1]:-0} + p))
}
add GET/s/fixed "$(exchange GET /s/fixed)"
add GET/s/fixed "$(exchange GET /s/fixed)"
add HEAD/s/fixed "$(exchange HEAD /s/fixed)"
add POST/s/up "$(exchange POST /s/up 5000)"
add POST/s/up "$(exchange POST /s/up 70000 split)"
add GET/s/chunk "$(exchange GET /s/chunk)"
add GET/s/chunk "$(exchange GET /s/chunk 0 http10)" # no length: ends with the connection

# A request in flight is in progress.
curl -s -o /dev/null --max-time 10 "http://127.0.0.1:$NGINX_PORT/s/slow" &
slow=$!
sleep 1
scrape "$TMP/during"
wait $slow
scrape "$TMP/m"
check_eq "in progress while a request is served" 1 \
	"$(msum "$TMP/during" http_requests_in_progress 'service="nginx"')"
check_eq "in progress once it is answered" 0 \
	"$(msum "$TMP/m" http_requests_in_progress 'service="nginx"')"

for key in GET/s/fixed HEAD/s/fixed POST/s/up GET/s/chunk; do
	m=${key%%/*} ep=/${key#*/}
	sel=('service="nginx"' "method=\"$m\"" "endpoint=\"$ep\"")
	check_eq "$m $ep: request bytes" "${req_sum[$key]}" \
		"$(msum "$TMP/m" http_request_size_bytes_sum "${sel[@]}")"
	check_eq "$m $ep: response bytes" "${resp_sum[$key]}" \
		"$(msum "$TMP/m" http_response_size_bytes_sum "${sel[@]}")"
done
check_eq "each exchange counted once" "2 1 2 2 1" "$(for k in GET/s/fixed HEAD/s/fixed POST/s/up \
	GET/s/chunk GET/s/slow; do msum "$TMP/m" http_requests_total 'service="nginx"' \
	"method=\"${k%%/*}\"" "endpoint=\"/${k#*/}\"" 'status="200"'; done | xargs)"
check_eq "no events dropped" 0 "$(msum "$TMP/m" redscope_events_dropped_total)"

finish "$TMP/m"
