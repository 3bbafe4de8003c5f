//! Every route a function lists in `ROUTES` (what `template.yaml` is checked against) is really
//! served: through the gateway, with a valid token, none answers 404 or 405.

use e2e::gateway::TestGateway;
use serde_json::{Value, json};

#[tokio::test]
async fn every_listed_route_is_served() {
    let gw = TestGateway::start().await;
    let ada = gw.register_verified("routes@example.com").await;
    let conversation = gw.start_conversation(&ada, "hello").await;
    let ticket: Value =
        gw.escalate(&ada, &json!({"conversation_id": conversation}), None).await.json().await.unwrap();
    let ticket_id = ticket["ticket"]["id"].as_str().unwrap();

    let sessions: Value = gw.get_json(&ada, "/api/auth/sessions").await;
    let session_id = sessions["sessions"][0]["id"].as_str().unwrap();

    let routes = e2e::all_routes();
    assert_eq!(routes.len(), 23);
    for (method, path) in routes {
        let id = if path.starts_with("/api/auth/sessions/") { session_id } else { ticket_id };
        let path = path.replace("{id}", id);
        let request = gw
            .http
            .request(method.parse().unwrap(), gw.at(&path))
            .bearer_auth(&ada.access_token)
            .header("cookie", &ada.cookie)
            .header("content-type", "application/json")
            .body("{}");
        let status = request.send().await.unwrap().status().as_u16();
        assert!(status != 404 && status != 405, "{method} {path}: {status}");
    }
    for path in
        ["/api/auth/nope", "/api/chat/nope", "/api/websocket/nope", "/api/escalations/a/b", "/api/nope"]
    {
        let status = gw.get_as(&ada, path).await.status();
        assert_eq!(status, 404, "{path}");
    }
}

#[tokio::test]
async fn the_web_client_is_served_with_a_strict_policy() {
    let gw = TestGateway::start().await;
    for (path, kind, marker) in [
        ("/", "text/html", "<script src=\"/app.js\""),
        ("/reset-password?token=abc", "text/html", "id=\"reset-form\""),
        ("/verify-email?token=abc", "text/html", "id=\"verify-status\""),
        ("/app.js", "text/javascript", "/api/auth/refresh"),
        ("/app.css", "text/css", ":focus-visible"),
    ] {
        let response = gw.http.get(gw.at(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers().clone();
        assert!(headers["content-type"].to_str().unwrap().starts_with(kind), "{path}");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}: the reset token must not leak");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert!(response.text().await.unwrap().contains(marker), "{path}");
    }
    let unknown = gw.http.get(gw.at("/nothing-here")).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(unknown.headers()["cache-control"], "no-store", "the gateway's own answers too");
}
