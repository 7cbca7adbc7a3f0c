//! Lambda binary for notices and banners (`/notices`, `/banners`) and the service-wide `/health`: MySQL only.
//! All logic and wiring live in the shared library; this binary only picks its features.

#[tokio::main]
async fn main() -> Result<(), shared::lambda::StartupError> {
    shared::lambda::serve_http(shared::lambda::content).await
}
