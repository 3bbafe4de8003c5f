//! The `escalation` Lambda: wired once, then serves requests.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::runtime::lambda::wire("escalation")
        .await
        .with_keys()
        .await
        .with_reply_key()
        .await
        .with_push()
        .with_mail()
        .serve_http(escalation::Escalation::build)
        .await
}
