# Shared by start-cluster.sh and stop-cluster.sh: where the harness keeps what it owns, and its guard.
CLUSTER=resnet-ga-test                  # tests/test_slurm.py runs only against a cluster of this name
MARK="# written by resnet-ga tests/slurm/start-cluster.sh"
RUN=/run/resnet-ga-slurm                # pid files of the daemons this harness started, and nothing else
STATE=/var/lib/resnet-ga-slurm          # its MariaDB data, SLURM state and logs
DB_PORT=3307
log() { printf '[slurm %(%T)T] %s\n' -1 "$*"; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

guard() {  # only in CI or on a machine whose owner says so
  if [ "${CI:-}" != true ] && [ "${1:-}" != --i-own-this-machine ]; then
    echo "refusing: this harness installs and runs SLURM daemons as root; run it in CI (CI=true) or" \
      "pass --i-own-this-machine on a throw-away machine" >&2
    exit 2
  fi
}

stop() {  # stop a daemon this harness started: by its own pid file, and only if it is that daemon
  local pf=$1 name=$2 p
  alive "$pf" || { rm -f "$pf"; return 0; }
  p=$(cat "$pf")
  if [ "$(cat "/proc/$p/comm" 2>/dev/null)" != "$name" ]; then rm -f "$pf"; return 0; fi
  kill "$p" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$p" 2>/dev/null && kill -9 "$p" 2>/dev/null
  rm -f "$pf"
}
