//! Password hashing: argon2id with OWASP parameters, on a few dedicated threads behind a bounded
//! queue.
//!
//! Each hash works through 19 MiB for ~30 ms of a whole core. A burst of logins must neither
//! queue without bound (latency and memory grow with the backlog) nor leave memory behind: a
//! 19 MiB buffer allocated and freed per hash was kept by the allocator each time (measured: 10
//! sequential verifications grew the process by 150 MB, never returned). So: one worker thread
//! per core, each with one memory buffer it reuses and wipes after every hash (what is left in
//! it would make guessing the password cheap), at most [`QUEUE_PER_CORE`] waiting hashes per
//! core, and a caller reserves its place ([`PasswordHasher::reserve`]) before it hashes, so a
//! full queue is answered at once ("busy").

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use crate::domain::Password;

/// A well-formed argon2id PHC string (m=19456, t=2, p=1) whose output is random bytes, so no
/// password is known to match it. Unknown emails are verified against it so both paths do the
/// same work; a unit test checks its parameters match [`PasswordHasher`]'s.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$6X3NnZ1lZVbm8o0e7VOSbbK3mrdSVt4tZ7a6f4f0lBU";

/// Hashes that may wait per core (beyond the one each core is running).
pub(crate) const QUEUE_PER_CORE: usize = 2;

/// Why hashing failed (never a wrong password: that is [`Verdict::Mismatch`]).
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Every place in the queue is taken: answer "busy" and hash nothing.
    #[error("password hashing queue full")]
    Busy,
    /// argon2 refused its input or the stored hash is not a PHC string.
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// The worker thread is gone.
    #[error("password hashing worker failed")]
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

/// A reserved place in the hashing queue, spent by one [`PasswordHasher::hash`] or
/// [`PasswordHasher::verify`]. It is held until that hash finishes, even if the request that
/// asked for it is gone, so the bound counts work really in flight.
#[derive(Debug)]
pub struct HashSlot {
    _place: OwnedSemaphorePermit,
}

/// Work for a hashing thread, given that thread's memory buffer.
type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// argon2 of `password` and `salt` into `out` with these settings, in `memory` (grown once if
/// the settings need more, e.g. a stored hash with older parameters), wiped afterwards.
fn compute(
    memory: &mut Vec<Block>,
    algorithm: Algorithm,
    version: Version,
    params: Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), PasswordError> {
    let needed = params.block_count();
    if memory.len() < needed {
        memory.resize(needed, Block::new());
    }
    let result = Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt, out, &mut memory[..needed])
        .map_err(|e| PasswordError::Hash(e.to_string()));
    memory[..needed].fill(Block::new());
    result
}

/// Hashes and verifies passwords.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    params: Params,
    places: Arc<Semaphore>,
    jobs: mpsc::Sender<Job>,
    verifications: Arc<AtomicU64>,
}

impl Default for PasswordHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl PasswordHasher {
    /// OWASP parameters (argon2id, m = 19 MiB, t = 2, p = 1), one worker per core.
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self::with_workers(cores)
    }

    /// `workers` threads and `QUEUE_PER_CORE × workers` places to wait. The threads end when the
    /// last clone of the hasher is dropped.
    pub fn with_workers(workers: usize) -> Self {
        let workers = workers.max(1);
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..workers {
            let queue = Arc::clone(&queue);
            let spawned = std::thread::Builder::new().name(format!("argon2-{n}")).spawn(move || {
                // Allocated by the first hash, then reused by every hash of this thread.
                let mut memory = Vec::new();
                loop {
                    // The lock is held only to take the next job, never while hashing.
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    match next {
                        Ok(job) => job(&mut memory),
                        Err(_) => return,
                    }
                }
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "password hashing worker not started");
            }
        }
        Self {
            params: Params::DEFAULT,
            places: Arc::new(Semaphore::new(workers * (1 + QUEUE_PER_CORE))),
            jobs,
            verifications: Arc::new(AtomicU64::new(0)),
        }
    }

    /// A place in the queue, or [`PasswordError::Busy`] at once when all are taken.
    pub fn reserve(&self) -> Result<HashSlot, PasswordError> {
        Arc::clone(&self.places)
            .try_acquire_owned()
            .map(|place| HashSlot { _place: place })
            .map_err(|_| PasswordError::Busy)
    }

    /// Hashes a new password into a PHC string with a random salt.
    pub async fn hash(&self, slot: HashSlot, password: &Password) -> Result<String, PasswordError> {
        let mut salt = [0u8; 16];
        aws_lc_rs::rand::fill(&mut salt).map_err(|_| PasswordError::Hash("no randomness".into()))?;
        let params = self.params.clone();
        let secret = password.expose().to_owned();
        self.run(slot, move |memory| {
            let hash_err = |e: argon2::password_hash::Error| PasswordError::Hash(e.to_string());
            let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
            compute(
                memory,
                Algorithm::Argon2id,
                Version::V0x13,
                params.clone(),
                secret.as_bytes(),
                &salt,
                &mut out,
            )?;
            let salt = SaltString::encode_b64(&salt).map_err(hash_err)?;
            let phc = PasswordHash {
                algorithm: Algorithm::Argon2id.ident(),
                version: Some(Version::V0x13.into()),
                params: ParamsString::try_from(&params).map_err(hash_err)?,
                salt: Some(salt.as_salt()),
                hash: Some(Output::new(&out).map_err(hash_err)?),
            };
            Ok(phc.to_string())
        })
        .await
    }

    /// Verifies `password` against `stored`, or against a dummy hash when there is no account,
    /// so that both cases cost one full verification.
    pub async fn verify(
        &self,
        slot: HashSlot,
        password: &Password,
        stored: Option<&str>,
    ) -> Result<Verdict, PasswordError> {
        let known = stored.is_some();
        let phc = stored.unwrap_or(DUMMY_HASH).to_owned();
        let secret = password.expose().to_owned();
        let current = self.params.clone();
        self.verifications.fetch_add(1, Ordering::Relaxed);
        self.run(slot, move |memory| {
            let hash_err = |e: argon2::password_hash::Error| PasswordError::Hash(e.to_string());
            let parsed = PasswordHash::new(&phc).map_err(hash_err)?;
            let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
                return Err(PasswordError::Hash("stored hash without salt or output".into()));
            };
            let algorithm = Algorithm::try_from(parsed.algorithm).map_err(hash_err)?;
            let version = match parsed.version {
                Some(v) => Version::try_from(v).map_err(|e| PasswordError::Hash(e.to_string()))?,
                None => Version::default(),
            };
            let stored_params = Params::try_from(&parsed).map_err(hash_err)?;
            let mut salt_buf = [0u8; 64];
            let salt = salt.decode_b64(&mut salt_buf).map_err(hash_err)?;
            let mut out = vec![0u8; expected.len()];
            compute(memory, algorithm, version, stored_params.clone(), secret.as_bytes(), salt, &mut out)?;
            // `Output`'s comparison is constant-time.
            let matches = Output::new(&out).map_err(hash_err)? == expected;
            if !(known && matches) {
                return Ok(Verdict::Mismatch);
            }
            let stored_params = Some(stored_params);
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

    async fn run<T: Send + 'static>(
        &self,
        slot: HashSlot,
        work: impl FnOnce(&mut Vec<Block>) -> Result<T, PasswordError> + Send + 'static,
    ) -> Result<T, PasswordError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |memory| {
            let result = work(memory);
            drop(slot);
            let _ = tx.send(result);
        });
        self.jobs.send(job).map_err(|_| PasswordError::Task)?;
        rx.await.map_err(|_| PasswordError::Task)?
    }
}

#[cfg(test)]
mod tests {
    use argon2::PasswordHasher as _;

    use super::*;

    fn pw(s: &str) -> Password {
        Password::parse(s.to_owned()).unwrap()
    }

    /// Resident memory of this process, from `/proc`.
    fn rss_mib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        kb / 1024
    }

    #[tokio::test]
    async fn memory_stays_one_buffer_per_worker_however_many_hashes() {
        let hasher = PasswordHasher::with_workers(2);
        let password = pw("correct horse battery");
        for _ in 0..4 {
            hasher.verify(hasher.reserve().unwrap(), &password, None).await.unwrap();
        }
        let warm = rss_mib();
        for _ in 0..12 {
            hasher.verify(hasher.reserve().unwrap(), &password, None).await.unwrap();
        }
        // Twelve more hashes of 19 MiB each: before, each one was kept (+228 MiB).
        let grown = rss_mib().saturating_sub(warm);
        assert!(grown < 20, "grew {grown} MiB over 12 hashes");
    }

    #[tokio::test]
    async fn hashes_are_standard_phc_strings_other_implementations_verify() {
        let hasher = PasswordHasher::new();
        let phc = hasher.hash(hasher.reserve().unwrap(), &pw("correct horse battery")).await.unwrap();
        let parsed = PasswordHash::new(&phc).unwrap();
        use argon2::PasswordVerifier as _;
        assert!(Argon2::default().verify_password(b"correct horse battery", &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"wrong horse battery", &parsed).is_err());
    }

    #[tokio::test]
    async fn hash_then_verify() {
        let hasher = PasswordHasher::new();
        let phc = hasher.hash(hasher.reserve().unwrap(), &pw("correct horse battery")).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert_eq!(
            hasher.verify(hasher.reserve().unwrap(), &pw("correct horse battery"), Some(&phc)).await.unwrap(),
            Verdict::Match { needs_rehash: false }
        );
        assert_eq!(
            hasher.verify(hasher.reserve().unwrap(), &pw("wrong horse battery"), Some(&phc)).await.unwrap(),
            Verdict::Mismatch
        );
    }

    #[tokio::test]
    async fn unknown_account_runs_one_verification_and_never_matches() {
        let hasher = PasswordHasher::new();
        assert_eq!(
            hasher.verify(hasher.reserve().unwrap(), &pw("anything at all"), None).await.unwrap(),
            Verdict::Mismatch
        );
        assert_eq!(hasher.verifications(), 1);
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_and_frees_its_places_as_hashes_finish() {
        let hasher = PasswordHasher::with_workers(1);
        let places: Vec<HashSlot> = (0..1 + QUEUE_PER_CORE).map(|_| hasher.reserve().unwrap()).collect();
        assert!(matches!(hasher.reserve(), Err(PasswordError::Busy)), "one running and two waiting");
        let mut running = Vec::new();
        for slot in places {
            let hasher = hasher.clone();
            running.push(tokio::spawn(
                async move { hasher.verify(slot, &pw("wrong horse battery"), None).await },
            ));
        }
        for r in running {
            assert_eq!(r.await.unwrap().unwrap(), Verdict::Mismatch);
        }
        assert!(hasher.reserve().is_ok(), "every place came back");
    }

    #[tokio::test]
    async fn a_reserved_place_is_held_until_its_hash_ends_even_if_the_caller_goes() {
        let hasher = PasswordHasher::with_workers(1);
        let places: Vec<HashSlot> = (0..1 + QUEUE_PER_CORE).map(|_| hasher.reserve().unwrap()).collect();
        let mut abandoned = Vec::new();
        for slot in places {
            let hasher = hasher.clone();
            abandoned.push(tokio::spawn(async move {
                hasher.verify(slot, &pw("wrong horse battery"), None).await
            }));
        }
        tokio::task::yield_now().await;
        for task in &abandoned {
            task.abort();
        }
        // The hashes still run on the worker; their places come back only when each ends.
        assert!(matches!(hasher.reserve(), Err(PasswordError::Busy)));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while hasher.reserve().is_err() {
            assert!(std::time::Instant::now() < deadline, "the places never came back");
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
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
        let hasher = PasswordHasher::new();
        let verdict =
            hasher.verify(hasher.reserve().unwrap(), &pw("correct horse battery"), Some(&phc)).await.unwrap();
        assert_eq!(verdict, Verdict::Match { needs_rehash: true });
    }
}
