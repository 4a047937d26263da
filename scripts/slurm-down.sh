#!/usr/bin/env bash
# Stop the single-node SLURM cluster started by scripts/slurm-up.sh.
#
#   bash scripts/slurm-down.sh
#
# Stops slurmd, slurmctld, slurmdbd, mariadbd and munged, in that order, by
# the pids in the pid files under $EFFAUG_SLURM_DIR/run (default
# /tmp/effaug-slurm/run): SIGTERM, then waits for each to exit (SIGKILL after
# $EFFAUG_SLURM_STOP_TIMEOUT seconds, default 60), then removes the pid file.
# A pid is only signalled when it is alive, has the daemon's name and refers
# to this state directory, so no other process is touched.  Nothing is looked
# up by process name.
#
# Before that, while slurmctld is up, jobs still queued or running on this
# test cluster are cancelled with scancel (so that no job step outlives
# slurmd); set EFFAUG_SLURM_KEEP_JOBS=1 to skip that.
#
# The state directory (configuration, accounting database, munge key, logs)
# is kept, so slurm-up.sh brings the same cluster back.  Running this script
# when nothing runs is not an error.

set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

D=${EFFAUG_SLURM_DIR:-/tmp/effaug-slurm}
STOP_TIMEOUT=${EFFAUG_SLURM_STOP_TIMEOUT:-60}

log() { printf '[slurm-down] %s\n' "$*" >&2; }

if [[ ! -d $D ]]; then
    log "no state directory $D: nothing to stop"
    exit 0
fi
D=$(cd "$D" && pwd -P)
export SLURM_CONF=$D/slurm.conf

# pid_of NAME: print the pid in run/NAME.pid when it is a live process called
# NAME that belongs to this state directory; fail otherwise.
pid_of() {
    local name=$1 f=$D/run/$1.pid pid info
    [[ -s $f ]] || return 1
    pid=$(tr -dc '0-9' <"$f")
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$name" ]] || return 1
    info=$({ tr '\0' '\n' <"/proc/$pid/cmdline" && tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null) || return 1
    [[ $info == *"$D/"* ]] || return 1
    printf '%s\n' "$pid"
}

# alive PID: the process exists and is not a zombie.
alive() {
    local state
    kill -0 "$1" 2>/dev/null || return 1
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ -n $state && $state != Z ]]
}

# ------------------------------------------------------------ jobs
if [[ ${EFFAUG_SLURM_KEEP_JOBS:-0} != 1 ]] && pid_of slurmctld >/dev/null && pid_of slurmd >/dev/null; then
    job_ids=$(timeout 20 squeue -h -o '%A' 2>/dev/null | tr '\n' ' ') || job_ids=
    if [[ -n ${job_ids// /} ]]; then
        log "cancelling jobs still on the test cluster: $job_ids"
        # shellcheck disable=SC2086
        timeout 20 scancel $job_ids || log "WARNING: scancel failed"
        for _ in $(seq 60); do
            [[ -z $(timeout 10 squeue -h -o '%A' 2>/dev/null) ]] && break
            sleep 0.5
        done
    fi
fi

# ------------------------------------------------------------ daemons
stopped=()
for name in slurmd slurmctld slurmdbd mariadbd munged; do
    f=$D/run/$name.pid
    if pid=$(pid_of "$name"); then
        log "stopping $name (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        deadline=$(($(date +%s) + STOP_TIMEOUT))
        while alive "$pid"; do
            if (($(date +%s) >= deadline)); then
                log "WARNING: $name (pid $pid) still alive after ${STOP_TIMEOUT}s; sending SIGKILL"
                kill -KILL "$pid" 2>/dev/null || true
                sleep 1
                break
            fi
            sleep 0.2
        done
        stopped+=("$name")
    elif [[ -e $f ]]; then
        log "$name not running; removing stale pid file"
    fi
    rm -f "$f"
done

# Job steps (slurmstepd) are started by slurmd, not by slurm-up.sh: only
# report any that survived, never signal them here.
left=()
for p in /proc/[0-9]*; do
    [[ $(cat "$p/comm" 2>/dev/null) == slurmstepd ]] || continue
    env=$(tr '\0' '\n' <"$p/environ" 2>/dev/null) || continue
    [[ $env == *"SLURM_CONF=$D/"* ]] && left+=("${p#/proc/}")
done
if ((${#left[@]})); then
    log "WARNING: slurmstepd processes of this cluster still run (pids ${left[*]}); slurmd picks them up when it starts again"
fi

if ((${#stopped[@]})); then
    log "stopped: ${stopped[*]} (state kept in $D)"
else
    log "nothing was running"
fi
