-- The age of every secret and key (promise E3): each key or secret the
-- platform runs with is recorded the first time it is seen in use (by its id,
-- or a short fingerprint for secrets without one), so its age is known without
-- any date in the configuration. A platform table: no clinic.
CREATE TABLE secret_inventory (
    kind text NOT NULL,
    key_id text NOT NULL CHECK (length(key_id) BETWEEN 1 AND 100),
    first_seen_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    PRIMARY KEY (kind, key_id)
);
REVOKE DELETE, TRUNCATE ON secret_inventory FROM salus_api;

-- When each clinic's data key was made: the ages of the keys, nothing of them.
CREATE FUNCTION public.salus_clinic_key_ages()
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
REVOKE ALL ON FUNCTION public.salus_clinic_key_ages() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.salus_clinic_key_ages() TO salus_api;
