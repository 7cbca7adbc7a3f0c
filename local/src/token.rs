//! Local tokens: HS256 JWTs signed with a development secret, standing in for Cognito's so the
//! gateway can verify identity the way API Gateway's authorizers do.

use std::collections::HashMap;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Utc;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The secret when `LOCAL_JWT_SECRET` is unset. Local only: the gateway binds to loopback.
pub const DEFAULT_SECRET: &str = "portforge-local-development-secret";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is not a JWT")]
    Malformed,
    #[error("token signature does not verify")]
    BadSignature,
    #[error("token has expired")]
    Expired,
}

fn sign(secret: &[u8], signing_input: &str) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(signing_input.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Claims of a developer token: a user (`sub`), optionally in the ADMIN group, with a name.
pub fn user_claims(user_id: &str, admin: bool, name: Option<&str>, valid_hours: i64) -> Map<String, Value> {
    let now = Utc::now().timestamp();
    let groups = if admin { json!(["ADMIN", "USER"]) } else { json!(["USER"]) };
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(user_id));
    claims.insert("cognito:groups".into(), groups);
    claims.insert("token_use".into(), json!("id"));
    claims.insert("iss".into(), json!("portforge-local-gateway"));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + valid_hours * 3600));
    if let Some(name) = name {
        claims.insert("nickname".into(), json!(name));
    }
    claims
}

pub fn mint(secret: &[u8], claims: &Map<String, Value>) -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(Value::Object(claims.clone()).to_string());
    let input = format!("{header}.{payload}");
    let signature = URL_SAFE_NO_PAD.encode(sign(secret, &input));
    format!("{input}.{signature}")
}

/// Verifies an HS256 token and returns its claims flattened to strings, as API Gateway passes
/// them to functions (arrays become `[a b]`).
pub fn verify(secret: &[u8], token: &str) -> Result<HashMap<String, String>, TokenError> {
    let mut parts = token.trim().split('.');
    let (Some(encoded_header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let header: Value = URL_SAFE_NO_PAD
        .decode(encoded_header)
        .ok()
        .and_then(|h| serde_json::from_slice(&h).ok())
        .ok_or(TokenError::Malformed)?;
    if header["alg"] != "HS256" {
        return Err(TokenError::Malformed);
    }
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| TokenError::Malformed)?;
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(format!("{encoded_header}.{payload}").as_bytes());
    mac.verify_slice(&signature).map_err(|_| TokenError::BadSignature)?;
    let claims: Map<String, Value> = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|p| serde_json::from_slice(&p).ok())
        .ok_or(TokenError::Malformed)?;
    // Like API Gateway's JWT authorizer: `exp` is required, an integer, and in the future.
    match claims.get("exp").and_then(Value::as_i64) {
        None => return Err(TokenError::Malformed),
        Some(exp) if exp <= Utc::now().timestamp() => return Err(TokenError::Expired),
        Some(_) => {}
    }
    Ok(shared::identity::flatten_claims(claims))
}

#[cfg(test)]
mod tests {
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
    fn tampered_expired_and_foreign_tokens_fail() {
        let token = mint(b"s3cret", &user_claims("u", false, None, 1));
        assert_eq!(verify(b"other", &token), Err(TokenError::BadSignature));
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(r#"{"sub":"u","cognito:groups":["ADMIN"]}"#);
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
    }
}
