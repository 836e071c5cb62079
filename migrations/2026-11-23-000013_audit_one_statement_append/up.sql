-- The audit append became one statement (crates/persistence/src/audit_append.rs):
-- it moves the chain's head and inserts the event after it in a single round trip.
-- PostgreSQL's RETURNING shows only the head's new values, so the head also keeps
-- the hash before it, which the event stores as its prev_hash. Each append sets it
-- and reads it back in the same statement; nothing else reads it.
ALTER TABLE audit_chain_heads ADD COLUMN prev_hash bytea;
