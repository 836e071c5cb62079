#!/usr/bin/env bash
# `make fuzz`: runs each cargo-fuzz target of fuzz/ for FUZZ_SECONDS (30 by
# default) and fails on the first crash, which cargo-fuzz keeps under
# fuzz/artifacts/<target>/ for `cargo +nightly fuzz run <target> <file>`.
#
# Installs what it needs, pinned: cargo-fuzz $CARGO_FUZZ_VERSION from crates.io
# into .local/tools (cargo install --locked), and uses the nightly toolchain
# (libFuzzer's instrumentation needs it; `rustup toolchain install nightly` when
# it is missing). Not run by CI: fuzzing wants minutes per target.
set -euo pipefail

CARGO_FUZZ_VERSION=0.13.1
SECONDS_PER_TARGET=${FUZZ_SECONDS:-30}

root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.local/tools"
log() { echo "fuzz: $*" >&2; }

if ! rustup toolchain list | grep -q '^nightly'; then
    log "installing the nightly toolchain (rustup)"
    rustup toolchain install nightly --profile minimal
fi
if [ "$("$tools/bin/cargo-fuzz" --version 2>/dev/null || true)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
    log "building cargo-fuzz $CARGO_FUZZ_VERSION (cargo install --locked, once)"
    cargo install --quiet --locked --root "$tools" --version "$CARGO_FUZZ_VERSION" cargo-fuzz
fi

export PATH="$tools/bin:$PATH"
cd "$root/fuzz"
targets=$(cargo +nightly fuzz list)
logs="$root/.local/fuzz"
mkdir -p "$logs"
for target in $targets; do
    log "$target: ${SECONDS_PER_TARGET}s (output in .local/fuzz/$target.log)"
    if ! cargo +nightly fuzz run "$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 >"$logs/$target.log" 2>&1; then
        tail -n 40 "$logs/$target.log" >&2
        log "$target failed: the input is kept under fuzz/artifacts/$target/"
        exit 1
    fi
    grep -E '^(Done [0-9]+ runs|stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb))' \
        "$logs/$target.log" || true
done
log "every target ran ${SECONDS_PER_TARGET}s without a crash: $(echo $targets | tr '\n' ' ')"
