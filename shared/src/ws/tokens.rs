//! Verifying a token a client sends on an open socket (`refresh`): a port, so the same handler
//! checks Cognito's tokens in AWS and the local gateway's own in a local run.

use std::collections::HashMap;

use async_trait::async_trait;

/// Why a token did not yield claims.
#[derive(Debug, thiserror::Error)]
pub enum TokenCheckError {
    /// Not a valid token of this deployment (signature, issuer, audience, expiry, form).
    #[error("{0}")]
    Rejected(String),
    /// The check could not be made (the keys could not be fetched).
    #[error("token keys unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait TokenVerifier: Send + Sync {
    /// The token's claims, flattened to strings as API Gateway passes them on.
    async fn claims(&self, token: &str) -> Result<HashMap<String, String>, TokenCheckError>;
}

#[cfg(feature = "cognito")]
#[async_trait]
impl TokenVerifier for crate::cognito::CognitoVerifier {
    async fn claims(&self, token: &str) -> Result<HashMap<String, String>, TokenCheckError> {
        use crate::cognito::VerifyError;
        self.verify(token).await.map_err(|e| match e {
            VerifyError::Rejected(why) => TokenCheckError::Rejected(why.to_string()),
            VerifyError::KeysUnavailable(e) => TokenCheckError::Unavailable(e),
        })
    }
}
