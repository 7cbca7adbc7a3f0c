use axum::{
    Router,
    extract::{FromRequestParts, State},
    http::request::Parts,
    routing::{get, post},
};
use serde_json::json;

use super::{
    AppState,
    extract::{Caller, JsonBody, QueryParams},
    reply::{Reply, ReplyResult},
};
use crate::domain::notification::{CreateNotificationBody, MarkReadBody};
use crate::error::AppError;
use crate::identity::Identity;
use crate::services::notifications as service;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/notifications", get(list).post(create))
        .route("/notifications/unread-count", get(unread_count))
        .route("/notifications/read", post(mark_read))
}

/// An admin or a sibling service allowed to notify users; checked before the body is read.
struct NotificationSender(Identity);

impl FromRequestParts<AppState> for NotificationSender {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let Caller(caller) = Caller::from_request_parts(parts, state).await?;
        service::authorize_create(&caller, &state.config)?;
        Ok(Self(caller))
    }
}

/// `GET /notifications?limit&cursor&unread_only[&user_id=<self>]`
async fn list(State(state): State<AppState>, Caller(caller): Caller, query: QueryParams) -> ReplyResult {
    let user = service::owner(&caller, query.get("user_id"))?;
    let limit = query.limit()?;
    let cursor = query.time_cursor("cursor")?;
    let unread_only = query.flag("unread_only")?;
    let page = service::list(state.sql()?.notifications.as_ref(), &user, unread_only, limit, cursor).await?;
    Reply::page("NOTIFICATIONS_LISTED", "notifications, newest first", page, limit)
}

async fn unread_count(State(state): State<AppState>, Caller(caller): Caller) -> ReplyResult {
    let user = caller.user_id()?;
    let count = service::unread_count(state.sql()?.notifications.as_ref(), &user).await?;
    Reply::ok("UNREAD_COUNT", "unread notifications", json!({ "unread_count": count }))
}

async fn create(
    State(state): State<AppState>,
    NotificationSender(caller): NotificationSender,
    JsonBody(body): JsonBody<CreateNotificationBody>,
) -> ReplyResult {
    let created =
        service::create(state.sql()?.notifications.as_ref(), state.realtime.as_ref(), &state.config, &caller, body)
            .await?;
    Reply::created("NOTIFICATION_CREATED", "notification created", created)
}

async fn mark_read(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<MarkReadBody>,
) -> ReplyResult {
    let outcome = service::mark_read(state.sql()?.notifications.as_ref(), &caller, body).await?;
    Reply::ok("NOTIFICATIONS_READ", "notifications marked read", outcome)
}
