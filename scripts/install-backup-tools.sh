#!/usr/bin/env bash
# Installs the pinned backup tool (`make backup-tools`, which `make test` runs first):
# Debian's pgBackRest, version $PGBACKREST_VERSION, with apt-get when it is missing
# or another version and we are root; otherwise it says how to get it.
#
# Running it again with the pinned version installed takes well under a second.
set -euo pipefail

# The version the backup code and tests are written against (docs/operations.md,
# "Backups"). Debian 12 (bookworm) ships it.
PGBACKREST_VERSION=2.45-1
# libfaketime, for the expiry test only: it runs pgBackRest's own `expire` with
# the clock moved past the retention period (tests/api/backup.rs).
FAKETIME_VERSION=0.9.10-2.1

log() { echo "backup-tools: $*" >&2; }

installed=$(dpkg-query -W -f='${Status} ${Version}' pgbackrest 2>/dev/null || true)
faketime=$(dpkg-query -W -f='${Status} ${Version}' faketime 2>/dev/null || true)
if [ "$installed" = "install ok installed $PGBACKREST_VERSION" ] && command -v pgbackrest >/dev/null 2>&1 \
    && [ "$faketime" = "install ok installed $FAKETIME_VERSION" ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "pgBackRest $PGBACKREST_VERSION is needed (found: ${installed:-none})."
    log "Install it as root: apt-get install pgbackrest=$PGBACKREST_VERSION faketime=$FAKETIME_VERSION libfaketime=$FAKETIME_VERSION"
    exit 1
fi

log "installing pgbackrest=$PGBACKREST_VERSION and faketime=$FAKETIME_VERSION with apt-get"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
if ! apt-get install -y -qq --allow-downgrades "pgbackrest=$PGBACKREST_VERSION" \
    "faketime=$FAKETIME_VERSION" "libfaketime=$FAKETIME_VERSION" >/dev/null; then
    log "apt-get could not install pgbackrest=$PGBACKREST_VERSION; available:"
    apt-cache policy pgbackrest >&2 || true
    exit 1
fi
pgbackrest version >&2
