DROP TABLE practitioner_absences, practitioner_hours;
ALTER TABLE clinics DROP COLUMN time_zone;
