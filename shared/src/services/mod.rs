//! The use cases, as services over the ports: accounts, chat, escalation (with its mail
//! delivery), WebSocket tickets, the notifier that pushes events to sockets and the catch-up
//! that replays them. Each takes its
//! policies as plain values; `config` reads them from the environment.

pub mod accounts;
pub mod catch_up;
pub mod chat;
pub mod escalation;
pub mod inbound;
pub mod mailer;
pub mod notifier;
pub mod ws_tickets;

pub use accounts::{AccountError, AccountPolicy, Accounts, MailedLink, SessionView, SignedIn};
pub use catch_up::{CatchUp, Missed};
pub use chat::{CONVERSATIONS, ChatError, ChatService, Exchange};
pub use escalation::{Escalated, EscalationError, EscalationPolicy, EscalationService, TICKETS};
pub use inbound::{
    Accepted, InboundError, InboundPolicy, InboundService, Received, Refusal, header_verdicts,
};
pub use mailer::{Mailer, RetryRun};
pub use notifier::{Delivery, Notifier, Targets};
pub use ws_tickets::{MintError, MintedTicket, TicketMinter, TicketPolicy, minting_quota};
