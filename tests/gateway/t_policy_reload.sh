#!/usr/bin/env bash
# Changing the policies of a running gateway: custosd on loopback with a
# copy of the pack; PC1's view of R1 on case C1 is allowed by pack 1.  A
# forbid on R1 is added and custosd gets SIGHUP: the same request is denied
# by pack 2, with the forbid's id and reason.  Then a pack that does not
# parse: refused with its file, line and column in the log, and pack 2
# stays in force (the same request still denied by it).  /metrics counts
# one change in force and one refused; the log holds the pack put in force
# at start and the one of the change, not the refused one.
. "$(dirname "$0")/../tlib.sh"

cp -r "$src/policies" "$tmp/pol"
tok=reload-$RANDOM$RANDOM
printf 'token PNC sha256:%s\n' "$(printf '%s' "$tok" | sha256sum | cut -d' ' -f1)" >"$tmp/gateway.conf"
"$bin/custosd" --port 0 --port-file "$tmp/port" --config "$tmp/gateway.conf" --ledger "$tmp/ledger" \
    --policies "$tmp/pol" --reference "$src/tests/gateway/data/force.jsonl" 2>"$tmp/log" &
pid=$!
for _ in $(seq 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
[ -s "$tmp/port" ] || { echo "custosd did not start"; cat "$tmp/log"; exit 1; }
port=$(cat "$tmp/port")
view() {
  curl -sS -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
      --data-binary '{"officer":"PC1","action":"view","record":"R1","purpose":"investigation","case":"C1"}' \
      "http://127.0.0.1:$port/v1/authorize"
}
metrics() { curl -sS -H "Authorization: Bearer $tok" "http://127.0.0.1:$port/metrics"; }
hup_until() { # hup_until PATTERN: SIGHUP, then wait for PATTERN in the log
  kill -HUP "$pid"
  for _ in $(seq 200); do grep -qE -- "$1" "$tmp/log" && return 0; sleep 0.05; done
  return 1
}

want "pack 1 allows" '"decision":"allow".*"policy_version":1,' "$(view)"

cat >"$tmp/pol/95-test.cedar" <<'P'
@id("test-r1-closed")
@reason("R1 is closed for the test.")
forbid (principal, action, resource is Record) when { resource == Record::"R1" };
P
hup_until "in force as pack 2" && ok || bad "no pack 2 in the log: $(tail -3 "$tmp/log")"
want "pack 2 denies, saying why" '"decision":"deny","policies":\["test-r1-closed"\],"reasons":\["R1 is closed for the test."\].*"policy_version":2,' "$(view)"

printf 'permit (principal, action, resource)\n  when { principal. };\n' >"$tmp/pol/96-bad.cedar"
hup_until "refused, pack 2 stays in force" && ok || bad "no refusal in the log: $(tail -3 "$tmp/log")"
want "the refusal names file, line and column" '96-bad\.cedar:2:[0-9]+' "$(grep 'refused' "$tmp/log")"
want "pack 2 still in force" '"decision":"deny","policies":\["test-r1-closed"\].*"policy_version":2,' "$(view)"
m=$(metrics | tr '\n' ' ')
want "metrics: version 2" 'custos_gateway_policy_version 2 ' "$m"
want "metrics: one in force, one refused" 'result="in_force"\} 1 .*result="refused"\} 1 ' "$m"

# fixed again: pack 3, R1 open again once the test policy goes
rm "$tmp/pol/96-bad.cedar" "$tmp/pol/95-test.cedar"
hup_until "in force as pack 3" && ok || bad "no pack 3 in the log: $(tail -3 "$tmp/log")"
want "pack 3 allows again" '"decision":"allow".*"policy_version":3,' "$(view)"

kill -TERM "$pid"
wait "$pid" || bad "custosd exit status $?"
pid=
# the log: the pack at start and the two put in force, not the refused one
n=$("$bin/custos" ledger cat "$tmp/ledger" 2>/dev/null | grep -a -o -F "$tmp/pol" | wc -l)
want "three packs in the log" '^3$' "$n"
finish
