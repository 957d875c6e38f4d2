#!/usr/bin/env bash
# slurm-cluster.sh — a real one-node Slurm cluster in one directory, for
# the tests, the benchmarks and trying Oast's Slurm executor by hand.
#
#   tests/tools/slurm-cluster.sh start  [DIR]   start it (idempotent)
#   tests/tools/slurm-cluster.sh status [DIR]   exit 0 when it answers
#   tests/tools/slurm-cluster.sh stop   [DIR]   cancel its jobs, stop its daemons
#
# DIR defaults to $OAST_SLURM_DIR, else ${TMPDIR:-/tmp}/oast-slurm.
# Everything lives in DIR: the munge key and socket, slurm.conf (and
# gres.conf), the controller's state, slurmd's spool, the logs and the
# daemons' pid files. `start` installs Debian's slurm-wlm and munge when
# they are missing (as root, or through sudo), starts munged, slurmctld
# and `slurmd -N localhost`, waits until the node is idle and prints the
# line to use the cluster:
#
#   export SLURM_CONF=DIR/slurm.conf
#
# The node has this machine's CPUs and memory (OAST_SLURM_CPUS overrides
# the CPU count) and, when device nodes can be made here, two stand-in
# GPUs (character devices in DIR/dev) so that --gres=gpu:N is scheduled
# for real; they are no GPUs, only what Slurm counts and hands out.
# `stop` cancels whatever jobs the cluster still has, then stops the three
# daemons by the pids recorded at start (TERM, then KILL after 10 s).
# If the cluster cannot start, the daemons' logs are printed and the exit
# status is 1.
set -euo pipefail

cmd=${1:-}
dir=${2:-${OAST_SLURM_DIR:-${TMPDIR:-/tmp}/oast-slurm}}
case $cmd in start|stop|status) ;; *)
  echo "usage: $0 start|stop|status [DIR]" >&2; exit 2 ;;
esac
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
conf=$dir/slurm.conf
export SLURM_CONF=$conf

alive() { [ -f "$dir/run/$1.pid" ] && kill -0 "$(cat "$dir/run/$1.pid")" 2>/dev/null; }

answers() {
  alive munged && alive slurmctld && alive slurmd &&
    sinfo --noheader --Node --format=%T 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'
}

show_logs() {
  for f in "$dir"/log/*; do
    [ -f "$f" ] || continue
    echo "---- $f (last 40 lines)" >&2
    tail -n 40 "$f" >&2
  done
}

stop_daemon() {  # name
  local pidf=$dir/run/$1.pid pid
  [ -f "$pidf" ] || return 0
  pid=$(cat "$pidf")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidf"
}

stop_all() {
  if alive slurmctld; then
    # Running jobs' processes belong to slurmstepd, which outlives slurmd:
    # end them through Slurm first.
    ids=$(squeue --noheader --format=%i 2>/dev/null || true)
    if [ -n "$ids" ]; then
      # shellcheck disable=SC2086
      scancel $ids 2>/dev/null || true
      for _ in $(seq 100); do
        [ -z "$(squeue --noheader --format=%i 2>/dev/null || true)" ] && break
        sleep 0.1
      done
    fi
  fi
  stop_daemon slurmd
  stop_daemon slurmctld
  stop_daemon munged
}

install_packages() {
  local need=()
  command -v slurmctld >/dev/null 2>&1 && command -v slurmd >/dev/null 2>&1 &&
    command -v sbatch >/dev/null 2>&1 || need+=(slurm-wlm)
  command -v munged >/dev/null 2>&1 || need+=(munge)
  [ ${#need[@]} -eq 0 ] && return 0
  echo "slurm-cluster: installing ${need[*]}" >&2
  local sudo=
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >&2
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
}

# Two free TCP ports below the kernel's ephemeral range (where a port
# found free could be taken by any outgoing connection a moment later).
free_ports() {
  python3 - <<'PY'
import random, socket
ports = []
while len(ports) < 2:
    p = random.randrange(10000, 30000)
    if p in ports:
        continue
    s = socket.socket()
    try:
        s.bind(("0.0.0.0", p))
        ports.append(p)
    except OSError:
        pass
    finally:
        s.close()
print(*ports)
PY
}

start() {
  if answers; then
    echo "export SLURM_CONF=$conf"
    return 0
  fi
  stop_all
  install_packages
  # A port found free can still be taken before the daemon binds it: then
  # the start is tried again with other ports.
  for attempt in 1 2 3; do
    if start_once; then return 0; fi
    grep -q "Address already in use" "$dir"/log/*.log 2>/dev/null || break
    echo "slurm-cluster: a port was taken; trying other ports" >&2
  done
  echo "slurm-cluster: the cluster in $dir did not come up; its logs:" >&2
  sinfo >&2 || true
  show_logs
  stop_all
  return 1
}

start_once() {
  stop_all
  # PATH may lack the sbin directories for a non-root user.
  export PATH=$PATH:/usr/sbin:/sbin
  rm -rf "$dir/state" "$dir/spool" "$dir/log" "$dir/run" "$dir/munge" "$dir/dev"
  mkdir -p "$dir/state" "$dir/spool" "$dir/log" "$dir/run" "$dir/munge" "$dir/dev"
  chmod 700 "$dir/munge"
  chmod 755 "$dir/run"
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$dir/munge/munge.key"

  local cpus mem gres="" grestypes=""
  cpus=${OAST_SLURM_CPUS:-$(nproc)}
  mem=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
  if mknod "$dir/dev/gpu0" c 1 3 2>/dev/null && mknod "$dir/dev/gpu1" c 1 3 2>/dev/null; then
    gres=" Gres=gpu:2"
    grestypes="GresTypes=gpu"
    echo "NodeName=localhost Name=gpu File=$dir/dev/gpu[0-1]" > "$dir/gres.conf"
  else
    rm -f "$dir/dev/gpu0" "$dir/gres.conf"
  fi
  local overrides="" ports
  [ "$cpus" != "$(nproc)" ] && overrides="SlurmdParameters=config_overrides"
  read -r -a ports <<<"$(free_ports)"

  cat > "$conf" <<EOF
# A one-node cluster for Oast's tests (tests/tools/slurm-cluster.sh).
ClusterName=oasttest
SlurmctldHost=localhost
SlurmctldPort=${ports[0]}
SlurmdPort=${ports[1]}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/run/munge.socket
SlurmUser=$(id -un)
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.daemon.pid
SlurmdPidFile=$dir/run/slurmd.daemon.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MailProg=/bin/true
KillWait=2
$grestypes
$overrides
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem$gres State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF

  # --force: the socket may sit below directories others cannot enter (a
  # pytest tmp dir); every daemon and client here runs as this one user.
  munged -F --force --key-file="$dir/munge/munge.key" --socket="$dir/run/munge.socket" \
    --pid-file="$dir/run/munged.daemon.pid" --seed-file="$dir/munge/seed" \
    --log-file="$dir/log/munged.log" >>"$dir/log/munged.out" 2>&1 &
  echo $! > "$dir/run/munged.pid"
  for _ in $(seq 100); do [ -S "$dir/run/munge.socket" ] && break; sleep 0.1; done
  slurmctld -D -f "$conf" >>"$dir/log/slurmctld.out" 2>&1 &
  echo $! > "$dir/run/slurmctld.pid"
  slurmd -D -N localhost -f "$conf" >>"$dir/log/slurmd.out" 2>&1 &
  echo $! > "$dir/run/slurmd.pid"

  for _ in $(seq 600); do
    if answers; then
      echo "export SLURM_CONF=$conf"
      return 0
    fi
    if ! alive munged || ! alive slurmctld || ! alive slurmd; then break; fi
    sleep 0.1
  done
  return 1
}

case $cmd in
  start) start ;;
  stop) stop_all ;;
  status)
    if answers; then
      sinfo --Node --format='%N %T %C %G' && echo "export SLURM_CONF=$conf"
    else
      echo "slurm-cluster: no cluster answers in $dir" >&2
      exit 1
    fi
    ;;
esac
