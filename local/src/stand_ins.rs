//! Stand-ins for the Project and Team services, so that reports and the chat membership check
//! run their real code path locally (the HTTP client, its timeouts and parsing) without the
//! sibling services. Projects and memberships live in two tables of the local database, filled by
//! `local-gateway seed` and `local-gateway member`. The gateway serves them under
//! `/_stand-ins/project-service` and `/_stand-ins/team-service` and points `PROJECT_SERVICE_URL`
//! and `TEAM_SERVICE_URL` there unless those are set.

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::json;
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

#[derive(sqlx::FromRow)]
struct ProjectRow {
    title: String,
    team_id: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    user_id: String,
    role: String,
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

    /// Creates or renames a project; its team has the project's id.
    pub async fn put_project(&self, project: ProjectId, title: &str) -> Result<TeamId, StoreError> {
        let team = TeamId::from_stored(project.get());
        self.db
            .execute_atomically(&[
                Statement::new("DELETE FROM local_projects WHERE project_id = ?").bind(project),
                Statement::new("INSERT INTO local_projects (project_id, title, team_id, deleted) VALUES (?, ?, ?, ?)")
                    .bind(project)
                    .bind(title)
                    .bind(team.get())
                    .bind(false),
            ])
            .await?;
        Ok(team)
    }

    /// Makes `user` a member of the project's team with `role` (`LEADER` or `MEMBER`).
    pub async fn put_member(&self, project: ProjectId, user: &UserId, role: &str) -> Result<(), StoreError> {
        let team = TeamId::from_stored(project.get());
        self.db
            .execute_atomically(&[
                Statement::new("DELETE FROM local_team_members WHERE team_id = ? AND user_id = ?")
                    .bind(team.get())
                    .bind(user),
                Statement::new("INSERT INTO local_team_members (team_id, user_id, role) VALUES (?, ?, ?)")
                    .bind(team.get())
                    .bind(user)
                    .bind(role),
            ])
            .await
    }

    pub async fn remove_member(&self, project: ProjectId, user: &UserId) -> Result<bool, StoreError> {
        let done = self
            .db
            .execute(
                &Statement::new("DELETE FROM local_team_members WHERE team_id = ? AND user_id = ?")
                    .bind(project.get())
                    .bind(user),
            )
            .await?;
        Ok(done.rows_affected > 0)
    }

    pub async fn has_project(&self, project: ProjectId) -> Result<bool, StoreError> {
        Ok(self.project(project).await?.is_some())
    }

    async fn project(&self, project: ProjectId) -> Result<Option<ProjectRow>, StoreError> {
        self.db
            .fetch_optional(
                &Statement::new("SELECT title, team_id FROM local_projects WHERE project_id = ? AND deleted = ?")
                    .bind(project)
                    .bind(false),
            )
            .await
    }

    async fn members(&self, team: i64) -> Result<Option<Vec<MemberRow>>, StoreError> {
        let members: Vec<MemberRow> = self
            .db
            .fetch_all(
                &Statement::new("SELECT user_id, role FROM local_team_members WHERE team_id = ? ORDER BY user_id")
                    .bind(team),
            )
            .await?;
        let known = self
            .db
            .fetch_count(&Statement::new("SELECT COUNT(*) FROM local_projects WHERE team_id = ?").bind(team))
            .await?;
        Ok((known > 0 || !members.is_empty()).then_some(members))
    }
}

fn failed(e: StoreError) -> Response {
    tracing::warn!(error = %e, "stand-in failed");
    (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"success": false, "message": "stand-in storage failed"})))
        .into_response()
}

/// `GET /projects/{id}/basic`, in the Project service's envelope.
async fn project_basic(State(directory): State<Directory>, Path(id): Path<String>) -> Response {
    let Ok(project) = ProjectId::parse(&id) else { return StatusCode::NOT_FOUND.into_response() };
    match directory.project(project).await {
        Ok(Some(row)) => Json(json!({
            "success": true,
            "data": {"project_id": project, "title": row.title, "team_id": row.team_id},
        }))
        .into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => failed(e),
    }
}

/// `DELETE /projects/{id}`: 204, or 404 for a project that does not exist (any more).
async fn delete_project(State(directory): State<Directory>, Path(id): Path<String>) -> Response {
    let Ok(project) = ProjectId::parse(&id) else { return StatusCode::NOT_FOUND.into_response() };
    let deleted = directory
        .db
        .execute(
            &Statement::new("UPDATE local_projects SET deleted = ? WHERE project_id = ? AND deleted = ?")
                .bind(true)
                .bind(project)
                .bind(false),
        )
        .await;
    match deleted {
        Ok(done) if done.rows_affected > 0 => StatusCode::NO_CONTENT.into_response(),
        Ok(_) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => failed(e),
    }
}

/// `GET /teams/{id}/members`: `[{"user_id", "role"}]`, or 404 for a team nobody has.
async fn team_members(State(directory): State<Directory>, Path(id): Path<String>) -> Response {
    let Ok(team) = TeamId::parse(&id) else { return StatusCode::NOT_FOUND.into_response() };
    match directory.members(team.get()).await {
        Ok(Some(members)) => {
            let list: Vec<_> = members.iter().map(|m| json!({"user_id": m.user_id, "role": m.role})).collect();
            Json(json!({"success": true, "data": list})).into_response()
        }
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => failed(e),
    }
}

pub fn routes(directory: Directory) -> Router {
    Router::new()
        .route(&format!("{PROJECT_SERVICE_PATH}/projects/{{id}}/basic"), get(project_basic))
        .route(&format!("{PROJECT_SERVICE_PATH}/projects/{{id}}"), axum::routing::delete(delete_project))
        .route(&format!("{TEAM_SERVICE_PATH}/teams/{{id}}/members"), get(team_members))
        .with_state(directory)
}
