//! The `login` function: sign-up, sign-in, refresh, sign-out and `me`; address verification;
//! password reset and change; the sessions list; account deletion. Handlers parse,
//! authenticate, call the account use cases and shape the response. Its routes are
//! [`Login::ROUTES`].

use std::sync::Arc;

use http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use shared::Clock;
use shared::auth::Authenticator;
use shared::clock::rfc3339;
use shared::config::{HttpConfig, LoginConfig};
use shared::domain::{DisplayName, Email, Password};
use shared::env::ConfigError;
use shared::error::{ApiError, Challenge};
use shared::http::{Answer, Cors, Route, Routed, Validator, json, json_body, no_content, user_agent};
use shared::ports::{MailTransport, Push, Stores};
use shared::runtime::Wiring;
use shared::services::{AccountError, Accounts, Notifier, SignedIn};

/// The `forgot` answer, identical whether or not the account exists.
const FORGOT_ACCEPTED: &str = r#"{"status":"accepted","detail":"If an account exists for this address, a reset link is on its way. It works once, for a limited time."}"#;

/// The `login` function's handler.
#[derive(Clone)]
pub struct Login {
    accounts: Accounts,
    auth: Authenticator,
    http: HttpConfig,
}

/// `POST /api/auth/register` body (public for the fuzz targets, which parse what the handler parses).
#[derive(Deserialize)]
pub struct RegisterBody {
    /// As typed; trimmed and lower-cased by `Email::parse`.
    #[serde(default)]
    pub email: String,
    /// As typed.
    #[serde(default)]
    pub password: String,
    /// Optional name shown to support.
    #[serde(default)]
    pub display_name: Option<String>,
}

/// `POST /api/auth/login` body.
#[derive(Deserialize)]
pub struct LoginBody {
    /// As typed; trimmed and lower-cased by `Email::parse`.
    #[serde(default)]
    pub email: String,
    /// As typed.
    #[serde(default)]
    pub password: String,
}

/// `POST /api/auth/password/forgot` body.
#[derive(Deserialize)]
pub struct ForgotBody {
    /// As typed; trimmed and lower-cased by `Email::parse`.
    #[serde(default)]
    pub email: String,
}

/// `POST /api/auth/email/verify` body.
#[derive(Deserialize)]
pub struct VerifyBody {
    /// The verification token from the mailed link.
    #[serde(default)]
    pub token: String,
}

/// `POST /api/auth/password/reset` body.
#[derive(Deserialize)]
pub struct ResetBody {
    /// The reset token from the mailed link.
    #[serde(default)]
    pub token: String,
    /// The new password.
    #[serde(default)]
    pub new_password: String,
}

/// `POST /api/auth/password/change` body.
#[derive(Deserialize)]
pub struct ChangeBody {
    /// The password now in use.
    #[serde(default)]
    pub current_password: String,
    /// The new password.
    #[serde(default)]
    pub new_password: String,
}

/// `DELETE /api/auth/account` body.
#[derive(Deserialize)]
pub struct PasswordBody {
    /// As typed.
    #[serde(default)]
    pub password: String,
}

#[derive(Serialize)]
struct SessionItem {
    id: String,
    created_at: String,
    last_seen_at: String,
    user_agent: Option<String>,
    current: bool,
}

#[derive(Serialize)]
struct SessionsView {
    sessions: Vec<SessionItem>,
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
struct MeSession {
    expires_at: String,
}

#[derive(Serialize)]
struct MeView<'a> {
    user: shared::domain::UserView<'a>,
    session: MeSession,
}

impl Routed for Login {
    const API_PATHS: &'static [&'static str] = &["/api/auth/{proxy+}"];
    const ROUTES: &'static [Route<Self>] = &[
        Route::new(Method::POST, "/api/auth/register", |f, req, _| Box::pin(f.register(req))),
        Route::new(Method::POST, "/api/auth/login", |f, req, _| Box::pin(f.login(req))),
        Route::new(Method::POST, "/api/auth/refresh", |f, req, _| Box::pin(f.refresh(req))),
        Route::new(Method::POST, "/api/auth/logout", |f, req, _| Box::pin(f.logout(req))),
        Route::new(Method::GET, "/api/auth/me", |f, req, _| Box::pin(f.me(req))),
        Route::new(Method::POST, "/api/auth/email/verify", |f, req, _| Box::pin(f.verify_email(req))),
        Route::new(Method::POST, "/api/auth/email/verification", |f, req, _| {
            Box::pin(f.resend_verification(req))
        }),
        Route::new(Method::POST, "/api/auth/password/forgot", |f, req, _| Box::pin(f.forgot(req))),
        Route::new(Method::POST, "/api/auth/password/reset", |f, req, _| Box::pin(f.reset(req))),
        Route::new(Method::POST, "/api/auth/password/change", |f, req, _| Box::pin(f.change(req))),
        Route::new(Method::GET, "/api/auth/sessions", |f, req, _| Box::pin(f.sessions(req))),
        Route::new(Method::DELETE, "/api/auth/sessions/{id}", |f, req, id| {
            Box::pin(f.revoke_session(req, id))
        }),
        Route::new(Method::DELETE, "/api/auth/account", |f, req, _| Box::pin(f.delete_account(req))),
    ];

    fn cors(&self) -> &Cors {
        &self.http.cors
    }
}

impl Login {
    /// Builds the function from the wiring: the signing key and account rules from the
    /// settings, the stores, push (ending a session closes its sockets), mail and the clock.
    pub fn build(w: &Wiring) -> Result<Self, ConfigError> {
        let config = LoginConfig::from_source(w.settings())?;
        let http = w.http(true)?;
        Ok(Self::new(config, http, w.stores(), w.push()?, w.mail()?, w.clock()))
    }

    /// Wires the handler: the signer and policies, the HTTP settings, the stores, the push
    /// transport (ending a session closes its sockets), the mail transport (reset mail) and
    /// the clock.
    pub fn new(
        config: LoginConfig,
        http: HttpConfig,
        stores: &Stores,
        push: Arc<dyn Push>,
        mail: Arc<dyn MailTransport>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let notifier = Notifier::new(stores, push, clock.clone());
        let accounts = Accounts::new(stores, http.keys.clone(), config.policy, mail, notifier, clock.clone());
        let auth = Authenticator::new(http.keys.clone(), stores, clock);
        Self { accounts, auth, http }
    }

    /// The account use cases (tests observe the password verification count through it).
    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    async fn register(&self, req: &Request) -> Answer {
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
        let signed_in = self
            .accounts
            .register(
                email,
                password,
                display_name,
                user_agent(req),
                self.http.front_door.source_ip(req).as_deref(),
                self.http.front_door.origin(req.headers()).as_deref(),
            )
            .await?;
        self.signed_in(StatusCode::CREATED, &signed_in)
    }

    async fn login(&self, req: &Request) -> Answer {
        let body: LoginBody = json_body(req)?;
        let mut v = Validator::default();
        let email = v.check("email", Email::parse(&body.email));
        let password = v.check("password", Password::candidate(body.password));
        let (Some(email), Some(password)) = (email, password) else {
            return Err(v.into_error());
        };
        let signed_in = self
            .accounts
            .login(email, password, user_agent(req), self.http.front_door.source_ip(req).as_deref())
            .await?;
        self.signed_in(StatusCode::OK, &signed_in)
    }

    fn signed_in(&self, status: StatusCode, s: &SignedIn) -> Answer {
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

    async fn refresh(&self, req: &Request) -> Answer {
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

    async fn logout(&self, req: &Request) -> Answer {
        if req.headers().contains_key(header::AUTHORIZATION) {
            let principal = self.auth.authenticate(req.headers()).await?;
            self.accounts.logout(principal.session_id()).await?;
        } else {
            self.http.cors.check_origin(req.headers())?;
            let cookie = self.http.cookie.read(req.headers());
            match self.accounts.logout_cookie(cookie.as_deref()).await {
                Ok(()) => {}
                Err(AccountError::SessionInvalid) => {
                    return Ok(
                        self.clearing_cookie(ApiError::Unauthenticated(Challenge::Bare).into_response())
                    );
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(self.clearing_cookie(no_content()))
    }

    async fn forgot(&self, req: &Request) -> Answer {
        let body: ForgotBody = json_body(req)?;
        let mut v = Validator::default();
        let Some(email) = v.check("email", Email::parse(&body.email)) else {
            return Err(v.into_error());
        };
        let door = &self.http.front_door;
        let (source, site) = (door.source_ip(req), door.origin(req.headers()));
        self.accounts.forgot_password(email, source.as_deref(), site.as_deref()).await?;
        let mut response = Response::new(Body::Text(FORGOT_ACCEPTED.to_owned()));
        *response.status_mut() = StatusCode::ACCEPTED;
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Ok(response)
    }

    async fn verify_email(&self, req: &Request) -> Answer {
        let body: VerifyBody = json_body(req)?;
        self.accounts.verify_email(&body.token).await?;
        Ok(no_content())
    }

    async fn resend_verification(&self, req: &Request) -> Answer {
        let principal = self.auth.authenticate(req.headers()).await?;
        let site = self.http.front_door.origin(req.headers());
        self.accounts.resend_verification(&principal, site.as_deref()).await?;
        Ok(no_content())
    }

    async fn reset(&self, req: &Request) -> Answer {
        let body: ResetBody = json_body(req)?;
        let mut v = Validator::default();
        let Some(password) = v.check("new_password", Password::parse(body.new_password)) else {
            return Err(v.into_error());
        };
        self.accounts.reset_password(&body.token, password).await?;
        Ok(no_content())
    }

    async fn change(&self, req: &Request) -> Answer {
        let principal = self.auth.authenticate(req.headers()).await?;
        let body: ChangeBody = json_body(req)?;
        let mut v = Validator::default();
        let current = v.check("current_password", Password::candidate(body.current_password));
        let new_password = v.check("new_password", Password::parse(body.new_password));
        let (Some(current), Some(new_password)) = (current, new_password) else {
            return Err(v.into_error());
        };
        self.accounts.change_password(&principal, current, new_password).await?;
        Ok(no_content())
    }

    async fn sessions(&self, req: &Request) -> Answer {
        let principal = self.auth.authenticate(req.headers()).await?;
        let sessions = self.accounts.sessions(&principal).await?;
        let sessions = sessions
            .into_iter()
            .map(|s| SessionItem {
                id: s.id,
                created_at: rfc3339(s.created_at),
                last_seen_at: rfc3339(s.last_seen_at),
                user_agent: s.user_agent,
                current: s.current,
            })
            .collect();
        json(StatusCode::OK, &SessionsView { sessions })
    }

    async fn revoke_session(&self, req: &Request, id: &str) -> Answer {
        let principal = self.auth.authenticate(req.headers()).await?;
        if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ApiError::NotFound);
        }
        self.accounts.revoke_session(&principal, id).await?;
        Ok(no_content())
    }

    async fn delete_account(&self, req: &Request) -> Answer {
        let principal = self.auth.authenticate(req.headers()).await?;
        let body: PasswordBody = json_body(req)?;
        let mut v = Validator::default();
        let Some(password) = v.check("password", Password::candidate(body.password)) else {
            return Err(v.into_error());
        };
        self.accounts.delete_account(&principal, password).await?;
        Ok(self.clearing_cookie(no_content()))
    }

    async fn me(&self, req: &Request) -> Answer {
        let principal = self.auth.authenticate(req.headers()).await?;
        let user = self.accounts.profile(&principal).await?;
        json(
            StatusCode::OK,
            &MeView {
                user: user.view(),
                session: MeSession { expires_at: rfc3339(principal.session_expires_at()) },
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
