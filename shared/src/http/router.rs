//! Routes as data. Each HTTP function declares its routes once, as a table of (method, path
//! template, handler); [`dispatch`] matches a request against it and answers 404 for a path no
//! route has and 405 with `Allow` for a method the path does not take. The local gateway,
//! `template.yaml`'s checks and `openapi.yaml`'s checks read the same tables.

use std::future::Future;
use std::pin::Pin;

use async_trait::async_trait;
use http::Method;
use lambda_http::{Body, Request, Response};

use super::{Cors, HttpFunction, serve};
use crate::error::ApiError;

/// What a handler returns.
pub type Answer = Result<Response<Body>, ApiError>;

/// A handler's future, borrowing the function and the request.
pub type Pending<'a> = Pin<Box<dyn Future<Output = Answer> + Send + 'a>>;

/// A route's handler: a method of the function `F`, given the request and the path's `{...}`
/// segment (empty when the template has none).
pub type Handler<F> = for<'a> fn(&'a F, &'a Request, &'a str) -> Pending<'a>;

/// One route: a method, a path template (`/api/auth/sessions/{id}`: a `{...}` segment matches
/// one non-empty segment) and the handler that serves it.
pub struct Route<F: 'static> {
    /// The HTTP method.
    pub method: Method,
    /// The path template.
    pub path: &'static str,
    /// The handler.
    pub handler: Handler<F>,
}

impl<F> Route<F> {
    /// A route (a `const fn`, so a function's table is a constant).
    pub const fn new(method: Method, path: &'static str, handler: Handler<F>) -> Self {
        Self { method, path, handler }
    }

    /// The `{...}` segment of `path` if this route's template matches it ("" when the template
    /// has none).
    fn capture<'p>(&self, path: &'p str) -> Option<&'p str> {
        let mut template = self.path.split('/');
        let mut segments = path.split('/');
        let mut captured = "";
        loop {
            match (template.next(), segments.next()) {
                (None, None) => return Some(captured),
                (Some(t), Some(s)) if t.starts_with('{') && t.ends_with('}') && !s.is_empty() => captured = s,
                (Some(t), Some(s)) if t == s => {}
                _ => return None,
            }
        }
    }
}

/// An HTTP function whose routes are a table. Implementing it makes the type an
/// [`HttpFunction`]: every request runs through [`serve`] and [`dispatch`].
pub trait Routed: Send + Sync + Sized + 'static {
    /// The API Gateway paths `template.yaml` sends to this function (`{proxy+}` for a subtree);
    /// the local gateway mounts the function at the same ones.
    const API_PATHS: &'static [&'static str];
    /// Every route the function serves.
    const ROUTES: &'static [Route<Self>];
    /// The origins allowed to call it.
    fn cors(&self) -> &Cors;
}

#[async_trait]
impl<F: Routed> HttpFunction for F {
    async fn handle(&self, req: Request) -> Response<Body> {
        serve(req, self.cors(), |req| async move { dispatch(F::ROUTES, self, &req).await }).await
    }

    fn api_paths(&self) -> &'static [&'static str] {
        F::API_PATHS
    }
}

/// Runs the route matching the request's method and path. A path no route has is 404; a path
/// that exists under other methods is 405 with those methods (and `OPTIONS`) in `Allow`. Paths
/// match exactly: `/api/escalations/` is not `/api/escalations`.
pub async fn dispatch<F>(routes: &'static [Route<F>], function: &F, req: &Request) -> Answer {
    let path = req.uri().path();
    let mut allowed: Vec<&str> = Vec::new();
    for route in routes {
        if let Some(captured) = route.capture(path) {
            if route.method == req.method() {
                return (route.handler)(function, req, captured).await;
            }
            allowed.push(route.method.as_str());
        }
    }
    if allowed.is_empty() {
        return Err(ApiError::NotFound);
    }
    allowed.push("OPTIONS");
    Err(ApiError::MethodNotAllowed(allowed.join(", ")))
}

/// Whether an API Gateway path (`/api/auth/{proxy+}`, or exact) covers a request path.
pub fn covers(api_path: &str, path: &str) -> bool {
    match api_path.strip_suffix("{proxy+}") {
        Some(prefix) => path.starts_with(prefix) && path.len() > prefix.len(),
        None => api_path == path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo(Cors);

    fn echo<'a>(_: &'a Echo, req: &'a Request, captured: &'a str) -> Pending<'a> {
        let text = format!("{} {captured}", req.method());
        Box::pin(async move { Ok(Response::new(Body::from(text))) })
    }

    impl Routed for Echo {
        const API_PATHS: &'static [&'static str] = &["/a/{proxy+}"];
        const ROUTES: &'static [Route<Self>] = &[
            Route::new(Method::GET, "/a/items", echo),
            Route::new(Method::POST, "/a/items", echo),
            Route::new(Method::DELETE, "/a/items/{id}", echo),
        ];
        fn cors(&self) -> &Cors {
            &self.0
        }
    }

    async fn call(method: Method, path: &str) -> Answer {
        let req = http::Request::builder().method(method).uri(path).body(Body::Empty).unwrap();
        let function = Echo(Cors::new(Vec::new()).unwrap());
        dispatch(Echo::ROUTES, &function, &req).await
    }

    fn text(answer: Answer) -> String {
        match answer.unwrap().into_body() {
            Body::Text(t) => t,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn matches_method_path_and_captures_the_segment() {
        assert_eq!(text(call(Method::GET, "/a/items").await), "GET ");
        assert_eq!(text(call(Method::POST, "/a/items").await), "POST ");
        assert_eq!(text(call(Method::DELETE, "/a/items/7f").await), "DELETE 7f");
    }

    #[tokio::test]
    async fn unknown_paths_are_404_and_other_methods_405_with_allow() {
        for path in ["/a", "/a/item", "/a/items/", "/a/items/7f/", "/a/items/7f/x", "/b/items"] {
            assert!(matches!(call(Method::GET, path).await, Err(ApiError::NotFound)), "{path}");
        }
        match call(Method::PUT, "/a/items").await {
            Err(ApiError::MethodNotAllowed(allow)) => assert_eq!(allow, "GET, POST, OPTIONS"),
            other => panic!("{:?}", other.map(|r| r.status())),
        }
        match call(Method::GET, "/a/items/7f").await {
            Err(ApiError::MethodNotAllowed(allow)) => assert_eq!(allow, "DELETE, OPTIONS"),
            other => panic!("{:?}", other.map(|r| r.status())),
        }
    }

    #[test]
    fn api_paths_cover_their_subtree() {
        assert!(covers("/a/{proxy+}", "/a/items"));
        assert!(!covers("/a/{proxy+}", "/a/"));
        assert!(covers("/a", "/a"));
        assert!(!covers("/a", "/a/b"));
    }
}
