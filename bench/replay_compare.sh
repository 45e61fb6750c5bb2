#!/usr/bin/env bash
# `custos replay` end to end, two builds side by side: the previous one
# (BASE, e.g. a copy of build/custos made before a change) and this one,
# with and without --data, RUNS times each, the runs of the two builds
# interleaved so that both see the same load on a shared machine.  Prints
# every run (wall, user, sys, CPU = user + sys, peak RSS, from
# /usr/bin/time -v), then per build and mode the medians, events/s (wall),
# and the ratios new / base.  CPU-seconds are the figure to trust when
# other work shares the cores; wall is inflated by it.
#
# Usage (from the source tree, after a build into build/):
#   bench/replay_compare.sh BASE_CUSTOS REF.jsonl EVENTS.jsonl [RUNS (default 3)]
# Environment: NEW (the build to compare, default build/custos), WORK (where
# data directories go, default a temporary directory; removed at the end),
# SETTLE (seconds to wait before each run, default 70; 0 for none).
#
# Why SETTLE: on ext4 without a journal (this development machine) creating
# a file skips every free inode of its block group deleted in the last
# 60 s (300 s more while the inode table is not yet written back), at a
# buffer-cache look-up each; a ledger creates two files per 256 events, so
# a run started right after deleting the previous run's ~75,000 files spent
# up to 30 s more system time (36 % of all samples in ext4_create) than the
# same run a minute later.  So a run's data directory is moved aside, not
# deleted, until the end, and each run starts after a sync and SETTLE
# seconds (a replay without --data still deletes its own temporary ledger
# on exit: the pause covers that too).
set -euo pipefail
cd "$(dirname "$0")/.."
base=$1 ref=$2 ev=$3 runs=${4:-3}
new=${NEW:-build/custos}
work=${WORK:-$(mktemp -d)}
mkdir -p "$work"
settle=${SETTLE:-70}
trap 'rm -rf "$work/data" "$work/old" "$work/alerts.jsonl"' EXIT
events=$(wc -l < "$ev")
echo "events: $events; base: $base; new: $new; runs: $runs"
results=$work/results.txt
: > "$results"
one() { # build-label mode binary
  local label=$1 mode=$2 bin=$3 data=()
  mkdir -p "$work/old"
  [ -e "$work/data" ] && mv "$work/data" "$work/old/$label.$mode.$RANDOM$RANDOM"
  sync
  sleep "$settle"
  [ "$mode" = data ] && data=(--data "$work/data")
  /usr/bin/time -v "$bin" replay --reference "$ref" --events "$ev" --alerts "$work/alerts.jsonl" "${data[@]}" \
    > /dev/null 2> "$work/time.txt"
  awk -v l="$label" -v m="$mode" '
    /Elapsed \(wall clock\)/ { n = split($NF, t, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + t[i] }
    /User time/ { u = $NF } /System time/ { s = $NF } /Maximum resident/ { r = $NF }
    END { printf "%s %s %.2f %.2f %.2f %.2f %.0f\n", l, m, w, u, s, u + s, r / 1024 }' "$work/time.txt" |
    tee -a "$results"
}
echo "build mode wall_s user_s sys_s cpu_s rss_MiB"
for i in $(seq 1 "$runs"); do
  for mode in nodata data; do
    one base "$mode" "$base"
    one new "$mode" "$new"
  done
done
echo
echo "medians (events/s on wall):"
for mode in nodata data; do
  for label in base new; do
    grep "^$label $mode " "$results" | awk -v ev="$events" -v l="$label" -v m="$mode" '
      { w[NR] = $3; c[NR] = $6; u[NR] = $4; s[NR] = $5; r[NR] = $7 }
      function med(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
                                    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
      END { mw = med(w, NR); printf "%-4s %-6s wall %.1f s (%.0f events/s), cpu %.1f s (user %.1f + sys %.1f), rss %.0f MiB\n",
            l, m, mw, ev / mw, med(c, NR), med(u, NR), med(s, NR), med(r, NR) }'
  done
done | tee "$work/medians.txt"
echo
awk '{ k = $2; v[$1 k "wall"] = $4; v[$1 k "cpu"] = $9 }
     END { for (m in seen) ; split("nodata data", ms, " ");
           for (i = 1; i <= 2; i++) { k = ms[i];
             printf "ratio new/base %-6s: wall %.2f, cpu %.2f\n", k, v["new" k "wall"] / v["base" k "wall"], v["new" k "cpu"] / v["base" k "cpu"] } }' \
  "$work/medians.txt"
