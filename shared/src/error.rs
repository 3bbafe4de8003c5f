//! The one HTTP-facing error type, rendered as `application/problem+json` (RFC 9457).
//!
//! Every other layer's error converts into [`ApiError`]; this is the only place that decides
//! status codes, problem codes, challenges and `Retry-After`.

use http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::auth::AuthError;
use crate::domain::LifecycleError;
use crate::ports::StoreError;

/// Seconds a client is told to wait after a dependency failure.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 2;

/// One invalid input field, reported in `errors` of a `validation_failed` problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// JSON path of the field (`email`, `password`, ...).
    pub field: String,
    /// What is wrong with it, for humans.
    pub message: String,
}

impl FieldError {
    /// A field error.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// Which `WWW-Authenticate` challenge a 401 carries (RFC 6750 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    /// No credential was presented: a bare `Bearer` challenge.
    Bare,
    /// A bearer token was presented and refused: `error="invalid_token"`.
    InvalidToken,
}

/// Every way a request can fail, each with a stable problem `code`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed request (bad JSON, unparseable header).
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// Well-formed JSON whose fields are invalid.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// A protected route without a valid token and live session.
    #[error("unauthenticated")]
    Unauthenticated(Challenge),
    /// Wrong email or password (deliberately indistinguishable).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The session cookie is missing, unknown, expired or revoked.
    #[error("session invalid")]
    SessionInvalid,
    /// A cookie-authenticated call from an origin outside the allowlist.
    #[error("origin not allowed")]
    OriginNotAllowed,
    /// Unknown route or a resource the caller may not see.
    #[error("not found")]
    NotFound,
    /// Known route, wrong method.
    #[error("method not allowed")]
    MethodNotAllowed(String),
    /// Registration with an email that already has an account.
    #[error("email taken")]
    EmailTaken,
    /// A password-reset token that is unknown, used or expired.
    #[error("invalid reset token")]
    InvalidResetToken,
    /// An address-verification token that is unknown, used, replaced or expired.
    #[error("invalid verification token")]
    InvalidVerificationToken,
    /// Asked to resend a verification mail for an address that is verified.
    #[error("email already verified")]
    AlreadyVerified,
    /// An action that mails the user, before their address is verified.
    #[error("email unverified")]
    EmailUnverified,
    /// A ticket change its lifecycle does not allow (409).
    #[error("ticket state")]
    TicketState(crate::domain::LifecycleError),
    /// A `$connect` beyond the user's live connections.
    #[error("too many connections")]
    TooManyConnections,
    /// Body over the limit.
    #[error("payload too large")]
    PayloadTooLarge,
    /// Body that is not JSON.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// Login throttled for this account.
    #[error("too many attempts")]
    TooManyAttempts {
        /// Seconds until the window ends.
        retry_after: u64,
    },
    /// A per-user rate limit was hit.
    #[error("rate limited")]
    RateLimited {
        /// Seconds until the window ends.
        retry_after: u64,
    },
    /// A dependency (the store) failed; safe to retry.
    #[error("unavailable")]
    Unavailable,
    /// Too much expensive work is queued (password hashing); retry in a second.
    #[error("busy")]
    Busy,
    /// A request line longer than the gateway accepts.
    #[error("uri too long")]
    UriTooLong,
    /// The client did not send its request in time.
    #[error("request timeout")]
    RequestTimeout,
    /// A bug; details go to the log, never to the client.
    #[error("internal error")]
    Internal,
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [FieldError]>,
}

impl ApiError {
    /// HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_)
            | Self::Validation(_)
            | Self::InvalidResetToken
            | Self::InvalidVerificationToken => StatusCode::BAD_REQUEST,
            Self::Unauthenticated(_) | Self::InvalidCredentials | Self::SessionInvalid => {
                StatusCode::UNAUTHORIZED
            }
            Self::OriginNotAllowed | Self::EmailUnverified => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::EmailTaken | Self::AlreadyVerified | Self::TicketState(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyAttempts { .. } | Self::RateLimited { .. } | Self::TooManyConnections => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::Unavailable | Self::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Self::UriTooLong => StatusCode::URI_TOO_LONG,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Stable machine-readable problem code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Validation(_) => "validation_failed",
            Self::Unauthenticated(_) => "unauthenticated",
            Self::InvalidCredentials => "invalid_credentials",
            Self::SessionInvalid => "session_invalid",
            Self::OriginNotAllowed => "origin_not_allowed",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::EmailTaken => "email_taken",
            Self::InvalidResetToken => "invalid_reset_token",
            Self::InvalidVerificationToken => "invalid_verification_token",
            Self::AlreadyVerified => "already_verified",
            Self::EmailUnverified => "email_unverified",
            Self::TicketState(LifecycleError::Closed) => "ticket_closed",
            Self::TicketState(LifecycleError::NotResolved) => "ticket_not_resolved",
            Self::TicketState(LifecycleError::AlreadyRated) => "already_rated",
            Self::TooManyConnections => "too_many_connections",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::TooManyAttempts { .. } => "too_many_attempts",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::Busy => "busy",
            Self::UriTooLong => "uri_too_long",
            Self::RequestTimeout => "request_timeout",
            Self::Internal => "internal",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "Bad request",
            Self::Validation(_) => "Validation failed",
            Self::Unauthenticated(_) => "Authentication required",
            Self::InvalidCredentials => "Invalid credentials",
            Self::SessionInvalid => "Session invalid",
            Self::OriginNotAllowed => "Origin not allowed",
            Self::NotFound => "Not found",
            Self::MethodNotAllowed(_) => "Method not allowed",
            Self::EmailTaken => "Email taken",
            Self::InvalidResetToken => "Invalid reset token",
            Self::InvalidVerificationToken => "Invalid verification token",
            Self::AlreadyVerified => "Email already verified",
            Self::EmailUnverified => "Email not verified",
            Self::TicketState(LifecycleError::Closed) => "Ticket closed",
            Self::TicketState(LifecycleError::NotResolved) => "Ticket not resolved",
            Self::TicketState(LifecycleError::AlreadyRated) => "Already rated",
            Self::TooManyConnections => "Too many connections",
            Self::PayloadTooLarge => "Payload too large",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::TooManyAttempts { .. } => "Too many attempts",
            Self::RateLimited { .. } => "Rate limited",
            Self::Unavailable => "Service unavailable",
            Self::Busy => "Busy",
            Self::UriTooLong => "URI too long",
            Self::RequestTimeout => "Request timeout",
            Self::Internal => "Internal error",
        }
    }

    fn detail(&self) -> &'static str {
        match self {
            Self::BadRequest(why) => why,
            Self::Validation(_) => "One or more fields are invalid.",
            Self::Unauthenticated(Challenge::Bare) => "This request needs a bearer access token.",
            Self::Unauthenticated(Challenge::InvalidToken) => {
                "The access token is invalid, expired or revoked."
            }
            Self::InvalidCredentials => "The email or password is incorrect.",
            Self::SessionInvalid => "The session is missing, expired or revoked; sign in again.",
            Self::OriginNotAllowed => "Requests from this origin are not allowed.",
            Self::NotFound => "The requested resource does not exist.",
            Self::MethodNotAllowed(_) => "This method is not allowed on this resource.",
            Self::EmailTaken => "An account with this email already exists.",
            Self::InvalidResetToken => {
                "The reset link is invalid, already used or expired; ask for a new one."
            }
            Self::InvalidVerificationToken => {
                "The confirmation link is invalid, already used, replaced by a newer one or expired; \
                 ask for a new one."
            }
            Self::AlreadyVerified => "This email address is already confirmed.",
            Self::TicketState(LifecycleError::Closed) => {
                "This ticket is closed. Write in a new conversation, or open a new ticket from it."
            }
            Self::TicketState(LifecycleError::NotResolved) => {
                "A ticket can be rated once it is resolved. Mark it resolved first."
            }
            Self::TicketState(LifecycleError::AlreadyRated) => {
                "This ticket has been rated already; a rating is given once."
            }
            Self::EmailUnverified => {
                "Confirm your email address first: open the link we mailed you, or ask for a new one."
            }
            Self::TooManyConnections => {
                "This account has the most live connections it may hold; close one and try again."
            }
            Self::PayloadTooLarge => "The request body is larger than 64 KiB.",
            Self::UnsupportedMediaType => "The request body must be application/json (UTF-8).",
            Self::TooManyAttempts { .. } => {
                "Too many failed sign-in attempts for this account; try again later."
            }
            Self::RateLimited { .. } => "Too many requests; try again later.",
            Self::Unavailable => "A dependency is unavailable; retry shortly.",
            Self::Busy => "The service is busy; retry in a second.",
            Self::UriTooLong => "The request path is longer than 2 KiB.",
            Self::RequestTimeout => "The request was not received in time.",
            Self::Internal => "An unexpected error occurred.",
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            Self::TooManyAttempts { retry_after } | Self::RateLimited { retry_after } => {
                Some((*retry_after).max(1))
            }
            Self::Unavailable => Some(UNAVAILABLE_RETRY_AFTER_SECS),
            Self::Busy => Some(1),
            _ => None,
        }
    }

    /// The problem+json body (without per-request headers), byte-identical for equal errors.
    pub fn body(&self) -> String {
        let code = self.code();
        let errors = match self {
            Self::Validation(errors) => Some(errors.as_slice()),
            _ => None,
        };
        let problem = Problem {
            kind: format!("/problems/{code}"),
            title: self.title(),
            status: self.status().as_u16(),
            detail: self.detail(),
            code,
            errors,
        };
        serde_json::to_string(&problem).unwrap_or_else(|_| String::from("{}"))
    }

    /// The full response: status, problem+json body, challenge and `Retry-After` headers.
    pub fn into_response(self) -> Response<Body> {
        let mut response = Response::new(Body::Text(self.body()));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        match &self {
            Self::Unauthenticated(Challenge::InvalidToken) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Bearer realm="api", error="invalid_token""#),
                );
            }
            Self::Unauthenticated(Challenge::Bare) | Self::InvalidCredentials | Self::SessionInvalid => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Bearer realm="api""#));
            }
            Self::MethodNotAllowed(allow) => {
                if let Ok(allow) = HeaderValue::from_str(allow) {
                    headers.insert(header::ALLOW, allow);
                }
            }
            _ => {}
        }
        if let Some(secs) = self.retry_after() {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        // For the log line, also when a handler returns the problem as its response (e.g. a 401
        // that must clear the session cookie).
        response.extensions_mut().insert(ProblemCode(self.code()));
        response
    }
}

/// The stable `code` of a problem response, carried in its extensions for the request log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProblemCode(pub &'static str);

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(why) => {
                tracing::warn!(error = %why, "store unavailable");
                Self::Unavailable
            }
            StoreError::Conflict | StoreError::Corrupt(_) => {
                tracing::error!(error = %e, "unexpected store state");
                Self::Internal
            }
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::MissingToken => Self::Unauthenticated(Challenge::Bare),
            AuthError::InvalidToken | AuthError::SessionNotLive => {
                Self::Unauthenticated(Challenge::InvalidToken)
            }
            AuthError::Store(e) => e.into(),
        }
    }
}

impl From<crate::services::MintError> for ApiError {
    fn from(e: crate::services::MintError) -> Self {
        match e {
            crate::services::MintError::RateLimited { retry_after } => Self::RateLimited { retry_after },
            crate::services::MintError::Store(e) => e.into(),
        }
    }
}

impl From<crate::services::ChatError> for ApiError {
    fn from(e: crate::services::ChatError) -> Self {
        use crate::services::ChatError as C;
        match e {
            C::NotFound => Self::NotFound,
            C::Busy => Self::Unavailable,
            C::Assistant(why) => {
                tracing::warn!(error = %why, "assistant unavailable");
                Self::Unavailable
            }
            C::Store(e) => e.into(),
            C::Internal(why) => {
                tracing::error!(error = %why, "chat failed internally");
                Self::Internal
            }
        }
    }
}

impl From<crate::services::EscalationError> for ApiError {
    fn from(e: crate::services::EscalationError) -> Self {
        use crate::services::EscalationError as E;
        match e {
            E::NotFound => Self::NotFound,
            E::Busy => Self::Unavailable,
            E::EmailUnverified => Self::EmailUnverified,
            E::Lifecycle(e) => Self::TicketState(e),
            E::Store(e) => e.into(),
            E::Internal(why) => {
                tracing::error!(error = %why, "escalation failed internally");
                Self::Internal
            }
        }
    }
}

impl From<crate::services::AccountError> for ApiError {
    fn from(e: crate::services::AccountError) -> Self {
        use crate::services::AccountError as A;
        match e {
            A::EmailTaken => Self::EmailTaken,
            A::InvalidCredentials => Self::InvalidCredentials,
            A::TooManyAttempts { retry_after } => Self::TooManyAttempts { retry_after },
            A::SessionInvalid => Self::SessionInvalid,
            A::InvalidResetToken => Self::InvalidResetToken,
            A::InvalidVerificationToken => Self::InvalidVerificationToken,
            A::AlreadyVerified => Self::AlreadyVerified,
            A::Busy => Self::Busy,
            A::WrongPassword(field) => {
                Self::Validation(vec![FieldError::new(field, "is not the account's current password")])
            }
            A::RateLimited { retry_after } => Self::RateLimited { retry_after },
            A::NotFound => Self::NotFound,
            A::MailUnavailable => Self::Unavailable,
            A::Store(e) => e.into(),
            A::Internal(why) => {
                tracing::error!(error = %why, "account operation failed internally");
                Self::Internal
            }
        }
    }
}
