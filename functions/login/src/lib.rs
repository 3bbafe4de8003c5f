//! The `login` function: `POST /api/auth/{register,login,refresh,logout}` and `GET /api/auth/me`.
//! Handlers parse, authenticate, call the account use cases and shape the response.

use std::sync::Arc;

use http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use shared::Clock;
use shared::auth::{AccountError, Accounts, Authenticator, LoginThrottle, PasswordHasher, SignedIn};
use shared::clock::rfc3339;
use shared::config::{HttpConfig, LoginConfig};
use shared::domain::ws::Notifier;
use shared::domain::{DisplayName, Email, Password};
use shared::error::{ApiError, Challenge};
use shared::http::{HttpFunction, Validator, json, json_body, no_content, serve};
use shared::ports::{Push, Stores};

/// Path prefix this function serves (the local gateway routes it here).
pub const PREFIX: &str = "/api/auth/";

/// Every route this function serves (`template.yaml` must route each one here).
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/auth/register"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/refresh"),
    ("POST", "/api/auth/logout"),
    ("GET", "/api/auth/me"),
];

/// The `login` function's handler.
#[derive(Clone)]
pub struct Login {
    accounts: Accounts,
    auth: Authenticator,
    notifier: Notifier,
    http: HttpConfig,
}

#[derive(Deserialize)]
struct RegisterBody {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    display_name: Option<String>,
}

#[derive(Deserialize)]
struct LoginBody {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

#[derive(Serialize)]
struct TokenView<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: i64,
}

#[derive(Serialize)]
struct SignedInView<'a> {
    user: shared::domain::UserView<'a>,
    #[serde(flatten)]
    token: TokenView<'a>,
}

#[derive(Serialize)]
struct SessionView {
    expires_at: String,
}

#[derive(Serialize)]
struct MeView<'a> {
    user: shared::domain::UserView<'a>,
    session: SessionView,
}

#[async_trait::async_trait]
impl HttpFunction for Login {
    async fn handle(&self, req: Request) -> Response<Body> {
        serve(req, &self.http.cors, |req| self.route(req)).await
    }
}

impl Login {
    /// Wires the handler: the signer and policies, the HTTP settings, the stores, the push
    /// transport (logout closes the session's sockets) and the clock.
    pub fn new(
        config: LoginConfig,
        http: HttpConfig,
        stores: &Stores,
        push: Arc<dyn Push>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let throttle = LoginThrottle::new(stores.rate_limits.clone(), config.throttle);
        let accounts = Accounts::new(
            stores.users.clone(),
            stores.sessions.clone(),
            throttle,
            PasswordHasher::new(),
            config.issuer,
            config.sessions,
            clock.clone(),
        );
        let auth = Authenticator::new(http.verifier.clone(), stores, clock.clone());
        let notifier = Notifier::new(stores.connections.clone(), push, clock);
        Self { accounts, auth, notifier, http }
    }

    /// The account use cases (tests observe the password verification count through it).
    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    async fn route(&self, req: Request) -> Result<Response<Body>, ApiError> {
        let post = req.method() == Method::POST;
        let get = req.method() == Method::GET;
        match req.uri().path() {
            "/api/auth/register" if post => self.register(&req).await,
            "/api/auth/login" if post => self.login(&req).await,
            "/api/auth/refresh" if post => self.refresh(&req).await,
            "/api/auth/logout" if post => self.logout(&req).await,
            "/api/auth/me" if get => self.me(&req).await,
            "/api/auth/register" | "/api/auth/login" | "/api/auth/refresh" | "/api/auth/logout" => {
                Err(ApiError::MethodNotAllowed("POST, OPTIONS"))
            }
            "/api/auth/me" => Err(ApiError::MethodNotAllowed("GET, OPTIONS")),
            _ => Err(ApiError::NotFound),
        }
    }

    async fn register(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let body: RegisterBody = json_body(req)?;
        let mut v = Validator::default();
        let email = v.check("email", Email::parse(&body.email));
        let password = v.check("password", Password::parse(body.password));
        let display_name = match body.display_name.as_deref().map(str::trim) {
            None | Some("") => Some(None),
            Some(name) => v.check("display_name", DisplayName::parse(name)).map(Some),
        };
        let (Some(email), Some(password), Some(display_name)) = (email, password, display_name) else {
            return Err(v.into_error());
        };
        let signed_in = self.accounts.register(email, password, display_name).await?;
        self.signed_in(StatusCode::CREATED, &signed_in)
    }

    async fn login(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let body: LoginBody = json_body(req)?;
        let mut v = Validator::default();
        let email = v.check("email", Email::parse(&body.email));
        let password = v.check("password", Password::candidate(body.password));
        let (Some(email), Some(password)) = (email, password) else {
            return Err(v.into_error());
        };
        let signed_in = self.accounts.login(email, password).await?;
        self.signed_in(StatusCode::OK, &signed_in)
    }

    fn signed_in(&self, status: StatusCode, s: &SignedIn) -> Result<Response<Body>, ApiError> {
        let view = SignedInView {
            user: s.user.view(),
            token: TokenView {
                access_token: &s.access.token,
                token_type: "Bearer",
                expires_in: s.access.expires_in,
            },
        };
        let mut response = json(status, &view)?;
        let max_age = self.accounts.policy().absolute.num_seconds();
        set_cookie(&mut response, &self.http.cookie.set(s.session_token.expose(), max_age));
        Ok(response)
    }

    async fn refresh(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        self.http.cors.check_origin(req.headers())?;
        let cookie = self.http.cookie.read(req.headers());
        match self.accounts.refresh(cookie.as_deref()).await {
            Ok(access) => json(
                StatusCode::OK,
                &TokenView {
                    access_token: &access.token,
                    token_type: "Bearer",
                    expires_in: access.expires_in,
                },
            ),
            Err(AccountError::SessionInvalid) => {
                Ok(self.clearing_cookie(ApiError::SessionInvalid.into_response()))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn logout(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let session = if req.headers().contains_key(header::AUTHORIZATION) {
            let principal = self.auth.authenticate(req.headers()).await?;
            self.accounts.logout(principal.session_id()).await?;
            principal.session_id().clone()
        } else {
            self.http.cors.check_origin(req.headers())?;
            let cookie = self.http.cookie.read(req.headers());
            match self.accounts.logout_cookie(cookie.as_deref()).await {
                Ok(session) => session,
                Err(AccountError::SessionInvalid) => {
                    return Ok(
                        self.clearing_cookie(ApiError::Unauthenticated(Challenge::Bare).into_response())
                    );
                }
                Err(e) => return Err(e.into()),
            }
        };
        // The session is already revoked; closing its sockets is best effort.
        let delivery = self.notifier.revoke_session(&session).await;
        tracing::info!(
            closed = delivery.sent,
            gone = delivery.gone,
            failed = delivery.failed,
            "session sockets closed"
        );
        Ok(self.clearing_cookie(no_content()))
    }

    async fn me(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let principal = self.auth.authenticate(req.headers()).await?;
        json(
            StatusCode::OK,
            &MeView {
                user: principal.user().view(),
                session: SessionView { expires_at: rfc3339(principal.session_expires_at()) },
            },
        )
    }

    fn clearing_cookie(&self, mut response: Response<Body>) -> Response<Body> {
        set_cookie(&mut response, &self.http.cookie.clear());
        response
    }
}

fn set_cookie(response: &mut Response<Body>, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}
