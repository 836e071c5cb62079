-- Service accounts (issue 19): a clinic's machine callers (booking sites, lab
-- systems, practice tools), each with a name, a set of permissions (a subset
-- of its creator's, from the grantable list), an end (90 days by default, a
-- year at most) and optionally the networks it may call from. It acts through
-- API keys (`salus_sk_...`), of which only the SHA-256 is kept.
--
-- The expiry-notice job finds accounts about to end across clinics in the
-- platform scope (no clinic set), as the closure job finds due closures; the
-- keys and their hashes stay visible to their clinic only.
CREATE TABLE service_accounts (
    clinic_id uuid NOT NULL REFERENCES clinics (id),
    id uuid NOT NULL,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    permissions text[] NOT NULL,
    -- CIDR blocks the account may call from; empty: any address
    allowed_networks cidr[] NOT NULL DEFAULT '{}',
    -- the membership that created it (no foreign key: the record outlives a
    -- member's removal)
    created_by uuid NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL CHECK (expires_at > created_at),
    revoked_at timestamptz,
    -- when the clinic's managers were told of the coming expiry
    expiry_notified_at timestamptz,
    PRIMARY KEY (clinic_id, id)
);
CREATE INDEX service_accounts_expiry ON service_accounts (expires_at)
    WHERE revoked_at IS NULL AND expiry_notified_at IS NULL;
ALTER TABLE service_accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE service_accounts FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_isolation ON service_accounts
    USING (
        clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid
        OR nullif(current_setting('app.clinic_id', true), '') IS NULL
    )
    WITH CHECK (
        clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid
        OR nullif(current_setting('app.clinic_id', true), '') IS NULL
    );

-- An API key of a service account. The secret part is shown once; the
-- SHA-256 of the whole key is kept (a 256-bit random secret needs no slow
-- hash). A rotation ends the previous keys at the end of an overlap; a
-- revocation ends a key at once. The last use (time and address) is written at
-- most once a minute.
CREATE TABLE service_account_keys (
    clinic_id uuid NOT NULL,
    id uuid NOT NULL,
    service_account_id uuid NOT NULL,
    secret_sha256 bytea NOT NULL CHECK (length(secret_sha256) = 32),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL CHECK (expires_at >= created_at),
    revoked_at timestamptz,
    last_used_at timestamptz,
    last_used_ip text CHECK (length(last_used_ip) <= 64),
    PRIMARY KEY (clinic_id, id),
    FOREIGN KEY (clinic_id, service_account_id) REFERENCES service_accounts (clinic_id, id)
);
CREATE INDEX service_account_keys_of_account ON service_account_keys (clinic_id, service_account_id);
ALTER TABLE service_account_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE service_account_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_isolation ON service_account_keys
    USING (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid)
    WITH CHECK (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid);
