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

#[tokio::test]
async fn the_web_client_is_sent_gzipped_and_revalidated_by_its_etag() {
    use std::io::Read;
    let gw = TestGateway::start().await;
    for path in ["/", "/app.js", "/app.css"] {
        let plain = gw.http.get(gw.at(path)).send().await.unwrap();
        let etag = plain.headers()["etag"].to_str().unwrap().to_owned();
        assert!(etag.starts_with('"') && etag.ends_with('"'), "{path}: a strong validator, {etag}");
        assert_eq!(plain.headers()["vary"], "Accept-Encoding");
        assert!(plain.headers().get("content-encoding").is_none());
        let text = plain.text().await.unwrap();

        let zipped =
            gw.http.get(gw.at(path)).header("accept-encoding", "br, gzip;q=0.8").send().await.unwrap();
        assert_eq!(zipped.headers()["content-encoding"], "gzip", "{path}");
        let zipped_tag = zipped.headers()["etag"].to_str().unwrap().to_owned();
        assert_ne!(zipped_tag, etag, "each representation has its own tag");
        let bytes = zipped.bytes().await.unwrap();
        assert!(bytes.len() * 2 < text.len(), "{path}: {} bytes gzipped for {}", bytes.len(), text.len());
        let mut unzipped = String::new();
        flate2::read::GzDecoder::new(&bytes[..]).read_to_string(&mut unzipped).unwrap();
        assert_eq!(unzipped, text, "{path}: the same file");

        let refused = gw.http.get(gw.at(path)).header("accept-encoding", "gzip;q=0").send().await.unwrap();
        assert!(refused.headers().get("content-encoding").is_none(), "{path}: q=0 refuses gzip");

        // A reload with the tag it holds: 304, no body, the strict headers kept.
        for (tag, encoding) in [(&etag, "identity"), (&zipped_tag, "gzip")] {
            let again = gw
                .http
                .get(gw.at(path))
                .header("if-none-match", tag.as_str())
                .header("accept-encoding", encoding)
                .send()
                .await
                .unwrap();
            assert_eq!(again.status(), 304, "{path} {encoding}");
            assert_eq!(again.headers()["etag"], tag.as_str());
            assert!(again.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors"));
            assert!(again.bytes().await.unwrap().is_empty());
        }
        let stale = gw.http.get(gw.at(path)).header("if-none-match", "\"old\"").send().await.unwrap();
        assert_eq!(stale.status(), 200, "{path}: another tag gets the file");
    }
}
