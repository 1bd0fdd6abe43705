#!/usr/bin/env bash
# Takes the local node down: stops the kubelet and kube-proxy, kills and removes
# every container of the node's containerd (namespace k8s.io), unmounts the Pods'
# volumes, removes the Pods' network namespaces, the bridge and the iptables
# rules, stops containerd and deletes the Node object (when the apiserver is up).
# Keeps the image store in /var/lib/dbm-node/containerd so the next up is fast;
# --purge deletes it too. Safe when nothing runs.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$HERE/env.sh"
REPO="$DBM_REPO_ROOT"
PIDS="$DBM_NODE_RUN/pids"
PURGE=0
[[ "${1:-}" == --purge ]] && PURGE=1
log() { echo "node/down: $*" >&2; }
[[ $(id -u) -eq 0 ]] || { log "must run as root"; exit 1; }
exec 7<"$HERE/up.sh"
flock 7

# shellcheck source=../../scripts/lib/daemon.sh
source "$REPO/scripts/lib/daemon.sh"
stop() { # stop <name> <binary name>: only a pid that still runs the binary up.sh recorded
  local f="$PIDS/$1.pid"
  if [[ -f "$PIDS/$1.bin" ]] && dbm_daemon_alive "$f" "$(cat "$PIDS/$1.bin")"; then
    local pid; pid="$(cat "$f")"
    dbm_daemon_stop "$f" "$(cat "$PIDS/$1.bin")"
    log "stopped $1 ($pid)"
  fi
  rm -f "$f" "$PIDS/$1.bin"
}

stop kubelet kubelet
stop kube-proxy kube-proxy
stop apiserver-relay socat

# Containers: kill every task, then remove the containers (their snapshots go with them).
if [[ -S "$DBM_CONTAINERD_SOCK" ]] && dbm_ctr version >/dev/null 2>&1; then
  mapfile -t tasks < <(dbm_ctr tasks ls -q 2>/dev/null)
  for t in "${tasks[@]}"; do dbm_ctr tasks kill -s SIGKILL "$t" >/dev/null 2>&1; done
  for t in "${tasks[@]}"; do
    for _ in $(seq 1 25); do dbm_ctr tasks rm -f "$t" >/dev/null 2>&1 && break; sleep 0.2; done
  done
  mapfile -t ctrs < <(dbm_ctr containers ls -q 2>/dev/null)
  ((${#ctrs[@]})) && dbm_ctr containers rm "${ctrs[@]}" >/dev/null 2>&1
  log "removed ${#ctrs[@]} containers"
fi
stop containerd containerd

# Mounts left by the Pods (secret/projected tmpfs, sandbox shm) and the kubelet's
# own shared bind mount of its root, deepest first.
for root in "$DBM_KUBELET_ROOT" "$DBM_NODE_RUN"; do
  findmnt -rn -o TARGET | awk -v r="$root" '$0 == r || index($0, r "/") == 1' | sort -r \
    | while read -r m; do umount -l "$m" 2>/dev/null; done
done
# Network namespaces of our Pods: those holding an address of the pod network.
prefix="${DBM_POD_CIDR%.*}."
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^cni-'); do
  if ip netns exec "$ns" ip -4 -o addr 2>/dev/null | grep -qF " $prefix"; then ip netns delete "$ns"; fi
done
ip link show "$DBM_BRIDGE" >/dev/null 2>&1 && ip link delete "$DBM_BRIDGE"
while iptables -w -D FORWARD -s "$DBM_POD_CIDR" ! -o "$DBM_BRIDGE" -j DROP -m comment --comment DBM-NODE-ISOLATION 2>/dev/null; do :; done
[[ -x "$DBM_K8S_BIN/kube-proxy" ]] && "$DBM_K8S_BIN/kube-proxy" --cleanup >/dev/null 2>&1
sed -i "/# added by database-migration-operator test\/node\/up.sh\$/d" /etc/hosts
rm -rf "$DBM_NODE_ROOT/cni/ipam" "$DBM_KUBELET_ROOT" "$DBM_NODE_RUN"

# The Node object, when the control plane is still there.
if [[ -f "$REPO/.local-cluster/kubeconfig" ]]; then
  # shellcheck source=../../scripts/tools.sh
  source "$REPO/scripts/tools.sh" 2>/dev/null &&
    "$KUBECTL" --kubeconfig "$REPO/.local-cluster/kubeconfig" --request-timeout=5s \
      delete node "$DBM_NODE_NAME" --ignore-not-found >/dev/null 2>&1 &&
    "$KUBECTL" --kubeconfig "$REPO/.local-cluster/kubeconfig" --request-timeout=5s \
      -n default delete endpointslice "kubernetes-$DBM_NODE_NAME" --ignore-not-found >/dev/null 2>&1
fi
rm -rf "$DBM_NODE_STATE"
if ((PURGE)); then
  rm -rf "$DBM_NODE_ROOT"
  log "purged $DBM_NODE_ROOT (image store)"
fi
log "node down"
