//! Bearer secret strings — WebSocket tickets (`?ticket=`), mailed tokens (the reset link's
//! `token`, `<user id>.<secret>`), session cookie values — as `Secret::parse` /
//! `SessionToken::parse` / `MailToken::parse` read them and as `Authenticator::check_ticket` and
//! `Accounts::reset_password` use them. The input is arbitrary text, or the issued shape
//! (43 base64url characters) with fuzzed edits. Checked: a secret parses exactly when it has the
//! issued shape, keeps its text, and is looked up only by its SHA-256 (checked against an
//! independent implementation) — one store call for a well-shaped secret, none otherwise — a
//! mailed token reaches the store only whole, as a read of the account it names; and an unknown
//! one is refused.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use shared::auth::secret::{MailToken, Secret};
use shared::auth::{AuthError, SessionToken};
use shared::domain::Password;
use shared::services::AccountError;
use support_fuzz::{Call, Unstructured, fixture, is_sha256_hex, sha256_hex};

fn issued_shape(s: &str) -> bool {
    s.len() == 43 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fuzz_target!(|data: &[u8]| {
    let fx = fixture();
    let mut u = Unstructured::new(data);
    let raw: String = if u.ratio(1, 2).unwrap_or(false) {
        let Ok(bytes) = u.arbitrary::<[u8; 32]>() else { return };
        let mut s = URL_SAFE_NO_PAD.encode(bytes);
        // Sometimes one edit: a character replaced, added or removed.
        if let (Ok(at), Ok(edit), Ok(c)) =
            (u.int_in_range(0..=42usize), u.int_in_range(0..=3u8), u.arbitrary::<char>())
        {
            match edit {
                0 => s.replace_range(at..=at, &c.to_string()),
                1 => s.insert(at, c),
                2 => _ = s.remove(at),
                _ => {}
            }
        }
        s
    } else {
        String::from_utf8_lossy(u.take_rest()).into_owned()
    };
    let shaped = issued_shape(&raw);
    let digest = sha256_hex(raw.as_bytes());

    match Secret::parse(&raw) {
        Some(secret) => {
            assert!(shaped, "{raw:?} accepted");
            assert_eq!(secret.expose(), raw);
            assert_eq!(secret.digest(), digest);
            assert!(is_sha256_hex(&secret.digest()));
            assert!(!format!("{secret:?}").contains(&raw));
        }
        None => assert!(!shaped, "{raw:?} refused"),
    }
    match SessionToken::parse(&raw) {
        Some(token) => {
            assert_eq!(token.expose(), raw);
            assert_eq!(token.id().as_str(), digest);
            assert_eq!(token.id().public_id().len(), 16);
        }
        None => assert!(!shaped),
    }
    let fresh = Secret::generate();
    assert!(issued_shape(fresh.expose()) && Secret::parse(fresh.expose()).as_ref() == Some(&fresh));

    fx.stub.take_calls();
    let redeemed = fx.block_on(fx.auth.check_ticket(&raw));
    assert!(matches!(redeemed, Err(AuthError::InvalidToken)), "{redeemed:?}");
    let expected = if shaped { vec![Call::TicketPeek(digest.clone())] } else { Vec::new() };
    assert_eq!(fx.stub.take_calls(), expected);

    // A mailed token is `<user id>.<secret>`: only that shape reaches the store, and then only
    // as a read of the account it names (which the stub does not have).
    let user = "usr_0123456789abcdef0123456789abcdef";
    let password = Password::parse("correct horse battery".into()).expect("password");
    for presented in [raw.clone(), format!("{user}.{raw}")] {
        let well_formed = MailToken::parse(&presented).is_some();
        assert_eq!(well_formed, presented.starts_with(user) && shaped, "{presented:?}");
        let reset = fx.block_on(fx.login.accounts().reset_password(&presented, password.clone()));
        assert!(matches!(reset, Err(AccountError::InvalidResetToken)), "{reset:?}");
        let expected = if well_formed { vec![Call::UserGet(user.to_owned())] } else { Vec::new() };
        assert_eq!(fx.stub.take_calls(), expected);
    }
});
