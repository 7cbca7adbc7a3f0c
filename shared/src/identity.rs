//! Who is calling: built only from verified JWT claims (the API Gateway authorizer's output),
//! never from a body or query parameter.

use std::collections::HashMap;

use crate::domain::UserId;
use crate::error::{AppError, AppResult};

pub const ADMIN_ROLE: &str = "ADMIN";

/// Claims as API Gateway hands them to functions: every value a string, arrays as `[a b]`.
pub fn flatten_claims(claims: serde_json::Map<String, serde_json::Value>) -> HashMap<String, String> {
    use serde_json::Value;
    claims
        .into_iter()
        .map(|(k, v)| {
            let flat = match v {
                Value::String(s) => s,
                Value::Array(items) => {
                    let items: Vec<String> =
                        items.iter().map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned)).collect();
                    format!("[{}]", items.join(" "))
                }
                other => other.to_string(),
            };
            (k, flat)
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The token's `sub`: a user's Cognito UUID, or a client id for service tokens.
    pub subject: String,
    pub is_admin: bool,
    /// OAuth scopes of the token (client-credentials tokens of sibling services carry these).
    pub scopes: Vec<String>,
    /// A name to show with the user's chat messages, from the token's name claims.
    pub display_name: Option<String>,
    /// When the token expires (`exp`), where the claims say: an open socket lives no longer.
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Splits a claim API Gateway flattened to a string: `[ADMIN USER]`, `["ADMIN","USER"]` or `ADMIN,USER`.
fn claim_list(raw: &str) -> impl Iterator<Item = &str> {
    raw.split(|c: char| c == '[' || c == ']' || c == '"' || c == ',' || c.is_whitespace()).filter(|s| !s.is_empty())
}

impl Identity {
    /// `None` when the claims carry no subject: the request is anonymous.
    pub fn from_claims(claims: &HashMap<String, String>, scopes: Option<&[String]>) -> Option<Self> {
        let subject = claims.get("sub").map(|s| s.trim()).filter(|s| !s.is_empty())?;
        // Only the user pool's groups grant roles: app clients can write custom attributes
        // (`custom:role`) by default, so a user could grant themselves one.
        let in_admin_group =
            claims.get("cognito:groups").is_some_and(|groups| claim_list(groups).any(|g| g == ADMIN_ROLE));
        let scopes = match scopes {
            Some(list) if !list.is_empty() => list.to_vec(),
            _ => claims.get("scope").map(|s| s.split_whitespace().map(str::to_owned).collect()).unwrap_or_default(),
        };
        let display_name = ["nickname", "name", "preferred_username", "cognito:username"]
            .iter()
            .filter_map(|claim| claims.get(*claim))
            .map(|name| name.trim())
            .find(|name| !name.is_empty())
            .map(str::to_owned);
        let expires_at = claims
            .get("exp")
            .and_then(|exp| exp.trim().parse::<i64>().ok())
            .and_then(|seconds| chrono::DateTime::from_timestamp(seconds, 0));
        Some(Self { subject: subject.to_owned(), is_admin: in_admin_group, scopes, display_name, expires_at })
    }

    /// The caller as a PortForge user; a service token (whose subject is a client id) is refused.
    pub fn user_id(&self) -> AppResult<UserId> {
        UserId::parse(&self.subject).map_err(|_| AppError::Forbidden("this route is for signed-in users"))
    }

    /// The caller as an administrator, or 403.
    pub fn into_admin(self) -> AppResult<Admin> {
        if self.is_admin { Ok(Admin(self)) } else { Err(AppError::Forbidden("administrator role required")) }
    }

    /// The name chat shows for this caller: a name claim, else a short form of the user id.
    pub fn chat_name(&self) -> String {
        self.display_name
            .clone()
            .unwrap_or_else(|| format!("user-{}", self.subject.chars().take(8).collect::<String>()))
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// Proof that the caller holds the ADMIN role: every admin-only service method takes one, so no
/// route can reach such a method without the check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin(Identity);

impl Admin {
    pub fn identity(&self) -> &Identity {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn admin_only_from_the_pools_groups() {
        let sub = ("sub", "3f2504e0-4f89-11d3-9a0c-0305e82c3301");
        for extra in [("cognito:groups", "[ADMIN USER]"), ("cognito:groups", r#"["USER","ADMIN"]"#)] {
            assert!(Identity::from_claims(&claims(&[sub, extra]), None).unwrap().is_admin, "{extra:?}");
        }
        // Attributes a user may be able to write grant nothing.
        for extra in [("cognito:groups", "[ADMINS]"), ("role", "ADMIN"), ("custom:role", "ADMIN"), ("scope", "ADMIN")] {
            assert!(!Identity::from_claims(&claims(&[sub, extra]), None).unwrap().is_admin, "{extra:?}");
        }
    }

    #[test]
    fn no_subject_is_anonymous_and_service_tokens_are_not_users() {
        assert!(Identity::from_claims(&claims(&[("role", "ADMIN")]), None).is_none());
        let service = Identity::from_claims(&claims(&[("sub", "6k2p0clientid"), ("scope", "a b")]), None).unwrap();
        assert!(service.has_scope("b"));
        assert!(matches!(service.user_id(), Err(AppError::Forbidden(_))));
    }
}
