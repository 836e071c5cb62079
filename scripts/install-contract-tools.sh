#!/usr/bin/env bash
# Installs the pinned tools that prove the OpenAPI contract with real clients
# (tests/clients; `make contract-tools`, which `make test` runs first):
#
#   1. the Node packages of tools/contract/package-lock.json (Redocly CLI,
#      openapi-typescript, openapi-fetch, TypeScript, playwright-core, otpauth) into
#      tools/contract/node_modules, with `npm ci`, when the lockfile changed since the
#      last install;
#   2. a Python venv at .local/contract-venv with tools/contract/requirements.txt
#      (schemathesis, openapi-python-client, pyotp), when that file changed;
#   3. Debian's chromium (/usr/bin/chromium) with apt-get when it is missing and we
#      are root; otherwise it says how to get it.
#
# Running it again with nothing changed takes well under a second.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/tools/contract"
venv="$root/.local/contract-venv"

log() { echo "contract-tools: $*" >&2; }
die() { log "$*"; exit 1; }
digest() { cat "$@" | sha256sum | cut -d' ' -f1; }

# --- Node.js packages -------------------------------------------------------------
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 \
    || die "Node.js 20.19 or later with npm is needed (https://nodejs.org, or your distribution's nodejs and npm)"
node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' \
    || die "Node.js $(node --version) is too old: @redocly/cli needs 20.19 or later"

node_stamp="$tools/node_modules/.salus-installed"
node_want="$(digest "$tools/package.json" "$tools/package-lock.json") node-$(node --version)"
if [ "$(cat "$node_stamp" 2>/dev/null || true)" != "$node_want" ]; then
    log "installing the Node packages of tools/contract/package-lock.json (npm ci)"
    (cd "$tools" && npm ci --no-audit --no-fund --loglevel=error >&2)
    echo "$node_want" > "$node_stamp"
fi

# --- Python venv ------------------------------------------------------------------
python=${PYTHON:-python3}
command -v "$python" >/dev/null 2>&1 || die "Python 3.10 or later is needed ($python not found)"
venv_stamp="$venv/.salus-installed"
venv_want="$(digest "$tools/requirements.txt") $("$python" --version 2>&1)"
if [ "$(cat "$venv_stamp" 2>/dev/null || true)" != "$venv_want" ]; then
    log "creating .local/contract-venv from tools/contract/requirements.txt"
    rm -rf "$venv"
    mkdir -p "$root/.local"
    if ! "$python" -m venv "$venv" >/dev/null 2>&1; then
        if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
            log "installing python3-venv with apt-get"
            apt-get update -qq >/dev/null
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
            rm -rf "$venv"
            "$python" -m venv "$venv"
        else
            die "$python cannot create a venv: install python3-venv"
        fi
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$tools/requirements.txt" >&2
    echo "$venv_want" > "$venv_stamp"
fi

# --- Chromium ---------------------------------------------------------------------
chromium=${SALUS_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
    if [ -z "${SALUS_CHROMIUM:-}" ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        log "installing Debian's chromium with apt-get"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        die "Chromium is missing at $chromium: install Debian's chromium (sudo apt-get install chromium) or set SALUS_CHROMIUM to a Chromium binary"
    fi
fi
