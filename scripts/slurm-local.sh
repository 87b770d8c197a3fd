#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for tests of the cluster path: real sbatch,
# squeue and sacct against real daemons, nothing mocked.
#
#   scripts/slurm-local.sh install     apt-get install slurm-wlm munge (needs root; seconds)
#   scripts/slurm-local.sh up DIR      start munged (if not running), slurmctld and slurmd with
#                                      state, spool, logs and slurm.conf under DIR; waits until the
#                                      node takes jobs, then prints `export SLURM_CONF=DIR/slurm.conf`
#   scripts/slurm-local.sh down DIR    stop the daemons started by `up DIR`
#
# The daemons listen on their own ports (SLURM_LOCAL_PORT, default 16817 and the next), so a
# cluster that is already there is left alone.
set -euo pipefail
cmd=${1:-}
dir=${2:-}

need_dir() {
  if [ -z "$dir" ]; then
    echo "usage: scripts/slurm-local.sh up|down DIR" >&2
    exit 2
  fi
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
}

case $cmd in
  install)
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq slurm-wlm munge > /dev/null
    ;;
  up)
    need_dir
    for tool in slurmctld slurmd munged sinfo; do
      command -v "$tool" > /dev/null || { echo "no $tool: run scripts/slurm-local.sh install" >&2; exit 3; }
    done
    if ! pgrep -x munged > /dev/null; then
      [ -s /etc/munge/munge.key ] || { dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2> /dev/null; chmod 400 /etc/munge/munge.key; }
      chown munge:munge /etc/munge/munge.key 2> /dev/null || true
      mkdir -p /run/munge /var/lib/munge /var/log/munge
      chown munge:munge /run/munge /var/lib/munge /var/log/munge 2> /dev/null || true
      if [ "$(id -u)" = 0 ]; then runuser -u munge -- /usr/sbin/munged; else /usr/sbin/munged; fi
    fi
    port=${SLURM_LOCAL_PORT:-16817}
    host=$(hostname -s)
    user=$(id -un)
    mkdir -p "$dir/state" "$dir/spool"
    cat > "$dir/slurm.conf" << CONF
ClusterName=clusterscope-local
SlurmctldHost=$host
SlurmUser=$user
SlurmdUser=$user
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.txt
SchedulerType=sched/backfill
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
    export SLURM_CONF=$dir/slurm.conf
    slurmctld -f "$SLURM_CONF"
    slurmd -f "$SLURM_CONF"
    for _ in $(seq 1 100); do
      state=$(sinfo -h -n "$host" -o %t 2> /dev/null || true)
      case $state in
        idle* | mix* | alloc*) echo "export SLURM_CONF=$SLURM_CONF"; exit 0 ;;
      esac
      sleep 0.2
    done
    echo "slurm did not come up (node state: ${state:-none}); see $dir/slurmctld.log and $dir/slurmd.log" >&2
    exit 1
    ;;
  down)
    need_dir
    for pidfile in "$dir/slurmd.pid" "$dir/slurmctld.pid"; do
      if [ -s "$pidfile" ]; then kill "$(cat "$pidfile")" 2> /dev/null || true; fi
    done
    ;;
  *)
    echo "usage: scripts/slurm-local.sh install|up DIR|down DIR" >&2
    exit 2
    ;;
esac
