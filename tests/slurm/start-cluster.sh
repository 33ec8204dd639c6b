#!/usr/bin/env bash
# Bring up a throw-away single-node SLURM cluster for the tests (Debian, root, no systemd): munge,
# MariaDB + slurmdbd (so sacct works), slurmctld, slurmd and fake GPUs (character devices cloned
# from /dev/null, declared as GRES gpu). Idempotent. For CI and machines you own, nothing else:
#   - it runs only with CI=true or --i-own-this-machine;
#   - it never overwrites a slurm.conf, gres.conf or slurmdbd.conf it did not write (first line);
#   - every daemon it starts has its pid file in /run/resnet-ga-slurm/, and stop-cluster.sh stops
#     only those; its MariaDB has its own data folder, socket and port (3307, loopback only).
#   SLURM_FAKE_GPUS=2  SLURM_CPUS=8  SLURM_MEM_MB=64000  bash tests/slurm/start-cluster.sh
set -euo pipefail
. "$(dirname "$0")/common.sh"
guard "$@"
NGPU=${SLURM_FAKE_GPUS:-2}
CPUS=${SLURM_CPUS:-8}        # more than the real cores: jobs ask for 4 threads
MEM=${SLURM_MEM_MB:-64000}   # more than the real memory: train jobs ask for 16 GB
PART=${SLURM_PARTITION:-debug}

for f in slurm.conf gres.conf slurmdbd.conf; do
  if [ -e "/etc/slurm/$f" ] && [ "$(head -1 "/etc/slurm/$f")" != "$MARK" ]; then
    echo "refusing: /etc/slurm/$f exists and was not written by this harness (a real cluster?)" >&2
    exit 1
  fi
done

pkgs=(slurm-wlm munge slurmdbd mariadb-server)
missing=(); for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt_log=$(mktemp)  # not a fixed name in the shared /tmp
  apt-get install -y -q --no-install-recommends "${missing[@]}" >"$apt_log" 2>&1 || {
    apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${missing[@]}" >"$apt_log" 2>&1; }
fi
mkdir -p "$RUN" "$STATE"

H=$(hostname -s)
getent hosts "$H" >/dev/null || echo "127.0.0.1 $H" >> /etc/hosts

# munge: shared-key authentication between the daemons; a munged already running is used, not owned
if [ ! -s /etc/munge/munge.key ]; then
  mungekey --create --force 2>/dev/null || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key
fi
mkdir -p /run/munge && chown munge:munge /run/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
  cp /run/munge/munged.pid "$RUN/munged.pid"
fi

# fake GPUs: slurmd wants character devices
mkdir -p "$RUN/fake-gpu"
gres="$MARK"$'\n'"AutoDetect=off"
for i in $(seq 0 $((NGPU - 1))); do
  f=$RUN/fake-gpu/nvidia$i
  [ -c "$f" ] || mknod "$f" c 1 3
  gres+=$'\n'"NodeName=$H Name=gpu Type=fake File=$f"
done

mkdir -p /etc/slurm "$STATE/slurmctld" "$STATE/slurmd" "$STATE/log"
chown slurm:slurm "$STATE/slurmctld" "$STATE/log"
cat > "$RUN/slurm.conf.new" <<CONF
$MARK
ClusterName=$CLUSTER
SlurmctldHost=$H
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SlurmdParameters=config_overrides
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStorageTRES=gres/gpu
JobAcctGatherType=jobacct_gather/linux
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=500
ReturnToService=2
MinJobAge=300
KillWait=5
MailProg=/bin/true
StateSaveLocation=$STATE/slurmctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
GresTypes=gpu
NodeName=$H NodeAddr=127.0.0.1 CPUs=$CPUS Boards=1 SocketsPerBoard=1 CoresPerSocket=$CPUS ThreadsPerCore=1 RealMemory=$MEM Gres=gpu:fake:$NGPU State=UNKNOWN
PartitionName=$PART Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
changed=0
cmp -s "$RUN/slurm.conf.new" /etc/slurm/slurm.conf || changed=1
[ "$(cat /etc/slurm/gres.conf 2>/dev/null)" = "$gres" ] || changed=1
install -m 644 "$RUN/slurm.conf.new" /etc/slurm/slurm.conf
printf '%s\n' "$gres" > /etc/slurm/gres.conf

# accounting: a MariaDB of our own (own data folder, socket, port) + slurmdbd, so that sacct works
DB=(mariadb --socket="$RUN/mysql/mysqld.sock")
if ! alive "$RUN/mysql/mysqld.pid"; then
  mkdir -p "$STATE/mysql" "$RUN/mysql" && chown mysql:mysql "$STATE/mysql" "$RUN/mysql"
  [ -d "$STATE/mysql/mysql" ] || mariadb-install-db --user=mysql --datadir="$STATE/mysql" >/dev/null
  setsid nohup /usr/sbin/mariadbd --user=mysql --datadir="$STATE/mysql" --socket="$RUN/mysql/mysqld.sock" \
    --port="$DB_PORT" --bind-address=127.0.0.1 --pid-file="$RUN/mysql/mysqld.pid" \
    >"$STATE/log/mariadb.log" 2>&1 </dev/null &
  for _ in $(seq 150); do "${DB[@]}" -e 'select 1' >/dev/null 2>&1 && break; sleep 0.2; done
fi
"${DB[@]}" -e "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurmdb';
  CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurmdb';
  GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
  FLUSH PRIVILEGES;"
cat > "$RUN/slurmdbd.conf.new" <<CONF
$MARK
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
SlurmUser=slurm
LogFile=$STATE/log/slurmdbd.log
PidFile=$RUN/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=slurmdb
StorageLoc=slurm_acct_db
CONF
install -m 600 -o slurm -g slurm "$RUN/slurmdbd.conf.new" /etc/slurm/slurmdbd.conf
if ! alive "$RUN/slurmdbd.pid"; then
  /usr/sbin/slurmdbd
  for _ in $(seq 150); do sacctmgr -n list cluster >/dev/null 2>&1 && break; sleep 0.2; done
fi

if [ "$changed" = 1 ]; then stop "$RUN/slurmd.pid" slurmd; stop "$RUN/slurmctld.pid" slurmctld; fi
alive "$RUN/slurmctld.pid" || { rm -f "$RUN/slurmctld.pid"; /usr/sbin/slurmctld; }
alive "$RUN/slurmd.pid" || { rm -f "$RUN/slurmd.pid"; /usr/sbin/slurmd; }
for _ in $(seq 150); do
  state=$(sinfo -h -n "$H" -o %T 2>/dev/null | head -1)
  case "$state" in idle|mixed|allocated) break ;; drain*|down*) scontrol update nodename="$H" state=resume 2>/dev/null || true ;; esac
  sleep 0.2
done
case "$state" in idle|mixed|allocated) ;; *) echo "node $H not idle: $state" >&2; tail -5 "$STATE"/log/*.log >&2; exit 1 ;; esac
log "cluster $CLUSTER up: $(sinfo -h -o '%P %T %c CPUs %m MB %G')"
