//! Everything the Lambda functions share: configuration, the problem+json error, HTTP helpers,
//! the auth core (passwords, access tokens, sessions, throttling, `authenticate`), the store
//! ports and their adapters.

pub mod adapters;
pub mod auth;
pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod ports;
pub mod telemetry;

pub use clock::{Clock, SystemClock};
pub use error::ApiError;
