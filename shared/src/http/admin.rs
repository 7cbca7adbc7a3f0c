//! The admin console's management routes for notices and banners: every route needs ADMIN.

use axum::{Router, extract::State};

use super::{
    content,
    extract::{AdminCaller, QueryParams},
    reply::ReplyResult,
};
use crate::services::content::ContentService;

routes!(ContentService {
    "/admin/notices" => get(admin_list_notices).post(content::create_notice);
    "/admin/notices/{id}" => patch(content::patch_notice).delete(content::delete_notice);
    "/admin/banners" => get(content::all_banners).post(content::create_banner);
    "/admin/banners/{id}" => patch(content::patch_banner).delete(content::delete_banner);
});

pub fn router(service: ContentService) -> Router {
    routes().with_state(service)
}

/// Same list as `GET /notices`, but behind the admin check like the rest of `/admin`.
async fn admin_list_notices(state: State<ContentService>, _admin: AdminCaller, query: QueryParams) -> ReplyResult {
    content::list_notices(state, query).await
}
