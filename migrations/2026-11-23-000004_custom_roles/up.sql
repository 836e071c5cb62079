-- Custom roles (pro and business plans) and per-member permission overrides
-- (business plan). Effective permissions = built-in role ∪ custom roles ∪ grants
-- − denies, resolved with the session on every request.

CREATE TABLE custom_roles (
    clinic_id uuid NOT NULL REFERENCES clinics (id),
    id uuid NOT NULL,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
    permissions text[] NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (clinic_id, id),
    UNIQUE (clinic_id, name)
);

CREATE TABLE membership_custom_roles (
    clinic_id uuid NOT NULL,
    membership_id uuid NOT NULL,
    role_id uuid NOT NULL,
    PRIMARY KEY (clinic_id, membership_id, role_id),
    FOREIGN KEY (clinic_id, membership_id) REFERENCES memberships (clinic_id, id),
    FOREIGN KEY (clinic_id, role_id) REFERENCES custom_roles (clinic_id, id)
);

CREATE TABLE permission_overrides (
    clinic_id uuid NOT NULL,
    membership_id uuid NOT NULL,
    permission text NOT NULL,
    effect text NOT NULL CHECK (effect IN ('grant', 'deny')),
    PRIMARY KEY (clinic_id, membership_id, permission),
    FOREIGN KEY (clinic_id, membership_id) REFERENCES memberships (clinic_id, id)
);

ALTER TABLE custom_roles ENABLE ROW LEVEL SECURITY;
ALTER TABLE custom_roles FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_isolation ON custom_roles
    USING (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid)
    WITH CHECK (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid);

ALTER TABLE membership_custom_roles ENABLE ROW LEVEL SECURITY;
ALTER TABLE membership_custom_roles FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_isolation ON membership_custom_roles
    USING (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid)
    WITH CHECK (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid);

ALTER TABLE permission_overrides ENABLE ROW LEVEL SECURITY;
ALTER TABLE permission_overrides FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_isolation ON permission_overrides
    USING (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid)
    WITH CHECK (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid);
