//! Forged and altered tokens for the negative tests. Every forgery starts from a real token
//! issued by the real code and changes one thing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::Value;

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).expect("json"))
}

/// The decoded header and claims of a compact JWT (no verification).
pub fn parts(token: &str) -> (Value, Value) {
    let mut it = token.split('.');
    let mut next = || -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(it.next().expect("part")).expect("b64")).expect("json")
    };
    (next(), next())
}

/// Signs `claims` with the Ed25519 key in `pem` under `kid`.
pub fn sign_eddsa(pem: &str, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_pem(pem.as_bytes()).expect("pem"))
        .expect("sign")
}

/// Signs `claims` with the Ed25519 key in `pem` under `kid`, the header also declaring `crit`.
pub fn sign_eddsa_critical(pem: &str, kid: &str, claims: &Value, crit: &[&str]) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    header.crit = Some(crit.iter().map(|c| (*c).to_owned()).collect());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_pem(pem.as_bytes()).expect("pem"))
        .expect("sign")
}

/// `alg: none` with the token's claims and an empty signature.
pub fn alg_none(token: &str) -> String {
    let (mut header, claims) = parts(token);
    header["alg"] = "none".into();
    format!("{}.{}.", b64(&header), b64(&claims))
}

/// HS256 over the token's claims, keyed with `secret` (e.g. the public key: key confusion).
pub fn hs256(token: &str, secret: &[u8]) -> String {
    let (header, claims) = parts(token);
    let mut h = Header::new(Algorithm::HS256);
    h.kid = header["kid"].as_str().map(str::to_owned);
    jsonwebtoken::encode(&h, &claims, &EncodingKey::from_secret(secret)).expect("sign")
}

/// The token with its payload replaced (signature kept).
pub fn tampered_payload(token: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut it = token.split('.');
    let (header, _, signature) = (it.next().expect("h"), it.next(), it.next().expect("s"));
    let (_, mut claims) = parts(token);
    edit(&mut claims);
    format!("{header}.{}.{signature}", b64(&claims))
}

/// The token with one signature character changed.
pub fn tampered_signature(token: &str) -> String {
    let (rest, signature) = token.rsplit_once('.').expect("jwt");
    let mut sig: Vec<char> = signature.chars().collect();
    sig[5] = if sig[5] == 'A' { 'B' } else { 'A' };
    format!("{rest}.{}", sig.into_iter().collect::<String>())
}
