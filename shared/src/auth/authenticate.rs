//! The one `authenticate`: a verified access token AND a live session, or a typed failure.
//! Nothing else in the code base yields a [`Principal`]; a WebSocket ticket is redeemed here too.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use http::HeaderMap;
use http::header::AUTHORIZATION;

use super::AuthError;
use super::keyring::KeyRing;
use super::secret::Secret;
use crate::clock::Clock;
use crate::domain::{Principal, SessionId, UserId, UserProfile};
use crate::ports::{SessionStore, StoreResult, Stores, UserStore, WsTickets};

/// Authorization values longer than this are refused without being parsed.
pub const MAX_AUTHORIZATION_LEN: usize = 4096;

/// Authenticates requests for every protected route and the WebSocket `$connect`.
#[derive(Clone)]
pub struct Authenticator {
    keys: Arc<KeyRing>,
    sessions: Arc<dyn SessionStore>,
    tickets: Arc<dyn WsTickets>,
    clock: Arc<dyn Clock>,
}

impl Authenticator {
    /// An authenticator over these keys and the session and ticket stores.
    pub fn new(keys: Arc<KeyRing>, stores: &Stores, clock: Arc<dyn Clock>) -> Self {
        Self { keys, sessions: stores.sessions.clone(), tickets: stores.ws_tickets.clone(), clock }
    }

    /// Verifies the bearer token in `headers`, then checks its session is live (one store read).
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, AuthError> {
        let token = bearer_token(headers)?;
        let now = self.clock.now();
        let verified = self.keys.verifier().await.verify(token, now).map_err(|_| AuthError::InvalidToken)?;
        self.live_session(&verified.session_id, &verified.user_id, now).await
    }

    /// Checks a WebSocket ticket (one consistent read that also checks expiry) and that its
    /// session is still live (one read), without spending it; returns who it is for (from the
    /// stored record only) and the ticket's id, to spend it in the same write that stores the
    /// connection (`Connections::open`), so a failure in between leaves it usable.
    pub async fn check_ticket(&self, raw: &str) -> Result<(Principal, String), AuthError> {
        let ticket = Secret::parse(raw).ok_or(AuthError::InvalidToken)?;
        let now = self.clock.now();
        let record = self.tickets.peek(&ticket.digest(), now).await?.ok_or(AuthError::InvalidToken)?;
        let principal = self.live_session(&record.session_id, &record.user_id, now).await?;
        Ok((principal, record.id))
    }

    async fn live_session(
        &self,
        id: &SessionId,
        user: &UserId,
        now: DateTime<Utc>,
    ) -> Result<Principal, AuthError> {
        let session = self
            .sessions
            .get(id, now)
            .await?
            .filter(|s| &s.user.id == user)
            .ok_or(AuthError::SessionNotLive)?;
        let expires_at = session.expires_at();
        Ok(Principal::new(session.user, session.id, expires_at))
    }
}

/// The principal's profile as of now (`None` if the account is gone). The session keeps a
/// snapshot taken at sign-in; a verified address never becomes unverified, so a snapshot that
/// says "verified" is current, and one that says "unverified" is checked against the account, so
/// a verification made since (perhaps on another device) counts at once.
pub async fn current_profile(
    principal: &Principal,
    users: &dyn UserStore,
) -> StoreResult<Option<UserProfile>> {
    if principal.user().email_verified {
        return Ok(Some(principal.user().clone()));
    }
    Ok(users.get(&principal.user().id).await?.map(|u| u.profile))
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer_token(headers: &HeaderMap) -> Result<&str, AuthError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(AuthError::MissingToken);
    };
    if values.next().is_some() || value.len() > MAX_AUTHORIZATION_LEN {
        return Err(AuthError::InvalidToken);
    }
    let value = value.to_str().map_err(|_| AuthError::InvalidToken)?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        // Another scheme (Basic, ...) is not a bearer credential: answer with a bare challenge.
        return Err(AuthError::MissingToken);
    }
    let token = token.trim_matches(' ');
    let b64token = |c: char| c.is_ascii_alphanumeric() || "-._~+/=".contains(c);
    if token.is_empty() || !token.chars().all(b64token) {
        return Err(AuthError::InvalidToken);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(AUTHORIZATION, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn parses_bearer_values() {
        assert_eq!(bearer_token(&headers(&["Bearer abc.def.ghi"])).unwrap(), "abc.def.ghi");
        assert_eq!(bearer_token(&headers(&["bearer abc"])).unwrap(), "abc");
        assert!(matches!(bearer_token(&headers(&[])), Err(AuthError::MissingToken)));
        assert!(matches!(bearer_token(&headers(&["Basic Zm9vOmJhcg=="])), Err(AuthError::MissingToken)));
        assert!(matches!(bearer_token(&headers(&["Bearer"])), Err(AuthError::InvalidToken)));
        assert!(matches!(bearer_token(&headers(&["Bearer a b"])), Err(AuthError::InvalidToken)));
        assert!(matches!(bearer_token(&headers(&["Bearer a", "Bearer b"])), Err(AuthError::InvalidToken)));
        let huge = format!("Bearer {}", "a".repeat(MAX_AUTHORIZATION_LEN));
        assert!(matches!(bearer_token(&headers(&[&huge])), Err(AuthError::InvalidToken)));
    }
}
