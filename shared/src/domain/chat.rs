//! Team chat: messages per project, the rooms a user chats in, and WebSocket connections.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use serde::{Serialize, ser::SerializeStruct};

use super::{ConnectionId, FieldError, MessageId, ProjectId, ReportId, UserId, time::format_iso};

/// Longest message, in characters. A frame carries it as JSON inside API Gateway's 32 KB frame
/// limit: 2,000 four-byte characters plus the envelope stay far below it.
pub const MESSAGE_MAX_CHARS: usize = 2_000;
pub const SENDER_NAME_MAX_CHARS: usize = 50;

/// A display name cleaned and cut to what a message may carry: it comes from a token, so it is
/// not refused but stripped of control and invisible formatting characters (which could make
/// one name look like another's); `None` when nothing is left.
pub fn sender_name(raw: &str) -> Option<String> {
    let cleaned: String = super::text::strip_invisible(raw).chars().filter(|c| !c.is_control()).collect();
    let name: String = cleaned.trim().chars().take(SENDER_NAME_MAX_CHARS).collect();
    (!name.is_empty()).then_some(name)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub message_id: MessageId,
    pub project_id: ProjectId,
    pub user_id: UserId,
    pub sender_name: String,
    pub message: String,
    /// Set by the server when the message is stored, millisecond precision.
    pub timestamp: DateTime<Utc>,
    pub is_in_meeting: bool,
    /// When its author last changed the text.
    pub edited_at: Option<DateTime<Utc>>,
    /// Set once the message is deleted: it is then a tombstone (`message` is empty) that keeps
    /// its place, so clients holding it can drop it.
    pub removed: Option<Removal>,
}

/// Who deleted a message, and when: what its tombstone keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    pub at: DateTime<Utc>,
    pub by: UserId,
    /// An administrator removed it (not its author): the removal is in the audit log.
    pub moderated: bool,
}

impl ChatMessage {
    pub fn is_removed(&self) -> bool {
        self.removed.is_some()
    }

    /// Unique per message and ordered by time: two messages in the same millisecond differ in
    /// their id, so neither overwrites the other.
    pub fn sort_key(&self) -> String {
        sort_key(&self.timestamp, &self.message_id)
    }

    /// The message's position, saying nothing about what else its holder has (a live frame, a
    /// send's answer): a catch-up after it re-reads the [`CATCH_UP_OVERLAP`] before it.
    pub fn cursor(&self) -> ChatCursor {
        ChatCursor::at_key(self.sort_key())
    }

    /// The message's position as handed out by a read that started at `read_at`.
    pub fn cursor_seen(&self, read_at: DateTime<Utc>) -> ChatCursor {
        self.cursor().seen(read_at)
    }
}

/// The message as the HTTP API shows it, with the cursor that says nothing about what else its
/// holder has (a send's answer).
impl Serialize for ChatMessage {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ShownMessage { message: self, cursor: self.cursor() }.serialize(s)
    }
}

/// A message as the HTTP API shows it, beside the cursor to show with it.
#[derive(Debug)]
pub struct ShownMessage<'a> {
    pub message: &'a ChatMessage,
    pub cursor: ChatCursor,
}

impl Serialize for ShownMessage<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let m = self.message;
        let at = format_iso(&m.timestamp);
        let mut out = s.serialize_struct("ChatMessage", 13)?;
        out.serialize_field("message_id", &m.message_id)?;
        out.serialize_field("project_id", &m.project_id)?;
        out.serialize_field("user_id", &m.user_id)?;
        out.serialize_field("sender_name", &m.sender_name)?;
        out.serialize_field("message", &m.message)?;
        out.serialize_field("timestamp", &at)?;
        out.serialize_field("created_at", &at)?;
        out.serialize_field("is_in_meeting", &m.is_in_meeting)?;
        out.serialize_field("edited_at", &m.edited_at.as_ref().map(format_iso))?;
        out.serialize_field("deleted", &m.is_removed())?;
        match &m.removed {
            Some(removal) => {
                out.serialize_field("deleted_at", &format_iso(&removal.at))?;
                // Who, by role: members do not learn which administrator removed it.
                out.serialize_field("deleted_by", if removal.moderated { "ADMIN" } else { "AUTHOR" })?;
            }
            None => {
                out.skip_field("deleted_at")?;
                out.skip_field("deleted_by")?;
            }
        }
        out.serialize_field("cursor", &self.cursor.encode())?;
        out.end()
    }
}

/// What a conditional change of a stored message found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changed {
    /// Changed: the message as it now stands.
    Done(ChatMessage),
    /// No such message.
    Missing,
    /// It was already deleted: its tombstone, unchanged.
    Removed(ChatMessage),
}

/// An administrator's removal of a chat message, as the audit log keeps it: with the text it
/// removed (the evidence, shown to administrators only) and the report that led to it, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemovalRecord {
    /// Orders removals of the same millisecond.
    pub removal_id: i64,
    pub project_id: ProjectId,
    pub message_id: MessageId,
    pub author: UserId,
    pub sender_name: String,
    pub message: String,
    #[serde(with = "super::time::iso_ms")]
    pub sent_at: DateTime<Utc>,
    pub removed_by: UserId,
    #[serde(with = "super::time::iso_ms")]
    pub removed_at: DateTime<Utc>,
    pub report_id: Option<ReportId>,
}

impl RemovalRecord {
    /// The record of `removal` of `message` as it stood when removed.
    pub fn of(message: &ChatMessage, removal: &Removal, report_id: Option<ReportId>, removal_id: i64) -> Self {
        Self {
            removal_id,
            project_id: message.project_id,
            message_id: message.message_id.clone(),
            author: message.user_id.clone(),
            sender_name: message.sender_name.clone(),
            message: message.message.clone(),
            sent_at: message.timestamp,
            removed_by: removal.by.clone(),
            removed_at: removal.at,
            report_id,
        }
    }

    pub fn cursor(&self) -> super::Cursor {
        super::Cursor::at_instant(&self.removed_at, self.removal_id)
    }
}

/// Width of the millisecond field: 13 digits hold every instant until 2286-11-20.
const MILLIS_WIDTH: usize = 13;
/// The last millisecond the sort key can hold. Messages are stamped by the server clock, so
/// none is later; a range bound past it (or before 1970) maps to a key beyond every message (a
/// `from` there selects nothing, a `to` there everything), never to a longer key that would sort
/// among today's messages.
const MILLIS_MAX: i64 = 9_999_999_999_999;

fn key_millis(at: &DateTime<Utc>) -> i64 {
    at.timestamp_millis().clamp(0, MILLIS_MAX)
}

pub fn sort_key(at: &DateTime<Utc>, message_id: &MessageId) -> String {
    format!("m#{:0width$}#{message_id}", key_millis(at), width = MILLIS_WIDTH)
}

/// Above every message key (digits sort before `~`).
const ABOVE_EVERY_KEY: &str = "m#~";
/// Below every message key.
const BELOW_EVERY_KEY: &str = "m#";

/// The lowest sort key at or after `at` (for range bounds); past the last millisecond a key can
/// hold, above them all.
pub fn sort_key_floor(at: &DateTime<Utc>) -> String {
    if at.timestamp_millis() > MILLIS_MAX {
        return ABOVE_EVERY_KEY.to_owned();
    }
    format!("m#{:0width$}", key_millis(at), width = MILLIS_WIDTH)
}

/// A key above every message at `at` (ids never contain `~`); before 1970, below them all.
pub fn sort_key_ceiling(at: &DateTime<Utc>) -> String {
    if at.timestamp_millis() < 0 {
        return BELOW_EVERY_KEY.to_owned();
    }
    if at.timestamp_millis() > MILLIS_MAX {
        return ABOVE_EVERY_KEY.to_owned();
    }
    format!("{}#~", sort_key_floor(at))
}

/// How far back a catch-up (`after` a message) may read before that message, so it returns every
/// message the client may have missed; the client drops the ids it already holds.
///
/// Why: a message is stamped when its send starts, not when it commits, so sends racing within
/// one write's latency commit out of stamp order, and the broadcast of an earlier-stamped message
/// may reach sockets after a later one. A send's write, connection lookup and every post happen
/// within its budget (`services::chat::SEND_BUDGET`, 6 s): so a message that was not yet stored
/// (or not yet delivered) at an instant `t` is stamped after `t` minus that budget. The window
/// adds a margin for a post still in flight at the deadline and for clock skew between instances.
/// Which instant `t` is depends on where the cursor came from: see [`ChatCursor::first_unsettled`].
pub const CATCH_UP_OVERLAP: chrono::Duration = chrono::Duration::seconds(10);

/// Separates a cursor's sort key from how it was handed out (ids never contain `~`).
const HANDED_SEPARATOR: char = '~';
/// What follows the separator on a page's continuation (then the chain's first read, if known).
const CONTINUATION: &str = "next";

/// What the service knew, when it handed a cursor out, about what its holder had been given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Handed {
    /// With one message (a live frame, a send's answer): nothing about the rest.
    Alone,
    /// By a read that started at this instant: every message up to the cursor that had
    /// committed by then.
    Read(DateTime<Utc>),
    /// As the continuation of a page cut by its limit: the next page reads on right after it.
    /// It keeps the instant the chain's first page was read, which the chain's last page hands
    /// on (what commits late meanwhile is re-read after that, however slowly the pages came).
    Continuation(Option<DateTime<Utc>>),
}

/// Position in a project's history: a message's sort key, opaque to clients, and what the
/// service knew when it handed the cursor out (which decides what a catch-up re-reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatCursor {
    key: String,
    handed: Handed,
}

impl ChatCursor {
    /// A position at a sort key (or a key floor), with nothing known about what its holder has.
    pub fn at_key(key: impl Into<String>) -> Self {
        Self { key: key.into(), handed: Handed::Alone }
    }

    /// The same position, handed out by a read that started at `at`.
    pub fn seen(self, at: DateTime<Utc>) -> Self {
        Self { handed: Handed::Read(at), ..self }
    }

    /// The same position as a page's continuation, in a chain of pages whose first was read at
    /// `first_read` (`None`: no claim): a catch-up after it reads on right after it.
    pub fn continuation(self, first_read: Option<DateTime<Utc>>) -> Self {
        Self { handed: Handed::Continuation(first_read), ..self }
    }

    /// The same position, claiming only what was read by `read_at` (nothing when `None`).
    fn read_as_of(self, read_at: Option<DateTime<Utc>>) -> Self {
        match read_at {
            Some(at) => self.seen(at),
            None => Self { handed: Handed::Alone, ..self },
        }
    }

    /// The earliest read of the chain this cursor continues, if it is a continuation.
    fn chain_started(&self) -> Option<DateTime<Utc>> {
        match self.handed {
            Handed::Continuation(first_read) => first_read,
            _ => None,
        }
    }

    /// The sort key the stores compare with.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The stamp of the message at this position.
    pub fn at(&self) -> DateTime<Utc> {
        let ms = self.key.get(2..2 + MILLIS_WIDTH).and_then(|ms| ms.parse().ok()).unwrap_or_default();
        DateTime::from_timestamp_millis(ms).unwrap_or_default()
    }

    /// The first stamp a message its holder may lack can carry, if that is before this
    /// position: [`CATCH_UP_OVERLAP`] before the read that handed it out, or before the
    /// message itself when nothing else is known; `None` for a continuation.
    pub fn first_unsettled(&self, overlap: chrono::Duration) -> Option<DateTime<Utc>> {
        let seen = match self.handed {
            Handed::Alone => self.at(),
            // A read stamped before the message (clock skew) counts as at the message.
            Handed::Read(at) => at.max(self.at()),
            Handed::Continuation(_) => return None,
        };
        Some(seen - overlap).filter(|first| *first < self.at())
    }

    /// Where a catch-up after this cursor starts reading: at [`Self::first_unsettled`] when
    /// there is one, else right after this position. From one page to the next the start never
    /// moves back: a later read's cursor is at or after it, a continuation reads on.
    pub fn catch_up_start(&self, overlap: chrono::Duration) -> ChatCursor {
        match self.first_unsettled(overlap) {
            Some(first) => ChatCursor::at_key(sort_key_floor(&first)),
            None => ChatCursor::at_key(self.key.clone()),
        }
    }

    /// A position before every message: reading `After` it reads from the first one.
    pub fn origin() -> Self {
        Self::at_key(BELOW_EVERY_KEY)
    }

    pub fn encode(&self) -> String {
        let text = match self.handed {
            Handed::Alone => self.key.clone(),
            Handed::Read(at) => {
                format!("{}{HANDED_SEPARATOR}{:0width$}", self.key, key_millis(&at), width = MILLIS_WIDTH)
            }
            Handed::Continuation(None) => format!("{}{HANDED_SEPARATOR}{CONTINUATION}", self.key),
            Handed::Continuation(Some(at)) => {
                format!("{}{HANDED_SEPARATOR}{CONTINUATION}{:0width$}", self.key, key_millis(&at), width = MILLIS_WIDTH)
            }
        };
        URL_SAFE_NO_PAD.encode(text)
    }

    pub fn decode(raw: &str) -> Result<Self, String> {
        let invalid = || "is not a chat cursor returned by this API".to_string();
        let bytes = URL_SAFE_NO_PAD.decode(raw.trim()).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let millis = |ms: &str| ms.len() == MILLIS_WIDTH && ms.bytes().all(|b| b.is_ascii_digit());
        let (key, handed) = match text.split_once(HANDED_SEPARATOR) {
            None => (text.as_str(), Handed::Alone),
            Some((key, CONTINUATION)) => (key, Handed::Continuation(None)),
            Some((key, rest)) if rest.strip_prefix(CONTINUATION).is_some_and(millis) => {
                let at = rest[CONTINUATION.len()..].parse().ok().and_then(DateTime::from_timestamp_millis);
                (key, Handed::Continuation(Some(at.ok_or_else(invalid)?)))
            }
            Some((key, at)) if millis(at) => {
                let at = at.parse().ok().and_then(DateTime::from_timestamp_millis).ok_or_else(invalid)?;
                (key, Handed::Read(at))
            }
            Some(_) => return Err(invalid()),
        };
        let mut parts = key.splitn(3, '#');
        let well_formed = parts.next() == Some("m")
            && parts.next().is_some_and(millis)
            && parts.next().is_some_and(|id| MessageId::parse(id).is_ok());
        if well_formed { Ok(Self { key: key.to_owned(), handed }) } else { Err(invalid()) }
    }
}

/// Which slice of history to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryPosition {
    /// The newest messages.
    Latest,
    /// Older than the cursor (scrolling up).
    Before(ChatCursor),
    /// Newer than the cursor (catching up after a reconnect).
    After(ChatCursor),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryQuery {
    pub position: HistoryPosition,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: u32,
}

impl HistoryQuery {
    pub fn latest(limit: u32) -> Self {
        Self { position: HistoryPosition::Latest, from: None, to: None, limit }
    }

    /// Inclusive sort-key bounds of the date range.
    pub fn key_range(&self) -> (String, String) {
        let low = self.from.as_ref().map_or_else(|| BELOW_EVERY_KEY.to_owned(), sort_key_floor);
        let high = self.to.as_ref().map_or_else(|| ABOVE_EVERY_KEY.to_owned(), sort_key_ceiling);
        (low, high)
    }
}

/// Messages a sibling's chat-log read returns by default, and at most (the meeting-minutes read
/// always asks for the most).
pub const LOG_DEFAULT_LIMIT: u32 = 100;
pub const LOG_MAX_LIMIT: u32 = 1_000;

/// The window of a team's chat a sibling service reads: the first `limit` messages from `from`
/// to `to` (both inclusive, either open), oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogWindow {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: u32,
}

impl LogWindow {
    /// Checks the bounds: `to` not before `from`, `limit` in 1..=[`LOG_MAX_LIMIT`].
    pub fn new(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>, limit: u32) -> Result<Self, FieldError> {
        if let (Some(from), Some(to)) = (from, to)
            && to < from
        {
            return Err(FieldError::new("end_time", "must not be before start_time"));
        }
        if !(1..=LOG_MAX_LIMIT).contains(&limit) {
            return Err(FieldError::new("limit", format!("must be an integer from 1 to {LOG_MAX_LIMIT}")));
        }
        Ok(Self { from, to, limit })
    }
}

/// Messages oldest first, and whether more exist in the direction read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPage {
    pub messages: Vec<ChatMessage>,
    pub has_more: bool,
}

impl HistoryPage {
    /// A page from up to `limit + 1` rows read in one direction (the extra row only tells that
    /// more exist), put oldest first.
    pub fn from_probe(mut rows: Vec<ChatMessage>, limit: u32, newest_first: bool) -> Self {
        let has_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        if newest_first {
            rows.reverse();
        }
        Self { messages: rows, has_more }
    }
}

/// A page of history as the service hands it out: the instant its read started makes each
/// message's cursor say what its holder was given (see [`ChatCursor::first_unsettled`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatPage {
    /// Oldest first.
    pub messages: Vec<ChatMessage>,
    /// More messages exist in the direction read.
    pub has_more: bool,
    /// When its read started; `None` for a read narrowed by `from`/`to`, which may have left
    /// out messages before its newest and so claims nothing.
    pub read_at: Option<DateTime<Utc>>,
}

impl ChatPage {
    pub fn cursor_of(&self, message: &ChatMessage) -> ChatCursor {
        message.cursor().read_as_of(self.read_at)
    }

    /// The messages with their cursors, for a reply.
    pub fn shown(&self) -> Vec<ShownMessage<'_>> {
        self.messages.iter().map(|message| ShownMessage { message, cursor: self.cursor_of(message) }).collect()
    }

    /// Where the next catch-up starts: right after the page's newest message when the limit
    /// cut it (paging on repeats nothing); otherwise at the later of that message and the
    /// position asked for, as of this read (everything up to it that had committed was read).
    pub fn after_cursor(&self, asked_after: Option<&ChatCursor>) -> Option<ChatCursor> {
        let newest = self.messages.last().map(ChatMessage::cursor);
        // What the chain of pages so far was complete up to: its first read, or this one.
        let complete_as_of = match (self.read_at, asked_after.and_then(ChatCursor::chain_started)) {
            (Some(now), Some(first)) => Some(now.min(first)),
            (read_at, _) => read_at,
        };
        // Only a page read forward is cut before newer messages.
        if self.has_more && asked_after.is_some() {
            return newest.map(|newest| newest.continuation(complete_as_of));
        }
        // A catch-up's page can end inside the window before the position asked for: it then
        // stays at that position (its own message is the one left out).
        let later = newest.into_iter().chain(asked_after.cloned()).max_by(|a, b| a.key.cmp(&b.key));
        later.map(|position| position.read_as_of(complete_as_of))
    }
}

/// A project a user has chatted in: they sent a message there or marked it read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatRoom {
    pub project_id: ProjectId,
    /// Their latest activity there: the stamp of the newest message they sent or marked read.
    pub updated_at: DateTime<Utc>,
    /// How far they have read; `None` until they first mark it.
    pub read: Option<ReadMarker>,
}

impl ChatRoom {
    /// Where what the member has not read begins: their marker, or before their first mark,
    /// their own last message there (what they wrote after, they had read up to).
    pub fn read_up_to(&self) -> String {
        match &self.read {
            Some(marker) => marker.up_to.clone(),
            None => sort_key_ceiling(&self.updated_at),
        }
    }
}

/// How far a member has read a project's chat. It only moves forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadMarker {
    /// The sort key of the newest message marked read.
    pub up_to: String,
    /// When the marker last moved.
    pub at: DateTime<Utc>,
}

impl ReadMarker {
    /// The marker as a position in history (what `up_to` in the API carries).
    pub fn cursor(&self) -> ChatCursor {
        ChatCursor::at_key(self.up_to.clone())
    }
}

/// How a mark ended: the marker moved, or it already stood at or past the position given
/// (marking is idempotent and never moves backwards). Either way, the marker as it now stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Marked {
    Moved(ReadMarker),
    Unchanged(ReadMarker),
}

impl Marked {
    pub fn marker(&self) -> &ReadMarker {
        match self {
            Self::Moved(marker) | Self::Unchanged(marker) => marker,
        }
    }
}

/// Unread messages are counted exactly up to this many per room; past it a room shows this many
/// and says there are more (`unread_more`), so a room nobody has read for months costs one
/// bounded count, not a scan of its history.
pub const UNREAD_COUNT_MAX: u32 = 1_000;

/// Messages after a member's marker, sent by someone else and not deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Unread {
    /// Exact up to [`UNREAD_COUNT_MAX`].
    pub count: u32,
    /// More than [`UNREAD_COUNT_MAX`] are unread (`count` is then that maximum).
    pub more: bool,
}

impl Unread {
    /// From a count the store stopped at `UNREAD_COUNT_MAX + 1`.
    pub fn counted(found: u32) -> Self {
        Self { count: found.min(UNREAD_COUNT_MAX), more: found > UNREAD_COUNT_MAX }
    }
}

/// A room as its member sees it in `GET /chat/rooms`: with what they have not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomState {
    pub room: ChatRoom,
    pub unread: Unread,
}

impl Serialize for RoomState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let read = self.room.read.as_ref();
        let mut out = s.serialize_struct("ChatRoom", 6)?;
        out.serialize_field("project_id", &self.room.project_id)?;
        out.serialize_field("updated_at", &format_iso(&self.room.updated_at))?;
        out.serialize_field("unread_count", &self.unread.count)?;
        out.serialize_field("unread_more", &self.unread.more)?;
        out.serialize_field("last_read_at", &read.map(|r| format_iso(&r.at)))?;
        out.serialize_field("read_up_to", &read.map(|r| r.cursor().encode()))?;
        out.end()
    }
}

/// A member's typing frames are passed on at most once per this interval; the rest are
/// dropped (a client sends one per keystroke burst, a few seconds apart).
pub const TYPING_INTERVAL: chrono::Duration = chrono::Duration::seconds(3);

/// An open WebSocket connection: who, in which project, and until when it may live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub connection_id: ConnectionId,
    pub user_id: UserId,
    /// The name shown with this user's messages (from the token's name claims).
    pub display_name: String,
    /// The project whose chat it joined; `None` for a socket opened for the user's notifications
    /// only (`?notifications=true` without a project), which any signed-in user may open.
    pub project_id: Option<ProjectId>,
    /// Whether the socket asked for the user's notification frames (`?notifications=true` or the
    /// `subscribe` action); chat frames of its project come either way.
    pub notifications: bool,
    /// Its user's token says they are an administrator (in the project's team or not): its
    /// frames are admitted without a membership check, and it may remove others' messages.
    pub admin: bool,
    pub connected_at: DateTime<Utc>,
    /// API Gateway closes connections after 2 hours; the row expires (TTL) a little later.
    pub expires_at: DateTime<Utc>,
    /// When the token the socket connected (or last refreshed) with expires: its next frame after
    /// that closes it, and broadcasts skip it. `None` for rows from before tokens were kept.
    pub token_expires_at: Option<DateTime<Utc>>,
    /// Its user was in the project's team when it connected: it counts for the project's
    /// presence (an administrator reading as one does not).
    pub member: bool,
    /// Whether the socket asked for live-chat frames (`?live=true` or the `subscribe` action):
    /// `presence`, `typing` and `read`. Opt-in, so a client that draws every frame as a chat
    /// bubble (the web app today) never draws one of them.
    pub live: bool,
}

impl Connection {
    /// Whether the socket's token has expired at `now`.
    pub fn token_expired(&self, now: DateTime<Utc>) -> bool {
        self.token_expires_at.is_some_and(|until| until <= now)
    }

    /// Which of two sockets opened first (ties by id): the first of a member's sockets is the
    /// one that tells the project they came online.
    pub fn opened_before(&self, other: &Connection) -> bool {
        (self.connected_at, self.connection_id.as_str()) < (other.connected_at, other.connection_id.as_str())
    }
}

/// How long a connection row outlives its connection: API Gateway's 2 h cap plus a margin.
pub const CONNECTION_TTL: chrono::Duration = chrono::Duration::minutes(130);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::time::parse_instant;

    #[test]
    fn sort_keys_order_by_time_then_id_and_cursors_round_trip() {
        let at = parse_instant("2026-11-26T12:00:00.001Z").unwrap();
        let later = parse_instant("2026-11-26T12:00:00.010Z").unwrap();
        let id = |raw: &str| MessageId::parse(raw).unwrap();
        assert!(sort_key(&at, &id("b")) > sort_key(&at, &id("a")));
        assert!(sort_key(&later, &id("a")) > sort_key(&at, &id("zzz")));
        assert!(sort_key_ceiling(&at) > sort_key(&at, &id("zzzz")));
        assert!(sort_key_floor(&later) > sort_key_ceiling(&at));
        let cursor = ChatCursor::at_key(sort_key(&at, &id("msg-1")));
        assert_eq!(ChatCursor::decode(&cursor.encode()), Ok(cursor.clone()));
        let seen = cursor.clone().seen(later);
        assert_eq!(ChatCursor::decode(&seen.encode()), Ok(seen));
        for first_read in [None, Some(later)] {
            let next = cursor.clone().continuation(first_read);
            assert_eq!(ChatCursor::decode(&next.encode()), Ok(next));
        }
        for bad in [
            "",
            "bm90LWEta2V5",
            &URL_SAFE_NO_PAD.encode("m#12#x"),
            &URL_SAFE_NO_PAD.encode("m#0000000000001#a b"),
            &URL_SAFE_NO_PAD.encode("m#0000000000001#a~12"),
            &URL_SAFE_NO_PAD.encode("m#0000000000001#a~"),
            &URL_SAFE_NO_PAD.encode("m#0000000000001#a~nex"),
            &URL_SAFE_NO_PAD.encode("m#0000000000001#a~next12"),
            &URL_SAFE_NO_PAD.encode("m#0000000000001#a~0000000000001~0000000000001"),
        ] {
            assert!(ChatCursor::decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_catch_up_rereads_only_what_could_still_be_committing_when_the_cursor_was_handed_out() {
        let at = parse_instant("2026-11-26T12:00:00.000Z").unwrap();
        let overlap = chrono::Duration::seconds(10);
        let cursor = ChatCursor::at_key(sort_key(&at, &MessageId::parse("m").unwrap()));
        // From a live frame or a send: the whole window before the message.
        assert_eq!(cursor.catch_up_start(overlap).key(), sort_key_floor(&(at - overlap)));
        // Handed out by a read 4 s after the message: the 6 s before it.
        let read_soon = cursor.clone().seen(at + chrono::Duration::seconds(4));
        assert_eq!(read_soon.catch_up_start(overlap).key(), sort_key_floor(&(at - chrono::Duration::seconds(6))));
        // Read once every message stamped before it had settled: exactly after it.
        for settled in [overlap, chrono::Duration::days(400)] {
            assert_eq!(cursor.clone().seen(at + settled).catch_up_start(overlap), ChatCursor::at_key(cursor.key()));
        }
        // A page's continuation reads on right after it, however recent.
        let next = cursor.clone().continuation(Some(at));
        assert_eq!(next.catch_up_start(overlap), ChatCursor::at_key(cursor.key()));
        // A read time before the message's own stamp (clock skew) counts as the stamp.
        let skewed = cursor.clone().seen(at - chrono::Duration::seconds(30));
        assert_eq!(skewed.catch_up_start(overlap).key(), sort_key_floor(&(at - overlap)));
    }

    fn message_at(id: &str, at: DateTime<Utc>) -> ChatMessage {
        ChatMessage {
            message_id: MessageId::parse(id).unwrap(),
            project_id: ProjectId::new(1).unwrap(),
            user_id: UserId::parse("3f2504e0-4f89-11d3-9a0c-0305e82c3301").unwrap(),
            sender_name: "s".into(),
            message: "x".into(),
            timestamp: at,
            is_in_meeting: false,
            edited_at: None,
            removed: None,
        }
    }

    /// What a page's cursors claim: a chain of pages cut by their limit hands on its first read,
    /// however late the last page came; a page narrowed by a range claims nothing.
    #[test]
    fn page_cursors_claim_only_what_the_chain_of_reads_gave() {
        let at = parse_instant("2026-11-26T12:00:00.000Z").unwrap();
        let (first_read, last_read) = (at + chrono::Duration::seconds(2), at + chrono::Duration::seconds(60));
        let overlap = chrono::Duration::seconds(10);
        let asked = message_at("a", at).cursor();
        let cut = ChatPage { messages: vec![message_at("b", at)], has_more: true, read_at: Some(first_read) };
        let next = cut.after_cursor(Some(&asked)).unwrap();
        assert_eq!(next.catch_up_start(overlap).key(), next.key(), "a continuation reads on right after the page");
        // The chain's last page, read a minute later, hands on the first read: the next
        // catch-up re-reads what could still have been committing then.
        let last = ChatPage { messages: vec![message_at("c", at)], has_more: false, read_at: Some(last_read) };
        let end = last.after_cursor(Some(&next)).unwrap();
        assert_eq!(end.first_unsettled(overlap), Some(first_read - overlap));
        // Narrowed by a range: no claim, the whole window before the message is re-read.
        let narrowed = ChatPage { messages: vec![message_at("d", at)], has_more: false, read_at: None };
        let cursor = narrowed.cursor_of(&narrowed.messages[0]);
        assert_eq!(cursor.first_unsettled(overlap), Some(at - overlap));
        let settled = message_at("e", at).cursor().seen(at + chrono::Duration::hours(1));
        let empty = ChatPage { messages: Vec::new(), has_more: false, read_at: None };
        let kept = empty.after_cursor(Some(&settled)).unwrap();
        assert_eq!(kept.first_unsettled(overlap), Some(at - overlap), "an empty narrowed page upgrades nothing");
    }

    #[test]
    fn range_bounds_past_the_keys_last_millisecond_hold_there_instead_of_wrapping() {
        let last_key_ms = parse_instant("2286-11-20T17:46:39.999Z").unwrap();
        let far = [parse_instant("2287-01-01T00:00:00Z").unwrap(), parse_instant("9999-12-31T23:59:59.999Z").unwrap()];
        let today = sort_key(&parse_instant("2026-12-04T00:00:00Z").unwrap(), &MessageId::parse("a").unwrap());
        let at_last = sort_key(&last_key_ms, &MessageId::parse("z").unwrap());
        for at in far {
            assert!(sort_key_floor(&at) > at_last && sort_key_ceiling(&at) > at_last);
        }
        assert!(sort_key_floor(&last_key_ms) < at_last && sort_key_ceiling(&last_key_ms) > at_last);
        let before_epoch = parse_instant("1000-01-01T00:00:00Z").unwrap();
        assert_eq!(sort_key_floor(&before_epoch), "m#0000000000000");
        assert!(sort_key_ceiling(&before_epoch) < today);
    }
}
