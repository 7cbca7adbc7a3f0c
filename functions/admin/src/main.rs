//! Lambda binary for the `admin` endpoint group; all logic lives in the shared library.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::serve_http(&[shared::http::ADMIN]).await
}
