//! Lambda binary for the `/admin` group (notices and banners management): MySQL only.
//! All logic and wiring live in the shared library; this binary only picks its features.

#[tokio::main]
async fn main() -> Result<(), shared::lambda::StartupError> {
    shared::lambda::serve_http(shared::lambda::admin).await
}
