#!/usr/bin/env bash
# bench/pitjoin.sh — the point-in-time join figure: a label table of ROWS
# rows against two feature groups of ROWS rows each, over KEYS keys (ids
# uniform, event times uniform over a year, rows unsorted), joined as of
# each label's time, by Oast's join (src/fstore/pitjoin.c, through
# bench/pitjoin_bench.c on in-memory tables) and by DuckDB's ASOF LEFT JOIN
# (bench/pitjoin_duckdb.mjs, on tables loaded in memory from the Parquet
# files Oast wrote, the result materialized with CREATE TABLE AS), in the
# same run on the same machine. Both produce all 13 columns for every
# label row; the script checks that both found the same matches (counts
# equal, sums of two feature columns equal to 1e-9) before it reports.
# Loading is not timed on either side. Each side runs RUNS times and keeps
# its best; both use every CPU.
#
# Knobs: BENCH_ROWS (10000000), BENCH_KEYS (100000), BENCH_RUNS (3),
# BENCH_RESULTS (bench/results/pitjoin.jsonl). Needs about 10 GB of memory
# at the default size (DuckDB's share is the larger).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
rows=${BENCH_ROWS:-10000000}
keys=${BENCH_KEYS:-100000}
runs=${BENCH_RUNS:-3}
results=${BENCH_RESULTS:-bench/results/pitjoin.jsonl}

die() { echo "bench/pitjoin.sh: $*" >&2; exit 1; }
command -v node >/dev/null || die "node is missing; run scripts/install-deps"

make -s -j"$(nproc)" build/oast >/dev/null || die "cannot build"
mkdir -p build/bench
objs=$(ls build/obj/src/*/*.o build/obj/src/formats/parquet/*.o | grep -v -e '/cli/' -e '/main\.o$')
# shellcheck disable=SC2086
cc -std=gnu11 -O2 -Iinclude -Isrc bench/pitjoin_bench.c $objs -o build/bench/pitjoin_bench \
  $(pkg-config --libs libmicrohttpd gnutls libcurl jansson sqlite3 libargon2 lmdb libzstd zlib yaml-0.1 hdf5) \
  -lsnappy -lpthread -lm || die "cannot build bench/pitjoin_bench.c"
tests/tools/duckdb-setup.sh || die "cannot install DuckDB's node client"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "generating $rows label rows and 2 x $rows feature rows over $keys keys, joining with Oast ($runs runs)..." >&2
oast=$(build/bench/pitjoin_bench "$rows" "$keys" "$runs" "$tmp")
echo "joining with DuckDB ($runs runs)..." >&2
duck=$(node bench/pitjoin_duckdb.mjs "$tmp" "$runs")

py() { /usr/bin/python3 -c "$1" "$oast" "$duck"; }
check=$(py 'import json,sys
a,b=json.loads(sys.argv[1]),json.loads(sys.argv[2])
ok=a["matched_fg1"]==b["matched_fg1"] and a["matched_fg2"]==b["matched_fg2"] and b["rows"]==a["rows"]
ok=ok and all(abs(a[k]-b[k])<=1e-9*max(1,abs(b[k])) for k in ("sum_f1","sum_g1"))
print("same" if ok else "DIFFERENT")')
[ "$check" = same ] || { echo "oast: $oast" >&2; echo "duckdb: $duck" >&2; die "the two joins disagree"; }

best() { py "import json,sys; print('%.3f' % min(json.loads(sys.argv[$1])['times_s']))"; }
t_oast=$(best 1)
t_duck=$(best 2)
threads=$(py 'import json,sys; print(json.loads(sys.argv[2])["threads"])')
ratio=$(awk -v a="$t_duck" -v b="$t_oast" 'BEGIN { printf "%.2f", a / b }')
verdict=$(awk -v r="$ratio" 'BEGIN { print (r >= 1 ? "meets" : "MISSES") }')
ncpu=$(nproc)
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
kernel=$(uname -sr)
date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
load=$(cut -d' ' -f1-3 /proc/loadavg)

echo
echo "Point-in-time join: $rows labels x 2 feature groups of $rows rows, $keys keys, 13 output columns"
echo "machine: $ncpu CPUs ($cpu), $kernel; load average $load; $date; commit $commit"
echo "best of $runs runs each; loading not timed; DuckDB with $threads threads, Oast with $ncpu"
printf '%-28s %10s %12s  %s\n' join seconds speedup "aim: speedup >= 1 (as fast or faster)"
printf '%-28s %10s %12s  %s\n' "DuckDB ASOF LEFT JOIN" "$t_duck" 1.00 peer
printf '%-28s %10s %12s  %s\n' "Oast pit_join" "$t_oast" "$ratio" "$verdict"
echo "results agree: matched rows and feature sums are the same on both sides"
mkdir -p "$(dirname "$results")"
jstr() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }
echo "{\"figure\":\"pitjoin\",\"date\":$(jstr "$date"),\"commit\":$(jstr "$commit"),\"machine\":{\"cpus\":$ncpu,\"cpu\":$(jstr "$cpu"),\"kernel\":$(jstr "$kernel"),\"loadavg\":$(jstr "$load")},\"rows\":$rows,\"keys\":$keys,\"runs\":$runs,\"oast\":$oast,\"duckdb\":$duck,\"oast_s\":$t_oast,\"duckdb_s\":$t_duck,\"speedup\":$ratio}" >>"$results"
echo "appended 1 line to $results"
