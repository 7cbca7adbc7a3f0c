//! Lambda binary for the `chat` endpoint group; all logic lives in the shared library.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::serve_http(&[shared::http::CHAT]).await
}
