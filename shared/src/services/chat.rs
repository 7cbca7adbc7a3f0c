//! Team chat: sending (store first, then fan out), history, rooms, and the web app's history.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::domain::{
    BoundedText, FieldError, Limit, MessageId, ProjectId, UserId, Validator,
    chat::{ChatMessage, ChatRoom, HistoryPage, HistoryPosition, HistoryQuery, MESSAGE_MAX_CHARS, sender_name},
    time::{Calendar, now_ms},
};
use crate::error::{AppError, AppResult};
use crate::push::{FanOut, FanOutReport};
use crate::store::{ChatStore, RoomStore, Saved, StoreError, Touched};
use crate::ws::frames::{MessageFrame, ServerFrame};

/// Most messages the web app's history route returns: the newest ones.
pub const RECENT_MAX: usize = 1_000;
/// Most store pages one such read walks (2,000 messages), so a filter that matches little
/// cannot make one request read a project's whole history.
const RECENT_PAGES: usize = 20;

/// Who sends: the verified user and the name shown with the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    pub user_id: UserId,
    pub name: String,
}

/// A message someone wants to send, before validation.
#[derive(Debug, Clone)]
pub struct SendRequest {
    pub project_id: ProjectId,
    pub sender: Sender,
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

impl SendRequest {
    fn validate(self, at: DateTime<Utc>) -> Result<(ChatMessage, bool), Vec<FieldError>> {
        let mut v = Validator::new();
        let body = v.check("message", BoundedText::parse(&self.message, 1, MESSAGE_MAX_CHARS));
        let client_id = v.check_opt("message_id", self.client_message_id.as_deref(), MessageId::parse);
        let name = v.check("sender_name", sender_name(&self.sender.name).ok_or_else(|| "must not be empty".into()));
        v.finish(|| {
            let client_id = client_id?;
            let idempotent = client_id.is_some();
            Some((
                ChatMessage {
                    message_id: client_id.unwrap_or_else(MessageId::generate),
                    project_id: self.project_id,
                    user_id: self.sender.user_id,
                    sender_name: name?,
                    message: body?.into_inner(),
                    timestamp: at,
                    is_in_meeting: self.is_in_meeting,
                },
                idempotent,
            ))
        })
    }
}

/// Chat storage plus the way to reach a project's open WebSocket connections.
#[derive(Clone)]
pub struct ChatService {
    messages: Arc<dyn ChatStore>,
    rooms: Arc<dyn RoomStore>,
    fanout: FanOut,
    calendar: Calendar,
}

impl ChatService {
    pub fn new(messages: Arc<dyn ChatStore>, rooms: Arc<dyn RoomStore>, fanout: FanOut, calendar: Calendar) -> Self {
        Self { messages, rooms, fanout, calendar }
    }

    pub fn fanout(&self) -> &FanOut {
        &self.fanout
    }

    pub fn calendar(&self) -> Calendar {
        self.calendar
    }

    /// Stores the message (the server sets its time) and the sender's room activity, then posts
    /// it to every connection of the project. All posts finish before this returns.
    pub async fn send(&self, request: SendRequest) -> AppResult<SendOutcome> {
        let now = now_ms();
        let (message, idempotent) = request.validate(now).map_err(AppError::Validation)?;
        // Neither whom to tell nor the room's activity depends on the write: do all three at
        // once, and take the room back if the message turns out not to be stored.
        let (saved, targets, touched) = tokio::join!(
            self.messages.save(&message, idempotent),
            self.fanout.project_connections(message.project_id, now),
            self.rooms.touch(&message.user_id, message.project_id, now),
        );
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
        let targets = targets.unwrap_or_else(|e| {
            tracing::warn!(error = %e, project_id = %stored.project_id, "could not list connections; message stored, not broadcast");
            Vec::new()
        });
        let fanout = self.fanout.broadcast(&targets, &ServerFrame::Message(MessageFrame::from(&stored))).await;
        Ok(SendOutcome { message: stored, created: true, fanout })
    }

    async fn undo_touch(&self, message: &ChatMessage, touched: Result<Touched, StoreError>) {
        let Ok(touched) = touched else { return };
        if let Err(e) = self.rooms.undo_touch(&message.user_id, message.project_id, touched, message.timestamp).await {
            tracing::warn!(error = %e, "could not take back a room touch of an unsent message");
        }
    }

    pub async fn history(&self, project_id: ProjectId, query: &HistoryQuery) -> AppResult<HistoryPage> {
        Ok(self.messages.history(project_id, query).await?)
    }

    /// The newest messages matching `filter` (at most [`RECENT_MAX`], reading at most
    /// [`RECENT_PAGES`] pages), oldest first: the web app's history.
    pub async fn recent(&self, project_id: ProjectId, filter: RecentFilter) -> AppResult<Vec<ChatMessage>> {
        let mut collected: Vec<ChatMessage> = Vec::new();
        let mut position = HistoryPosition::Latest;
        for _ in 0..RECENT_PAGES {
            let query = HistoryQuery { position, from: filter.from, to: filter.to, limit: Limit::MAX };
            let page = self.history(project_id, &query).await?;
            let Some(oldest) = page.messages.first().map(ChatMessage::cursor) else {
                break;
            };
            collected.extend(page.messages.into_iter().rev().filter(|m| m.is_in_meeting || !filter.meeting_only));
            if collected.len() >= RECENT_MAX || !page.has_more {
                break;
            }
            position = HistoryPosition::Before(oldest);
        }
        collected.truncate(RECENT_MAX);
        collected.reverse();
        Ok(collected)
    }

    pub async fn rooms(&self, user_id: &UserId) -> AppResult<Vec<ChatRoom>> {
        Ok(self.rooms.rooms(user_id).await?)
    }
}
