//! The events catalogue: anyone browses, administrators curate.

use chrono::{Duration, NaiveDate, Utc};

use crate::domain::{
    Cursor, Limit, Page,
    event::{CreateEventBody, Event, EventFilter, PatchEventBody},
    time::now_ms,
};
use crate::error::{AppError, AppResult};
use crate::identity::Identity;
use crate::store::EventStore;

use super::patch_guarded;

/// Today on the calendar events are judged by (KST unless configured otherwise).
pub fn today(utc_offset_minutes: i32) -> NaiveDate {
    (Utc::now() + Duration::minutes(utc_offset_minutes.into())).date_naive()
}

pub async fn list(
    store: &dyn EventStore,
    filter: &EventFilter,
    limit: Limit,
    after: Option<Cursor>,
) -> AppResult<Page<Event>> {
    Ok(store.list(filter, limit, after).await?)
}

pub async fn get(store: &dyn EventStore, id: i64) -> AppResult<Event> {
    store.get(id).await?.ok_or_else(|| AppError::not_found("event", id))
}

pub async fn create(store: &dyn EventStore, caller: &Identity, body: CreateEventBody) -> AppResult<Event> {
    caller.require_admin()?;
    let draft = body.validate().map_err(AppError::Validation)?;
    Ok(store.create(&draft, now_ms()).await?)
}

pub async fn patch(store: &dyn EventStore, caller: &Identity, id: i64, body: PatchEventBody) -> AppResult<Event> {
    caller.require_admin()?;
    patch_guarded(
        "event",
        id,
        |e: &Event| e.updated_at,
        || store.get(id),
        |current| body.apply(current),
        |draft, version, at| async move { store.update(id, &draft, version, at).await },
    )
    .await
}

pub async fn delete(store: &dyn EventStore, caller: &Identity, id: i64) -> AppResult<()> {
    caller.require_admin()?;
    if store.delete(id).await? { Ok(()) } else { Err(AppError::not_found("event", id)) }
}
