//! The account lifecycle: password reset by mail, password change, the sessions list and
//! account deletion. Every path that ends sessions also tells and closes their sockets.

use aws_lc_rs::digest;
use chrono::{DateTime, Duration, Utc};
use lettre::message::Mailbox;
use serde::Serialize;

use super::accounts::{AccountError, Accounts};
use super::authenticate::Principal;
use super::password::Verdict;
use super::secret::Secret;
use super::session::SessionId;
use super::throttle::{Gate, seconds_until};
use crate::domain::mail::build_reset;
use crate::domain::{Email, Password, UserId};
use crate::ports::{OutgoingMail, ResetRecord, UserRecord};

/// Owner of the decoy token written for an unknown email, so both paths do the same writes.
const NOBODY: &str = "usr_nobody";

/// Password-reset mail and its allowances.
#[derive(Debug, Clone)]
pub struct ResetSettings {
    /// The web client's reset page; the mail links to `{url}?token=…`.
    pub url: String,
    /// Sender of the reset mail.
    pub from: Mailbox,
    /// How long a reset token works.
    pub ttl: Duration,
    /// Reset mails one email address may be sent per window.
    pub per_email: u32,
    /// Reset requests one source address may make per window.
    pub per_address: u32,
    /// The window both allowances are counted in.
    pub window: Duration,
}

impl ResetSettings {
    /// Defaults for everything but the page and the sender: 30 minutes, 3 per email and 20 per
    /// source address in 15 minutes.
    pub fn new(url: String, from: Mailbox) -> Self {
        Self {
            url,
            from,
            ttl: Duration::minutes(30),
            per_email: 3,
            per_address: 20,
            window: Duration::minutes(15),
        }
    }
}

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

// Counter keys hash what they count, so the rate-limit table holds no addresses.
fn counter_key(kind: &str, value: &str) -> String {
    let d = digest::digest(&digest::SHA256, value.as_bytes());
    format!("reset#{kind}#{}", hex::encode(&d.as_ref()[..16]))
}

impl Accounts {
    /// Starts a password reset. The caller answers 202 the same way whether or not the account
    /// exists: an unknown email gets a decoy token write and no mail. Throttled per email and
    /// per source address (4 store round trips, plus the mail).
    pub async fn forgot_password(&self, email: Email, source: Option<&str>) -> Result<(), AccountError> {
        let now = self.clock.now();
        let allowances = [
            source.map(|s| (counter_key("addr", s), self.reset.per_address)),
            Some((counter_key("email", email.as_str()), self.reset.per_email)),
        ];
        for (key, limit) in allowances.into_iter().flatten() {
            let counter = self.limits.hit(&key, self.reset.window, now).await?;
            if counter.count > limit {
                return Err(AccountError::RateLimited {
                    retry_after: seconds_until(counter.expires_at, now),
                });
            }
        }
        let user = self.users.find_by_email(&email).await?;
        let token = Secret::generate();
        let record = ResetRecord {
            id: token.digest(),
            user_id: user.as_ref().map_or_else(|| UserId::from_trusted(NOBODY), |u| u.profile.id.clone()),
            expires_at: now + self.reset.ttl,
        };
        self.tokens.create_reset(&record).await?;
        let Some(user) = user else { return Ok(()) };
        let link = format!("{}?token={}", self.reset.url, token.expose());
        let sent = match build_reset(
            &self.reset.from,
            user.profile.email.as_str(),
            &link,
            self.reset.ttl.num_minutes(),
        ) {
            Ok((to, raw)) => {
                let from = self.reset.from.email.to_string();
                let name = format!("reset-{}", &record.id[..16]);
                let mail = OutgoingMail { from: &from, to: &to, raw: &raw, name: &name };
                self.mail.send(&mail).await.map_err(|e| e.to_string())
            }
            Err(e) => Err(e.to_string()),
        };
        if let Err(why) = sent {
            // A token nobody received must not stay redeemable; the user asks again.
            tracing::error!(error = %why, "password reset mail not sent");
            self.tokens.redeem_reset(&record.id, now).await?;
            return Err(AccountError::MailUnavailable);
        }
        tracing::info!(user_id = %user.profile.id.as_str(), "password reset mail sent");
        Ok(())
    }

    /// Redeems a reset token (once, before its expiry), sets the new password and ends every
    /// session of the user, closing their sockets.
    pub async fn reset_password(&self, token: &str, new_password: Password) -> Result<(), AccountError> {
        let token = Secret::parse(token).ok_or(AccountError::InvalidResetToken)?;
        let now = self.clock.now();
        let record =
            self.tokens.redeem_reset(&token.digest(), now).await?.ok_or(AccountError::InvalidResetToken)?;
        let user = self.users.get(&record.user_id).await?.ok_or(AccountError::InvalidResetToken)?;
        let phc = self.hasher.hash(&new_password).await?;
        self.users.set_password_hash(&user, &phc).await?;
        self.end_sessions(&user.profile.id, None).await?;
        match self.notifier.revoke_user(&user.profile.id).await {
            Ok(d) => tracing::info!(closed = d.sent, gone = d.gone, failed = d.failed, "user sockets closed"),
            Err(e) => tracing::warn!(error = %e, "listing the user's sockets failed; not closed"),
        }
        // A reset proves control of the mailbox: earlier failed logins no longer count.
        self.throttle.succeed(&user.profile.email).await?;
        tracing::info!(user_id = %user.profile.id.as_str(), "password reset");
        Ok(())
    }

    /// Changes the password after checking the current one; every other session ends.
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: Password,
        new_password: Password,
    ) -> Result<(), AccountError> {
        let user = self.confirm(principal, &current, "current_password").await?;
        let phc = self.hasher.hash(&new_password).await?;
        self.users.set_password_hash(&user, &phc).await?;
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

    /// Deletes the account after checking its password: sessions, sockets, WebSocket and reset
    /// tokens, conversations, then the user. Support tickets stay, detached from the identity.
    /// The user goes last, so a failure part way leaves an account whose deletion can be
    /// retried with the same password.
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
        self.tokens.delete_for_user(id).await?;
        self.conversations.delete_for_user(id).await?;
        self.tickets.detach_user(id).await?;
        self.throttle.succeed(&user.profile.email).await?;
        self.limits.clear(&counter_key("email", user.profile.email.as_str())).await?;
        self.users.delete(&user).await?;
        tracing::info!(user_id = %id.as_str(), "account deleted");
        Ok(())
    }

    /// The account, once `password` is confirmed to be its password (login-throttled, one
    /// verification either way).
    async fn confirm(
        &self,
        principal: &Principal,
        password: &Password,
        field: &'static str,
    ) -> Result<UserRecord, AccountError> {
        let email = &principal.user().email;
        let now = self.clock.now();
        if let Gate::Locked { retry_after } = self.throttle.check(email, now).await? {
            return Err(AccountError::TooManyAttempts { retry_after });
        }
        let user = self.users.get(&principal.user().id).await?;
        let verdict = self.hasher.verify(password, user.as_ref().map(|u| u.password_hash.as_str())).await?;
        match (user, verdict) {
            (Some(user), Verdict::Match { .. }) => Ok(user),
            (None, _) => Err(AccountError::SessionInvalid),
            (Some(_), _) => {
                self.throttle.fail(email, now).await?;
                Err(AccountError::WrongPassword(field))
            }
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
