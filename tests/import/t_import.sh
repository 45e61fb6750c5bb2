#!/usr/bin/env bash
# custos import on each format, good and broken, with --on-error stop and
# skip: a bad line is named by file and line; with stop the lines before it
# are written whole and nothing after; with skip the rest goes through; the
# output replays.
. "$(dirname "$0")/../tlib.sh"
d="$src/tests/import/data"
for spec in csv:audit.csv:audit.map syslog:audit.syslog:syslog.map cef:audit.cef:cef.map; do
  IFS=: read -r fmt file map <<< "$spec"
  "$bin/custos" import --format "$fmt" --map "$d/$map" --out "$tmp/$fmt.jsonl" "$d/$file" 2>"$tmp/err" \
    || die "$fmt: $(cat "$tmp/err")"
  n=$(grep -c '"kind":"access"' "$tmp/$fmt.jsonl")
  want=$(grep -cv '^EventID' "$d/$file")
  [ "$n" = "$want" ] || die "$fmt: $n events, want $want"
  # a broken copy: line 2 malformed
  { head -n 1 "$d/$file"; echo 'this is not a valid line "'; tail -n +2 "$d/$file"; } > "$tmp/broken.$fmt"
  if "$bin/custos" import --format "$fmt" --map "$d/$map" --out "$tmp/stop.jsonl" "$tmp/broken.$fmt" 2>"$tmp/err"; then
    die "$fmt: broken input accepted with --on-error stop"
  fi
  grep -q "broken.$fmt:2:" "$tmp/err" || die "$fmt: error does not name line 2: $(cat "$tmp/err")"
  # stop: the lines before are kept, whole
  if [ "$fmt" = csv ]; then before=0; else before=1; fi
  [ "$(wc -l < "$tmp/stop.jsonl")" = $before ] || die "$fmt: stop kept $(wc -l < "$tmp/stop.jsonl") lines, want $before"
  "$bin/custos" import --format "$fmt" --map "$d/$map" --out "$tmp/skip.jsonl" --on-error skip "$tmp/broken.$fmt" 2>"$tmp/err" \
    || die "$fmt: skip failed: $(cat "$tmp/err")"
  grep -q "skipped.*broken.$fmt:2:" "$tmp/err" || die "$fmt: skip did not report line 2: $(cat "$tmp/err")"
  cmp -s "$tmp/skip.jsonl" "$tmp/$fmt.jsonl" || die "$fmt: skip output differs from the clean import"
done
# out of order is an error like a malformed line
{ head -n 1 "$d/audit.csv"; sed -n 3p "$d/audit.csv"; sed -n 2p "$d/audit.csv"; } > "$tmp/order.csv"
if "$bin/custos" import --format csv --map "$d/audit.map" --out "$tmp/o.jsonl" "$tmp/order.csv" 2>"$tmp/err"; then
  die "out-of-order input accepted"
fi
grep -q "order.csv:3: event E1 .* earlier" "$tmp/err" || die "out-of-order message: $(cat "$tmp/err")"
# the imported events replay
ref="$src/tests/pipeline/data/ref.jsonl"
"$bin/custos" replay --reference "$ref" --events "$tmp/csv.jsonl" --alerts "$tmp/alerts.jsonl" 2>"$tmp/err" \
  || die "replay of imported events: $(cat "$tmp/err")"
ok
finish
