//! Chat on the SQL database: the embedded adapter for local runs, with the DynamoDB adapter's
//! keys and semantics (checked by the same conformance suite).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::Step;
use super::{SqlDb, SqlValue, Statement};
use crate::domain::{
    ConnectionId, Cursor, Limit, MessageId, Page, ProjectId, ReportId, UserId,
    chat::{
        Changed, ChatMessage, ChatRoom, Connection, HistoryPage, HistoryPosition, HistoryQuery, Marked, ReadMarker,
        Removal, RemovalRecord,
    },
};
use crate::store::{ChatStore, ConnectionStore, REMOVAL_ATTEMPTS, RoomStore, Saved, StoreError, Touched};

// Message ids are compared exactly (`ascii_bin` on MySQL), which the driver reports as binary:
// the casts read them back as text on both engines.
const MESSAGE_COLUMNS: &str = "SELECT CAST(message_id AS CHAR(64)) AS message_id, project_id, user_id, sender_name, \
     message, sent_at, is_in_meeting, edited_at, deleted_at, deleted_by, moderated FROM chat_messages";
const REMOVAL_COLUMNS: &str = "SELECT removal_id, project_id, CAST(message_id AS CHAR(64)) AS message_id, author, \
     sender_name, message, sent_at, removed_by, removed_at, report_id FROM chat_removals";
// The MySQL column is case-sensitive (`ascii_bin`), which the driver reports as binary: the
// cast reads it back as text on both engines.
const CONNECTION_COLUMNS: &str = "SELECT CAST(connection_id AS CHAR(128)) AS connection_id, user_id, display_name, \
     project_id, notifications, admin, member, live, connected_at, expires_at, token_expires_at FROM ws_connections";
// The marker is compared exactly (`ascii_bin` on MySQL): cast back to text as above.
const ROOM_COLUMNS: &str = "SELECT project_id, updated_at, CAST(read_up_to AS CHAR(100)) AS read_up_to, last_read_at \
     FROM chat_rooms";

#[derive(sqlx::FromRow)]
struct MessageRow {
    message_id: String,
    project_id: i64,
    user_id: String,
    sender_name: String,
    message: String,
    sent_at: DateTime<Utc>,
    is_in_meeting: bool,
    edited_at: Option<DateTime<Utc>>,
    deleted_at: Option<DateTime<Utc>>,
    deleted_by: Option<String>,
    moderated: bool,
}

impl From<MessageRow> for ChatMessage {
    fn from(r: MessageRow) -> Self {
        let removed = match (r.deleted_at, r.deleted_by) {
            (Some(at), Some(by)) => Some(Removal { at, by: UserId::from_stored(by), moderated: r.moderated }),
            _ => None,
        };
        Self {
            message_id: MessageId::from_stored(r.message_id),
            project_id: ProjectId::from_stored(r.project_id),
            user_id: UserId::from_stored(r.user_id),
            sender_name: r.sender_name,
            message: r.message,
            timestamp: r.sent_at,
            is_in_meeting: r.is_in_meeting,
            edited_at: r.edited_at,
            removed,
        }
    }
}

#[derive(sqlx::FromRow)]
struct RemovalRow {
    removal_id: i64,
    project_id: i64,
    message_id: String,
    author: String,
    sender_name: String,
    message: String,
    sent_at: DateTime<Utc>,
    removed_by: String,
    removed_at: DateTime<Utc>,
    report_id: Option<i64>,
}

impl From<RemovalRow> for RemovalRecord {
    fn from(r: RemovalRow) -> Self {
        Self {
            removal_id: r.removal_id,
            project_id: ProjectId::from_stored(r.project_id),
            message_id: MessageId::from_stored(r.message_id),
            author: UserId::from_stored(r.author),
            sender_name: r.sender_name,
            message: r.message,
            sent_at: r.sent_at,
            removed_by: UserId::from_stored(r.removed_by),
            removed_at: r.removed_at,
            report_id: r.report_id.map(ReportId::from_stored),
        }
    }
}

#[derive(sqlx::FromRow)]
struct RoomRow {
    project_id: i64,
    updated_at: DateTime<Utc>,
    read_up_to: Option<String>,
    last_read_at: Option<DateTime<Utc>>,
}

impl From<RoomRow> for ChatRoom {
    fn from(r: RoomRow) -> Self {
        let read = match (r.read_up_to, r.last_read_at) {
            (Some(up_to), Some(at)) => Some(ReadMarker { up_to, at }),
            _ => None,
        };
        Self { project_id: ProjectId::from_stored(r.project_id), updated_at: r.updated_at, read }
    }
}

#[derive(sqlx::FromRow)]
struct ConnectionRow {
    connection_id: String,
    user_id: String,
    display_name: String,
    project_id: Option<i64>,
    notifications: bool,
    admin: bool,
    member: bool,
    live: bool,
    connected_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    token_expires_at: Option<DateTime<Utc>>,
}

impl From<ConnectionRow> for Connection {
    fn from(r: ConnectionRow) -> Self {
        Self {
            connection_id: ConnectionId::from_stored(r.connection_id),
            user_id: UserId::from_stored(r.user_id),
            display_name: r.display_name,
            project_id: r.project_id.map(ProjectId::from_stored),
            notifications: r.notifications,
            admin: r.admin,
            member: r.member,
            live: r.live,
            connected_at: r.connected_at,
            expires_at: r.expires_at,
            token_expires_at: r.token_expires_at,
        }
    }
}

fn insert_message(m: &ChatMessage) -> Statement {
    Statement::new(
        "INSERT INTO chat_messages (project_id, sk, message_id, user_id, sender_name, message, sent_at, is_in_meeting) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(m.project_id)
    .bind(m.sort_key().as_str())
    .bind(m.message_id.as_str())
    .bind(&m.user_id)
    .bind(m.sender_name.as_str())
    .bind(m.message.as_str())
    .bind(m.timestamp)
    .bind(m.is_in_meeting)
}

/// Moves an existing room forward to `at`; never backwards.
fn move_room(user_id: &UserId, project_id: ProjectId, at: DateTime<Utc>) -> Statement {
    Statement::new("UPDATE chat_rooms SET updated_at = ? WHERE user_id = ? AND project_id = ? AND updated_at < ?")
        .bind(at)
        .bind(user_id)
        .bind(project_id)
        .bind(at)
}

impl SqlDb {
    /// Runs an update of one connection row; `false` when there is no such row.
    async fn update_connection(&self, connection_id: &ConnectionId, update: &Statement) -> Result<bool, StoreError> {
        let done = self.execute(update).await?;
        // MySQL counts changed rows, not matched ones: setting the value a row has reports 0.
        Ok(done.rows_affected > 0 || ConnectionStore::get(self, connection_id).await?.is_some())
    }

    /// The member's room in the project, if they have one.
    async fn room(&self, user_id: &UserId, project_id: ProjectId) -> Result<Option<RoomRow>, StoreError> {
        self.fetch_optional(
            &Statement::new(ROOM_COLUMNS).push("WHERE user_id = ? AND project_id = ?").bind(user_id).bind(project_id),
        )
        .await
    }

    async fn message_by_client_id(
        &self,
        project_id: ProjectId,
        message_id: &MessageId,
    ) -> Result<Option<ChatMessage>, StoreError> {
        let row: Option<MessageRow> = self
            .fetch_optional(
                &Statement::new(MESSAGE_COLUMNS)
                    .push("WHERE project_id = ? AND sk = (SELECT sk FROM chat_message_ids WHERE project_id = ? AND message_id = ?)")
                    .bind(project_id)
                    .bind(project_id)
                    .bind(message_id.as_str()),
            )
            .await?;
        Ok(row.map(Into::into))
    }

    async fn connections_where(
        &self,
        clause: &str,
        key: SqlValue,
        now: DateTime<Utc>,
    ) -> Result<Vec<Connection>, StoreError> {
        let rows: Vec<ConnectionRow> = self
            .fetch_all(
                &Statement::new(CONNECTION_COLUMNS)
                    .push(clause)
                    .bind(key)
                    .push("AND expires_at > ? ORDER BY connection_id")
                    .bind(now),
            )
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}

#[async_trait]
impl ChatStore for SqlDb {
    async fn save(&self, message: &ChatMessage, idempotent: bool) -> Result<Saved, StoreError> {
        if !idempotent {
            self.execute(&insert_message(message)).await?;
            return Ok(Saved::Created(message.clone()));
        }
        let reserve = Statement::new("INSERT INTO chat_message_ids (project_id, message_id, sk) VALUES (?, ?, ?)")
            .bind(message.project_id)
            .bind(message.message_id.as_str())
            .bind(message.sort_key().as_str());
        match self.execute_atomically(&[reserve, insert_message(message)]).await {
            Ok(()) => Ok(Saved::Created(message.clone())),
            Err(StoreError::Conflict(_)) => self
                .message_by_client_id(message.project_id, &message.message_id)
                .await?
                .map(Saved::Existing)
                .ok_or_else(|| StoreError::Unavailable("a concurrent send of this message id is in flight".into())),
            Err(e) => Err(e),
        }
    }

    async fn find(&self, project_id: ProjectId, sort_key: &str) -> Result<Option<ChatMessage>, StoreError> {
        let stmt =
            Statement::new(MESSAGE_COLUMNS).push("WHERE project_id = ? AND sk = ?").bind(project_id).bind(sort_key);
        let row: Option<MessageRow> = self.fetch_optional(&stmt).await?;
        Ok(row.map(Into::into))
    }

    async fn history(&self, project_id: ProjectId, query: &HistoryQuery) -> Result<HistoryPage, StoreError> {
        let (low, high) = query.key_range();
        let stmt = Statement::new(MESSAGE_COLUMNS)
            .push("WHERE project_id = ? AND sk >= ? AND sk <= ?")
            .bind(project_id)
            .bind(low.as_str())
            .bind(high.as_str());
        let (stmt, forward) = match &query.position {
            HistoryPosition::Latest => (stmt.push("ORDER BY sk DESC"), false),
            HistoryPosition::Before(c) => (stmt.push("AND sk < ? ORDER BY sk DESC").bind(c.key()), false),
            HistoryPosition::After(c) => (stmt.push("AND sk > ? ORDER BY sk ASC").bind(c.key()), true),
        };
        let rows: Vec<MessageRow> = self.fetch_all(&stmt.push("LIMIT ?").bind(i64::from(query.limit) + 1)).await?;
        Ok(HistoryPage::from_probe(rows.into_iter().map(Into::into).collect(), query.limit, !forward))
    }

    async fn by_id(&self, project_id: ProjectId, message_id: &MessageId) -> Result<Option<ChatMessage>, StoreError> {
        let stmt = Statement::new(MESSAGE_COLUMNS)
            .push("WHERE project_id = ? AND message_id = ?")
            .bind(project_id)
            .bind(message_id.as_str());
        let row: Option<MessageRow> = self.fetch_optional(&stmt).await?;
        Ok(row.map(Into::into))
    }

    async fn edit(
        &self,
        project_id: ProjectId,
        sort_key: &str,
        text: &str,
        at: DateTime<Utc>,
    ) -> Result<Changed, StoreError> {
        let update = Statement::new(
            "UPDATE chat_messages SET message = ?, edited_at = ? WHERE project_id = ? AND sk = ? AND deleted_at IS NULL",
        )
        .bind(text)
        .bind(at)
        .bind(project_id)
        .bind(sort_key);
        let Some(found) = ChatStore::find(self, project_id, sort_key).await? else {
            return Ok(Changed::Missing);
        };
        if self.execute(&update).await?.rows_affected > 0 {
            // The message as this update left it (a delete may follow at once, as on DynamoDB).
            return Ok(Changed::Done(ChatMessage { message: text.to_owned(), edited_at: Some(at), ..found }));
        }
        // Nothing changed: deleted meanwhile, or (MySQL counts changed rows) the same text in
        // the same millisecond.
        Ok(match ChatStore::find(self, project_id, sort_key).await? {
            None => Changed::Missing,
            Some(stored) if stored.is_removed() => Changed::Removed(stored),
            Some(stored) => Changed::Done(stored),
        })
    }

    async fn remove(
        &self,
        project_id: ProjectId,
        sort_key: &str,
        removal: &Removal,
        report: Option<ReportId>,
    ) -> Result<Changed, StoreError> {
        // As on DynamoDB: read the message, then tombstone it only if it is still as read (its
        // text and edit time), the audit record beside it in one transaction. The update takes
        // the row's lock first, so a racing edit waits (or wins, and this reads again).
        for _ in 0..REMOVAL_ATTEMPTS {
            let Some(current) = ChatStore::find(self, project_id, sort_key).await? else {
                return Ok(Changed::Missing);
            };
            if current.is_removed() {
                return Ok(Changed::Removed(current));
            }
            let tombstone = Statement::new(
                "UPDATE chat_messages SET message = '', deleted_at = ?, deleted_by = ?, moderated = ? \
                 WHERE project_id = ? AND sk = ? AND deleted_at IS NULL AND message = ? \
                 AND (edited_at = ? OR (edited_at IS NULL AND ? IS NULL))",
            )
            .bind(removal.at)
            .bind(&removal.by)
            .bind(removal.moderated)
            .bind(project_id)
            .bind(sort_key)
            .bind(current.message.as_str())
            .bind(current.edited_at)
            .bind(current.edited_at);
            let record = RemovalRecord::of(&current, removal, report, 0);
            let audit = Statement::new(
                "INSERT INTO chat_removals (project_id, message_id, author, sender_name, message, sent_at, \
                 removed_by, removed_at, report_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(record.project_id)
            .bind(record.message_id.as_str())
            .bind(&record.author)
            .bind(record.sender_name.as_str())
            .bind(record.message.as_str())
            .bind(record.sent_at)
            .bind(&record.removed_by)
            .bind(record.removed_at)
            .bind(report.map(|id| id.get()));
            let mut steps = vec![Step { statement: &tombstone, guard: true }];
            if removal.moderated {
                steps.push(Step { statement: &audit, guard: false });
            }
            if self.transact(&steps).await?.is_some() {
                return Ok(Changed::Done(ChatMessage {
                    message: String::new(),
                    removed: Some(removal.clone()),
                    ..current
                }));
            }
        }
        Err(StoreError::Unavailable("the message kept changing while it was being removed; try again".into()))
    }

    async fn removals(&self, limit: Limit, after: Option<Cursor>) -> Result<Page<RemovalRecord>, StoreError> {
        let mut stmt = Statement::new(REMOVAL_COLUMNS).push("WHERE 1 = 1");
        if let Some(cursor) = after {
            let at = cursor.instant().ok_or_else(|| StoreError::Internal("cursor outside the time range".into()))?;
            stmt = stmt
                .push("AND (removed_at < ? OR (removed_at = ? AND removal_id < ?))")
                .bind(at)
                .bind(at)
                .bind(cursor.id);
        }
        let stmt = stmt.push("ORDER BY removed_at DESC, removal_id DESC LIMIT ?").bind(limit.probe());
        let rows: Vec<RemovalRow> = self.fetch_all(&stmt).await?;
        Ok(Page::from_probe(rows.into_iter().map(Into::into).collect(), limit, RemovalRecord::cursor))
    }

    async fn unread(
        &self,
        project_id: ProjectId,
        reader: &UserId,
        after: Option<&str>,
        cap: u32,
    ) -> Result<u32, StoreError> {
        // Counted inside a bounded subquery: the primary key's range, at most `cap` rows.
        let count = self
            .fetch_count(
                &Statement::new(
                    "SELECT COUNT(*) FROM (SELECT 1 AS one FROM chat_messages WHERE project_id = ? AND sk > ? \
                     AND user_id <> ? AND deleted_at IS NULL LIMIT ?) AS unread",
                )
                .bind(project_id)
                .bind(after.unwrap_or("m#"))
                .bind(reader)
                .bind(i64::from(cap)),
            )
            .await?;
        Ok(u32::try_from(count).unwrap_or(cap))
    }
}

#[async_trait]
impl RoomStore for SqlDb {
    async fn touch(&self, user_id: &UserId, project_id: ProjectId, at: DateTime<Utc>) -> Result<Touched, StoreError> {
        // The embedded store serves one developer: read-then-write is enough here.
        let previous = self.room(user_id, project_id).await?.map(|r| r.updated_at);
        if previous.is_some_and(|p| p >= at) {
            return Ok(Touched::Unchanged);
        }
        if previous.is_some() {
            self.execute(&move_room(user_id, project_id, at)).await?;
            return Ok(Touched::Moved { previous });
        }
        // A plain insert: racing first touches (a send, a mark) meet on the primary key, and
        // the ones that lose move the room forward instead (no gap locks, so no deadlock).
        let create = Statement::new("INSERT INTO chat_rooms (user_id, project_id, updated_at) VALUES (?, ?, ?)")
            .bind(user_id)
            .bind(project_id)
            .bind(at);
        match self.execute(&create).await {
            Ok(_) => Ok(Touched::Moved { previous: None }),
            Err(StoreError::Conflict(_)) => {
                self.execute(&move_room(user_id, project_id, at)).await?;
                Ok(Touched::Unchanged)
            }
            Err(e) => Err(e),
        }
    }

    async fn undo_touch(
        &self,
        user_id: &UserId,
        project_id: ProjectId,
        touched: Touched,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let stmt = match touched {
            Touched::Unchanged => return Ok(()),
            Touched::Moved { previous: Some(previous) } => Statement::new(
                "UPDATE chat_rooms SET updated_at = ? WHERE user_id = ? AND project_id = ? AND updated_at = ?",
            )
            .bind(previous),
            Touched::Moved { previous: None } => {
                // A read marker set meanwhile keeps the room.
                Statement::new(
                    "DELETE FROM chat_rooms WHERE user_id = ? AND project_id = ? AND updated_at = ? AND read_up_to IS NULL",
                )
            }
        };
        self.execute(&stmt.bind(user_id).bind(project_id).bind(at)).await.map(|_| ())
    }

    async fn rooms(&self, user_id: &UserId) -> Result<Vec<ChatRoom>, StoreError> {
        let rows: Vec<RoomRow> = self
            .fetch_all(
                &Statement::new(ROOM_COLUMNS)
                    .push("WHERE user_id = ? ORDER BY updated_at DESC, project_id ASC")
                    .bind(user_id),
            )
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn mark_read(
        &self,
        user_id: &UserId,
        project_id: ProjectId,
        up_to: &str,
        stamp: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<Marked, StoreError> {
        // As on DynamoDB: the room first, then the marker, only forwards (a racing mark that
        // went further makes this one match no row). A failed send's undo may delete the room
        // just made: then once more.
        for _ in 0..2 {
            RoomStore::touch(self, user_id, project_id, stamp).await?;
            let moved = Statement::new(
                "UPDATE chat_rooms SET read_up_to = ?, last_read_at = ? WHERE user_id = ? AND project_id = ? \
                 AND (read_up_to IS NULL OR read_up_to < ?)",
            )
            .bind(up_to)
            .bind(at)
            .bind(user_id)
            .bind(project_id)
            .bind(up_to);
            if self.execute(&moved).await?.rows_affected > 0 {
                return Ok(Marked::Moved(ReadMarker { up_to: up_to.to_owned(), at }));
            }
            if let Some(read) = self.room(user_id, project_id).await?.and_then(|r| ChatRoom::from(r).read) {
                return Ok(Marked::Unchanged(read));
            }
        }
        Err(StoreError::Unavailable("the room kept disappearing while it was being marked; try again".into()))
    }

    async fn typing(
        &self,
        user_id: &UserId,
        project_id: ProjectId,
        at: DateTime<Utc>,
        every: chrono::Duration,
    ) -> Result<bool, StoreError> {
        let passed = Statement::new(
            "UPDATE chat_typing SET typing_at = ? WHERE user_id = ? AND project_id = ? AND typing_at <= ?",
        )
        .bind(at)
        .bind(user_id)
        .bind(project_id)
        .bind(at - every);
        if self.execute(&passed).await?.rows_affected > 0 {
            return Ok(true);
        }
        // The member's first frame here; a racing first frame makes this one a conflict.
        let first = Statement::new("INSERT INTO chat_typing (user_id, project_id, typing_at) VALUES (?, ?, ?)")
            .bind(user_id)
            .bind(project_id)
            .bind(at);
        match self.execute(&first).await {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl ConnectionStore for SqlDb {
    async fn put(&self, c: &Connection) -> Result<(), StoreError> {
        // API Gateway never reuses a connection id; a replayed $connect replaces the row.
        let delete =
            Statement::new("DELETE FROM ws_connections WHERE connection_id = ?").bind(c.connection_id.as_str());
        let insert = Statement::new(
            "INSERT INTO ws_connections (connection_id, user_id, display_name, project_id, notifications, admin, \
             member, live, connected_at, expires_at, token_expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(c.connection_id.as_str())
        .bind(&c.user_id)
        .bind(c.display_name.as_str())
        .bind(c.project_id.map(|p| p.get()))
        .bind(c.notifications)
        .bind(c.admin)
        .bind(c.member)
        .bind(c.live)
        .bind(c.connected_at)
        .bind(c.expires_at)
        .bind(c.token_expires_at);
        self.execute_atomically(&[delete, insert]).await
    }

    async fn get(&self, connection_id: &ConnectionId) -> Result<Option<Connection>, StoreError> {
        let row: Option<ConnectionRow> = self
            .fetch_optional(
                &Statement::new(CONNECTION_COLUMNS).push("WHERE connection_id = ?").bind(connection_id.as_str()),
            )
            .await?;
        Ok(row.map(Into::into))
    }

    async fn remove(&self, connection_id: &ConnectionId) -> Result<Option<Connection>, StoreError> {
        let existing = ConnectionStore::get(self, connection_id).await?;
        if existing.is_some() {
            self.execute(
                &Statement::new("DELETE FROM ws_connections WHERE connection_id = ?").bind(connection_id.as_str()),
            )
            .await?;
        }
        Ok(existing)
    }

    async fn set_notifications(&self, connection_id: &ConnectionId, on: bool) -> Result<bool, StoreError> {
        let update = Statement::new("UPDATE ws_connections SET notifications = ? WHERE connection_id = ?")
            .bind(on)
            .bind(connection_id.as_str());
        self.update_connection(connection_id, &update).await
    }

    async fn set_live(&self, connection_id: &ConnectionId, on: bool) -> Result<bool, StoreError> {
        let update = Statement::new("UPDATE ws_connections SET live = ? WHERE connection_id = ?")
            .bind(on)
            .bind(connection_id.as_str());
        self.update_connection(connection_id, &update).await
    }

    async fn refresh(
        &self,
        connection_id: &ConnectionId,
        token_expires_at: DateTime<Utc>,
        admin: bool,
    ) -> Result<bool, StoreError> {
        let update =
            Statement::new("UPDATE ws_connections SET token_expires_at = ?, admin = ? WHERE connection_id = ?")
                .bind(token_expires_at)
                .bind(admin)
                .bind(connection_id.as_str());
        self.update_connection(connection_id, &update).await
    }

    async fn by_project(&self, project_id: ProjectId, now: DateTime<Utc>) -> Result<Vec<Connection>, StoreError> {
        self.connections_where("WHERE project_id = ?", project_id.into(), now).await
    }

    async fn by_user(&self, user_id: &UserId, now: DateTime<Utc>) -> Result<Vec<Connection>, StoreError> {
        self.connections_where("WHERE user_id = ?", user_id.into(), now).await
    }
}
