#!/usr/bin/env bash
# Run a command and print the CPU-seconds (user + system) of each of its
# threads, summed by thread name, as read from /proc every 0.2 s while it
# runs (a thread's last sample before it ends counts: up to 0.2 s of its
# time may be missed).  On a shared machine CPU per thread is the figure to
# compare, not wall time: the store's writer is `cu-store`, the ledger's
# threads `cu-lg-build`, `cu-lg-sync` and `cu-lg-tiles`.
#
# Usage: bench/thread_cpu.sh COMMAND [ARGS...]   (its output goes to stderr)
set -euo pipefail
"$@" >&2 &
pid=$!
declare -A last name
tck=$(getconf CLK_TCK)
while kill -0 "$pid" 2> /dev/null; do
  for st in /proc/"$pid"/task/*/stat; do
    line=$(cat "$st" 2> /dev/null) || continue
    tid=${st#/proc/"$pid"/task/}
    tid=${tid%/stat}
    comm=${line#*(}
    comm=${comm%)*}
    rest=${line##*) }
    read -r -a f <<< "$rest"
    # after "pid (comm) ": field 3 is f[0], utime (14) is f[11], stime f[12]
    last[$tid]=$((f[11] + f[12]))
    name[$tid]=$comm
  done
  sleep 0.2
done
wait "$pid"
for tid in "${!last[@]}"; do
  echo "${name[$tid]} ${last[$tid]}"
done | awk -v t="$tck" '{ s[$1] += $2; all += $2 } END { for (n in s) printf "%-16s %7.2f\n", n, s[n] / t; printf "%-16s %7.2f\n", "(all threads)", all / t }' |
  sort -k2 -nr
