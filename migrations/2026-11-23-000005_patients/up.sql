-- Clinical core, part one: per-clinic keys and patients.
--
-- Each clinic has a data key (AES-256-GCM, for health data) and an index key
-- (HMAC-SHA-256 blind index for exact search on the national id), both stored
-- wrapped by a master key from the secret store. Destroying a clinic's row here
-- makes all of its encrypted data unreadable (crypto-shredding).

CREATE TABLE clinic_keys (
    clinic_id uuid NOT NULL PRIMARY KEY REFERENCES clinics (id),
    wrapped_data_key bytea NOT NULL,
    wrapped_index_key bytea NOT NULL,
    created_at timestamptz NOT NULL,
    rewrapped_at timestamptz
);

CREATE TABLE patients (
    clinic_id uuid NOT NULL REFERENCES clinics (id),
    id uuid NOT NULL,
    family_name text NOT NULL,
    given_name text NOT NULL,
    birth_date date NOT NULL,
    sex text NOT NULL CHECK (sex IN ('female', 'male', 'other', 'unknown')),
    -- encrypted (envelope bound to clinic, table, column and row)
    national_id bytea,
    -- HMAC-SHA-256 of the normalised national id under the clinic's index key
    national_id_index bytea,
    phone text,
    email text,
    address jsonb,
    emergency_contact jsonb,
    preferred_language text,
    reminder_email boolean NOT NULL DEFAULT false,
    reminder_sms boolean NOT NULL DEFAULT false,
    -- encrypted JSON: allergies, conditions, medications, notes
    medical_history bytea,
    archived_at timestamptz,
    version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (clinic_id, id)
);
CREATE INDEX patients_by_name ON patients (clinic_id, lower(family_name) text_pattern_ops, lower(given_name), id);
CREATE INDEX patients_by_birth_date ON patients (clinic_id, birth_date);
CREATE INDEX patients_by_phone ON patients (clinic_id, phone);
CREATE INDEX patients_by_national_id ON patients (clinic_id, national_id_index);

ALTER TABLE clinic_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE clinic_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_isolation ON clinic_keys
    USING (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid)
    WITH CHECK (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid);

ALTER TABLE patients ENABLE ROW LEVEL SECURITY;
ALTER TABLE patients FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_isolation ON patients
    USING (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid)
    WITH CHECK (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid);
