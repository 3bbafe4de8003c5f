//! The `mail-inbound` Lambda, invoked by an SES receipt rule: wired once, then takes each
//! received message.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::runtime::lambda::wire("mail-inbound")
        .await
        .with_reply_key()
        .await
        .with_push()
        .with_mail()
        .with_received_mail()
        .serve_events(mail_inbound::MailInbound::build)
        .await
}
