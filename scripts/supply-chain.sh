#!/usr/bin/env bash
# The supply-chain checks (`make supply-chain`, run by `make test`), failing on any
# finding:
#
#   1. cargo-deny: advisories (from the offline RustSec snapshot: the machines
#      reach no git host), licences, bans and sources of every crate, for every
#      target (deny.toml);
#   2. detect-secrets over the tree and every blob of the git history, against the
#      reviewed baseline (tools/supply-chain/check_secrets.py).
#
# The advisory snapshot is found at $SALUS_ADVISORY_DB, else ../shared/advisory-db
# beside the checkout, else /work/shared/advisory-db. Its date is printed; how to
# refresh it is in docs/security.md ("Supply chain").
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
log() { echo "supply-chain: $*" >&2; }

snapshot=""
for candidate in "${SALUS_ADVISORY_DB:-}" "$root/../shared/advisory-db" /work/shared/advisory-db; do
    if [ -n "$candidate" ] && [ -f "$candidate/SNAPSHOT" ]; then
        snapshot=$(cd "$candidate" && pwd)
        break
    fi
done
[ -n "$snapshot" ] || { log "no RustSec advisory snapshot found (set SALUS_ADVISORY_DB)"; exit 1; }
log "advisories: RustSec snapshot $(tr '\n' ' ' < "$snapshot/SNAPSHOT" | grep -o 'commit [0-9a-f]* (committed [0-9-]*)' || echo "of unknown date")"

# cargo-deny reads its database as a git clone under db-path, in the folder named
# after the database URL's hash; fetching is off (--offline).
db="$root/.local/advisory-dbs/advisory-db-3157b0e258782691"
stamp="$db/.salus-snapshot"
want=$(sha256sum "$snapshot/SNAPSHOT" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
    rm -rf "$db"
    mkdir -p "$db"
    cp -R "$snapshot/." "$db/"
    (cd "$db" && git init -q && git add -A \
        && git -c user.name=salus -c user.email=ci@salus.invalid commit -qm snapshot)
    echo "$want" > "$stamp"
fi

cargo fetch --locked --quiet
"$root/.local/tools/bin/cargo-deny" --offline --log-level warn check
log "cargo-deny: advisories, bans, licences and sources ok"

python3 tools/supply-chain/check_secrets.py "$root" "$root/.local/supply-venv/bin/detect-secrets"
