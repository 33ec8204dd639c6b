#!/usr/bin/env bash
# Stop the daemons tests/slurm/start-cluster.sh started: only those with a pid file in its own
# folder, and only while that pid still runs the daemon named (a reused pid is left alone).
. "$(dirname "$0")/common.sh"
guard "$@"
stop "$RUN/slurmd.pid" slurmd
stop "$RUN/slurmctld.pid" slurmctld
stop "$RUN/slurmdbd.pid" slurmdbd
stop "$RUN/mysql/mysqld.pid" mariadbd
stop "$RUN/munged.pid" munged
