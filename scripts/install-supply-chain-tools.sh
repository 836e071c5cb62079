#!/usr/bin/env bash
# Installs the pinned supply-chain tools (`make supply-chain-tools`, which
# `make supply-chain` runs first):
#
#   1. cargo-deny $CARGO_DENY_VERSION from crates.io into .local/tools (cargo install
#      --locked: its own lockfile pins its dependencies), when that version is not
#      there yet (a few minutes to build once);
#   2. a Python venv at .local/supply-venv with tools/supply-chain/requirements.txt
#      (detect-secrets, pinned), when that file changed.
#
# Running it again with nothing changed takes well under a second.
set -euo pipefail

CARGO_DENY_VERSION=0.20.2

root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.local/tools"
venv="$root/.local/supply-venv"
log() { echo "supply-chain-tools: $*" >&2; }

if [ "$("$tools/bin/cargo-deny" --version 2>/dev/null || true)" != "cargo-deny $CARGO_DENY_VERSION" ]; then
    log "building cargo-deny $CARGO_DENY_VERSION (cargo install --locked, once)"
    cargo install --quiet --locked --root "$tools" --version "$CARGO_DENY_VERSION" cargo-deny
fi

requirements="$root/tools/supply-chain/requirements.txt"
stamp="$venv/.salus-installed"
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
    log "installing tools/supply-chain/requirements.txt into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    echo "$want" > "$stamp"
fi
