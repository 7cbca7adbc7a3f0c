//! Chat over HTTP: history, sends and rooms, the routes the current web app calls, and the chat
//! logs sibling services read (the AI service's meeting minutes).

use axum::{
    Json, Router,
    extract::{FromRequestParts, RawPathParams, State},
    http::request::Parts,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    extract::{AdminCaller, Caller, IdempotencyKey, JsonBody, PathId, PathParams, QueryParams, RequestId},
    reply::{Reply, ReplyResult},
};
use chrono::{DateTime, Utc};

use crate::domain::{
    FieldError, MessageId, ProjectId, TeamId,
    chat::{ChatCursor, ChatMessage, HistoryPosition, HistoryQuery, LOG_DEFAULT_LIMIT, LOG_MAX_LIMIT, LogWindow},
    ids::{LooseId, NumericId},
    time::{Bound, Calendar, format_iso},
};
use crate::error::{AppError, AppResult};
use crate::services::chat::{Admitted, ChatService, LogReader, NewMessage, RecentFilter};

routes!(ChatService {
    "/chat/rooms" => get(rooms);
    "/chat/{project_id}/messages" => get(history).post(send);
    "/chat/{project_id}/messages/{message_id}" => patch(edit).delete(delete_message);
    "/chat/{project_id}/read" => post(mark_read);
    "/chat/{project_id}/presence" => get(presence);
    "/admin/chat/removals" => get(removals);
    "/chat/message" => post(compat_send);
    "/chat/messages/{team_id}/{project_id}" => get(compat_history);
    "/chat/team/{team_id}/logs" => get(team_logs);
    "/chat/team/{team_id}/meeting-logs" => post(meeting_logs);
});

pub fn router(service: ChatService) -> Router {
    routes().with_state(service)
}

/// A caller admitted to the chat of the project in the path. As an extractor it runs before
/// the body is read: someone outside the team gets 403, never a validation report.
struct Member(Admitted, crate::siblings::CallContext);

impl FromRequestParts<ChatService> for Member {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, chat: &ChatService) -> Result<Self, AppError> {
        let Caller(caller) = Caller::from_request_parts(parts, chat).await?;
        caller.user_id()?;
        // By name: the project's message routes have a second parameter.
        let project_id = PathParams::from_request_parts(parts, chat).await?.parse("project_id", ProjectId::parse)?;
        let Ok(request_id) = RequestId::from_request_parts(parts, chat).await;
        let ctx = request_id.context();
        Ok(Self(chat.admit(&caller, project_id, &ctx).await?, ctx))
    }
}

/// `GET /chat/{project_id}/messages?limit&cursor|after&from&to`
async fn history(State(chat): State<ChatService>, Member(reader, _): Member, query: QueryParams) -> ReplyResult {
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
    let calendar = chat.calendar();
    let from = query.parse("from", |raw| calendar.range_bound(raw, Bound::Lower))?;
    let to = query.parse("to", |raw| calendar.range_bound(raw, Bound::Upper))?;
    if let (Some(from), Some(to)) = (from, to)
        && to < from
    {
        return Err(AppError::invalid_query("to", "must not be before from"));
    }
    let asked_after = match &position {
        HistoryPosition::After(c) => Some(c.clone()),
        _ => None,
    };
    let page = chat.history(&reader, &HistoryQuery { position, from, to, limit: limit.get() }).await?;
    let first = page.messages.first().map(|m| page.cursor_of(m).encode());
    let meta = json!({
        "limit": limit.get(),
        "count": page.messages.len(),
        "has_more": page.has_more,
        // Pass as `cursor` to read older messages, as `after` to catch up on newer ones.
        "before_cursor": if asked_after.is_some() || page.has_more { first } else { None },
        "after_cursor": page.after_cursor(asked_after.as_ref()).map(|c| c.encode()),
    });
    Reply::list("MESSAGES_LISTED", "messages, oldest first", page.shown()).map(|r| r.with_meta(meta))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SendBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    message_id: Option<String>,
    #[serde(default)]
    is_in_meeting: bool,
}

fn required_message(message: Option<String>) -> AppResult<String> {
    message.ok_or_else(|| AppError::Validation(vec![FieldError::new("message", "is required")]))
}

/// `POST /chat/{project_id}/messages`: 201 with the stored message; a retry with the same
/// `message_id` (or `Idempotency-Key` header) answers 200 with the message stored the first time.
async fn send(
    State(chat): State<ChatService>,
    Member(sender, ctx): Member,
    key: IdempotencyKey,
    JsonBody(body): JsonBody<SendBody>,
) -> ReplyResult {
    let new = NewMessage {
        client_message_id: key.or_body(body.message_id)?,
        message: required_message(body.message)?,
        is_in_meeting: body.is_in_meeting,
    };
    let outcome = chat.send(&sender, new, &ctx).await?;
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

/// Body of `PATCH /chat/{project_id}/messages/{message_id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EditBody {
    #[serde(default)]
    message: Option<String>,
}

/// `PATCH /chat/{project_id}/messages/{message_id}` `{message}`: the author's new text.
async fn edit(
    State(chat): State<ChatService>,
    Member(editor, ctx): Member,
    params: PathParams,
    JsonBody(body): JsonBody<EditBody>,
) -> ReplyResult {
    let message_id = params.parse("message_id", MessageId::parse)?;
    let edited = chat.edit(&editor, &message_id, &required_message(body.message)?, &ctx).await?;
    Reply::ok("MESSAGE_EDITED", "message edited; the project's sockets got message_edited", edited)
}

/// `DELETE /chat/{project_id}/messages/{message_id}`: by its author or an administrator; the
/// answer is the tombstone.
async fn delete_message(
    State(chat): State<ChatService>,
    Member(caller, ctx): Member,
    params: PathParams,
) -> ReplyResult {
    let message_id = params.parse("message_id", MessageId::parse)?;
    match chat.delete(&caller, &message_id, &ctx).await? {
        (tombstone, true) => {
            Reply::ok("MESSAGE_DELETED", "message deleted; the project's sockets got message_deleted", tombstone)
        }
        (tombstone, false) => Reply::ok("MESSAGE_ALREADY_DELETED", "the message was already deleted", tombstone),
    }
}

/// `GET /admin/chat/removals?limit&cursor`: administrators' removals of chat messages, newest
/// first, with the text each removed.
async fn removals(State(chat): State<ChatService>, AdminCaller(admin): AdminCaller, query: QueryParams) -> ReplyResult {
    let limit = query.limit()?;
    let cursor = query.time_cursor("cursor")?;
    Reply::page(
        "REMOVALS_LISTED",
        "chat messages removed by administrators, newest first",
        chat.removals(&admin, limit, cursor).await?,
        limit,
    )
}

/// `GET /chat/rooms`: each room with its unread count (exact up to 1,000) and read marker.
async fn rooms(State(chat): State<ChatService>, Caller(caller): Caller, request_id: RequestId) -> ReplyResult {
    let rooms = chat.rooms(&caller.user_id()?, &request_id.context()).await?;
    Reply::list("ROOMS_LISTED", "your chat rooms, most recent activity first", rooms)
}

/// Body of `POST /chat/{project_id}/read`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MarkReadBody {
    #[serde(default)]
    up_to: Option<String>,
}

/// `POST /chat/{project_id}/read` `{up_to}`: the caller has read the chat up to the message at
/// that cursor. The marker never moves back; a repeat answers the marker as it stands.
async fn mark_read(
    State(chat): State<ChatService>,
    Member(reader, _): Member,
    JsonBody(body): JsonBody<MarkReadBody>,
) -> ReplyResult {
    let raw = body.up_to.ok_or_else(|| AppError::Validation(vec![FieldError::new("up_to", "is required")]))?;
    let up_to = ChatCursor::decode(&raw).map_err(|m| AppError::Validation(vec![FieldError::new("up_to", m)]))?;
    let state = chat.mark_read(&reader, &up_to, None).await?;
    if state.moved {
        Reply::ok("READ_MARKED", "marker moved; your other sockets got the read frame", state)
    } else {
        Reply::ok("READ_UNCHANGED", "the marker already stood at or past that message", state)
    }
}

/// `GET /chat/{project_id}/presence`: the project's members with an open socket.
async fn presence(State(chat): State<ChatService>, Member(reader, ctx): Member) -> ReplyResult {
    let present = chat.present(&reader, &ctx).await?;
    Reply::list("PRESENCE_LISTED", "members with an open socket into this chat, online longest first", present)
}

/// Body the web app posts to `/chat/message`.
#[derive(Debug, Deserialize)]
struct CompatSendBody {
    #[serde(default)]
    team_id: Option<LooseId>,
    #[serde(default)]
    project_id: Option<LooseId>,
    /// The name the app shows; the name stored comes from the token, so nobody can post under
    /// another name. Accepted for the app's sake.
    #[serde(default, rename = "user")]
    _shown_by_app: Option<String>,
    #[serde(default)]
    message: Option<String>,
    /// The idempotency key, when not in the `Idempotency-Key` header.
    #[serde(default)]
    message_id: Option<String>,
    #[serde(default)]
    is_in_meeting: bool,
}

fn loose<T: NumericId>(errors: &mut Vec<FieldError>, field: &str, raw: Option<&LooseId>) -> Option<T> {
    match raw.map(|raw| raw.parse::<T>().map_err(|m| FieldError::new(field, m))) {
        Some(Ok(id)) => Some(id),
        Some(Err(e)) => {
            errors.push(e);
            None
        }
        None => {
            errors.push(FieldError::new(field, "is required"));
            None
        }
    }
}

/// One message as the web app reads it.
fn compat_message(m: &ChatMessage, calendar: Calendar, meeting_key: &str) -> Value {
    json!({
        "user": m.sender_name,
        "msg": m.message,
        "time": calendar.clock_time(&m.timestamp),
        "timestamp": m.timestamp.timestamp_millis(),
        meeting_key: m.is_in_meeting,
    })
}

/// `POST /chat/message` (web app): stores and broadcasts like the route above; answers the
/// app's own shape without the envelope. `team_id` must be a positive integer and is otherwise
/// ignored: the app sends its project id there, while PortForge's team ids are the Team
/// service's own; the project decides, and membership is checked as on every chat route. With
/// an idempotency key (`Idempotency-Key` header or body `message_id`) the app's retry after a
/// lost reply stores nothing new and gets the message stored the first time.
async fn compat_send(
    State(chat): State<ChatService>,
    Caller(caller): Caller,
    request_id: RequestId,
    key: IdempotencyKey,
    JsonBody(body): JsonBody<CompatSendBody>,
) -> AppResult<Json<Value>> {
    caller.user_id()?;
    let mut errors = Vec::new();
    // The app sends its project id as the team id; only the form is checked (see the module).
    let team = loose::<TeamId>(&mut errors, "team_id", body.team_id.as_ref());
    let project = loose::<ProjectId>(&mut errors, "project_id", body.project_id.as_ref());
    let (Some(_), Some(project_id)) = (team, project) else {
        return Err(AppError::Validation(errors));
    };
    // Membership before the message: someone outside the team learns nothing about the rest.
    let ctx = request_id.context();
    let sender = chat.admit(&caller, project_id, &ctx).await?;
    let message = required_message(body.message)?;
    let client_message_id = key.or_body(body.message_id)?;
    let new = NewMessage { message, client_message_id, is_in_meeting: body.is_in_meeting };
    let outcome = chat.send(&sender, new, &ctx).await?;
    Ok(Json(compat_message(&outcome.message, chat.calendar(), "is_in_meeting")))
}

/// The web app's `{team_id}/{project_id}` path: each a positive integer; the team id is not used
/// further (see [`compat_send`]).
struct TeamAndProject(ProjectId);

impl FromRequestParts<ChatService> for TeamAndProject {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, chat: &ChatService) -> Result<Self, AppError> {
        let params = RawPathParams::from_request_parts(parts, chat).await.map_err(|rejection| {
            // A segment that is not UTF-8 after decoding; the rejection's text names it.
            let field = if rejection.body_text().contains("`team_id`") { "team_id" } else { "project_id" };
            AppError::invalid_path(field, "must be a positive integer")
        })?;
        let raw = |name: &str| params.iter().find(|(n, _)| *n == name).map_or("", |(_, v)| v);
        TeamId::parse(raw("team_id")).map_err(|m| AppError::invalid_path("team_id", m))?;
        let project = ProjectId::parse(raw("project_id")).map_err(|m| AppError::invalid_path("project_id", m))?;
        Ok(Self(project))
    }
}

/// `GET /chat/messages/{team_id}/{project_id}?start_date&end_date&meeting_only` (web app):
/// the newest messages in the range (up to 1,000), oldest first, as `{messages, count}`. The
/// project decides; `team_id` is only checked to be a positive integer.
async fn compat_history(
    State(chat): State<ChatService>,
    Caller(caller): Caller,
    TeamAndProject(project_id): TeamAndProject,
    request_id: RequestId,
    query: QueryParams,
) -> AppResult<Json<Value>> {
    caller.user_id()?;
    let reader = chat.admit(&caller, project_id, &request_id.context()).await?;
    let calendar = chat.calendar();
    let from = query.date("start_date")?.map(|d| calendar.day_start(d));
    let to = query.date("end_date")?.map(|d| calendar.day_end(d));
    if let (Some(from), Some(to)) = (from, to)
        && to < from
    {
        return Err(AppError::invalid_query("end_date", "must not be before start_date"));
    }
    let filter = RecentFilter { from, to, meeting_only: query.flag("meeting_only")? };
    let messages: Vec<Value> =
        chat.recent(&reader, filter).await?.iter().map(|m| compat_message(m, calendar, "isInMeeting")).collect();
    Ok(Json(json!({ "count": messages.len(), "messages": messages })))
}

/// A sibling service allowed to read chat logs; checked before anything else is read.
struct LogReaderCaller(LogReader);

impl FromRequestParts<ChatService> for LogReaderCaller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, chat: &ChatService) -> Result<Self, AppError> {
        let Caller(caller) = Caller::from_request_parts(parts, chat).await?;
        chat.authorize_log_reader(&caller).map(Self)
    }
}

/// A chat-log window that cannot be read (400 on both routes, whether it came in the query or
/// the body): `details` names each bound at fault.
fn invalid_window(details: Vec<FieldError>) -> AppError {
    AppError::BadRequest { code: "INVALID_TIME_WINDOW", message: "the chat-log window is invalid".into(), details }
}

/// A window's start and end, either open.
type Bounds = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// The window's bounds, each an instant on the service's calendar when it has no offset;
/// `required` bounds must be given.
fn log_bounds(calendar: Calendar, start: Option<&str>, end: Option<&str>, required: bool) -> AppResult<Bounds> {
    let mut errors = Vec::new();
    let mut bound = |field: &str, raw: Option<&str>| match raw.map(|raw| calendar.instant(raw)) {
        Some(Ok(at)) => Some(at),
        Some(Err(m)) => {
            errors.push(FieldError::new(field, m));
            None
        }
        None if required => {
            errors.push(FieldError::new(field, "is required"));
            None
        }
        None => None,
    };
    let bounds = (bound("start_time", start), bound("end_time", end));
    if errors.is_empty() { Ok(bounds) } else { Err(invalid_window(errors)) }
}

/// One message of `GET /chat/team/{team_id}/logs`.
fn log_entry(m: &ChatMessage) -> Value {
    let at = format_iso(&m.timestamp);
    json!({
        "message_id": m.message_id,
        "user_id": m.user_id,
        "message": m.message,
        "timestamp": at,
        "created_at": at,
    })
}

/// `GET /chat/team/{team_id}/logs?start_time&end_time&limit` (sibling services): the team's chat
/// in the window (either bound open), oldest first, the first `limit` (100, at most 1,000), as a
/// bare list of `{message_id, user_id, message, timestamp, created_at}`.
async fn team_logs(
    State(chat): State<ChatService>,
    LogReaderCaller(reader): LogReaderCaller,
    PathId(team): PathId<TeamId>,
    request_id: RequestId,
    query: QueryParams,
) -> AppResult<Json<Value>> {
    let (from, to) = log_bounds(chat.calendar(), query.get("start_time"), query.get("end_time"), false)?;
    let limit = match query.get("limit") {
        None => LOG_DEFAULT_LIMIT,
        // Out of range is told by the window; 0 stands for anything unreadable.
        Some(raw) => raw.trim().parse().unwrap_or(0),
    };
    let window = LogWindow::new(from, to, limit).map_err(|e| invalid_window(vec![e]))?;
    let messages = chat.team_log(&reader, team, &window, &request_id.context()).await?;
    Ok(Json(Value::Array(messages.iter().map(log_entry).collect())))
}

/// Body of `POST /chat/team/{team_id}/meeting-logs`, as the AI service sends it.
#[derive(Debug, Deserialize)]
struct MeetingWindowBody {
    #[serde(default)]
    start_time: Option<String>,
    #[serde(default)]
    end_time: Option<String>,
}

/// `POST /chat/team/{team_id}/meeting-logs` `{start_time, end_time}` (the AI service's meeting
/// minutes): up to 1,000 messages of the window, oldest first, as `{team_id, start_time,
/// end_time, message_count, messages: [{user_id, message, timestamp}]}`; the bounds come back
/// as the instants read (UTC).
async fn meeting_logs(
    State(chat): State<ChatService>,
    LogReaderCaller(reader): LogReaderCaller,
    PathId(team): PathId<TeamId>,
    request_id: RequestId,
    JsonBody(body): JsonBody<MeetingWindowBody>,
) -> AppResult<Json<Value>> {
    let bounds = log_bounds(chat.calendar(), body.start_time.as_deref(), body.end_time.as_deref(), true)?;
    let (Some(from), Some(to)) = bounds else {
        return Err(invalid_window(vec![FieldError::new("start_time", "is required")]));
    };
    let window = LogWindow::new(Some(from), Some(to), LOG_MAX_LIMIT).map_err(|e| invalid_window(vec![e]))?;
    let messages = chat.team_log(&reader, team, &window, &request_id.context()).await?;
    let entries: Vec<Value> = messages
        .iter()
        .map(|m| json!({"user_id": m.user_id, "message": m.message, "timestamp": format_iso(&m.timestamp)}))
        .collect();
    Ok(Json(json!({
        "team_id": team,
        "start_time": format_iso(&from),
        "end_time": format_iso(&to),
        "message_count": entries.len(),
        "messages": entries,
    })))
}
