#!/usr/bin/env bash
# Provides PostgreSQL for `make run` and `make test`, then writes .local/db.env
# (or SALUS_DB_ENV_FILE: scripts/backup-drill.sh provisions its own cluster so).
#
# In order, it uses:
#   1. SALUS_ADMIN_URL, when set and answering (a role that may create roles and databases);
#   2. a server on 127.0.0.1:5432 that accepts the superuser `postgres` without a password;
#   3. a project-private cluster under .local/pgdata on 127.0.0.1:55432, created with the
#      system's initdb/pg_ctl (PostgreSQL is installed with apt-get first when it is
#      missing and we are root).
# Then it creates the roles Salus needs (salus_owner owns the schema and runs
# migrations; salus_audit, a NOLOGIN role the owner may act as, owns the audit
# schema; salus_api is what the server connects as) and the `salus` database.
# Running it again changes nothing that already exists.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
local_dir="$root/.local"
mkdir -p "$local_dir"
private_port=55432

log() { echo "provision-db: $*" >&2; }

answers() { psql "$1" -XAtqc 'select 1' >/dev/null 2>&1; }

ensure_client() {
    if command -v psql >/dev/null 2>&1 && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
        return
    fi
    if command -v psql >/dev/null 2>&1 && [ "${1:-}" = "client-only" ]; then
        return
    fi
    if [ "$(id -u)" -ne 0 ]; then
        log "PostgreSQL is not installed. Install it (Debian/Ubuntu: apt-get install postgresql)"
        log "or set SALUS_ADMIN_URL to a server where you may create roles and databases."
        exit 1
    fi
    log "installing PostgreSQL with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq postgresql postgresql-contrib >/dev/null
}

start_private_cluster() {
    ensure_client
    local bindir
    bindir=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")
    local data="$local_dir/pgdata"
    local run_as=()
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --home-dir "$local_dir" postgres
        run_as=(runuser -u postgres --)
    fi
    if [ ! -s "$data/PG_VERSION" ]; then
        log "creating a private cluster in $data"
        mkdir -p "$data"
        [ "$(id -u)" -eq 0 ] && chown postgres "$data"
        chmod 700 "$data"
        "${run_as[@]}" "$bindir/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    if ! "${run_as[@]}" "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        log "starting the private cluster on 127.0.0.1:$private_port"
        "${run_as[@]}" "$bindir/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
            -o "-p $private_port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$data -c max_connections=300" start >/dev/null
    fi
}

ensure_client client-only
admin_url=""
if [ -n "${SALUS_ADMIN_URL:-}" ] && answers "$SALUS_ADMIN_URL"; then
    admin_url="$SALUS_ADMIN_URL"
elif answers "postgres://postgres@127.0.0.1:5432/postgres"; then
    admin_url="postgres://postgres@127.0.0.1:5432/postgres"
else
    start_private_cluster
    admin_url="postgres://postgres@127.0.0.1:$private_port/postgres"
    answers "$admin_url" || { log "the private cluster does not answer; see $local_dir/pgdata/server.log"; exit 1; }
fi

# The roles and database. Development passwords come from .env.example; staging and
# production refuse them.
owner_password=salus-dev-owner-password
api_password=salus-dev-api-password
psql "$admin_url" -XAtq -v ON_ERROR_STOP=1 <<SQL >/dev/null
DO \$\$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'salus_owner') THEN
        CREATE ROLE salus_owner LOGIN NOSUPERUSER NOCREATEROLE CREATEDB PASSWORD '$owner_password';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'salus_api') THEN
        CREATE ROLE salus_api LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOBYPASSRLS PASSWORD '$api_password';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'salus_audit') THEN
        CREATE ROLE salus_audit NOLOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOBYPASSRLS;
    END IF;
    IF NOT pg_has_role('salus_owner', 'salus_audit', 'MEMBER') THEN
        GRANT salus_audit TO salus_owner;
    END IF;
END
\$\$;
SELECT 'CREATE DATABASE salus OWNER salus_owner'
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'salus') \gexec
SQL

hostport=$(echo "$admin_url" | sed -E 's#^postgres(ql)?://([^@/]*@)?([^/?]+).*#\3#')
env_file="${SALUS_DB_ENV_FILE:-$local_dir/db.env}"
cat > "$env_file" <<ENV
SALUS_ADMIN_URL=$admin_url
DATABASE_URL=postgres://salus_api:$api_password@$hostport/salus
MIGRATION_DATABASE_URL=postgres://salus_owner:$owner_password@$hostport/salus
ENV
log "PostgreSQL ready at $hostport (settings in ${env_file#"$root"/})"
