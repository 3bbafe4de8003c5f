//! A ticket's lifecycle: who may move it where. `open` → `waiting_on_support` /
//! `waiting_on_user` (by who wrote last) → `resolved` → `closed`; a resolved ticket reopens when
//! the user writes within [`REOPEN_WINDOW`], and closes by itself after it. Pure: the service
//! applies a change to the ticket it read and writes the result conditionally on the revision.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::SupportTicket;

/// How long a resolved ticket can be reopened by writing in its conversation; then it closes.
pub const REOPEN_WINDOW: Duration = Duration::days(7);
/// Longest rating comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 1000;

/// Where a ticket stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    /// Opened, nobody has written since.
    Open,
    /// The user wrote last: support's turn.
    WaitingOnSupport,
    /// Support wrote last: the user's turn.
    WaitingOnUser,
    /// Solved; reopens if the user writes within [`REOPEN_WINDOW`].
    Resolved,
    /// Done for good.
    Closed,
}

impl TicketStatus {
    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::WaitingOnSupport => "waiting_on_support",
            Self::WaitingOnUser => "waiting_on_user",
            Self::Resolved => "resolved",
            Self::Closed => "closed",
        }
    }

    /// Parses what [`TicketStatus::as_str`] wrote.
    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Open, Self::WaitingOnSupport, Self::WaitingOnUser, Self::Resolved, Self::Closed]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }

    /// Whether a person is handling the conversation (the assistant stays quiet).
    pub fn is_active(self) -> bool {
        matches!(self, Self::Open | Self::WaitingOnSupport | Self::WaitingOnUser)
    }
}

/// How the user felt about the help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Score {
    /// Helped.
    Good,
    /// Did not.
    Bad,
}

impl Score {
    /// Parses `good` or `bad`.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        match raw {
            "good" => Ok(Self::Good),
            "bad" => Ok(Self::Bad),
            _ => Err("must be good or bad"),
        }
    }

    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Good => "good",
            Self::Bad => "bad",
        }
    }
}

/// A user's one rating of a resolved ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rating {
    /// Good or bad.
    pub score: Score,
    /// What they added (may be empty).
    pub comment: String,
    /// When (RFC 3339).
    pub rated_at: String,
}

/// Parses a rating comment: trimmed, at most 1000 characters.
pub fn parse_comment(raw: &str) -> Result<String, &'static str> {
    let trimmed = raw.trim();
    if trimmed.chars().count() > MAX_COMMENT_CHARS {
        return Err("must be at most 1000 characters");
    }
    Ok(trimmed.to_owned())
}

/// Something that moves a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketChange {
    /// The user wrote in the conversation (reopens a resolved ticket within the window).
    UserWrote,
    /// Support wrote.
    AgentWrote,
    /// The user or support marked it solved.
    Resolve,
    /// Support asks the user for something.
    Pending,
    /// Support closed it, or the reopen window ended.
    Close,
    /// The user rated the help.
    Rate(Rating),
}

/// Why a change does not apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    /// Closed tickets do not change (a resolved one past its window counts as closed).
    #[error("ticket closed")]
    Closed,
    /// Only a resolved or closed ticket can be rated.
    #[error("ticket not resolved")]
    NotResolved,
    /// A ticket is rated once.
    #[error("already rated")]
    AlreadyRated,
}

impl SupportTicket {
    /// Whether the ticket is resolved and its reopen window is over at `now` (as good as closed).
    pub fn past_window(&self, now: DateTime<Utc>) -> bool {
        self.status == TicketStatus::Resolved && self.resolved_at.is_some_and(|at| now >= at + REOPEN_WINDOW)
    }

    /// The ticket after `change` at `now` (its revision one higher), `None` when the change
    /// changes nothing (resolving a resolved ticket, closing a closed one), or why it cannot
    /// apply.
    pub fn apply(&self, change: &TicketChange, now: DateTime<Utc>) -> Result<Option<Self>, LifecycleError> {
        use TicketStatus as S;
        let done = self.status == S::Closed || self.past_window(now);
        let mut next = self.clone();
        match change {
            TicketChange::Rate(rating) => {
                if !matches!(self.status, S::Resolved | S::Closed) {
                    return Err(LifecycleError::NotResolved);
                }
                if self.rating.is_some() {
                    return Err(LifecycleError::AlreadyRated);
                }
                next.rating = Some(rating.clone());
            }
            TicketChange::Close if self.status == S::Closed => return Ok(None),
            TicketChange::Close => next.status = S::Closed,
            _ if done => return Err(LifecycleError::Closed),
            TicketChange::Resolve if self.status == S::Resolved => return Ok(None),
            TicketChange::Resolve => {
                next.status = S::Resolved;
                next.resolved_at = Some(now);
            }
            TicketChange::UserWrote => next.status = S::WaitingOnSupport,
            TicketChange::AgentWrote | TicketChange::Pending => next.status = S::WaitingOnUser,
        }
        if next.status.is_active() {
            next.resolved_at = None;
        }
        next.updated_at = now;
        next.revision = self.revision + 1;
        Ok(Some(next))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::{MailStatus, Priority, UserId};

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 9, 12, 0, 0).unwrap()
    }

    fn ticket(status: TicketStatus) -> SupportTicket {
        SupportTicket {
            id: "tkt_1".into(),
            number: "AB-20260109-0001".into(),
            user_id: UserId::from_trusted("usr_1"),
            user_email: "ada@example.com".into(),
            conversation_id: "conv_1".into(),
            subject: "s".into(),
            description: String::new(),
            priority: Priority::Normal,
            status,
            created_at: t0(),
            updated_at: t0(),
            resolved_at: (status == TicketStatus::Resolved).then_some(t0()),
            rating: None,
            revision: 3,
            transcript: Vec::new(),
            mail_support: MailStatus::Sent,
            mail_user: MailStatus::Sent,
            message_id_support: None,
            message_id_user: None,
        }
    }

    fn rating() -> Rating {
        Rating { score: Score::Good, comment: String::new(), rated_at: "2026-01-09T13:00:00Z".into() }
    }

    fn after(
        from: TicketStatus,
        change: TicketChange,
        at: DateTime<Utc>,
    ) -> Result<Option<TicketStatus>, LifecycleError> {
        ticket(from).apply(&change, at).map(|t| t.map(|t| t.status))
    }

    #[test]
    fn who_wrote_last_decides_whose_turn_it_is() {
        use TicketStatus as S;
        for from in [S::Open, S::WaitingOnSupport, S::WaitingOnUser] {
            assert_eq!(after(from, TicketChange::UserWrote, t0()), Ok(Some(S::WaitingOnSupport)));
            assert_eq!(after(from, TicketChange::AgentWrote, t0()), Ok(Some(S::WaitingOnUser)));
            assert_eq!(after(from, TicketChange::Pending, t0()), Ok(Some(S::WaitingOnUser)));
        }
        let moved = ticket(S::Open).apply(&TicketChange::UserWrote, t0()).unwrap().unwrap();
        assert_eq!(moved.revision, 4, "every change bumps the revision");
    }

    #[test]
    fn resolved_reopens_within_the_week_then_counts_as_closed() {
        use TicketStatus as S;
        let day = Duration::days(1);
        assert_eq!(after(S::Resolved, TicketChange::UserWrote, t0() + day), Ok(Some(S::WaitingOnSupport)));
        let reopened = ticket(S::Resolved).apply(&TicketChange::UserWrote, t0() + day).unwrap().unwrap();
        assert_eq!(reopened.resolved_at, None);
        let late = t0() + REOPEN_WINDOW;
        assert_eq!(after(S::Resolved, TicketChange::UserWrote, late), Err(LifecycleError::Closed));
        assert_eq!(after(S::Resolved, TicketChange::AgentWrote, late), Err(LifecycleError::Closed));
        assert_eq!(after(S::Resolved, TicketChange::Close, late), Ok(Some(S::Closed)));
        assert_eq!(after(S::Resolved, TicketChange::Resolve, t0()), Ok(None), "resolving twice is once");
        for change in
            [TicketChange::UserWrote, TicketChange::AgentWrote, TicketChange::Resolve, TicketChange::Pending]
        {
            assert_eq!(after(S::Closed, change, t0()), Err(LifecycleError::Closed));
        }
        assert_eq!(after(S::Closed, TicketChange::Close, t0()), Ok(None));
        let resolved = ticket(S::Open).apply(&TicketChange::Resolve, t0() + day).unwrap().unwrap();
        assert_eq!(resolved.resolved_at, Some(t0() + day));
        let closed = resolved.apply(&TicketChange::Close, t0() + day * 8).unwrap().unwrap();
        assert_eq!(closed.resolved_at, Some(t0() + day), "closing keeps when it was resolved");
    }

    #[test]
    fn a_resolved_or_closed_ticket_is_rated_once() {
        use TicketStatus as S;
        assert_eq!(after(S::Open, TicketChange::Rate(rating()), t0()), Err(LifecycleError::NotResolved));
        for from in [S::Resolved, S::Closed] {
            let rated = ticket(from).apply(&TicketChange::Rate(rating()), t0()).unwrap().unwrap();
            assert_eq!((rated.status, rated.rating.clone()), (from, Some(rating())));
            assert_eq!(rated.apply(&TicketChange::Rate(rating()), t0()), Err(LifecycleError::AlreadyRated));
        }
        assert_eq!(Score::parse("meh"), Err("must be good or bad"));
        assert!(parse_comment(&"c".repeat(1001)).is_err());
        assert_eq!(TicketStatus::parse("waiting_on_user"), Some(TicketStatus::WaitingOnUser));
    }
}
