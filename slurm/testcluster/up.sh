#!/bin/bash
# A real single-node Slurm cluster on this machine, for the tests (Debian slurm-wlm + munge, no systemd).
# Usage: up.sh BASE      (run as root; the tests call it from tests/test_slurm.py)
#   env SLURMCTLD_PORT / SLURMD_PORT (default 6817 / 6818): other ports let two test clusters coexist.
# Writes BASE/slurm.conf, starts munged (unless one answers already), slurmctld and slurmd with their
# pid files under BASE, waits until the node is idle. Then: export SLURM_CONF=BASE/slurm.conf.
# down.sh BASE stops what this started, by PID.
# Prereq: apt-get install -y --no-install-recommends slurm-wlm munge
set -euo pipefail
B=${1:?usage: up.sh BASE}
mkdir -p "$B"/{state,spool,log}
NODE=$(hostname -s); CPUS=$(nproc)
# RealMemory must not exceed what `slurmd -C` reports, else the node is drained.
MEM=$(( $(awk '/MemTotal/{print int($2/1024)}' /proc/meminfo) * 9 / 10 ))
cat > "$B/slurm.conf" <<CONF
ClusterName=testcluster
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=${SLURMCTLD_PORT:-6817}
SlurmdPort=${SLURMD_PORT:-6818}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# a requeued job may start again after cred_expire seconds (default 120): keep the tests short
AuthInfo=cred_expire=10
CredType=cred/munge
StateSaveLocation=$B/state
SlurmdSpoolDir=$B/spool
SlurmctldPidFile=$B/slurmctld.pid
SlurmdPidFile=$B/slurmd.pid
SlurmctldLogFile=$B/log/slurmctld.log
SlurmdLogFile=$B/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MailProg=/bin/true
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
InactiveLimit=0
KillWait=2
MinJobAge=300
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$B/slurm.conf
# munge on its default socket (slurm's clients look there); started only if none answers.
[ -f /etc/munge/munge.key ] || { mungekey -c 2>/dev/null || create-munge-key -f; }
# munged runs as user munge, which cannot enter BASE when BASE is private (pytest's tmp dirs are 0700):
# its files go to a directory of its own, named in BASE/munge.dir for down.sh.
mkdir -p /run/munge; chown munge:munge /run/munge; chmod 755 /run/munge
if ! munge -n >/dev/null 2>&1; then
  M=$(mktemp -d /tmp/testcluster-munge.XXXXXX); chown munge:munge "$M"; echo "$M" > "$B/munge.dir"
  runuser -u munge -- /usr/sbin/munged --pid-file="$M/munged.pid" --log-file="$M/munged.log" \
    --seed-file="$M/munged.seed"
  for i in $(seq 1 40); do munge -n >/dev/null 2>&1 && break; sleep 0.25; done
fi
/usr/sbin/slurmctld -i     # -i: ignore missing/old state files
/usr/sbin/slurmd
for i in $(seq 1 120); do sinfo -h -o %T 2>/dev/null | grep -qx idle && break; sleep 0.25; done
sinfo -h -o %T | grep -qx idle || { echo "the node did not become idle; see $B/log" >&2; sinfo -N >&2 || true; exit 1; }
sinfo -N -o '%N %C %m %T'
