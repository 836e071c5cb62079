ALTER TABLE queue_entries DROP COLUMN version;
ALTER TABLE appointments DROP COLUMN version;
ALTER TABLE clinical_notes DROP COLUMN version;
ALTER TABLE custom_roles DROP COLUMN version;
ALTER TABLE memberships DROP COLUMN version;
ALTER TABLE clinics DROP COLUMN version;
