#!/usr/bin/env bash
# One reference for the gateway and the detectors: the real custosd --data
# with the gateway on loopback.  PC2 is not on case CP (which links the
# protected person's record RP): citing CP, PC2 is refused by the gateway,
# and a break-glass look-up of RP citing CP raises a protected-person alert
# whose reason says PC2 is not assigned.  Then POST /v1/reference assigns
# PC2 to CP: the next decision allows, on the new version, and the same
# look-up raises no alert (the detectors explain it by the assignment they
# now see).  A bad line is refused by both (nothing changes).  The update
# is kept in the data directory and replayed when the daemon restarts: the
# version and the assignment survive it.
. "$(dirname "$0")/../tlib.sh"

tok=sys-token-$RANDOM$RANDOM
printf 'token PNC sha256:%s\n' "$(printf '%s' "$tok" | sha256sum | cut -d' ' -f1)" >"$tmp/gateway.conf"
"$bin/custosd" --port 0 --port-file "$tmp/port" --config "$tmp/gateway.conf" --data "$tmp/data" --legacy \
    --policies "$src/policies" --reference "$src/tests/gateway/data/force.jsonl" 2>"$tmp/log" &
pid=$!
for _ in $(seq 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
[ -s "$tmp/port" ] || { echo "custosd did not start"; cat "$tmp/log"; exit 1; }
port=$(cat "$tmp/port")

post() { # post PATH BODY -> "$code $body"
  curl -sS -o "$tmp/out" -w '%{http_code}' -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
       --data-binary "$2" "http://127.0.0.1:$port$1" >"$tmp/code" || true
  echo "$(cat "$tmp/code") $(cat "$tmp/out")"
}
get() {
  curl -sS -o "$tmp/out" -w '%{http_code}' -H "Authorization: Bearer $tok" "http://127.0.0.1:$port$1" >"$tmp/code" || true
  echo "$(cat "$tmp/code") $(cat "$tmp/out")"
}
view_rp() { # view_rp [extra json]
  post /v1/authorize "{\"officer\":\"PC2\",\"action\":\"view\",\"record\":\"RP\",\"purpose\":\"investigation\",\"case\":\"CP\"${1:-}}"
}
# An allowed look-up is answered once durable, while it is being indexed
# and detected under the ingest lock; POST /v1/events takes that lock (an
# empty body is refused, 400, once it has it): a barrier before reading alerts.
barrier() { post /v1/events '' >/dev/null; }
alerts_pc2() { barrier; get "/v1/alerts?officer=PC2" | grep -o '"id":"A[0-9]*"' | sort -u | wc -l; }

# before: not assigned
r=$(view_rp)
want "not on CP: refused" '^200 .*"decision":"(deny|break-glass-available)".*"ref_version":1,' "$r"
r=$(view_rp ',"break_glass":{"justification":"threat to life"}')
want "break-glass: allowed" '^200 .*"decision":"allow".*"break_glass":true.*"ref_version":1,' "$r"
barrier
a=$(get "/v1/alerts?officer=PC2")
want "the detectors see no assignment: alert" '"PC2".*not assigned|not assigned.*"PC2"' "$a"
n_before=$(alerts_pc2)
[ "$n_before" -ge 1 ] && ok || bad "no alert for PC2 before the update: $a"

# a bad line changes nothing, in either
r=$(post /v1/reference '{"kind":"assign","ts":"2024-05-02T10:00:00Z","case":"NO-SUCH-CASE","officer":"PC2","op":"add"}')
want "bad line refused" '^400 .*NO-SUCH-CASE' "$r"
want "version unchanged" '^200 \{"version":1\}' "$(get /v1/reference)"

# the update: PC2 assigned to CP as of a minute ago
ts=$(date -u -d '-1 minute' +%Y-%m-%dT%H:%M:%SZ)
r=$(post /v1/reference "{\"kind\":\"assign\",\"ts\":\"$ts\",\"case\":\"CP\",\"officer\":\"PC2\",\"op\":\"add\"}")
want "update taken" '^200 \{"version":2,"applied":1,"rejected":\[\]\}' "$r"

# after: the gateway allows on version 2, and the detectors explain it
r=$(view_rp)
want "assigned: allowed on the new version" '^200 .*"decision":"allow".*"break_glass":false.*"ref_version":2,' "$r"
r=$(view_rp)
want "again" '^200 .*"decision":"allow"' "$r"
n_after=$(alerts_pc2)
[ "$n_after" = "$n_before" ] && ok || bad "alerts for PC2 went from $n_before to $n_after after the assignment"

# three more updates, each on the one before: a new case CN linking RP
# (with a bad line beside it, refused), DC1 assigned to it, then removed
view_dc1() { post /v1/authorize '{"officer":"DC1","action":"view","record":"RP","purpose":"investigation","case":"CN"}'; }
day=$(date -u -d '-1 day' +%Y-%m-%dT%H:%M:%SZ)
r=$(post /v1/reference "{\"kind\":\"case\",\"id\":\"CN\",\"opened\":\"$day\",\"closed\":null,\"area\":\"CW\",\"officers\":[],\"subjects\":[\"PPROT\"],\"records\":[\"RP\"]}
{\"kind\":\"assign\",\"ts\":\"$ts\",\"case\":\"NO-SUCH-CASE\",\"officer\":\"DC1\",\"op\":\"add\"}")
want "a case and a bad line: the case taken" '^200 \{"version":3,"applied":1,"rejected":\[.*NO-SUCH-CASE' "$r"
r=$(post /v1/reference "{\"kind\":\"assign\",\"ts\":\"$ts\",\"case\":\"CN\",\"officer\":\"DC1\",\"op\":\"add\"}")
want "DC1 assigned to the new case" '^200 \{"version":4,"applied":1' "$r"
want "DC1 on CN: allowed" '^200 .*"decision":"allow".*"break_glass":false.*"ref_version":4,' "$(view_dc1)"
ts2=$(date -u +%Y-%m-%dT%H:%M:%SZ)
r=$(post /v1/reference "{\"kind\":\"assign\",\"ts\":\"$ts2\",\"case\":\"CN\",\"officer\":\"DC1\",\"op\":\"remove\"}")
want "DC1 taken off CN" '^200 \{"version":5,"applied":1' "$r"
want "DC1 off CN: refused" '^200 .*"decision":"(deny|break-glass-available)".*"ref_version":5,' "$(view_dc1)"

kill -TERM "$pid"
wait "$pid" || bad "custosd exit status $?"
pid=

# the updates are kept in the data directory (the refused one is not) and
# replayed at the next start, together, as their four versions: no restart
# brings back what they changed
n=$(ls "$tmp/data/reference-updates" | grep -c '\.jsonl$')
[ "$n" = 4 ] && ok || bad "want 4 kept updates, have $n: $(ls "$tmp/data/reference-updates")"
# each with its place in the log, and holding the lines taken (the
# refused one beside the new case is gone)
n=$(ls "$tmp/data/reference-updates" | grep -c '\.at$')
[ "$n" = 4 ] && ok || bad "want 4 positions, have $n: $(ls "$tmp/data/reference-updates")"
want "the refused line not kept" '^1$' "$(wc -l <"$tmp/data/reference-updates/00000002.jsonl")"
want "the new case kept" '"id":"CN"' "$(cat "$tmp/data/reference-updates/00000002.jsonl")"
rm -f "$tmp/port"
"$bin/custosd" --port 0 --port-file "$tmp/port" --config "$tmp/gateway.conf" --data "$tmp/data" --legacy \
    --policies "$src/policies" --reference "$src/tests/gateway/data/force.jsonl" 2>"$tmp/log2" &
pid=$!
for _ in $(seq 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
[ -s "$tmp/port" ] || { echo "custosd did not restart"; cat "$tmp/log2"; exit 1; }
port=$(cat "$tmp/port")
grep -q "reference: 4 update(s) replayed, version 5" "$tmp/log2" && ok || bad "no replay in the log: $(cat "$tmp/log2")"
want "version after the restart" '^200 \{"version":5\}' "$(get /v1/reference)"
r=$(view_rp)
want "still assigned after the restart" '^200 .*"decision":"allow".*"break_glass":false.*"ref_version":5,' "$r"
want "DC1 still off CN after the restart" '^200 .*"decision":"(deny|break-glass-available)".*"ref_version":5,' "$(view_dc1)"
n_restart=$(alerts_pc2)
[ "$n_restart" = "$n_before" ] && ok || bad "alerts for PC2 went from $n_before to $n_restart after the restart"
kill -TERM "$pid"
wait "$pid" || bad "custosd exit status $?"
pid=
finish
