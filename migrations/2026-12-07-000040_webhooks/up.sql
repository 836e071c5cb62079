-- Webhooks (issue 19): a clinic's endpoints, each subscribed to event types,
-- and one delivery per event and subscribed endpoint. Deliveries are the
-- webhooks' outbox: written in the transaction of the change that causes the
-- event (so an event is sent if and only if its change committed), sent and
-- retried by the delivery worker of every node.

-- An endpoint. Its signing secret (Standard Webhooks `whsec_...`) is sealed
-- with the clinic's data key, bound to this row and column, because the
-- server must sign with it; during a rotation the previous secret stays valid
-- (sealed as well) until `previous_secret_expires_at`. `failing_since` is the
-- first failed attempt since the last success: an endpoint that has failed
-- for as long as an event is retried is disabled (`disabled_reason` 'failing'),
-- and so is one that answers 410 Gone ('gone').
CREATE TABLE webhook_endpoints (
    clinic_id uuid NOT NULL REFERENCES clinics (id),
    id uuid NOT NULL,
    url text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    description text NOT NULL CHECK (length(description) <= 200),
    event_types text[] NOT NULL CHECK (cardinality(event_types) >= 1),
    enabled boolean NOT NULL,
    disabled_at timestamptz,
    disabled_reason text CHECK (disabled_reason IN ('member', 'failing', 'gone')),
    sealed_secret bytea NOT NULL,
    sealed_previous_secret bytea,
    previous_secret_expires_at timestamptz,
    failing_since timestamptz,
    version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (clinic_id, id),
    CHECK (enabled = (disabled_at IS NULL)),
    CHECK ((disabled_at IS NULL) = (disabled_reason IS NULL)),
    CHECK ((sealed_previous_secret IS NULL) = (previous_secret_expires_at IS NULL))
);
ALTER TABLE webhook_endpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_endpoints FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_isolation ON webhook_endpoints
    USING (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid)
    WITH CHECK (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid);

-- One event for one endpoint. `event_id` is the `webhook-id` the receiver sees
-- (the same on every attempt and for every endpoint). `payload` is the exact
-- body signed and sent: ids and the minimum, never health data. `seq` orders
-- the events of one resource (`resource_id`): a delivery waits while an
-- earlier one of the same resource to the same endpoint is pending. A
-- delivery names its patient (`patient_id`), so a patient's erasure removes
-- the deliveries about them that are still waiting.
--
-- The worker claims due deliveries across clinics in the platform scope (no
-- clinic set), as the closure job finds due closures; a clinic sees only its
-- own. The endpoints, their URLs and secrets, stay visible to the clinic only.
CREATE TABLE webhook_deliveries (
    clinic_id uuid NOT NULL,
    endpoint_id uuid NOT NULL,
    event_id uuid NOT NULL,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    event_type text NOT NULL,
    resource_id uuid NOT NULL,
    patient_id uuid,
    payload text NOT NULL,
    created_at timestamptz NOT NULL,
    state text NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL,
    give_up_at timestamptz NOT NULL,
    last_attempt_at timestamptz,
    last_status integer,
    last_error text CHECK (length(last_error) <= 500),
    delivered_at timestamptz,
    PRIMARY KEY (clinic_id, endpoint_id, event_id),
    FOREIGN KEY (clinic_id, endpoint_id) REFERENCES webhook_endpoints (clinic_id, id),
    CHECK ((state = 'delivered') = (delivered_at IS NOT NULL))
);
-- What the worker claims, oldest due first.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE state = 'pending';
-- The earlier pending deliveries of one resource to one endpoint.
CREATE INDEX webhook_deliveries_resource ON webhook_deliveries (clinic_id, endpoint_id, resource_id, seq)
    WHERE state = 'pending';
-- An endpoint's delivery log, newest first.
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (clinic_id, endpoint_id, seq);
-- Settled deliveries past the log's retention.
CREATE INDEX webhook_deliveries_settled ON webhook_deliveries (created_at)
    WHERE state <> 'pending';
ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_deliveries FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_isolation ON webhook_deliveries
    USING (
        clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid
        OR nullif(current_setting('app.clinic_id', true), '') IS NULL
    )
    WITH CHECK (
        clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid
        OR nullif(current_setting('app.clinic_id', true), '') IS NULL
    );
