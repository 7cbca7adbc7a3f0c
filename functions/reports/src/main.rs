//! Lambda binary for reports and moderation (`/reports`, `/admin/reports`, `/admin/projects`):
//! MySQL, the Project and Team services, and live pushes of the notifications decisions send.
//! All logic and wiring live in the shared library; this binary only picks its features.

#[tokio::main]
async fn main() -> Result<(), shared::lambda::StartupError> {
    shared::lambda::serve_http(shared::lambda::reports).await
}
