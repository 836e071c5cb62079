ALTER TABLE clinics DROP COLUMN purpose_of_use_required;
