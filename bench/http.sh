#!/usr/bin/env bash
# bench/http.sh — the HTTP figures: requests/s, p50/p99 latency and the
# server's CPU time per request of `GET /api/v1/health` and of a file stat
# (`GET /api/v1/projects/P/files/Resources/f.txt?op=stat`, authenticated),
# each as a ratio against libmicrohttpd's hello world (bench/hello.c, built
# here and run with the same daemon configuration and thread count), plus
# the idle server's memory (VmRSS, VmHWM) right after start against the
# same peer's.
#
# Both servers run on loopback ports picked by the kernel, and wrk loads
# them one after the other with the same parameters, so the peer is
# measured in the same run on the same machine. The absolute numbers, the
# ratios and the machine's description are printed as a table and
# appended as JSON lines to bench/results/http.jsonl.
#
# Knobs (environment): BENCH_DURATION (seconds per measured run, default
# 8), BENCH_ROUNDS (interleaved rounds, the best is kept, default 2),
# BENCH_WARMUP (seconds of unmeasured load before each, default 2),
# BENCH_CONNECTIONS (default 32), BENCH_WRK_THREADS (default 2),
# BENCH_SERVER_THREADS (worker threads of both servers, default 4, Oast's
# default), BENCH_RESULTS (the JSON lines file).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. bench/lib.sh

duration=${BENCH_DURATION:-8}
rounds=${BENCH_ROUNDS:-2}
warmup=${BENCH_WARMUP:-2}
conns=${BENCH_CONNECTIONS:-32}
wrk_threads=${BENCH_WRK_THREADS:-2}
srv_threads=${BENCH_SERVER_THREADS:-4}
results=${BENCH_RESULTS:-bench/results/http.jsonl}
aim_ratio=0.8
aim_rss_kb=$((20 * 1024))

die() { echo "bench/http.sh: $*" >&2; exit 1; }
command -v wrk >/dev/null || die "wrk is missing; run scripts/install-deps"
command -v curl >/dev/null || die "curl is missing; run scripts/install-deps"

# ---- build ----
make -s -j"$(nproc)" build/oast >/dev/null || die "cannot build build/oast"
mkdir -p build/bench
cc -std=gnu11 -O2 -Wall -Wextra -Werror -Wno-unused-parameter bench/hello.c -o build/bench/hello \
  $(pkg-config --cflags --libs libmicrohttpd) -lpthread || die "cannot build bench/hello.c"

# ---- servers, stopped cleanly whatever happens ----
tmp=$(mktemp -d)
oast_pid= hello_pid=
stop() { # PID NAME: SIGTERM, then wait for a clean exit
  local pid=$1 name=$2 rc=0
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  wait "$pid" || rc=$?
  [ "$rc" -eq 0 ] || echo "bench/http.sh: $name exited with status $rc" >&2
}
cleanup() {
  stop "$oast_pid" "oast server"
  stop "$hello_pid" "hello"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM


build/oast server --home "$tmp/home" --listen 127.0.0.1:0 --threads "$srv_threads" \
  >"$tmp/oast.out" 2>"$tmp/oast.log" &
oast_pid=$!
build/bench/hello 0 "$srv_threads" >"$tmp/hello.out" 2>&1 &
hello_pid=$!
oast_url=$(wait_line "$tmp/oast.out" '^oast server listening on ' "$oast_pid" | sed 's/^oast server listening on //') ||
  { cat "$tmp/oast.log" >&2; die "the oast server did not start"; }
hello_url=$(wait_line "$tmp/hello.out" '^hello listening on ' "$hello_pid" | sed 's/^hello listening on //') ||
  { cat "$tmp/hello.out" >&2; die "hello did not start"; }

# ---- idle memory, before any request ----
sleep 1
mem() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; } # PID FIELD -> kB
oast_rss=$(mem "$oast_pid" VmRSS) oast_hwm=$(mem "$oast_pid" VmHWM)
hello_rss=$(mem "$hello_pid" VmRSS) hello_hwm=$(mem "$hello_pid" VmHWM)

# ---- a project with a file, for the stat figure ----
key=$(head -n1 "$tmp/home/admin.key")
auth="Authorization: Bearer $key"
api() { curl -sS --fail-with-body -H "$auth" "$@"; }
api -X POST -H 'Content-Type: application/json' -d '{"name":"bench","description":"bench/http.sh"}' \
  "$oast_url/api/v1/projects" >/dev/null || die "cannot create the project"
printf 'a small file for the stat figure\n' >"$tmp/f.txt"
api -X PUT --data-binary @"$tmp/f.txt" "$oast_url/api/v1/projects/bench/files/Resources/f.txt" >/dev/null ||
  die "cannot upload the file"
stat_path=/api/v1/projects/bench/files/Resources/f.txt?op=stat
api "$oast_url$stat_path" | grep -q '"name": *"f.txt"' || die "the stat answer does not name the file"

# ---- load ----
# One round loads hello, then health, then stat; rounds are interleaved so
# that a neighbour's burst of work on a shared machine hurts every
# figure alike, and each figure keeps its best round (the least disturbed).
hz=$(getconf CLK_TCK)
declare -A rps p50 p99 cpu_us
run_wrk() { # NAME PID URL [wrk args]: one measured run; keeps it if it beats the best so far
  local name=$1 pid=$2 url=$3
  shift 3
  [ "$warmup" -gt 0 ] && wrk -t"$wrk_threads" -c"$conns" -d"${warmup}s" "$@" "$url" >/dev/null
  local out t0 t1
  t0=$(cpu_ticks "$pid")
  out=$(wrk -t"$wrk_threads" -c"$conns" -d"${duration}s" --latency "$@" "$url")
  t1=$(cpu_ticks "$pid")
  if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
    echo "$out" >&2
    die "$name: wrk saw errors or non-2xx answers"
  fi
  local r n
  r=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
  n=$(awk '/ requests in / { print $1 }' <<<"$out")
  if [ -z "${rps[$name]:-}" ] || awk -v a="$r" -v b="${rps[$name]}" 'BEGIN { exit !(a > b) }'; then
    rps[$name]=$r
    p50[$name]=$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
    p99[$name]=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
    cpu_us[$name]=$(awk -v d=$((t1 - t0)) -v hz="$hz" -v n="$n" 'BEGIN { printf "%.2f", d * 1e6 / hz / n }')
  fi
}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for _ in $(seq "$rounds"); do
  run_wrk hello "$hello_pid" "$hello_url/"
  run_wrk health "$oast_pid" "$oast_url/api/v1/health"
  run_wrk stat "$oast_pid" "$oast_url$stat_path" -H "$auth"
done
oast_rss_after=$(mem "$oast_pid" VmRSS)

# ---- report ----
ncpu=$(nproc)
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
kernel=$(uname -sr)
date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
machine="$ncpu CPUs ($cpu), $kernel"
wrk_args="-t$wrk_threads -c$conns -d${duration}s --latency"
declare -A ratio_rps ratio_p99 ratio_cpu

r_rss=$(ratio "$oast_rss" "$hello_rss")

echo
echo "HTTP on loopback: Oast against libmicrohttpd's hello world (bench/hello.c, same daemon setup)"
echo "machine: $machine; load average before: $load_before; $date; commit $commit"
echo "wrk $wrk_args, best of $rounds interleaved rounds, ${warmup}s warm-up before each run;"
echo "each server with $srv_threads worker threads"
echo "note: wrk and both servers share these $ncpu CPUs (and whatever else runs on the machine),"
echo "      so absolute rates are bounded by the load generator as much as by the server;"
echo "      the ratio is the figure. cpu_us is the server's own CPU time per request."
echo
row='%-17s %8s %7s %7s %7s %9s %9s %9s  %s\n'
printf "$row" figure req/s p50_ms p99_ms cpu_us ratio_rps ratio_p99 ratio_cpu "aim: ratio_rps >= $aim_ratio"
declare -A label=([hello]="hello GET /" [health]="oast GET /health" [stat]="oast file stat")
for f in hello health stat; do
  ratio_rps[$f]=$(ratio "${rps[$f]}" "${rps[hello]}")
  ratio_p99[$f]=$(ratio "${p99[$f]}" "${p99[hello]}")
  ratio_cpu[$f]=$(ratio "${cpu_us[$f]}" "${cpu_us[hello]}")
  if [ "$f" = hello ]; then v=peer; else v=$(verdict "${ratio_rps[$f]}" "$aim_ratio" ge); fi
  printf "$row" "${label[$f]}" "$(printf '%.0f' "${rps[$f]}")" "${p50[$f]}" "${p99[$f]}" "${cpu_us[$f]}" \
    "${ratio_rps[$f]}" "${ratio_p99[$f]}" "${ratio_cpu[$f]}" "$v"
done
echo
row='%-26s %10s %10s %10s  %s\n'
printf "$row" memory VmRSS_kB VmHWM_kB ratio_RSS "aim: RSS <= $aim_rss_kb kB"
printf "$row" "hello, idle after start" "$hello_rss" "$hello_hwm" 1.000 peer
printf "$row" "oast, idle after start" "$oast_rss" "$oast_hwm" "$r_rss" "$(verdict "$oast_rss" "$aim_rss_kb" le)"
printf "$row" "oast, after the load" "$oast_rss_after" "" "" ""
echo

common="\"date\":$(jstr "$date"),\"commit\":$(jstr "$commit"),\"machine\":{\"cpus\":$ncpu,\"cpu\":$(jstr "$cpu"),\"kernel\":$(jstr "$kernel"),\"loadavg_before\":$(jstr "$load_before")},\"wrk\":$(jstr "$wrk_args"),\"rounds\":$rounds,\"warmup_s\":$warmup,\"server_threads\":$srv_threads"
peer="\"peer\":\"libmicrohttpd hello world\",\"peer_rps\":${rps[hello]},\"peer_p50_ms\":${p50[hello]},\"peer_p99_ms\":${p99[hello]},\"peer_cpu_us_per_req\":${cpu_us[hello]}"
figure_line() { # FIGURE NAME
  echo "{\"figure\":\"$1\",$common,\"rps\":${rps[$2]},\"p50_ms\":${p50[$2]},\"p99_ms\":${p99[$2]},\"cpu_us_per_req\":${cpu_us[$2]},$peer,\"ratio_rps\":${ratio_rps[$2]},\"ratio_p99\":${ratio_p99[$2]},\"ratio_cpu\":${ratio_cpu[$2]},\"aim_ratio_rps\":$aim_ratio}"
}
mkdir -p "$(dirname "$results")"
{
  figure_line http.health health
  figure_line http.file_stat stat
  echo "{\"figure\":\"http.idle_rss\",$common,\"rss_kb\":$oast_rss,\"hwm_kb\":$oast_hwm,\"rss_after_load_kb\":$oast_rss_after,\"peer\":\"libmicrohttpd hello world\",\"peer_rss_kb\":$hello_rss,\"peer_hwm_kb\":$hello_hwm,\"ratio_rss\":$r_rss,\"aim_rss_kb\":$aim_rss_kb}"
} >>"$results"
echo "appended 3 lines to $results"
