#!/usr/bin/env bash
# The console's API over HTTP against a real custosd (curl): login, wrong
# password, lock-out, CSRF and Origin rejection, roles and separation of
# duties, session expiry, JSON errors, and every console request appended to
# the ledger (read back with `custos console audit`).
. "$(dirname "$0")/../tlib.sh"

bash "$src/tests/console/make_fixture.sh" "$tmp/fx"
# --legacy: these tests are written against the protected-person detector's alerts (one per access)
"$bin/custos" replay --legacy --reference "$tmp/fx/reference.jsonl" --events "$tmp/fx/events.jsonl" \
  --alerts "$tmp/alerts.jsonl" --data "$tmp/data" 2>/dev/null
cp "$src/docs/defects.jsonl" "$tmp/data/defects.jsonl"   # evidence bundles quote it
for u in alice:investigator bob:supervisor carol:supervisor; do
  echo "${u%%:*}-password" | "$bin/custos" account add --data "$tmp/data" --user "${u%%:*}" --role "${u#*:}" --kdf-min >/dev/null
done
# a bad role and a short password are refused
if echo "long-enough-pw" | "$bin/custos" account add --data "$tmp/data" --user x --role root --kdf-min 2>/dev/null; then bad "role root accepted"; else ok; fi
if echo "short" | "$bin/custos" account add --data "$tmp/data" --user y --role auditor --kdf-min 2>/dev/null; then bad "short password accepted"; else ok; fi

start() {
  rm -f "$tmp/port"
  "$bin/custosd" --port 0 --port-file "$tmp/port" --data "$tmp/data" --reference "$tmp/fx/reference.jsonl" --insecure-cookies "$@" 2>>"$tmp/log" &
  pid=$!
  for _ in $(seq 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
  [ -s "$tmp/port" ] || die "custosd did not start"
  U="http://127.0.0.1:$(cat "$tmp/port")"
}
stop() { kill -TERM $pid; wait $pid || true; pid=; }
# every console API request made is counted in $tmp/count (calls run in subshells)
: >"$tmp/count"
# call JAR METHOD PATH [BODY] [extra curl args...]: prints "STATUS BODY"
call() {
  local jar=$1 method=$2 path=$3 body=${4:-}; shift 3; [ $# -gt 0 ] && shift
  echo >>"$tmp/count"
  local args=(-s -o "$tmp/out" -w '%{http_code}' -b "$tmp/$jar" -c "$tmp/$jar" -X "$method")
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  local code; code=$(curl "${args[@]}" "$@" "$U$path")
  echo "$code $(cat "$tmp/out")"
}
csrf() { call "$1" GET /v1/console/session | sed -E 's/.*"csrf":"([^"]*)".*/\1/'; }

start
r=$(call a POST /v1/console/login '{"user":"alice","password":"alice-password"}' -H "Origin: $U")
same "login" 200 "${r%% *}"
grep -q 'custos_session' "$tmp/a" && ok || bad "no session cookie kept"
grep -q '#HttpOnly_' "$tmp/a" && ok || bad "the session cookie is not HttpOnly"
r=$(call x POST /v1/console/login '{"user":"alice","password":"wrong-password"}' -H "Origin: $U")
same "wrong password" 401 "${r%% *}"
echo "$r" | grep -q '"error":"wrong user name or password"' && ok || bad "wrong password answer: $r"
r=$(call x GET /v1/console/alerts)
same "no session" 401 "${r%% *}"
# lock-out: five failures, then even the right password is refused
for i in 1 2 3 4 5; do call c POST /v1/console/login '{"user":"carol","password":"nope-nope"}' -H "Origin: $U" >/dev/null; done
r=$(call c POST /v1/console/login '{"user":"carol","password":"carol-password"}' -H "Origin: $U")
same "locked out" 429 "${r%% *}"
# CSRF and Origin
tok=$(csrf a)
r=$(call a POST /v1/console/alerts/A3/state '{"state":"escalated"}' -H "Origin: $U")
same "no CSRF token" 403 "${r%% *}"
r=$(call a POST /v1/console/alerts/A3/state '{"state":"escalated"}' -H "Origin: https://evil.example" -H "X-CSRF-Token: $tok")
same "foreign Origin" 403 "${r%% *}"
r=$(call a POST /v1/console/alerts/A3/state '{"state":"escalated"}' -H "Origin: $U" -H "X-CSRF-Token: $tok")
same "escalate with token" 200 "${r%% *}"
# views
r=$(call a GET '/v1/console/persons/P9001/accesses')
same "person" 200 "${r%% *}"
echo "$r" | grep -q '"unexplained":9' && ok || bad "P9001 accesses: ${r:0:200}"
echo "$r" | grep -q 'MP1000\|MP2000' && bad "an officer id leaked: ${r:0:300}" || ok
r=$(call a GET '/v1/console/alerts?state=open&sort=raised_at&order=asc&limit=5')
same "alerts" 200 "${r%% *}"
r=$(call a GET '/v1/console/alerts?limit=abc')
same "bad limit" 400 "${r%% *}"
echo "$r" | grep -q '"error"' && ok || bad "400 is not a JSON error"
# unmasking: alice asks, alice and bob (the asker) cannot approve, carol can (after her lock-out ends: not here)
r=$(call a POST /v1/console/cases '{"title":"night look-ups","alert":"A1"}' -H "Origin: $U" -H "X-CSRF-Token: $tok")
same "new case" 201 "${r%% *}"
pseudo=$(call a GET /v1/console/alerts/A1 | sed -E 's/.*"officers":\[\{"id":"([^"]*)".*/\1/')
r=$(call a POST /v1/console/cases/1/unmask "{\"officer\":\"$pseudo\",\"reason\":\"three nights of look-ups\"}" -H "Origin: $U" -H "X-CSRF-Token: $tok")
same "unmask request" 201 "${r%% *}"
r=$(call a POST /v1/console/unmask/1/approve '{}' -H "Origin: $U" -H "X-CSRF-Token: $tok")
same "investigator approves" 403 "${r%% *}"
call b POST /v1/console/login '{"user":"bob","password":"bob-password"}' -H "Origin: $U" >/dev/null
btok=$(csrf b)
r=$(call b POST /v1/console/cases/1/unmask "{\"officer\":\"$pseudo\",\"reason\":\"bob asks as well, for his own\"}" -H "Origin: $U" -H "X-CSRF-Token: $btok")
same "bob's request" 201 "${r%% *}"
r=$(call b POST /v1/console/unmask/2/approve '{}' -H "Origin: $U" -H "X-CSRF-Token: $btok")
same "own approval" 403 "${r%% *}"
r=$(call b POST /v1/console/unmask/1/approve '{}' -H "Origin: $U" -H "X-CSRF-Token: $btok")
same "bob approves alice's request" 200 "${r%% *}"
echo "$r" | grep -q '"officer":"MP10007"' && ok || bad "approval answer: $r"
# evidence export of the case (alert A1's events): a bundle that verifies
# offline with the log's verifier key; a case without alerts has nothing
r=$(call b POST /v1/console/cases/1/export '{}' -H "Origin: $U" -H "X-CSRF-Token: $btok")
same "export" 201 "${r%% *}"
loc=$(echo "$r" | sed -E 's/.*"location":"([^"]*)".*/\1/')
"$bin/custos" ledger vkey "$tmp/data/ledger" >"$tmp/log.vkey"
if [ -f "$loc" ] && "$bin/custos" evidence verify "$loc" --pubkey "$tmp/log.vkey" >"$tmp/verify.txt"; then ok; else
  bad "the exported bundle does not verify: $r $(cat "$tmp/verify.txt" 2>/dev/null)"; fi
grep -q '^ok .*entries' "$tmp/verify.txt" && ok || bad "verify output: $(cat "$tmp/verify.txt")"
r=$(call b POST /v1/console/cases '{"title":"empty"}' -H "Origin: $U" -H "X-CSRF-Token: $btok")
r=$(call b POST /v1/console/cases/2/export '{}' -H "Origin: $U" -H "X-CSRF-Token: $btok")
same "export of a case without alerts" 409 "${r%% *}"
# static pages are served but not audited
code=$(curl -s -o /dev/null -w '%{http_code}' "$U/console/")
if [ -f "$bin/web/index.html" ]; then same "index page" 200 "$code"; fi
code=$(curl -s -o /dev/null -w '%{http_code}' "$U/console/assets/..%2Fconsole.key")
same "no escape from the assets" 404 "$code"
stop
# every console request is in the ledger, in order, as a console record
"$bin/custos" console audit --data "$tmp/data" >"$tmp/audit.jsonl"
same "audit records" "$(wc -l <"$tmp/count" | tr -d ' ')" "$(wc -l <"$tmp/audit.jsonl" | tr -d ' ')"
grep -q '"route":"/v1/console/persons/P9001/accesses"' "$tmp/audit.jsonl" && ok || bad "person look-up not audited"
grep -q '"query":"state=open&sort=raised_at&order=asc&limit=5"' "$tmp/audit.jsonl" && ok || bad "query not audited"
grep -q '"action":"unmask request 1 approved' "$tmp/audit.jsonl" && ok || bad "approval not audited"
grep -q '"user":"carol".*"status":429' "$tmp/audit.jsonl" && ok || bad "lock-out not audited"
# one ledger: the replayed events and the console's records side by side, whole
"$bin/custos" ledger verify "$tmp/data/ledger" --pubkey "$tmp/log.vkey" >/dev/null && ok || bad "ledger verify"
[ ! -e "$tmp/data/console-ledger" ] && ok || bad "a second ledger was made"
# sessions end after the idle time
start --session-idle 1
call a GET /v1/console/session >/dev/null
sleep 2.2
r=$(call a GET /v1/console/session)
same "idle session" 401 "${r%% *}"
stop
finish
