//! Behind the CloudFront front door (`template.yaml`'s `FrontDoor`): the functions take the
//! viewer's address and host from CloudFront's headers only when the request carries the proof
//! header (`x-front-door: FRONT_DOOR_SECRET`), so per-address limits count viewers, not edge
//! servers, the page's own origin passes the Origin checks with no `AllowedOrigins`, and the
//! WebSocket URL is on the page's host, and the mails link to pages on that site (the ticket
//! mail to the web client); without the proof, the same headers change nothing.
//! The sample events (`events/`), shaped as CloudFront would pass them on to API Gateway.

use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};
use shared::ports::Stores;

const SECRET: &str = "Zq8vN3kT0pW5xR2mB7yC4hJ9gF6dL1sA0eU3iO8n";
const PAGE_HOST: &str = "support.example.com";
const PAGE_ORIGIN: &str = "https://support.example.com";
/// The edge server API Gateway sees as the source of every request through the front door.
const EDGE: &str = "130.176.98.10";

struct Functions {
    outbox: std::path::PathBuf,
    login: login::Login,
    ws_ticket: ws_ticket::WsTicket,
    ws_connect: ws_connect::WsConnect,
    chat: chat::Chat,
    escalation: escalation::Escalation,
    _dir: tempfile::TempDir,
}

/// The functions behind a front door; `pages`: the mails' pages configured (otherwise they are
/// on the site each request came through).
fn functions_with(pages: bool) -> Functions {
    let dir = tempfile::tempdir().unwrap();
    let settings = move |var: &str| match var {
        "FRONT_DOOR_SECRET" => Some(SECRET.to_owned()),
        // One registration per address and hour: the second from the same viewer is refused.
        "REGISTRATIONS_PER_ADDRESS" => Some("1".to_owned()),
        "WEBSOCKET_URL" => Some("wss://ws123.execute-api.us-east-1.amazonaws.com/prod".to_owned()),
        "MAIL_FROM" => Some("Support <support@example.com>".to_owned()),
        "SUPPORT_EMAIL" => Some("help@example.com".to_owned()),
        "PASSWORD_RESET_URL" if pages => Some("https://app.example.com/reset-password".to_owned()),
        "EMAIL_VERIFY_URL" if pages => Some("https://app.example.com/verify-email".to_owned()),
        // No ALLOWED_ORIGINS: the page is on the front door's own origin.
        _ => None,
    };
    let store = Arc::new(shared::adapters::sqlite::SqliteStore::open(&dir.path().join("app.db")).unwrap());
    let outbox = Arc::new(shared::adapters::outbox::Outbox::new(dir.path().join("outbox")));
    let w = e2e::wiring(settings, Stores::single(store), outbox, Arc::new(shared::SystemClock));
    Functions {
        outbox: dir.path().join("outbox"),
        login: login::Login::build(&w).unwrap(),
        ws_ticket: ws_ticket::WsTicket::build(&w).unwrap(),
        ws_connect: ws_connect::WsConnect::build(&w).unwrap(),
        chat: chat::Chat::build(&w).unwrap(),
        escalation: escalation::Escalation::build(&w).unwrap(),
        _dir: dir,
    }
}

fn functions() -> Functions {
    functions_with(true)
}

/// The verification mail sent to `email`, decoded.
fn verification_mail(f: &Functions, email: &str) -> String {
    std::fs::read_dir(&f.outbox)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .map(|raw| e2e::decoded(&raw))
        .find(|mail| mail.contains(&format!("To: {email}")))
        .unwrap_or_else(|| panic!("no mail to {email}"))
}

fn sample(path: &str) -> Value {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events").join(path);
    serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

/// How a request reached API Gateway.
#[derive(Clone, Copy)]
enum Via<'a> {
    /// Through CloudFront from this viewer address, with this proof value.
    FrontDoor { viewer: &'a str, proof: &'a str },
    /// Straight to API Gateway, with CloudFront's viewer headers forged (no proof).
    Forged { viewer: &'a str },
}

/// An HTTP API event (`events/…`) as it arrives `via`, from a page on `origin`.
fn http_event(path: &str, via: Via, origin: &str) -> Value {
    let mut event = sample(path);
    event["requestContext"]["http"]["sourceIp"] = EDGE.into();
    let headers = event["headers"].as_object_mut().unwrap();
    headers.insert("origin".into(), origin.into());
    match via {
        Via::FrontDoor { viewer, proof } => {
            headers.insert("x-front-door".into(), proof.into());
            headers.insert("x-forwarded-host".into(), PAGE_HOST.into());
            headers.insert("cloudfront-viewer-address".into(), format!("{viewer}:50123").into());
        }
        Via::Forged { viewer } => {
            headers.insert("x-forwarded-host".into(), PAGE_HOST.into());
            headers.insert("cloudfront-viewer-address".into(), format!("{viewer}:50123").into());
        }
    }
    event
}

const PROVEN: &str = SECRET;

async fn register(f: &Functions, email: &str, via: Via<'_>) -> Value {
    let mut event = http_event("login/register.json", via, PAGE_ORIGIN);
    event["body"] = json!({"email": email, "password": "correct horse battery staple"}).to_string().into();
    local_gateway::apigw::invoke(&f.login, event).await.unwrap()
}

fn body(response: &Value) -> Value {
    serde_json::from_str(response["body"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn per_address_limits_count_viewers_behind_the_front_door() {
    let f = functions();
    let first = Via::FrontDoor { viewer: "198.51.100.1", proof: PROVEN };
    let second = Via::FrontDoor { viewer: "198.51.100.2", proof: PROVEN };
    assert_eq!(register(&f, "one@example.com", first).await["statusCode"], 201);
    // Same edge server, another viewer: its own allowance.
    assert_eq!(register(&f, "two@example.com", second).await["statusCode"], 201);
    // The first viewer again: over its one registration an hour.
    assert_eq!(register(&f, "three@example.com", first).await["statusCode"], 429);

    // Straight to API Gateway with forged viewer headers: the source address counts, so two
    // "different viewers" from one address get one registration between them.
    let forged = |viewer| Via::Forged { viewer };
    assert_eq!(register(&f, "four@example.com", forged("192.0.2.1")).await["statusCode"], 201);
    assert_eq!(register(&f, "five@example.com", forged("192.0.2.2")).await["statusCode"], 429);
}

#[tokio::test]
async fn the_page_origin_passes_only_with_the_proof() {
    let f = functions();
    let proven = Via::FrontDoor { viewer: "198.51.100.7", proof: PROVEN };
    let registered = register(&f, "page@example.com", proven).await;
    assert_eq!(registered["statusCode"], 201, "{registered}");
    let cookie = registered["cookies"][0].as_str().unwrap().split(';').next().unwrap().to_owned();
    let refresh = |via, origin: &'static str| {
        let mut event = http_event("login/refresh.json", via, origin);
        event["cookies"] = json!([cookie.clone()]);
        local_gateway::apigw::invoke(&f.login, event)
    };
    assert_eq!(refresh(proven, PAGE_ORIGIN).await.unwrap()["statusCode"], 200);

    // One thing changed each time: the proof is wrong, or the page is elsewhere.
    let wrong = Via::FrontDoor { viewer: "198.51.100.7", proof: "Zq8vN3kT0pW5xR2mB7yC4hJ9gF6dL1sA0eU3iO8x" };
    let refused = refresh(wrong, PAGE_ORIGIN).await.unwrap();
    assert_eq!(refused["statusCode"], 403);
    assert_eq!(body(&refused)["code"], "origin_not_allowed");
    let refused = refresh(proven, "https://evil.example.net").await.unwrap();
    assert_eq!(refused["statusCode"], 403);
    assert_eq!(body(&refused)["code"], "origin_not_allowed");
}

#[tokio::test]
async fn the_websocket_is_on_the_page_host_behind_the_front_door() {
    let f = functions();
    let proven = Via::FrontDoor { viewer: "198.51.100.9", proof: PROVEN };
    let registered = register(&f, "socket@example.com", proven).await;
    let token = body(&registered)["access_token"].as_str().unwrap().to_owned();
    let mint = |via| {
        let mut event = http_event("ws-ticket/mint.json", via, PAGE_ORIGIN);
        event["headers"]["authorization"] = format!("Bearer {token}").into();
        local_gateway::apigw::invoke(&f.ws_ticket, event)
    };
    let minted = body(&mint(proven).await.unwrap());
    assert_eq!(minted["url"], format!("wss://{PAGE_HOST}/prod"));
    let direct = body(&mint(Via::Forged { viewer: "198.51.100.9" }).await.unwrap());
    assert_eq!(direct["url"], "wss://ws123.execute-api.us-east-1.amazonaws.com/prod");

    // $connect from the page, through the front door: the page's origin is its own.
    let connect = |ticket: &str, proof: &str| {
        let mut event = sample("ws-connect/connect-ticket.json");
        event["queryStringParameters"]["ticket"] = ticket.into();
        event["multiValueQueryStringParameters"]["ticket"] = json!([ticket]);
        for (name, value) in
            [("Origin", PAGE_ORIGIN), ("x-front-door", proof), ("x-forwarded-host", PAGE_HOST)]
        {
            event["headers"][name] = value.into();
            event["multiValueHeaders"][name] = json!([value]);
        }
        let event: aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest =
            serde_json::from_value(event).unwrap();
        async { serde_json::to_value(f.ws_connect.handle(event).await).unwrap() }
    };
    let ticket = minted["ticket"].as_str().unwrap();
    let wrong = "Zq8vN3kT0pW5xR2mB7yC4hJ9gF6dL1sA0eU3iO8x";
    assert_eq!(connect(ticket, wrong).await["statusCode"], 403, "without the proof the page is foreign");
    assert_eq!(connect(ticket, SECRET).await["statusCode"], 200);
}

#[tokio::test]
async fn mailed_links_open_the_page_on_the_site_the_request_came_through() {
    let f = functions_with(false);
    let proven = Via::FrontDoor { viewer: "198.51.100.11", proof: PROVEN };
    assert_eq!(register(&f, "links@example.com", proven).await["statusCode"], 201);
    let mail = verification_mail(&f, "links@example.com");
    assert!(mail.contains(&format!("{PAGE_ORIGIN}/verify-email?token=")), "{mail}");

    // Straight to API Gateway there is no site to link to, and no page is configured: refused
    // before anything is written, so the same address registers through the front door after.
    let direct = register(&f, "later@example.com", Via::Forged { viewer: "198.51.100.12" }).await;
    assert_eq!(direct["statusCode"], 500, "{direct}");
    let another = Via::FrontDoor { viewer: "198.51.100.13", proof: PROVEN };
    assert_eq!(register(&f, "later@example.com", another).await["statusCode"], 201);
}

#[tokio::test]
async fn the_ticket_mail_links_to_the_site_the_escalation_came_through() {
    use local_gateway::apigw::invoke;
    let f = functions_with(false);
    let proven = Via::FrontDoor { viewer: "198.51.100.21", proof: PROVEN };
    let mut tickets = Vec::new();
    for (email, viewer, via) in [
        ("through@example.com", "198.51.100.21", proven),
        ("direct@example.com", "198.51.100.22", Via::Forged { viewer: "198.51.100.22" }),
    ] {
        // One registration per viewer address (this file's limit).
        let signup = Via::FrontDoor { viewer, proof: PROVEN };
        let token = body(&register(&f, email, signup).await)["access_token"].as_str().unwrap().to_owned();
        let link = e2e::link_token(
            &std::fs::read_dir(&f.outbox)
                .unwrap()
                .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
                .find(|raw| raw.contains(&format!("To: {email}")))
                .unwrap(),
            "?token=",
        );
        let mut verify = http_event("login/verify-email.json", proven, PAGE_ORIGIN);
        verify["body"] = json!({ "token": link }).to_string().into();
        assert_eq!(invoke(&f.login, verify).await.unwrap()["statusCode"], 204);
        let authorized = |path: &str| {
            let mut event = http_event(path, via, PAGE_ORIGIN);
            event["headers"]["authorization"] = format!("Bearer {token}").into();
            event
        };
        let chat = invoke(&f.chat, authorized("chat/post-new-conversation.json")).await.unwrap();
        let conversation = body(&chat)["conversation_id"].as_str().unwrap().to_owned();
        let mut escalate = authorized("escalation/post-escalation.json");
        escalate["body"] = json!({ "conversation_id": conversation }).to_string().into();
        let created = invoke(&f.escalation, escalate).await.unwrap();
        assert_eq!(created["statusCode"], 201, "{created}");
        tickets.push((email, body(&created)["ticket"]["number"].as_str().unwrap().to_owned()));
    }
    let user_mail = |email: &str, number: &str| {
        std::fs::read_dir(&f.outbox)
            .unwrap()
            .map(|e| e2e::decoded(&std::fs::read_to_string(e.unwrap().path()).unwrap()))
            .find(|mail| mail.lines().any(|l| l == format!("To: {email}")) && mail.contains(number))
            .unwrap()
    };
    let (email, number) = &tickets[0];
    let mail = user_mail(email, number);
    assert!(mail.contains(&format!("Your tickets and their status: {PAGE_ORIGIN}/")), "{mail}");
    // Without the proof, the forged host is no site to send a user to.
    let (email, number) = &tickets[1];
    let mail = user_mail(email, number);
    assert!(!mail.contains("Your tickets") && !mail.contains(PAGE_HOST), "{mail}");
}
