//! Validated domain types: parse, don't validate. A value of these types is known to be valid.

pub mod chat;
mod email;
pub mod escalation;
pub mod mail;
mod password;
mod user;
pub mod ws;

pub use email::Email;
pub use password::Password;
pub use user::{DisplayName, UserId, UserProfile, UserView};
