UPDATE accounts
   SET totp_secret = totp_pending_secret, totp_confirmed_at = NULL, totp_last_step = NULL
 WHERE totp_pending_secret IS NOT NULL AND totp_secret IS NULL;
ALTER TABLE accounts DROP COLUMN totp_pending_secret;
