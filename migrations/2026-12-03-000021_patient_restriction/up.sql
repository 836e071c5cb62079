-- Restriction of processing and objection (GDPR articles 18 and 21): while set, the
-- patient's record serves care only. No reminder is queued for them and setting it
-- withdraws the pending ones (crates/domain/src/rights/restriction.rs). NULL: not
-- restricted; otherwise when it was set.
ALTER TABLE patients ADD COLUMN processing_restricted_at timestamptz;
