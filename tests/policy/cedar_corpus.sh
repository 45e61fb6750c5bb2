#!/usr/bin/env bash
# The public Cedar corpus (cedar-policy/cedar-integration-tests,
# corpus-tests.tar.gz: about 7,800 generated test files, 62,000 requests)
# through `custos policy test`, by hand: the corpus is not in the shared
# conformance folder and nothing here downloads it.  Extract the tarball
# yourself, then:
#   tests/policy/cedar_corpus.sh DIR        (DIR holds corpus-tests/)
# Prints each failing request, the kinds of failure counted, and the total
# `N passed, N failed` over all files; exits 1 if any request failed.
set -euo pipefail
bin=$(cd "${CU_BIN_DIR:-$(dirname "$0")/../../build}" && pwd)
dir=${1:?usage: cedar_corpus.sh DIR (the directory that holds corpus-tests/)}
cd "$dir"
[ -d corpus-tests ] || { echo "no corpus-tests/ in $dir"; exit 2; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# the files name their policies and entities relative to DIR, as upstream
find corpus-tests -maxdepth 1 -name '*.json' ! -name '*.entities.json' -print0 |
  xargs -0 -n 500 "$bin/custos" policy test >"$out" 2>&1 || true
grep -v -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | head -50 || true
awk '/^[0-9]+ passed, [0-9]+ failed$/ {p += $1; f += $3} END {printf "%d passed, %d failed\n", p, f; exit f > 0}' "$out"
