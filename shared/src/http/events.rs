//! The events catalogue: public browsing, admin curation.

use axum::{Router, extract::State};
use serde_json::json;

use super::{
    extract::{AdminCaller, JsonBody, PathId, QueryParams},
    reply::{Reply, ReplyResult},
};
use crate::domain::{
    EventId,
    event::{CreateEventBody, EventCategory, EventStatus, PatchEventBody},
};
use crate::error::AppError;
use crate::services::events::{EventQuery, EventService};

routes!(EventService {
    "/events" => get(list).post(create);
    "/events/{id}" => get(get_one).patch(update).delete(remove);
});

pub fn router(service: EventService) -> Router {
    routes().with_state(service)
}

/// `GET /events?category&status&from&to&limit&cursor`, by start.
async fn list(State(events): State<EventService>, query: QueryParams) -> ReplyResult {
    let filter = EventQuery {
        category: query.parse("category", EventCategory::parse)?,
        status: query.parse("status", EventStatus::parse)?,
        from: query.date("from")?,
        to: query.date("to")?,
    };
    if let (Some(from), Some(to)) = (filter.from, filter.to)
        && to < from
    {
        return Err(AppError::invalid_query("to", "must be on or after from"));
    }
    let limit = query.limit()?;
    let cursor = query.time_cursor("cursor")?;
    let page = events.list(filter, limit, cursor).await?;
    Reply::page("EVENTS_LISTED", "events by start", page, limit)
}

async fn get_one(State(events): State<EventService>, PathId(id): PathId<EventId>) -> ReplyResult {
    Reply::ok("EVENT_FOUND", "event", events.get(id).await?)
}

async fn create(
    State(events): State<EventService>,
    AdminCaller(admin): AdminCaller,
    JsonBody(body): JsonBody<CreateEventBody>,
) -> ReplyResult {
    Reply::created("EVENT_CREATED", "event created", events.create(&admin, body).await?)
}

async fn update(
    State(events): State<EventService>,
    AdminCaller(admin): AdminCaller,
    PathId(id): PathId<EventId>,
    JsonBody(body): JsonBody<PatchEventBody>,
) -> ReplyResult {
    Reply::ok("EVENT_UPDATED", "event updated", events.patch(&admin, id, body).await?)
}

async fn remove(
    State(events): State<EventService>,
    AdminCaller(admin): AdminCaller,
    PathId(id): PathId<EventId>,
) -> ReplyResult {
    events.delete(&admin, id).await?;
    Reply::ok("EVENT_DELETED", "event deleted", json!({ "event_id": id }))
}
