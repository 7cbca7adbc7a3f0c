use axum::{Router, extract::State, routing::get};

use super::{
    AppState,
    extract::{AdminCaller, JsonBody, PathId, QueryParams},
    reply::{Reply, ReplyResult},
};
use crate::domain::event::{CreateEventBody, EventCategory, EventFilter, EventStatus, PatchEventBody};
use crate::error::AppError;
use crate::services::events as service;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/events", get(list).post(create))
        .route("/events/{id}", get(get_one).patch(update).delete(remove))
}

/// `GET /events?category&status&from&to&limit&cursor`, by start date.
async fn list(State(state): State<AppState>, query: QueryParams) -> ReplyResult {
    let category = query.parse("category", EventCategory::parse)?;
    let status = query.parse("status", EventStatus::parse)?;
    let from = query.date("from")?;
    let to = query.date("to")?;
    if let (Some(from), Some(to)) = (from, to)
        && to < from
    {
        return Err(AppError::invalid_query("to", "must be on or after from"));
    }
    let limit = query.limit()?;
    let cursor = query.date_cursor("cursor")?;
    let today = service::today(state.config.calendar_utc_offset_minutes);
    let filter = EventFilter::new(category, status, from, to, today);
    let page = service::list(state.sql()?.events.as_ref(), &filter, limit, cursor).await?;
    Reply::page("EVENTS_LISTED", "events by start date", page, limit)
}

async fn get_one(State(state): State<AppState>, PathId(id): PathId) -> ReplyResult {
    let event = service::get(state.sql()?.events.as_ref(), id).await?;
    Reply::ok("EVENT_FOUND", "event", event)
}

async fn create(
    State(state): State<AppState>,
    AdminCaller(caller): AdminCaller,
    JsonBody(body): JsonBody<CreateEventBody>,
) -> ReplyResult {
    let event = service::create(state.sql()?.events.as_ref(), &caller, body).await?;
    Reply::created("EVENT_CREATED", "event created", event)
}

async fn update(
    State(state): State<AppState>,
    AdminCaller(caller): AdminCaller,
    PathId(id): PathId,
    JsonBody(body): JsonBody<PatchEventBody>,
) -> ReplyResult {
    let event = service::patch(state.sql()?.events.as_ref(), &caller, id, body).await?;
    Reply::ok("EVENT_UPDATED", "event updated", event)
}

async fn remove(State(state): State<AppState>, AdminCaller(caller): AdminCaller, PathId(id): PathId) -> ReplyResult {
    service::delete(state.sql()?.events.as_ref(), &caller, id).await?;
    Reply::ok("EVENT_DELETED", "event deleted", serde_json::json!({ "event_id": id }))
}
