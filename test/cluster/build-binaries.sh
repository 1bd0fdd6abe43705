#!/usr/bin/env bash
# Builds the Kubernetes and etcd binaries the local cluster runs, from their Go
# modules through the Go module proxy, into a cache outside the repository keyed
# by version. A second run finds them and returns at once.
#
# k8s.io/kubernetes cannot be `go install`ed (its go.mod replaces every staging
# module with a ./staging path), so we build it from a wrapper module that
# requires it and replaces each staging module with its published v0.X.Y release.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.35.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
CACHE_ROOT="${DBM_CACHE_DIR:-$HOME/.cache/database-migration-operator}"
K8S_BIN="$CACHE_ROOT/k8s-$K8S_VERSION/bin"
ETCD_BIN="$CACHE_ROOT/etcd-$ETCD_VERSION/bin"
K8S_COMPONENTS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)

export PATH="/usr/local/go/bin:$PATH"
export CGO_ENABLED=0
export GOFLAGS="-mod=mod"

have_all() {
  local dir="$1"; shift
  for b in "$@"; do [[ -x "$dir/$b" ]] || return 1; done
}

build_kubernetes() {
  if have_all "$K8S_BIN" "${K8S_COMPONENTS[@]}"; then return 0; fi
  local work; work="$(mktemp -d)"
  local minor="v0.${K8S_VERSION#v1.}"
  echo "building Kubernetes $K8S_VERSION (staging modules $minor) in $work" >&2
  # The tag's own go.mod lists the staging modules (the lines pointing into ./staging/src/).
  local upstream_mod
  upstream_mod="$(cd "$work" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^\s*"GoMod": "\(.*\)",\?$/\1/p')"
  cp "$upstream_mod" "$work/upstream.mod"
  {
    echo "module dbm.local/k8sbin"
    echo
    echo "go 1.25.0"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    grep -E '^\s+k8s\.io/[a-z0-9-]+ => \./staging/' "$work/upstream.mod" \
      | awk -v v="$minor" '{ print "\t" $1 " => " $1 " " v }'
    echo ")"
  } >"$work/go.mod"
  local pkgs=()
  for c in "${K8S_COMPONENTS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  (
    cd "$work"
    go get "${pkgs[@]/%/@$K8S_VERSION}" >/dev/null
    mkdir -p "$work/out"
    go build -trimpath -o "$work/out/" \
      -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2) -X k8s.io/component-base/version.gitTreeState=clean" \
      "${pkgs[@]}"
  )
  mkdir -p "$K8S_BIN"
  mv "$work"/out/* "$K8S_BIN/"
  rm -rf "$work"
}

build_etcd() {
  if have_all "$ETCD_BIN" etcd; then return 0; fi
  local work; work="$(mktemp -d)"
  echo "building etcd $ETCD_VERSION in $work" >&2
  (
    cd "$work"
    printf 'module dbm.local/etcdbin\n\ngo 1.25.0\n' >go.mod
    go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null
    go build -trimpath -ldflags "-s -w" -o "$work/etcd" go.etcd.io/etcd/server/v3
  )
  mkdir -p "$ETCD_BIN"
  mv "$work/etcd" "$ETCD_BIN/etcd"
  rm -rf "$work"
}

build_etcd
build_kubernetes
echo "K8S_BIN=$K8S_BIN"
echo "ETCD_BIN=$ETCD_BIN"
