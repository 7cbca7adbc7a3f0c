//! Lambda binary for the WebSocket API's $disconnect route; all logic lives in the shared library.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::lambda::serve_ws(shared::ws::Route::Disconnect).await
}
