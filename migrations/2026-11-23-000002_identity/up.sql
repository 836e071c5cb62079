-- Identity: accounts (one per person), clinics, memberships, sessions, refresh
-- tokens, MFA, one-time tokens, phone verification, throttling and the outbox.
--
-- Platform tables (accounts and what hangs off one person) have no clinic. Tenant
-- tables carry clinic_id first in every key and reference their clinic's rows through
-- composite foreign keys, so no row can point into another clinic.

CREATE TABLE clinics (
    id uuid PRIMARY KEY,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    plan text NOT NULL DEFAULT 'free' CHECK (plan IN ('free', 'pro', 'business')),
    idle_timeout_minutes integer NOT NULL DEFAULT 30 CHECK (idle_timeout_minutes BETWEEN 5 AND 60),
    require_mfa boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL
);

CREATE TABLE accounts (
    id uuid PRIMARY KEY,
    -- normalised: trimmed and lower-cased, so uniqueness is case-insensitive
    email text NOT NULL UNIQUE CHECK (email = lower(email)),
    email_verified_at timestamptz,
    given_name text NOT NULL,
    family_name text NOT NULL,
    password_hash text NOT NULL,
    password_changed_at timestamptz NOT NULL,
    failed_logins integer NOT NULL DEFAULT 0,
    last_failed_login_at timestamptz,
    locked_until timestamptz,
    -- TOTP secret, AES-256-GCM encrypted (envelope), and the last accepted step
    totp_secret bytea,
    totp_confirmed_at timestamptz,
    totp_last_step bigint,
    phone text,
    phone_verified_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE memberships (
    clinic_id uuid NOT NULL REFERENCES clinics (id),
    id uuid NOT NULL,
    account_id uuid NOT NULL REFERENCES accounts (id),
    role text NOT NULL CHECK (role IN ('owner', 'administrator', 'practitioner', 'nurse', 'receptionist', 'auditor')),
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (clinic_id, id),
    UNIQUE (clinic_id, account_id)
);
CREATE INDEX memberships_by_account ON memberships (account_id);

CREATE TABLE sessions (
    clinic_id uuid NOT NULL,
    id uuid NOT NULL,
    membership_id uuid NOT NULL,
    account_id uuid NOT NULL REFERENCES accounts (id),
    created_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    idle_expires_at timestamptz NOT NULL,
    absolute_expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    revoked_reason text,
    ip text,
    user_agent text,
    mfa_at timestamptz,
    PRIMARY KEY (clinic_id, id),
    FOREIGN KEY (clinic_id, membership_id) REFERENCES memberships (clinic_id, id)
);
CREATE INDEX sessions_by_account ON sessions (account_id) WHERE revoked_at IS NULL;

-- Refresh tokens: only the SHA-256 is stored. A used token stays, so presenting it
-- again is recognised as reuse.
CREATE TABLE refresh_tokens (
    clinic_id uuid NOT NULL,
    token_hash bytea NOT NULL,
    session_id uuid NOT NULL,
    created_at timestamptz NOT NULL,
    used_at timestamptz,
    PRIMARY KEY (clinic_id, token_hash),
    FOREIGN KEY (clinic_id, session_id) REFERENCES sessions (clinic_id, id) ON DELETE CASCADE
);

-- The step between password and MFA code: a short-lived, single-use challenge.
CREATE TABLE mfa_challenges (
    token_hash bytea PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts (id),
    clinic_id uuid NOT NULL REFERENCES clinics (id),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    consumed_at timestamptz,
    ip text,
    user_agent text
);

CREATE TABLE recovery_codes (
    account_id uuid NOT NULL REFERENCES accounts (id),
    code_hash bytea NOT NULL,
    used_at timestamptz,
    PRIMARY KEY (account_id, code_hash)
);

-- Single-use tokens sent by email: verification, password reset, email change.
CREATE TABLE one_time_tokens (
    token_hash bytea PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts (id),
    purpose text NOT NULL CHECK (purpose IN ('verify_email', 'reset_password', 'change_email')),
    new_email text,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at timestamptz
);

CREATE TABLE phone_challenges (
    account_id uuid PRIMARY KEY REFERENCES accounts (id),
    phone text NOT NULL,
    code_hash bytea NOT NULL,
    expires_at timestamptz NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    last_sent_at timestamptz NOT NULL
);

-- Fixed-window counters per client address and endpoint, shared by every API node.
CREATE TABLE rate_limits (
    key text PRIMARY KEY,
    window_started_at timestamptz NOT NULL,
    hits integer NOT NULL
);

-- Devices (address + user agent fingerprint) an account has signed in from.
CREATE TABLE known_devices (
    account_id uuid NOT NULL REFERENCES accounts (id),
    fingerprint bytea NOT NULL,
    first_seen_at timestamptz NOT NULL,
    PRIMARY KEY (account_id, fingerprint)
);

-- Messages to deliver, written in the transaction of the action that causes them.
CREATE TABLE outbox (
    id uuid PRIMARY KEY,
    channel text NOT NULL CHECK (channel IN ('email', 'sms')),
    recipient text NOT NULL,
    subject text NOT NULL,
    body text NOT NULL,
    created_at timestamptz NOT NULL,
    available_at timestamptz NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    last_error text,
    delivered_at timestamptz,
    failed_at timestamptz
);
CREATE INDEX outbox_pending ON outbox (available_at) WHERE delivered_at IS NULL AND failed_at IS NULL;

-- Security events raised by the identity flows (refresh-token reuse, lock-outs).
CREATE TABLE security_events (
    id uuid PRIMARY KEY,
    clinic_id uuid,
    account_id uuid,
    kind text NOT NULL,
    occurred_at timestamptz NOT NULL,
    ip text
);
