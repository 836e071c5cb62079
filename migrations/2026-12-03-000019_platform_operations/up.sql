-- Operator actions are platform events with neither clinic nor account
-- (`salus backup`, key rotation, plan changes). The backup watch of the audit job
-- and `/metrics` read the latest `backup.taken` and `backup.verified` of them on
-- every round and scrape; this index finds them without scanning the other
-- account-less events (failed sign-ins of unknown addresses can be many).
CREATE INDEX events_platform_operations ON audit.events (action, occurred_at)
    WHERE clinic_id IS NULL AND account_id IS NULL;
