DROP FUNCTION public.salus_erase_patient(uuid, uuid);
DROP TABLE patient_tombstones;
DROP TABLE patient_erasure_requests;
ALTER TABLE clinics DROP COLUMN record_retention_years;
