#!/usr/bin/env bash
# Differential test against the reference engine: tests/policy/diff/gen.mjs
# writes seeded random policies, entities and requests answered by
# @cedar-policy/cedar-wasm (npm) as Cedar test files; `custos policy test`
# must agree on every decision, reason and erroring policy.
set -euo pipefail
src=$(pwd)
bin=$(cd "${CU_BIN_DIR:-build}" && pwd)
dir=$src/tests/policy/diff
seed=${CU_POLICY_DIFF_SEED:-20240305}
files=${CU_POLICY_DIFF_FILES:-150}
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "policy diff: node and npm are not installed (scripts/install-deps.sh adds them)"; exit 1
fi
# the release and sanitizer runs may start together: one installs, under a lock
(
  flock 9
  if [ ! -d "$dir/node_modules/@cedar-policy/cedar-wasm" ]; then
    cd "$dir" && npm ci --no-audit --no-fund --loglevel=error
  fi
) 9>"${TMPDIR:-/tmp}/custos-policy-diff-npm.lock" || {
  echo "policy diff: cannot install @cedar-policy/cedar-wasm from npm"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$dir" && node gen.mjs "$tmp" "$seed" "$files" 20)
cd "$tmp"
out=$("$bin/custos" policy test t*.json) || { echo "$out" | tail -40; echo "disagreements with cedar-wasm (seed $seed)"; exit 1; }
echo "$out" | tail -1
