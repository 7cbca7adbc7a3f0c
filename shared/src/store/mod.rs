//! Ports: one trait per capability, object-safe, injected as `Arc<dyn …>`. Adapters live in
//! submodules; every adapter passes the same conformance suite (`tests/api/conformance.rs`).

pub mod sql;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{
    Cursor, Limit, Page, UserId,
    content::{Banner, BannerDraft, Notice, NoticeDraft},
    event::{Event, EventDraft, EventFilter},
    notification::{MarkRead, NewNotification, Notification},
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend did not answer (down, timed out, pool exhausted, busy): retryable.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("conflict: {0}")]
    Conflict(String),
    /// Anything else: a bug or corrupt data.
    #[error("store failure: {0}")]
    Internal(String),
}

/// Result of an update guarded by the `updated_at` the caller read.
#[derive(Debug, Clone, PartialEq)]
pub enum Guarded<T> {
    Updated(T),
    /// No row with that id.
    Missing,
    /// Someone else changed the row since it was read.
    Stale,
}

#[async_trait]
pub trait HealthProbe: Send + Sync {
    /// Succeeds only when the backend answers a trivial query.
    async fn ping(&self) -> Result<(), StoreError>;
}

#[async_trait]
pub trait NotificationStore: Send + Sync {
    async fn create(
        &self,
        new: &NewNotification,
        at: DateTime<Utc>,
    ) -> Result<Notification, StoreError>;
    /// The user's notifications, newest first, starting after `after`.
    async fn list(
        &self,
        user: &UserId,
        unread_only: bool,
        limit: Limit,
        after: Option<Cursor>,
    ) -> Result<Page<Notification>, StoreError>;
    async fn unread_count(&self, user: &UserId) -> Result<i64, StoreError>;
    /// Marks the user's own unread notifications read; returns how many changed.
    async fn mark_read(
        &self,
        user: &UserId,
        which: &MarkRead,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
}

#[async_trait]
pub trait NoticeStore: Send + Sync {
    async fn create(&self, draft: &NoticeDraft, at: DateTime<Utc>) -> Result<Notice, StoreError>;
    async fn get(&self, id: i64) -> Result<Option<Notice>, StoreError>;
    /// Newest first; ties on `created_at` broken by the higher id.
    async fn list(&self, limit: Limit, after: Option<Cursor>) -> Result<Page<Notice>, StoreError>;
    async fn latest(&self) -> Result<Option<Notice>, StoreError>;
    async fn update(
        &self,
        id: i64,
        draft: &NoticeDraft,
        read_at_version: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<Guarded<Notice>, StoreError>;
    async fn delete(&self, id: i64) -> Result<bool, StoreError>;
}

/// Upper bound on banners returned in one list; a homepage carousel holds a handful.
pub const BANNER_LIST_CAP: i64 = 500;

#[async_trait]
pub trait BannerStore: Send + Sync {
    async fn create(&self, draft: &BannerDraft, at: DateTime<Utc>) -> Result<Banner, StoreError>;
    async fn get(&self, id: i64) -> Result<Option<Banner>, StoreError>;
    /// Every banner, by `sort_order` then newest.
    async fn list_all(&self) -> Result<Vec<Banner>, StoreError>;
    /// Active banners whose window contains `now` (`start_at` ≤ now < `end_at`), same order.
    async fn list_visible(&self, now: DateTime<Utc>) -> Result<Vec<Banner>, StoreError>;
    async fn update(
        &self,
        id: i64,
        draft: &BannerDraft,
        read_at_version: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<Guarded<Banner>, StoreError>;
    async fn delete(&self, id: i64) -> Result<bool, StoreError>;
}

#[async_trait]
pub trait EventStore: Send + Sync {
    async fn create(&self, draft: &EventDraft, at: DateTime<Utc>) -> Result<Event, StoreError>;
    async fn get(&self, id: i64) -> Result<Option<Event>, StoreError>;
    /// Matching events by `start_date`, then id.
    async fn list(
        &self,
        filter: &EventFilter,
        limit: Limit,
        after: Option<Cursor>,
    ) -> Result<Page<Event>, StoreError>;
    async fn update(
        &self,
        id: i64,
        draft: &EventDraft,
        read_at_version: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<Guarded<Event>, StoreError>;
    async fn delete(&self, id: i64) -> Result<bool, StoreError>;
}

/// Every relational port, as the services see them.
#[derive(Clone)]
pub struct Stores {
    pub health: Arc<dyn HealthProbe>,
    pub notifications: Arc<dyn NotificationStore>,
    pub notices: Arc<dyn NoticeStore>,
    pub banners: Arc<dyn BannerStore>,
    pub events: Arc<dyn EventStore>,
}

impl Stores {
    /// All ports served by one SQL database (MySQL or the embedded SQLite file).
    pub fn sql(db: sql::SqlDb) -> Self {
        let db = Arc::new(db);
        Self {
            health: db.clone(),
            notifications: db.clone(),
            notices: db.clone(),
            banners: db.clone(),
            events: db,
        }
    }
}
