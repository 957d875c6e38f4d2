#!/usr/bin/env bash
# make demo: the whole HopsML pipeline on a throwaway server.
#
# Starts `oast server` with a fresh home on a free loopback port. An
# administrator creates two users; Alice (data owner) creates a project
# and adds Bob as a data scientist. Alice then runs
# examples/hopsml/pipeline.yaml as one pipeline: scikit-learn's breast
# cancer data is prepared and ingested into two feature groups under
# strict expectations, joined by a feature view into training data, an
# ASHA experiment tunes an XGBoost model with 2 trials in parallel, the
# best model is registered and deployed. The demo then shows every
# artifact with the CLI, sends patients' online feature vectors to the
# deployment, prints the predictions beside the true diagnoses, checks
# that the roles hold, and ends by printing where everything is and how to
# explore it. OAST_DEMO_KEEP=1 keeps the server running afterwards.
set -euo pipefail

OAST=${1:-build/oast}
OAST=$(cd "$(dirname "$OAST")" && pwd)/$(basename "$OAST")
REPO=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
HOME_DIR=$(mktemp -d "${TMPDIR:-/tmp}/oast-demo.XXXXXX")
export OAST_CONFIG="$HOME_DIR/client-config.json"
unset OAST_API_KEY OAST_ADDR
T0=$(date +%s)

step() { printf '\n\033[1m== [%3ds] %s\033[0m\n' "$(($(date +%s) - T0))" "$*"; }
# Prints a command as one would type it: words with spaces, quotes or
# brackets in single quotes.
show() {
  local line='$ oast' w
  for w in "$@"; do
    case $w in
      '' | *[[:space:]\'\"\[\]{}\*\?\$\;\&\|\<\>]*) line+=" '${w//\'/\'\\\'\'}'" ;;
      *) line+=" $w" ;;
    esac
  done
  printf '%s\n' "$line"
}
run() { show "$@"; "$OAST" "$@"; }
# A command that must fail: show its message, and stop the demo if it succeeds.
refused() {
  show "$@"
  if "$OAST" "$@"; then echo "demo: expected this to be refused" >&2; exit 1; fi
}

server_pid=
follower=
cleanup() {
  if [ -n "$follower" ]; then kill "$follower" 2>/dev/null || true; fi
  if [ -n "$server_pid" ] && [ -z "${OAST_DEMO_KEEP:-}" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    rm -rf "$HOME_DIR"
  fi
}
trap cleanup EXIT

DATA=$("$PY" -c 'import os, sklearn.datasets as d; print(os.path.join(os.path.dirname(d.__file__), "data", "breast_cancer.csv"))')
if [ ! -s "$DATA" ] || ! "$PY" -c 'import xgboost, numpy' 2>/dev/null; then
  echo "demo: needs scikit-learn's data, numpy and xgboost for $PY (scripts/install-deps installs them)" >&2
  exit 1
fi

step "Start a server with a throwaway home"
"$OAST" server --home "$HOME_DIR/server" --listen 127.0.0.1:0 --log "$HOME_DIR/server.log" &
server_pid=$!
for _ in $(seq 1 100); do
  [ -s "$HOME_DIR/server/run/server.addr" ] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "demo: the server did not start" >&2
    cat "$HOME_DIR/server.log" >&2 2>/dev/null || true
    exit 1
  fi
  sleep 0.1
done
[ -s "$HOME_DIR/server/run/server.addr" ] || { echo "demo: the server did not listen within 10 s" >&2; exit 1; }
ADDR=$(cat "$HOME_DIR/server/run/server.addr")
ADMIN_KEY=$(cat "$HOME_DIR/server/admin.key")
echo "server at $ADDR (pid $server_pid), home $HOME_DIR/server"

admin() { OAST_API_KEY=$ADMIN_KEY OAST_ADDR=$ADDR run "$@"; }
ALICE="$HOME_DIR/alice.json"
BOB="$HOME_DIR/bob.json"
alice() { OAST_CONFIG=$ALICE run "$@"; }
bob() { OAST_CONFIG=$BOB run "$@"; }
bob_refused() { OAST_CONFIG=$BOB refused "$@"; }
alice_refused() { OAST_CONFIG=$ALICE refused "$@"; }
# Alice's commands whose JSON answer the demo reads (not echoed).
alice_json() { OAST_CONFIG=$ALICE "$OAST" --json "$@"; }

step "The administrator creates two users; each logs in with a key of their own"
admin version
admin user create alice --password 'alice-demo-password'
admin user create bob --password 'bob-demo-password'
OAST_CONFIG=$ALICE run login --addr "$ADDR" --user alice --password 'alice-demo-password'
OAST_CONFIG=$BOB run login --addr "$ADDR" --user bob --password 'bob-demo-password'

step "Alice creates the project cancer and adds Bob as a data scientist"
alice project create cancer --description 'breast cancer diagnosis from cell nuclei measurements'
alice member add cancer bob --role data_scientist
alice member list cancer

step "Alice puts the pipeline's programs in the project and defines its job"
alice fs put "$REPO/examples/hopsml/prepare.py" cancer/Resources/hopsml/prepare.py
alice fs put "$REPO/examples/hopsml/train.py" cancer/Resources/hopsml/train.py
alice job create cancer/prepare --type python --program Resources/hopsml/prepare.py --timeout 300
PIPELINE="$REPO/examples/hopsml/pipeline.yaml"

# The experiment's progress while the pipeline runs: the first experiment
# of this fresh server is the pipeline's; its log says when each trial
# starts and finishes, and ends when the experiment does.
follow_experiment() {
  while ! OAST_CONFIG=$ALICE "$OAST" exp show cancer 1 >/dev/null 2>&1; do
    [ -e "$HOME_DIR/pipeline.done" ] && return 0
    sleep 0.5
  done
  OAST_CONFIG=$ALICE "$OAST" exp logs cancer 1 -f 2>/dev/null |
    grep --line-buffered -E 'started with|finished:|failed|stopped|\[experiment\]' | sed -u 's/^/    /'
}

step "Alice runs the whole pipeline: prepare, ingest, training data, ASHA experiment, register, deploy"
alice pipeline create cancer "$PIPELINE"
alice pipeline show cancer/hopsml
follow_experiment &
follower=$!
# One line per change (through a pipe), so the experiment's lines fit in between.
if ! alice pipeline run cancer/hopsml --follow | cat; then
  touch "$HOME_DIR/pipeline.done"
  alice pipeline show cancer/hopsml 1 || true
  echo "demo: the pipeline failed; OAST_DEMO_KEEP=1 keeps the server to look into it" \
    "(oast fs cat cancer/Logs/pipelines/hopsml/1/TASK.log, oast exp show cancer 1)" >&2
  exit 1
fi
touch "$HOME_DIR/pipeline.done"
wait "$follower"
follower=
alice pipeline show cancer/hopsml 1

step "The prepare job's log: the raw data, the CSVs, the definitions"
alice job logs cancer/prepare 1

step "The feature groups: one commit each, validated by their expectations"
alice fg list cancer
alice fs get cancer/Resources/hopsml/cells_worst.csv "$HOME_DIR/cells_worst.csv" >/dev/null
alice fg expectations show cancer/cells_worst:1
alice fg show cancer/cells_worst:1 --limit 3
alice fg stats cancer/cells_mean:1 --column mean_radius

step "A bad delivery is refused whole: the suite is strict"
{
  head -n 1 "$HOME_DIR/cells_worst.csv"
  echo "570,25.38,17.33,184.6,2019,0.1622,0.6656,0.7119,0.2654,0.4601,0.1189,1"
  echo "571,250.1,17.33,184.6,2019,0.1622,0.6656,0.7119,0.2654,0.4601,0.1189,2"
} >"$HOME_DIR/late_delivery.csv"
cat "$HOME_DIR/late_delivery.csv"
alice_refused fg insert cancer/cells_worst:1 "$HOME_DIR/late_delivery.csv"
alice fg validations cancer/cells_worst:1

step "The feature view joins them on the patient id; the training data is split three ways"
alice fv show cancer diagnosis --version 1
alice td list cancer diagnosis
alice fs ls cancer/TrainingDatasets/diagnosis_1_td1/test

step "The experiment: ASHA over 9 configurations, 2 trials at a time, validation log loss per round"
EXP_ID=$(alice_json exp list cancer | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["items"][0]["id"])')
alice exp show cancer "$EXP_ID"
BEST=$(alice_json exp show cancer "$EXP_ID" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["best"]["number"])')
printf '$ oast exp logs cancer %s | grep "trial %s\]"\n' "$EXP_ID" "$BEST"
OAST_CONFIG=$ALICE "$OAST" exp logs cancer "$EXP_ID" | grep "trial $BEST\]"

step "The best trial is version 1 of the model diagnosis, served by the XGBoost predictor"
alice model list cancer
alice model show cancer diagnosis 1
alice deploy list cancer

step "Predictions for patients of the test split, from their online feature vectors"
alice fs get cancer/TrainingDatasets/diagnosis_1_td1/test/features.npy "$HOME_DIR/test_features.npy" >/dev/null
alice fs get cancer/TrainingDatasets/diagnosis_1_td1/test/labels.npy "$HOME_DIR/test_labels.npy" >/dev/null
# Four benign and four malignant patients the model never saw.
IDS=$("$PY" - "$HOME_DIR/test_features.npy" "$HOME_DIR/test_labels.npy" <<'PY'
import json, sys
import numpy as np
ids = np.load(sys.argv[1])[:, 0].astype(int)   # the view's first column is the patient id
labels = np.load(sys.argv[2]).astype(int)
pick = sorted(list(ids[labels == 1][:4]) + list(ids[labels == 0][:4]))
print(json.dumps([{"id": int(i)} for i in pick]))
PY
)
show fv vector cancer diagnosis --entries "$IDS"
alice_json fv vector cancer diagnosis --entries "$IDS" >"$HOME_DIR/vectors.json"
INSTANCES=$("$PY" - "$HOME_DIR/vectors.json" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
key = v["features"].index("id")
rows = []
for row in v["vectors"]:
    values = ", ".join("%s %g" % (n, x) for n, x in zip(v["features"], row) if n != "id")
    print("  patient %-4d %s..." % (row[key], values[:96]), file=sys.stderr)
    rows.append([x for j, x in enumerate(row) if j != key])
print(json.dumps(rows))
PY
)
printf '$ oast deploy predict cancer diagnosis --instances <those 8 vectors without the id>\n'
alice_json deploy predict cancer diagnosis --instances "$INSTANCES" >"$HOME_DIR/predictions.json"
"$PY" - "$DATA" "$IDS" "$HOME_DIR/predictions.json" <<'PY'
import csv, json, sys
rows = list(csv.reader(open(sys.argv[1])))[1:]
ids = [e["id"] for e in json.loads(sys.argv[2])]
preds = json.load(open(sys.argv[3]))["predictions"]
name = {0: "malignant", 1: "benign"}
print("patient  P(benign)  predicted  diagnosis")
right = 0
for i, p in zip(ids, preds):
    truth = int(rows[i - 1][30])
    guess = int(p >= 0.5)
    right += guess == truth
    print("%7d  %9.4f  %-9s  %-9s %s" % (i, p, name[guess], name[truth], "" if guess == truth else "(wrong)"))
print("predictions: %d of %d right" % (right, len(ids)))
PY

step "Roles hold: Bob (data scientist) may call the model but not take it out of the project"
bob deploy predict cancer diagnosis --instances "$("$PY" -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1])[:1]))' "$INSTANCES")"
bob_refused model download cancer diagnosis 1 "$HOME_DIR/bobs-copy"

step "Every step is in the audit log"
alice audit cancer --limit 12

SECS=$(($(date +%s) - T0))
step "Where everything is (the demo took ${SECS}s)"
FS="$HOME_DIR/server/fs/Projects/cancer"
cat <<TXT
Server:        $ADDR   (log: $HOME_DIR/server.log)
Data home:     $HOME_DIR/server   (metadata: meta.db, SQLite)
Project files: $FS/
  raw CSVs       Resources/hopsml/cells_mean.csv, cells_worst.csv
  feature store  cancer_featurestore.db/ (one Parquet file per commit)
  training data  TrainingDatasets/diagnosis_1_td1/{train,validation,test}/features.npy, labels.npy
  experiment     Experiments/$EXP_ID/ (experiment.log, trial_<n>/ with model.json and TensorBoard events)
  model          Models/diagnosis/1/model.json
  pipeline logs  Logs/pipelines/hopsml/1/<task>.log, Logs/jobs/prepare/
Deployment:    $ADDR/v1/models/diagnosis:predict  (TF Serving; KServe v2 at /v2/models/diagnosis/infer)
Explore with the CLI as Alice (with OAST_DEMO_KEEP=1, which keeps the server):
  export OAST_CONFIG=$ALICE
  $OAST pipeline show cancer/hopsml 1
  $OAST fg read cancer/cells_worst --limit 5
  $OAST fv vector cancer diagnosis id=42
  $OAST td show cancer diagnosis 1
  $OAST exp show cancer $EXP_ID --all
  $OAST exp logs cancer $EXP_ID
  $OAST model best cancer diagnosis --metric logloss --direction min
  $OAST deploy show cancer diagnosis
  $OAST deploy predict cancer diagnosis --instances '$("$PY" -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1])[:1]))' "$INSTANCES")'
  $OAST --help
TXT
if [ -n "${OAST_DEMO_KEEP:-}" ]; then
  echo "The server keeps running (pid $server_pid); stop it with: kill $server_pid"
else
  echo "(the server stops now and its home is removed; run with OAST_DEMO_KEEP=1 to keep both)"
fi
