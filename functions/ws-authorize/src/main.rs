//! Lambda binary for the WebSocket API's `$connect` authorizer: Cognito token verification only.
//! All logic and wiring live in the shared library; this binary only picks its features.

#[tokio::main]
async fn main() -> Result<(), shared::lambda::StartupError> {
    shared::lambda::serve_ws_authorizer().await
}
