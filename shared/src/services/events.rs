//! The events catalogue: anyone browses, administrators curate.

use std::sync::Arc;

use crate::domain::{
    Cursor, EventId, Limit, Page,
    event::{CreateEventBody, Event, EventCategory, EventFilter, EventStatus, PatchEventBody},
    time::{Calendar, now_ms},
};
use crate::error::{AppError, AppResult};
use crate::identity::Admin;
use crate::store::EventStore;

use super::patch_guarded;

/// What a catalogue listing asks for, as parsed from the query.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventQuery {
    pub category: Option<EventCategory>,
    pub status: Option<EventStatus>,
    pub from: Option<chrono::NaiveDate>,
    pub to: Option<chrono::NaiveDate>,
}

#[derive(Clone)]
pub struct EventService {
    store: Arc<dyn EventStore>,
    /// Whether an event is upcoming, ongoing or past is judged on this calendar's today.
    calendar: Calendar,
}

impl EventService {
    pub fn new(store: Arc<dyn EventStore>, calendar: Calendar) -> Self {
        Self { store, calendar }
    }

    pub async fn list(&self, query: EventQuery, limit: Limit, after: Option<Cursor>) -> AppResult<Page<Event>> {
        let filter = EventFilter::new(query.category, query.status, query.from, query.to, self.calendar.today());
        Ok(self.store.list(&filter, limit, after).await?)
    }

    pub async fn get(&self, id: EventId) -> AppResult<Event> {
        self.store.get(id).await?.ok_or_else(|| AppError::not_found("event", id))
    }

    pub async fn create(&self, _admin: &Admin, body: CreateEventBody) -> AppResult<Event> {
        let draft = body.validate(self.calendar).map_err(AppError::Validation)?;
        Ok(self.store.create(&draft, now_ms()).await?)
    }

    pub async fn patch(&self, _admin: &Admin, id: EventId, body: PatchEventBody) -> AppResult<Event> {
        let store = self.store.as_ref();
        patch_guarded(
            "event",
            id,
            |e: &Event| e.updated_at,
            || store.get(id),
            |current| body.apply(current, self.calendar),
            |draft, version, at| async move { store.update(id, &draft, version, at).await },
        )
        .await
    }

    pub async fn delete(&self, _admin: &Admin, id: EventId) -> AppResult<()> {
        if self.store.delete(id).await? { Ok(()) } else { Err(AppError::not_found("event", id)) }
    }
}
