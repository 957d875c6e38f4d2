#!/usr/bin/env bash
# bench/online.sh — online feature vector lookups over HTTP: wrk on
# loopback POSTs .../featureviews/bench/versions/1/vectors with one entry
# per request and with batches of 100, each vector 10 features from 2
# online feature groups (KEYS rows each), and compares them with
#   - the HTTP ceiling: libmicrohttpd's hello world (bench/hello.c, the
#     same daemon setup, GET of a fixed body), and
#   - Redis: the same reads (an HMGET of 5 fields per group per entry)
#     from a pipelined hiredis client (bench/redis_lookup.c), with as many
#     requests in flight as wrk has connections.
# All servers and clients run on this machine in the same run; the Oast
# and Redis data are loaded from the same CSV files and spot-checked to
# answer the same values. Each wrk figure keeps its best of ROUNDS.
#
# Aim (single entries): p99 < 1 ms at >= 50% of the hello world's rate.
#
# Knobs: BENCH_KEYS (100000), BENCH_DURATION (8), BENCH_ROUNDS (2),
# BENCH_WARMUP (2), BENCH_CONNECTIONS (32), BENCH_WRK_THREADS (2),
# BENCH_SERVER_THREADS (4), BENCH_RESULTS (bench/results/online.jsonl).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. bench/lib.sh
keys=${BENCH_KEYS:-100000}
duration=${BENCH_DURATION:-8}
rounds=${BENCH_ROUNDS:-2}
warmup=${BENCH_WARMUP:-2}
conns=${BENCH_CONNECTIONS:-32}
wrk_threads=${BENCH_WRK_THREADS:-2}
srv_threads=${BENCH_SERVER_THREADS:-4}
results=${BENCH_RESULTS:-bench/results/online.jsonl}

die() { echo "bench/online.sh: $*" >&2; exit 1; }
for t in wrk curl redis-server; do command -v $t >/dev/null || die "$t is missing; run scripts/install-deps"; done

make -s -j"$(nproc)" build/oast >/dev/null || die "cannot build build/oast"
mkdir -p build/bench
cc -std=gnu11 -O2 -Wall -Wextra -Werror -Wno-unused-parameter bench/hello.c -o build/bench/hello \
  $(pkg-config --cflags --libs libmicrohttpd) -lpthread || die "cannot build bench/hello.c"
cc -std=gnu11 -O2 -Wall -Wextra -Werror bench/redis_lookup.c -o build/bench/redis_lookup -lhiredis -lpthread ||
  die "cannot build bench/redis_lookup.c"

tmp=$(mktemp -d)
oast_pid= hello_pid= redis_pid=
stop() { [ -n "$1" ] && kill -TERM "$1" 2>/dev/null && wait "$1" 2>/dev/null; return 0; }
cleanup() {
  stop "$oast_pid"
  stop "$hello_pid"
  stop "$redis_pid"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM


build/oast server --home "$tmp/home" --listen 127.0.0.1:0 --threads "$srv_threads" >"$tmp/oast.out" 2>"$tmp/oast.log" &
oast_pid=$!
build/bench/hello 0 "$srv_threads" >"$tmp/hello.out" 2>&1 &
hello_pid=$!
redis_port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >"$tmp/redis.out" 2>&1 &
redis_pid=$!
oast_url=$(wait_line "$tmp/oast.out" '^oast server listening on ' "$oast_pid" | sed 's/^oast server listening on //') ||
  { cat "$tmp/oast.log" >&2; die "the oast server did not start"; }
hello_url=$(wait_line "$tmp/hello.out" '^hello listening on ' "$hello_pid" | sed 's/^hello listening on //') ||
  die "hello did not start"
wait_line "$tmp/redis.out" 'Ready to accept connections' "$redis_pid" >/dev/null || die "redis did not start"

# ---- the same data in Oast and Redis ----
echo "loading $keys rows into 2 feature groups and into Redis..." >&2
awk -v n="$keys" 'BEGIN { print "id,f1,f2,f3,f4,f5"; for (i = 0; i < n; i++) printf "%d,%.2f,%.2f,%.2f,%.2f,%.2f\n", i, i % 1000 / 10, i % 977 / 10, i % 13, i % 7 / 4, i / 100 }' >"$tmp/A.csv"
awk -v n="$keys" 'BEGIN { print "id,g1,g2,g3,g4,g5"; for (i = 0; i < n; i++) printf "%d,%.2f,%.2f,%.2f,%.2f,%.2f\n", i, i % 31, i % 101 / 8, i % 17 / 2, i % 3, i / 1000 }' >"$tmp/B.csv"
key=$(head -n1 "$tmp/home/admin.key")
auth="Authorization: Bearer $key"
api() { curl -sS --fail-with-body -H "$auth" "$@"; }
FS="$oast_url/api/v1/projects/bench/featurestore"
api -X POST -d '{"name":"bench"}' "$oast_url/api/v1/projects" >/dev/null || die "cannot create the project"
for g in A:f B:g; do
  name=${g%%:*} p=${g##*:}
  feats='{"name":"id","type":"bigint"}'
  for i in 1 2 3 4 5; do feats="$feats,{\"name\":\"$p$i\",\"type\":\"double\"}"; done
  api -X POST -d "{\"name\":\"$name\",\"version\":1,\"online_enabled\":true,\"primary_key\":[\"id\"],\"features\":[$feats]}" \
    "$FS/featuregroups" >/dev/null || die "cannot create group $name"
  api -X POST -H 'Content-Type: text/csv' --data-binary @"$tmp/$name.csv" "$FS/featuregroups/$name/versions/1/data" \
    >/dev/null || die "cannot insert into group $name"
  build/bench/redis_lookup load 127.0.0.1 "$redis_port" "$name" "$tmp/$name.csv" >/dev/null || die "cannot load Redis"
done
api -X POST -d '{"name":"bench","query":{"featuregroup":"A","version":1,"features":["f1","f2","f3","f4","f5"],"joins":[{"featuregroup":"B","version":1}]}}' \
  "$FS/featureviews" >/dev/null || die "cannot create the feature view"
vpath=/api/v1/projects/bench/featurestore/featureviews/bench/versions/1/vectors
probe=$((keys / 2 + 7))
ov=$(api -X POST -d "{\"entries\":[{\"id\":$probe}]}" "$oast_url$vpath")
rv=$(printf 'HMGET A:%d f1 f2 f3 f4 f5\nHMGET B:%d g1 g2 g3 g4 g5\n' "$probe" "$probe" |
  redis-cli -p "$redis_port" | tr '\n' ' ')
same=$(/usr/bin/python3 -c 'import json, sys
o = json.loads(sys.argv[1])["vectors"][0]
r = [float(x) for x in sys.argv[2].split()]
print("same" if len(o) == 10 and all(abs(a - b) < 1e-9 for a, b in zip(o, r)) else "DIFFERENT")' "$ov" "$rv")
[ "$same" = same ] || die "Oast and Redis answer differently for id $probe: $ov / $rv"

# ---- load ----
declare -A rps p50 p99 cpu_us
hz=$(getconf CLK_TCK)
run_wrk() { # NAME PID URL BATCH|- : one measured run, keeping the best
  local name=$1 pid=$2 url=$3 batch=$4 out t0 t1 n
  local args=(-t"$wrk_threads" -c"$conns")
  if [ "$batch" != - ]; then
    export BENCH_PATH=$vpath BENCH_AUTH="Bearer $key" BENCH_KEYS=$keys BENCH_BATCH=$batch
    args+=(-s bench/online.lua)
  fi
  [ "$warmup" -gt 0 ] && wrk "${args[@]}" -d"${warmup}s" "$url" >/dev/null
  t0=$(cpu_ticks "$pid")
  out=$(wrk "${args[@]}" -d"${duration}s" --latency "$url")
  t1=$(cpu_ticks "$pid")
  if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then echo "$out" >&2; die "$name: wrk saw errors or non-2xx answers"; fi
  local r
  r=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
  if [ -z "${rps[$name]:-}" ] || awk -v a="$r" -v b="${rps[$name]}" 'BEGIN { exit !(a > b) }'; then
    rps[$name]=$r
    p50[$name]=$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
    p99[$name]=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
    n=$(awk '/ requests in / { print $1 }' <<<"$out")
    cpu_us[$name]=$(awk -v d=$((t1 - t0)) -v hz="$hz" -v n="$n" 'BEGIN { printf "%.1f", d * 1e6 / hz / n }')
  fi
}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
depth=$(( (conns + wrk_threads - 1) / wrk_threads ))
for _ in $(seq "$rounds"); do
  run_wrk hello "$hello_pid" "$hello_url/" -
  run_wrk single "$oast_pid" "$oast_url" 1
  run_wrk batch "$oast_pid" "$oast_url" 100
  for b in 1 100; do
    out=$(build/bench/redis_lookup run 127.0.0.1 "$redis_port" "$keys" "$b" "$duration" "$wrk_threads" "$depth") ||
      die "the Redis client failed"
    r=$(/usr/bin/python3 -c 'import json, sys; print(json.loads(sys.argv[1])["rps"])' "$out")
    if [ -z "${rps[redis$b]:-}" ] || awk -v a="$r" -v c="${rps[redis$b]}" 'BEGIN { exit !(a > c) }'; then
      rps[redis$b]=$r
      p50[redis$b]=$(/usr/bin/python3 -c 'import json, sys; print(json.loads(sys.argv[1])["p50_ms"])' "$out")
      p99[redis$b]=$(/usr/bin/python3 -c 'import json, sys; print(json.loads(sys.argv[1])["p99_ms"])' "$out")
    fi
  done
done

# ---- report ----
ncpu=$(nproc)
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
kernel=$(uname -sr)
date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
r_hello=$(ratio "${rps[single]}" "${rps[hello]}")
r_redis1=$(ratio "${rps[single]}" "${rps[redis1]}")
r_redis100=$(ratio "${rps[batch]}" "${rps[redis100]}")
verdict=$(awk -v r="$r_hello" -v p="${p99[single]}" 'BEGIN { print (r >= 0.5 && p < 1 ? "meets" : "MISSES") }')
echo
echo "Online feature vectors: 10 features from 2 online groups of $keys rows, over HTTP on loopback"
echo "machine: $ncpu CPUs ($cpu), $kernel; load average before: $load_before; $date; commit $commit"
echo "wrk -t$wrk_threads -c$conns -d${duration}s, best of $rounds rounds; Oast and hello with $srv_threads threads;"
echo "Redis: $wrk_threads pipelined hiredis connections x $depth requests in flight"
echo "cpu_us: the server's own CPU time per request (steadier than rates on a shared machine)"
row='%-30s %9s %10s %7s %8s %7s  %s\n'
printf "$row" figure req/s entries/s p50_ms p99_ms cpu_us "ratio"
printf "$row" "hello world GET (ceiling)" "$(printf %.0f "${rps[hello]}")" - "${p50[hello]}" "${p99[hello]}" \
  "${cpu_us[hello]}" peer
printf "$row" "Oast vectors, 1 entry" "$(printf %.0f "${rps[single]}")" "$(printf %.0f "${rps[single]}")" \
  "${p50[single]}" "${p99[single]}" "${cpu_us[single]}" \
  "$r_hello of hello ($verdict: aim p99 < 1 ms at >= 0.5); $r_redis1 of Redis"
printf "$row" "Oast vectors, 100 entries" "$(printf %.0f "${rps[batch]}")" \
  "$(awk -v r="${rps[batch]}" 'BEGIN { printf "%.0f", r * 100 }')" "${p50[batch]}" "${p99[batch]}" "${cpu_us[batch]}" \
  "$r_redis100 of Redis"
printf "$row" "Redis pipelined, 1 entry" "$(printf %.0f "${rps[redis1]}")" "$(printf %.0f "${rps[redis1]}")" \
  "${p50[redis1]}" "${p99[redis1]}" - peer
printf "$row" "Redis pipelined, 100 entries" "$(printf %.0f "${rps[redis100]}")" \
  "$(awk -v r="${rps[redis100]}" 'BEGIN { printf "%.0f", r * 100 }')" "${p50[redis100]}" "${p99[redis100]}" - peer
mkdir -p "$(dirname "$results")"
common="\"date\":$(jstr "$date"),\"commit\":$(jstr "$commit"),\"machine\":{\"cpus\":$ncpu,\"cpu\":$(jstr "$cpu"),\"kernel\":$(jstr "$kernel"),\"loadavg_before\":$(jstr "$load_before")},\"keys\":$keys,\"wrk\":\"-t$wrk_threads -c$conns -d${duration}s\",\"rounds\":$rounds"
{
  echo "{\"figure\":\"online.single\",$common,\"rps\":${rps[single]},\"p50_ms\":${p50[single]},\"p99_ms\":${p99[single]},\"cpu_us_per_req\":${cpu_us[single]},\"hello_rps\":${rps[hello]},\"hello_cpu_us_per_req\":${cpu_us[hello]},\"hello_p99_ms\":${p99[hello]},\"ratio_hello\":$r_hello,\"redis_rps\":${rps[redis1]},\"redis_p99_ms\":${p99[redis1]},\"ratio_redis\":$r_redis1}"
  echo "{\"figure\":\"online.batch100\",$common,\"rps\":${rps[batch]},\"p50_ms\":${p50[batch]},\"p99_ms\":${p99[batch]},\"cpu_us_per_req\":${cpu_us[batch]},\"redis_rps\":${rps[redis100]},\"redis_p99_ms\":${p99[redis100]},\"ratio_redis\":$r_redis100}"
} >>"$results"
echo "appended 2 lines to $results"
