#!/usr/bin/env bash
# Crash test: `custos ledger append --lines --progress` (which prints
# "acked I" after each durable group) is killed with SIGKILL at random
# moments, 100 times.  After each kill: reopening and publishing recovers
# the log, every acknowledged entry is present with the right bytes, the
# entries after the last acknowledgement are a prefix of what was being
# appended, and `custos ledger verify` passes.
set -uo pipefail
bin=${CU_BIN_DIR:-build}
c="$bin/custos"
runs=${CU_CRASH_RUNS:-100}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
"$c" key generate crash.example/log --out k >/dev/null || { echo "key generate failed"; exit 1; }
"$c" ledger init L --origin crash.example/log --key k.key >/dev/null || { echo "init failed"; exit 1; }
seq 1 6000 | sed 's/^/crash entry number /' >in.txt
size=0
fail=0
killed=0
start=$SECONDS
for i in $(seq "$runs"); do
  "$c" ledger append L --lines --progress in.txt >ack 2>errout &
  pid=$!
  sleep "$(printf "0.%03d" $((RANDOM % 45 + 2)))"
  kill -KILL $pid 2>/dev/null && killed=$((killed + 1))
  wait $pid 2>/dev/null
  last=$(grep '^acked ' ack | tail -1 | cut -d' ' -f2)
  "$c" ledger publish L >pub 2>perr || { echo "run $i: publish after kill failed: $(cat perr)"; fail=$((fail + 1)); break; }
  new=$(sed 's/checkpoint size //' pub)
  if [ -n "$last" ] && [ "$new" -le "$last" ]; then
    echo "run $i: acknowledged index $last lost (size $new)"; fail=$((fail + 1)); break
  fi
  n=$((new - size))
  if [ "$n" -gt 0 ]; then
    "$c" ledger cat L --from "$size" >got || { echo "run $i: cat failed"; fail=$((fail + 1)); break; }
    head -n "$n" in.txt | cmp -s - got || { echo "run $i: entries $size..$new are not what was appended"; fail=$((fail + 1)); break; }
  fi
  "$c" ledger verify L --pubkey k.pub >/dev/null 2>verr || { echo "run $i: verify: $(cat verr)"; fail=$((fail + 1)); break; }
  size=$new
done
echo "# $runs runs, $killed killed mid-append, final size $size, $((SECONDS - start)) s"
if [ "$fail" -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; exit 1; fi
