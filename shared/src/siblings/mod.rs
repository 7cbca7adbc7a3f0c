//! The sibling services this one calls, as ports: the Project service (a project's title;
//! deleting a project) and the Team service (a project's team with its members and their roles;
//! a team by its own id). With the `siblings` feature, [`client::SiblingClient`] implements both
//! over HTTP, against the routes and bodies PortForge's services really serve (README, "Sibling
//! services").

#[cfg(feature = "siblings")]
pub mod client;

use async_trait::async_trait;

use crate::domain::{ProjectId, TeamId, UserId};
use crate::error::AppError;

/// What the Project service says about a project (it knows nothing of teams).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectInfo {
    pub project_id: ProjectId,
    pub title: String,
}

/// A project's team as the Team service holds it. Its id is the Team service's own
/// (auto-increment) and in general differs from the project's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub team_id: TeamId,
    pub project_id: ProjectId,
    pub members: Vec<TeamMember>,
}

impl Team {
    /// The member whose role is `LEADER` (the Team service keeps one per team).
    pub fn leader(&self) -> Option<&UserId> {
        self.members.iter().find(|m| m.is_leader()).map(|m| &m.user_id)
    }
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

impl SiblingError {
    /// Whether the sibling is failing or out of reach (it may work again by itself), as opposed to
    /// refusing this service's request or answering something it cannot read.
    pub fn is_outage(&self) -> bool {
        match self {
            Self::Unreachable { .. } | Self::NotConfigured { .. } => true,
            Self::Refused { status, .. } => *status >= 500,
            Self::Malformed { .. } => false,
        }
    }
}

/// A sibling that is down, failing (5xx) or out of reach is unavailable (503); one that refused
/// the call (4xx) or sent nonsense is a bad gateway (502). Never a reply that pretends it worked.
impl From<SiblingError> for AppError {
    fn from(e: SiblingError) -> Self {
        if e.is_outage() {
            tracing::warn!(error = %e, "sibling service unavailable");
            Self::Unavailable(e.service())
        } else {
            Self::BadGateway(e.to_string())
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
    /// `GET /projects/{id}/basic` (title, description, status, dates); `None` on 404.
    async fn project(&self, id: ProjectId, ctx: &CallContext) -> Result<Option<ProjectInfo>, SiblingError>;
    /// `DELETE /projects/{id}`. Never retried: a retry of a delete that went through would
    /// read "not found".
    async fn delete_project(&self, id: ProjectId, ctx: &CallContext) -> Result<Deletion, SiblingError>;
}

#[async_trait]
pub trait TeamDirectory: Send + Sync {
    /// `GET /api/v1/teams/by-project/{project_id}`: the project's team and its members with their
    /// roles; `None` when the project has no team (the Team service's 200 `{"status": "error",
    /// "data": null}`, or 404).
    async fn team_of_project(&self, project: ProjectId, ctx: &CallContext) -> Result<Option<Team>, SiblingError>;
    /// `GET /api/v1/teams/team/{team_id}`; `None` on 404.
    async fn team(&self, team: TeamId, ctx: &CallContext) -> Result<Option<Team>, SiblingError>;
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
        let status = |e: SiblingError| AppError::from(e).status().as_u16();
        assert_eq!(status(SiblingError::Refused { service: TEAM_SERVICE, status: 500 }), 503);
        assert_eq!(status(SiblingError::Refused { service: PROJECT_SERVICE, status: 503 }), 503);
        assert_eq!(status(SiblingError::Refused { service: PROJECT_SERVICE, status: 403 }), 502);
        assert_eq!(status(SiblingError::Malformed { service: TEAM_SERVICE, detail: "x".into() }), 502);
        assert_eq!(status(SiblingError::Unreachable { service: TEAM_SERVICE, detail: "timed out".into() }), 503);
    }

    #[test]
    fn a_team_names_its_leader() {
        let user = |raw: &str| UserId::parse(raw).unwrap();
        let member = |raw: &str, role: &str| TeamMember { user_id: user(raw), role: role.into() };
        let team = Team {
            team_id: TeamId::new(31).unwrap(),
            project_id: ProjectId::new(7).unwrap(),
            members: vec![
                member("3f2504e0-4f89-11d3-9a0c-0305e82c3301", "MEMBER"),
                member("9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d", "LEADER"),
            ],
        };
        assert_eq!(team.leader(), Some(&user("9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d")));
        assert_eq!(Team { members: vec![], ..team }.leader(), None);
    }
}
