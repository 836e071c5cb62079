-- Chaining off the request path (issue 18). An audit event is inserted by the
-- action's transaction (or, for reads, by the server's group commit) without a
-- position: `seq`, `prev_hash` and `hash` are NULL. The sequencer (every node,
-- `crates/domain/src/audit/sequencer.rs`) takes each chain's head with a row lock,
-- gives the committed unsequenced events of the chain their positions in the
-- order they were recorded (`arrival`) and their hashes, and moves the head, in
-- batches within
-- a bounded delay. No request waits for a chain's head any more.
--
-- Append-only stays: the API role may update only the three chain columns, and
-- only of an event that has none yet (the trigger); every other column of an
-- event never changes.
SET LOCAL ROLE salus_audit;

ALTER TABLE audit.events DROP CONSTRAINT events_pkey;
ALTER TABLE audit.events
    ALTER COLUMN seq DROP NOT NULL,
    ALTER COLUMN prev_hash DROP NOT NULL,
    ALTER COLUMN hash DROP NOT NULL,
    ADD CONSTRAINT events_sequenced_whole CHECK (
        (seq IS NULL) = (hash IS NULL) AND (seq IS NULL) = (prev_hash IS NULL)
    ),
    ADD CONSTRAINT events_chain_seq UNIQUE (chain_id, seq);
-- The order in which events were recorded (what the sequencer follows: for
-- requests one after the other it is the order they happened in, whatever the
-- clocks of the nodes say; each event keeps its own `occurred_at`).
CREATE SEQUENCE audit.events_arrival AS bigint;
ALTER TABLE audit.events
    ADD COLUMN arrival bigint NOT NULL DEFAULT nextval('audit.events_arrival');
GRANT USAGE ON SEQUENCE audit.events_arrival TO salus_api;
-- What the sequencer takes next, per chain, in order.
CREATE INDEX events_unsequenced ON audit.events (chain_id, arrival) WHERE seq IS NULL;

CREATE OR REPLACE FUNCTION audit.refuse_change() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_user = 'salus_audit'
       AND current_setting('salus.audit_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    -- Sequencing: an event without a position gets one, once, and nothing else
    -- of it changes.
    IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'events'
       AND OLD.seq IS NULL AND NEW.seq IS NOT NULL
       AND (NEW.chain_id, NEW.id, NEW.clinic_id, NEW.occurred_at, NEW.account_id,
            NEW.membership_id, NEW.session_id, NEW.client_ip, NEW.user_agent,
            NEW.request_id, NEW.action, NEW.resource_type, NEW.resource_id,
            NEW.outcome, NEW.details)
           IS NOT DISTINCT FROM
           (OLD.chain_id, OLD.id, OLD.clinic_id, OLD.occurred_at, OLD.account_id,
            OLD.membership_id, OLD.session_id, OLD.client_ip, OLD.user_agent,
            OLD.request_id, OLD.action, OLD.resource_type, OLD.resource_id,
            OLD.outcome, OLD.details) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit.% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

GRANT UPDATE (seq, prev_hash, hash) ON audit.events TO salus_api;

-- The chains with events waiting for a position, across clinics (what the
-- sequencer visits and the audit job watches): ids, counts and the oldest
-- event's time, nothing of the events.
CREATE FUNCTION audit.unsequenced_chains()
    RETURNS TABLE (chain_id uuid, clinic_id uuid, waiting bigint, oldest timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
    SELECT e.chain_id, min(e.clinic_id::text)::uuid, count(*), min(e.occurred_at)
      FROM audit.events e WHERE e.seq IS NULL GROUP BY e.chain_id
$$;
REVOKE ALL ON FUNCTION audit.unsequenced_chains() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit.unsequenced_chains() TO salus_api;
RESET ROLE;

-- A chain's head exists from its first event (created by the insert, at
-- position 0 with the genesis hash) so the jobs that find clinics through their
-- heads see a clinic at once; the sequencer moves it.
