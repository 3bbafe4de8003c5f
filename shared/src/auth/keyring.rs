//! The keys a function verifies (and login signs) access tokens with. Either fixed, from the
//! settings (the local gateway, tests), or fetched from a [`KeySource`] (Secrets Manager in
//! Lambda) at cold start and again on the first request after the refresh interval, so a key
//! rotation takes effect without a deploy. A refresh that fails keeps the keys the ring has and
//! logs why: an outage of the key store never turns valid tokens away.

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Duration, Utc};

use super::keys::{KeyError, PublicKeys, SigningKey};
use super::token::{TokenError, TokenIssuer, TokenVerifier};
use crate::clock::Clock;
use crate::ports::KeySource;

/// What every token names and how long login's live.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// `iss`.
    pub issuer: String,
    /// `aud`.
    pub audience: String,
    /// Lifetime of the tokens login issues (at most `MAX_ACCESS_TTL`).
    pub ttl: Duration,
}

/// The keys in use: a verifier, and an issuer where the function signs.
pub struct KeyRing {
    settings: TokenSettings,
    refresh: Option<Refresh>,
    current: RwLock<Arc<Current>>,
}

/// Where a fetched ring refreshes from, and how often.
struct Refresh {
    source: Arc<dyn KeySource>,
    every: Duration,
    signs: bool,
    clock: Arc<dyn Clock>,
    /// One refresh at a time; concurrent requests use the keys in hand meanwhile.
    gate: tokio::sync::Mutex<()>,
}

#[derive(Clone)]
struct Current {
    verifier: Arc<TokenVerifier>,
    issuer: Option<Arc<TokenIssuer>>,
    kids: Vec<String>,
    fetched_at: DateTime<Utc>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let current = self.snapshot();
        f.debug_struct("KeyRing")
            .field("accepted", &current.kids)
            .field("signs", &current.issuer.is_some())
            .field("refreshes", &self.refresh.is_some())
            .finish()
    }
}

impl KeyRing {
    /// Fixed keys: `public` accepted, and `signing` (whose public half is accepted too) to sign.
    pub fn fixed(
        settings: TokenSettings,
        public: PublicKeys,
        signing: Option<SigningKey>,
    ) -> Result<Self, KeyError> {
        let current = Current::build(&settings, public, signing, DateTime::<Utc>::MIN_UTC)?;
        Ok(Self { settings, refresh: None, current: RwLock::new(Arc::new(current)) })
    }

    /// Keys fetched from `source` now (an error stops the cold start) and again when older than
    /// `every`; with `signs`, the signing key too.
    pub async fn fetch(
        settings: TokenSettings,
        source: Arc<dyn KeySource>,
        every: Duration,
        signs: bool,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, KeyError> {
        let now = clock.now();
        let current = load(&settings, source.as_ref(), signs, now).await?;
        let refresh = Refresh { source, every, signs, clock, gate: tokio::sync::Mutex::new(()) };
        Ok(Self { settings, refresh: Some(refresh), current: RwLock::new(Arc::new(current)) })
    }

    /// Whether the ring can sign.
    pub fn signs(&self) -> bool {
        self.snapshot().issuer.is_some()
    }

    /// The key ids accepted now.
    pub fn accepted(&self) -> Vec<String> {
        self.snapshot().kids.clone()
    }

    /// The verifier for the keys accepted now (refreshed first if they are stale).
    pub async fn verifier(&self) -> Arc<TokenVerifier> {
        self.current().await.verifier.clone()
    }

    /// The issuer for the signing key now (refreshed first if it is stale).
    pub async fn issuer(&self) -> Result<Arc<TokenIssuer>, TokenError> {
        self.current().await.issuer.clone().ok_or(TokenError::Sign)
    }

    fn snapshot(&self) -> Arc<Current> {
        self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    async fn current(&self) -> Arc<Current> {
        let current = self.snapshot();
        let Some(refresh) = &self.refresh else { return current };
        if refresh.clock.now() - current.fetched_at < refresh.every {
            return current;
        }
        // Someone else is refreshing: their result arrives with a later request.
        let Ok(_refreshing) = refresh.gate.try_lock() else { return current };
        let now = refresh.clock.now();
        if now - self.snapshot().fetched_at < refresh.every {
            return self.snapshot();
        }
        match load(&self.settings, refresh.source.as_ref(), refresh.signs, now).await {
            Ok(fresh) => {
                if fresh.kids != current.kids {
                    tracing::info!(accepted = ?fresh.kids, "token keys changed");
                }
                let fresh = Arc::new(fresh);
                *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = fresh.clone();
                fresh
            }
            Err(e) => {
                // Keep the keys in hand; try again after another interval, not on every request.
                tracing::warn!(error = %e, "token key refresh failed; keeping the current keys");
                let kept = Arc::new(Current { fetched_at: now, ..(*current).clone() });
                *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = kept.clone();
                kept
            }
        }
    }
}

async fn load(
    settings: &TokenSettings,
    source: &dyn KeySource,
    signs: bool,
    now: DateTime<Utc>,
) -> Result<Current, KeyError> {
    // Both secrets in parallel: at cold start each read is a round trip.
    let (public, signing) = tokio::join!(source.public_keys(), async {
        if signs { Some(source.signing_key().await) } else { None }
    });
    let public = PublicKeys::from_jwks(&public?)?;
    let signing = signing.transpose()?.map(|pem| SigningKey::from_secret(&pem)).transpose()?;
    Current::build(settings, public, signing, now)
}

impl Current {
    fn build(
        settings: &TokenSettings,
        mut public: PublicKeys,
        signing: Option<SigningKey>,
        fetched_at: DateTime<Utc>,
    ) -> Result<Self, KeyError> {
        if let Some(key) = &signing {
            public.insert(key.public_key().clone())?;
        }
        if public.is_empty() {
            return Err(KeyError::BadPublicKeys("no key".into()));
        }
        let kids = public.kids();
        let verifier = Arc::new(TokenVerifier::new(public, &settings.issuer, &settings.audience));
        let issuer = signing
            .map(|key| Arc::new(TokenIssuer::new(key, &settings.issuer, &settings.audience, settings.ttl)));
        Ok(Self { verifier, issuer, kids, fetched_at })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::clock::ManualClock;
    use crate::domain::{SessionId, UserId};
    use crate::ports::KeySourceError;

    /// A key store whose documents the test changes.
    struct Store {
        public: Mutex<Result<String, KeySourceError>>,
        signing: Mutex<String>,
    }

    #[async_trait]
    impl KeySource for Store {
        async fn public_keys(&self) -> Result<String, KeySourceError> {
            self.public.lock().unwrap().as_ref().map(Clone::clone).map_err(|e| KeySourceError(e.0.clone()))
        }
        async fn signing_key(&self) -> Result<String, KeySourceError> {
            Ok(self.signing.lock().unwrap().clone())
        }
    }

    fn secret(kid: &str) -> (SigningKey, String) {
        let (key, pem) = SigningKey::generate(kid).unwrap();
        (key, serde_json::json!({"kid": kid, "pem": pem}).to_string())
    }

    fn settings() -> TokenSettings {
        TokenSettings { issuer: "iss".into(), audience: "aud".into(), ttl: Duration::minutes(15) }
    }

    #[tokio::test]
    async fn a_fetched_ring_follows_the_store_after_the_interval_and_keeps_its_keys_when_the_store_fails() {
        let (k1, s1) = secret("k1");
        let (k2, s2) = secret("k2");
        let jwks = |keys: &[&SigningKey]| {
            PublicKeys::new(keys.iter().map(|k| k.public_key().clone())).unwrap().to_jwks()
        };
        let store = Arc::new(Store { public: Mutex::new(Ok(jwks(&[&k1]))), signing: Mutex::new(s1) });
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let ring = KeyRing::fetch(settings(), store.clone(), Duration::minutes(5), true, clock.clone())
            .await
            .unwrap();
        let (user, session) = (UserId::from_trusted("u"), SessionId::from_trusted("s"));
        let old = ring.issuer().await.unwrap().issue(&user, &session, clock.now()).unwrap();
        assert_eq!(ring.accepted(), ["k1"]);

        *store.public.lock().unwrap() = Ok(jwks(&[&k1, &k2]));
        *store.signing.lock().unwrap() = s2;
        clock.advance(Duration::minutes(4));
        assert_eq!(ring.accepted(), ["k1"], "not before the interval");
        clock.advance(Duration::minutes(2));
        let new = ring.issuer().await.unwrap().issue(&user, &session, clock.now()).unwrap();
        assert_eq!(ring.accepted(), ["k1", "k2"]);
        let verifier = ring.verifier().await;
        assert!(
            verifier.verify(&old.token, clock.now()).is_ok()
                && verifier.verify(&new.token, clock.now()).is_ok()
        );

        // The store fails: the keys stay, and are not asked for again until the next interval.
        *store.public.lock().unwrap() = Err(KeySourceError("down".into()));
        clock.advance(Duration::minutes(6));
        assert!(ring.verifier().await.verify(&new.token, clock.now()).is_ok());
        *store.public.lock().unwrap() = Ok(jwks(&[&k2]));
        clock.advance(Duration::minutes(1));
        assert_eq!(ring.accepted(), ["k1", "k2"], "retried only after another interval");
        clock.advance(Duration::minutes(5));
        let verifier = ring.verifier().await;
        assert_eq!(ring.accepted(), ["k2"]);
        assert!(verifier.verify(&old.token, clock.now()).is_err(), "the dropped key is refused");
    }

    #[tokio::test]
    async fn a_fixed_ring_accepts_its_own_signing_key_and_a_verifying_one_cannot_sign() {
        let (k1, _) = secret("k1");
        let public = PublicKeys::new([]).unwrap();
        let ring = KeyRing::fixed(settings(), public.clone(), Some(k1)).unwrap();
        assert!(ring.signs() && ring.accepted() == ["k1"]);
        assert!(KeyRing::fixed(settings(), public, None).is_err(), "a ring with no key accepts nothing");
        let (k2, _) = secret("k2");
        let only = PublicKeys::new([k2.public_key().clone()]).unwrap();
        let ring = KeyRing::fixed(settings(), only, None).unwrap();
        assert!(matches!(ring.issuer().await, Err(TokenError::Sign)));
    }
}
