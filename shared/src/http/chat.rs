//! Chat over HTTP: history, sends and rooms, plus the routes the current web app calls.

use axum::{
    Json, Router,
    extract::{FromRequestParts, Path, State},
    http::request::Parts,
    routing::{get, post},
};
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveTime, Offset, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    AppState,
    extract::{Caller, JsonBody, QueryParams},
    reply::{Reply, ReplyResult},
};
use crate::domain::{
    FieldError, Limit,
    chat::{ChatCursor, ChatMessage, HistoryPosition, HistoryQuery, parse_project_id},
    time::{parse_date, parse_instant},
};
use crate::error::{AppError, AppResult};
use crate::services::chat::SendRequest;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/chat/rooms", get(rooms))
        .route("/chat/{project_id}/messages", get(history).post(send))
        .route("/chat/message", post(compat_send))
        .route("/chat/messages/{team_id}/{project_id}", get(compat_history))
}

/// A project id from the path: a positive integer, else 400.
struct ProjectPath(i64);

impl<S: Send + Sync> FromRequestParts<S> for ProjectPath {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::invalid_path("project_id", "must be a positive integer"))?;
        parse_project_id(&raw).map(ProjectPath).map_err(|m| AppError::invalid_path("project_id", m))
    }
}

fn calendar(state: &AppState) -> FixedOffset {
    FixedOffset::east_opt(state.config.calendar_utc_offset_minutes * 60).unwrap_or_else(|| Utc.fix())
}

/// Midnight starting `date` on the service calendar, in UTC.
fn day_start(date: NaiveDate, calendar: FixedOffset) -> DateTime<Utc> {
    // A fixed offset has exactly one instant per local time.
    (date.and_time(NaiveTime::MIN) - Duration::seconds(calendar.local_minus_utc().into())).and_utc()
}

/// A range bound given as an instant, or as a date meaning its whole day on the calendar.
fn range_bound(raw: &str, calendar: FixedOffset, end: bool) -> Result<DateTime<Utc>, String> {
    if let Ok(date) = parse_date(raw) {
        let start = day_start(date, calendar);
        return Ok(if end { start + Duration::days(1) - Duration::milliseconds(1) } else { start });
    }
    parse_instant(raw).map_err(|_| "must be YYYY-MM-DD or an ISO-8601 date-time with offset".into())
}

/// `GET /chat/{project_id}/messages?limit&cursor|after&from&to`
async fn history(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ProjectPath(project_id): ProjectPath,
    query: QueryParams,
) -> ReplyResult {
    caller.user_id()?;
    let rt = state.realtime()?;
    let limit = query.limit()?;
    let before = query.parse("cursor", ChatCursor::decode)?;
    let after = query.parse("after", ChatCursor::decode)?;
    let position = match (before, after) {
        (Some(_), Some(_)) => {
            return Err(AppError::invalid_query("after", "give cursor (older) or after (newer), not both"));
        }
        (Some(c), None) => HistoryPosition::Before(c),
        (None, Some(c)) => HistoryPosition::After(c),
        (None, None) => HistoryPosition::Latest,
    };
    let cal = calendar(&state);
    let from = query.parse("from", |raw| range_bound(raw, cal, false))?;
    let to = query.parse("to", |raw| range_bound(raw, cal, true))?;
    if let (Some(from), Some(to)) = (from, to)
        && to < from
    {
        return Err(AppError::invalid_query("to", "must not be before from"));
    }
    let reading_newer = matches!(position, HistoryPosition::After(_));
    let requested_after = match &position {
        HistoryPosition::After(c) => Some(c.encode()),
        _ => None,
    };
    let page = rt.history(project_id, &HistoryQuery { position, from, to, limit: limit.get() }).await?;
    let first = page.messages.first().map(|m| m.cursor().encode());
    let last = page.messages.last().map(|m| m.cursor().encode()).or(requested_after);
    let meta = json!({
        "limit": limit.get(),
        "count": page.messages.len(),
        "has_more": page.has_more,
        // Pass as `cursor` to read older messages, as `after` to catch up on newer ones.
        "before_cursor": if reading_newer || page.has_more { first } else { None },
        "after_cursor": last,
    });
    Reply::list("MESSAGES_LISTED", "messages, oldest first", page.messages).map(|r| r.with_meta(meta))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SendBody {
    message: String,
    #[serde(default)]
    message_id: Option<String>,
    #[serde(default)]
    is_in_meeting: bool,
}

/// `POST /chat/{project_id}/messages`: 201 with the stored message; a retry with the same
/// `message_id` answers 200 with the message stored the first time.
async fn send(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ProjectPath(project_id): ProjectPath,
    JsonBody(body): JsonBody<SendBody>,
) -> ReplyResult {
    let user = caller.user_id()?;
    let outcome = state
        .realtime()?
        .send(SendRequest {
            project_id,
            user_id: user.to_string(),
            sender_name: caller.chat_name(),
            message: body.message,
            client_message_id: body.message_id,
            is_in_meeting: body.is_in_meeting,
        })
        .await?;
    if outcome.created {
        let delivery = json!({
            "delivered": outcome.fanout.delivered,
            "gone": outcome.fanout.gone,
            "failed": outcome.fanout.failed,
        });
        Reply::created("MESSAGE_SENT", "message stored; meta counts the open sockets it reached", outcome.message)
            .map(|r| r.with_meta(delivery))
    } else {
        Reply::ok(
            "MESSAGE_ALREADY_STORED",
            "this message id was already sent; here is the stored message",
            outcome.message,
        )
    }
}

async fn rooms(State(state): State<AppState>, Caller(caller): Caller) -> ReplyResult {
    let user = caller.user_id()?;
    let rooms = state.realtime()?.rooms(user.as_str()).await?;
    Reply::list("ROOMS_LISTED", "your chat rooms, most recent activity first", rooms)
}

/// An id the web app sends as a number or a numeric string.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum LooseId {
    Number(i64),
    Text(String),
}

impl LooseId {
    fn parse(&self, field: &str) -> Result<i64, FieldError> {
        let parsed = match self {
            LooseId::Number(n) if *n > 0 => Ok(*n),
            LooseId::Number(_) => Err("must be a positive integer".to_string()),
            LooseId::Text(raw) => parse_project_id(raw),
        };
        parsed.map_err(|m| FieldError::new(field, m))
    }
}

/// Body the web app posts to `/chat/message`.
#[derive(Debug, Deserialize)]
struct CompatSendBody {
    team_id: LooseId,
    project_id: LooseId,
    user: String,
    message: String,
    #[serde(default)]
    is_in_meeting: bool,
}

/// One message as the web app reads it.
fn compat_message(m: &ChatMessage, calendar: FixedOffset, meeting_key: &str) -> Value {
    json!({
        "user": m.sender_name,
        "msg": m.message,
        "time": m.timestamp.with_timezone(&calendar).format("%H:%M").to_string(),
        "timestamp": m.timestamp.timestamp_millis(),
        meeting_key: m.is_in_meeting,
    })
}

/// `POST /chat/message` (web app): stores and broadcasts like the route above; answers the
/// app's own shape without the envelope. The sender is the caller; `user` is the name shown.
async fn compat_send(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<CompatSendBody>,
) -> AppResult<Json<Value>> {
    let user = caller.user_id()?;
    let mut errors = Vec::new();
    let team = body.team_id.parse("team_id").map_err(|e| errors.push(e)).ok();
    let project = body.project_id.parse("project_id").map_err(|e| errors.push(e)).ok();
    let (Some(_team), Some(project_id)) = (team, project) else {
        return Err(AppError::Validation(errors));
    };
    // `user` is what the app shows; it is taken from the token, never the body, so nobody can
    // post under another name. The field stays accepted for the app's sake.
    let _shown_by_app = body.user;
    let name = caller.chat_name();
    let outcome = state
        .realtime()?
        .send(SendRequest {
            project_id,
            user_id: user.to_string(),
            sender_name: name,
            message: body.message,
            client_message_id: None,
            is_in_meeting: body.is_in_meeting,
        })
        .await?;
    Ok(Json(compat_message(&outcome.message, calendar(&state), "is_in_meeting")))
}

/// Most messages `GET /chat/messages/{team_id}/{project_id}` returns: the newest ones.
pub const COMPAT_HISTORY_MAX: usize = 1_000;
/// Most store pages one such request reads (2,000 messages), so a filter that matches little
/// cannot make one request walk a project's whole history.
const COMPAT_HISTORY_PAGES: usize = 20;

/// `GET /chat/messages/{team_id}/{project_id}?start_date&end_date&meeting_only` (web app):
/// the newest messages in the range (up to 1,000), oldest first, as `{messages, count}`.
async fn compat_history(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((team_id, project_id)): Path<(String, String)>,
    query: QueryParams,
) -> AppResult<Json<Value>> {
    caller.user_id()?;
    parse_project_id(&team_id).map_err(|m| AppError::invalid_path("team_id", m))?;
    let project_id = parse_project_id(&project_id).map_err(|m| AppError::invalid_path("project_id", m))?;
    let cal = calendar(&state);
    let from = query.parse("start_date", parse_date)?.map(|d| day_start(d, cal));
    let to =
        query.parse("end_date", parse_date)?.map(|d| day_start(d, cal) + Duration::days(1) - Duration::milliseconds(1));
    if let (Some(from), Some(to)) = (from, to)
        && to < from
    {
        return Err(AppError::invalid_query("end_date", "must not be before start_date"));
    }
    let meeting_only = query.flag("meeting_only")?;
    let rt = state.realtime()?;
    // Read newest first, page by page, until enough matching messages are collected.
    let mut collected: Vec<ChatMessage> = Vec::new();
    let mut position = HistoryPosition::Latest;
    let mut pages = 0;
    loop {
        let page = rt.history(project_id, &HistoryQuery { position, from, to, limit: Limit::MAX }).await?;
        let Some(oldest) = page.messages.first().map(ChatMessage::cursor) else {
            break;
        };
        collected.extend(page.messages.into_iter().rev().filter(|m| m.is_in_meeting || !meeting_only));
        pages += 1;
        if collected.len() >= COMPAT_HISTORY_MAX || !page.has_more || pages >= COMPAT_HISTORY_PAGES {
            break;
        }
        position = HistoryPosition::Before(oldest);
    }
    collected.truncate(COMPAT_HISTORY_MAX);
    collected.reverse();
    let messages: Vec<Value> = collected.iter().map(|m| compat_message(m, cal, "isInMeeting")).collect();
    Ok(Json(json!({ "count": messages.len(), "messages": messages })))
}
