-- The platform operator realm (issue 16): named operators, separate from clinic
-- members, created by the CLI with a one-time enrolment link, MFA from the
-- first sign-in, short sessions, an end date on every account. Platform tables
-- (no clinic): an operator belongs to no clinic and reads none of a clinic's
-- rows (the API role in the platform scope sees no tenant row: row-level
-- security).
CREATE TABLE operators (
    id uuid PRIMARY KEY,
    -- normalised: trimmed and lower-cased
    email text NOT NULL UNIQUE CHECK (email = lower(email)),
    role text NOT NULL CHECK (role IN ('incident_manager', 'security_officer', 'support')),
    -- set at enrolment
    password_hash text,
    -- TOTP secret sealed under the master keys, its confirmation and last step
    totp_secret bytea,
    totp_confirmed_at timestamptz,
    totp_last_step bigint,
    -- the one-time enrolment token (SHA-256) and when it lapses
    enrolment_token_hash bytea UNIQUE,
    enrolment_expires_at timestamptz,
    failed_logins integer NOT NULL DEFAULT 0,
    locked_until timestamptz,
    -- access ends by itself at ends_at; revoked_at ends it at once
    ends_at timestamptz NOT NULL,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL,
    created_by text NOT NULL,
    CHECK (ends_at > created_at)
);

CREATE TABLE operator_sessions (
    id uuid PRIMARY KEY,
    operator_id uuid NOT NULL REFERENCES operators (id),
    -- SHA-256 of the bearer token (`salus_op_...`), never the token
    token_hash bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    idle_expires_at timestamptz NOT NULL,
    absolute_expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    ip text,
    user_agent text
);
CREATE INDEX operator_sessions_operator ON operator_sessions (operator_id);

-- What an operator sees of the clinics: metadata and counts, nothing else. The
-- platform scope sees no tenant row, so this definer visits each clinic (found
-- through the audit chain heads, which the platform scope sees) in turn and
-- puts the caller's scope back before it returns: no row of a clinic ever
-- reaches the caller's transaction.
CREATE FUNCTION public.salus_platform_clinics(only_clinic uuid)
    RETURNS TABLE (id uuid, name text, plan text, created_at timestamptz,
                   member_count bigint, patient_count bigint, closure_requested boolean)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
    caller text := current_setting('app.clinic_id', true);
    target uuid;
BEGIN
    FOR target IN
        SELECT DISTINCT h.clinic_id FROM public.audit_chain_heads h
         WHERE h.clinic_id IS NOT NULL AND (only_clinic IS NULL OR h.clinic_id = only_clinic)
    LOOP
        PERFORM set_config('app.clinic_id', target::text, true);
        RETURN QUERY
            SELECT c.id, c.name, c.plan, c.created_at,
                   (SELECT count(*) FROM public.memberships m
                     WHERE m.clinic_id = c.id AND m.active),
                   (SELECT count(*) FROM public.patients p WHERE p.clinic_id = c.id),
                   EXISTS (SELECT 1 FROM public.clinic_closures x WHERE x.clinic_id = c.id)
              FROM public.clinics c
             WHERE c.id = target;
    END LOOP;
    PERFORM set_config('app.clinic_id', coalesce(caller, ''), true);
END
$$;
REVOKE ALL ON FUNCTION public.salus_platform_clinics(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.salus_platform_clinics(uuid) TO salus_api;
