#!/bin/sh
# exec-overhead.sh — the executor pool's cost per process against
# `xargs -P`: N runs (default 10000) of a no-op C program at parallelism P
# (default 2), in the same run, best of ROUNDS (default 3). Prints the
# machine, both times and the ratio pool / xargs (target: at most 1.2),
# and appends the same to bench/results/exec-overhead.txt.
#
#   bench/exec-overhead.sh            N=2000 P=4 bench/exec-overhead.sh
set -eu
cd "$(dirname "$0")/.."
N=${N:-10000}
P=${P:-2}
ROUNDS=${ROUNDS:-3}
CC=${CC:-cc}
out=build/bench
mkdir -p "$out" bench/results

# The no-op program and the benchmark, built here so the figure needs
# nothing but a C compiler and the sources.
printf 'int main(void) { return 0; }\n' > "$out/noop.c"
$CC -O2 -o "$out/noop" "$out/noop.c"
$CC -std=gnu11 -O2 -Wall -Wextra -Wno-unused-parameter -Iinclude -Isrc \
  -o "$out/exec_overhead" bench/exec_overhead.c src/exec/*.c \
  src/util/alloc.c src/util/buf.c src/util/error.c src/util/log.c src/util/fs.c -lpthread

logdir=$(mktemp -d "${TMPDIR:-/tmp}/oast-bench-logs.XXXXXX")
trap 'rm -rf "$logdir"' EXIT INT TERM

{
  echo "== exec-overhead $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(uname -sr)"
  "$out/exec_overhead" "$(pwd)/$out/noop" "$N" "$P" "$ROUNDS" "$logdir"
} | tee -a bench/results/exec-overhead.txt
