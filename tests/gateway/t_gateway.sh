#!/usr/bin/env bash
# The gateway end to end: starts the real custosd on loopback with the police
# pack, a durable ledger and the fixture force, and drives it over HTTP with
# curl: allow with a case link, deny without (naming the failed condition),
# protected person, vetting that expires while the daemon runs, break-glass
# and its review, 401, 400, 413, reference updates taking effect on the next
# decision, metrics, and a ledger that cannot persist (deny, "audit
# unavailable").
. "$(dirname "$0")/../tlib.sh"

tok_sys=sys-token-$RANDOM$RANDOM
tok_rev=rev-token-$RANDOM$RANDOM
h() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
cat >"$tmp/gateway.conf" <<EOF
# callers of the gateway
token PNC sha256:$(h "$tok_sys")
token PSD-REVIEW sha256:$(h "$tok_rev") reviewer
EOF

start() { # start NAME [extra shell prefix]: runs custosd, sets $port
  local name=$1
  rm -f "$tmp/$name.port"
  bash -c "$2 exec \"$bin/custosd\" --port 0 --port-file \"$tmp/$name.port\" --config \"$tmp/gateway.conf\" \
      --ledger \"$tmp/$name.ledger\" --policies \"$src/policies\" --reference \"$src/tests/gateway/data/force.jsonl\"" \
      2>"$tmp/$name.log" &
  pids+=($!)
  for _ in $(seq 200); do [ -s "$tmp/$name.port" ] && break; sleep 0.05; done
  [ -s "$tmp/$name.port" ] || { echo "custosd did not start"; cat "$tmp/$name.log"; exit 1; }
  port=$(cat "$tmp/$name.port")
}

post() { # post PATH BODY [TOKEN] -> "$code $body"
  local t=${3:-$tok_sys}
  curl -sS -o "$tmp/out" -w '%{http_code}' -H "Authorization: Bearer $t" -H 'Content-Type: application/json' \
       --data-binary "$2" "http://127.0.0.1:$port$1" >"$tmp/code" || true
  echo "$(cat "$tmp/code") $(cat "$tmp/out")"
}
get() {
  curl -sS -o "$tmp/out" -w '%{http_code}' -H "Authorization: Bearer ${2:-$tok_sys}" "http://127.0.0.1:$port$1" >"$tmp/code" || true
  echo "$(cat "$tmp/code") $(cat "$tmp/out")"
}
authz() { # authz OFFICER ACTION RECORD CASE(or null) [extra json]
  local c=null
  [ "$4" != null ] && c="\"$4\""
  post /v1/authorize "{\"officer\":\"$1\",\"action\":\"$2\",\"record\":\"$3\",\"purpose\":\"investigation\",\"case\":$c${5:-}}"
}

start main ""

# --------------------------------------------------------------- decisions
r=$(authz PC1 view R1 C1)
want "allow with a case link" '^200 .*"decision":"allow".*"policies":\["pnc-view-sworn"\].*"ledger_index":[0-9]+' "$r"
r=$(authz PC1 view R3 C1)
want "deny: case does not link the record" '^200 .*"decision":"(deny|break-glass-available)".*case-not-linked.*does not link this record' "$r"
r=$(authz PC1 view R1 null)
want "deny without a case, names need to know" '^200 .*"decision":"break-glass-available".*need-to-know.*Need to know' "$r"
r=$(authz PC1 view RP CP)
want "protected person with a case naming them" '^200 .*"decision":"allow"' "$r"
r=$(authz PC1 view RP C1)
want "protected person, case does not name them" '"decision":"(deny|break-glass-available)".*protected-person' "$r"
r=$(authz PC1 view REX C1)
want "declared relation" '"decision":"deny".*declared-relation' "$r"

# ----------------------------------------------------- vetting that expires
now=$(date -u +%s)
exp=$((now + 3))
upd="{\"kind\":\"officer\",\"id\":\"TMP1\",\"role\":\"PC\",\"unit\":\"TP-CW-RESP\",\"area\":\"CW\",\"vetting\":{\"level\":\"RV\",\"granted\":\"2020-01-01\",\"expires\":\"$(date -u -d @$exp +%FT%TZ)\"},\"start\":\"2020-01-01\",\"end\":null,\"relations\":[]}
{\"kind\":\"assign\",\"ts\":\"$(date -u -d @$now +%FT%TZ)\",\"case\":\"C1\",\"officer\":\"TMP1\",\"op\":\"add\"}"
r=$(post /v1/reference "$upd")
want "reference update" '^200 .*"version":2,"applied":2' "$r"
r=$(authz TMP1 view R1 C1)
want "vetting valid before expiry" '"decision":"allow".*"ref_version":2' "$r"
while [ "$(date -u +%s)" -lt $exp ]; do sleep 0.2; done
r=$(authz TMP1 view R1 C1)
want "vetting expired at the second it passes" '"decision":"deny".*vetting-expired.*has expired' "$r"

# ------------------------------------------- reference update takes effect
r=$(authz DC1 view R2 C1)
want "DC1 assigned" '"decision":"allow"' "$r"
r=$(post /v1/reference "{\"kind\":\"assign\",\"ts\":\"$(date -u +%FT%TZ)\",\"case\":\"C1\",\"officer\":\"DC1\",\"op\":\"remove\"}")
want "unassign" '^200 .*"version":3' "$r"
r=$(authz DC1 view R2 C1)
want "unassigned on the next decision" '"decision":"(deny|break-glass-available)".*case-not-assigned.*"ref_version":3' "$r"
r=$(post /v1/reference $'{"kind":"person","id":"P9","flags":[]}\nnot json')
want "reference update reports the bad line" '^200 .*"applied":1,"rejected":\["body:2: malformed JSON' "$r"
r=$(post /v1/reference 'nope')
want "reference update with nothing usable" '^400 ' "$r"

# ------------------------------------------------------------- break-glass
r=$(authz PC2 view RP null)
want "break-glass available" '"decision":"break-glass-available"' "$r"
r=$(authz PC2 view RP null ',"break_glass":{"justification":"Threat to life: missing child, address check"}')
want "break-glass allow" '^200 .*"decision":"allow".*bg-view-operational.*"obligations":\["review within 72 hours","supervisor notified"\],"break_glass":true' "$r"
bgid=$(printf '%s' "$r" | sed -E 's/.*"ledger_index":([0-9]+).*/\1/')
r=$(get /v1/breakglass)
want "break-glass listed" "\"id\":$bgid,.*\"officer\":\"PC2\".*missing child" "$r"
r=$(post "/v1/breakglass/$bgid/review" '{"reviewer":"SUP1","outcome":"justified"}')
want "a system token may not review" '^403 ' "$r"
r=$(post "/v1/breakglass/$bgid/review" '{"reviewer":"PC2","outcome":"justified"}' "$tok_rev")
want "no self-review" '^403 .*own break-glass' "$r"
r=$(post "/v1/breakglass/$bgid/review" '{"reviewer":"SUP1","outcome":"justified","note":"call log confirms"}' "$tok_rev")
want "review closes it" "^200 \\{\"closed\":$bgid,\"ledger_index\":[0-9]+" "$r"
r=$(get /v1/breakglass)
want "nothing open" '^200 \{"open":\[\]\}' "$r"

# ------------------------------------------------------- callers and input
code=$(curl -s -o "$tmp/o" -w '%{http_code}' -X POST --data-binary '{}' "http://127.0.0.1:$port/v1/authorize")
[ "$code" = 401 ] && ok || bad "no token: $code"
r=$(post /v1/authorize '{}' wrong-token)
want "unknown token" '^401 .*unauthorised' "$r"
r=$(post /v1/authorize '{"officer": "PC1", "action": ')
want "malformed JSON" '^400 .*malformed JSON' "$r"
head -c 70000 /dev/zero | tr '\0' 'x' >"$tmp/big"
code=$(curl -s -o "$tmp/o" -w '%{http_code}' -H "Authorization: Bearer $tok_sys" --data-binary @"$tmp/big" "http://127.0.0.1:$port/v1/authorize")
[ "$code" = 413 ] && ok || bad "big body: $code"
r=$(authz PC1 view R1 C1)
want "still serving after bad input" '^200 .*"decision":"allow"' "$r"
r=$(get /metrics)
want "metrics" '^200 .*custos_gateway_decisions_total\{outcome="allow"\} [1-9].*custos_gateway_ledger_entries [1-9].*custos_gateway_decision_seconds_bucket.*custos_http_connections_total [1-9].*custos_http_requests_suspended 0 .*custos_http_requests_resumed_total [1-9].*custos_http_resume_wakeups_total [1-9][0-9]* # EOF $' "$(echo "$r" | tr '\n' ' ')"
r=$(get /metrics wrong)
want "metrics need a token" '^401' "$r"

# --------------------------------------------------- audit unavailable
# A second daemon whose files may not grow past 64 KiB (SIGXFSZ ignored, so
# writes fail with EFBIG): the ledger stops persisting and every decision
# from then on must be a deny saying so.
start small "trap '' XFSZ; ulimit -f 64;"
seen=""
for i in $(seq 3000); do
  r=$(authz PC1 view R1 C1)
  case $r in *"audit unavailable"*) seen=$r; break;; esac
done
want "audit unavailable" '^503 .*"decision":"deny".*"reasons":\["audit unavailable"\].*"ledger_index":null' "$seen"
r=$(authz PC1 view R1 C1)
want "stays closed" '^503 .*"decision":"deny".*audit unavailable' "$r"
r=$(get /metrics)
want "audit failures counted" 'custos_gateway_audit_failures_total [1-9]' "$(echo "$r" | tr '\n' ' ')"

kill -TERM "${pids[0]}"
wait "${pids[0]}" && ok || bad "custosd exit after SIGTERM"
finish
