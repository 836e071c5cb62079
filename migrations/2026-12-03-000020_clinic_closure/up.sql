-- The end of a clinic (promise D3): a closure an owner asks for, executed when
-- its grace period ends, by one function that deletes every row of the clinic
-- in every schema and reports what it deleted, table by table.

-- One row per clinic whose closure is asked. The job that executes closures
-- finds due ones in the platform scope (no clinic set), like the audit job
-- finds chains; a clinic sees only its own.
CREATE TABLE clinic_closures (
    clinic_id uuid PRIMARY KEY REFERENCES clinics (id),
    requested_by uuid NOT NULL,
    requested_by_email text NOT NULL,
    requested_at timestamptz NOT NULL,
    due_at timestamptz NOT NULL CHECK (due_at >= requested_at)
);
CREATE INDEX clinic_closures_due ON clinic_closures (due_at);
ALTER TABLE clinic_closures ENABLE ROW LEVEL SECURITY;
ALTER TABLE clinic_closures FORCE ROW LEVEL SECURITY;
CREATE POLICY clinic_isolation ON clinic_closures
    USING (
        clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid
        OR nullif(current_setting('app.clinic_id', true), '') IS NULL
    )
    WITH CHECK (
        clinic_id = nullif(current_setting('app.clinic_id', true), '')::uuid
        OR nullif(current_setting('app.clinic_id', true), '') IS NULL
    );

-- Removes a closed clinic's audit trail: its events and checkpoints. Only for a
-- chain whose head is sealed by a checkpoint (the certificate of destruction
-- carries that head's hash), and only from `public.salus_destroy_clinic`; a
-- superuser re-applying the register to a restored copy is exempt from the seal
-- (the copy's head predates the sealed one the certificate holds).
SET LOCAL ROLE salus_audit;
CREATE FUNCTION audit.destroy_chain(target uuid)
    RETURNS TABLE (table_name text, deleted bigint)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
    head_seq bigint;
    n bigint;
BEGIN
    SELECT max(e.seq) INTO head_seq FROM audit.events e WHERE e.chain_id = target;
    IF head_seq IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = session_user AND r.rolsuper)
       AND NOT EXISTS (
        SELECT 1 FROM audit.checkpoints c
         JOIN audit.events e ON e.chain_id = c.chain_id AND e.seq = c.seq AND e.hash = c.hash
        WHERE c.chain_id = target AND c.seq = head_seq) THEN
        RAISE EXCEPTION 'the audit chain of clinic % is not sealed at its head (%)', target, head_seq
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM set_config('salus.audit_purge', 'on', true);
    DELETE FROM audit.events e WHERE e.clinic_id = target OR e.chain_id = target;
    GET DIAGNOSTICS n = ROW_COUNT;
    table_name := 'audit.events'; deleted := n; RETURN NEXT;
    DELETE FROM audit.checkpoints c WHERE c.clinic_id = target OR c.chain_id = target;
    GET DIAGNOSTICS n = ROW_COUNT;
    table_name := 'audit.checkpoints'; deleted := n; RETURN NEXT;
    PERFORM set_config('salus.audit_purge', 'off', true);
END
$$;
REVOKE ALL ON FUNCTION audit.destroy_chain(uuid) FROM PUBLIC;
RESET ROLE;

-- Deletes every row of `target` in every schema: its audit trail (sealed first,
-- by the caller), then every table with a `clinic_id` column, referrers before
-- what they refer to (found in the catalogue, so a new table needs no change
-- here), the outbox messages its rows point at, and the clinic itself. Returns
-- the rows deleted per table.
--
-- It runs as the owner (so it may delete from append-only and API-restricted
-- tables) and refuses unless the clinic has a closure asked (`clinic_closures`)
-- or the caller is a superuser: the restore path re-applies the destruction
-- register with psql as the cluster's superuser, on a copy whose clinic may
-- predate its closure request.
CREATE FUNCTION public.salus_destroy_clinic(target uuid)
    RETURNS TABLE (table_name text, deleted bigint)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
    remaining regclass[];
    t regclass;
    progressed boolean;
    n bigint;
    messages uuid[];
BEGIN
    PERFORM set_config('app.clinic_id', target::text, true);
    IF NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = session_user AND r.rolsuper)
       AND NOT EXISTS (SELECT 1 FROM public.clinic_closures c WHERE c.clinic_id = target) THEN
        RAISE EXCEPTION 'clinic % has no closure asked: nothing is destroyed', target
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN QUERY SELECT * FROM audit.destroy_chain(target);

    SELECT coalesce(array_agg(r.outbox_id), '{}') INTO messages
      FROM public.appointment_reminders r WHERE r.clinic_id = target;

    SELECT coalesce(array_agg(c.oid::regclass ORDER BY c.oid), '{}') INTO remaining
      FROM pg_class c
      JOIN pg_namespace s ON s.oid = c.relnamespace
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'clinic_id' AND NOT a.attisdropped
     WHERE c.relkind IN ('r', 'p')
       AND s.nspname NOT IN ('pg_catalog', 'information_schema', 'audit')
       AND s.nspname NOT LIKE 'pg\_%';
    WHILE cardinality(remaining) > 0 LOOP
        progressed := false;
        FOREACH t IN ARRAY remaining LOOP
            IF NOT EXISTS (
                SELECT 1 FROM pg_constraint k
                 WHERE k.contype = 'f' AND k.confrelid = t AND k.conrelid <> t
                   AND k.conrelid = ANY (remaining)) THEN
                EXECUTE format('DELETE FROM %s WHERE clinic_id = $1', t) USING target;
                GET DIAGNOSTICS n = ROW_COUNT;
                table_name := t::text; deleted := n; RETURN NEXT;
                remaining := array_remove(remaining, t);
                progressed := true;
            END IF;
        END LOOP;
        IF NOT progressed THEN
            RAISE EXCEPTION 'the tenant tables refer to each other in a cycle: %', remaining;
        END IF;
    END LOOP;

    DELETE FROM public.outbox o WHERE o.id = ANY (messages);
    GET DIAGNOSTICS n = ROW_COUNT;
    table_name := 'outbox'; deleted := n; RETURN NEXT;
    DELETE FROM public.clinics c WHERE c.id = target;
    GET DIAGNOSTICS n = ROW_COUNT;
    table_name := 'clinics'; deleted := n; RETURN NEXT;
END
$$;
REVOKE ALL ON FUNCTION public.salus_destroy_clinic(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.salus_destroy_clinic(uuid) TO salus_api;
