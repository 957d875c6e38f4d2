#!/usr/bin/env bash
# make demo: a tour of Oast on a throwaway server.
#
# Starts `oast server` with a fresh home on a free loopback port, then
# drives it through the CLI the way a team would: an administrator creates
# users, a data owner creates a project, uploads data and adds a data
# scientist, the roles are enforced, a dataset is shared with another
# project and revoked, and the audit log shows it all. It ends by printing
# where everything is. Set OAST_DEMO_KEEP=1 to keep the server running.
set -euo pipefail

OAST=${1:-build/oast}
OAST=$(cd "$(dirname "$OAST")" && pwd)/$(basename "$OAST")
HOME_DIR=$(mktemp -d "${TMPDIR:-/tmp}/oast-demo.XXXXXX")
export OAST_CONFIG="$HOME_DIR/client-config.json"
unset OAST_API_KEY OAST_ADDR

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ oast %s\n' "$*"; "$OAST" "$@"; }
# A command that must fail: show its message, and stop the demo if it succeeds.
refused() {
  printf '$ oast %s\n' "$*"
  if "$OAST" "$@"; then echo "demo: expected this to be refused" >&2; exit 1; fi
}

server_pid=
cleanup() {
  if [ -n "$server_pid" ] && [ -z "${OAST_DEMO_KEEP:-}" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    rm -rf "$HOME_DIR"
  fi
}
trap cleanup EXIT

step "Start a server with a throwaway home"
"$OAST" server --home "$HOME_DIR/server" --listen 127.0.0.1:0 --log "$HOME_DIR/server.log" &
server_pid=$!
for _ in $(seq 1 100); do
  [ -s "$HOME_DIR/server/run/server.addr" ] && break
  sleep 0.1
done
ADDR=$(cat "$HOME_DIR/server/run/server.addr")
ADMIN_KEY=$(cat "$HOME_DIR/server/admin.key")
echo "server at $ADDR, home $HOME_DIR/server"

admin() { OAST_API_KEY=$ADMIN_KEY OAST_ADDR=$ADDR run "$@"; }
as_user() {
  local cfg=$1; shift
  OAST_CONFIG=$cfg run "$@"
}
as_user_refused() {
  local cfg=$1; shift
  OAST_CONFIG=$cfg refused "$@"
}

step "The administrator creates two users"
admin version
admin user create alice --password 'alice-demo-password'
admin user create bob --password 'bob-demo-password'
admin user list

step "Alice and Bob log in (each gets an API key in their own config file)"
ALICE="$HOME_DIR/alice.json"
BOB="$HOME_DIR/bob.json"
OAST_CONFIG=$ALICE run login --addr "$ADDR" --user alice --password 'alice-demo-password'
OAST_CONFIG=$BOB run login --addr "$ADDR" --user bob --password 'bob-demo-password'

step "Alice creates a project; Bob joins it as a data scientist"
as_user "$ALICE" project create churn --description 'customer churn model'
as_user "$ALICE" member add churn bob --role data_scientist
as_user "$ALICE" member list churn
as_user "$ALICE" dataset list churn

step "Alice (data owner) uploads raw data"
python3 - "$HOME_DIR/customers.csv" <<'PY'
import random, sys
random.seed(7)
with open(sys.argv[1], "w") as f:
    f.write("customer_id,age,tenure_months,monthly_spend,churned\n")
    for i in range(1, 50001):
        age = random.randint(18, 80)
        tenure = random.randint(0, 120)
        spend = round(random.uniform(5, 200), 2)
        churn = int(random.random() < 0.2 + (0.2 if tenure < 6 else 0))
        f.write(f"{i},{age},{tenure},{spend},{churn}\n")
PY
as_user "$ALICE" fs put "$HOME_DIR/customers.csv" churn/Resources/raw/customers.csv
as_user "$ALICE" fs ls churn/Resources/raw
as_user "$ALICE" fs cat churn/Resources/raw/customers.csv --head 5

step "Bob (data scientist) works inside the project but cannot take raw data out"
as_user "$BOB" fs cat churn/Resources/raw/customers.csv --tail 3
as_user "$BOB" fs mkdir churn/Resources/features
as_user_refused "$BOB" fs get churn/Resources/raw/customers.csv "$HOME_DIR/stolen.csv"

step "A dataset is shared with another project, used in place, and revoked"
as_user "$ALICE" project create analytics --description 'reporting'
as_user "$ALICE" share create churn/Resources --with analytics --permission read
as_user "$ALICE" share accept analytics/churn::Resources
as_user "$ALICE" dataset list analytics
as_user "$ALICE" fs ls analytics/churn::Resources/raw
as_user "$ALICE" share revoke churn/Resources --with analytics
as_user_refused "$ALICE" fs ls analytics/churn::Resources/raw

step "Outsiders see nothing: Bob is not a member of analytics"
as_user_refused "$BOB" fs ls analytics/Resources

step "Every change and every refusal is in the audit log"
as_user "$ALICE" audit churn

step "Where everything is"
cat <<TXT
Server:      $ADDR   (log: $HOME_DIR/server.log)
Data home:   $HOME_DIR/server
  metadata   $HOME_DIR/server/meta.db (SQLite)
  datasets   $HOME_DIR/server/fs/Projects/<project>/<dataset>/
Explore with the CLI (as Alice):
  export OAST_CONFIG=$ALICE
  $OAST project list
  $OAST fs ls churn/Resources
  $OAST audit churn
  $OAST --help
TXT
if [ -n "${OAST_DEMO_KEEP:-}" ]; then
  echo "The server keeps running (pid $server_pid); stop it with: kill $server_pid"
else
  echo "(the server stops now; run with OAST_DEMO_KEEP=1 to keep it)"
fi
