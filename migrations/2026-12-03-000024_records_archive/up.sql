-- The records archive (issue 15): patients without an encounter for the clinic's
-- `archive_after_years` (5 by default) are moved there by the archive job; they
-- leave lists and search, and their record opens only by break-the-glass
-- (`patients.archive_read`, with a stated reason, audited, owners emailed).
-- Separate from `archived_at`, the desk's reversible archiving (see
-- docs/architecture.md).
ALTER TABLE clinics ADD COLUMN archive_after_years integer NOT NULL DEFAULT 5
    CHECK (archive_after_years BETWEEN 1 AND 50);
ALTER TABLE patients ADD COLUMN records_archived_at timestamptz;
CREATE INDEX patients_in_records_archive ON patients (clinic_id)
    WHERE records_archived_at IS NULL;
