//! The domain: who is who, what is stored, and the values the API validates, with no I/O.
//! Parse, don't validate: a value of these types is known to be valid. Everything else in the
//! crate builds on this module; it imports nothing of the crate but `clock`.

mod account;
mod conversation;
mod email;
mod events;
mod identity;
mod inbound;
mod lifecycle;
pub mod mail;
mod paging;
mod password;
mod reply_address;
mod socket;
mod ticket;
mod views;

pub use account::{SessionRecord, StoredToken, TokenPurpose, UserRecord};
pub use conversation::{Content, ConversationRecord, MAX_CONTENT_CHARS, MessageRecord, Role, Source};
pub use email::Email;
pub use events::{EVENT_LIFETIME, LoggedEvent, ServerEvent, numbered};
pub use identity::{DisplayName, Principal, SessionId, UserId, UserProfile, UserView};
pub use inbound::{MailCommand, ReplyText, Verdicts, reply_text};
pub use lifecycle::{
    LifecycleError, MAX_COMMENT_CHARS, REOPEN_WINDOW, Rating, Score, TicketChange, TicketStatus,
    parse_comment,
};
pub use paging::{
    Cursor, DEFAULT_PAGE, MAX_PAGE, Page, message_cursor, parse_limit, parse_message_cursor, plausible_id,
};
pub use password::Password;
pub use reply_address::ReplyAddresses;
pub use socket::{ConnectionRecord, TicketRecord};
pub use ticket::{
    Append, DETACHED_OWNER, EscalationRequest, IdempotencyKey, KEY_LIFETIME, MAX_DESCRIPTION_CHARS,
    MAX_SUBJECT_CHARS, MailRecord, MailStatus, NewTicket, Priority, Recipient, SupportTicket, TicketUpdate,
    TranscriptLine, parse_description, parse_key, parse_subject, ticket_number,
};
pub use views::{ConversationView, MailView, MessageView, TicketView};
