#!/usr/bin/env bash
# The quick start: install what is missing, build, run the demo.
#   bash scripts/demo.sh [custos demo options...]   (e.g. --officers 500 --days 30 --port 8340)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja >/dev/null
ninja -C build custos custosd
exec build/custos demo --defects docs/defects.jsonl "$@"
