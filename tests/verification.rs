//! Verified email addresses and mailed links, through the gateway on loopback, on both backends.
//! Registration mails a verification link; until it is opened nothing else of ours is mailed to
//! the address and escalation answers 403. A user has one live token per purpose: a new one
//! replaces the last, and redeeming, changing the password or deleting the account ends them.

use e2e::gateway::{Account, PASSWORD, TestGateway};
use serde_json::{Value, json};

/// Asserts a problem response; returns its headers.
async fn problem(response: reqwest::Response, status: u16, code: &str) -> reqwest::header::HeaderMap {
    assert_eq!(response.status().as_u16(), status, "status for {code}");
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let headers = response.headers().clone();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    headers
}

async fn me(gw: &TestGateway, account: &Account) -> Value {
    let r = gw.me(&format!("Bearer {}", account.access_token)).await;
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["user"].clone()
}

async fn verify(gw: &TestGateway, token: &str) -> reqwest::Response {
    gw.post_json("/api/auth/email/verify", &json!({ "token": token })).await
}

async fn resend(gw: &TestGateway, account: &Account) -> reqwest::Response {
    gw.http
        .post(gw.at("/api/auth/email/verification"))
        .bearer_auth(&account.access_token)
        .send()
        .await
        .unwrap()
}

/// Opens a conversation and asks for a person.
async fn escalate(gw: &TestGateway, account: &Account) -> reqwest::Response {
    let conversation = gw.start_conversation(account, "My card was charged twice").await;
    gw.escalate(account, &json!({ "conversation_id": conversation, "subject": "Charged twice" }), None).await
}

async fn sign_in(gw: &TestGateway, email: &str, password: &str) -> reqwest::Response {
    gw.post_json("/api/auth/login", &json!({ "email": email, "password": password })).await
}

#[tokio::test]
async fn registration_mails_a_link_and_nothing_else_until_it_is_opened() {
    let gw = TestGateway::start().await;
    let ada = gw.register("ada@example.com").await;
    let other_device = gw.login("ada@example.com").await;
    assert_eq!(me(&gw, &ada).await["email_verified"], false);

    let mails: Vec<_> = gw.mails().await.into_iter().filter(|m| m.to == "ada@example.com").collect();
    assert_eq!(mails.len(), 1, "one mail: the verification link");
    assert!(mails[0].raw.contains("Subject: Confirm your email address"));
    let token = gw.mailed_token("ada@example.com", "verify-email").await;
    assert!(e2e::decoded(&mails[0].raw).contains(&format!("{}/verify-email?token={token}", gw.url)));
    let (user, secret) = token.split_once('.').unwrap();
    assert_eq!((user, secret.len()), (ada.user_id.as_str(), 43), "the user's id and 256 random bits");
    let stored = gw.stored_rows().await.join("\n");
    assert!(!stored.contains(secret), "only the secret's hash is stored");
    assert!(stored.contains(&shared::auth::secret::MailToken::parse(&token).unwrap().digest()));

    // Escalation would mail the address: refused, and nothing is written or sent.
    let refused = escalate(&gw, &ada).await;
    problem(refused, 403, "email_unverified").await;
    assert!(gw.ticket_mails().await.is_empty(), "no ticket mail to an unverified address");
    let tickets: Value = gw.get_json(&ada, "/api/escalations").await;
    assert_eq!(tickets["tickets"], json!([]), "no ticket opened");

    // Tokens that were never issued for this user change nothing.
    let bob = gw.register("bob@example.com").await;
    let bobs = gw.mailed_token("bob@example.com", "verify-email").await;
    let bobs_secret_for_ada = format!("{}.{}", ada.user_id, bobs.split_once('.').unwrap().1);
    let mut altered = token.clone().into_bytes();
    let last = altered.len() - 1;
    altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
    for forged in [bobs_secret_for_ada.as_str(), std::str::from_utf8(&altered).unwrap(), secret, "", "junk"] {
        problem(verify(&gw, forged).await, 400, "invalid_verification_token").await;
    }
    assert_eq!(me(&gw, &ada).await["email_verified"], false);
    assert_eq!(me(&gw, &bob).await["email_verified"], false);

    // The real link, opened anywhere (no sign-in needed), once.
    assert_eq!(verify(&gw, &token).await.status(), 204);
    problem(verify(&gw, &token).await, 400, "invalid_verification_token").await;
    for session in [&ada, &other_device] {
        assert_eq!(me(&gw, session).await["email_verified"], true, "every session sees it");
    }
    let login: Value = sign_in(&gw, "ada@example.com", PASSWORD).await.json().await.unwrap();
    assert_eq!(login["user"]["email_verified"], true);
    assert_eq!(escalate(&gw, &other_device).await.status(), 201);
    assert_eq!(gw.ticket_mails().await.len(), 2, "support's and ada's");
}

#[tokio::test]
async fn a_new_verification_link_replaces_the_last_and_resends_are_limited() {
    let gw = TestGateway::start().await;
    let ada = gw.register("ada@example.com").await;
    let first = gw.mailed_token("ada@example.com", "verify-email").await;
    assert_eq!(resend(&gw, &ada).await.status(), 204);
    let second = gw.mailed_token("ada@example.com", "verify-email").await;
    assert_ne!(first, second);
    problem(verify(&gw, &first).await, 400, "invalid_verification_token").await;

    assert_eq!(resend(&gw, &ada).await.status(), 204);
    assert_eq!(resend(&gw, &ada).await.status(), 204);
    let limited = problem(resend(&gw, &ada).await, 429, "rate_limited").await;
    let retry: u64 = limited["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    let mails = gw.mails().await.into_iter().filter(|m| m.to == "ada@example.com").count();
    assert_eq!(mails, 4, "the registration's and three resends: none beyond the allowance");

    let latest = gw.mailed_token("ada@example.com", "verify-email").await;
    assert_eq!(verify(&gw, &latest).await.status(), 204);
    problem(resend(&gw, &ada).await, 409, "already_verified").await;
    let anonymous = gw.http.post(gw.at("/api/auth/email/verification")).send().await.unwrap();
    problem(anonymous, 401, "unauthenticated").await;
}

#[tokio::test]
async fn registrations_are_limited_per_source_address() {
    let gw = TestGateway::start_with(&[("REGISTRATIONS_PER_ADDRESS", "2")]).await;
    gw.register("one@example.com").await;
    gw.register("two@example.com").await;
    let third = json!({ "email": "three@example.com", "password": PASSWORD });
    let headers = problem(gw.post_json("/api/auth/register", &third).await, 429, "rate_limited").await;
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry), "{retry}");
    problem(sign_in(&gw, "three@example.com", PASSWORD).await, 401, "invalid_credentials").await;
    assert!(gw.mails().await.iter().all(|m| m.to != "three@example.com"), "nothing was mailed");
}

#[tokio::test]
async fn a_registration_whose_verification_mail_fails_is_a_503_and_keeps_nothing() {
    let gw = TestGateway::start().await;
    gw.break_mail().await;
    let credentials = json!({ "email": "fail@example.com", "password": PASSWORD });
    let refused = gw.post_json("/api/auth/register", &credentials).await;
    assert!(refused.headers().get("set-cookie").is_none());
    let headers = problem(refused, 503, "unavailable").await;
    assert!(headers.contains_key("retry-after"));
    problem(sign_in(&gw, "fail@example.com", PASSWORD).await, 401, "invalid_credentials").await;
    assert!(gw.stored_rows().await.iter().all(|r| !r.contains("fail@example.com")), "no account kept");

    gw.heal_mail().await;
    assert_eq!(gw.post_json("/api/auth/register", &credentials).await.status(), 201, "trying again works");
}

async fn forgot(gw: &TestGateway, email: &str) -> String {
    let r = gw.post_json("/api/auth/password/forgot", &json!({ "email": email })).await;
    assert_eq!(r.status(), 202);
    gw.mailed_token(email, "reset-password").await
}

async fn reset(gw: &TestGateway, token: &str, password: &str) -> reqwest::Response {
    gw.post_json("/api/auth/password/reset", &json!({ "token": token, "new_password": password })).await
}

#[tokio::test]
async fn only_the_latest_reset_link_works_and_a_change_or_a_deletion_ends_it() {
    let gw = TestGateway::start_with(&[("PASSWORD_RESETS_PER_EMAIL", "10")]).await;
    gw.register("links@example.com").await;
    let older = forgot(&gw, "links@example.com").await;
    let newer = forgot(&gw, "links@example.com").await;
    assert_ne!(older, newer);
    problem(reset(&gw, &older, "a second password").await, 400, "invalid_reset_token").await;
    assert_eq!(reset(&gw, &newer, "a second password").await.status(), 204);
    problem(reset(&gw, &newer, "a third password").await, 400, "invalid_reset_token").await;

    // A password change removes a pending link.
    let account: Value = sign_in(&gw, "links@example.com", "a second password").await.json().await.unwrap();
    let token = account["access_token"].as_str().unwrap().to_owned();
    let pending = forgot(&gw, "links@example.com").await;
    let change = json!({ "current_password": "a second password", "new_password": "a third password" });
    let changed = gw.http.post(gw.at("/api/auth/password/change")).bearer_auth(&token).json(&change).send();
    assert_eq!(changed.await.unwrap().status(), 204);
    problem(reset(&gw, &pending, "a fourth password").await, 400, "invalid_reset_token").await;
    assert_eq!(sign_in(&gw, "links@example.com", "a third password").await.status(), 200);

    // So does deleting the account; a new account with the address is not reachable by it.
    let pending = forgot(&gw, "links@example.com").await;
    let deleted = gw
        .http
        .delete(gw.at("/api/auth/account"))
        .bearer_auth(&token)
        .json(&json!({ "password": "a third password" }))
        .send();
    assert_eq!(deleted.await.unwrap().status(), 204);
    gw.register("links@example.com").await;
    problem(reset(&gw, &pending, "a fourth password").await, 400, "invalid_reset_token").await;
    assert_eq!(sign_in(&gw, "links@example.com", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn a_password_reset_by_mailed_link_verifies_the_address() {
    let gw = TestGateway::start().await;
    let ada = gw.register("ada@example.com").await;
    let verify_link = gw.mailed_token("ada@example.com", "verify-email").await;
    let token = forgot(&gw, "ada@example.com").await;
    assert_eq!(reset(&gw, &token, "a brand new password").await.status(), 204);
    let signed_in: Value =
        sign_in(&gw, "ada@example.com", "a brand new password").await.json().await.unwrap();
    assert_eq!(signed_in["user"]["email_verified"], true, "the reset link proved the address");
    problem(verify(&gw, &verify_link).await, 400, "invalid_verification_token").await;
    assert_eq!(gw.me(&format!("Bearer {}", ada.access_token)).await.status(), 401, "sessions ended");
}
