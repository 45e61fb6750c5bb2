#!/usr/bin/env bash
# A reference update survives a restart at its place in the stream: the
# real custosd --data --config on loopback takes a generated stream (POST
# /v1/events, in chunks) with one POST /v1/reference a quarter of the way
# in (fifteen people the later events look up put on the register as vip),
# once uninterrupted and once killed (SIGKILL) half way and restarted on
# the same data directory.  The update is kept with its place in the log,
# so the warm start runs the events before it on the data before it and
# those after on the data after: the detectors come out exact (no cold
# start) and the alerts after the restart are the uninterrupted run's.  The
# same stream without the update gives other alerts (the update matters).
. "$(dirname "$0")/../tlib.sh"

"$bin/custos" gen --officers 300 --days 10 --start 2024-03-01 --seed 7 --out "$tmp/g" >/dev/null 2>&1
split -l 2500 -d -a 2 "$tmp/g/events.jsonl" "$tmp/chunk."
chunks=("$tmp"/chunk.*)
half=$((${#chunks[@]} / 2))
q=$((${#chunks[@]} / 4))
# the update: the fifteen people most looked up between q and the end, on
# the register as vip (their person lines again, with the flag)
cat "${chunks[@]:$q}" | grep -o '"subjects":\["P[0-9]*"' | cut -d'"' -f4 | sort | uniq -c | sort -rn |
    awk 'NR <= 15 { print $2 }' >"$tmp/people"
grep -F -f <(sed 's/.*/"id":"&"/' "$tmp/people") "$tmp/g/reference.jsonl" | grep '"kind":"person"' |
    sed -E 's/"flags":\[[^]]*\]/"flags":["vip"]/' >"$tmp/update.jsonl"
[ "$(wc -l <"$tmp/update.jsonl")" = 15 ] && ok || bad "the update has $(wc -l <"$tmp/update.jsonl") lines, not 15"

tok=warm-$RANDOM$RANDOM
printf 'token PNC sha256:%s\n' "$(printf '%s' "$tok" | sha256sum | cut -d' ' -f1)" >"$tmp/gateway.conf"
start() { # start DATA: custosd on DATA, sets $pid and $port
  rm -f "$tmp/port"
  "$bin/custosd" --port 0 --port-file "$tmp/port" --data "$1" --config "$tmp/gateway.conf" \
      --policies "$src/policies" --reference "$tmp/g/reference.jsonl" --budget 20 --threshold 0.5 2>>"$tmp/log" &
  pid=$!
  for _ in $(seq 400); do [ -s "$tmp/port" ] && break; sleep 0.05; done
  [ -s "$tmp/port" ] || { echo "custosd did not start"; cat "$tmp/log"; exit 1; }
  port=$(cat "$tmp/port")
}
stop() { kill -9 "$pid"; wait "$pid" 2>/dev/null || true; pid=; }
post() { # post PATH FILE
  code=$(curl -sS -o "$tmp/resp" -w '%{http_code}' -H "Authorization: Bearer $tok" --data-binary @"$2" \
      "http://127.0.0.1:$port$1")
  [ "$code" = 200 ] || bad "$1 $2: HTTP $code $(head -c 300 "$tmp/resp")"
}
feed() { for ((k = $1; k < $2; k++)); do post /v1/events "${chunks[$k]}"; done; }
alerts() { # the latest state of every alert, one a line, by id
  curl -sS -H "Authorization: Bearer $tok" "http://127.0.0.1:$port/v1/alerts?limit=1000" |
      sed -e 's/^{"alerts":\[//' -e 's/\]}$//' -e 's/},{"id"/}\n{"id"/g' | sort
}

# uninterrupted, with the update
start "$tmp/u"
feed 0 $q
post /v1/reference "$tmp/update.jsonl"
feed $q ${#chunks[@]}
alerts >"$tmp/alerts.u"
stop

# the same stream without the update: other alerts
start "$tmp/n"
feed 0 ${#chunks[@]}
alerts >"$tmp/alerts.n"
stop
cmp -s "$tmp/alerts.u" "$tmp/alerts.n" && bad "the update changed no alert: the test shows nothing" || ok

# killed half way, after the update, and restarted
start "$tmp/w"
feed 0 $q
post /v1/reference "$tmp/update.jsonl"
feed $q $half
stop
[ -s "$tmp/w/reference-updates/00000001.at" ] && ok || bad "no position kept for the update"
: >"$tmp/log"
start "$tmp/w"
grep -q "warm start: .* from the first" "$tmp/log" && ok || bad "no warm start in the log: $(tail -5 "$tmp/log")"
grep -q "starting them cold" "$tmp/log" && bad "the detectors started cold: $(grep 'warm start' "$tmp/log")" || ok
grep -q "1 update(s) replayed, version 2 (1 in the warm start" "$tmp/log" && ok ||
    bad "the update not replayed in the warm start: $(grep 'reference' "$tmp/log")"
feed $half ${#chunks[@]}
alerts >"$tmp/alerts.w"
stop
n=$(wc -l <"$tmp/alerts.u")
[ "$n" -ge 10 ] && ok || bad "only $n alerts in the uninterrupted run"
if cmp -s "$tmp/alerts.u" "$tmp/alerts.w"; then ok; else
  bad "alerts after a warm restart differ from the uninterrupted run:"
  diff "$tmp/alerts.u" "$tmp/alerts.w" | cut -c1-240 | head -10 || true
fi

finish
