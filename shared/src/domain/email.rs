use std::fmt;

use email_address::{EmailAddress, Options};
use icu_properties::CodePointMapData;
use icu_properties::props::Script;

/// A syntactically valid email address, normalized into the account key: trimmed, the local part
/// lower-cased, the domain in its ASCII (IDNA) form, so `ada@exämple.com` and
/// `ada@xn--exmple-cua.com` are one account.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

/// Longest address SMTP can carry (RFC 5321 path limit minus the brackets).
const MAX_LEN: usize = 254;

/// Script sets one domain label may combine (Unicode TS 39 "highly restrictive"): one script,
/// or Latin with the scripts Japanese, Chinese or Korean are written in together.
const COMBINATIONS: [&[Script]; 3] = [
    &[Script::Latin, Script::Han, Script::Hiragana, Script::Katakana],
    &[Script::Latin, Script::Han, Script::Bopomofo],
    &[Script::Latin, Script::Han, Script::Hangul],
];

/// Whether a (Unicode) domain label avoids mixing scripts, the mark of a homograph such as a
/// Cyrillic "а" among Latin letters.
fn one_script(label: &str) -> bool {
    let map = CodePointMapData::<Script>::new();
    let mut scripts: Vec<Script> = Vec::new();
    for c in label.chars() {
        let script = map.get(c);
        if script != Script::Common && script != Script::Inherited && !scripts.contains(&script) {
            scripts.push(script);
        }
    }
    scripts.len() <= 1 || COMBINATIONS.iter().any(|allowed| scripts.iter().all(|s| allowed.contains(s)))
}

impl Email {
    /// Trims, normalizes and checks the address; the error is a message for the user.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err("is required");
        }
        if trimmed.len() > MAX_LEN * 4 {
            return Err("must be at most 254 characters");
        }
        let (local, domain) = trimmed.rsplit_once('@').ok_or("must be a valid email address")?;
        // Quoted local parts ("a b"@x) are valid RFC 5322 but a way to smuggle spaces, @ and
        // look-alike addresses past people; mail providers do not hand them out.
        if local.contains('"') {
            return Err("must not have a quoted part before the @");
        }
        let ascii = idna::domain_to_ascii(domain).map_err(|_| "must be a valid email address")?;
        let (unicode, decoded) = idna::domain_to_unicode(&ascii);
        if decoded.is_err() {
            return Err("must be a valid email address");
        }
        if !unicode.split('.').all(one_script) {
            return Err("must not mix alphabets in the domain name");
        }
        let normalized = format!("{}@{ascii}", local.to_lowercase());
        if normalized.len() > MAX_LEN {
            return Err("must be at most 254 characters");
        }
        let options = Options::default().with_required_tld().without_domain_literal().without_display_text();
        EmailAddress::parse_with_options(&normalized, options)
            .map_err(|_| "must be a valid email address")?;
        Ok(Self(normalized))
    }

    /// An address read back from a store, where only [`Email::parse`]'s output is written.
    pub fn from_trusted(normalized: impl Into<String>) -> Self {
        Self(normalized.into())
    }

    /// The normalized address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_case_and_whitespace() {
        assert_eq!(Email::parse("  Ada@Example.COM ").unwrap().as_str(), "ada@example.com");
    }

    #[test]
    fn internationalized_domains_are_one_account_in_ascii_form() {
        let unicode = Email::parse("ada@exämple.com").unwrap();
        assert_eq!(unicode.as_str(), "ada@xn--exmple-cua.com");
        assert_eq!(Email::parse("ADA@XN--EXMPLE-CUA.COM").unwrap(), unicode);
        assert_eq!(Email::parse("ada@EXÄMPLE.com").unwrap(), unicode);
        // Scripts written together are one script here.
        assert!(Email::parse("ada@日本語ひらがなカタカナ.jp").is_ok());
        assert!(Email::parse("ada@пример.рф").is_ok());
    }

    #[test]
    fn mixed_script_domains_are_refused() {
        // A Cyrillic "а" (U+0430) among Latin letters, as such or in its punycode form.
        let homograph = "ada@ex\u{430}mple.com";
        assert_eq!(Email::parse(homograph), Err("must not mix alphabets in the domain name"));
        let ascii = idna::domain_to_ascii("ex\u{430}mple.com").unwrap();
        assert_eq!(Email::parse(&format!("ada@{ascii}")), Err("must not mix alphabets in the domain name"));
        assert_eq!(Email::parse("ada@pаypal.com"), Err("must not mix alphabets in the domain name"));
    }

    #[test]
    fn quoted_local_parts_are_refused() {
        for quoted in ["\"ada\"@example.com", "\"a b\"@example.com", "\"a@b\"@example.com"] {
            assert_eq!(Email::parse(quoted), Err("must not have a quoted part before the @"), "{quoted}");
        }
    }

    #[test]
    fn rejects_malformed_addresses() {
        for bad in [
            "",
            "   ",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "Ada <ada@example.com>",
            "ada@[127.0.0.1]",
            "ada@exa mple.com",
            "ada@-example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err("must be at most 254 characters"));
    }
}
