//! Signing up and in: registration (with its verification mail), sign-in, refresh, sign-out.

use super::{AccountError, Accounts, SignedIn, counted};
use crate::auth::password::Verdict;
use crate::auth::secret::MailToken;
use crate::auth::session::SessionToken;
use crate::auth::token::AccessToken;
use crate::domain::{
    DisplayName, Email, Password, SessionId, StoredToken, TokenPurpose, UserId, UserProfile, UserRecord,
};
use crate::ports::StoreError;
use crate::telemetry::metrics::Metric;

impl Accounts {
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
        site: Option<&str>,
    ) -> Result<SignedIn, AccountError> {
        let registered = async {
            let page = self.policy.verify.page(site)?;
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
            if let Err(why) = self.send_link(&user.profile, TokenPurpose::VerifyEmail, &page, &token).await {
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
            let access = self.keys.issuer().await?.issue(&session.user.id, &session.id, now)?;
            Ok(SignedIn { user: session.user, access, session_token })
        }
        .await;
        counted(Metric::Registrations, registered, |e| match e {
            AccountError::EmailTaken => Some("taken"),
            AccountError::RateLimited { .. } => Some("throttled"),
            AccountError::MailUnavailable => Some("mail_failed"),
            _ => None,
        })
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
        let signed_in = async {
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
                    self.trim_sessions(
                        older.into_iter().map(|s| s.id).filter(|id| id != &record.id).collect(),
                    )
                    .await;
                }
                Err(e) => tracing::warn!(error = %e, "listing the user's sessions failed; none trimmed"),
            }
            let access = self.keys.issuer().await?.issue(&record.user.id, &record.id, now)?;
            Ok(SignedIn { user: record.user, access, session_token })
        }
        .await;
        counted(Metric::SignIns, signed_in, |e| match e {
            AccountError::InvalidCredentials => Some("failed"),
            AccountError::TooManyAttempts { .. } | AccountError::RateLimited { .. } => Some("throttled"),
            _ => None,
        })
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
        Ok(self.keys.issuer().await?.issue(&session.user.id, &session.id, now)?)
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
}
