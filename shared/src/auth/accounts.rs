//! Account use cases behind the `login` function: register, sign in, refresh, sign out (the
//! lifecycle ones — reset, change, sessions, deletion — are in `lifecycle.rs`).

use std::sync::Arc;

use super::password::{PasswordError, PasswordHasher, Verdict};
use super::session::{SessionId, SessionPolicy, SessionToken};
use super::throttle::{Gate, LoginThrottle};
use super::token::{AccessToken, TokenError, TokenIssuer};
use crate::clock::Clock;
use crate::config::LoginConfig;
use crate::domain::ws::Notifier;
use crate::domain::{DisplayName, Email, Password, UserId, UserProfile};
use crate::ports::{
    Conversations, MailTransport, RateLimits, SessionStore, StoreError, Stores, SupportTickets, UserRecord,
    UserStore, WsTickets,
};

/// Why an account operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Registration with an email that has an account.
    #[error("email taken")]
    EmailTaken,
    /// Unknown email or wrong password (one case, on purpose).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Throttled; retry after this many seconds.
    #[error("too many attempts")]
    TooManyAttempts {
        /// Seconds until the throttle window ends.
        retry_after: u64,
    },
    /// The session cookie is missing, malformed, unknown, expired or revoked.
    #[error("session invalid")]
    SessionInvalid,
    /// A password-reset token that is unknown, used or expired.
    #[error("invalid reset token")]
    InvalidResetToken,
    /// The password given to confirm a change or a deletion is not the account's.
    #[error("wrong password")]
    WrongPassword(&'static str),
    /// A per-email or per-address allowance is used up.
    #[error("rate limited")]
    RateLimited {
        /// Seconds until it renews.
        retry_after: u64,
    },
    /// The reset mail could not be handed to the mail service (its token was withdrawn).
    #[error("mail unavailable")]
    MailUnavailable,
    /// No such session of this user.
    #[error("not found")]
    NotFound,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Hashing or signing failed.
    #[error("internal: {0}")]
    Internal(String),
}

impl From<PasswordError> for AccountError {
    fn from(e: PasswordError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<TokenError> for AccountError {
    fn from(e: TokenError) -> Self {
        Self::Internal(e.to_string())
    }
}

/// A successful sign-in: the user, an access token and a new session's cookie token.
#[derive(Debug)]
pub struct SignedIn {
    /// The account.
    pub user: UserProfile,
    /// Bearer token for API calls.
    pub access: AccessToken,
    /// Goes into the session cookie, nowhere else.
    pub session_token: SessionToken,
}

/// Everything the account use cases need.
#[derive(Clone)]
pub struct Accounts {
    pub(super) users: Arc<dyn UserStore>,
    pub(super) sessions: Arc<dyn SessionStore>,
    pub(super) tokens: Arc<dyn WsTickets>,
    pub(super) conversations: Arc<dyn Conversations>,
    pub(super) tickets: Arc<dyn SupportTickets>,
    pub(super) limits: Arc<dyn RateLimits>,
    pub(super) throttle: LoginThrottle,
    pub(super) hasher: PasswordHasher,
    pub(super) issuer: Arc<TokenIssuer>,
    pub(super) policy: SessionPolicy,
    pub(super) reset: super::lifecycle::ResetSettings,
    pub(super) mail: Arc<dyn MailTransport>,
    pub(super) notifier: Notifier,
    pub(super) clock: Arc<dyn Clock>,
}

impl Accounts {
    /// Wires the use cases to their ports: the stores, the mail transport (reset mail) and the
    /// notifier (a revoked session's sockets are told and closed).
    pub fn new(
        stores: &Stores,
        config: &LoginConfig,
        mail: Arc<dyn MailTransport>,
        notifier: Notifier,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            users: stores.users.clone(),
            sessions: stores.sessions.clone(),
            tokens: stores.ws_tickets.clone(),
            conversations: stores.conversations.clone(),
            tickets: stores.tickets.clone(),
            limits: stores.rate_limits.clone(),
            throttle: LoginThrottle::new(stores.rate_limits.clone(), config.throttle),
            hasher: PasswordHasher::new(),
            issuer: config.issuer.clone(),
            policy: config.sessions,
            reset: config.reset.clone(),
            mail,
            notifier,
            clock,
        }
    }

    /// The session lifetimes (the cookie's `Max-Age` is the absolute one).
    pub fn policy(&self) -> SessionPolicy {
        self.policy
    }

    /// The password hasher (its verification count is observable in tests).
    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    /// Creates an account with its first session (one atomic store write) and signs it in.
    pub async fn register(
        &self,
        email: Email,
        password: Password,
        display_name: Option<DisplayName>,
        user_agent: Option<String>,
    ) -> Result<SignedIn, AccountError> {
        let password_hash = self.hasher.hash(&password).await?;
        let now = self.clock.now();
        let profile = UserProfile { id: UserId::generate(), email, display_name, created_at: now };
        let (session_token, session) = self.policy.start(profile.clone(), now, user_agent);
        match self.users.create(&UserRecord { profile, password_hash }, &session).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => return Err(AccountError::EmailTaken),
            Err(e) => return Err(e.into()),
        }
        let access = self.issuer.issue(&session.user.id, &session.id, now)?;
        Ok(SignedIn { user: session.user, access, session_token })
    }

    /// Checks the throttle, then the password (always one verification), then opens a new
    /// session: 3 store round trips, one more after earlier failures or a parameter change.
    pub async fn login(
        &self,
        email: Email,
        password: Password,
        user_agent: Option<String>,
    ) -> Result<SignedIn, AccountError> {
        let now = self.clock.now();
        let failures = match self.throttle.check(&email, now).await? {
            Gate::Locked { retry_after } => {
                return Err(AccountError::TooManyAttempts { retry_after });
            }
            Gate::Open { failures } => failures,
        };
        let user = self.users.find_by_email(&email).await?;
        let verdict = self.hasher.verify(&password, user.as_ref().map(|u| u.password_hash.as_str())).await?;
        let (user, needs_rehash) = match (user, verdict) {
            (Some(user), Verdict::Match { needs_rehash }) => (user, needs_rehash),
            _ => {
                self.throttle.fail(&email, now).await?;
                return Err(AccountError::InvalidCredentials);
            }
        };
        if needs_rehash {
            // Best effort: the login is valid either way; the next one retries.
            match self.hasher.hash(&password).await {
                Ok(phc) => {
                    if let Err(e) = self.users.set_password_hash(&user, &phc).await {
                        tracing::warn!(error = %e, "password rehash not stored");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "password rehash failed"),
            }
        }
        if failures > 0 {
            self.throttle.succeed(&email).await?;
        }
        self.start_session(user.profile, user_agent).await
    }

    async fn start_session(
        &self,
        user: UserProfile,
        user_agent: Option<String>,
    ) -> Result<SignedIn, AccountError> {
        let now = self.clock.now();
        let (session_token, record) = self.policy.start(user, now, user_agent);
        self.sessions.create(&record).await?;
        let access = self.issuer.issue(&record.user.id, &record.id, now)?;
        Ok(SignedIn { user: record.user, access, session_token })
    }

    /// A new access token for the session in the cookie, renewing its idle limit (1 round trip).
    pub async fn refresh(&self, cookie: Option<&str>) -> Result<AccessToken, AccountError> {
        let token = cookie.and_then(SessionToken::parse).ok_or(AccountError::SessionInvalid)?;
        let now = self.clock.now();
        let session = self
            .sessions
            .touch(&token.id(), now + self.policy.idle, now)
            .await?
            .ok_or(AccountError::SessionInvalid)?;
        Ok(self.issuer.issue(&session.user.id, &session.id, now)?)
    }

    /// Revokes the session a verified principal runs under and closes its sockets.
    pub async fn logout(&self, session: &SessionId) -> Result<(), AccountError> {
        self.revoke(session).await
    }

    /// Revokes the session in the cookie; [`AccountError::SessionInvalid`] if none was live.
    pub async fn logout_cookie(&self, cookie: Option<&str>) -> Result<(), AccountError> {
        let token = cookie.and_then(SessionToken::parse).ok_or(AccountError::SessionInvalid)?;
        let id = token.id();
        if !self.sessions.delete(&id, self.clock.now()).await? {
            return Err(AccountError::SessionInvalid);
        }
        self.close_sockets(&id).await;
        Ok(())
    }

    /// Deletes a session, then tells its sockets and closes them.
    pub(super) async fn revoke(&self, session: &SessionId) -> Result<(), AccountError> {
        self.sessions.delete(session, self.clock.now()).await?;
        self.close_sockets(session).await;
        Ok(())
    }

    /// The session is already revoked: closing its sockets is best effort.
    async fn close_sockets(&self, session: &SessionId) {
        let delivery = self.notifier.revoke_session(session).await;
        tracing::info!(
            closed = delivery.sent,
            gone = delivery.gone,
            failed = delivery.failed,
            "session sockets closed"
        );
    }
}
