use std::fmt;

/// A candidate password: 10–128 characters, any characters, no composition rules
/// (NIST SP 800-63B). Its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

/// Shortest accepted password, in characters.
pub const MIN_CHARS: usize = 10;
/// Longest accepted password, in characters (bounds hashing work).
pub const MAX_CHARS: usize = 128;

impl Password {
    /// Checks the length in Unicode scalar values; the value is kept verbatim (not trimmed).
    pub fn parse(raw: String) -> Result<Self, &'static str> {
        let chars = raw.chars().count();
        if chars < MIN_CHARS {
            return Err("must be at least 10 characters");
        }
        if chars > MAX_CHARS {
            return Err("must be at most 128 characters");
        }
        Ok(Self(raw))
    }

    /// A password typed at sign-in: only bounded (1–128 characters), not held to the current
    /// registration rules, so a policy change never locks out existing accounts.
    pub fn candidate(raw: String) -> Result<Self, &'static str> {
        match raw.chars().count() {
            0 => Err("is required"),
            n if n > MAX_CHARS => Err("must be at most 128 characters"),
            _ => Ok(Self(raw)),
        }
    }

    /// The secret itself, for hashing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_is_counted_in_characters() {
        assert!(Password::parse("é".repeat(10)).is_ok());
        assert!(Password::parse("é".repeat(9)).is_err());
        assert!(Password::parse("x".repeat(128)).is_ok());
        assert!(Password::parse("x".repeat(129)).is_err());
        assert!(Password::parse("          ".into()).is_ok(), "no composition rules");
    }

    #[test]
    fn debug_hides_the_secret() {
        let p = Password::parse("correct horse battery".into()).unwrap();
        assert!(!format!("{p:?}").contains("horse"));
    }
}
