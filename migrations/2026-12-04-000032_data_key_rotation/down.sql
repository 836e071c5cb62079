DROP FUNCTION public.salus_clinics_rotating_data_keys();
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
        RETURN QUERY SELECT k.clinic_id, k.created_at FROM public.clinic_keys k
                      WHERE k.clinic_id = target;
    END LOOP;
    PERFORM set_config('app.clinic_id', coalesce(caller, ''), true);
END
$$;
CREATE OR REPLACE FUNCTION clinical_notes_signed_are_immutable() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    IF OLD.signed_at IS NOT NULL THEN
        RAISE EXCEPTION 'clinical note % is signed and cannot change', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;
ALTER TABLE clinic_keys
    DROP CONSTRAINT retiring_key_older,
    DROP CONSTRAINT retiring_key_whole,
    DROP COLUMN rotation_visible_at,
    DROP COLUMN rotation_started_at,
    DROP COLUMN retiring_data_key_version,
    DROP COLUMN retiring_data_key,
    DROP COLUMN data_key_created_at,
    DROP COLUMN data_key_version;
