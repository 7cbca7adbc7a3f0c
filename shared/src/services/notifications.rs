//! Notifications: a user reads and clears their own; admins and sibling services create them,
//! and each new one is pushed to the recipient's open sockets.

use std::{sync::Arc, time::Duration};

use super::presence::Presence;
use crate::domain::{
    Cursor, Limit, Page, UserId,
    notification::{CreateNotificationBody, MarkReadBody, MarkReadOutcome, NewNotification, Notification},
    time::now_ms,
};
use crate::error::{AppError, AppResult};
use crate::identity::Identity;
use crate::push::{FanOut, FanOutReport};
use crate::store::NotificationStore;
use crate::ws::frames::ServerFrame;

/// How long a live push may hold up the request that stored the notification.
const PUSH_BUDGET: Duration = Duration::from_secs(2);

/// A caller allowed to notify any user: an administrator, or a sibling service whose
/// client-credentials token carries the configured scope. Users cannot notify each other.
#[derive(Debug, Clone)]
pub struct NotificationSender(Identity);

#[derive(Clone)]
pub struct NotificationService {
    store: Arc<dyn NotificationStore>,
    /// Reaches the recipients' open WebSocket connections.
    live: FanOut,
    /// Tells a project when a push found its member's last socket gone.
    presence: Presence,
    /// The scope a service token needs to create notifications (`INTERNAL_NOTIFY_SCOPE`).
    notify_scope: Arc<str>,
}

impl NotificationService {
    pub fn new(store: Arc<dyn NotificationStore>, live: FanOut, notify_scope: &str) -> Self {
        let presence = Presence::new(live.clone());
        Self { store, live, presence, notify_scope: notify_scope.into() }
    }

    pub fn authorize_sender(&self, caller: Identity) -> AppResult<NotificationSender> {
        if caller.is_admin || caller.has_scope(&self.notify_scope) {
            Ok(NotificationSender(caller))
        } else {
            Err(AppError::Forbidden("creating notifications requires an administrator or an internal service token"))
        }
    }

    /// Whose notifications a list request may read: only the caller's own (`user_id`, when
    /// given, must be the caller).
    pub fn owner(caller: &Identity, requested: Option<&str>) -> AppResult<UserId> {
        let me = caller.user_id()?;
        match requested {
            Some(other) if !other.trim().eq_ignore_ascii_case(me.as_str()) => {
                Err(AppError::Forbidden("you can only read your own notifications"))
            }
            _ => Ok(me),
        }
    }

    pub async fn list(
        &self,
        user: &UserId,
        unread_only: bool,
        limit: Limit,
        after: Option<Cursor>,
    ) -> AppResult<Page<Notification>> {
        Ok(self.store.list(user, unread_only, limit, after).await?)
    }

    pub async fn unread_count(&self, user: &UserId) -> AppResult<i64> {
        Ok(self.store.unread_count(user).await?)
    }

    pub async fn create(&self, sender: &NotificationSender, body: CreateNotificationBody) -> AppResult<Notification> {
        let new = body.validate().map_err(AppError::Validation)?;
        let created = self.notify(&new).await?;
        tracing::info!(sender = %sender.0.subject, notification_id = %created.notification_id, "notification created");
        Ok(created)
    }

    /// Stores a notification, then pushes it to the recipient's open sockets (best effort: it
    /// is stored either way, and the push waits at most [`PUSH_BUDGET`]).
    pub async fn notify(&self, new: &NewNotification) -> AppResult<Notification> {
        let created = self.store.create(new, now_ms()).await?;
        self.push(&created).await;
        Ok(created)
    }

    /// Pushes a stored notification to the recipient's subscribed sockets, best effort.
    pub async fn push(&self, notification: &Notification) -> Option<FanOutReport> {
        let push = async {
            let mut targets = self.live.user_connections(&notification.user_id, now_ms()).await?;
            // Only sockets that asked for notifications get them: the web app's chat socket
            // draws every frame it receives as a chat bubble.
            targets.retain(|c| c.notifications);
            let deadline = tokio::time::Instant::now() + PUSH_BUDGET;
            let report = self.live.broadcast_until(&targets, &ServerFrame::Notification(notification), deadline).await;
            // A socket found gone may have been its member's last in a project.
            self.presence.dropped(&report.dropped, deadline).await;
            Ok::<_, crate::store::StoreError>(report)
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

    pub async fn mark_read(&self, user: &UserId, body: MarkReadBody) -> AppResult<MarkReadOutcome> {
        let which = body.validate().map_err(AppError::Validation)?;
        let updated = self.store.mark_read(user, &which, now_ms()).await?;
        let unread_count = self.store.unread_count(user).await?;
        Ok(MarkReadOutcome { updated, unread_count })
    }
}
