#!/usr/bin/env bash
# The investigator console in a real browser: Debian's Chromium driven by
# playwright-core (tests/console/ui_test.cjs) against a real custosd whose
# data directory was filled by `custos replay` from a small fixture.
# Screenshots are kept in $CU_BIN_DIR/console-screenshots/.
# Skips (exit 0, printing SKIPPED) only when chromium is not installed.
set -euo pipefail
bin=${CU_BIN_DIR:-build}
src=${CU_SOURCE_DIR:-.}
if [ ! -x /usr/bin/chromium ]; then
  echo "SKIPPED: /usr/bin/chromium is not installed (apt-get install chromium)"
  exit 0
fi
command -v node >/dev/null || { echo "node is missing (scripts/install-deps.sh)"; exit 1; }
[ -d "$src/web/node_modules/playwright-core" ] || { echo "web/node_modules is missing: build first (npm ci runs in the build)"; exit 1; }
[ -f "$bin/web/app.js" ] || { echo "$bin/web/app.js is missing: the console's assets were not built"; exit 1; }
tmp=$(mktemp -d)
pid=
# wait for the daemon: it publishes a checkpoint into the data directory as it stops
trap '[ -n "$pid" ] && { kill $pid 2>/dev/null; wait $pid 2>/dev/null || true; }; rm -rf "$tmp"' EXIT
bash "$src/tests/console/make_fixture.sh" "$tmp/fx"
# --legacy: the protected-person detector's alerts (one per access), which the test expects
"$bin/custos" replay --legacy --reference "$tmp/fx/reference.jsonl" --events "$tmp/fx/events.jsonl" \
  --alerts "$tmp/alerts.jsonl" --data "$tmp/data" >/dev/null
cp "$src/docs/defects.jsonl" "$tmp/data/defects.jsonl"   # evidence bundles quote it
echo alice-password-1 | "$bin/custos" account add --data "$tmp/data" --user alice --role investigator --kdf-min >/dev/null
echo bob-password-12 | "$bin/custos" account add --data "$tmp/data" --user bob --role supervisor --kdf-min >/dev/null
# the vetting register: the fixture's officers imported, one clearance due to
# expire, one suspended, one review overdue at the report date; a vetting
# unit account linked to its officer id; the CLI's CSV is the figures' oracle
gov_at=2025-06-01
vet() { "$bin/custos" vetting "$@" --data "$tmp/data" --actor FVU9 --now 2025-05-01T00:00:00Z >/dev/null; }
vet import "$tmp/fx/reference.jsonl"
vet grant --officer MP10002 --level NPPV2 --granted 2020-01-01 --expires 2025-07-01
vet suspend --officer MP10003 --reason "inquiry"
vet review open --officer MP10004 --kind aftercare --due 2025-05-20
"$bin/custos" vetting report --data "$tmp/data" --at "$gov_at" --csv >"$tmp/gov.csv"
echo vera-password-1 | "$bin/custos" account add --data "$tmp/data" --user vera --role vetting --officer FVU1 --kdf-min >/dev/null
"$bin/custosd" --port 0 --port-file "$tmp/port" --data "$tmp/data" --reference "$tmp/fx/reference.jsonl" --assets "$bin/web" --insecure-cookies 2>"$tmp/log" &
pid=$!
for _ in $(seq 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
[ -s "$tmp/port" ] || { echo "custosd did not start"; cat "$tmp/log"; exit 1; }
shots="$bin/console-screenshots"
mkdir -p "$shots"
GOV_CSV="$tmp/gov.csv" GOV_AT="$gov_at" URL="http://127.0.0.1:$(cat "$tmp/port")" SHOTS="$shots" CU_SOURCE_DIR="$src" EXPORTED="$tmp/exported" \
  node "$src/tests/console/ui_test.cjs"
echo "screenshots in $shots"
# the bundle the export button wrote verifies offline with the log's key
"$bin/custos" ledger vkey "$tmp/data/ledger" >"$tmp/log.vkey"
bundle=$(cat "$tmp/exported")
"$bin/custos" evidence verify "$bundle" --pubkey "$tmp/log.vkey" >"$tmp/verify" || { cat "$tmp/verify"; echo "FAIL exported bundle does not verify"; exit 1; }
echo "ok   the exported bundle verifies ($(grep -c '^ok ' "$tmp/verify") checks)"
