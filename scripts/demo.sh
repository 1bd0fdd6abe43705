#!/usr/bin/env bash
# npm run demo: the operator, its Jobs and PostgreSQL as real containers on a
# local cluster, in one command. On a machine of this kind (Debian bookworm,
# root, no Docker) it:
#   1. brings up the control plane (test/cluster/up.sh) or reuses a running one,
#   2. joins a real node (test/node/up.sh: kubelet + containerd + runc + CNI),
#   3. builds the images from their Dockerfiles and loads them (images/build.sh),
#   4. starts PostgreSQL on the node as the "external" database (scripts/demo/postgres.sh),
#   5. installs the operator from charts/ with Helm,
#   6. applies the example app's DatabaseMigration (examples/product-service)
#      and shows the run live: phases, Jobs, backup, migrations, status, metrics.
#
#   npm run demo              # up (again: reuses what runs, rebuilds what changed, runs the example anew)
#   npm run demo -- --down    # tear everything down (caches in ~/.cache stay)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
# shellcheck source=../test/node/env.sh
source "$REPO/test/node/env.sh"

OPERATOR_NS="${DEMO_OPERATOR_NAMESPACE:-dbm-system}"
RELEASE="${DEMO_RELEASE:-dbm}"
export DEMO_NAMESPACE="${DEMO_NAMESPACE:-demo}"
export DEMO_BACKUP_DIR="$DBM_NODE_ROOT/demo-backups"
DBM_NAME=product-service
NODE="$REPO/node_modules/.bin/node"
export KUBECONFIG="$REPO/.local-cluster/kubeconfig"

if [[ -t 1 ]]; then B=$'\e[1m' D=$'\e[2m' G=$'\e[32m' R=$'\e[31m' Y=$'\e[33m' N=$'\e[0m'; else B='' D='' G='' R='' Y='' N=''; fi
T0=$SECONDS
declare -a TIMINGS=()
step_t=$SECONDS
step() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; step_t=$SECONDS; }
done_step() { TIMINGS+=("$(printf '%-34s %4ss' "$1" "$((SECONDS - step_t))")"); }
ts() { printf '%s[%5.1fs]%s' "$D" "$(awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { print e - s }')" "$N"; }

[[ $(id -u) -eq 0 ]] || { echo "demo: needs root (the node runs containerd, the kubelet and a bridge)" >&2; exit 1; }
if [[ "${1:-}" != --down ]]; then
  # Like `npm test`, the demo installs what it needs: it may be the first command on a new machine.
  step "0/6 what the demo needs (scripts/bootstrap.sh: Debian packages, npm ci, Kubernetes binaries)"
  bash "$REPO/scripts/bootstrap.sh"
  done_step "bootstrap"
fi

# ---- --down ---------------------------------------------------------------------------
if [[ "${1:-}" == --down ]]; then
  step "tearing the demo down"
  if [[ -f "$KUBECONFIG" ]]; then
    # shellcheck source=tools.sh
    source "$REPO/scripts/tools.sh"
    "$HELM" uninstall "$RELEASE" -n "$OPERATOR_NS" --wait --timeout 60s >/dev/null 2>&1 || true
    "$KUBECTL" delete pv "$DEMO_NAMESPACE-migration-backups" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  fi
  bash "$REPO/scripts/demo/postgres.sh" down || true
  rm -rf "$DEMO_BACKUP_DIR"
  bash "$REPO/test/node/down.sh" || true
  bash "$REPO/test/cluster/down.sh" || true
  echo "demo: down in $((SECONDS - T0))s (images and binaries stay cached; test/node/down.sh --purge drops the image store)"
  exit 0
fi
[[ $# -eq 0 ]] || { echo "usage: npm run demo [-- --down]" >&2; exit 2; }

# ---- 1-4: cluster, node, images, database ----------------------------------------------------
step "1/6 control plane (test/cluster/up.sh)"
bash "$REPO/test/cluster/up.sh"
done_step "control plane"
# shellcheck source=tools.sh
source "$REPO/scripts/tools.sh"
K() { "$KUBECTL" "$@"; }

step "2/6 node (test/node/up.sh): kubelet + containerd + runc + bridge CNI"
bash "$REPO/test/node/up.sh"
K get nodes -o wide
done_step "node"

step "3/6 images from our Dockerfiles (images/build.sh: buildah -> containerd)"
bash "$REPO/images/build.sh"
# shellcheck disable=SC1091
source "$REPO/.tmp/images/images.env"
export DBM_OPERATOR_IMAGE DBM_MIGRATOR_IMAGE DBM_EXAMPLE_IMAGE
done_step "images"

step "4/6 PostgreSQL on the node (the app's external database)"
bash "$REPO/scripts/demo/postgres.sh" down >/dev/null 2>&1 || true # a fresh database every run
eval "$(bash "$REPO/scripts/demo/postgres.sh" up)"
export DBM_PG_HOST DBM_PG_PORT DBM_PG_DATABASE DBM_PG_USER
# The app's database is not empty: it already holds the app's settings.
bash "$REPO/scripts/demo/postgres.sh" psql -q -c "CREATE TABLE app_settings (key text PRIMARY KEY, value text NOT NULL);
  INSERT INTO app_settings VALUES ('currency', 'EUR'), ('page_size', '20');"
done_step "PostgreSQL"

# ---- 5: operator --------------------------------------------------------------------------
step "5/6 operator: helm upgrade --install $RELEASE charts/database-migration-operator"
# The operator watches the demo namespace only (it gets a Role there); the Job Pods'
# NetworkPolicy lets them reach DNS and the demo PostgreSQL's port only.
# --take-ownership: the chart's CRD template adopts a CRD applied by kubectl (tests) or an older chart.
K get ns "$DEMO_NAMESPACE" >/dev/null 2>&1 || K create ns "$DEMO_NAMESPACE" >/dev/null
"$HELM" upgrade --install "$RELEASE" "$REPO/charts/database-migration-operator" \
  --namespace "$OPERATOR_NS" --create-namespace --force-conflicts --take-ownership \
  --set "image.repository=${DBM_OPERATOR_IMAGE%:*}" --set-string "image.tag=${DBM_OPERATOR_IMAGE##*:}" \
  --set image.pullPolicy=Never \
  --set "migratorImage.repository=${DBM_MIGRATOR_IMAGE%:*}" --set-string "migratorImage.tag=${DBM_MIGRATOR_IMAGE##*:}" \
  --set migratorImage.pullPolicy=Never \
  --set "watchNamespaces={$DEMO_NAMESPACE}" \
  --set "networkPolicy.database.ports={$DBM_PG_PORT}" \
  --wait --timeout 180s >/dev/null \
  || { K -n "$OPERATOR_NS" get pods -o wide; K -n "$OPERATOR_NS" logs -l app.kubernetes.io/instance="$RELEASE" --tail=30 || true; exit 1; }
K -n "$OPERATOR_NS" get deploy,pods -o wide
# /metrics asks for a token allowed to get it (metrics.auth): a ServiceAccount bound to the
# chart's <fullname>-metrics-reader ClusterRole, as a Prometheus would be.
reader_role="$(K get clusterrole -l "app.kubernetes.io/instance=$RELEASE" -o name | grep -- '-metrics-reader$' | head -1)"
K -n "$OPERATOR_NS" create serviceaccount demo-metrics-reader --dry-run=client -o yaml | K apply -f - >/dev/null
K create clusterrolebinding "$RELEASE-demo-metrics-reader" --clusterrole="${reader_role#clusterrole.rbac.authorization.k8s.io/}" \
  --serviceaccount="$OPERATOR_NS:demo-metrics-reader" --dry-run=client -o yaml | K apply -f - >/dev/null
METRICS_TOKEN="$(K -n "$OPERATOR_NS" create token demo-metrics-reader --duration=1h)"
done_step "operator (helm --wait)"

# ---- 6: the example run ----------------------------------------------------------------------
step "6/6 the example: DatabaseMigration $DEMO_NAMESPACE/$DBM_NAME (image $DBM_EXAMPLE_IMAGE)"
K get ns "$DEMO_NAMESPACE" >/dev/null 2>&1 || K create ns "$DEMO_NAMESPACE" >/dev/null
K -n "$DEMO_NAMESPACE" delete databasemigration "$DBM_NAME" --ignore-not-found --wait=true >/dev/null
K -n "$DEMO_NAMESPACE" create secret generic product-db --from-literal=password="$(cat "$DBM_PG_PASSWORD_FILE")" \
  --dry-run=client -o yaml | K apply -f - >/dev/null
# A fresh database each run, so fresh backups too (the Jobs run as a non-root uid).
rm -rf "$DEMO_BACKUP_DIR" && mkdir -p "$DEMO_BACKUP_DIR" && chmod 1777 "$DEMO_BACKUP_DIR"
if ! K -n "$DEMO_NAMESPACE" get pvc migration-backups >/dev/null 2>&1; then
  K delete pv "$DEMO_NAMESPACE-migration-backups" --ignore-not-found >/dev/null
  envsubst <"$REPO/examples/product-service/backup-volume.yaml" | K apply -f - >/dev/null
fi
envsubst <"$REPO/examples/product-service/databasemigration.yaml" >"$REPO/.tmp/demo-databasemigration.yaml"
echo "${D}kubectl apply -f examples/product-service/databasemigration.yaml (database $DBM_PG_HOST:$DBM_PG_PORT/$DBM_PG_DATABASE, backups on PVC migration-backups)${N}"
apply_at="$(date +%s.%N)"
K apply -f "$REPO/.tmp/demo-databasemigration.yaml" >/dev/null
step_t=$SECONDS

# Live view: phase changes and Jobs, until the run ends.
json() { K -n "$DEMO_NAMESPACE" get databasemigration "$DBM_NAME" -o json 2>/dev/null; }
last_phase="" ; declare -A job_seen=()
terminal='^(Succeeded|Failed|Blocked|RolledBack|Restored)$'
deadline=$((SECONDS + 300))
while :; do
  phase="$(K -n "$DEMO_NAMESPACE" get databasemigration "$DBM_NAME" -o jsonpath='{.status.phase}' 2>/dev/null || true)"
  if [[ -n "$phase" && "$phase" != "$last_phase" ]]; then
    msg="$(K -n "$DEMO_NAMESPACE" get databasemigration "$DBM_NAME" -o jsonpath='{.status.conditions[?(@.type=="Reconciling")].message}' 2>/dev/null || true)"
    echo "$(ts "$apply_at") phase ${B}$phase${N} ${D}$msg${N}"
    last_phase="$phase"
  fi
  while read -r jname step_label succeeded failed; do
    [[ -n "$jname" ]] || continue
    state="running"; ((succeeded > 0)) && state="${G}succeeded${N}"; ((failed > 0)) && state="${R}failed${N}"
    if [[ "${job_seen[$jname]:-}" != "$state" ]]; then
      echo "$(ts "$apply_at")   job $jname (step ${step_label:-?}) $state"
      job_seen[$jname]="$state"
    fi
  done < <(K -n "$DEMO_NAMESPACE" get jobs -l "dbmigrate.io/name=$DBM_NAME" --sort-by=.metadata.creationTimestamp --no-headers \
    -o custom-columns='N:.metadata.name,S:.metadata.labels.dbmigrate\.io/step,OK:.status.succeeded,F:.status.failed' 2>/dev/null \
    | awk '{ print $1, $2, ($3 == "<none>" ? 0 : $3), ($4 == "<none>" ? 0 : $4) }')
  [[ "$phase" =~ $terminal ]] && break
  if ((SECONDS > deadline)); then echo "${R}demo: no final phase after 300s${N}"; break; fi
  sleep 1
done
ready_s="$(awk -v s="$apply_at" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')"
done_step "example run (apply -> $phase)"

# ---- what happened ------------------------------------------------------------------------------
echo
K -n "$DEMO_NAMESPACE" get databasemigration "$DBM_NAME"
json | "$NODE" -e '
const dm = JSON.parse(require("fs").readFileSync(0, "utf8")); const s = dm.status ?? {};
const b = s.backup;
if (b) console.log(`\nbackup   ${b.path ?? b.location ?? "?"}  size ${b.sizeBytes ?? b.size} bytes  sha256 ${b.sha256 ?? b.checksum}  verified ${b.verified}`);
if (s.applied?.length) { console.log("applied  " + s.applied.map((a) => `${a.name} (${a.durationMs} ms)`).join("\n         ")); }
if (s.lastError) console.log(`error    [${s.lastError.step}] ${s.lastError.code ? s.lastError.code + " " : ""}${s.lastError.message}`);
console.log("\nconditions");
for (const c of s.conditions ?? []) console.log(`  ${c.type.padEnd(18)} ${c.status.padEnd(7)} ${c.reason.padEnd(24)} ${c.message}`);
' || true

echo; echo "${B}Job Pods${N} (created -> started -> finished)"
K -n "$DEMO_NAMESPACE" get pods -l "dbmigrate.io/name=$DBM_NAME" -o json | "$NODE" -e '
const pods = JSON.parse(require("fs").readFileSync(0, "utf8")).items;
const t = (x) => (x ? Date.parse(x) : NaN);
pods.sort((a, b) => t(a.metadata.creationTimestamp) - t(b.metadata.creationTimestamp));
for (const p of pods) {
  const cs = (p.status.containerStatuses ?? [])[0]?.state ?? {};
  const run = cs.terminated ?? cs.running ?? {};
  const created = t(p.metadata.creationTimestamp), started = t(run.startedAt), finished = t(cs.terminated?.finishedAt);
  const f = (ms) => (Number.isNaN(ms) ? "?" : (ms / 1000).toFixed(0) + "s");
  console.log(`  ${p.metadata.labels["dbmigrate.io/step"] ?? "?"}`.padEnd(12) + `${p.metadata.name.padEnd(50)} ${p.status.phase.padEnd(10)} start after ${f(started - created)}, ran ${f(finished - started)}`);
}' || true

echo; echo "${B}operator metrics${N} (dbmigration_* of $DEMO_NAMESPACE/$DBM_NAME)"
op_ip="$(K -n "$OPERATOR_NS" get pods -l "app.kubernetes.io/instance=$RELEASE" -o jsonpath='{.items[0].status.podIP}' 2>/dev/null || true)"
if [[ -n "$op_ip" ]]; then
  curl -s --max-time 5 -H "Authorization: Bearer $METRICS_TOKEN" "http://$op_ip:8080/metrics" | grep '^dbmigration_' | grep -E "name=\"$DBM_NAME\"|^dbmigration_leader" \
    | grep -v -E '_bucket\{|^dbmigration_(phase|runs_total)\{.*\} 0$' | sed 's/^/  /' || echo "  (no metrics)"
fi

echo; echo "${B}in PostgreSQL${N} ($DBM_PG_HOST:$DBM_PG_PORT/$DBM_PG_DATABASE)"
bash "$REPO/scripts/demo/postgres.sh" psql -q -c \
  "SELECT c.name AS category, count(p.*) AS products FROM categories c LEFT JOIN products p ON p.category_id = c.id GROUP BY 1 ORDER BY 1" 2>&1 | sed 's/^/  /' || true
bash "$REPO/scripts/demo/postgres.sh" psql -q -At -c "SELECT 'migrations table: ' || string_agg(name, ', ' ORDER BY id) FROM migrations" 2>&1 | sed 's/^/  /' || true

# ---- summary ------------------------------------------------------------------------------------
echo; echo "${B}summary${N}"
for t in "${TIMINGS[@]}"; do echo "  $t"; done
echo "  kubectl apply -> $phase:            ${ready_s}s"
echo "  total                              $((SECONDS - T0))s"
cat <<MORE

${B}look further${N}
  export KUBECONFIG=$KUBECONFIG PATH=$DBM_TOOLS_DIR:\$PATH
  kubectl get dbm -A
  kubectl -n $DEMO_NAMESPACE describe dbm $DBM_NAME
  kubectl -n $DEMO_NAMESPACE get jobs,pods -l dbmigrate.io/name=$DBM_NAME
  kubectl -n $DEMO_NAMESPACE logs job/<job name>
  kubectl -n $OPERATOR_NS logs deploy/$(K -n "$OPERATOR_NS" get deploy -l "app.kubernetes.io/instance=$RELEASE" -o jsonpath='{.items[0].metadata.name}' 2>/dev/null)
  curl -s -H "Authorization: Bearer \$(kubectl -n $OPERATOR_NS create token demo-metrics-reader)" http://$op_ip:8080/metrics | grep ^dbmigration_
  bash scripts/demo/postgres.sh psql          # the demo database
  npm run demo -- --down                      # tear it all down
MORE
if [[ "$phase" == Succeeded ]]; then echo "${G}demo: Succeeded${N}"; else echo "${R}demo: ended in phase ${phase:-<none>}${N}"; exit 1; fi
