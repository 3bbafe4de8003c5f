//! The account lifecycle: address verification, password reset by mail, password change, the
//! sessions list and account deletion. Every path that ends sessions also tells and closes
//! their sockets; every path that proves or replaces a password removes the mailed tokens.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::accounts::{AccountError, Accounts, rate_limited};
use super::authenticate::Principal;
use super::password::Verdict;
use super::secret::MailToken;
use super::session::SessionId;
use super::throttle::{counter_key, take};
use crate::domain::{Email, Password, UserId, UserProfile};
use crate::ports::{TokenPurpose, UserRecord};

/// One entry of `GET /api/auth/sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionView {
    /// Short public id (a hash of the session id, not the session id).
    pub id: String,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// When it last signed in or refreshed.
    pub last_seen_at: DateTime<Utc>,
    /// The client it was opened from, as it said.
    pub user_agent: Option<String>,
    /// Whether it is the session making this request.
    pub current: bool,
}

impl Accounts {
    /// The caller's profile as of now ([`Principal::current_profile`]).
    pub async fn profile(&self, principal: &Principal) -> Result<UserProfile, AccountError> {
        principal.current_profile(&*self.users).await?.ok_or(AccountError::SessionInvalid)
    }

    /// Redeems an address-verification token: the address is verified and the token gone, once
    /// (one conditional write); live sessions' snapshots are updated too (best effort).
    pub async fn verify_email(&self, token: &str) -> Result<(), AccountError> {
        let token = MailToken::parse(token).ok_or(AccountError::InvalidVerificationToken)?;
        let now = self.clock.now();
        let user = self.users.get(token.user()).await?.ok_or(AccountError::InvalidVerificationToken)?;
        let live = user.token(TokenPurpose::VerifyEmail).is_some_and(|t| t.admits(&token.digest(), now));
        if !live || !self.users.verify_email(&user, &token.digest(), now).await? {
            return Err(AccountError::InvalidVerificationToken);
        }
        if let Err(e) = self.sessions.mark_email_verified(&user.profile.id, now).await {
            tracing::warn!(error = %e, "session snapshots not marked verified; they read the account instead");
        }
        tracing::info!(user_id = %user.profile.id.as_str(), "email verified");
        Ok(())
    }

    /// Mails a new verification link (the last one stops working), at most 3 times per
    /// 15 minutes per user.
    pub async fn resend_verification(&self, principal: &Principal) -> Result<(), AccountError> {
        let id = &principal.user().id;
        let user = self.users.get(id).await?.ok_or(AccountError::SessionInvalid)?;
        if user.profile.email_verified {
            return Err(AccountError::AlreadyVerified);
        }
        take(&*self.limits, "verify-user", id.as_str(), self.policy.verify_resends, self.clock.now())
            .await?
            .map_err(rate_limited)?;
        self.mail_token(&user, TokenPurpose::VerifyEmail).await?;
        tracing::info!(user_id = %id.as_str(), "verification mail sent again");
        Ok(())
    }

    /// Starts a password reset. The caller answers 202 the same way whether or not the account
    /// exists; only a real account gets a token (replacing its last one) and a mail. Limited per
    /// source address, then per email, before anything is looked up.
    pub async fn forgot_password(&self, email: Email, source: Option<&str>) -> Result<(), AccountError> {
        self.per_address("reset#addr", source, self.policy.resets_per_address).await?;
        take(&*self.limits, "reset#email", email.as_str(), self.policy.resets_per_email, self.clock.now())
            .await?
            .map_err(rate_limited)?;
        let Some(user) = self.users.find_by_email(&email).await? else { return Ok(()) };
        self.mail_token(&user, TokenPurpose::ResetPassword).await?;
        tracing::info!(user_id = %user.profile.id.as_str(), "password reset mail sent");
        Ok(())
    }

    /// Redeems a reset token (once, before its expiry, and only the user's latest): sets the
    /// new password, removes every mailed token, marks the address verified (the link proved
    /// it) and ends every session of the user, closing their sockets.
    pub async fn reset_password(&self, token: &str, new_password: Password) -> Result<(), AccountError> {
        let token = MailToken::parse(token).ok_or(AccountError::InvalidResetToken)?;
        let now = self.clock.now();
        let user = self.users.get(token.user()).await?.ok_or(AccountError::InvalidResetToken)?;
        // Checked before hashing, so a made-up token costs a read, not a hash.
        if !user.token(TokenPurpose::ResetPassword).is_some_and(|t| t.admits(&token.digest(), now)) {
            return Err(AccountError::InvalidResetToken);
        }
        let phc = self.hasher.hash(self.hasher.reserve()?, &new_password).await?;
        if !self.users.reset_password(&user, &token.digest(), &phc, self.clock.now()).await? {
            return Err(AccountError::InvalidResetToken);
        }
        self.end_sessions(&user.profile.id, None).await?;
        match self.notifier.revoke_user(&user.profile.id).await {
            Ok(d) => tracing::info!(closed = d.sent, gone = d.gone, failed = d.failed, "user sockets closed"),
            Err(e) => tracing::warn!(error = %e, "listing the user's sockets failed; not closed"),
        }
        // A reset proves control of the mailbox: earlier failed attempts no longer count.
        self.throttle.succeed(&user.profile.email).await?;
        tracing::info!(user_id = %user.profile.id.as_str(), "password reset");
        Ok(())
    }

    /// Changes the password after checking the current one; every mailed token is removed and
    /// every other session ends.
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: Password,
        new_password: Password,
    ) -> Result<(), AccountError> {
        let user = self.confirm(principal, &current, "current_password").await?;
        let phc = self.hasher.hash(self.hasher.reserve()?, &new_password).await?;
        self.users.change_password(&user, &phc).await?;
        self.end_sessions(&user.profile.id, Some(principal.session_id())).await?;
        tracing::info!(user_id = %user.profile.id.as_str(), "password changed");
        Ok(())
    }

    /// The user's live sessions, oldest first (1 store round trip).
    pub async fn sessions(&self, principal: &Principal) -> Result<Vec<SessionView>, AccountError> {
        let sessions = self.sessions.for_user(&principal.user().id, self.clock.now()).await?;
        Ok(sessions
            .into_iter()
            .map(|s| SessionView {
                id: s.id.public_id(),
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                user_agent: s.user_agent,
                current: &s.id == principal.session_id(),
            })
            .collect())
    }

    /// Revokes one of the user's sessions by its public id and closes its sockets.
    pub async fn revoke_session(&self, principal: &Principal, public_id: &str) -> Result<(), AccountError> {
        let sessions = self.sessions.for_user(&principal.user().id, self.clock.now()).await?;
        let session =
            sessions.into_iter().find(|s| s.id.public_id() == public_id).ok_or(AccountError::NotFound)?;
        self.revoke(&session.id).await
    }

    /// Deletes the account after checking its password: sessions, sockets, WebSocket tickets,
    /// conversations, then the user (and with it its mailed tokens). Support tickets stay,
    /// detached from the identity. The user goes last, so a failure part way leaves an account
    /// whose deletion can be retried with the same password.
    pub async fn delete_account(
        &self,
        principal: &Principal,
        password: Password,
    ) -> Result<(), AccountError> {
        let user = self.confirm(principal, &password, "password").await?;
        let id = &user.profile.id;
        // Every stored session goes, live or not (listing "as of" the earliest instant).
        for session in self.sessions.for_user(id, DateTime::<Utc>::MIN_UTC).await? {
            self.sessions.delete(&session.id, self.clock.now()).await?;
        }
        let closed = self.notifier.revoke_user(id).await?;
        tracing::info!(
            closed = closed.sent,
            gone = closed.gone,
            failed = closed.failed,
            "user sockets closed"
        );
        self.ws_tickets.delete_for_user(id).await?;
        self.conversations.delete_for_user(id).await?;
        self.tickets.detach_user(id).await?;
        self.throttle.succeed(&user.profile.email).await?;
        for key in
            [counter_key("reset#email", user.profile.email.as_str()), counter_key("verify-user", id.as_str())]
        {
            self.limits.clear(&key).await?;
        }
        self.users.delete(&user).await?;
        tracing::info!(user_id = %id.as_str(), "account deleted");
        Ok(())
    }

    /// The account, once `password` is confirmed to be its password: one counted attempt and a
    /// hashing place first, then one verification either way.
    async fn confirm(
        &self,
        principal: &Principal,
        password: &Password,
        field: &'static str,
    ) -> Result<UserRecord, AccountError> {
        self.attempt(&principal.user().email).await?;
        let slot = self.hasher.reserve()?;
        let user = self.users.get(&principal.user().id).await?;
        let verdict =
            self.hasher.verify(slot, password, user.as_ref().map(|u| u.password_hash.as_str())).await?;
        match (user, verdict) {
            (Some(user), Verdict::Match { .. }) => {
                self.throttle.succeed(&user.profile.email).await?;
                Ok(user)
            }
            (None, _) => Err(AccountError::SessionInvalid),
            (Some(_), _) => Err(AccountError::WrongPassword(field)),
        }
    }

    /// Deletes every live session of the user except `keep`, closing each one's sockets unless
    /// the caller closes all the user's sockets itself (`keep` is `None`).
    async fn end_sessions(&self, user: &UserId, keep: Option<&SessionId>) -> Result<(), AccountError> {
        let now = self.clock.now();
        for session in self.sessions.for_user(user, now).await? {
            match keep {
                Some(current) if &session.id == current => {}
                Some(_) => self.revoke(&session.id).await?,
                None => {
                    self.sessions.delete(&session.id, now).await?;
                }
            }
        }
        Ok(())
    }
}
