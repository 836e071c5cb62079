#!/usr/bin/env bash
# `make backup-drill`: a full backup and its restore drill on a cluster of the
# project's own that archives its WAL, with the report printed.
#
# The shared development server (127.0.0.1:5432) is not configured for WAL
# archiving, and turning it on means restarting a server other checkouts use, so
# the drill runs on a private PostgreSQL cluster under .local/backup-drill/
# (port 55433, socket only for pgBackRest), created on first use and kept
# between runs (the repository too: every run adds one full backup, expired after
# BACKUP_RETENTION_DAYS). Its roles and `salus` database are made by
# scripts/provision-db.sh, its schema by `salus migrate`, its data by
# `salus seed-dev` (demo clinics), or, with DRILL_PATIENTS=N (and DRILL_CLINICS,
# default 100), by `salus seed-bench` with N patients and DRILL_APPOINTMENTS (200)
# appointments per clinic, as `make bench` seeds them: the dataset the
# figures of docs/operations.md are measured on.
#
# Stop the cluster with `make backup-drill-stop`; remove .local/backup-drill to
# start again from nothing.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
dir="$root/.local/backup-drill"
port=55433
salus="${SALUS_BIN:-$root/target/debug/salus}"
log() { echo "backup-drill: $*" >&2; }

bindir=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")
run_as=()
if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir "$dir" postgres
    run_as=(runuser -u postgres --)
fi

mkdir -p "$dir"
chmod 755 "$dir"
for sub in pgdata socket; do
    mkdir -p "$dir/$sub"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir/$sub"
done
chmod 700 "$dir/pgdata"
if [ ! -s "$dir/passphrase" ]; then
    (umask 077 && openssl rand -base64 48 | tr -d '\n' >"$dir/passphrase")
fi

export APP_ENV=development
export BACKUP_REPO_PATH="$dir/repo"
export BACKUP_CIPHER_PASS_FILE="$dir/passphrase"
export BACKUP_PG_DATA="$dir/pgdata"
export BACKUP_PG_PORT=$port
export BACKUP_PG_SOCKET="$dir/socket"
export BACKUP_WORK_DIR="$dir/work"
export BACKUP_PG_BIN="$bindir"
unset BACKUP_CIPHER_PASS

if [ ! -s "$dir/pgdata/PG_VERSION" ]; then
    log "creating the cluster in $dir/pgdata"
    "${run_as[@]}" "$bindir/initdb" -D "$dir/pgdata" -U postgres --auth=trust -E UTF8 \
        --locale=C.UTF-8 >/dev/null
    archive_command=$("$salus" backup archive-command | tail -n 1)
    cat >>"$dir/pgdata/postgresql.conf" <<CONF

# Added by scripts/backup-drill.sh: WAL archived into the encrypted repository,
# and a segment switched at least every minute (the RPO's bound).
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir/socket'
archive_mode = on
archive_command = '${archive_command//\'/\'\'}'
archive_timeout = 60
max_connections = 100
CONF
fi
if ! "${run_as[@]}" "$bindir/pg_ctl" -D "$dir/pgdata" status >/dev/null 2>&1; then
    log "starting the cluster on 127.0.0.1:$port"
    "${run_as[@]}" "$bindir/pg_ctl" -D "$dir/pgdata" -l "$dir/pgdata/server.log" -w -t 60 start >/dev/null
fi

SALUS_ADMIN_URL="postgres://postgres@127.0.0.1:$port/postgres" \
    SALUS_DB_ENV_FILE="$dir/db.env" bash scripts/provision-db.sh
set -a && . "$dir/db.env" && set +a
"$salus" migrate >/dev/null

if [ -n "${DRILL_PATIENTS:-}" ]; then
    clinics=${DRILL_CLINICS:-100}
    have=$(psql "postgres://postgres@127.0.0.1:$port/salus" -XAtqc "SELECT count(*) FROM patients")
    if [ "$have" -lt $((clinics * DRILL_PATIENTS)) ]; then
        log "seeding $clinics clinics x $DRILL_PATIENTS patients (salus seed-bench)"
        "$salus" seed-bench --clinics "$clinics" --patients "$DRILL_PATIENTS" --appointments "${DRILL_APPOINTMENTS:-200}" \
            --out "$dir/seed.json" | awk 'NR % 10 == 0 || /wrote/ { print; fflush() }' >&2
        psql "postgres://postgres@127.0.0.1:$port/salus" -XAtq -c "VACUUM ANALYZE" >/dev/null
    fi
else
    "$salus" seed-dev >/dev/null
fi
psql "postgres://postgres@127.0.0.1:$port/salus" -XAtq -c \
    "SELECT 'backup-drill: database size ' || pg_size_pretty(pg_database_size('salus')) || ', ' || (SELECT count(*) FROM patients) || ' patients'" >&2

start=$(date +%s.%N)
"$salus" backup run --type full
end=$(date +%s.%N)
log "backup and drill took $(awk "BEGIN { printf \"%.1f\", $end - $start }") s; repository: $(du -sh "$dir/repo" | cut -f1)"
