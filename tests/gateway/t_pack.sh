#!/usr/bin/env bash
# The police policy pack (policies/) checked with the reference Cedar engine
# (@cedar-policy/cedar-wasm, pinned in tests/gateway/pack/package-lock.json):
# parse, annotations, strict validation against the schema, and a table of
# requests with the decisions and deciding policies expected.
set -euo pipefail
cd "$(dirname "$0")/pack"
command -v node >/dev/null || { echo "node is not installed (scripts/install-deps.sh)"; exit 1; }
if [ ! -d node_modules/@cedar-policy/cedar-wasm ]; then
  npm ci --silent --no-audit --no-fund >/dev/null
fi
node check_pack.js
