DROP TABLE audit_chain_heads;
DROP SCHEMA audit CASCADE;
CREATE TABLE security_events (
    id uuid PRIMARY KEY,
    clinic_id uuid,
    account_id uuid,
    kind text NOT NULL,
    occurred_at timestamptz NOT NULL,
    ip text
);
