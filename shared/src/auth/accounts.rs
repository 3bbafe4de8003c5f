//! Account use cases behind the `login` function: register, sign in, refresh, sign out (the
//! lifecycle ones — address verification, reset, change, sessions, deletion — are in
//! `lifecycle.rs`).
//!
//! Every limit is taken before the work it guards: the per-address and per-account allowances
//! (each one atomic conditional increment, so of any number of concurrent attempts at most the
//! allowance goes on), then a place in the bounded hashing queue (a full queue answers "busy"
//! at once), then the password hash.

use std::sync::Arc;

use chrono::Duration;
use lettre::message::Mailbox;

use super::password::{PasswordError, PasswordHasher, Verdict};
use super::secret::MailToken;
use super::session::{SessionId, SessionPolicy, SessionToken};
use super::throttle::{Allowance, LoginThrottle, Refused, take};
use super::token::{AccessToken, TokenError, TokenIssuer};
use crate::clock::Clock;
use crate::domain::mail::{build_reset, build_verify};
use crate::domain::ws::Notifier;
use crate::domain::{DisplayName, Email, Password, UserId, UserProfile};
use crate::ports::{
    Conversations, MailTransport, OutgoingMail, RateLimits, SessionStore, StoreError, StoredToken, Stores,
    SupportTickets, TokenPurpose, UserRecord, UserStore, WsTickets,
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
    /// The account's password attempts are used up; retry after this many seconds.
    #[error("too many attempts")]
    TooManyAttempts {
        /// Seconds until the throttle window ends.
        retry_after: u64,
    },
    /// The session cookie is missing, malformed, unknown, expired or revoked.
    #[error("session invalid")]
    SessionInvalid,
    /// A password-reset token that is unknown, used, replaced or expired.
    #[error("invalid reset token")]
    InvalidResetToken,
    /// An address-verification token that is unknown, used, replaced or expired.
    #[error("invalid verification token")]
    InvalidVerificationToken,
    /// The address is verified already; there is nothing to send.
    #[error("email already verified")]
    AlreadyVerified,
    /// The password given to confirm a change or a deletion is not the account's.
    #[error("wrong password")]
    WrongPassword(&'static str),
    /// A per-address, per-email or per-user allowance is used up.
    #[error("rate limited")]
    RateLimited {
        /// Seconds until it renews.
        retry_after: u64,
    },
    /// A mail could not be handed to the mail service (nothing it would have proved was kept).
    #[error("mail unavailable")]
    MailUnavailable,
    /// The password hashing queue is full; nothing was hashed.
    #[error("busy")]
    Busy,
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
        match e {
            PasswordError::Busy => Self::Busy,
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<TokenError> for AccountError {
    fn from(e: TokenError) -> Self {
        Self::Internal(e.to_string())
    }
}

/// A mailed link: the web client's page it opens and how long its token works.
#[derive(Debug, Clone)]
pub struct MailedLink {
    /// The page; the mail links to `{url}?token=…`.
    pub url: String,
    /// How long the token works.
    pub ttl: Duration,
}

/// The account rules, as plain values.
#[derive(Debug, Clone)]
pub struct AccountPolicy {
    /// Session lifetimes.
    pub sessions: SessionPolicy,
    /// Live sessions a user may hold; a new sign-in beyond ends the oldest.
    pub max_sessions: u32,
    /// Password attempts per account (sign-in, change, deletion).
    pub attempts: Allowance,
    /// Sign-in requests per source address.
    pub logins_per_address: Allowance,
    /// Registrations per source address.
    pub registrations_per_address: Allowance,
    /// Sender of the verification and reset mails.
    pub from: Mailbox,
    /// The verification link.
    pub verify: MailedLink,
    /// Verification mails a user may ask to be sent again.
    pub verify_resends: Allowance,
    /// The password-reset link.
    pub reset: MailedLink,
    /// Reset mails one email address may be sent.
    pub resets_per_email: Allowance,
    /// Reset requests one source address may make.
    pub resets_per_address: Allowance,
}

impl AccountPolicy {
    /// The defaults for everything but the two pages and the sender: 31-day sessions idle after
    /// 7 days, at most 20 each; 5 password attempts per account per 15 minutes; 30 sign-ins per
    /// address per minute; 10 registrations per address per hour; verification links valid
    /// 24 hours, resent at most 3 times per 15 minutes; reset links valid 30 minutes, 3 per
    /// email and 20 per address per 15 minutes.
    pub fn new(verify_url: String, reset_url: String, from: Mailbox) -> Self {
        let quarter = Duration::minutes(15);
        Self {
            sessions: SessionPolicy::default(),
            max_sessions: 20,
            attempts: LoginThrottle::DEFAULT,
            logins_per_address: Allowance::new(30, Duration::minutes(1)),
            registrations_per_address: Allowance::new(10, Duration::hours(1)),
            from,
            verify: MailedLink { url: verify_url, ttl: Duration::hours(24) },
            verify_resends: Allowance::new(3, quarter),
            reset: MailedLink { url: reset_url, ttl: Duration::minutes(30) },
            resets_per_email: Allowance::new(3, quarter),
            resets_per_address: Allowance::new(20, quarter),
        }
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
    pub(super) ws_tickets: Arc<dyn WsTickets>,
    pub(super) conversations: Arc<dyn Conversations>,
    pub(super) tickets: Arc<dyn SupportTickets>,
    pub(super) limits: Arc<dyn RateLimits>,
    pub(super) throttle: LoginThrottle,
    pub(super) hasher: PasswordHasher,
    pub(super) issuer: Arc<TokenIssuer>,
    pub(super) policy: AccountPolicy,
    pub(super) mail: Arc<dyn MailTransport>,
    pub(super) notifier: Notifier,
    pub(super) clock: Arc<dyn Clock>,
}

/// Builds a link mail: sender, recipient, link, minutes it works → (envelope recipient, MIME).
type LinkMail = fn(&Mailbox, &str, &str, i64) -> Result<(String, Vec<u8>), crate::domain::mail::BuildError>;

pub(super) fn rate_limited(refused: Refused) -> AccountError {
    AccountError::RateLimited { retry_after: refused.retry_after }
}

impl Accounts {
    /// Wires the use cases to their ports: the stores, the signer, the rules, the mail
    /// transport (verification and reset mail) and the notifier (a revoked session's sockets are
    /// told and closed).
    pub fn new(
        stores: &Stores,
        issuer: Arc<TokenIssuer>,
        policy: AccountPolicy,
        mail: Arc<dyn MailTransport>,
        notifier: Notifier,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            users: stores.users.clone(),
            sessions: stores.sessions.clone(),
            ws_tickets: stores.ws_tickets.clone(),
            conversations: stores.conversations.clone(),
            tickets: stores.tickets.clone(),
            limits: stores.rate_limits.clone(),
            throttle: LoginThrottle::new(stores.rate_limits.clone(), policy.attempts),
            hasher: PasswordHasher::new(),
            issuer,
            policy,
            mail,
            notifier,
            clock,
        }
    }

    /// The session lifetimes (the cookie's `Max-Age` is the absolute one).
    pub fn policy(&self) -> SessionPolicy {
        self.policy.sessions
    }

    /// The password hasher (its verification count is observable in tests).
    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    /// Takes one unit of a per-source-address allowance (no source: a direct invocation, which
    /// API Gateway never makes; nothing to count by).
    pub(super) async fn per_address(
        &self,
        family: &str,
        source: Option<&str>,
        allowance: Allowance,
    ) -> Result<(), AccountError> {
        let Some(source) = source else { return Ok(()) };
        take(&*self.limits, family, source, allowance, self.clock.now())
            .await?
            .map(|_| ())
            .map_err(rate_limited)
    }

    /// Counts one password attempt for the account before its password is verified.
    pub(super) async fn attempt(&self, email: &Email) -> Result<(), AccountError> {
        self.throttle
            .attempt(email, self.clock.now())
            .await?
            .map_err(|r| AccountError::TooManyAttempts { retry_after: r.retry_after })
    }

    /// Creates an account with its first session (one atomic store write), mails the address
    /// its verification link and signs it in. Without a sent mail nothing is kept: the caller
    /// answers 503 and the user tries again.
    pub async fn register(
        &self,
        email: Email,
        password: Password,
        display_name: Option<DisplayName>,
        user_agent: Option<String>,
        source: Option<&str>,
    ) -> Result<SignedIn, AccountError> {
        self.per_address("register-addr", source, self.policy.registrations_per_address).await?;
        let password_hash = self.hasher.hash(self.hasher.reserve()?, &password).await?;
        let now = self.clock.now();
        let profile = UserProfile {
            id: UserId::generate(),
            email,
            display_name,
            created_at: now,
            email_verified: false,
        };
        let token = MailToken::generate(profile.id.clone());
        let user = UserRecord {
            profile,
            password_hash,
            verify_token: Some(StoredToken {
                digest: token.digest(),
                expires_at: now + self.policy.verify.ttl,
            }),
            reset_token: None,
        };
        let (session_token, session) = self.policy.sessions.start(user.profile.clone(), now, user_agent);
        match self.users.create(&user, &session).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => return Err(AccountError::EmailTaken),
            Err(e) => return Err(e.into()),
        }
        if let Err(why) = self.send_link(&user.profile, TokenPurpose::VerifyEmail, &token).await {
            // An account whose address we could not write to could never be verified: undo it.
            tracing::error!(error = %why, "verification mail not sent; registration undone");
            if let Err(e) = self.sessions.delete(&session.id, now).await {
                tracing::error!(error = %e, "undoing registration: session not deleted");
            }
            if let Err(e) = self.users.delete(&user).await {
                tracing::error!(error = %e, "undoing registration: account not deleted");
            }
            return Err(AccountError::MailUnavailable);
        }
        tracing::info!(user_id = %user.profile.id.as_str(), "registered; verification mail sent");
        let access = self.issuer.issue(&session.user.id, &session.id, now)?;
        Ok(SignedIn { user: session.user, access, session_token })
    }

    /// Signs in: the source address's allowance, the account's attempt and a hashing place (all
    /// before the one verification), then a new session; the oldest sessions beyond the cap end.
    pub async fn login(
        &self,
        email: Email,
        password: Password,
        user_agent: Option<String>,
        source: Option<&str>,
    ) -> Result<SignedIn, AccountError> {
        self.per_address("login-addr", source, self.policy.logins_per_address).await?;
        self.attempt(&email).await?;
        let slot = self.hasher.reserve()?;
        let user = self.users.find_by_email(&email).await?;
        let verdict =
            self.hasher.verify(slot, &password, user.as_ref().map(|u| u.password_hash.as_str())).await?;
        let (user, needs_rehash) = match (user, verdict) {
            (Some(user), Verdict::Match { needs_rehash }) => (user, needs_rehash),
            // The attempt stays counted.
            _ => return Err(AccountError::InvalidCredentials),
        };
        if needs_rehash {
            self.rehash(&user, &password).await;
        }
        let now = self.clock.now();
        let (session_token, record) = self.policy.sessions.start(user.profile.clone(), now, user_agent);
        // Independent, in parallel: the session, forgetting this account's attempts (this one was
        // counted and verified), and the list of older sessions to trim. Only the session is
        // needed to answer; the other two are best effort (a count left behind expires with its
        // window, a session over the cap is trimmed by the next sign-in).
        let (created, cleared, older) = tokio::join!(
            self.sessions.create(&record),
            self.throttle.succeed(&email),
            self.sessions.for_user(&user.profile.id, now),
        );
        created?;
        if let Err(e) = cleared {
            tracing::warn!(error = %e, "the account's counted attempts were not forgotten");
        }
        match older {
            // The list may or may not include the new session, read as it was being written.
            Ok(older) => {
                self.trim_sessions(older.into_iter().map(|s| s.id).filter(|id| id != &record.id).collect())
                    .await;
            }
            Err(e) => tracing::warn!(error = %e, "listing the user's sessions failed; none trimmed"),
        }
        let access = self.issuer.issue(&record.user.id, &record.id, now)?;
        Ok(SignedIn { user: record.user, access, session_token })
    }

    /// Best effort: the login is valid either way, and the next one tries again. The store
    /// writes only if the hash is unchanged, so a concurrent password change is never undone.
    async fn rehash(&self, user: &UserRecord, password: &Password) {
        let Ok(slot) = self.hasher.reserve() else { return };
        match self.hasher.hash(slot, password).await {
            Ok(phc) => match self.users.rehash(user, &phc).await {
                Ok(true) => {}
                Ok(false) => tracing::info!("password changed meanwhile; rehash dropped"),
                Err(e) => tracing::warn!(error = %e, "password rehash not stored"),
            },
            Err(e) => tracing::warn!(error = %e, "password rehash failed"),
        }
    }

    /// Ends the oldest of `older` (the user's sessions before this sign-in, oldest first) so that
    /// with the new one at most `max_sessions` stay, closing their sockets. Best effort: a
    /// failure leaves an extra session that the next sign-in trims.
    async fn trim_sessions(&self, older: Vec<SessionId>) {
        let keep = usize::try_from(self.policy.max_sessions).unwrap_or(usize::MAX).saturating_sub(1);
        let excess = older.len().saturating_sub(keep);
        for id in older.into_iter().take(excess) {
            match self.revoke(&id).await {
                Ok(()) => tracing::info!("oldest session ended: over the per-user cap"),
                Err(e) => tracing::warn!(error = %e, "ending a session over the cap failed"),
            }
        }
    }

    /// A new access token for the session in the cookie, renewing its idle limit (1 round trip).
    pub async fn refresh(&self, cookie: Option<&str>) -> Result<AccessToken, AccountError> {
        let token = cookie.and_then(SessionToken::parse).ok_or(AccountError::SessionInvalid)?;
        let now = self.clock.now();
        let session = self
            .sessions
            .touch(&token.id(), now + self.policy.sessions.idle, now)
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

    /// The page a purpose's link opens, and how to build its mail.
    fn link(&self, purpose: TokenPurpose) -> (&MailedLink, LinkMail, &'static str) {
        match purpose {
            TokenPurpose::VerifyEmail => (&self.policy.verify, build_verify, "verify"),
            TokenPurpose::ResetPassword => (&self.policy.reset, build_reset, "reset"),
        }
    }

    /// Builds and sends the mail carrying `token`'s link to the account's address.
    pub(super) async fn send_link(
        &self,
        user: &UserProfile,
        purpose: TokenPurpose,
        token: &MailToken,
    ) -> Result<(), String> {
        let (page, build, kind) = self.link(purpose);
        let url = format!("{}?token={}", page.url, token.expose());
        let (to, raw) = build(&self.policy.from, user.email.as_str(), &url, page.ttl.num_minutes())
            .map_err(|e| e.to_string())?;
        let from = self.policy.from.email.to_string();
        let name = format!("{kind}-{}", &token.digest()[..16]);
        let mail = OutgoingMail { from: &from, to: &to, raw: &raw, name: &name };
        self.mail.send(&mail).await.map_err(|e| e.to_string())
    }

    /// Issues a fresh token for `purpose` (replacing the user's last one) and mails its link; if
    /// the mail cannot be sent the token is withdrawn, so nothing unreceived stays redeemable.
    pub(super) async fn mail_token(
        &self,
        user: &UserRecord,
        purpose: TokenPurpose,
    ) -> Result<(), AccountError> {
        let token = MailToken::generate(user.profile.id.clone());
        let ttl = self.link(purpose).0.ttl;
        let stored = StoredToken { digest: token.digest(), expires_at: self.clock.now() + ttl };
        match self.users.set_token(user, purpose, &stored).await {
            Ok(()) => {}
            // The account went away meanwhile (deleted): as if it never existed.
            Err(StoreError::Conflict) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        if let Err(why) = self.send_link(&user.profile, purpose, &token).await {
            tracing::error!(error = %why, "link mail not sent; its token is withdrawn");
            if let Err(e) = self.users.set_token(user, purpose, &StoredToken::withdrawn()).await {
                tracing::error!(error = %e, "withdrawing an unsent token failed");
            }
            return Err(AccountError::MailUnavailable);
        }
        Ok(())
    }
}
