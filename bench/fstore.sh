#!/usr/bin/env bash
# bench/fstore.sh — the offline feature store figures, against DuckDB in
# the same run on the same file:
#
#   fstore.ingest_csv   `oast fg insert` of a 1M-row, 10-column CSV into a
#                       new feature group (parse, key checks, Parquet write,
#                       statistics, commit) vs DuckDB's
#                       COPY (SELECT * FROM read_csv(...)) TO 'x.parquet'
#   fstore.read_csv     GET .../data?format=csv of that group into a file
#                       vs DuckDB's COPY (SELECT * FROM read_parquet(...))
#                       TO 'x.csv'
#   fstore.stats_10m    GET .../statistics of a 10M-row group (10 commits
#                       of 1M rows): read from the metadata kept with the
#                       commit, no scan. For contrast, DuckDB computing the
#                       same figures of one column by scanning the group's
#                       10 Parquet files.
#
# The input comes from bench/fstore_gen.py (fixed seed). DuckDB is
# @duckdb/node-api, installed by tests/tools/duckdb-setup.sh into the
# git-ignored tests/.tools; its times are measured inside node around the
# statement alone (no process start), Oast's around the whole client call
# (process start, upload, answer), so the comparison is not in Oast's
# favour. Each figure keeps the best of BENCH_ROUNDS interleaved rounds.
# Beside the wall-clock time, each side's CPU time (user + system, all
# threads) is measured: Oast's server plus its client process, and
# DuckDB's node process around the statement. On a machine shared with
# other work the wall-clock times swing with the neighbours' load while
# the CPU times hardly do, so the CPU ratio is the steadier figure.
# The table goes to stdout and JSON lines to bench/results/fstore.jsonl.
#
# Knobs: BENCH_ROWS (1000000), BENCH_ROUNDS (3), BENCH_BIG_COMMITS (10:
# the statistics group has BENCH_BIG_COMMITS x BENCH_ROWS rows; 0 skips
# it), BENCH_RESULTS (bench/results/fstore.jsonl).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

rows=${BENCH_ROWS:-1000000}
rounds=${BENCH_ROUNDS:-3}
big_commits=${BENCH_BIG_COMMITS:-10}
results=${BENCH_RESULTS:-bench/results/fstore.jsonl}
python=${PYTHON:-/usr/bin/python3}

die() { echo "bench/fstore.sh: $*" >&2; exit 1; }
command -v curl >/dev/null || die "curl is missing; run scripts/install-deps"
command -v node >/dev/null || die "node is missing; run scripts/install-deps"

make -s -j"$(nproc)" build/oast >/dev/null || die "cannot build build/oast"
tests/tools/duckdb-setup.sh || die "cannot install DuckDB's node client"

tmp=$(mktemp -d)
oast_pid=
cleanup() {
  if [ -n "$oast_pid" ] && kill -TERM "$oast_pid" 2>/dev/null; then wait "$oast_pid" || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "generating $rows rows ..." >&2
"$python" bench/fstore_gen.py "$rows" "$tmp/data.csv"
csv_bytes=$(stat -c %s "$tmp/data.csv")

build/oast server --home "$tmp/home" --listen 127.0.0.1:0 >"$tmp/oast.out" 2>"$tmp/oast.log" &
oast_pid=$!
for _ in $(seq 100); do [ -s "$tmp/home/run/server.addr" ] && break; sleep 0.1; done
[ -s "$tmp/home/run/server.addr" ] || { cat "$tmp/oast.log" >&2; die "the oast server did not start"; }
export OAST_ADDR OAST_API_KEY
OAST_ADDR=$(cat "$tmp/home/run/server.addr")
OAST_API_KEY=$(cat "$tmp/home/admin.key")
api="$OAST_ADDR/api/v1/projects/bench/featurestore/featuregroups"
auth="Authorization: Bearer $OAST_API_KEY"
build/oast project create bench >/dev/null
features="id:bigint,user_id:int,amount:double,score:float,category:string,name:string,active:boolean,ts:timestamp,day:date,clicks:bigint"
duck_cols="{'id':'BIGINT','user_id':'INTEGER','amount':'DOUBLE','score':'FLOAT','category':'VARCHAR','name':'VARCHAR','active':'BOOLEAN','ts':'TIMESTAMPTZ','day':'DATE','clicks':'BIGINT'}"

now() { date +%s.%N; }
hz=$(getconf CLK_TCK)
# The server's CPU seconds so far (user + system, all threads).
server_cpu() { sed 's/^.*) //' "/proc/$oast_pid/stat" | awk -v hz="$hz" '{ printf "%.3f", ($12 + $13) / hz }'; }
# Runs a command; prints its CPU seconds (user + system), from the shell's `times`.
child_cpu() {
  ( "$@" >/dev/null; times ) | tail -1 |
    awk '{ t = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); t += a[1] * 60 + a[2] } printf "%.3f", t }'
}
add() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a + b }'; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b < a) ? b : a }'; }

# DuckDB: one node process runs a statement and prints its time in seconds.
cat >"$tmp/duck.mjs" <<'EOF'
import { createRequire } from 'node:module';
const require = createRequire(process.env.TOOLS + '/package.json');
const { DuckDBInstance } = require('@duckdb/node-api');
const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
const t = performance.now();
const c = process.cpuUsage();
const r = await con.runAndReadAll(process.argv[2]);
const s = (performance.now() - t) / 1000;
const u = process.cpuUsage(c);
const rows = r.getRows();
process.stdout.write(s.toFixed(3) + ' ' + ((u.user + u.system) / 1e6).toFixed(3) +
  (rows.length ? ' ' + JSON.stringify(rows[0], (k, v) => typeof v === 'bigint' ? Number(v) : v) : '') + '\n');
EOF
duck() { TOOLS="$root/tests/.tools" node "$tmp/duck.mjs" "$1"; }

best_oi= best_di= best_or= best_dr= cpu_oi= cpu_di= cpu_or= cpu_dr=
for r in $(seq "$rounds"); do
  build/oast fg create "bench/g$r" --features "$features" --primary-key id >/dev/null
  s0=$(server_cpu)
  t0=$(now)
  c=$(child_cpu build/oast fg insert "bench/g$r" "$tmp/data.csv")
  t1=$(now)
  oi=$(elapsed "$t0" "$t1")
  coi=$(add "$c" "$(elapsed "$s0" "$(server_cpu)")")
  read -r di cdi _ < <(duck "COPY (SELECT * FROM read_csv('$tmp/data.csv', header=true, columns=$duck_cols)) TO '$tmp/duck.parquet' (FORMAT parquet)")
  s0=$(server_cpu)
  t0=$(now)
  c=$(child_cpu curl -sf -H "$auth" "$api/g$r/versions/1/data?format=csv" -o "$tmp/oast.csv")
  t1=$(now)
  or=$(elapsed "$t0" "$t1")
  cor=$(add "$c" "$(elapsed "$s0" "$(server_cpu)")")
  read -r dr cdr _ < <(duck "COPY (SELECT * FROM read_parquet('$tmp/duck.parquet')) TO '$tmp/duck.csv' (FORMAT csv, HEADER)")
  echo "round $r: oast insert $oi s ($coi s CPU), duckdb csv->parquet $di s ($cdi s CPU)," \
    "oast read $or s ($cor s CPU), duckdb parquet->csv $dr s ($cdr s CPU)" >&2
  best_oi=$(min "$best_oi" "$oi"); best_di=$(min "$best_di" "$di")
  best_or=$(min "$best_or" "$or"); best_dr=$(min "$best_dr" "$dr")
  cpu_oi=$(min "$cpu_oi" "$coi"); cpu_di=$(min "$cpu_di" "$cdi")
  cpu_or=$(min "$cpu_or" "$cor"); cpu_dr=$(min "$cpu_dr" "$cdr")
done
# Both read the same rows back.
[ "$(wc -l <"$tmp/oast.csv")" -eq $((rows + 1)) ] || die "oast's CSV has $(wc -l <"$tmp/oast.csv") lines"
[ "$(wc -l <"$tmp/duck.csv")" -eq "$(wc -l <"$tmp/data.csv")" ] || die "DuckDB's CSV has $(wc -l <"$tmp/duck.csv") lines"
oast_parquet=$(stat -c %s "$tmp/home/fs/Projects/bench/bench_featurestore.db/g1_1/"c*.parquet)
duck_parquet=$(stat -c %s "$tmp/duck.parquet")
rm -f "$tmp/oast.csv" "$tmp/duck.csv" "$tmp/duck.parquet"

# ---- statistics of a 10M-row group ----
stats_s= duck_stats_s= big_rows=0 big_ingest_s=0
if [ "$big_commits" -gt 0 ]; then
  build/oast fg create bench/big --features "$features" --primary-key id >/dev/null
  for k in $(seq 0 $((big_commits - 1))); do
    # The same rows with ids shifted past the previous commits' (only the first field changes).
    awk -F, -v OFS=, -v off=$((k * rows)) 'NR == 1 { print; next } { $1 = $1 + off; print }' "$tmp/data.csv" >"$tmp/part.csv"
    t0=$(now)
    build/oast fg insert bench/big "$tmp/part.csv" >/dev/null
    t1=$(now)
    big_ingest_s=$(awk -v a="$big_ingest_s" -v b="$(elapsed "$t0" "$t1")" 'BEGIN { printf "%.3f", a + b }')
    big_rows=$((big_rows + rows))
  done
  rm -f "$tmp/part.csv"
  for _ in 1 2 3 4 5; do
    s=$(curl -sf -H "$auth" "$api/big/versions/1/statistics" -o "$tmp/stats.json" -w '%{time_total}')
    stats_s=$(min "$stats_s" "$s")
  done
  count=$("$python" -c 'import json,sys; print({c["name"]: c for c in json.load(open(sys.argv[1]))["columns"]}["amount"]["count"])' "$tmp/stats.json")
  files="$tmp/home/fs/Projects/bench/bench_featurestore.db/big_1/c*.parquet"
  for _ in 1 2 3; do
    out=$(duck "SELECT count(amount), count(*) - count(amount), approx_count_distinct(amount), min(amount), max(amount), avg(amount), stddev_pop(amount) FROM read_parquet('$files')")
    duck_stats_s=$(min "$duck_stats_s" "${out%% *}")
  done
  duck_count=$(echo "$out" | sed 's/^[^ ]* [^ ]* \[//; s/,.*//')
  [ "$count" = "$duck_count" ] || die "the statistics count $count values of amount, DuckDB $duck_count"
fi

# ---- report ----
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'; }
ri=$(ratio "$best_oi" "$best_di")
rr=$(ratio "$best_or" "$best_dr")
rci=$(ratio "$cpu_oi" "$cpu_di")
rcr=$(ratio "$cpu_or" "$cpu_dr")
verdict() { awk -v r="$1" 'BEGIN { print (r <= 1 ? "met" : "not met") }'; }
ncpu=$(nproc)
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
kernel=$(uname -sr)
load=$(cut -d' ' -f1-3 /proc/loadavg)
date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
duck_version=$(node -e "console.log(require('$root/tests/.tools/node_modules/@duckdb/node-api/package.json').version)")
mb=$(awk -v b="$csv_bytes" 'BEGIN { printf "%.1f", b / 1048576 }')

echo
echo "machine: $ncpu CPUs ($cpu), $kernel; load average at the end: $load; $date; commit $commit"
echo "input: $rows rows x 10 columns, $mb MiB of CSV; DuckDB $duck_version; best of $rounds rounds"
fmt="%-18s %-38s %8s %9s %7s %8s %9s %7s  %s\n"
printf "$fmt" figure what oast_s duckdb_s ratio oast_cpu duck_cpu cpu_rat "aim: ratio <= 1"
printf "$fmt" fstore.ingest_csv "CSV -> feature group commit (Parquet)" "$best_oi" "$best_di" "$ri" "$cpu_oi" \
  "$cpu_di" "$rci" "$(verdict "$ri") (CPU: $(verdict "$rci"))"
printf "$fmt" fstore.read_csv "feature group -> CSV" "$best_or" "$best_dr" "$rr" "$cpu_or" "$cpu_dr" "$rcr" \
  "$(verdict "$rr") (CPU: $(verdict "$rcr"))"
if [ "$big_commits" -gt 0 ]; then
  printf "$fmt" fstore.stats_10m "statistics of $big_rows rows (GET)" "$stats_s" "$duck_stats_s" \
    "$(ratio "$stats_s" "$duck_stats_s")" - - - "from metadata; DuckDB scans one column"
  echo "the $big_rows-row group took $big_ingest_s s to ingest in $big_commits commits"
fi
echo "Parquet sizes: oast $oast_parquet bytes, DuckDB $duck_parquet bytes"

mkdir -p "$(dirname "$results")"
common="\"date\":\"$date\",\"commit\":\"$commit\",\"machine\":{\"cpus\":$ncpu,\"cpu\":\"$cpu\",\"kernel\":\"$kernel\",\"loadavg_end\":\"$load\"},\"rows\":$rows,\"csv_bytes\":$csv_bytes,\"rounds\":$rounds,\"peer\":\"DuckDB $duck_version (@duckdb/node-api)\""
{
  echo "{\"figure\":\"fstore.ingest_csv\",$common,\"oast_s\":$best_oi,\"peer_s\":$best_di,\"ratio\":$ri,\"oast_cpu_s\":$cpu_oi,\"peer_cpu_s\":$cpu_di,\"cpu_ratio\":$rci,\"oast_parquet_bytes\":$oast_parquet,\"peer_parquet_bytes\":$duck_parquet}"
  echo "{\"figure\":\"fstore.read_csv\",$common,\"oast_s\":$best_or,\"peer_s\":$best_dr,\"ratio\":$rr,\"oast_cpu_s\":$cpu_or,\"peer_cpu_s\":$cpu_dr,\"cpu_ratio\":$rcr}"
  if [ "$big_commits" -gt 0 ]; then
    echo "{\"figure\":\"fstore.stats_10m\",$common,\"group_rows\":$big_rows,\"commits\":$big_commits,\"ingest_s\":$big_ingest_s,\"oast_s\":$stats_s,\"peer_scan_one_column_s\":$duck_stats_s}"
  fi
} >>"$results"
echo "appended to $results"
