//! Lambda binary for the WebSocket API's `$disconnect` route: connection rows on DynamoDB.
//! All logic and wiring live in the shared library; this binary only picks its features.

#[tokio::main]
async fn main() -> Result<(), shared::lambda::StartupError> {
    shared::lambda::serve_ws(shared::lambda::ws_disconnect).await
}
