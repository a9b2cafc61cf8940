#!/usr/bin/env bash
# Fails when a stage includes a stage above it (dependencies go one way) or
# when a public header includes anything but the standard library and nimify/.
set -euo pipefail
cd "$(dirname "$0")/.."
order=(common promql promql/eval promqltest template storage ingest pipeline alerting engine actions ruletest daemon cli)
rank() { local i; for i in "${!order[@]}"; do [[ "${order[$i]}" == "$1" ]] && echo "$i" && return; done; echo 99; }
status=0
for dir in src/*/ src/promql/eval/; do
  stage="${dir#src/}"; stage="${stage%/}"
  [[ -d "$dir" ]] || continue
  r=$(rank "$stage")
  files=$(find "$dir" -maxdepth 1 -name '*.h' -o -maxdepth 1 -name '*.cc')
  [[ -n "$files" ]] || continue
  while IFS=: read -r file _ inc; do
    target=$(sed -E 's/.*#include "([^"]+)".*/\1/' <<<"$inc")
    tdir=$(dirname "$target")
    [[ "$tdir" == "nimify" || "$tdir" == "." ]] && continue
    tr=$(rank "$tdir")
    if (( tr > r )); then
      echo "layering: $file includes $target ($tdir is above $stage)"; status=1
    fi
  done < <(grep -Hn '^#include "' $files || true)
done
while IFS=: read -r file _ inc; do
  if ! grep -qE '#include (<[a-z_]+(/[a-z_]+)?>|"nimify/)' <<<"$inc"; then
    echo "public header: $file: $inc"; status=1
  fi
done < <(grep -Hn '^#include' include/nimify/*.h)
exit $status
