//! The WebSocket API's wire format, both directions, as serde-tagged enums: what a client may
//! send (route selection on `action`) and every frame the service posts (told apart by `type`).

use serde::{Deserialize, Serialize};

use crate::domain::{
    MessageId, ProjectId, UserId,
    chat::{ChatCursor, ChatMessage},
    notification::Notification,
    time::format_iso,
};

/// API Gateway's WebSocket frame limit; larger frames never reach the handler.
pub const FRAME_MAX_BYTES: usize = 32 * 1024;

/// The route a client frame takes, selected on its `action` as API Gateway does
/// (`$request.body.action`); a frame without one reaches `$default`, which sends a message (the
/// web app sends such frames).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Action {
    #[serde(rename = "sendMessage", alias = "message")]
    SendMessage,
    #[serde(rename = "ping")]
    Ping,
    #[serde(rename = "history")]
    History,
    #[serde(rename = "subscribe")]
    Subscribe,
    #[serde(rename = "refresh")]
    Refresh,
    #[serde(rename = "editMessage")]
    EditMessage,
    #[serde(rename = "deleteMessage")]
    DeleteMessage,
    #[serde(rename = "markRead")]
    MarkRead,
    #[serde(rename = "typing")]
    Typing,
    /// Any other action: answered with an `UNKNOWN_ACTION` error frame.
    #[serde(other)]
    Unknown,
}

/// A decoded client frame. Decoding takes two typed steps, the route then its payload, rather
/// than one internally tagged enum: serde buffers an internally tagged payload, which loses the
/// path of a bad field, and a client should be told which field was wrong.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientFrame {
    SendMessage(SendFrame),
    Ping,
    History(HistoryFrame),
    Subscribe(SubscribeFrame),
    Refresh(RefreshFrame),
    EditMessage(EditFrame),
    DeleteMessage(DeleteFrame),
    MarkRead(MarkReadFrame),
    Typing,
    Unknown(String),
}

/// Why a frame could not be decoded: the error frame's code, and the field when one is to blame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    pub code: &'static str,
    pub field: Option<String>,
    pub message: String,
}

impl FrameError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, field: None, message: message.into() }
    }
}

#[derive(Deserialize)]
struct Route {
    #[serde(default)]
    action: Option<Action>,
}

/// Unknown fields are ignored throughout: the web app adds fields of its own.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SendFrame {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub message_id: Option<String>,
    #[serde(default)]
    pub is_in_meeting: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct HistoryFrame {
    /// The `cursor` of the last message the client saw.
    #[serde(default)]
    pub after: Option<String>,
    #[serde(default)]
    pub limit: Option<u32>,
}

/// `{"action": "subscribe", "notifications"?: bool, "live"?: bool}`: this socket also receives
/// the user's notification frames, or the live-chat frames (presence, typing, read); `false`
/// stops them. At least one of the two.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SubscribeFrame {
    #[serde(default)]
    pub notifications: Option<bool>,
    #[serde(default)]
    pub live: Option<bool>,
}

/// `{"action": "refresh", "token": "<id token>"}`: renews the socket's token in place, before
/// the one it connected with expires. The token must be the same user's.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RefreshFrame {
    #[serde(default)]
    pub token: Option<String>,
}

/// `{"action": "editMessage", "message_id": "…", "message": "…"}`: the author changes their
/// message's text.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EditFrame {
    #[serde(default)]
    pub message_id: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

/// `{"action": "deleteMessage", "message_id": "…"}`: its author (or an administrator) deletes a
/// message.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DeleteFrame {
    #[serde(default)]
    pub message_id: Option<String>,
}

/// `{"action": "markRead", "up_to": "<cursor>"}`: the socket's user has read the project's chat
/// up to that message.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MarkReadFrame {
    #[serde(default)]
    pub up_to: Option<String>,
}

impl ClientFrame {
    /// Decodes a text frame's body.
    pub fn decode(body: &str) -> Result<Self, FrameError> {
        if body.len() > FRAME_MAX_BYTES {
            return Err(FrameError::new("FRAME_TOO_LARGE", format!("frames are at most {FRAME_MAX_BYTES} bytes")));
        }
        let value: serde_json::Value =
            serde_json::from_str(body).map_err(|_| FrameError::new("INVALID_JSON", "the frame is not valid JSON"))?;
        if !value.is_object() {
            return Err(FrameError::new("INVALID_FRAME", "a frame is a JSON object"));
        }
        let route: Route = payload(&value)?;
        Ok(match route.action.unwrap_or(Action::SendMessage) {
            Action::SendMessage => Self::SendMessage(payload(&value)?),
            Action::Ping => Self::Ping,
            Action::History => Self::History(payload(&value)?),
            Action::Subscribe => Self::Subscribe(payload(&value)?),
            Action::Refresh => Self::Refresh(payload(&value)?),
            Action::EditMessage => Self::EditMessage(payload(&value)?),
            Action::DeleteMessage => Self::DeleteMessage(payload(&value)?),
            Action::MarkRead => Self::MarkRead(payload(&value)?),
            Action::Typing => Self::Typing,
            Action::Unknown => Self::Unknown(value["action"].as_str().unwrap_or_default().to_owned()),
        })
    }
}

fn payload<T: serde::de::DeserializeOwned>(value: &serde_json::Value) -> Result<T, FrameError> {
    serde_path_to_error::deserialize(value).map_err(|e| FrameError {
        code: "VALIDATION_FAILED",
        field: Some(e.path().to_string()),
        message: e.inner().to_string(),
    })
}

/// Every frame the service posts to a connection.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame<'a> {
    /// A chat message of the connection's project (every member's socket gets it).
    Message(MessageFrame),
    /// A message of the project was edited by its author: the message as it now reads.
    MessageEdited(MessageFrame),
    /// A message of the project was deleted: clients holding it drop it.
    MessageDeleted {
        message_id: MessageId,
        project_id: ProjectId,
        deleted_at: String,
    },
    /// A notification for the connection's user.
    Notification(&'a Notification),
    /// The connection's user marked the project's chat read (in this tab or another): where
    /// their marker stands and what is still unread there, so every tab shows one badge.
    Read {
        project_id: ProjectId,
        /// The cursor of the newest message marked read.
        up_to: String,
        last_read_at: String,
        unread_count: u32,
        unread_more: bool,
    },
    /// A member of the project came online (their first socket opened) or went offline (their
    /// last one closed).
    Presence {
        user_id: UserId,
        #[serde(rename = "senderName")]
        sender_name: String,
        project_id: ProjectId,
        online: bool,
    },
    /// A member of the project is typing (at most one frame per member every 3 s).
    Typing {
        user_id: UserId,
        #[serde(rename = "senderName")]
        sender_name: String,
        project_id: ProjectId,
    },
    /// The answer to `history`: messages after the client's cursor, oldest first, and where
    /// to ask on (`after_cursor`, as the HTTP history's `meta.after_cursor`).
    History {
        project_id: ProjectId,
        messages: Vec<MessageFrame>,
        has_more: bool,
        after_cursor: Option<String>,
    },
    Pong,
    /// The answer to `subscribe`: what this socket now receives besides its project's chat.
    Subscribed {
        notifications: bool,
        live: bool,
    },
    /// The answer to `refresh`: the socket lives until the new token expires.
    Refreshed {
        expires_at: String,
    },
    /// To the sender only: what was wrong with its frame, or that the service could not act.
    Error {
        code: &'a str,
        message: String,
    },
}

/// A chat message as sockets receive it: the API's fields, with the sender's name under
/// `senderName`, the key the web app reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageFrame {
    pub message_id: MessageId,
    pub project_id: ProjectId,
    pub user_id: UserId,
    #[serde(rename = "senderName")]
    pub sender_name: String,
    pub message: String,
    pub timestamp: String,
    pub created_at: String,
    pub is_in_meeting: bool,
    /// When its author last changed the text (`null`: never).
    pub edited_at: Option<String>,
    /// A tombstone: the message was deleted (only a `history` answer carries these).
    pub deleted: bool,
    pub cursor: String,
}

/// Most bytes of one posted frame's messages: API Gateway takes posts up to 128 KB.
pub const POST_MAX_BYTES: usize = 96 * 1024;

/// A `history` answer as frames that each fit one post: in order, every frame but the last with
/// `has_more: true` and an `after_cursor` that reads on right after it (a client that reads one
/// frame at a time asks on and drops the ids it holds).
pub fn history_frames(
    project_id: ProjectId,
    messages: Vec<MessageFrame>,
    has_more: bool,
    after_cursor: Option<String>,
) -> Vec<ServerFrame<'static>> {
    let mut chunks: Vec<Vec<MessageFrame>> = vec![Vec::new()];
    let mut bytes = 0;
    for message in messages {
        let size = serde_json::to_vec(&message).map_or(0, |encoded| encoded.len());
        if bytes + size > POST_MAX_BYTES && chunks.last().is_some_and(|chunk| !chunk.is_empty()) {
            chunks.push(Vec::new());
            bytes = 0;
        }
        bytes += size;
        chunks.last_mut().expect("at least one chunk").push(message);
    }
    let last = chunks.len() - 1;
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, messages)| {
            let after_cursor = if i < last {
                let newest = messages.last().and_then(|m| ChatCursor::decode(&m.cursor).ok());
                newest.map(|cursor| cursor.continuation(None).encode())
            } else {
                after_cursor.clone()
            };
            ServerFrame::History { project_id, messages, has_more: has_more || i < last, after_cursor }
        })
        .collect()
}

impl ServerFrame<'_> {
    /// `message_deleted` for a tombstone: its id, project and when it was deleted.
    pub fn deleted(tombstone: &ChatMessage) -> ServerFrame<'static> {
        ServerFrame::MessageDeleted {
            message_id: tombstone.message_id.clone(),
            project_id: tombstone.project_id,
            deleted_at: tombstone.removed.as_ref().map(|r| format_iso(&r.at)).unwrap_or_default(),
        }
    }
}

/// A live frame: its cursor says nothing about what else the socket got (see
/// [`ChatCursor::first_unsettled`]).
impl From<&ChatMessage> for MessageFrame {
    fn from(m: &ChatMessage) -> Self {
        Self::shown(m, m.cursor())
    }
}

impl MessageFrame {
    /// The message with the cursor to show beside it (a `history` answer's carry its read).
    pub fn shown(m: &ChatMessage, cursor: ChatCursor) -> Self {
        let at = format_iso(&m.timestamp);
        Self {
            message_id: m.message_id.clone(),
            project_id: m.project_id,
            user_id: m.user_id.clone(),
            sender_name: m.sender_name.clone(),
            message: m.message.clone(),
            timestamp: at.clone(),
            created_at: at,
            is_in_meeting: m.is_in_meeting,
            edited_at: m.edited_at.as_ref().map(format_iso),
            deleted: m.is_removed(),
            cursor: cursor.encode(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_long_history_answer_is_split_into_posts_that_fit() {
        let project = ProjectId::new(1).unwrap();
        let message = |i: usize| MessageFrame {
            message_id: crate::domain::MessageId::parse(&format!("m{i}")).unwrap(),
            project_id: project,
            user_id: crate::domain::UserId::parse("3f2504e0-4f89-11d3-9a0c-0305e82c3301").unwrap(),
            sender_name: "s".into(),
            message: "가".repeat(2_000),
            timestamp: "2026-11-30T00:00:00.000Z".into(),
            created_at: "2026-11-30T00:00:00.000Z".into(),
            is_in_meeting: false,
            edited_at: None,
            deleted: false,
            cursor: ChatCursor::at_key(format!("m#0000000000001#m{i}")).encode(),
        };
        let frames = history_frames(project, (0..100).map(message).collect(), false, Some("end".into()));
        assert!(frames.len() > 1);
        let mut ids = Vec::new();
        for (i, frame) in frames.iter().enumerate() {
            assert!(serde_json::to_vec(frame).unwrap().len() <= 128 * 1024, "frame {i} fits one post");
            let ServerFrame::History { messages, has_more, after_cursor, .. } = frame else {
                panic!("a history frame")
            };
            assert_eq!(*has_more, i + 1 < frames.len(), "only the last says there is no more");
            let newest = ChatCursor::decode(&messages.last().unwrap().cursor).unwrap();
            let expected = if *has_more { newest.continuation(None).encode() } else { "end".into() };
            assert_eq!(after_cursor.as_deref(), Some(expected.as_str()), "frame {i} says where to ask on");
            ids.extend(messages.iter().map(|m| m.message_id.to_string()));
        }
        assert_eq!(ids, (0..100).map(|i| format!("m{i}")).collect::<Vec<_>>(), "all, in order");
        assert_eq!(history_frames(project, Vec::new(), true, None).len(), 1, "an empty answer is one frame");
    }

    #[test]
    fn client_frames_by_action_and_the_bare_default() {
        let send = ClientFrame::decode(r#"{"action": "sendMessage", "message": "hi", "message_id": "c-1"}"#);
        let expected = SendFrame { message: Some("hi".into()), message_id: Some("c-1".into()), is_in_meeting: false };
        assert_eq!(send, Ok(ClientFrame::SendMessage(expected)));
        assert_eq!(ClientFrame::decode(r#"{"action": "ping", "extra": 1}"#), Ok(ClientFrame::Ping));
        assert_eq!(ClientFrame::decode(r#"{"action": "dance"}"#), Ok(ClientFrame::Unknown("dance".into())));
        assert_eq!(ClientFrame::decode(r#"{"action": "typing", "text": "x"}"#), Ok(ClientFrame::Typing));
        let mark = ClientFrame::decode(r#"{"action": "markRead", "up_to": "abc"}"#);
        assert_eq!(mark, Ok(ClientFrame::MarkRead(MarkReadFrame { up_to: Some("abc".into()) })));
        // The web app's own frame: no action, fields of its own.
        let bare =
            ClientFrame::decode(r#"{"user_id": "지민", "senderName": "지민", "message": "안녕", "timestamp": 1}"#);
        assert!(matches!(bare, Ok(ClientFrame::SendMessage(SendFrame { message: Some(m), .. })) if m == "안녕"));
    }

    #[test]
    fn bad_frames_name_the_field() {
        let error = ClientFrame::decode(r#"{"action": "sendMessage", "message": 5}"#).unwrap_err();
        assert_eq!((error.code, error.field.as_deref()), ("VALIDATION_FAILED", Some("message")));
        let error = ClientFrame::decode(r#"{"action": 3}"#).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("action"));
        assert_eq!(ClientFrame::decode("[1]").unwrap_err().code, "INVALID_FRAME");
        assert_eq!(ClientFrame::decode("{").unwrap_err().code, "INVALID_JSON");
    }

    #[test]
    fn server_frames_carry_their_type() {
        assert_eq!(serde_json::to_value(ServerFrame::Pong).unwrap(), json!({"type": "pong"}));
        let error = ServerFrame::Error { code: "INVALID_JSON", message: "no".into() };
        assert_eq!(
            serde_json::to_value(error).unwrap(),
            json!({"type": "error", "code": "INVALID_JSON", "message": "no"})
        );
    }
}
