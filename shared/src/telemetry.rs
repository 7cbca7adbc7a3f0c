//! Logging setup of the Lambda binaries.

/// The runtime's subscriber, JSON when the function's log format is JSON (the template sets it),
/// with the request id on every line through the runtime's invocation span.
pub fn init_lambda() {
    lambda_runtime::tracing::init_default_subscriber();
}
