#!/usr/bin/env bash
# The e2e suite's environment, behind one small interface (bring up, load
# images, tear down):
#   DBM_E2E_CLUSTER=local (default): the local control plane + a real node
#     (test/cluster/up.sh, test/node/up.sh), images built with buildah and
#     imported into the node's containerd, PostgreSQL on the node.
#   DBM_E2E_CLUSTER=kind: the cluster of KUBECONFIG (e.g. `kind create cluster
#     --name dbm`); images built the same way and loaded with `kind load
#     image-archive`; PostgreSQL from DBM_PG_HOST/DBM_PG_PORT (reachable from
#     both the Pods and this machine) with the role of DBM_PG_USER/DBM_PG_PASSWORD_FILE.
# Then installs the operator with Helm and writes the settings to .tmp/e2e/env.sh.
#   test/e2e/up.sh | test/e2e/up.sh --down
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
CLUSTER="${DBM_E2E_CLUSTER:-local}"
OPERATOR_NS="${DBM_E2E_OPERATOR_NAMESPACE:-dbm-e2e-system}"
RELEASE=dbm-e2e
OUT="$REPO/.tmp/e2e"
mkdir -p "$OUT"
log() { echo "e2e/up: $*" >&2; }

if [[ "${1:-}" == --down ]]; then
  # shellcheck source=../../scripts/tools.sh
  source "$REPO/scripts/tools.sh"
  "$HELM" uninstall "$RELEASE" -n "$OPERATOR_NS" --wait --timeout 60s >/dev/null 2>&1 || true
  if [[ "$CLUSTER" == local ]]; then
    bash "$REPO/scripts/demo/postgres.sh" down || true
    bash "$REPO/test/node/down.sh" || true
  fi
  rm -rf "$OUT"
  exit 0
fi

if [[ "$CLUSTER" == local ]]; then
  bash "$REPO/test/cluster/up.sh"
  export KUBECONFIG="$REPO/.local-cluster/kubeconfig"
  bash "$REPO/test/node/up.sh"
  bash "$REPO/images/build.sh"
  eval "$(bash "$REPO/scripts/demo/postgres.sh" up)"
else
  : "${KUBECONFIG:?KUBECONFIG must point at the kind cluster}"
  bash "$REPO/images/build.sh" --no-import
  # shellcheck source=../../images/lib.sh
  source "$REPO/images/lib.sh"
  # shellcheck disable=SC1091
  source "$REPO/.tmp/images/images.env"
  for i in "$DBM_OPERATOR_IMAGE" "$DBM_MIGRATOR_IMAGE" "$DBM_EXAMPLE_IMAGE"; do
    bah push --quiet "$i" "docker-archive:$OUT/image.tar:$i" >/dev/null
    kind load image-archive "$OUT/image.tar" --name "${DBM_KIND_NAME:-dbm}"
  done
  rm -f "$OUT/image.tar"
fi
# shellcheck disable=SC1091
source "$REPO/.tmp/images/images.env"
# shellcheck source=../../scripts/tools.sh
source "$REPO/scripts/tools.sh"
E2E_NS="${DBM_E2E_NAMESPACE:-dbm-e2e}"
"$KUBECTL" get ns "$E2E_NS" >/dev/null 2>&1 || "$KUBECTL" create ns "$E2E_NS" >/dev/null
log "installing the operator ($DBM_OPERATOR_IMAGE) in $OPERATOR_NS"
# --take-ownership: the chart's CRD template adopts a CRD applied by kubectl (other suites) or an older chart.
"$HELM" upgrade --install "$RELEASE" "$REPO/charts/database-migration-operator" \
  --namespace "$OPERATOR_NS" --create-namespace --force-conflicts --take-ownership \
  --set "image.repository=${DBM_OPERATOR_IMAGE%:*}" --set-string "image.tag=${DBM_OPERATOR_IMAGE##*:}" \
  --set image.pullPolicy=IfNotPresent \
  --set "migratorImage.repository=${DBM_MIGRATOR_IMAGE%:*}" --set-string "migratorImage.tag=${DBM_MIGRATOR_IMAGE##*:}" \
  --set migratorImage.pullPolicy=IfNotPresent \
  --set "watchNamespaces={$E2E_NS}" \
  --set "networkPolicy.database.ports={5432,${DBM_PG_PORT:-5432}}" \
  --wait --timeout 180s >/dev/null
cat >"$OUT/env.sh" <<ENV
export KUBECONFIG='$KUBECONFIG'
export KUBECTL='$KUBECTL'
export DBM_E2E_CLUSTER='$CLUSTER'
export DBM_E2E_NAMESPACE='$E2E_NS'
export DBM_E2E_OPERATOR_NAMESPACE='$OPERATOR_NS'
export DBM_E2E_RELEASE='$RELEASE'
export DBM_MIGRATOR_IMAGE='$DBM_MIGRATOR_IMAGE'
export DBM_EXAMPLE_IMAGE='$DBM_EXAMPLE_IMAGE'
export DBM_PG_HOST='$DBM_PG_HOST'
export DBM_PG_PORT='$DBM_PG_PORT'
export DBM_PG_TEST_HOST='${DBM_PG_TEST_HOST:-$( [[ $CLUSTER == local ]] && echo 127.0.0.1 || echo "$DBM_PG_HOST")}'
export DBM_PG_USER='$DBM_PG_USER'
export DBM_PG_PASSWORD_FILE='$DBM_PG_PASSWORD_FILE'
export DBM_E2E_BACKUP_ROOT='${DBM_NODE_ROOT:-/var/lib/dbm-node}/e2e-backups'
ENV
log "ready; settings in $OUT/env.sh"
