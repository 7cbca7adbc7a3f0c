use axum::{Router, extract::State, routing::get};
use serde_json::json;

use super::{
    AppState,
    reply::{Reply, ReplyResult},
};
use crate::error::AppError;

/// `GET /health` and `GET /{group}/health`: 200 only when the database answers, else 503.
pub fn routes(groups: &[&str]) -> Router<AppState> {
    groups.iter().fold(
        Router::new().route("/health", get(health)),
        |router, group| router.route(&format!("/{group}/health"), get(health)),
    )
}

async fn health(State(state): State<AppState>) -> ReplyResult {
    state.sql()?.health.ping().await.map_err(|e| {
        tracing::warn!(error = %e, "health check failed");
        AppError::Unavailable("the database")
    })?;
    Reply::ok(
        "HEALTHY",
        "service and database are up",
        json!({ "database": "ok" }),
    )
}
