//! Lambda binary for the deploy's migration step: CloudFormation invokes it through a custom
//! resource when a deploy brings new migrations; operators may invoke it directly.
//! All logic and wiring live in the shared library; this binary only picks its features.

#[tokio::main]
async fn main() -> Result<(), shared::lambda::StartupError> {
    shared::lambda::serve_migrate().await
}
