#!/usr/bin/env bash
# Write a small, deterministic force in interchange form for the console
# tests: make_fixture.sh OUTDIR -> OUTDIR/reference.jsonl, OUTDIR/events.jsonl.
#
# 14 response officers (unit TP-CW-RESP, day shift) who view the records of
# people in their own cases during the day, two detectives elsewhere, and
# three people on the protected register.  Misuse: MP10007 looks up the
# protected person P9001 at night with no case, on three nights, and the two
# detectives (MP20001, MP20002) look her up too: a small ring around one
# person.  Two weeks from Monday 2024-03-04.
set -euo pipefail
out=$1
mkdir -p "$out"
awk -v out="$out" 'BEGIN {
  ref = out "/reference.jsonl"
  for (i = 1; i <= 14; i++)
    printf "{\"kind\":\"officer\",\"id\":\"MP1%04d\",\"role\":\"PC\",\"unit\":\"TP-CW-RESP\",\"area\":\"CW\",\"vetting\":{\"level\":\"NPPV2\",\"granted\":\"2020-01-01\",\"expires\":\"2030-01-01\"},\"shift\":\"days\",\"start\":\"2015-01-01\",\"end\":null,\"relations\":[]}\n", i > ref
  for (i = 1; i <= 2; i++)
    printf "{\"kind\":\"officer\",\"id\":\"MP2%04d\",\"role\":\"DC\",\"unit\":\"TP-HK-CID\",\"area\":\"HK\",\"vetting\":{\"level\":\"NPPV3\",\"granted\":\"2020-01-01\",\"expires\":\"2030-01-01\"},\"shift\":\"days\",\"start\":\"2012-01-01\",\"end\":null,\"relations\":[]}\n", i > ref
  for (p = 0; p < 200; p++)
    printf "{\"kind\":\"person\",\"id\":\"P%d\",\"area\":\"CW\",\"flags\":[]}\n", 1000 + p > ref
  printf "{\"kind\":\"person\",\"id\":\"P9001\",\"area\":\"HK\",\"flags\":[\"protected\"]}\n" > ref
  printf "{\"kind\":\"person\",\"id\":\"P9002\",\"area\":\"CW\",\"flags\":[\"witness\"]}\n" > ref
  printf "{\"kind\":\"person\",\"id\":\"P9003\",\"area\":\"CW\",\"flags\":[\"vip\"]}\n" > ref
  for (p = 0; p < 200; p++)
    printf "{\"kind\":\"record\",\"id\":\"R%d\",\"type\":\"nominal\",\"system\":\"PNC\",\"subjects\":[\"P%d\"],\"area\":\"CW\",\"classification\":\"OFFICIAL-SENSITIVE\",\"caveats\":[]}\n", 5000 + p, 1000 + p > ref
  for (p = 1; p <= 3; p++)
    printf "{\"kind\":\"record\",\"id\":\"R900%d\",\"type\":\"nominal\",\"system\":\"PNC\",\"subjects\":[\"P900%d\"],\"area\":\"HK\",\"classification\":\"OFFICIAL-SENSITIVE\",\"caveats\":[]}\n", p, p > ref
  for (k = 0; k < 14; k++) {
    subj = ""; recs = ""
    for (j = 0; j < 10; j++) {
      subj = subj (j ? "," : "") "\"P" (1000 + k * 10 + j) "\""
      recs = recs (j ? "," : "") "\"R" (5000 + k * 10 + j) "\""
    }
    printf "{\"kind\":\"case\",\"id\":\"C2024-%04d\",\"opened\":\"2024-01-02T09:00:00Z\",\"closed\":null,\"area\":\"CW\",\"officers\":[\"MP1%04d\"],\"subjects\":[%s],\"records\":[%s]}\n", k + 1, k + 1, subj, recs > ref
  }
  close(ref)

  srand(20240304)
  base = 1709510400  # 2024-03-04T00:00:00Z, a Monday
  n = 0
  for (d = 0; d < 14; d++) {
    if (d % 7 >= 5) continue           # weekends off
    for (i = 1; i <= 14; i++) {
      k = i - 1
      m = 6 + int(rand() * 5)
      for (e = 0; e < m; e++) {
        t = base + d * 86400 + 8 * 3600 + int(rand() * 9 * 3600)
        j = int(rand() * 10)
        ev(t, sprintf("MP1%04d", i), "view", "R" (5000 + k * 10 + j), "P" (1000 + k * 10 + j), "investigation", sprintf("C2024-%04d", k + 1), "CW")
      }
      if (rand() < 0.5) {
        t = base + d * 86400 + 9 * 3600 + int(rand() * 7 * 3600)
        ev(t, sprintf("MP1%04d", i), "search", "", "P" (1000 + int(rand() * 200)), "investigation", "", "CW")
      }
    }
    for (i = 1; i <= 2; i++) {
      for (e = 0; e < 4; e++) {
        t = base + d * 86400 + 10 * 3600 + int(rand() * 6 * 3600)
        ev(t, sprintf("MP2%04d", i), "search", "", "P" (1100 + int(rand() * 100)), "intelligence", "", "HK")
      }
    }
  }
  # the misuse: MP10007 at night, three nights; the detectives by day
  for (night = 0; night < 3; night++) {
    t = base + (2 + night * 3) * 86400 + 2 * 3600 + 600 + night * 420
    ev(t, "MP10007", "search", "", "P9001", "other", "", "CW")
    ev(t + 40, "MP10007", "view", "R9001", "P9001", "other", "", "CW")
    ev(t + 95, "MP10007", "view", "R9002", "P9002", "other", "", "CW")
  }
  ev(base + 3 * 86400 + 14 * 3600, "MP20001", "view", "R9001", "P9001", "intelligence", "", "HK")
  ev(base + 8 * 86400 + 15 * 3600, "MP20002", "view", "R9001", "P9001", "intelligence", "", "HK")
  ev(base + 9 * 86400 + 11 * 3600, "MP20001", "print", "R9001", "P9001", "intelligence", "", "HK")
}
function iso(t,   cmd, s) {
  return strftime("%Y-%m-%dT%H:%M:%SZ", t, 1)
}
function ev(t, officer, action, record, person, purpose, kase, area) {
  printf "%d\t{\"kind\":\"access\",\"id\":\"@\",\"ts\":\"%s\",\"officer\":\"%s\",\"system\":\"PNC\",\"action\":\"%s\",\"record\":%s,\"subjects\":[\"%s\"],\"purpose\":\"%s\",\"case\":%s,\"terminal\":\"T-%s-0001\",\"area\":\"%s\",\"outcome\":\"allow\",\"results\":1}\n", t, iso(t), officer, action, record == "" ? "null" : "\"" record "\"", person, purpose, kase == "" ? "null" : "\"" kase "\"", area, area
}' | sort -n -s -k1,1 | cut -f2- | awk '{ id = sprintf("E%06d", NR); sub(/"id":"@"/, "\"id\":\"" id "\""); print }' > "$out/events.jsonl"
