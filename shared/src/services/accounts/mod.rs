//! The account use cases behind the `login` function, one `Accounts` service over the stores:
//! signing up and in (`sign_in`), the mailed links that verify an address or reset a password
//! (`links`), and what a signed-in user manages — password, sessions, the account itself
//! (`settings`).
//!
//! Every limit is taken before the work it guards: the per-address and per-account allowances
//! (each one atomic conditional increment, so of any number of concurrent attempts at most the
//! allowance goes on), then a place in the bounded hashing queue (a full queue answers "busy"
//! at once), then the password hash.

use crate::telemetry::metrics::{self, Metric};
use std::sync::Arc;

use chrono::Duration;
use lettre::message::Mailbox;

mod links;
mod settings;
mod sign_in;

pub use settings::SessionView;

use super::notifier::Notifier;
use crate::auth::keyring::KeyRing;
use crate::auth::limits::{Allowance, LoginThrottle, Refused, take};
use crate::auth::password::{PasswordError, PasswordHasher};
use crate::auth::secret::MailToken;
use crate::auth::session::{SessionPolicy, SessionToken};
use crate::auth::token::{AccessToken, TokenError};
use crate::clock::Clock;
use crate::domain::mail::{BuildError, build_reset, build_verify};
use crate::domain::{Email, SessionId, StoredToken, TokenPurpose, UserProfile, UserRecord};
use crate::ports::{
    Conversations, EventLog, MailTransport, OutgoingMail, RateLimits, SessionStore, StoreError, Stores,
    SupportTickets, UserStore, WsTickets,
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
    /// The page; the mail links to `{url}?token=…`. None: the page at `path` on the site the
    /// request came from (behind the front door, which proves it).
    pub url: Option<String>,
    /// The page's path on the caller's site.
    pub path: &'static str,
    /// How long the token works.
    pub ttl: Duration,
}

impl MailedLink {
    /// The page for a request from `site` (`https://host`), if there is one.
    fn page(&self, site: Option<&str>) -> Result<String, AccountError> {
        match (&self.url, site) {
            (Some(url), _) => Ok(url.clone()),
            (None, Some(site)) => Ok(format!("{site}{}", self.path)),
            (None, None) => Err(AccountError::Internal(format!(
                "no page for the mailed link: this request did not come through the front door, \
                 and no URL is configured for {}",
                self.path
            ))),
        }
    }
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
    pub fn new(verify_url: Option<String>, reset_url: Option<String>, from: Mailbox) -> Self {
        let quarter = Duration::minutes(15);
        Self {
            sessions: SessionPolicy::default(),
            max_sessions: 20,
            attempts: LoginThrottle::DEFAULT,
            logins_per_address: Allowance::new(30, Duration::minutes(1)),
            registrations_per_address: Allowance::new(10, Duration::hours(1)),
            from,
            verify: MailedLink { url: verify_url, path: "/verify-email", ttl: Duration::hours(24) },
            verify_resends: Allowance::new(3, quarter),
            reset: MailedLink { url: reset_url, path: "/reset-password", ttl: Duration::minutes(30) },
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

/// Counts how a use case ended under `metric`: `ok`, or the outcome `failure` names for its
/// error (none for errors that are not the use case's own, such as a store outage).
fn counted<T>(
    metric: Metric,
    result: Result<T, AccountError>,
    failure: fn(&AccountError) -> Option<&'static str>,
) -> Result<T, AccountError> {
    let outcome = match &result {
        Ok(_) => Some("ok"),
        Err(e) => failure(e),
    };
    if let Some(outcome) = outcome {
        metrics::count(metric, outcome);
    }
    result
}

/// Everything the account use cases need. The fields are private to this module and its three
/// parts (`sign_in`, `links`, `settings`), which implement the use cases on it.
#[derive(Clone)]
pub struct Accounts {
    users: Arc<dyn UserStore>,
    sessions: Arc<dyn SessionStore>,
    ws_tickets: Arc<dyn WsTickets>,
    conversations: Arc<dyn Conversations>,
    tickets: Arc<dyn SupportTickets>,
    events: Arc<dyn EventLog>,
    limits: Arc<dyn RateLimits>,
    throttle: LoginThrottle,
    hasher: PasswordHasher,
    keys: Arc<KeyRing>,
    policy: AccountPolicy,
    mail: Arc<dyn MailTransport>,
    notifier: Notifier,
    clock: Arc<dyn Clock>,
}

/// Builds a link mail: sender, recipient, link, minutes it works → (envelope recipient, MIME).
type LinkMail = fn(&Mailbox, &str, &str, i64) -> Result<(String, Vec<u8>), BuildError>;

fn rate_limited(refused: Refused) -> AccountError {
    AccountError::RateLimited { retry_after: refused.retry_after }
}

impl Accounts {
    /// Wires the use cases to their ports: the stores, the signer, the rules, the mail
    /// transport (verification and reset mail) and the notifier (a revoked session's sockets are
    /// told and closed).
    pub fn new(
        stores: &Stores,
        keys: Arc<KeyRing>,
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
            events: stores.events.clone(),
            limits: stores.rate_limits.clone(),
            throttle: LoginThrottle::new(stores.rate_limits.clone(), policy.attempts),
            hasher: PasswordHasher::new(),
            keys,
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
    async fn per_address(
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
    async fn attempt(&self, email: &Email) -> Result<(), AccountError> {
        self.throttle
            .attempt(email, self.clock.now())
            .await?
            .map_err(|r| AccountError::TooManyAttempts { retry_after: r.retry_after })
    }

    /// Deletes a session, then tells its sockets and closes them.
    async fn revoke(&self, session: &SessionId) -> Result<(), AccountError> {
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

    /// Builds and sends the mail carrying `token`'s link (to `page`) to the account's address.
    async fn send_link(
        &self,
        user: &UserProfile,
        purpose: TokenPurpose,
        page: &str,
        token: &MailToken,
    ) -> Result<(), String> {
        let (link, build, kind) = self.link(purpose);
        let url = format!("{page}?token={}", token.expose());
        let (to, raw) = build(&self.policy.from, user.email.as_str(), &url, link.ttl.num_minutes())
            .map_err(|e| e.to_string())?;
        let from = self.policy.from.email.to_string();
        let name = format!("{kind}-{}", &token.digest()[..16]);
        let mail = OutgoingMail { from: &from, to: &to, raw: &raw, name: &name };
        let sent = self.mail.send(&mail).await.map(|_| ()).map_err(|e| e.to_string());
        metrics::count(Metric::Mails, if sent.is_ok() { "sent" } else { "failed" });
        sent
    }

    /// Issues a fresh token for `purpose` (replacing the user's last one) and mails its link; if
    /// the mail cannot be sent the token is withdrawn, so nothing unreceived stays redeemable.
    async fn mail_token(
        &self,
        user: &UserRecord,
        purpose: TokenPurpose,
        page: &str,
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
        if let Err(why) = self.send_link(&user.profile, purpose, page, &token).await {
            tracing::error!(error = %why, "link mail not sent; its token is withdrawn");
            if let Err(e) = self.users.set_token(user, purpose, &StoredToken::withdrawn()).await {
                tracing::error!(error = %e, "withdrawing an unsent token failed");
            }
            return Err(AccountError::MailUnavailable);
        }
        Ok(())
    }
}
