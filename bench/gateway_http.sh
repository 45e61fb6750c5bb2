#!/usr/bin/env bash
# The gateway over HTTP with the durable ledger on: custosd on 127.0.0.1
# with the police pack, a fresh ledger (every decision fsync'd before it is
# answered, concurrent requests sharing fsyncs through the ledger's group
# commit) and the synthetic force of bench_gateway; wrk drives POST
# /v1/authorize for a bounded time with the 4096 benchmark requests in turn
# (a Lua script).  Prints wrk's figures (decisions/s, latency percentiles),
# the daemon's threads and resident memory, and the ledger's size.
#
# Usage (from the source tree, after a build into build/):
#   bench/gateway_http.sh [RECORDS (default 1000000)] [SECONDS (default 10)]
# Environment: THREADS (custosd --threads, default custosd's own: 4 in
# gateway-only mode and with DATA=1: decisions wait suspended), CONNS
# (wrk connections, default 256), WRK_THREADS (default 2), LEDGER_DIR (where
# the ledger goes, default a temporary directory; put it on the disk you mean
# to measure), DATA=1 (custosd --data: allowed look-ups go through the
# pipeline, docs/gateway.md "Decisions feed detection"; DATA_DIR: where its
# data directory goes, default a temporary one; it must not exist yet), CUSTOSD_ARGS (more
# custosd arguments, e.g. "--commit-period-us 1").  On ext4 without a journal, do not
# delete a ledger in the minute before a run: each new tile file then pays for skipping
# the deleted inodes (docs/ledger.md); give each run its own LEDGER_DIR and delete them
# after the session.  The fsync latency
# of the ledger's disk is measured first (dd, 4 KiB writes, oflag=dsync).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${CU_BIN_DIR:-build}
RECORDS=${1:-1000000}
SECS=${2:-10}
THREADS=${THREADS:-}
CONNS=${CONNS:-256}
WRK_THREADS=${WRK_THREADS:-2}
command -v wrk >/dev/null || { echo "wrk is not installed (scripts/install-deps.sh)"; exit 1; }
tmp=$(mktemp -d)
ledger=${LEDGER_DIR:-$tmp/ledger}
[ "${DATA:-0}" = 1 ] && ledger=${DATA_DIR:-$tmp/data}/ledger
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

echo "== synthetic force: 45000 officers, $RECORDS records"
"$BIN/bench_gateway" "$RECORDS" 1000 --now "$(date +%s)" --requests "$tmp/req.jsonl" --reference "$tmp/ref.jsonl" | head -2
sed -E 's/^\{"body":(\{[^}]*\}),.*/\1/' "$tmp/req.jsonl" >"$tmp/bodies"
token=bench-$RANDOM$RANDOM$RANDOM
printf 'token BENCH sha256:%s\n' "$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)" >"$tmp/gateway.conf"
cat >"$tmp/post.lua" <<'EOF'
local bodies = {}
for line in io.lines(os.getenv("BODIES")) do bodies[#bodies + 1] = line end
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
function init(args)
  i = math.random(#bodies)
end
function request()
  i = i % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[i])
end
function done(summary, latency, requests)
  io.write(string.format("decisions/s: %.0f; latency p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms; errors: %d non-2xx, %d socket\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
  -- Little's law: C connections each with a request in flight wait C / rate
  -- on average, whatever the server does; a p99 target below that cannot be
  -- met at that concurrency (256 connections at 50,000/s: 5.1 ms)
  local c = tonumber(os.getenv("CONNS")) or 0
  local rate = summary.requests / (summary.duration / 1e6)
  if c > 0 and rate > 0 then
    io.write(string.format("Little's law: %d connections at %.0f/s wait %.2f ms on average (at 50,000/s: %.2f ms)\n",
      c, rate, c / rate * 1000, c / 50000 * 1000))
  end
end
EOF

mkdir -p "$(dirname "$ledger")"
dd if=/dev/zero of="$(dirname "$ledger")/dsync.$$" bs=4k count=200 oflag=dsync 2>&1 | tail -1 |
    awk '{ printf "== fsync latency here: %.2f ms per 4 KiB dsync write\n", $(NF-3) * 1000 / 200 }'
rm -f "$(dirname "$ledger")/dsync.$$"
args=(--ledger "$ledger")
[ "${DATA:-0}" = 1 ] && args=(--data "$(dirname "$ledger")")
targs=()
[ -n "$THREADS" ] && targs=(--threads "$THREADS")
# shellcheck disable=SC2206 # (split on purpose)
[ -n "${CUSTOSD_ARGS:-}" ] && targs+=(${CUSTOSD_ARGS})
echo "== custosd ${targs[*]:-(default threads)} ${args[*]}"
t0=$(date +%s.%N)
"$BIN/custosd" --port 0 --port-file "$tmp/port" "${targs[@]}" --config "$tmp/gateway.conf" \
    "${args[@]}" --policies policies --reference "$tmp/ref.jsonl" 2>"$tmp/custosd.log" &
pid=$!
for _ in $(seq 6000); do [ -s "$tmp/port" ] && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
[ -s "$tmp/port" ] || { echo "custosd did not start"; cat "$tmp/custosd.log"; exit 1; }
port=$(cat "$tmp/port")
echo "started (reference loaded) in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
curl -sS -o /dev/null -w 'first decision: HTTP %{http_code}\n' -H "Authorization: Bearer $token" \
     --data-binary "$(head -1 "$tmp/bodies")" "http://127.0.0.1:$port/v1/authorize"

# custosd's CPU time (user + system, clock ticks) and its decisions so far
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
decisions() {
  curl -sS -H "Authorization: Bearer $token" "http://127.0.0.1:$port/metrics" |
      awk '/^custos_gateway_decisions_total/ { n += $2 } END { print n + 0 }'
}
# each thread's CPU ticks, as "name ticks" lines
thread_ticks() {
  for st in /proc/"$pid"/task/*/stat; do cat "$st" 2>/dev/null; done |
      sed -E 's/^[0-9]+ \(([^)]*)\) /\1 /' | awk '{ n = $1; gsub(/[^A-Za-z0-9_-]/, "", n); print n, $13 + $14 }'
}
c0=$(cpu_ticks); d0=$(decisions); th0=$(thread_ticks)
echo "== wrk -t$WRK_THREADS -c$CONNS -d${SECS}s POST /v1/authorize"
BODIES="$tmp/bodies" TOKEN="$token" CONNS="$CONNS" wrk -t"$WRK_THREADS" -c"$CONNS" -d"${SECS}s" --latency -s "$tmp/post.lua" \
    "http://127.0.0.1:$port/v1/authorize"
c1=$(cpu_ticks); d1=$(decisions); th1=$(thread_ticks)
# CPU per decision holds better than decisions/s on a shared machine: it
# does not count the time other programs had the cores
awk -v c="$((c1 - c0))" -v d="$((d1 - d0))" -v hz="$(getconf CLK_TCK)" 'BEGIN {
  if (d > 0) printf "== custosd CPU: %.1f s for %d decisions, %.1f us per decision\n", c / hz, d, c / hz / d * 1e6 }'
# by thread name (cu-http: the server's threads, MHD-worker before 2026-11-25; cu-lg-build / -sync / -tiles: the ledger's builder, syncer and
# tile writer), in us per decision; threads that did not change are left out
{ echo "$th0" | awk "{ print 0, \$0 }"; echo "$th1" | awk "{ print 1, \$0 }"; } |
    awk -v d="$((d1 - d0))" -v hz="$(getconf CLK_TCK)" '
      { s[$2] += ($1 ? $3 : -$3) } END { if (d > 0) for (n in s) if (s[n] > 0) printf "   %-12s %5.1f us\n", n, s[n] / hz / d * 1e6 }' |
    sort -k2 -nr | sed '1i == custosd CPU per decision by thread:'
echo "== custosd: $(grep -E '^(Threads|VmRSS)' /proc/$pid/status | tr -s ' \t' ' ' | paste -sd ';' -)"
curl -sS -H "Authorization: Bearer $token" "http://127.0.0.1:$port/metrics" |
    grep -E '^custos_gateway_(ledger_entries|audit_failures_total|decisions_total)' || true
kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
pid=
grep -h "live writer" "$tmp/custosd.log" | sed 's/^[^ ]* [^ ]* /== custosd: /' || true
echo "cores: $(nproc)"
