DROP FUNCTION public.salus_platform_incident_contacts(uuid);
DROP TABLE incident_evidence;
DROP TABLE incident_entries;
DROP TABLE incident_clinics;
DROP TABLE incidents;
