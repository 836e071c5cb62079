//! Diesel table definitions, kept by hand in step with `migrations/`.
#![allow(missing_docs)]

diesel::table! {
    clinics (id) {
        id -> Uuid,
        name -> Text,
        plan -> Text,
        idle_timeout_minutes -> Int4,
        require_mfa -> Bool,
        created_at -> Timestamptz,
        time_zone -> Text,
        reminder_offset_hours -> Int4,
        version -> Int4,
        record_retention_years -> Int4,
        archive_after_years -> Int4,
        purpose_of_use_required -> Bool,
    }
}

diesel::table! {
    accounts (id) {
        id -> Uuid,
        email -> Text,
        email_verified_at -> Nullable<Timestamptz>,
        given_name -> Text,
        family_name -> Text,
        password_hash -> Text,
        password_changed_at -> Timestamptz,
        failed_logins -> Int4,
        last_failed_login_at -> Nullable<Timestamptz>,
        locked_until -> Nullable<Timestamptz>,
        totp_secret -> Nullable<Bytea>,
        totp_confirmed_at -> Nullable<Timestamptz>,
        totp_last_step -> Nullable<Int8>,
        phone -> Nullable<Text>,
        phone_verified_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        totp_pending_secret -> Nullable<Bytea>,
    }
}

diesel::table! {
    memberships (clinic_id, id) {
        clinic_id -> Uuid,
        id -> Uuid,
        account_id -> Uuid,
        role -> Text,
        active -> Bool,
        created_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::table! {
    sessions (clinic_id, id) {
        clinic_id -> Uuid,
        id -> Uuid,
        membership_id -> Uuid,
        account_id -> Uuid,
        created_at -> Timestamptz,
        last_seen_at -> Timestamptz,
        idle_expires_at -> Timestamptz,
        absolute_expires_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
        revoked_reason -> Nullable<Text>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        mfa_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    refresh_tokens (clinic_id, token_hash) {
        clinic_id -> Uuid,
        token_hash -> Bytea,
        session_id -> Uuid,
        created_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    mfa_challenges (clinic_id, token_hash) {
        token_hash -> Bytea,
        account_id -> Uuid,
        clinic_id -> Uuid,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        attempts -> Int4,
        consumed_at -> Nullable<Timestamptz>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
    }
}

diesel::table! {
    recovery_codes (account_id, code_hash) {
        account_id -> Uuid,
        code_hash -> Bytea,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    one_time_tokens (token_hash) {
        token_hash -> Bytea,
        account_id -> Uuid,
        purpose -> Text,
        new_email -> Nullable<Text>,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    sign_ups (id) {
        id -> Uuid,
        email -> Text,
        account_id -> Nullable<Uuid>,
        clinic_name -> Text,
        given_name -> Text,
        family_name -> Text,
        password_hash -> Text,
        token_hash -> Bytea,
        token_expires_at -> Timestamptz,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    phone_challenges (account_id) {
        account_id -> Uuid,
        phone -> Text,
        code_hash -> Bytea,
        expires_at -> Timestamptz,
        attempts -> Int4,
        last_sent_at -> Timestamptz,
    }
}

diesel::table! {
    rate_limits (key) {
        key -> Text,
        window_started_at -> Timestamptz,
        hits -> Int4,
    }
}

diesel::table! {
    known_devices (account_id, fingerprint) {
        account_id -> Uuid,
        fingerprint -> Bytea,
        first_seen_at -> Timestamptz,
    }
}

diesel::table! {
    outbox (id) {
        id -> Uuid,
        channel -> Text,
        recipient -> Text,
        subject -> Text,
        body -> Text,
        created_at -> Timestamptz,
        available_at -> Timestamptz,
        attempts -> Int4,
        last_error -> Nullable<Text>,
        delivered_at -> Nullable<Timestamptz>,
        failed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    audit.events (id) {
        chain_id -> Uuid,
        seq -> Nullable<Int8>,
        id -> Uuid,
        clinic_id -> Nullable<Uuid>,
        occurred_at -> Timestamptz,
        account_id -> Nullable<Uuid>,
        membership_id -> Nullable<Uuid>,
        session_id -> Nullable<Uuid>,
        client_ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        request_id -> Nullable<Text>,
        action -> Text,
        resource_type -> Nullable<Text>,
        resource_id -> Nullable<Uuid>,
        outcome -> Text,
        details -> Text,
        prev_hash -> Nullable<Bytea>,
        hash -> Nullable<Bytea>,
        arrival -> Int8,
    }
}

diesel::table! {
    audit.checkpoints (chain_id, seq) {
        chain_id -> Uuid,
        seq -> Int8,
        clinic_id -> Nullable<Uuid>,
        hash -> Bytea,
        sealed_at -> Timestamptz,
        key_id -> Text,
        signature -> Bytea,
    }
}

diesel::table! {
    audit_chain_heads (chain_id) {
        chain_id -> Uuid,
        clinic_id -> Nullable<Uuid>,
        seq -> Int8,
        hash -> Bytea,
        checkpointed_seq -> Int8,
        next_maintenance_at -> Timestamptz,
        detected_seq -> Int8,
        prev_hash -> Nullable<Bytea>,
    }
}

diesel::table! {
    security_alerts (id) {
        id -> Uuid,
        clinic_id -> Nullable<Uuid>,
        kind -> Text,
        subject -> Text,
        dedup_key -> Text,
        event_count -> Int4,
        triggered_at -> Timestamptz,
        raised_at -> Timestamptz,
        details -> Text,
    }
}

diesel::table! {
    invitations (clinic_id, id) {
        clinic_id -> Uuid,
        id -> Uuid,
        email -> Text,
        role -> Text,
        token_hash -> Bytea,
        invited_by -> Uuid,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        accepted_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    custom_roles (clinic_id, id) {
        clinic_id -> Uuid,
        id -> Uuid,
        name -> Text,
        permissions -> Array<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::table! {
    membership_custom_roles (clinic_id, membership_id, role_id) {
        clinic_id -> Uuid,
        membership_id -> Uuid,
        role_id -> Uuid,
    }
}

diesel::table! {
    permission_overrides (clinic_id, membership_id, permission) {
        clinic_id -> Uuid,
        membership_id -> Uuid,
        permission -> Text,
        effect -> Text,
    }
}

diesel::table! {
    clinic_keys (clinic_id) {
        clinic_id -> Uuid,
        wrapped_data_key -> Bytea,
        wrapped_index_key -> Bytea,
        created_at -> Timestamptz,
        rewrapped_at -> Nullable<Timestamptz>,
        data_key_version -> Int4,
        data_key_created_at -> Nullable<Timestamptz>,
        retiring_data_key -> Nullable<Bytea>,
        retiring_data_key_version -> Nullable<Int4>,
        rotation_started_at -> Nullable<Timestamptz>,
        rotation_visible_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    patients (clinic_id, id) {
        clinic_id -> Uuid,
        id -> Uuid,
        family_name -> Text,
        given_name -> Text,
        birth_date -> Date,
        sex -> Text,
        national_id -> Nullable<Bytea>,
        national_id_index -> Nullable<Bytea>,
        phone -> Nullable<Text>,
        email -> Nullable<Text>,
        address -> Nullable<Jsonb>,
        emergency_contact -> Nullable<Jsonb>,
        preferred_language -> Nullable<Text>,
        reminder_email -> Bool,
        reminder_sms -> Bool,
        medical_history -> Nullable<Bytea>,
        archived_at -> Nullable<Timestamptz>,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        processing_restricted_at -> Nullable<Timestamptz>,
        records_archived_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    practitioners (clinic_id, membership_id) {
        clinic_id -> Uuid,
        membership_id -> Uuid,
        specialty -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    appointments (clinic_id, id) {
        clinic_id -> Uuid,
        id -> Uuid,
        patient_id -> Uuid,
        practitioner_id -> Uuid,
        starts_at -> Timestamptz,
        ends_at -> Timestamptz,
        reason -> Nullable<Bytea>,
        status -> Text,
        cancel_reason -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::table! {
    appointment_history (clinic_id, id) {
        clinic_id -> Uuid,
        id -> Uuid,
        appointment_id -> Uuid,
        at -> Timestamptz,
        actor_membership_id -> Uuid,
        change -> Jsonb,
        seq -> Int8,
    }
}

diesel::table! {
    queue_entries (clinic_id, id) {
        clinic_id -> Uuid,
        id -> Uuid,
        day -> Date,
        ticket -> Int4,
        patient_id -> Uuid,
        appointment_id -> Nullable<Uuid>,
        practitioner_id -> Nullable<Uuid>,
        status -> Text,
        checked_in_at -> Timestamptz,
        called_at -> Nullable<Timestamptz>,
        started_at -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
        version -> Int4,
    }
}

diesel::table! {
    clinical_notes (clinic_id, id) {
        clinic_id -> Uuid,
        id -> Uuid,
        patient_id -> Uuid,
        appointment_id -> Nullable<Uuid>,
        author_membership_id -> Uuid,
        amends_id -> Nullable<Uuid>,
        body -> Bytea,
        signed_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        seq -> Int8,
        version -> Int4,
    }
}

diesel::table! {
    practitioner_hours (clinic_id, membership_id, weekday, starts) {
        clinic_id -> Uuid,
        membership_id -> Uuid,
        weekday -> Int2,
        starts -> Time,
        ends -> Time,
    }
}

diesel::table! {
    practitioner_absences (clinic_id, id) {
        clinic_id -> Uuid,
        id -> Uuid,
        membership_id -> Uuid,
        starts_at -> Timestamptz,
        ends_at -> Timestamptz,
    }
}

diesel::table! {
    appointment_reminders (clinic_id, appointment_id, channel) {
        clinic_id -> Uuid,
        appointment_id -> Uuid,
        channel -> Text,
        outbox_id -> Uuid,
        scheduled_for -> Timestamptz,
    }
}

diesel::joinable!(memberships -> clinics (clinic_id));
diesel::joinable!(memberships -> accounts (account_id));
diesel::allow_tables_to_appear_in_same_query!(
    clinics,
    accounts,
    memberships,
    sessions,
    practitioners
);

diesel::table! {
    clinic_closures (clinic_id) {
        clinic_id -> Uuid,
        requested_by -> Uuid,
        requested_by_email -> Text,
        requested_at -> Timestamptz,
        due_at -> Timestamptz,
    }
}

diesel::table! {
    clinic_exports (clinic_id, id) {
        clinic_id -> Uuid,
        id -> Uuid,
        requested_by -> Uuid,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        recipient -> Nullable<Text>,
        sealed_passphrase -> Nullable<Bytea>,
        downloads -> Int4,
        last_manifest_sha256 -> Nullable<Text>,
    }
}

diesel::table! {
    idempotent_requests (clinic_id, id) {
        clinic_id -> Uuid,
        id -> Uuid,
        caller_id -> Uuid,
        key_sha256 -> Text,
        fingerprint -> Text,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        locked_until -> Nullable<Timestamptz>,
        answered_at -> Nullable<Timestamptz>,
        response_status -> Nullable<Int2>,
        response_headers -> Nullable<Jsonb>,
        response_body -> Nullable<Bytea>,
        patient_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    patient_erasure_requests (clinic_id, id) {
        clinic_id -> Uuid,
        id -> Uuid,
        patient_id -> Uuid,
        requested_by -> Uuid,
        requested_at -> Timestamptz,
        reason -> Text,
        decision -> Nullable<Text>,
        decided_by -> Nullable<Uuid>,
        decided_at -> Nullable<Timestamptz>,
        decision_reason -> Nullable<Text>,
    }
}

diesel::table! {
    patient_tombstones (clinic_id, erased_patient_id) {
        clinic_id -> Uuid,
        erased_patient_id -> Uuid,
        request_id -> Uuid,
        requested_by -> Uuid,
        decided_by -> Uuid,
        erased_at -> Timestamptz,
    }
}

diesel::table! {
    operators (id) {
        id -> Uuid,
        email -> Text,
        role -> Text,
        password_hash -> Nullable<Text>,
        totp_secret -> Nullable<Bytea>,
        totp_confirmed_at -> Nullable<Timestamptz>,
        totp_last_step -> Nullable<Int8>,
        enrolment_token_hash -> Nullable<Bytea>,
        enrolment_expires_at -> Nullable<Timestamptz>,
        failed_logins -> Int4,
        locked_until -> Nullable<Timestamptz>,
        ends_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        created_by -> Text,
    }
}

diesel::table! {
    operator_sessions (id) {
        id -> Uuid,
        operator_id -> Uuid,
        token_hash -> Bytea,
        created_at -> Timestamptz,
        last_seen_at -> Timestamptz,
        idle_expires_at -> Timestamptz,
        absolute_expires_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
    }
}

diesel::joinable!(operator_sessions -> operators (operator_id));
diesel::allow_tables_to_appear_in_same_query!(operators, operator_sessions);

diesel::table! {
    vulnerabilities (id) {
        id -> Uuid,
        advisory_id -> Text,
        package -> Text,
        version -> Text,
        title -> Text,
        kind -> Text,
        cvss_vector -> Nullable<Text>,
        cvss_score -> Nullable<Float8>,
        band -> Text,
        source -> Text,
        first_seen_at -> Timestamptz,
        last_seen_at -> Timestamptz,
        due_at -> Timestamptz,
        status -> Text,
        fixed_commit -> Nullable<Text>,
        accepted_reason -> Nullable<Text>,
        accepted_until -> Nullable<Timestamptz>,
        resolved_by -> Nullable<Text>,
        resolved_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    secret_inventory (kind, key_id) {
        kind -> Text,
        key_id -> Text,
        first_seen_at -> Timestamptz,
        last_seen_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_endpoints (clinic_id, id) {
        clinic_id -> Uuid,
        id -> Uuid,
        url -> Text,
        description -> Text,
        event_types -> Array<Text>,
        enabled -> Bool,
        disabled_at -> Nullable<Timestamptz>,
        disabled_reason -> Nullable<Text>,
        sealed_secret -> Bytea,
        sealed_previous_secret -> Nullable<Bytea>,
        previous_secret_expires_at -> Nullable<Timestamptz>,
        failing_since -> Nullable<Timestamptz>,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_deliveries (clinic_id, endpoint_id, event_id) {
        clinic_id -> Uuid,
        endpoint_id -> Uuid,
        event_id -> Uuid,
        seq -> Int8,
        event_type -> Text,
        resource_id -> Uuid,
        patient_id -> Nullable<Uuid>,
        payload -> Text,
        created_at -> Timestamptz,
        state -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        give_up_at -> Timestamptz,
        last_attempt_at -> Nullable<Timestamptz>,
        last_status -> Nullable<Int4>,
        last_error -> Nullable<Text>,
        delivered_at -> Nullable<Timestamptz>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(webhook_endpoints, webhook_deliveries, clinics);
