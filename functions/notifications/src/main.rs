//! Lambda binary for the `/notifications` group: MySQL, plus the connection rows and the management API for live pushes.
//! All logic and wiring live in the shared library; this binary only picks its features.

#[tokio::main]
async fn main() -> Result<(), shared::lambda::StartupError> {
    shared::lambda::serve_http(shared::lambda::notifications).await
}
