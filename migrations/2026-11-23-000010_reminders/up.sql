-- Appointment reminders: queued in the outbox for patients who consented on a
-- channel, at a per-clinic offset before the appointment; rescheduling moves them,
-- cancelling withdraws them. They carry only the date, time and clinic name.

ALTER TABLE clinics ADD COLUMN reminder_offset_hours integer NOT NULL DEFAULT 24
    CHECK (reminder_offset_hours BETWEEN 1 AND 168);

CREATE TABLE appointment_reminders (
    clinic_id uuid NOT NULL,
    appointment_id uuid NOT NULL,
    channel text NOT NULL CHECK (channel IN ('email', 'sms')),
    outbox_id uuid NOT NULL REFERENCES outbox (id),
    scheduled_for timestamptz NOT NULL,
    PRIMARY KEY (clinic_id, appointment_id, channel),
    FOREIGN KEY (clinic_id, appointment_id) REFERENCES appointments (clinic_id, id)
);

ALTER TABLE appointment_reminders ENABLE ROW LEVEL SECURITY;
ALTER TABLE appointment_reminders FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_isolation ON appointment_reminders
    USING (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid)
    WITH CHECK (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid);
