//! Request parsing: body limit, content type, JSON with field-level errors, request ids.

use http::header;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldError};

/// Largest accepted body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The API Gateway request id, or a fresh one when there is none (direct invokes).
pub fn request_id(req: &Request) -> String {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
        _ => None,
    }
    .filter(|id| !id.is_empty() && id.len() <= 128)
    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// The caller's address as API Gateway saw it (not a header the client could set).
pub fn source_ip(req: &Request) -> Option<String> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
        _ => None,
    }
    .filter(|ip| !ip.is_empty() && ip.len() <= 64)
}

/// Longest user agent kept for the sessions list.
pub const MAX_USER_AGENT_CHARS: usize = 200;

/// The client's `User-Agent`, printable and cut to [`MAX_USER_AGENT_CHARS`]: it is shown back
/// to the user, so it is data, never markup or control characters.
pub fn user_agent(req: &Request) -> Option<String> {
    let raw = req.headers().get(header::USER_AGENT)?.to_str().ok()?;
    let clean: String = raw.chars().filter(|c| !c.is_control()).take(MAX_USER_AGENT_CHARS).collect();
    let clean = clean.trim();
    (!clean.is_empty()).then(|| clean.to_owned())
}

fn body_bytes(req: &Request) -> &[u8] {
    match req.body() {
        Body::Text(s) => s.as_bytes(),
        Body::Binary(b) => b,
        _ => &[],
    }
}

/// Checks that the request carries JSON: `application/json` (or `+json`), UTF-8 if a charset is
/// given. A missing or other type is 415; an unparseable header is 400.
fn check_json_content_type(req: &Request) -> Result<(), ApiError> {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return Err(ApiError::UnsupportedMediaType);
    };
    let value = value.to_str().map_err(|_| ApiError::BadRequest("The Content-Type header is malformed."))?;
    let mime: mime::Mime =
        value.parse().map_err(|_| ApiError::BadRequest("The Content-Type header is malformed."))?;
    let is_json = mime.type_() == mime::APPLICATION
        && (mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON));
    let utf8 = mime.get_param(mime::CHARSET).is_none_or(|c| c == mime::UTF_8);
    if is_json && utf8 { Ok(()) } else { Err(ApiError::UnsupportedMediaType) }
}

/// Parses a JSON object body into `T`. Too large → 413; not JSON → 415; malformed → 400
/// `bad_request`; well-formed but wrong types → 400 `validation_failed` naming the field.
pub fn json_body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    let bytes = body_bytes(req);
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    check_json_content_type(req)?;
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => return Err(ApiError::BadRequest("A JSON body is required.")),
        // serde would also read a struct from an array; the contract says object.
        Some(b'{') => {}
        Some(_) => return Err(ApiError::BadRequest("The body must be a JSON object.")),
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data if path != "." => {
                ApiError::Validation(vec![FieldError::new(path, type_message(&inner))])
            }
            serde_json::error::Category::Data => ApiError::BadRequest("The body must be a JSON object."),
            _ => ApiError::BadRequest("The body is not valid JSON."),
        }
    })?;
    de.end().map_err(|_| ApiError::BadRequest("The body is not valid JSON."))?;
    Ok(value)
}

// serde's message without its " at line X column Y" suffix, which would make equal errors differ.
fn type_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// Collects field errors while parsing a request into domain types.
#[derive(Debug, Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    /// Keeps the value, or records the message against `field`.
    pub fn check<T>(&mut self, field: &str, parsed: Result<T, &'static str>) -> Option<T> {
        parsed.map_err(|message| self.errors.push(FieldError::new(field, message))).ok()
    }

    /// The 400 `validation_failed` for everything recorded.
    pub fn into_error(self) -> ApiError {
        ApiError::Validation(self.errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Input {
        #[serde(default)]
        name: String,
    }

    fn req(content_type: Option<&str>, body: &str) -> Request {
        let mut b = http::Request::builder().method("POST").uri("/x");
        if let Some(ct) = content_type {
            b = b.header(header::CONTENT_TYPE, ct);
        }
        b.body(Body::Text(body.to_owned())).unwrap()
    }

    fn code(r: Result<Input, ApiError>) -> &'static str {
        r.unwrap_err().code()
    }

    #[test]
    fn accepts_json_variants() {
        for ct in [
            "application/json",
            "application/json; charset=utf-8",
            "application/problem+json",
            "Application/JSON; charset=UTF-8",
        ] {
            assert_eq!(json_body::<Input>(&req(Some(ct), r#"{"name":"a"}"#)).unwrap().name, "a", "{ct}");
        }
    }

    #[test]
    fn classifies_bad_bodies() {
        assert_eq!(code(json_body(&req(None, "{}"))), "unsupported_media_type");
        assert_eq!(code(json_body(&req(Some("text/plain"), "{}"))), "unsupported_media_type");
        assert_eq!(
            code(json_body(&req(Some("application/json; charset=latin1"), "{}"))),
            "unsupported_media_type"
        );
        assert_eq!(code(json_body(&req(Some("{{{"), "{}"))), "bad_request");
        assert_eq!(code(json_body(&req(Some("application/json"), ""))), "bad_request");
        assert_eq!(code(json_body(&req(Some("application/json"), "{"))), "bad_request");
        assert_eq!(code(json_body(&req(Some("application/json"), "{} x"))), "bad_request");
        assert_eq!(code(json_body(&req(Some("application/json"), "[1]"))), "bad_request");
        assert_eq!(code(json_body(&req(Some("application/json"), r#"["a"]"#))), "bad_request");
        assert_eq!(code(json_body(&req(Some("application/json"), "null"))), "bad_request");
        let big = format!(r#"{{"name":"{}"}}"#, "a".repeat(MAX_BODY_BYTES));
        assert_eq!(code(json_body(&req(Some("application/json"), &big))), "payload_too_large");
    }

    #[test]
    fn wrong_types_name_the_field() {
        let err = json_body::<Input>(&req(Some("application/json"), r#"{"name":12}"#)).unwrap_err();
        let ApiError::Validation(errors) = err else { panic!("{err:?}") };
        assert_eq!(errors[0].field, "name");
        assert!(!errors[0].message.contains("line"), "{}", errors[0].message);
    }
}
