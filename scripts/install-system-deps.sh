#!/usr/bin/env bash
# Installs what the test suite and the demo need from Debian's packages.
# Idempotent: installs only what is missing. Each line says who needs it.
set -euo pipefail
PACKAGES=(
  postgresql postgresql-client   # migrator tests and the demo database
  debian-archive-keyring         # scripts/postgres-versions.sh checks forky's pg_dump 18 packages with it
  openssl                        # certificates of the local control plane
  unzip                          # kubectl/helm come zipped inside an npm package
  prometheus                     # promtool and a real Prometheus for the alert/dashboard tests
  lua5.1                         # runs the Argo CD health check script in tests
  containerd runc containernetworking-plugins iptables socat   # the real node (test/node/up.sh)
  buildah debootstrap            # images from our Dockerfiles, base images from Debian packages
  gettext-base curl              # envsubst for manifests; the demo reads /metrics
  shellcheck                     # actionlint checks the workflows' run: scripts with it (scripts/actionlint.sh)
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
