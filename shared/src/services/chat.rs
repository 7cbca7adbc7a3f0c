//! Team chat: sending (store first, then fan out), history, rooms, and live notifications.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::domain::{
    BoundedText, FieldError, Validator,
    chat::{
        ChatMessage, ChatRoom, HistoryPage, HistoryQuery, MESSAGE_MAX_CHARS, SENDER_NAME_MAX_CHARS,
        parse_client_message_id,
    },
    notification::Notification,
    time::now_ms,
};
use crate::error::{AppError, AppResult};
use crate::push::{FanOut, FanOutReport};
use crate::store::{ChatStores, Saved, Touched};

/// Chat storage plus the way to reach open WebSocket connections.
#[derive(Clone)]
pub struct Realtime {
    pub stores: ChatStores,
    pub fanout: FanOut,
}

/// A message someone wants to send, before validation.
#[derive(Debug, Clone)]
pub struct SendRequest {
    pub project_id: i64,
    pub user_id: String,
    pub sender_name: String,
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

/// A display name cut to what a message may carry.
pub fn sender_name(raw: &str) -> String {
    raw.trim().chars().take(SENDER_NAME_MAX_CHARS).collect()
}

impl SendRequest {
    fn validate(self, at: DateTime<Utc>) -> Result<(ChatMessage, bool), Vec<FieldError>> {
        let mut v = Validator::new();
        let body = v.check("message", BoundedText::parse(&self.message, 1, MESSAGE_MAX_CHARS));
        let client_id = v.check_opt("message_id", self.client_message_id.as_deref(), parse_client_message_id);
        let name = sender_name(&self.sender_name);
        if name.is_empty() {
            v.error("sender_name", "must not be empty");
        }
        v.finish(|| {
            let client_id = client_id?;
            let idempotent = client_id.is_some();
            Some((
                ChatMessage {
                    message_id: client_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                    project_id: self.project_id,
                    user_id: self.user_id,
                    sender_name: name,
                    message: body?.into_inner(),
                    timestamp: at,
                    is_in_meeting: self.is_in_meeting,
                },
                idempotent,
            ))
        })
    }
}

impl Realtime {
    /// Stores the message (the server sets its time) and the sender's room activity, then posts
    /// it to every connection of the project. All posts finish before this returns.
    pub async fn send(&self, request: SendRequest) -> AppResult<SendOutcome> {
        let now = now_ms();
        let (message, idempotent) = request.validate(now).map_err(AppError::Validation)?;
        // Neither whom to tell nor the room's activity depends on the write: do all three at
        // once, and take the room back if the message turns out not to be stored.
        let (saved, targets, touched) = tokio::join!(
            self.stores.messages.save(&message, idempotent),
            self.fanout.project_connections(message.project_id, now),
            self.stores.rooms.touch(&message.user_id, message.project_id, now),
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
            tracing::warn!(error = %e, project_id = stored.project_id, "could not list connections; message stored, not broadcast");
            Vec::new()
        });
        let fanout = self.fanout.broadcast(&targets, &stored.frame()).await;
        Ok(SendOutcome { message: stored, created: true, fanout })
    }

    async fn undo_touch(&self, message: &ChatMessage, touched: Result<Touched, crate::store::StoreError>) {
        let Ok(touched) = touched else { return };
        if let Err(e) =
            self.stores.rooms.undo_touch(&message.user_id, message.project_id, touched, message.timestamp).await
        {
            tracing::warn!(error = %e, "could not take back a room touch of an unsent message");
        }
    }

    pub async fn history(&self, project_id: i64, query: &HistoryQuery) -> AppResult<HistoryPage> {
        Ok(self.stores.messages.history(project_id, query).await?)
    }

    pub async fn rooms(&self, user_id: &str) -> AppResult<Vec<ChatRoom>> {
        Ok(self.stores.rooms.rooms(user_id).await?)
    }

    /// Pushes a stored notification to the recipient's open connections. Best effort: the
    /// notification is already stored, so failures are logged, and the wait is bounded.
    pub async fn push_notification(&self, notification: &Notification) -> Option<FanOutReport> {
        const PUSH_BUDGET: Duration = Duration::from_secs(2);
        let push = async {
            let targets = self.stores.connections.by_user(&notification.user_id, now_ms()).await?;
            let mut frame = json!(notification);
            frame["type"] = json!("notification");
            Ok::<_, crate::store::StoreError>(self.fanout.broadcast(&targets, &frame).await)
        };
        match tokio::time::timeout(PUSH_BUDGET, push).await {
            Ok(Ok(report)) => Some(report),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "live notification push skipped");
                None
            }
            Err(_) => {
                tracing::warn!("live notification push timed out");
                None
            }
        }
    }
}
