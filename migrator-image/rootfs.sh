#!/usr/bin/env bash
# Gathers the files the migrator runs with into a root filesystem, which the
# runtime stage of migrator-image/Dockerfile copies onto an empty image. Runs in
# the Dockerfile's `rootfs` stage, on the base with PostgreSQL installed:
#   bash rootfs.sh <target dir> <PostgreSQL major>
# What the migrator runs, and only that:
#   node          the base's Node, stripped of its debug information and symbol
#                 table (its exported symbols, which native addons link, stay)
#   PostgreSQL    the binaries the code calls (pg_dump, pg_restore, psql for the
#                 backup/restore/schema; initdb, pg_ctl, postgres for the shadow
#                 server), the server's whole lib/ (plpgsql, the encoding
#                 conversions, every contrib extension: a shadow must be able to
#                 CREATE EXTENSION what the target has) and share/ (catalog
#                 sources, extension scripts, time zone sets, text search data),
#                 without JIT (llvmjit and its bitcode: the shadow runs without)
#   busybox       the static copier the Jobs stage into the app image
#   a few tools   sh, and the coreutils shadow/server.ts runs (cp, chmod, id)
#   data          time zones (PostgreSQL uses the system's; /etc/localtime, UTC), the C.UTF-8 locale,
#                 the CA certificates (libpq's sslrootcert=system), passwd/group
# and every shared library those link, found with ldd, at the path the dynamic
# linker found it. Anything missing fails the build here, not in a Job.
set -euo pipefail
R="$1"
PG_MAJOR="$2"
PG="/usr/lib/postgresql/$PG_MAJOR"
PG_BINS=(postgres initdb pg_ctl pg_dump pg_restore psql)
TOOLS=(sh dash cp chmod id cat ls mkdir rm stat env)

mkdir -p "$R"
# The merged-/usr layout of the base (/bin -> usr/bin, /lib -> usr/lib, ...),
# so a file reached through either path lands once.
for d in bin sbin lib lib64; do
  if [[ -L "/$d" ]]; then cp -P "/$d" "$R/" && install -d "$R/$(dirname "$d")/$(readlink "/$d")"; fi
done
install -d "$R/usr/bin" "$R/usr/local/bin" "$R/etc" "$R/opt/migrator" "$R$PG/bin"
install -d -m 1777 "$R/tmp"

strip --strip-all -o "$R/usr/local/bin/node" "$(command -v node)"
for b in "${PG_BINS[@]}"; do cp -p "$PG/bin/$b" "$R$PG/bin/"; done
cp -a "$PG/lib" "$R$PG/"
rm -rf "$R$PG/lib/bitcode" "$R$PG"/lib/llvmjit*
install -d "$R/usr/share/postgresql"
cp -a "/usr/share/postgresql/$PG_MAJOR" "$R/usr/share/postgresql/"
rm -rf "$R/usr/share/postgresql/$PG_MAJOR/man"
cp -p /usr/bin/busybox "$R/usr/bin/busybox"
for t in "${TOOLS[@]}"; do cp -P "$(command -v "$t")" "$R/usr/bin/"; done
cp -a --parents /usr/share/zoneinfo /etc/localtime /usr/lib/locale/C.utf8 /usr/share/ca-certificates /etc/ssl/certs \
  /etc/ssl/openssl.cnf /usr/lib/ssl /etc/nsswitch.conf "$R/"
# root, nobody, postgres (the shadow server's user when the migrator runs as
# root) and the runtime user 10001, from the stage's own files.
grep -E '^(root|nobody|postgres|migrator):' /etc/passwd >"$R/etc/passwd"
grep -E '^(root|nogroup|postgres|migrator):' /etc/group >"$R/etc/group"
grep -q '^migrator:x:10001:10001:' "$R/etc/passwd"

# Shared libraries: ldd lists each object's whole dependency closure (static
# binaries and scripts: "not a dynamic executable", nothing to copy).
objects=("$R/usr/local/bin/node" "$R$PG"/bin/* "$R$PG"/lib/*.so "$R"/usr/bin/*)
for obj in "${objects[@]}"; do
  [[ -f "$obj" && ! -L "$obj" ]] || continue
  out="$(ldd "$obj" 2>&1 || true)"
  if grep -q 'not found' <<<"$out"; then
    echo "rootfs.sh: $obj links a library that is not installed: $out" >&2
    exit 1
  fi
  awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$out"
done | sort -u | while read -r lib; do
  [[ -e "$R$lib" ]] || cp -L --parents "$lib" "$R/"
done

# The root filesystem must run on its own: Node, busybox, each PostgreSQL
# binary; initdb (which runs the server in bootstrap mode and loads plpgsql);
# then, in single-user mode, CREATE EXTENSION of every extension the share/
# directory offers (each one's library and the libraries it links).
chroot "$R" /usr/local/bin/node --version >/dev/null
chroot "$R" /usr/bin/busybox --list | grep -x cp >/dev/null # not -q: an early exit would SIGPIPE busybox (pipefail)
for b in "${PG_BINS[@]}"; do chroot "$R" "$PG/bin/$b" --version >/dev/null; done
check="$R/tmp/rootfs-check"
# initdb's shell redirections write to /dev/null: a plain file will do for the
# check (a build step may not create devices); removed below.
install -d "$R/dev" && install -m 0666 /dev/null "$R/dev/null"
install -d -o 10001 -g 10001 -m 0700 "$check"
chroot --userspec=10001:10001 "$R" "$PG/bin/initdb" -D /tmp/rootfs-check/data -U shadow --auth=trust \
  --encoding=UTF8 --no-sync --locale=C >"$check.log" 2>&1 || { cat "$check.log" >&2; exit 1; }
for c in "$R/usr/share/postgresql/$PG_MAJOR/extension"/*.control; do
  c="${c##*/}"
  echo "CREATE EXTENSION IF NOT EXISTS \"${c%.control}\" CASCADE;"
done | chroot --userspec=10001:10001 "$R" "$PG/bin/postgres" --single -D /tmp/rootfs-check/data \
  -c exit_on_error=on -c shared_preload_libraries= postgres >"$check.log" 2>&1 || { cat "$check.log" >&2; exit 1; }
rm -rf "$check" "$check.log" "${R:?}/dev"
