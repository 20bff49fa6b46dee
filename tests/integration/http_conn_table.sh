#!/usr/bin/env bash
# The socket hooks keep a TCP connection's state in a slot of their table
# (--http.conn-slots), or in the socket's storage when its slot is taken or
# the table has none. Counts, sizes and the in-progress gauge must not depend
# on which: with one slot (connections held open share it: one gets it, the
# rest use storage), with none, and with the default; over IPv4 and IPv6,
# with keep-alive and without. On the syscall hooks the flag changes nothing
# and there is no table to report.
. "$(dirname "$0")/lib.sh"

NGINX_PORT=18086
AGENT_PORT=19438

start_nginx $NGINX_PORT "
	listen [::1]:$NGINX_PORT;"'
	location = /t/ok { return 200 "ok\n"; }
	location = /t/v6 { return 200 "v6\n"; }
	location = /t/slow { echo_sleep 1.5; echo "slow"; }
	location /t/ { }'
mkdir -p "$NGINX_DIR/www/t"
head -c 612 /dev/zero | tr '\0' x >"$NGINX_DIR/www/t/index.html"

# Three keep-alive connections opened in turn, one request answered on each;
# then a slow request on the first and the third, and "held" in $TMP/held
# while they are in flight; then a last request on each, and all closed.
cat >"$TMP/hold.py" <<'EOF'
import socket, sys, time

port, flag = int(sys.argv[1]), sys.argv[2]

def ask(s, path):
    s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: t\r\n\r\n")

def answer(s):
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(4096)
    head, body = data.split(b"\r\n\r\n", 1)
    length = [int(l.split(b":")[1]) for l in head.split(b"\r\n")
              if l.lower().startswith(b"content-length:")]
    if length:
        while len(body) < length[0]:
            body += s.recv(4096)
    else:  # chunked (echo): up to the last chunk
        while not body.endswith(b"0\r\n\r\n"):
            body += s.recv(4096)

conns = []
for i in range(3):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    ask(s, b"/t/ok")
    answer(s)
    conns.append(s)
# A connection that is not HTTP, held too: a server of our own reads a TLS
# record's first bytes on it.
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
junk = socket.create_connection(srv.getsockname(), timeout=10)
peer, _ = srv.accept()
junk.sendall(b"\x16\x03\x01\x00\x05hello")
peer.recv(100)
ask(conns[0], b"/t/slow")
ask(conns[2], b"/t/slow")
time.sleep(0.3)
open(flag, "w").write("held\n")
answer(conns[0])
answer(conns[2])
for s in conns:
    ask(s, b"/t/ok")
    answer(s)
for s in conns + [junk, peer, srv]:
    s.close()
EOF

# run SLOTS: one agent with --http.conn-slots=SLOTS over the held connections
# and wrk; checks the counts. Leaves the held scrape in $TMP/held-SLOTS.prom.
run() {
	local slots=$1 got logged_ok logged_wrk
	start_agent $AGENT_PORT --http.conn-slots="$slots"
	: >"$NGINX_DIR/access.log"
	rm -f "$TMP/held"
	timeout 30 "$PYTHON" "$TMP/hold.py" $NGINX_PORT "$TMP/held" &
	local holder=$!
	for _ in $(seq 100); do
		[ -s "$TMP/held" ] && break
		sleep 0.05
	done
	scrape "$TMP/held-$slots.prom"
	detailed_held "$slots" "$(msum "$TMP/held-$slots.prom" redscope_map_entries 'map="http_conns"')"
	wait $holder
	timeout 30 wrk -t1 -c8 -d1s "http://127.0.0.1:$NGINX_PORT/t/index.html" >/dev/null
	curl_keepalive 3 "http://[::1]:$NGINX_PORT/t/v6" # IPv6: 3 on one connection
	curl_n 2 "http://[::1]:$NGINX_PORT/t/v6"
	logged_ok=$(nginx_log_count GET /t/ok 200)
	logged_wrk=$(nginx_log_count GET /t/index.html 200)
	scrape "$TMP/m-$slots.prom"
	stop_wrapper "$AGENT_WRAP"

	req() { msum "$TMP/m-$slots.prom" http_requests_total 'service="nginx"' "$@"; }
	check_eq "slots=$slots: /t/ok counted as sent on the held connections" 6 \
		"$(req 'endpoint="/t/ok"' 'status="200"')"
	check_eq "slots=$slots: nginx logged as many" 6 "$logged_ok"
	check_eq "slots=$slots: the slow requests" 2 "$(req 'endpoint="/t/slow"')"
	check_eq "slots=$slots: over IPv6, keep-alive and not" 5 "$(req 'endpoint="/t/v6"' 'status="200"')"
	got=$(req 'endpoint="/t/index.html"' 'status="200"')
	check_eq "slots=$slots: wrk's requests equal nginx's log" "$logged_wrk" "$got"
	check "slots=$slots: wrk made requests ($got)" test "$got" -gt 100
	check_eq "slots=$slots: every response of wrk in le=1000" "$got" \
		"$(msum "$TMP/m-$slots.prom" http_response_size_bytes_bucket \
			'endpoint="/t/index.html"' 'le="1000"')"
	check_eq "slots=$slots: the two slow requests in progress while held" 2 \
		"$(msum "$TMP/held-$slots.prom" http_requests_in_progress 'service="nginx"')"
	check_eq "slots=$slots: nothing in progress at the end" 0 \
		"$(msum "$TMP/m-$slots.prom" http_requests_in_progress 'service="nginx"')"
	check_eq "slots=$slots: no events dropped" 0 \
		"$(msum "$TMP/m-$slots.prom" redscope_events_dropped_total)"
	# The socket hooks watch every TCP connection a server accepted, the
	# scrape's own too, until its first bytes show it is redscope's, and the
	# TLS one until its first bytes show it is not HTTP: then it is
	# forgotten. The syscall hooks know redscope's at accept and leave it out.
	check_eq "slots=$slots: the three held connections watched, not the TLS one nor the scrape's" \
		3 "$(msum "$TMP/held-$slots.prom" redscope_map_entries 'map="http_conns"')"
	check_eq "slots=$slots: /health/detailed, alone, finds as many" \
		"3 $(table "$slots")" "$(detailed_counts "$TMP/detailed-$slots.json")"
	check_eq "slots=$slots: once they closed, none" 0 \
		"$(msum "$TMP/m-$slots.prom" redscope_map_entries 'map="http_conns"')"
}

# table SLOTS: connections in the table, held, as the scrape saw them.
table() { msum "$TMP/held-$1.prom" redscope_map_entries 'map="http_sock_table"'; }
# detailed_counts FILE: the same two counts in a /health/detailed answer.
detailed_counts() {
	"$PYTHON" -c '
import json, sys
maps = {m["name"]: m["entries"] for m in json.load(open(sys.argv[1]))["maps"]}
print(maps.get("http_conns", -1), maps.get("http_sock_table", 0))
' "$1"
}
# detailed_held SLOTS CONNS: /health/detailed into $TMP/detailed-SLOTS.json
# while the connections are held. A scrape counts the connections in the walk
# it makes for the gauge; /health/detailed alone walks them itself. Asked
# until it sees the scrape's CONNS (the scrape's own connection, replaced by
# this one's, may still be closing), for at most half a second.
detailed_held() {
	local f="$TMP/detailed-$1.json"
	for _ in $(seq 10); do
		curl -sf --max-time 2 "$AGENT_URL/health/detailed" -o "$f" || true
		[ "$(detailed_counts "$f" | cut -d' ' -f1)" = "$2" ] && return
		sleep 0.05
	done
}

run 1
run 0
run 16384

if grep -q 'http: socket hooks' "$AGENT_LOG"; then
	check_eq "one slot: the first held connection in the table" 1 "$(table 1)"
	check_eq "one slot: its capacity" 1 \
		"$(msum "$TMP/held-1.prom" redscope_map_capacity 'map="http_sock_table"')"
	check_eq "no slots: no table reported" 0 \
		"$(nseries "$TMP/held-0.prom" redscope_map_entries 'map="http_sock_table"')"
	# The held connections. Three cookies share a slot of 16384 with odds of
	# 1 in 5500; two sharing still leaves two.
	check "default: the held connections in the table ($(table 16384) of 3)" \
		test "$(table 16384)" -ge 2
	check_eq "default: its capacity" 16384 \
		"$(msum "$TMP/held-16384.prom" redscope_map_capacity 'map="http_sock_table"')"
	check_eq "once closed, none in the table" 0 \
		"$(msum "$TMP/m-16384.prom" redscope_map_entries 'map="http_sock_table"')"
else
	check_eq "syscall hooks: no table reported" 0 \
		"$(nseries "$TMP/held-16384.prom" redscope_map_entries 'map="http_sock_table"')"
fi

finish "$TMP/m-16384.prom"
