-- Rate limits for every operation (issue 19). Each API node counts requests
-- in memory per bucket (a credential, a clinic, a client address) and fixed
-- window, and every RATE_LIMIT_SYNC_MILLIS adds its new hits here in one
-- upsert that reads every total back (like Kong's rate-limiting plugin with
-- `sync_rate`), so all nodes enforce one limit. A platform table, like
-- `rate_limits` (the authentication limiter's): keys, windows and counts,
-- no tenant row. UNLOGGED: the counts of a minute are not worth a WAL record
-- per round, and a crash that empties the table only restarts the windows.
CREATE UNLOGGED TABLE request_rate_limits (
    -- `credential:<id>`, `clinic:<id>` or `address:<ip>`
    key text NOT NULL CHECK (key ~ '^(credential|clinic|address):' AND length(key) <= 128),
    window_start timestamptz NOT NULL,
    hits bigint NOT NULL CHECK (hits >= 0),
    PRIMARY KEY (key, window_start)
);
-- Expired windows are deleted by the sync rounds.
CREATE INDEX request_rate_limits_window ON request_rate_limits (window_start);

-- The plans of the clinics a node has seen requests of, for their limits. The
-- platform scope sees no clinic row, so this definer reads each clinic in turn
-- under its own scope and puts the caller's back: only ids and plan names
-- leave it.
CREATE FUNCTION public.salus_rate_limit_plans(clinic_ids uuid[])
    RETURNS TABLE (id uuid, plan text)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
    caller text := current_setting('app.clinic_id', true);
    target uuid;
BEGIN
    FOREACH target IN ARRAY coalesce(clinic_ids, '{}'::uuid[]) LOOP
        PERFORM set_config('app.clinic_id', target::text, true);
        RETURN QUERY SELECT c.id, c.plan FROM public.clinics c WHERE c.id = target;
    END LOOP;
    PERFORM set_config('app.clinic_id', coalesce(caller, ''), true);
END
$$;
REVOKE ALL ON FUNCTION public.salus_rate_limit_plans(uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.salus_rate_limit_plans(uuid[]) TO salus_api;
