//! Ports: one trait per capability, object-safe, injected as `Arc<dyn …>`. Adapters live in
//! submodules; every adapter passes the same conformance suite (`tests/api/conformance.rs`).

#[cfg(feature = "dynamo")]
pub mod dynamo;
#[cfg(feature = "dynamo")]
pub mod dynamo_tables;
#[cfg(feature = "sql")]
pub mod sql;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{
    BannerId, ConnectionId, Cursor, EventId, Limit, MessageId, NoticeId, Page, ProjectId, ReportId, UserId,
    chat::{Changed, ChatMessage, ChatRoom, Connection, HistoryPage, HistoryQuery, Marked, Removal, RemovalRecord},
    content::{Banner, BannerDraft, Notice, NoticeDraft},
    event::{Event, EventDraft, EventFilter},
    notification::{MarkRead, NewNotification, Notification},
    report::{
        Decision, DecisionSubject, NewAction, NewReply, NewReport, Report, ReportAction, ReportFilter, ReportReply,
        ReportStatus, ReportSummary,
    },
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend did not answer (down, timed out, pool exhausted, busy): retryable.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database's schema is older than this release's: the deploy's migration has not
    /// run (or was interrupted). Nothing is read or written until it has.
    #[error("schema behind this release: {0}")]
    SchemaBehind(String),
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
    async fn create(&self, new: &NewNotification, at: DateTime<Utc>) -> Result<Notification, StoreError>;
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
    async fn mark_read(&self, user: &UserId, which: &MarkRead, at: DateTime<Utc>) -> Result<u64, StoreError>;
}

#[async_trait]
pub trait NoticeStore: Send + Sync {
    async fn create(&self, draft: &NoticeDraft, at: DateTime<Utc>) -> Result<Notice, StoreError>;
    async fn get(&self, id: NoticeId) -> Result<Option<Notice>, StoreError>;
    /// Newest first; ties on `created_at` broken by the higher id.
    async fn list(&self, limit: Limit, after: Option<Cursor>) -> Result<Page<Notice>, StoreError>;
    async fn latest(&self) -> Result<Option<Notice>, StoreError>;
    async fn update(
        &self,
        id: NoticeId,
        draft: &NoticeDraft,
        read_at_version: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<Guarded<Notice>, StoreError>;
    async fn delete(&self, id: NoticeId) -> Result<bool, StoreError>;
}

/// Upper bound on banners returned in one list; a homepage carousel holds a handful.
pub const BANNER_LIST_CAP: i64 = 500;

#[async_trait]
pub trait BannerStore: Send + Sync {
    async fn create(&self, draft: &BannerDraft, at: DateTime<Utc>) -> Result<Banner, StoreError>;
    async fn get(&self, id: BannerId) -> Result<Option<Banner>, StoreError>;
    /// Every banner, by `sort_order` then newest.
    async fn list_all(&self) -> Result<Vec<Banner>, StoreError>;
    /// Active banners whose window contains `now` (`start_at` ≤ now < `end_at`), same order.
    async fn list_visible(&self, now: DateTime<Utc>) -> Result<Vec<Banner>, StoreError>;
    async fn update(
        &self,
        id: BannerId,
        draft: &BannerDraft,
        read_at_version: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<Guarded<Banner>, StoreError>;
    async fn delete(&self, id: BannerId) -> Result<bool, StoreError>;
}

#[async_trait]
pub trait EventStore: Send + Sync {
    async fn create(&self, draft: &EventDraft, at: DateTime<Utc>) -> Result<Event, StoreError>;
    async fn get(&self, id: EventId) -> Result<Option<Event>, StoreError>;
    /// Matching events by start instant, then id.
    async fn list(&self, filter: &EventFilter, limit: Limit, after: Option<Cursor>) -> Result<Page<Event>, StoreError>;
    async fn update(
        &self,
        id: EventId,
        draft: &EventDraft,
        read_at_version: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<Guarded<Event>, StoreError>;
    async fn delete(&self, id: EventId) -> Result<bool, StoreError>;
}

/// The outcome of asking for the right to decide a report.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The caller holds it until the deadline it gave; here is the report as it stands.
    Claimed(Box<Report>),
    /// Another decision on this report is under way.
    Busy,
    Missing,
}

/// What a decision changes on a report.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportChange {
    pub status: ReportStatus,
    pub decision: Decision,
    pub note: Option<String>,
    /// An answer the decision adds to the report's conversation (an inquiry resolved with a note).
    pub answer: Option<NewReply>,
    /// The replies the report had when the decision read it: a reply since refuses the change.
    pub replies_seen: i64,
}

/// How adding a reply ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Replied {
    /// Stored: the reply, the report as it now stands, and the notification stored with it.
    Added {
        reply: ReportReply,
        report: Box<Report>,
        notification: Option<Notification>,
    },
    /// A retry with the same idempotency key: the reply stored the first time.
    Existing(ReportReply),
    /// The report holds [`crate::domain::report::REPLIES_MAX`] replies already.
    Full,
    Missing,
}

#[async_trait]
pub trait ReportStore: Send + Sync {
    /// Files a report; when the reporter already has an open report on that project, returns
    /// that one instead (`false`: nothing new was stored).
    async fn file(&self, new: &NewReport, at: DateTime<Utc>) -> Result<(Report, bool), StoreError>;
    async fn get(&self, id: ReportId) -> Result<Option<Report>, StoreError>;
    /// A reporter's reports, newest first.
    async fn mine(&self, reporter: &UserId, limit: Limit, after: Option<Cursor>) -> Result<Page<Report>, StoreError>;
    /// Reports matching `filter`, newest first, each with how many users have an open report
    /// on its project.
    async fn list(
        &self,
        filter: &ReportFilter,
        limit: Limit,
        after: Option<Cursor>,
    ) -> Result<Page<ReportSummary>, StoreError>;
    /// The report's action log, oldest first.
    async fn actions(&self, id: ReportId) -> Result<Vec<ReportAction>, StoreError>;
    /// Takes the right to decide the report until `until`, unless someone else holds it.
    async fn claim(
        &self,
        id: ReportId,
        token: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Claim, StoreError>;
    async fn release(&self, id: ReportId, token: &str) -> Result<(), StoreError>;
    /// Under the claim `token`, in one transaction: changes the report, appends `log`, stores
    /// `notify` and gives the claim back. `None` when the claim was lost (nothing written).
    async fn apply(
        &self,
        id: ReportId,
        token: &str,
        change: &ReportChange,
        log: &NewAction,
        notify: &[NewNotification],
        at: DateTime<Utc>,
    ) -> Result<Option<(Report, Vec<Notification>)>, StoreError>;
    /// The report's conversation, oldest first.
    async fn replies(&self, id: ReportId) -> Result<Vec<ReportReply>, StoreError>;
    /// In one transaction: appends the reply (unless its idempotency key was used), counts it
    /// against the bound, moves the report's status (an administrator's answer: pending to in
    /// progress; the reporter's reply: a closed report reopens) and stores `notify`.
    async fn reply(
        &self,
        new: &NewReply,
        notify: Option<&NewNotification>,
        at: DateTime<Utc>,
    ) -> Result<Replied, StoreError>;
    /// Appends to the action log an attempt that changed no report.
    async fn log(&self, action: &NewAction, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// What the report's last delete attempt was to tell, when that attempt may have deleted the
    /// project without finishing (its last entry is `DELETE_REQUESTED`, or the Project service
    /// did not answer the delete in time).
    async fn unfinished_delete(&self, id: ReportId) -> Result<Option<DecisionSubject>, StoreError>;
}

/// Every relational port (seeding and tests reach them all at once).
#[derive(Clone)]
pub struct Stores {
    pub health: Arc<dyn HealthProbe>,
    pub notifications: Arc<dyn NotificationStore>,
    pub notices: Arc<dyn NoticeStore>,
    pub banners: Arc<dyn BannerStore>,
    pub events: Arc<dyn EventStore>,
    pub reports: Arc<dyn ReportStore>,
}

#[cfg(feature = "sql")]
impl Stores {
    /// All ports served by one SQL database (MySQL, or the embedded SQLite file).
    pub fn sql(db: Arc<sql::SqlDb>) -> Self {
        Self {
            health: db.clone(),
            notifications: db.clone(),
            notices: db.clone(),
            banners: db.clone(),
            events: db.clone(),
            reports: db,
        }
    }
}

/// How often a removal reads a message again when an edit changed it under the removal.
#[cfg(any(feature = "dynamo", feature = "sql"))]
pub(crate) const REMOVAL_ATTEMPTS: usize = 5;

/// Outcome of saving a chat message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved {
    Created(ChatMessage),
    /// The client's message id was already used in this project: nothing new was stored and
    /// this is the message stored the first time.
    Existing(ChatMessage),
}

#[async_trait]
pub trait ChatStore: Send + Sync {
    /// Stores a message under its unique sort key. With `idempotent` (the client chose the
    /// id), saving the same `(project_id, message_id)` again stores nothing and returns the
    /// first message.
    async fn save(&self, message: &ChatMessage, idempotent: bool) -> Result<Saved, StoreError>;
    /// The message stored under `sort_key`, read consistently (did a write that timed out commit?).
    async fn find(&self, project_id: ProjectId, sort_key: &str) -> Result<Option<ChatMessage>, StoreError>;
    /// One page of a project's history, oldest first (tombstones included).
    async fn history(&self, project_id: ProjectId, query: &HistoryQuery) -> Result<HistoryPage, StoreError>;
    /// The message (or tombstone) with this id in the project, as last written.
    async fn by_id(&self, project_id: ProjectId, message_id: &MessageId) -> Result<Option<ChatMessage>, StoreError>;
    /// Replaces the text of the message under `sort_key` and sets its `edited_at`, unless it is
    /// deleted (a racing delete and edit end as the tombstone, never as an edited tombstone).
    async fn edit(
        &self,
        project_id: ProjectId,
        sort_key: &str,
        text: &str,
        at: DateTime<Utc>,
    ) -> Result<Changed, StoreError>;
    /// Turns the message under `sort_key` into a tombstone, unless it already is one. A
    /// moderated removal appends its [`RemovalRecord`] (with the text it removed, as it stood at
    /// that moment) in the same transaction.
    async fn remove(
        &self,
        project_id: ProjectId,
        sort_key: &str,
        removal: &Removal,
        report: Option<ReportId>,
    ) -> Result<Changed, StoreError>;
    /// Administrators' removals, newest first.
    async fn removals(&self, limit: Limit, after: Option<Cursor>) -> Result<Page<RemovalRecord>, StoreError>;
    /// The project's messages after the sort key `after` (from the first when `None`) that
    /// `reader` did not send and that are not deleted, counted up to `cap` (read consistently:
    /// a count right after a mark or a send sees it).
    async fn unread(
        &self,
        project_id: ProjectId,
        reader: &UserId,
        after: Option<&str>,
        cap: u32,
    ) -> Result<u32, StoreError>;
}

/// What touching a room changed, so a send that fails afterwards can take it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touched {
    /// The room already had this time or a later one.
    Unchanged,
    /// The room moved to the new time from `previous` (`None`: the room is new).
    Moved { previous: Option<DateTime<Utc>> },
}

#[async_trait]
pub trait RoomStore: Send + Sync {
    /// Records activity of `user_id` in the project at `at`; `updated_at` never moves backwards.
    async fn touch(&self, user_id: &UserId, project_id: ProjectId, at: DateTime<Utc>) -> Result<Touched, StoreError>;
    /// Takes back a touch at `at` whose message was not stored, unless the room moved since.
    async fn undo_touch(
        &self,
        user_id: &UserId,
        project_id: ProjectId,
        touched: Touched,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// The user's rooms, most recent activity first.
    async fn rooms(&self, user_id: &UserId) -> Result<Vec<ChatRoom>, StoreError>;
    /// Moves the user's read marker in the project to `up_to` (the sort key of a stored message
    /// stamped `stamp`) unless it already stands there or later, creating the room when needed
    /// (its activity moves to `stamp` unless later). Racing marks end at the furthest.
    async fn mark_read(
        &self,
        user_id: &UserId,
        project_id: ProjectId,
        up_to: &str,
        stamp: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<Marked, StoreError>;
    /// Whether the member's typing frame at `at` is passed on: none was in the `every` before
    /// it (then `at` is recorded). Racing frames: one wins.
    async fn typing(
        &self,
        user_id: &UserId,
        project_id: ProjectId,
        at: DateTime<Utc>,
        every: chrono::Duration,
    ) -> Result<bool, StoreError>;
}

#[async_trait]
pub trait ConnectionStore: Send + Sync {
    async fn put(&self, connection: &Connection) -> Result<(), StoreError>;
    async fn get(&self, connection_id: &ConnectionId) -> Result<Option<Connection>, StoreError>;
    /// Deletes the row; returns it when it existed.
    async fn remove(&self, connection_id: &ConnectionId) -> Result<Option<Connection>, StoreError>;
    /// Turns the connection's notification frames on or off; `false` when there is no such row.
    async fn set_notifications(&self, connection_id: &ConnectionId, on: bool) -> Result<bool, StoreError>;
    /// Turns the connection's live-chat frames (presence, typing, read) on or off; `false` when
    /// there is no such row.
    async fn set_live(&self, connection_id: &ConnectionId, on: bool) -> Result<bool, StoreError>;
    /// Records a renewed token on an open socket: its expiry and whether it admits as an
    /// administrator; `false` when there is no such row.
    async fn refresh(
        &self,
        connection_id: &ConnectionId,
        token_expires_at: DateTime<Utc>,
        admin: bool,
    ) -> Result<bool, StoreError>;
    /// Live connections of a project (rows past `expires_at` are skipped even before TTL).
    async fn by_project(&self, project_id: ProjectId, now: DateTime<Utc>) -> Result<Vec<Connection>, StoreError>;
    async fn by_user(&self, user_id: &UserId, now: DateTime<Utc>) -> Result<Vec<Connection>, StoreError>;
}

/// The chat ports, as the chat services see them.
#[derive(Clone)]
pub struct ChatStores {
    pub health: Arc<dyn HealthProbe>,
    pub messages: Arc<dyn ChatStore>,
    pub rooms: Arc<dyn RoomStore>,
    pub connections: Arc<dyn ConnectionStore>,
}

impl ChatStores {
    #[cfg(feature = "dynamo")]
    pub fn dynamo(store: dynamo::DynamoStore) -> Self {
        let store = Arc::new(store);
        Self { health: store.clone(), messages: store.clone(), rooms: store.clone(), connections: store }
    }

    /// Chat in the SQL database (local runs, and the conformance suite on MariaDB).
    #[cfg(feature = "sql")]
    pub fn sql(db: Arc<sql::SqlDb>) -> Self {
        Self { health: db.clone(), messages: db.clone(), rooms: db.clone(), connections: db }
    }
}
