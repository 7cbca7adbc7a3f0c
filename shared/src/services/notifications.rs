//! Notifications: a user reads and clears their own; admins and sibling services create them.

use crate::config::Config;
use crate::domain::{
    Cursor, Limit, Page, UserId,
    notification::{CreateNotificationBody, MarkReadBody, MarkReadOutcome, Notification},
    time::now_ms,
};
use crate::error::{AppError, AppResult};
use crate::identity::Identity;
use crate::services::chat::Realtime;
use crate::store::NotificationStore;

/// Whose notifications a list request may read: only the caller's own.
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
    store: &dyn NotificationStore,
    user: &UserId,
    unread_only: bool,
    limit: Limit,
    after: Option<Cursor>,
) -> AppResult<Page<Notification>> {
    Ok(store.list(user, unread_only, limit, after).await?)
}

pub async fn unread_count(store: &dyn NotificationStore, user: &UserId) -> AppResult<i64> {
    Ok(store.unread_count(user).await?)
}

/// Creating a notification for someone else takes an admin, or a sibling service whose
/// client-credentials token carries the configured scope. Users cannot notify each other.
pub fn authorize_create(caller: &Identity, config: &Config) -> AppResult<()> {
    if caller.is_admin || caller.has_scope(&config.internal_notify_scope) {
        Ok(())
    } else {
        Err(AppError::Forbidden("creating notifications requires an administrator or an internal service token"))
    }
}

/// Stores the notification, then (when this function can reach WebSockets) pushes it to the
/// recipient's open connections, best effort.
pub async fn create(
    store: &dyn NotificationStore,
    live: Option<&Realtime>,
    config: &Config,
    caller: &Identity,
    body: CreateNotificationBody,
) -> AppResult<Notification> {
    authorize_create(caller, config)?;
    let new = body.validate().map_err(AppError::Validation)?;
    let created = store.create(&new, now_ms()).await?;
    if let Some(live) = live {
        live.push_notification(&created).await;
    }
    Ok(created)
}

pub async fn mark_read(
    store: &dyn NotificationStore,
    caller: &Identity,
    body: MarkReadBody,
) -> AppResult<MarkReadOutcome> {
    let user = caller.user_id()?;
    let which = body.validate().map_err(AppError::Validation)?;
    let updated = store.mark_read(&user, &which, now_ms()).await?;
    let unread_count = store.unread_count(&user).await?;
    Ok(MarkReadOutcome { updated, unread_count })
}
