//! The sibling services this one calls, as ports: the Project service (a project's title and
//! team; deleting a project) and the Team service (a team's members). With the `siblings`
//! feature, [`client::SiblingClient`] implements both over HTTP.

#[cfg(feature = "siblings")]
pub mod client;

use async_trait::async_trait;

use crate::domain::{ProjectId, TeamId, UserId};
use crate::error::AppError;

/// What the Project service says about a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectInfo {
    pub project_id: ProjectId,
    pub title: String,
    /// The team working on it; a project without one has no members yet.
    pub team_id: Option<TeamId>,
}

/// A member of a team, as the Team service lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamMember {
    pub user_id: UserId,
    /// The Team service's role name, e.g. `LEADER` or `MEMBER` (compared case-insensitively:
    /// it has answered both `LEADER` and `Leader`).
    pub role: String,
}

impl TeamMember {
    pub fn is_leader(&self) -> bool {
        self.role.trim().eq_ignore_ascii_case("LEADER")
    }
}

/// How a delete ended, when the Project service answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    Deleted,
    /// The project does not exist (any more).
    NotFound,
}

/// Why a call to a sibling service brought no usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SiblingError {
    /// It answered with an error status (other than 404, which is "not found").
    #[error("the {service} answered HTTP {status}")]
    Refused { service: &'static str, status: u16 },
    /// It did not answer in time: refused connection, timeout, broken stream.
    #[error("the {service} did not answer: {detail}")]
    Unreachable { service: &'static str, detail: String },
    /// It answered 2xx with a body that does not follow the contract (README, "Sibling services").
    #[error("the {service} sent an answer this service cannot read: {detail}")]
    Malformed { service: &'static str, detail: String },
    /// This function has no address for it (a deployment error).
    #[error("the {service} is not configured ({variable})")]
    NotConfigured { service: &'static str, variable: &'static str },
}

#[cfg(feature = "secrets")]
impl From<crate::secrets::SecretError> for SiblingError {
    fn from(e: crate::secrets::SecretError) -> Self {
        use crate::secrets::SecretError;
        const EXTENSION: &str = "Secrets Manager (Lambda extension)";
        match e {
            SecretError::Unreachable(detail) => Self::Unreachable { service: EXTENSION, detail },
            SecretError::Refused(status) => Self::Refused { service: EXTENSION, status },
            SecretError::Malformed(detail) => Self::Malformed { service: EXTENSION, detail },
        }
    }
}

impl SiblingError {
    pub fn service(&self) -> &'static str {
        match self {
            Self::Refused { service, .. }
            | Self::Unreachable { service, .. }
            | Self::Malformed { service, .. }
            | Self::NotConfigured { service, .. } => service,
        }
    }
}

/// A sibling that said no, or sent nonsense, is a bad gateway (502); one that did not answer
/// (or cannot be reached from here) is unavailable (503). Never a reply that pretends it worked.
impl From<SiblingError> for AppError {
    fn from(e: SiblingError) -> Self {
        match &e {
            SiblingError::Refused { .. } | SiblingError::Malformed { .. } => Self::BadGateway(e.to_string()),
            SiblingError::Unreachable { service, .. } | SiblingError::NotConfigured { service, .. } => {
                tracing::warn!(error = %e, "sibling service unavailable");
                Self::Unavailable(service)
            }
        }
    }
}

/// What a call carries along: the id of the request that caused it, so the sibling's logs can
/// be joined with ours (`X-Request-Id`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallContext {
    pub request_id: Option<String>,
}

#[async_trait]
pub trait ProjectDirectory: Send + Sync {
    /// `GET /projects/{id}/basic`; `None` on 404.
    async fn project(&self, id: ProjectId, ctx: &CallContext) -> Result<Option<ProjectInfo>, SiblingError>;
    /// `DELETE /projects/{id}`. Never retried: a retry of a delete that went through would
    /// read "not found".
    async fn delete_project(&self, id: ProjectId, ctx: &CallContext) -> Result<Deletion, SiblingError>;
}

#[async_trait]
pub trait TeamDirectory: Send + Sync {
    /// `GET /teams/{id}/members`; `None` on 404.
    async fn members(&self, team: TeamId, ctx: &CallContext) -> Result<Option<Vec<TeamMember>>, SiblingError>;
}

pub const PROJECT_SERVICE: &str = "Project service";
pub const TEAM_SERVICE: &str = "Team service";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaders_are_found_whatever_the_case() {
        let user = UserId::parse("3f2504e0-4f89-11d3-9a0c-0305e82c3301").unwrap();
        for role in ["LEADER", "Leader", " leader "] {
            assert!(TeamMember { user_id: user.clone(), role: role.into() }.is_leader(), "{role}");
        }
        assert!(!TeamMember { user_id: user, role: "MEMBER".into() }.is_leader());
    }

    #[test]
    fn errors_map_to_honest_statuses() {
        let refused = SiblingError::Refused { service: PROJECT_SERVICE, status: 500 };
        assert_eq!(AppError::from(refused).status().as_u16(), 502);
        let down = SiblingError::Unreachable { service: TEAM_SERVICE, detail: "timed out".into() };
        assert_eq!(AppError::from(down).status().as_u16(), 503);
    }
}
