//! Messages to people (email, SMS), queued in the transaction of the action that
//! causes them and delivered later by a worker. They never carry health data.

use crate::ids::OutboxMessageId;
use chrono::{DateTime, Utc};

use crate::DomainError;

/// How a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// An email.
    Email,
    /// A text message.
    Sms,
    /// A signed JSON POST to the platform's security webhook.
    Webhook,
}

impl Channel {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
            Self::Webhook => "webhook",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Email, Self::Sms, Self::Webhook]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// A message to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// Its id.
    pub id: OutboxMessageId,
    /// Email or SMS.
    pub channel: Channel,
    /// Email address or E.164 phone number.
    pub recipient: String,
    /// Subject (emails).
    pub subject: String,
    /// Plain-text body.
    pub body: String,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// Not delivered before this instant.
    pub available_at: DateTime<Utc>,
}

/// Where a queued message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting for its time or a retry.
    Pending,
    /// Delivered.
    Delivered,
    /// Given up after repeated failures.
    Failed,
}

impl DeliveryStatus {
    /// The published name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }
}

/// A queued message claimed for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingMessage {
    /// Its id.
    pub id: OutboxMessageId,
    /// Email or SMS.
    pub channel: Channel,
    /// Email address or phone number.
    pub recipient: String,
    /// Subject.
    pub subject: String,
    /// Body.
    pub body: String,
    /// Attempts so far.
    pub attempts: i32,
}

/// Storage of the outbox.
pub trait OutboxRepo {
    /// Queues a message.
    fn enqueue(&mut self, message: &NewMessage) -> Result<(), DomainError>;
    /// Withdraws a message not yet delivered; false when it was delivered or gone.
    fn withdraw(&mut self, id: OutboxMessageId) -> Result<bool, DomainError>;
    /// Where a message stands (None when withdrawn).
    fn delivery_status(
        &mut self,
        id: OutboxMessageId,
    ) -> Result<Option<DeliveryStatus>, DomainError>;
}

/// Delivers one message (SMTP, SMS gateway, file, capture).
pub trait Deliver: Send + Sync {
    /// Sends it; an error is retried later with back-off.
    fn deliver(&self, message: &PendingMessage) -> Result<(), String>;
}
