#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, to check gpbench's SLURM profile for real (CI does; so can you).
#   sudo scripts/slurm-one-node.sh start [DIR]   # writes DIR/slurm.conf, starts munged, slurmctld and slurmd
#   sudo scripts/slurm-one-node.sh stop [DIR]
# The configuration is linked at /etc/slurm/slurm.conf, where SLURM's commands look for it on every node: `srun`
# inside a job does not see a SLURM_CONF of the submitting shell. The script refuses to replace a slurm.conf that
# is not its own link, and removes only its own link on stop.
# Needs Debian's slurm-wlm and munge (apt-get install slurm-wlm munge), and root. The node is CPU-only, with one
# partition "gpu" (the profile's default name), no accounting database (use --slurm-status-command squeue) and
# finished jobs kept visible to squeue for 10 minutes. DIR defaults to /tmp/gpbench-slurm.
set -euo pipefail
action=${1:-}
dir=${2:-/tmp/gpbench-slurm}

SYSTEM_CONF=/etc/slurm/slurm.conf

stop() {   # stop [DIR]: the daemons started with DIR/slurm.conf, and this script's link to it
    local dir=${1:-$dir}
    for daemon in slurmd slurmctld; do
        if [ -f "$dir/$daemon.pid" ]; then
            kill "$(cat "$dir/$daemon.pid")" 2>/dev/null || true
        fi
    done
    for _ in $(seq 1 50); do
        pgrep -f "slurm(ctl)?d -f $dir/slurm.conf" > /dev/null || break
        sleep 0.2
    done
    pkill -9 -f "slurm(ctl)?d -f $dir/slurm.conf" 2>/dev/null || true
    rm -f "$dir"/*.pid
    if [ -L "$SYSTEM_CONF" ] && [ "$(readlink "$SYSTEM_CONF")" = "$dir/slurm.conf" ]; then
        rm -f "$SYSTEM_CONF"
    fi
}

start() {
    for tool in slurmctld slurmd munged sinfo; do
        command -v "$tool" > /dev/null || { echo "$tool not found: apt-get install slurm-wlm munge" >&2; exit 2; }
    done
    [ "$(id -u)" = 0 ] || { echo "run as root: the daemons need it" >&2; exit 2; }
    stop
    if [ -L "$SYSTEM_CONF" ] && [ "$(readlink "$SYSTEM_CONF")" != "$dir/slurm.conf" ]; then
        previous=$(readlink "$SYSTEM_CONF")
        if [ ! -e "$previous" ] || grep -q -x "ClusterName=gpbench" "$previous"; then
            # a link this script left behind (its run was killed before stop): end that cluster, then replace it
            stop "$(dirname "$previous")"
            rm -f "$SYSTEM_CONF"
        fi
    fi
    if [ -e "$SYSTEM_CONF" ] && ! [ -L "$SYSTEM_CONF" -a "$(readlink "$SYSTEM_CONF")" = "$dir/slurm.conf" ]; then
        echo "$SYSTEM_CONF exists and is not this script's: this machine has a SLURM of its own" >&2
        exit 2
    fi
    mkdir -p "$dir/state" "$dir/spool" /run/munge /var/log/munge /var/lib/munge /etc/munge
    if [ ! -s /etc/munge/munge.key ]; then
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
    chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
    chmod 400 /etc/munge/munge.key
    if ! pgrep -x munged > /dev/null; then
        if id munge > /dev/null 2>&1; then
            runuser -u munge -- munged
        else
            munged --force
        fi
    fi
    host=$(hostname -s)
    cpus=$(nproc)
    memory=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
    cat > "$dir/slurm.conf" <<EOF
ClusterName=gpbench
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
MinJobAge=600
NodeName=$host CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=gpu Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    mkdir -p "$(dirname "$SYSTEM_CONF")"
    ln -sfn "$dir/slurm.conf" "$SYSTEM_CONF"
    slurmctld -f "$dir/slurm.conf"
    slurmd -f "$dir/slurm.conf"
    for _ in $(seq 1 100); do
        if sinfo -h -o %T 2>/dev/null | grep -q -E "^idle"; then
            echo "SLURM is up: $SYSTEM_CONF -> $dir/slurm.conf ($cpus CPUs, ${memory} MB, partition gpu)"
            return 0
        fi
        sleep 0.2
    done
    echo "SLURM did not come up; see $dir/slurmctld.log and $dir/slurmd.log" >&2
    exit 1
}

case "$action" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop [DIR]" >&2; exit 2 ;;
esac
