#!/usr/bin/env bash
# docs/openapi.yaml describes exactly the routes custosd serves: the paths
# and methods under `paths:` equal `custosd --list-routes` (which registers
# every route, configured or not), both ways.
set -euo pipefail
bin=${CU_BIN_DIR:-build}
src=${CU_SOURCE_DIR:-.}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin/custosd" --list-routes | sort -u >"$tmp/served"
# "  /path:" opens a path, "    get:" names a method; paths: ends at the next top-level key
awk '
  /^paths:/ { inpaths = 1; next }
  /^[^ #]/ { inpaths = 0 }
  inpaths && /^  [^ ].*:[ ]*$/ { p = $0; sub(/^  /, "", p); sub(/:[ ]*$/, "", p); gsub(/"/, "", p); next }
  inpaths && /^    (get|put|post|delete|patch|head|options):/ { m = $1; sub(/:$/, "", m); print toupper(m) " " p }
' "$src/docs/openapi.yaml" | sort -u >"$tmp/documented"
[ -s "$tmp/served" ] || { echo "custosd --list-routes printed nothing"; exit 1; }
[ -s "$tmp/documented" ] || { echo "no paths found in docs/openapi.yaml"; exit 1; }
fail=0
while read -r r; do echo "served but not documented: $r"; fail=1; done < <(comm -23 "$tmp/served" "$tmp/documented")
while read -r r; do echo "documented but not served: $r"; fail=1; done < <(comm -13 "$tmp/served" "$tmp/documented")
if grep -q '^\* ' "$tmp/served"; then echo "a route without a method: the table must name each method"; fail=1; fi
n=$(wc -l <"$tmp/served")
if [ $fail = 0 ]; then echo "$n routes served and documented"; echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit $fail
