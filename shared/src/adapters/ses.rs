//! Mail through Amazon SES v2, sending the MIME message as built (raw content).

use async_trait::async_trait;
use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::error::DisplayErrorContext;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};

use crate::ports::{MailError, MailTransport, OutgoingMail, Sent};

/// The SES v2 transport.
#[derive(Clone, Debug)]
pub struct Ses {
    client: Client,
}

impl Ses {
    /// A transport with a client built from the shared SDK configuration.
    pub fn from_sdk(sdk: &aws_config::SdkConfig) -> Self {
        Self { client: Client::new(sdk) }
    }

    /// Creates (verifies) a sender identity — for local endpoints such as moto, where creating
    /// one makes it usable at once.
    pub async fn create_identity(sdk: &aws_config::SdkConfig, identity: &str) -> Result<(), MailError> {
        let client = Client::new(sdk);
        match client.create_email_identity().email_identity(identity).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_already_exists_exception()) => Ok(()),
            Err(e) => Err(MailError(DisplayErrorContext(&e).to_string())),
        }
    }

    /// A transport over an already-configured client.
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl MailTransport for Ses {
    async fn send(&self, mail: &OutgoingMail<'_>) -> Result<Sent, MailError> {
        let raw = RawMessage::builder()
            .data(Blob::new(mail.raw))
            .build()
            .map_err(|e| MailError(format!("building the request: {e}")))?;
        let out = self
            .client
            .send_email()
            .from_email_address(mail.from)
            .destination(Destination::builder().to_addresses(mail.to).build())
            .content(EmailContent::builder().raw(raw).build())
            .send()
            .await
            .map_err(|e| MailError(DisplayErrorContext(&e).to_string()))?;
        let region = self.client.config().region().map(|r| r.as_ref().to_owned()).unwrap_or_default();
        Ok(Sent { message_id: out.message_id().map(|id| message_id_header(id, &region)) })
    }
}

/// The `Message-ID` header SES puts on a message it sends in place of the message's own:
/// `<id@email.amazonses.com>` in us-east-1, `<id@<region>.amazonses.com>` elsewhere.
pub fn message_id_header(id: &str, region: &str) -> String {
    match region {
        "us-east-1" | "" => format!("<{id}@email.amazonses.com>"),
        region => format!("<{id}@{region}.amazonses.com>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_names_the_region_of_the_sending_endpoint() {
        let id = "0100019a2b3c4d5e-6f7a8b9c-0d1e-2f3a-4b5c-6d7e8f9a0b1c-000000";
        assert_eq!(message_id_header(id, "us-east-1"), format!("<{id}@email.amazonses.com>"));
        assert_eq!(message_id_header(id, "eu-west-1"), format!("<{id}@eu-west-1.amazonses.com>"));
    }
}
