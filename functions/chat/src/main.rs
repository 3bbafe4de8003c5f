//! The `chat` Lambda: wired once (the knowledge base indexed at init), then serves requests.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::runtime::lambda::wire("chat")
        .await
        .with_keys()
        .await
        .with_reply_key()
        .await
        .with_push()
        .serve_http(chat::Chat::build)
        .await
}
