-- Erasure where the law allows (GDPR article 17, promise D4): a patient's request,
-- the clinic's decision, and one function that deletes every row of the patient in
-- every table that names them, found in the catalogue like `salus_destroy_clinic`
-- finds a clinic's.

-- How long the clinic keeps a medical record after the patient's last encounter
-- (their last appointment or note). 20 years is the default of the French Code de
-- la santé publique (art. R1112-7); each clinic sets its jurisdiction's period.
ALTER TABLE clinics ADD COLUMN record_retention_years integer NOT NULL DEFAULT 20
    CHECK (record_retention_years BETWEEN 1 AND 100);

-- A patient's erasure request and the clinic's decision. The reasons are free text
-- the requester and the decider wrote: they go with the patient when the erasure
-- is executed (this table has a `patient_id`), and only the tombstone stays.
CREATE TABLE patient_erasure_requests (
    clinic_id uuid NOT NULL REFERENCES clinics (id),
    id uuid NOT NULL,
    patient_id uuid NOT NULL,
    requested_by uuid NOT NULL,
    requested_at timestamptz NOT NULL,
    reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    decision text CHECK (decision IN ('refuse', 'erase')),
    decided_by uuid,
    decided_at timestamptz,
    decision_reason text CHECK (length(decision_reason) BETWEEN 1 AND 500),
    PRIMARY KEY (clinic_id, id),
    FOREIGN KEY (clinic_id, patient_id) REFERENCES patients (clinic_id, id),
    FOREIGN KEY (clinic_id, requested_by) REFERENCES memberships (clinic_id, id),
    FOREIGN KEY (clinic_id, decided_by) REFERENCES memberships (clinic_id, id),
    CHECK ((decision IS NULL) = (decided_at IS NULL)),
    CHECK ((decision IS NULL) = (decided_by IS NULL)),
    CHECK ((decision IS NULL) = (decision_reason IS NULL))
);
-- At most one request waits for a decision per patient.
CREATE UNIQUE INDEX patient_erasure_requests_open
    ON patient_erasure_requests (clinic_id, patient_id) WHERE decision IS NULL;
CREATE INDEX patient_erasure_requests_by_patient
    ON patient_erasure_requests (clinic_id, patient_id, requested_at);
ALTER TABLE patient_erasure_requests ENABLE ROW LEVEL SECURITY;
ALTER TABLE patient_erasure_requests FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_isolation ON patient_erasure_requests
    USING (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid)
    WITH CHECK (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid);

-- What stays of an erased patient: no identity (no name, birth date, national id
-- or contact), only that the id was erased, when, by whom, on which request. Its
-- `erased_patient_id` is deliberately not named `patient_id`: the erasure walk
-- deletes every table with a `patient_id` column.
CREATE TABLE patient_tombstones (
    clinic_id uuid NOT NULL REFERENCES clinics (id),
    erased_patient_id uuid NOT NULL,
    request_id uuid NOT NULL,
    requested_by uuid NOT NULL,
    decided_by uuid NOT NULL,
    erased_at timestamptz NOT NULL,
    PRIMARY KEY (clinic_id, erased_patient_id)
);
ALTER TABLE patient_tombstones ENABLE ROW LEVEL SECURITY;
ALTER TABLE patient_tombstones FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_isolation ON patient_tombstones
    USING (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid)
    WITH CHECK (clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid);
-- A tombstone is written once and never changed or removed by the API.
REVOKE UPDATE, DELETE ON patient_tombstones FROM salus_api;

-- Deletes every row of patient `target` of clinic `clinic` in every schema but
-- the audit trail (whose events name the patient by id only and hold no health
-- data): every table with a `patient_id` column, `patients` itself, every table
-- whose foreign keys point at those rows (appointment history and reminders,
-- found through `pg_constraint`, transitively), referrers before what they refer
-- to, and the outbox messages of the patient's reminders (they carry the
-- patient's phone or address). Nothing is listed by hand, so a new table that
-- names a patient needs no change here. Returns the rows deleted per table.
--
-- It runs as the owner (clinical notes refuse DELETE to the API role) and refuses
-- unless an erasure decision `erase` is recorded for the patient, or the caller is
-- a superuser: the restore path re-applies the destruction register with psql as
-- the cluster's superuser, on a copy that may predate the decision.
CREATE FUNCTION public.salus_erase_patient(clinic uuid, target uuid)
    RETURNS TABLE (table_name text, deleted bigint)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
    tables regclass[] := '{}';
    predicates text[] := '{}';
    t regclass;
    i integer;
    k record;
    progressed boolean;
    remaining regclass[];
    n bigint;
    messages uuid[];
    pred text;
BEGIN
    PERFORM set_config('app.clinic_id', clinic::text, true);
    IF NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = session_user AND r.rolsuper)
       AND NOT EXISTS (SELECT 1 FROM public.patient_erasure_requests e
                        WHERE e.clinic_id = clinic AND e.patient_id = target
                          AND e.decision = 'erase') THEN
        RAISE EXCEPTION 'patient % has no erasure decided: nothing is erased', target
            USING ERRCODE = 'insufficient_privilege';
    END IF;

    -- The rows that name the patient: `patients` by its id, every other table by
    -- its `patient_id`.
    tables := tables || 'public.patients'::regclass;
    predicates := predicates || format('clinic_id = %L AND id = %L', clinic, target);
    FOR t IN
        SELECT c.oid::regclass
          FROM pg_class c
          JOIN pg_namespace s ON s.oid = c.relnamespace
          JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'patient_id' AND NOT a.attisdropped
         WHERE c.relkind IN ('r', 'p')
           AND s.nspname NOT IN ('pg_catalog', 'information_schema', 'audit')
           AND s.nspname NOT LIKE 'pg\_%'
         ORDER BY c.oid
    LOOP
        tables := tables || t;
        predicates := predicates || format('clinic_id = %L AND patient_id = %L', clinic, target);
    END LOOP;

    -- Then, until nothing is added, the rows of other tables whose foreign keys
    -- point at rows already chosen.
    LOOP
        progressed := false;
        FOR k IN
            SELECT f.conrelid::regclass AS referrer, f.confrelid::regclass AS referred,
                   (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY x.o)
                      FROM unnest(f.conkey) WITH ORDINALITY AS x(n, o)
                      JOIN pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = x.n) AS cols,
                   (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY x.o)
                      FROM unnest(f.confkey) WITH ORDINALITY AS x(n, o)
                      JOIN pg_attribute a ON a.attrelid = f.confrelid AND a.attnum = x.n) AS refcols
              FROM pg_constraint f
              JOIN pg_class c ON c.oid = f.conrelid
              JOIN pg_namespace s ON s.oid = c.relnamespace
             WHERE f.contype = 'f' AND f.confrelid = ANY (tables)
               AND NOT (f.conrelid = ANY (tables))
               AND s.nspname NOT IN ('pg_catalog', 'information_schema', 'audit')
             ORDER BY f.conrelid, f.oid
        LOOP
            i := array_position(tables, k.referred);
            pred := format('(%s) IN (SELECT %s FROM %s WHERE %s)',
                           k.cols, k.refcols, k.referred, predicates[i]);
            IF array_position(tables, k.referrer) IS NULL THEN
                tables := tables || k.referrer;
                predicates := predicates || pred;
                progressed := true;
            END IF;
        END LOOP;
        EXIT WHEN NOT progressed;
    END LOOP;

    -- The outbox messages of the patient's reminders (the outbox has no clinic).
    SELECT coalesce(array_agg(r.outbox_id), '{}') INTO messages
      FROM public.appointment_reminders r
     WHERE r.clinic_id = clinic
       AND r.appointment_id IN (SELECT a.id FROM public.appointments a
                                 WHERE a.clinic_id = clinic AND a.patient_id = target);

    -- Referrers before what they refer to.
    remaining := tables;
    WHILE cardinality(remaining) > 0 LOOP
        progressed := false;
        FOREACH t IN ARRAY remaining LOOP
            IF NOT EXISTS (
                SELECT 1 FROM pg_constraint f
                 WHERE f.contype = 'f' AND f.confrelid = t AND f.conrelid <> t
                   AND f.conrelid = ANY (remaining)) THEN
                i := array_position(tables, t);
                EXECUTE format('DELETE FROM %s WHERE %s', t, predicates[i]);
                GET DIAGNOSTICS n = ROW_COUNT;
                table_name := t::text; deleted := n; RETURN NEXT;
                remaining := array_remove(remaining, t);
                progressed := true;
            END IF;
        END LOOP;
        IF NOT progressed THEN
            RAISE EXCEPTION 'the patient tables refer to each other in a cycle: %', remaining;
        END IF;
    END LOOP;

    DELETE FROM public.outbox o WHERE o.id = ANY (messages);
    GET DIAGNOSTICS n = ROW_COUNT;
    table_name := 'outbox'; deleted := n; RETURN NEXT;
END
$$;
REVOKE ALL ON FUNCTION public.salus_erase_patient(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.salus_erase_patient(uuid, uuid) TO salus_api;
