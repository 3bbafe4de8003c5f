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

/// A MIME mail's text with quoted-printable undone (as `lettre` writes it).
pub fn decoded(mail: &str) -> String {
    let decoded = quoted_printable::decode(mail.as_bytes(), quoted_printable::ParseMode::Robust).expect("qp");
    String::from_utf8(decoded).expect("utf-8")
}

/// The token of the first link in `mail` that contains `marker` (e.g. `/verify-email?token=`).
pub fn link_token(mail: &str, marker: &str) -> String {
    let text = decoded(mail);
    let after = text.split(marker).nth(1).unwrap_or_else(|| panic!("no link with {marker}"));
    after.chars().take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c)).collect()
}

/// The password-reset token in a reset mail.
pub fn reset_token(mail: &str) -> String {
    link_token(mail, "?token=")
}
