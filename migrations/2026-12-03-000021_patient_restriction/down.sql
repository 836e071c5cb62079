ALTER TABLE patients DROP COLUMN processing_restricted_at;
