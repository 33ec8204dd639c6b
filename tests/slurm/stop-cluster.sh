#!/usr/bin/env bash
# Stop the daemons tests/slurm/start-cluster.sh started, each by its pidfile.
for pf in /run/slurmd.pid /run/slurmctld.pid /run/slurmdbd.pid /run/mysqld/mysqld.pid /run/munge/munged.pid; do
  [ -f "$pf" ] || continue
  p=$(cat "$pf"); kill "$p" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$p" 2>/dev/null; rm -f "$pf"
done
