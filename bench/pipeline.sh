#!/usr/bin/env bash
# bench/pipeline.sh — the pipeline runner's overhead per task: a wide
# pipeline of N tiny tasks (default 1000, no dependencies between them),
# each a job that runs `true`, on a server with P executor slots (default
# 2), against the same N commands run with `xargs -P P` in the same run.
# Best of ROUNDS (default 3) for each. Prints the machine, both times, the
# overhead per task ((pipeline - xargs) / N), the ratio and the server's
# own CPU time per task (steadier than wall time on a shared machine), and
# appends the same to bench/results/pipeline.txt.
#
# What a pipeline task costs beyond its process: a job run row, a job
# token (made and revoked), the program copied into a private run
# directory, a log file, the task's state written before and after, and
# the scheduler's round trip. The xargs side runs the same staged program
# with the same arguments, so the difference is the platform's.
#
#   bench/pipeline.sh            N=200 ROUNDS=1 bench/pipeline.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
N=${N:-1000}
P=${P:-2}
ROUNDS=${ROUNDS:-3}
results=${BENCH_RESULTS:-bench/results/pipeline.txt}

die() { echo "bench/pipeline.sh: $*" >&2; exit 1; }
command -v curl >/dev/null || die "curl is missing; run scripts/install-deps"
make -s -j"$(nproc)" build/oast >/dev/null || die "cannot build build/oast"
mkdir -p "$(dirname "$results")"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/oast-bench-pipeline.XXXXXX")
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null && wait "$pid" || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

build/oast server --home "$tmp/home" --listen 127.0.0.1:0 --cpus "$P" >"$tmp/server.out" 2>&1 &
pid=$!
for _ in $(seq 300); do [ -s "$tmp/home/run/server.addr" ] && break; sleep 0.05; done
[ -s "$tmp/home/run/server.addr" ] || die "the server did not start: $(cat "$tmp/server.out")"
addr=$(cat "$tmp/home/run/server.addr")
key=$(cat "$tmp/home/admin.key")
api() { # METHOD PATH [curl args...]
  local m=$1 p=$2
  shift 2
  curl -sf -X "$m" -H "Authorization: Bearer $key" "$@" "$addr/api/v1$p"
}

truebin=$(type -P true)
api POST /projects -d '{"name": "bench"}' >/dev/null
api PUT /projects/bench/files/Resources/true --data-binary @"$truebin" >/dev/null
api POST /projects/bench/jobs -d '{"name": "t", "type": "binary", "program": "Resources/true"}' >/dev/null
{
  echo '{"name": "wide", "tasks": ['
  for i in $(seq "$N"); do
    [ "$i" -gt 1 ] && printf ','
    printf '{"name": "t%d", "type": "job", "job": "t"}\n' "$i"
  done
  echo ']}'
} >"$tmp/wide.json"
api POST /projects/bench/pipelines -H 'Content-Type: application/json' --data-binary @"$tmp/wide.json" >/dev/null

now() { date +%s.%N; }

cpu_s() { # the server's CPU time so far (user + system), in seconds
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) / hz }' "/proc/$pid/stat"
}

pipeline_round() { # prints the seconds from the POST of the run to its end, and the server's CPU seconds
  local t0 c0 id state
  c0=$(cpu_s)
  t0=$(now)
  id=$(api POST /projects/bench/pipelines/wide/runs | sed -n 's/^{"id":\([0-9]*\).*/\1/p')
  [ -n "$id" ] || die "could not start a run"
  while :; do
    # The run list's summary (task counts), not the run with all its tasks: the poll stays cheap.
    state=$(api GET "/projects/bench/pipelines/wide/runs?limit=1" |
      sed -n 's/^{"items":\[{"id":'"$id"',"pipeline":"wide","state":"\([a-z]*\)".*/\1/p')
    [ "$state" != running ] && break
    sleep 0.02
  done
  [ "$state" = succeeded ] || die "run $id ended $state"
  echo "$(echo "$(now) - $t0" | bc -l) $(echo "$(cpu_s) - $c0" | bc -l)"
}

xargs_round() {
  local t0
  mkdir -p "$tmp/x"
  cp "$truebin" "$tmp/x/true"
  t0=$(now)
  seq "$N" | xargs -P "$P" -I{} "$tmp/x/true" >/dev/null
  echo "$(now) - $t0" | bc -l
}

best_p= best_x= best_cpu=
rows=()
for r in $(seq "$ROUNDS"); do
  x=$(xargs_round)
  read -r pl cpu < <(pipeline_round)
  rows+=("$(printf '%-5d %9.3f %11.3f %14.3f' "$r" "$x" "$pl" "$cpu")")
  if [ -z "$best_x" ] || [ "$(echo "$x < $best_x" | bc -l)" = 1 ]; then best_x=$x; fi
  if [ -z "$best_p" ] || [ "$(echo "$pl < $best_p" | bc -l)" = 1 ]; then best_p=$pl; fi
  if [ -z "$best_cpu" ] || [ "$(echo "$cpu < $best_cpu" | bc -l)" = 1 ]; then best_cpu=$cpu; fi
done

{
  echo "== pipeline $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(uname -sr)"
  echo "round   xargs_s  pipeline_s  server_cpu_s"
  printf '%s\n' "${rows[@]}"
  echo "best of $ROUNDS, $N tasks in one wide pipeline, $P slots:"
  printf '  xargs -P%d       %8.3f s  %8.1f us/task\n' "$P" "$best_x" "$(echo "$best_x * 1000000 / $N" | bc -l)"
  printf '  pipeline        %8.3f s  %8.1f us/task  ratio %.2f\n' "$best_p" "$(echo "$best_p * 1000000 / $N" | bc -l)" \
    "$(echo "$best_p / $best_x" | bc -l)"
  printf '  overhead per task: %.2f ms of wall time; the server spent %.2f ms of CPU per task\n' \
    "$(echo "($best_p - $best_x) * 1000 / $N" | bc -l)" "$(echo "$best_cpu * 1000 / $N" | bc -l)"
} | tee -a "$results"
