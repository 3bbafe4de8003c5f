//! Push through the API Gateway Management API (`PostToConnection`, `DeleteConnection`).
//! A 410 `GoneException` becomes [`PushError::Gone`] so the caller forgets that connection.

use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::Client;
use aws_sdk_apigatewaymanagement::error::DisplayErrorContext;
use aws_sdk_apigatewaymanagement::primitives::Blob;

use crate::ports::{Push, PushError};

/// The management API of one WebSocket API stage.
#[derive(Clone, Debug)]
pub struct ApiGatewayPush {
    client: Client,
}

impl ApiGatewayPush {
    /// A client for `endpoint` (`https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`,
    /// or the local gateway's URL) from the shared SDK configuration.
    pub fn from_sdk(sdk: &aws_config::SdkConfig, endpoint: &str) -> Self {
        let config = aws_sdk_apigatewaymanagement::config::Builder::from(sdk).endpoint_url(endpoint).build();
        Self { client: Client::from_conf(config) }
    }

    /// A push adapter over an already-configured client.
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl Push for ApiGatewayPush {
    async fn send(&self, connection_id: &str, payload: &str) -> Result<(), PushError> {
        match self
            .client
            .post_to_connection()
            .connection_id(connection_id)
            .data(Blob::new(payload.as_bytes()))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_gone_exception()) => Err(PushError::Gone),
            Err(e) => Err(PushError::Failed(DisplayErrorContext(&e).to_string())),
        }
    }

    async fn close(&self, connection_id: &str) -> Result<(), PushError> {
        match self.client.delete_connection().connection_id(connection_id).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_gone_exception()) => Err(PushError::Gone),
            Err(e) => Err(PushError::Failed(DisplayErrorContext(&e).to_string())),
        }
    }
}
