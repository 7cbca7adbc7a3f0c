//! The Project and Team services over HTTP (reqwest): one client per cold start, a connect and a
//! total timeout on every attempt, bounded jittered retries for reads only, typed answers in the
//! shapes those services really write (tolerating fields they add), the request id passed on, and
//! a bearer token when the service is configured to need one.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};
use reqwest::{Method, StatusCode};

use crate::secrets::SecretSource;
use serde::{Deserialize, de::DeserializeOwned};
use tokio::sync::Mutex;

use super::{
    CallContext, Deletion, PROJECT_SERVICE, ProjectDirectory, ProjectInfo, SiblingError, TEAM_SERVICE, Team,
    TeamDirectory, TeamMember,
};
use crate::config::{Config, ConfigError};
use crate::domain::{ProjectId, TeamId, UserId};

/// Where the sibling services are and how patiently to call them (from [`Config`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiblingSettings {
    pub project_url: Option<String>,
    pub team_url: Option<String>,
    pub connect_timeout: Duration,
    /// Per attempt, connecting included.
    pub timeout: Duration,
    /// Further attempts of a read that failed in a way a retry may cure (no answer, 429, 5xx).
    pub retries: u32,
}

impl SiblingSettings {
    pub fn from_config(config: &Config) -> Self {
        Self {
            project_url: config.project_service_url.clone(),
            team_url: config.team_service_url.clone(),
            connect_timeout: config.sibling_connect_timeout,
            timeout: config.sibling_timeout,
            retries: config.sibling_retries,
        }
    }
}

/// A bearer token for calls to the siblings, or none.
#[async_trait]
pub trait ServiceToken: Send + Sync {
    async fn bearer(&self) -> Result<Option<String>, SiblingError>;
}

/// No token: siblings that trust their private network, and the local gateway's stand-ins.
pub struct NoServiceToken;

#[async_trait]
impl ServiceToken for NoServiceToken {
    async fn bearer(&self) -> Result<Option<String>, SiblingError> {
        Ok(None)
    }
}

const TOKEN_ENDPOINT: &str = "token endpoint";

/// This service's own access token from the Cognito app client it owns (OAuth client
/// credentials), cached until a minute before it expires. The client secret comes from Secrets
/// Manager and is read once per cold start.
pub struct ClientCredentials {
    http: reqwest::Client,
    token_url: String,
    client_id: String,
    secret: SecretSource,
    scopes: String,
    cached: Mutex<Option<(String, tokio::time::Instant)>>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: u64,
}

impl ClientCredentials {
    /// `auth_url` is the pool's domain (`https://{domain}.auth.{region}.amazoncognito.com`).
    pub fn new(http: reqwest::Client, auth_url: &str, client_id: &str, secret: SecretSource, scopes: &str) -> Self {
        Self {
            http,
            token_url: format!("{}/oauth2/token", auth_url.trim_end_matches('/')),
            client_id: client_id.to_owned(),
            secret,
            scopes: scopes.to_owned(),
            cached: Mutex::new(None),
        }
    }
}

#[async_trait]
impl ServiceToken for ClientCredentials {
    async fn bearer(&self) -> Result<Option<String>, SiblingError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && tokio::time::Instant::now() < *until
        {
            return Ok(Some(token.clone()));
        }
        let secret = self.secret.read().await?;
        let mut form = vec![("grant_type", "client_credentials")];
        if !self.scopes.is_empty() {
            form.push(("scope", self.scopes.as_str()));
        }
        let answer = self
            .http
            .post(&self.token_url)
            .basic_auth(&self.client_id, Some(secret))
            .form(&form)
            .send()
            .await
            .map_err(|e| unreachable(TOKEN_ENDPOINT, &e))?;
        let status = answer.status();
        if !status.is_success() {
            return Err(SiblingError::Refused { service: TOKEN_ENDPOINT, status: status.as_u16() });
        }
        let token: TokenAnswer = answer.json().await.map_err(|e| malformed(TOKEN_ENDPOINT, &e))?;
        let lifetime = Duration::from_secs(token.expires_in.saturating_sub(60));
        *cached = Some((token.access_token.clone(), tokio::time::Instant::now() + lifetime));
        Ok(Some(token.access_token))
    }
}

fn unreachable(service: &'static str, e: &reqwest::Error) -> SiblingError {
    // The error's own text names the URL; the source says why (refused, timed out, …).
    let detail = match std::error::Error::source(e) {
        Some(source) => format!("{e}: {source}"),
        None => e.to_string(),
    };
    SiblingError::Unreachable { service, detail }
}

fn malformed(service: &'static str, e: &dyn std::fmt::Display) -> SiblingError {
    SiblingError::Malformed { service, detail: e.to_string() }
}

impl SiblingError {
    /// Whether another attempt of a read may succeed.
    fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } => true,
            Self::Refused { status, .. } => *status == 429 || *status >= 500,
            Self::Malformed { .. } | Self::NotConfigured { .. } => false,
        }
    }
}

pub struct SiblingClient {
    http: reqwest::Client,
    settings: SiblingSettings,
    token: Arc<dyn ServiceToken>,
}

/// `GET /projects/{id}/basic`: the Project service's bare `ProjectResponse`
/// (`{project_id, title, description, status, start_date, end_date}`); only the title is used.
#[derive(Deserialize)]
struct ProjectAnswer {
    title: String,
}

/// A team as both Team service routes write it (extra fields such as `name`, `s3_key` and
/// `created_at` are ignored).
#[derive(Deserialize)]
struct TeamAnswer {
    team_id: i64,
    project_id: i64,
    #[serde(default)]
    members: Vec<MemberAnswer>,
}

#[derive(Deserialize)]
struct MemberAnswer {
    user_id: String,
    /// `LEADER` or `MEMBER`; the Team service writes `MEMBER` for a member without one.
    #[serde(default)]
    role: Option<String>,
}

/// `GET /api/v1/teams/by-project/{id}` answers in the Team service's envelope: `{"status":
/// "success", "data": team}`, or, when the project has no team, still 200 with `{"status":
/// "error", "message": "팀을 찾을 수 없습니다.", "data": null}`.
#[derive(Deserialize)]
struct TeamEnvelope {
    status: String,
    #[serde(default)]
    data: Option<TeamAnswer>,
}

/// Whether a 404 is the sibling's own "no such resource": FastAPI's `HTTPException` body,
/// `{"detail": "<its message>"}`. A path no route serves answers `{"detail": "Not Found"}` from
/// the framework itself, and a proxy or gateway in front answers something else; neither says
/// anything about the project or team asked for.
fn is_own_not_found(body: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct NotFound {
        detail: String,
    }
    serde_json::from_slice::<NotFound>(body).is_ok_and(|b| !b.detail.trim().is_empty() && b.detail != "Not Found")
}

impl TeamAnswer {
    fn into_team(self) -> Result<Team, SiblingError> {
        let team_id = TeamId::new(self.team_id).map_err(|m| malformed(TEAM_SERVICE, &format!("team_id {m}")))?;
        let project_id =
            ProjectId::new(self.project_id).map_err(|m| malformed(TEAM_SERVICE, &format!("project_id {m}")))?;
        let members = self
            .members
            .into_iter()
            .filter_map(|m| match UserId::parse(&m.user_id) {
                Ok(user_id) => Some(TeamMember { user_id, role: m.role.unwrap_or_default() }),
                Err(_) => {
                    tracing::warn!(%team_id, user_id = %m.user_id, "team member without a PortForge user id, skipped");
                    None
                }
            })
            .collect();
        Ok(Team { team_id, project_id, members })
    }
}

impl SiblingClient {
    pub fn new(settings: SiblingSettings, token: Arc<dyn ServiceToken>) -> Result<Self, ConfigError> {
        let http = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.timeout)
            .build()
            .map_err(|e| ConfigError { name: "SIBLING_TIMEOUT_MS", problem: format!("HTTP client: {e}") })?;
        Ok(Self { http, settings, token })
    }

    /// The underlying HTTP client (shared with the token fetch).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    fn url(&self, service: &'static str, path: &str) -> Result<String, SiblingError> {
        let (base, variable) = match service {
            PROJECT_SERVICE => (&self.settings.project_url, "PROJECT_SERVICE_URL"),
            _ => (&self.settings.team_url, "TEAM_SERVICE_URL"),
        };
        let base = base.as_deref().ok_or(SiblingError::NotConfigured { service, variable })?;
        Ok(format!("{base}{path}"))
    }

    /// One attempt: `Ok(None)` on the sibling's own 404, the body on 2xx, an error otherwise.
    async fn attempt(
        &self,
        method: Method,
        service: &'static str,
        url: &str,
        ctx: &CallContext,
    ) -> Result<Option<bytes::Bytes>, SiblingError> {
        let mut request = self.http.request(method, url).header("accept", "application/json");
        if let Some(id) = &ctx.request_id {
            request = request.header("x-request-id", id);
        }
        if let Some(token) = self.token.bearer().await? {
            request = request.bearer_auth(token);
        }
        let answer = request.send().await.map_err(|e| unreachable(service, &e))?;
        match answer.status() {
            StatusCode::NOT_FOUND => {
                let body = answer.bytes().await.unwrap_or_default();
                if is_own_not_found(&body) {
                    Ok(None)
                } else {
                    // A wrong base URL or path prefix: never to be read as "no such project".
                    tracing::error!(%service, %url, body = %String::from_utf8_lossy(&body), "a sibling route answered 404 as a route, not a resource");
                    Err(SiblingError::Refused { service, status: 404 })
                }
            }
            status if status.is_success() => answer.bytes().await.map(Some).map_err(|e| unreachable(service, &e)),
            status => Err(SiblingError::Refused { service, status: status.as_u16() }),
        }
    }

    /// A read, retried with jittered exponential backoff while the failure is transient.
    async fn get<T: DeserializeOwned>(
        &self,
        service: &'static str,
        path: &str,
        ctx: &CallContext,
    ) -> Result<Option<T>, SiblingError> {
        let url = self.url(service, path)?;
        let policy = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(50))
            .with_max_delay(Duration::from_millis(400))
            .with_max_times(self.settings.retries as usize)
            .with_jitter();
        let body = (|| self.attempt(Method::GET, service, &url, ctx))
            .retry(policy)
            .when(SiblingError::is_transient)
            .notify(|e, after| tracing::info!(error = %e, retry_in = ?after, "retrying a sibling read"))
            .await?;
        let Some(body) = body else { return Ok(None) };
        serde_json::from_slice(&body).map(Some).map_err(|e| malformed(service, &e))
    }
}

#[async_trait]
impl ProjectDirectory for SiblingClient {
    async fn project(&self, id: ProjectId, ctx: &CallContext) -> Result<Option<ProjectInfo>, SiblingError> {
        let answer: Option<ProjectAnswer> = self.get(PROJECT_SERVICE, &format!("/projects/{id}/basic"), ctx).await?;
        Ok(answer.map(|answer| ProjectInfo { project_id: id, title: answer.title }))
    }

    async fn delete_project(&self, id: ProjectId, ctx: &CallContext) -> Result<Deletion, SiblingError> {
        let url = self.url(PROJECT_SERVICE, &format!("/projects/{id}"))?;
        // 200 `{"status": "success", "message": …}`: the Project service deleted the project and
        // asked the Team service to delete its team.
        match self.attempt(Method::DELETE, PROJECT_SERVICE, &url, ctx).await? {
            Some(_) => Ok(Deletion::Deleted),
            None => Ok(Deletion::NotFound),
        }
    }
}

/// The Team service's routes, under its `/api/v1/teams` prefix.
const TEAMS: &str = "/api/v1/teams";

#[async_trait]
impl TeamDirectory for SiblingClient {
    async fn team_of_project(&self, project: ProjectId, ctx: &CallContext) -> Result<Option<Team>, SiblingError> {
        let answer: Option<TeamEnvelope> =
            self.get(TEAM_SERVICE, &format!("{TEAMS}/by-project/{project}"), ctx).await?;
        let team = match answer {
            None => return Ok(None),
            Some(TeamEnvelope { status, data: Some(team) }) if status == "success" => team.into_team()?,
            // Its soft "not found": the project has no team, so nobody is a member.
            Some(TeamEnvelope { status, data: None }) if status == "error" => return Ok(None),
            Some(TeamEnvelope { status, data }) => {
                let data = if data.is_some() { "a team" } else { "no data" };
                return Err(malformed(TEAM_SERVICE, &format!("status {status:?} with {data}")));
            }
        };
        if team.project_id != project {
            return Err(malformed(
                TEAM_SERVICE,
                &format!("asked for project {project}'s team, got project {}'s", team.project_id),
            ));
        }
        Ok(Some(team))
    }

    async fn team(&self, team: TeamId, ctx: &CallContext) -> Result<Option<Team>, SiblingError> {
        let answer: Option<TeamAnswer> = self.get(TEAM_SERVICE, &format!("{TEAMS}/team/{team}"), ctx).await?;
        let Some(found) = answer.map(TeamAnswer::into_team).transpose()? else { return Ok(None) };
        if found.team_id != team {
            return Err(malformed(TEAM_SERVICE, &format!("asked for team {team}, got team {}", found.team_id)));
        }
        Ok(Some(found))
    }
}

#[cfg(test)]
mod tests {
    use super::{MemberAnswer, ProjectAnswer, TeamAnswer, is_own_not_found};

    #[test]
    fn answers_carrying_fields_once_read_as_aliases_still_parse() {
        // A title beside a name, a user id beside a member id: each field is read by its one
        // name and the others ignored (serde aliases made such answers a duplicate-field error).
        let project: ProjectAnswer =
            serde_json::from_str(r#"{"title": "웹", "name": "web", "project_title": "x"}"#).unwrap();
        assert_eq!(project.title, "웹");
        let member: MemberAnswer = serde_json::from_str(
            r#"{"user_id": "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "member_id": 7, "userId": "y", "role": "LEADER"}"#,
        )
        .unwrap();
        assert_eq!(member.user_id, "3f2504e0-4f89-11d3-9a0c-0305e82c3301");
        let team: TeamAnswer =
            serde_json::from_str(r#"{"team_id": 31, "teamId": 1, "project_id": 7, "members": []}"#).unwrap();
        assert_eq!((team.team_id, team.project_id), (31, 7));
    }

    #[test]
    fn only_the_siblings_own_404_means_not_found() {
        assert!(is_own_not_found(br#"{"detail": "Project not found"}"#));
        assert!(is_own_not_found("{\"detail\": \"팀을 찾을 수 없습니다.\"}".as_bytes()));
        for route_or_proxy in [
            &br#"{"detail": "Not Found"}"#[..],
            br#"{"message": "Not Found"}"#,
            b"",
            b"<html>404</html>",
            br#"{"detail": ""}"#,
        ] {
            assert!(!is_own_not_found(route_or_proxy), "{}", String::from_utf8_lossy(route_or_proxy));
        }
    }
}
