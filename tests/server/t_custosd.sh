#!/usr/bin/env bash
# custosd starts, answers GET /healthz, refuses unknown routes with JSON 404,
# refuses request headers over the connection's memory (431), and stops
# cleanly on SIGTERM.
. "$(dirname "$0")/../tlib.sh"
"$bin/custosd" --port 0 --port-file "$tmp/port" 2>"$tmp/log" &
pid=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
port=$(cat "$tmp/port")
body=$(curl -sS "http://127.0.0.1:$port/healthz")
echo "$body" | grep -q '"status":"ok"' || die "bad healthz: $body"
code=$(curl -s -o "$tmp/nf" -w '%{http_code}' "http://127.0.0.1:$port/nope")
[ "$code" = 404 ] || die "want 404, got $code"
grep -q '"error"' "$tmp/nf" || die "404 body is not a JSON error"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/healthz")
[ "$code" = 405 ] || die "want 405, got $code"
# request headers: about 7 KiB fit the connection's memory (8 KiB, zeroed
# after every request: src/server/server.c, CONN_POOL_BYTES); more is 431
pad() { head -c "$1" /dev/zero | tr '\0' a; }
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Pad: $(pad 6000)" "http://127.0.0.1:$port/healthz")
[ "$code" = 200 ] || die "want 200 with 6000 bytes of headers, got $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Pad: $(pad 9000)" "http://127.0.0.1:$port/healthz")
[ "$code" = 431 ] || die "want 431 with 9000 bytes of headers, got $code"
kill -TERM $pid
rc=0; wait $pid || rc=$?
pid=
[ $rc = 0 ] || die "custosd exit $rc after SIGTERM"
grep -q stopped "$tmp/log" || die "no clean stop in log"
ok
finish
