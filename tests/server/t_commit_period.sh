#!/usr/bin/env bash
# custosd --commit-period-us reaches the ledger in both modes: with --data
# (the data directory's one ledger, opened by cu_pipeline_ledger_open) and
# gateway-only (--ledger, cu_pipeline_ledger_open_dir).  custosd logs the
# period the ledger has in force (cu_ledger_commit_period_us), so a value
# dropped on the way (as --data once did) shows as the default, 500.
. "$(dirname "$0")/../tlib.sh"

tok=period-token-$RANDOM
printf 'token PNC sha256:%s\n' "$(printf '%s' "$tok" | sha256sum | cut -d' ' -f1)" >"$tmp/gateway.conf"
body='{"officer":"PC1","action":"view","record":"R1","purpose":"investigation","case":"C1"}'

# run NAME [custosd arguments...]: start, decide once, stop; the log in $tmp/NAME.log
run() {
  local name=$1
  shift
  rm -f "$tmp/port"
  "$bin/custosd" --port 0 --port-file "$tmp/port" --config "$tmp/gateway.conf" --policies "$src/policies" \
      --reference "$src/tests/gateway/data/force.jsonl" "$@" 2>"$tmp/$name.log" &
  pid=$!
  for _ in $(seq 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
  if [ ! -s "$tmp/port" ]; then
    bad "$name: custosd did not start: $(cat "$tmp/$name.log")"
    pid=
    return
  fi
  local ans
  ans=$(curl -sS -H "Authorization: Bearer $tok" --data-binary "$body" "http://127.0.0.1:$(cat "$tmp/port")/v1/authorize")
  want "$name: a durable decision" '"ledger_index":[0-9]+' "$ans"
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  pid=
}

run data-777 --data "$tmp/D1" --commit-period-us 777
want "--data honours the period" 'ledger commit period 777 us' "$(cat "$tmp/data-777.log")"
run data-default --data "$tmp/D2"
want "--data without it: the default" 'ledger commit period 500 us' "$(cat "$tmp/data-default.log")"
run data-none --data "$tmp/D3" --commit-period-us 1
want "--data, 1: no period" 'ledger commit period 0 us \(none\)' "$(cat "$tmp/data-none.log")"
run ledger-777 --ledger "$tmp/L" --commit-period-us 777
want "--ledger honours the period" 'ledger commit period 777 us' "$(cat "$tmp/ledger-777.log")"
# the gateway-only ledger is made with the gateway's origin, as before
want "--ledger origin" '^custos-gateway' "$(head -1 "$tmp/L/checkpoint" 2>/dev/null)"
finish
