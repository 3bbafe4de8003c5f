//! SES receiving's stored messages: the receipt rule's S3 action writes each message to
//! `<prefix><message id>` in the inbound bucket, before it invokes `mail-inbound`.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::DisplayErrorContext;

use crate::ports::{ReceivedMail, StoreError, StoreResult};

/// The inbound bucket.
#[derive(Clone, Debug)]
pub struct S3ReceivedMail {
    client: Client,
    bucket: String,
    prefix: String,
}

impl S3ReceivedMail {
    /// Messages in `bucket` under `prefix`, with a client built from the shared configuration.
    pub fn from_sdk(sdk: &aws_config::SdkConfig, bucket: &str, prefix: &str) -> Self {
        // moto (and any endpoint without bucket subdomains) needs path-style addresses.
        let config =
            aws_sdk_s3::config::Builder::from(sdk).force_path_style(sdk.endpoint_url().is_some()).build();
        Self { client: Client::from_conf(config), bucket: bucket.to_owned(), prefix: prefix.to_owned() }
    }

    fn key(&self, message_id: &str) -> String {
        format!("{}{message_id}", self.prefix)
    }
}

#[async_trait]
impl ReceivedMail for S3ReceivedMail {
    async fn get(&self, message_id: &str) -> StoreResult<Option<Vec<u8>>> {
        let object =
            match self.client.get_object().bucket(&self.bucket).key(self.key(message_id)).send().await {
                Ok(object) => object,
                Err(e) if e.as_service_error().is_some_and(|se| se.is_no_such_key()) => return Ok(None),
                Err(e) => return Err(StoreError::Unavailable(DisplayErrorContext(&e).to_string())),
            };
        let body = object.body.collect().await.map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(Some(body.to_vec()))
    }

    fn location(&self, message_id: &str) -> String {
        format!("s3://{}/{}", self.bucket, self.key(message_id))
    }
}
