#!/usr/bin/env bash
# bench/run-all.sh — runs every figure script in bench/ (bench/*.sh except
# this one), one after the other, in name order; `make bench` calls it.
# Each script prints its own table and appends to bench/results/. A
# figure that fails is reported and the others still run; the exit status
# is 1 if any failed.
set -uo pipefail

dir=$(cd "$(dirname "$0")" && pwd)
self=$(basename "$0")
failed=()
for script in "$dir"/*.sh; do
  name=$(basename "$script")
  [ "$name" = "$self" ] && continue
  echo "==== bench/$name"
  if ! bash "$script"; then
    echo "bench/run-all.sh: bench/$name failed" >&2
    failed+=("$name")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "bench/run-all.sh: failed: ${failed[*]}" >&2
  exit 1
fi
