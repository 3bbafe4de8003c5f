//! Store adapters. Each family is behind a cargo feature so a function links only what it uses.

#[cfg(feature = "apigw")]
pub mod apigw;
#[cfg(any(feature = "dynamodb", feature = "apigw", feature = "ses", feature = "secrets", feature = "s3"))]
pub mod aws;
#[cfg(feature = "dynamodb")]
pub mod dynamodb;
#[cfg(feature = "knowledge-base")]
pub mod knowledge_base;
pub mod outbox;
#[cfg(feature = "s3")]
pub mod s3;
#[cfg(feature = "secrets")]
pub mod secrets;
#[cfg(feature = "ses")]
pub mod ses;
#[cfg(feature = "sqlite")]
pub mod sqlite;
