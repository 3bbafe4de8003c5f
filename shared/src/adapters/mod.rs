//! Store adapters. Each family is behind a cargo feature so a function links only what it uses.

#[cfg(feature = "dynamodb")]
pub mod aws;
#[cfg(feature = "dynamodb")]
pub mod dynamodb;
#[cfg(feature = "sqlite")]
pub mod sqlite;
