//! Token issuing and verification at the boundaries: time limits against an injected clock,
//! key rotation, and algorithms other than EdDSA. Every refused token starts from one the real
//! issuer made.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, TimeZone, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use shared::auth::token::{Claims, LEEWAY, TokenError};
use shared::auth::{PublicKeys, SigningKey, TokenIssuer, TokenVerifier};
use shared::domain::{SessionId, UserId};

fn t0() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 9, 12, 0, 0).unwrap()
}

fn issuer(kid: &str) -> TokenIssuer {
    let (key, _) = SigningKey::generate(kid).unwrap();
    TokenIssuer::new(key, "iss", "aud", Duration::minutes(15))
}

fn verifier(keys: &[&TokenIssuer]) -> TokenVerifier {
    TokenVerifier::new(
        PublicKeys::new(keys.iter().map(|i| i.key().public_key().clone())).unwrap(),
        "iss",
        "aud",
    )
}

fn token(issuer: &TokenIssuer) -> String {
    issuer.issue(&UserId::from_trusted("usr_1"), &SessionId::from_trusted("sid_1"), t0()).unwrap().token
}

#[test]
fn a_token_is_valid_until_exp_plus_leeway() {
    let signer = issuer("k1");
    let v = verifier(&[&signer]);
    let t = token(&signer);
    let ok = v.verify(&t, t0()).unwrap();
    assert_eq!(ok.user_id.as_str(), "usr_1");
    assert_eq!(ok.session_id.as_str(), "sid_1");
    let exp = t0() + Duration::minutes(15);
    assert!(v.verify(&t, exp + LEEWAY - Duration::seconds(1)).is_ok());
    assert_eq!(v.verify(&t, exp + LEEWAY), Err(TokenError::Claims));
    assert_eq!(v.verify(&t, t0() - LEEWAY - Duration::seconds(1)), Err(TokenError::Claims), "not yet issued");
}

#[test]
fn issuer_lifetime_is_capped_at_fifteen_minutes() {
    let (key, _) = SigningKey::generate("k1").unwrap();
    let long = TokenIssuer::new(key, "iss", "aud", Duration::hours(2));
    let issued = long.issue(&UserId::from_trusted("u"), &SessionId::from_trusted("s"), t0()).unwrap();
    assert_eq!(issued.expires_in, 900);
}

#[test]
fn rotation_accepts_both_keys_then_only_the_new_one() {
    let old = issuer("old");
    let new = issuer("new");
    let (old_token, new_token) = (token(&old), token(&new));
    let during = verifier(&[&old, &new]);
    assert!(during.verify(&old_token, t0()).is_ok());
    assert!(during.verify(&new_token, t0()).is_ok());
    let after = verifier(&[&new]);
    assert_eq!(after.verify(&old_token, t0()), Err(TokenError::Untrusted));
    assert!(after.verify(&new_token, t0()).is_ok());
}

#[test]
fn other_algorithms_and_missing_kid_are_refused() {
    let signer = issuer("k1");
    let v = verifier(&[&signer]);
    let claims = Claims {
        iss: "iss".into(),
        aud: "aud".into(),
        sub: "usr_1".into(),
        sid: "sid_1".into(),
        iat: t0().timestamp(),
        exp: (t0() + Duration::minutes(5)).timestamp(),
        nbf: None,
    };
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some("k1".into());
    let hs256 = jsonwebtoken::encode(&hs, &claims, &EncodingKey::from_secret(b"k1")).unwrap();
    assert_eq!(v.verify(&hs256, t0()), Err(TokenError::Untrusted));

    let b64 = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(&v).unwrap());
    let none = format!(
        "{}.{}.",
        b64(serde_json::json!({"alg": "none", "kid": "k1"})),
        b64(serde_json::to_value(&claims).unwrap())
    );
    assert!(v.verify(&none, t0()).is_err());

    let real = token(&signer);
    let (header, rest) = real.split_once('.').unwrap();
    let mut h: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    h.as_object_mut().unwrap().remove("kid");
    let no_kid = format!("{}.{rest}", b64(h));
    assert_eq!(v.verify(&no_kid, t0()), Err(TokenError::Malformed));
}
