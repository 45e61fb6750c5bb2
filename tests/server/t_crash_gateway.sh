#!/usr/bin/env bash
# Crash test of the gateway's commit path: custosd (gateway-only, a durable
# ledger) answers POST /v1/authorize to 8 concurrent callers, so that
# commits hold several decisions and the ledger's commit period is in play
# (docs/ledger.md, "The commit protocol"), and is killed with SIGKILL at a
# random moment, several times over the same ledger.  After each kill,
# publishing the reopened ledger must recover it, and every decision that
# was answered 200 with a ledger_index must be in it: indices distinct and
# below the recovered size.  A SIGKILL leaves the page cache, so this
# proves that nothing is answered before its entry is written to the
# journal and that recovery keeps it; that nothing is answered before the
# fdatasync succeeds is test_gateway_async's (a failed fdatasync answers
# every waiting request 503) and tests/ledger's fault injection.
. "$(dirname "$0")/../tlib.sh"

runs=${CU_CRASH_RUNS:-6}
tok=crash-token-$RANDOM$RANDOM
printf 'token PNC sha256:%s\n' "$(printf '%s' "$tok" | sha256sum | cut -d' ' -f1)" >"$tmp/gateway.conf"
body='{"officer":"PC1","action":"view","record":"R1","purpose":"investigation","case":"C1"}'

caller() { # caller K: posts until the daemon is gone, one answer per line in ans.K
  while curl -sS -o - -w '\n' -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
        --data-binary "$body" "http://127.0.0.1:$port/v1/authorize" >>"$tmp/ans.$1" 2>/dev/null; do :; done
}

answered=0
size=0
for i in $(seq "$runs"); do
  rm -f "$tmp/port" "$tmp"/ans.*
  "$bin/custosd" --port 0 --port-file "$tmp/port" --config "$tmp/gateway.conf" --ledger "$tmp/L" \
      --policies "$src/policies" --reference "$src/tests/gateway/data/force.jsonl" 2>"$tmp/log" &
  pid=$!
  for _ in $(seq 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
  [ -s "$tmp/port" ] || { bad "run $i: custosd did not start: $(cat "$tmp/log")"; break; }
  port=$(cat "$tmp/port")
  cpids=()
  for k in 1 2 3 4 5 6 7 8; do caller $k & cpids+=($!); done
  sleep "$(printf "0.%03d" $((RANDOM % 600 + 300)))"
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
  pid=
  for p in "${cpids[@]}"; do wait "$p" 2>/dev/null || true; done
  # every answer that carries an index was acknowledged as durable
  acked=$(cat "$tmp"/ans.* 2>/dev/null | grep -o '"ledger_index":[0-9]*' | cut -d: -f2 | sort -n || true)
  n=$(printf '%s' "$acked" | grep -c . || true)
  answered=$((answered + n))
  "$bin/custos" ledger publish "$tmp/L" >"$tmp/pub" 2>"$tmp/perr" || { bad "run $i: publish after kill: $(cat "$tmp/perr")"; break; }
  new=$(sed 's/checkpoint size //' "$tmp/pub")
  [ "$new" -ge "$size" ] || bad "run $i: the ledger shrank from $size to $new"
  dup=$(printf '%s\n' "$acked" | grep . | uniq -d | head -3 || true)
  [ -z "$dup" ] || bad "run $i: indices answered twice: $dup"
  max=$(printf '%s\n' "$acked" | grep . | tail -1 || true)
  if [ -n "$max" ] && [ "$max" -ge "$new" ]; then
    bad "run $i: index $max was answered but the recovered ledger holds $new entries"
  fi
  [ -z "$max" ] || [ "$(printf '%s\n' "$acked" | head -1)" -ge "$size" ] ||
      bad "run $i: an index below the previous run's size ($size) was answered again"
  size=$new
  ok
done
# the test means nothing unless callers were answered
[ "$answered" -gt 0 ] && ok || bad "no decision was answered in $runs runs"
echo "($answered decisions answered over $runs kills; ledger size $size)"
finish
