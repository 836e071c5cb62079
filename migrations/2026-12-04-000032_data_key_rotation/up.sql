-- Clinic data-key rotation without downtime (promise E3). A clinic's data key
-- has a version; rotating it makes a new version the active one (it seals every
-- new value) and keeps the previous one, the retiring key, open only, while the
-- rotation job re-encrypts the sealed fields in batches. When no field under the
-- retiring key remains and no transaction that could still hold it as the
-- active key is open, the retiring key is destroyed (both columns set to NULL).
ALTER TABLE clinic_keys
    ADD COLUMN data_key_version integer NOT NULL DEFAULT 1 CHECK (data_key_version >= 1),
    ADD COLUMN data_key_created_at timestamptz,
    ADD COLUMN retiring_data_key bytea,
    ADD COLUMN retiring_data_key_version integer,
    ADD COLUMN rotation_started_at timestamptz,
    -- the database's own clock once the new key was committed: a transaction
    -- that began before it may have read the retiring key as the active one
    ADD COLUMN rotation_visible_at timestamptz,
    ADD CONSTRAINT retiring_key_whole CHECK (
        (retiring_data_key IS NULL) = (retiring_data_key_version IS NULL)
        AND (retiring_data_key IS NULL) = (rotation_started_at IS NULL)
    ),
    ADD CONSTRAINT retiring_key_older CHECK (
        retiring_data_key_version IS NULL OR retiring_data_key_version < data_key_version
    );

-- A signed note never changes, but its body may be sealed again under a new
-- data key: the same plaintext, nothing else of the row changed, in a
-- transaction that says it re-encrypts (`salus.resealing`, set only by the
-- rotation's batches).
CREATE OR REPLACE FUNCTION clinical_notes_signed_are_immutable() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    IF OLD.signed_at IS NOT NULL
        AND NOT (
            current_setting('salus.resealing', true) = 'on'
            AND (to_jsonb(NEW) - 'body') = (to_jsonb(OLD) - 'body')
        )
    THEN
        RAISE EXCEPTION 'clinical note % is signed and cannot change', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;

-- A data key's age runs from its version's creation.
CREATE OR REPLACE FUNCTION public.salus_clinic_key_ages()
    RETURNS TABLE (clinic_id uuid, created_at timestamptz)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
    caller text := current_setting('app.clinic_id', true);
    target uuid;
BEGIN
    FOR target IN
        SELECT DISTINCT h.clinic_id FROM public.audit_chain_heads h WHERE h.clinic_id IS NOT NULL
    LOOP
        PERFORM set_config('app.clinic_id', target::text, true);
        RETURN QUERY SELECT k.clinic_id, coalesce(k.data_key_created_at, k.created_at)
                       FROM public.clinic_keys k
                      WHERE k.clinic_id = target;
    END LOOP;
    PERFORM set_config('app.clinic_id', coalesce(caller, ''), true);
END
$$;

-- The clinics whose data-key rotation is under way (what the rotation job
-- advances): their ids, nothing of their keys.
CREATE FUNCTION public.salus_clinics_rotating_data_keys()
    RETURNS TABLE (clinic_id uuid)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
    caller text := current_setting('app.clinic_id', true);
    target uuid;
BEGIN
    FOR target IN
        SELECT DISTINCT h.clinic_id FROM public.audit_chain_heads h WHERE h.clinic_id IS NOT NULL
    LOOP
        PERFORM set_config('app.clinic_id', target::text, true);
        RETURN QUERY SELECT k.clinic_id FROM public.clinic_keys k
                      WHERE k.clinic_id = target AND k.retiring_data_key IS NOT NULL;
    END LOOP;
    PERFORM set_config('app.clinic_id', coalesce(caller, ''), true);
END
$$;
REVOKE ALL ON FUNCTION public.salus_clinics_rotating_data_keys() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.salus_clinics_rotating_data_keys() TO salus_api;
