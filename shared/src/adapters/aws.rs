//! The AWS SDK configuration every AWS adapter shares: bounded timeouts and retries, so a slow
//! dependency becomes a 503 quickly instead of a hung function.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};

/// Loads region, credentials and endpoint (`AWS_ENDPOINT_URL`) from the standard environment.
pub async fn sdk_config() -> SdkConfig {
    loader().load().await
}

/// The standard loader with this project's timeouts and retries; callers may override the
/// endpoint, region or credentials before loading (the fault-injection tests do).
pub fn loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(1))
                .operation_attempt_timeout(Duration::from_secs(2))
                .operation_timeout(Duration::from_secs(5))
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(3))
}
