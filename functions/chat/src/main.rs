//! Lambda binary for the `/chat` group: DynamoDB and the management API, no SQL.
//! All logic and wiring live in the shared library; this binary only picks its features.

#[tokio::main]
async fn main() -> Result<(), shared::lambda::StartupError> {
    shared::lambda::serve_http(shared::lambda::chat).await
}
