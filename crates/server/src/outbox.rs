//! The outbox delivery worker and its providers.
//!
//! Every provider implements [`Deliver`]; [`ByChannel`] routes each message to the
//! email or the SMS provider the configuration chose ([`providers`]):
//!
//! | provider | channel | for |
//! |---|---|---|
//! | [`FileProvider`] | both | development: files under `OUTBOX_DIR` a developer reads |
//! | [`SmtpProvider`] | email | `OUTBOX_EMAIL_PROVIDER=smtp` |
//! | [`SmsGatewayProvider`] | SMS | `OUTBOX_SMS_PROVIDER=gateway` |
//! | [`CaptureProvider`] | both | tests: keeps messages in memory |
//!
//! Providers never log a message's body (it may hold a code) nor their secrets.

mod capture;
mod sms_gateway;
mod smtp;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use salus_domain::Clock;
use salus_domain::outbox::{Channel, Deliver, PendingMessage};
use salus_persistence::DbPool;
use salus_persistence::outbox_repo::deliver_due;

pub use capture::CaptureProvider;
pub use sms_gateway::{SmsGatewayProvider, signature};
pub use smtp::SmtpProvider;

use crate::config::{Config, EmailDelivery, SmsDelivery};

/// Development provider: writes each message to a file a developer can read
/// (codes included), one file per message.
#[derive(Debug, Clone)]
pub struct FileProvider {
    /// Directory for the files.
    pub dir: PathBuf,
}

impl Deliver for FileProvider {
    fn deliver(&self, m: &PendingMessage) -> Result<(), String> {
        std::fs::create_dir_all(&self.dir).map_err(|e| e.to_string())?;
        let channel = m.channel.as_str();
        let text = format!(
            "channel: {channel}\nto: {}\nsubject: {}\n\n{}",
            m.recipient, m.subject, m.body
        );
        std::fs::write(self.dir.join(format!("{}-{channel}.txt", m.id)), text)
            .map_err(|e| e.to_string())
    }
}

/// Routes each message by its channel to the email or the SMS provider.
#[derive(Clone)]
pub struct ByChannel {
    /// Delivers emails.
    pub email: Arc<dyn Deliver>,
    /// Delivers text messages.
    pub sms: Arc<dyn Deliver>,
    /// Delivers security alerts to the platform's webhook.
    pub webhook: Arc<dyn Deliver>,
}

impl Deliver for ByChannel {
    fn deliver(&self, message: &PendingMessage) -> Result<(), String> {
        match message.channel {
            Channel::Email => self.email.deliver(message),
            Channel::Sms => self.sms.deliver(message),
            Channel::Webhook => self.webhook.deliver(message),
        }
    }
}

/// The providers the configuration selects (`OUTBOX_EMAIL_PROVIDER`,
/// `OUTBOX_SMS_PROVIDER`); the gateway's timestamps come from `clock`.
pub fn providers(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<ByChannel> {
    let file = || -> Arc<dyn Deliver> {
        Arc::new(FileProvider {
            dir: config.outbox_dir.clone(),
        })
    };
    let email = match &config.email_delivery {
        EmailDelivery::File => file(),
        EmailDelivery::Smtp { url, from } => {
            Arc::new(SmtpProvider::new(url, from).map_err(|e| anyhow!(e))?)
        }
    };
    let sms = match &config.sms_delivery {
        SmsDelivery::File => file(),
        SmsDelivery::Gateway { url, secret } => Arc::new(SmsGatewayProvider::new(
            url.clone(),
            secret.clone(),
            clock.clone(),
        )),
    };
    let webhook: Arc<dyn Deliver> = match &config.security_webhook {
        Some((url, secret)) => Arc::new(SmsGatewayProvider::new(
            url.clone(),
            secret.clone(),
            clock.clone(),
        )),
        None => file(),
    };
    Ok(ByChannel {
        email,
        sms,
        webhook,
    })
}

/// Messages claimed per round.
const BATCH: i64 = 50;

/// Runs the delivery worker until the process ends: every `every`, claim due
/// messages (`FOR UPDATE SKIP LOCKED`, safe on every node) and deliver them.
pub fn spawn_worker(
    pool: DbPool,
    clock: Arc<dyn Clock>,
    provider: Arc<dyn Deliver>,
    every: Duration,
) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        loop {
            ticker.tick().await;
            let (pool, clock, provider) = (pool.clone(), clock.clone(), provider.clone());
            let round = tokio::task::spawn_blocking(move || {
                deliver_due(&pool, clock.now(), BATCH, &|m| provider.deliver(m))
            })
            .await;
            match round {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => tracing::info!(delivered = n, "outbox delivered messages"),
                Ok(Err(e)) => tracing::warn!(error = %e, "outbox round failed"),
                Err(e) => tracing::error!(error = %e, "outbox round panicked"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(channel: Channel) -> PendingMessage {
        PendingMessage {
            id: salus_domain::ids::OutboxMessageId(uuid::Uuid::now_v7()),
            channel,
            recipient: "someone".to_owned(),
            subject: "Subject".to_owned(),
            body: "Body".to_owned(),
            attempts: 0,
        }
    }

    #[test]
    fn by_channel_routes_emails_texts_and_webhooks_apart() {
        let (emails, texts, hooks) = (
            CaptureProvider::new(),
            CaptureProvider::new(),
            CaptureProvider::new(),
        );
        let router = ByChannel {
            email: Arc::new(emails.clone()),
            sms: Arc::new(texts.clone()),
            webhook: Arc::new(hooks.clone()),
        };
        let (email, sms, hook) = (
            message(Channel::Email),
            message(Channel::Sms),
            message(Channel::Webhook),
        );
        router.deliver(&email).unwrap();
        router.deliver(&sms).unwrap();
        router.deliver(&hook).unwrap();
        assert_eq!(emails.messages(), vec![email]);
        assert_eq!(texts.messages(), vec![sms]);
        assert_eq!(hooks.messages(), vec![hook]);
    }

    #[test]
    fn the_file_provider_writes_one_readable_file_per_message() {
        let dir = std::env::temp_dir().join(format!("salus-outbox-{}", uuid::Uuid::now_v7()));
        let provider = FileProvider { dir: dir.clone() };
        let sms = message(Channel::Sms);
        provider.deliver(&sms).unwrap();
        let text = std::fs::read_to_string(dir.join(format!("{}-sms.txt", sms.id))).unwrap();
        assert!(
            text.contains("to: someone") && text.ends_with("Body"),
            "{text}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
