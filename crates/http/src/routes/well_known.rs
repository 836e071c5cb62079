//! `/.well-known/security.txt` (RFC 9116): where to report a vulnerability.

use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, get, web};
use chrono::{Duration, SecondsFormat};

use crate::state::{HttpSettings, Ports};

/// How far ahead the `Expires` field points (RFC 9116 advises less than a year).
const SECURITY_TXT_VALIDITY_DAYS: i64 = 180;

/// Renders security.txt for the given settings and time.
pub fn security_txt(settings: &HttpSettings, now: chrono::DateTime<chrono::Utc>) -> String {
    let expires = (now + Duration::days(SECURITY_TXT_VALIDITY_DAYS))
        .to_rfc3339_opts(SecondsFormat::Secs, true);
    format!(
        "Contact: {contact}\nExpires: {expires}\nPreferred-Languages: en\nCanonical: {base}/.well-known/security.txt\n",
        contact = settings.security_contact,
        base = settings.public_url,
    )
}

/// The responsible-disclosure contact, per RFC 9116.
#[utoipa::path(
    operation_id = "well_known_security_txt",
    tag = "health",
    summary = "Security contact (RFC 9116)",
    description = "Where to report a vulnerability: Contact, Expires, Preferred-Languages and Canonical.",
    security(()),
    responses(
        (status = 200, description = "security.txt", body = String, content_type = "text/plain"),
    )
)]
#[get("/.well-known/security.txt")]
pub async fn security_txt_route(
    settings: web::Data<HttpSettings>,
    ports: web::Data<Ports>,
) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::plaintext())
        .body(security_txt(&settings, ports.clock.now()))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn has_every_required_field() {
        let settings = HttpSettings {
            json_limit: 1,
            cors_allowed_origins: vec![],
            security_contact: "mailto:security@clinic.test".to_owned(),
            public_url: "https://api.clinic.test".to_owned(),
            trust_proxy_tls: false,
        };
        let now = chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let text = security_txt(&settings, now);
        assert!(text.contains("Contact: mailto:security@clinic.test\n"));
        assert!(text.contains("Expires: 2026-06-30T00:00:00Z\n"));
        assert!(text.contains("Preferred-Languages: en"));
        assert!(text.contains("Canonical: https://api.clinic.test/.well-known/security.txt\n"));
    }
}
