#!/usr/bin/env bash
# bench/distributed.sh — how long a distributed run takes to get its N
# workers running and to have its result recorded, through the
# experiment service (N processes, and one mpirun it starts) against
# plain `mpirun -np N` in the same run (bench/distributed.py has the
# details). Results are printed and appended as JSON lines to
# bench/results/distributed.jsonl.
#
# Knobs: N (4 workers, also the server's --cpus), ROUNDS (7), HOLD_MS
# (500, how long each worker runs), BENCH_RESULTS, PYTHON (/usr/bin/python3).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
PYTHON=${PYTHON:-/usr/bin/python3}
export N=${N:-4} ROUNDS=${ROUNDS:-7} HOLD_MS=${HOLD_MS:-500}
export BENCH_RESULTS=${BENCH_RESULTS:-bench/results/distributed.jsonl}
export COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo '?')

die() { echo "bench/distributed.sh: $*" >&2; exit 1; }
command -v mpirun >/dev/null || die "mpirun is missing (scripts/install-deps installs openmpi-bin)"

make -s -j"$(nproc)" build/oast >/dev/null || die "cannot build"
out=build/bench
mkdir -p "$out" bench/results
cc -O2 -Wall -Wextra -o "$out/dist_worker" bench/dist_worker.c

# One server per data home: $TMPDIR (the disk, as a server normally runs)
# and /dev/shm (tmpfs) when it is another filesystem. The end of an
# experiment writes .summary.json and experiment.json atomically (fsynced)
# before its state is committed, so on a disk result_ms is mostly those
# fsyncs; tmpfs shows the service's own cost.
home= pid=
cleanup() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null && wait "$pid" || true; fi
  [ -n "$home" ] && rm -rf "$home"
  pid= home=
}
trap cleanup EXIT INT TERM

run_on() { # DIR
  home=$(mktemp -d "$1/oast-bench-dist.XXXXXX")
  build/oast server --home "$home" --listen 127.0.0.1:0 --cpus "$N" --gpus "" >"$home/server.out" 2>&1 &
  pid=$!
  for _ in $(seq 100); do [ -s "$home/run/server.addr" ] && break; sleep 0.1; done
  [ -s "$home/run/server.addr" ] || die "the server did not start: $(cat "$home/server.out")"
  HOME_FS=$(stat -f -c %T "$home") "$PYTHON" bench/distributed.py "$(cat "$home/run/server.addr")" \
    "$(cat "$home/admin.key")" "$root/$out/dist_worker"
  cleanup
}

echo "== distributed $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $COMMIT"
run_on "${TMPDIR:-/tmp}"
if [ -d /dev/shm ] && [ -w /dev/shm ] && [ "$(stat -f -c %T /dev/shm)" != "$(stat -f -c %T "${TMPDIR:-/tmp}")" ]; then
  run_on /dev/shm
fi
