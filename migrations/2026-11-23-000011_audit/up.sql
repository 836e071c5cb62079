-- The audit trail (promises L1-L6): append-only, chained per clinic, sealed by
-- signed checkpoints, purged only after the retention period.
--
-- The `audit` schema belongs to its own role, `salus_audit` (NOLOGIN; provisioning
-- creates it and makes the owner role a member so migrations, `salus audit verify`
-- and `salus audit purge` can act as it). The API role may only INSERT and SELECT
-- there; SELECT is filtered by clinic through forced row-level security. Triggers
-- refuse UPDATE, DELETE and TRUNCATE; the one way to remove events is
-- `audit.purge_through`, which deletes only a chain's prefix that is older than the
-- retention period and sealed by a checkpoint.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'salus_audit') THEN
        RAISE EXCEPTION 'role salus_audit does not exist: create it first (NOLOGIN) and grant it to the owner role, see docs/operations.md';
    END IF;
    IF NOT pg_has_role(current_user, 'salus_audit', 'MEMBER') THEN
        RAISE EXCEPTION 'the migrating role % must be a member of salus_audit: GRANT salus_audit TO %', current_user, current_user;
    END IF;
END
$$;

-- The interim table of the identity work; its events start the new chains empty.
DROP TABLE security_events;

CREATE SCHEMA audit AUTHORIZATION salus_audit;
SET LOCAL ROLE salus_audit;
REVOKE ALL ON SCHEMA audit FROM PUBLIC;

-- One row per recorded action. `chain_id` is the clinic, or for platform events
-- (no clinic: sign-ins, account changes) the account, or the nil UUID when not
-- even an account is known. `hash` = SHA-256(prev_hash || canonical encoding),
-- computed by the application (crates/domain/src/audit/chain.rs documents it).
CREATE TABLE audit.events (
    chain_id uuid NOT NULL,
    seq bigint NOT NULL CHECK (seq > 0),
    id uuid NOT NULL UNIQUE,
    clinic_id uuid,
    occurred_at timestamptz NOT NULL,
    account_id uuid,
    membership_id uuid,
    session_id uuid,
    client_ip text,
    user_agent text,
    request_id text,
    action text NOT NULL,
    resource_type text,
    resource_id uuid,
    outcome text NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
    details text NOT NULL,
    prev_hash bytea NOT NULL CHECK (length(prev_hash) = 32),
    hash bytea NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (chain_id, seq)
);
CREATE INDEX events_resource ON audit.events (clinic_id, resource_id, occurred_at)
    WHERE resource_id IS NOT NULL;
CREATE INDEX events_account_time ON audit.events (account_id, occurred_at);

-- Signed marks of a chain's head at `seq` (Ed25519 over the chain, seq, hash and
-- time); a purged prefix stays verifiable from the checkpoint that sealed it.
CREATE TABLE audit.checkpoints (
    chain_id uuid NOT NULL,
    seq bigint NOT NULL CHECK (seq > 0),
    clinic_id uuid,
    hash bytea NOT NULL CHECK (length(hash) = 32),
    sealed_at timestamptz NOT NULL,
    key_id text NOT NULL,
    signature bytea NOT NULL,
    PRIMARY KEY (chain_id, seq)
);

-- Clinic isolation: a clinic sees its own events; platform events (no clinic) are
-- visible to platform and account work; the audit role itself sees everything.
ALTER TABLE audit.events ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit.events FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_isolation ON audit.events
    USING (
        current_user = 'salus_audit'
        OR clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid
        OR clinic_id IS NULL
    )
    WITH CHECK (
        clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid
        OR clinic_id IS NULL
    );
ALTER TABLE audit.checkpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit.checkpoints FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_isolation ON audit.checkpoints
    USING (
        current_user = 'salus_audit'
        OR clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid
        OR clinic_id IS NULL
    )
    WITH CHECK (
        current_user = 'salus_audit'
        OR clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid
        OR clinic_id IS NULL
    );

-- Append-only: UPDATE is always refused; DELETE only inside audit.purge_through;
-- TRUNCATE always.
CREATE FUNCTION audit.refuse_change() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_user = 'salus_audit'
       AND current_setting('salus.audit_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit.% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON audit.events
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON audit.checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER no_truncate BEFORE TRUNCATE ON audit.events
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER no_truncate BEFORE TRUNCATE ON audit.checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

-- Removes a chain's events up to `through_seq`, only when that prefix is entirely
-- older than twelve months (by the database's clock) and a checkpoint at
-- `through_seq` holds the hash of the last removed event. Returns the count removed.
CREATE FUNCTION audit.purge_through(chain uuid, through_seq bigint) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
    last_hash bytea;
    newest timestamptz;
    removed bigint;
BEGIN
    SELECT e.hash INTO last_hash FROM audit.events e
     WHERE e.chain_id = chain AND e.seq = through_seq;
    IF last_hash IS NULL THEN
        RETURN 0;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM audit.checkpoints c
                    WHERE c.chain_id = chain AND c.seq = through_seq AND c.hash = last_hash) THEN
        RAISE EXCEPTION 'no checkpoint seals event % of chain %', through_seq, chain;
    END IF;
    SELECT max(e.occurred_at) INTO newest FROM audit.events e
     WHERE e.chain_id = chain AND e.seq <= through_seq;
    IF newest >= now() - interval '12 months' THEN
        RAISE EXCEPTION 'events of chain % up to % are within the retention period', chain, through_seq;
    END IF;
    PERFORM set_config('salus.audit_purge', 'on', true);
    DELETE FROM audit.events e WHERE e.chain_id = chain AND e.seq <= through_seq;
    GET DIAGNOSTICS removed = ROW_COUNT;
    PERFORM set_config('salus.audit_purge', 'off', true);
    RETURN removed;
END
$$;
REVOKE ALL ON FUNCTION audit.purge_through(uuid, bigint) FROM PUBLIC;

GRANT USAGE ON SCHEMA audit TO salus_api;
GRANT SELECT, INSERT ON audit.events, audit.checkpoints TO salus_api;
GRANT EXECUTE ON FUNCTION audit.purge_through(uuid, bigint) TO salus_api;
RESET ROLE;

-- Each chain's head: taken with a row lock on every append, so appends to one
-- chain are serial while different clinics append in parallel. `verify` compares
-- it with the last event (a deleted tail shows) but never trusts it otherwise.
-- `next_maintenance_at` is the lease the retention job claims with SKIP LOCKED.
CREATE TABLE audit_chain_heads (
    chain_id uuid PRIMARY KEY,
    clinic_id uuid,
    seq bigint NOT NULL,
    hash bytea NOT NULL,
    checkpointed_seq bigint NOT NULL DEFAULT 0,
    next_maintenance_at timestamptz NOT NULL
) WITH (fillfactor = 50); -- room for HOT updates: every append rewrites its head
REVOKE DELETE, TRUNCATE ON audit_chain_heads FROM salus_api;
GRANT USAGE ON SCHEMA public TO salus_audit;
GRANT SELECT, UPDATE ON audit_chain_heads TO salus_audit;
ALTER TABLE audit_chain_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_chain_heads FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_isolation ON audit_chain_heads
    USING (
        clinic_id IS NULL
        OR clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid
        OR nullif(current_setting('app.clinic_id', true), '') IS NULL
    )
    WITH CHECK (
        clinic_id IS NULL
        OR clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid
        OR nullif(current_setting('app.clinic_id', true), '') IS NULL
    );
CREATE INDEX audit_chain_heads_due ON audit_chain_heads (next_maintenance_at);
