#!/usr/bin/env bash
# custosd --data: POST /v1/events over HTTP on loopback.  A good batch is
# acknowledged with ledger indices; a batch with a bad line is refused with
# 400 naming the line and changes nothing (the next good batch gets the next
# index); an out-of-order batch is refused; the protected-person detector
# raises its alert; after a restart the indices continue.
. "$(dirname "$0")/../tlib.sh"
data="$src/tests/pipeline/data"
start() {
  rm -f "$tmp/port"
  # --legacy: the protected-person detector, one alert per access (what the counts below expect)
  "$bin/custosd" --port 0 --port-file "$tmp/port" --data "$tmp/data" --reference "$data/ref.jsonl" --legacy 2>>"$tmp/log" &
  pid=$!
  for _ in $(seq 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
  [ -s "$tmp/port" ] || die "custosd did not start"
  port=$(cat "$tmp/port")
}
post() { # post FILE -> sets code and body
  code=$(curl -sS -o "$tmp/body" -w '%{http_code}' -X POST --data-binary @"$1" \
    -H 'Content-Type: application/x-ndjson' "http://127.0.0.1:$port/v1/events")
  body=$(cat "$tmp/body")
}
start
head -n 3 "$data/events.jsonl" > "$tmp/b1"
post "$tmp/b1"
[ "$code" = 200 ] || die "batch 1: $code $body"
echo "$body" | grep -q '"accepted":3,"first_index":0,"last_index":2' || die "batch 1 body: $body"
echo "$body" | grep -q '"alerts":1' || die "batch 1 should raise the alert on E1: $body"

# a bad line in the middle: 400 naming line 2, nothing applied
{ sed -n 4p "$data/events.jsonl"; echo '{"kind":"access","id":"X","ts":"not a time"}'; sed -n 5p "$data/events.jsonl"; } > "$tmp/b2"
post "$tmp/b2"
[ "$code" = 400 ] || die "bad batch: want 400, got $code $body"
echo "$body" | grep -q 'line 2' || die "bad batch message does not name line 2: $body"

# out of order against what was accepted: refused
sed -n 1p "$data/events.jsonl" > "$tmp/b3"
post "$tmp/b3"
[ "$code" = 400 ] || die "out-of-order batch: want 400, got $code"
echo "$body" | grep -q 'earlier' || die "out-of-order message: $body"

# the rest: indices continue at 3 (the refused batches left no trace)
sed -n '4,$p' "$data/events.jsonl" > "$tmp/b4"
post "$tmp/b4"
[ "$code" = 200 ] || die "batch 4: $code $body"
echo "$body" | grep -q '"accepted":7,"first_index":3,"last_index":9' || die "batch 4 body: $body"
echo "$body" | grep -q '"alerts":3' || die "batch 4 should raise 3 alerts: $body"

# GET is not allowed; an oversized body is refused
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v1/events")
[ "$code" = 405 ] || die "GET: want 405, got $code"
head -c $((17 * 1024 * 1024)) /dev/zero | tr '\0' ' ' > "$tmp/big"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @"$tmp/big" "http://127.0.0.1:$port/v1/events")
[ "$code" = 413 ] || die "big body: want 413, got $code"

kill -TERM $pid; wait $pid || die "custosd exit status"
pid=
# restart: the ledger holds 10 entries; the next batch gets index 10
start
printf '%s\n' '{"kind":"access","id":"E11","ts":"2024-03-01T00:00:00Z","officer":"MP10432","system":"PNC","action":"view","record":"R70000","subjects":["P11111"],"outcome":"allow"}' > "$tmp/b5"
post "$tmp/b5"
[ "$code" = 200 ] || die "after restart: $code $body"
echo "$body" | grep -q '"first_index":10' || die "after restart the index should continue at 10: $body"
kill -TERM $pid; wait $pid || die "custosd exit status"
pid=
ok
finish
