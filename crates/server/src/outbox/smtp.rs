//! The SMTP email provider (lettre's synchronous transport, rustls with ring).
//!
//! One connection per message: the outbox carries a few account emails, not bulk
//! mail, so a pool (and its background thread) would buy nothing.

use std::fmt;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::{SmtpTransport, Transport};
use salus_domain::outbox::{Deliver, PendingMessage};
use secrecy::{ExposeSecret, SecretString};

/// How long one SMTP command may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Delivers emails through the SMTP server of `SMTP_URL`, from `SMTP_FROM`.
pub struct SmtpProvider {
    transport: SmtpTransport,
    from: Mailbox,
}

impl fmt::Debug for SmtpProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The transport holds the credentials: only the sender is shown.
        f.debug_struct("SmtpProvider")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpProvider {
    /// A provider for `url` (`smtps://user:pass@host:465`, `smtp://host:587?tls=required`,
    /// `smtp://127.0.0.1:25`), sending as `from`. Nothing connects until a message
    /// is sent. Errors never contain the URL.
    pub fn new(url: &SecretString, from: &str) -> Result<Self, String> {
        let transport = SmtpTransport::from_url(url.expose_secret())
            .map_err(|e| format!("SMTP_URL cannot be used: {e}"))?
            .timeout(Some(TIMEOUT))
            .build();
        let from = from
            .parse()
            .map_err(|e| format!("SMTP_FROM is not an address: {e}"))?;
        Ok(Self { transport, from })
    }

    fn message(&self, m: &PendingMessage) -> Result<Message, String> {
        let to: Mailbox = m
            .recipient
            .parse()
            .map_err(|e| format!("the recipient is not an email address: {e}"))?;
        Message::builder()
            // The outbox id makes retries of one message recognisable downstream.
            .message_id(Some(format!("<{}@{}>", m.id, self.from.email.domain())))
            .from(self.from.clone())
            .to(to)
            .subject(m.subject.as_str())
            .header(ContentType::TEXT_PLAIN)
            .body(m.body.clone())
            .map_err(|e| format!("cannot build the email: {e}"))
    }
}

impl Deliver for SmtpProvider {
    fn deliver(&self, m: &PendingMessage) -> Result<(), String> {
        let email = self.message(m)?;
        // lettre's errors carry the server's reply, never the message itself.
        self.transport
            .send(&email)
            .map(|_| ())
            .map_err(|e| format!("SMTP delivery failed: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use salus_domain::outbox::Channel;

    use super::*;

    fn message(recipient: &str) -> PendingMessage {
        PendingMessage {
            id: salus_domain::ids::OutboxMessageId(uuid::Uuid::now_v7()),
            channel: Channel::Email,
            recipient: recipient.to_owned(),
            subject: "Reset your Salus password".to_owned(),
            body: "Your code is 123456".to_owned(),
            attempts: 0,
        }
    }

    #[test]
    fn builds_a_plain_text_email_with_the_outbox_id() {
        let provider = SmtpProvider::new(
            &SecretString::from("smtp://127.0.0.1:2525"),
            "Salus <no-reply@clinic.test>",
        )
        .unwrap();
        let m = message("ada@clinic.test");
        let text = String::from_utf8(provider.message(&m).unwrap().formatted()).unwrap();
        assert!(
            text.contains("From: Salus <no-reply@clinic.test>"),
            "{text}"
        );
        assert!(text.contains("To: ada@clinic.test"), "{text}");
        assert!(
            text.contains("Subject: Reset your Salus password"),
            "{text}"
        );
        assert!(
            text.contains(&format!("Message-ID: <{}@clinic.test>", m.id)),
            "{text}"
        );
        assert!(text.contains("Content-Type: text/plain"), "{text}");
        assert!(text.contains("Your code is 123456"), "{text}");
    }

    #[test]
    fn a_bad_recipient_is_an_error_and_bad_settings_are_refused() {
        let provider = SmtpProvider::new(
            &SecretString::from("smtp://127.0.0.1:2525"),
            "a@clinic.test",
        )
        .unwrap();
        assert!(provider.deliver(&message("not an address")).is_err());
        assert!(SmtpProvider::new(&SecretString::from("smtp://127.0.0.1"), "nobody").is_err());
        let err = SmtpProvider::new(
            &SecretString::from("gopher://u:secret-pass@host"),
            "a@clinic.test",
        )
        .unwrap_err();
        assert!(!err.contains("secret-pass"), "{err}");
    }

    #[test]
    fn debug_output_hides_the_credentials() {
        let provider = SmtpProvider::new(
            &SecretString::from("smtps://user:secret-pass@mail.clinic.test"),
            "a@clinic.test",
        )
        .unwrap();
        assert!(!format!("{provider:?}").contains("secret-pass"));
    }
}
