#!/usr/bin/env bash
# Lints the GitHub Actions workflows (.github/workflows) with actionlint, built
# from its Go module through the Go module proxy (no prebuilt binary is
# downloaded) and cached outside the repository, keyed by version, so only the
# first run builds (about a minute).
#
#   scripts/actionlint.sh [actionlint args...]   (default: every workflow)
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="${DBM_ACTIONLINT_VERSION:-v1.7.12}"
DIR="${DBM_CACHE_DIR:-$HOME/.cache/database-migration-operator}/actionlint-$VERSION"
BIN="$DIR/actionlint"
if [[ ! -x "$BIN" ]]; then
  GO="$(command -v go || echo /usr/local/go/bin/go)"
  [[ -x "$GO" ]] || { echo "actionlint.sh: Go is missing (needed once, to build actionlint)" >&2; exit 1; }
  echo "actionlint.sh: building actionlint $VERSION from its Go module into $DIR" >&2
  mkdir -p "$DIR"
  # A private GOBIN, then a rename: a half-built binary is never at $BIN.
  tmp="$(mktemp -d "$DIR/.build.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  CGO_ENABLED=0 GOBIN="$tmp" GOFLAGS=-mod=mod "$GO" install "github.com/rhysd/actionlint/cmd/actionlint@$VERSION"
  mv -f "$tmp/actionlint" "$BIN"
fi
# actionlint runs shellcheck (scripts/install-system-deps.sh installs it) and pyflakes on the
# run: scripts when they are on PATH; it checks syntax, expressions, action inputs and jobs anyway.
exec "$BIN" "$@"
