-- Access control and isolation: invitations, and row-level security on every
-- tenant table.
--
-- Every tenant table (a table with `clinic_id NOT NULL`) has clinic_id first in its
-- primary key, references other tenant rows through composite keys, and has
-- row-level security ENABLED and FORCED (the owner is subject to it too). The policy
-- reads the transaction-local setting `app.clinic_id`; when it is missing, no row is
-- visible and nothing can be written. A few identity tables also let a person see
-- their own rows across clinics through `app.account_id` (sign-in lists an account's
-- clinics; a password change ends the account's sessions everywhere).

-- MFA challenges belong to the clinic chosen at sign-in.
ALTER TABLE mfa_challenges DROP CONSTRAINT mfa_challenges_pkey;
ALTER TABLE mfa_challenges ADD PRIMARY KEY (clinic_id, token_hash);

CREATE TABLE invitations (
    clinic_id uuid NOT NULL REFERENCES clinics (id),
    id uuid NOT NULL,
    email text NOT NULL CHECK (email = lower(email)),
    role text NOT NULL CHECK (role IN ('administrator', 'practitioner', 'nurse', 'receptionist', 'auditor')),
    token_hash bytea NOT NULL,
    invited_by uuid NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    accepted_at timestamptz,
    revoked_at timestamptz,
    PRIMARY KEY (clinic_id, id),
    UNIQUE (clinic_id, token_hash),
    FOREIGN KEY (clinic_id, invited_by) REFERENCES memberships (clinic_id, id)
);

-- clinics: the tenant root, keyed by its own id.
ALTER TABLE clinics ENABLE ROW LEVEL SECURITY;
ALTER TABLE clinics FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_isolation ON clinics
    USING (
        id = nullif(current_setting('app.clinic_id', true), '')::uuid
        OR id IN (SELECT m.clinic_id FROM memberships m
                   WHERE m.account_id = nullif(current_setting('app.account_id', true), '')::uuid)
    )
    WITH CHECK (id = nullif(current_setting('app.clinic_id', true), '')::uuid);

ALTER TABLE memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE memberships FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_isolation ON memberships
    USING (
        clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid
        OR account_id = nullif(current_setting('app.account_id', true), '')::uuid
    )
    WITH CHECK (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid);

ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_isolation ON sessions
    USING (
        clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid
        OR account_id = nullif(current_setting('app.account_id', true), '')::uuid
    )
    WITH CHECK (
        clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid
        OR account_id = nullif(current_setting('app.account_id', true), '')::uuid
    );

ALTER TABLE refresh_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE refresh_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_isolation ON refresh_tokens
    USING (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid)
    WITH CHECK (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid);

ALTER TABLE mfa_challenges ENABLE ROW LEVEL SECURITY;
ALTER TABLE mfa_challenges FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_isolation ON mfa_challenges
    USING (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid)
    WITH CHECK (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid);

ALTER TABLE invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE invitations FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_isolation ON invitations
    USING (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid)
    WITH CHECK (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid);
