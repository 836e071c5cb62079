-- The incident register (issue 16, N1): incidents declared and run by platform
-- operators, the clinics each one affects and whether (and when) they were
-- told, a timeline of entries, and the evidence preserved (the SHA-256 and
-- event count of each affected clinic's audit export at the time).
--
-- `incidents` and `incident_entries` are platform tables (no clinic). The two
-- tables that name a clinic are visible in the platform scope (no clinic set),
-- as `clinic_closures` is, and in the clinic's own scope only its own rows: a
-- clinic's owners read the incidents that concern them, never another
-- clinic's. Rows are never deleted by the API role: the register is history.
CREATE TABLE incidents (
    id uuid PRIMARY KEY,
    title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    severity text NOT NULL CHECK (severity IN ('P1', 'P2', 'P3', 'P4')),
    status text NOT NULL CHECK (status IN ('open', 'contained', 'resolved', 'closed')),
    personal_data text NOT NULL CHECK (personal_data IN ('none', 'suspected', 'confirmed')),
    declared_at timestamptz NOT NULL,
    declared_by uuid NOT NULL REFERENCES operators (id),
    -- when a breach of personal data was confirmed: the 72-hour clocks run from it
    aware_at timestamptz,
    authority_notified_at timestamptz,
    authority_reference text CHECK (length(authority_reference) BETWEEN 1 AND 200),
    -- the post-mortem, required to close
    root_cause text CHECK (length(root_cause) BETWEEN 1 AND 10000),
    preventive_measures text CHECK (length(preventive_measures) BETWEEN 1 AND 10000),
    closed_at timestamptz,
    CHECK ((personal_data = 'confirmed') = (aware_at IS NOT NULL)),
    CHECK ((authority_notified_at IS NULL) = (authority_reference IS NULL)),
    CHECK ((status = 'closed') = (closed_at IS NOT NULL)),
    CHECK (status <> 'closed' OR (root_cause IS NOT NULL AND preventive_measures IS NOT NULL))
);
CREATE INDEX incidents_declared ON incidents (declared_at);

CREATE TABLE incident_clinics (
    incident_id uuid NOT NULL REFERENCES incidents (id),
    clinic_id uuid NOT NULL,
    -- the last notification sent to its owners and administrators, and its
    -- content (nature, categories and numbers, likely consequences, measures
    -- taken, contact)
    notified_at timestamptz,
    notice jsonb,
    PRIMARY KEY (incident_id, clinic_id),
    CHECK ((notified_at IS NULL) = (notice IS NULL))
);
CREATE INDEX incident_clinics_clinic ON incident_clinics (clinic_id);
ALTER TABLE incident_clinics ENABLE ROW LEVEL SECURITY;
ALTER TABLE incident_clinics FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_isolation ON incident_clinics
    USING (clinic_id = NULLIF(current_setting('app.clinic_id', true), '')::uuid
           OR NULLIF(current_setting('app.clinic_id', true), '') IS NULL)
    WITH CHECK (clinic_id = NULLIF(current_setting('app.clinic_id', true), '')::uuid
                OR NULLIF(current_setting('app.clinic_id', true), '') IS NULL);

CREATE TABLE incident_entries (
    incident_id uuid NOT NULL REFERENCES incidents (id),
    seq integer NOT NULL CHECK (seq > 0),
    at timestamptz NOT NULL,
    operator_id uuid NOT NULL REFERENCES operators (id),
    kind text NOT NULL CHECK (kind IN ('declared', 'note', 'status', 'breach', 'authority',
                                       'notification', 'evidence', 'postmortem')),
    text text NOT NULL CHECK (length(text) BETWEEN 1 AND 10000),
    PRIMARY KEY (incident_id, seq)
);

CREATE TABLE incident_evidence (
    clinic_id uuid NOT NULL,
    id uuid NOT NULL,
    incident_id uuid NOT NULL REFERENCES incidents (id),
    -- the events of the clinic's audit export and the SHA-256 of its bytes
    -- (NDJSON, as GET /api/v1/audit-events/export streams it)
    events bigint NOT NULL CHECK (events >= 0),
    sha256 bytea NOT NULL CHECK (length(sha256) = 32),
    taken_at timestamptz NOT NULL,
    PRIMARY KEY (clinic_id, id)
);
CREATE INDEX incident_evidence_incident ON incident_evidence (incident_id);
ALTER TABLE incident_evidence ENABLE ROW LEVEL SECURITY;
ALTER TABLE incident_evidence FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_isolation ON incident_evidence
    USING (clinic_id = NULLIF(current_setting('app.clinic_id', true), '')::uuid
           OR NULLIF(current_setting('app.clinic_id', true), '') IS NULL)
    WITH CHECK (clinic_id = NULLIF(current_setting('app.clinic_id', true), '')::uuid
                OR NULLIF(current_setting('app.clinic_id', true), '') IS NULL);

REVOKE DELETE ON incidents, incident_clinics, incident_entries, incident_evidence FROM salus_api;

-- Whom an incident's notification goes to: the addresses of a clinic's active
-- owners and administrators, nothing else. As `salus_platform_clinics`, this
-- definer sets the clinic for its one query and puts the caller's scope back.
CREATE FUNCTION public.salus_platform_incident_contacts(target uuid)
    RETURNS TABLE (email text)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
    caller text := current_setting('app.clinic_id', true);
BEGIN
    PERFORM set_config('app.clinic_id', target::text, true);
    RETURN QUERY
        SELECT a.email FROM public.memberships m JOIN public.accounts a ON a.id = m.account_id
         WHERE m.clinic_id = target AND m.active AND m.role IN ('owner', 'administrator')
         ORDER BY a.email;
    PERFORM set_config('app.clinic_id', coalesce(caller, ''), true);
END
$$;
REVOKE ALL ON FUNCTION public.salus_platform_incident_contacts(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.salus_platform_incident_contacts(uuid) TO salus_api;
