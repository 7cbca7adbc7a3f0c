use axum::{
    Router,
    extract::State,
    routing::{get, patch},
};

use super::{
    AppState,
    extract::{AdminCaller, JsonBody, PathId, QueryParams},
    reply::{Reply, ReplyResult},
};
use crate::domain::content::{CreateBannerBody, CreateNoticeBody, PatchBannerBody, PatchNoticeBody};
use crate::services::content as service;

/// Public reads of notices and banners, plus the admin writes the frontend posts here.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/notices", get(list_notices).post(create_notice))
        .route("/notices/latest", get(latest_notice))
        .route("/notices/{id}", get(get_notice))
        .route("/banners", get(visible_banners).post(create_banner))
        .route("/banners/{id}", patch(patch_banner).delete(delete_banner))
}

pub(super) async fn list_notices(State(state): State<AppState>, query: QueryParams) -> ReplyResult {
    let limit = query.limit()?;
    let cursor = query.time_cursor("cursor")?;
    let page = service::list_notices(state.sql()?.notices.as_ref(), limit, cursor).await?;
    Reply::page("NOTICES_LISTED", "notices, newest first", page, limit)
}

async fn get_notice(State(state): State<AppState>, PathId(id): PathId) -> ReplyResult {
    let notice = service::get_notice(state.sql()?.notices.as_ref(), id).await?;
    Reply::ok("NOTICE_FOUND", "notice", notice)
}

/// The newest notice, or `data: null` when there is none yet.
async fn latest_notice(State(state): State<AppState>) -> ReplyResult {
    let notice = service::latest_notice(state.sql()?.notices.as_ref()).await?;
    Reply::ok("LATEST_NOTICE", "the newest notice (null when there is none)", notice)
}

pub(super) async fn create_notice(
    State(state): State<AppState>,
    AdminCaller(caller): AdminCaller,
    JsonBody(body): JsonBody<CreateNoticeBody>,
) -> ReplyResult {
    let notice = service::create_notice(state.sql()?.notices.as_ref(), &caller, body).await?;
    Reply::created("NOTICE_CREATED", "notice created", notice)
}

pub(super) async fn patch_notice(
    State(state): State<AppState>,
    AdminCaller(caller): AdminCaller,
    PathId(id): PathId,
    JsonBody(body): JsonBody<PatchNoticeBody>,
) -> ReplyResult {
    let notice = service::patch_notice(state.sql()?.notices.as_ref(), &caller, id, body).await?;
    Reply::ok("NOTICE_UPDATED", "notice updated", notice)
}

pub(super) async fn delete_notice(
    State(state): State<AppState>,
    AdminCaller(caller): AdminCaller,
    PathId(id): PathId,
) -> ReplyResult {
    service::delete_notice(state.sql()?.notices.as_ref(), &caller, id).await?;
    Reply::ok("NOTICE_DELETED", "notice deleted", serde_json::json!({ "notice_id": id }))
}

async fn visible_banners(State(state): State<AppState>) -> ReplyResult {
    let banners = service::visible_banners(state.sql()?.banners.as_ref()).await?;
    Reply::list("BANNERS_LISTED", "active banners in display order", banners)
}

pub(super) async fn all_banners(State(state): State<AppState>, AdminCaller(caller): AdminCaller) -> ReplyResult {
    let banners = service::all_banners(state.sql()?.banners.as_ref(), &caller).await?;
    Reply::list("BANNERS_LISTED", "every banner in display order", banners)
}

pub(super) async fn create_banner(
    State(state): State<AppState>,
    AdminCaller(caller): AdminCaller,
    JsonBody(body): JsonBody<CreateBannerBody>,
) -> ReplyResult {
    let banner = service::create_banner(state.sql()?.banners.as_ref(), &caller, body).await?;
    Reply::created("BANNER_CREATED", "banner created", banner)
}

pub(super) async fn patch_banner(
    State(state): State<AppState>,
    AdminCaller(caller): AdminCaller,
    PathId(id): PathId,
    JsonBody(body): JsonBody<PatchBannerBody>,
) -> ReplyResult {
    let banner = service::patch_banner(state.sql()?.banners.as_ref(), &caller, id, body).await?;
    Reply::ok("BANNER_UPDATED", "banner updated", banner)
}

pub(super) async fn delete_banner(
    State(state): State<AppState>,
    AdminCaller(caller): AdminCaller,
    PathId(id): PathId,
) -> ReplyResult {
    service::delete_banner(state.sql()?.banners.as_ref(), &caller, id).await?;
    Reply::ok("BANNER_DELETED", "banner deleted", serde_json::json!({ "banner_id": id }))
}
