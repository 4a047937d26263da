#!/usr/bin/env bash
# Bring up a single-node SLURM cluster on this machine, for integration tests
# of the workflow's SLURM profile (Debian/Ubuntu, run as root).
#
#   bash scripts/slurm-up.sh            # install what is missing, start, wait
#   eval "$(bash scripts/slurm-up.sh)"  # same, and export SLURM_CONF here
#   bash scripts/slurm-down.sh          # stop what this script started
#
# Everything lives in one state directory, $EFFAUG_SLURM_DIR (default
# /tmp/effaug-slurm): slurm.conf, slurmdbd.conf, a munge key and socket, a
# private MariaDB (own datadir, socket and TCP port on 127.0.0.1), spool and
# state directories, logs (log/) and pid files (run/).  No system service and
# no file under /etc is used or changed, except that a line for the short host
# name is appended to /etc/hosts when that name does not resolve.
#
# Daemons are started only when their pid file does not name a live process,
# so running this script again is quick and starts nothing twice.  Progress
# goes to stderr; stdout gets only the line `export SLURM_CONF=...`, which is
# also written to $EFFAUG_SLURM_DIR/env.sh.
#
# Settings (environment):
#   EFFAUG_SLURM_DIR       state directory                 [/tmp/effaug-slurm]
#   EFFAUG_SLURM_TIMEOUT   seconds to wait for each stage  [90]
#   EFFAUG_SLURMCTLD_PORT  slurmctld port                  [6817]
#   EFFAUG_SLURMD_PORT     slurmd port                     [6818]
#   EFFAUG_SLURMDBD_PORT   slurmdbd port                   [6819]
#   EFFAUG_SLURM_DB_PORT   MariaDB port on 127.0.0.1       [6820]
#   EFFAUG_SLURM_ETC_LINK  1: also link /etc/slurm/slurm.conf to this
#                          slurm.conf when no such file exists        [0]
#
# Why EFFAUG_SLURM_ETC_LINK: snakemake-executor-plugin-slurm-jobstep 0.6.1
# drops every SLURM_* variable (SLURM_CONF too) before it calls srun inside
# the job, so srun only finds the default /etc/slurm/slurm.conf.  Jobstep
# 0.6.0 and older keep SLURM_CONF and need no link.  slurm-down.sh leaves the
# link alone; a regular /etc/slurm/slurm.conf is never replaced.
#
# Cluster: ClusterName=effaug, one node (the short host name, all CPUs of
# `nproc`, RealMemory a little below MemTotal), partition `debug` (default,
# MaxTime=INFINITE), account `effaug` with user root in it.

set -Eeuo pipefail

T0=$(date +%s.%N)
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

D=${EFFAUG_SLURM_DIR:-/tmp/effaug-slurm}
TIMEOUT=${EFFAUG_SLURM_TIMEOUT:-90}
CTLD_PORT=${EFFAUG_SLURMCTLD_PORT:-6817}
SLURMD_PORT=${EFFAUG_SLURMD_PORT:-6818}
DBD_PORT=${EFFAUG_SLURMDBD_PORT:-6819}
DB_PORT=${EFFAUG_SLURM_DB_PORT:-6820}
CLUSTER=effaug
ACCOUNT=effaug
PARTITION=debug

log() { printf '[slurm-up] %s\n' "$*" >&2; }

show_logs() {
    local f
    [[ -d ${D}/log ]] || return 0
    for f in "$D"/log/*; do
        [[ -s $f ]] || continue
        printf '\n----- last 25 lines of %s -----\n' "$f" >&2
        tail -n 25 "$f" >&2 || true
    done
}

die() {
    printf '[slurm-up] ERROR: %s\n' "$*" >&2
    show_logs
    exit 1
}

trap 'rc=$?; printf "[slurm-up] ERROR: command failed (exit %s) at line %s: %s\n" "$rc" "$LINENO" "$BASH_COMMAND" >&2; show_logs; exit "$rc"' ERR

[[ $(id -u) -eq 0 ]] || die "must run as root (it installs packages and runs the daemons as root)"

# ---------------------------------------------------------------- install
PKGS=(munge slurmctld slurmd slurmdbd slurm-client mariadb-server mariadb-client)
CMDS=(munged mungekey slurmctld slurmd slurmdbd sbatch squeue sinfo sacct sacctmgr scontrol scancel
      mariadbd mariadb-install-db mariadb mariadb-admin)
missing=()
for c in "${CMDS[@]}"; do command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
if ((${#missing[@]})); then
    log "missing commands: ${missing[*]}; installing ${PKGS[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Keep the packages' own services (system munge, mariadb, slurm) from
    # being started by their maintainer scripts.
    policy_created=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        policy_created=1
    fi
    apt_install() { apt-get install -y --no-install-recommends -o Dpkg::Options::=--force-confold "${PKGS[@]}" >&2; }
    install_ok=1
    if ! apt_install; then
        log "apt-get install failed; running apt-get update and retrying"
        if ! { apt-get update >&2 && apt_install; }; then install_ok=0; fi
    fi
    if ((policy_created)); then rm -f /usr/sbin/policy-rc.d; fi
    ((install_ok)) || die "apt-get install ${PKGS[*]} failed"
    for c in "${CMDS[@]}"; do command -v "$c" >/dev/null 2>&1 || die "still missing after install: $c"; done
    log "installed"
else
    log "packages present ($(slurmctld -V 2>/dev/null), $(mariadbd --version 2>/dev/null | awk '{print $3}'))"
fi

# ---------------------------------------------------------------- layout
mkdir -p "$D"
D=$(cd "$D" && pwd -P)
# munged insists that every directory above its socket is executable by all
# and not writable by group/other (sticky /tmp is fine).
chmod 755 "$D"
mkdir -p "$D"/{munge,run,log,state/slurmctld,state/slurmd}
chmod 755 "$D"/munge "$D"/run "$D"/log "$D"/state "$D"/state/*
SLURM_CONF_FILE=$D/slurm.conf
export SLURM_CONF=$SLURM_CONF_FILE
MUNGE_SOCKET=$D/munge/munge.socket.2
MUNGE_KEY=$D/munge/munge.key
DB_SOCKET=$D/run/mariadbd.sock
DB_CNF=$D/mariadb.cnf

HOST=$(hostname -s)
[[ -n $HOST ]] || die "hostname -s is empty"
if ! getent hosts "$HOST" >/dev/null 2>&1; then
    log "host name '$HOST' does not resolve; adding '127.0.0.1 $HOST' to /etc/hosts"
    printf '127.0.0.1 %s\n' "$HOST" >>/etc/hosts
fi

NCPU=$(nproc)
MEM_MB=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
# "A bit below" the machine: leave 5 % (at least 512 MB) for the system.
RESERVE=$((MEM_MB / 20 > 512 ? MEM_MB / 20 : 512))
REAL_MEM=$((MEM_MB - RESERVE))
((REAL_MEM >= 256)) || die "too little memory (${MEM_MB} MB)"
DEF_MEM_PER_CPU=$((REAL_MEM / NCPU < 1024 ? REAL_MEM / NCPU : 1024))

# write_if_changed PATH MODE < content: returns 0 when PATH was (re)written.
write_if_changed() {
    local tmp
    tmp=$(mktemp "$1.XXXXXX")
    cat >"$tmp"
    chmod "$2" "$tmp"
    if [[ -f $1 ]] && cmp -s "$tmp" "$1"; then
        rm -f "$tmp"
        return 1
    fi
    mv -f "$tmp" "$1"
}

# Password of the MariaDB user `slurm` (slurmdbd connects over TCP).
if [[ ! -s $D/mariadb.pass ]]; then
    (umask 077; od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$D/mariadb.pass")
fi
chmod 600 "$D/mariadb.pass"
DB_PASS=$(<"$D/mariadb.pass")

config_changed=()
write_if_changed "$SLURM_CONF_FILE" 644 <<EOF && config_changed+=(slurm.conf) || true
# Written by scripts/slurm-up.sh; rewritten on every run.
ClusterName=$CLUSTER
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
StateSaveLocation=$D/state/slurmctld
SlurmdSpoolDir=$D/state/slurmd
SlurmctldPidFile=$D/run/slurmctld.pid
SlurmdPidFile=$D/run/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$DEF_MEM_PER_CPU
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$DBD_PORT
# With auth/munge this is the munge socket used towards slurmdbd.
AccountingStoragePass=$MUNGE_SOCKET
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
JobCompType=jobcomp/none
MailProg=/bin/true
InactiveLimit=0
KillWait=5
MinJobAge=300
SlurmctldTimeout=60
SlurmdTimeout=120
Waittime=0
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$NCPU RealMemory=$REAL_MEM State=UNKNOWN
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF

write_if_changed "$D/slurmdbd.conf" 600 <<EOF && config_changed+=(slurmdbd.conf) || true
# Written by scripts/slurm-up.sh; rewritten on every run.
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
DbdHost=localhost
DbdPort=$DBD_PORT
SlurmUser=root
DebugLevel=info
LogFile=$D/log/slurmdbd.log
PidFile=$D/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db
EOF
chown root:root "$D/slurmdbd.conf"

write_if_changed "$DB_CNF" 644 <<EOF && config_changed+=(mariadb.cnf) || true
# Written by scripts/slurm-up.sh: the private MariaDB of the test cluster.
[mysqld]
user=root
datadir=$D/mysql
socket=$DB_SOCKET
pid-file=$D/run/mariadbd.pid
log-error=$D/log/mariadbd.log
bind-address=127.0.0.1
port=$DB_PORT
innodb_buffer_pool_size=256M
innodb_log_file_size=64M
innodb_lock_wait_timeout=900
max_allowed_packet=16M

[client]
socket=$DB_SOCKET
user=root
EOF

printf 'export SLURM_CONF=%s\n' "$SLURM_CONF_FILE" >"$D/env.sh"

if [[ ${EFFAUG_SLURM_ETC_LINK:-0} == 1 ]]; then
    if [[ -L /etc/slurm/slurm.conf && $(readlink /etc/slurm/slurm.conf) == "$SLURM_CONF_FILE" ]]; then
        :
    elif [[ -e /etc/slurm/slurm.conf || -L /etc/slurm/slurm.conf ]]; then
        log "WARNING: /etc/slurm/slurm.conf exists; not linking it (EFFAUG_SLURM_ETC_LINK=1)"
    else
        log "linking /etc/slurm/slurm.conf -> $SLURM_CONF_FILE"
        mkdir -p /etc/slurm
        ln -s "$SLURM_CONF_FILE" /etc/slurm/slurm.conf
    fi
fi

# ---------------------------------------------------------------- helpers
# running NAME: true when run/NAME.pid names a live process called NAME that
# belongs to this state directory (guards against stale pid files and reuse).
running() {
    local name=$1 f=$D/run/$1.pid pid
    [[ -s $f ]] || return 1
    pid=$(tr -dc '0-9' <"$f")
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$name" ]] || return 1
    # Its command line (or, for slurmdbd, its SLURM_CONF) names this directory.
    local info
    info=$({ tr '\0' '\n' <"/proc/$pid/cmdline" && tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null) || return 1
    [[ $info == *"$D/"* ]]
}

# wait_for DESCRIPTION SECONDS COMMAND...: poll COMMAND every 0.5 s.
wait_for() {
    local what=$1 secs=$2 deadline
    shift 2
    deadline=$(($(date +%s) + secs))
    until "$@" >/dev/null 2>&1; do
        (($(date +%s) < deadline)) || die "timed out after ${secs}s waiting for $what"
        sleep 0.5
    done
}

# start NAME COMMAND...: start a self-daemonizing daemon detached from this
# shell, then wait until its pid file names a live process.
start() {
    local name=$1
    shift
    rm -f "$D/run/$name.pid"
    log "starting $name"
    EFFAUG_SLURM_DIR=$D setsid "$@" </dev/null >>"$D/log/$name.out" 2>&1 ||
        die "$name failed to start (see $D/log/$name.out)"
    wait_for "$name to write its pid file" 30 running "$name"
}

started=()

# ---------------------------------------------------------------- munged
if running munged; then
    log "munged already running (pid $(<"$D/run/munged.pid"))"
else
    if [[ ! -s $MUNGE_KEY ]]; then
        if [[ -r /etc/munge/munge.key ]]; then
            # Same key as the system's, but owned by root as munged requires.
            log "copying /etc/munge/munge.key to $MUNGE_KEY"
            install -m 600 -o root -g root /etc/munge/munge.key "$MUNGE_KEY"
        else
            log "creating munge key $MUNGE_KEY"
            mungekey --create --keyfile="$MUNGE_KEY" >/dev/null 2>&1 ||
                (umask 077; dd if=/dev/urandom of="$MUNGE_KEY" bs=1024 count=1 status=none)
        fi
    fi
    chown root:root "$MUNGE_KEY"
    chmod 600 "$MUNGE_KEY"
    start munged munged --socket="$MUNGE_SOCKET" --key-file="$MUNGE_KEY" \
        --pid-file="$D/run/munged.pid" --log-file="$D/log/munged.log" \
        --seed-file="$D/munge/munged.seed"
    started+=(munged)
fi
wait_for "munge to answer" 15 bash -c "munge -n --socket='$MUNGE_SOCKET' | unmunge --socket='$MUNGE_SOCKET'"

# ---------------------------------------------------------------- mariadbd
if running mariadbd; then
    log "mariadbd already running (pid $(<"$D/run/mariadbd.pid"))"
else
    if [[ ! -e $D/mysql/.effaug-initialised ]]; then
        log "initialising MariaDB datadir $D/mysql"
        rm -rf "$D/mysql"
        mariadb-install-db --defaults-file="$DB_CNF" --auth-root-authentication-method=socket \
            --skip-test-db >>"$D/log/mariadb-install-db.log" 2>&1 ||
            die "mariadb-install-db failed (see $D/log/mariadb-install-db.log)"
        touch "$D/mysql/.effaug-initialised"
    fi
    rm -f "$D/run/mariadbd.pid"
    log "starting mariadbd"
    # mariadbd does not fork: run it in the background, in its own session.
    EFFAUG_SLURM_DIR=$D setsid mariadbd --defaults-file="$DB_CNF" </dev/null >>"$D/log/mariadbd.out" 2>&1 &
    wait_for "mariadbd to write its pid file" "$TIMEOUT" running mariadbd
    started+=(mariadbd)
fi
wait_for "mariadbd to answer" "$TIMEOUT" mariadb-admin --defaults-file="$DB_CNF" ping
mariadb --defaults-file="$DB_CNF" <<EOF
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DB_PASS';
ALTER USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
ALTER USER 'slurm'@'localhost' IDENTIFIED BY '$DB_PASS';
GRANT ALL PRIVILEGES ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
GRANT ALL PRIVILEGES ON slurm_acct_db.* TO 'slurm'@'localhost';
FLUSH PRIVILEGES;
EOF

# ---------------------------------------------------------------- slurmdbd
# slurmdbd has no -f: it reads slurmdbd.conf next to $SLURM_CONF.
if running slurmdbd; then
    log "slurmdbd already running (pid $(<"$D/run/slurmdbd.pid"))"
else
    start slurmdbd slurmdbd
    started+=(slurmdbd)
fi
wait_for "slurmdbd to answer (sacctmgr list cluster)" "$TIMEOUT" timeout 10 sacctmgr -n -P list cluster

# ---------------------------------------------------------------- accounting
# sacctmgr add: rc 1 with "Nothing new added" / "already exists" when there
# is nothing to do; anything else is an error.
sacctmgr_add() {
    local out rc=0
    out=$(timeout 30 sacctmgr -i "$@" 2>&1) || rc=$?
    if ((rc)) && ! grep -qiE 'already exist|nothing new added' <<<"$out"; then
        printf '%s\n' "$out" >&2
        die "sacctmgr -i $* failed (exit $rc)"
    fi
}
if ! sacctmgr -n -P list cluster format=Cluster | grep -x "$CLUSTER" >/dev/null; then
    log "accounting: adding cluster $CLUSTER"
    sacctmgr_add add cluster "$CLUSTER"
fi
if ! sacctmgr -n -P list account "$ACCOUNT" format=Account | grep -x "$ACCOUNT" >/dev/null; then
    log "accounting: adding account $ACCOUNT"
    sacctmgr_add add account "$ACCOUNT" Cluster="$CLUSTER" Description="effaug integration tests" Organization=effaug
fi
if ! sacctmgr -n -P list association cluster="$CLUSTER" account="$ACCOUNT" user=root format=User | grep -x root >/dev/null; then
    log "accounting: adding user root to account $ACCOUNT"
    sacctmgr_add add user root Account="$ACCOUNT" Cluster="$CLUSTER"
fi
if [[ $(sacctmgr -n -P list user root format=DefaultAccount) != "$ACCOUNT" ]]; then
    sacctmgr_add modify user where name=root set DefaultAccount="$ACCOUNT"
fi

# ---------------------------------------------------------------- slurmctld, slurmd
if running slurmctld; then
    log "slurmctld already running (pid $(<"$D/run/slurmctld.pid"))"
else
    start slurmctld slurmctld -f "$SLURM_CONF_FILE"
    started+=(slurmctld)
fi
wait_for "slurmctld to answer (scontrol ping)" "$TIMEOUT" bash -c 'scontrol ping | grep -q UP'

if running slurmd; then
    log "slurmd already running (pid $(<"$D/run/slurmd.pid"))"
else
    start slurmd slurmd -f "$SLURM_CONF_FILE"
    started+=(slurmd)
fi

if ((${#config_changed[@]})) && ((${#started[@]} < 5)) && [[ -e $D/.up-once ]]; then
    log "WARNING: ${config_changed[*]} changed while daemons were running;" \
        "run scripts/slurm-down.sh and this script again to apply"
fi
touch "$D/.up-once"

# ---------------------------------------------------------------- wait until usable
node_ready() {
    local state
    state=$(sinfo -h -N -n "$HOST" -p "$PARTITION" -o '%T' 2>/dev/null | head -n1)
    # idle once no job runs; mixed/allocated while jobs of other users run.
    [[ $state == idle || $state == mixed || $state == allocated || $state == completing ]]
}
deadline=$(($(date +%s) + TIMEOUT))
until node_ready; do
    if (($(date +%s) >= deadline)); then
        sinfo -N -l >&2 || true
        scontrol show node "$HOST" >&2 || true
        die "timed out after ${TIMEOUT}s waiting for node $HOST to become idle"
    fi
    sleep 0.5
done
wait_for "sacct to answer" "$TIMEOUT" timeout 10 sacct -n -X -a -S now-1minutes -o JobID

T1=$(date +%s.%N)
if ((${#started[@]})); then
    log "started: ${started[*]}"
else
    log "everything was already running"
fi
sinfo >&2
log "cluster $CLUSTER up in $(awk -v a="$T0" -v b="$T1" 'BEGIN {printf "%.1f", b - a}') s;" \
    "state in $D, logs in $D/log"
log "use it with:  export SLURM_CONF=$SLURM_CONF_FILE   (or: source $D/env.sh)"
printf 'export SLURM_CONF=%s\n' "$SLURM_CONF_FILE"
