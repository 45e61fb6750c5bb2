#!/usr/bin/env bash
# custosd starts, answers GET /healthz, refuses unknown routes with JSON 404,
# and stops cleanly on SIGTERM.
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
kill -TERM $pid
rc=0; wait $pid || rc=$?
pid=
[ $rc = 0 ] || die "custosd exit $rc after SIGTERM"
grep -q stopped "$tmp/log" || die "no clean stop in log"
ok
finish
