//! The session cookie: built with the `cookie` crate, `HttpOnly; Secure; Path=/`.

use cookie::{Cookie, SameSite};
use http::HeaderMap;
use http::header::COOKIE;

/// How the session cookie is named and scoped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieSettings {
    /// `__Host-session` where the deployment allows (HTTPS, no `Domain`), else e.g. `session`.
    pub name: String,
    /// `Lax` by default.
    pub same_site: SameSite,
}

impl Default for CookieSettings {
    fn default() -> Self {
        Self { name: "__Host-session".into(), same_site: SameSite::Lax }
    }
}

/// Parses `Lax`, `Strict` or `None` (case-insensitive).
pub fn parse_same_site(raw: &str) -> Result<SameSite, String> {
    match raw.to_ascii_lowercase().as_str() {
        "lax" => Ok(SameSite::Lax),
        "strict" => Ok(SameSite::Strict),
        "none" => Ok(SameSite::None),
        _ => Err(format!("{raw:?} is not Lax, Strict or None")),
    }
}

impl CookieSettings {
    fn build(&self, value: String, max_age_secs: i64) -> String {
        Cookie::build((self.name.clone(), value))
            .http_only(true)
            .secure(true)
            .path("/")
            .same_site(self.same_site)
            .max_age(cookie::time::Duration::seconds(max_age_secs))
            .build()
            .to_string()
    }

    /// `Set-Cookie` value carrying a session token for `max_age_secs`.
    pub fn set(&self, token: &str, max_age_secs: i64) -> String {
        self.build(token.to_owned(), max_age_secs)
    }

    /// `Set-Cookie` value that deletes the cookie.
    pub fn clear(&self) -> String {
        self.build(String::new(), 0)
    }

    /// The session cookie's value from the request's `Cookie` headers (the first one).
    pub fn read(&self, headers: &HeaderMap) -> Option<String> {
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(Cookie::split_parse)
            .filter_map(Result::ok)
            .find(|c| c.name() == self.name)
            .map(|c| c.value().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_cookie_has_the_required_attributes() {
        let s = CookieSettings::default().set("tok", 60);
        for part in ["__Host-session=tok", "HttpOnly", "Secure", "Path=/", "SameSite=Lax", "Max-Age=60"] {
            assert!(s.contains(part), "{s} lacks {part}");
        }
        assert!(!s.contains("Domain"));
        assert!(CookieSettings::default().clear().contains("Max-Age=0"));
    }

    #[test]
    fn reads_the_named_cookie_among_others() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, "a=1; __Host-session=abc; b=2".parse().unwrap());
        assert_eq!(CookieSettings::default().read(&h).as_deref(), Some("abc"));
        assert_eq!(CookieSettings { name: "other".into(), ..Default::default() }.read(&h), None);
    }
}
