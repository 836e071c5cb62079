-- The waiting queue: a ticket number per clinic per day, entries called in order,
-- each claimed with FOR UPDATE SKIP LOCKED so two receptionists never call the
-- same patient.

CREATE TABLE queue_tickets (
    clinic_id uuid NOT NULL REFERENCES clinics (id),
    day date NOT NULL,
    last_ticket integer NOT NULL,
    PRIMARY KEY (clinic_id, day)
);

CREATE TABLE queue_entries (
    clinic_id uuid NOT NULL,
    id uuid NOT NULL,
    day date NOT NULL,
    ticket integer NOT NULL,
    patient_id uuid NOT NULL,
    appointment_id uuid,
    practitioner_id uuid,
    status text NOT NULL CHECK (status IN ('waiting', 'called', 'in_progress', 'completed', 'left')),
    checked_in_at timestamptz NOT NULL,
    called_at timestamptz,
    started_at timestamptz,
    finished_at timestamptz,
    PRIMARY KEY (clinic_id, id),
    UNIQUE (clinic_id, day, ticket),
    FOREIGN KEY (clinic_id, patient_id) REFERENCES patients (clinic_id, id),
    FOREIGN KEY (clinic_id, appointment_id) REFERENCES appointments (clinic_id, id),
    FOREIGN KEY (clinic_id, practitioner_id) REFERENCES practitioners (clinic_id, membership_id)
);
CREATE INDEX queue_waiting ON queue_entries (clinic_id, day, status, ticket);

ALTER TABLE queue_tickets ENABLE ROW LEVEL SECURITY;
ALTER TABLE queue_tickets FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_isolation ON queue_tickets
    USING (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid)
    WITH CHECK (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid);

ALTER TABLE queue_entries ENABLE ROW LEVEL SECURITY;
ALTER TABLE queue_entries FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_isolation ON queue_entries
    USING (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid)
    WITH CHECK (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid);
