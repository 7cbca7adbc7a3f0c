//! Who may take part in a project's chat: the members of the project's team, as the sibling
//! services say (the project's team from the Project service, the team's members from the Team
//! service), cached for a short time per cold start. Administrators may read and post in any
//! chat, as themselves. When the sibling services cannot answer, the check fails closed.

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
    ttl: Duration,
    entries: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    fn new(ttl: Duration) -> Self {
        Self { ttl, entries: Mutex::new(HashMap::new()) }
    }

    fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get(key).filter(|(_, at)| at.elapsed() < self.ttl).map(|(value, _)| value.clone())
    }

    fn put(&self, key: K, value: V) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= CACHE_CAPACITY {
            let ttl = self.ttl;
            entries.retain(|_, (_, at)| at.elapsed() < ttl);
            if entries.len() >= CACHE_CAPACITY {
                entries.clear();
            }
        }
        entries.insert(key, (value, Instant::now()));
    }
}

/// A project as the membership check needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ProjectTeam {
    Team(TeamId),
    /// The project exists but has no team yet: nobody is a member.
    NoTeam,
    /// The Project service does not know the project.
    Unknown,
}

#[derive(Clone)]
pub struct Membership {
    projects: Arc<dyn ProjectDirectory>,
    teams: Arc<dyn TeamDirectory>,
    project_teams: Arc<TtlCache<ProjectId, ProjectTeam>>,
    team_members: Arc<TtlCache<TeamId, Arc<HashSet<UserId>>>>,
}

impl Membership {
    /// `ttl`: how long an answer is trusted; a member removed from a team loses access within it.
    pub fn new(projects: Arc<dyn ProjectDirectory>, teams: Arc<dyn TeamDirectory>, ttl: Duration) -> Self {
        Self {
            projects,
            teams,
            project_teams: Arc::new(TtlCache::new(ttl)),
            team_members: Arc::new(TtlCache::new(ttl)),
        }
    }

    async fn project_team(&self, project: ProjectId, ctx: &CallContext) -> Result<ProjectTeam, SiblingError> {
        if let Some(known) = self.project_teams.get(&project) {
            return Ok(known);
        }
        let team = match self.projects.project(project, ctx).await? {
            None => ProjectTeam::Unknown,
            Some(info) => info.team_id.map_or(ProjectTeam::NoTeam, ProjectTeam::Team),
        };
        self.project_teams.put(project, team.clone());
        Ok(team)
    }

    /// The members of `team`, as a set of users.
    pub async fn team_members(&self, team: TeamId, ctx: &CallContext) -> Result<Arc<HashSet<UserId>>, SiblingError> {
        if let Some(known) = self.team_members.get(&team) {
            return Ok(known);
        }
        let members: HashSet<UserId> =
            self.teams.members(team, ctx).await?.unwrap_or_default().into_iter().map(|m| m.user_id).collect();
        let members = Arc::new(members);
        self.team_members.put(team, members.clone());
        Ok(members)
    }

    /// The current members of `project`'s team (none for an unknown project or one without a team).
    pub async fn project_members(&self, project: ProjectId, ctx: &CallContext) -> AppResult<Arc<HashSet<UserId>>> {
        match self.project_team(project, ctx).await.map_err(fail_closed)? {
            ProjectTeam::Team(team) => self.team_members(team, ctx).await.map_err(fail_closed),
            ProjectTeam::NoTeam | ProjectTeam::Unknown => Ok(Arc::default()),
        }
    }

    /// Whether `user` is in `project`'s team now (within the cache's time).
    pub async fn is_member(&self, project: ProjectId, user: &UserId, ctx: &CallContext) -> AppResult<bool> {
        Ok(self.project_members(project, ctx).await?.contains(user))
    }

    /// The caller's right to take part in `project`'s chat: 404 for a project the Project
    /// service does not know, 403 for someone outside its team, 503 when that cannot be told.
    pub async fn admit(&self, caller: &Identity, project: ProjectId, ctx: &CallContext) -> AppResult<ChatAccess> {
        let user = caller.user_id()?;
        let team = self.project_team(project, ctx).await.map_err(fail_closed)?;
        let member = match team {
            ProjectTeam::Unknown => return Err(AppError::not_found("project", project)),
            ProjectTeam::NoTeam => false,
            ProjectTeam::Team(team) => self.team_members(team, ctx).await.map_err(fail_closed)?.contains(&user),
        };
        match (member, caller.is_admin) {
            (true, _) => Ok(ChatAccess::Member),
            (false, true) => Ok(ChatAccess::Administrator),
            (false, false) => Err(AppError::Forbidden("only members of the project's team take part in its chat")),
        }
    }

    /// The project's team, for the web app's routes, whose paths name both: 404 when `team` is
    /// not the project's.
    pub async fn check_team(&self, project: ProjectId, team: TeamId, ctx: &CallContext) -> AppResult<()> {
        match self.project_team(project, ctx).await.map_err(fail_closed)? {
            ProjectTeam::Team(actual) if actual == team => Ok(()),
            ProjectTeam::Unknown => Err(AppError::not_found("project", project)),
            _ => Err(AppError::NotFound(format!("project {project} of team {team}"))),
        }
    }
}

/// A membership that cannot be told is a refusal: 503 when the sibling did not answer, 502 when
/// it answered nonsense; never a silent allow.
fn fail_closed(e: SiblingError) -> AppError {
    tracing::warn!(error = %e, "membership check failed closed");
    e.into()
}
