#!/usr/bin/env bash
# Run every benchmark in bench/ (release build) and print their figures.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
for b in build/bench_*; do
  [ -x "$b" ] || continue
  echo "== $(basename "$b")"
  "$b" "$@"
done
