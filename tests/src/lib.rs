//! Helpers for the cross-crate tests: a local gateway on loopback with a fresh data dir, a
//! DynamoDB store on moto with fresh tables, and forged tokens for the negative tests.

pub mod faults;
pub mod gateway;
pub mod moto;
pub mod tokens;
pub mod world;

use std::sync::Arc;

use shared::Clock;
use shared::auth::{PublicKeys, SigningKey};
use shared::http::Routed;
use shared::ports::{MailTransport, Stores};
use shared::runtime::Wiring;

/// A push transport with no sockets behind it (every push finds its connection gone).
pub fn no_sockets() -> Arc<dyn shared::ports::Push> {
    Arc::new(local_gateway::sockets::LocalPush(local_gateway::sockets::Sockets::default()))
}

/// The wiring in-process functions are built from, as the local gateway builds it: `settings`
/// under a fresh signing key (its PEM for `login`, its public key for everyone), the stores,
/// pushes that find no socket, mail to `mail`, and the clock.
pub fn wiring(
    settings: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    stores: Stores,
    mail: Arc<dyn MailTransport>,
    clock: Arc<dyn Clock>,
) -> Wiring {
    let (key, pem) = SigningKey::generate("test-1").expect("key");
    let jwks = PublicKeys::new([key.public_key().clone()]).expect("keys").to_jwks();
    let settings = move |var: &str| match var {
        "AUTH_SIGNING_KEY" => Some(pem.clone()),
        "AUTH_SIGNING_KEY_ID" => Some("test-1".to_owned()),
        "AUTH_PUBLIC_KEYS" => Some(jwks.clone()),
        _ => settings(var),
    };
    Wiring::new(Arc::new(settings), stores, clock).with_push(no_sockets()).with_mail(mail)
}

/// A function's route table as (method, path template).
pub fn routes<F: Routed>() -> Vec<(&'static str, &'static str)> {
    F::ROUTES.iter().map(|r| (r.method.as_str(), r.path)).collect()
}

/// Every HTTP function's routes.
pub fn all_routes() -> Vec<(&'static str, &'static str)> {
    [
        routes::<login::Login>(),
        routes::<ws_ticket::WsTicket>(),
        routes::<chat::Chat>(),
        routes::<escalation::Escalation>(),
    ]
    .concat()
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

/// The log stream (JSON lines and metric lines), kept in memory: installed as this test
/// process's log writer, read back with [`Capture::text`].
#[derive(Clone, Default)]
pub struct Capture(Arc<std::sync::Mutex<Vec<u8>>>);

impl Capture {
    /// Installs a capture as the process's log writer (once per test binary).
    pub fn install() -> Self {
        let capture = Self::default();
        let writer = capture.clone();
        shared::telemetry::init_with(move || writer.clone());
        capture
    }

    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().expect("capture").clone()).expect("UTF-8 logs")
    }
}

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("capture").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
