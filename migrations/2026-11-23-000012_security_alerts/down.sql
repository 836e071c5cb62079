DROP TABLE security_alerts;
DELETE FROM outbox WHERE channel = 'webhook';
ALTER TABLE outbox DROP CONSTRAINT outbox_channel_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_channel_check CHECK (channel IN ('email', 'sms'));
ALTER TABLE audit_chain_heads DROP COLUMN detected_seq;
