-- Clinical notes: the body is encrypted; a signed note is immutable (refused by a
-- trigger, whoever asks) and corrections are amendments linked to the original.
-- Notes are never deleted by the API role.

CREATE TABLE clinical_notes (
    clinic_id uuid NOT NULL,
    id uuid NOT NULL,
    patient_id uuid NOT NULL,
    appointment_id uuid,
    author_membership_id uuid NOT NULL,
    amends_id uuid,
    body bytea NOT NULL,
    signed_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (clinic_id, id),
    FOREIGN KEY (clinic_id, patient_id) REFERENCES patients (clinic_id, id),
    FOREIGN KEY (clinic_id, appointment_id) REFERENCES appointments (clinic_id, id),
    FOREIGN KEY (clinic_id, author_membership_id) REFERENCES memberships (clinic_id, id),
    FOREIGN KEY (clinic_id, amends_id) REFERENCES clinical_notes (clinic_id, id)
);
CREATE INDEX clinical_notes_by_patient ON clinical_notes (clinic_id, patient_id, seq);

CREATE FUNCTION clinical_notes_signed_are_immutable() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    IF OLD.signed_at IS NOT NULL THEN
        RAISE EXCEPTION 'clinical note % is signed and cannot change', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER clinical_notes_immutable BEFORE UPDATE ON clinical_notes
    FOR EACH ROW EXECUTE FUNCTION clinical_notes_signed_are_immutable();

REVOKE DELETE ON clinical_notes FROM salus_api;

ALTER TABLE clinical_notes ENABLE ROW LEVEL SECURITY;
ALTER TABLE clinical_notes FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_isolation ON clinical_notes
    USING (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid)
    WITH CHECK (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid);
