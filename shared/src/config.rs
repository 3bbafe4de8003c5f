//! Typed configuration from the environment, read once at start-up. Any missing or malformed
//! value stops the function with a message naming the variable. There is no default secret:
//! without key material a function does not start.

use std::sync::Arc;

use chrono::Duration;

use crate::auth::keys::{PublicKeys, SigningKey};
use crate::auth::token::MAX_ACCESS_TTL;
use crate::auth::{Allowance, KeyRing, SessionPolicy, TokenSettings};
use crate::domain::ReplyAddresses;
use crate::domain::mail::MailSettings;
use crate::http::cookies::parse_same_site;
use crate::http::{CookieSettings, Cors, FrontDoor};
use crate::services::{AccountPolicy, EscalationPolicy, TicketPolicy};

#[cfg(feature = "dynamodb")]
pub use crate::adapters::dynamodb::Tables;
pub use crate::env::{ConfigError, ProcessEnv, Source};
use crate::env::{err, mailbox, positive, required, seconds};

/// What every token names and how long login's live: `AUTH_ISSUER` (default
/// `support-backend`), `AUTH_AUDIENCE` (default `support-api`), `ACCESS_TOKEN_TTL_SECONDS`
/// (900, at most 900).
pub fn token_settings(src: &dyn Source) -> Result<TokenSettings, ConfigError> {
    let ttl = seconds(src, "ACCESS_TOKEN_TTL_SECONDS", MAX_ACCESS_TTL)?;
    if ttl > MAX_ACCESS_TTL {
        return Err(err("ACCESS_TOKEN_TTL_SECONDS", "must be at most 900"));
    }
    Ok(TokenSettings {
        issuer: src.get("AUTH_ISSUER").unwrap_or_else(|| "support-backend".into()),
        audience: src.get("AUTH_AUDIENCE").unwrap_or_else(|| "support-api".into()),
        ttl,
    })
}

/// Fixed keys from the settings: `AUTH_PUBLIC_KEYS` (a JWKS; may be left out where the
/// function signs, its own key is accepted) and, with `signs`, `AUTH_SIGNING_KEY` (PKCS#8 PEM)
/// and `AUTH_SIGNING_KEY_ID`.
pub fn fixed_keys(src: &dyn Source, signs: bool) -> Result<KeyRing, ConfigError> {
    let public = match src.get("AUTH_PUBLIC_KEYS") {
        Some(jwks) => PublicKeys::from_jwks(&jwks).map_err(|e| err("AUTH_PUBLIC_KEYS", e.to_string()))?,
        None if signs => PublicKeys::new([]).map_err(|e| err("AUTH_PUBLIC_KEYS", e.to_string()))?,
        None => {
            return Err(err(
                "AUTH_PUBLIC_KEYS",
                "is required (a JWKS of the Ed25519 keys tokens may be signed with)",
            ));
        }
    };
    let signing = if signs {
        let pem = required(src, "AUTH_SIGNING_KEY")?;
        let kid = required(src, "AUTH_SIGNING_KEY_ID")?;
        Some(SigningKey::from_pem(&kid, &pem).map_err(|e| err("AUTH_SIGNING_KEY", e.to_string()))?)
    } else {
        None
    };
    KeyRing::fixed(token_settings(src)?, public, signing).map_err(|e| err("AUTH_PUBLIC_KEYS", e.to_string()))
}

/// Keys kept in Secrets Manager, read at cold start and again after `every`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySecrets {
    /// `AUTH_PUBLIC_KEYS_SECRET`: the secret holding the accepted keys' JWKS.
    pub public_keys: String,
    /// `AUTH_SIGNING_KEY_SECRET` (login only): the secret holding `{"kid", "pem"}`.
    pub signing_key: Option<String>,
    /// `KEYS_REFRESH_SECONDS` (default 300): how old the keys in hand may get.
    pub every: Duration,
}

impl KeySecrets {
    /// The secrets' names, if `AUTH_PUBLIC_KEYS_SECRET` is set (otherwise the keys are fixed,
    /// from [`fixed_keys`]).
    pub fn from_source(src: &dyn Source) -> Result<Option<Self>, ConfigError> {
        let Some(public_keys) = src.get("AUTH_PUBLIC_KEYS_SECRET") else {
            if src.get("AUTH_SIGNING_KEY_SECRET").is_some() {
                return Err(err("AUTH_PUBLIC_KEYS_SECRET", "is required with AUTH_SIGNING_KEY_SECRET"));
            }
            return Ok(None);
        };
        let every = seconds(src, "KEYS_REFRESH_SECONDS", Duration::minutes(5))?;
        Ok(Some(Self { public_keys, signing_key: src.get("AUTH_SIGNING_KEY_SECRET"), every }))
    }
}

/// What every HTTP function needs: the token keys and the browser-facing settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Accepted public keys (and login's signing key), issuer and audience.
    pub keys: Arc<KeyRing>,
    /// Allowed origins.
    pub cors: Cors,
    /// Who the viewer was, behind the CloudFront front door (`FRONT_DOOR_SECRET`).
    pub front_door: FrontDoor,
    /// Session cookie name and `SameSite`.
    pub cookie: CookieSettings,
}

impl HttpConfig {
    /// Fixed keys from the settings ([`fixed_keys`]; with `signs`, login's signing key too) and
    /// the rest as [`Self::with_keys`].
    pub fn from_source(src: &dyn Source, signs: bool) -> Result<Self, ConfigError> {
        Self::with_keys(src, Arc::new(fixed_keys(src, signs)?))
    }

    /// These keys, and `ALLOWED_ORIGINS` (comma-separated), `FRONT_DOOR_SECRET` (the value of
    /// the header CloudFront adds; unset without a front door), `SESSION_COOKIE_NAME`,
    /// `SESSION_COOKIE_SAMESITE`.
    pub fn with_keys(src: &dyn Source, keys: Arc<KeyRing>) -> Result<Self, ConfigError> {
        let origins = src.get("ALLOWED_ORIGINS").unwrap_or_default();
        let front_door = match src.get("FRONT_DOOR_SECRET") {
            Some(secret) => FrontDoor::new(&secret).map_err(|m| err("FRONT_DOOR_SECRET", m))?,
            None => FrontDoor::none(),
        };
        let cors = Cors::new(origins.split(',').filter(|o| !o.trim().is_empty()).map(str::to_owned))
            .map_err(|m| err("ALLOWED_ORIGINS", m))?
            .with_front_door(front_door.clone());
        let mut cookie = CookieSettings::default();
        if let Some(name) = src.get("SESSION_COOKIE_NAME") {
            let valid = name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !valid || name.len() > 64 {
                return Err(err("SESSION_COOKIE_NAME", "must be 1-64 of A-Z a-z 0-9 - _"));
            }
            cookie.name = name;
        }
        if let Some(same_site) = src.get("SESSION_COOKIE_SAMESITE") {
            cookie.same_site = parse_same_site(&same_site).map_err(|m| err("SESSION_COOKIE_SAMESITE", m))?;
        }
        Ok(Self { keys, cors, cookie, front_door })
    }
}

/// What only the `login` function needs besides its signing key: the account rules.
#[derive(Debug, Clone)]
pub struct LoginConfig {
    /// Sessions, limits and the mailed links.
    pub policy: AccountPolicy,
}

/// A page the mails link to: required, unless a front door is configured (then the page on
/// the site each request came through).
fn page_url(src: &dyn Source, var: &'static str) -> Result<Option<String>, ConfigError> {
    let Some(url) = src.get(var) else {
        return match src.get("FRONT_DOOR_SECRET") {
            Some(_) => Ok(None),
            None => required(src, var).map(Some),
        };
    };
    if !(url.starts_with("https://") || url.starts_with("http://")) || url.contains(['?', '#']) {
        return Err(err(var, "must be an http(s) URL without query or fragment"));
    }
    Ok(Some(url))
}

impl LoginConfig {
    /// Required: `EMAIL_VERIFY_URL` and `PASSWORD_RESET_URL` (the web client's pages the mails
    /// link to; without them behind a front door, `/verify-email` and `/reset-password` on the
    /// site a request came through), `MAIL_FROM`. Optional (defaults in [`AccountPolicy::new`]):
    /// `SESSION_ABSOLUTE_TTL_SECONDS`, `SESSION_IDLE_TTL_SECONDS`, `MAX_SESSIONS_PER_USER`,
    /// `LOGIN_MAX_FAILURES`, `LOGIN_FAILURE_WINDOW_SECONDS`, `LOGINS_PER_ADDRESS` (per minute),
    /// `REGISTRATIONS_PER_ADDRESS` (per hour), `PASSWORD_RESET_TTL_SECONDS`,
    /// `PASSWORD_RESETS_PER_EMAIL`, `PASSWORD_RESETS_PER_ADDRESS` (both per 15 minutes).
    pub fn from_source(src: &dyn Source) -> Result<Self, ConfigError> {
        let d = AccountPolicy::new(
            page_url(src, "EMAIL_VERIFY_URL")?,
            page_url(src, "PASSWORD_RESET_URL")?,
            mailbox(src, "MAIL_FROM")?,
        );
        let per = |var, default: Allowance| -> Result<Allowance, ConfigError> {
            Ok(Allowance { limit: positive(src, var, default.limit)?, ..default })
        };
        let policy = AccountPolicy {
            sessions: SessionPolicy {
                absolute: seconds(src, "SESSION_ABSOLUTE_TTL_SECONDS", d.sessions.absolute)?,
                idle: seconds(src, "SESSION_IDLE_TTL_SECONDS", d.sessions.idle)?,
            },
            max_sessions: positive(src, "MAX_SESSIONS_PER_USER", d.max_sessions)?,
            attempts: Allowance {
                limit: positive(src, "LOGIN_MAX_FAILURES", d.attempts.limit)?,
                window: seconds(src, "LOGIN_FAILURE_WINDOW_SECONDS", d.attempts.window)?,
            },
            logins_per_address: per("LOGINS_PER_ADDRESS", d.logins_per_address)?,
            registrations_per_address: per("REGISTRATIONS_PER_ADDRESS", d.registrations_per_address)?,
            reset: crate::services::MailedLink {
                ttl: seconds(src, "PASSWORD_RESET_TTL_SECONDS", d.reset.ttl)?,
                ..d.reset.clone()
            },
            resets_per_email: per("PASSWORD_RESETS_PER_EMAIL", d.resets_per_email)?,
            resets_per_address: per("PASSWORD_RESETS_PER_ADDRESS", d.resets_per_address)?,
            ..d
        };
        Ok(Self { policy })
    }
}

/// WebSocket settings for minting tickets.
#[derive(Debug, Clone)]
pub struct WsConfig {
    /// The URL clients connect to (`wss://…`), returned with every ticket.
    pub url: String,
    /// Ticket lifetime and per-user minting allowance.
    pub tickets: TicketPolicy,
}

impl WsConfig {
    /// Reads `WEBSOCKET_URL` (required) and the ticket policy ([`ticket_policy`]).
    pub fn from_source(src: &dyn Source) -> Result<Self, ConfigError> {
        let url = required(src, "WEBSOCKET_URL")?;
        if !(url.starts_with("wss://") || url.starts_with("ws://")) {
            return Err(err("WEBSOCKET_URL", "must start with wss:// (or ws:// locally)"));
        }
        Ok(Self { url, tickets: ticket_policy(src)? })
    }
}

/// `WS_TICKET_TTL_SECONDS` (300, at most 900) and `WS_TICKETS_PER_MINUTE` (20; bearer connects
/// count against it too).
fn ticket_policy(src: &dyn Source) -> Result<TicketPolicy, ConfigError> {
    let defaults = TicketPolicy::default();
    let per_minute = positive(src, "WS_TICKETS_PER_MINUTE", defaults.per_minute)?;
    let ttl = seconds(src, "WS_TICKET_TTL_SECONDS", defaults.ttl)?;
    if ttl > Duration::minutes(15) {
        return Err(err("WS_TICKET_TTL_SECONDS", "must be at most 900: tickets are short lived"));
    }
    Ok(TicketPolicy { ttl, per_minute })
}

/// What `$connect` admits: `MAX_SOCKETS_PER_USER` (10, at most 100) live connections per user,
/// and bearer connects within the ticket quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectPolicy {
    /// Live connections a user may hold.
    pub max_per_user: u32,
    /// Tickets and bearer connects per user per clock minute.
    pub per_minute: u32,
}

impl ConnectPolicy {
    /// Reads `MAX_SOCKETS_PER_USER` and `WS_TICKETS_PER_MINUTE`.
    pub fn from_source(src: &dyn Source) -> Result<Self, ConfigError> {
        let max_per_user = positive(src, "MAX_SOCKETS_PER_USER", 10)?;
        if max_per_user > 100 {
            return Err(err("MAX_SOCKETS_PER_USER", "must be at most 100"));
        }
        Ok(Self { max_per_user, per_minute: ticket_policy(src)?.per_minute })
    }
}

/// The API Gateway Management endpoint pushes go to: `WEBSOCKET_MANAGEMENT_ENDPOINT`, or
/// `WEBSOCKET_URL` with `wss://` turned into `https://` (the default API Gateway domain).
pub fn management_endpoint(src: &dyn Source) -> Result<String, ConfigError> {
    if let Some(endpoint) = src.get("WEBSOCKET_MANAGEMENT_ENDPOINT") {
        return Ok(endpoint);
    }
    let url = required(src, "WEBSOCKET_URL").map_err(|_| {
        err("WEBSOCKET_MANAGEMENT_ENDPOINT", "is required (or WEBSOCKET_URL to derive it from)")
    })?;
    url.strip_prefix("wss://")
        .map(|rest| format!("https://{rest}"))
        .or_else(|| url.strip_prefix("ws://").map(|rest| format!("http://{rest}")))
        .ok_or_else(|| err("WEBSOCKET_URL", "must start with wss:// or ws://"))
}

/// `INBOUND_MAIL_DOMAIN` (none: ticket mails carry no reply address and replies do not come
/// back) and `INBOUND_REPLY_KEY` (required with the domain): at least 64 characters, whose
/// text is the HMAC key, e.g. 32 random bytes in hex (`openssl rand -hex 32`, what the local
/// gateway generates).
pub fn reply_addresses(src: &dyn Source) -> Result<Option<ReplyAddresses>, ConfigError> {
    let Some(domain) = src.get("INBOUND_MAIL_DOMAIN").filter(|d| !d.trim().is_empty()) else {
        return Ok(None);
    };
    if !domain.trim().chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-') {
        return Err(err(
            "INBOUND_MAIL_DOMAIN",
            "must be a domain name (ASCII letters, digits, dots, hyphens)",
        ));
    }
    let key = src
        .get("INBOUND_REPLY_KEY")
        .map(|k| k.trim().to_owned())
        .filter(|k| k.chars().count() >= MIN_REPLY_KEY_CHARS && !k.contains(char::is_whitespace))
        .ok_or_else(|| {
            err(
                "INBOUND_REPLY_KEY",
                "must be at least 64 characters without spaces (e.g. 32 random bytes in hex) when INBOUND_MAIL_DOMAIN is set",
            )
        })?;
    Ok(Some(ReplyAddresses::new(key.as_bytes(), &domain)))
}

/// The shortest reply key: 64 hex digits are 256 bits.
const MIN_REPLY_KEY_CHARS: usize = 64;

/// Where SES receiving stores messages: `INBOUND_MAIL_BUCKET` (required) and
/// `INBOUND_MAIL_PREFIX` (the S3 action's object key prefix; none by default).
pub fn received_mail_location(src: &dyn Source) -> Result<(String, String), ConfigError> {
    let bucket = required(src, "INBOUND_MAIL_BUCKET")?;
    Ok((bucket, src.get("INBOUND_MAIL_PREFIX").unwrap_or_default()))
}

/// Inbound mail settings beyond the reply addresses: `SUPPORT_AGENTS` (comma-separated addresses
/// or `@domain`s whose mail counts as support's, besides `SUPPORT_EMAIL`; none by default).
pub fn inbound_policy(src: &dyn Source) -> Result<crate::services::InboundPolicy, ConfigError> {
    let mut agents = Vec::new();
    for entry in
        src.get("SUPPORT_AGENTS").unwrap_or_default().split(',').map(str::trim).filter(|e| !e.is_empty())
    {
        let entry = entry.to_ascii_lowercase();
        let valid = match entry.strip_prefix('@') {
            Some(domain) => !domain.is_empty() && !domain.contains('@'),
            None => entry.parse::<lettre::Address>().is_ok(),
        };
        if !valid {
            return Err(err("SUPPORT_AGENTS", format!("{entry:?} is neither an address nor an @domain")));
        }
        agents.push(entry);
    }
    Ok(crate::services::InboundPolicy { agents })
}

/// `WEB_CLIENT_URL` (optional): the web client, linked from the mails to the user.
fn web_client(src: &dyn Source) -> Result<Option<String>, ConfigError> {
    let url = src.get("WEB_CLIENT_URL").map(|u| u.trim().trim_end_matches('/').to_owned());
    if let Some(url) = &url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        return Err(err("WEB_CLIENT_URL", "must be an http(s) URL"));
    }
    Ok(url)
}

/// Escalation settings: mail addresses, ticket numbering, mail retries.
#[derive(Debug, Clone)]
pub struct EscalationConfig {
    /// Sender and support addresses.
    pub mail: MailSettings,
    /// Prefix, attempts, backoff.
    pub policy: EscalationPolicy,
}

impl EscalationConfig {
    /// Reads `MAIL_FROM` and `SUPPORT_EMAIL` (both required, `Name <addr>` or `addr`),
    /// `TICKET_PREFIX` (`AB`; 1–10 of A-Z 0-9), `MAIL_MAX_ATTEMPTS` (5), `MAIL_RETRY_BASE_SECONDS` (60),
    /// the reply addresses (see [`reply_addresses`]) and `WEB_CLIENT_URL`.
    pub fn from_source(src: &dyn Source) -> Result<Self, ConfigError> {
        let mail = MailSettings {
            from: mailbox(src, "MAIL_FROM")?,
            support: mailbox(src, "SUPPORT_EMAIL")?,
            replies: reply_addresses(src)?,
            web_client: web_client(src)?,
        };
        let defaults = EscalationPolicy::default();
        let prefix = src.get("TICKET_PREFIX").unwrap_or(defaults.prefix);
        if prefix.is_empty()
            || prefix.len() > 10
            || !prefix.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            return Err(err("TICKET_PREFIX", "must be 1-10 of A-Z 0-9"));
        }
        let max_attempts = match src.get("MAIL_MAX_ATTEMPTS") {
            None => defaults.max_attempts,
            Some(v) => v
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=20).contains(n))
                .ok_or_else(|| err("MAIL_MAX_ATTEMPTS", format!("{v:?} is not a number from 1 to 20")))?,
        };
        let retry_base = seconds(src, "MAIL_RETRY_BASE_SECONDS", defaults.retry_base)?;
        Ok(Self { mail, policy: EscalationPolicy { prefix, max_attempts, retry_base } })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn src(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        move |k: &str| map.get(k).cloned()
    }

    #[test]
    fn refuses_to_start_without_key_material() {
        let e = HttpConfig::from_source(&src(&[]), true).unwrap_err();
        assert_eq!(e.var, "AUTH_SIGNING_KEY");
        let e = HttpConfig::from_source(&src(&[]), false).unwrap_err();
        assert_eq!(e.var, "AUTH_PUBLIC_KEYS");
        let junk = src(&[("AUTH_SIGNING_KEY", "junk"), ("AUTH_SIGNING_KEY_ID", "k")]);
        assert_eq!(HttpConfig::from_source(&junk, true).unwrap_err().var, "AUTH_SIGNING_KEY");
        let e = KeySecrets::from_source(&src(&[("AUTH_SIGNING_KEY_SECRET", "s")])).unwrap_err();
        assert_eq!(e.var, "AUTH_PUBLIC_KEYS_SECRET");
    }

    #[test]
    fn a_reply_key_is_64_characters_or_more_and_needed_only_with_a_domain() {
        assert!(reply_addresses(&src(&[])).unwrap().is_none(), "no domain: no reply addresses");
        let hex = "ab".repeat(32);
        let generated = "Zq8".repeat(22);
        for key in [hex.as_str(), generated.as_str()] {
            let set = src(&[("INBOUND_MAIL_DOMAIN", "reply.example.com"), ("INBOUND_REPLY_KEY", key)]);
            let replies = reply_addresses(&set).unwrap().expect("reply addresses");
            let address = replies.for_ticket("tkt_1");
            assert_eq!(
                ReplyAddresses::new(key.as_bytes(), "reply.example.com").ticket_of(&address).as_deref(),
                Some("tkt_1")
            );
        }
        for key in [None, Some("ab".repeat(31)), Some(format!("{} {}", "a".repeat(40), "b".repeat(40)))] {
            let mut pairs = vec![("INBOUND_MAIL_DOMAIN", "reply.example.com".to_owned())];
            pairs.extend(key.map(|k| ("INBOUND_REPLY_KEY", k)));
            let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            assert_eq!(reply_addresses(&src(&pairs)).unwrap_err().var, "INBOUND_REPLY_KEY", "{pairs:?}");
        }
    }

    #[test]
    fn key_secrets_are_named_by_the_settings() {
        assert_eq!(KeySecrets::from_source(&src(&[])).unwrap(), None);
        let both = src(&[
            ("AUTH_PUBLIC_KEYS_SECRET", "p"),
            ("AUTH_SIGNING_KEY_SECRET", "s"),
            ("KEYS_REFRESH_SECONDS", "60"),
        ]);
        assert_eq!(
            KeySecrets::from_source(&both).unwrap(),
            Some(KeySecrets {
                public_keys: "p".into(),
                signing_key: Some("s".into()),
                every: Duration::seconds(60)
            })
        );
    }

    #[test]
    fn reads_a_complete_configuration() {
        let (key, pem) = SigningKey::generate("k1").unwrap();
        let jwks = PublicKeys::new([key.public_key().clone()]).unwrap().to_jwks();
        let s = src(&[
            ("AUTH_SIGNING_KEY", &pem),
            ("AUTH_SIGNING_KEY_ID", "k1"),
            ("AUTH_PUBLIC_KEYS", &jwks),
            ("ALLOWED_ORIGINS", "https://a.example, https://b.example"),
            ("SESSION_COOKIE_SAMESITE", "strict"),
            ("LOGIN_MAX_FAILURES", "3"),
            ("MAX_SOCKETS_PER_USER", "4"),
            ("REGISTRATIONS_PER_ADDRESS", "7"),
            ("EMAIL_VERIFY_URL", "https://app.example/verify-email"),
            ("PASSWORD_RESET_URL", "https://app.example/reset"),
            ("MAIL_FROM", "Support <support@example.com>"),
        ]);
        let login = LoginConfig::from_source(&s).unwrap();
        assert_eq!(login.policy.attempts.limit, 3);
        assert_eq!(login.policy.registrations_per_address.limit, 7);
        assert_eq!(login.policy.registrations_per_address.window, Duration::hours(1));
        assert_eq!(login.policy.logins_per_address.limit, 30);
        assert_eq!(login.policy.max_sessions, 20);
        assert_eq!(login.policy.verify.ttl, Duration::hours(24));
        assert_eq!(
            ConnectPolicy::from_source(&s).unwrap(),
            ConnectPolicy { max_per_user: 4, per_minute: 20 }
        );
        let http = HttpConfig::from_source(&s, true).unwrap();
        assert!(http.keys.signs());
        assert_eq!(http.keys.accepted(), ["k1"]);
        assert_eq!(http.cors.origins().len(), 2);
        assert_eq!(http.cookie.same_site, cookie::SameSite::Strict);
    }

    #[test]
    fn websocket_settings() {
        let ws = WsConfig::from_source(&src(&[("WEBSOCKET_URL", "wss://abc.example/prod")])).unwrap();
        assert_eq!(ws.tickets, TicketPolicy::default());
        assert_eq!(WsConfig::from_source(&src(&[])).unwrap_err().var, "WEBSOCKET_URL");
        assert_eq!(
            WsConfig::from_source(&src(&[("WEBSOCKET_URL", "https://x")])).unwrap_err().var,
            "WEBSOCKET_URL"
        );
        let e =
            WsConfig::from_source(&src(&[("WEBSOCKET_URL", "wss://x"), ("WS_TICKET_TTL_SECONDS", "3600")]));
        assert_eq!(e.unwrap_err().var, "WS_TICKET_TTL_SECONDS");
        let derived = management_endpoint(&src(&[("WEBSOCKET_URL", "wss://abc.example/prod")])).unwrap();
        assert_eq!(derived, "https://abc.example/prod");
        let explicit = src(&[("WEBSOCKET_URL", "wss://a"), ("WEBSOCKET_MANAGEMENT_ENDPOINT", "https://b")]);
        assert_eq!(management_endpoint(&explicit).unwrap(), "https://b");
        assert_eq!(management_endpoint(&src(&[])).unwrap_err().var, "WEBSOCKET_MANAGEMENT_ENDPOINT");
    }

    #[test]
    fn escalation_settings() {
        let base = [("MAIL_FROM", "Support <support@example.com>"), ("SUPPORT_EMAIL", "help@example.com")];
        let c = EscalationConfig::from_source(&src(&base)).unwrap();
        assert_eq!(c.policy, EscalationPolicy::default());
        assert_eq!(c.mail.support.email.to_string(), "help@example.com");
        assert_eq!(EscalationConfig::from_source(&src(&base[..1])).unwrap_err().var, "SUPPORT_EMAIL");
        for (var, value) in [
            ("TICKET_PREFIX", "ab"),
            ("TICKET_PREFIX", "A-B"),
            ("MAIL_MAX_ATTEMPTS", "0"),
            ("MAIL_FROM", "nope"),
        ] {
            let mut pairs = base.to_vec();
            pairs.retain(|(k, _)| *k != var);
            pairs.push((var, value));
            assert_eq!(EscalationConfig::from_source(&src(&pairs)).unwrap_err().var, var);
        }
    }

    #[test]
    fn rejects_bad_values_by_name() {
        let (_, pem) = SigningKey::generate("k1").unwrap();
        let base = [
            ("AUTH_SIGNING_KEY", pem.as_str()),
            ("AUTH_SIGNING_KEY_ID", "k1"),
            ("EMAIL_VERIFY_URL", "https://app.example/verify-email"),
            ("PASSWORD_RESET_URL", "https://app.example/reset"),
            ("MAIL_FROM", "support@example.com"),
        ];
        assert!(LoginConfig::from_source(&src(&base)).is_ok());
        assert_eq!(LoginConfig::from_source(&src(&base[..4])).unwrap_err().var, "MAIL_FROM");
        assert_eq!(LoginConfig::from_source(&src(&base[..2])).unwrap_err().var, "EMAIL_VERIFY_URL");
        for (var, value) in [
            ("EMAIL_VERIFY_URL", "/verify-email"),
            ("MAX_SESSIONS_PER_USER", "0"),
            ("LOGINS_PER_ADDRESS", "many"),
            ("PASSWORD_RESET_URL", "app.example/reset"),
            ("PASSWORD_RESET_URL", "https://app.example/reset?x=1"),
            ("PASSWORD_RESETS_PER_EMAIL", "0"),
            ("SESSION_IDLE_TTL_SECONDS", "soon"),
            ("LOGIN_MAX_FAILURES", "0"),
        ] {
            let mut pairs = base.to_vec();
            pairs.retain(|(k, _)| *k != var);
            pairs.push((var, value));
            assert_eq!(LoginConfig::from_source(&src(&pairs)).unwrap_err().var, var);
        }
        for value in ["901", "-1"] {
            let pairs = [base[0], base[1], ("ACCESS_TOKEN_TTL_SECONDS", value)];
            assert_eq!(
                HttpConfig::from_source(&src(&pairs), true).unwrap_err().var,
                "ACCESS_TOKEN_TTL_SECONDS"
            );
        }
        let e =
            HttpConfig::from_source(&src(&[base[0], base[1], ("ALLOWED_ORIGINS", "*")]), true).unwrap_err();
        assert_eq!(e.var, "ALLOWED_ORIGINS");
        for value in ["0", "101"] {
            let e = ConnectPolicy::from_source(&src(&[("MAX_SOCKETS_PER_USER", value)])).unwrap_err();
            assert_eq!(e.var, "MAX_SOCKETS_PER_USER");
        }
    }
}
