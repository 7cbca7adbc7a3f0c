//! Verifies Cognito-issued JWTs (RS256, keys from the pool's JWKS) for the WebSocket API's
//! `$connect` authorizer: WebSocket APIs take no JWT authorizer, so a Lambda one does the work.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header, jwk::JwkSet};
use serde_json::{Map, Value};
use tokio::sync::RwLock;

use crate::config::{Config, ConfigError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejected {
    #[error("token is malformed")]
    Malformed,
    #[error("token is signed by an unknown key")]
    UnknownKey,
    #[error("token failed verification: {0}")]
    Invalid(String),
    #[error("token was not issued to this application")]
    WrongAudience,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Rejected(#[from] TokenRejected),
    /// The key set could not be fetched: the caller is not refused, the check failed.
    #[error("JWKS unavailable: {0}")]
    KeysUnavailable(String),
}

/// Do not refetch the key set more often than this when a token names an unknown key.
const REFRESH_FLOOR: Duration = Duration::from_secs(60);

struct Keys {
    by_kid: HashMap<String, DecodingKey>,
    fetched_at: Option<Instant>,
}

pub struct CognitoVerifier {
    issuer: String,
    jwks_url: String,
    audiences: Vec<String>,
    http: reqwest::Client,
    keys: RwLock<Keys>,
    /// Keys older than this are fetched again before use, so a key the pool withdrew stops
    /// being trusted within this time (`COGNITO_JWKS_MAX_AGE_SECONDS`, an hour).
    max_age: Duration,
}

impl CognitoVerifier {
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        let pool = config.cognito_user_pool_id.as_deref();
        let issuer = match (&config.cognito_issuer, pool) {
            (Some(issuer), _) => issuer.clone(),
            (None, Some(pool)) => format!("https://cognito-idp.{}.amazonaws.com/{pool}", config.aws_region),
            (None, None) => {
                return Err(ConfigError { name: "COGNITO_USER_POOL_ID", problem: "is required".into() });
            }
        };
        if config.cognito_audiences.is_empty() {
            return Err(ConfigError {
                name: "COGNITO_AUDIENCES",
                problem: "must list at least one app client id".into(),
            });
        }
        let jwks_url = config.cognito_jwks_url.clone().unwrap_or_else(|| format!("{issuer}/.well-known/jwks.json"));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .build()
            .map_err(|e| ConfigError { name: "COGNITO_JWKS_URL", problem: format!("HTTP client: {e}") })?;
        Ok(Self {
            issuer,
            jwks_url,
            audiences: config.cognito_audiences.clone(),
            http,
            keys: RwLock::new(Keys { by_kid: HashMap::new(), fetched_at: None }),
            max_age: config.cognito_jwks_max_age,
        })
    }

    async fn key(&self, kid: &str) -> Result<DecodingKey, VerifyError> {
        let current = |keys: &Keys| keys.fetched_at.is_some_and(|at| at.elapsed() < self.max_age);
        {
            let keys = self.keys.read().await;
            if current(&keys) {
                if let Some(key) = keys.by_kid.get(kid) {
                    return Ok(key.clone());
                }
                // An unknown id within the refresh floor is refused under the read lock: a flood
                // of forged ids must not queue every other check behind the write lock.
                if keys.fetched_at.is_some_and(|at| at.elapsed() < REFRESH_FLOOR) {
                    return Err(VerifyError::Rejected(TokenRejected::UnknownKey));
                }
            }
        }
        let mut keys = self.keys.write().await;
        // Too old: fetch again (a failure fails the check, never trusts old keys). An unknown
        // key id: fetch again, at most once a minute, so forged ids cannot flood the pool.
        let stale = !current(&keys);
        let recently = keys.fetched_at.is_some_and(|at| at.elapsed() < REFRESH_FLOOR);
        if stale || (!keys.by_kid.contains_key(kid) && !recently) {
            let set: JwkSet = self
                .http
                .get(&self.jwks_url)
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .map_err(|e| VerifyError::KeysUnavailable(e.to_string()))?
                .json()
                .await
                .map_err(|e| VerifyError::KeysUnavailable(e.to_string()))?;
            keys.by_kid = set
                .keys
                .iter()
                .filter_map(|jwk| Some((jwk.common.key_id.clone()?, DecodingKey::from_jwk(jwk).ok()?)))
                .collect();
            keys.fetched_at = Some(Instant::now());
        }
        keys.by_kid.get(kid).cloned().ok_or(VerifyError::Rejected(TokenRejected::UnknownKey))
    }

    /// The token's claims, flattened to strings as API Gateway passes claims on, once its
    /// signature, issuer, expiry and audience check out.
    pub async fn verify(&self, token: &str) -> Result<HashMap<String, String>, VerifyError> {
        let header = decode_header(token).map_err(|_| TokenRejected::Malformed)?;
        if header.alg != Algorithm::RS256 {
            return Err(TokenRejected::Malformed.into());
        }
        let kid = header.kid.ok_or(TokenRejected::Malformed)?;
        let key = self.key(&kid).await?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        // Cognito ID tokens carry `aud`, access tokens `client_id`: checked below.
        validation.validate_aud = false;
        let claims = decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|e| TokenRejected::Invalid(e.to_string()))?
            .claims;
        let client = match claims.get("token_use").and_then(Value::as_str) {
            Some("id") => claims.get("aud"),
            Some("access") => claims.get("client_id"),
            _ => None,
        };
        if !client.and_then(Value::as_str).is_some_and(|c| self.audiences.iter().any(|a| a == c)) {
            return Err(TokenRejected::WrongAudience.into());
        }
        Ok(crate::identity::flatten_claims(claims))
    }
}
