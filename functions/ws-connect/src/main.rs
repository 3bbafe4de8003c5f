//! The `ws-connect` Lambda: the WebSocket API's events arrive whole through `lambda_runtime`
//! (keeping `routeKey` and `connectionId`, which `lambda_http` would drop).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::runtime::lambda::wire("ws-connect")
        .await
        .with_keys()
        .await
        .serve_events(ws_connect::WsConnect::build)
        .await
}
