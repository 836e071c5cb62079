-- Clinical core, part two: practitioners and appointments. Double booking is
-- refused by the database itself: an exclusion constraint on the practitioner and
-- the time range of every active appointment.

CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE practitioners (
    clinic_id uuid NOT NULL,
    membership_id uuid NOT NULL,
    specialty text NOT NULL CHECK (length(specialty) BETWEEN 1 AND 100),
    created_at timestamptz NOT NULL,
    PRIMARY KEY (clinic_id, membership_id),
    FOREIGN KEY (clinic_id, membership_id) REFERENCES memberships (clinic_id, id)
);

CREATE TABLE appointments (
    clinic_id uuid NOT NULL,
    id uuid NOT NULL,
    patient_id uuid NOT NULL,
    practitioner_id uuid NOT NULL,
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL,
    -- encrypted (envelope bound to clinic, table, column and row)
    reason bytea,
    status text NOT NULL CHECK (status IN ('scheduled', 'confirmed', 'checked_in', 'in_progress', 'completed', 'cancelled', 'no_show')),
    cancel_reason text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (clinic_id, id),
    FOREIGN KEY (clinic_id, patient_id) REFERENCES patients (clinic_id, id),
    FOREIGN KEY (clinic_id, practitioner_id) REFERENCES practitioners (clinic_id, membership_id),
    CHECK (ends_at > starts_at),
    CONSTRAINT appointments_no_double_booking EXCLUDE USING gist (
        clinic_id WITH =,
        practitioner_id WITH =,
        tstzrange(starts_at, ends_at) WITH &&
    ) WHERE (status NOT IN ('cancelled', 'no_show'))
);
CREATE INDEX appointments_by_time ON appointments (clinic_id, starts_at, id);
CREATE INDEX appointments_by_patient ON appointments (clinic_id, patient_id, starts_at);

-- Every change of an appointment: who, when, what changed from what to what.
CREATE TABLE appointment_history (
    clinic_id uuid NOT NULL,
    id uuid NOT NULL,
    appointment_id uuid NOT NULL,
    at timestamptz NOT NULL,
    actor_membership_id uuid NOT NULL,
    change jsonb NOT NULL,
    -- total order of changes made within the same instant
    seq bigint GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (clinic_id, id),
    FOREIGN KEY (clinic_id, appointment_id) REFERENCES appointments (clinic_id, id)
);
CREATE INDEX appointment_history_by_appointment ON appointment_history (clinic_id, appointment_id, seq);

ALTER TABLE practitioners ENABLE ROW LEVEL SECURITY;
ALTER TABLE practitioners FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_isolation ON practitioners
    USING (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid)
    WITH CHECK (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid);

ALTER TABLE appointments ENABLE ROW LEVEL SECURITY;
ALTER TABLE appointments FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_isolation ON appointments
    USING (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid)
    WITH CHECK (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid);

ALTER TABLE appointment_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE appointment_history FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_isolation ON appointment_history
    USING (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid)
    WITH CHECK (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid);
