#!/usr/bin/env bash
# Builds the project's images from their own Dockerfiles with buildah and imports
# them into the local node's containerd:
#   operator  Dockerfile                        localhost/dbm/database-migration-operator:<hash>
#   migrator  migrator-image/Dockerfile         localhost/dbm/database-migration-migrator:<hash>
#   example   examples/product-service/Dockerfile  localhost/dbm/product-service:<hash>
#   distroless test/fixtures/distroless-app/Dockerfile  localhost/dbm/distroless-app:<hash>
#              (FROM scratch, no shell; built only when named)
# The operator and migrator build from the repository root exactly as a user's
# `docker build -f <Dockerfile> .` does; the only differences are --pull=never and
# build args: BASE_IMAGE, a base made locally from Debian's packages
# (images/build-base.sh: node:24-slim on bookworm; the migrator's on forky, the
# first Debian suite with PostgreSQL 18), and for the migrator
# PG_APT_SOURCE=debian (PostgreSQL 18 from that base's own suites instead of the
# PostgreSQL apt repository, which is not reachable here).
# Every image is also tagged :dev. Cached by content hash: an image whose inputs
# did not change is neither rebuilt nor re-imported.
# Writes the image references to .tmp/images/images.env (sourced by the demo and e2e).
#
#   images/build.sh [--no-import] [operator|migrator|example|distroless ...]
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
    operator | migrator | example | distroless) WANT+=("$a") ;;
    *) echo "usage: images/build.sh [--no-import] [operator|migrator|example|distroless ...]" >&2; exit 2 ;;
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
FORKY_BASE_ID="$(image_id "$DBM_NODE_FORKY_IMAGE")"

bud_trust_mounts "$WORK" # BUD_MOUNTS: this machine's CA bundle for npm, if any (lib.sh)

# build <name> <image repo> <dockerfile> <context> <hash> <build args...>
# The only differences from a plain `docker build -f <dockerfile> <context>` are
# the build args (the local base instead of the public one) and --pull=never
# (plus BUD_MOUNTS, this machine's CA bundle for npm, never part of the image).
declare -A REF
build() {
  local name="$1" repo="$2" dockerfile="$3" ctx="$4" h="$5" tag a args=()
  shift 5
  for a in "$@"; do args+=(--build-arg "$a"); done
  tag="${h:0:12}"
  if ! image_up_to_date "$repo:$tag" "$h"; then
    ilog "building $name: buildah bud -f ${dockerfile#"$REPO"/} ($repo:$tag)"
    local t=$SECONDS
    bah bud --quiet --pull=never --layers "${BUD_MOUNTS[@]}" "${args[@]}" \
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

# Both Dockerfiles build from the repository root (.dockerignore keeps the
# context to the sources); their inputs, hashed for the cache:
src_inputs=(.dockerignore package.json package-lock.json tsconfig.json tsconfig.build.json crds)
for w in "${WANT[@]}"; do
  case "$w" in
    operator)
      h="$(cd "$REPO" && dbm_hash Dockerfile "${src_inputs[@]}" operator "$BASE_ID")"
      build operator localhost/dbm/database-migration-operator "$REPO/Dockerfile" "$REPO" "$h" \
        "BASE_IMAGE=$DBM_NODE_IMAGE"
      ;;
    migrator)
      # PostgreSQL 18 from Debian's own forky packages (no PGDG repository here).
      h="$(cd "$REPO" && dbm_hash migrator-image/Dockerfile migrator-image/rootfs.sh scripts/bundle.ts "${src_inputs[@]}" migrator-image/src "$FORKY_BASE_ID")"
      build migrator localhost/dbm/database-migration-migrator "$REPO/migrator-image/Dockerfile" "$REPO" "$h" \
        "BASE_IMAGE=$DBM_NODE_FORKY_IMAGE" PG_APT_SOURCE=debian
      ;;
    example)
      ex="$REPO/examples/product-service"
      (cd "$REPO" && node_modules/.bin/tsc -p "$ex/tsconfig.json")
      h="$(dbm_hash "$ex/Dockerfile" "$ex/package.json" "$ex/dist" "$BASE_ID")"
      build example localhost/dbm/product-service "$ex/Dockerfile" "$ex" "$h" "BASE_IMAGE=$DBM_NODE_IMAGE"
      ;;
    distroless)
      dl="$REPO/test/fixtures/distroless-app"
      h="$(dbm_hash "$dl")"
      build distroless localhost/dbm/distroless-app "$dl/Dockerfile" "$dl" "$h"
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
