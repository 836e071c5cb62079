# Salus. `make run` serves a development instance; `make test` runs every test.
# Both provision PostgreSQL first (scripts/provision-db.sh).
SHELL := /bin/bash
CARGO ?= cargo
DB_ENV := set -a && . .local/db.env && set +a

.PHONY: run test lint openapi clients contract-tools backup-tools backup-drill backup-drill-stop supply-chain supply-chain-tools provision-db build bench clean-db fuzz mutants

provision-db:
	@bash scripts/provision-db.sh

build:
	$(CARGO) build --bin salus

## Serve a development instance on 127.0.0.1:8080: migrated, seeded with synthetic
## demo clinics (logins printed and kept in .local/demo-logins.txt), plain HTTP.
## Demo clinics already in the database are reused; `make run SEED_ARGS=--reset`
## re-creates them with new logins (for instance after another checkout made them).
SEED_ARGS ?=
run: provision-db build
	@$(DB_ENV) && ./target/debug/salus migrate \
		&& APP_ENV=development ./target/debug/salus seed-dev $(SEED_ARGS) \
		&& APP_ENV=development ./target/debug/salus serve

## Run the whole test suite against real PostgreSQL (with the contract tools, for
## tests/clients, and pgBackRest, for tests/api/backup.rs).
test: provision-db contract-tools backup-tools supply-chain
	@$(DB_ENV) && $(CARGO) test --workspace --all-targets --no-fail-fast

## Formatting and clippy, warnings denied.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## Regenerate the committed OpenAPI document from the code.
openapi:
	$(CARGO) run -q --bin salus -- openapi > openapi/openapi.json

## Regenerate the committed TypeScript client types from the contract
## (clients/typescript/schema.d.ts; the tests fail when they drift from it).
clients: contract-tools
	tools/contract/node_modules/.bin/openapi-typescript openapi/openapi.json -o clients/typescript/schema.d.ts

## Install the pinned tools that check the contract with real clients (tools/contract:
## Node packages, a Python venv under .local, Debian's chromium). Fast when installed.
contract-tools:
	@bash scripts/install-contract-tools.sh

## Install the pinned backup tool (Debian's pgbackrest 2.45-1) that `salus backup`
## runs and tests/api/backup.rs exercises. Fast when installed.
backup-tools:
	@bash scripts/install-backup-tools.sh

## A full backup and its restore drill, report printed, on a private archiving
## cluster (.local/backup-drill, port 55433) seeded with the demo clinics, or with
## DRILL_PATIENTS=10000 (x DRILL_CLINICS=100) the bench's 1,000,000 patients.
## See docs/operations.md, "Restore drill".
backup-drill: backup-tools build
	@bash scripts/backup-drill.sh

## Stop the drill's private cluster (its data and repository stay).
backup-drill-stop:
	@d=.local/backup-drill/pgdata; [ -s $$d/PG_VERSION ] || exit 0; \
	b=$$(dirname "$$(ls -d /usr/lib/postgresql/*/bin/pg_ctl | sort -V | tail -n 1)"); \
	if [ "$$(id -u)" -eq 0 ]; then runuser -u postgres -- $$b/pg_ctl -D $$d stop; else $$b/pg_ctl -D $$d stop; fi

## Supply chain: cargo-deny (advisories from the offline RustSec snapshot, licences,
## bans, sources) and a secret scan of the tree and the whole git history against
## the reviewed baseline. Fails on any finding; `make test` runs it first.
supply-chain: supply-chain-tools
	@bash scripts/supply-chain.sh

## Install the pinned supply-chain tools (cargo-deny, detect-secrets) under .local.
supply-chain-tools:
	@bash scripts/install-supply-chain-tools.sh

## Fuzz the parsers of untrusted input (cursor, bearer token, If-Match, the JSON
## text policy, second-factor and password input) with cargo-fuzz, FUZZ_SECONDS
## (30) per target; fails on a crash. Installs cargo-fuzz (pinned) and uses nightly.
fuzz:
	@bash scripts/fuzz.sh

## Mutation testing (cargo-mutants, pinned, installed under .local/tools) of the
## security-critical modules, each group with the tests that guard it; results in
## .local/mutants/<group>, the last run in docs/security.md. Hours: not in CI.
## `make mutants MUTANT_GROUPS="access crypto"` runs some groups only.
MUTANT_GROUPS ?=
mutants:
	@bash scripts/mutants.sh $(MUTANT_GROUPS)

## Load-test a release build against a scratch database of 100 clinics x 10,000
## patients and write bench/results/latest.json (BENCH_QUICK=1: a smoke run).
## See docs/performance.md.
bench:
	@bash scripts/bench.sh

## Drop leftover per-test databases (tests drop their own; a crash can leave some).
clean-db: provision-db
	@$(DB_ENV) && psql "$$SALUS_ADMIN_URL" -XAtqc "SELECT format('DROP DATABASE %I WITH (FORCE);', datname) FROM pg_database WHERE datname LIKE 'salus\_test\_%'" | psql "$$SALUS_ADMIN_URL" -Xq
