//! The `Authorization` header: zero to two fuzzed values — raw bytes, or the fixture's valid
//! access token (or a forged or expired one) wrapped in fuzzed scheme, separator and padding — go
//! to `Authenticator::authenticate` (bearer extraction, token verification, session lookup) and
//! through `GET /api/auth/me` of the real `login` handler. Checked: a principal comes only from
//! exactly one `Bearer <valid token>` header; the store is only ever asked about the session a
//! verified token names; `MissingToken` only when no bearer credential was presented; the 401
//! carries the matching `WWW-Authenticate` challenge.
#![no_main]

use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Method};
use lambda_http::Body;
use libfuzzer_sys::fuzz_target;
use shared::auth::AuthError;
use shared::http::HttpFunction;
use support_fuzz::{Call, Unstructured, arbitrary, check_response, fixture};

fn value(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<u8>> {
    let fx = fixture();
    if u.ratio(1, 3)? {
        return Ok(u.arbitrary::<&[u8]>()?.to_vec());
    }
    let scheme = *u.choose(&["Bearer", "bearer", "BEARER", "Basic", "Bearer:", ""])?;
    let sep = *u.choose(&[" ", "  ", "\t", "", " \t"])?;
    let token = match u.int_in_range(0..=3u8)? {
        0 | 1 => fx.access_token.clone(),
        n => fx.bad_tokens[usize::from(n - 2)].clone(),
    };
    // Fuzzed bytes spliced into the token at a fuzzed place (often nowhere).
    let at = u.int_in_range(0..=token.len())?;
    let insert: &[u8] = if u.ratio(1, 2)? { u.arbitrary()? } else { &[] };
    let pad = *u.choose(&["", " ", "  ", "\t", "\r"])?;
    let mut out = Vec::new();
    out.extend_from_slice(scheme.as_bytes());
    out.extend_from_slice(sep.as_bytes());
    out.extend_from_slice(&token.as_bytes()[..at]);
    out.extend_from_slice(insert);
    out.extend_from_slice(&token.as_bytes()[at..]);
    out.extend_from_slice(pad.as_bytes());
    Ok(out)
}

/// Whether this header value presents the fixture's valid token as a bearer credential.
fn is_valid_bearer(value: &HeaderValue) -> bool {
    let Ok(text) = value.to_str() else { return false };
    let Some((scheme, token)) = text.split_once(' ') else { return false };
    scheme.eq_ignore_ascii_case("bearer") && token.trim_matches(' ') == fixture().access_token
}

fuzz_target!(|data: &[u8]| {
    let fx = fixture();
    let mut u = Unstructured::new(data);
    let Ok(count) = u.int_in_range(0..=2u8) else { return };
    let mut headers = HeaderMap::new();
    for _ in 0..count {
        let Ok(raw) = value(&mut u) else { return };
        // The HTTP layer refuses what is not a header value (CR, LF, NUL, ...).
        let Ok(v) = HeaderValue::from_bytes(&raw) else { return };
        headers.append(AUTHORIZATION, v);
    }
    let values: Vec<&HeaderValue> = headers.get_all(AUTHORIZATION).iter().collect();

    fx.stub.take_calls();
    let result = fx.block_on(fx.auth.authenticate(&headers));
    let calls = fx.stub.take_calls();
    for call in &calls {
        assert_eq!(
            call,
            &Call::SessionGet(fx.session.id.as_str().to_owned()),
            "unverified token reached the store"
        );
    }
    let accepted = values.len() == 1 && is_valid_bearer(values[0]);
    match &result {
        Ok(principal) => {
            assert!(accepted, "accepted {values:?}");
            assert_eq!(principal.session_id(), &fx.session.id);
            assert_eq!(principal.user(), &fx.session.user);
            assert_eq!(calls.len(), 1);
        }
        Err(AuthError::MissingToken) => {
            let bearer_scheme = |v: &&HeaderValue| {
                v.to_str()
                    .is_ok_and(|t| t.split_once(' ').unwrap_or((t, "")).0.eq_ignore_ascii_case("bearer"))
            };
            assert!(
                values.is_empty() || (values.len() == 1 && !bearer_scheme(&values[0])),
                "MissingToken for {values:?}"
            );
            assert!(calls.is_empty());
        }
        Err(AuthError::InvalidToken) => {
            assert!(!accepted, "valid bearer refused: {values:?}");
            assert!(calls.is_empty());
        }
        Err(e) => panic!("unexpected {e:?} for {values:?}"),
    }

    // The same headers through a handler.
    let mut req =
        http::Request::builder().method(Method::GET).uri("/api/auth/me").body(Body::Empty).expect("req");
    *req.headers_mut() = headers.clone();
    let response = fx.block_on(fx.login.handle(req));
    let code = check_response(&response);
    let challenge = response.headers().get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok());
    match result {
        Ok(_) => assert_eq!(code, ""),
        Err(AuthError::MissingToken) => {
            assert_eq!(code, "unauthenticated");
            assert_eq!(challenge, Some(r#"Bearer realm="api""#));
        }
        Err(_) => {
            assert_eq!(code, "unauthenticated");
            assert_eq!(challenge, Some(r#"Bearer realm="api", error="invalid_token""#));
        }
    }
});
