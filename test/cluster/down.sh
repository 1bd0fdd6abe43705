#!/usr/bin/env bash
# Stops the local control plane started by up.sh (by its pid files) and removes
# .local-cluster/ so the next up.sh starts fresh. Safe when nothing is up.
#   --keep-state   stop the processes but keep .local-cluster/ (logs, certs) for inspection
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
STATE="${DBM_CLUSTER_STATE:-$REPO_ROOT/.local-cluster}"
PIDS="$STATE/pids"
keep_state=0
[[ "${1:-}" == "--keep-state" ]] && keep_state=1

# Same lock as up.sh (unless up.sh, holding it, called us).
if [[ -z "${DBM_CLUSTER_LOCK_HELD:-}" ]]; then
  exec 9<"$SCRIPT_DIR"
  flock 9
fi

# Reverse start order. Anything else a later script records in pids/ (a kubelet,
# containerd, ...) is stopped first, before the control plane.
ordered=()
if [[ -d "$PIDS" ]]; then
  for f in "$PIDS"/*.pid; do
    [[ -e "$f" ]] || continue
    n="$(basename "$f" .pid)"
    case "$n" in etcd | kube-apiserver | kube-controller-manager | kube-scheduler) ;; *) ordered+=("$n") ;; esac
  done
fi
ordered+=(kube-scheduler kube-controller-manager kube-apiserver etcd)

# shellcheck source=../../scripts/lib/daemon.sh
source "$REPO_ROOT/scripts/lib/daemon.sh"
for name in "${ordered[@]}"; do
  f="$PIDS/$name.pid"
  [[ -f "$f" ]] || continue
  # up.sh records the binary beside the pid; only a pid still running it is ours to stop.
  if [[ -f "$PIDS/$name.bin" ]] && dbm_daemon_alive "$f" "$(cat "$PIDS/$name.bin")"; then
    pid="$(cat "$f")"
    dbm_daemon_stop "$f" "$(cat "$PIDS/$name.bin")"
    echo "cluster/down: stopped $name (pid $pid)" >&2
  fi
  rm -f "$f" "$PIDS/$name.bin"
done

if ((keep_state == 0)); then
  rm -rf "$STATE"
fi
