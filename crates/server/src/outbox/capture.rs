//! The capture provider: keeps delivered messages in memory, for tests.

use std::sync::{Arc, Mutex, PoisonError};

use salus_domain::outbox::{Deliver, PendingMessage};

/// Keeps every message it is given; clones share one list, so a test keeps a
/// handle while the worker holds another.
#[derive(Debug, Clone, Default)]
pub struct CaptureProvider {
    messages: Arc<Mutex<Vec<PendingMessage>>>,
}

impl CaptureProvider {
    /// An empty capture.
    pub fn new() -> Self {
        Self::default()
    }

    /// The messages delivered so far, oldest first.
    pub fn messages(&self) -> Vec<PendingMessage> {
        self.messages
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Deliver for CaptureProvider {
    fn deliver(&self, message: &PendingMessage) -> Result<(), String> {
        self.messages
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(message.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use salus_domain::outbox::Channel;

    use super::*;

    #[test]
    fn clones_share_what_was_delivered() {
        let capture = CaptureProvider::new();
        let handle = capture.clone();
        let message = PendingMessage {
            id: salus_domain::ids::OutboxMessageId(uuid::Uuid::now_v7()),
            channel: Channel::Sms,
            recipient: "+33612345678".to_owned(),
            subject: String::new(),
            body: "Your code is 123456".to_owned(),
            attempts: 0,
        };
        assert_eq!(capture.deliver(&message), Ok(()));
        assert_eq!(handle.messages(), vec![message]);
    }
}
