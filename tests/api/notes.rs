//! Clinical notes: drafts, signing, immutability (also in the database),
//! amendments, access, and encryption at rest.

use diesel::prelude::*;
use diesel::sql_types::Text;
use salus_tests::TestApp;
use serde_json::{Value, json};

const NOTE: &str = "Auscultation: QUOKKA-MARKER-9913 wheezing, left base.";

#[tokio::test]
async fn a_signed_note_is_immutable_and_amendments_are_kept_in_order() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Notes Clinic").await;
    let pid = app
        .patient(&owner, json!({"family_name": "Holmes", "given_name": "Sam", "birth_date": "1980-01-01", "sex": "male"}))
        .await
        .id;
    let draft: Value = app
        .post(&format!("/api/v1/patients/{pid}/notes"))
        .bearer_auth(&owner.access)
        .json(&json!({"body": "first draft"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = draft["id"].as_str().unwrap().to_owned();
    assert!(draft["signed_at"].is_null());
    let edit = |body: Value| {
        app.client
            .put(format!("{}/api/v1/notes/{id}", app.url))
            .header("if-match", "*")
            .bearer_auth(&owner.access)
            .json(&body)
            .send()
    };
    assert_eq!(edit(json!({"body": NOTE})).await.unwrap().status(), 200);
    let signed: Value = edit(json!({"sign": true}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(signed["signed_at"].is_string(), "{signed}");
    let refused = edit(json!({"body": "rewrite history"})).await.unwrap();
    assert_eq!(refused.status(), 409);

    let amendment = app
        .post(&format!("/api/v1/notes/{id}/amendments"))
        .bearer_auth(&owner.access)
        .json(&json!({"body": "Correction: right base, not left."}))
        .send()
        .await
        .unwrap();
    assert_eq!(amendment.status(), 201);
    let list: Value = app
        .get_as(&owner.access, &format!("/api/v1/patients/{pid}/notes"))
        .await
        .json()
        .await
        .unwrap();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["body"], NOTE);
    assert_eq!(items[1]["amends_id"], id.as_str());

    let receptionist = app.join_as(&owner, "receptionist").await;
    assert_eq!(
        app.get_as(
            &receptionist.access,
            &format!("/api/v1/patients/{pid}/notes")
        )
        .await
        .status(),
        403
    );

    // The database refuses too: the API role cannot change a signed note or delete one.
    let mut conn = PgConnection::establish(&app.db.api_url()).unwrap();
    let clinic = app.me(&owner).await["clinic"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let update = conn.transaction::<_, diesel::result::Error, _>(|conn| {
        diesel::sql_query("SELECT set_config('app.clinic_id', $1, true)")
            .bind::<Text, _>(&clinic)
            .execute(conn)?;
        diesel::sql_query("UPDATE clinical_notes SET signed_at = NULL").execute(conn)
    });
    assert!(
        update.unwrap_err().to_string().contains("is signed"),
        "the trigger refused"
    );
    let delete = conn.transaction::<_, diesel::result::Error, _>(|conn| {
        diesel::sql_query("SELECT set_config('app.clinic_id', $1, true)")
            .bind::<Text, _>(&clinic)
            .execute(conn)?;
        diesel::sql_query("DELETE FROM clinical_notes").execute(conn)
    });
    assert!(
        delete
            .unwrap_err()
            .to_string()
            .contains("permission denied")
    );

    // And the text is not stored in clear.
    #[derive(QueryableByName)]
    struct Raw {
        #[diesel(sql_type = Text)]
        whole: String,
    }
    let mut admin = app.db.superuser();
    let raw: Vec<Raw> = diesel::sql_query("SELECT n::text AS whole FROM clinical_notes n")
        .load(&mut admin)
        .unwrap();
    assert!(raw.iter().all(|r| !r.whole.contains("QUOKKA-MARKER-9913")));
}
