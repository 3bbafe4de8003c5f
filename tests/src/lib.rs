//! Helpers for the cross-crate tests: a local gateway on loopback with a fresh data dir, a
//! DynamoDB store on moto with fresh tables, and forged tokens for the negative tests.

pub mod gateway;
pub mod moto;
pub mod tokens;
pub mod world;

use std::sync::Arc;

/// A push transport with no sockets behind it (every push finds its connection gone).
pub fn no_sockets() -> Arc<dyn shared::ports::Push> {
    Arc::new(local_gateway::sockets::LocalPush(local_gateway::sockets::Sockets::default()))
}
