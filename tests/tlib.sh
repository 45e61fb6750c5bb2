# Shared pieces of the shell tests (sourced): counters and checks, and a
# temporary directory removed at exit with the daemon in $pid (and those in
# the array pids) killed.
#   ok; bad MESSAGE; want NAME REGEX TEXT; same NAME EXPECTED ACTUAL (equal
#   strings); die MESSAGE (a failure the rest cannot go on from: shows the tail
#   of $tmp/log if there is one, prints the counts and exits 1); finish (prints
#   "N passed, N failed" and sets the exit status)
set -euo pipefail
bin=${CU_BIN_DIR:-build}
src=${CU_SOURCE_DIR:-.}
tmp=$(mktemp -d)
pid=
pids=()
tlib_cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap tlib_cleanup EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
want() { if printf '%s' "$3" | grep -qE -- "$2"; then ok; else bad "$1: no /$2/ in: $3"; fi; }
same() { if [ "$2" = "$3" ]; then ok; else bad "$1: want $2, got $3"; fi; }
die() {
  bad "$*"
  if [ -f "$tmp/log" ]; then tail -20 "$tmp/log"; fi
  echo "$pass passed, $fail failed"
  exit 1
}
finish() { echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; }
