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
    /// The domain of the `Message-ID`s SES gives what this client sends (from its region).
    id_domain: String,
}

impl Ses {
    /// A transport with a client built from the shared SDK configuration.
    pub fn from_sdk(sdk: &aws_config::SdkConfig) -> Self {
        Self::new(Client::new(sdk))
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
        let region = client.config().region().map(|r| r.as_ref().to_owned()).unwrap_or_default();
        Self { client, id_domain: message_id_domain(&region) }
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
        Ok(Sent { message_id: out.message_id().map(|id| format!("<{id}@{}>", self.id_domain)) })
    }
}

/// The domain of the `Message-ID` SES puts on a message it sends in place of the message's
/// own: `email.amazonses.com` in us-east-1, `<region>.amazonses.com` elsewhere.
pub fn message_id_domain(region: &str) -> String {
    match region {
        "us-east-1" | "" => "email.amazonses.com".to_owned(),
        region => format!("{region}.amazonses.com"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_names_the_region_of_the_sending_endpoint() {
        assert_eq!(message_id_domain("us-east-1"), "email.amazonses.com");
        assert_eq!(message_id_domain("eu-west-1"), "eu-west-1.amazonses.com");
    }
}
