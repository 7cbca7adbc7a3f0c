//! The DynamoDB adapter for chat: messages, rooms and WebSocket connections.
//!
//! Tables (the same definitions as template.yaml, in [`super::dynamo_tables`], which makes them
//! on an emulator):
//! - messages: PK `project_id` (N), SK `sk` (S) = `m#<13-digit epoch ms>#<message_id>`, unique per
//!   message; idempotency markers `i#<message_id>` share the partition and expire by TTL.
//!   A deleted message stays as a tombstone (no `message`; `deleted_at`, `deleted_by`); GSI
//!   `message_id-index` (`project_id`, `message_id`, keys only) finds a message by id; partition 0
//!   holds the administrators' removal log (`r#…`).
//! - rooms: PK `user_id` (S), SK `project_id` (N), `updated_at`; the read marker (`read_up_to`,
//!   `last_read_at`) and the last typing frame passed on (`typing_at`, epoch ms; an item with only
//!   that is not a room).
//! - connections: PK `connection_id` (S); GSIs by `project_id` and by `user_id`; TTL `expires_at`.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::{
    Client,
    error::{ProvideErrorMetadata, SdkError},
    operation::transact_write_items::TransactWriteItemsError,
    types::{AttributeValue, Put, ReturnValue, TransactWriteItem, Update},
};
use chrono::{DateTime, Duration, Utc};

use super::{ChatStore, ConnectionStore, HealthProbe, REMOVAL_ATTEMPTS, RoomStore, Saved, StoreError, Touched};
use crate::domain::{
    ConnectionId, Cursor, Limit, MessageId, Page, ProjectId, ReportId, UserId,
    chat::{
        Changed, ChatMessage, ChatRoom, Connection, HistoryPage, HistoryPosition, HistoryQuery, Marked, ReadMarker,
        Removal, RemovalRecord, sort_key,
    },
    time::{format_iso, now_ms, parse_instant},
};

pub const PROJECT_INDEX: &str = "project_id-index";
/// Messages by id within their project (keys only: the message is then read by its sort key,
/// consistently). Idempotency markers and audit records carry no `message_id`: not indexed.
pub const MESSAGE_ID_INDEX: &str = "message_id-index";
/// The partition of the administrators' removal log (no project has id 0), sort key
/// `r#<13-digit epoch ms>#<19-digit removal id>`.
const AUDIT_PARTITION: i64 = 0;

pub const USER_INDEX: &str = "user_id-index";
/// How long a client message id stays reserved: retries come within minutes.
const IDEMPOTENCY_WINDOW: Duration = Duration::days(7);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamoTables {
    pub messages: String,
    pub rooms: String,
    pub connections: String,
}

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    tables: DynamoTables,
}

type Item = HashMap<String, AttributeValue>;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        _ => Err(StoreError::Internal(format!("item lacks string attribute {name}"))),
    }
}

fn get_n(item: &Item, name: &str) -> Result<i64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => {
            v.parse().map_err(|_| StoreError::Internal(format!("attribute {name} is not an integer: {v}")))
        }
        _ => Err(StoreError::Internal(format!("item lacks number attribute {name}"))),
    }
}

fn get_project(item: &Item, name: &str) -> Result<ProjectId, StoreError> {
    get_n(item, name).map(ProjectId::from_stored)
}

fn get_user(item: &Item, name: &str) -> Result<UserId, StoreError> {
    get_s(item, name).map(|raw| UserId::from_stored(raw.to_owned()))
}

fn get_time(item: &Item, name: &str) -> Result<DateTime<Utc>, StoreError> {
    parse_instant(get_s(item, name)?).map_err(|e| StoreError::Internal(format!("{name}: {e}")))
}

/// Sorts an SDK error into what the caller can do about it.
fn classify<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let detail = aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string();
    match &e {
        SdkError::ServiceError(service) => match service.err().code() {
            Some(
                "ProvisionedThroughputExceededException"
                | "RequestLimitExceeded"
                | "ThrottlingException"
                | "InternalServerError"
                | "ServiceUnavailable"
                | "TransactionConflictException"
                // A retried transaction whose first attempt (same client request token) is
                // still being applied: it may yet commit, so never an internal error.
                | "TransactionInProgressException",
            ) => StoreError::Unavailable(detail),
            _ => StoreError::Internal(detail),
        },
        _ => StoreError::Unavailable(detail),
    }
}

fn is_code<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>, code: &str) -> bool {
    matches!(e, SdkError::ServiceError(service) if service.err().code() == Some(code))
}

/// A transaction cancelled because an item was not as read, or by a racing transaction: worth
/// reading again. Any other cancellation (a validation error) is not.
fn changed_meanwhile<R>(e: &SdkError<TransactWriteItemsError, R>) -> bool {
    match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
            cancelled.cancellation_reasons().iter().all(|reason| {
                matches!(reason.code(), None | Some("None" | "ConditionalCheckFailed" | "TransactionConflict"))
            })
        }
        _ => false,
    }
}

fn message_item(m: &ChatMessage) -> Item {
    HashMap::from([
        ("project_id".into(), n(m.project_id)),
        ("sk".into(), s(m.sort_key())),
        ("message_id".into(), s(m.message_id.as_str())),
        ("user_id".into(), s(m.user_id.as_str())),
        ("sender_name".into(), s(&m.sender_name)),
        ("message".into(), s(&m.message)),
        ("timestamp".into(), s(format_iso(&m.timestamp))),
        ("created_at".into(), n(m.timestamp.timestamp_millis())),
        ("is_in_meeting".into(), AttributeValue::Bool(m.is_in_meeting)),
    ])
}

fn get_millis(item: &Item, name: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    match item.get(name) {
        None => Ok(None),
        Some(_) => {
            let ms = get_n(item, name)?;
            DateTime::from_timestamp_millis(ms)
                .map(Some)
                .ok_or_else(|| StoreError::Internal(format!("{name} out of range: {ms}")))
        }
    }
}

fn message_from(item: &Item) -> Result<ChatMessage, StoreError> {
    let removed = match get_millis(item, "deleted_at")? {
        None => None,
        Some(at) => Some(Removal {
            at,
            by: get_user(item, "deleted_by")?,
            moderated: matches!(item.get("moderated"), Some(AttributeValue::Bool(true))),
        }),
    };
    Ok(ChatMessage {
        message_id: MessageId::from_stored(get_s(item, "message_id")?.to_owned()),
        project_id: get_project(item, "project_id")?,
        user_id: get_user(item, "user_id")?,
        sender_name: get_s(item, "sender_name")?.to_owned(),
        // A tombstone keeps no text.
        message: if removed.is_some() { String::new() } else { get_s(item, "message")?.to_owned() },
        timestamp: get_time(item, "timestamp")?,
        is_in_meeting: matches!(item.get("is_in_meeting"), Some(AttributeValue::Bool(true))),
        edited_at: get_millis(item, "edited_at")?,
        removed,
    })
}

/// The audit record's sort key: newest last, ties broken by the removal id.
fn removal_key(at: &DateTime<Utc>, removal_id: i64) -> String {
    format!("r#{:013}#{removal_id:019}", at.timestamp_millis().max(0))
}

fn removal_item(record: &RemovalRecord) -> Item {
    let mut item: Item = HashMap::from([
        ("project_id".into(), n(AUDIT_PARTITION)),
        ("sk".into(), s(removal_key(&record.removed_at, record.removal_id))),
        ("removal_id".into(), n(record.removal_id)),
        ("removed_project_id".into(), n(record.project_id)),
        ("removed_message_id".into(), s(record.message_id.as_str())),
        ("author".into(), s(record.author.as_str())),
        ("sender_name".into(), s(&record.sender_name)),
        ("text".into(), s(&record.message)),
        ("sent_at".into(), s(format_iso(&record.sent_at))),
        ("removed_by".into(), s(record.removed_by.as_str())),
        ("removed_at".into(), s(format_iso(&record.removed_at))),
    ]);
    if let Some(report_id) = record.report_id {
        item.insert("report_id".into(), n(report_id));
    }
    item
}

fn removal_from(item: &Item) -> Result<RemovalRecord, StoreError> {
    Ok(RemovalRecord {
        removal_id: get_n(item, "removal_id")?,
        project_id: get_project(item, "removed_project_id")?,
        message_id: MessageId::from_stored(get_s(item, "removed_message_id")?.to_owned()),
        author: get_user(item, "author")?,
        sender_name: get_s(item, "sender_name")?.to_owned(),
        message: get_s(item, "text")?.to_owned(),
        sent_at: get_time(item, "sent_at")?,
        removed_by: get_user(item, "removed_by")?,
        removed_at: get_time(item, "removed_at")?,
        report_id: match item.get("report_id") {
            None => None,
            Some(_) => Some(ReportId::from_stored(get_n(item, "report_id")?)),
        },
    })
}

/// A message that is not a tombstone (markers and audit records carry no `message_id`). Every
/// edit and removal is conditional on it: a racing edit and delete end as the tombstone.
const LIVE_MESSAGE: &str = "attribute_exists(message_id) AND attribute_not_exists(deleted_at)";
const TOMBSTONE_UPDATE: &str = "SET deleted_at = :at, deleted_by = :by, moderated = :moderated REMOVE message";

/// A fresh removal id: positive, random (two removals in one millisecond never collide).
fn new_removal_id() -> i64 {
    (uuid::Uuid::new_v4().as_u64_pair().0 >> 1) as i64
}

fn connection_item(c: &Connection) -> Item {
    let mut item: Item = HashMap::from([
        ("connection_id".into(), s(c.connection_id.as_str())),
        ("user_id".into(), s(c.user_id.as_str())),
        ("display_name".into(), s(&c.display_name)),
        ("notifications".into(), AttributeValue::Bool(c.notifications)),
        ("admin".into(), AttributeValue::Bool(c.admin)),
        ("member".into(), AttributeValue::Bool(c.member)),
        ("live".into(), AttributeValue::Bool(c.live)),
        ("connected_at".into(), s(format_iso(&c.connected_at))),
        ("expires_at".into(), n(c.expires_at.timestamp())),
    ]);
    // A notifications-only socket has no project: absent from the project index (a sparse
    // GSI), so no chat broadcast ever lists it.
    if let Some(project_id) = c.project_id {
        item.insert("project_id".into(), n(project_id));
    }
    if let Some(at) = c.token_expires_at {
        item.insert("token_expires_at".into(), n(at.timestamp_millis()));
    }
    item
}

fn connection_from(item: &Item) -> Result<Connection, StoreError> {
    let expires = get_n(item, "expires_at")?;
    Ok(Connection {
        connection_id: ConnectionId::from_stored(get_s(item, "connection_id")?.to_owned()),
        user_id: get_user(item, "user_id")?,
        display_name: get_s(item, "display_name")?.to_owned(),
        project_id: match item.get("project_id") {
            None => None,
            Some(_) => Some(get_project(item, "project_id")?),
        },
        // Rows written before sockets could subscribe have no attribute: not subscribed.
        notifications: matches!(item.get("notifications"), Some(AttributeValue::Bool(true))),
        admin: matches!(item.get("admin"), Some(AttributeValue::Bool(true))),
        // The previous release's rows do not say: they count for presence once reconnected.
        member: matches!(item.get("member"), Some(AttributeValue::Bool(true))),
        live: matches!(item.get("live"), Some(AttributeValue::Bool(true))),
        connected_at: get_time(item, "connected_at")?,
        expires_at: DateTime::from_timestamp(expires, 0)
            .ok_or_else(|| StoreError::Internal(format!("expires_at out of range: {expires}")))?,
        token_expires_at: match item.get("token_expires_at") {
            None => None,
            Some(_) => {
                let ms = get_n(item, "token_expires_at")?;
                Some(
                    DateTime::from_timestamp_millis(ms)
                        .ok_or_else(|| StoreError::Internal(format!("token_expires_at out of range: {ms}")))?,
                )
            }
        },
    })
}

impl DynamoStore {
    /// Updates an existing connection row; `false` when there is none (never creates one).
    async fn update_connection<const N: usize>(
        &self,
        connection_id: &ConnectionId,
        update: &str,
        values: [(&str, AttributeValue); N],
    ) -> Result<bool, StoreError> {
        let updated = values
            .into_iter()
            .fold(
                self.client
                    .update_item()
                    .table_name(&self.tables.connections)
                    .key("connection_id", s(connection_id.as_str()))
                    .update_expression(update)
                    .condition_expression("attribute_exists(connection_id)"),
                |request, (name, value)| request.expression_attribute_values(name, value),
            )
            .send()
            .await;
        match updated {
            Ok(_) => Ok(true),
            Err(e) if is_code(&e, "ConditionalCheckFailedException") => Ok(false),
            Err(e) => Err(classify(e)),
        }
    }

    pub fn new(client: Client, tables: DynamoTables) -> Self {
        Self { client, tables }
    }

    pub fn tables(&self) -> &DynamoTables {
        &self.tables
    }

    /// Creates the three tables as template.yaml declares them (see [`super::dynamo_tables`]),
    /// or checks the ones that exist: emulators, LocalStack and tests.
    pub async fn create_tables(&self) -> Result<(), StoreError> {
        super::dynamo_tables::bootstrap(&self.client, &self.tables).await.map(|_| ()).map_err(|e| match e {
            super::dynamo_tables::BootstrapError::Differs { .. } => StoreError::Conflict(e.to_string()),
            super::dynamo_tables::BootstrapError::Dynamo(detail) => StoreError::Unavailable(detail),
        })
    }

    /// Runs a paginated Query to the end, or until `enough` items were kept.
    async fn query_all(
        &self,
        build: impl Fn() -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        mut keep: impl FnMut(&Item) -> Result<bool, StoreError>,
        enough: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = build().set_exclusive_start_key(start.take()).send().await.map_err(classify)?;
            for item in page.items() {
                if keep(item)? {
                    items.push(item.clone());
                    if items.len() >= enough {
                        return Ok(items);
                    }
                }
            }
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(items),
            }
        }
    }

    /// An update of the member's item in the rooms table (made if missing).
    fn room_update(
        &self,
        user_id: &UserId,
        project_id: ProjectId,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.tables.rooms)
            .key("user_id", s(user_id.as_str()))
            .key("project_id", n(project_id))
    }

    /// Connections found through one of the GSIs, skipping rows past `expires_at` that TTL has
    /// not removed yet.
    async fn live_connections(
        &self,
        index: &str,
        key: &str,
        value: AttributeValue,
        now: DateTime<Utc>,
    ) -> Result<Vec<Connection>, StoreError> {
        let condition = format!("{key} = :k");
        let items = self
            .query_all(
                || {
                    self.client
                        .query()
                        .table_name(&self.tables.connections)
                        .index_name(index)
                        .key_condition_expression(&condition)
                        .expression_attribute_values(":k", value.clone())
                },
                |item| Ok(get_n(item, "expires_at")? > now.timestamp()),
                usize::MAX,
            )
            .await?;
        items.iter().map(connection_from).collect()
    }

    /// The message stored under a client's id, with the write token of the send that stored it.
    async fn existing_message(
        &self,
        project_id: ProjectId,
        message_id: &MessageId,
    ) -> Result<Option<(ChatMessage, Option<String>)>, StoreError> {
        let marker = self
            .client
            .get_item()
            .table_name(&self.tables.messages)
            .key("project_id", n(project_id))
            .key("sk", s(format!("i#{message_id}")))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        let Some(marker) = marker.item() else {
            return Ok(None);
        };
        let token = get_s(marker, "write_token").ok().map(str::to_owned);
        Ok(self.message_at(project_id, get_s(marker, "message_sk")?).await?.map(|stored| (stored, token)))
    }

    /// Applies `update` to the message under `sort_key` if `condition` (at least
    /// [`LIVE_MESSAGE`]) holds, and answers the message as it then stands; else why not.
    async fn change_live_message(
        &self,
        project_id: ProjectId,
        sort_key: &str,
        update: &str,
        condition: String,
        values: Item,
    ) -> Result<Changed, StoreError> {
        let updated = self
            .client
            .update_item()
            .table_name(&self.tables.messages)
            .key("project_id", n(project_id))
            .key("sk", s(sort_key))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match updated {
            Ok(out) => {
                let item = out.attributes().ok_or_else(|| StoreError::Internal("an update returned no item".into()))?;
                Ok(Changed::Done(message_from(item)?))
            }
            Err(e) if is_code(&e, "ConditionalCheckFailedException") => self.unchangeable(project_id, sort_key).await,
            Err(e) => Err(classify(e)),
        }
    }

    /// Why a conditional change of a message did not apply: it is missing or a tombstone.
    async fn unchangeable(&self, project_id: ProjectId, sort_key: &str) -> Result<Changed, StoreError> {
        match self.message_at(project_id, sort_key).await? {
            None => Ok(Changed::Missing),
            Some(stored) if stored.is_removed() => Ok(Changed::Removed(stored)),
            Some(_) => Err(StoreError::Internal("a live message refused a conditional change".into())),
        }
    }

    /// The condition and values of the update that turns a live message into a tombstone
    /// ([`TOMBSTONE_UPDATE`]); with `text`, only if the message still has that text.
    fn tombstone_write(removal: &Removal, text: Option<&str>) -> (String, Item) {
        let mut condition = LIVE_MESSAGE.to_owned();
        let mut values: Item = HashMap::from([
            (":at".into(), n(removal.at.timestamp_millis())),
            (":by".into(), s(removal.by.as_str())),
            (":moderated".into(), AttributeValue::Bool(removal.moderated)),
        ]);
        if let Some(text) = text {
            condition.push_str(" AND message = :was");
            values.insert(":was".into(), s(text));
        }
        (condition, values)
    }

    async fn message_at(&self, project_id: ProjectId, sort_key: &str) -> Result<Option<ChatMessage>, StoreError> {
        let stored = self
            .client
            .get_item()
            .table_name(&self.tables.messages)
            .key("project_id", n(project_id))
            .key("sk", s(sort_key))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        stored.item().map(message_from).transpose()
    }
}

/// Answers when each of its tables can be described: a health probe over exactly the tables a
/// function may reach.
pub struct TablesProbe {
    client: Client,
    tables: Vec<String>,
}

#[async_trait]
impl HealthProbe for TablesProbe {
    async fn ping(&self) -> Result<(), StoreError> {
        let describes = self.tables.iter().map(|name| self.client.describe_table().table_name(name).send());
        for described in futures::future::join_all(describes).await {
            described.map_err(classify)?;
        }
        Ok(())
    }
}

impl DynamoStore {
    /// A probe of the connections table alone (the notifications function reaches no other).
    pub fn connections_probe(&self) -> TablesProbe {
        TablesProbe { client: self.client.clone(), tables: vec![self.tables.connections.clone()] }
    }

    fn all_tables_probe(&self) -> TablesProbe {
        let t = &self.tables;
        TablesProbe {
            client: self.client.clone(),
            tables: vec![t.messages.clone(), t.rooms.clone(), t.connections.clone()],
        }
    }
}

#[async_trait]
impl HealthProbe for DynamoStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.all_tables_probe().ping().await
    }
}

#[async_trait]
impl ChatStore for DynamoStore {
    async fn save(&self, message: &ChatMessage, idempotent: bool) -> Result<Saved, StoreError> {
        let table = &self.tables.messages;
        if !idempotent {
            let written = self
                .client
                .put_item()
                .table_name(table)
                .set_item(Some(message_item(message)))
                .condition_expression("attribute_not_exists(sk)")
                .send()
                .await;
            return match written {
                Ok(_) => Ok(Saved::Created(message.clone())),
                // The id was generated for this send, so the item in the way is this send's own:
                // an attempt the SDK retried after its answer was lost had committed.
                Err(e) if is_code(&e, "ConditionalCheckFailedException") => {
                    match self.message_at(message.project_id, &message.sort_key()).await? {
                        Some(stored)
                            if stored.message_id == message.message_id && stored.user_id == message.user_id =>
                        {
                            Ok(Saved::Created(stored))
                        }
                        _ => Err(StoreError::Conflict(format!("message {} already exists", message.message_id))),
                    }
                }
                Err(e) => Err(classify(e)),
            };
        }
        // The marker reserves the client's id; both writes succeed together or not at all. The
        // write token tells this send's own committed attempt (retried by the SDK after a lost
        // answer) from an earlier send of the same id; as the transaction's client request
        // token it also makes DynamoDB itself answer such a retry with success.
        let write_token = uuid::Uuid::new_v4().to_string();
        let marker = HashMap::from([
            ("project_id".into(), n(message.project_id)),
            ("sk".into(), s(format!("i#{}", message.message_id))),
            ("message_sk".into(), s(message.sort_key())),
            ("write_token".into(), s(&write_token)),
            ("expires_at".into(), n((now_ms() + IDEMPOTENCY_WINDOW).timestamp())),
        ]);
        let put_new = |item: Item| -> Result<TransactWriteItem, StoreError> {
            let put = Put::builder()
                .table_name(table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(sk)")
                .build()
                .map_err(|e| StoreError::Internal(e.to_string()))?;
            Ok(TransactWriteItem::builder().put(put).build())
        };
        let written = self
            .client
            .transact_write_items()
            .client_request_token(&write_token)
            .transact_items(put_new(marker)?)
            .transact_items(put_new(message_item(message))?)
            .send()
            .await;
        match written {
            Ok(_) => Ok(Saved::Created(message.clone())),
            Err(e) if is_code(&e, "TransactionCanceledException") => {
                match self.existing_message(message.project_id, &message.message_id).await? {
                    Some((stored, token)) if token.as_deref() == Some(write_token.as_str()) => {
                        Ok(Saved::Created(stored))
                    }
                    Some((stored, _)) => Ok(Saved::Existing(stored)),
                    // The first send of this id is still in flight: the client may retry.
                    None => Err(StoreError::Unavailable(format!("a concurrent send of this message id: {e}"))),
                }
            }
            Err(e) => Err(classify(e)),
        }
    }

    async fn find(&self, project_id: ProjectId, sort_key: &str) -> Result<Option<ChatMessage>, StoreError> {
        self.message_at(project_id, sort_key).await
    }

    async fn history(&self, project_id: ProjectId, query: &HistoryQuery) -> Result<HistoryPage, StoreError> {
        let (mut low, mut high) = query.key_range();
        let (forward, skip) = match &query.position {
            HistoryPosition::Latest => (false, None),
            HistoryPosition::Before(c) => {
                high = high.min(c.key().to_owned());
                (false, Some(c.key().to_owned()))
            }
            HistoryPosition::After(c) => {
                low = low.max(c.key().to_owned());
                (true, Some(c.key().to_owned()))
            }
        };
        if low > high {
            return Ok(HistoryPage { messages: Vec::new(), has_more: false });
        }
        let want = query.limit as usize + 1;
        let items = self
            .query_all(
                || {
                    self.client
                        .query()
                        .table_name(&self.tables.messages)
                        .key_condition_expression("project_id = :p AND sk BETWEEN :lo AND :hi")
                        .expression_attribute_values(":p", n(project_id))
                        .expression_attribute_values(":lo", s(&low))
                        .expression_attribute_values(":hi", s(&high))
                        .scan_index_forward(forward)
                        // Strongly consistent: a catch-up must see every message committed
                        // before it (see CATCH_UP_OVERLAP).
                        .consistent_read(true)
                        // BETWEEN is inclusive: one extra row covers the cursor itself.
                        .limit(i32::try_from(want + 1).unwrap_or(i32::MAX))
                },
                |item| Ok(skip.as_deref() != Some(get_s(item, "sk")?)),
                want,
            )
            .await?;
        let messages = items.iter().map(message_from).collect::<Result<Vec<_>, _>>()?;
        Ok(HistoryPage::from_probe(messages, query.limit, !forward))
    }

    async fn by_id(&self, project_id: ProjectId, message_id: &MessageId) -> Result<Option<ChatMessage>, StoreError> {
        // A server-chosen id names its sort key: read consistently, no index needed (an edit
        // right after the send finds it).
        if let Some(at) = message_id.stamp()
            && let Some(found) = self.message_at(project_id, &sort_key(&at, message_id)).await?
            && found.message_id == *message_id
        {
            return Ok(Some(found));
        }
        let indexed = self
            .client
            .query()
            .table_name(&self.tables.messages)
            .index_name(MESSAGE_ID_INDEX)
            .key_condition_expression("project_id = :p AND message_id = :m")
            .expression_attribute_values(":p", n(project_id))
            .expression_attribute_values(":m", s(message_id.as_str()))
            .limit(1)
            .send()
            .await
            .map_err(classify)?;
        if let Some(item) = indexed.items().first() {
            return self.message_at(project_id, get_s(item, "sk")?).await;
        }
        // The index follows writes within a second or so; a message sent with the client's id
        // is found at once through its marker (read consistently) for the marker's 7 days.
        Ok(self.existing_message(project_id, message_id).await?.map(|(stored, _)| stored))
    }

    async fn edit(
        &self,
        project_id: ProjectId,
        sort_key: &str,
        text: &str,
        at: DateTime<Utc>,
    ) -> Result<Changed, StoreError> {
        let values: Item = HashMap::from([(":text".into(), s(text)), (":at".into(), n(at.timestamp_millis()))]);
        self.change_live_message(
            project_id,
            sort_key,
            "SET message = :text, edited_at = :at",
            LIVE_MESSAGE.to_owned(),
            values,
        )
        .await
    }

    async fn remove(
        &self,
        project_id: ProjectId,
        sort_key: &str,
        removal: &Removal,
        report: Option<ReportId>,
    ) -> Result<Changed, StoreError> {
        if !removal.moderated {
            let (condition, values) = Self::tombstone_write(removal, None);
            return self.change_live_message(project_id, sort_key, TOMBSTONE_UPDATE, condition, values).await;
        }
        // A moderated removal writes its audit record in the same transaction, with the text it
        // removes: the tombstone is conditional on the text read, so an edit in between makes it
        // read again rather than record a text that was not the one removed.
        for _ in 0..REMOVAL_ATTEMPTS {
            let Some(current) = self.message_at(project_id, sort_key).await? else {
                return Ok(Changed::Missing);
            };
            if current.is_removed() {
                return Ok(Changed::Removed(current));
            }
            let record = RemovalRecord::of(&current, removal, report, new_removal_id());
            let (condition, values) = Self::tombstone_write(removal, Some(&current.message));
            let update = Update::builder()
                .table_name(&self.tables.messages)
                .key("project_id", n(project_id))
                .key("sk", s(sort_key))
                .update_expression(TOMBSTONE_UPDATE)
                .condition_expression(condition)
                .set_expression_attribute_values(Some(values))
                .build()
                .map_err(|e| StoreError::Internal(e.to_string()))?;
            let audit = Put::builder()
                .table_name(&self.tables.messages)
                .set_item(Some(removal_item(&record)))
                .condition_expression("attribute_not_exists(sk)")
                .build()
                .map_err(|e| StoreError::Internal(e.to_string()))?;
            let written = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().update(update).build())
                .transact_items(TransactWriteItem::builder().put(audit).build())
                .send()
                .await;
            match written {
                Ok(_) => {
                    let tombstone = ChatMessage { message: String::new(), removed: Some(removal.clone()), ..current };
                    return Ok(Changed::Done(tombstone));
                }
                // The message changed under the removal (or a racing write): read it again.
                Err(e) if changed_meanwhile(&e) => continue,
                Err(e) => return Err(classify(e)),
            }
        }
        Err(StoreError::Unavailable("the message kept changing while it was being removed; try again".into()))
    }

    async fn removals(&self, limit: Limit, after: Option<Cursor>) -> Result<Page<RemovalRecord>, StoreError> {
        let (condition, bound) = match after {
            Some(cursor) => {
                let at =
                    cursor.instant().ok_or_else(|| StoreError::Internal("cursor outside the time range".into()))?;
                ("project_id = :p AND sk BETWEEN :lo AND :hi", removal_key(&at, cursor.id))
            }
            None => ("project_id = :p AND sk BETWEEN :lo AND :hi", "r#~".to_owned()),
        };
        let items = self
            .query_all(
                || {
                    self.client
                        .query()
                        .table_name(&self.tables.messages)
                        .key_condition_expression(condition)
                        .expression_attribute_values(":p", n(AUDIT_PARTITION))
                        .expression_attribute_values(":lo", s("r#"))
                        .expression_attribute_values(":hi", s(&bound))
                        .scan_index_forward(false)
                        .limit(i32::try_from(limit.probe() + 1).unwrap_or(i32::MAX))
                },
                // BETWEEN is inclusive: the cursor's own record is skipped.
                |item| Ok(get_s(item, "sk")? != bound),
                usize::try_from(limit.probe()).unwrap_or(usize::MAX),
            )
            .await?;
        let records = items.iter().map(removal_from).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_probe(records, limit, RemovalRecord::cursor))
    }

    async fn unread(
        &self,
        project_id: ProjectId,
        reader: &UserId,
        after: Option<&str>,
        cap: u32,
    ) -> Result<u32, StoreError> {
        // Message keys only (`m#…`; markers are `i#…`). BETWEEN is inclusive and a filter cannot
        // name the sort key: the marker's own message is left out by its id.
        let (low, marker_id) = match after {
            Some(key) => (key, key.splitn(3, '#').nth(2)),
            None => ("m#", None),
        };
        let mut filter = "user_id <> :me AND attribute_not_exists(deleted_at)".to_owned();
        let mut values: Item = HashMap::from([
            (":p".into(), n(project_id)),
            (":lo".into(), s(low)),
            (":hi".into(), s("m#~")),
            (":me".into(), s(reader.as_str())),
        ]);
        if let Some(id) = marker_id {
            filter.push_str(" AND message_id <> :marker");
            values.insert(":marker".into(), s(id));
        }
        let mut counted: u32 = 0;
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.tables.messages)
                .key_condition_expression("project_id = :p AND sk BETWEEN :lo AND :hi")
                .filter_expression(&filter)
                .set_expression_attribute_values(Some(values.clone()))
                .select(aws_sdk_dynamodb::types::Select::Count)
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(classify)?;
            counted = counted.saturating_add(u32::try_from(page.count()).unwrap_or(0));
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() && counted < cap => start = Some(key.clone()),
                _ => return Ok(counted.min(cap)),
            }
        }
    }
}

#[async_trait]
impl RoomStore for DynamoStore {
    async fn touch(&self, user_id: &UserId, project_id: ProjectId, at: DateTime<Utc>) -> Result<Touched, StoreError> {
        let updated = self
            .room_update(user_id, project_id)
            .update_expression("SET updated_at = :t")
            .condition_expression("attribute_not_exists(updated_at) OR updated_at < :t")
            .expression_attribute_values(":t", s(format_iso(&at)))
            .return_values(ReturnValue::UpdatedOld)
            .send()
            .await;
        match updated {
            Ok(out) => {
                // No earlier activity: a new item, or one that only throttled typing.
                let previous = out
                    .attributes()
                    .filter(|old| old.contains_key("updated_at"))
                    .map(|old| get_time(old, "updated_at"))
                    .transpose()?;
                Ok(Touched::Moved { previous })
            }
            // A later message already moved the room forward.
            Err(e) if is_code(&e, "ConditionalCheckFailedException") => Ok(Touched::Unchanged),
            Err(e) => Err(classify(e)),
        }
    }

    async fn undo_touch(
        &self,
        user_id: &UserId,
        project_id: ProjectId,
        touched: Touched,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let Touched::Moved { previous } = touched else { return Ok(()) };
        let at = s(format_iso(&at));
        let undone = match previous {
            Some(previous) => self
                .room_update(user_id, project_id)
                .update_expression("SET updated_at = :previous")
                .condition_expression("updated_at = :at")
                .expression_attribute_values(":previous", s(format_iso(&previous)))
                .expression_attribute_values(":at", at)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| (is_code(&e, "ConditionalCheckFailedException"), classify(e))),
            None => self
                .client
                .delete_item()
                .table_name(&self.tables.rooms)
                .key("user_id", s(user_id.as_str()))
                .key("project_id", n(project_id))
                // A read marker set meanwhile keeps the room.
                .condition_expression("updated_at = :at AND attribute_not_exists(read_up_to)")
                .expression_attribute_values(":at", at)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| (is_code(&e, "ConditionalCheckFailedException"), classify(e))),
        };
        match undone {
            // Moved again since: the newer activity stands.
            Ok(()) | Err((true, _)) => Ok(()),
            Err((false, e)) => Err(e),
        }
    }

    async fn rooms(&self, user_id: &UserId) -> Result<Vec<ChatRoom>, StoreError> {
        let items = self
            .query_all(
                || {
                    self.client
                        .query()
                        .table_name(&self.tables.rooms)
                        .key_condition_expression("user_id = :u")
                        .expression_attribute_values(":u", s(user_id.as_str()))
                },
                |_| Ok(true),
                usize::MAX,
            )
            .await?;
        let mut rooms = items
            .iter()
            // An item that only throttles typing is not a room.
            .filter(|item| item.contains_key("updated_at"))
            .map(room_from)
            .collect::<Result<Vec<_>, StoreError>>()?;
        rooms.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(a.project_id.cmp(&b.project_id)));
        Ok(rooms)
    }

    async fn mark_read(
        &self,
        user_id: &UserId,
        project_id: ProjectId,
        up_to: &str,
        stamp: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<Marked, StoreError> {
        // The room first (created with its activity if new), so no reader ever finds a marker
        // without a room; then the marker, only forwards.
        RoomStore::touch(self, user_id, project_id, stamp).await?;
        let updated = self
            .room_update(user_id, project_id)
            // A failed send's undo may have deleted the room just made: it is made again.
            .update_expression(
                "SET read_up_to = :k, last_read_at = :at, updated_at = if_not_exists(updated_at, :stamp)",
            )
            .condition_expression("attribute_not_exists(read_up_to) OR read_up_to < :k")
            .expression_attribute_values(":k", s(up_to))
            .expression_attribute_values(":at", s(format_iso(&at)))
            .expression_attribute_values(":stamp", s(format_iso(&stamp)))
            .send()
            .await;
        match updated {
            Ok(_) => Ok(Marked::Moved(ReadMarker { up_to: up_to.to_owned(), at })),
            // At or past it already (a racing mark went further): the marker as it stands.
            Err(e) if is_code(&e, "ConditionalCheckFailedException") => {
                let got = self
                    .client
                    .get_item()
                    .table_name(&self.tables.rooms)
                    .key("user_id", s(user_id.as_str()))
                    .key("project_id", n(project_id))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(classify)?;
                let marker = got.item().map(room_from).transpose()?.and_then(|room| room.read);
                marker
                    .map(Marked::Unchanged)
                    .ok_or_else(|| StoreError::Internal("a read marker refused to move but is not there".into()))
            }
            Err(e) => Err(classify(e)),
        }
    }

    async fn typing(
        &self,
        user_id: &UserId,
        project_id: ProjectId,
        at: DateTime<Utc>,
        every: Duration,
    ) -> Result<bool, StoreError> {
        let passed = self
            .room_update(user_id, project_id)
            .update_expression("SET typing_at = :at")
            .condition_expression("attribute_not_exists(typing_at) OR typing_at <= :since")
            .expression_attribute_values(":at", n(at.timestamp_millis()))
            .expression_attribute_values(":since", n((at - every).timestamp_millis()))
            .send()
            .await;
        match passed {
            Ok(_) => Ok(true),
            Err(e) if is_code(&e, "ConditionalCheckFailedException") => Ok(false),
            Err(e) => Err(classify(e)),
        }
    }
}

fn room_from(item: &Item) -> Result<ChatRoom, StoreError> {
    let read = match item.get("read_up_to") {
        None => None,
        Some(_) => {
            Some(ReadMarker { up_to: get_s(item, "read_up_to")?.to_owned(), at: get_time(item, "last_read_at")? })
        }
    };
    Ok(ChatRoom { project_id: get_project(item, "project_id")?, updated_at: get_time(item, "updated_at")?, read })
}

#[async_trait]
impl ConnectionStore for DynamoStore {
    async fn put(&self, connection: &Connection) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.tables.connections)
            .set_item(Some(connection_item(connection)))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn get(&self, connection_id: &ConnectionId) -> Result<Option<Connection>, StoreError> {
        let got = self
            .client
            .get_item()
            .table_name(&self.tables.connections)
            .key("connection_id", s(connection_id.as_str()))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        got.item().map(connection_from).transpose()
    }

    async fn remove(&self, connection_id: &ConnectionId) -> Result<Option<Connection>, StoreError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.tables.connections)
            .key("connection_id", s(connection_id.as_str()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(classify)?;
        deleted.attributes().map(connection_from).transpose()
    }

    async fn set_notifications(&self, connection_id: &ConnectionId, on: bool) -> Result<bool, StoreError> {
        self.update_connection(connection_id, "SET notifications = :on", [(":on", AttributeValue::Bool(on))]).await
    }

    async fn set_live(&self, connection_id: &ConnectionId, on: bool) -> Result<bool, StoreError> {
        self.update_connection(connection_id, "SET live = :on", [(":on", AttributeValue::Bool(on))]).await
    }

    async fn refresh(
        &self,
        connection_id: &ConnectionId,
        token_expires_at: DateTime<Utc>,
        admin: bool,
    ) -> Result<bool, StoreError> {
        let values = [(":until", n(token_expires_at.timestamp_millis())), (":admin", AttributeValue::Bool(admin))];
        self.update_connection(connection_id, "SET token_expires_at = :until, admin = :admin", values).await
    }

    async fn by_project(&self, project_id: ProjectId, now: DateTime<Utc>) -> Result<Vec<Connection>, StoreError> {
        self.live_connections(PROJECT_INDEX, "project_id", n(project_id), now).await
    }

    async fn by_user(&self, user_id: &UserId, now: DateTime<Utc>) -> Result<Vec<Connection>, StoreError> {
        self.live_connections(USER_INDEX, "user_id", s(user_id.as_str()), now).await
    }
}
