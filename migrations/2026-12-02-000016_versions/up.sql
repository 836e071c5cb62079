-- Optimistic concurrency for every mutable resource (patients had it already): a
-- version that every change increments, sent as the ETag and checked against
-- If-Match, so a client's change never overwrites one it did not see.
ALTER TABLE clinics ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE memberships ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE custom_roles ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE clinical_notes ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE appointments ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE queue_entries ADD COLUMN version integer NOT NULL DEFAULT 1;
