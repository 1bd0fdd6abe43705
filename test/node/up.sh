#!/usr/bin/env bash
# Joins a real node to the local control plane (test/cluster/up.sh):
#   containerd + runc + CNI plugins (Debian's packages), the kubelet and
#   kube-proxy built by test/cluster/build-binaries.sh, a bridge pod network
#   (10.88.0.0/24 on dbm0, node address 10.88.0.1) that stays on this machine,
#   and the locally built pause / debian / node images imported into containerd.
#
# Idempotent: a healthy node returns at once; containerd (and its images) keep
# running across control-plane restarts; the kubelet and kube-proxy are
# restarted with fresh certificates when the control plane's CA changed.
# Needs root. State: .local-cluster/node (certs, configs, logs),
# /var/lib/dbm-node (image store, kubelet root), /run/dbm-node (sockets, pids).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$HERE/env.sh"
REPO="$DBM_REPO_ROOT"
CLUSTER="$REPO/.local-cluster"
PKI="$CLUSTER/pki"
ST="$DBM_NODE_STATE"
PIDS="$DBM_NODE_RUN/pids"

started_at="$(date +%s.%N)"
elapsed() { awk -v s="$started_at" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }
log() { echo "node/up: $*" >&2; }
die() { log "$*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (containerd, the kubelet and the bridge need it)"
exec 7<"$HERE/up.sh"
flock 7

# shellcheck source=../../scripts/tools.sh
source "$REPO/scripts/tools.sh"
[[ -f "$CLUSTER/kubeconfig" ]] || die "no control plane: run test/cluster/up.sh first"
K() { "$KUBECTL" --kubeconfig "$CLUSTER/kubeconfig" --request-timeout=10s "$@"; }

for b in containerd runc ctr iptables "$DBM_CNI_BIN_DIR/bridge" "$DBM_CNI_BIN_DIR/host-local" "$DBM_CNI_BIN_DIR/loopback" "$DBM_CNI_BIN_DIR/portmap"; do
  command -v "$b" >/dev/null || [[ -x "$b" ]] || die "$b is missing (scripts/install-system-deps.sh installs containerd, runc, containernetworking-plugins, iptables)"
done

# shellcheck source=../../scripts/lib/daemon.sh
source "$REPO/scripts/lib/daemon.sh"
# Each daemon's pid file has its binary beside it (<name>.bin); the second
# argument of pid_alive/stop is kept for readability of the call sites.
pid_alive() { # pid_alive <name> <binary name>
  [[ -f "$PIDS/$1.bin" ]] && dbm_daemon_alive "$PIDS/$1.pid" "$(cat "$PIDS/$1.bin")"
}
start() { # start <name> <log> <binary> <args...>: returns once the binary runs, or dies with its log
  local name="$1" logf="$2" bin="$3"; shift 3
  readlink -f "$bin" >"$PIDS/$name.bin"
  dbm_daemon_start "$PIDS/$name.pid" "$logf" "$bin" "$@" || die "$name exited at start"
}
stop() { # stop <name> <binary name>: TERM, then KILL after 10s
  if [[ -f "$PIDS/$1.bin" ]]; then dbm_daemon_stop "$PIDS/$1.pid" "$(cat "$PIDS/$1.bin")"; fi
  rm -f "$PIDS/$1.pid" "$PIDS/$1.bin"
}
# The node's certificates must be signed by the control plane's current CA.
certs_current() {
  [[ -f "$ST/pki/kubelet.crt" && -f "$ST/pki/kube-proxy.crt" ]] \
    && openssl verify -CAfile "$PKI/ca.crt" "$ST/pki/kubelet.crt" "$ST/pki/kube-proxy.crt" >/dev/null 2>&1
}
node_ready() {
  [[ "$(K get node "$DBM_NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]
}
healthy() {
  pid_alive apiserver-relay socat && containerd_alive && pid_alive kubelet kubelet && pid_alive kube-proxy kube-proxy && certs_current && node_ready
}
containerd_alive() { pid_alive containerd containerd && dbm_ctr version >/dev/null 2>&1; }

if healthy; then
  log "node $DBM_NODE_NAME already up and Ready ($(elapsed)s)"
  exit 0
fi

# ---- binaries: built with the control plane, same version and cache ----------
if [[ ! -x "$DBM_K8S_BIN/kubelet" || ! -x "$DBM_K8S_BIN/kube-proxy" ]]; then
  log "building the kubelet and kube-proxy (test/cluster/build-binaries.sh)"
  bash "$REPO/test/cluster/build-binaries.sh" >/dev/null
fi

mkdir -p "$ST/pki" "$ST/logs" "$PIDS" "$DBM_CONTAINERD_ROOT" "$DBM_CONTAINERD_STATE" \
  "$DBM_KUBELET_ROOT" "$DBM_CNI_CONF_DIR"
chmod 700 "$ST"

# ---- kernel and the pod network ---------------------------------------------
modprobe br_netfilter 2>/dev/null || true
modprobe overlay 2>/dev/null || true
# kube-proxy's Service NAT must see pod-to-pod traffic that crosses the bridge.
sysctl -qw net.bridge.bridge-nf-call-iptables=1
# The node forwards between pods and its own address only; the DBM-NODE-ISOLATION
# rule below drops anything from the pod network that would leave by another interface.
sysctl -qw net.ipv4.ip_forward=1
if ! ip link show "$DBM_BRIDGE" >/dev/null 2>&1; then
  ip link add "$DBM_BRIDGE" type bridge
fi
ip addr replace "$DBM_BRIDGE_IP/${DBM_POD_CIDR#*/}" dev "$DBM_BRIDGE"
ip link set "$DBM_BRIDGE" up
# The apiserver reaches the kubelet (logs, exec) by the node's Hostname address first.
grep -qE "^$DBM_BRIDGE_IP[[:space:]]+$DBM_NODE_NAME( |\$)" /etc/hosts \
  || echo "$DBM_BRIDGE_IP $DBM_NODE_NAME # added by database-migration-operator test/node/up.sh" >>/etc/hosts
# kube-proxy forwards pod traffic for the `kubernetes` Service to the apiserver
# on 127.0.0.1; routing to a loopback address from the bridge needs this.
sysctl -qw "net.ipv4.conf.$DBM_BRIDGE.route_localnet=1"
if ! iptables -w -C FORWARD -s "$DBM_POD_CIDR" ! -o "$DBM_BRIDGE" -j DROP -m comment --comment DBM-NODE-ISOLATION 2>/dev/null; then
  iptables -w -I FORWARD 1 -s "$DBM_POD_CIDR" ! -o "$DBM_BRIDGE" -j DROP -m comment --comment DBM-NODE-ISOLATION
fi

# CNI: the bridge plugin on the bridge above, host-local IPAM on the private /24.
# Pods get routes to the pod network (connected) and to the Service network
# only: no default route, no masquerade, so nothing can leave the machine.
cat >"$DBM_CNI_CONF_DIR/10-$DBM_CNI_NETWORK.conflist" <<CNI
{
  "cniVersion": "1.0.0",
  "name": "$DBM_CNI_NETWORK",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$DBM_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "$DBM_POD_CIDR", "gateway": "$DBM_BRIDGE_IP" }]],
        "routes": [{ "dst": "$DBM_SERVICE_CIDR", "gw": "$DBM_BRIDGE_IP" }],
        "dataDir": "$DBM_NODE_ROOT/cni/ipam"
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
CNI

# ---- containerd ---------------------------------------------------------------
cat >"$ST/containerd.toml" <<TOML
# containerd for the local node (Debian's containerd $(containerd --version | awk '{print $3}')), its own root,
# state and socket so it never touches a system containerd.
version = 2
root = "$DBM_CONTAINERD_ROOT"
state = "$DBM_CONTAINERD_STATE"
[grpc]
  address = "$DBM_CONTAINERD_SOCK"
[ttrpc]
  address = "$DBM_CONTAINERD_SOCK.ttrpc"
[debug]
  level = "info"
[plugins."io.containerd.grpc.v1.cri"]
  # The Pods' sandbox image, built locally by images/build-base.sh.
  sandbox_image = "$DBM_PAUSE_IMAGE"
  stream_server_address = "127.0.0.1"
  # This machine withholds CAP_SYS_RESOURCE even from root, so no process may
  # lower its oom_score_adj (the kubelet asks -998 for sandboxes, -997 for
  # Guaranteed Pods; runc then fails with "failed to update
  # /proc/self/oom_score_adj: Permission denied"). Clamp to containerd's own.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        # cgroup v1 managed by the kubelet's cgroupfs driver (no systemd here).
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$DBM_CNI_BIN_DIR"
    conf_dir = "$DBM_CNI_CONF_DIR"
    max_conf_num = 1
TOML
# A running containerd keeps its containers and images; it is restarted (the
# containers' shims live on) only when its configuration changed.
if containerd_alive && ! cmp -s "$ST/containerd.toml" "$ST/containerd.toml.running"; then
  log "containerd configuration changed: restarting containerd"
  stop containerd containerd
fi
if ! containerd_alive; then
  stop containerd containerd
  log "starting containerd ($DBM_CONTAINERD_SOCK)"
  start containerd "$ST/logs/containerd.log" "$(command -v containerd)" --config "$ST/containerd.toml"
  for _ in $(seq 1 100); do dbm_ctr version >/dev/null 2>&1 && break; sleep 0.2; done
  containerd_alive || { tail -n 20 "$ST/logs/containerd.log" >&2; die "containerd did not start"; }
  cp "$ST/containerd.toml" "$ST/containerd.toml.running"
fi

# ---- images: pause, debian, node (made locally) -------------------------------
bash "$REPO/images/build-base.sh" --import

# ---- certificates and kubeconfigs --------------------------------------------
if ! certs_current; then
  log "issuing the kubelet's and kube-proxy's certificates from the cluster CA"
  # cert <name> <subject> <extendedKeyUsage> [subjectAltName]
  cert() {
    local name="$1" subj="$2" eku="$3" san="${4:-}"
    {
      echo "basicConstraints=critical,CA:FALSE"
      echo "keyUsage=critical,digitalSignature,keyEncipherment"
      echo "extendedKeyUsage=$eku"
      [[ -z "$san" ]] || echo "subjectAltName=$san"
    } >"$ST/pki/$name.ext"
    openssl req -new -nodes -newkey rsa:2048 -keyout "$ST/pki/$name.key" -out "$ST/pki/$name.csr" -subj "$subj" 2>/dev/null
    openssl x509 -req -sha256 -days 365 -in "$ST/pki/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
      -set_serial "0x$(openssl rand -hex 16)" -extfile "$ST/pki/$name.ext" -out "$ST/pki/$name.crt" 2>/dev/null
    rm -f "$ST/pki/$name.csr" "$ST/pki/$name.ext"
  }
  # The Node authorizer and NodeRestriction identify a kubelet by this subject.
  cert kubelet "/O=system:nodes/CN=system:node:$DBM_NODE_NAME" clientAuth
  cert kubelet-serving "/O=system:nodes/CN=system:node:$DBM_NODE_NAME" serverAuth \
    "DNS:$DBM_NODE_NAME,IP:$DBM_BRIDGE_IP,IP:127.0.0.1"
  # Bound to the built-in ClusterRole system:node-proxier.
  cert kube-proxy "/CN=system:kube-proxy" clientAuth
  chmod 600 "$ST"/pki/*.key
  cp "$PKI/ca.crt" "$ST/pki/ca.crt"
  # New identity: restart what used the old one.
  stop kubelet kubelet
  stop kube-proxy kube-proxy
fi
server="$(sed -n 's/^ *server: //p' "$CLUSTER/kubeconfig" | head -n1)"
kubeconfig() { # kubeconfig <file> <cert name>
  cat >"$1" <<KCFG
apiVersion: v1
kind: Config
clusters:
- name: dbm-local
  cluster:
    server: $server
    certificate-authority: $ST/pki/ca.crt
users:
- name: $2
  user:
    client-certificate: $ST/pki/$2.crt
    client-key: $ST/pki/$2.key
contexts:
- name: dbm-local
  context: { cluster: dbm-local, user: $2 }
current-context: dbm-local
KCFG
  chmod 600 "$1"
}
kubeconfig "$ST/kubelet.kubeconfig" kubelet
kubeconfig "$ST/kube-proxy.kubeconfig" kube-proxy

# ---- kubelet ---------------------------------------------------------------------
cat >"$ST/kubelet-config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine mounts cgroup v1 (stat -fc %T /sys/fs/cgroup prints tmpfs, not
# cgroup2fs) and has no systemd as PID 1, so the kubelet manages cgroups itself
# through cgroupfs; containerd's runc uses the same driver (SystemdCgroup = false).
cgroupDriver: cgroupfs
# Kubelet 1.35 refuses to start on cgroup v1 unless told otherwise (cgroup v1 is
# deprecated upstream); we accept v1 because that is what this kernel offers.
failCgroupV1: false
# The kubelet refuses to start when swap is on unless told otherwise. This
# machine has no swap today, but a machine of this kind may have some; with
# swap on, memorySwap.swapBehavior's default (NoSwap) still keeps Pods off it.
failSwapOn: false
containerRuntimeEndpoint: unix://$DBM_CONTAINERD_SOCK
# Serving (logs, exec, metrics for the apiserver) on the pod network's node address only.
address: $DBM_BRIDGE_IP
port: $DBM_KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: $ST/pki/kubelet-serving.crt
tlsPrivateKeyFile: $ST/pki/kubelet-serving.key
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: $ST/pki/ca.crt }
authorization:
  mode: Webhook
# No cluster DNS on this node: Pods get an empty resolv.conf (they reach the
# database and the apiserver by address) instead of the host's resolvers.
resolvConf: ""
clusterDomain: $DBM_CLUSTER_DNS_DOMAIN
# The images here exist only because we built and imported them: never
# garbage-collect them (100 disables image GC), and never pull.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
# Disk-pressure eviction would remove the demo's Pods on a nearly full dev disk;
# keep only a memory floor.
evictionHard:
  memory.available: "100Mi"
rotateCertificates: false
serverTLSBootstrap: false
podCIDR: $DBM_POD_CIDR
maxPods: 110
YAML
if ! pid_alive kubelet kubelet; then
  dbm_port_free "$DBM_KUBELET_PORT" DBM_KUBELET_PORT "kubelet port" || die "cannot start the kubelet"
  log "starting the kubelet as node $DBM_NODE_NAME ($DBM_BRIDGE_IP:$DBM_KUBELET_PORT)"
  start kubelet "$ST/logs/kubelet.log" "$DBM_K8S_BIN/kubelet" \
    --config="$ST/kubelet-config.yaml" \
    --kubeconfig="$ST/kubelet.kubeconfig" \
    --hostname-override="$DBM_NODE_NAME" \
    --node-ip="$DBM_BRIDGE_IP" \
    --root-dir="$DBM_KUBELET_ROOT" \
    --v=1
fi

# ---- kube-proxy (Service virtual IPs, iptables mode) -------------------------
cat >"$ST/kube-proxy-config.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection:
  kubeconfig: $ST/kube-proxy.kubeconfig
hostnameOverride: $DBM_NODE_NAME
clusterCIDR: $DBM_POD_CIDR
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# Only the node's own addresses answer NodePorts.
nodePortAddresses: ["$DBM_BRIDGE_IP/32", "127.0.0.0/8"]
conntrack:
  # Leave the host's conntrack sysctls alone.
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
YAML
if ! pid_alive kube-proxy kube-proxy; then
  log "starting kube-proxy"
  start kube-proxy "$ST/logs/kube-proxy.log" "$DBM_K8S_BIN/kube-proxy" --config="$ST/kube-proxy-config.yaml" --v=1
fi

# ---- the `kubernetes` Service for Pods ---------------------------------------------
# The control plane advertises 127.0.0.1, which an Endpoints/EndpointSlice may
# not hold (loopback is rejected), so the `kubernetes` Service (10.0.0.1:443,
# what in-cluster clients dial) has no endpoints. We give it one at the node's
# pod-network address, where a TCP relay passes connections on to the
# apiserver's loopback port. kube-proxy does the Service NAT as on any cluster;
# TLS is end to end (the apiserver certificate names 10.0.0.1).
api_port="${server##*:}"
if ! pid_alive apiserver-relay socat; then
  command -v socat >/dev/null || die "socat is missing (scripts/install-system-deps.sh)"
  start apiserver-relay "$ST/logs/apiserver-relay.log" "$(command -v socat)" \
    "TCP-LISTEN:$api_port,bind=$DBM_BRIDGE_IP,fork,reuseaddr" "TCP:127.0.0.1:$api_port"
fi
K apply -f - >/dev/null <<YAML
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kubernetes-$DBM_NODE_NAME
  namespace: default
  labels:
    kubernetes.io/service-name: kubernetes
    endpointslice.kubernetes.io/managed-by: $DBM_NODE_NAME.dbmigrate.io
addressType: IPv4
endpoints:
  - addresses: ["$DBM_BRIDGE_IP"]
    conditions: { ready: true }
ports:
  - name: https
    port: $api_port
    protocol: TCP
YAML

# ---- wait for Ready --------------------------------------------------------------
deadline=$((SECONDS + 120))
until node_ready; do
  for p in kubelet kube-proxy containerd; do
    pid_alive "$p" "$p" || { tail -n 30 "$ST/logs/$p.log" >&2; die "$p exited (log: $ST/logs/$p.log)"; }
  done
  ((SECONDS < deadline)) || { tail -n 30 "$ST/logs/kubelet.log" >&2; die "node not Ready after 120s"; }
  sleep 1
done
log "node $DBM_NODE_NAME Ready in $(elapsed)s (pods on $DBM_POD_CIDR via $DBM_BRIDGE; logs in $ST/logs)"
