use axum::{Router, extract::State, routing::get};
use serde_json::json;

use super::{
    AppState,
    reply::{Reply, ReplyResult},
};
use crate::error::AppError;

/// `GET /health` and `GET /{group}/health`: 200 only when every backend this function was
/// built with answers (the database, chat storage), else 503.
pub fn routes(groups: &[&str]) -> Router<AppState> {
    groups.iter().fold(Router::new().route("/health", get(health)), |router, group| {
        router.route(&format!("/{group}/health"), get(health))
    })
}

async fn health(State(state): State<AppState>) -> ReplyResult {
    let probes = [
        ("database", "the database", state.sql.as_ref().map(|s| &s.health)),
        ("chat_storage", "chat storage", state.realtime.as_ref().map(|r| &r.stores.health)),
    ];
    let mut report = serde_json::Map::new();
    for (key, what, probe) in probes {
        let Some(probe) = probe else { continue };
        probe.ping().await.map_err(|e| {
            tracing::warn!(backend = key, error = %e, "health check failed");
            AppError::Unavailable(what)
        })?;
        report.insert(key.into(), json!("ok"));
    }
    Reply::ok("HEALTHY", "service and its storage are up", report)
}
