#!/usr/bin/env bash
# Bring up a real single-node SLURM cluster on this machine for the tests (Debian, run as root,
# no systemd): munge, MariaDB + slurmdbd (so sacct works), slurmctld, slurmd, and fake GPUs
# (character devices cloned from /dev/null, declared as GRES gpu). Idempotent.
#   SLURM_FAKE_GPUS=2  SLURM_CPUS=8  SLURM_MEM_MB=64000  bash tests/slurm/start-cluster.sh
set -euo pipefail
NGPU=${SLURM_FAKE_GPUS:-2}
CPUS=${SLURM_CPUS:-8}        # more than the real cores: jobs ask for 4 threads
MEM=${SLURM_MEM_MB:-64000}   # more than the real memory: train jobs ask for 16 GB
PART=${SLURM_PARTITION:-debug}
log() { printf '[slurm %(%T)T] %s\n' -1 "$*"; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

pkgs=(slurm-wlm munge slurmdbd mariadb-server)
missing=(); for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/slurm-apt.log 2>&1 || {
    apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/slurm-apt.log 2>&1; }
fi

H=$(hostname -s)
getent hosts "$H" >/dev/null || echo "127.0.0.1 $H" >> /etc/hosts

# munge: shared-key authentication between the daemons
if [ ! -s /etc/munge/munge.key ]; then
  mungekey --create --force 2>/dev/null || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key
fi
mkdir -p /run/munge && chown munge:munge /run/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
fi

# fake GPUs: slurmd wants character devices
mkdir -p /run/fake-gpu
gres="AutoDetect=off"
for i in $(seq 0 $((NGPU - 1))); do
  f=/run/fake-gpu/nvidia$i
  [ -c "$f" ] || mknod "$f" c 1 3
  gres+=$'\n'"NodeName=$H Name=gpu Type=fake File=$f"
done

mkdir -p /etc/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm
chown slurm:slurm /var/lib/slurm/slurmctld /var/log/slurm
cat > /tmp/slurm.conf.new <<CONF
ClusterName=ci
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
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
GresTypes=gpu
NodeName=$H NodeAddr=127.0.0.1 CPUs=$CPUS Boards=1 SocketsPerBoard=1 CoresPerSocket=$CPUS ThreadsPerCore=1 RealMemory=$MEM Gres=gpu:fake:$NGPU State=UNKNOWN
PartitionName=$PART Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
changed=0
cmp -s /tmp/slurm.conf.new /etc/slurm/slurm.conf || changed=1
[ "$(cat /etc/slurm/gres.conf 2>/dev/null)" = "$gres" ] || changed=1
install -m 644 /tmp/slurm.conf.new /etc/slurm/slurm.conf
printf '%s\n' "$gres" > /etc/slurm/gres.conf

# accounting: MariaDB + slurmdbd, so that sacct shows what each job asked for
mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
if ! mariadb-admin ping >/dev/null 2>&1; then
  [ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
  setsid nohup /usr/sbin/mariadbd --user=mysql --bind-address=127.0.0.1 --pid-file=/run/mysqld/mysqld.pid \
    >/var/log/slurm/mariadb.log 2>&1 </dev/null &
  for _ in $(seq 150); do mariadb-admin ping >/dev/null 2>&1 && break; sleep 0.2; done
fi
mariadb -e "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurmdb';
            GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
cat > /tmp/slurmdbd.conf.new <<CONF
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
SlurmUser=slurm
LogFile=/var/log/slurm/slurmdbd.log
PidFile=/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurmdb
StorageLoc=slurm_acct_db
CONF
install -m 600 -o slurm -g slurm /tmp/slurmdbd.conf.new /etc/slurm/slurmdbd.conf
if ! alive /run/slurmdbd.pid; then
  /usr/sbin/slurmdbd
  for _ in $(seq 150); do sacctmgr -n list cluster >/dev/null 2>&1 && break; sleep 0.2; done
fi

stop() { if alive "$1"; then kill "$(cat "$1")"; for _ in $(seq 50); do alive "$1" || break; sleep 0.1; done; fi; }
if [ "$changed" = 1 ]; then stop /run/slurmd.pid; stop /run/slurmctld.pid; fi
alive /run/slurmctld.pid || { rm -f /run/slurmctld.pid; /usr/sbin/slurmctld; }
alive /run/slurmd.pid || { rm -f /run/slurmd.pid; /usr/sbin/slurmd; }
for _ in $(seq 150); do
  state=$(sinfo -h -n "$H" -o %T 2>/dev/null | head -1)
  case "$state" in idle|mixed|allocated) break ;; drain*|down*) scontrol update nodename="$H" state=resume 2>/dev/null || true ;; esac
  sleep 0.2
done
case "$state" in idle|mixed|allocated) ;; *) echo "node $H not idle: $state" >&2; tail -5 /var/log/slurm/*.log >&2; exit 1 ;; esac
log "cluster up: $(sinfo -h -o '%P %T %c CPUs %m MB %G')"
