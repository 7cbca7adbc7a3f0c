//! Team chat: messages per project, the rooms a user chats in, and WebSocket connections.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::time::format_iso;

/// Longest message, in characters. A frame carries it as JSON inside API Gateway's 32 KB frame
/// limit: 2,000 four-byte characters plus the envelope stay far below it.
pub const MESSAGE_MAX_CHARS: usize = 2_000;
pub const SENDER_NAME_MAX_CHARS: usize = 50;
pub const CLIENT_MESSAGE_ID_MAX_CHARS: usize = 64;
/// API Gateway's WebSocket frame limit; larger frames never reach the handler.
pub const FRAME_MAX_BYTES: usize = 32 * 1024;

pub fn parse_project_id(raw: &str) -> Result<i64, String> {
    match raw.trim().parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err("must be a positive integer".into()),
    }
}

/// A client-chosen message id that makes a send idempotent: 1–64 of `A-Z a-z 0-9 - _`.
pub fn parse_client_message_id(raw: &str) -> Result<String, String> {
    let ok = !raw.is_empty()
        && raw.len() <= CLIENT_MESSAGE_ID_MAX_CHARS
        && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(format!("must be 1 to {CLIENT_MESSAGE_ID_MAX_CHARS} characters of A-Z, a-z, 0-9, '-' or '_'"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub message_id: String,
    pub project_id: i64,
    pub user_id: String,
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

    /// The frame pushed to every WebSocket connection of the project: the API's fields, with
    /// the sender's name as the frontend reads it.
    pub fn frame(&self) -> Value {
        let mut frame = self.fields("senderName");
        frame["type"] = json!("message");
        frame
    }

    /// The message as the API shows it, naming the sender's name `sender_key`.
    fn fields(&self, sender_key: &str) -> Value {
        json!({
            "message_id": self.message_id,
            "project_id": self.project_id,
            "user_id": self.user_id,
            sender_key: self.sender_name,
            "message": self.message,
            "timestamp": format_iso(&self.timestamp),
            "created_at": format_iso(&self.timestamp),
            "is_in_meeting": self.is_in_meeting,
            "cursor": self.cursor().encode(),
        })
    }
}

impl Serialize for ChatMessage {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.fields("sender_name").serialize(s)
    }
}

/// Width of the millisecond field: 13 digits hold every instant until the year 2286.
const MILLIS_WIDTH: usize = 13;

pub fn sort_key(at: &DateTime<Utc>, message_id: &str) -> String {
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

/// Position in a project's history: a message's sort key, opaque to clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatCursor(pub String);

impl ChatCursor {
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
            && parts.next().is_some_and(|id| parse_client_message_id(id).is_ok());
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
    pub project_id: i64,
    #[serde(with = "super::time::iso_ms")]
    pub updated_at: DateTime<Utc>,
}

/// An open WebSocket connection: who, in which project, and until when it may live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub connection_id: String,
    pub user_id: String,
    /// The name shown with this user's messages (from the token's name claims).
    pub display_name: String,
    pub project_id: i64,
    pub connected_at: DateTime<Utc>,
    /// API Gateway closes connections after 2 hours; the row expires (TTL) a little later.
    pub expires_at: DateTime<Utc>,
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
        assert!(sort_key(&at, "b") > sort_key(&at, "a"));
        assert!(sort_key(&later, "a") > sort_key(&at, "zzz"));
        assert!(sort_key_ceiling(&at) > sort_key(&at, "zzzz"));
        assert!(sort_key_floor(&later) > sort_key_ceiling(&at));
        let cursor = ChatCursor(sort_key(&at, "msg-1"));
        assert_eq!(ChatCursor::decode(&cursor.encode()), Ok(cursor));
        for bad in
            ["", "bm90LWEta2V5", &URL_SAFE_NO_PAD.encode("m#12#x"), &URL_SAFE_NO_PAD.encode("m#0000000000001#a b")]
        {
            assert!(ChatCursor::decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn client_ids_are_restricted() {
        assert!(parse_client_message_id("c-1_A").is_ok());
        for bad in ["", "has space", "emoji😀", "a#b", &"x".repeat(65)] {
            assert!(parse_client_message_id(bad).is_err(), "{bad}");
        }
    }
}
