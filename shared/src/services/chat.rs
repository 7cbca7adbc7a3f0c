//! Team chat: sending (store first, then fan out), history, rooms, and the web app's history.
//! Every operation on a project's chat takes an [`Admitted`]: the proof, from [`ChatService::admit`]
//! or [`ChatService::admit_connection`], that the caller is in the project's team (or an admin).

use std::{collections::HashSet, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};

use super::membership::{ChatAccess, Membership};
use super::presence::{Presence, Present};
use crate::domain::{
    BoundedText, ConnectionId, Cursor, FieldError, Limit, MessageId, Page, ProjectId, ReportId, TeamId, UserId,
    Validator,
    chat::{
        CATCH_UP_OVERLAP, Changed, ChatCursor, ChatMessage, ChatPage, Connection, HistoryPosition, HistoryQuery,
        LogWindow, MESSAGE_MAX_CHARS, Marked, ReadMarker, Removal, RemovalRecord, RoomState, TYPING_INTERVAL,
        UNREAD_COUNT_MAX, Unread, sender_name,
    },
    time::{Calendar, format_iso, now_ms},
};
use crate::error::{AppError, AppResult};
use crate::identity::{Admin, Identity};
use crate::push::{FanOut, FanOutReport};
use crate::siblings::CallContext;
use crate::store::{ChatStore, RoomStore, Saved, StoreError, Touched};
use crate::ws::frames::{MessageFrame, ServerFrame};

/// How long one send may take from its stamp: the write, the connection lookup and every post
/// (see [`CATCH_UP_OVERLAP`], which relies on it). Inside the 10 s timeout of the functions
/// that send.
pub const SEND_BUDGET: Duration = Duration::from_secs(6);
/// The part of [`SEND_BUDGET`] the write may use; past it the sender is told the send failed.
pub const WRITE_BUDGET: Duration = Duration::from_secs(3);

/// The send budgets and the catch-up overlap that rests on them: [`SEND_BUDGET`],
/// [`WRITE_BUDGET`] and [`CATCH_UP_OVERLAP`] unless a test scales them down together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChatTiming {
    pub write: Duration,
    pub send: Duration,
    pub overlap: chrono::Duration,
}

impl Default for ChatTiming {
    fn default() -> Self {
        Self { write: WRITE_BUDGET, send: SEND_BUDGET, overlap: CATCH_UP_OVERLAP }
    }
}

/// Most messages the web app's history route returns: the newest ones.
pub const RECENT_MAX: usize = 1_000;
/// Most store pages one such read walks (2,000 messages), so a filter that matches little
/// cannot make one request read a project's whole history.
const RECENT_PAGES: usize = 20;

/// Proof that a caller may take part in one project's chat, and under which name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    pub project_id: ProjectId,
    pub user_id: UserId,
    /// The name shown with their messages.
    pub name: String,
    pub access: ChatAccess,
    /// An administrator (a member or not): may delete others' messages, which the audit log
    /// records.
    pub moderator: bool,
}

/// Proof that the caller is a sibling service allowed to read chat logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogReader {
    /// The token's subject: the sibling's app client id.
    pub client_id: String,
}

/// A message someone wants to send, before validation.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub message: String,
    pub client_message_id: Option<String>,
    pub is_in_meeting: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SendOutcome {
    pub message: ChatMessage,
    /// False when the client's message id was already used: the stored message is returned
    /// and nothing is broadcast again.
    pub created: bool,
    pub fanout: FanOutReport,
}

/// The web app's history filter: a range of instants and whether only meeting messages count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecentFilter {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub meeting_only: bool,
}

impl NewMessage {
    fn validate(self, sender: &Admitted, at: DateTime<Utc>) -> Result<(ChatMessage, bool), Vec<FieldError>> {
        let mut v = Validator::new();
        let body = v.check("message", BoundedText::parse(&self.message, 1, MESSAGE_MAX_CHARS));
        let client_id = v.check_opt("message_id", self.client_message_id.as_deref(), MessageId::parse);
        let name = v.check("sender_name", sender_name(&sender.name).ok_or_else(|| "must not be empty".into()));
        v.finish(|| {
            let client_id = client_id?;
            let idempotent = client_id.is_some();
            Some((
                ChatMessage {
                    message_id: client_id.unwrap_or_else(|| MessageId::generate_at(&at)),
                    project_id: sender.project_id,
                    user_id: sender.user_id.clone(),
                    sender_name: name?,
                    message: body?.into_inner(),
                    timestamp: at,
                    is_in_meeting: self.is_in_meeting,
                    edited_at: None,
                    removed: None,
                },
                idempotent,
            ))
        })
    }
}

/// Where a member's read marker stands after a mark, and what is still unread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadState {
    pub project_id: ProjectId,
    pub marker: ReadMarker,
    pub unread: Unread,
    /// False when the marker already stood at or past the message (nothing changed).
    pub moved: bool,
}

impl ReadState {
    /// The `read` frame every socket of the member gets.
    pub fn frame(&self) -> ServerFrame<'static> {
        ServerFrame::Read {
            project_id: self.project_id,
            up_to: self.marker.cursor().encode(),
            last_read_at: format_iso(&self.marker.at),
            unread_count: self.unread.count,
            unread_more: self.unread.more,
        }
    }
}

impl serde::Serialize for ReadState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = s.serialize_struct("ReadState", 5)?;
        out.serialize_field("project_id", &self.project_id)?;
        out.serialize_field("read_up_to", &self.marker.cursor().encode())?;
        out.serialize_field("last_read_at", &format_iso(&self.marker.at))?;
        out.serialize_field("unread_count", &self.unread.count)?;
        out.serialize_field("unread_more", &self.unread.more)?;
        out.end()
    }
}

/// What a send's writes came to (each within the write budget).
struct Written {
    saved: Result<Saved, StoreError>,
    touched: Result<Touched, StoreError>,
    /// The project's sockets, listed beside the write.
    early: Result<Vec<Connection>, StoreError>,
}

/// Chat storage, the way to reach a project's open WebSocket connections, and who may take part.
#[derive(Clone)]
pub struct ChatService {
    messages: Arc<dyn ChatStore>,
    rooms: Arc<dyn RoomStore>,
    fanout: FanOut,
    presence: Presence,
    membership: Membership,
    calendar: Calendar,
    timing: ChatTiming,
    /// The scope a sibling's token needs to read chat logs (`CHAT_READ_SCOPE`).
    log_scope: Arc<str>,
}

/// Membership checks of `GET /chat/rooms` in flight at once (calls to the Team service, unless
/// cached).
const ROOM_CHECKS_IN_FLIGHT: usize = 8;
/// Unread counts of `GET /chat/rooms` in flight at once (DynamoDB queries; 20 at once measured
/// slower than 8 on the emulator, which serves one query at a time).
const UNREAD_COUNTS_IN_FLIGHT: usize = 8;

impl ChatService {
    pub fn new(
        messages: Arc<dyn ChatStore>,
        rooms: Arc<dyn RoomStore>,
        fanout: FanOut,
        membership: Membership,
        calendar: Calendar,
        log_scope: &str,
    ) -> Self {
        let timing = ChatTiming::default();
        let presence = Presence::new(fanout.clone());
        Self { messages, rooms, fanout, presence, membership, calendar, timing, log_scope: log_scope.into() }
    }

    /// Other budgets and overlap (tests that race sends against catch-ups in less time).
    pub fn with_timing(self, timing: ChatTiming) -> Self {
        Self { timing, ..self }
    }

    pub fn timing(&self) -> ChatTiming {
        self.timing
    }

    pub fn membership(&self) -> &Membership {
        &self.membership
    }

    /// A signed-in caller's right to `project`'s chat (403 outside its team, 404 for an unknown
    /// project, 503 when that cannot be told); they appear under their token's name.
    pub async fn admit(&self, caller: &Identity, project_id: ProjectId, ctx: &CallContext) -> AppResult<Admitted> {
        let access = self.membership.admit(caller, project_id, ctx).await?;
        Ok(Admitted {
            project_id,
            user_id: caller.user_id()?,
            name: caller.chat_name(),
            access,
            moderator: caller.is_admin,
        })
    }

    /// The right of an open socket's user, checked again on every frame: a member removed from
    /// the team loses it within the membership cache's time.
    pub async fn admit_connection(&self, connection: &Connection, ctx: &CallContext) -> AppResult<Admitted> {
        let Some(project_id) = connection.project_id else {
            return Err(AppError::BadRequest {
                code: "NO_PROJECT",
                message: "this socket was opened for notifications only; open one with ?project_id= to chat".into(),
                details: Vec::new(),
            });
        };
        let access = if connection.admin {
            ChatAccess::Administrator
        } else if self.membership.is_member(project_id, &connection.user_id, ctx).await? {
            ChatAccess::Member
        } else {
            return Err(AppError::Forbidden("you are no longer a member of this project's team"));
        };
        Ok(Admitted {
            project_id,
            user_id: connection.user_id.clone(),
            name: connection.display_name.clone(),
            access,
            // The socket keeps whether its token was an administrator's.
            moderator: connection.admin,
        })
    }

    /// A sibling service's right to read chat logs (the AI service's meeting minutes): a
    /// client-credentials token with the chat-read scope. Users, administrators included, are
    /// refused: the logs are for services, and members read their chat through history.
    pub fn authorize_log_reader(&self, caller: &Identity) -> AppResult<LogReader> {
        if caller.user_id().is_ok() {
            return Err(AppError::Forbidden("chat logs are for sibling services; members read history"));
        }
        if !caller.has_scope(&self.log_scope) {
            return Err(AppError::Forbidden("reading chat logs requires a service token with the chat-read scope"));
        }
        Ok(LogReader { client_id: caller.subject.clone() })
    }

    /// A team's chat in a window, oldest first, at most `window.limit` messages (the first ones
    /// of the window): the team resolves to its project through the Team service (404 for a team
    /// it does not know). Each read is logged with the calling client.
    pub async fn team_log(
        &self,
        reader: &LogReader,
        team: TeamId,
        window: &LogWindow,
        ctx: &CallContext,
    ) -> AppResult<Vec<ChatMessage>> {
        let project_id = self.membership.project_of_team(team, ctx).await?;
        let query = HistoryQuery {
            position: HistoryPosition::After(ChatCursor::origin()),
            from: window.from,
            to: window.to,
            limit: window.limit,
        };
        let mut page = self.messages.history(project_id, &query).await?;
        // Deleted messages are not part of any log a sibling reads.
        page.messages.retain(|m| !m.is_removed());
        tracing::info!(
            client_id = %reader.client_id,
            %team,
            %project_id,
            messages = page.messages.len(),
            "chat log read by a sibling service"
        );
        Ok(page.messages)
    }

    pub fn fanout(&self) -> &FanOut {
        &self.fanout
    }

    pub fn presence(&self) -> &Presence {
        &self.presence
    }

    /// Posts `frame` to `targets` until `deadline`; a socket found gone may have been its
    /// member's last, which the project then hears.
    async fn deliver(
        &self,
        targets: &[Connection],
        frame: &ServerFrame<'_>,
        deadline: tokio::time::Instant,
    ) -> FanOutReport {
        let report = self.fanout.broadcast_until(targets, frame, deadline).await;
        self.presence.dropped(&report.dropped, deadline).await;
        report
    }

    pub fn calendar(&self) -> Calendar {
        self.calendar
    }

    /// Stores the message (the server sets its time) and the sender's room activity, then posts
    /// it to every connection of the project whose user is still in its team (or an admin). All
    /// posts finish (or are given up) within [`SEND_BUDGET`] of the stamp.
    pub async fn send(&self, sender: &Admitted, new: NewMessage, ctx: &CallContext) -> AppResult<SendOutcome> {
        let now = now_ms();
        let deadline = tokio::time::Instant::now() + self.timing.send;
        let (message, idempotent) = new.validate(sender, now).map_err(AppError::Validation)?;
        let Written { saved, touched, early } = self.write(&message, idempotent, now).await;
        let stored = match saved {
            Ok(Saved::Created(message)) => message,
            Ok(Saved::Existing(stored)) => {
                self.undo_touch(&message, touched).await;
                if stored.user_id != message.user_id {
                    return Err(AppError::Conflict(format!(
                        "message id {} is already used in this project",
                        message.message_id
                    )));
                }
                return Ok(SendOutcome { message: stored, created: false, fanout: FanOutReport::default() });
            }
            Err(e) => {
                self.undo_touch(&message, touched).await;
                return Err(e.into());
            }
        };
        if let Err(e) = touched {
            tracing::warn!(error = %e, "message stored; its room activity was not recorded");
        }
        let early = early.unwrap_or_else(|e| {
            tracing::warn!(error = %e, project_id = %stored.project_id, "could not list connections before the write; listing them after it");
            Vec::new()
        });
        let fanout = self.announce_stored(&stored, early, deadline, ctx).await;
        Ok(SendOutcome { message: stored, created: true, fanout })
    }

    /// The send's writes, each within the write budget: the message, the sender's room activity
    /// and the listing of whom to tell, all at once (neither of the last two depends on the
    /// write; the room is taken back if the message turns out not to be stored).
    async fn write(&self, message: &ChatMessage, idempotent: bool, now: DateTime<Utc>) -> Written {
        let write = self.timing.write;
        let over_budget = || StoreError::Unavailable(format!("no answer within {write:?}"));
        let (saved, touched, early) = tokio::join!(
            tokio::time::timeout(write, self.messages.save(message, idempotent)),
            tokio::time::timeout(write, self.rooms.touch(&message.user_id, message.project_id, now)),
            tokio::time::timeout(write, self.fanout.project_connections(message.project_id, now)),
        );
        let saved = match saved {
            Ok(saved) => saved,
            // The write may still have committed: look before telling the sender it failed, so
            // a stored message is never left unannounced.
            Err(_) => {
                let key = message.sort_key();
                match tokio::time::timeout(write / 3, self.messages.find(message.project_id, &key)).await {
                    Ok(Ok(Some(stored))) if stored.message_id == message.message_id => Ok(Saved::Created(stored)),
                    _ => Err(over_budget()),
                }
            }
        };
        Written {
            saved,
            touched: touched.unwrap_or_else(|_| Err(over_budget())),
            early: early.unwrap_or_else(|_| Err(over_budget())),
        }
    }

    /// Posts a stored message to the sockets listed beside its write and, listed again once it
    /// committed, to any that connected meanwhile (a socket that connected and caught up while
    /// the write was in flight is among these, so catch-up plus live delivery miss nothing: see
    /// [`CATCH_UP_OVERLAP`]); none twice, every post within the send's `deadline`.
    async fn announce_stored(
        &self,
        stored: &ChatMessage,
        early: Vec<Connection>,
        deadline: tokio::time::Instant,
        ctx: &CallContext,
    ) -> FanOutReport {
        let frame = ServerFrame::Message(MessageFrame::from(stored));
        let early_ids: HashSet<ConnectionId> = early.iter().map(|c| c.connection_id.clone()).collect();
        let to_early = async {
            let targets = self.still_admitted(stored.project_id, early, ctx).await;
            self.deliver(&targets, &frame, deadline).await
        };
        let to_late = async {
            let late = match self.fanout.project_connections(stored.project_id, now_ms()).await {
                Ok(late) => late.into_iter().filter(|c| !early_ids.contains(&c.connection_id)).collect(),
                Err(e) => {
                    tracing::warn!(error = %e, project_id = %stored.project_id, "could not list connections after the write");
                    Vec::new()
                }
            };
            let targets = self.still_admitted(stored.project_id, late, ctx).await;
            self.deliver(&targets, &frame, deadline).await
        };
        let (early_report, late_report) = tokio::join!(to_early, to_late);
        early_report + late_report
    }

    /// The author's new text for their message (same rules as a send): stored with its
    /// `edited_at` and posted to every socket of the project as `message_edited`. Only the
    /// author edits (403); a deleted message cannot be (409).
    pub async fn edit(
        &self,
        editor: &Admitted,
        message_id: &MessageId,
        text: &str,
        ctx: &CallContext,
    ) -> AppResult<ChatMessage> {
        let text = BoundedText::parse(text, 1, MESSAGE_MAX_CHARS)
            .map_err(|m| AppError::Validation(vec![FieldError::new("message", m)]))?;
        let found = self.message(editor.project_id, message_id).await?;
        if found.user_id != editor.user_id {
            return Err(AppError::Forbidden("only the author of a message can edit it"));
        }
        if found.is_removed() {
            return Err(deleted_conflict(message_id));
        }
        match self.messages.edit(editor.project_id, &found.sort_key(), text.as_str(), now_ms()).await? {
            Changed::Done(edited) => {
                self.announce(editor.project_id, &ServerFrame::MessageEdited(MessageFrame::from(&edited)), ctx).await;
                Ok(edited)
            }
            Changed::Removed(_) => Err(deleted_conflict(message_id)),
            Changed::Missing => Err(AppError::not_found("message", message_id)),
        }
    }

    /// Deletes a message by its author, or by an administrator (then recorded in the audit log):
    /// it becomes a tombstone, and every socket of the project gets `message_deleted`. Deleting
    /// a tombstone again changes nothing and tells nobody (`false`).
    pub async fn delete(
        &self,
        caller: &Admitted,
        message_id: &MessageId,
        ctx: &CallContext,
    ) -> AppResult<(ChatMessage, bool)> {
        let found = self.message(caller.project_id, message_id).await?;
        let moderated = found.user_id != caller.user_id;
        if moderated && !caller.moderator {
            return Err(AppError::Forbidden("only the author of a message or an administrator can delete it"));
        }
        self.remove(&found, &caller.user_id, moderated, None, ctx).await
    }

    /// An administrator's removal of a message outside its chat (a report's decision): recorded
    /// in the audit log with the report. `false` when it was already deleted.
    pub async fn moderate(
        &self,
        admin: &Admin,
        project_id: ProjectId,
        message_id: &MessageId,
        report: Option<ReportId>,
        ctx: &CallContext,
    ) -> AppResult<(ChatMessage, bool)> {
        let found = self.message(project_id, message_id).await?;
        self.remove(&found, &admin.identity().user_id()?, true, report, ctx).await
    }

    /// The message with this id in the project (a tombstone too), else 404.
    pub async fn message(&self, project_id: ProjectId, message_id: &MessageId) -> AppResult<ChatMessage> {
        self.messages.by_id(project_id, message_id).await?.ok_or_else(|| AppError::not_found("message", message_id))
    }

    async fn remove(
        &self,
        found: &ChatMessage,
        by: &UserId,
        moderated: bool,
        report: Option<ReportId>,
        ctx: &CallContext,
    ) -> AppResult<(ChatMessage, bool)> {
        if found.is_removed() {
            return Ok((found.clone(), false));
        }
        let removal = Removal { at: now_ms(), by: by.clone(), moderated };
        match self.messages.remove(found.project_id, &found.sort_key(), &removal, report).await? {
            Changed::Done(tombstone) => {
                self.announce(tombstone.project_id, &ServerFrame::deleted(&tombstone), ctx).await;
                Ok((tombstone, true))
            }
            Changed::Removed(tombstone) => Ok((tombstone, false)),
            Changed::Missing => Err(AppError::not_found("message", &found.message_id)),
        }
    }

    /// Administrators' removals, newest first: the audit log.
    pub async fn removals(
        &self,
        _admin: &Admin,
        limit: Limit,
        after: Option<Cursor>,
    ) -> AppResult<Page<RemovalRecord>> {
        Ok(self.messages.removals(limit, after).await?)
    }

    /// Posts a change of the project's chat to its sockets whose user is still admitted, within
    /// the send budget. The change is stored already: a socket it misses reads it in history.
    async fn announce(&self, project_id: ProjectId, frame: &ServerFrame<'_>, ctx: &CallContext) {
        let deadline = tokio::time::Instant::now() + self.timing.send;
        let targets = match self.fanout.project_connections(project_id, now_ms()).await {
            Ok(targets) => targets,
            Err(e) => {
                tracing::warn!(error = %e, %project_id, "change stored; could not list the sockets to tell");
                return;
            }
        };
        let targets = self.still_admitted(project_id, targets, ctx).await;
        self.deliver(&targets, frame, deadline).await;
    }

    /// The connections whose user is still in the project's team, or was admitted as an admin.
    /// When that cannot be told, nobody but admins: never a silent allow.
    async fn still_admitted(
        &self,
        project_id: ProjectId,
        mut targets: Vec<Connection>,
        ctx: &CallContext,
    ) -> Vec<Connection> {
        if targets.iter().all(|c| c.admin) {
            return targets;
        }
        match self.membership.project_members(project_id, ctx).await {
            Ok(members) => targets.retain(|c| c.admin || members.contains(&c.user_id)),
            Err(e) => {
                tracing::warn!(error = %e, %project_id, "membership unknown: message stored, broadcast to admins only");
                targets.retain(|c| c.admin);
            }
        }
        targets
    }

    async fn undo_touch(&self, message: &ChatMessage, touched: Result<Touched, StoreError>) {
        let Ok(touched) = touched else { return };
        if let Err(e) = self.rooms.undo_touch(&message.user_id, message.project_id, touched, message.timestamp).await {
            tracing::warn!(error = %e, "could not take back a room touch of an unsent message");
        }
    }

    /// One page of history, at most `query.limit` messages. A catch-up (`after` a cursor) reads
    /// on from [`ChatCursor::catch_up_start`]: it re-reads, oldest first, the messages before the
    /// cursor that its holder may lack (those stamped within [`CATCH_UP_OVERLAP`] of when the
    /// cursor was handed out), and nothing before the cursor once that has passed. The client
    /// drops the ids it already holds; the page's cursors carry the instant its read started.
    pub async fn history(&self, reader: &Admitted, query: &HistoryQuery) -> AppResult<ChatPage> {
        // A read narrowed by a range may leave out messages before its newest: it claims nothing.
        let read_at = (query.from.is_none() && query.to.is_none()).then(now_ms);
        let HistoryPosition::After(cursor) = &query.position else {
            let page = self.messages.history(reader.project_id, query).await?;
            return Ok(ChatPage { messages: page.messages, has_more: page.has_more, read_at });
        };
        // The window before the cursor (if any), then what follows it: one read, one row more
        // than the limit, as the cursor's own message (which its holder has) may be among them.
        let start = cursor.catch_up_start(self.timing.overlap);
        let read = HistoryQuery { position: HistoryPosition::After(start), limit: query.limit + 1, ..query.clone() };
        let page = self.messages.history(reader.project_id, &read).await?;
        let mut messages: Vec<ChatMessage> =
            page.messages.into_iter().filter(|m| m.sort_key().as_str() != cursor.key()).collect();
        let cut = messages.len() > query.limit as usize;
        messages.truncate(query.limit as usize);
        Ok(ChatPage { messages, has_more: cut || page.has_more, read_at })
    }

    /// The newest messages matching `filter` (at most [`RECENT_MAX`], reading at most
    /// [`RECENT_PAGES`] pages), oldest first: the web app's history.
    pub async fn recent(&self, reader: &Admitted, filter: RecentFilter) -> AppResult<Vec<ChatMessage>> {
        let mut collected: Vec<ChatMessage> = Vec::new();
        let mut position = HistoryPosition::Latest;
        for _ in 0..RECENT_PAGES {
            let query = HistoryQuery { position, from: filter.from, to: filter.to, limit: Limit::MAX };
            let page = self.history(reader, &query).await?;
            let Some(oldest) = page.messages.first().map(ChatMessage::cursor) else {
                break;
            };
            // The web app cannot show a tombstone: deleted messages are left out.
            collected.extend(
                page.messages
                    .into_iter()
                    .rev()
                    .filter(|m| !m.is_removed() && (m.is_in_meeting || !filter.meeting_only)),
            );
            if collected.len() >= RECENT_MAX || !page.has_more {
                break;
            }
            position = HistoryPosition::Before(oldest);
        }
        collected.truncate(RECENT_MAX);
        collected.reverse();
        Ok(collected)
    }

    /// The caller's rooms, most recent first, each with what they have not read: only those of
    /// projects whose team they are still in.
    pub async fn rooms(&self, user_id: &UserId, ctx: &CallContext) -> AppResult<Vec<RoomState>> {
        let rooms = self.rooms.rooms(user_id).await?;
        let projects: Vec<ProjectId> = rooms.iter().map(|room| room.project_id).collect();
        let checks: Vec<AppResult<bool>> = stream::iter(projects)
            .map(|project| self.membership.is_member(project, user_id, ctx))
            .buffered(ROOM_CHECKS_IN_FLIGHT)
            .collect()
            .await;
        let mut kept = Vec::with_capacity(rooms.len());
        for (room, member) in rooms.into_iter().zip(checks) {
            if member? {
                kept.push(room);
            }
        }
        let read_up_to: Vec<(ProjectId, String)> =
            kept.iter().map(|room| (room.project_id, room.read_up_to())).collect();
        let counts: Vec<AppResult<Unread>> = stream::iter(read_up_to)
            .map(|(project, after)| async move { self.unread(project, user_id, &after).await })
            .buffered(UNREAD_COUNTS_IN_FLIGHT)
            .collect()
            .await;
        kept.into_iter().zip(counts).map(|(room, unread)| Ok(RoomState { room, unread: unread? })).collect()
    }

    /// What `user_id` has not read in the project after the sort key `after`: exact up to
    /// [`UNREAD_COUNT_MAX`]. Their own messages are never unread.
    async fn unread(&self, project_id: ProjectId, user_id: &UserId, after: &str) -> AppResult<Unread> {
        let found = self.messages.unread(project_id, user_id, Some(after), UNREAD_COUNT_MAX + 1).await?;
        Ok(Unread::counted(found))
    }

    /// Marks the project's chat read up to the message at `up_to` (422 when no message of this
    /// chat is there). The marker never moves back; a repeat changes nothing. When it moved,
    /// every other live socket of the reader (`except` the one that asked) gets the `read` frame.
    pub async fn mark_read(
        &self,
        reader: &Admitted,
        up_to: &ChatCursor,
        except: Option<&ConnectionId>,
    ) -> AppResult<ReadState> {
        let Some(message) = self.messages.find(reader.project_id, up_to.key()).await? else {
            return Err(AppError::Validation(vec![FieldError::new(
                "up_to",
                "no message of this chat has that cursor",
            )]));
        };
        let marked =
            self.rooms.mark_read(&reader.user_id, reader.project_id, up_to.key(), message.timestamp, now_ms()).await?;
        let moved = matches!(marked, Marked::Moved(_));
        let marker = marked.marker().clone();
        // Whom to tell does not depend on the count: both at once.
        let (unread, targets) = tokio::join!(
            self.unread(reader.project_id, &reader.user_id, &marker.up_to),
            self.reader_sockets(reader, except, moved),
        );
        let state = ReadState { project_id: reader.project_id, marker, unread: unread?, moved };
        if !targets.is_empty() {
            self.deliver(&targets, &state.frame(), tokio::time::Instant::now() + self.timing.send).await;
        }
        Ok(state)
    }

    /// The reader's other live sockets (notification sockets too: a badge may live in any tab),
    /// when the marker `moved`. The marker is stored already: a socket this misses reads the
    /// rooms list.
    async fn reader_sockets(&self, reader: &Admitted, except: Option<&ConnectionId>, moved: bool) -> Vec<Connection> {
        if !moved {
            return Vec::new();
        }
        match self.fanout.user_connections(&reader.user_id, now_ms()).await {
            Ok(mut targets) => {
                targets.retain(|c| c.live && Some(&c.connection_id) != except);
                targets
            }
            Err(e) => {
                tracing::warn!(error = %e, "marker stored; could not list the reader's sockets to tell");
                Vec::new()
            }
        }
    }

    /// A member is typing: the project's live sockets other than the typist's own get `typing`, at
    /// most once per member every [`TYPING_INTERVAL`]. Nothing is stored but when it was last
    /// passed on; a frame inside the interval, or one whose gate cannot be read, is dropped
    /// (`false`), never answered with an error.
    pub async fn typing(&self, typist: &Admitted, ctx: &CallContext) -> bool {
        let now = now_ms();
        match self.rooms.typing(&typist.user_id, typist.project_id, now, TYPING_INTERVAL).await {
            Ok(true) => {}
            Ok(false) => return false,
            Err(e) => {
                tracing::warn!(error = %e, "typing frame dropped: its gate could not be read");
                return false;
            }
        }
        let targets = match self.fanout.project_connections(typist.project_id, now).await {
            Ok(targets) => targets.into_iter().filter(|c| c.live && c.user_id != typist.user_id).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "typing frame dropped: the project's sockets could not be listed");
                return false;
            }
        };
        let targets = self.still_admitted(typist.project_id, targets, ctx).await;
        let frame = ServerFrame::Typing {
            user_id: typist.user_id.clone(),
            sender_name: typist.name.clone(),
            project_id: typist.project_id,
        };
        self.deliver(&targets, &frame, tokio::time::Instant::now() + self.timing.send).await;
        true
    }

    /// The project's members with an open socket (administrators reading as such are not shown).
    pub async fn present(&self, reader: &Admitted, ctx: &CallContext) -> AppResult<Vec<Present>> {
        let members = self.membership.project_members(reader.project_id, ctx).await?;
        Ok(self.presence.online(reader.project_id, &members).await?)
    }
}

fn deleted_conflict(message_id: &MessageId) -> AppError {
    AppError::Conflict(format!("message {message_id} was deleted; a deleted message cannot be edited"))
}
