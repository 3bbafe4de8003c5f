//! The CloudFront front door (`template.yaml`, `FrontDoor`): one origin for the web client, the
//! API and the WebSocket, so the session cookie and the page share a site. Behind it, API
//! Gateway sees CloudFront, not the browser: the source address is an edge server's and the
//! `Host` is the API's. CloudFront says who the viewer was in two headers (the viewer's address,
//! and the host it asked for, copied by a CloudFront Function), and proves they come from it with
//! a third, an origin header whose value only the stack knows (`FRONT_DOOR_SECRET`). Without
//! that proof both headers are ignored: a caller going straight to API Gateway can set them too.

use std::net::IpAddr;

use http::HeaderMap;
use lambda_http::Request;

/// The origin header CloudFront adds, whose value is `FRONT_DOOR_SECRET`.
pub const SECRET_HEADER: &str = "x-front-door";
/// The host the viewer asked for (the distribution's domain or its alias).
pub const HOST_HEADER: &str = "x-forwarded-host";
/// CloudFront's `ip:port` of the viewer.
pub const VIEWER_ADDRESS_HEADER: &str = "cloudfront-viewer-address";

/// Whether (and how) requests may say they came through the front door.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct FrontDoor {
    secret: Option<String>,
}

impl std::fmt::Debug for FrontDoor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrontDoor").field("configured", &self.secret.is_some()).finish()
    }
}

/// Who a request came from, as CloudFront saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer<'a> {
    /// The host the browser asked for: its page's origin is `https://{host}`.
    pub host: &'a str,
    /// The viewer's address, when CloudFront sent it.
    pub address: Option<IpAddr>,
}

impl FrontDoor {
    /// No front door: the viewer headers are never trusted.
    pub fn none() -> Self {
        Self::default()
    }

    /// A front door whose origin header carries `secret` (at least 16 characters).
    pub fn new(secret: &str) -> Result<Self, &'static str> {
        if secret.len() < 16 || !secret.is_ascii() {
            return Err("must be at least 16 ASCII characters");
        }
        Ok(Self { secret: Some(secret.to_owned()) })
    }

    /// The viewer, if the request proves it came through the front door.
    pub fn viewer<'a>(&self, headers: &'a HeaderMap) -> Option<Viewer<'a>> {
        let secret = self.secret.as_deref()?;
        let sent = headers.get(SECRET_HEADER)?.as_bytes();
        aws_lc_rs::constant_time::verify_slices_are_equal(sent, secret.as_bytes()).ok()?;
        let host = headers.get(HOST_HEADER)?.to_str().ok().filter(|h| is_host(h))?;
        let address = headers
            .get(VIEWER_ADDRESS_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit_once(':'))
            .and_then(|(ip, _port)| ip.trim_start_matches('[').trim_end_matches(']').parse().ok());
        Some(Viewer { host, address })
    }

    /// The page origin of a request through the front door (`https://{host}`).
    pub fn origin(&self, headers: &HeaderMap) -> Option<String> {
        self.viewer(headers).map(|v| format!("https://{}", v.host.to_ascii_lowercase()))
    }

    /// The caller's address: the viewer's behind the front door, otherwise the one API Gateway
    /// saw (never a header a caller could set unproven).
    pub fn source_ip(&self, req: &Request) -> Option<String> {
        match self.viewer(req.headers()) {
            Some(Viewer { address: Some(ip), .. }) => Some(ip.to_string()),
            _ => super::source_ip(req),
        }
    }

    /// `url` (a `wss://host/stage` WebSocket URL) as the viewer reaches it: through the front
    /// door, on the viewer's host with the same path; otherwise unchanged.
    pub fn websocket_url(&self, headers: &HeaderMap, url: &str) -> String {
        let Some(viewer) = self.viewer(headers) else { return url.to_owned() };
        let path =
            url.split_once("://").and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..])).unwrap_or("");
        format!("wss://{}{path}", viewer.host.to_ascii_lowercase())
    }
}

/// A DNS name, optionally with a port: nothing that could change an origin's meaning.
fn is_host(h: &str) -> bool {
    let (name, port) = h.rsplit_once(':').map_or((h, None), |(n, p)| (n, Some(p)));
    !name.is_empty()
        && name.len() <= 253
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    const SECRET: &str = "0f8b3c2e-6a1d-4e2f-9b7a-5c4d3e2f1a0b";

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn through_front_door(secret: &str) -> HeaderMap {
        headers(&[
            (SECRET_HEADER, secret),
            (HOST_HEADER, "Support.Example.com"),
            (VIEWER_ADDRESS_HEADER, "198.51.100.10:46532"),
        ])
    }

    #[test]
    fn the_viewer_is_trusted_only_with_the_secret() {
        let door = FrontDoor::new(SECRET).unwrap();
        let headers = through_front_door(SECRET);
        let viewer = door.viewer(&headers).unwrap();
        assert_eq!(viewer.host, "Support.Example.com");
        assert_eq!(viewer.address, Some("198.51.100.10".parse().unwrap()));
        assert_eq!(door.origin(&through_front_door(SECRET)).unwrap(), "https://support.example.com");

        let wrong = format!("{}x", &SECRET[..SECRET.len() - 1]);
        assert_eq!(door.viewer(&through_front_door(&wrong)), None);
        let mut missing = through_front_door(SECRET);
        missing.remove(SECRET_HEADER);
        assert_eq!(door.viewer(&missing), None);
        // Without a configured front door, nothing a caller sends is believed.
        assert_eq!(FrontDoor::none().viewer(&through_front_door(SECRET)), None);
    }

    #[test]
    fn odd_hosts_and_addresses_are_refused() {
        let door = FrontDoor::new(SECRET).unwrap();
        for host in ["evil.example/path", "a b", "", "x:port", "host:123456", "user@host"] {
            let mut h = through_front_door(SECRET);
            h.insert(HOST_HEADER, HeaderValue::from_str(host).unwrap());
            assert_eq!(door.viewer(&h), None, "{host:?}");
        }
        let mut h = through_front_door(SECRET);
        h.insert(VIEWER_ADDRESS_HEADER, HeaderValue::from_static("2001:db8::7:443"));
        assert_eq!(door.viewer(&h).unwrap().address, Some("2001:db8::7".parse().unwrap()));
        h.insert(VIEWER_ADDRESS_HEADER, HeaderValue::from_static("not-an-ip:1"));
        assert_eq!(door.viewer(&h).unwrap().address, None);
    }

    #[test]
    fn the_websocket_url_follows_the_viewer() {
        let door = FrontDoor::new(SECRET).unwrap();
        let url = "wss://abc.execute-api.us-east-1.amazonaws.com/prod";
        assert_eq!(door.websocket_url(&through_front_door(SECRET), url), "wss://support.example.com/prod");
        assert_eq!(door.websocket_url(&HeaderMap::new(), url), url);
    }

    #[test]
    fn a_short_secret_is_refused() {
        assert!(FrontDoor::new("short").is_err());
    }
}
