//! Where settings come from and how a value is read: the process environment (or a map, in tests
//! and the local gateway), and errors that name the variable. A bottom layer: the typed
//! configurations (`config`) and the adapters' own settings (table names) build on it.

use chrono::Duration;

/// A configuration problem, naming the variable.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {var}: {message}")]
pub struct ConfigError {
    /// The environment variable.
    pub var: &'static str,
    /// What is wrong.
    pub message: String,
}

/// A [`ConfigError`] for `var`.
pub fn err(var: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError { var, message: message.into() }
}

/// Where values come from: the process environment, or a map in tests and the local gateway.
pub trait Source {
    /// The value of `var`, if set and not empty.
    fn get(&self, var: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Source for ProcessEnv {
    fn get(&self, var: &str) -> Option<String> {
        std::env::var(var).ok().filter(|v| !v.trim().is_empty())
    }
}

impl<F: Fn(&str) -> Option<String>> Source for F {
    fn get(&self, var: &str) -> Option<String> {
        self(var).filter(|v| !v.trim().is_empty())
    }
}

/// The value of `var`, which must be set.
pub fn required(src: &dyn Source, var: &'static str) -> Result<String, ConfigError> {
    src.get(var).ok_or_else(|| err(var, "is required"))
}

/// A positive number of seconds, or `default` when unset.
pub fn seconds(src: &dyn Source, var: &'static str, default: Duration) -> Result<Duration, ConfigError> {
    match src.get(var) {
        None => Ok(default),
        Some(v) => match v.trim().parse::<i64>() {
            Ok(n) if n > 0 => Ok(Duration::seconds(n)),
            _ => Err(err(var, format!("{v:?} is not a positive number of seconds"))),
        },
    }
}

/// A mail address (`Name <addr>` or `addr`), which must be set.
pub fn mailbox(src: &dyn Source, var: &'static str) -> Result<lettre::message::Mailbox, ConfigError> {
    required(src, var)?.parse().map_err(|e| err(var, format!("is not an email address: {e}")))
}

/// A positive integer, or `default` when unset.
pub fn positive(src: &dyn Source, var: &'static str, default: u32) -> Result<u32, ConfigError> {
    match src.get(var) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| err(var, format!("{v:?} is not a positive integer"))),
    }
}
