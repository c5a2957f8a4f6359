#!/bin/bash
# Stop what up.sh BASE started, by PID (pid files under BASE), newest first. Jobs still in the
# queue are cancelled first and given time to report their end: a slurmstepd whose slurmd is gone
# retries forever. munged is stopped only if up.sh started it (BASE/munge.dir names its files) and no
# other slurm daemon still needs it.
B=${1:?usage: down.sh BASE}
export SLURM_CONF=$B/slurm.conf
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
stop() {
  local f=$1 p
  [ -f "$f" ] || return 0
  p=$(cat "$f")
  kill "$p" 2>/dev/null && for i in $(seq 1 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done
  kill -0 "$p" 2>/dev/null && kill -9 "$p" 2>/dev/null
  rm -f "$f"
}
if alive "$B/slurmctld.pid" && alive "$B/slurmd.pid"; then
  scancel --user="$(id -un)" 2>/dev/null || true
  for i in $(seq 1 120); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.25; done
fi
stop "$B/slurmd.pid"
stop "$B/slurmctld.pid"
# step daemons of this cluster that outlived it (found by this cluster's SLURM_CONF), by PID
for d in /proc/[0-9]*; do
  [ "$(cat "$d/comm" 2>/dev/null)" = slurmstepd ] || continue
  tr '\0' '\n' < "$d/environ" 2>/dev/null | grep -qx "SLURM_CONF=$B/slurm.conf" && kill -9 "${d#/proc/}" 2>/dev/null
done
M=$(cat "$B/munge.dir" 2>/dev/null || true)
if [ -n "$M" ] && [ -f "$M/munged.pid" ] && ! pgrep -x slurmctld >/dev/null && ! pgrep -x slurmd >/dev/null; then
  stop "$M/munged.pid"
  rm -rf "$M" "$B/munge.dir"
fi
exit 0
