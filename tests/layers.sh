#!/usr/bin/env bash
# Layering check: a module includes only public headers of its own or lower
# layers (docs/architecture.md).  Prints each breach and exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."
layer() {
  case $1 in
    console) echo 4;;
    util) echo 0;; event|ledger|policy) echo 1;; store|import|gen) echo 2;;
    pipeline|detect|governance|gateway) echo 3;; evidence|server) echo 4;; cli|custosd) echo 5;;
    *) echo 9;;
  esac
}
bad=0
for dir in src/*/; do
  m=$(basename "$dir")
  lm=$(layer "$m")
  while IFS= read -r inc; do
    h=$(echo "$inc" | sed -E 's|.*"custos/([a-z_]+)\.h".*|\1|')
    lh=$(layer "$h")
    # store may use event (same layer, allowed by the architecture)
    if [ "$lh" -gt "$lm" ] || { [ "$lh" = "$lm" ] && [ "$h" != "$m" ] && ! { [ "$m" = store ] && [ "$h" = event ]; } && [ "$lm" != 5 ]; }; then
      echo "layering: src/$m (layer $lm) includes custos/$h.h (layer $lh)"; bad=1
    fi
  done < <(grep -ho '#include "custos/[a-z_]*\.h"' "$dir"*.c "$dir"*.h 2>/dev/null || true)
done
[ $bad = 0 ] && echo "layers: ok"
exit $bad
