//! The `ws-ticket` Lambda: wired once, then serves requests.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::runtime::lambda::wire("ws-ticket")
        .await
        .with_keys()
        .await
        .serve_http(ws_ticket::WsTicket::build)
        .await
}
