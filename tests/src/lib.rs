//! Helpers for the cross-crate tests: a local gateway on loopback with a fresh data dir, a
//! DynamoDB store on moto with fresh tables, and forged tokens for the negative tests.

pub mod faults;
pub mod gateway;
pub mod moto;
pub mod tokens;
pub mod world;

use std::sync::Arc;

/// A push transport with no sockets behind it (every push finds its connection gone).
pub fn no_sockets() -> Arc<dyn shared::ports::Push> {
    Arc::new(local_gateway::sockets::LocalPush(local_gateway::sockets::Sockets::default()))
}

/// The password-reset token in a reset mail (MIME text, quoted-printable as `lettre` writes it).
pub fn reset_token(mail: &str) -> String {
    let decoded = quoted_printable::decode(mail.as_bytes(), quoted_printable::ParseMode::Robust).expect("qp");
    let text = String::from_utf8(decoded).expect("utf-8");
    let after = text.split("?token=").nth(1).expect("a reset link");
    after.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect()
}
