#!/usr/bin/env bash
# custos policy check / eval / test from the command line: exit codes,
# line:column in errors, the answer JSON with an explanation, and a failing
# expectation reported as a failing request.
. "$(dirname "$0")/../tlib.sh"

cat >"$tmp/good.cedar" <<'P'
// officers may view records of their cases
@id("view-own-case")
@reason("{principal} is not assigned to a case that links {resource}")
permit (principal, action == Action::"view", resource is Record)
when { principal in resource.case_officers };
forbid (principal, action, resource) when { context.training };
P
printf 'permit(principal, action, resource)\nwhen { principal.x + };\n' >"$tmp/bad.cedar"
"$bin/custos" policy check "$tmp/good.cedar" | grep -q "ok, 2 policies" || die "check good"
ok
if "$bin/custos" policy check "$tmp/bad.cedar" 2>"$tmp/err"; then die "check bad exit 0"; fi
grep -q "bad.cedar:2:22:" "$tmp/err" || { cat "$tmp/err"; die "no line:col"; }
ok

cat >"$tmp/ents.json" <<'E'
[{"uid":{"type":"Officer","id":"MP1"},"attrs":{},"parents":[]},
 {"uid":{"type":"Record","id":"R9"},"attrs":{"case_officers":[{"__entity":{"type":"Officer","id":"MP2"}}]},"parents":[]}]
E
cat >"$tmp/req.json" <<'R'
{"principal":{"type":"Officer","id":"MP1"},"action":{"type":"Action","id":"view"},
 "resource":{"type":"Record","id":"R9"},"context":{"training":false}}
R
out=$("$bin/custos" policy eval --policies "$tmp/good.cedar" --entities "$tmp/ents.json" --request "$tmp/req.json")
echo "$out" | grep -q '"decision":"deny"' || die "eval decision: $out"
echo "$out" | grep -q '"policy":"view-own-case"' || die "eval explanation policy: $out"
echo "$out" | grep -q '"condition":"principal in resource.case_officers"' || die "eval condition: $out"
echo "$out" | grep -q 'MP1 is not assigned to a case that links R9' || die "eval reason text: $out"
ok

# a test file whose expectation is wrong: one failing line, exit 1
cat >"$tmp/t.json" <<T
{"policies":"$tmp/good.cedar","entities":"$tmp/ents.json","requests":[
 {"description":"wrongly expects allow","principal":{"type":"Officer","id":"MP1"},"action":{"type":"Action","id":"view"},
  "resource":{"type":"Record","id":"R9"},"context":{"training":false},"decision":"allow","reasons":["view-own-case"],"errors":[]},
 {"description":"training is denied","principal":{"type":"Officer","id":"MP1"},"action":{"type":"Action","id":"view"},
  "resource":{"type":"Record","id":"R9"},"context":{"training":true},"decision":"deny","reason":["policy1"],"errors":[]}]}
T
if "$bin/custos" policy test "$tmp/t.json" >"$tmp/out"; then die "test should fail"; fi
[ "$(tail -1 "$tmp/out")" = "1 passed, 1 failed" ] || { cat "$tmp/out"; die "test counts"; }
grep -q "wrongly expects allow" "$tmp/out" || die "failing request not named"
ok
# a file whose entities cannot be read fails every one of its requests, and
# a file that cannot be read at all counts as one failure
sed "s|$tmp/ents.json|$tmp/bad-ents.json|" "$tmp/t.json" >"$tmp/t2.json"
printf '[{"uid":{"type":"Officer","id":"MP1"},"attrs":{"a":1.5},"parents":[]}]' >"$tmp/bad-ents.json"
if "$bin/custos" policy test "$tmp/t2.json" "$tmp/missing.json" "$tmp/t.json" >"$tmp/out"; then die "test should fail"; fi
[ "$(tail -1 "$tmp/out")" = "1 passed, 4 failed" ] || { cat "$tmp/out"; die "unusable file counts"; }
grep -q "t2.json: malformed input: .*floating point" "$tmp/out" || { cat "$tmp/out"; die "entities error not named"; }
ok
if "$bin/custos" policy eval --policies "$tmp/bad.cedar" --entities "$tmp/ents.json" --request "$tmp/req.json" 2>/dev/null; then
  die "eval with bad policies exit 0"
fi
ok
finish
