#!/usr/bin/env bash
# The demo's PostgreSQL: Debian's PostgreSQL 15 run on the node as an "external"
# database (the way most users run RDS or Cloud SQL), in its own data directory,
# listening on the pod network's node address (10.88.0.1) and on loopback, with
# password (scram-sha-256) authentication from the pod network.
#
#   scripts/demo/postgres.sh up     start (idempotent); prints DBM_PG_* settings
#   scripts/demo/postgres.sh down   stop and delete the data directory
#   scripts/demo/postgres.sh createdb|dropdb <name>   a database owned by the app role (tests)
#   scripts/demo/postgres.sh psql [args]   psql as the app role on loopback
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../test/node/env.sh
source "$HERE/../../test/node/env.sh"
# shellcheck source=../lib/daemon.sh
source "$HERE/../lib/daemon.sh"
PGBIN="${DBM_PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}"
DATA="$DBM_NODE_ROOT/demo-postgres"
PORT="${DBM_DEMO_PG_PORT:-55432}"
DB="${DBM_DEMO_PG_DB:-products}"
ROLE="${DBM_DEMO_PG_USER:-product_service}"
PWFILE="$DATA.password"
log() { echo "postgres: $*" >&2; }

as_pg() { runuser -u postgres -- "$@"; }
running() { [[ -f "$DATA/postmaster.pid" ]] && as_pg "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

case "${1:-up}" in
  up)
    [[ -x "$PGBIN/postgres" ]] || { log "PostgreSQL is missing (scripts/install-system-deps.sh)"; exit 1; }
    ip -4 addr show "$DBM_BRIDGE" 2>/dev/null | grep -qF " $DBM_BRIDGE_IP/" \
      || { log "no $DBM_BRIDGE_IP on $DBM_BRIDGE: run test/node/up.sh first"; exit 1; }
    if [[ ! -f "$DATA/PG_VERSION" ]]; then
      mkdir -p "$DATA" && chown postgres:postgres "$DATA" && chmod 700 "$DATA"
      [[ -s "$PWFILE" ]] || (umask 077 && openssl rand -hex 16 >"$PWFILE")
      as_pg "$PGBIN/initdb" -D "$DATA" -U postgres --auth-local=peer --auth-host=scram-sha-256 -E UTF8 >/dev/null
      cat >>"$DATA/postgresql.conf" <<CONF
# database-migration-operator demo
listen_addresses = '127.0.0.1,$DBM_BRIDGE_IP'
port = $PORT
unix_socket_directories = '$DATA'
password_encryption = scram-sha-256
fsync = off
CONF
      cat >"$DATA/pg_hba.conf" <<HBA
local all all peer
host  all all 127.0.0.1/32 scram-sha-256
host  all all $DBM_POD_CIDR scram-sha-256
HBA
      fresh=1
    fi
    if ! running; then
      dbm_port_free "$PORT" DBM_DEMO_PG_PORT "demo PostgreSQL port" || exit 1
      as_pg "$PGBIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 start >/dev/null
    fi
    if [[ "${fresh:-0}" == 1 ]]; then
      pw="$(cat "$PWFILE")"
      as_pg "$PGBIN/psql" -h "$DATA" -p "$PORT" -U postgres -q -v ON_ERROR_STOP=1 \
        -c "CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$pw'" -c "CREATE DATABASE $DB OWNER $ROLE" >/dev/null
    fi
    log "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on $DBM_BRIDGE_IP:$PORT and 127.0.0.1:$PORT, database $DB, role $ROLE"
    echo "DBM_PG_HOST=$DBM_BRIDGE_IP"
    echo "DBM_PG_PORT=$PORT"
    echo "DBM_PG_DATABASE=$DB"
    echo "DBM_PG_USER=$ROLE"
    echo "DBM_PG_PASSWORD_FILE=$PWFILE"
    ;;
  down)
    if running; then as_pg "$PGBIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null; fi
    rm -rf "$DATA" "$PWFILE"
    log "stopped and removed $DATA"
    ;;
  createdb) # createdb <name>: a fresh database owned by the app role (dropped first if it exists)
    name="${2:?database name}"
    as_pg "$PGBIN/psql" -h "$DATA" -p "$PORT" -U postgres -q -v ON_ERROR_STOP=1 \
      -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" -c "CREATE DATABASE \"$name\" OWNER $ROLE" >/dev/null
    ;;
  dropdb)
    name="${2:?database name}"
    as_pg "$PGBIN/psql" -h "$DATA" -p "$PORT" -U postgres -q -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >/dev/null
    ;;
  psql)
    shift
    PGPASSWORD="$(cat "$PWFILE")" "$PGBIN/psql" -h 127.0.0.1 -p "$PORT" -U "$ROLE" -d "$DB" "$@"
    ;;
  *) echo "usage: $0 up|down|createdb <db>|dropdb <db>|psql [args]" >&2; exit 2 ;;
esac
