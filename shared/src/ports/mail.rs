//! Sending mail: SES in AWS, `.eml` files in the local gateway's outbox.

use async_trait::async_trait;

/// A message ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail<'a> {
    /// Envelope sender.
    pub from: &'a str,
    /// Envelope recipient.
    pub to: &'a str,
    /// The complete MIME message.
    pub raw: &'a [u8],
    /// A stable name for this message (ticket number and recipient), for files and logs.
    pub name: &'a str,
}

/// What the mail service did with a message it accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sent {
    /// The `Message-ID` the service gave the message in place of its own (SES replaces every
    /// one), which replies and later mails in the thread must name; `None` when the message
    /// went out with its own.
    pub message_id: Option<String>,
}

/// Why a send failed; every failure is retried until the attempts run out.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("mail not sent: {0}")]
pub struct MailError(pub String);

/// Hands messages to a mail service.
#[async_trait]
pub trait MailTransport: Send + Sync {
    /// Sends one message; `Ok` means the service accepted it.
    async fn send(&self, mail: &OutgoingMail<'_>) -> Result<Sent, MailError>;
}
