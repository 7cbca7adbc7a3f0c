//! The whole of an HTTP Lambda binary: read config, build state once per cold start, serve.

use crate::http::{Group, router};

/// Runs `groups` behind API Gateway until the Lambda runtime stops the process.
pub async fn serve_http(groups: &[Group]) -> Result<(), lambda_http::Error> {
    crate::telemetry::init_lambda();
    let config = crate::Config::from_env()?;
    let database = config.require_database()?;
    let state = crate::build_state(config, &database)?;
    lambda_http::run(router(groups, state)).await
}
