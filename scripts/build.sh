#!/usr/bin/env bash
# Build custos: build/ (release, warnings as errors) and, with "all",
# build-asan/ (ASan+UBSan) and build-fuzz/ (clang, libFuzzer).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs"
if [ "${1:-}" = all ]; then
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCUSTOS_SANITIZE=ON >/dev/null
  cmake --build build-asan -j "$jobs"
  CC=clang cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCUSTOS_FUZZ=ON >/dev/null
  cmake --build build-fuzz -j "$jobs"
fi
