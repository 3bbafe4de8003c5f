//! Received messages as the receiving server stored them: SES receiving's S3 action in AWS.

use async_trait::async_trait;

use super::StoreResult;

/// Where the receiving server keeps each raw message, by its message id.
#[async_trait]
pub trait ReceivedMail: Send + Sync {
    /// The raw MIME message SES stored for `message_id`; `None` when there is none.
    async fn get(&self, message_id: &str) -> StoreResult<Option<Vec<u8>>>;

    /// Where the message is kept, for the logs of a refused one (`s3://bucket/key`).
    fn location(&self, message_id: &str) -> String;
}
