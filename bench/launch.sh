#!/usr/bin/env bash
# launch.sh — how long it takes to get N workers running and to learn that
# they ended: Oast's executor pools against the plain tools, in the same
# run, on the same machine.
#
# Four ways of running the same N workers (bench/launch.c: each notes the
# time it started, holds HOLD_MS, notes the time it exits):
#   pool-local   Oast's local executor (exec_local_new), N jobs of 1 CPU
#   mpirun       plain `mpirun -np N` (Open MPI), its peer on one machine
#   pool-slurm   Oast's Slurm executor (exec_slurm_new), N jobs of 1 CPU
#   sbatch       N plain `sbatch --wait` at once, its peer on Slurm
# Two figures each: launch_ms, from the moment the launcher is asked to
# the moment the last of the N workers runs; result_ms, from the last
# worker's exit to the moment the launcher knows (the pool's last
# on_exit, or the peer command's return). Slurm runs on a one-node test
# cluster (tests/tools/slurm-cluster.sh) started here with N CPUs and
# stopped at the end. Every round runs the four in turn; the table gives
# the median of ROUNDS and the best; JSON lines go to
# bench/results/launch.jsonl.
#
#   bench/launch.sh            N=8 ROUNDS=5 HOLD_MS=500 bench/launch.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-4}
ROUNDS=${ROUNDS:-5}
HOLD_MS=${HOLD_MS:-1000}
CC=${CC:-cc}
PY=${PYTHON:-/usr/bin/python3}
results=${BENCH_RESULTS:-bench/results/launch.jsonl}
out=build/bench
mkdir -p "$out" bench/results

$CC -std=gnu11 -O2 -Wall -Wextra -Wno-unused-parameter -Iinclude -Isrc \
  -o "$out/launch" bench/launch.c src/exec/exec.c src/exec/gpu.c src/exec/common.c \
  src/exec/local.c src/exec/slurm.c src/exec/slurmcli.c \
  src/util/alloc.c src/util/buf.c src/util/error.c src/util/log.c src/util/fs.c -lpthread
launch=$(pwd)/$out/launch

tmp=$(mktemp -d "${TMPDIR:-/tmp}/oast-bench-launch.XXXXXX")
cluster=$tmp/cluster
cleanup() {
  tests/tools/slurm-cluster.sh stop "$cluster" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
OAST_SLURM_CPUS=$N tests/tools/slurm-cluster.sh start "$cluster" >/dev/null
export SLURM_CONF=$cluster/slurm.conf
mpi=(mpirun --oversubscribe -np "$N")
[ "$(id -u)" -eq 0 ] && mpi=(mpirun --allow-run-as-root --oversubscribe -np "$N")

loadavg=$(cut -d' ' -f1-3 /proc/loadavg)
rows=$tmp/rows
: > "$rows"
for round in $(seq "$ROUNDS"); do
  for method in pool-local mpirun pool-slurm sbatch; do
    times=$tmp/times-$method-$round
    : > "$times"
    case $method in
      pool-local) line=$("$launch" pool local "$N" "$launch" "$times" "$HOLD_MS") ;;
      pool-slurm) line=$("$launch" pool slurm "$N" "$launch" "$times" "$HOLD_MS" "$tmp/spool" "$SLURM_CONF") ;;
      mpirun) line=$("$launch" cmd 1 -- "${mpi[@]}" "$launch" worker "$times" "$HOLD_MS") ;;
      sbatch) line=$("$launch" cmd "$N" -- sbatch --wait --quiet --output=/dev/null --cpus-per-task=1 \
                       --wrap "$launch worker $times $HOLD_MS") ;;
    esac
    echo "$method $round $line $times" >> "$rows"
  done
done

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
N=$N ROUNDS=$ROUNDS HOLD_MS=$HOLD_MS COMMIT=$commit CPU=$cpu LOADAVG=$loadavg RESULTS=$results \
  "$PY" - "$rows" <<'EOF'
import json, os, statistics, sys, time, platform

n = int(os.environ["N"])
per = {}
for line in open(sys.argv[1]):
    method, rnd, _, t0, _, result, times = line.split()
    starts, exits = [], []
    for t in open(times):
        kind, us = t.split()
        (starts if kind == "start" else exits).append(int(us))
    if len(starts) != n or len(exits) != n:
        sys.exit("launch.sh: %s round %s: %d starts and %d exits, not %d" % (method, rnd, len(starts), len(exits), n))
    per.setdefault(method, []).append(((max(starts) - int(t0)) / 1000.0, (int(result) - max(exits)) / 1000.0))

names = {"pool-local": "Oast local pool", "mpirun": "mpirun -np N", "pool-slurm": "Oast Slurm pool",
         "sbatch": "N x sbatch --wait"}
peer = {"pool-local": "mpirun", "pool-slurm": "sbatch"}
med = {m: (statistics.median(a for a, _ in v), statistics.median(b for _, b in v)) for m, v in per.items()}
best = {m: (min(a for a, _ in v), min(b for _, b in v)) for m, v in per.items()}
print("launch: N=%d workers holding %s ms, %s rounds, %d CPUs (%s), load %s" % (
    n, os.environ["HOLD_MS"], os.environ["ROUNDS"], os.cpu_count(), os.environ["CPU"], os.environ["LOADAVG"]))
print("%-20s %14s %14s %14s %14s" % ("", "launch_ms med", "launch_ms best", "result_ms med", "result_ms best"))
for m in ("pool-local", "mpirun", "pool-slurm", "sbatch"):
    print("%-20s %14.1f %14.1f %14.1f %14.1f" % (names[m], med[m][0], best[m][0], med[m][1], best[m][1]))
date = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
machine = {"cpus": os.cpu_count(), "cpu": os.environ["CPU"], "kernel": "%s %s" % (platform.system(), platform.release()),
           "loadavg_before": os.environ["LOADAVG"]}
with open(os.environ["RESULTS"], "a") as f:
    for m, p in peer.items():
        f.write(json.dumps({"figure": "launch." + m, "date": date, "commit": os.environ["COMMIT"], "machine": machine,
                            "workers": n, "hold_ms": int(os.environ["HOLD_MS"]), "rounds": int(os.environ["ROUNDS"]),
                            "launch_ms": round(med[m][0], 1), "result_ms": round(med[m][1], 1),
                            "launch_ms_best": round(best[m][0], 1), "result_ms_best": round(best[m][1], 1),
                            "peer": names[p], "peer_launch_ms": round(med[p][0], 1),
                            "peer_result_ms": round(med[p][1], 1),
                            "peer_launch_ms_best": round(best[p][0], 1), "peer_result_ms_best": round(best[p][1], 1)},
                           separators=(",", ":")) + "\n")
EOF
