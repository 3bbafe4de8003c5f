//! What a signed-in user manages: the profile as of now, the password, the sessions list, and
//! the account itself. Every path that ends sessions also tells and closes their sockets.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{AccountError, Accounts};
use crate::auth::authenticate::current_profile;
use crate::auth::limits::counter_key;
use crate::auth::password::Verdict;
use crate::domain::{Password, Principal, SessionId, UserId, UserProfile, UserRecord};

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
    /// The caller's profile as of now ([`current_profile`]).
    pub async fn profile(&self, principal: &Principal) -> Result<UserProfile, AccountError> {
        current_profile(principal, &*self.users).await?.ok_or(AccountError::SessionInvalid)
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
    /// conversations, live events, then the user (and with it its mailed tokens). Support tickets stay,
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
        self.events.delete_for_user(id).await?;
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
    pub(super) async fn end_sessions(
        &self,
        user: &UserId,
        keep: Option<&SessionId>,
    ) -> Result<(), AccountError> {
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
