#!/usr/bin/env bash
# `make mutants`: mutation testing of the security-critical modules with
# cargo-mutants. Each group of modules runs with only the tests that guard it
# (a whole-suite run per mutant would take days on two cores): the domain's own
# tests for the pure modules, the HTTP crate's for its parsers, and a filtered
# set of the black-box tests (real server, real PostgreSQL) for the code only
# they reach. Mutants are built in cargo-mutants' copy of the tree (never in
# place), one at a time, under nice.
#
#   bash scripts/mutants.sh                 every group
#   bash scripts/mutants.sh access crypto   only these groups
#   bash scripts/mutants.sh --list          count the mutants of every group
#   bash scripts/mutants.sh access --iterate
#                                           test again only what the last run of
#                                           the group did not catch (other
#                                           --options go to cargo-mutants too)
#
# Results: .local/mutants/<group>/mutants.out (caught.txt, missed.txt,
# timeout.txt, unviable.txt, outcomes.json). The last run's figures and every
# survivor's disposition are in docs/security.md, "Mutation testing".
#
# Installs cargo-mutants $CARGO_MUTANTS_VERSION from crates.io into .local/tools
# (cargo install --locked), once. Not run by CI: hours, not minutes.
set -euo pipefail

CARGO_MUTANTS_VERSION=27.1.0

root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.local/tools"
out="$root/.local/mutants"
log() { echo "mutants: $*" >&2; }

if [ "$("$tools/bin/cargo-mutants" mutants --version 2>/dev/null || true)" != "cargo-mutants $CARGO_MUTANTS_VERSION" ]; then
    log "building cargo-mutants $CARGO_MUTANTS_VERSION (cargo install --locked, once)"
    cargo install --quiet --locked --root "$tools" --version "$CARGO_MUTANTS_VERSION" cargo-mutants
fi
export PATH="$tools/bin:$PATH"

# The black-box tests need the database.
bash "$root/scripts/provision-db.sh" >&2
set -a
# shellcheck disable=SC1091
. "$root/.local/db.env"
set +a
# Dependencies are built once for every group and run, not once per copy. Two
# runs at once would overwrite each other's builds there: one at a time.
mkdir -p "$out"
exec 9>"$out/.lock"
if ! flock -n 9; then
    log "another run is using $out; wait for it to end"
    exit 1
fi
export CARGO_TARGET_DIR="$out/target"
# Seconds one mutant's black-box tests may take (their baseline is not timed by
# cargo-mutants; a few hundred requests, about a minute here).
BLACK_BOX_TIMEOUT=${BLACK_BOX_TIMEOUT:-600}

# group | files (cargo-mutants --file, comma-separated) | test package | what
# `cargo test` runs (its arguments; `-- filters` for the test binary). The
# black-box tests run from the `api` binary of salus-tests, filtered.
groups=(
    "access|crates/domain/src/access.rs,crates/domain/src/actor.rs|salus-domain|--lib --test escalation --test role_table"
    "crypto|crates/domain/src/crypto.rs|salus-domain|--lib --test field_crypto"
    "auth-tokens|crates/http/src/auth/jwt.rs|salus-http|--lib"
    "text-policy|crates/http/src/text_policy.rs,crates/domain/src/formats.rs,crates/http/src/json.rs|salus-http|--lib"
    "audit-chain|crates/domain/src/audit/chain.rs,crates/domain/src/audit/seal.rs,crates/domain/src/audit/verify.rs|salus-domain|--lib"
    "auth-extractor|crates/http/src/auth/extractor.rs,crates/http/src/auth/operator.rs,crates/http/src/auth/principal.rs|salus-tests|--test api -- route_inventory:: sessions:: service_accounts:: request_path:: request_rate_limits:: audit::actions_refusals operators::an_operator_session"
    "store-scoping|crates/persistence/src/store.rs,crates/persistence/src/prepared.rs,crates/persistence/src/cached.rs|salus-tests|--test api -- isolation:: rls:: faults::a_pool audit_walk::every_statement"
    "identity-rules|crates/domain/src/identity/password.rs,crates/domain/src/identity/throttle.rs,crates/domain/src/identity/one_time.rs|salus-domain|--lib"
    "identity-sessions|crates/domain/src/identity/auth.rs,crates/domain/src/identity/mfa.rs|salus-tests|--test api -- sessions:: mfa:: limits:: brute_force:: sign_in::"
    "audit-record|crates/domain/src/audit/record.rs,crates/domain/src/audit/service.rs,crates/http/src/middleware/audit_refusals.rs|salus-tests|--test api -- audit:: audit_walk:: sequencer:: backup::a_destroyed_cluster"
)

list=false
failed=()
selected=()
options=()
for arg in "$@"; do
    case "$arg" in
        --list) list=true ;;
        --*) options+=("$arg") ;;
        *) selected+=("$arg") ;;
    esac
done

for entry in "${groups[@]}"; do
    IFS='|' read -r name files package tests <<<"$entry"
    if [ ${#selected[@]} -gt 0 ] && [[ ! " ${selected[*]} " == *" $name "* ]]; then
        continue
    fi
    args=(mutants --workspace --jobs 1 --gitignore true
        --test-package "$package" --output "$out/$name" "${options[@]}")
    IFS=',' read -r -a paths <<<"$files"
    for path in "${paths[@]}"; do
        args+=(--file "$path")
    done
    if $list; then
        log "$name: $(cargo "${args[@]}" --list | wc -l) mutants"
        continue
    fi
    read -r -a test_args <<<"$tests"
    log "$name: $files, tested by cargo test -p $package $tests"
    mkdir -p "$out/$name"
    if [ "$package" = salus-tests ]; then
        # cargo-mutants runs its baseline with the mutated files' package, not
        # --test-package, and `--test api` exists only in salus-tests: check the
        # unmutated tree here instead, and bound each mutant's tests by hand.
        log "$name: baseline (unmutated tree)"
        if ! (cd "$root" && nice -n 19 cargo test -q -p "$package" "${test_args[@]}" >&2); then
            log "$name: its tests fail on the unmutated tree"
            failed+=("$name")
            continue
        fi
        args+=(--baseline skip --timeout "$BLACK_BOX_TIMEOUT")
    fi
    status=0
    (cd "$root" && nice -n 19 cargo "${args[@]}" -- "${test_args[@]}") || status=$?
    # 0: every mutant caught; 2: some missed; 3: some timed out. Anything else
    # (a failed baseline, a tool error) is a failure of the run.
    case $status in 0 | 2 | 3) ;; *) failed+=("$name") ;; esac
    log "$name: $(for f in caught missed timeout unviable; do
        printf '%s %s  ' "$f" "$(cat "$out/$name/mutants.out/$f.txt" 2>/dev/null | wc -l)"
    done)"
done
if [ ${#failed[@]} -gt 0 ]; then
    log "the run failed for: ${failed[*]} (see .local/mutants/<group>/mutants.out/debug.log)"
    exit 1
fi
