//! Lambda binary for the WebSocket API's `$connect` authorizer; all logic lives in the shared library.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::lambda::serve_ws_authorizer().await
}
