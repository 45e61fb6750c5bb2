#!/usr/bin/env bash
# custos replay as an outside evaluation runs it: exit 0 and the alerts on
# good input; non-zero with file:line on bad input (the events before the
# bad line still replayed into --data); the temporary data directory is
# removed; usage errors exit 2.
. "$(dirname "$0")/../tlib.sh"
d="$src/tests/pipeline/data"
export TMPDIR="$tmp/t"
mkdir -p "$TMPDIR"
# --legacy: the one-alert-per-access protected-person detector these counts
# were written for (the default is the budgeted misuse detector, docs/detect.md)
"$bin/custos" replay --legacy --reference "$d/ref.jsonl" --events "$d/events.jsonl" --alerts "$tmp/a.jsonl" 2>"$tmp/err" \
  || die "replay: $(cat "$tmp/err")"
[ "$(wc -l < "$tmp/a.jsonl")" = 4 ] || die "want 4 alerts"
[ -z "$(ls -A "$TMPDIR")" ] || die "temporary data directory left behind: $(ls "$TMPDIR")"
# bad event line 3
{ head -n 2 "$d/events.jsonl"; echo '{"kind":"access","id":"BAD"}'; tail -n +3 "$d/events.jsonl"; } > "$tmp/bad.jsonl"
if "$bin/custos" replay --legacy --reference "$d/ref.jsonl" --events "$tmp/bad.jsonl" --alerts "$tmp/b.jsonl" --data "$tmp/data" 2>"$tmp/err"; then
  die "bad events accepted"
fi
grep -q "bad.jsonl:3: missing required field" "$tmp/err" || die "message: $(cat "$tmp/err")"
[ "$(wc -l < "$tmp/b.jsonl")" = 1 ] || die "the alert on E1 (before the bad line) should be written"
# bad reference line
{ head -n 3 "$d/ref.jsonl"; echo '{"kind":"case","id":"C9","opened":"never"}'; } > "$tmp/badref.jsonl"
if "$bin/custos" replay --reference "$tmp/badref.jsonl" --events "$d/events.jsonl" --alerts "$tmp/c.jsonl" 2>"$tmp/err"; then
  die "bad reference accepted"
fi
grep -q "badref.jsonl:4:" "$tmp/err" || die "message: $(cat "$tmp/err")"
# out of order
{ sed -n 2p "$d/events.jsonl"; sed -n 1p "$d/events.jsonl"; } > "$tmp/order.jsonl"
if "$bin/custos" replay --reference "$d/ref.jsonl" --events "$tmp/order.jsonl" --alerts "$tmp/o.jsonl" 2>"$tmp/err"; then
  die "out-of-order events accepted"
fi
grep -q "order.jsonl:2: event E1 .* earlier" "$tmp/err" || die "message: $(cat "$tmp/err")"
[ -z "$(ls -A "$TMPDIR")" ] || die "temporary data directory left behind after an error"
set +e
"$bin/custos" replay --events x 2>/dev/null; rc=$?
set -e
[ $rc = 2 ] || die "usage error should exit 2, got $rc"
ok
finish
