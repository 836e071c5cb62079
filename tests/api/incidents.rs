//! The incident register (issue 16, N1), driven by the injected clock: a P1's
//! 4-hour deadline at its boundary, a confirmed breach's two 72-hour deadlines,
//! the authority's notification, the clinics' notification (every element
//! GDPR articles 33 and 34 ask for, one email per owner and administrator,
//! each delivery recorded), the owners' read and its audit entry, another
//! clinic seeing nothing, the post-mortem required to close, `/metrics`, and
//! the alert an overdue deadline raises, and a support operator refused every
//! change.

use chrono::Duration;
use salus_domain::ports::operators::OperatorRole;
use salus_tests::{TestApp, metric_value};
use serde_json::{Value, json};

async fn json_of(answer: reqwest::Response, status: u16) -> Value {
    let got = answer.status().as_u16();
    let body = answer.text().await.unwrap();
    assert_eq!(got, status, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn deadline<'a>(incident: &'a Value, kind: &str) -> &'a Value {
    incident["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} deadline: {incident}"))
}

async fn overdue_metric(app: &TestApp) -> Option<f64> {
    metric_value(
        &app.scrape_metrics().await,
        "salus_incident_deadline_overdue",
    )
}

#[tokio::test]
async fn an_incidents_life_cycle_runs_against_its_deadlines() {
    let app = TestApp::spawn_with(&[("METRICS_BIND", "127.0.0.1:0")]).await;
    let mut owner = app.owner_with_mfa("Affected Clinic").await;
    let admin = app.join_as(&owner, "administrator").await;
    let mut other = app.owner_with_mfa("Unaffected Clinic").await;
    let clinic = app.me(&owner).await["clinic"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other_clinic = app.me(&other).await["clinic"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (manager_otp, mut manager) = app
        .operator("im@ops.example", OperatorRole::IncidentManager)
        .await;
    // Signed in again after each wait: sessions end after 15 idle minutes.
    let (support_otp, _) = app.operator("sup@ops.example", OperatorRole::Support).await;

    // A P1: the clinics are due a notification within 4 hours.
    let declared = app
        .post_json_as(
            &manager,
            "/api/v1/platform/incidents",
            &json!({"title": "Appointment service exposed", "severity": "P1",
                    "clinic_ids": [clinic], "personal_data": "suspected",
                    "text": "An open bucket was reported."}),
        )
        .await;
    let incident = json_of(declared, 201).await;
    let id = incident["id"].as_str().unwrap().to_owned();
    let path = |tail: &str| format!("/api/v1/platform/incidents/{id}{tail}");
    let p1 = deadline(&incident, "clinics_p1");
    assert_eq!(p1["overdue"], false);
    assert!(
        incident["deadlines"].as_array().unwrap().len() == 1,
        "{incident}"
    );
    assert_eq!(incident["timeline"][0]["kind"], "declared");
    let read = |token: String, p: String| {
        let app = &app;
        async move { json_of(app.get_as(&token, &p).await, 200).await }
    };
    app.clock.advance(Duration::hours(4) - Duration::seconds(1));
    let support = app.operator_sign_in("sup@ops.example", &support_otp).await;
    let now = read(support.clone(), path("")).await;
    assert_eq!(
        deadline(&now, "clinics_p1")["overdue"],
        false,
        "one second before"
    );
    assert_eq!(overdue_metric(&app).await, Some(0.0));
    let overdue_alerts = |round: salus::audit_job::RoundReport| {
        round
            .alerts
            .into_iter()
            .filter(|a| a.kind == "incident_deadline_overdue")
            .map(|a| a.subject)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        overdue_alerts(app.audit_round().await),
        Vec::<String>::new()
    );
    app.clock.advance(Duration::seconds(2));
    manager = app.operator_sign_in("im@ops.example", &manager_otp).await;
    let now = read(support.clone(), path("")).await;
    assert_eq!(
        deadline(&now, "clinics_p1")["overdue"],
        true,
        "one second after"
    );
    assert_eq!(overdue_metric(&app).await, Some(1.0));
    assert_eq!(
        overdue_alerts(app.audit_round().await),
        [format!("incident {id} (clinics_p1)")],
        "an overdue deadline raises an alert"
    );
    assert_eq!(
        overdue_alerts(app.audit_round().await),
        Vec::<String>::new(),
        "once"
    );

    // Support reads, and changes nothing.
    for (tail, body) in [
        ("/breach", json!({})),
        ("/entries", json!({"text": "x"})),
        ("/status", json!({"status": "contained"})),
        ("/evidence", json!({})),
    ] {
        let refused = app.post_json_as(&support, &path(tail), &body).await;
        assert_eq!(refused.status(), 403, "{tail}");
    }

    // The breach is confirmed: clinics and authority within 72 hours.
    let confirmed = json_of(
        app.post_json_as(&manager, &path("/breach"), &json!({}))
            .await,
        200,
    )
    .await;
    assert_eq!(confirmed["personal_data"], "confirmed");
    let aware = confirmed["aware_at"].as_str().unwrap().to_owned();
    let aware_at: chrono::DateTime<chrono::Utc> = aware.parse().unwrap();
    for kind in ["clinics_breach", "authority"] {
        let d = deadline(&confirmed, kind);
        let due: chrono::DateTime<chrono::Utc> = d["due_at"].as_str().unwrap().parse().unwrap();
        assert_eq!(due - aware_at, Duration::hours(72), "{kind}");
        assert_eq!(d["overdue"], false);
    }

    // The clinics are notified: one email per owner and administrator.
    let notice = json!({"nature": "NATURE-Exposed bucket", "categories_and_numbers": "CATEGORIES-120 patients",
                        "likely_consequences": "CONSEQUENCES-phishing", "measures_taken": "MEASURES-bucket closed",
                        "contact": "CONTACT-security@salus.example"});
    let notified = json_of(
        app.post_json_as(&manager, &path("/notifications"), &notice)
            .await,
        200,
    )
    .await;
    assert!(
        notified["clinics"][0]["notified_at"].is_string(),
        "{notified}"
    );
    assert!(
        notified["timeline"].as_array().unwrap().iter().any(
            |e| e["kind"] == "notification" && e["text"].as_str().unwrap().contains("2 owners")
        ),
        "{notified}"
    );
    assert!(deadline(&notified, "clinics_p1")["met_at"].is_string());
    assert!(deadline(&notified, "clinics_breach")["met_at"].is_string());
    for member in [&owner, &admin] {
        let mail = app.outbox(&member.email);
        let (_, body) = mail
            .iter()
            .find(|(subject, _)| subject.contains("incident notification"))
            .unwrap_or_else(|| panic!("{} was not emailed: {mail:?}", member.email));
        for element in [
            "NATURE-",
            "CATEGORIES-",
            "CONSEQUENCES-",
            "MEASURES-",
            "CONTACT-",
        ] {
            assert!(body.contains(element), "{element} missing: {body}");
        }
    }
    assert!(
        app.outbox(&other.email)
            .iter()
            .all(|(s, _)| !s.contains("incident notification")),
        "the unaffected clinic is not emailed"
    );

    // The authority's deadline runs out, then is met.
    app.clock
        .advance(Duration::hours(72) + Duration::seconds(1));
    app.clock.advance(Duration::seconds(60));
    manager = app.operator_sign_in("im@ops.example", &manager_otp).await;
    app.sign_in_again(&mut owner).await;
    app.sign_in_again(&mut other).await;
    let late = read(manager.clone(), path("")).await;
    assert_eq!(deadline(&late, "authority")["overdue"], true);
    assert_eq!(overdue_metric(&app).await, Some(1.0));
    let recorded = app
        .post_json_as(
            &manager,
            &path("/authority-notification"),
            &json!({"at": app.now(), "reference": "DPA-2031-0042"}),
        )
        .await;
    let recorded = json_of(recorded, 200).await;
    assert_eq!(recorded["authority_reference"], "DPA-2031-0042");
    assert_eq!(deadline(&recorded, "authority")["overdue"], false);
    assert_eq!(overdue_metric(&app).await, Some(0.0));

    // Evidence: the clinic's audit export, hashed.
    let kept = json_of(
        app.post_json_as(&manager, &path("/evidence"), &json!({}))
            .await,
        200,
    )
    .await;
    assert_eq!(kept["evidence"][0]["sha256"].as_str().unwrap().len(), 64);
    assert!(kept["evidence"][0]["events"].as_i64().unwrap() > 0);

    // The owners read it, with what they were told; the read is audited.
    let theirs = read(owner.access.clone(), "/api/v1/incidents".into()).await;
    assert_eq!(theirs.as_array().unwrap().len(), 1, "{theirs}");
    assert_eq!(theirs[0]["id"], id.as_str());
    assert_eq!(theirs[0]["notice"]["nature"], "NATURE-Exposed bucket");
    assert!(!theirs.to_string().contains(&other_clinic));
    let trail = read(
        owner.access.clone(),
        "/api/v1/audit-events?action=incident.clinic_list_read".into(),
    )
    .await;
    assert_eq!(trail["items"].as_array().unwrap().len(), 1, "{trail}");
    let told = read(
        owner.access.clone(),
        "/api/v1/audit-events?action=incident.clinic_notified".into(),
    )
    .await;
    assert_eq!(told["items"].as_array().unwrap().len(), 1, "{told}");
    let none = read(other.access.clone(), "/api/v1/incidents".into()).await;
    assert_eq!(none, json!([]), "another clinic sees nothing");

    // Closing needs the post-mortem.
    let closing = json!({"status": "closed"});
    let refused = app.post_json_as(&manager, &path("/status"), &closing).await;
    let refused = json_of(refused, 409).await;
    assert_eq!(refused["code"], "postmortem_required");
    let pm = app
        .client
        .post(format!("{}{}", app.url, path("/postmortem")))
        .bearer_auth(&manager)
        .json(&json!({"root_cause": "A public ACL.", "preventive_measures": "ACLs are checked in CI."}))
        .send()
        .await
        .unwrap();
    assert_eq!(pm.status(), 200);
    let closed = json_of(
        app.post_json_as(&manager, &path("/status"), &closing).await,
        200,
    )
    .await;
    assert_eq!(closed["status"], "closed");
    assert!(closed["closed_at"].is_string());
    let after = app
        .post_json_as(&manager, &path("/entries"), &json!({"text": "late"}))
        .await;
    assert_eq!(after.status(), 409, "a closed incident no longer changes");

    // Every operator action is in the platform chain.
    let mut su = app.db.superuser();
    for action in [
        "incident.declared",
        "incident.breach_confirmed",
        "incident.clinic_notified",
        "incident.authority_notified",
        "incident.evidence_preserved",
        "incident.postmortem_recorded",
        "incident.status_changed",
        "incident.read",
    ] {
        let n = salus_tests::catalogue::count(
            &mut su,
            &format!(
                "SELECT count(*) AS n FROM audit.events WHERE action = '{action}' AND clinic_id IS NULL"
            ),
        );
        assert!(n >= 1, "{action} is in the platform chain");
    }
}
