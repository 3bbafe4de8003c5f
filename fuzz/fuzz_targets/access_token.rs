//! Access tokens: `TokenVerifier::verify` (a real Ed25519 key generated at start-up) is fed
//! - arbitrary strings;
//! - the valid token with fuzzed bytes spliced in or cut out;
//! - well-formed JWTs with fuzzed header and claims and a fuzzed (so wrong) signature, and the
//!   same signed with HMAC using the public key as the secret (algorithm confusion), or by
//!   another Ed25519 key under the trusted `kid`: all must be refused, whatever they claim;
//! - JWTs with fuzzed header and claims signed by the trusted key (a trusted but careless
//!   issuer): accepted exactly when issuer, audience, `kid`, non-empty `sub`/`sid` and the time
//!   rules (issued ≤ now + 30 s, expires > now − 30 s, lifetime 1–900 s) hold, and then the
//!   result is what the claims say.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};
use shared::auth::SigningKey;
use shared::clock::{epoch, from_epoch};
use support_fuzz::{AUDIENCE, ISSUER, KID, Unstructured, arbitrary, fixture, now};

struct Keys {
    trusted: EncodingKey,
    other: EncodingKey,
    confusion: EncodingKey,
}

fn keys() -> &'static Keys {
    static KEYS: std::sync::OnceLock<Keys> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let fx = fixture();
        let (_, other_pem) = SigningKey::generate(KID).expect("key");
        // The JWKS `x` of the trusted key, as an attacker would find it published.
        let jwks: Value = serde_json::from_str(&fx.verifier_jwks).expect("jwks");
        let x = jwks["keys"][0]["x"].as_str().expect("x").to_owned();
        Keys {
            trusted: EncodingKey::from_ed_pem(fx.signing_pem.as_bytes()).expect("trusted key"),
            other: EncodingKey::from_ed_pem(other_pem.as_bytes()).expect("other key"),
            confusion: EncodingKey::from_secret(x.as_bytes()),
        }
    })
}

/// A claim value: usually plausible, sometimes absent or of another type.
fn claim<'a>(
    u: &mut Unstructured<'a>,
    plausible: impl FnOnce(&mut Unstructured<'a>) -> arbitrary::Result<Value>,
) -> arbitrary::Result<Option<Value>> {
    Ok(match u.int_in_range(0..=9u8)? {
        0 => None,
        1 => Some(json!(u.arbitrary::<String>()?)),
        2 => Some(json!(u.arbitrary::<i64>()?)),
        3 => Some(json!([u.arbitrary::<String>()?])),
        _ => Some(plausible(u)?),
    })
}

fn time(u: &mut Unstructured<'_>) -> arbitrary::Result<Value> {
    let base = epoch(now());
    Ok(match u.int_in_range(0..=4u8)? {
        0 => json!(u.arbitrary::<i64>()?),
        1 => json!(f64::from(u.arbitrary::<i32>()?) + 0.5),
        _ => json!(base + i64::from(u.int_in_range(-2000..=2000i16)?)),
    })
}

struct Forged {
    header: Header,
    claims: Map<String, Value>,
}

fn forged(u: &mut Unstructured<'_>) -> arbitrary::Result<Forged> {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = match u.int_in_range(0..=4u8)? {
        0 => None,
        1 => Some(u.arbitrary()?),
        _ => Some(KID.into()),
    };
    if u.ratio(1, 8)? {
        header.typ = None;
    }
    let fx = fixture();
    let mut claims = Map::new();
    let user = fx.session.user.id.as_str().to_owned();
    let session = fx.session.id.as_str().to_owned();
    let iss = claim(u, |u| Ok(json!(*u.choose(&[ISSUER, ISSUER, "other", ""])?)))?;
    let aud = claim(u, |u| Ok(json!(*u.choose(&[AUDIENCE, AUDIENCE, "other"])?)))?;
    let sub = claim(u, |u| Ok(json!(if u.ratio(1, 4)? { String::new() } else { user })))?;
    let sid = claim(u, |u| Ok(json!(if u.ratio(1, 4)? { u.arbitrary::<String>()? } else { session })))?;
    let iat = claim(u, time)?;
    let exp = claim(u, time)?;
    let fields = [("iss", iss), ("aud", aud), ("sub", sub), ("sid", sid), ("iat", iat), ("exp", exp)];
    for (name, value) in fields {
        if let Some(v) = value {
            claims.insert(name.into(), v);
        }
    }
    if u.ratio(1, 8)? {
        claims.insert(u.arbitrary()?, json!(u.arbitrary::<String>()?));
    }
    Ok(Forged { header, claims })
}

/// What the verifier must conclude about claims signed by the trusted key: `Some((sub, sid, exp))`
/// if they are to be accepted.
fn oracle(f: &Forged) -> Option<(String, String, i64)> {
    if f.header.kid.as_deref() != Some(KID) {
        return None;
    }
    let c = &f.claims;
    let text = |k: &str| c.get(k).and_then(Value::as_str);
    let int = |k: &str| c.get(k).and_then(Value::as_i64);
    let (iss, aud, sub, sid) = (text("iss")?, text("aud")?, text("sub")?, text("sid")?);
    let (iat, exp) = (i128::from(int("iat")?), i128::from(int("exp")?));
    let now = i128::from(epoch(now()));
    let lifetime = exp - iat;
    let ok = iss == ISSUER
        && aud == AUDIENCE
        && !sub.is_empty()
        && !sid.is_empty()
        && iat <= now + 30
        && exp > now - 30
        && (1..=900).contains(&lifetime);
    ok.then(|| (sub.to_owned(), sid.to_owned(), int("exp").unwrap_or_default()))
}

fn must_refuse(token: &str, why: &str) {
    let result = fixture().verifier.verify(token, now());
    assert!(result.is_err(), "{why}: accepted {token:?} as {result:?}");
}

fuzz_target!(|data: &[u8]| {
    let fx = fixture();
    let keys = keys();
    let mut u = Unstructured::new(data);
    let Ok(mode) = u.int_in_range(0..=5u8) else { return };
    match mode {
        // Arbitrary text.
        0 => {
            let text = String::from_utf8_lossy(u.take_rest()).into_owned();
            if text != fx.access_token {
                must_refuse(&text, "arbitrary string");
            }
        }
        // The valid token, edited.
        1 => {
            let token = fx.access_token.as_bytes();
            let (Ok(at), Ok(cut)) = (u.int_in_range(0..=token.len()), u.int_in_range(0..=8usize)) else {
                return;
            };
            let end = (at + cut).min(token.len());
            let mut edited = token[..at].to_vec();
            edited.extend_from_slice(u.arbitrary::<&[u8]>().unwrap_or_default());
            edited.extend_from_slice(&token[end..]);
            let edited = String::from_utf8_lossy(&edited).into_owned();
            if edited == fx.access_token {
                assert!(fx.verifier.verify(&edited, now()).is_ok());
            } else {
                must_refuse(&edited, "edited token");
            }
        }
        // Well-formed header and claims, signature not made with the trusted key.
        2..=4 => {
            let Ok(f) = forged(&mut u) else { return };
            let token = match mode {
                2 => {
                    let header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&f.header).expect("header"));
                    let claims = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&f.claims).expect("claims"));
                    let signature = URL_SAFE_NO_PAD.encode(u.arbitrary::<&[u8]>().unwrap_or_default());
                    format!("{header}.{claims}.{signature}")
                }
                // The algorithm-confusion attack: an HMAC keyed with the published Ed25519 public
                // key. The verifier pins EdDSA, so it must be refused like every other forgery.
                3 => {
                    let mut header = f.header.clone();
                    header.alg = *u
                        .choose(&[Algorithm::HS256, Algorithm::HS384, Algorithm::HS512])
                        .unwrap_or(&Algorithm::HS256);
                    jsonwebtoken::encode(&header, &f.claims, &keys.confusion).expect("hmac signing")
                }
                _ => jsonwebtoken::encode(&f.header, &f.claims, &keys.other).expect("signing"),
            };
            must_refuse(&token, "not signed by the trusted key");
        }
        // Signed by the trusted key: the claim rules decide.
        _ => {
            let Ok(f) = forged(&mut u) else { return };
            let token = jsonwebtoken::encode(&f.header, &f.claims, &keys.trusted).expect("signing");
            let result = fx.verifier.verify(&token, now());
            match (oracle(&f), result) {
                (None, Err(_)) => {}
                (Some((sub, sid, exp)), Ok(v)) => {
                    assert_eq!(v.user_id.as_str(), sub);
                    assert_eq!(v.session_id.as_str(), sid);
                    assert_eq!(v.expires_at, from_epoch(exp));
                }
                (expected, got) => panic!(
                    "claims {:?} (kid {:?}): expected {expected:?}, got {got:?}",
                    f.claims, f.header.kid
                ),
            }
        }
    }
});
