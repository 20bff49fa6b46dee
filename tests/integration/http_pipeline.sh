#!/usr/bin/env bash
# Pipelining: several complete requests in one write, answered in order on one
# connection, are each counted (nginx reads them in one recv).
. "$(dirname "$0")/lib.sh"

NGINX_PORT=18082
AGENT_PORT=19435

start_agent $AGENT_PORT
start_nginx $NGINX_PORT '
	location = /p/a { return 200 "a\n"; }
	location = /p/b { return 404 "b\n"; }
	location /p/static/ { }'
mkdir -p "$NGINX_DIR/www/p/static"
printf 'static body\n' >"$NGINX_DIR/www/p/static/f.txt"

# pipeline PATH...: one write holding a GET for each path, the last one asking
# to close; prints the number of responses read back.
pipeline() {
	timeout 20 "$PYTHON" - "$NGINX_PORT" "$@" <<'PY'
import socket, sys
port, paths = int(sys.argv[1]), sys.argv[2:]
reqs = b"".join(
    b"GET %s HTTP/1.1\r\nHost: t\r\n%s\r\n"
    % (p.encode(), b"Connection: close\r\n" if i == len(paths) - 1 else b"")
    for i, p in enumerate(paths))
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(reqs)
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
print(data.count(b"HTTP/1.1 "))
PY
}

check_eq "6 pipelined requests answered" 6 "$(pipeline /p/a /p/a /p/b /p/a /p/b /p/a)"
check_eq "8 pipelined requests (the queue's size) answered" 8 \
	"$(pipeline /p/a /p/static/f.txt /p/a /p/static/f.txt /p/a /p/static/f.txt /p/a /p/b)"
# Ten rounds of three, on ten connections.
for i in $(seq 10); do pipeline /p/static/f.txt /p/b /p/static/f.txt >/dev/null; done

scrape "$TMP/m"
req() { msum "$TMP/m" http_requests_total 'service="nginx"' 'method="GET"' "$@"; }
check_eq "/p/a 200" 8 "$(req 'endpoint="/p/a"' 'status="200"')"
check_eq "/p/b 404" 13 "$(req 'endpoint="/p/b"' 'status="404"')"
check_eq "/p/static/f.txt 200 (sendfile bodies)" 23 \
	"$(req 'endpoint="/p/static/f.txt"' 'status="200"')"
check_eq "nginx logged the same" 23 "$(nginx_log_count GET /p/static/f.txt 200)"
check_eq "nothing in progress" 0 "$(msum "$TMP/m" http_requests_in_progress 'service="nginx"')"
check_eq "no events dropped" 0 "$(msum "$TMP/m" redscope_events_dropped_total)"

finish "$TMP/m"
