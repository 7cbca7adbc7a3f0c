//! Who may take part in a project's chat: the members of the project's team, as the Team service
//! says in one call (`GET /api/v1/teams/by-project/{project_id}`, the team with its members),
//! cached for a short time per cold start. Administrators may read and post in any chat, as
//! themselves. When the Team service cannot answer, the check fails closed.

use std::{
    collections::{HashMap, HashSet},
    hash::Hash,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::time::Instant;

use crate::domain::{ProjectId, TeamId, UserId};
use crate::error::{AppError, AppResult};
use crate::identity::Identity;
use crate::siblings::{CallContext, ProjectDirectory, SiblingError, TeamDirectory};

/// Why a caller may take part in a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatAccess {
    Member,
    /// An administrator who is not a member: reads any chat and posts as themselves.
    Administrator,
}

/// Entries kept at most: a function sees a few projects between cold starts.
const CACHE_CAPACITY: usize = 10_000;

/// Answers remembered until they expire. A map behind a lock: a handful of entries per cold
/// start, so a cache crate would add more code to every chat function than this does.
struct TtlCache<K, V> {
    entries: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    fn new() -> Self {
        Self { entries: Mutex::new(HashMap::new()) }
    }

    fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get(key).filter(|(_, until)| Instant::now() < *until).map(|(value, _)| value.clone())
    }

    /// Keeps `value` for `ttl` (not at all for zero).
    fn put(&self, key: K, value: V, ttl: Duration) {
        if ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= CACHE_CAPACITY {
            let now = Instant::now();
            entries.retain(|_, (_, until)| now < *until);
            if entries.len() >= CACHE_CAPACITY {
                entries.clear();
            }
        }
        entries.insert(key, (value, Instant::now() + ttl));
    }
}

/// How long "this project has no team" is believed at most: a team is formed when a project's
/// recruiting ends, and its members must not wait out the whole membership cache to get in.
pub const NO_TEAM_CACHE_MAX: Duration = Duration::from_secs(5);

/// A project's team as the membership check needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ProjectTeam {
    Team {
        members: Arc<HashSet<UserId>>,
    },
    /// The Team service knows no team for the project (it may not exist): nobody is a member.
    NoTeam,
}

#[derive(Clone)]
pub struct Membership {
    projects: Arc<dyn ProjectDirectory>,
    teams: Arc<dyn TeamDirectory>,
    project_teams: Arc<TtlCache<ProjectId, ProjectTeam>>,
    /// How long a team's members are trusted.
    ttl: Duration,
}

impl Membership {
    /// `ttl`: how long an answer is trusted; a member removed from a team loses access within it.
    pub fn new(projects: Arc<dyn ProjectDirectory>, teams: Arc<dyn TeamDirectory>, ttl: Duration) -> Self {
        Self { projects, teams, project_teams: Arc::new(TtlCache::new()), ttl }
    }

    /// The project's team and members: one call to the Team service, then the cache.
    async fn project_team(&self, project: ProjectId, ctx: &CallContext) -> AppResult<ProjectTeam> {
        if let Some(known) = self.project_teams.get(&project) {
            return Ok(known);
        }
        let (team, ttl) = match self.teams.team_of_project(project, ctx).await.map_err(fail_closed)? {
            None => (ProjectTeam::NoTeam, self.ttl.min(NO_TEAM_CACHE_MAX)),
            Some(team) => {
                let members = Arc::new(team.members.into_iter().map(|m| m.user_id).collect());
                (ProjectTeam::Team { members }, self.ttl)
            }
        };
        self.project_teams.put(project, team.clone(), ttl);
        Ok(team)
    }

    /// The current members of `project`'s team (none for a project without a team).
    pub async fn project_members(&self, project: ProjectId, ctx: &CallContext) -> AppResult<Arc<HashSet<UserId>>> {
        match self.project_team(project, ctx).await? {
            ProjectTeam::Team { members } => Ok(members),
            ProjectTeam::NoTeam => Ok(Arc::default()),
        }
    }

    /// Whether `user` is in `project`'s team now (within the cache's time).
    pub async fn is_member(&self, project: ProjectId, user: &UserId, ctx: &CallContext) -> AppResult<bool> {
        Ok(self.project_members(project, ctx).await?.contains(user))
    }

    /// The caller's right to take part in `project`'s chat: 403 for someone outside its team
    /// (or when it has none), 503 when that cannot be told. An administrator outside the team is
    /// admitted as one, unless the Project service does not know the project (404): only then
    /// is it asked, so a member's check stays one call.
    pub async fn admit(&self, caller: &Identity, project: ProjectId, ctx: &CallContext) -> AppResult<ChatAccess> {
        let user = caller.user_id()?;
        let team = self.project_team(project, ctx).await?;
        let member = matches!(&team, ProjectTeam::Team { members } if members.contains(&user));
        match (member, caller.is_admin) {
            (true, _) => Ok(ChatAccess::Member),
            (false, true) => {
                if team == ProjectTeam::NoTeam
                    && self.projects.project(project, ctx).await.map_err(fail_closed)?.is_none()
                {
                    return Err(AppError::not_found("project", project));
                }
                Ok(ChatAccess::Administrator)
            }
            (false, false) => Err(AppError::Forbidden("only members of the project's team take part in its chat")),
        }
    }

    /// The project a team works on, from the Team service (404 for a team it does not know).
    pub async fn project_of_team(&self, team: TeamId, ctx: &CallContext) -> AppResult<ProjectId> {
        match self.teams.team(team, ctx).await.map_err(fail_closed)? {
            Some(found) => Ok(found.project_id),
            None => Err(AppError::not_found("team", team)),
        }
    }
}

/// A membership that cannot be told is a refusal: 503 when the sibling is down or failing, 502
/// when it refused the call or answered nonsense; never a silent allow.
fn fail_closed(e: SiblingError) -> AppError {
    tracing::warn!(error = %e, "membership check failed closed");
    e.into()
}
