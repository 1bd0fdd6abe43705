#!/usr/bin/env bash
# Builds the project's images from their own Dockerfiles with buildah and imports
# them into the local node's containerd:
#   operator  Dockerfile                        localhost/dbm/database-migration-operator:<hash>
#   migrator  migrator-image/Dockerfile         localhost/dbm/database-migration-migrator:<hash>
#   example   examples/product-service/Dockerfile  localhost/dbm/product-service:<hash>
# each FROM the locally made node:24-slim (images/build-base.sh), with
# --pull=never: the Dockerfiles keep the public base as their default.
# Every image is also tagged :dev. Cached by content hash: an image whose inputs
# did not change is neither rebuilt nor re-imported.
# Writes the image references to .tmp/images/images.env (sourced by the demo and e2e).
#
#   images/build.sh [--no-import] [operator|migrator|example ...]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
REPO="$DBM_REPO_ROOT"
WORK="$REPO/.tmp/images"
mkdir -p "$WORK"
exec 8>"$WORK/.build.lock"
flock 8

IMPORT=1
WANT=()
for a in "$@"; do
  case "$a" in
    --no-import) IMPORT=0 ;;
    operator | migrator | example) WANT+=("$a") ;;
    *) echo "usage: images/build.sh [--no-import] [operator|migrator|example ...]" >&2; exit 2 ;;
  esac
done
((${#WANT[@]})) || WANT=(operator migrator example)
if ((IMPORT)) && ! containerd_up; then
  ilog "containerd is not running ($DBM_CONTAINERD_SOCK): building only (test/node/up.sh starts it)"
  IMPORT=0
fi

t0=$SECONDS
if ((IMPORT)); then bash "$HERE/build-base.sh" --import; else bash "$HERE/build-base.sh"; fi
BASE_ID="$(image_id "$DBM_NODE_IMAGE")"

# ---- compile (npm run build), skipped when the sources did not change ----------
need_dist=0
for w in "${WANT[@]}"; do [[ "$w" != operator ]] || need_dist=1; done
src_hash="$(cd "$REPO" && dbm_hash crds operator migrator-image/src tsconfig.json tsconfig.build.json package-lock.json)"
if ((need_dist)) && [[ ! -d "$REPO/dist/operator" || "$(cat "$WORK/dist.hash" 2>/dev/null)" != "$src_hash" ]]; then
  ilog "npm run build"
  (cd "$REPO" && npm run --silent build)
  echo "$src_hash" >"$WORK/dist.hash"
fi

# ---- production node_modules, per lockfile ---------------------------------------
lock_hash="$(dbm_hash "$REPO/package-lock.json" "$REPO/package.json")"
# Staged contexts live outside the repository (jest's haste map scans it).
STAGE="$DBM_CACHE_ROOT/image-build"
mkdir -p "$STAGE"
PROD="$STAGE/prod-deps"
if ((need_dist)) && [[ "$(cat "$PROD/.hash" 2>/dev/null)" != "$lock_hash" ]]; then
  ilog "npm ci --omit=dev (production node_modules for the images)"
  rm -rf "$PROD" && mkdir -p "$PROD"
  cp "$REPO/package.json" "$REPO/package-lock.json" "$PROD/"
  (cd "$PROD" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --silent)
  echo "$lock_hash" >"$PROD/.hash"
fi

# stage <dir>: a build context with package.json, the production node_modules
# and dist/ (compiled code only, no tests).
stage() {
  local d="$1"
  rm -rf "$d" && mkdir -p "$d"
  cp "$REPO/package.json" "$REPO/package-lock.json" "$d/"
  cp -al "$PROD/node_modules" "$d/node_modules" 2>/dev/null || cp -a "$PROD/node_modules" "$d/node_modules"
  (cd "$REPO" && find dist -type f ! -name '*.test.js' ! -name '*.map' -print0 | tar --null -T - -cf - | tar -xf - -C "$d")
}

# RUN steps that reach the npm registry (npm ci in migrator-image/Dockerfile)
# must trust what this machine trusts: where the host's Node/npm use an extra CA
# bundle (NODE_EXTRA_CA_CERTS or npm's cafile), it is bind-mounted into the RUN
# steps with a global npmrc pointing at it. Mounts are never committed to the image.
BUD_MOUNTS=()
host_ca="${NODE_EXTRA_CA_CERTS:-}"
[[ -n "$host_ca" ]] || host_ca="$(npm config get cafile 2>/dev/null | grep -v '^null$' || true)"
if [[ -n "$host_ca" && -f "$host_ca" ]]; then
  printf 'cafile=/run/dbm-build/ca.crt\n' >"$WORK/build-npmrc"
  BUD_MOUNTS+=(-v "$host_ca:/run/dbm-build/ca.crt:ro" -v "$WORK/build-npmrc:/usr/local/etc/npmrc:ro")
fi

# build <name> <image repo> <dockerfile> <context> <hash>
declare -A REF
build() {
  local name="$1" repo="$2" dockerfile="$3" ctx="$4" h="$5" tag
  tag="${h:0:12}"
  if ! image_up_to_date "$repo:$tag" "$h"; then
    ilog "building $name: buildah bud -f ${dockerfile#"$REPO"/} ($repo:$tag)"
    local t=$SECONDS
    bah bud --quiet --pull=never --layers "${BUD_MOUNTS[@]}" \
      --build-arg "BASE_IMAGE=$DBM_NODE_IMAGE" \
      --label "$DBM_HASH_LABEL=$h" \
      -f "$dockerfile" -t "$repo:$tag" -t "$repo:dev" "$ctx" >"$WORK/$name.build.log" 2>&1 \
      || { tail -n 30 "$WORK/$name.build.log" >&2; ilog "building $name failed (log: $WORK/$name.build.log)"; return 1; }
    ilog "built $name in $((SECONDS - t))s"
  else
    bah tag "$repo:$tag" "$repo:dev"
  fi
  if ((IMPORT)); then
    import_image "$repo:$tag"
    import_image "$repo:dev"
  fi
  REF[$name]="$repo:$tag"
}

for w in "${WANT[@]}"; do
  case "$w" in
    operator)
      stage "$STAGE/ctx-operator"
      h="$(dbm_hash "$REPO/Dockerfile" "$STAGE/ctx-operator/dist" "$lock_hash" "$BASE_ID")"
      build operator localhost/dbm/database-migration-operator "$REPO/Dockerfile" "$STAGE/ctx-operator" "$h"
      ;;
    migrator)
      [[ -f "$REPO/migrator-image/Dockerfile" ]] || { ilog "migrator-image/Dockerfile is missing"; exit 1; }
      # Its Dockerfile compiles and installs in the image, from the repository root.
      h="$(cd "$REPO" && dbm_hash migrator-image/Dockerfile package.json package-lock.json tsconfig.json tsconfig.build.json crds migrator-image/src "$BASE_ID")"
      build migrator localhost/dbm/database-migration-migrator "$REPO/migrator-image/Dockerfile" "$REPO" "$h"
      ;;
    example)
      ex="$REPO/examples/product-service"
      (cd "$REPO" && node_modules/.bin/tsc -p "$ex/tsconfig.json")
      h="$(dbm_hash "$ex/Dockerfile" "$ex/package.json" "$ex/dist" "$BASE_ID")"
      build example localhost/dbm/product-service "$ex/Dockerfile" "$ex" "$h"
      ;;
  esac
done

# Image references for the demo and the e2e tests (keeps earlier entries of images not built now).
ENVF="$WORK/images.env"
touch "$ENVF"
for n in "${!REF[@]}"; do
  var="DBM_$(echo "$n" | tr '[:lower:]' '[:upper:]')_IMAGE"
  grep -v "^$var=" "$ENVF" >"$ENVF.tmp" || true
  echo "$var=${REF[$n]}" >>"$ENVF.tmp"
  mv "$ENVF.tmp" "$ENVF"
done
ilog "images ready in $((SECONDS - t0))s: $(tr '\n' ' ' <"$ENVF")"
