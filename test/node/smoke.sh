#!/usr/bin/env bash
# Checks the local node end to end: a Pod runs `node` from the locally built
# node:24-slim image to completion; a second Pod reaches the first over the pod
# network, the node's bridge address and the apiserver through the `kubernetes`
# Service (kube-proxy). Leaves nothing behind (namespace dbm-node-smoke).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$HERE/env.sh"
# shellcheck source=../../scripts/tools.sh
source "$DBM_REPO_ROOT/scripts/tools.sh"
export KUBECONFIG="${KUBECONFIG:-$DBM_REPO_ROOT/.local-cluster/kubeconfig}"
NS=dbm-node-smoke
K() { "$KUBECTL" -n "$NS" "$@"; }
t0=$SECONDS
"$KUBECTL" delete ns "$NS" --ignore-not-found --wait=true >/dev/null
"$KUBECTL" create ns "$NS" >/dev/null
trap '"$KUBECTL" delete ns "$NS" --wait=false >/dev/null 2>&1 || true' EXIT

K apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Pod
metadata: { name: hello }
spec:
  restartPolicy: Never
  containers:
    - { name: node, image: node:24-slim, imagePullPolicy: Never, command: [node, -e, "console.log(1)"] }
---
apiVersion: v1
kind: Pod
metadata: { name: server, labels: { app: server } }
spec:
  containers:
    - name: node
      image: node:24-slim
      imagePullPolicy: Never
      command: [node, -e, "require('http').createServer((q, s) => s.end('pong from ' + process.env.HOSTNAME)).listen(8080)"]
      readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 }
YAML
K wait --for=jsonpath='{.status.phase}'=Succeeded pod/hello --timeout=90s >/dev/null
[[ "$(K logs hello)" == 1 ]] || { echo "smoke: pod hello printed $(K logs hello)" >&2; exit 1; }
echo "smoke: node -e 'console.log(1)' in node:24-slim -> $(K logs hello)"
K wait --for=condition=Ready pod/server --timeout=90s >/dev/null
server_ip="$(K get pod server -o jsonpath='{.status.podIP}')"
K run client --image=node:24-slim --image-pull-policy=Never --restart=Never --env="SERVER=$server_ip" \
  --env="NODE_IP=$DBM_BRIDGE_IP" --command -- node -e "
const http = require('http'), https = require('https'), fs = require('fs');
const get = (mod, url, opts = {}) => new Promise((ok, ko) => mod.get(url, opts, (r) => { let b = ''; r.on('data', (d) => (b += d)); r.on('end', () => ok(r.statusCode + ' ' + b.slice(0, 80))); }).on('error', ko));
(async () => {
  console.log('pod->pod', await get(http, 'http://' + process.env.SERVER + ':8080/'));
  const ca = fs.readFileSync('/var/run/secrets/kubernetes.io/serviceaccount/ca.crt');
  const token = fs.readFileSync('/var/run/secrets/kubernetes.io/serviceaccount/token', 'utf8');
  console.log('pod->kubernetes Service', await get(https, 'https://' + process.env.KUBERNETES_SERVICE_HOST + '/version', { ca, headers: { authorization: 'Bearer ' + token } }));
  const s = require('net').connect(10250, process.env.NODE_IP, () => { console.log('pod->node', process.env.NODE_IP + ':10250 open'); s.end(); });
})().catch((e) => { console.error(e); process.exit(1); });
" >/dev/null
K wait --for=jsonpath='{.status.phase}'=Succeeded pod/client --timeout=90s >/dev/null \
  || { K logs client >&2; exit 1; }
K logs client | sed 's/^/smoke: /'
echo "smoke: ok in $((SECONDS - t0))s"
