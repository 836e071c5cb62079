#!/usr/bin/env bash
# Run once by the postgres image on an empty volume: creates the owner and API roles
# and the database, with passwords from the secret files.
set -euo pipefail
owner_password=$(cat /run/secrets/salus_owner_password)
api_password=$(cat /run/secrets/salus_api_password)
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" <<SQL
CREATE ROLE salus_owner LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB PASSWORD '$owner_password';
CREATE ROLE salus_api LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOBYPASSRLS PASSWORD '$api_password';
CREATE DATABASE salus OWNER salus_owner;
SQL
