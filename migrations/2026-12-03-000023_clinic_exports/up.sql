-- Clinic exports (promise D3, portability): the request of each export; the
-- archive itself is never stored (it is built while it is downloaded). A
-- passphrase Salus generated is kept sealed with the clinic's data key until
-- the export expires, then forgotten (the closure job does it, in the platform
-- scope, which this table's policy opens like the closures').
CREATE TABLE clinic_exports (
    clinic_id uuid NOT NULL REFERENCES clinics (id),
    id uuid NOT NULL,
    requested_by uuid NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL CHECK (expires_at > created_at),
    recipient text,
    sealed_passphrase bytea,
    downloads integer NOT NULL DEFAULT 0,
    last_manifest_sha256 text,
    PRIMARY KEY (clinic_id, id),
    CHECK (recipient IS NULL OR sealed_passphrase IS NULL)
);
CREATE INDEX clinic_exports_expiry ON clinic_exports (expires_at)
    WHERE recipient IS NOT NULL OR sealed_passphrase IS NOT NULL;
ALTER TABLE clinic_exports ENABLE ROW LEVEL SECURITY;
ALTER TABLE clinic_exports FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_isolation ON clinic_exports
    USING (
        clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid
        OR nullif(current_setting('app.clinic_id', true), '') IS NULL
    )
    WITH CHECK (
        clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid
        OR nullif(current_setting('app.clinic_id', true), '') IS NULL
    );
