#!/usr/bin/env bash
# custos key / custos ledger end to end: init, append (files and --lines),
# prove and verify-proof (inclusion and consistency), verify, and one-line
# errors with a non-zero exit for every bad input, leaving nothing behind.
. "$(dirname "$0")/../tlib.sh"
set +e # each step is checked and counted; the rest goes on after a failure
c="$bin/custos"
cd "$tmp"
# expect_err DESCRIPTION CMD...: non-zero exit, exactly one line on stderr
expect_err() {
  local d=$1; shift
  if "$@" >out 2>err; then bad "$d: exit 0"; return; fi
  [ "$(wc -l <err)" -eq 1 ] && ok || { bad "$d: stderr not one line:"; cat err; }
}

"$c" key generate test.example/log --out k >/dev/null && ok || bad "key generate"
[ "$(stat -c %a k.key)" = 600 ] && ok || bad "k.key mode"
grep -q '^PRIVATE+KEY+test.example/log+' k.key && ok || bad "k.key content"
expect_err "key generate over an existing key" "$c" key generate test.example/log --out k

"$c" ledger init L --origin test.example/log --key k.key >/dev/null && ok || bad "init"
[ "$(stat -c %a L/private/secret)" = 600 ] && ok || bad "secret mode"
[ "$(stat -c %a L/private)" = 700 ] && ok || bad "private mode"
expect_err "init twice" "$c" ledger init L --origin test.example/log --key k.key
expect_err "init with a malformed key" "$c" ledger init L2 --origin o --key 'PRIVATE+KEY+x+00000000+AAAA'
[ ! -e L2 ] && ok || bad "failed init left L2 behind"
expect_err "init with a missing key file" "$c" ledger init L3 --origin o --key nosuchfile
head -c 300 /dev/urandom >blob1
printf 'second entry' >blob2
out=$("$c" ledger append L blob1 blob2) && ok || bad "append files"
echo "$out" | grep -q '^appended 0-1 ' && ok || bad "append range: $out"
seq 1 700 | sed 's/^/line /' >lines.txt
out=$("$c" ledger append L --lines lines.txt) && ok || bad "append --lines"
echo "$out" | grep -q '^appended 2-701 (700 entries); checkpoint size 702' && ok || bad "append --lines: $out"
"$c" ledger verify L --pubkey k.pub >/dev/null && ok || bad "verify"
"$c" ledger cat L --from 2 --to 4 >cat.txt && [ "$(cat cat.txt)" = "$(printf 'line 1\nline 2')" ] && ok || bad "cat"
# nothing is appended when any input is bad
printf 'a\n\nb\n' >blank.txt
expect_err "blank line" "$c" ledger append L --lines lines.txt blank.txt
grep -q 'blank.txt:2' err && ok || bad "blank line not located: $(cat err)"
: >empty
expect_err "empty entry file" "$c" ledger append L empty
head -c 70000 /dev/zero >huge
expect_err "entry over 65535 bytes" "$c" ledger append L huge
expect_err "missing input" "$c" ledger append L nosuch
expect_err "not a log" "$c" ledger append "$tmp" blob2
[ "$("$c" ledger cat L --from 2 | wc -l)" -eq 700 ] && ok || bad "a refused append changed the log"

# inclusion proofs, offline
"$c" ledger prove L --index 5 >p5 && ok || bad "prove"
head -1 p5 | grep -qx 'inclusion 5 702' && ok || bad "proof header: $(head -1 p5)"
printf 'line 4' >e5
"$c" ledger verify-proof --checkpoint L/checkpoint --pubkey k.pub --proof p5 --entry e5 >/dev/null && ok || bad "verify-proof"
printf 'line 5' >e6
expect_err "proof for another entry" "$c" ledger verify-proof --checkpoint L/checkpoint --pubkey k.pub --proof p5 --entry e6
leaf=$(printf '\0line 4' | sha256sum | cut -d' ' -f1 | xxd -r -p | base64)
"$c" ledger verify-proof --checkpoint L/checkpoint --pubkey k.pub --proof p5 --leaf-hash "$leaf" >/dev/null && ok || bad "verify-proof --leaf-hash"
sed '2s/^./A/' p5 >p5bad
cmp -s p5 p5bad && sed '2s/^./B/' p5 >p5bad
expect_err "tampered proof" "$c" ledger verify-proof --checkpoint L/checkpoint --pubkey k.pub --proof p5bad --entry e5
printf 'inclusion 5\nzzz\n' >pjunk
expect_err "malformed proof" "$c" ledger verify-proof --checkpoint L/checkpoint --pubkey k.pub --proof pjunk --entry e5
"$c" key generate other --out o >/dev/null
expect_err "wrong public key" "$c" ledger verify-proof --checkpoint L/checkpoint --pubkey o.pub --proof p5 --entry e5
expect_err "malformed public key" "$c" ledger verify L --pubkey 'x+y+z'
printf 'not a checkpoint\n' >cpjunk
expect_err "malformed checkpoint" "$c" ledger verify-proof --checkpoint cpjunk --pubkey k.pub --proof p5 --entry e5
expect_err "index out of range" "$c" ledger prove L --index 702

# consistency between two checkpoints
cp L/checkpoint old.cp
seq 1 300 >more.txt
"$c" ledger append L --lines more.txt >/dev/null && ok || bad "append more"
"$c" ledger consistency L --from 702 --to 1002 >cons && ok || bad "consistency"
head -1 cons | grep -qx 'consistency 702 1002' && ok || bad "consistency header"
"$c" ledger verify-proof --checkpoint L/checkpoint --old-checkpoint old.cp --pubkey k.pub --proof cons >/dev/null && ok || bad "verify consistency"
expect_err "consistency the wrong way round" "$c" ledger verify-proof --checkpoint old.cp --old-checkpoint L/checkpoint --pubkey k.pub --proof cons

# verify names the first fault
cp -a L Lbad
printf 'X' | dd of=Lbad/tile/entries/001 bs=1 seek=3 conv=notrunc 2>/dev/null
expect_err "flipped bundle byte" "$c" ledger verify Lbad --pubkey k.pub
grep -q 'tile/0/001' err && ok || bad "fault not named: $(cat err)"
rm -rf Lbad
finish
