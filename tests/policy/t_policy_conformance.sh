#!/usr/bin/env bash
# `custos policy test` over every Cedar integration test in the shared
# conformance folder, run from conformance/cedar as upstream does.  All
# requests must pass, and the number run must equal the number of requests
# in the files (counted here independently: one "decision" per request).
set -euo pipefail
bin=$(cd "${CU_BIN_DIR:-build}" && pwd)
shared=${CU_SHARED:-../shared}
cd "$shared/conformance/cedar"
mapfile -t files < <(find tests -name '*.json' | sort)
[ ${#files[@]} -gt 0 ] || { echo "no Cedar test files found"; exit 1; }
want=$(cat "${files[@]}" | grep -o '"decision"' | wc -l)
out=$("$bin/custos" policy test "${files[@]}") || { echo "$out"; exit 1; }
last=$(echo "$out" | tail -1)
[ "$last" = "$want passed, 0 failed" ] || { echo "$out"; echo "want $want passed, 0 failed; got: $last"; exit 1; }
echo "conformance: ${#files[@]} files, $want requests, all agree with Cedar"
echo "1 passed, 0 failed"
