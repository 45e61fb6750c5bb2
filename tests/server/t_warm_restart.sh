#!/usr/bin/env bash
# Detector state survives a daemon restart: the real custosd --data on
# loopback takes a generated stream (POST /v1/events, in chunks) once
# uninterrupted, and once killed (SIGKILL) in the middle and restarted on
# the same data directory.  At start the daemon replays the events already
# indexed through the detectors (alerts suppressed, nothing appended), so
# the alerts after the restart are exactly the uninterrupted run's: the
# same ids, growing alerts continuing under their ids, the same scores.  A
# restart with the warm start off (--warm-events 0) gives different alerts
# (which shows the stream needs the state).
. "$(dirname "$0")/../tlib.sh"

"$bin/custos" gen --officers 300 --days 10 --start 2024-03-01 --seed 7 --out "$tmp/g" >/dev/null 2>&1
split -l 2500 -d -a 2 "$tmp/g/events.jsonl" "$tmp/chunk."
chunks=("$tmp"/chunk.*)
half=$((${#chunks[@]} / 2))

start() { # start DATA [args...]: custosd on DATA, sets $pid and $port
  local data=$1
  shift
  rm -f "$tmp/port"
  "$bin/custosd" --port 0 --port-file "$tmp/port" --data "$data" --reference "$tmp/g/reference.jsonl" \
      --budget 20 --threshold 0.5 "$@" 2>>"$tmp/log" &
  pid=$!
  for _ in $(seq 400); do [ -s "$tmp/port" ] && break; sleep 0.05; done
  [ -s "$tmp/port" ] || { echo "custosd did not start"; cat "$tmp/log"; exit 1; }
  port=$(cat "$tmp/port")
}
feed() { # feed FROM TO: chunks [FROM, TO)
  for ((k = $1; k < $2; k++)); do
    code=$(curl -sS -o "$tmp/resp" -w '%{http_code}' --data-binary @"${chunks[$k]}" "http://127.0.0.1:$port/v1/events")
    [ "$code" = 200 ] || { bad "chunk $k: HTTP $code $(cat "$tmp/resp")"; return; }
  done
}
alerts() { # the latest state of every alert, one a line, by id
  curl -sS "http://127.0.0.1:$port/v1/alerts?limit=1000" | sed -e 's/^{"alerts":\[//' -e 's/\]}$//' \
      -e 's/},{"id"/}\n{"id"/g' | sort
}

# uninterrupted
start "$tmp/u"
feed 0 ${#chunks[@]}
alerts >"$tmp/alerts.u"
kill -9 "$pid"; wait "$pid" 2>/dev/null || true; pid=

# killed in the middle, restarted (warm start on, the default)
start "$tmp/w"
feed 0 $half
kill -9 "$pid"; wait "$pid" 2>/dev/null || true; pid=
cp -a "$tmp/w" "$tmp/c" # the same state, for the cold restart below
start "$tmp/w"
grep -q "warm start: .* from the first" "$tmp/log" && ok || bad "no warm start in the log: $(tail -5 "$tmp/log")"
feed $half ${#chunks[@]}
alerts >"$tmp/alerts.w"
kill -9 "$pid"; wait "$pid" 2>/dev/null || true; pid=

n=$(wc -l <"$tmp/alerts.u")
[ "$n" -ge 10 ] && ok || bad "only $n alerts in the uninterrupted run"
grep -q '"id":"A[0-9]*"' "$tmp/alerts.u" && ok || bad "no alert ids: $(head -c 300 "$tmp/alerts.u")"
if cmp -s "$tmp/alerts.u" "$tmp/alerts.w"; then ok; else
  bad "alerts after a warm restart differ from the uninterrupted run:"
  diff "$tmp/alerts.u" "$tmp/alerts.w" | cut -c1-240 | head -10
fi

# a bounded window (the last day of the stream so far): found by bisection,
# not from the first event; the stream goes on
cp -a "$tmp/c" "$tmp/b"
: >"$tmp/log"
start "$tmp/b" --warm-days 1
if grep -qE "warm start: [0-9]+ events \(log entries [1-9][0-9]*\.\." "$tmp/log" && ! grep -q "from the first" "$tmp/log"; then
  ok
else
  bad "no bounded warm start: $(grep 'warm start' "$tmp/log")"
fi
feed $half ${#chunks[@]}
kill -9 "$pid"; wait "$pid" 2>/dev/null || true; pid=

# the same restart with cold detectors: different alerts
start "$tmp/c" --warm-events 0
feed $half ${#chunks[@]}
alerts >"$tmp/alerts.c"
kill -9 "$pid"; wait "$pid" 2>/dev/null || true; pid=
cmp -s "$tmp/alerts.u" "$tmp/alerts.c" && bad "a cold restart gave the same alerts: the test shows nothing" || ok

finish
