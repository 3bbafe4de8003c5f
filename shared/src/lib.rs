//! Everything the Lambda functions share, in layers that import only downwards:
//! `clock`/`telemetry` < `domain` (types) < `ports` (traits) < `auth` (mechanics) <
//! `services` (use cases) < `adapters` (stores, mail, push) and `error` < `http` < `config` <
//! `runtime` (wiring a function and serving it).
//! `docs/architecture.md` walks through them.

pub mod adapters;
pub mod auth;
pub mod clock;
pub mod config;
pub mod domain;
pub mod env;
pub mod error;
pub mod http;
pub mod ports;
pub mod runtime;
pub mod services;
pub mod telemetry;

pub use clock::{Clock, SystemClock};
pub use error::ApiError;
