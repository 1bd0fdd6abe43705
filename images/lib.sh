# shellcheck shell=bash
# Helpers shared by the image scripts: buildah with one storage setting, content
# hashes for caching, and the import of a buildah image into the node's
# containerd (namespace k8s.io, where the kubelet's CRI looks).
# shellcheck source=../test/node/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/../test/node/env.sh"

# overlay works on this kind of machine (ext4, root); DBM_BUILDAH_DRIVER=vfs is
# the slow fallback for filesystems where it does not.
DBM_BUILDAH_DRIVER="${DBM_BUILDAH_DRIVER:-overlay}"
# chroot isolation: RUN steps need no network namespace or CNI of their own.
export BUILDAH_ISOLATION="${BUILDAH_ISOLATION:-chroot}"
DBM_HASH_LABEL="io.dbmigrate.input-hash"
# The migrator's base: PostgreSQL 18 (pg_dump/pg_restore, and the server for the
# shadow database) is packaged by Debian only from forky on, and its packages
# need forky's libc, so the migrator runs on forky (images/build-base.sh).
# shellcheck disable=SC2034 # both are used by the scripts that source this file
DBM_DEBIAN_FORKY_IMAGE="docker.io/library/debian:forky-slim"
# shellcheck disable=SC2034
DBM_NODE_FORKY_IMAGE="localhost/dbm/node:24-forky-slim"
DBM_ID_LABEL="io.dbmigrate.image-id"

ilog() { echo "images: $*" >&2; }
bah() { buildah --storage-driver "$DBM_BUILDAH_DRIVER" "$@"; }

# dbm_hash <files or dirs...>: sha256 over the paths and contents (sorted), for caching.
dbm_hash() {
  local p
  for p in "$@"; do
    if [[ -d "$p" ]]; then
      (cd "$p" && find . -type f ! -path './node_modules/*' -print0 | LC_ALL=C sort -z | xargs -0r sha256sum)
    elif [[ -e "$p" ]]; then
      sha256sum "$p"
    else
      echo "literal:$p"
    fi
  done | sha256sum | cut -c1-64
}

# image_label <image> <label>: the label's value, empty when the image is missing.
image_label() {
  bah inspect --type image --format "{{index .OCIv1.Config.Labels \"$2\"}}" "$1" 2>/dev/null || true
}
image_up_to_date() { [[ -n "$2" && "$(image_label "$1" "$DBM_HASH_LABEL")" == "$2" ]]; }
image_id() { bah inspect --type image --format '{{.FromImageID}}' "$1" 2>/dev/null; }

# bud_trust_mounts <work dir>: sets BUD_MOUNTS to `buildah bud` arguments that
# make RUN steps reaching the npm registry (npm ci in the Dockerfiles) trust what
# this machine trusts: where the host's Node/npm use an extra CA bundle
# (NODE_EXTRA_CA_CERTS or npm's cafile), it is bind-mounted into the RUN steps
# with a global npmrc pointing at it. Mounts are never committed to the image and
# change nothing a build without them would produce; empty when there is none.
BUD_MOUNTS=()
bud_trust_mounts() {
  local work="$1" host_ca="${NODE_EXTRA_CA_CERTS:-}"
  BUD_MOUNTS=()
  [[ -n "$host_ca" ]] || host_ca="$(npm config get cafile 2>/dev/null | grep -v '^null$' || true)"
  if [[ -n "$host_ca" && -f "$host_ca" ]]; then
    mkdir -p "$work"
    printf 'cafile=/run/dbm-build/ca.crt\n' >"$work/build-npmrc"
    BUD_MOUNTS+=(-v "$host_ca:/run/dbm-build/ca.crt:ro" -v "$work/build-npmrc:/usr/local/etc/npmrc:ro")
  fi
}

containerd_up() { [[ -S "$DBM_CONTAINERD_SOCK" ]] && dbm_ctr version >/dev/null 2>&1; }

# import_image <image>: copy a buildah image into containerd unless the same
# image (by config digest) is there already.
import_image() {
  local name="$1" id have tmp
  id="$(image_id "$name")" || { ilog "no buildah image $name"; return 1; }
  have="$(dbm_ctr images ls "name==$name" 2>/dev/null | awk -v l="$DBM_ID_LABEL=$id" 'NR > 1 && index($0, l) { print "yes" }')"
  if [[ "$have" == yes ]]; then return 0; fi
  tmp="$(mktemp -d)"
  bah push --quiet "$name" "docker-archive:$tmp/image.tar:$name" >/dev/null
  dbm_ctr images import "$tmp/image.tar" >/dev/null
  dbm_ctr images label "$name" "$DBM_ID_LABEL=$id" >/dev/null
  rm -rf "$tmp"
  ilog "imported $name into containerd (k8s.io)"
}
