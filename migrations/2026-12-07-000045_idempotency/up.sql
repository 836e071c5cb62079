-- Idempotent writes (issue 19): a POST sent with an `Idempotency-Key` is
-- claimed here by one unique insert per clinic, caller and key; concurrent
-- copies find the row in flight, and a retry finds the first answer, which is
-- replayed for 24 hours from the first request. Rows are purged once expired.
CREATE TABLE idempotent_requests (
    clinic_id uuid NOT NULL REFERENCES clinics (id),
    -- the claim's token, and the row the sealed answer is bound to
    id uuid NOT NULL,
    -- who sent it: the membership today, a service account's own id later
    -- (no foreign key, so any kind of caller fits)
    caller_id uuid NOT NULL,
    -- the SHA-256 of the client's key: the key itself is not kept
    key_sha256 text NOT NULL CHECK (key_sha256 ~ '^[0-9a-f]{64}$'),
    -- HMAC-SHA-256, under the clinic's index key, of the request's method,
    -- path, If-Match and body digest: the same key with another request is refused
    fingerprint text NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{64}$'),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL CHECK (expires_at > created_at),
    -- in flight until then unless answered (a dead node's claim lapses)
    locked_until timestamptz,
    answered_at timestamptz,
    response_status smallint CHECK (response_status BETWEEN 200 AND 299),
    -- the headers replayed with the answer (Location, ETag, Content-Type)
    response_headers jsonb CHECK (jsonb_typeof(response_headers) = 'array'),
    -- the answer's body, sealed under the clinic's data key (it may hold a
    -- patient's record): AES-256-GCM bound to clinic, table, column and row
    response_body bytea,
    -- the patient the answer names, when it names one: a patient's erasure
    -- (`salus_erase_patient` walks every table with a `patient_id`) takes the
    -- kept answer with the patient's other rows
    patient_id uuid,
    PRIMARY KEY (clinic_id, id),
    UNIQUE (clinic_id, caller_id, key_sha256),
    -- in flight, or answered with everything an answer needs
    CHECK (
        (locked_until IS NOT NULL AND answered_at IS NULL AND response_status IS NULL
            AND response_headers IS NULL AND response_body IS NULL)
        OR (locked_until IS NULL AND answered_at IS NOT NULL AND response_status IS NOT NULL
            AND response_headers IS NOT NULL AND response_body IS NOT NULL)
    )
);
CREATE INDEX idempotent_requests_expiry ON idempotent_requests (clinic_id, expires_at);
ALTER TABLE idempotent_requests ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotent_requests FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_isolation ON idempotent_requests
    USING (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid)
    WITH CHECK (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid);
