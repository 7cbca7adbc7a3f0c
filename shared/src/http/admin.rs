use axum::{
    Router,
    routing::{get, patch},
};

use axum::extract::State;

use super::{
    AppState, content,
    extract::{AdminCaller, QueryParams},
    reply::ReplyResult,
};

/// The admin console's management routes for notices and banners (every route needs ADMIN;
/// reading notices is public anyway, so the list is shared with `/notices`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/notices", get(admin_list_notices).post(content::create_notice))
        .route("/admin/notices/{id}", patch(content::patch_notice).delete(content::delete_notice))
        .route("/admin/banners", get(content::all_banners).post(content::create_banner))
        .route("/admin/banners/{id}", patch(content::patch_banner).delete(content::delete_banner))
}

/// Same list as `GET /notices`, but behind the admin check like the rest of `/admin`.
async fn admin_list_notices(state: State<AppState>, _admin: AdminCaller, query: QueryParams) -> ReplyResult {
    content::list_notices(state, query).await
}
