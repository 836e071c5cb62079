-- Sequences what is left first: `salus audit sequence` (or a running server),
-- else the NOT NULL constraints below refuse.
SET LOCAL ROLE salus_audit;
DROP FUNCTION audit.unsequenced_chains();
REVOKE UPDATE (seq, prev_hash, hash) ON audit.events FROM salus_api;
CREATE OR REPLACE FUNCTION audit.refuse_change() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_user = 'salus_audit'
       AND current_setting('salus.audit_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit.% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
DROP INDEX audit.events_unsequenced;
ALTER TABLE audit.events DROP COLUMN arrival;
DROP SEQUENCE audit.events_arrival;
ALTER TABLE audit.events
    DROP CONSTRAINT events_chain_seq,
    DROP CONSTRAINT events_sequenced_whole,
    ALTER COLUMN seq SET NOT NULL,
    ALTER COLUMN prev_hash SET NOT NULL,
    ALTER COLUMN hash SET NOT NULL,
    ADD PRIMARY KEY (chain_id, seq);
RESET ROLE;
