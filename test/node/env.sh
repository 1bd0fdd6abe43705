# shellcheck shell=bash
# Shared settings of the local node (sourced by test/node/*.sh, images/*.sh and
# scripts/demo.sh). Everything here stays on this machine: the pod network is a
# private /24 on a bridge that test/node/up.sh creates, with no route out.
DBM_REPO_ROOT="${DBM_REPO_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
DBM_CACHE_ROOT="${DBM_CACHE_DIR:-$HOME/.cache/database-migration-operator}"
DBM_K8S_VERSION="${K8S_VERSION:-v1.35.4}"
DBM_K8S_BIN="$DBM_CACHE_ROOT/k8s-$DBM_K8S_VERSION/bin"

DBM_NODE_NAME="${DBM_NODE_NAME:-dbm-node}"
DBM_BRIDGE="${DBM_BRIDGE:-dbm0}"
DBM_POD_CIDR="${DBM_POD_CIDR:-10.88.0.0/24}"
DBM_BRIDGE_IP="${DBM_BRIDGE_IP:-10.88.0.1}" # the node's address on the pod network (and its InternalIP)
DBM_SERVICE_CIDR="10.0.0.0/24"             # must match test/cluster/up.sh
DBM_CLUSTER_DNS_DOMAIN="cluster.local"

# Long-lived state (image store, kubelet root) outside the repository, so the
# images survive a cluster teardown; per-run state (certs, configs, logs) in
# .local-cluster/node next to the control plane's; pid files in /run.
DBM_NODE_ROOT="${DBM_NODE_ROOT:-/var/lib/dbm-node}"
DBM_NODE_RUN="${DBM_NODE_RUN:-/run/dbm-node}"
DBM_NODE_STATE="$DBM_REPO_ROOT/.local-cluster/node"
DBM_CONTAINERD_ROOT="$DBM_NODE_ROOT/containerd"
DBM_CONTAINERD_STATE="$DBM_NODE_RUN/containerd"
DBM_CONTAINERD_SOCK="$DBM_NODE_RUN/containerd/containerd.sock"
DBM_KUBELET_ROOT="$DBM_NODE_ROOT/kubelet"
DBM_CNI_CONF_DIR="$DBM_NODE_ROOT/cni/net.d"
DBM_CNI_BIN_DIR="/usr/lib/cni"
DBM_CNI_NETWORK="dbm-pods"
DBM_KUBELET_PORT="${DBM_KUBELET_PORT:-10250}"

# Locally built images (names as a user would write them).
DBM_PAUSE_IMAGE="localhost/dbm/pause:3.10"
DBM_DEBIAN_IMAGE="docker.io/library/debian:bookworm-slim"
DBM_NODE_IMAGE="docker.io/library/node:24-slim"
DBM_NODE_VERSION="24.21.0"
DBM_NPM_VERSION="11.21.2"

dbm_ctr() { ctr --address "$DBM_CONTAINERD_SOCK" -n k8s.io "$@"; }
