//! The AWS SDK configuration every AWS adapter shares: bounded timeouts and retries, so a slow
//! dependency becomes a 503 quickly instead of a hung function.

use std::time::Duration;

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;

/// Loads region, credentials and endpoint (`AWS_ENDPOINT_URL`) from the standard environment,
/// profiles and SSO included (the local gateway against a real account).
pub async fn sdk_config() -> SdkConfig {
    loader().load().await
}

/// What Lambda gives a function and nothing more: region, credentials and endpoint from the
/// environment variables Lambda sets (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, …, and
/// `AWS_ENDPOINT_URL` when set). Without the default chain the profile, SSO, STS and IMDS code
/// stays out of the binaries (about 200 KB of the 6 MB budget).
pub fn lambda_sdk_config() -> SdkConfig {
    let mut config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(
            std::env::var("AWS_REGION")
                .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
                .ok()
                .map(Region::new),
        )
        .credentials_provider(SharedCredentialsProvider::new(EnvironmentVariableCredentialsProvider::new()))
        .timeout_config(timeouts())
        .retry_config(retries());
    if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL") {
        config = config.endpoint_url(endpoint);
    }
    config.build()
}

fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(Duration::from_secs(2))
        .operation_timeout(Duration::from_secs(5))
        .build()
}

fn retries() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(3)
}

/// The standard loader with this project's timeouts and retries; callers may override the
/// endpoint, region or credentials before loading (the fault-injection tests do).
pub fn loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts()).retry_config(retries())
}
