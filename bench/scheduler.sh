#!/usr/bin/env bash
# bench/scheduler.sh — the experiment scheduler's figures, through the real
# server (bench/scheduler.py has the details):
#   scheduler.overhead     N no-op trials at parallelism P through the
#                          experiment service against `xargs -P P` spawning
#                          the same program, same run; aim ratio <= 1.2
#   scheduler.utilization  trials of random durations keep the slots busy;
#                          aim >= 98% of slot-time between first start and last end
#   scheduler.asha_vs_grid wall time to reach the grid's best metric on
#                          synthetic learning curves; aim grid / ASHA >= 3
# Results are printed and appended as JSON lines to bench/results/scheduler.jsonl.
#
# Knobs: N (10000), P (2, also the server's --cpus), ROUNDS (3), FIGURES
# (overhead,utilization,asha), UTIL_TRIALS (200), UTIL_MIN/UTIL_MAX (0.05/0.25
# seconds), ASHA_K (27 configurations), ASHA_R (27 steps), ASHA_STEP_MS (50),
# BENCH_RESULTS, PYTHON (/usr/bin/python3).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
P=${P:-2}
PYTHON=${PYTHON:-/usr/bin/python3}
export N=${N:-10000} P ROUNDS=${ROUNDS:-3}

die() { echo "bench/scheduler.sh: $*" >&2; exit 1; }
command -v xargs >/dev/null || die "xargs is missing"

make -s -j"$(nproc)" build/oast build/liboast.so >/dev/null || die "cannot build"
out=build/bench
mkdir -p "$out" bench/results
printf 'int main(void) { return 0; }\n' > "$out/noop.c"
cc -O2 -o "$out/noop" "$out/noop.c"
cat > "$out/sleeper.c" <<'EOF'
/* Sleeps the trial's parameter d (seconds). */
#include <time.h>
#include "oast/trial.h"
int main(void) {
  double d = oast_trial_param_double("d", 0.1);
  struct timespec ts = {(time_t)d, (long)((d - (time_t)d) * 1e9)};
  nanosleep(&ts, NULL);
  return 0;
}
EOF
cc -O2 -Iinclude -o "$out/sleeper" "$out/sleeper.c" -Lbuild -loast -Wl,-rpath,"$root/build"
cc -O2 -Iinclude -o "$out/trial_curve" examples/trial_curve.c -Lbuild -loast -lm -Wl,-rpath,"$root/build"

# One server per data home: $TMPDIR (the disk, as a server normally runs)
# and, for the overhead figure, /dev/shm (tmpfs) when it exists, which
# separates the scheduler's own cost from the filesystem's cost of
# creating each trial's folder and files (see docs/BENCHMARKS.md).
home= pid=
cleanup() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null && wait "$pid" || true; fi
  [ -n "$home" ] && rm -rf "$home"
  pid= home=
}
trap cleanup EXIT INT TERM

run_on() { # DIR FIGURES
  home=$(mktemp -d "$1/oast-bench-sched.XXXXXX")
  build/oast server --home "$home" --listen 127.0.0.1:0 --cpus "$P" --gpus "" >"$home/server.out" 2>&1 &
  pid=$!
  for _ in $(seq 100); do [ -s "$home/run/server.addr" ] && break; sleep 0.1; done
  [ -s "$home/run/server.addr" ] || die "the server did not start: $(cat "$home/server.out")"
  SERVER_PID=$pid HOME_FS=$(stat -f -c %T "$home") FIGURES=$2 "$PYTHON" bench/scheduler.py "$(cat "$home/run/server.addr")" \
    "$(cat "$home/admin.key")" "$root/$out/noop" "$root/$out/sleeper" "$root/$out/trial_curve"
  cleanup
}

echo "== scheduler $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
figures=${FIGURES:-overhead,utilization,asha}
run_on "${TMPDIR:-/tmp}" "$figures"
if [ -d /dev/shm ] && [ -w /dev/shm ] && [ "$(stat -f -c %T /dev/shm)" != "$(stat -f -c %T "${TMPDIR:-/tmp}")" ] &&
  [[ ",$figures," == *",overhead,"* ]]; then
  run_on /dev/shm overhead
fi
