#!/usr/bin/env bash
# bench/serving.sh — the model-serving figures, each against peers loaded
# in the same run on the same machine:
#
#   serving.xgboost_predict   a small XGBoost model (8 features, 32 trees
#       of depth 4) behind `POST /v1/models/NAME:predict`, one instance per
#       request, predicted inside the server; against libmicrohttpd's hello
#       world (bench/hello.c, the HTTP ceiling, sent the same POST) and a
#       Flask server (bench/flask_serve.py) serving the same model file.
#   serving.sklearn_batching  a scikit-learn LogisticRegression behind a
#       Python predictor deployment (2 worker processes) with batching
#       (max_batch_size 32, max_latency_ms 2), against the same deployment
#       without batching and against Flask serving the same pickle.
#
# wrk loads each target in turn with the same parameters, for interleaved
# rounds, and each keeps its best round. Before any load the script checks
# that Oast's and Flask's answers to the request are the same numbers.
# Results: a table, and JSON lines appended to bench/results/serving.jsonl.
#
# Knobs (environment): BENCH_DURATION (seconds per run, default 8),
# BENCH_ROUNDS (default 2), BENCH_WARMUP (seconds, default 2),
# BENCH_CONNECTIONS (default 32), BENCH_WRK_THREADS (default 2),
# BENCH_SERVER_THREADS (HTTP threads of Oast and hello, default 4),
# BENCH_RESULTS (the JSON lines file).
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
results=${BENCH_RESULTS:-bench/results/serving.jsonl}
python=${PYTHON:-/usr/bin/python3}
aim_ceiling=0.5 aim_flask=20 aim_p99_ms=2

die() { echo "bench/serving.sh: $*" >&2; exit 1; }
for t in wrk curl; do command -v $t >/dev/null || die "$t is missing; run scripts/install-deps"; done
"$python" -c 'import flask, xgboost, sklearn' 2>/dev/null || die "python3-flask, -xgboost, -sklearn are missing; run scripts/install-deps"

# ---- build ----
make -s -j"$(nproc)" build/oast >/dev/null || die "cannot build build/oast"
mkdir -p build/bench
cc -std=gnu11 -O2 -Wall -Wextra -Werror -Wno-unused-parameter bench/hello.c -o build/bench/hello \
  $(pkg-config --cflags --libs libmicrohttpd) -lpthread || die "cannot build bench/hello.c"

tmp=$(mktemp -d)
oast_pid= hello_pid= fxgb_pid= fsk_pid=
stop() { # PID NAME
  local pid=$1 name=$2 rc=0
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  wait "$pid" || rc=$?
  [ "$rc" -eq 0 ] || [ "$rc" -eq 143 ] || echo "bench/serving.sh: $name exited with status $rc" >&2
}
cleanup() {
  stop "$oast_pid" "oast server"
  stop "$hello_pid" hello
  stop "$fxgb_pid" "flask (xgboost)"
  stop "$fsk_pid" "flask (sklearn)"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM


# ---- the models, trained here ----
"$python" - "$tmp" <<'EOF'
import pickle, sys
import numpy as np, xgboost
from sklearn.linear_model import LogisticRegression
out = sys.argv[1]
rng = np.random.RandomState(42)
X = rng.rand(2000, 8)
y = ((X[:, 0] + X[:, 1] - X[:, 2] * X[:, 3]) > 0.7).astype(int)
xgboost.XGBClassifier(n_estimators=32, max_depth=4, random_state=1).fit(X, y).save_model(out + "/model.json")
with open(out + "/lr.pkl", "wb") as f:
    pickle.dump(LogisticRegression().fit(X, y), f)
EOF
body='{"instances": [[0.12, 0.87, 0.33, 0.51, 0.05, 0.76, 0.44, 0.91]]}'

# ---- servers ----
build/oast server --home "$tmp/home" --listen 127.0.0.1:0 --threads "$srv_threads" >"$tmp/oast.out" 2>"$tmp/oast.log" &
oast_pid=$!
build/bench/hello 0 "$srv_threads" >"$tmp/hello.out" 2>&1 &
hello_pid=$!
"$python" bench/flask_serve.py --xgboost "$tmp/model.json" >"$tmp/fxgb.out" 2>&1 &
fxgb_pid=$!
"$python" bench/flask_serve.py --sklearn "$tmp/lr.pkl" >"$tmp/fsk.out" 2>&1 &
fsk_pid=$!
oast_url=$(wait_line "$tmp/oast.out" '^oast server listening on ' "$oast_pid" | sed 's/^oast server listening on //') ||
  { cat "$tmp/oast.log" >&2; die "the oast server did not start"; }
hello_url=$(wait_line "$tmp/hello.out" '^hello listening on ' "$hello_pid" | sed 's/^hello listening on //') ||
  die "hello did not start"
fxgb_url=$(wait_line "$tmp/fxgb.out" '^flask listening on ' "$fxgb_pid" | sed 's/^flask listening on //') ||
  { cat "$tmp/fxgb.out" >&2; die "flask (xgboost) did not start"; }
fsk_url=$(wait_line "$tmp/fsk.out" '^flask listening on ' "$fsk_pid" | sed 's/^flask listening on //') ||
  { cat "$tmp/fsk.out" >&2; die "flask (sklearn) did not start"; }

key=$(head -n1 "$tmp/home/admin.key")
auth="Authorization: Bearer $key"
api() { curl -sS --fail-with-body -H "$auth" -H 'Content-Type: application/json' "$@"; }
api -X POST -d '{"name":"bench","description":"bench/serving.sh"}' "$oast_url/api/v1/projects" >/dev/null ||
  die "cannot create the project"
api -X PUT --data-binary @"$tmp/model.json" "$oast_url/api/v1/projects/bench/files/Resources/xgb/model.json" >/dev/null
api -X PUT --data-binary @"$tmp/lr.pkl" "$oast_url/api/v1/projects/bench/files/Resources/lr/lr.pkl" >/dev/null
api -X POST -d '{"name":"xgbsmall","framework":"xgboost","path":"Resources/xgb"}' "$oast_url/api/v1/projects/bench/models" >/dev/null
api -X POST -d '{"name":"lr","framework":"sklearn","path":"Resources/lr"}' "$oast_url/api/v1/projects/bench/models" >/dev/null
deploy() { # NAME JSON-SPEC
  api -X POST -d "$2" "$oast_url/api/v1/projects/bench/deployments" >/dev/null || die "cannot create deployment $1"
  api -X POST "$oast_url/api/v1/projects/bench/deployments/$1/start" >/dev/null || die "cannot start deployment $1"
  for _ in $(seq 600); do
    state=$(api "$oast_url/api/v1/projects/bench/deployments/$1" | "$python" -c 'import json,sys; print(json.load(sys.stdin)["state"])')
    [ "$state" = running ] && return 0
    [ "$state" = starting ] || die "deployment $1 is $state"
    sleep 0.1
  done
  die "deployment $1 did not start"
}
deploy xgbsmall '{"name":"xgbsmall","model":"xgbsmall","predictor":{"type":"xgboost"}}'
deploy skbatch '{"name":"skbatch","model":"lr","predictor":{"type":"python"},"instances":2,"batching":{"max_batch_size":32,"max_latency_ms":2}}'
deploy sknobatch '{"name":"sknobatch","model":"lr","predictor":{"type":"python"},"instances":2}'

# ---- the answers agree before anything is measured ----
post() { curl -sS --fail-with-body -H "$auth" -H 'Content-Type: application/json' -d "$body" "$1"; }
same() { # A B: the same predictions, as float32
  "$python" -c 'import json,sys,numpy as np
a, b = (np.asarray(json.loads(s)["predictions"], dtype=np.float32) for s in sys.argv[1:3])
sys.exit(0 if a.shape == b.shape and (a == b).all() else 1)' "$1" "$2"
}
same "$(post "$oast_url/v1/models/xgbsmall:predict")" "$(post "$fxgb_url/v1/models/xgbsmall:predict")" ||
  die "Oast's and Flask's XGBoost predictions differ"
same "$(post "$oast_url/v1/models/skbatch:predict")" "$(post "$fsk_url/v1/models/lr:predict")" ||
  die "Oast's and Flask's scikit-learn predictions differ"
same "$(post "$oast_url/v1/models/sknobatch:predict")" "$(post "$fsk_url/v1/models/lr:predict")" ||
  die "Oast's and Flask's scikit-learn predictions differ"

lua() { # FILE [KEY]: a wrk script that POSTs the body
  {
    echo 'wrk.method = "POST"'
    printf 'wrk.body = [==[%s]==]\n' "$body"
    echo 'wrk.headers["Content-Type"] = "application/json"'
    [ -n "${2:-}" ] && printf 'wrk.headers["Authorization"] = "Bearer %s"\n' "$2"
    true
  } >"$1"
}
lua "$tmp/auth.lua" "$key"
lua "$tmp/plain.lua"

# ---- load ----
hz=$(getconf CLK_TCK)
declare -A rps p50 p99 cpu_us
run_wrk() { # NAME PID URL LUA
  local name=$1 pid=$2 url=$3 script=$4
  [ "$warmup" -gt 0 ] && wrk -t"$wrk_threads" -c"$conns" -d"${warmup}s" -s "$script" "$url" >/dev/null
  local out t0 t1
  t0=$(cpu_ticks "$pid")
  out=$(wrk -t"$wrk_threads" -c"$conns" -d"${duration}s" --latency -s "$script" "$url")
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
  run_wrk hello "$hello_pid" "$hello_url/" "$tmp/plain.lua"
  run_wrk xgb "$oast_pid" "$oast_url/v1/models/xgbsmall:predict" "$tmp/auth.lua"
  run_wrk flask_xgb "$fxgb_pid" "$fxgb_url/v1/models/xgbsmall:predict" "$tmp/plain.lua"
  run_wrk sk_batch "$oast_pid" "$oast_url/v1/models/skbatch:predict" "$tmp/auth.lua"
  run_wrk sk_nobatch "$oast_pid" "$oast_url/v1/models/sknobatch:predict" "$tmp/auth.lua"
  run_wrk flask_sk "$fsk_pid" "$fsk_url/v1/models/lr:predict" "$tmp/plain.lua"
done

# ---- report ----
ncpu=$(nproc)
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
kernel=$(uname -sr)
date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
machine="$ncpu CPUs ($cpu), $kernel"
wrk_args="-t$wrk_threads -c$conns -d${duration}s --latency"

r_ceiling=$(ratio "${rps[xgb]}" "${rps[hello]}")
r_flask=$(ratio "${rps[xgb]}" "${rps[flask_xgb]}")
r_batch=$(ratio "${rps[sk_batch]}" "${rps[sk_nobatch]}")
r_batch_flask=$(ratio "${rps[sk_batch]}" "${rps[flask_sk]}")
r_nobatch_flask=$(ratio "${rps[sk_nobatch]}" "${rps[flask_sk]}")

echo
echo "Model serving on loopback: one instance per POST :predict request"
echo "machine: $machine; load average before: $load_before; $date; commit $commit"
echo "wrk $wrk_args, best of $rounds interleaved rounds, ${warmup}s warm-up before each run;"
echo "Oast and hello with $srv_threads HTTP threads; Flask's threaded built-in server; all share these $ncpu CPUs"
echo
row='%-34s %9s %8s %8s %8s\n'
printf "$row" target req/s p50_ms p99_ms cpu_us
declare -A label=([hello]="hello world (ceiling)" [xgb]="oast xgboost (native)" [flask_xgb]="flask xgboost"
  [sk_batch]="oast sklearn python, batching" [sk_nobatch]="oast sklearn python, no batching" [flask_sk]="flask sklearn")
for f in hello xgb flask_xgb sk_batch sk_nobatch flask_sk; do
  c=${cpu_us[$f]}
  case $f in sk_*) c="-" ;; esac
  printf "$row" "${label[$f]}" "$(printf '%.0f' "${rps[$f]}")" "${p50[$f]}" "${p99[$f]}" "$c"
done
echo
row='%-44s %8s  %s\n'
printf "$row" ratio value aim
printf "$row" "xgboost: oast / hello ceiling (req/s)" "$r_ceiling" "$(verdict "$r_ceiling" "$aim_ceiling" ge) >= $aim_ceiling"
printf "$row" "xgboost: oast / flask (req/s)" "$r_flask" "$(verdict "$r_flask" "$aim_flask" ge) >= $aim_flask"
printf "$row" "xgboost: oast p99 (ms)" "${p99[xgb]}" "$(verdict "${p99[xgb]}" "$aim_p99_ms" le) < $aim_p99_ms"
printf "$row" "sklearn: batching / no batching (req/s)" "$r_batch" ""
printf "$row" "sklearn: batching / flask (req/s)" "$r_batch_flask" ""
printf "$row" "sklearn: no batching / flask (req/s)" "$r_nobatch_flask" ""
echo
echo "(cpu_us: the server process's own CPU time per request; for the Python deployments the work is in their"
echo " worker processes, so it is not shown.)"

common="\"date\":$(jstr "$date"),\"commit\":$(jstr "$commit"),\"machine\":{\"cpus\":$ncpu,\"cpu\":$(jstr "$cpu"),\"kernel\":$(jstr "$kernel"),\"loadavg_before\":$(jstr "$load_before")},\"wrk\":$(jstr "$wrk_args"),\"rounds\":$rounds,\"warmup_s\":$warmup,\"server_threads\":$srv_threads"
m() { echo "{\"rps\":${rps[$1]},\"p50_ms\":${p50[$1]},\"p99_ms\":${p99[$1]},\"cpu_us_per_req\":${cpu_us[$1]}}"; }
mkdir -p "$(dirname "$results")"
{
  echo "{\"figure\":\"serving.xgboost_predict\",$common,\"oast\":$(m xgb),\"hello\":$(m hello),\"flask\":$(m flask_xgb),\"ratio_ceiling\":$r_ceiling,\"ratio_flask\":$r_flask,\"aim_ratio_ceiling\":$aim_ceiling,\"aim_ratio_flask\":$aim_flask,\"aim_p99_ms\":$aim_p99_ms}"
  echo "{\"figure\":\"serving.sklearn_batching\",$common,\"batching\":$(m sk_batch),\"no_batching\":$(m sk_nobatch),\"flask\":$(m flask_sk),\"ratio_batching\":$r_batch,\"ratio_batching_flask\":$r_batch_flask,\"ratio_no_batching_flask\":$r_nobatch_flask}"
} >>"$results"
echo "appended 2 lines to $results"
