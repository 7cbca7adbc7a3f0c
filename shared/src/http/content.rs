//! Notices and banners: public reads, plus the admin writes the frontend posts here.

use axum::{Router, extract::State};
use serde_json::json;

use super::{
    extract::{AdminCaller, JsonBody, PathId, QueryParams},
    reply::{Reply, ReplyResult},
};
use crate::domain::{
    BannerId, NoticeId,
    content::{CreateBannerBody, CreateNoticeBody, PatchBannerBody, PatchNoticeBody},
};
use crate::services::content::ContentService;

routes!(ContentService {
    "/notices" => get(list_notices).post(create_notice);
    "/notices/latest" => get(latest_notice);
    "/notices/{id}" => get(get_notice);
    "/banners" => get(visible_banners).post(create_banner);
    "/banners/{id}" => patch(patch_banner).delete(delete_banner);
});

pub fn router(service: ContentService) -> Router {
    routes().with_state(service)
}

pub(super) async fn list_notices(State(content): State<ContentService>, query: QueryParams) -> ReplyResult {
    let limit = query.limit()?;
    let cursor = query.time_cursor("cursor")?;
    let page = content.list_notices(limit, cursor).await?;
    Reply::page("NOTICES_LISTED", "notices, newest first", page, limit)
}

async fn get_notice(State(content): State<ContentService>, PathId(id): PathId<NoticeId>) -> ReplyResult {
    Reply::ok("NOTICE_FOUND", "notice", content.notice(id).await?)
}

/// The newest notice, or `data: null` when there is none yet.
async fn latest_notice(State(content): State<ContentService>) -> ReplyResult {
    Reply::ok("LATEST_NOTICE", "the newest notice (null when there is none)", content.latest_notice().await?)
}

pub(super) async fn create_notice(
    State(content): State<ContentService>,
    AdminCaller(admin): AdminCaller,
    JsonBody(body): JsonBody<CreateNoticeBody>,
) -> ReplyResult {
    Reply::created("NOTICE_CREATED", "notice created", content.create_notice(&admin, body).await?)
}

pub(super) async fn patch_notice(
    State(content): State<ContentService>,
    AdminCaller(admin): AdminCaller,
    PathId(id): PathId<NoticeId>,
    JsonBody(body): JsonBody<PatchNoticeBody>,
) -> ReplyResult {
    Reply::ok("NOTICE_UPDATED", "notice updated", content.patch_notice(&admin, id, body).await?)
}

pub(super) async fn delete_notice(
    State(content): State<ContentService>,
    AdminCaller(admin): AdminCaller,
    PathId(id): PathId<NoticeId>,
) -> ReplyResult {
    content.delete_notice(&admin, id).await?;
    Reply::ok("NOTICE_DELETED", "notice deleted", json!({ "notice_id": id }))
}

async fn visible_banners(State(content): State<ContentService>) -> ReplyResult {
    Reply::list("BANNERS_LISTED", "active banners in display order", content.visible_banners().await?)
}

pub(super) async fn all_banners(State(content): State<ContentService>, AdminCaller(admin): AdminCaller) -> ReplyResult {
    Reply::list("BANNERS_LISTED", "every banner in display order", content.all_banners(&admin).await?)
}

pub(super) async fn create_banner(
    State(content): State<ContentService>,
    AdminCaller(admin): AdminCaller,
    JsonBody(body): JsonBody<CreateBannerBody>,
) -> ReplyResult {
    Reply::created("BANNER_CREATED", "banner created", content.create_banner(&admin, body).await?)
}

pub(super) async fn patch_banner(
    State(content): State<ContentService>,
    AdminCaller(admin): AdminCaller,
    PathId(id): PathId<BannerId>,
    JsonBody(body): JsonBody<PatchBannerBody>,
) -> ReplyResult {
    Reply::ok("BANNER_UPDATED", "banner updated", content.patch_banner(&admin, id, body).await?)
}

pub(super) async fn delete_banner(
    State(content): State<ContentService>,
    AdminCaller(admin): AdminCaller,
    PathId(id): PathId<BannerId>,
) -> ReplyResult {
    content.delete_banner(&admin, id).await?;
    Reply::ok("BANNER_DELETED", "banner deleted", json!({ "banner_id": id }))
}
