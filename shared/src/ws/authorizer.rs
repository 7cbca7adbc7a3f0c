//! The WebSocket API's `$connect` authorizer (a Lambda REQUEST authorizer): verifies the
//! Cognito token the client passes as `?token=` and hands its claims to `$connect` as context.

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use serde_json::{Value, json};

use crate::cognito::{CognitoVerifier, VerifyError};

/// Why a connection attempt was not allowed.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizerFailure {
    /// API Gateway answers 401 when an authorizer fails with exactly this message.
    #[error("Unauthorized")]
    Unauthorized,
    /// The check itself failed (keys unreachable): an error, never a silent allow or deny.
    #[error("authorizer failed: {0}")]
    Failed(String),
}

/// Allows the connection with the verified claims as context, or refuses it.
pub async fn authorize(
    verifier: &CognitoVerifier,
    event: &ApiGatewayCustomAuthorizerRequestTypeRequest,
) -> Result<Value, AuthorizerFailure> {
    // Only the query string: the authorizer's identity source is `route.request.querystring.token`,
    // so API Gateway refuses a connect without it before this runs (a browser cannot set headers
    // on a WebSocket anyway). The local gateway also takes an Authorization header, for tools.
    let token = event.query_string_parameters.first("token").ok_or(AuthorizerFailure::Unauthorized)?;
    let claims = match verifier.verify(token).await {
        Ok(claims) => claims,
        Err(VerifyError::Rejected(why)) => {
            tracing::info!(reason = %why, "connection refused");
            return Err(AuthorizerFailure::Unauthorized);
        }
        Err(VerifyError::KeysUnavailable(e)) => return Err(AuthorizerFailure::Failed(e)),
    };
    let principal = claims.get("sub").cloned().ok_or(AuthorizerFailure::Unauthorized)?;
    Ok(json!({
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{
                "Action": "execute-api:Invoke",
                "Effect": "Allow",
                "Resource": event.method_arn.clone().unwrap_or_else(|| "*".into()),
            }]
        },
        "context": claims,
    }))
}
