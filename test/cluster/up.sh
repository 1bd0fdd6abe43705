#!/usr/bin/env bash
# Brings up a real Kubernetes control plane on loopback for the tests:
# etcd, kube-apiserver, kube-controller-manager and kube-scheduler, run as
# detached local processes. All state (certificates, kubeconfigs, etcd data,
# logs, pid files) lives in .local-cluster/ at the repository root.
#
# Idempotent: when the cluster in .local-cluster/ is already up and healthy it
# returns at once. A half-up or dead cluster is torn down and started fresh.
#
# Ports (all on 127.0.0.1, override with the env vars):
#   etcd client DBM_ETCD_PORT (23790), etcd peer DBM_ETCD_PEER_PORT (23800),
#   kube-apiserver DBM_APISERVER_PORT (16443),
#   kube-controller-manager DBM_KCM_PORT (16257), kube-scheduler DBM_SCHEDULER_PORT (16259).
#
# Result: the admin kubeconfig at .local-cluster/kubeconfig (user in system:masters).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
STATE="${DBM_CLUSTER_STATE:-$REPO_ROOT/.local-cluster}" # another state dir (with other ports) runs a second cluster
PKI="$STATE/pki"
LOGS="$STATE/logs"
PIDS="$STATE/pids"

ETCD_PORT="${DBM_ETCD_PORT:-23790}"
ETCD_PEER_PORT="${DBM_ETCD_PEER_PORT:-23800}"
APISERVER_PORT="${DBM_APISERVER_PORT:-16443}"
KCM_PORT="${DBM_KCM_PORT:-16257}"
SCHEDULER_PORT="${DBM_SCHEDULER_PORT:-16259}"
ADVERTISE_ADDRESS="${DBM_APISERVER_ADVERTISE_ADDRESS:-127.0.0.1}"
SERVICE_CIDR="10.0.0.0/24"
SERVICE_IP="10.0.0.1" # first address of SERVICE_CIDR: the `kubernetes` Service
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler)

started_at="$(date +%s.%N)"
elapsed() { awk -v s="$started_at" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }
log() { echo "cluster/up: $*" >&2; }

# One up/down at a time. The lock is the test/cluster directory (it survives
# down.sh); fd 9 is closed in every process we start, so they do not hold it.
exec 9<"$SCRIPT_DIR"
flock 9
export DBM_CLUSTER_LOCK_HELD=1

# shellcheck source=../../scripts/tools.sh
source "$REPO_ROOT/scripts/tools.sh"

# shellcheck source=../../scripts/lib/daemon.sh
source "$REPO_ROOT/scripts/lib/daemon.sh"
pid_alive() { # name -> 0 when the pid recorded for it runs the binary recorded for it
  [[ -f "$PIDS/$1.bin" ]] && dbm_daemon_alive "$PIDS/$1.pid" "$(cat "$PIDS/$1.bin")"
}

ADMIN_KCFG="$STATE/kubeconfig"
kube_get() { # kube_get <port> <path>: GET over TLS with the admin credentials
  "$KUBECTL" --kubeconfig "$ADMIN_KCFG" --server "https://127.0.0.1:$1" \
    --request-timeout=5s get --raw "$2" 2>/dev/null
}
kube_ok() { [[ "$(kube_get "$1" "$2")" == ok ]]; }
kube_has() { "$KUBECTL" --kubeconfig "$ADMIN_KCFG" --request-timeout=5s "$@" >/dev/null 2>&1; }

healthy() {
  [[ -f "$STATE/kubeconfig" ]] || return 1
  local c
  for c in "${COMPONENTS[@]}"; do pid_alive "$c" || return 1; done
  kube_ok "$APISERVER_PORT" /readyz && kube_ok "$KCM_PORT" /healthz && kube_ok "$SCHEDULER_PORT" /healthz
}

if healthy; then
  log "already up and healthy (${APISERVER_PORT}); KUBECONFIG=$STATE/kubeconfig ($(elapsed)s)"
  exit 0
fi

if [[ -d "$STATE" ]]; then
  log "found a stale or unhealthy cluster in $STATE; tearing it down first"
  bash "$SCRIPT_DIR/down.sh"
fi

port_in_use() { dbm_port_in_use "$1"; }
ports_ok=1
dbm_port_free "$ETCD_PORT" DBM_ETCD_PORT "etcd client port" || ports_ok=0
dbm_port_free "$ETCD_PEER_PORT" DBM_ETCD_PEER_PORT "etcd peer port" || ports_ok=0
dbm_port_free "$APISERVER_PORT" DBM_APISERVER_PORT "kube-apiserver port" || ports_ok=0
dbm_port_free "$KCM_PORT" DBM_KCM_PORT "kube-controller-manager port" || ports_ok=0
dbm_port_free "$SCHEDULER_PORT" DBM_SCHEDULER_PORT "kube-scheduler port" || ports_ok=0
((ports_ok)) || { log "cannot start: a port is taken (see above)"; exit 1; }

# ---- binaries ---------------------------------------------------------------
build_out="$(bash "$SCRIPT_DIR/build-binaries.sh")"
K8S_BIN="$(sed -n 's/^K8S_BIN=//p' <<<"$build_out")"
ETCD_BIN="$(sed -n 's/^ETCD_BIN=//p' <<<"$build_out")"

mkdir -p "$PKI" "$LOGS" "$PIDS" "$STATE/etcd" "$STATE/certs-kcm" "$STATE/certs-scheduler"
chmod 700 "$STATE"

# ---- PKI --------------------------------------------------------------------
log "generating certificates"
openssl req -x509 -new -nodes -newkey rsa:2048 -sha256 -days 3650 \
  -keyout "$PKI/ca.key" -out "$PKI/ca.crt" -subj "/CN=dbm-local-ca" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
  2>/dev/null

# cert <name> <subject> <extendedKeyUsage> [subjectAltName]
cert() {
  local name="$1" subj="$2" eku="$3" san="${4:-}"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    [[ -z "$san" ]] || echo "subjectAltName=$san"
  } >"$PKI/$name.ext"
  openssl req -new -nodes -newkey rsa:2048 -keyout "$PKI/$name.key" -out "$PKI/$name.csr" -subj "$subj" 2>/dev/null
  openssl x509 -req -sha256 -days 365 -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}
LOOPBACK_SAN="IP:127.0.0.1,DNS:localhost"
[[ "$ADVERTISE_ADDRESS" == 127.* ]] || LOOPBACK_SAN+=",IP:$ADVERTISE_ADDRESS"
cert apiserver "/CN=kube-apiserver" serverAuth \
  "$LOOPBACK_SAN,IP:$SERVICE_IP,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
cert admin "/O=system:masters/CN=dbm-admin" clientAuth
cert controller-manager "/CN=system:kube-controller-manager" clientAuth
cert scheduler "/CN=system:kube-scheduler" clientAuth
cert controller-manager-serving "/CN=kube-controller-manager" serverAuth "$LOOPBACK_SAN"
cert scheduler-serving "/CN=kube-scheduler" serverAuth "$LOOPBACK_SAN"
# Service-account token signing key pair.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/sa.key" 2>/dev/null
openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
chmod 600 "$PKI"/*.key

# kubeconfig <file> <cert name>
kubeconfig() {
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: dbm-local
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $(base64 -w0 <"$PKI/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(base64 -w0 <"$PKI/$2.crt")
    client-key-data: $(base64 -w0 <"$PKI/$2.key")
contexts:
- name: dbm-local
  context:
    cluster: dbm-local
    user: $2
    namespace: default
current-context: dbm-local
EOF
  chmod 600 "$1"
}
kubeconfig "$STATE/controller-manager.kubeconfig" controller-manager
kubeconfig "$STATE/scheduler.kubeconfig" scheduler
kubeconfig "$STATE/kubeconfig.tmp" admin # renamed into place once the cluster is ready

# ---- processes --------------------------------------------------------------
start() { # start <name> <binary> <args...>: detached, own session, log + pid in .local-cluster
  local name="$1" bin="$2"; shift 2
  readlink -f "$bin" >"$PIDS/$name.bin"
  dbm_daemon_start "$PIDS/$name.pid" "$LOGS/$name.log" "$bin" "$@" || fail "$name exited at start"
}

fail() {
  log "$1"
  local c
  for c in "${COMPONENTS[@]}"; do
    [[ -f "$LOGS/$c.log" ]] || continue
    echo "----- last lines of $LOGS/$c.log -----" >&2
    tail -n 20 "$LOGS/$c.log" >&2
  done
  bash "$SCRIPT_DIR/down.sh" --keep-state >/dev/null 2>&1 || true
  log "processes stopped; state kept in $STATE for inspection (down.sh removes it)"
  exit 1
}

wait_for() { # wait_for <what> <timeout s> <command...>
  local what="$1" timeout="$2"; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@"; do
    ((SECONDS < deadline)) || fail "timed out after ${timeout}s waiting for $what"
    local c
    for c in "${COMPONENTS[@]}"; do
      if [[ -f "$PIDS/$c.pid" ]] && ! pid_alive "$c"; then fail "$c exited while waiting for $what"; fi
    done
    sleep 0.5
  done
}

log "starting etcd on 127.0.0.1:$ETCD_PORT"
start etcd "$ETCD_BIN/etcd" \
  --name=dbm-local \
  --data-dir="$STATE/etcd" \
  --listen-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="dbm-local=http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster-state=new \
  --unsafe-no-fsync=true \
  --log-level=warn
wait_for "etcd" 30 port_in_use "$ETCD_PORT"

# The apiserver refuses to publish a loopback address in the endpoints of the
# `kubernetes` Service, so with 127.0.0.1 that Service has no endpoints and its
# reconciler is switched off (in-cluster clients need an explicit server URL).
endpoint_flags=()
case "$ADVERTISE_ADDRESS" in 127.*) endpoint_flags=(--endpoint-reconciler-type=none) ;; esac

# Requests made by service accounts (the operator under test among them) are
# audited at Metadata level, so tests can count what one run costs.
cat >"$STATE/audit-policy.yaml" <<'POLICY'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    userGroups: ["system:serviceaccounts"]
  - level: None
POLICY

log "starting kube-apiserver on 127.0.0.1:$APISERVER_PORT"
start kube-apiserver "$K8S_BIN/kube-apiserver" \
  --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --bind-address=127.0.0.1 \
  --advertise-address="$ADVERTISE_ADDRESS" \
  "${endpoint_flags[@]}" \
  --kubelet-preferred-address-types=InternalIP,Hostname \
  --secure-port="$APISERVER_PORT" \
  --tls-cert-file="$PKI/apiserver.crt" \
  --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" \
  --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
  --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
  --service-cluster-ip-range="$SERVICE_CIDR" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$PKI/sa.pub" \
  --service-account-signing-key-file="$PKI/sa.key" \
  --authorization-mode=Node,RBAC \
  --enable-admission-plugins=NodeRestriction \
  --allow-privileged=true \
  --cert-dir="$STATE/certs-apiserver" \
  --profiling=false \
  --audit-policy-file="$STATE/audit-policy.yaml" \
  --audit-log-path="$LOGS/audit.log" \
  --audit-log-maxsize=200 \
  --v=1
ADMIN_KCFG="$STATE/kubeconfig.tmp"
wait_for "kube-apiserver /readyz" 120 kube_ok "$APISERVER_PORT" /readyz

log "starting kube-controller-manager on 127.0.0.1:$KCM_PORT and kube-scheduler on 127.0.0.1:$SCHEDULER_PORT"
start kube-controller-manager "$K8S_BIN/kube-controller-manager" \
  --kubeconfig="$STATE/controller-manager.kubeconfig" \
  --authentication-kubeconfig="$STATE/controller-manager.kubeconfig" \
  --authorization-kubeconfig="$STATE/controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 \
  --secure-port="$KCM_PORT" \
  --tls-cert-file="$PKI/controller-manager-serving.crt" \
  --tls-private-key-file="$PKI/controller-manager-serving.key" \
  --cert-dir="$STATE/certs-kcm" \
  --controllers='*' \
  --use-service-account-credentials=true \
  --service-account-private-key-file="$PKI/sa.key" \
  --root-ca-file="$PKI/ca.crt" \
  --cluster-signing-cert-file="$PKI/ca.crt" \
  --cluster-signing-key-file="$PKI/ca.key" \
  --service-cluster-ip-range="$SERVICE_CIDR" \
  --cluster-name=dbm-local \
  --leader-elect=false \
  --profiling=false \
  --v=1
start kube-scheduler "$K8S_BIN/kube-scheduler" \
  --kubeconfig="$STATE/scheduler.kubeconfig" \
  --authentication-kubeconfig="$STATE/scheduler.kubeconfig" \
  --authorization-kubeconfig="$STATE/scheduler.kubeconfig" \
  --bind-address=127.0.0.1 \
  --secure-port="$SCHEDULER_PORT" \
  --tls-cert-file="$PKI/scheduler-serving.crt" \
  --tls-private-key-file="$PKI/scheduler-serving.key" \
  --cert-dir="$STATE/certs-scheduler" \
  --leader-elect=false \
  --profiling=false \
  --v=1

wait_for "kube-controller-manager /healthz" 60 kube_ok "$KCM_PORT" /healthz
wait_for "kube-scheduler /healthz" 60 kube_ok "$SCHEDULER_PORT" /healthz
wait_for "ServiceAccount default/default" 60 kube_has -n default get serviceaccount default
wait_for "ConfigMap default/kube-root-ca.crt" 60 kube_has -n default get configmap kube-root-ca.crt
mv "$STATE/kubeconfig.tmp" "$STATE/kubeconfig"

log "control plane up in $(elapsed)s; KUBECONFIG=$STATE/kubeconfig"
