-- Security alerts: raised by detectors that read each audit chain's new events
-- (brute force, refresh-token reuse, unusual volumes of clinical reads or exports,
-- probing for ids), stored for the clinic, and sent to its administrators
-- (email) and to the platform (the `webhook` outbox channel).

-- How far the detectors have read each chain; a chain with unread events is
-- claimed with FOR UPDATE SKIP LOCKED by one node at a time. (No index on it: the
-- table has a row per chain, and an index over `seq` would stop every append's
-- head update from being a HOT update.)
ALTER TABLE audit_chain_heads ADD COLUMN detected_seq bigint NOT NULL DEFAULT 0;

ALTER TABLE outbox DROP CONSTRAINT outbox_channel_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_channel_check
    CHECK (channel IN ('email', 'sms', 'webhook'));

CREATE TABLE security_alerts (
    id uuid PRIMARY KEY,
    clinic_id uuid,
    kind text NOT NULL,
    subject text NOT NULL,
    -- One alert per kind, subject and detection window.
    dedup_key text NOT NULL UNIQUE,
    event_count integer NOT NULL,
    triggered_at timestamptz NOT NULL,
    raised_at timestamptz NOT NULL,
    details text NOT NULL
);
CREATE INDEX security_alerts_clinic ON security_alerts (clinic_id, raised_at DESC, id);
REVOKE UPDATE, DELETE, TRUNCATE ON security_alerts FROM salus_api;

ALTER TABLE security_alerts ENABLE ROW LEVEL SECURITY;
ALTER TABLE security_alerts FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_isolation ON security_alerts
    USING (
        clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid
        OR clinic_id IS NULL
    )
    WITH CHECK (
        clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid
        OR clinic_id IS NULL
    );
