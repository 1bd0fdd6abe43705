#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs (Debian
# packages, npm packages, the Kubernetes binaries, cached outside the repo),
# then runs lint, type checks and every jest project against real components.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

bash scripts/bootstrap.sh
NODE="$ROOT/node_modules/.bin/node"
export PATH="$ROOT/node_modules/.bin:$PATH"
echo "node $("$NODE" --version)"


# Static checks first; their failures are reported but the test projects still run.
static_failed=()
npx tsc -p tsconfig.json --noEmit || static_failed+=(typecheck)
npx eslint . || static_failed+=(eslint)
npx prettier --check . >/dev/null 2>&1 || { npx prettier --check . || true; static_failed+=(prettier); }
npm run --silent build

started_cluster=0
if [[ ! -f .local-cluster/kubeconfig ]]; then started_cluster=1; fi
cleanup() {
  if [[ $started_cluster == 1 && "${KEEP_CLUSTER:-0}" != 1 ]]; then
    # The e2e setup may have brought up the node, PostgreSQL and an operator release.
    bash test/e2e/up.sh --down >/dev/null 2>&1 || true
    bash test/cluster/down.sh || true
  fi
}
trap cleanup EXIT

# matrix: PostgreSQL majors DBM_PG_MATRIX (default "13 18"; all: "13 14 15 16 17 18").
PROJECTS=(unit static migrator matrix integration faults e2e)
if [[ -n "${DBM_TEST_PROJECTS:-}" ]]; then read -r -a PROJECTS <<<"$DBM_TEST_PROJECTS"; fi
mkdir -p .tmp
set +e
"$NODE" --experimental-vm-modules node_modules/jest/bin/jest.js --runInBand \
  --selectProjects "${PROJECTS[@]}" --json --outputFile=.tmp/jest-results.json "$@"
status=$?
set -e
"$NODE" -e '
  const r = require(process.argv[1]);
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped`);
  if (r.numTotalTests === 0) { console.error("no test ran"); process.exit(1); }
' "$ROOT/.tmp/jest-results.json"
if ((${#static_failed[@]})); then
  echo "static checks failed: ${static_failed[*]}" >&2
  exit 1
fi
exit $status
