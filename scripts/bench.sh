#!/usr/bin/env bash
# `make bench`: speed and memory of Salus, as ratios against baselines measured in
# the same run on the same machine (see docs/performance.md).
#
# It builds in release mode, provisions a scratch database (`$BENCH_DB`, default
# `salus_bench`; give each checkout its own when several bench at once), seeds
# 100 clinics x 10,000 patients with appointments (`salus seed-bench`), starts the
# server on a free loopback port and drives it with wrk at fixed connection counts,
# 3 runs each, printing medians:
#   1. baseline: GET /health/live
#   2. GET /api/v1/patients/{id}, authenticated
#   3. GET /api/v1/patients?limit=20, authenticated
#   4. POST /api/v1/appointments (exclusion constraint)
#   5. login throughput (argon2id), and the p99 of (2) during a login flood
#   6. (8) with the read's audit event inserted in its own transaction, by pgbench:
#      what a read would cost without the group commit
#   7. a write with and without its audit event, by pgbench, in alternating pairs
#   8. the minimal SQL of an authenticated read (one transaction: session check and
#      patient row, no audit) by pgbench at the same concurrency: the database's
#      ceiling for (2) on this machine ((2) >= 0.8 x (8))
#   9. (2) at a fixed rate, 70 % of (2)'s maximum, open loop (oha, corrected for
#      coordinated omission): p99 <= 10 ms
#  10. (2) and (3) on 100 clinics of 1,000 patients (seeded beside the 100 of
#      10,000): p99 within 1.3 x of the large clinics'
# Results go to bench/results/latest.json.
#
# BENCH_QUICK=1: a smoke run (3 clinics x 1,000 patients, 3 s runs). Not for figures.
# wrk, pgbench, jq and curl are installed with apt-get when missing (as root).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
run_dir="bench/.run"
results="bench/results/latest.json"
mkdir -p "$run_dir" "$(dirname "$results")"

quick="${BENCH_QUICK:-0}"
bench_db="${BENCH_DB:-salus_bench}"
[[ "$bench_db" =~ ^[a-z_][a-z0-9_]*$ ]] || { echo "bench: BENCH_DB must be a plain database name" >&2; exit 2; }
if [ "$quick" = "1" ]; then
    clinics=3 patients=1000 small_patients=100 appointments=20 duration=3
else
    clinics=100 patients=10000 small_patients=1000 appointments=200 duration=10
fi
# oha (open-loop load with latency correction), built once from crates.io.
OHA_VERSION=1.16.0
runs=3
# (7) alternates its two writes this many times (see measure_audit_pair).
audit_pairs=5
connections=64
login_connections=16
wrk_threads=2
cores=$(nproc)

log() { echo "bench: $*" >&2; }

ensure_tools() {
    local missing=()
    command -v wrk >/dev/null 2>&1 || missing+=(wrk)
    # Debian ships pgbench with the server package (postgresql-15), not the client.
    command -v pgbench >/dev/null 2>&1 || missing+=(postgresql postgresql-contrib)
    command -v jq >/dev/null 2>&1 || missing+=(jq)
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    [ ${#missing[@]} -eq 0 ] && return
    if [ "$(id -u)" -ne 0 ]; then
        log "missing: ${missing[*]}; install them (Debian/Ubuntu: apt-get install ${missing[*]})"
        exit 1
    fi
    log "installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq "${missing[@]}" >/dev/null
}

free_port() {
    local port
    for port in $(seq 18080 18180); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    log "no free port in 18080-18180"
    exit 1
}

random_key() { printf '%s:%s' "$1" "$(head -c 32 /dev/urandom | base64 -w0)"; }

# --- database and server -----------------------------------------------------------

provision() {
    bash scripts/provision-db.sh
    set -a
    # shellcheck disable=SC1091
    . .local/db.env
    set +a
    admin_url="$SALUS_ADMIN_URL"
    api_url="${DATABASE_URL%/*}/$bench_db"
    owner_url="${MIGRATION_DATABASE_URL%/*}/$bench_db"
    bench_admin_url="${admin_url%/*}/$bench_db"
    log "creating the scratch database $bench_db"
    psql "$admin_url" -XAtq -v ON_ERROR_STOP=1 \
        -c "DROP DATABASE IF EXISTS \"$bench_db\" WITH (FORCE)" \
        -c "CREATE DATABASE \"$bench_db\" OWNER salus_owner" >/dev/null
    MIGRATION_DATABASE_URL="$owner_url" target/release/salus migrate >/dev/null
}

server_env() {
    export APP_ENV=development
    export DATABASE_URL="$api_url"
    export TOKEN_SIGNING_KEYS MASTER_KEYS
    TOKEN_SIGNING_KEYS=$(random_key b1)
    MASTER_KEYS=$(random_key m1)
    export HTTP_BIND="127.0.0.1:$port"
    export LOG_FORMAT=json
    export OUTBOX_POLL_SECONDS=0
    export OUTBOX_DIR="$run_dir/outbox"
    # All load comes from one address: the per-address limit on authentication
    # endpoints would otherwise answer 429 to the login measurement.
    export AUTH_RATE_LIMIT_PER_MINUTE=1000000000
    # The same for the rate limits of every operation: the load tool is one
    # address and a few credentials sending thousands of requests a minute.
    export RATE_LIMIT_PER_CREDENTIAL=1000000000 RATE_LIMIT_PER_ADDRESS=1000000000 \
        RATE_LIMIT_CLINIC_FREE=1000000000 RATE_LIMIT_CLINIC_PRO=1000000000 \
        RATE_LIMIT_CLINIC_BUSINESS=1000000000
    # To look into a run afterwards: `set -a; . bench/.run/server.env; set +a` and
    # start target/release/salus serve against the same scratch database.
    declare -p APP_ENV DATABASE_URL TOKEN_SIGNING_KEYS MASTER_KEYS HTTP_BIND LOG_FORMAT \
        OUTBOX_POLL_SECONDS OUTBOX_DIR AUTH_RATE_LIMIT_PER_MINUTE RATE_LIMIT_PER_CREDENTIAL \
        RATE_LIMIT_PER_ADDRESS RATE_LIMIT_CLINIC_FREE RATE_LIMIT_CLINIC_PRO RATE_LIMIT_CLINIC_BUSINESS |
        sed 's/^declare -x //' >"$run_dir/server.env"
    chmod 600 "$run_dir/server.env"
}

seed() {
    log "seeding $clinics clinics x $patients patients ($appointments appointments each)"
    target/release/salus seed-bench --clinics "$clinics" --patients "$patients" \
        --appointments "$appointments" --out "$run_dir/seed.json" |
        awk 'NR % 10 == 0 || /wrote/ { print; fflush() }' >&2
    log "seeding $clinics clinics x $small_patients patients (the growth runs' smaller clinics)"
    target/release/salus seed-bench --clinics "$clinics" --patients "$small_patients" \
        --appointments "$appointments" --first $((clinics + 1)) --out "$run_dir/seed_small.json" |
        awk 'NR % 10 == 0 || /wrote/ { print; fflush() }' >&2
    seed_seconds=$(jq '.seed_seconds' "$run_dir/seed.json")
    log "seeded in $(printf '%.0f' "$seed_seconds") s; VACUUM ANALYZE"
    # A loaded database is vacuumed and analysed; without this, autovacuum of the
    # freshly inserted million rows would run during the first measurements.
    psql "$bench_admin_url" -XAtq -v ON_ERROR_STOP=1 -c "VACUUM ANALYZE" >/dev/null
}

start_server() {
    target/release/salus serve >"$run_dir/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 100); do
        curl -fs "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1 && return
        kill -0 "$server_pid" 2>/dev/null || { log "the server died; see $run_dir/server.log"; exit 1; }
        sleep 0.2
    done
    log "the server did not become ready; see $run_dir/server.log"
    exit 1
}

stop_server() {
    if [ -n "${server_pid:-}" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
}

# Signs every bench practitioner of SEED (seed.json; the growth runs' seed_small.json)
# in (access tokens live 15 minutes, so before each measurement) and writes the wrk
# targets to TARGETS (targets.txt): `token clinic practitioner patients`.
sign_in() {
    local seed_file="$run_dir/${1:-seed.json}" targets="$run_dir/${2:-targets.txt}" password
    password=$(jq -r '.password' "$seed_file")
    { echo "$password"; jq -r '.clinics[].email' "$run_dir/seed.json"; } >"$run_dir/logins.txt"
    : >"$targets.tmp"
    jq -c '.clinics[]' "$seed_file" | while read -r clinic; do
        local email token
        email=$(jq -r '.email' <<<"$clinic")
        token=$(curl -fsS "http://127.0.0.1:$port/api/v1/auth/login" \
            -H 'content-type: application/json' \
            -d "$(jq -nc --arg e "$email" --arg p "$password" '{email: $e, password: $p}')" |
            jq -r '.access_token')
        [ -n "$token" ] && [ "$token" != "null" ] || { log "sign-in failed for $email"; exit 1; }
        jq -r --arg t "$token" '"\($t) \(.id) \(.practitioner_id) \(.patients | join(","))"' <<<"$clinic" >>"$targets.tmp"
    done
    mv "$targets.tmp" "$targets"
}

# --- measurements --------------------------------------------------------------------

# wrk_once SCRIPT CONNECTIONS SECONDS [ARG]: one run's JSON line.
wrk_once() {
    local out
    out=$(wrk -t"$wrk_threads" -c"$2" -d"${3}s" --timeout 10s -s "bench/wrk/$1.lua" \
        "http://127.0.0.1:$port" -- "${4:-0}")
    grep '^BENCH_JSON ' <<<"$out" | cut -d' ' -f2-
}

run_index=0
# measure NAME SCRIPT CONNECTIONS: a warm-up, then $runs runs, into $run_dir/NAME.json.
measure() {
    local name=$1 script=$2 conns=$3 i
    log "$name: warm-up, then $runs x ${duration} s at $conns connections"
    run_index=$((run_index + 1))
    wrk_once "$script" "$conns" "$(( duration < 3 ? duration : 3 ))" "$run_index" >/dev/null
    : >"$run_dir/$name.runs"
    local before
    before=$(cpu_ticks)
    for i in $(seq 1 "$runs"); do
        run_index=$((run_index + 1))
        wrk_once "$script" "$conns" "$duration" "$run_index" | tee -a "$run_dir/$name.runs" >&2
    done
    cpu_share "$before" >"$run_dir/$name.cpu"
    summarise "$name" "$conns"
}

# The server's resident memory now, in MiB.
server_rss_mib() {
    awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$server_pid/status"
}

# CPU ticks used so far by the server, by PostgreSQL (live processes plus the
# backends that already exited, counted in the postmaster's children), and by the
# whole machine (busy time), as "server postgres machine".
cpu_ticks() {
    local server postgres machine postmaster
    server=$(awk '{print $14 + $15}' "/proc/$server_pid/stat")
    postmaster=$(pgrep -u postgres -o postgres || true)
    postgres=$({
        for p in $(pgrep -u postgres); do awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || true; done
        [ -n "$postmaster" ] && awk '{print $16 + $17}' "/proc/$postmaster/stat"
    } | awk '{s += $1} END {print s + 0}')
    machine=$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat)
    echo "$server $postgres $machine $(date +%s.%N)"
}

# cpu_share BEFORE: the cores each used since BEFORE (from cpu_ticks), as JSON; the
# rest of the machine is mostly the load generator (wrk or pgbench).
cpu_share() {
    local hz
    hz=$(getconf CLK_TCK)
    read -r s0 p0 m0 t0 <<<"$1"
    read -r s1 p1 m1 t1 <<<"$(cpu_ticks)"
    awk -v hz="$hz" -v s="$((s1 - s0))" -v p="$((p1 - p0))" -v m="$((m1 - m0))" -v t0="$t0" -v t1="$t1" \
        'BEGIN { w = (t1 - t0) * hz; printf "{\"server\":%.2f,\"postgres\":%.2f,\"other\":%.2f}", s / w, p / w, (m - s - p) / w }'
}

# The server's threads now.
server_threads() {
    awk '/^Threads/ {print $2}' "/proc/$server_pid/status"
}

# summarise NAME CONNECTIONS: the runs and their medians (each figure separately),
# with the server's resident memory after them.
summarise() {
    jq -s --argjson c "$2" --argjson rss "$(server_rss_mib)" --argjson threads "$(server_threads)" \
        --argjson cpu "$(cat "$run_dir/$1.cpu")" '
        def median: sort | .[(length / 2 | floor)];
        {connections: $c, cores_used: $cpu, server_rss_mib_after: $rss, server_threads_after: $threads, runs: .,
         median: {rps: (map(.rps) | median), p50_ms: (map(.p50_ms) | median),
                  p99_ms: (map(.p99_ms) | median)},
         errors: (map(.errors | to_entries | map(.value) | add) | add)}' \
        "$run_dir/$1.runs" >"$run_dir/$1.json"
}

# (5), second part: (2) while a login flood runs on $login_connections connections.
measure_read_during_login_flood() {
    local name=patient_read_during_login_flood i flood
    log "$name: $runs x ${duration} s, (2) at $connections connections during a login flood"
    : >"$run_dir/$name.runs"
    local before
    before=$(cpu_ticks)
    for i in $(seq 1 "$runs"); do
        run_index=$((run_index + 1))
        wrk_once login "$login_connections" "$((duration + 2))" >/dev/null &
        flood=$!
        sleep 1
        wrk_once patient "$connections" "$duration" | tee -a "$run_dir/$name.runs" >&2
        wait "$flood"
    done
    cpu_share "$before" >"$run_dir/$name.cpu"
    summarise "$name" "$connections"
}

# The columns of the patient row the server reads (PatientRow in
# crates/persistence/src/patients_repo.rs).
PATIENT_COLUMNS="clinic_id, id, family_name, given_name, birth_date, sex, national_id, national_id_index, phone, email, address, emergency_contact, preferred_language, reminder_email, reminder_sms, medical_history, archived_at, version, created_at, updated_at, processing_restricted_at, records_archived_at"

# The start of every authenticated request's one transaction (Auth::authenticate_held):
# the scope set, then the session context (SESSION_CONTEXT_SQL, read from
# crates/persistence/src/identity_repo.rs so it cannot drift), which also reads the
# clinic keys' fingerprint for the key cache. The target (clinic, live session,
# patient) comes from a lookup table in a `bench` schema, read by the statement
# that calls set_config (the server sends that set_config as its own round trip).
session_sql() {
    local session
    session=$(rust_const identity_repo SESSION_CONTEXT_SQL | sed 's/\$1/:cid/; s/\$2/:sid/')
    [ -n "$session" ] || { log "SESSION_CONTEXT_SQL not found in identity_repo.rs"; exit 1; }
    cat <<SQL
\\set n random(1, :ntargets)
BEGIN;
SELECT set_config('app.clinic_id', t.clinic_id::text, true) AS setting, t.clinic_id AS cid, t.session_id AS sid, t.patient_id AS pid FROM bench.targets t WHERE t.n = :n \\gset
$session;
SELECT $PATIENT_COLUMNS FROM patients WHERE clinic_id = :cid AND id = :pid LIMIT 1;
SQL
}

# (8): the minimal SQL of an authenticated read, one transaction, no audit: the
# database's ceiling for (2).
minimal_read_script() {
    session_sql
    echo "COMMIT;"
}

# (6): (8) with the read's audit event inserted in the same transaction: what each
# read would pay without the server's group commit.
audited_read_script() {
    session_sql
    audit_append_sql patient.clinical_read
    echo "COMMIT;"
}

# rust_const MODULE NAME: the string constant NAME of crates/persistence/src/MODULE.rs
# as SQL text: the lines between the quotes, leading blanks dropped, each
# `\`-continuation joined to the next line (as Rust reads it).
rust_const() {
    sed -n -E "/^(pub )?const $2: &str = \"/,/\";\$/p" "crates/persistence/src/$1.rs" |
        sed "1s/^.*= \"//; \$s/\";\$//" |
        awk '{ sub(/^[ \t]+/, ""); if (sub(/\\$/, "")) printf "%s", $0; else print }'
}

# The audit append of one event as the server makes it (without a position: the
# sequencer gives it one later), the statement of crates/persistence/src/audit_append.rs,
# its text read from there, its arrays holding one event.
audit_append_sql() {
    local columns append
    columns=$(rust_const audit_append APPEND_INPUT_COLUMNS)
    append=$(rust_const audit_append APPEND_EVENTS_SQL)
    [ -n "$columns" ] && [ -n "$append" ] || { log "the append statement was not found in audit_append.rs"; exit 1; }
    cat <<SQL
WITH input ($columns) AS (SELECT * FROM unnest(ARRAY[:cid::uuid], ARRAY[:cid::uuid], ARRAY[gen_random_uuid()], ARRAY[now()], ARRAY[:sid::uuid], ARRAY[:sid::uuid], ARRAY[:sid::uuid], ARRAY['127.0.0.1'], ARRAY['pgbench'], ARRAY['bench-request-id'], ARRAY['$1'], ARRAY['patient'], ARRAY[:pid::uuid], ARRAY['success'], ARRAY['{}'])), $append;
SQL
}

# The write of (7), as the server's `PUT /api/v1/patients/{id}` sends it: one
# transaction (the session check, the patient row, the row rewritten under a
# version check), with or without the audit event the server inserts last.
write_script() {
    session_sql
    cat <<SQL
UPDATE patients SET family_name = family_name, given_name = given_name, birth_date = birth_date, sex = sex, national_id = national_id, national_id_index = national_id_index, phone = phone, email = email, address = address, emergency_contact = emergency_contact, preferred_language = preferred_language, reminder_email = reminder_email, reminder_sms = reminder_sms, medical_history = medical_history, archived_at = archived_at, version = version + 1, updated_at = now() WHERE clinic_id = :cid AND id = :pid AND version > 0;
$([ "$1" = audited ] && audit_append_sql patient.updated)
COMMIT;
SQL
}

# The pgbench targets: one live session per clinic (the latest sign-in), with each
# sampled patient, in a `bench` schema the API role may read.
pgbench_targets() {
    psql "$bench_admin_url" -XAtq -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;
CREATE TABLE bench.targets (n integer PRIMARY KEY, clinic_id uuid NOT NULL, session_id uuid NOT NULL, patient_id uuid NOT NULL);
GRANT USAGE ON SCHEMA bench TO salus_api;
GRANT SELECT ON bench.targets TO salus_api;
SQL
    jq -r '.clinics[] | .id as $c | .patients[] | "\($c),\(.)"' "$run_dir/seed.json" |
        psql "$bench_admin_url" -XAtq -v ON_ERROR_STOP=1 >/dev/null \
            -c "CREATE TEMP TABLE p (clinic_id uuid, patient_id uuid)" \
            -c "\\copy p FROM STDIN WITH (FORMAT csv)" \
            -c "INSERT INTO bench.targets SELECT row_number() OVER (), p.clinic_id, s.id, p.patient_id FROM p JOIN LATERAL (SELECT id FROM sessions WHERE clinic_id = p.clinic_id AND revoked_at IS NULL ORDER BY created_at DESC LIMIT 1) s ON true"
    ntargets=$(psql "$bench_admin_url" -XAtqc "SELECT count(*) FROM bench.targets")
}

# (8) and (6) by pgbench.
measure_pgbench() {
    pgbench_targets
    minimal_read_script >"$run_dir/minimal_read.pgbench"
    pgbench_runs pgbench_minimal_read "$run_dir/minimal_read.pgbench"
    audited_read_script >"$run_dir/audited_read.pgbench"
    pgbench_runs pgbench_audited_read "$run_dir/audited_read.pgbench"
}

# pgbench_once SCRIPT SECONDS: one pgbench run at $connections clients, as a JSON
# line like a wrk run's.
pgbench_once() {
    local script=$1 seconds=$2 out tps failed
    rm -f "$run_dir"/pgbench_log.*
    out=$(pgbench -n -M prepared -c "$connections" -j "$wrk_threads" -T "$seconds" \
        -D ntargets="$ntargets" -f "$script" \
        --log --log-prefix="$run_dir/pgbench_log" "$api_url" 2>&1) ||
        { echo "$out" >&2; log "pgbench failed"; exit 1; }
    tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out" | tail -n 1)
    failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$out")
    cat "$run_dir"/pgbench_log.* | awk '{print $3 / 1000}' | sort -n | awk -v tps="$tps" -v failed="${failed:-0}" '
        { v[NR] = $1 }
        END {
            p50 = v[int(NR * 0.50) > 0 ? int(NR * 0.50) : 1]
            p99 = v[int(NR * 0.99) > 0 ? int(NR * 0.99) : 1]
            printf "{\"requests\":%d,\"rps\":%.2f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"errors\":{\"failed\":%d}}\n", NR, tps, p50, p99, failed
        }'
    rm -f "$run_dir"/pgbench_log.*
}

# Runs a pgbench script $runs times (after a short warm-up) at $connections clients
# and summarises it like a wrk measurement.
pgbench_runs() {
    local name=$1 script=$2 i before
    log "$name: $runs x ${duration} s, $connections clients, $ntargets targets"
    pgbench_once "$script" "$(( duration < 3 ? duration : 3 ))" >/dev/null # warm-up
    : >"$run_dir/$name.runs"
    before=$(cpu_ticks)
    for i in $(seq 1 "$runs"); do
        pgbench_once "$script" "$duration" | tee -a "$run_dir/$name.runs" >&2
    done
    cpu_share "$before" >"$run_dir/$name.cpu"
    summarise "$name" "$connections"
}

# oha, built once from crates.io into .local/tools (pinned, --locked): wrk holds a
# number of connections (closed loop, so a slow server slows the load and its
# latency hides); oha holds a request rate and corrects the latencies for
# coordinated omission, which is what a latency target at a fixed load needs.
ensure_oha() {
    oha="$root/.local/tools/bin/oha"
    if [ "$("$oha" --version 2>/dev/null | awk '{print $2}')" != "$OHA_VERSION" ]; then
        log "building oha $OHA_VERSION (cargo install --locked, once)"
        cargo install --quiet --locked --root "$root/.local/tools" --version "$OHA_VERSION" oha
    fi
}

# (9): (2) at a fixed rate, 70 % of (2)'s measured maximum, open loop: one clinic's
# practitioner reading its sampled patients (a URL drawn from a regular expression
# per request), $runs runs of $duration s; p50/p99 with latency correction.
measure_open_loop() {
    local name=patient_read_open_loop rate target token ids i out before
    rate=$(jq '.median.rps * 0.7 | floor' "$run_dir/patient_read.json")
    read -r token _ _ ids < <(head -n 1 "$run_dir/targets.txt")
    # `[.]`, not `\.`: oha's URL generator takes an escaped dot for any character.
    target="http://127[.]0[.]0[.]1:$port/api/v1/patients/($(tr ',' '|' <<<"$ids"))"
    log "$name: $runs x ${duration} s at $rate req/s (70 % of (2)), $connections connections, open loop"
    : >"$run_dir/$name.runs"
    before=$(cpu_ticks)
    for i in $(seq 1 "$runs"); do
        out=$("$oha" --no-tui --output-format json -z "${duration}s" -c "$connections" \
            -q "$rate" --latency-correction \
            -H "Authorization: Bearer $token" --rand-regex-url "$target")
        jq -c --argjson rate "$rate" '{requests: ([.statusCodeDistribution[]] | add // 0),
            rps: .summary.requestsPerSec, offered_rps: $rate,
            p50_ms: (.latencyPercentiles.p50 * 1000), p99_ms: (.latencyPercentiles.p99 * 1000),
            errors: {status: ([.statusCodeDistribution | to_entries[] | select(.key != "200") | .value] | add // 0),
                     other: ([.errorDistribution | to_entries[] | select(.key != "aborted due to deadline") | .value] | add // 0)},
            aborted_at_end: (.errorDistribution["aborted due to deadline"] // 0)}' <<<"$out" |
            tee -a "$run_dir/$name.runs" >&2
    done
    cpu_share "$before" >"$run_dir/$name.cpu"
    summarise "$name" "$connections"
}

# (10): (2) and (3) on the 100 clinics of 1,000 patients, against the same on the
# clinics of 10,000 measured before: whether the request path grows with the data.
measure_growth() {
    sign_in seed_small.json targets_small.txt
    BENCH_TARGETS="$run_dir/targets_small.txt" measure patient_read_small patient "$connections"
    sign_in seed_small.json targets_small.txt
    BENCH_TARGETS="$run_dir/targets_small.txt" measure patient_list_small patients_list "$connections"
}

# Audited write throughput: the same write with and without the audit event the
# server appends in its transaction (issue target: audited >= 0.7 x plain). Clients
# spread over every clinic, so appends to different chains run in parallel. The two
# run in alternation, $audit_pairs pairs back to back, so the drift of a shared
# machine (checkpoints, autovacuum, neighbours) falls on both alike; the ratio is
# the median of the pairs' ratios.
measure_audit_pair() {
    local i plain audited before
    write_script plain >"$run_dir/write_plain.pgbench"
    write_script audited >"$run_dir/write_audited.pgbench"
    log "write_plain / write_audited: $audit_pairs alternating pairs x ${duration} s, $connections clients"
    pgbench_once "$run_dir/write_plain.pgbench" 3 >/dev/null # warm-up
    pgbench_once "$run_dir/write_audited.pgbench" 3 >/dev/null
    : >"$run_dir/write_plain.runs"
    : >"$run_dir/write_audited.runs"
    before=$(cpu_ticks)
    for i in $(seq 1 "$audit_pairs"); do
        plain=$(pgbench_once "$run_dir/write_plain.pgbench" "$duration")
        audited=$(pgbench_once "$run_dir/write_audited.pgbench" "$duration")
        echo "$plain" >>"$run_dir/write_plain.runs"
        echo "$audited" >>"$run_dir/write_audited.runs"
        log "pair $i: plain $(jq .rps <<<"$plain")/s, audited $(jq .rps <<<"$audited")/s"
    done
    cpu_share "$before" | tee "$run_dir/write_plain.cpu" >"$run_dir/write_audited.cpu"
    summarise write_plain "$connections"
    summarise write_audited "$connections"
    jq -n --slurpfile plain "$run_dir/write_plain.json" --slurpfile audited "$run_dir/write_audited.json" '
        def median: sort | .[(length / 2 | floor)];
        [range(0; $plain[0].runs | length) | $audited[0].runs[.].rps / $plain[0].runs[.].rps] as $pairs |
        {plain: $plain[0], audited: $audited[0], pair_ratios: $pairs, ratio: ($pairs | median)}' \
        >"$run_dir/audit_pair.json"
}

# --- report --------------------------------------------------------------------------

machine_json() {
    jq -n --arg cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" \
        --argjson cores "$cores" \
        --argjson mem "$(awk '/^MemTotal/ {printf "%d", $2 / 1024}' /proc/meminfo)" \
        --arg pg "$(psql "$admin_url" -XAtqc 'SHOW server_version')" \
        --arg kernel "$(uname -r)" \
        --arg wrk "$(wrk -v 2>&1 | head -n 1 | awk '{print $2}')" \
        '{cpu: $cpu, cores: $cores, memory_mib: $mem, postgresql: $pg, kernel: $kernel, wrk: $wrk}'
}

report() {
    local hwm_kib
    hwm_kib=$(awk '/^VmHWM/ {print $2}' "/proc/$server_pid/status")
    jq -n \
        --arg at "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
        --arg commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
        --argjson quick "$([ "$quick" = "1" ] && echo true || echo false)" \
        --argjson machine "$(machine_json)" \
        --slurpfile seed <(jq '{seed_seconds, argon2_verify_seconds, patients_per_clinic, appointments_per_clinic, clinics: (.clinics | length)}' "$run_dir/seed.json") \
        --slurpfile small <(jq '{seed_seconds, patients_per_clinic, clinics: (.clinics | length)}' "$run_dir/seed_small.json") \
        --slurpfile health "$run_dir/health.json" \
        --slurpfile read "$run_dir/patient_read.json" \
        --slurpfile list "$run_dir/patient_list.json" \
        --slurpfile book "$run_dir/book.json" \
        --slurpfile login "$run_dir/login.json" \
        --slurpfile flood "$run_dir/patient_read_during_login_flood.json" \
        --slurpfile audited_read "$run_dir/pgbench_audited_read.json" \
        --slurpfile minimal "$run_dir/pgbench_minimal_read.json" \
        --slurpfile open "$run_dir/patient_read_open_loop.json" \
        --slurpfile read_small "$run_dir/patient_read_small.json" \
        --slurpfile list_small "$run_dir/patient_list_small.json" \
        --slurpfile audit "$run_dir/audit_pair.json" \
        --argjson hwm "$hwm_kib" \
        --argjson runs "$runs" --argjson duration "$duration" --argjson threads "$wrk_threads" \
        --argjson booking_before 1048 \
        '
        ($seed[0]) as $s | ($machine.cores) as $cores |
        ($read[0].median) as $r |
        ($cores * 0.8 / $s.argon2_verify_seconds) as $login_target |
        {
          generated_at: $at, commit: $commit, quick: $quick, machine: $machine,
          dataset: $s, growth_dataset: $small[0],
          settings: {runs: $runs, seconds_per_run: $duration, wrk_threads: $threads,
                     http_workers: $cores, db_pool_size: 16, password_hash_concurrency: $cores},
          measurements: {
            "1_health_live": $health[0], "2_patient_read": $read[0], "3_patient_list": $list[0],
            "4_book_appointment": $book[0], "5_login": $login[0],
            "5_patient_read_during_login_flood": $flood[0],
            "6_pgbench_read_with_own_audit_commit": $audited_read[0],
            "7_write_plain": $audit[0].plain, "7_write_audited": $audit[0].audited,
            "8_pgbench_minimal_read": $minimal[0],
            "9_patient_read_open_loop": $open[0],
            "10_patient_read_1000": $read_small[0], "10_patient_list_1000": $list_small[0]
          },
          ratios: {read_over_health: ($r.rps / $health[0].median.rps),
                   read_over_minimal_sql: ($r.rps / $minimal[0].median.rps),
                   audited_over_plain_write: $audit[0].ratio,
                   audited_over_plain_write_pairs: $audit[0].pair_ratios,
                   booking_over_issue_18_figure: ($book[0].median.rps / $booking_before),
                   read_p99_10000_over_1000: ($r.p99_ms / $read_small[0].median.p99_ms),
                   list_p99_10000_over_1000: ($list[0].median.p99_ms / $list_small[0].median.p99_ms)},
          peak_server_memory_mib: ($hwm / 1024),
          targets: [
            {name: "(2) >= 0.8 x (8) requests/s, audit included", value: ($r.rps / $minimal[0].median.rps), target: 0.8, higher_is_better: true, errors: (($read[0].errors // 0) + ($minimal[0].errors // 0))},
            {name: "audited write >= 0.85 x the same write unaudited", value: $audit[0].ratio, target: 0.85, higher_is_better: true, errors: (($audit[0].plain.errors // 0) + ($audit[0].audited.errors // 0))},
            {name: "booking/s >= 1.5 x 1,048 (issue 18 figure; not the same run)", value: $book[0].median.rps, target: (1.5 * $booking_before), higher_is_better: true, errors: ($book[0].errors // 0)},
            {name: "login/s >= 0.8 x cores / argon2 time", value: $login[0].median.rps, target: $login_target, higher_is_better: true, errors: ($login[0].errors // 0)},
            {name: "(2) p99 during login flood <= 2 x (2) p99", value: $flood[0].median.p99_ms, target: (2 * $r.p99_ms), higher_is_better: false, errors: (($flood[0].errors // 0) + ($read[0].errors // 0))},
            {name: "(9) p99 at 70 % of (2), open loop <= 10 ms", value: $open[0].median.p99_ms, target: 10, higher_is_better: false, errors: ($open[0].errors // 0)},
            {name: "(2) p99, 10,000 / 1,000 patients per clinic <= 1.3", value: ($r.p99_ms / $read_small[0].median.p99_ms), target: 1.3, higher_is_better: false, errors: (($read[0].errors // 0) + ($read_small[0].errors // 0))},
            {name: "(3) p99, 10,000 / 1,000 patients per clinic <= 1.3", value: ($list[0].median.p99_ms / $list_small[0].median.p99_ms), target: 1.3, higher_is_better: false, errors: (($list[0].errors // 0) + ($list_small[0].errors // 0))},
            {name: "peak server memory <= 200 MiB", value: ($hwm / 1024), target: 200, higher_is_better: false, errors: 0}
          ] | map(. + {met: (.errors == 0 and (if .higher_is_better then .value >= .target else .value <= .target end))})
        }' >"$results.tmp"
    mv "$results.tmp" "$results"
}

print_table() {
    local f='def f(x): (x * 100 | round) / 100 | tostring;'
    echo
    jq -r "$f"'
        "machine: \(.machine.cores) cores, \(.machine.memory_mib) MiB, \(.machine.cpu), PostgreSQL \(.machine.postgresql)",
        "data: \(.dataset.clinics) clinics x \(.dataset.patients_per_clinic) patients, seeded in \(.dataset.seed_seconds | round) s; medians of \(.settings.runs) runs x \(.settings.seconds_per_run) s",
        ""' "$results"
    jq -r "$f"'
        (["measurement", "conns", "req/s", "p50_ms", "p99_ms", "errors", "rss_MiB", "cores:server/pg/other"] | @tsv),
        (.measurements | to_entries[] | select(.value != null) |
            [.key, (.value.connections | tostring), f(.value.median.rps), f(.value.median.p50_ms),
             f(.value.median.p99_ms), (.value.errors | tostring), f(.value.server_rss_mib_after),
             (.value.cores_used | "\(.server)/\(.postgres)/\(.other)")] | @tsv)' \
        "$results" | column -t -s $'\t'
    jq -r "$f"'
        "",
        "ratio (2)/(1): \(f(.ratios.read_over_health))   ratio (2)/(8): \(f(.ratios.read_over_minimal_sql))   audited/plain write: \(f(.ratios.audited_over_plain_write))",
        "argon2 verify: \(f(.dataset.argon2_verify_seconds * 1000)) ms   peak server memory (VmHWM): \(f(.peak_server_memory_mib)) MiB",
        ""' "$results"
    jq -r "$f"'.targets[] | [(if .met then "PASS" elif .errors > 0 then "MISS (\(.errors) errors)" else "MISS" end), .name, f(.value), f(.target)] | @tsv' \
        "$results" | column -t -s $'\t'
}

main() {
    ensure_tools
    ensure_oha
    log "building (release)"
    cargo build --release --bin salus
    port=$(free_port)
    provision
    server_env
    seed
    trap stop_server EXIT
    start_server

    sign_in
    measure health health "$connections"
    sign_in
    measure patient_read patient "$connections"
    sign_in
    measure patient_list patients_list "$connections"
    sign_in
    measure book book "$connections"
    sign_in
    measure login login "$login_connections"
    sign_in
    measure_read_during_login_flood
    sign_in
    measure_open_loop
    measure_growth
    sign_in
    measure_pgbench
    measure_audit_pair

    report
    stop_server
    print_table
    log "results in $results"
}

main "$@"
