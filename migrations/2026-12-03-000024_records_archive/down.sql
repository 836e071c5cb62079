DROP INDEX patients_in_records_archive;
ALTER TABLE patients DROP COLUMN records_archived_at;
ALTER TABLE clinics DROP COLUMN archive_after_years;
