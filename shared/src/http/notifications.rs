//! Notifications: a user's own list, unread count and mark-read; creation by admins and
//! sibling services.

use axum::{
    Router,
    extract::{FromRequestParts, State},
    http::request::Parts,
};
use serde_json::json;

use super::{
    extract::{Caller, JsonBody, QueryParams},
    reply::{Reply, ReplyResult},
};
use crate::domain::notification::{CreateNotificationBody, MarkReadBody};
use crate::error::AppError;
use crate::services::notifications::{NotificationSender, NotificationService};

routes!(NotificationService {
    "/notifications" => get(list).post(create);
    "/notifications/unread-count" => get(unread_count);
    "/notifications/read" => post(mark_read);
});

pub fn router(service: NotificationService) -> Router {
    routes().with_state(service)
}

/// An admin or a sibling service allowed to notify users; checked before the body is read.
struct Sender(NotificationSender);

impl FromRequestParts<NotificationService> for Sender {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, service: &NotificationService) -> Result<Self, AppError> {
        let Caller(caller) = Caller::from_request_parts(parts, service).await?;
        service.authorize_sender(caller).map(Self)
    }
}

/// `GET /notifications?limit&cursor&unread_only[&user_id=<self>]`
async fn list(
    State(notifications): State<NotificationService>,
    Caller(caller): Caller,
    query: QueryParams,
) -> ReplyResult {
    let user = NotificationService::owner(&caller, query.get("user_id"))?;
    let limit = query.limit()?;
    let cursor = query.time_cursor("cursor")?;
    let unread_only = query.flag("unread_only")?;
    let page = notifications.list(&user, unread_only, limit, cursor).await?;
    Reply::page("NOTIFICATIONS_LISTED", "notifications, newest first", page, limit)
}

async fn unread_count(State(notifications): State<NotificationService>, Caller(caller): Caller) -> ReplyResult {
    let count = notifications.unread_count(&caller.user_id()?).await?;
    Reply::ok("UNREAD_COUNT", "unread notifications", json!({ "unread_count": count }))
}

async fn create(
    State(notifications): State<NotificationService>,
    Sender(sender): Sender,
    JsonBody(body): JsonBody<CreateNotificationBody>,
) -> ReplyResult {
    Reply::created("NOTIFICATION_CREATED", "notification created", notifications.create(&sender, body).await?)
}

async fn mark_read(
    State(notifications): State<NotificationService>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<MarkReadBody>,
) -> ReplyResult {
    let outcome = notifications.mark_read(&caller.user_id()?, body).await?;
    Reply::ok("NOTIFICATIONS_READ", "notifications marked read", outcome)
}
