#!/usr/bin/env bash
# custos demo at a small size: the printed address answers /healthz while
# the demo runs, the console page loads and both printed logins (investigator,
# supervisor) log in, the gateway answers with the printed token, the data
# directory's one ledger verifies (custos ledger verify), the sample evidence
# bundle verifies with the CLI and a changed byte makes it fail.
set -euo pipefail
BIN=${CU_BIN_DIR:-build}
T=$(mktemp -d)
cleanup() { [ -n "${DEMO_PID:-}" ] && kill "$DEMO_PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; cat "$T/out" 2>/dev/null || true; exit 1; }

"$BIN/custos" demo --dir "$T/demo" --officers 40 --days 3 --port 0 --defects docs/defects.jsonl --policies policies >"$T/out" 2>"$T/err" &
DEMO_PID=$!
for _ in $(seq 1 600); do
  grep -q "custos demo is ready" "$T/out" && break
  kill -0 "$DEMO_PID" 2>/dev/null || fail "demo exited early: $(cat "$T/err")"
  sleep 0.1
done
grep -q "custos demo is ready" "$T/out" || fail "demo not ready"
addr=$(sed -n 's/^  address: *\(http:[^ ]*\).*/\1/p' "$T/out")
[ -n "$addr" ] || fail "no address printed"
body=$(curl -fsS "${addr}healthz") || fail "healthz did not answer at $addr"
echo "$body" | grep -q '"status":"ok"' || fail "healthz said $body"
grep -q "missing" "$T/out" && fail "the demo still names a missing step"
# the console and both printed logins work (the console's login, as a browser posts it)
console=$(sed -n 's/^  console: *\(http:[^ ]*\).*/\1/p' "$T/out")
[ -n "$console" ] || fail "no console address printed"
code=$(curl -s -o /dev/null -w '%{http_code}' "$console") || true
[ "$code" = 200 ] || fail "the console page answered $code at $console"
inv=$(sed -n 's/^  log in: *investigator \/ \([^ ]*\).*/\1/p' "$T/out")
sup=$(sed -n 's/^ *supervisor *\/ \([^ ]*\).*/\1/p' "$T/out")
[ -n "$inv" ] && [ -n "$sup" ] || fail "no logins printed"
login() { curl -s -o "$T/login" -w '%{http_code}' -H "Origin: ${addr%/}" -H 'Content-Type: application/json' \
  --data-binary "{\"user\":\"$1\",\"password\":\"$2\"}" "${addr}v1/console/login"; }
[ "$(login investigator "$inv")" = 200 ] || fail "investigator login: $(cat "$T/login")"
grep -q '"role":"investigator"' "$T/login" || fail "investigator login answer: $(cat "$T/login")"
[ "$(login supervisor "$sup")" = 200 ] || fail "supervisor login: $(cat "$T/login")"
grep -q '"role":"supervisor"' "$T/login" || fail "supervisor login answer: $(cat "$T/login")"
[ "$(login investigator "not-$inv")" = 401 ] || fail "a wrong password was let in"
# the gateway answers with the printed token; an allowed look-up is an access event (GW-1)
tok=$(sed -n "s/.*Authorization: Bearer \([^']*\)'.*/\1/p" "$T/out")
[ -n "$tok" ] || fail "no gateway token printed"
# (officers whose vetting has lapsed by today are denied: the first allowed search is taken)
allowed=
for off in $(grep '"kind":"officer"' "$T/demo/force/reference.jsonl" | head -20 | sed -E 's/.*"id":"([^"]*)".*/\1/'); do
  r=$(curl -s -H "Authorization: Bearer $tok" --data-binary "{\"officer\":\"$off\",\"action\":\"search\",\"system\":\"PNC\",\"purpose\":\"investigation\"}" "${addr}v1/authorize")
  echo "$r" | grep -q '"decision"' || fail "gateway: $r"
  if echo "$r" | grep -q '"decision":"allow"'; then allowed=$off; break; fi
done
[ -n "$allowed" ] || fail "no search by the first 20 officers was allowed"
kill -TERM "$DEMO_PID"; wait "$DEMO_PID" || fail "demo did not stop cleanly"; DEMO_PID=
"$BIN/custos" ledger cat "$T/demo/data/ledger" | grep -aq "GW-1.*$allowed" || fail "the allowed look-up is not an access event in the ledger"

"$BIN/custos" ledger verify "$T/demo/data/ledger" --pubkey "$T/demo/log.vkey" || fail "ledger verify"
b=$(ls "$T"/demo/evidence-*.tar | head -1)
[ -f "$b" ] || fail "no sample bundle"
"$BIN/custos" evidence verify "$b" --pubkey "$T/demo/log.vkey" >"$T/v" || fail "bundle does not verify"
[ "$(grep -c '^ok ' "$T/v")" = 16 ] || fail "want 16 ok lines: $(cat "$T/v")"
# a changed byte in the report (the last member's data) must be named
cp "$b" "$T/bad.tar"
python3 - "$T/bad.tar" <<'PY'
import sys, tarfile
p = sys.argv[1]
with tarfile.open(p) as t:
    off = [m for m in t.getmembers() if m.name == "report.pdf"][0].offset_data
with open(p, "r+b") as f:
    f.seek(off + 100); c = f.read(1); f.seek(off + 100); f.write(bytes([c[0] ^ 1]))
PY
if "$BIN/custos" evidence verify "$T/bad.tar" --pubkey "$T/demo/log.vkey" >"$T/v2"; then fail "tampered bundle verified"; fi
grep -q "^FAIL  member-hashes" "$T/v2" || fail "wrong failure: $(cat "$T/v2")"
# a second run reuses the demo and can exit by itself once ready
"$BIN/custos" demo --dir "$T/demo" --port 0 --exit-after-ready >"$T/out2" 2>/dev/null || fail "second run"
grep -q "reusing it" "$T/out2" || fail "second run did not reuse the data"
grep -q "investigator / $inv " "$T/out2" || fail "second run did not print the same login"
echo "t_demo: ok"
