#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds the release and the
# sanitizer builds, runs every test in both, then a short libFuzzer smoke run
# of every parser.  Ends with one line "N passed, N failed" (ctest tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh all
jobs=$(nproc)
fail=0
total_pass=0
total_fail=0
run() {  # run DIR LABEL [ctest args]
  local dir=$1 label=$2; shift 2
  echo "== $label"
  local log; log=$(mktemp)
  ( cd "$dir" && CU_BIN_DIR="$PWD" ctest --output-on-failure -j "$jobs" "$@" ) 2>&1 | tee "$log" || fail=1
  local line; line=$(grep -E 'tests passed, [0-9]+ tests failed out of' "$log" | tail -1 || true)
  local n f
  n=$(echo "$line" | sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\2/')
  f=$(echo "$line" | sed -E 's/.* ([0-9]+) tests failed out of.*/\1/')
  if [ -n "$line" ]; then total_pass=$((total_pass + n - f)); total_fail=$((total_fail + f));
  elif ! grep -q 'No tests were found' "$log"; then fail=1; fi
  rm -f "$log"
}
run build "release build"
run build-asan "ASan+UBSan build"
run build-fuzz "fuzz smoke (libFuzzer)" -R '^smoke_'
bash tests/layers.sh || fail=1
echo "tests: $total_pass passed, $total_fail failed"
exit $fail
