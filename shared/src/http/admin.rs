//! The admin console's management routes for notices and banners: every route needs ADMIN.

use axum::{
    Router,
    extract::State,
    routing::{get, patch},
};

use super::{
    content,
    extract::{AdminCaller, QueryParams},
    reply::ReplyResult,
};
use crate::services::content::ContentService;

pub fn router(service: ContentService) -> Router {
    Router::new()
        .route("/admin/notices", get(admin_list_notices).post(content::create_notice))
        .route("/admin/notices/{id}", patch(content::patch_notice).delete(content::delete_notice))
        .route("/admin/banners", get(content::all_banners).post(content::create_banner))
        .route("/admin/banners/{id}", patch(content::patch_banner).delete(content::delete_banner))
        .with_state(service)
}

/// Same list as `GET /notices`, but behind the admin check like the rest of `/admin`.
async fn admin_list_notices(state: State<ContentService>, _admin: AdminCaller, query: QueryParams) -> ReplyResult {
    content::list_notices(state, query).await
}
