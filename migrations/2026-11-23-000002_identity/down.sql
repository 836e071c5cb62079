DROP TABLE security_events, outbox, known_devices, rate_limits, phone_challenges,
    one_time_tokens, recovery_codes, mfa_challenges, refresh_tokens, sessions,
    memberships, accounts, clinics;
