-- A patient's access log lists the events about the patient (found by resource_id,
-- index events_resource) and the list reads that showed the patient (their ids in
-- details.patients). The latter were found by scanning the clinic's whole chain
-- with `details LIKE '%<id>%'`; this index finds them directly. It covers only
-- the list reads, the events that carry a `patients` detail.
CREATE INDEX events_listed_patients ON audit.events
    USING gin (((details::jsonb) -> 'patients') jsonb_path_ops)
    WHERE action IN ('patient.list_read', 'patient.list_clinical_read',
                     'appointment.list_clinical_read');
