//! The walk's platform: an operator enrols, signs in, reads the clinics and runs
//! an incident through the register, then signs out.

use chrono::{Duration, SecondsFormat};
use salus_domain::ports::operators::OperatorRole;
use salus_tests::operators::OPERATOR_PASSWORD;
use serde_json::json;

use super::walker::{Actor, Caller, Walk};

/// Walks every operator operation; `clinic` is the incident's clinic.
pub async fn walk(walk: &Walk<'_>, clinic: &str) {
    let app = walk.app;
    let email = "walker@ops.example";
    let code = app
        .add_operator(
            email,
            OperatorRole::IncidentManager,
            app.now() + Duration::days(30),
        )
        .await;
    let anonymous = Caller::anonymous(Actor::Nobody);
    let started = walk
        .call("platform_enrolment_start", &anonymous)
        .set("token", json!(code))
        .set("password", json!(OPERATOR_PASSWORD))
        .send()
        .await;
    let otpauth = started["otpauth_uri"].as_str().unwrap().to_owned();
    // The operator is not signed in yet: the event names them as its resource.
    walk.call("platform_enrolment_confirm", &anonymous)
        .on(&walk.operator_id(email))
        .set("token", json!(code))
        .set("code", json!(app.totp_code(&otpauth, 0)))
        .send()
        .await;
    let signed_in = walk
        .call(
            "platform_login",
            &Caller::anonymous(Actor::Operator(email.to_owned())),
        )
        .set("email", json!(email))
        .set("code", json!(app.totp_code(&otpauth, 1)))
        .send()
        .await;
    let by = Caller {
        token: signed_in["access_token"].as_str().unwrap().to_owned(),
        actor: Actor::Operator(email.to_owned()),
    };

    walk.call("platform_clinics_list", &by).send().await;
    walk.call("platform_clinics_read", &by)
        .id(clinic)
        .send()
        .await;
    let incident = walk
        .call("platform_incidents_declare", &by)
        .set("clinic_ids", json!([clinic]))
        .created()
        .send()
        .await;
    let incident = incident["id"].as_str().unwrap().to_owned();
    walk.call("platform_incidents_list", &by).send().await;
    let now = app.now().to_rfc3339_opts(SecondsFormat::Secs, true);
    for operation in [
        "platform_incidents_read",
        "platform_incidents_entry",
        "platform_incidents_status",
        "platform_incidents_breach",
        "platform_incidents_notify",
        "platform_incidents_evidence",
        "platform_incidents_postmortem",
    ] {
        walk.call(operation, &by).id(&incident).send().await;
    }
    walk.call("platform_incidents_authority", &by)
        .id(&incident)
        .set("at", json!(now))
        .send()
        .await;
    walk.call("platform_logout", &by).send().await;
}
