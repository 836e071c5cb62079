-- Working hours and absences of practitioners, in the clinic's time zone.

ALTER TABLE clinics ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC';

CREATE TABLE practitioner_hours (
    clinic_id uuid NOT NULL,
    membership_id uuid NOT NULL,
    -- ISO weekday: 1 = Monday ... 7 = Sunday
    weekday smallint NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    starts time NOT NULL,
    ends time NOT NULL CHECK (ends > starts),
    PRIMARY KEY (clinic_id, membership_id, weekday, starts),
    FOREIGN KEY (clinic_id, membership_id) REFERENCES practitioners (clinic_id, membership_id)
);

CREATE TABLE practitioner_absences (
    clinic_id uuid NOT NULL,
    id uuid NOT NULL,
    membership_id uuid NOT NULL,
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL CHECK (ends_at > starts_at),
    PRIMARY KEY (clinic_id, id),
    FOREIGN KEY (clinic_id, membership_id) REFERENCES practitioners (clinic_id, membership_id)
);

ALTER TABLE practitioner_hours ENABLE ROW LEVEL SECURITY;
ALTER TABLE practitioner_hours FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_isolation ON practitioner_hours
    USING (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid)
    WITH CHECK (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid);

ALTER TABLE practitioner_absences ENABLE ROW LEVEL SECURITY;
ALTER TABLE practitioner_absences FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_isolation ON practitioner_absences
    USING (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid)
    WITH CHECK (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid);
