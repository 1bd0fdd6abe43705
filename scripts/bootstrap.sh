#!/usr/bin/env bash
# What both README commands need before anything else, in the order a fresh
# machine needs it: Debian packages, the npm packages (with Node 24 from the
# npm registry), the Kubernetes and etcd binaries (cached outside the repo).
# Idempotent and quick when everything is there, so `npm run demo` and
# `npm test` each call it and work in either order on a new machine.
#
#   bash scripts/bootstrap.sh            # all of it
#   bash scripts/bootstrap.sh --no-k8s   # without the Kubernetes binaries
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
log() { echo "bootstrap: $*" >&2; }

bash scripts/install-system-deps.sh

# node_modules is current when npm's own record of the install is newer than the lockfile.
if [[ ! -x node_modules/.bin/node || ! -x node_modules/.bin/tsc || package-lock.json -nt node_modules/.package-lock.json ]]; then
  log "npm ci"
  npm ci --no-audit --no-fund
fi
node_version="$(node_modules/.bin/node --version)"
[[ "$node_version" == v24.* ]] || { log "node_modules/.bin/node is $node_version, expected v24 (npm ci again)"; exit 1; }

if [[ "${1:-}" != --no-k8s ]]; then
  bash test/cluster/build-binaries.sh >/dev/null
fi
