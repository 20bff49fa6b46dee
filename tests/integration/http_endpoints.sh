#!/usr/bin/env bash
# Endpoint normalization on the wire: identifiers fold into ":id", query
# strings are dropped; and the per-service cap (--http.max-endpoints) sends
# the endpoints beyond it to "_other" without losing a count.
. "$(dirname "$0")/lib.sh"

NGINX_PORT=18083
AGENT_PORT=19437
CAP_AGENT_PORT=19438
MANY_AGENT_PORT=19439
BASE=http://127.0.0.1:$NGINX_PORT

start_nginx $NGINX_PORT '
	location / { return 200 "ok\n"; }'

# ---- normalization, with the default cap
start_agent $AGENT_PORT
curl_n 1 "$BASE/users/42"
curl_n 1 "$BASE/users/43"
curl_n 1 "$BASE/users/44?tab=orders"
curl_n 2 "$BASE/users/7/orders/9f1c2a3b4c5d6e7f8a9b"
curl_n 2 "$BASE/items/123e4567-e89b-12d3-a456-426614174000"
curl_n 3 "$BASE/search?q=a"
curl_n 1 "$BASE/search?q=b&page=2"
curl_n 1 "$BASE/search"
curl_n 2 "$BASE/v2/beef" # short hex is a name, not an identifier

scrape "$TMP/m"
ep() { msum "$TMP/m" http_requests_total 'service="nginx"' "endpoint=\"$1\""; }
check_eq "/users/42, /users/43, /users/44?... as /users/:id" 3 "$(ep /users/:id)"
check_eq "numeric and long hex segments" 2 "$(ep /users/:id/orders/:id)"
check_eq "UUID segment" 2 "$(ep /items/:id)"
check_eq "query strings stripped" 5 "$(ep /search)"
check_eq "short hex segment kept" 2 "$(ep /v2/beef)"
check_eq "one series per normalized endpoint" 5 \
	"$(nseries "$TMP/m" http_requests_total 'service="nginx"')"
check_eq "no raw identifier in any label" 0 "$(grep -c 'users/4[234]' "$TMP/m" || true)"
stop_wrapper "$AGENT_WRAP"

# ---- the cap: 5 endpoints, 8 distinct paths, 3 requests each, in order
start_agent $CAP_AGENT_PORT --http.max-endpoints=5
for p in 1 2 3 4 5 6 7 8; do curl_n 3 "$BASE/cap/p$p"; done
curl_n 2 "$BASE/cap/p1?again=1" # an endpoint it already has stays its own

scrape "$TMP/c"
cep() { msum "$TMP/c" http_requests_total 'service="nginx"' "endpoint=\"$1\""; }
check_eq "the first endpoints keep their series" "5 3 3 3 3" \
	"$(cep /cap/p1) $(cep /cap/p2) $(cep /cap/p3) $(cep /cap/p4) $(cep /cap/p5)"
check_eq "endpoints beyond the cap have no series" "0 0 0" \
	"$(cep /cap/p6) $(cep /cap/p7) $(cep /cap/p8)"
check_eq "their requests count under _other" 9 "$(cep _other)"
check_eq "total still exact" 26 "$(msum "$TMP/c" http_requests_total 'service="nginx"')"
check_eq "six series: five endpoints and _other" 6 \
	"$(nseries "$TMP/c" http_requests_total 'service="nginx"')"
check_eq "no events dropped" 0 "$(msum "$TMP/c" redscope_events_dropped_total)"
stop_wrapper "$AGENT_WRAP"

# ---- recent paths are remembered per CPU (256 entries each), and series are
# counted in a per-CPU table of 256 slots first: 600 paths, more than either
# holds, three passes over keep-alive connections in shuffled orders,
# plus identifiers and query strings that share an entry with their endpoint.
start_agent $MANY_AGENT_PORT --http.max-endpoints=1000
for pass in 1 2 3; do
	for p in $(seq 600 | shuf); do
		printf 'url = "%s/many/p%d"\noutput = "/dev/null"\n' "$BASE" "$p"
	done >"$TMP/urls"
	for p in $(seq 40); do
		printf 'url = "%s/many/id/%d?x=%d"\noutput = "/dev/null"\n' "$BASE" "$((p % 7))" "$p"
	done >>"$TMP/urls"
	curl -s --max-time 120 -K "$TMP/urls" || true
done
scrape "$TMP/k"
kep() { msum "$TMP/k" http_requests_total 'service="nginx"' "endpoint=\"$1\""; }
counts=$(for p in $(seq 600); do kep "/many/p$p"; done | sort | uniq -c | awk '{print $1 "x" $2}' | xargs)
check_eq "each of 600 paths counted exactly 3 times" "600x3" "$counts"
check_eq "identifier paths under one endpoint" 120 "$(kep /many/id/:id)"
check_eq "601 series, nothing else" 601 "$(nseries "$TMP/k" http_requests_total 'service="nginx"')"
check_eq "no events dropped" 0 "$(msum "$TMP/k" redscope_events_dropped_total)"
# 601 series cannot all have a slot of their own in a CPU's 256-slot http_hot
# table: the counts above were exact with some series in http_stats as well.
check "some series counted in http_stats, beyond http_hot's slots" \
	[ "$(msum "$TMP/k" redscope_map_entries 'map="http_stats"')" -gt 0 ]

finish "$TMP/k"
