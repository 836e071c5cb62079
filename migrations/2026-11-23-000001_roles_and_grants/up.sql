-- Foundation: the privileges of the API role.
--
-- Migrations run as the owner role, which owns every object they create. The API
-- connects as `salus_api` (or a login role that is a member of it): it owns nothing,
-- is not a superuser and has no BYPASSRLS. Provisioning creates the role; this
-- migration refuses to run without it so a deployment cannot silently skip grants.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'salus_api') THEN
        RAISE EXCEPTION 'role salus_api does not exist: create it first (NOLOGIN or LOGIN, NOSUPERUSER, NOBYPASSRLS), see docs/operations.md';
    END IF;
END
$$;

-- Nobody but the owner creates objects; the API role may only use the schema.
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO salus_api;

-- Tables and sequences the owner creates from here on are usable, never owned, by
-- the API role. TRUNCATE, REFERENCES and TRIGGER are never granted.
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO salus_api;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO salus_api;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- `salus serve` reads which migrations ran, to refuse starting when one is pending.
GRANT SELECT ON __diesel_schema_migrations TO salus_api;
