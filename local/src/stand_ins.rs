//! Stand-ins for the Project and Team services, so that reports and the chat membership check
//! run their real code path locally (the HTTP client, its timeouts and parsing) without the
//! sibling services. They answer the routes and bodies PortForge's own services serve (its
//! `Project_Service/` and `Team-BE/`), soft errors included, so what works here works there.
//! Projects, their teams and the teams' members live in two tables of the local database, filled
//! by `local-gateway seed` and `local-gateway member`. A team gets its own id, as the Team
//! service's auto-increment gives it (the first is 101), so team ids drift from project ids the
//! way they do in PortForge. The gateway serves them under `/_stand-ins/project-service` and
//! `/_stand-ins/team-service` and points `PROJECT_SERVICE_URL` and `TEAM_SERVICE_URL` there
//! unless those are set.

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::{Value, json};
use shared::{
    domain::{ProjectId, TeamId, UserId},
    store::{
        StoreError,
        sql::{SqlDb, Statement},
    },
};

pub const PROJECT_SERVICE_PATH: &str = "/_stand-ins/project-service";
pub const TEAM_SERVICE_PATH: &str = "/_stand-ins/team-service";

/// The tables the stand-ins answer from (local runs only; both engines take this SQL).
const SCHEMA: [&str; 2] = [
    "CREATE TABLE IF NOT EXISTS local_projects (
        project_id BIGINT NOT NULL PRIMARY KEY,
        title      VARCHAR(200) NOT NULL,
        team_id    BIGINT NULL,
        deleted    BOOLEAN NOT NULL DEFAULT FALSE
    )",
    "CREATE TABLE IF NOT EXISTS local_team_members (
        team_id BIGINT NOT NULL,
        user_id VARCHAR(64) NOT NULL,
        role    VARCHAR(16) NOT NULL,
        PRIMARY KEY (team_id, user_id)
    )",
];

/// The Team service numbers teams from 1 in creation order; starting the stand-in's past 100
/// keeps every local team id away from the small project ids a developer types.
const FIRST_TEAM_ID: i64 = 101;

#[derive(sqlx::FromRow)]
struct ProjectRow {
    project_id: i64,
    title: String,
    team_id: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    user_id: String,
    role: String,
}

/// A project's team with its members, as the stand-in holds it.
struct TeamRow {
    team_id: i64,
    project_id: i64,
    members: Vec<MemberRow>,
}

/// The stand-ins' data: projects with their team, and each team's members.
#[derive(Clone)]
pub struct Directory {
    db: Arc<SqlDb>,
}

impl Directory {
    pub async fn open(db: Arc<SqlDb>) -> Result<Self, StoreError> {
        for ddl in SCHEMA {
            db.execute(&Statement::new(ddl)).await?;
        }
        Ok(Self { db })
    }

    /// Creates or renames a project and gives it a team if it has none; returns the team's id.
    pub async fn put_project(&self, project: ProjectId, title: &str) -> Result<TeamId, StoreError> {
        if let Some(row) = self.project(project).await? {
            let team = match row.team_id {
                Some(team) => team,
                None => self.next_team_id().await?,
            };
            self.db
                .execute(
                    &Statement::new("UPDATE local_projects SET title = ?, team_id = ? WHERE project_id = ?")
                        .bind(title)
                        .bind(team)
                        .bind(project),
                )
                .await?;
            return Ok(TeamId::from_stored(team));
        }
        let team = self.next_team_id().await?;
        self.db
            .execute_atomically(&[
                // A project deleted earlier under this id is replaced.
                Statement::new("DELETE FROM local_projects WHERE project_id = ?").bind(project),
                Statement::new("INSERT INTO local_projects (project_id, title, team_id, deleted) VALUES (?, ?, ?, ?)")
                    .bind(project)
                    .bind(title)
                    .bind(team)
                    .bind(false),
            ])
            .await?;
        Ok(TeamId::from_stored(team))
    }

    async fn next_team_id(&self) -> Result<i64, StoreError> {
        let highest =
            self.db.fetch_count(&Statement::new("SELECT COALESCE(MAX(team_id), 0) FROM local_projects")).await?;
        Ok(highest.max(FIRST_TEAM_ID - 1) + 1)
    }

    /// The team of a project (creating the project and its team when unknown).
    async fn team_for(&self, project: ProjectId) -> Result<i64, StoreError> {
        match self.project(project).await? {
            Some(ProjectRow { team_id: Some(team), .. }) => Ok(team),
            Some(row) => Ok(self.put_project(project, &row.title).await?.get()),
            None => Ok(self.put_project(project, &format!("프로젝트 {project}")).await?.get()),
        }
    }

    /// Makes `user` a member of the project's team with `role` (`LEADER` or `MEMBER`); returns
    /// the team's id.
    pub async fn put_member(&self, project: ProjectId, user: &UserId, role: &str) -> Result<TeamId, StoreError> {
        let team = self.team_for(project).await?;
        self.db
            .execute_atomically(&[
                Statement::new("DELETE FROM local_team_members WHERE team_id = ? AND user_id = ?")
                    .bind(team)
                    .bind(user),
                Statement::new("INSERT INTO local_team_members (team_id, user_id, role) VALUES (?, ?, ?)")
                    .bind(team)
                    .bind(user)
                    .bind(role),
            ])
            .await?;
        Ok(TeamId::from_stored(team))
    }

    pub async fn remove_member(&self, project: ProjectId, user: &UserId) -> Result<bool, StoreError> {
        let Some(ProjectRow { team_id: Some(team), .. }) = self.project(project).await? else { return Ok(false) };
        let done = self
            .db
            .execute(
                &Statement::new("DELETE FROM local_team_members WHERE team_id = ? AND user_id = ?")
                    .bind(team)
                    .bind(user),
            )
            .await?;
        Ok(done.rows_affected > 0)
    }

    pub async fn has_project(&self, project: ProjectId) -> Result<bool, StoreError> {
        Ok(self.project(project).await?.is_some())
    }

    /// The id of the project's team, if it has one.
    pub async fn team_of(&self, project: ProjectId) -> Result<Option<TeamId>, StoreError> {
        Ok(self.project(project).await?.and_then(|row| row.team_id).map(TeamId::from_stored))
    }

    async fn project(&self, project: ProjectId) -> Result<Option<ProjectRow>, StoreError> {
        self.db
            .fetch_optional(
                &Statement::new(
                    "SELECT project_id, title, team_id FROM local_projects WHERE project_id = ? AND deleted = ?",
                )
                .bind(project)
                .bind(false),
            )
            .await
    }

    async fn members(&self, team: i64) -> Result<Vec<MemberRow>, StoreError> {
        self.db
            .fetch_all(
                &Statement::new("SELECT user_id, role FROM local_team_members WHERE team_id = ? ORDER BY user_id")
                    .bind(team),
            )
            .await
    }

    async fn team_by_project(&self, project: i64) -> Result<Option<TeamRow>, StoreError> {
        let Some(ProjectRow { team_id: Some(team_id), .. }) = self.project(ProjectId::from_stored(project)).await?
        else {
            return Ok(None);
        };
        Ok(Some(TeamRow { team_id, project_id: project, members: self.members(team_id).await? }))
    }

    async fn team_by_id(&self, team: i64) -> Result<Option<TeamRow>, StoreError> {
        let project: Option<ProjectRow> = self
            .db
            .fetch_optional(
                &Statement::new(
                    "SELECT project_id, title, team_id FROM local_projects WHERE team_id = ? AND deleted = ?",
                )
                .bind(team)
                .bind(false),
            )
            .await?;
        let Some(project) = project else { return Ok(None) };
        Ok(Some(TeamRow { team_id: team, project_id: project.project_id, members: self.members(team).await? }))
    }

    /// Deletes the project and, as the Project service asks the Team service to, its team.
    async fn delete_project(&self, project: ProjectId) -> Result<bool, StoreError> {
        let Some(row) = self.project(project).await? else { return Ok(false) };
        let mut steps = vec![
            Statement::new("UPDATE local_projects SET deleted = ?, team_id = NULL WHERE project_id = ?")
                .bind(true)
                .bind(project),
        ];
        if let Some(team) = row.team_id {
            steps.push(Statement::new("DELETE FROM local_team_members WHERE team_id = ?").bind(team));
        }
        self.db.execute_atomically(&steps).await?;
        Ok(true)
    }
}

/// FastAPI's answer to a path parameter that is not an integer (both services type their ids).
fn not_an_integer(name: &str, raw: &str) -> Response {
    let detail = json!([{"type": "int_parsing", "loc": ["path", name], "msg": "Input should be a valid integer, unable to parse string as an integer", "input": raw}]);
    (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({ "detail": detail }))).into_response()
}

/// FastAPI's `HTTPException`: the status with `{"detail": …}`.
fn detail(status: StatusCode, text: &str) -> Response {
    (status, Json(json!({ "detail": text }))).into_response()
}

fn failed(e: StoreError, what: &str) -> Response {
    tracing::warn!(error = %e, "stand-in failed");
    detail(StatusCode::INTERNAL_SERVER_ERROR, &format!("{what}: {e}"))
}

/// `GET /projects/{id}/basic`: the Project service's bare `ProjectResponse`, or 404
/// `{"detail": "Project not found"}`. The stand-in keeps titles only; the other fields are
/// fixed values of the right types.
async fn project_basic(State(directory): State<Directory>, Path(raw): Path<String>) -> Response {
    let Ok(id) = raw.parse::<i64>() else { return not_an_integer("project_id", &raw) };
    let Ok(project) = ProjectId::new(id) else { return detail(StatusCode::NOT_FOUND, "Project not found") };
    match directory.project(project).await {
        Ok(Some(row)) => Json(json!({
            "project_id": row.project_id,
            "title": row.title,
            "description": format!("{} (로컬 대역)", row.title),
            "status": "PROCEEDING",
            "start_date": "2026-01-05",
            "end_date": "2026-06-30",
        }))
        .into_response(),
        Ok(None) => detail(StatusCode::NOT_FOUND, "Project not found"),
        Err(e) => failed(e, "프로젝트 조회 실패"),
    }
}

/// `DELETE /projects/{id}`: 200 `{"status": "success", "message": …}` (the team goes with it),
/// or 404 `{"detail": "프로젝트를 찾을 수 없습니다."}`.
async fn delete_project(State(directory): State<Directory>, Path(raw): Path<String>) -> Response {
    let Ok(id) = raw.parse::<i64>() else { return not_an_integer("project_id", &raw) };
    let gone = || detail(StatusCode::NOT_FOUND, "프로젝트를 찾을 수 없습니다.");
    let Ok(project) = ProjectId::new(id) else { return gone() };
    match directory.delete_project(project).await {
        Ok(true) => Json(json!({"status": "success", "message": "프로젝트가 삭제되었습니다."})).into_response(),
        Ok(false) => gone(),
        Err(e) => failed(e, "프로젝트 삭제 실패"),
    }
}

/// A team as the Team service writes it; `by_project` adds each member's `updated_at`.
fn team_json(team: &TeamRow, by_project: bool) -> Value {
    let members: Vec<Value> = team
        .members
        .iter()
        .map(|m| {
            let mut member = json!({"user_id": m.user_id, "role": m.role, "position_type": "BACKEND"});
            if by_project {
                member["updated_at"] = Value::Null;
            }
            member
        })
        .collect();
    json!({
        "team_id": team.team_id,
        "project_id": team.project_id,
        "name": format!("프로젝트 {} 개발팀", team.project_id),
        "s3_key": format!("teams/{}/shared_files/", team.project_id),
        "created_at": Value::Null,
        "members": members,
    })
}

/// `GET /api/v1/teams/by-project/{project_id}`: `{"status": "success", "data": team}`, or —
/// still 200 — `{"status": "error", "message": "팀을 찾을 수 없습니다.", "data": null}` when the
/// project has no team; 500 `{"detail": …}` when its storage fails.
async fn team_by_project(State(directory): State<Directory>, Path(raw): Path<String>) -> Response {
    let Ok(id) = raw.parse::<i64>() else { return not_an_integer("project_id", &raw) };
    match directory.team_by_project(id).await {
        Ok(Some(team)) => Json(json!({"status": "success", "data": team_json(&team, true)})).into_response(),
        Ok(None) => Json(json!({"status": "error", "message": "팀을 찾을 수 없습니다.", "data": null})).into_response(),
        Err(e) => failed(e, "팀 조회 실패"),
    }
}

/// `GET /api/v1/teams/team/{team_id}`: the bare team, or 404 `{"detail": "팀을 찾을 수 없습니다."}`.
async fn team_by_id(State(directory): State<Directory>, Path(raw): Path<String>) -> Response {
    let Ok(id) = raw.parse::<i64>() else { return not_an_integer("team_id", &raw) };
    match directory.team_by_id(id).await {
        Ok(Some(team)) => Json(team_json(&team, false)).into_response(),
        Ok(None) => detail(StatusCode::NOT_FOUND, "팀을 찾을 수 없습니다."),
        Err(e) => failed(e, "팀 상세 조회 실패"),
    }
}

pub fn routes(directory: Directory) -> Router {
    let teams = format!("{TEAM_SERVICE_PATH}/api/v1/teams");
    Router::new()
        .route(&format!("{PROJECT_SERVICE_PATH}/projects/{{id}}/basic"), get(project_basic))
        .route(&format!("{PROJECT_SERVICE_PATH}/projects/{{id}}"), axum::routing::delete(delete_project))
        .route(&format!("{teams}/by-project/{{id}}"), get(team_by_project))
        .route(&format!("{teams}/team/{{id}}"), get(team_by_id))
        .with_state(directory)
}
