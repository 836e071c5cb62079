DROP INDEX audit.events_listed_patients;
