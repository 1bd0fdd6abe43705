#!/usr/bin/env bash
# Stops the local control plane started by up.sh (by its pid files) and removes
# .local-cluster/ so the next up.sh starts fresh. Safe when nothing is up.
#   --keep-state   stop the processes but keep .local-cluster/ (logs, certs) for inspection
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
STATE="$REPO_ROOT/.local-cluster"
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

ours() { # ours <pid> <name>: the pid still runs the program we recorded
  kill -0 "$1" 2>/dev/null && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q -- "$2"
}

for name in "${ordered[@]}"; do
  f="$PIDS/$name.pid"
  [[ -f "$f" ]] || continue
  pid="$(cat "$f")"
  if [[ -n "$pid" ]] && ours "$pid" "$name"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do ours "$pid" "$name" || break; sleep 0.1; done
    if ours "$pid" "$name"; then kill -KILL "$pid" 2>/dev/null || true; sleep 0.2; fi
    echo "cluster/down: stopped $name (pid $pid)" >&2
  fi
  rm -f "$f"
done

if ((keep_state == 0)); then
  rm -rf "$STATE"
fi
