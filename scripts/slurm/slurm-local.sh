#!/usr/bin/env bash
# A real single-node SLURM on this machine (Debian's slurm-wlm and munge), for trying
# `dps-tui sweep --backend slurm` and for the tests. No systemd needed; run as root.
#
#   scripts/slurm/slurm-local.sh start   # install if absent, start munged, slurmctld, slurmd
#   scripts/slurm/slurm-local.sh stop    # scontrol shutdown, then stop the munged this script started
#   scripts/slurm/slurm-local.sh status  # sinfo
#
# State, spool, pid and log files go to $SLURM_LOCAL_DIR (default /tmp/dps-slurm-local); the
# configuration is written to /etc/slurm/slurm.conf (one node, this host, partition `debug`).
set -euo pipefail

dir="${SLURM_LOCAL_DIR:-/tmp/dps-slurm-local}"
conf=/etc/slurm/slurm.conf
host="$(hostname -s)"

say() { echo "slurm-local: $*" >&2; }

node_up() {
  # sinfo answers with the node's state: idle, mixed or allocated once slurmd registered.
  local st
  st="$(sinfo -h -n "$host" -o %t 2>/dev/null | head -n1)" || return 1
  case "$st" in idle*|mix*|alloc*|comp*) return 0 ;; *) return 1 ;; esac
}

install() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
     && command -v sbatch >/dev/null && command -v munged >/dev/null; then
    return 0
  fi
  [ "$(id -u)" = 0 ] || { say "slurm-wlm/munge are missing and this is not root. Fix: sudo apt-get install slurm-wlm munge"; exit 1; }
  say "installing slurm-wlm and munge"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends slurm-wlm munge >/dev/null
}

start_munge() {
  if [ -f /run/munge/munged.pid ] && kill -0 "$(cat /run/munge/munged.pid)" 2>/dev/null; then
    return 0
  fi
  mkdir -p /etc/munge /run/munge /var/log/munge /var/lib/munge
  if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  chown -R munge:munge /etc/munge/munge.key /run/munge /var/log/munge /var/lib/munge
  chmod 400 /etc/munge/munge.key
  su -s /bin/sh munge -c /usr/sbin/munged
  touch "$dir/munged-started-here"
  for _ in $(seq 50); do
    munge -n | unmunge >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  say "munged does not answer (see /var/log/munge/munged.log)"; exit 1
}

write_conf() {
  local cpus mem
  cpus="$(nproc)"
  mem="$(free -m | awk '/^Mem:/ { printf "%d", $2 * 0.9 }')"
  mkdir -p /etc/slurm "$dir/state" "$dir/spool" "$dir/log"
  cat > "$conf" <<CONF
# Written by dps-tui's scripts/slurm/slurm-local.sh: a single-node SLURM on $host.
ClusterName=dps-local
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
}

case "${1:-}" in
  start)
    install
    mkdir -p "$dir"
    if node_up; then say "already running: $(sinfo -h -o '%P %D %t' | head -n1)"; exit 0; fi
    start_munge
    write_conf
    slurmctld
    slurmd
    for _ in $(seq 60); do
      if node_up; then say "up: partition debug, node $host ($(nproc) CPUs)"; exit 0; fi
      sleep 0.5
    done
    say "the node did not come up in 30 s; logs:"
    tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
    exit 1
    ;;
  stop)
    if command -v scontrol >/dev/null; then scontrol shutdown >/dev/null 2>&1 || true; fi
    for _ in $(seq 50); do
      { [ -f "$dir/slurmctld.pid" ] && kill -0 "$(cat "$dir/slurmctld.pid" 2>/dev/null)" 2>/dev/null; } \
        || { [ -f "$dir/slurmd.pid" ] && kill -0 "$(cat "$dir/slurmd.pid" 2>/dev/null)" 2>/dev/null; } \
        || break
      sleep 0.1
    done
    if [ -f "$dir/munged-started-here" ] && [ -f /run/munge/munged.pid ]; then
      kill "$(cat /run/munge/munged.pid)" 2>/dev/null || true
      rm -f "$dir/munged-started-here"
    fi
    say "stopped"
    ;;
  status)
    sinfo
    ;;
  *)
    sed -n '2,10p' "$0"; exit 2 ;;
esac
