-- A new authenticator waits in its own column until its first code confirms it.
-- Before, starting an enrolment overwrote the confirmed secret and cleared its
-- confirmation, so an enrolment started and never finished left the account
-- signing in with the password alone (and any session could then enrol a device
-- of its own choosing).
ALTER TABLE accounts ADD COLUMN totp_pending_secret bytea;
UPDATE accounts
   SET totp_pending_secret = totp_secret, totp_secret = NULL
 WHERE totp_confirmed_at IS NULL AND totp_secret IS NOT NULL;
