//! Password hashing: argon2id with OWASP parameters, off the async threads, bounded in parallel.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::domain::Password;

/// A well-formed argon2id PHC string (m=19456, t=2, p=1) whose output is random bytes, so no
/// password is known to match it. Unknown emails are verified against it so both paths do the
/// same work; a unit test checks its parameters match [`PasswordHasher`]'s.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$6X3NnZ1lZVbm8o0e7VOSbbK3mrdSVt4tZ7a6f4f0lBU";

/// Why hashing failed (never a wrong password: that is [`Verdict::Mismatch`]).
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// argon2 refused its input or the stored hash is not a PHC string.
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// The blocking task panicked or was cancelled.
    #[error("password hashing task failed")]
    Task,
}

/// Outcome of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Wrong password (or no such account).
    Mismatch,
    /// Right password; `needs_rehash` when the stored hash used other parameters.
    Match {
        /// The stored hash should be replaced by one with the current parameters.
        needs_rehash: bool,
    },
}

/// Hashes and verifies passwords.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    params: Params,
    // Each hash holds 19 MiB; bounding parallel work bounds memory under a login burst.
    permits: Arc<Semaphore>,
    verifications: Arc<AtomicU64>,
}

impl Default for PasswordHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl PasswordHasher {
    /// OWASP parameters: argon2id, m = 19 MiB, t = 2, p = 1.
    pub fn new() -> Self {
        let parallel = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            params: Params::DEFAULT,
            permits: Arc::new(Semaphore::new(parallel)),
            verifications: Arc::new(AtomicU64::new(0)),
        }
    }

    fn argon2(params: Params) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    /// Hashes a new password into a PHC string with a random salt.
    pub async fn hash(&self, password: &Password) -> Result<String, PasswordError> {
        let mut salt = [0u8; 16];
        aws_lc_rs::rand::fill(&mut salt).map_err(|_| PasswordError::Hash("no randomness".into()))?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
        let params = self.params.clone();
        let secret = password.expose().to_owned();
        self.blocking(move || {
            Self::argon2(params)
                .hash_password(secret.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| PasswordError::Hash(e.to_string()))
        })
        .await
    }

    /// Verifies `password` against `stored`, or against a dummy hash when there is no account,
    /// so that both cases cost one full verification.
    pub async fn verify(&self, password: &Password, stored: Option<&str>) -> Result<Verdict, PasswordError> {
        let known = stored.is_some();
        let phc = stored.unwrap_or(DUMMY_HASH).to_owned();
        let secret = password.expose().to_owned();
        let current = self.params.clone();
        self.verifications.fetch_add(1, Ordering::Relaxed);
        self.blocking(move || {
            let parsed = PasswordHash::new(&phc).map_err(|e| PasswordError::Hash(e.to_string()))?;
            let matches = Self::argon2(current.clone()).verify_password(secret.as_bytes(), &parsed).is_ok();
            if !(known && matches) {
                return Ok(Verdict::Mismatch);
            }
            let stored_params = Params::try_from(&parsed).ok();
            let same_algorithm = parsed.algorithm.as_str() == Algorithm::Argon2id.ident().as_str();
            let needs_rehash = !same_algorithm
                || stored_params.is_none_or(|p| {
                    (p.m_cost(), p.t_cost(), p.p_cost())
                        != (current.m_cost(), current.t_cost(), current.p_cost())
                });
            Ok(Verdict::Match { needs_rehash })
        })
        .await
    }

    /// How many verifications this hasher has run (tests check the unknown-email path runs one).
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, PasswordError> + Send + 'static,
    ) -> Result<T, PasswordError> {
        let _permit = self.permits.acquire().await.map_err(|_| PasswordError::Task)?;
        tokio::task::spawn_blocking(work).await.map_err(|_| PasswordError::Task)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pw(s: &str) -> Password {
        Password::parse(s.to_owned()).unwrap()
    }

    #[tokio::test]
    async fn hash_then_verify() {
        let hasher = PasswordHasher::new();
        let phc = hasher.hash(&pw("correct horse battery")).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert_eq!(
            hasher.verify(&pw("correct horse battery"), Some(&phc)).await.unwrap(),
            Verdict::Match { needs_rehash: false }
        );
        assert_eq!(hasher.verify(&pw("wrong horse battery"), Some(&phc)).await.unwrap(), Verdict::Mismatch);
    }

    #[tokio::test]
    async fn unknown_account_runs_one_verification_and_never_matches() {
        let hasher = PasswordHasher::new();
        assert_eq!(hasher.verify(&pw("anything at all"), None).await.unwrap(), Verdict::Mismatch);
        assert_eq!(hasher.verifications(), 1);
    }

    #[test]
    fn dummy_hash_uses_the_current_parameters() {
        let parsed = PasswordHash::new(DUMMY_HASH).unwrap();
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        let p = Params::try_from(&parsed).unwrap();
        let d = Params::DEFAULT;
        assert_eq!((p.m_cost(), p.t_cost(), p.p_cost()), (d.m_cost(), d.t_cost(), d.p_cost()));
        assert_eq!(parsed.hash.map(|h| h.len()), Some(32));
    }

    #[tokio::test]
    async fn weaker_stored_parameters_ask_for_a_rehash() {
        let weak = Params::new(8 * 1024, 1, 1, None).unwrap();
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let phc = Argon2::new(Algorithm::Argon2id, Version::V0x13, weak)
            .hash_password(b"correct horse battery", &salt)
            .unwrap()
            .to_string();
        let verdict = PasswordHasher::new().verify(&pw("correct horse battery"), Some(&phc)).await.unwrap();
        assert_eq!(verdict, Verdict::Match { needs_rehash: true });
    }
}
