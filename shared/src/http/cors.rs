//! CORS and origin checks against one allowlist, plus the page's own origin behind the front
//! door. Never `*`: credentials are allowed.

use http::StatusCode;
use http::header::{self, HeaderMap, HeaderValue};
use lambda_http::{Body, Response};

use super::FrontDoor;
use crate::error::ApiError;

/// The allowed browser origins (`scheme://host[:port]`, exact match).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cors {
    allowed: Vec<String>,
    front_door: FrontDoor,
}

const ALLOW_METHODS: &str = "GET, POST, DELETE, OPTIONS";
const ALLOW_HEADERS: &str = "authorization, content-type, idempotency-key";
const EXPOSE_HEADERS: &str = "retry-after, x-request-id";

impl Cors {
    /// An allowlist; each origin must be `http(s)://host[:port]` without a path.
    pub fn new(origins: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut allowed = Vec::new();
        for origin in origins {
            let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
            let rest = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"))
                .ok_or_else(|| format!("origin {origin:?} must start with http:// or https://"))?;
            if rest.is_empty() || rest.contains(['/', '*', '?', '#', ' ']) {
                return Err(format!(
                    "origin {origin:?} must be scheme://host[:port] with no wildcard or path"
                ));
            }
            allowed.push(origin);
        }
        Ok(Self { allowed, front_door: FrontDoor::none() })
    }

    /// Also allows, on a request proven to come through `front_door`, the origin the viewer
    /// asked for: the page and the API are then one site, whatever its domain.
    #[must_use]
    pub fn with_front_door(mut self, front_door: FrontDoor) -> Self {
        self.front_door = front_door;
        self
    }

    /// Whether `origin` may make a credentialed call carrying these headers: on the list, or
    /// the front door's own.
    pub fn allows(&self, headers: &HeaderMap, origin: &HeaderValue) -> bool {
        self.is_allowed(origin)
            || self
                .front_door
                .origin(headers)
                .is_some_and(|own| origin.as_bytes().eq_ignore_ascii_case(own.as_bytes()))
    }

    /// Whether this `Origin` value is on the list.
    pub fn is_allowed(&self, origin: &HeaderValue) -> bool {
        origin.to_str().is_ok_and(|o| self.allowed.iter().any(|a| a.eq_ignore_ascii_case(o)))
    }

    /// The allowed origins.
    pub fn origins(&self) -> &[String] {
        &self.allowed
    }

    /// Refuses a cookie-authenticated call whose `Origin` is present and not allowed. An absent
    /// `Origin` (non-browser clients) passes; browsers always send it on POST.
    pub fn check_origin(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        match headers.get(header::ORIGIN) {
            Some(origin) if !self.allows(headers, origin) => Err(ApiError::OriginNotAllowed),
            _ => Ok(()),
        }
    }

    /// Adds CORS headers for an allowed origin; always `Vary: Origin` so caches keep them apart.
    pub fn apply(&self, origin: Option<&HeaderValue>, headers: &mut HeaderMap) {
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
        if let Some(origin) = origin.filter(|o| self.is_allowed(o)) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
            headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSE_HEADERS));
        }
    }

    /// Answers a preflight: 204 with the allowed methods and headers for an allowed origin,
    /// 403 `origin_not_allowed` otherwise.
    pub fn preflight(&self, origin: Option<&HeaderValue>) -> Response<Body> {
        if !origin.is_some_and(|o| self.is_allowed(o)) {
            return ApiError::OriginNotAllowed.into_response();
        }
        let mut response = Response::new(Body::Empty);
        *response.status_mut() = StatusCode::NO_CONTENT;
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(ALLOW_METHODS));
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(ALLOW_HEADERS));
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hv(s: &str) -> HeaderValue {
        HeaderValue::from_str(s).unwrap()
    }

    #[test]
    fn allowlist_is_exact() {
        let cors = Cors::new(["https://app.example.com/".to_owned()]).unwrap();
        assert!(cors.is_allowed(&hv("https://app.example.com")));
        assert!(!cors.is_allowed(&hv("https://evil.example.com")));
        assert!(!cors.is_allowed(&hv("https://app.example.com.evil.net")));
        assert!(!cors.is_allowed(&hv("null")));
        assert!(Cors::new(["*".to_owned()]).is_err());
        assert!(Cors::new(["https://*.example.com".to_owned()]).is_err());
    }

    #[test]
    fn apply_echoes_only_allowed_origins() {
        let cors = Cors::new(["https://app.example.com".to_owned()]).unwrap();
        let mut h = HeaderMap::new();
        cors.apply(Some(&hv("https://app.example.com")), &mut h);
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example.com");
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        let mut h = HeaderMap::new();
        cors.apply(Some(&hv("https://evil.example.com")), &mut h);
        assert!(h.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
        assert_eq!(h[header::VARY], "Origin");
    }
}
