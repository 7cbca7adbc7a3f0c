//! Lambda binary for the WebSocket API's message routes (`$default`, `sendMessage`, `ping`, `history`): DynamoDB and the management API.
//! All logic and wiring live in the shared library; this binary only picks its features.

#[tokio::main]
async fn main() -> Result<(), shared::lambda::StartupError> {
    shared::lambda::serve_ws(shared::lambda::ws_message).await
}
