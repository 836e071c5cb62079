-- Sign-ups wait here until the address is proven: confirming the emailed token
-- creates the account (email verified) and the clinic, and removes the row, so an
-- address nobody verified never runs a clinic. A sign-up lapses after seven days
-- (SIGN_UP_TTL in crates/domain/src/identity/auth.rs); every sign-up first removes
-- the lapsed rows: they hold a password hash and names, and nothing refers to them
-- (the audit trail keeps its `auth.sign_up_requested` events, which name no row).
--
-- `account_id` is set when the address already had an account: confirming then
-- adds the clinic to that account. A platform table (no clinic yet), like `accounts`.
CREATE TABLE sign_ups (
    id uuid PRIMARY KEY,
    email text NOT NULL CHECK (email = lower(email)),
    account_id uuid REFERENCES accounts (id),
    clinic_name text NOT NULL CHECK (length(clinic_name) BETWEEN 1 AND 200),
    given_name text NOT NULL,
    family_name text NOT NULL,
    password_hash text NOT NULL,
    token_hash bytea NOT NULL UNIQUE,
    token_expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    CHECK (token_expires_at <= expires_at)
);
CREATE INDEX sign_ups_by_email ON sign_ups (email, created_at DESC);
CREATE INDEX sign_ups_lapsing ON sign_ups (expires_at);
