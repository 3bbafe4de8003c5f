//! The account lifecycle through the gateway on loopback, with real WebSocket clients: password
//! reset by mail, password change, the sessions list and account deletion. Each negative case
//! starts from a real credential and changes one thing.

use e2e::gateway::{Account, PASSWORD, Socket, TestGateway, next_text};
use e2e::{reset_token, tokens};
use serde_json::{Value, json};

const REVOKED: &str = r#"{"type":"session.revoked"}"#;

async fn forgot(gw: &TestGateway, email: &str) -> reqwest::Response {
    gw.post_json("/api/auth/password/forgot", &json!({ "email": email })).await
}

async fn reset(gw: &TestGateway, token: &str, new_password: &str) -> reqwest::Response {
    gw.post_json("/api/auth/password/reset", &json!({ "token": token, "new_password": new_password })).await
}

/// The reset mails sent to `email`, oldest first is not guaranteed: tests ask for one.
async fn reset_mails(gw: &TestGateway, email: &str) -> Vec<String> {
    gw.mails()
        .await
        .into_iter()
        .filter(|m| m.to == email && m.raw.contains("Subject: Reset your password"))
        .map(|m| m.raw)
        .collect()
}

async fn socket(gw: &TestGateway, account: &Account) -> Socket {
    gw.connect_ticket(&gw.mint(account).await).await.expect("socket")
}

async fn assert_revoked(socket: &mut Socket) {
    assert_eq!(next_text(socket).await.as_deref(), Some(REVOKED));
    assert_eq!(next_text(socket).await, None, "then the socket closes");
}

async fn problem_code(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["code"].as_str().unwrap_or_default().to_owned()
}

async fn sign_in(gw: &TestGateway, email: &str, password: &str) -> u16 {
    gw.post_json("/api/auth/login", &json!({ "email": email, "password": password })).await.status().as_u16()
}

async fn sessions(gw: &TestGateway, account: &Account) -> Vec<Value> {
    let r = gw.get_as(account, "/api/auth/sessions").await;
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["sessions"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_mailed_link_resets_the_password_once_and_ends_every_session() {
    let gw = TestGateway::start().await;
    let ada = gw.register("ada@example.com").await;
    let other = gw.login("ada@example.com").await;
    let mut sockets = [socket(&gw, &ada).await, socket(&gw, &other).await];

    let r = forgot(&gw, "ada@example.com").await;
    assert_eq!(r.status(), 202);
    let mails = reset_mails(&gw, "ada@example.com").await;
    assert_eq!(mails.len(), 1, "one reset mail");
    assert!(mails[0].contains(&format!("{}/reset-password?token=", gw.url)), "links to the web client");
    let token = reset_token(&mails[0]);
    let (user, secret) = token.split_once('.').expect("<user id>.<secret>");
    assert_eq!(user, ada.user_id, "the token names its user");
    assert_eq!(secret.len(), 43, "256 bits, base64url");

    // Only the secret's hash is stored (the scan does read the store: the hash is found).
    let stored = gw.stored_rows().await.join("\n");
    assert!(!stored.contains(secret), "a raw reset token is in the store");
    let digest = shared::auth::secret::MailToken::parse(&token).unwrap().digest();
    assert!(stored.contains(&digest), "the token's hash is stored");

    // A token of the right shape that was never issued changes nothing.
    let mut forged = token.clone().into_bytes();
    let last = forged.len() - 1;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let r = reset(&gw, std::str::from_utf8(&forged).unwrap(), "a brand new password").await;
    assert_eq!(r.status(), 400);
    assert_eq!(problem_code(r).await, "invalid_reset_token");
    assert_eq!(gw.me(&format!("Bearer {}", ada.access_token)).await.status(), 200);

    // A new password that breaks the rules is refused before the token is spent.
    let r = reset(&gw, &token, "short").await;
    assert_eq!(r.status(), 400);
    assert_eq!(problem_code(r).await, "validation_failed");

    assert_eq!(reset(&gw, &token, "a brand new password").await.status(), 204);
    for socket in &mut sockets {
        assert_revoked(socket).await;
    }
    for account in [&ada, &other] {
        assert_eq!(gw.me(&format!("Bearer {}", account.access_token)).await.status(), 401);
        assert_eq!(gw.post_cookie("/api/auth/refresh", &account.cookie).await.status(), 401);
    }
    assert_eq!(sign_in(&gw, "ada@example.com", PASSWORD).await, 401, "the old password is gone");
    assert_eq!(sign_in(&gw, "ada@example.com", "a brand new password").await, 200);

    let again = reset(&gw, &token, "yet another password").await;
    assert_eq!(again.status(), 400, "the link works once");
    assert_eq!(problem_code(again).await, "invalid_reset_token");
    assert_eq!(sign_in(&gw, "ada@example.com", "a brand new password").await, 200);
}

#[tokio::test]
async fn forgot_answers_an_unknown_email_identically_and_mails_nothing() {
    let gw = TestGateway::start().await;
    gw.register("known@example.com").await;
    let known = forgot(&gw, "known@example.com").await;
    let unknown = forgot(&gw, "unknown@example.com").await;
    assert_eq!((known.status().as_u16(), unknown.status().as_u16()), (202, 202));
    let header = |r: &reqwest::Response| r.headers()["content-type"].to_str().unwrap().to_owned();
    assert_eq!(header(&known), header(&unknown));
    let (known, unknown) = (known.bytes().await.unwrap(), unknown.bytes().await.unwrap());
    assert_eq!(known, unknown, "byte-identical bodies");
    assert_eq!(reset_mails(&gw, "known@example.com").await.len(), 1);
    assert!(gw.mails().await.iter().all(|m| m.to != "unknown@example.com"), "no mail for an unknown email");

    let r = forgot(&gw, "not an email").await;
    assert_eq!(r.status(), 400);
    assert_eq!(problem_code(r).await, "validation_failed");
}

#[tokio::test]
async fn forgot_is_throttled_per_email_and_per_source_address() {
    let gw =
        TestGateway::start_with(&[("PASSWORD_RESETS_PER_EMAIL", "2"), ("PASSWORD_RESETS_PER_ADDRESS", "5")])
            .await;
    gw.register("busy@example.com").await;
    for email in ["busy@example.com", "nobody@example.com"] {
        for _ in 0..2 {
            assert_eq!(forgot(&gw, email).await.status(), 202);
        }
        let r = forgot(&gw, email).await;
        assert_eq!(r.status(), 429, "{email}: per email, known or not");
        assert!(r.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
        assert_eq!(problem_code(r).await, "rate_limited");
    }
    assert_eq!(reset_mails(&gw, "busy@example.com").await.len(), 2, "no mail beyond the allowance");
    // Six requests so far from this address: a fresh email is refused too.
    let r = forgot(&gw, "fresh@example.com").await;
    assert_eq!(r.status(), 429, "per source address");
}

#[tokio::test]
async fn a_reset_token_past_its_ttl_is_refused_though_still_stored() {
    let gw = TestGateway::start_with(&[("PASSWORD_RESET_TTL_SECONDS", "1")]).await;
    gw.register("late@example.com").await;
    assert_eq!(forgot(&gw, "late@example.com").await.status(), 202);
    let token = reset_token(&reset_mails(&gw, "late@example.com").await[0]);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let digest = shared::auth::secret::MailToken::parse(&token).unwrap().digest();
    assert!(gw.stored_rows().await.iter().any(|row| row.contains(&digest)), "the token is still there");
    let r = reset(&gw, &token, "a brand new password").await;
    assert_eq!(r.status(), 400);
    assert_eq!(problem_code(r).await, "invalid_reset_token");
    assert_eq!(sign_in(&gw, "late@example.com", PASSWORD).await, 200, "the password is unchanged");
}

#[tokio::test]
async fn changing_the_password_ends_every_other_session() {
    let gw = TestGateway::start().await;
    let current = gw.register("change@example.com").await;
    let other = gw.login("change@example.com").await;
    let mut other_socket = socket(&gw, &other).await;
    let mut current_socket = socket(&gw, &current).await;
    let change =
        |password: &str| json!({ "current_password": password, "new_password": "a changed password" });

    let r = gw.post_as(&current, "/api/auth/password/change", &change("not the password")).await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "current_password");
    assert_eq!(gw.me(&format!("Bearer {}", other.access_token)).await.status(), 200, "nothing changed");

    let r = gw
        .http
        .post(gw.at("/api/auth/password/change"))
        .bearer_auth(format!("{}x", current.access_token))
        .json(&change(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "a tampered token changes nothing");

    assert_eq!(gw.post_as(&current, "/api/auth/password/change", &change(PASSWORD)).await.status(), 204);
    assert_revoked(&mut other_socket).await;
    assert_eq!(gw.me(&format!("Bearer {}", other.access_token)).await.status(), 401);
    assert_eq!(gw.post_cookie("/api/auth/refresh", &other.cookie).await.status(), 401);
    assert_eq!(gw.me(&format!("Bearer {}", current.access_token)).await.status(), 200, "this one stays");
    assert_eq!(gw.post_cookie("/api/auth/refresh", &current.cookie).await.status(), 200);
    futures::SinkExt::send(
        &mut current_socket,
        tokio_tungstenite::tungstenite::Message::Text(r#"{"action":"ping"}"#.into()),
    )
    .await
    .unwrap();
    assert_eq!(next_text(&mut current_socket).await.as_deref(), Some(r#"{"type":"pong"}"#));
    assert_eq!(sign_in(&gw, "change@example.com", PASSWORD).await, 401);
    assert_eq!(sign_in(&gw, "change@example.com", "a changed password").await, 200);
}

#[tokio::test]
async fn sessions_are_listed_and_revoked_one_at_a_time() {
    let gw = TestGateway::start().await;
    let register = gw
        .http
        .post(gw.at("/api/auth/register"))
        .header("user-agent", "Firefox/140 <script>\t")
        .json(&json!({ "email": "list@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(register.status(), 201);
    let body: Value = register.json().await.unwrap();
    let me = Account {
        email: "list@example.com".into(),
        access_token: body["access_token"].as_str().unwrap().into(),
        cookie: String::new(),
        user_id: body["user"]["id"].as_str().unwrap().into(),
    };
    let phone = gw.login("list@example.com").await;
    let mut phone_socket = socket(&gw, &phone).await;

    let listed = sessions(&gw, &me).await;
    assert_eq!(listed.len(), 2);
    // Both opened within the same second, so the order between them is not asserted.
    let (mine, others): (Vec<Value>, Vec<Value>) = listed.into_iter().partition(|s| s["current"] == true);
    let (mine, theirs) = (&mine[0], &others[0]);
    assert_eq!(mine["user_agent"], "Firefox/140 <script>", "printable text only, shown as data");
    for (entry, account) in [(mine, &me), (theirs, &phone)] {
        let id = entry["id"].as_str().unwrap();
        assert!(id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        let sid = tokens::parts(&account.access_token).1["sid"].as_str().unwrap().to_owned();
        assert!(!sid.contains(id), "the public id is not part of the session id");
        assert!(entry["created_at"].as_str().unwrap().ends_with('Z'));
        assert!(entry["last_seen_at"].as_str().is_some());
    }
    let phone_id = theirs["id"].as_str().unwrap().to_owned();

    // Another user cannot revoke it, even knowing its public id.
    let grace = gw.register("grace@example.com").await;
    let path = format!("/api/auth/sessions/{phone_id}");
    let r = gw.http.delete(gw.at(&path)).bearer_auth(&grace.access_token).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(gw.me(&format!("Bearer {}", phone.access_token)).await.status(), 200);

    let r = gw.http.delete(gw.at(&path)).bearer_auth(&me.access_token).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_revoked(&mut phone_socket).await;
    assert_eq!(gw.me(&format!("Bearer {}", phone.access_token)).await.status(), 401);
    assert_eq!(gw.me(&format!("Bearer {}", me.access_token)).await.status(), 200);
    let r = gw.http.delete(gw.at(&path)).bearer_auth(&me.access_token).send().await.unwrap();
    assert_eq!(r.status(), 404, "already gone");
    assert_eq!(sessions(&gw, &me).await.len(), 1);
    let r = gw.http.get(gw.at("/api/auth/sessions")).send().await.unwrap();
    assert_eq!(r.status(), 401, "the list needs a token");
}

#[tokio::test]
async fn deleting_an_account_leaves_only_the_detached_support_ticket() {
    let gw = TestGateway::start().await;
    let ada = gw.register_verified("gone@example.com").await;
    let stays = gw.register("stays@example.com").await;
    let conversation = gw.start_conversation(&ada, "My invoice is wrong").await;
    let escalated = gw.escalate(&ada, &json!({ "conversation_id": conversation }), Some("delete-me-1")).await;
    assert_eq!(escalated.status(), 201);
    let ticket: Value = escalated.json().await.unwrap();
    let number = ticket["ticket"]["number"].as_str().unwrap().to_owned();
    let _unused_ticket = gw.mint(&ada).await;
    let mut ada_socket = socket(&gw, &ada).await;
    let mut other_socket = socket(&gw, &stays).await;
    assert_eq!(forgot(&gw, "gone@example.com").await.status(), 202);
    assert_eq!(sign_in(&gw, "gone@example.com", "a wrong password").await, 401);
    let rows_before = gw.stored_rows().await;
    assert!(rows_before.iter().any(|r| r.contains(&ada.user_id)), "the scan sees the user");

    let delete = |password: &str| {
        gw.http
            .delete(gw.at("/api/auth/account"))
            .bearer_auth(&ada.access_token)
            .json(&json!({ "password": password }))
            .send()
    };
    let r = delete("not the password").await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(gw.me(&format!("Bearer {}", ada.access_token)).await.status(), 200, "nothing deleted");

    let r = delete(PASSWORD).await.unwrap();
    assert_eq!(r.status(), 204);
    assert!(r.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"), "the cookie is cleared");
    assert_revoked(&mut ada_socket).await;
    assert_eq!(gw.me(&format!("Bearer {}", ada.access_token)).await.status(), 401);
    assert_eq!(gw.post_cookie("/api/auth/refresh", &ada.cookie).await.status(), 401);
    assert_eq!(sign_in(&gw, "gone@example.com", PASSWORD).await, 401);

    // Nothing names the user any more; the ticket stays, detached, for the support team.
    let rows = gw.stored_rows().await;
    for row in &rows {
        assert!(!row.contains(&ada.user_id), "left behind: {row}");
        assert!(!row.contains("gone@example.com"), "left behind: {row}");
    }
    let detached: Vec<&String> = rows.iter().filter(|r| r.contains(&number)).collect();
    assert!(!detached.is_empty(), "the support ticket is kept");
    assert!(detached.iter().any(|r| r.contains(shared::domain::DETACHED_OWNER)));
    assert!(rows.iter().any(|r| r.contains(&stays.user_id)), "other accounts are untouched");
    futures::SinkExt::send(
        &mut other_socket,
        tokio_tungstenite::tungstenite::Message::Text(r#"{"action":"ping"}"#.into()),
    )
    .await
    .unwrap();
    assert_eq!(next_text(&mut other_socket).await.as_deref(), Some(r#"{"type":"pong"}"#));

    let again = gw
        .post_json("/api/auth/register", &json!({ "email": "gone@example.com", "password": PASSWORD }))
        .await;
    assert_eq!(again.status(), 201, "the email can register again");
    let fresh: Value = again.json().await.unwrap();
    assert_ne!(fresh["user"]["id"].as_str().unwrap(), ada.user_id);
}
