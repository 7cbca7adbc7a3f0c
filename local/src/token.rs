//! Local tokens: HS256 JWTs signed with a development secret, standing in for Cognito's so the
//! gateway can verify identity the way API Gateway's authorizers do.

use std::collections::HashMap;

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde_json::{Map, Value, json};

/// The secret when `LOCAL_JWT_SECRET` is unset. Local only: the gateway binds to loopback.
pub const DEFAULT_SECRET: &str = "portforge-local-development-secret";
/// The issuer local tokens carry, and the only one the gateway accepts.
pub const ISSUER: &str = "portforge-local-gateway";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is not a JWT")]
    Malformed,
    #[error("token signature does not verify")]
    BadSignature,
    #[error("token has expired")]
    Expired,
    #[error("token was not issued by this gateway")]
    WrongIssuer,
}

/// Claims of a developer token: a user (`sub`), optionally in the ADMIN group, with a name.
pub fn user_claims(user_id: &str, admin: bool, name: Option<&str>, valid_hours: i64) -> Map<String, Value> {
    let now = Utc::now().timestamp();
    let groups = if admin { json!(["ADMIN", "USER"]) } else { json!(["USER"]) };
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(user_id));
    claims.insert("cognito:groups".into(), groups);
    claims.insert("token_use".into(), json!("id"));
    claims.insert("iss".into(), json!(ISSUER));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + valid_hours * 3600));
    if let Some(name) = name {
        claims.insert("nickname".into(), json!(name));
    }
    claims
}

/// A sibling service's app client id, as the subject of its client-credentials token: never a
/// user id (the service would then be taken for that user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceClientId(String);

impl ServiceClientId {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > 128 || !raw.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            return Err("must be 1 to 128 letters, digits, '-', '_' or '.'".into());
        }
        if shared::domain::UserId::parse(raw).is_ok() {
            return Err("must not be a user id (a service's token would pass for that user's)".into());
        }
        Ok(Self(raw.to_owned()))
    }
}

/// Claims of a client-credentials access token as Cognito issues them to a sibling service:
/// the app client as `sub` and `client_id`, its scopes space-separated in `scope`, no groups.
pub fn service_claims(client: &ServiceClientId, scopes: &[String], valid_hours: i64) -> Map<String, Value> {
    let now = Utc::now().timestamp();
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(client.0));
    claims.insert("client_id".into(), json!(client.0));
    claims.insert("token_use".into(), json!("access"));
    claims.insert("scope".into(), json!(scopes.join(" ")));
    claims.insert("iss".into(), json!(ISSUER));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + valid_hours * 3600));
    claims
}

/// The gateway's tokens, checked for a socket's `refresh` as `$connect` checks them.
pub struct LocalTokens {
    secret: std::sync::Arc<[u8]>,
}

impl LocalTokens {
    pub fn new(secret: std::sync::Arc<[u8]>) -> Self {
        Self { secret }
    }
}

#[async_trait::async_trait]
impl shared::ws::TokenVerifier for LocalTokens {
    async fn claims(&self, token: &str) -> Result<HashMap<String, String>, shared::ws::TokenCheckError> {
        verify(&self.secret, token).map_err(|e| shared::ws::TokenCheckError::Rejected(e.to_string()))
    }
}

pub fn mint(secret: &[u8], claims: &Map<String, Value>) -> String {
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret))
        .expect("HS256 signs any claims map")
}

/// Verifies an HS256 token (signature, issuer, and an `exp` that is required and in the
/// future, like API Gateway's JWT authorizer) and returns its claims flattened to strings, as
/// API Gateway passes them to functions (arrays become `[a b]`).
pub fn verify(secret: &[u8], token: &str) -> Result<HashMap<String, String>, TokenError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_required_spec_claims(&["exp", "iss", "sub"]);
    validation.validate_aud = false;
    validation.leeway = 0;
    let decoded =
        jsonwebtoken::decode::<Map<String, Value>>(token.trim(), &DecodingKey::from_secret(secret), &validation)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
                _ => TokenError::Malformed,
            })?;
    Ok(shared::identity::flatten_claims(decoded.claims))
}

#[cfg(test)]
mod tests {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

    use super::*;

    #[test]
    fn minted_tokens_verify_and_flatten_like_api_gateway() {
        let token = mint(b"s3cret", &user_claims("3f2504e0-4f89-11d3-9a0c-0305e82c3301", true, Some("지민"), 1));
        let claims = verify(b"s3cret", &token).unwrap();
        assert_eq!(claims["sub"], "3f2504e0-4f89-11d3-9a0c-0305e82c3301");
        assert_eq!(claims["cognito:groups"], "[ADMIN USER]");
        assert_eq!(claims["nickname"], "지민");
    }

    #[test]
    fn service_tokens_carry_their_client_and_scopes_and_are_no_user() {
        let client = ServiceClientId::parse("ai-service").unwrap();
        let scopes = vec!["portforge-support/chat.read".to_owned(), "x/y".to_owned()];
        let claims = verify(b"s3cret", &mint(b"s3cret", &service_claims(&client, &scopes, 1))).unwrap();
        assert_eq!(claims["sub"], "ai-service");
        assert_eq!(claims["scope"], "portforge-support/chat.read x/y");
        assert!(!claims.contains_key("cognito:groups"));
        let identity = shared::identity::Identity::from_claims(&claims, None).unwrap();
        assert!(identity.has_scope("portforge-support/chat.read") && !identity.is_admin);
        assert!(identity.user_id().is_err());
        for bad in ["", "a b", "3f2504e0-4f89-11d3-9a0c-0305e82c3301", &"x".repeat(129)] {
            assert!(ServiceClientId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tampered_expired_and_foreign_tokens_fail() {
        let token = mint(b"s3cret", &user_claims("u", false, None, 1));
        assert_eq!(verify(b"other", &token), Err(TokenError::BadSignature));
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD
            .encode(r#"{"sub":"u","cognito:groups":["ADMIN"],"iss":"portforge-local-gateway","exp":99999999999}"#);
        parts[1] = &forged;
        assert_eq!(verify(b"s3cret", &parts.join(".")), Err(TokenError::BadSignature));
        let expired = mint(b"s3cret", &user_claims("u", false, None, -1));
        assert_eq!(verify(b"s3cret", &expired), Err(TokenError::Expired));
        assert_eq!(verify(b"s3cret", "abc"), Err(TokenError::Malformed));
        let mut forever = user_claims("u", false, None, 1);
        forever.remove("exp");
        assert_eq!(verify(b"s3cret", &mint(b"s3cret", &forever)), Err(TokenError::Malformed));
        forever.insert("exp".into(), json!("99999999999"));
        assert_eq!(verify(b"s3cret", &mint(b"s3cret", &forever)), Err(TokenError::Malformed));
        let mut foreign = user_claims("u", false, None, 1);
        foreign.insert("iss".into(), json!("someone-else"));
        assert_eq!(verify(b"s3cret", &mint(b"s3cret", &foreign)), Err(TokenError::WrongIssuer));
        let none_alg = format!("{}.{}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#), parts[1]);
        assert_eq!(verify(b"s3cret", &none_alg), Err(TokenError::Malformed));
    }
}
