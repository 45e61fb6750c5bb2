#!/usr/bin/env bash
# custosd starts, answers GET /healthz, refuses unknown routes with JSON 404,
# refuses request headers over the connection's memory (431), and stops
# cleanly on SIGTERM.
set -euo pipefail
bin=${CU_BIN_DIR:-build}
tmp=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
"$bin/custosd" --port 0 --port-file "$tmp/port" 2>"$tmp/log" &
pid=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
port=$(cat "$tmp/port")
body=$(curl -sS "http://127.0.0.1:$port/healthz")
echo "$body" | grep -q '"status":"ok"' || { echo "bad healthz: $body"; exit 1; }
code=$(curl -s -o "$tmp/nf" -w '%{http_code}' "http://127.0.0.1:$port/nope")
[ "$code" = 404 ] || { echo "want 404, got $code"; exit 1; }
grep -q '"error"' "$tmp/nf" || { echo "404 body is not a JSON error"; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/healthz")
[ "$code" = 405 ] || { echo "want 405, got $code"; exit 1; }
# request headers: about 7 KiB fit the connection's memory (8 KiB, zeroed
# after every request: src/server/server.c, CONN_POOL_BYTES); more is 431
pad() { head -c "$1" /dev/zero | tr '\0' a; }
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Pad: $(pad 6000)" "http://127.0.0.1:$port/healthz")
[ "$code" = 200 ] || { echo "want 200 with 6000 bytes of headers, got $code"; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Pad: $(pad 9000)" "http://127.0.0.1:$port/healthz")
[ "$code" = 431 ] || { echo "want 431 with 9000 bytes of headers, got $code"; exit 1; }
kill -TERM $pid
wait $pid; rc=$?
[ $rc = 0 ] || { echo "custosd exit $rc after SIGTERM"; exit 1; }
grep -q stopped "$tmp/log" || { echo "no clean stop in log"; cat "$tmp/log"; exit 1; }
echo "1 passed, 0 failed"
