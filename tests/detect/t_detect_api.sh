#!/usr/bin/env bash
# custosd --data on the misuse detector: a generated force is posted to
# POST /v1/events over loopback, then GET /v1/alerts (every filter: since,
# officer, kind, min_score, limit; bad arguments refused with 400) and
# GET /v1/officers/{id}/risk (an alerted officer's risk and the reasons that
# raised it; an unknown officer is 404).
. "$(dirname "$0")/../tlib.sh"
command -v jq >/dev/null || { echo "jq missing"; exit 1; }

# a small force with misuse at a high intensity, so that alerts exist
"$bin/custos" gen --officers 300 --days 14 --start 2024-03-04 --seed 7 --intensity 6 --out "$tmp/force" 2>/dev/null
"$bin/custosd" --port 0 --port-file "$tmp/port" --data "$tmp/data" --reference "$tmp/force/reference.jsonl" \
  --budget 20 2>>"$tmp/log" &
pid=$!
for _ in $(seq 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
[ -s "$tmp/port" ] || die "custosd did not start"
url="http://127.0.0.1:$(cat "$tmp/port")"
split -l 15000 "$tmp/force/events.jsonl" "$tmp/batch."
for b in "$tmp"/batch.*; do
  code=$(curl -sS -o "$tmp/body" -w '%{http_code}' -X POST --data-binary @"$b" -H 'Content-Type: application/x-ndjson' "$url/v1/events")
  [ "$code" = 200 ] || die "POST $b: $code $(cat "$tmp/body")"
done

get() { # get PATH -> code, body in $tmp/body
  code=$(curl -sS -o "$tmp/body" -w '%{http_code}' "$url$1")
}

get "/v1/alerts?limit=1000"
[ "$code" = 200 ] || die "alerts: $code"
n=$(jq '.count' "$tmp/body")
[ "$n" -ge 3 ] || die "want alerts on a force with misuse, got $n"
[ "$(jq '.alerts | length' "$tmp/body")" = "$n" ] || die "count disagrees with the list"
jq -e '.alerts | all(.id and .raised_at and .kind and (.officers | length > 0) and (.reasons | length > 0) and .score >= 0.7)' \
  "$tmp/body" >/dev/null || die "an alert lacks a field, a reason or the threshold's score"
# latest raised first, one line per id
jq -e '[.alerts[].raised_at] as $t | $t == ($t | sort | reverse)' "$tmp/body" >/dev/null || die "not latest first"
jq -e '[.alerts[].id] | length == (unique | length)' "$tmp/body" >/dev/null || die "an id listed twice"
cp "$tmp/body" "$tmp/all"
ok

# officer filter: only alerts naming that officer, and all of them
off=$(jq -r '.alerts[0].officers[0]' "$tmp/all")
get "/v1/alerts?officer=$off&limit=1000"
[ "$code" = 200 ] || die "officer filter: $code"
want=$(jq --arg o "$off" '[.alerts[] | select(.officers | index($o))] | length' "$tmp/all")
[ "$(jq '.count' "$tmp/body")" = "$want" ] || die "officer filter: want $want"
jq -e --arg o "$off" '.alerts | all(.officers | index($o))' "$tmp/body" >/dev/null || die "officer filter let another in"
ok

# kind filter
kind=$(jq -r '.alerts[0].kind' "$tmp/all")
get "/v1/alerts?kind=$kind&limit=1000"
want=$(jq --arg k "$kind" '[.alerts[] | select(.kind == $k)] | length' "$tmp/all")
[ "$code" = 200 ] && [ "$(jq '.count' "$tmp/body")" = "$want" ] || die "kind filter: want $want"
ok

# min_score filter: the median score splits the list (halfway between two
# distinct scores, so that no score sits on the bound after a decimal round trip)
ms=$(jq '[.alerts[].score] | unique | if length > 1 then (.[length / 2 | floor] + .[(length / 2 | floor) - 1]) / 2 else .[0] end' "$tmp/all")
get "/v1/alerts?min_score=$ms&limit=1000"
want=$(jq --argjson s "$ms" '[.alerts[] | select(.score >= $s)] | length' "$tmp/all")
[ "$code" = 200 ] && [ "$(jq '.count' "$tmp/body")" = "$want" ] || die "min_score filter: want $want"
[ "$want" -lt "$n" ] || [ "$(jq '[.alerts[].score] | unique | length' "$tmp/all")" = 1 ] || die "min_score filtered nothing"
ok

# since filter: alerts raised at or after the median time
since=$(jq -r '[.alerts[].raised_at] | sort | .[length / 2 | floor]' "$tmp/all")
get "/v1/alerts?since=$since&limit=1000"
want=$(jq --arg t "$since" '[.alerts[] | select(.raised_at >= $t)] | length' "$tmp/all")
[ "$code" = 200 ] && [ "$(jq '.count' "$tmp/body")" = "$want" ] || die "since filter: want $want"
get "/v1/alerts?limit=2"
[ "$(jq '.count' "$tmp/body")" = 2 ] || die "limit"
ok

# bad arguments are refused and named
for q in "since=yesterday" "min_score=2" "min_score=x" "limit=0" "limit=5000" "kind="; do
  get "/v1/alerts?$q"
  [ "$code" = 400 ] || die "$q: want 400, got $code"
  jq -e '.error | length > 0' "$tmp/body" >/dev/null || die "$q: no error message"
done
ok

# risk: an officer with an alert of their own evidence
ao=$(jq -r '[.alerts[] | select(.kind != "ring" and .kind != "curiosity")][0].officers[0]' "$tmp/all")
get "/v1/officers/$ao/risk"
[ "$code" = 200 ] || die "risk of $ao: $code $(cat "$tmp/body")"
jq -e --arg o "$ao" '.officer == $o and .score > 0 and .score <= 1 and (.history | length > 0)
  and (.history | all(.ts and .reason and (.reason | length > 0))) and (.alert | startswith("A"))' \
  "$tmp/body" >/dev/null || die "risk body: $(cat "$tmp/body")"
# the history is in time order and its scores rise to what raised the alert
jq -e '[.history[].ts] as $t | $t == ($t | sort)' "$tmp/body" >/dev/null || die "risk history not in time order"
ok
# a member of a group alert (ring or curiosity) sees it in their risk
gid=$(jq -r '[.alerts[] | select(.kind == "ring" or .kind == "curiosity")][0].id // empty' "$tmp/all")
if [ -n "$gid" ]; then
  go=$(jq -r --arg g "$gid" '.alerts[] | select(.id == $g) | .officers[0]' "$tmp/all")
  get "/v1/officers/$go/risk"
  [ "$code" = 200 ] || die "risk of group member $go: $code"
  jq -e --arg g "$gid" '.group_alerts | index($g)' "$tmp/body" >/dev/null || die "risk of $go does not name $gid"
fi
get "/v1/officers/NOBODY-AT-ALL/risk"
[ "$code" = 404 ] || die "unknown officer: want 404, got $code"
long=$(printf 'X%.0s' $(seq 70))
get "/v1/officers/$long/risk"
[ "$code" = 400 ] || die "overlong officer id: want 400, got $code"
ok
finish
