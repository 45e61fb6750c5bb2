#!/usr/bin/env bash
# custos's gateway against the reference Cedar engine, on the same requests.
#
# bench_gateway builds the synthetic force (45,000 officers, RECORDS
# records), decides 4096 requests (view, 70% with the right case, 20% none,
# 10% a case the officer is not on) and writes each with the Cedar entities
# it needs and custos's decision.  The same requests then go through
# @cedar-policy/cedar-wasm under Node (the version pinned in
# tests/gateway/pack/package-lock.json), with the policy set preparsed once
# (preparsePolicySet + statefulIsAuthorized) and the gateway's tier logic
# (allow, else ask again as break-glass: break-glass-available when only
# emergency-tier permits allow).  Every decision must agree.
#
# Not like for like in one respect, by design: the reference engine takes its
# entities (officer, record with its parents, case) as JSON on every call,
# while custos holds the reference data resident and builds those entities
# from it in a scratch arena; that difference is the point of the gateway's
# design and is part of the ratio.  Both run on one thread.
#
# Usage (from the source tree, after a build into build/):
#   bench/gateway_vs_cedar_wasm.sh [RECORDS (default 10000000)] [SECONDS for the reference engine (default 10)]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${CU_BIN_DIR:-build}
RECORDS=${1:-10000000}
SECS=${2:-10}
PACK=tests/gateway/pack
command -v node >/dev/null || { echo "node is not installed (scripts/install-deps.sh)"; exit 1; }
[ -d "$PACK/node_modules/@cedar-policy/cedar-wasm" ] || (cd "$PACK" && npm ci --silent --no-audit --no-fund >/dev/null)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== custos (in process, one thread, resident reference data)"
"$BIN/bench_gateway" "$RECORDS" 2000000 --requests "$tmp/req.jsonl" | tee "$tmp/custos.txt"

echo "== @cedar-policy/cedar-wasm under Node (one thread, entities as JSON on every call)"
node - "$tmp/req.jsonl" "$SECS" "$PWD/$PACK/pack.js" <<'EOF' | tee "$tmp/wasm.txt"
'use strict';
const fs = require('fs');
const [file, secs, packjs] = process.argv.slice(2);
const { cedar, loadPack } = require(packjs);
const pack = loadPack();
const reqs = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const pre = cedar.preparsePolicySet('pack', { staticPolicies: pack.policies });
if (pre.type !== 'success') throw new Error('preparse: ' + JSON.stringify(pre.errors));
const emergency = new Set(pack.ids.filter((id) => pack.annotations[id].tier === 'emergency'));

function ask(r, bg) {
  const a = cedar.statefulIsAuthorized({
    principal: r.principal, action: r.action, resource: r.resource,
    context: Object.assign({}, r.context, { break_glass: bg }),
    preparsedPolicySetId: 'pack', entities: r.entities,
  });
  if (a.type !== 'success') throw new Error(JSON.stringify(a.errors));
  return a.response;
}
// The gateway's decision, as cu_gateway_decide makes it (no justification).
function decide(r) {
  const a1 = ask(r, false);
  if (a1.decision === 'allow' && a1.diagnostics.errors.length === 0) return 'allow';
  if (a1.decision === 'allow') return 'deny';
  const a2 = ask(r, true);
  const ids = a2.diagnostics.reason;
  if (a2.decision === 'allow' && a2.diagnostics.errors.length === 0 && ids.length && ids.every((i) => emergency.has(i)))
    return 'break-glass-available';
  return 'deny';
}

let mismatch = 0;
for (const r of reqs) {
  const d = decide(r);
  if (d !== r.decision) {
    if (mismatch < 5) console.log(`MISMATCH ${JSON.stringify(r.body)}: cedar-wasm ${d}, custos ${r.decision}`);
    mismatch++;
  }
}
const lat = [];
const t0 = process.hrtime.bigint();
const end = t0 + BigInt(Math.round(Number(secs) * 1e9));
let n = 0;
for (;;) {
  const a = process.hrtime.bigint();
  decide(reqs[n % reqs.length]);
  const b = process.hrtime.bigint();
  lat.push(Number(b - a));
  n++;
  if (b >= end) break;
}
const total = Number(process.hrtime.bigint() - t0) / 1e9;
lat.sort((x, y) => x - y);
const pct = (p) => (lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] / 1e3).toFixed(1);
console.log(`requests: ${reqs.length}, decisions that differ from custos: ${mismatch}`);
console.log(`decisions: ${n} in ${total.toFixed(3)} s = ${Math.round(n / total)} decisions/s (one thread)`);
console.log(`latency: p50 ${pct(0.5)} us, p99 ${pct(0.99)} us, p99.9 ${pct(0.999)} us`);
process.exit(mismatch ? 1 : 0);
EOF

c=$(sed -n 's/^decisions: .* = \([0-9]*\) decisions\/s.*/\1/p' "$tmp/custos.txt")
w=$(sed -n 's/^decisions: .* = \([0-9]*\) decisions\/s.*/\1/p' "$tmp/wasm.txt")
echo "== ratio: custos $c decisions/s / cedar-wasm $w decisions/s = $(awk -v c="$c" -v w="$w" 'BEGIN { printf "%.0fx", c / w }')"
echo "   (the reference engine gets its entities as JSON on every call; custos holds them resident)"
