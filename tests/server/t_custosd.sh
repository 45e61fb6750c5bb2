#!/usr/bin/env bash
# custosd starts, answers GET /healthz, refuses unknown routes with JSON 404,
# and stops cleanly on SIGTERM.
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
kill -TERM $pid
wait $pid; rc=$?
[ $rc = 0 ] || { echo "custosd exit $rc after SIGTERM"; exit 1; }
grep -q stopped "$tmp/log" || { echo "no clean stop in log"; cat "$tmp/log"; exit 1; }
echo "1 passed, 0 failed"
