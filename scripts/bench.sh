#!/usr/bin/env bash
# `npm run bench`: the performance figures, from a fresh clone. Installs what
# it needs the way `npm test` does (scripts/bootstrap.sh: Debian packages, npm
# packages with Node 24, the Kubernetes binaries), builds, fetches PostgreSQL
# 18's client (the pg_dump the migrator image runs), then runs bench/run.ts.
#   npm run bench -- --only migrate,backup --size 1024
# DBM_BENCH_NO_BOOTSTRAP=1 skips the install step (a checkout that shares another's node_modules).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
if [[ "${DBM_BENCH_NO_BOOTSTRAP:-0}" != 1 ]]; then bash scripts/bootstrap.sh; fi
NODE="$ROOT/node_modules/.bin/node"
export PATH="$ROOT/node_modules/.bin:$PATH"
npm run --silent build
# The migrator as the image runs it: bundled, with its compile cache (scripts/bundle.ts).
npm run --silent build:bundle
PG_CLIENT_BIN_DIR="$(bash scripts/postgres-versions.sh client)"
export PG_CLIENT_BIN_DIR
exec "$NODE" --import tsx bench/run.ts "$@"
