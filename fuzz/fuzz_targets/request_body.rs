//! JSON request bodies: the fuzzed body (and Content-Type) goes
//! 1. through `shared::http::json_body` into each endpoint's own body struct (`login::RegisterBody`, …), then
//!    through the domain parsers the handler applies (`Email`, `Password`, `DisplayName`,
//!    `Content`, `parse_subject`, `parse_description`, `Priority`), each checked for its
//!    normal form; and
//! 2. into the real handler of that endpoint (`login`, `chat`, `escalation`) with a valid bearer
//!    token, whose response must be a well-formed problem (never a 500) with the same code
//!    `json_body` gave in step 1 when it refused the body.
#![no_main]

use chat::PostBody;
use escalation::EscalateBody;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Method};
use lambda_http::{Body, Request};
use libfuzzer_sys::fuzz_target;
use login::{ChangeBody, ForgotBody, LoginBody, PasswordBody, RegisterBody, ResetBody};
use serde::de::DeserializeOwned;
use shared::domain::{
    Content, DisplayName, Email, MAX_CONTENT_CHARS, MAX_DESCRIPTION_CHARS, MAX_SUBJECT_CHARS, Password,
    Priority, parse_description, parse_subject,
};
use shared::error::ApiError;
use shared::http::HttpFunction;
use shared::http::request::MAX_BODY_BYTES;
use support_fuzz::{Unstructured, check_response, fixture};

#[derive(Clone, Copy, Debug)]
enum Endpoint {
    Register,
    Login,
    Forgot,
    Reset,
    Change,
    DeleteAccount,
    ChatPost,
    Escalate,
}

const ENDPOINTS: [Endpoint; 8] = [
    Endpoint::Register,
    Endpoint::Login,
    Endpoint::Forgot,
    Endpoint::Reset,
    Endpoint::Change,
    Endpoint::DeleteAccount,
    Endpoint::ChatPost,
    Endpoint::Escalate,
];

impl Endpoint {
    fn route(self) -> (Method, &'static str) {
        match self {
            Self::Register => (Method::POST, "/api/auth/register"),
            Self::Login => (Method::POST, "/api/auth/login"),
            Self::Forgot => (Method::POST, "/api/auth/password/forgot"),
            Self::Reset => (Method::POST, "/api/auth/password/reset"),
            Self::Change => (Method::POST, "/api/auth/password/change"),
            Self::DeleteAccount => (Method::DELETE, "/api/auth/account"),
            Self::ChatPost => (Method::POST, "/api/chat/messages"),
            Self::Escalate => (Method::POST, "/api/escalations"),
        }
    }
}

const CONTENT_TYPES: [&str; 5] = [
    "application/json",
    "application/json; charset=utf-8",
    "application/problem+json",
    "text/plain",
    "application/json; charset=latin1",
];

fn check_email(raw: &str) -> bool {
    match Email::parse(raw) {
        Ok(email) => {
            // Trimmed, the local part lower-cased, the domain in its ASCII (IDNA) form.
            let (local, domain) = raw.trim().rsplit_once('@').expect("an accepted address has an @");
            let domain = idna::domain_to_ascii(domain).expect("an accepted domain converts");
            assert_eq!(email.as_str(), format!("{}@{domain}", local.to_lowercase()), "normalised");
            assert!(!local.contains('"'), "no quoted local part");
            assert!(email.as_str().len() <= 254);
            assert!(email.as_str().contains('@'));
            assert!(!email.as_str().chars().any(char::is_whitespace), "{:?}", email.as_str());
            assert_eq!(Email::parse(email.as_str()).as_ref(), Ok(&email), "normalisation is idempotent");
            true
        }
        Err(message) => {
            assert!(
                [
                    "is required",
                    "must be at most 254 characters",
                    "must be a valid email address",
                    "must not have a quoted part before the @",
                    "must not mix alphabets in the domain name",
                ]
                .contains(&message)
            );
            false
        }
    }
}

fn check_new_password(raw: String) -> bool {
    let chars = raw.chars().count();
    match Password::parse(raw.clone()) {
        Ok(p) => {
            assert!((10..=128).contains(&chars), "{chars} characters accepted");
            assert_eq!(p.expose(), raw, "a password is kept verbatim");
            assert_eq!(format!("{p:?}"), "Password(***)", "Debug never shows a password");
            true
        }
        Err(_) => {
            assert!(!(10..=128).contains(&chars), "{chars} characters refused");
            false
        }
    }
}

fn check_candidate(raw: String) -> bool {
    let chars = raw.chars().count();
    match Password::candidate(raw.clone()) {
        Ok(p) => {
            assert!((1..=128).contains(&chars));
            assert_eq!(p.expose(), raw);
            true
        }
        Err(_) => {
            assert!(!(1..=128).contains(&chars));
            false
        }
    }
}

/// As the register handler: absent or blank is no name; otherwise `DisplayName::parse`.
fn check_display_name(raw: Option<&str>) -> bool {
    let Some(name) = raw.map(str::trim).filter(|n| !n.is_empty()) else { return true };
    match DisplayName::parse(name) {
        Ok(parsed) => {
            assert_eq!(parsed.as_str(), name.trim());
            assert!((1..=100).contains(&parsed.as_str().chars().count()));
            assert!(!parsed.as_str().chars().any(char::is_control));
            assert_eq!(DisplayName::parse(parsed.as_str()).as_ref(), Ok(&parsed));
            true
        }
        Err(_) => false,
    }
}

fn check_content(raw: &str) -> bool {
    match Content::parse(raw) {
        Ok(content) => {
            assert_eq!(content.as_str(), raw.trim());
            assert!((1..=MAX_CONTENT_CHARS).contains(&content.as_str().chars().count()));
            true
        }
        Err(_) => {
            let n = raw.trim().chars().count();
            assert!(n == 0 || n > MAX_CONTENT_CHARS);
            false
        }
    }
}

fn check_subject(raw: &str) -> bool {
    match parse_subject(raw) {
        Ok(Some(subject)) => {
            assert!(!subject.chars().any(char::is_control), "{subject:?}");
            assert!(
                subject.split(' ').all(|w| !w.is_empty() && !w.contains(char::is_whitespace)),
                "a subject is single-spaced: {subject:?}"
            );
            assert!(subject.chars().count() <= MAX_SUBJECT_CHARS);
            assert_eq!(parse_subject(&subject), Ok(Some(subject.clone())), "idempotent");
            true
        }
        Ok(None) => {
            assert!(raw.chars().all(|c| c.is_whitespace() || c.is_control()), "{raw:?} is not blank");
            true
        }
        Err(_) => false,
    }
}

fn check_description(raw: &str) -> bool {
    match parse_description(raw) {
        Ok(d) => {
            assert_eq!(d, raw.trim());
            assert!(d.chars().count() <= MAX_DESCRIPTION_CHARS);
            true
        }
        Err(_) => false,
    }
}

fn check_priority(raw: &str) -> bool {
    match Priority::parse(raw) {
        Ok(p) => {
            assert_eq!(p.as_str(), raw);
            true
        }
        Err(_) => false,
    }
}

/// `json_body` into `T`; on refusal, checks the error is one `json_body` may give and well formed.
fn parse<T: DeserializeOwned>(req: &Request, bytes: &[u8]) -> Result<T, String> {
    match shared::http::json_body::<T>(req) {
        Ok(value) => {
            assert!(bytes.len() <= MAX_BODY_BYTES);
            assert_eq!(bytes.iter().find(|b| !b.is_ascii_whitespace()), Some(&b'{'), "only objects");
            Ok(value)
        }
        Err(e) => {
            let code = e.code();
            assert!(
                ["payload_too_large", "unsupported_media_type", "bad_request", "validation_failed"]
                    .contains(&code),
                "{e:?}"
            );
            assert_eq!(code == "payload_too_large", bytes.len() > MAX_BODY_BYTES);
            if let ApiError::Validation(errors) = &e {
                assert!(!errors.is_empty() && errors.iter().all(|f| !f.field.is_empty()), "{errors:?}");
            }
            assert_eq!(check_response(&e.into_response()), code);
            Err(code.to_owned())
        }
    }
}

/// Step 1: what the handler's parsing would conclude. `Err(code)` if `json_body` refused the body,
/// `Ok(true)` if every field is valid, `Ok(false)` if a field is refused (a 400 from the handler).
fn mirror(endpoint: Endpoint, req: &Request, bytes: &[u8]) -> Result<bool, String> {
    Ok(match endpoint {
        Endpoint::Register => {
            let b: RegisterBody = parse(req, bytes)?;
            let email = check_email(&b.email);
            let password = check_new_password(b.password);
            let name = check_display_name(b.display_name.as_deref());
            email && password && name
        }
        Endpoint::Login => {
            let b: LoginBody = parse(req, bytes)?;
            let email = check_email(&b.email);
            check_candidate(b.password) && email
        }
        Endpoint::Forgot => {
            let b: ForgotBody = parse(req, bytes)?;
            check_email(&b.email)
        }
        Endpoint::Reset => {
            let b: ResetBody = parse(req, bytes)?;
            check_new_password(b.new_password)
        }
        Endpoint::Change => {
            let b: ChangeBody = parse(req, bytes)?;
            let current = check_candidate(b.current_password);
            check_new_password(b.new_password) && current
        }
        Endpoint::DeleteAccount => {
            let b: PasswordBody = parse(req, bytes)?;
            check_candidate(b.password)
        }
        Endpoint::ChatPost => {
            let b: PostBody = parse(req, bytes)?;
            check_content(&b.content)
        }
        Endpoint::Escalate => {
            let b: EscalateBody = parse(req, bytes)?;
            let conversation = !b.conversation_id.trim().is_empty();
            let subject = b.subject.as_deref().is_none_or(check_subject);
            let description = b.description.as_deref().is_none_or(check_description);
            let priority = b.priority.as_deref().is_none_or(check_priority);
            conversation && subject && description && priority
        }
    })
}

fn request(endpoint: Endpoint, content_type: Option<&[u8]>, body: &[u8], text: bool) -> Request {
    let (method, path) = endpoint.route();
    let body = match std::str::from_utf8(body) {
        Ok(s) if text => Body::Text(s.to_owned()),
        _ => Body::Binary(body.to_vec()),
    };
    let mut req = http::Request::builder().method(method).uri(path).body(body).expect("request");
    let headers = req.headers_mut();
    if let Some(value) = content_type.and_then(|ct| HeaderValue::from_bytes(ct).ok()) {
        headers.insert(CONTENT_TYPE, value);
    }
    let bearer = format!("Bearer {}", fixture().access_token);
    headers.insert(AUTHORIZATION, HeaderValue::from_str(&bearer).expect("bearer header"));
    req
}

fuzz_target!(|data: &[u8]| {
    let fx = fixture();
    let mut u = Unstructured::new(data);
    let Ok(endpoint) = u.choose(&ENDPOINTS).copied() else { return };
    let Ok(ct_choice) = u.int_in_range(0..=6u8) else { return };
    let custom: &[u8] = if ct_choice == 6 { u.arbitrary().unwrap_or_default() } else { &[] };
    let text = u.arbitrary::<bool>().unwrap_or(true);
    let body = u.take_rest();
    let content_type: Option<&[u8]> = match ct_choice {
        5 => None,
        6 => Some(custom),
        n => Some(CONTENT_TYPES[usize::from(n)].as_bytes()),
    };

    let req = request(endpoint, content_type, body, text);
    let predicted = mirror(endpoint, &req, body);
    if matches!((endpoint, &predicted), (Endpoint::Register, Ok(true))) {
        // A valid registration hashes a password first: too slow to fuzz through the handler.
        return;
    }

    fx.stub.take_calls();
    let response = fx.block_on(async {
        match endpoint {
            Endpoint::ChatPost => fx.chat.handle(req).await,
            Endpoint::Escalate => fx.escalation.handle(req).await,
            _ => fx.login.handle(req).await,
        }
    });
    let code = check_response(&response);
    match predicted {
        Err(expected) => assert_eq!(code, expected, "the handler parsed the body differently"),
        Ok(false) => assert_eq!(code, "validation_failed"),
        Ok(true) => assert!(
            ["", "unavailable", "not_found", "invalid_reset_token"].contains(&code.as_str()),
            "valid input answered {code}"
        ),
    }
});
