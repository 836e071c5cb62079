-- Known vulnerabilities of the platform's own dependencies (promise N3), as
-- `salus vuln import` records them from a scanner's report (cargo-deny or
-- cargo-audit): one row per advisory, package and version. A platform table:
-- no clinic's data, so no clinic_id and no row-level security (like accounts).
--
-- due_at is first_seen_at plus the band's remediation time (24 hours, 72 hours,
-- 14 days, 30 days: crates/domain/src/vulns/model.rs); an import never moves
-- first_seen_at. A finding is closed only by an operator: fixed with the
-- commit, or accepted with a reason until a moment, after which it counts as
-- open again. Rows are never deleted (the API role may not): the history of
-- what was known and when is kept, and every change is in the platform audit
-- chain.
CREATE TABLE vulnerabilities (
    id uuid PRIMARY KEY,
    advisory_id text NOT NULL CHECK (advisory_id ~ '^[A-Za-z0-9._:-]{1,100}$'),
    package text NOT NULL CHECK (length(package) BETWEEN 1 AND 200),
    version text NOT NULL CHECK (length(version) BETWEEN 1 AND 100),
    title text NOT NULL CHECK (length(title) <= 500),
    kind text NOT NULL CHECK (kind IN ('vulnerability', 'unmaintained', 'unsound', 'notice')),
    cvss_vector text CHECK (length(cvss_vector) <= 300),
    cvss_score double precision CHECK (cvss_score BETWEEN 0 AND 10),
    band text NOT NULL CHECK (band IN ('critical', 'high', 'moderate', 'low')),
    source text NOT NULL CHECK (source IN ('cargo-deny', 'cargo-audit')),
    first_seen_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL CHECK (last_seen_at >= first_seen_at),
    due_at timestamptz NOT NULL CHECK (due_at > first_seen_at),
    status text NOT NULL CHECK (status IN ('open', 'fixed', 'accepted')),
    fixed_commit text CHECK (fixed_commit ~ '^[0-9a-f]{7,64}$'),
    accepted_reason text CHECK (length(accepted_reason) BETWEEN 1 AND 1000),
    accepted_until timestamptz,
    resolved_by text,
    resolved_at timestamptz,
    UNIQUE (advisory_id, package, version),
    CHECK ((cvss_vector IS NULL) = (cvss_score IS NULL)),
    CHECK ((status = 'fixed') = (fixed_commit IS NOT NULL)),
    CHECK ((status = 'accepted') = (accepted_reason IS NOT NULL AND accepted_until IS NOT NULL)),
    CHECK ((status = 'open') = (resolved_by IS NULL AND resolved_at IS NULL))
);
-- The list and /metrics read what is not fixed, by deadline.
CREATE INDEX vulnerabilities_unresolved ON vulnerabilities (due_at) WHERE status <> 'fixed';
REVOKE DELETE ON vulnerabilities FROM salus_api;
