//! Team chat: messages per project, the rooms a user chats in, and WebSocket connections.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use serde::{Serialize, ser::SerializeStruct};

use super::{ConnectionId, FieldError, MessageId, ProjectId, UserId, time::format_iso};

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
}

impl ChatMessage {
    /// Unique per message and ordered by time: two messages in the same millisecond differ in
    /// their id, so neither overwrites the other.
    pub fn sort_key(&self) -> String {
        sort_key(&self.timestamp, &self.message_id)
    }

    pub fn cursor(&self) -> ChatCursor {
        ChatCursor(self.sort_key())
    }
}

/// The message as the HTTP API shows it.
impl Serialize for ChatMessage {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let at = format_iso(&self.timestamp);
        let mut m = s.serialize_struct("ChatMessage", 9)?;
        m.serialize_field("message_id", &self.message_id)?;
        m.serialize_field("project_id", &self.project_id)?;
        m.serialize_field("user_id", &self.user_id)?;
        m.serialize_field("sender_name", &self.sender_name)?;
        m.serialize_field("message", &self.message)?;
        m.serialize_field("timestamp", &at)?;
        m.serialize_field("created_at", &at)?;
        m.serialize_field("is_in_meeting", &self.is_in_meeting)?;
        m.serialize_field("cursor", &self.cursor().encode())?;
        m.end()
    }
}

/// Width of the millisecond field: 13 digits hold every instant until the year 2286.
const MILLIS_WIDTH: usize = 13;

pub fn sort_key(at: &DateTime<Utc>, message_id: &MessageId) -> String {
    format!("m#{:0width$}#{message_id}", at.timestamp_millis().max(0), width = MILLIS_WIDTH)
}

/// The lowest sort key at or after `at` (for range bounds).
pub fn sort_key_floor(at: &DateTime<Utc>) -> String {
    format!("m#{:0width$}", at.timestamp_millis().max(0), width = MILLIS_WIDTH)
}

/// A key above every message at `at` (ids never contain `~`).
pub fn sort_key_ceiling(at: &DateTime<Utc>) -> String {
    format!("{}#~", sort_key_floor(at))
}

/// How far back a catch-up (`after` a message) reads before that message, so it returns every
/// message the client may have missed; the client drops the ids it already holds.
///
/// Why: a message is stamped when its send starts, not when it commits, so sends racing within
/// one write's latency commit out of stamp order, and the broadcast of an earlier-stamped message
/// may reach sockets after a later one. A send's write, connection lookup and every post happen
/// within its budget (`services::chat::SEND_BUDGET`, 6 s): so any message a client can lack
/// while holding message `m` is stamped after `m`'s stamp minus that budget. The window adds a
/// margin for a post still in flight at the deadline and for clock skew between instances.
pub const CATCH_UP_OVERLAP: chrono::Duration = chrono::Duration::seconds(10);

/// Most messages of the overlap a catch-up returns (the newest of them).
pub const CATCH_UP_OVERLAP_MAX: u32 = 1_000;

/// Position in a project's history: a message's sort key, opaque to clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatCursor(pub String);

impl ChatCursor {
    /// The stamp of the message at this position.
    pub fn at(&self) -> DateTime<Utc> {
        let ms = self.0.get(2..2 + MILLIS_WIDTH).and_then(|ms| ms.parse().ok()).unwrap_or_default();
        DateTime::from_timestamp_millis(ms).unwrap_or_default()
    }

    /// A position before every message: reading `After` it reads from the first one.
    pub fn origin() -> Self {
        Self("m#".to_owned())
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.0)
    }

    pub fn decode(raw: &str) -> Result<Self, String> {
        let invalid = || "is not a chat cursor returned by this API".to_string();
        let bytes = URL_SAFE_NO_PAD.decode(raw.trim()).map_err(|_| invalid())?;
        let key = String::from_utf8(bytes).map_err(|_| invalid())?;
        let mut parts = key.splitn(3, '#');
        let well_formed = parts.next() == Some("m")
            && parts.next().is_some_and(|ms| ms.len() == MILLIS_WIDTH && ms.bytes().all(|b| b.is_ascii_digit()))
            && parts.next().is_some_and(|id| MessageId::parse(id).is_ok());
        if well_formed { Ok(Self(key)) } else { Err(invalid()) }
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
        let low = self.from.as_ref().map_or_else(|| "m#".to_owned(), sort_key_floor);
        let high = self.to.as_ref().map_or_else(|| "m#~".to_owned(), sort_key_ceiling);
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

/// A project a user has chatted in, with the time of their last message there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatRoom {
    pub project_id: ProjectId,
    #[serde(with = "super::time::iso_ms")]
    pub updated_at: DateTime<Utc>,
}

/// An open WebSocket connection: who, in which project, and until when it may live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub connection_id: ConnectionId,
    pub user_id: UserId,
    /// The name shown with this user's messages (from the token's name claims).
    pub display_name: String,
    pub project_id: ProjectId,
    /// Whether the socket asked for the user's notification frames (`?notifications=true` or the
    /// `subscribe` action); chat frames of its project come either way.
    pub notifications: bool,
    /// Admitted as an administrator rather than a member of the project's team.
    pub admin: bool,
    pub connected_at: DateTime<Utc>,
    /// API Gateway closes connections after 2 hours; the row expires (TTL) a little later.
    pub expires_at: DateTime<Utc>,
    /// When the token the socket connected (or last refreshed) with expires: its next frame after
    /// that closes it, and broadcasts skip it. `None` for rows from before tokens were kept.
    pub token_expires_at: Option<DateTime<Utc>>,
}

impl Connection {
    /// Whether the socket's token has expired at `now`.
    pub fn token_expired(&self, now: DateTime<Utc>) -> bool {
        self.token_expires_at.is_some_and(|until| until <= now)
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
        let cursor = ChatCursor(sort_key(&at, &id("msg-1")));
        assert_eq!(ChatCursor::decode(&cursor.encode()), Ok(cursor));
        for bad in
            ["", "bm90LWEta2V5", &URL_SAFE_NO_PAD.encode("m#12#x"), &URL_SAFE_NO_PAD.encode("m#0000000000001#a b")]
        {
            assert!(ChatCursor::decode(bad).is_err(), "{bad}");
        }
    }
}
