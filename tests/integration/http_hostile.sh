#!/usr/bin/env bash
# Hostile input on the same nginx as good traffic: garbage bytes, half
# requests, a 16 KB URL, non-ASCII paths, huge headers, abrupt closes (RST)
# and more pipelined requests than the queue holds. The agent stays alive and
# the good requests counted beside them are exact.
. "$(dirname "$0")/lib.sh"

NGINX_PORT=18084
AGENT_PORT=19439
BASE=http://127.0.0.1:$NGINX_PORT

start_agent $AGENT_PORT
start_nginx $NGINX_PORT '
	large_client_header_buffers 4 8k;
	location = /h/good { return 200 "good\n"; }
	location = /h/slow { echo_sleep 0.2; echo slow; }
	location = /h/upload { echo_read_request_body; echo uploaded; }
	location /h/ { return 200 "h\n"; }'

# hostile KIND: one hostile client, written out in Python for byte control.
hostile() {
	timeout 20 "$PYTHON" - "$NGINX_PORT" "$1" <<'PY'
import random, socket, struct, sys, time
port, kind = int(sys.argv[1]), sys.argv[2]
rnd = random.Random(42)

def conn():
    return socket.create_connection(("127.0.0.1", port), timeout=5)

def drain(s):
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except (socket.timeout, ConnectionResetError):
        pass
    return out

def rst(s):  # close with a RST instead of a FIN
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()

if kind == "garbage":  # random bytes, then a TLS ClientHello-looking record
    for payload in (rnd.randbytes(3000), b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + rnd.randbytes(500)):
        s = conn(); s.sendall(payload); drain(s); s.close()
elif kind == "garbage-after-request":  # a good request, then junk on the same connection
    s = conn(); s.sendall(b"GET /h/good HTTP/1.1\r\nHost: t\r\n\r\n" + rnd.randbytes(700)); drain(s); s.close()
elif kind == "half":  # request cut in the headers, in the request line, then closed
    for part in (b"GET /h/half HTTP/1.1\r\nHost: t\r\n", b"GET /h/ha", b"G"):
        s = conn(); s.sendall(part); time.sleep(0.05); s.close()
elif kind == "half-rst":
    s = conn(); s.sendall(b"POST /h/upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\nabc"); time.sleep(0.05); rst(s)
elif kind == "long-url":  # 16 KB of path: nginx answers 414
    s = conn(); s.sendall(b"GET /h/" + b"a" * 16384 + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"); print(drain(s)[:12].decode()); s.close()
elif kind == "huge-headers":  # 6 KB of headers before the blank line
    s = conn(); s.sendall(b"GET /h/hdr HTTP/1.1\r\nHost: t\r\n" + b"X-Pad: " + b"p" * 6000 + b"\r\nConnection: close\r\n\r\n"); print(drain(s)[:12].decode()); s.close()
elif kind == "non-ascii":
    s = conn(); s.sendall(b"GET /h/\xff\xfe\x01 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"); print(drain(s)[:12].decode()); s.close()
elif kind == "rst-in-flight":  # the response is not sent yet when the client resets
    s = conn(); s.sendall(b"GET /h/slow HTTP/1.1\r\nHost: t\r\n\r\n"); time.sleep(0.02); rst(s)
elif kind == "rst-after":  # a full exchange, then a reset instead of a close
    s = conn(); s.sendall(b"GET /h/good HTTP/1.1\r\nHost: t\r\n\r\n")
    d = b""
    while b"good\n" not in d:
        d += s.recv(4096)
    rst(s)
elif kind == "overpipelined":  # 12 requests in one write; the queue holds 8
    s = conn()
    s.sendall(b"".join(b"GET /h/pipe HTTP/1.1\r\nHost: t\r\n%s\r\n" % (b"Connection: close\r\n" if i == 11 else b"") for i in range(12)))
    print(drain(s).count(b"HTTP/1.1 200")); s.close()
PY
}

good=0
good_request() {
	curl_n 1 "$BASE/h/good"
	good=$((good + 1))
}

good_request
hostile garbage
good_request
hostile garbage-after-request
good=$((good + 1))
hostile half
good_request
hostile half-rst
good_request
check_eq "nginx answers the 16 KB URL with 414" "HTTP/1.1 414" "$(hostile long-url)"
good_request
check_eq "nginx answers 6 KB of headers" "HTTP/1.1 200" "$(hostile huge-headers)"
check_eq "nginx answers a non-ASCII path" "HTTP/1.1 400" "$(hostile non-ascii)"
good_request
hostile rst-in-flight
sleep 0.3 # past the sleep: nginx has tried to answer
hostile rst-after
good=$((good + 1))
check_eq "nginx answers all 12 over-pipelined requests" 12 "$(hostile overpipelined)"
good_request

scrape "$TMP/m"
check "agent still alive (pid $AGENT_PID, /health/live 200)" agent_alive
req() { msum "$TMP/m" http_requests_total 'service="nginx"' "$@"; }
check_eq "good requests counted exactly" $good \
	"$(req 'method="GET"' 'endpoint="/h/good"' 'status="200"')"
check_eq "nginx logged as many" $good "$(nginx_log_count GET /h/good 200)"
check_eq "no other status on /h/good" $good "$(req 'endpoint="/h/good"')"
check_eq "half requests are not answers" 0 "$(req 'endpoint="/h/half"')"
check_eq "upload reset halfway is not an answer" 0 "$(req 'endpoint="/h/upload"')"
check_eq "reset before the answer: nginx logged no complete answer" \
	"$(nginx_log_count GET /h/slow 200)" "$(req 'endpoint="/h/slow"')"
check_eq "the 16 KB URL counts once as _other 414" 1 \
	"$(req 'method="GET"' 'endpoint="_other"' 'status="414"')"
check_eq "the non-ASCII path counts once as _other 400" 1 \
	"$(req 'method="GET"' 'endpoint="_other"' 'status="400"')"
check_eq "huge headers: counted" 1 "$(req 'endpoint="/h/hdr"' 'status="200"')"
check_eq "over-pipelined: the 8 queued are counted" 8 "$(req 'endpoint="/h/pipe"' 'status="200"')"
check_eq "over-pipelined: the rest shows as pipeline_full" 1 \
	"$(msum "$TMP/m" redscope_events_dropped_total 'reason="pipeline_full"')"
check_eq "no other drops" 0 $(($(msum "$TMP/m" redscope_events_dropped_total) - 1))
check_eq "nothing in progress" 0 "$(msum "$TMP/m" http_requests_in_progress 'service="nginx"')"

finish "$TMP/m"
