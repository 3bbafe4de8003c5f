//! Access tokens: short-lived JWTs signed with Ed25519 (EdDSA), algorithm pinned, `kid` required.

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};

use super::keys::{PublicKeys, SigningKey};
use crate::clock::{epoch, from_epoch};
use crate::domain::{SessionId, UserId};

/// Longest access-token lifetime the verifier accepts (and the issuer may be configured with).
pub const MAX_ACCESS_TTL: Duration = Duration::minutes(15);
/// Clock skew tolerated on `iat` and `exp`.
pub const LEEWAY: Duration = Duration::seconds(30);

/// The claims every access token carries; all are required.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Audience (one string).
    pub aud: String,
    /// User id.
    pub sub: String,
    /// Session id (SHA-256 of the session token).
    pub sid: String,
    /// Issued at, epoch seconds.
    pub iat: i64,
    /// Expires at, epoch seconds.
    pub exp: i64,
    /// Not before, epoch seconds: never issued by us, refused while in the future.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
}

/// A freshly signed access token.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// The compact JWT.
    pub token: String,
    /// Seconds until it expires.
    pub expires_in: i64,
}

/// Why a token was refused. Deliberately coarse: callers answer every case the same way.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// Not a well-formed JWT, or a header/claim that is missing or malformed.
    #[error("malformed token")]
    Malformed,
    /// Not EdDSA, unknown `kid`, or a bad signature.
    #[error("untrusted token")]
    Untrusted,
    /// Wrong issuer or audience, expired, issued or valid only in the future, or lifetime too
    /// long.
    #[error("token claims refused")]
    Claims,
    /// Signing failed (bad key material).
    #[error("could not sign token")]
    Sign,
}

/// Signs access tokens (only the `login` function has one).
#[derive(Debug)]
pub struct TokenIssuer {
    key: SigningKey,
    header: Header,
    issuer: String,
    audience: String,
    ttl: Duration,
}

impl TokenIssuer {
    /// An issuer; `ttl` is clamped to [`MAX_ACCESS_TTL`].
    pub fn new(key: SigningKey, issuer: &str, audience: &str, ttl: Duration) -> Self {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid().to_owned());
        Self {
            key,
            header,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl: ttl.min(MAX_ACCESS_TTL),
        }
    }

    /// The signing key (its public half goes into every verifier's key set).
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// Signs a token for this user and session, valid from `now` for the configured lifetime.
    pub fn issue(
        &self,
        user: &UserId,
        session: &SessionId,
        now: DateTime<Utc>,
    ) -> Result<AccessToken, TokenError> {
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user.as_str().to_owned(),
            sid: session.as_str().to_owned(),
            iat: epoch(now),
            exp: epoch(now + self.ttl),
            nbf: None,
        };
        let token = jsonwebtoken::encode(&self.header, &claims, self.key.encoding_key())
            .map_err(|_| TokenError::Sign)?;
        Ok(AccessToken { token, expires_in: self.ttl.num_seconds() })
    }
}

/// What a verified token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// `sub`.
    pub user_id: UserId,
    /// `sid`.
    pub session_id: SessionId,
    /// `exp`.
    pub expires_at: DateTime<Utc>,
}

/// Verifies access tokens against the accepted public keys. Holds no secret.
#[derive(Debug, Clone)]
pub struct TokenVerifier {
    keys: PublicKeys,
    validation: Validation,
}

impl TokenVerifier {
    /// A verifier for tokens from `issuer` meant for `audience`.
    pub fn new(keys: PublicKeys, issuer: &str, audience: &str) -> Self {
        // The algorithm list is fixed here, never taken from the token header.
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        // Time claims are checked below against the injected clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        Self { keys, validation }
    }

    /// Checks signature, algorithm, `kid`, issuer, audience and times.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<VerifiedToken, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::Untrusted);
        }
        // RFC 7515 §4.1.11: a recipient must refuse critical extensions it does not implement,
        // and we implement none.
        if header.crit.is_some() {
            return Err(TokenError::Untrusted);
        }
        let kid = header.kid.as_deref().ok_or(TokenError::Malformed)?;
        let key = self.keys.get(kid).ok_or(TokenError::Untrusted)?;
        let data = jsonwebtoken::decode::<Claims>(token, key, &self.validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            match e.kind() {
                K::InvalidSignature | K::InvalidAlgorithm | K::InvalidKeyFormat => TokenError::Untrusted,
                K::InvalidIssuer | K::InvalidAudience | K::MissingRequiredClaim(_) => TokenError::Claims,
                _ => TokenError::Malformed,
            }
        })?;
        let claims = data.claims;
        let now = epoch(now);
        let lifetime = claims.exp.saturating_sub(claims.iat);
        if claims.iat > now + LEEWAY.num_seconds()
            || claims.nbf.is_some_and(|nbf| nbf > now + LEEWAY.num_seconds())
            || claims.exp <= now - LEEWAY.num_seconds()
            || lifetime <= 0
            || lifetime > MAX_ACCESS_TTL.num_seconds()
            || claims.sub.is_empty()
            || claims.sid.is_empty()
        {
            return Err(TokenError::Claims);
        }
        Ok(VerifiedToken {
            user_id: UserId::from_trusted(claims.sub),
            session_id: SessionId::from_trusted(claims.sid),
            expires_at: from_epoch(claims.exp),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::keys::PublicKeys;

    /// Found by `fuzz/fuzz_targets/access_token.rs` (claims signed by a trusted key): a lifetime
    /// `exp - iat` beyond `i64` overflowed (a panic with overflow checks) instead of a refusal.
    #[test]
    fn extreme_claim_times_are_refused() {
        let (key, _) = SigningKey::generate("k1").unwrap();
        let verifier = TokenVerifier::new(PublicKeys::new([key.public_key().clone()]).unwrap(), "iss", "aud");
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some("k1".into());
        let now = from_epoch(1_767_960_000);
        for (iat, exp) in [(i64::MIN, i64::MAX), (-1, i64::MAX), (i64::MIN, epoch(now) + 60)] {
            let claims = Claims {
                iss: "iss".into(),
                aud: "aud".into(),
                sub: "usr_1".into(),
                sid: "s".into(),
                iat,
                exp,
                nbf: None,
            };
            let token = jsonwebtoken::encode(&header, &claims, key.encoding_key()).unwrap();
            assert_eq!(verifier.verify(&token, now), Err(TokenError::Claims), "iat {iat}, exp {exp}");
        }
    }

    /// A token that is otherwise valid but says "not before" a later time, or carries a
    /// critical header extension, is refused; the same token without either verifies.
    #[test]
    fn future_nbf_and_critical_extensions_are_refused() {
        let (key, _) = SigningKey::generate("k1").unwrap();
        let verifier = TokenVerifier::new(PublicKeys::new([key.public_key().clone()]).unwrap(), "iss", "aud");
        let now = from_epoch(1_767_960_000);
        let claims = |nbf| Claims {
            iss: "iss".into(),
            aud: "aud".into(),
            sub: "usr_1".into(),
            sid: "s".into(),
            iat: epoch(now),
            exp: epoch(now) + 600,
            nbf,
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some("k1".into());
        let sign = |header: &Header, claims: &Claims| {
            jsonwebtoken::encode(header, claims, key.encoding_key()).unwrap()
        };
        assert!(verifier.verify(&sign(&header, &claims(None)), now).is_ok());
        assert!(verifier.verify(&sign(&header, &claims(Some(epoch(now) - 5))), now).is_ok(), "nbf past");
        let later = sign(&header, &claims(Some(epoch(now) + 120)));
        assert_eq!(verifier.verify(&later, now), Err(TokenError::Claims), "nbf in the future");
        assert!(verifier.verify(&later, now + Duration::seconds(120)).is_ok(), "valid once nbf is reached");
        let mut critical = header.clone();
        critical.crit = Some(vec!["exp".into()]);
        assert_eq!(verifier.verify(&sign(&critical, &claims(None)), now), Err(TokenError::Untrusted));
    }
}
