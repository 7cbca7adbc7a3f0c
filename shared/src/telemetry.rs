//! Logging setup shared by every binary.

/// Lambda: the runtime's subscriber, JSON when the function's log format is JSON (the template
/// sets it), with the request id on every line through the runtime's invocation span.
pub fn init_lambda() {
    lambda_http::tracing::init_default_subscriber();
}

/// Local runs: human-readable lines, `RUST_LOG` to tune (default `info`).
pub fn init_local() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
}
