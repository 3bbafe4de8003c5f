//! WebSocket domain: server events, ticket minting, and delivery to a user's or a session's
//! sockets.

pub mod events;
pub mod notifier;
pub mod tickets;

pub use events::ServerEvent;
pub use notifier::{Delivery, Notifier};
pub use tickets::{MintError, MintedTicket, TicketMinter, TicketPolicy, minting_quota};
