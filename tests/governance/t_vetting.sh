#!/usr/bin/env bash
# custos vetting end to end: commands over a data directory, refusals with
# clear errors (separation of duties, bad level, bad line named by file and
# line), the CSV report, export/import, every action in the ledger, replay
# over a data directory whose ledger holds governance entries, a reference
# file with vetting lines accepted by replay, and custosd's governance API
# (JSON answers and JSON errors, alerts opening reviews).
. "$(dirname "$0")/../tlib.sh"
v() { "$bin/custos" vetting "$@" --data "$tmp/d"; }
now=(--now 2025-01-10T09:00:00Z)

v grant --actor FVU1 --officer MP10432 --level SC --granted 2020-01-01 --expires 2026-01-01 --reason vetted "${now[@]}" \
  || die "grant"
v staff --actor HR1 --officer MP10432 --unit TP-CW-RESP --manager PS1 "${now[@]}" || die "staff"
v entitle --actor PS1 --officer MP10432 --system PNC --scope "national nominals" --purpose investigation \
  --requires SC "${now[@]}" > "$tmp/out" || die "entitle"
grep -q "entitlement 1 granted" "$tmp/out" || die "entitle output: $(cat "$tmp/out")"

# refusals: own clearance, unknown level, dates out of order
if v grant --actor MP10432 --officer MP10432 --level SC --granted 2020-01-01 --expires 2030-01-01 2>"$tmp/err"; then
  die "self-grant accepted"
fi
grep -q "separation of duties" "$tmp/err" || die "self-grant message: $(cat "$tmp/err")"
if v grant --actor FVU1 --officer MP2 --level TS --granted 2020-01-01 --expires 2030-01-01 2>"$tmp/err"; then
  die "unknown level accepted"
fi
grep -q 'unknown vetting level "TS"' "$tmp/err" || die "level message: $(cat "$tmp/err")"
if v grant --actor FVU1 --officer MP2 --level SC --granted 2030-01-01 --expires 2020-01-01 2>"$tmp/err"; then
  die "dates out of order accepted"
fi
grep -q "dates out of order" "$tmp/err" || die "dates message: $(cat "$tmp/err")"

# effective state at the second of expiry
v show --officer MP10432 --at 2025-12-31T23:59:59Z | grep -q '"state":"in-force".*"systems":\["PNC"\]' || die "show in force"
v show --officer MP10432 --at 2026-01-01T00:00:00Z | grep -q '"state":"expired".*"systems":\[\]' || die "show expired"

# suspension, then the report
v suspend --actor FVU2 --officer MP10432 --level SC --reason "arrest" --now 2025-02-01T00:00:00Z || die "suspend"
v show --officer MP10432 --at 2025-02-01T00:00:01Z | grep -q '"state":"suspended"' || die "show suspended"
v report --at 2025-06-01 --csv > "$tmp/csv"
printf 'unit,workforce,in_date,in_date_pct,expiring_90d,overdue_reviews,overdue_recertifications\nTP-CW-RESP,1,0,0.0,0,0,0\nALL,1,0,0.0,0,0,0\n' \
  | diff - "$tmp/csv" || die "report"
v reinstate --actor FVU2 --officer MP10432 --level SC --reason "no charge" --now 2025-02-02T00:00:00Z || die "reinstate"
v report --at 2025-10-15 --csv | grep -q '^TP-CW-RESP,1,1,100.0,1,0,0$' || die "report after reinstatement"

# a bad import line is named by file and line; the lines before it are kept
cat > "$tmp/imp.jsonl" <<'EOF'
{"kind":"vetting","officer":"MP20011","level":"MV","granted":"2018-01-01","expires":"2028-01-01"}
{"kind":"vetting","officer":"MP30077","level":"XX","granted":"2018-01-01","expires":"2028-01-01"}
EOF
if v import "$tmp/imp.jsonl" --actor FVU1 "${now[@]}" 2>"$tmp/err"; then die "bad import accepted"; fi
grep -q "imp.jsonl:2: unknown vetting level \"XX\"" "$tmp/err" || die "import message: $(cat "$tmp/err")"
v show --officer MP20011 --at 2025-06-01 | grep -q '"level":"MV"' || die "line 1 of the import was lost"

# the draw is reproducible for a seed and says what it chose
v draw --actor FVU1 --count 1 --due 2025-04-01 --seed 42 "${now[@]}" > "$tmp/d1" || die "draw"
grep -q "seed 42:" "$tmp/d1" || die "draw output: $(cat "$tmp/d1")"

# export and import into a fresh register give the same export
v export --out "$tmp/exp.jsonl" || die "export"
"$bin/custos" vetting import "$tmp/exp.jsonl" --data "$tmp/d2" --actor FVU9 "${now[@]}" > /dev/null || die "re-import"
"$bin/custos" vetting export --data "$tmp/d2" | diff - "$tmp/exp.jsonl" || die "round trip"

v history --officer MP10432 --actor PSD1 | grep -q '"action":"clearance.suspend"' || die "history"
if v history --officer MP10432 --actor MP10432 2>/dev/null; then die "own audit trail readable"; fi

# replay over this data directory: recovery skips the governance entries;
# the reference file carries vetting lines (and a bad one is named)
data="$src/tests/pipeline/data"
cp "$data/ref.jsonl" "$tmp/ref.jsonl"
echo '{"kind":"vetting","officer":"MP10432","level":"SC","granted":"2020-01-01","expires":"2030-01-01","review":"2026-01-01","status":"active"}' >> "$tmp/ref.jsonl"
"$bin/custos" replay --reference "$tmp/ref.jsonl" --events "$data/events.jsonl" --alerts "$tmp/alerts.jsonl" \
  --data "$tmp/d" 2>"$tmp/err" || die "replay over a governance ledger: $(cat "$tmp/err")"
[ -s "$tmp/alerts.jsonl" ] || die "replay raised no alerts"
echo '{"kind":"vetting","officer":"MP10432","level":"SC","granted":"2030-01-01","expires":"2020-01-01"}' >> "$tmp/ref.jsonl"
if "$bin/custos" replay --reference "$tmp/ref.jsonl" --events "$data/events.jsonl" --alerts "$tmp/a2.jsonl" 2>"$tmp/err"; then
  die "replay took a vetting line with dates out of order"
fi
grep -q "ref.jsonl:16: dates out of order" "$tmp/err" || die "replay message: $(cat "$tmp/err")"

# custosd: the governance API over a data directory whose ledger starts
# with a governance entry (the register imported before any event)
"$bin/custos" vetting import "$tmp/exp.jsonl" --data "$tmp/d3" --actor FVU9 "${now[@]}" > /dev/null || die "import d3"
# callers: bearer tokens (the gateway's config); only tokens mapped with
# --gov-person act, as that person; SYS is a system and only reads
h() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
cat >"$tmp/callers.conf" <<EOF
token SYS sha256:$(h sys-token-1)
token FVU sha256:$(h fvu-token-1)
token SELF sha256:$(h self-token-1)
token PSD sha256:$(h psd-token-1)
EOF
persons=(--gov-person FVU=FVU1 --gov-person SELF=MP20011 --gov-person PSD=PSD1)
rm -f "$tmp/port"
"$bin/custosd" --port 0 --port-file "$tmp/port" --data "$tmp/d3" --reference "$data/ref.jsonl" --risk-threshold 0.5 \
  --config "$tmp/callers.conf" --policies "$src/policies" "${persons[@]}" 2>>"$tmp/log" &
pid=$!
for _ in $(seq 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
[ -s "$tmp/port" ] || die "custosd did not start"
port=$(cat "$tmp/port")
tok=sys-token-1
api() { # api METHOD PATH [BODY] -> code, body (as the caller of $tok)
  if [ $# -ge 3 ]; then
    code=$(curl -sS -o "$tmp/body" -w '%{http_code}' -H "Authorization: Bearer $tok" -X "$1" --data-binary "$3" \
      "http://127.0.0.1:$port$2")
  else
    code=$(curl -sS -o "$tmp/body" -w '%{http_code}' -H "Authorization: Bearer $tok" -X "$1" "http://127.0.0.1:$port$2")
  fi
  body=$(cat "$tmp/body")
}
api GET "/v1/governance/report?at=2025-10-15"
[ "$code" = 200 ] || die "report: $code $body"
echo "$body" | grep -q '"total":{"unit":"ALL","workforce":1,"in_date":1' || die "report body: $body"
grant30077='{"officer":"MP30077","level":"SC","granted":"2020-01-01","expires":"2030-01-01"}'
# a system token reads, never acts (whatever actor its body names)
api POST /v1/governance/clearances '{"actor":"FVU1","officer":"MP30077","level":"SC","granted":"2020-01-01","expires":"2030-01-01"}'
[ "$code" = 403 ] || die "system caller acting: $code $body"
echo "$body" | grep -q 'system caller' || die "system caller body: $body"
api GET /v1/governance/officers/MP10432/history
[ "$code" = 403 ] || die "system caller reading a trail: $code $body"
tok=no-such-token api GET "/v1/governance/report?at=2025-10-15"
[ "$code" = 401 ] || die "unknown token: $code"
# with --config every data route wants a token too: ingest, alerts, risk
for route in "POST /v1/events" "GET /v1/alerts" "GET /v1/officers/MP10432/risk"; do
  tok=no-such-token api $route
  [ "$code" = 401 ] || die "$route with an unknown token: $code"
  code=$(curl -sS -o /dev/null -w '%{http_code}' -X "${route%% *}" "http://127.0.0.1:$port${route#* }")
  [ "$code" = 401 ] || die "$route without a token: $code"
done
tok=sys-token-1 api GET /v1/alerts
[ "$code" = 200 ] || die "alerts with a token: $code $body"
tok=sys-token-1 api POST /v1/events ''
[ "$code" != 401 ] || die "events with a token refused: $body"
# a mapped token acts as its person: on their own record refused
tok=self-token-1
api POST /v1/governance/clearances '{"officer":"MP20011","level":"SC","granted":"2020-01-01","expires":"2030-01-01"}'
[ "$code" = 403 ] || die "self-grant over HTTP: $code $body"
echo "$body" | grep -q '"error":".*separation of duties' || die "error body: $body"
# a forged actor in the body is refused
api POST /v1/governance/clearances '{"actor":"FVU1","officer":"MP30077","level":"SC","granted":"2020-01-01","expires":"2030-01-01"}'
[ "$code" = 403 ] || die "forged actor: $code $body"
echo "$body" | grep -q 'not the authenticated person' || die "forged actor body: $body"
tok=fvu-token-1
api POST /v1/governance/clearances "$grant30077"
[ "$code" = 200 ] || die "grant over HTTP: $code $body"
api GET /v1/governance/officers/MP30077
echo "$body" | grep -q '"state":"in-force"' || die "effective over HTTP: $body"
api POST /v1/governance/clearances '{not json'
[ "$code" = 400 ] || die "bad body: $code"
# events raising an alert open a detection review on its officer
code=$(curl -sS -o "$tmp/body" -w '%{http_code}' -H "Authorization: Bearer sys-token-1" -X POST --data-binary @"$data/events.jsonl" \
  "http://127.0.0.1:$port/v1/events")
[ "$code" = 200 ] || die "events: $code $(cat "$tmp/body")"
tok=psd-token-1 api GET /v1/governance/officers/MP10432/history
echo "$body" | grep -q '"actor":"custos-detect","action":"review.open"' || die "no detection review: $body"
kill $pid
wait $pid 2>/dev/null || true
pid=
# a restart recovers over a ledger where events and governance entries interleave
rm -f "$tmp/port"
"$bin/custosd" --port 0 --port-file "$tmp/port" --data "$tmp/d3" --reference "$data/ref.jsonl" 2>>"$tmp/log" &
pid=$!
for _ in $(seq 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
[ -s "$tmp/port" ] || die "custosd did not restart"
port=$(cat "$tmp/port")
tok=
api GET /v1/governance/officers/MP30077
echo "$body" | grep -q '"state":"in-force"' || die "effective after restart: $body"
kill $pid
wait $pid 2>/dev/null || true
pid=
ok
finish
