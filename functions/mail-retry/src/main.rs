//! The `mail-retry` Lambda, invoked by a schedule: wired once, then runs on each event.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::runtime::lambda::wire("mail-retry")
        .await
        .with_push()
        .with_mail()
        .serve_events(mail_retry::MailRetry::build)
        .await
}
